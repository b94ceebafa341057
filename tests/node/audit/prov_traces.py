"""A long mixed trace for the PROV-JSON writer, the same on every run (seeded): every event the
export has a rule for, events it has none for, arguments of every shape (arrays, nested values,
integers of every size, booleans, text needing escapes, names that collide with the activity's own
attributes), repeated evidence and versions named before they are added, over many blocks."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from node.audit.trace import TraceItem

RULED = ("DatasetRegistered", "RightsSet", "MetadataUpdated", "VersionAdded", "DatasetFrozen", "DatasetUnfrozen",
         "AccessRequested", "RequestApproved", "RequestCoApproved", "GrantActivated", "RequestRejected",
         "RequestWithdrawn", "GrantRevoked", "UseRecorded", "UseRefused", "UsesBatchRecorded",
         "StatementAcknowledged", "StatementSettled", "RootAnchored", "IssueOpened", "IssueReturned", "IssueRepaired",
         "IssueClosed", "IssueReopened", "DepartmentAdmitted", "ServiceAccountAdded", "ServiceAccountRemoved",
         "FoundingClosed", "ProposalOpened", "ProposalVoted", "ProposalExecuted", "ConsumerRegistered",
         "ConsumerRemoved")


def _h(text: str) -> str:
    return "0x" + hashlib.sha256(text.encode()).hexdigest()


def mixed_trace(events: int = 600, seed: int = 18) -> list[TraceItem]:
    rng = random.Random(seed)
    datasets = [_h(f"dataset {n}") for n in range(3)]
    grants = [_h(f"grant {n}") for n in range(4)]
    accounts = ["0x" + _h(f"account {n}")[2:42] for n in range(5)]
    departments = ["0x" + f"dept-{n}".encode().ljust(32, b"\0").hex() for n in range(3)]
    evidence = [_h(f"evidence {n}") for n in range(events // 3 + 1)]

    def value() -> Any:
        return rng.choice([rng.randint(-(2**31), 2**31 - 1), rng.randint(2**31, 2**62), 2**70 + rng.randint(0, 9),
                           rng.random() < 0.5, "text \"quoted\" \\ 中文 \n", rng.choice(accounts), None,
                           [rng.randint(0, 3), "x", [1, 2]], {"b": 1, "a": [None, True]},
                           [rng.choice(datasets), rng.choice(datasets)]])

    items = []
    block, log, time = 1000, 0, 1_700_000_000
    for n in range(events):
        if rng.random() < 0.3:
            block, log, time = block + 1, 0, time + rng.choice([0, 12])
        name = rng.choice(RULED + ("SomethingNew",)) if rng.random() < 0.5 else "UseRecorded"
        args: dict[str, Any] = {
            "datasetId": rng.choice(datasets), "grantId": rng.choice(grants), "by": rng.choice(accounts),
            "actor": rng.choice(accounts), "grantee": rng.choice(accounts), "reviewer": rng.choice(accounts),
            "coordinator": rng.choice(accounts), "registrant": rng.choice(accounts), "party": rng.choice(accounts),
            "opener": rng.choice(accounts), "proposer": rng.choice(accounts), "voter": rng.choice(accounts),
            "account": rng.choice(accounts), "serviceAccount": rng.choice(accounts), "validator": rng.choice(accounts),
            "ownerDepartment": rng.choice(departments), "ownershipHolder": rng.choice(departments),
            "department": rng.choice(departments), "departmentId": rng.choice(departments),
            "voterDepartment": rng.choice(departments), "sponsor": rng.choice(departments),
            "evidenceHash": rng.choice(evidence), "root": _h(f"root {rng.randint(0, 5)}"),
            "issueId": _h(f"issue {rng.randint(0, 2)}"), "statementId": _h(f"statement {rng.randint(0, 2)}"),
            "version": rng.randint(1, 4), "repairedVersion": rng.randint(1, 4), "rejectedVersion": rng.randint(1, 4),
            "reason": rng.randint(0, 11), "contentRoot": _h(f"content {n}"), "sizeBytes": rng.randint(0, 2**40),
            "recordCount": rng.randint(0, 10**6), "parents": [rng.choice(datasets)] if rng.random() < 0.5 else [],
        }
        if rng.random() < 0.2:
            args[rng.choice(["blockNumber", "event", "contract", "extra", "consumerAgent", "hops"])] = value()
        args = {k: v for k, v in args.items() if rng.random() < 0.85}
        if name in ("UseRecorded",):
            args.setdefault("evidenceHash", rng.choice(evidence))
        if name in ("VersionAdded", "IssueOpened", "IssueRepaired", "IssueClosed", "IssueReopened", "UseRefused"):
            args.update({k: args.get(k, rng.randint(1, 4)) for k in ("version", "repairedVersion", "rejectedVersion",
                                                                       "reason")})
            args.setdefault("datasetId", rng.choice(datasets))
        if name.startswith("Issue"):
            args.setdefault("issueId", _h("issue 0"))
        if name.startswith("Statement"):
            args.setdefault("statementId", _h("statement 0"))
        if name == "RootAnchored":
            args.setdefault("root", _h("root 0"))
        items.append(TraceItem(
            id=n + 1, block_number=block, block_hash=_h(f"block {block}"),
            block_time=None if rng.random() < 0.02 else time, tx_hash=_h(f"tx {block} {log // 3}"), log_index=log,
            contract=rng.choice(["UsageLog", "AccessGrants", "DataRegistry", "QualityBoard", "Consortium"]),
            contract_address=rng.choice(accounts), name=name, args=args,
            dataset_id=args.get("datasetId") if rng.random() < 0.9 else None, grant_id=args.get("grantId"),
            consumer=rng.choice(accounts + [None])))
        log += 1
    return items


def canonical(text: str) -> str:
    """The sha256 of a PROV-JSON text's parsed content, whatever its sections' order: equal for
    two writers that wrote the same records with the same blank-node ids."""
    return hashlib.sha256(json.dumps(json.loads(text), sort_keys=True, ensure_ascii=False).encode()).hexdigest()
