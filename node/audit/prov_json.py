"""PROV-JSON, written directly and as it is made: qualified names, and a document of PROV records
written as the PROV-JSON serialization (W3C Member Submission) writes them, with values typed as
the ``prov`` library types them (integers by their size), so that ``prov`` reads the text back as
the document meant. :mod:`node.audit.prov` says which records a trace makes.

PROV-JSON groups records by kind, one JSON object per kind, while a trace makes records of every
kind as it is read. So one kind (the trace's activities, the largest) is written out as its
records come, to be taken in chunks (:meth:`Document.take`); every other kind is kept in a
temporary file until the end (:meth:`Document.finish`). Nothing is kept in memory but the records
not taken yet and the few elements still open (:meth:`Document.open_entity`): the text of a long
trace is never whole in memory, and nothing is read twice.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import IO, Union


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

_INT32, _INT64 = 1 << 31, 1 << 63
_QUOTED = 4096
_SPILL = 100
"""Records of a kept kind buffered before they go to its temporary file (a record is some 150 to
2,000 characters)."""


def _int(value: int) -> str:
    kind = "xsd:int" if -_INT32 <= value < _INT32 else "xsd:long" if -_INT64 <= value < _INT64 else "xsd:integer"
    return f'{{"$":"{value}","type":"{kind}"}}'


def value_text(value: Value) -> str:
    """A value's JSON text as PROV-JSON writes it: names typed ``xsd:QName``, integers typed by
    their size as ``prov`` types them (``xsd:int``, ``xsd:long``, else ``xsd:integer``)."""
    kind = type(value)
    if kind is str:
        return encode_basestring(value)  # type: ignore[arg-type]
    if kind is int:
        return _int(value)  # type: ignore[arg-type]
    if isinstance(value, QName):
        return '{"$":' + encode_basestring(value) + ',"type":"xsd:QName"}'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return encode_basestring(value)
    return _int(value)


@functools.cache
def key_text(name: str) -> str:
    """``"name":``, as a record writes an attribute's name (the names are few: made once each)."""
    return encode_basestring(name) + ":"


def _record(attributes: Sequence[tuple[str, Value]], fixed: str = "") -> str:
    """A record's JSON object from its attributes (after ``fixed``, the text of attributes known
    to be distinct from them): a name given many values holds the distinct ones in a list (PROV
    attributes are sets of values)."""
    parts = [fixed] if fixed else []
    seen: set[str] = set()
    for key, value in attributes:
        if key in seen:
            return _merged(attributes, fixed)
        seen.add(key)
        parts.append(key_text(key) + (encode_basestring(value) if type(value) is str else value_text(value)))
    return "{" + ",".join(parts) + "}"


def _merged(attributes: Sequence[tuple[str, Value]], fixed: str) -> str:
    """:func:`_record` for attributes naming one attribute more than once."""
    held: dict[str, list[str]] = {}
    for key, value in attributes:
        texts = held.setdefault(key, [])
        text = value_text(value)
        if text not in texts:
            texts.append(text)
    return "{" + ",".join(([fixed] if fixed else []) + [
        key_text(key) + (texts[0] if len(texts) == 1 else "[" + ",".join(texts) + "]") for key, texts in held.items()
    ]) + "}"


class Element:
    """An element still open: attributes may be added until the document is finished."""

    __slots__ = ("attributes",)

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = attributes

    def add_attributes(self, attributes: Attributes) -> None:
        self.attributes.extend(attributes)


_ENTITY, _ACTIVITY, _AGENT, _DELEGATE, _RESPONSIBLE, _SPECIFIC, _GENERAL, _GENERATED, _USED = (
    f'"prov:{name}":' for name in ("entity", "activity", "agent", "delegate", "responsible", "specificEntity",
                                   "generalEntity", "generatedEntity", "usedEntity"))


class _Kept:
    """One kind's records, in a temporary file past :data:`_SPILL` records."""

    def __init__(self) -> None:
        self.buffer: list[str] = []
        self.file: IO[str] | None = None

    def add(self, text: str) -> None:
        buffer = self.buffer
        buffer.append(text)
        if len(buffer) >= _SPILL:
            self.spill()

    def spill(self) -> None:
        # Records are separated as they leave the buffer: a comma before each but the very first.
        if self.file is None:
            self.file = tempfile.TemporaryFile("w+", encoding="utf-8")
            self.file.write(",".join(self.buffer))
        else:
            self.file.write("," + ",".join(self.buffer))
        self.buffer = []

    def read(self) -> Iterator[str]:
        """The records, separated by commas; closes the file."""
        after = self.file is not None
        if self.file is not None:
            with self.file:
                self.file.seek(0)
                while part := self.file.read(1 << 15):
                    yield part
        for start in range(0, len(self.buffer), _SPILL):
            yield ("," if after or start else "") + ",".join(self.buffer[start : start + _SPILL])


