"""EIP-4361 messages as :mod:`api.auth.siwe` writes and reads them: the grammar's own cases
(``tests/vectors/siwe.json``, after the ``siwe`` project's parsing vectors), and messages built
here parsing back."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from api.auth.siwe import SiweMalformed, parse_siwe, siwe_message

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "siwe.json").read_text())


@pytest.mark.parametrize("name", sorted(VECTORS["positive"]))
def test_message_on_the_grammar_parses_to_its_fields(name: str) -> None:
    case = VECTORS["positive"][name]
    message = parse_siwe(case["message"])
    for field, expected in case["fields"].items():
        value = getattr(message, field)
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc).isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        assert value == expected, field
    assert message.resources == tuple(case["fields"].get("resources", ()))


@pytest.mark.parametrize("name", sorted(VECTORS["negative"]))
def test_message_off_the_grammar_is_refused(name: str) -> None:
    with pytest.raises(SiweMalformed):
        parse_siwe(VECTORS["negative"][name])


def test_eip_4361_example_message_parses() -> None:
    text = ("service.org wants you to sign in with your Ethereum account:\n"
            "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n\n"
            "I accept the ServiceOrg Terms of Service: https://service.org/tos\n\n"
            "URI: https://service.org/login\nVersion: 1\nChain ID: 1\nNonce: 32891756\n"
            "Issued At: 2021-09-30T16:25:24Z\n"
            "Resources:\n- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
            "- https://example.com/my-web2-claim.json")
    message = parse_siwe(text)
    assert (message.domain, message.chain_id, message.nonce) == ("service.org", 1, "32891756")
    assert message.issued_at == datetime(2021, 9, 30, 16, 25, 24, tzinfo=timezone.utc)
    assert len(message.resources) == 2


def test_built_messages_parse_back_with_or_without_statement() -> None:
    address = Account.create().address
    issued, later = datetime(2025, 5, 1, 8, 0, tzinfo=timezone.utc), datetime(2025, 5, 1, 9, 0, tzinfo=timezone.utc)
    for statement in ("Sign in to the node.", None):
        text = siwe_message("127.0.0.1:8000", address.lower(), "http://127.0.0.1:8000", 31337,
                            secrets.token_hex(8), issued, later, statement, request_id="r-1", resources=["urn:x"])
        message = parse_siwe(text)
        assert (message.address, message.statement, message.expiration_time) == (address, statement, later)
        assert (message.request_id, message.resources) == ("r-1", ("urn:x",))


@pytest.mark.parametrize("broken", [
    lambda m: m.replace("Version: 1", "Version: 2"),
    lambda m: m + "\n",
    lambda m: m.replace("Chain ID: 31337", "Chain ID: 0x7a69"),
    lambda m: m.replace("Z\n", "\n", 1),
    lambda m: m.lower(),
], ids=["version", "trailing-line", "hex-chain-id", "no-timezone", "address-not-checksummed"])
def test_built_message_broken_is_refused(broken: Any) -> None:
    text = siwe_message("127.0.0.1:8000", Account.create().address, "http://127.0.0.1:8000", 31337,
                        "abcdefgh1234", datetime(2025, 5, 1, tzinfo=timezone.utc),
                        datetime(2025, 5, 2, tzinfo=timezone.utc))
    parse_siwe(text)
    with pytest.raises(SiweMalformed, match="malformed"):
        parse_siwe(broken(text))


def test_a_statement_off_the_grammar_is_not_written() -> None:
    for statement in ("two\nlines", "Anmeldung für Ämter", 'a "quoted" word'):
        with pytest.raises(ValueError, match="statement"):
            siwe_message("127.0.0.1:8000", Account.create().address, "http://127.0.0.1:8000", 1, "abcdefgh1234",
                         datetime(2025, 5, 1, tzinfo=timezone.utc), statement=statement)


def test_the_cli_builds_messages_without_the_web_framework_or_the_database() -> None:
    code = ("import sys, api.auth.siwe; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', 'sqlalchemy', 'starlette')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == "[]"
