"""Bodies of datasets, their versions and the catalog, and of quality rules, checks and issues."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field, field_validator

from api.schemas.base import MAX_NUMBER, Body, Model, UtcDateTime
from api.schemas.grants import WriteOut
from api.schemas.mirror import literal_of, mirrors
from node.catalog.entries import Entry, VersionEntry
from node.catalog.purge import PersonPurge
from node.catalog.freshness import Freshness, State
from node.fields import FieldClass
from node.formats import ENCODINGS
from node.models import Dataset, DatasetVersion, QualityReportRow
from node.quality.rules import Rule, RuleKind

if TYPE_CHECKING:
    FieldClassName = str
    RuleKindName = str
else:
    FieldClassName = literal_of(FieldClass)
    """A personal-data field class, by its value in :class:`node.fields.FieldClass`."""
    RuleKindName = literal_of(RuleKind)


class DatasetIn(Body):
    code: str = Field(min_length=1, max_length=31, pattern=r"^[a-z0-9][a-z0-9._-]*$", examples=["hospital-visits-2026"])
    name: str = Field(min_length=1, max_length=200, examples=["Hospital visits 2026"])
    category: str = Field(min_length=1, max_length=31, examples=["health"])
    grade: int = Field(ge=1, le=4, description="sensitivity grade: 1 open data ... 4 most sensitive", examples=[3])
    update_interval: int = Field(ge=0, le=2**32 - 1, description="seconds between expected versions; 0: none",
                                 examples=[86400])
    catalog: dict[str, str | list[str]] = Field(default_factory=dict, examples=[{"description": "Visits per hospital",
                                                                                 "license": "CC-BY-4.0"}])
    parents: list[Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$")]] = Field(
        default_factory=list, max_length=32, description="dataset ids it was derived from")
    field_classes: dict[str, FieldClassName] = Field(
        default_factory=dict, examples=[{"name": "name", "id_number": "id_number", "phone": "mobile"}])
    key_fields: list[str] = Field(default_factory=list, examples=[["id_number"]])
    encoding: str | None = Field(default=None, max_length=32, examples=["gbk"], description=(
        "the text encoding of its versions' files: " + ", ".join(ENCODINGS) + " (any alias Python knows); "
        "detected per version when not given"))


@mirrors(DatasetVersion)
class VersionOut(Model):
    id: int
    number: int = Field(examples=[1])
    content_root: str = Field(examples=["0x" + "cd" * 32])
    schema_hash: str
    size_bytes: int = Field(examples=[1048576])
    record_count: int = Field(examples=[10000])
    schema_: list[str] = Field(alias="schema", examples=[["name", "id_number", "phone"]])
    encoding: str | None = Field(examples=["gbk"], description="the file's text encoding, declared or detected; "
                                 "null for a file that is not tabular")
    created_at: UtcDateTime
    purged_at: UtcDateTime | None = Field(None, description="when this node removed the version's plaintext")
    purge_reason: str | None = Field(None, description="the hash of the purge's reason text, as on chain")

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)


@mirrors(Dataset)
class DatasetOut(Model):
    dataset_id: str = Field(examples=["0x" + "12" * 32])
    name: str
    owner_department: str = Field(examples=["health-commission"])
    category: str
    grade: int
    update_interval: int
    metadata_hash: str
    catalog: dict[str, Any]
    parents: list[str]
    field_classes: dict[str, str]
    key_fields: list[str]
    quality_rules: list[dict[str, Any]]
    encoding: str | None = Field(description="the text encoding declared for its versions; null: detected")
    frozen: bool
    created_at: UtcDateTime
    versions: list[VersionOut] = Field(default_factory=list)


if TYPE_CHECKING:
    FreshnessState = str
else:
    FreshnessState = literal_of(get_args(State))


@mirrors(Freshness)
class FreshnessOut(Model):
    state: FreshnessState = Field(description="current, late, unscheduled (no update interval) or empty (no version)")
    age: float | None = Field(description="seconds since the last version was anchored")
    interval: int = Field(description="the update interval the owner declared, in seconds; 0: none")
    late_by: float = Field(description="seconds past the time the next version was due")
    summary: str = Field(examples=["late by 3 days"], description='"current", "late by N days", "no schedule" '
                         'or "no version yet"')

    model_config = ConfigDict(from_attributes=True)


@mirrors(VersionEntry)
class CatalogVersionOut(Model):
    number: int
    content_root: str
    schema_hash: str
    size_bytes: int
    record_count: int
    anchored_at: int | None = Field(description="the anchoring block's time, in seconds since the epoch")
    fields: list[str] = Field(description="field names, in order", examples=[["name", "phone", "visits"]])
    format: str | None = Field(examples=["csv"])
    media_type: str = Field(examples=["text/csv"])
    encoding: str | None
    verified: bool = Field(description="the schema text hashes to the schema hash the chain holds")
    purged_block: int | None = Field(None, description="the block where its owner recorded purging its plaintext "
                                                       "(its root and evidence stay); null if not purged")

    model_config = ConfigDict(from_attributes=True)


@mirrors(Entry, added=("latest_version", "updated_at", "fields", "schema_hash"))
class CatalogEntry(Model):
    """One dataset of any department, as the chain says it."""

    dataset_id: str
    name: str
    description: str | None
    owner_department: str = Field(examples=["civil-affairs"], description="the owner department's code, as the "
                                  "chain says, whatever the dataset's metadata claims")
    owner_department_id: str
    department_name: str = Field(examples=["民政局"])
    category: str
    grade: int
    open: bool = Field(description="grade 1: downloadable by anyone, each download logged")
    update_interval: int
    metadata_hash: str
    verified: bool = Field(description="the metadata text hashes to the metadata hash (and to the chain's, when "
                           "checked_on_chain): a row edited in the node's SQL shows as not verified, with no text")
    checked_on_chain: bool
    registered_at: int | None
    parents: list[str]
    frozen: bool
    field_classes: dict[str, str] = Field(description="the class of each personal-data field: what a delivery "
                                          "masks outside a grant's fields", examples=[{"name": "name"}])
    key_fields: list[str]
    catalog: dict[str, Any]
    versions: list[CatalogVersionOut]
    freshness: FreshnessOut
    latest_version: int | None
    updated_at: UtcDateTime | None
    fields: list[str] = Field(default_factory=list, description="the latest version's field names: a request "
                              "names those it asks for in the clear", examples=[["name", "phone", "visits"]])
    schema_hash: str | None = Field(default=None, description="the latest version's schema hash, which a request "
                                    "names as the schema its fields were chosen from")

    @classmethod
    def of(cls, entry: Entry) -> CatalogEntry:
        latest = entry.latest
        return cls(
            dataset_id=entry.dataset_id, name=entry.name, description=entry.description,
            owner_department=entry.owner_department, owner_department_id=entry.owner_department_id,
            department_name=entry.department_name, category=entry.category, grade=entry.grade, open=entry.open,
            update_interval=entry.update_interval, metadata_hash=entry.metadata_hash, verified=entry.verified,
            checked_on_chain=entry.checked_on_chain, registered_at=entry.registered_at, parents=entry.parents,
            frozen=entry.frozen,
            field_classes=entry.field_classes, key_fields=entry.key_fields, catalog=entry.catalog,
            versions=[CatalogVersionOut.model_validate(v) for v in entry.versions],
            freshness=FreshnessOut.model_validate(entry.freshness),
            latest_version=latest.number if latest else None,
            updated_at=datetime.fromtimestamp(latest.anchored_at, timezone.utc)
            if latest and latest.anchored_at is not None else None,
            fields=latest.fields if latest else [], schema_hash=latest.schema_hash if latest else None,
        )


class Freeze(Body):
    reason: str = Field(min_length=1, max_length=2000, examples=["a breach is being investigated"])
    frozen: bool = True


class PurgeIn(Body):
    reason: str = Field(min_length=1, max_length=2000, examples=["数据主体依《个人信息保护法》第四十七条请求删除"],
                        description="published on chain: it must hold no ID or mobile number")


class PersonPurgeIn(PurgeIn):
    id_number: str = Field(min_length=15, max_length=40, description="the person's resident ID number, 18 "
                           "characters or the first-generation 15 digits (full-width digits, a lower-case x and "
                           "spaces are read away; records are matched however they write it). One whose check "
                           "character is wrong is refused (422). Never stored, logged or sent on chain (a salted "
                           "hash of its 18-character form is)", examples=["11010519491231002X"])


@mirrors(PersonPurge, converted=("writes",))
class PersonPurgeOut(Model):
    dataset_id: str
    subject_hash: str = Field(description="keccak256 of the department's secret salt and the ID number in its "
                              "18-character form")
    replaced: list[tuple[int, int]] = Field(description="(purged version, successor version) pairs")
    writes: list[WriteOut]


FieldName = Annotated[str, Field(min_length=1, max_length=200)]


class _Rule(Body):
    threshold: float = Field(default=1.0, ge=0, le=1, description="completeness and validity: the least share of "
                             "records that must pass")


class FieldsRule(_Rule):
    kind: Literal["completeness", "validity"] = Field(examples=["validity"])
    fields: list[FieldName] = Field(min_length=1, max_length=64, json_schema_extra={"uniqueItems": True},
                                    description="completeness: every record has a value in each; validity: "
                                    "each non-empty value has its field's shape", examples=[["id_number", "phone"]])


class UniquenessRule(_Rule):
    kind: Literal["uniqueness"]
    fields: list[FieldName] = Field(min_length=1, max_length=64, json_schema_extra={"uniqueItems": True},
                                    description="the fields whose values together are unique", examples=[["id_number"]])


class TimelinessRule(_Rule):
    kind: Literal["timeliness"]
    fields: list[FieldName] = Field(default_factory=list, max_length=0,
                                    description="none: a timeliness rule judges the version's age, not a field")
    max_age_seconds: int = Field(ge=0, le=MAX_NUMBER, description="the oldest a version may be", examples=[86400])

    @field_validator("fields", mode="before")
    @classmethod
    def _no_field(cls, value: object) -> object:
        if value:
            raise ValueError("a timeliness rule names no field: it judges the version's age")
        return value


QualityRuleIn = Annotated[FieldsRule | UniquenessRule | TimelinessRule, Field(discriminator="kind")]
"""A quality rule, as its kind shapes it: what the node accepts is what the schema says."""


@mirrors(Rule)
class QualityRuleOut(Model):
    kind: RuleKindName
    fields: list[str]
    threshold: float
    max_age_seconds: int | None


class QualityCheck(Body):
    """A check runs the dataset's rules; a dataset with none is refused (422), never reported as passing."""

    open_issue: bool = Field(default=True, description="open an issue on-chain if the version fails")


@mirrors(QualityReportRow)
class QualityReportOut(Model):
    id: int
    version_id: int
    passed: bool
    report: dict[str, Any]
    report_hash: str
    issue_id: str | None


class RepairIn(Body):
    version: int = Field(ge=1, examples=[2])
    note: str = Field(default="", max_length=2000)
