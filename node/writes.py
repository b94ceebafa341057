"""The kinds of chain write the outbox carries: how to build each call from its stored
payload, and how to tell whether the chain already holds its effect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from web3.contract.contract import ContractFunction

from ledger.deploy import Ledger
from ledger.errors import ContractError


def b32(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text.removeprefix("0x"))


@dataclass(frozen=True)
class WriteKind:
    name: str
    gas: Callable[[dict[str, Any]], int]
    call: Callable[[Ledger, dict[str, Any]], ContractFunction]
    applied: Callable[[Ledger, dict[str, Any]], bool]
    """Whether the chain holds the write's effect; read when a send reverted."""


def _fn(ledger: Ledger, contract: str, name: str) -> Callable[..., ContractFunction]:
    client = getattr(ledger, contract)
    return client.contract.get_function_by_name(name)  # type: ignore[no-any-return]


def _exists(view: Callable[[Ledger, dict[str, Any]], object], missing: str) -> Callable[[Ledger, dict[str, Any]], bool]:
    """Whether ``view`` answers, rather than reverting with the custom error ``missing``."""

    def check(ledger: Ledger, payload: dict[str, Any]) -> bool:
        try:
            view(ledger, payload)
        except ContractError as err:
            if err.name == missing:
                return False
            raise
        return True

    return check


WRITES: dict[str, WriteKind] = {
    w.name: w
    for w in (
        WriteKind(
            "register_dataset",
            gas=lambda p: 300_000 + 30_000 * (len(p["parents"]) + len(p["usage_right_holders"])),
            call=lambda l, p: _fn(l, "registry", "registerDataset")(
                b32(p["dataset_id"]),
                (b32(p["metadata_hash"]), b32(p["category"]), p["grade"], p["update_interval"],
                 (b32(p["ownership_holder"]), [b32(h) for h in p["usage_right_holders"]], p["revenue_beneficiary"]),
                 [b32(x) for x in p["parents"]]),
            ),
            applied=_exists(lambda l, p: l.registry.dataset(b32(p["dataset_id"])), "RegistryUnknownDataset"),
        ),
        WriteKind(
            "add_version",
            gas=lambda p: 250_000,
            call=lambda l, p: _fn(l, "registry", "addVersion")(
                b32(p["dataset_id"]), b32(p["content_root"]), b32(p["schema_hash"]), p["size_bytes"], p["record_count"]
            ),
            applied=lambda l, p: l.registry.version_of_root(b32(p["dataset_id"]), b32(p["content_root"])) != 0,
        ),
        WriteKind(
            "anchor",
            gas=lambda p: 200_000,
            call=lambda l, p: _fn(l, "anchors", "anchor")(b32(p["root"]), p["leaf_count"], p["kind"]),
            applied=_exists(lambda l, p: l.anchors.anchor_of(b32(p["root"])), "AnchorUnknownRoot"),
        ),
        WriteKind(
            "record_uses",
            gas=lambda p: 120_000 + 15_000 * len(p["uses"]),
            call=lambda l, p: _fn(l, "usage", "recordUses")(
                b32(p["batch_id"]), [(b32(u["grant_id"]), u["action"], b32(u["evidence_hash"])) for u in p["uses"]]
            ),
            applied=lambda l, p: l.usage.id_used(b32(p["batch_id"])),
        ),
    )
}
