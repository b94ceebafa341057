"""Decode every provledger contract event into a typed record, fetching logs in chunks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3._utils.events import get_event_data
from eth_typing import BlockNumber
from web3.types import FilterParams, LogReceipt

from ledger.chain import endpoint
from ledger.errors import ChainReadFailed, ChainUnavailable
from ledger.rawlogs import LogReader, checksum, to_json
from ledger.rpc import RpcBatcher


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log: which contract emitted which event, with what, where in the chain."""

    contract: str
    name: str
    args: Mapping[str, Any]
    address: str
    block_number: int
    block_hash: HexBytes
    tx_hash: HexBytes
    log_index: int

    @property
    def key(self) -> tuple[int, int]:
        """Chain order: block, then position in the block."""
        return (self.block_number, self.log_index)


@dataclass(frozen=True)
class EventLayout:
    """Where each argument of one contract's event sits in its raw log: the indexed ones in
    topics 1-3, the others in ABI-encoded data; for filtering ``eth_getLogs`` by an argument
    and reading a few arguments of many raw logs without decoding them whole."""

    contract: str
    address: str
    name: str
    topic: str
    """Topic 0 in 0x hex."""
    places: Mapping[str, tuple[str, int, str]] = field(compare=False)
    """Each argument's place: ("topic", 1-3, type) or ("data", word, type)."""

    @classmethod
    def of(cls, contract: str, address: str, abi: Mapping[str, Any]) -> EventLayout:
        inputs = abi.get("inputs", [])
        indexed = [i for i in inputs if i.get("indexed")]
        data = [i for i in inputs if not i.get("indexed")]
        places = {i["name"]: ("topic", n + 1, i["type"]) for n, i in enumerate(indexed)}
        places.update({i["name"]: ("data", n, i["type"]) for n, i in enumerate(data)})
        return cls(contract, to_checksum_address(address), abi["name"],
                   "0x" + event_abi_to_log_topic(dict(abi)).hex(), places)  # type: ignore[arg-type]

    def has(self, name: str) -> bool:
        return name in self.places

    def topic_of(self, name: str) -> int | None:
        """The topic (1-3) holding argument ``name``, if it is indexed."""
        where, at, _ = self.places.get(name, ("", 0, ""))
        return at if where == "topic" else None

    def readable(self, names: Iterable[str]) -> tuple[tuple[str, str, int, str], ...]:
        """Those of ``names`` that :meth:`read` can read: indexed, or static in data (one word)."""
        return tuple((n, *self.places[n]) for n in names if n in self.places
                     and (self.places[n][0] == "topic" or _STATIC.match(self.places[n][2])))

    def read(self, log: Mapping[str, Any], names: Iterable[tuple[str, str, int, str]]) -> dict[str, Any]:
        """Arguments ``names`` (from :meth:`readable`) of a raw JSON-RPC ``log`` of this event:
        bytes32 as 0x hex, addresses as lowercase 0x hex, integers as int."""
        values: dict[str, Any] = {}
        for name, where, at, kind in names:
            word = str(log["topics"][at])[2:] if where == "topic" else str(log["data"])[2 + 64 * at : 66 + 64 * at]
            values[name] = _word(kind, word)
        return values


_STATIC = re.compile(r"^(bytes32|address|bool|u?int\d*)$")


def _word(kind: str, word: str) -> Any:
    if kind == "address":
        return "0x" + word[-40:].lower()
    if kind.startswith(("uint", "bool")):
        return int(word, 16)
    if kind.startswith("int"):
        value = int(word, 16)
        return value - (1 << 256) if value >> 255 else value
    return "0x" + word.lower()


