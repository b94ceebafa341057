"""Departments by code and name: ``civil-affairs=民政局`` as ``provledger up``, ``provledger
consortium up`` and ``python -m node.consortium up`` take them (``--department``, or a small
TOML or JSON file), and the names the chain records for the consortium's members.

A code is what a node is configured with and what the chain's bytes32 department id holds:
lowercase ASCII letters, digits and '-', at most 31 bytes. A name is what people read, in any
script (民政局), 1 to 64 characters; it is the department's name on chain.

A departments file::

    # TOML                                      // JSON
    coordinator = "big-data"                    {"coordinator": "big-data",
    [departments]                                "departments": {"civil-affairs": "民政局",
    civil-affairs = "民政局"                                     "big-data": "大数据局"}}
    big-data = "大数据局"

The departments come in the file's order; the coordinator is the first unless named.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError

CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,30}")
MAX_NAME = 64
MAX_DEPARTMENTS = 16


@dataclass(frozen=True)
class DepartmentSpec:
    """A department to start: its code and its name."""

    code: str
    name: str


@dataclass(frozen=True)
class DepartmentPlan:
    """The departments of a deployment, in order, and which one is the coordinator."""

    departments: tuple[DepartmentSpec, ...]
    coordinator: str

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.departments]

    @property
    def coordinator_index(self) -> int:
        return self.codes.index(self.coordinator)

    def name_of(self, code: str) -> str:
        return next(d.name for d in self.departments if d.code == code)


def check_code(code: str) -> str:
    if not CODE.fullmatch(code):
        raise ValueError(f"department code {code!r} must be 1 to 31 of a-z, 0-9 and '-', starting with a letter "
                         "or digit")
    return code


def check_name(name: str, code: str = "") -> str:
    text = unicodedata.normalize("NFC", name.strip())
    where = f" of {code}" if code else ""
    if not 1 <= len(text) <= MAX_NAME:
        raise ValueError(f"department name{where} must be 1 to {MAX_NAME} characters, not {len(text)}")
    if any(unicodedata.category(c).startswith("C") for c in text):
        raise ValueError(f"department name{where} {text!r} holds a control character")
    return text


def parse_department(value: str) -> DepartmentSpec:
    """``CODE=NAME``, e.g. ``civil-affairs=民政局``."""
    code, sep, name = value.partition("=")
    if not sep:
        raise ValueError(f"{value!r} is not CODE=NAME (e.g. civil-affairs=民政局)")
    code = check_code(code.strip())
    return DepartmentSpec(code, check_name(name, code))


def read_departments_file(path: Path) -> tuple[list[DepartmentSpec], str | None]:
    """The departments (in order) and the coordinator named in a .toml or .json file."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path} is not UTF-8 text: {err}") from None
    try:
        data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as err:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise ValueError(f"{path} is not {kind}: {err}") from None
    table = data.get("departments") if isinstance(data, dict) else None
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{path}: 'departments' must be a table of code = name, with at least one")
    unknown = sorted(set(data) - {"departments", "coordinator"})
    if unknown:
        raise ValueError(f"{path}: unknown key {', '.join(unknown)} (only 'departments' and 'coordinator')")
    coordinator = data.get("coordinator")
    if coordinator is not None and not isinstance(coordinator, str):
        raise ValueError(f"{path}: 'coordinator' must be a department code")
    specs = []
    for code, name in table.items():
        if not isinstance(name, str):
            raise ValueError(f"{path}: the name of {code} must be text")
        specs.append(DepartmentSpec(check_code(code), check_name(name, code)))
    return specs, coordinator


def plan_departments(given: Sequence[DepartmentSpec], *, file: Path | None = None, coordinator: str | None = None,
                     count: int | None = None, default_codes: Callable[[int], Sequence[DepartmentSpec]],
                     at_least: int = 1, at_most: int = MAX_DEPARTMENTS) -> DepartmentPlan:
    """The departments named by ``--department`` or ``--departments-file`` (not both), or else
    ``count`` made by ``default_codes``; the coordinator is ``coordinator``, else the first."""
    if given and file is not None:
        raise ValueError("give --department or --departments-file, not both")
    if (given or file is not None) and count is not None:
        raise ValueError("--departments N makes unnamed departments: give it without --department or "
                         "--departments-file")
    specs = list(given)
    if file is not None:
        specs, named = read_departments_file(file)
        coordinator = coordinator or named
    if not specs:
        specs = list(default_codes(count if count is not None else 3))
    codes = [d.code for d in specs]
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise ValueError(f"department {', '.join(repeated)} is given twice")
    if not at_least <= len(specs) <= at_most:
        raise ValueError(f"departments: {at_least} to {at_most}, not {len(specs)}")
    if coordinator is not None and coordinator not in codes:
        raise ValueError(f"--coordinator {coordinator} is none of the departments ({', '.join(codes)})")
    return DepartmentPlan(tuple(specs), coordinator or codes[0])


def _department_arg(value: str) -> DepartmentSpec:
    try:
        return parse_department(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def department_options(parser: argparse.ArgumentParser, *, counted: Callable[[str], int]) -> None:
    """The options naming a deployment's departments, as every command starting one takes them;
    :func:`plan_departments` reads them."""
    parser.add_argument("--departments", type=counted, default=None, metavar="N",
                        help="N unnamed departments (default 3), without --department")
    parser.add_argument("--department", type=_department_arg, action="append", default=[], metavar="CODE=NAME",
                        help="a department by code and name, e.g. civil-affairs=民政局; repeat it for each, "
                             "the first is the coordinator")
    parser.add_argument("--departments-file", type=Path, metavar="FILE",
                        help="the departments in a TOML or JSON file: departments = {code = name, ...}, "
                             "coordinator = code (optional)")
    parser.add_argument("--coordinator", type=check_code_arg, metavar="CODE",
                        help="the coordinating department (default: the first)")


def check_code_arg(value: str) -> str:
    try:
        return check_code(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# ---------------------------------------------------------------- names on chain


def code_of(department_id: bytes) -> str:
    """The code a bytes32 department id holds."""
    return bytes(department_id).rstrip(b"\x00").decode(errors="replace")


class DepartmentNames:
    """The names the chain records for departments, by code; a name, once read, is kept (a
    department keeps its name while a member). ``read`` gives a department id's name, ``members``
    the members' ids."""

    def __init__(self, read: Callable[[bytes], str], members: Callable[[], list[bytes]]) -> None:
        self._read = read
        self._members = members
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def name(self, code: str, *, read: bool = True) -> str:
        """The department's name on chain; its code when the chain holds none, cannot be read or,
        without ``read``, has not been read yet."""
        with self._lock:
            known = self._names.get(code)
        if known is not None:
            return known
        raw = code.encode()
        if not read or not 0 < len(raw) <= 31:
            return code
        try:
            name = self._read(raw.ljust(32, b"\x00"))
        except (LedgerError, OSError):  # an unreachable chain: the code stands in, and is not kept
            return code
        if not name:
            return code
        with self._lock:
            self._names[code] = name
        return name

    def label(self, code: str, *, read: bool = True) -> str:
        """``民政局 (civil-affairs)``, or the code alone when the chain names it no other way."""
        name = self.name(code, read=read)
        return code if name == code else f"{name} ({code})"

    def members(self) -> list[tuple[str, str]]:
        """Every member department as (code, name), in the chain's order."""
        return [(code, self.name(code)) for code in map(code_of, self._members())]
