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
from node.audit.trace import Page, TraceItem
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


def _item(number: int, texts: dict[str, str]) -> TraceItem:
    return TraceItem(number, 40 + number, "0x" + "ab" * 32, None if number % 2 else 1_700_000_000 + number,
                     "0x" + "cd" * 32, number, "UsageLog", "0x" + "12" * 20, "UseRecorded",
                     {"grantId": "0x" + "ef" * 32, "count": str(2**60 + number), "parents": [], "ok": True,
                      "metadata": "{\"名\": \"民政局\"}"}, "0x" + "01" * 32, None, "0x" + "34" * 20, texts)


@pytest.mark.parametrize("verified", [False, True])
def test_a_trace_page_written_without_validation_is_the_bytes_its_model_writes(verified: bool) -> None:
    page = Page([_item(1, {}), _item(2, {"purposeHash": "a purpose: \"quoted\", 统计\n"}), _item(3, {})], 3)
    lineage = audit.LineageOut(parents=["0x" + "02" * 32], children=[])
    problems = [[], ["column name is 'X', the chain says 'Y'"], []] if verified else None
    complete = audit.CompletenessOut(ok=False, scope="page", block_number=9, on_chain=3, in_index=4, after=None,
                                     through=audit.PositionOut(block_number=9, log_index=None), missing=0, extra=1,
                                     changed=0, problems=["extra"]) if verified else None
    items = [audit.TraceItemOut(**vars(item), verification=audit.Verification(ok=not found, problems=found)
                                if problems else None) for item, found in zip(page.items, problems or [[]] * 3)]
    model = audit.TracePage(subject="0x" + "01" * 32, items=items, next_after=3, lineage=lineage, complete=complete)
    written = audit.trace_json("0x" + "01" * 32, page, lineage, problems, complete)
    assert written == model.model_dump_json().encode()
