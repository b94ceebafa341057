"""PROV-JSON, written directly: qualified names, and a document of PROV records built up and
serialized as the PROV-JSON serialization (W3C Member Submission) writes them, with values typed as
the ``prov`` library types them (integers by their size), so that ``prov`` reads the text back as
the document meant. :mod:`node.audit.prov` says which records a trace makes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Union


class QName(str):
    """A PROV qualified name, ``prefix:local``; as an attribute's value, typed ``xsd:QName``."""

    __slots__ = ()


@dataclass(frozen=True)
class Namespace:
    prefix: str
    uri: str

    def __getitem__(self, local: str) -> QName:
        return QName(f"{self.prefix}:{local}")


Value = Union[str, int, QName]
"""An attribute's value: text, an integer (or boolean), or a qualified name."""
Attributes = list[tuple[QName, Value]]
Json = Union[str, bool, dict[str, str]]
"""A value as PROV-JSON writes it."""
JsonAttributes = dict[str, Union[Json, list[Json]]]


class Element:
    """An element of a :class:`Document`: its attributes, as PROV-JSON will show them."""

    __slots__ = ("attributes",)

    def __init__(self, attributes: JsonAttributes) -> None:
        self.attributes = attributes

    def add_attributes(self, attributes: Attributes) -> None:
        for key, value in attributes:
            _put(self.attributes, key, _json_value(value))


_INT32, _INT64 = 1 << 31, 1 << 63


def _json_value(value: Value) -> Json:
    """A value as PROV-JSON writes it: names typed ``xsd:QName``, integers typed by their size as
    ``prov`` types them (``xsd:int``, ``xsd:long``, else ``xsd:integer``)."""
    if isinstance(value, QName):
        return {"$": value, "type": "xsd:QName"}
    if isinstance(value, (bool, str)):
        return value
    kind = "xsd:int" if -_INT32 <= value < _INT32 else "xsd:long" if -_INT64 <= value < _INT64 else "xsd:integer"
    return {"$": str(value), "type": kind}


def _put(attributes: JsonAttributes, key: str, value: Json) -> None:
    """Add one value of an attribute; PROV attributes are sets of values."""
    held = attributes.get(key)
    if held is None:
        attributes[key] = value
        return
    values = held if isinstance(held, list) else [held]
    if value not in values:
        attributes[key] = [*values, value]


class Document:
    """A PROV document being written: its namespaces, then its records by PROV-JSON section
    (elements by identifier, relations by a blank-node id), in the order they were added."""

    def __init__(self) -> None:
        self.prefixes: dict[str, str] = {}
        self.sections: dict[str, dict[str, JsonAttributes]] = {}
        self._relations = 0

    def add_namespace(self, namespace: Namespace) -> Namespace:
        self.prefixes[namespace.prefix] = namespace.uri
        return namespace

    def _element(self, section: str, identifier: QName, attributes: Attributes,
                 fixed: JsonAttributes | None = None) -> Element:
        element = Element(dict(fixed or {}))
        element.add_attributes(attributes)
        self.sections.setdefault(section, {})[identifier] = element.attributes
        return element

    def entity(self, identifier: QName, attributes: Attributes) -> Element:
        return self._element("entity", identifier, attributes)

    def agent(self, identifier: QName, attributes: Attributes) -> Element:
        return self._element("agent", identifier, attributes)

    def activity(self, identifier: QName, when: datetime | None, attributes: Attributes) -> Element:
        """An activity; ``when`` is both its start and its end (an event happens at once)."""
        times: JsonAttributes = {} if when is None else {"prov:startTime": when.isoformat(),
                                                         "prov:endTime": when.isoformat()}
        return self._element("activity", identifier, attributes, times)

    def _relation(self, section: str, first: str, second: str, a: QName, b: QName,
                  extra: JsonAttributes | None = None) -> None:
        self._relations += 1
        self.sections.setdefault(section, {})[f"_:id{self._relations}"] = {first: a, second: b, **(extra or {})}

    def generation(self, entity: QName, activity: QName) -> None:
        self._relation("wasGeneratedBy", "prov:entity", "prov:activity", entity, activity)

    def usage(self, activity: QName, entity: QName) -> None:
        self._relation("used", "prov:activity", "prov:entity", activity, entity)

    def invalidation(self, entity: QName, activity: QName) -> None:
        self._relation("wasInvalidatedBy", "prov:entity", "prov:activity", entity, activity)

    def association(self, activity: QName, agent: QName) -> None:
        self._relation("wasAssociatedWith", "prov:activity", "prov:agent", activity, agent)

    def attribution(self, entity: QName, agent: QName) -> None:
        self._relation("wasAttributedTo", "prov:entity", "prov:agent", entity, agent)

    def delegation(self, delegate: QName, responsible: QName) -> None:
        self._relation("actedOnBehalfOf", "prov:delegate", "prov:responsible", delegate, responsible)

    def specialization(self, specific: QName, general: QName) -> None:
        self._relation("specializationOf", "prov:specificEntity", "prov:generalEntity", specific, general)

    def derivation(self, generated: QName, used: QName) -> None:
        self._relation("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity", generated, used)

    def revision(self, generated: QName, used: QName) -> None:
        self._relation("wasDerivedFrom", "prov:generatedEntity", "prov:usedEntity", generated, used,
                       {"prov:type": {"$": "prov:Revision", "type": "xsd:QName"}})

    def serialize(self) -> str:
        return json.dumps({"prefix": self.prefixes, **self.sections}, ensure_ascii=False, separators=(",", ":"),
                          check_circular=False)
