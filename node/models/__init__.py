"""The node's SQL tables (SQLAlchemy 2), by area: :mod:`.datasets`, :mod:`.writes` (what the node
writes to the chain), :mod:`.index` (what it reads from the chain), :mod:`.access` (review,
delivery, quality, monitor) and :mod:`.people`. Hashes are 0x-prefixed hex; lists of hashes (chunk
digests, proofs) are their 32-byte values concatenated. Every table is imported here, so that
``Base.metadata`` holds them all and ``from node.models import Grant`` names one."""

from node.models.base import Base, Hash, utcnow
from node.models.datasets import Dataset, DatasetVersion, FileRoot, CatalogDataset, CatalogVersion
from node.models.writes import OutboxEntry, AnchorBatch, AnchorItem, OpenDownload
from node.models.index import IndexedBlock, ChainEventRow, Grant, Use, QueryRow, RefusedQueryRow, QualityIssue, Lineage, Statement, IndexerCursor
from node.models.access import Note, Delivery, QualityReportRow, AlertRule, Alert, Watermark
from node.models.people import StaffAccount, SignInNonce, STAFF_ROLES

__all__ = [
    "Base",
    "Hash",
    "utcnow",
    "Dataset",
    "DatasetVersion",
    "FileRoot",
    "CatalogDataset",
    "CatalogVersion",
    "OutboxEntry",
    "AnchorBatch",
    "AnchorItem",
    "OpenDownload",
    "IndexedBlock",
    "ChainEventRow",
    "Grant",
    "Use",
    "QueryRow",
    "RefusedQueryRow",
    "QualityIssue",
    "Lineage",
    "Statement",
    "IndexerCursor",
    "Note",
    "Delivery",
    "QualityReportRow",
    "AlertRule",
    "Alert",
    "Watermark",
    "StaffAccount",
    "SignInNonce",
    "STAFF_ROLES",
]
