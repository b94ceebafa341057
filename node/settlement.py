"""Settlement: what a consumer owes a department for a period, agreed on-chain by both.

The owner's node builds a statement from the indexed uses of the consumer's grants on the
department's datasets in ``[period_start, period_end)`` (block time), each grant at the price
per use its approval fixed (zero is allowed). The statement's canonical JSON is hashed; the
owner acknowledges the hash on-chain first, which fixes the terms; the consumer checks the
statement against the chain itself, then acknowledges the same terms, and it is settled.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from ledger.clients import Statement as ChainStatement
from ledger.deploy import Ledger, department_id
from ledger.events import fetch_events
from node.errors import AlreadyExists, InvalidInput
from node.models import Dataset, Grant, Statement, Use
from node.outbox import enqueue
from node.register import canonical_hash
from node.verify import Report


def statement_id(department: str, consumer: str, period_start: int, period_end: int) -> str:
    key = f"provledger statement/{department}/{consumer.lower()}/{period_start}/{period_end}"
    return "0x" + hashlib.sha256(key.encode()).hexdigest()


def build_statement(session: Session, *, department: str, consumer: str, period_start: int,
                    period_end: int) -> Statement:
    """The statement of ``consumer``'s uses of ``department``'s data in the period, kept and
    queued for the owner's acknowledgement on-chain."""
    if not 0 <= period_start < period_end < 1 << 63:
        raise InvalidInput("period", "must satisfy 0 <= start < end < 2**63")
    consumer = Web3.to_checksum_address(consumer)
    sid = statement_id(department, consumer, period_start, period_end)
    if session.get(Statement, sid) is not None:
        raise AlreadyExists("statement", sid)
    rows = session.execute(
        select(Use, Grant).join(Grant, Grant.grant_id == Use.grant_id).join(Dataset, Dataset.dataset_id == Grant.dataset_id)
        .where(Grant.grantee == consumer, Dataset.owner_department == department, Use.refused.is_(None),
               Use.block_time >= period_start, Use.block_time < period_end)
        .order_by(Use.block_number, Use.log_index)
    ).all()
    per_grant: dict[str, list[Use]] = defaultdict(list)
    grants: dict[str, Grant] = {}
    for use, grant in rows:
        per_grant[grant.grant_id].append(use)
        grants[grant.grant_id] = grant
    lines = [{
        "grant_id": gid, "dataset_id": grants[gid].dataset_id, "uses": len(uses),
        "price_per_use": grants[gid].price_per_use, "amount": str(len(uses) * int(grants[gid].price_per_use)),
        "first_sequence": uses[0].sequence, "last_sequence": uses[-1].sequence,
    } for gid, uses in sorted(per_grant.items())]
    amount = sum(len(uses) * int(grants[gid].price_per_use) for gid, uses in per_grant.items())
    body = {"statement_id": sid, "owner_department": department, "consumer": consumer,
            "period_start": period_start, "period_end": period_end, "lines": lines, "amount": str(amount)}
    row = Statement(statement_id=sid, owner_department=department, consumer=consumer, period_start=period_start,
                    period_end=period_end, amount=str(amount), body=body, statement_hash=canonical_hash(body))
    session.add(row)
    enqueue(session, key=f"statement:{sid}", kind="acknowledge_statement", payload=_terms(row))
    return row


def _terms(row: Statement) -> dict[str, Any]:
    return {"statement_id": row.statement_id, "owner_department": "0x" + department_id(row.owner_department).hex(),
            "consumer": row.consumer, "period_start": row.period_start, "period_end": row.period_end,
            "amount": row.amount, "statement_hash": row.statement_hash}


def chain_terms(body: dict[str, Any]) -> ChainStatement:
    """The on-chain terms of a statement body: what both sides acknowledge."""
    return ChainStatement(bytes.fromhex(body["statement_id"][2:]), department_id(body["owner_department"]),
                          body["consumer"], body["period_start"], body["period_end"], int(body["amount"]),
                          bytes.fromhex(canonical_hash(body)[2:]))


def check_statement(ledger: Ledger, body: dict[str, Any]) -> Report:
    """The consumer's check of a statement against the chain: its hash is the one the owner
    acknowledged, and each line's uses are the recorded uses of that grant in the period."""
    report = Report(f"statement {body.get('statement_id')}")
    terms = chain_terms(body)
    issued, owner_side, _ = ledger.usage.statement(terms.owner_department, terms.statement_id)
    if not owner_side or issued != terms.statement_hash:
        report.problems.append("the owner has not acknowledged this statement's hash on-chain")
    counted = _uses_in_period(ledger, [line["grant_id"] for line in body["lines"]], body["period_start"],
                              body["period_end"])
    for line in body["lines"]:
        grant = ledger.grants.grant(bytes.fromhex(line["grant_id"][2:]))
        if grant.grantee != body["consumer"]:
            report.problems.append(f"grant {line['grant_id']} is not the consumer's")
        if int(line["price_per_use"]) != grant.price_per_use:
            report.problems.append(f"grant {line['grant_id']} costs {grant.price_per_use} per use, "
                                   f"not {line['price_per_use']}")
        if counted.get(line["grant_id"], 0) != line["uses"]:
            report.problems.append(f"grant {line['grant_id']} has {counted.get(line['grant_id'], 0)} uses on-chain "
                                   f"in the period, not {line['uses']}")
        if int(line["amount"]) != line["uses"] * int(line["price_per_use"]):
            report.problems.append(f"grant {line['grant_id']}: the amount is not uses times price")
    if int(body["amount"]) != sum(int(line["amount"]) for line in body["lines"]):
        report.problems.append("the total is not the sum of the lines")
    return report


def _uses_in_period(ledger: Ledger, grant_ids: list[str], start: int, end: int) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    if not grant_ids:
        return counts
    abi = next(i for i in ledger.usage.contract.abi if i.get("type") == "event" and i.get("name") == "UseRecorded")
    topics: list[Any] = ["0x" + event_abi_to_log_topic(abi).hex(), sorted(set(grant_ids))]  # type: ignore[arg-type]
    times: dict[int, int] = {}
    for event in fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block, ledger.w3.eth.block_number,
                              topics=topics):
        grant = "0x" + bytes(event.args["grantId"]).hex()
        if event.block_number not in times:
            times[event.block_number] = int(ledger.w3.eth.get_block(event.block_number)["timestamp"])
        if start <= times[event.block_number] < end:
            counts[grant] += 1
    return counts


def acknowledge_as_consumer(ledger: Ledger, body: dict[str, Any]) -> Report:
    """Check the statement against the chain and, if it holds, acknowledge it with ``ledger``'s
    account (the consumer's); the report says what did not hold otherwise."""
    report = check_statement(ledger, body)
    if report.ok:
        ledger.usage.acknowledge_statement(chain_terms(body))
    return report
