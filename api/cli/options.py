"""The options many commands share, their checks, and ``--json``: read by :mod:`api.cli.parser`
and the modules that add their own commands."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from api.cli.client import HASH32, UsageError
from ledger import ids
from node.errors import InvalidInput
from node.fields import FieldClass
from node.formats import canonical_encoding
from node.quality.rules import Rule

if TYPE_CHECKING:
    from typing import TypeAlias

    SubCommands: TypeAlias = "argparse._SubParsersAction[Parser]"

def hash32(kind: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not HASH32.fullmatch(value):
            raise argparse.ArgumentTypeError(f"{value!r} is not a {kind} id (0x and 64 hex digits)")
        return value.lower()

    return parse


def address(value: str) -> str:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not an account address (0x and 40 hex digits)")
    return value


def field_names(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    try:
        return ids.canonical_fields(names)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def at_least(low: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if number < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        return number

    return parse


def field_class(value: str) -> tuple[str, str]:
    name, sep, cls = value.partition("=")
    known = sorted(c.value for c in FieldClass)
    if not sep or not name or cls not in known:
        raise argparse.ArgumentTypeError(f"{value!r} is not NAME=CLASS with CLASS one of {', '.join(known)}")
    return name, cls


def encoding_name(value: str) -> str:
    try:
        return canonical_encoding(value)
    except InvalidInput as err:
        raise argparse.ArgumentTypeError(err.reason) from err


def quality_rule(value: str) -> dict[str, Any]:
    try:
        rule = json.loads(value)
        if not isinstance(rule, dict):
            raise ValueError("not a JSON object")
        Rule.from_json(rule)
    except (ValueError, InvalidInput) as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a quality rule: {err}") from None
    return rule


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


def connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api", metavar="URL", help="the node's API (default: $PROVLEDGER_API)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def staff_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", help="staff username (default: $PROVLEDGER_USER)")
    parser.add_argument("--password", help="staff password (default: $PROVLEDGER_PASSWORD, or asked)")


def wallet_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--keystore", type=Path, metavar="PATH",
                        help="encrypted keystore (default: $PROVLEDGER_KEYSTORE); "
                             "its passphrase: $PROVLEDGER_PASSPHRASE, or asked")


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON (one document on stdout)")


def emit(args: argparse.Namespace, data: Any, text: Callable[[], None]) -> None:
    """The result as JSON with ``--json`` (names in their script: 民政局, not escapes), else as ``text`` prints it."""
    if getattr(args, "json", False):
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        text()


def node_command(parser: argparse.ArgumentParser, *, staff: bool = False, wallet: bool = False) -> None:
    """The options of a command that talks to a node: where, who signs in, and ``--json``."""
    connection(parser)
    if staff:
        staff_options(parser)
    if wallet:
        wallet_options(parser)
    json_option(parser)
