"""The API's bodies cannot drift from the domain types they show: every response body mirrors one
(checked when it is defined) or is the API's own, and the Literals come from their one home."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import pytest
from pydantic import BaseModel, create_model

from api.schemas import audit, datasets, grants, quality, system
from api.schemas.base import Body, Model
from api.schemas.mirror import MIRRORS, drift, literal_of, mirrors
from node.access.queue import QueueItem
from node.fields import FieldClass
from node.models import STAFF_ROLES, OutboxEntry
from node.quality.rules import RuleKind

API_ONLY: set[type[BaseModel]] = {grants.RelayParams, grants.StatementCheckOut, audit.PositionOut, system.Health,
                                  system.DepartmentOut, quality.IssueOpenedOut}
"""Response bodies no domain type stands behind: the route composes them."""


def _subclasses(cls: type[BaseModel]) -> set[type[BaseModel]]:
    found = set(cls.__subclasses__())
    return found | {deeper for sub in found for deeper in _subclasses(sub)}


def _responses() -> set[type[BaseModel]]:
    return {cls for cls in _subclasses(Model) if not issubclass(cls, Body) and cls.__module__.startswith("api.schemas.")}


def test_every_response_body_mirrors_a_domain_type_or_is_the_apis_own() -> None:
    responses = _responses()

    assert len(responses) > 20
    assert responses - set(MIRRORS) == API_ONLY
    assert not API_ONLY & set(MIRRORS)


@pytest.mark.parametrize("schema", sorted(MIRRORS, key=lambda cls: cls.__name__), ids=lambda cls: cls.__name__)
def test_each_mirror_agrees_with_its_domain_type(schema: type[BaseModel]) -> None:
    mirror = MIRRORS[schema]

    assert drift(schema, mirror.domain, added=mirror.added, converted=mirror.converted, narrowed=mirror.narrowed) == []


@dataclass(frozen=True)
class Shelf:
    code: str
    size: int
    kind: RuleKind
    note: str | None
    tags: tuple[str, ...] = ()

    @property
    def full(self) -> bool:
        return self.size > 9


def _body(**fields: Any) -> type[BaseModel]:
    return create_model("ShelfOut", __base__=Model, **fields)


def test_a_body_that_agrees_with_its_domain_type_is_accepted() -> None:
    body = _body(code=(str, ...), size=(int, ...), kind=(literal_of(RuleKind), ...), note=(str | None, None),
                 tags=(list[str], []), full=(bool, ...), link=(str, ...))

    assert mirrors(Shelf, added=("link",))(body) is body
    assert MIRRORS.pop(body).domain is Shelf


@pytest.mark.parametrize(("fields", "added", "problem"), [
    ({"code": (int, ...)}, (), "code: int here, str on Shelf"),
    ({"colour": (str, ...)}, (), "colour: Shelf has no such attribute"),
    ({"note": (str, ...)}, (), "note: str here"),
    ({"kind": (Literal["completeness", "validity"], ...)}, (), "kind: "),
    ({"kind": (str, ...)}, (), "kind: str here"),
    ({"tags": (list[int], [])}, (), "tags: "),
    ({"full": (str, ...)}, (), "full: str here, bool on Shelf"),
    ({"size": (int, ...)}, ("size",), "size: declared added, but Shelf has it"),
    ({"size": (int, ...)}, ("sise",), "sise: declared, but not a field"),
])
def test_a_body_that_drifted_is_refused_when_defined(fields: dict[str, Any], added: tuple[str, ...],
                                                     problem: str) -> None:
    with pytest.raises(TypeError, match="ShelfOut has drifted from Shelf: .*" + problem.replace("|", r"\|")):
        mirrors(Shelf, added=added)(_body(**fields))


def test_a_literal_where_the_domain_keeps_text_must_list_the_values_of_their_home() -> None:
    narrowed = {"waiting_for": ("owner", "coordinator")}
    drifted = create_model("QueueOut", __base__=grants.QueueItemOut, waiting_for=(Literal["owner"], ...))

    assert drift(grants.QueueItemOut, QueueItem) == [
        "waiting_for: typing.Literal['owner', 'coordinator'] here, str on QueueItem"]
    assert drift(grants.QueueItemOut, QueueItem, narrowed=narrowed) == []
    assert drift(drifted, QueueItem, narrowed=narrowed) != []
    assert drift(grants.WriteOut, OutboxEntry, narrowed={"status": ("pending", "signed")}) != []


def test_a_nested_body_stands_for_the_domain_type_it_mirrors() -> None:
    loose = create_model("PageOut", __base__=Model, items=(list[dict[str, Any]], ...), next_after=(int | None, ...))

    assert drift(audit.TracePage, audit.Page, added=("subject", "lineage", "complete")) == []
    assert drift(loose, audit.Page) == ["items: list[dict[str, typing.Any]] here, list[node.audit.trace.TraceItem] on Page"]


def test_literals_come_from_their_one_home() -> None:
    field_classes = datasets.DatasetIn.model_fields["field_classes"].annotation
    rule_kinds = {kind for rule in get_args(get_args(datasets.QualityRuleIn)[0])
                  for kind in get_args(rule.model_fields["kind"].annotation)}

    assert set(get_args(get_args(field_classes)[1])) == {c.value for c in FieldClass}
    assert rule_kinds == {kind.value for kind in RuleKind}
    assert set(get_args(system.StaffOut.model_fields["role"].annotation)) == set(STAFF_ROLES)


def test_a_literal_built_from_its_home_shows_in_the_schema_as_one_written_out() -> None:
    schema = datasets.DatasetIn.model_json_schema()["properties"]["field_classes"]["additionalProperties"]

    assert schema == {"enum": [c.value for c in FieldClass], "type": "string"}
    assert literal_of(("a", "b")) == Literal["a", "b"]
