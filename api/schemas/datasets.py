"""Bodies of datasets, their versions and the catalog, and of quality rules, checks and issues."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import ConfigDict, Field

from api.schemas.base import MAX_NUMBER, Body, Model, UtcDateTime
from api.schemas.mirror import literal_of, mirrors
from node.fields import FieldClass
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


@mirrors(DatasetVersion)
class VersionOut(Model):
    id: int
    number: int = Field(examples=[1])
    content_root: str = Field(examples=["0x" + "cd" * 32])
    schema_hash: str
    size_bytes: int = Field(examples=[1048576])
    record_count: int = Field(examples=[10000])
    schema_: list[str] = Field(alias="schema", examples=[["name", "id_number", "phone"]])
    created_at: UtcDateTime

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
    frozen: bool
    created_at: UtcDateTime
    versions: list[VersionOut] = Field(default_factory=list)


@mirrors(Dataset, added=("open", "latest_version", "updated_at", "fields", "schema_hash"))
class CatalogEntry(Model):
    dataset_id: str
    name: str
    owner_department: str
    category: str
    grade: int
    open: bool = Field(description="grade 1: downloadable by anyone, each download logged")
    latest_version: int | None
    updated_at: UtcDateTime | None
    fields: list[str] = Field(default_factory=list, description="the latest version's field names: a request "
                              "names those it asks for in the clear", examples=[["name", "phone", "visits"]])
    schema_hash: str | None = Field(default=None, description="the latest version's schema hash, which a request "
                                    "names as the schema its fields were chosen from")
    update_interval: int
    catalog: dict[str, Any]


class Freeze(Body):
    reason: str = Field(min_length=1, max_length=2000, examples=["a breach is being investigated"])
    frozen: bool = True


FieldName = Annotated[str, Field(min_length=1, max_length=200)]


class _Rule(Body):
    threshold: float = Field(default=1.0, ge=0, le=1, description="completeness and validity: the least share of "
                             "records that must pass")


class OneFieldRule(_Rule):
    kind: Literal["completeness", "validity"] = Field(examples=["validity"])
    fields: list[FieldName] = Field(min_length=1, max_length=1, examples=[["id_number"]])


class UniquenessRule(_Rule):
    kind: Literal["uniqueness"]
    fields: list[FieldName] = Field(min_length=1, max_length=64, json_schema_extra={"uniqueItems": True},
                                    description="the fields whose values together are unique", examples=[["id_number"]])


class TimelinessRule(_Rule):
    kind: Literal["timeliness"]
    fields: list[FieldName] = Field(default_factory=list, max_length=0)
    max_age_seconds: int = Field(ge=0, le=MAX_NUMBER, description="the oldest a version may be", examples=[86400])


QualityRuleIn = Annotated[OneFieldRule | UniquenessRule | TimelinessRule, Field(discriminator="kind")]
"""A quality rule, as its kind shapes it: what the node accepts is what the schema says."""


@mirrors(Rule)
class QualityRuleOut(Model):
    kind: RuleKindName
    fields: list[str]
    threshold: float
    max_age_seconds: int | None


class QualityCheck(Body):
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