class EventDecoder:
    """Knows the events of every deployed contract by address and topic."""

    def __init__(self, w3: Web3) -> None:
        self._codec = w3.codec
        self._contracts: dict[str, str] = {}
        self._events: dict[tuple[str, bytes], dict[str, Any]] = {}
        self._raw: dict[tuple[str, str], tuple[str, LogReader] | None] = {}
        """By lowercase address and topic 0: the contract's checksummed address and the event's reader."""

    def add_contract(self, name: str, address: str, abi: Iterable[Mapping[str, Any]]) -> EventDecoder:
        address = to_checksum_address(address)
        self._contracts[address] = name
        for item in abi:
            if item.get("type") == "event" and not item.get("anonymous"):
                self._events[(address, event_abi_to_log_topic(dict(item)))] = dict(item)  # type: ignore[arg-type]
        self._raw.clear()
        return self

    @property
    def addresses(self) -> list[str]:
        return list(self._contracts)

    def layouts(self) -> list[EventLayout]:
        """The layout of every event the decoder knows."""
        return [EventLayout.of(self._contracts[address], address, abi) for (address, _), abi in self._events.items()]

    def decode(self, log: LogReceipt) -> ChainEvent | None:
        """The record of ``log``, or None if it is not a known event of a known contract."""
        address = to_checksum_address(log["address"])
        if not log["topics"]:
            return None
        abi = self._events.get((address, bytes(log["topics"][0])))
        if abi is None:
            return None
        data = get_event_data(self._codec, abi, log)
        return ChainEvent(
            contract=self._contracts[address],
            name=data["event"],
            args=dict(data["args"]),
            address=address,
            block_number=log["blockNumber"],
            block_hash=HexBytes(log["blockHash"]),
            tx_hash=HexBytes(log["transactionHash"]),
            log_index=log["logIndex"],
        )

    def decode_json(self, log: Mapping[str, Any]) -> ChainEvent | None:
        """:meth:`decode` of a raw JSON-RPC ``log`` (as ``eth_getLogs`` answers it), giving the
        same record without web3's formatters (see :class:`ledger.rawlogs.LogReader`)."""
        found = self._reader(log)
        if found is None:
            return None
        address, reader = found
        return ChainEvent(
            contract=self._contracts[address], name=reader.name, args=reader.args(log), address=address,
            block_number=int(log["blockNumber"], 16), block_hash=HexBytes(log["blockHash"]),
            tx_hash=HexBytes(log["transactionHash"]), log_index=int(log["logIndex"], 16),
        )

    def record(self, log: Mapping[str, Any]) -> LogRecord | None:
        """A raw JSON-RPC ``log`` as the index stores it (what :meth:`LogRecord.of` makes of
        :meth:`decode`'s record), read straight from the hex."""
        found = self._reader(log)
        if found is None:
            return None
        address, reader = found
        return LogRecord(self._contracts[address], reader.name, reader.json_args(log), int(log["blockNumber"], 16),
                         log["blockHash"].lower(), log["transactionHash"].lower(), int(log["logIndex"], 16))

    def _reader(self, log: Mapping[str, Any]) -> tuple[str, LogReader] | None:
        """The contract's address and the reader of ``log``'s event, built at its first log."""
        topics = log["topics"]
        if not topics:
            return None
        key = (log["address"].lower(), topics[0].lower())
        try:
            return self._raw[key]
        except KeyError:
            address = checksum(key[0])
            abi = self._events.get((address, bytes.fromhex(key[1][2:])))
            found = self._raw[key] = None if abi is None else (address, LogReader(abi, self._codec))
            return found


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log as the index stores it: its arguments as JSON (:func:`ledger.rawlogs.to_json`),
    hashes as 0x hex."""

    contract: str
    name: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int

    @classmethod
    def of(cls, event: ChainEvent) -> LogRecord:
        return cls(event.contract, event.name, {k: to_json(v) for k, v in event.args.items()}, event.block_number,
                   event.block_hash.to_0x_hex(), event.tx_hash.to_0x_hex(), event.log_index)


def log_from_json(log: Mapping[str, Any]) -> LogReceipt:
    """A log as a raw JSON-RPC reply gives it (e.g. from a batch), in the form web3 returns."""
    return {
        "address": to_checksum_address(log["address"]),
        "topics": [HexBytes(t) for t in log["topics"]],
        "data": HexBytes(log["data"]),
        "blockNumber": BlockNumber(int(log["blockNumber"], 16)),
        "blockHash": HexBytes(log["blockHash"]),
        "transactionHash": HexBytes(log["transactionHash"]),
        "transactionIndex": int(log["transactionIndex"], 16),
        "logIndex": int(log["logIndex"], 16),
        "removed": bool(log.get("removed", False)),
    }


def block_ranges(start: int, end: int, chunk: int) -> Iterator[tuple[int, int]]:
    """Inclusive ranges covering ``start..end`` with at most ``chunk`` blocks each."""
    while start <= end:
        stop = min(start + chunk - 1, end)
        yield start, stop
        start = stop + 1


def fetch_events(
    w3: Web3,
    decoder: EventDecoder,
    from_block: int,
    to_block: int,
    *,
    chunk: int = 2000,
    topics: list[Any] | None = None,
) -> Iterator[ChainEvent]:
    """Every known event of the decoder's contracts in ``from_block..to_block``, in chain order."""
    for start, stop in block_ranges(from_block, to_block, chunk):
        params: FilterParams = {"address": decoder.addresses, "fromBlock": start, "toBlock": stop}  # type: ignore[typeddict-item]
        if topics:
            params["topics"] = topics
        try:
            logs = w3.eth.get_logs(params)
        except ChainUnavailable:
            raise
        except OSError as err:  # the transport of a provider other than ledger.chain's
            raise ChainUnavailable(endpoint(w3)) from err
        for log in logs:
            event = decoder.decode(log)
            if event is not None:
                yield event


def fetch_logs(rpc: RpcBatcher, addresses: Sequence[str], from_block: int, to_block: int, *,
               topics: list[Any] | None = None, timeout: float | None = None) -> list[dict[str, Any]]:
    """The raw JSON logs of ``addresses`` in ``from_block..to_block`` (one ``eth_getLogs``), in
    chain order, without web3's formatters."""
    query: dict[str, Any] = {"address": list(addresses), "fromBlock": hex(from_block), "toBlock": hex(to_block)}
    if topics:
        query["topics"] = topics
    reply = rpc.call([("eth_getLogs", [query])], timeout=timeout)[0]
    if reply.error or not isinstance(reply.result, list):
        raise ChainReadFailed(f"the logs of blocks {from_block}-{to_block}", reply.message or "no log list")
    logs: list[dict[str, Any]] = reply.result
    return logs
