"""Factories for tests: senders for anvil's funded accounts and a freshly deployed suite."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger import ids
from ledger.chain import LocalChain
from ledger.clients import Action, PrivacyTerms, Rights
from ledger.compile import ContractArtifact
from ledger.deploy import FoundingDepartment, Ledger, deploy_suite, department_id
from ledger.tx import TransactionSender

DEPARTMENTS = ("stats-bureau", "health-commission", "public-security")


@dataclass
class Suite:
    """A deployed suite with a ledger per role: coordinator, three departments, consumers, auditor."""

    coordinator: Ledger
    departments: list[Ledger]
    consumers: list[Ledger]
    auditor: Ledger
    outsider: Ledger
    accounts: list[LocalAccount]


def sender(chain: LocalChain, index: int) -> TransactionSender:
    w3 = chain.web3()
    return TransactionSender(w3, Account.from_key(chain.private_keys[index]))


def deploy(chain: LocalChain, artifacts: Mapping[str, ContractArtifact]) -> Suite:
    """Accounts: 0 coordinator, 1-3 departments, 4-6 their validators, 7-8 consumers, 9 auditor, 10 outsider."""
    senders = [sender(chain, i) for i in range(11)]
    accounts = [s.account for s in senders]
    founders = [
        FoundingDepartment(department_id(code), code.replace("-", " ").title(), accounts[4 + i].address,
                           accounts[1 + i].address)
        for i, code in enumerate(DEPARTMENTS)
    ]
    manifest = deploy_suite(senders[0], artifacts, founders=founders)
    coordinator = Ledger(senders[0].w3, manifest, artifacts, senders[0])
    departments = [coordinator.as_account(senders[i]) for i in (1, 2, 3)]
    consumers = [coordinator.as_account(senders[i]) for i in (7, 8)]
    departments[0].consortium.register_consumer(accounts[7].address)
    departments[1].consortium.register_consumer(accounts[8].address)
    coordinator.consortium.appoint_auditor(accounts[9].address)
    return Suite(coordinator, departments, consumers, coordinator.as_account(senders[9]),
                 coordinator.as_account(senders[10]), accounts)


def next_second(w3: Web3) -> int:
    """A block time after every block so far, at which an empty block is mined: anvil keeps block
    times from decreasing, so a settlement period starting there holds no earlier use. The chain's
    clock, not the wall's: an ``evm_revert`` elsewhere leaves it behind the wall."""
    after = int(w3.eth.get_block("latest")["timestamp"]) + 1
    w3.provider.make_request("evm_mine", [after])  # type: ignore[arg-type]
    return after


def head_time(w3: Web3) -> int:
    """The head block's time: a period ending after it holds every use mined so far."""
    return int(w3.eth.get_block("latest")["timestamp"])


def approved_grant(owner: Ledger, holder: Ledger, label: str, *actions: Action, terms: PrivacyTerms | None = None,
                   max_uses: int = 50) -> tuple[bytes, bytes]:
    """A grade-1 dataset of the first department and ``holder``'s grant on it for ``actions``
    (a query grant with ``terms`` when given), approved on chain, each named from ``label``
    (unique per test and database); their ids."""
    code = hashlib.sha256(f"{label} dataset".encode()).digest()
    owner.registry.register_dataset(code, metadata="{}", category=b"\x02" * 32, grade=1,
                                    update_interval=60, rights=Rights(department_id(DEPARTMENTS[0])))
    dataset = ids.dataset_id(department_id(DEPARTMENTS[0]), code)
    key = hashlib.sha256(f"{label} grant".encode()).digest()
    request = {"dataset_id": dataset, "purpose": "a test of the ledger", "schema_hash": b"\x04" * 32, "fields": [],
               "actions": Action.mask(*actions), "duration": 3600, "max_uses": max_uses}
    if terms is None:
        holder.grants.request_access(key, **request)
    else:
        holder.grants.request_query_access(key, **request, terms=terms)
    assert holder.sender is not None
    grant = ids.grant_id(holder.sender.address, key)
    owner.grants.approve(grant)
    return dataset, grant
