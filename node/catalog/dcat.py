"""The node's catalog as DCAT 3 JSON-LD.

One ``dcat:Catalog`` with an inline context (no remote fetch is needed to read it), one
``dcat:Dataset`` per dataset and one ``dcat:Distribution`` per version, with the ledger's own terms
(content root, grade, metadata hash) under ``provledger:``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from node.audit.prov import PROVLEDGER_URI
from node.formats import format_of
from node.models import Dataset, DatasetVersion

JsonLd = dict[str, object]
"""A JSON-LD node: its keys, and values of any JSON shape."""

DCAT_CONTEXT: dict[str, str] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "prov": "http://www.w3.org/ns/prov#",
    "provledger": PROVLEDGER_URI,
}
ACCESS_RIGHTS = "http://publications.europa.eu/resource/authority/access-right/"
LICENSES = "http://spdx.org/licenses/"
LANGUAGES = "http://id.loc.gov/vocabulary/iso639-1/"
MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"


def access_rights(grade: int) -> str:
    """Grade 1 is open data; 2 and 3 are shared under a grant; 4 only under co-approval."""
    return ACCESS_RIGHTS + ("PUBLIC" if grade <= 1 else "RESTRICTED" if grade <= 3 else "NON_PUBLIC")


def iso_duration(seconds: int) -> str:
    """``seconds`` as an ISO 8601 duration in days, hours, minutes and seconds (86400 -> P1D)."""
    if not seconds:
        return "PT0S"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    time = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (rest, "S")) if n)
    return "P" + (f"{days}D" if days else "") + (f"T{time}" if time else "")


def _date(value: datetime) -> dict[str, str]:
    # SQLite gives back naive datetimes; the node writes them in UTC.
    aware = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
    return {"@value": aware.isoformat(), "@type": "xsd:dateTime"}


def _term(value: str, vocabulary: str) -> dict[str, str]:
    """A code of ``vocabulary`` (or a full IRI, kept) as a linked resource."""
    return {"@id": value if "://" in value else vocabulary + value}


def _distribution(url: str, version: DatasetVersion) -> JsonLd:
    media_type = tabular.media_type if (tabular := format_of(version.source_path)) else "application/octet-stream"
    distribution: JsonLd = {
        "@type": "dcat:Distribution",
        "dcat:accessURL": {"@id": url},
        "dcat:byteSize": {"@value": version.size_bytes, "@type": "xsd:nonNegativeInteger"},
        "dcat:mediaType": {"@id": MEDIA_TYPES + media_type},
        # Not spdx:checksum: its sha256 is the digest of the bytes as downloaded, and this is the
        # root of a SHA-256 Merkle tree over the file's chunks (and a directory's files), the one
        # anchored on-chain, which a client checks with the node's Merkle proofs instead.
        "provledger:contentRoot": version.content_root,
        "provledger:schemaHash": version.schema_hash,
        "provledger:recordCount": version.record_count,
    }
    if version.created_at is not None:
        distribution["dct:issued"] = _date(version.created_at)
    return distribution


def _dataset_node(dataset: Dataset, base_url: str, publisher_names: Mapping[str, str]) -> JsonLd:
    url = f"{base_url}/datasets/{dataset.dataset_id}"
    catalog = dataset.catalog or {}
    node: JsonLd = {
        "@id": url,
        "@type": "dcat:Dataset",
        "dct:identifier": dataset.dataset_id,
        "dct:title": dataset.name,
        "dct:publisher": {"@type": "foaf:Agent", "dct:identifier": dataset.owner_department,
                          "foaf:name": publisher_names.get(dataset.owner_department, dataset.owner_department)},
        "dct:accessRights": {"@id": access_rights(dataset.grade)},
        # Categories are the consortium's own codes, matching no shared theme vocabulary.
        "dcat:theme": {"@id": f"provledger:category/{dataset.category}"},
        "provledger:category": dataset.category,
        "provledger:grade": dataset.grade,
        "provledger:metadataHash": dataset.metadata_hash,
        "prov:wasDerivedFrom": [{"@id": f"{base_url}/datasets/{parent}"} for parent in dataset.parents or []],
        "dcat:distribution": [_distribution(f"{url}/versions/{n}", version)
                              for n, version in enumerate(dataset.versions, start=1)],
    }
    if "description" in catalog:
        node["dct:description"] = catalog["description"]
    if "keywords" in catalog:
        keywords = catalog["keywords"]
        node["dcat:keyword"] = [keywords] if isinstance(keywords, str) else list(keywords)
    if "license" in catalog:
        node["dct:license"] = _term(catalog["license"], LICENSES)
    if "language" in catalog:
        node["dct:language"] = _term(catalog["language"], LANGUAGES)
    if dataset.created_at is not None:
        node["dct:issued"] = _date(dataset.created_at)
    if dataset.versions and dataset.versions[-1].created_at is not None:
        node["dct:modified"] = _date(dataset.versions[-1].created_at)
    if dataset.update_interval:  # 0: no expected schedule
        # The exact interval, not a named dct:Frequency (DCAT's range, e.g. the EU frequency
        # list): the registry keeps seconds, which need not match any named frequency.
        node["dct:accrualPeriodicity"] = {"@value": iso_duration(dataset.update_interval), "@type": "xsd:duration"}
    return node


def catalog_to_dcat(datasets: Sequence[Dataset], *, base_url: str,
                    publisher_names: Mapping[str, str] | None = None) -> JsonLd:
    """The catalog of ``datasets`` as DCAT 3 JSON-LD, datasets at ``{base_url}/datasets/{id}``.

    From ``Dataset.catalog``: "description", "keywords" (a list or one string), "license" (an
    SPDX id or an IRI) and "language" (an ISO 639-1 code or an IRI). Publishers are named by
    ``publisher_names`` (department code to name), else by their code.
    """
    base = base_url.rstrip("/")
    names = publisher_names or {}
    return {
        "@context": DCAT_CONTEXT,
        "@id": f"{base}/catalog",
        "@type": "dcat:Catalog",
        "dcat:dataset": [_dataset_node(dataset, base, names) for dataset in datasets],
    }
