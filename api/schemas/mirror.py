"""Response bodies that mirror a domain type, checked against it when they are defined.

``@mirrors(Domain)`` on a response model compares each of its fields with the attribute of the
same name on ``Domain`` (a dataclass, an ORM model, or a property of either) and refuses, at
import, a body whose fields have drifted: a field the domain type lacks, or a type that differs.
Types are compared as JSON sees them: ``Annotated`` metadata and ``Mapped`` are set aside, an enum
is the ``Literal`` of its values, a tuple is a list, and a nested body stands for the domain type
it mirrors. ``added`` names the fields only the API has (links, flags it derives); ``converted``
those the route converts on the way out, whose names are still checked; ``narrowed`` the text
attributes (ORM columns, mostly) whose values the API names, each with the values' one home, which
the body's ``Literal`` must list exactly (build it with :func:`literal_of`).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel
from sqlalchemy.orm import Mapped

Schema = TypeVar("Schema", bound=type[BaseModel])


@dataclass(frozen=True)
class Mirror:
    domain: type
    added: frozenset[str]
    converted: frozenset[str]
    narrowed: Mapping[str, frozenset[str]]


MIRRORS: dict[type[BaseModel], Mirror] = {}
"""Every mirroring body, with what it mirrors."""


def literal_of(values: type[Enum] | Iterable[str]) -> Any:
    """The ``Literal`` of an enum's values, or of given strings: a schema shows it as a JSON ``enum``
    of strings, as it shows a ``Literal`` written out, and the values stay in their one home.
    (Type checkers cannot follow a ``Literal`` built at run time: declare it as ``str`` for them.)"""
    members = [member.value for member in values] if isinstance(values, type) else list(values)
    return Literal[tuple(members)]


def _shape(annotation: Any) -> Any:
    """A type as JSON sees it, for comparing a body's field with its domain attribute."""
    origin = get_origin(annotation)
    if origin is Annotated or origin is Mapped:
        return _shape(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return ("literal", frozenset(member.value for member in annotation))
    if isinstance(annotation, type) and annotation in MIRRORS:
        return MIRRORS[annotation].domain
    if origin is Literal:
        return ("literal", frozenset(get_args(annotation)))
    if origin is Union or origin is types.UnionType:
        return ("union", frozenset(_shape(arg) for arg in get_args(annotation)))
    if origin is tuple and len(get_args(annotation)) == 2 and get_args(annotation)[1] is Ellipsis:
        return (list, (_shape(get_args(annotation)[0]),))
    if origin is not None:
        return (origin, tuple(_shape(arg) for arg in get_args(annotation)))
    return annotation


def _domain_types(domain: type, names: Collection[str]) -> dict[str, Any]:
    """The type of each of ``names`` on ``domain``: its annotation, or its property's return type."""
    hints = get_type_hints(domain, include_extras=True)
    found: dict[str, Any] = {}
    for name in names:
        try:
            attribute = inspect.getattr_static(domain, name)
        except AttributeError:
            attribute = None
        if isinstance(attribute, property) and attribute.fget is not None:
            found[name] = get_type_hints(attribute.fget).get("return", typing.Any)
        elif name in hints:
            found[name] = hints[name]
    return found


def drift(schema: type[BaseModel], domain: type, *, added: Collection[str] = (), converted: Collection[str] = (),
          narrowed: Mapping[str, Collection[str]] | None = None) -> list[str]:
    """How ``schema``'s fields differ from ``domain``'s attributes; empty when they agree."""
    narrowed = narrowed or {}
    fields = {field.alias or name: field for name, field in schema.model_fields.items()}
    declared = [*added, *converted, *narrowed]
    problems = [f"{name}: declared, but not a field" for name in sorted(set(declared) - set(fields))]
    problems += [f"{name}: declared twice" for name in sorted({n for n in declared if declared.count(n) > 1})]
    known = _domain_types(domain, fields)
    for name, field in fields.items():
        if name in added:
            if name in known:
                problems.append(f"{name}: declared added, but {domain.__qualname__} has it")
            continue
        if name not in known:
            problems.append(f"{name}: {domain.__qualname__} has no such attribute")
        elif name in narrowed:
            if _shape(known[name]) != str or _shape(field.annotation) != ("literal", frozenset(narrowed[name])):
                problems.append(f"{name}: {_name(field.annotation)} here, {_name(known[name])} on "
                                f"{domain.__qualname__}, narrowed to {sorted(narrowed[name])}")
        elif name not in converted and _shape(field.annotation) != _shape(known[name]):
            problems.append(f"{name}: {_name(field.annotation)} here, {_name(known[name])} on {domain.__qualname__}")
    return problems


def _name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def mirrors(domain: type, *, added: Collection[str] = (), converted: Collection[str] = (),
            narrowed: Mapping[str, Collection[str]] | None = None) -> Callable[[Schema], Schema]:
    """Declare that a response body mirrors ``domain``; it is checked now, so it cannot drift."""
    def check(schema: Schema) -> Schema:
        problems = drift(schema, domain, added=added, converted=converted, narrowed=narrowed)
        if problems:
            raise TypeError(f"{schema.__name__} has drifted from {domain.__qualname__}: " + "; ".join(problems))
        MIRRORS[schema] = Mirror(domain, frozenset(added), frozenset(converted),
                                 {name: frozenset(values) for name, values in (narrowed or {}).items()})
        return schema
    return check