class Document:
    """A PROV document being written: its namespaces, then its records by PROV-JSON kind
    (elements by identifier, relations by a blank-node id numbered in the order they are made).
    Records of the kind ``streamed`` are written out as they come; :meth:`take` them."""

    def __init__(self, streamed: str = "activity") -> None:
        self.prefixes: dict[str, str] = {}
        self.streamed = streamed
        self._pending: list[str] = []
        self.pending = 0
        """Characters written and not taken yet."""
        self._begun = False
        self._kept: dict[str, _Kept] = {}
        self._sinks: dict[str, Callable[[str], None]] = {}
        """Where each kind's records go: written out (the streamed kind), or kept."""
        self._open: dict[str, dict[QName, Element]] = {}
        self._relations = 0
        self._alike: dict[tuple[str, type, Value], str] = {}
        self._quoted: dict[str, str] = {}

    def add_namespace(self, namespace: Namespace) -> Namespace:
        if self._begun:
            raise ValueError("namespaces are written first: add them before any record")
        self.prefixes[namespace.prefix] = namespace.uri
        return namespace

    def _quote(self, name: str) -> str:
        """``name`` as a JSON string, the :data:`_QUOTED` last quoted remembered: an event's
        activity and the dataset, grant and accounts it names are written in several records."""
        if len(self._quoted) >= _QUOTED:
            self._quoted.clear()
        text = self._quoted[name] = encode_basestring(name)
        return text

    def _add(self, kind: str, key: str, record: str) -> None:
        self._write(kind, (self._quoted.get(key) or self._quote(key)) + ":" + record)

    def _write(self, kind: str, text: str) -> None:
        """One record's text, ``"key":{...}``, under ``kind``."""
        (self._sinks.get(kind) or self._sink(kind))(text)

    def _sink(self, kind: str) -> Callable[[str], None]:
        add = self._sinks[kind] = self._stream if kind == self.streamed else self._kept.setdefault(kind, _Kept()).add
        return add

    def _stream(self, text: str) -> None:
        if self._begun:
            text = "," + text
        else:
            text = self._header() + "," + encode_basestring(self.streamed) + ":{" + text
            self._begun = True
        self._pending.append(text)
        self.pending += len(text)

    def _header(self) -> str:
        return '{"prefix":' + _record(list(self.prefixes.items()))

    def take(self) -> str:
        """What was written since the last take."""
        text = "".join(self._pending)
        self._pending, self.pending = [], 0
        return text

    def _element(self, kind: str, identifier: QName, attributes: Attributes, fixed: str = "") -> None:
        if len(attributes) == 1 and not fixed:  # an element with its type alone: most of them, written alike
            (key, value), = attributes
            record = self._alike.get((key, type(value), value))
            if record is None:
                record = self._alike[(key, type(value), value)] = _record(attributes)
            self._add(kind, identifier, record)
            return
        self._add(kind, identifier, _record(attributes, fixed))

    def entity(self, identifier: QName, attributes: Attributes) -> None:
        self._element("entity", identifier, attributes)

    def agent(self, identifier: QName, attributes: Attributes) -> None:
        self._element("agent", identifier, attributes)

    def open_entity(self, identifier: QName, attributes: Attributes) -> Element:
        """An entity whose attributes may still grow: written when the document is finished."""
        element = Element(list(attributes))
        self._open.setdefault("entity", {})[identifier] = element
        return element

    def activity(self, identifier: QName, when: str | None, attributes: Attributes, fixed: str = "") -> None:
        """An activity; ``when`` (ISO 8601) is both its start and its end (an event happens at once);
        ``fixed``: the text of attributes known to be distinct from ``attributes``."""
        times = "" if when is None else f'"prov:startTime":"{when}","prov:endTime":"{when}"'
        fixed = times + ("," + fixed if times and fixed else fixed)
        if attributes or not fixed:
            self._element("activity", identifier, attributes, fixed)
        else:  # nearly every activity: its attributes written as text already
            self._add("activity", identifier, "{" + fixed + "}")

    def _relation(self, kind: str, first: str, second: str, a: QName, b: QName, extra: str = "") -> None:
        self._relations += 1
        quoted = self._quoted
        (self._sinks.get(kind) or self._sink(kind))(
            f'"_:id{self._relations}":{{{first}{quoted.get(a) or self._quote(a)},'
            f'{second}{quoted.get(b) or self._quote(b)}{extra}}}')

    def generation(self, entity: QName, activity: QName) -> None:
        self._relation("wasGeneratedBy", _ENTITY, _ACTIVITY, entity, activity)

    def usage(self, activity: QName, entity: QName) -> None:
        self._relation("used", _ACTIVITY, _ENTITY, activity, entity)

    def invalidation(self, entity: QName, activity: QName) -> None:
        self._relation("wasInvalidatedBy", _ENTITY, _ACTIVITY, entity, activity)

    def association(self, activity: QName, agent: QName) -> None:
        self._relation("wasAssociatedWith", _ACTIVITY, _AGENT, activity, agent)

    def attribution(self, entity: QName, agent: QName) -> None:
        self._relation("wasAttributedTo", _ENTITY, _AGENT, entity, agent)

    def delegation(self, delegate: QName, responsible: QName) -> None:
        self._relation("actedOnBehalfOf", _DELEGATE, _RESPONSIBLE, delegate, responsible)

    def specialization(self, specific: QName, general: QName) -> None:
        self._relation("specializationOf", _SPECIFIC, _GENERAL, specific, general)

    def derivation(self, generated: QName, used: QName) -> None:
        self._relation("wasDerivedFrom", _GENERATED, _USED, generated, used)

    def revision(self, generated: QName, used: QName) -> None:
        self._relation("wasDerivedFrom", _GENERATED, _USED, generated, used,
                       ',"prov:type":{"$":"prov:Revision","type":"xsd:QName"}')

    def finish(self) -> Iterator[str]:
        """The rest of the text: what was not taken, the open elements, then every kept kind."""
        for kind, elements in self._open.items():
            for identifier, element in elements.items():
                self._element(kind, identifier, element.attributes)
        self._open = {}
        if self._begun:
            yield self.take() + "}"
        else:
            yield self._header()
        for kind, kept in self._kept.items():
            yield "," + encode_basestring(kind) + ":{"
            yield from kept.read()
            yield "}"
        yield "}"
