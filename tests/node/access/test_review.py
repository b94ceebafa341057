"""Ids a reviewer or a steward names: a 32-byte hash in 0x hex, anything else refused by name."""

from __future__ import annotations

import pytest

from node.access.review import id32
from node.errors import InvalidInput


def test_an_id_in_0x_hex_is_its_32_bytes() -> None:
    assert id32("grant_id", "0x" + "ab" * 32) == bytes([0xAB]) * 32


@pytest.mark.parametrize("value", ["0x" + "zz" * 32, "0x" + "ab" * 31, "ab" * 33, "00" + "ab" * 32, "", "0x"])
def test_anything_else_is_invalid_input_naming_the_field(value: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        id32("issue_id", value)
    assert raised.value.field == "issue_id"
