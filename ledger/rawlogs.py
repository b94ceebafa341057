"""Reading contract events from raw JSON-RPC logs, without web3's formatters.

web3 decodes a log through its formatters and ABI normalisers (HexBytes everywhere, each
address checksummed with a fresh keccak): that cost the indexer half its time. A
:class:`LogReader` is built once per event; it reads each indexed argument from its topic and
each one-word data argument (``bytes32``, ``address``, ``bool``, integers) straight from its word
of hex, and leaves only strings, ``bytes`` and arrays to ``eth_abi``. It gives the arguments
either as web3 does (:meth:`LogReader.args`) or as the index stores them, JSON
(:meth:`LogReader.json_args`, :func:`to_json`'s form); ``tests/ledger/test_events.py`` checks
both against web3's decoding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from eth_utils.address import to_checksum_address
from web3.exceptions import MismatchedABI

Reader = Callable[[str], Any]
_BOOLS = {"0" * 64: False, "0" * 63 + "1": True}
_ONE_WORD = re.compile(r"(u?int|bytes)(\d*)|address|bool")
_SAFE_INT = 2**53


def to_json(value: Any) -> Any:
    """Event arguments as JSON: bytes as 0x hex, big numbers as strings, tuples as lists."""
    kind = type(value)
    if kind is str or kind is bool:
        return value
    if kind is int:
        return value if -_SAFE_INT < value < _SAFE_INT else str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if -_SAFE_INT < value < _SAFE_INT else str(value)
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


@lru_cache(maxsize=4096)
def checksum(address: str) -> str:
    """``address`` checksummed (EIP-55), remembered: a chain's logs name few addresses many
    times, and the checksum's keccak costs more than the rest of decoding a log."""
    return to_checksum_address(address)


def _reader(kind: str, codec: Any, as_json: bool) -> Reader | None:
    """A reader of one ABI word (64 hex digits) of type ``kind``, giving what ``eth_abi`` and
    web3's normalisers give (``as_json``: that, through :func:`to_json`), or None when ``kind``
    is not one word. A word ``eth_abi`` would refuse (bad padding, out of range) goes to
    ``eth_abi`` itself, so it is refused the same way."""
    match = _ONE_WORD.fullmatch(kind)
    if match is None:
        return None

    def strict(word: str) -> Any:
        value = _normalised(kind, codec.decode([kind], bytes.fromhex(word))[0])
        return to_json(value) if as_json else value

    if kind == "address":
        return lambda word: checksum("0x" + word[24:]) if word.startswith("000000000000000000000000") else strict(word)
    if kind == "bool":
        return lambda word: _BOOLS[word] if word in _BOOLS else strict(word)
    base, digits = match.group(1), match.group(2)
    if base in ("uint", "int"):
        bits, signed = int(digits or 256), base == "int"
        low, high = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)

        def integer(word: str) -> Any:
            value = int(word, 16)
            if signed and value >> 255:
                value -= 1 << 256
            if not low <= value < high:
                return strict(word)
            return value if not as_json or -_SAFE_INT < value < _SAFE_INT else str(value)
        return integer
    size = int(digits or 0)
    if not 0 < size <= 32:
        return None
    if as_json and size == 32:
        return lambda word: "0x" + word.lower()
    if as_json:
        return lambda word: "0x" + word[: 2 * size].lower() if word[2 * size :].strip("0") == "" else strict(word)
    return lambda word: bytes.fromhex(word[: 2 * size]) if word[2 * size :].strip("0") == "" else strict(word)


def _normalised(kind: str, value: Any) -> Any:
    """A value ``eth_abi`` decoded as ``kind`` as web3's normalisers leave it: addresses
    checksummed, arrays as lists."""
    if kind == "address":
        return checksum(value)
    if kind.endswith("]"):
        inner = kind[: kind.rindex("[")]
        return [_normalised(inner, v) for v in value]
    return value


class LogReader:
    """The arguments of one event from its raw logs, in the order web3 gives them (indexed
    first): indexed ones from their topics (a string, bytes or array indexed is only its hash
    there: web3 gives those bytes), one-word data ones from their word, the rest by ``eth_abi``."""

    def __init__(self, abi: Mapping[str, Any], codec: Any) -> None:
        self.name, self.codec = str(abi["name"]), codec
        inputs = abi.get("inputs", [])
        indexed = [i for i in inputs if i.get("indexed")]
        data = [i for i in inputs if not i.get("indexed")]
        self.topic_names = tuple(i["name"] for i in indexed)
        self.data_names = tuple(i["name"] for i in data)
        self.data_types = [i["type"] for i in data]
        self._typed = self._readers(indexed, data, False)
        self._json = self._readers(indexed, data, True)

    def _readers(self, indexed: list[Mapping[str, Any]], data: list[Mapping[str, Any]],
                 as_json: bool) -> tuple[tuple[Reader, ...], tuple[Reader, ...] | None]:
        topics = [_reader(i["type"], self.codec, as_json) or _reader("bytes32", self.codec, as_json) for i in indexed]
        words = [_reader(i["type"], self.codec, as_json) for i in data]
        whole = tuple(w for w in words if w is not None)
        return tuple(t for t in topics if t is not None), whole if len(whole) == len(words) else None

    def args(self, log: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as web3 decodes them."""
        return self._read(log, self._typed, False)

    def json_args(self, log: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments as :func:`to_json` writes web3's."""
        return self._read(log, self._json, True)

    def _read(self, log: Mapping[str, Any], readers: tuple[tuple[Reader, ...], tuple[Reader, ...] | None],
              as_json: bool) -> dict[str, Any]:
        topics, (topic_readers, words) = log["topics"], readers
        if len(topics) != len(topic_readers) + 1:
            raise MismatchedABI(f"{self.name} has {len(topic_readers)} indexed arguments, the log {len(topics) - 1} topics")
        args = {name: read(topic[2:]) for name, read, topic in zip(self.topic_names, topic_readers, topics[1:])}
        data: str = log["data"]
        if words is not None and len(data) >= 2 + 64 * len(words):
            args.update(zip(self.data_names, [read(data[2 + 64 * n : 66 + 64 * n]) for n, read in enumerate(words)]))
        elif self.data_names:
            values = map(_normalised, self.data_types, self.codec.decode(self.data_types, bytes.fromhex(data[2:])))
            args.update(zip(self.data_names, map(to_json, values) if as_json else values))
        return args
