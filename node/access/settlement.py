"""Settlement: what a consumer owes a department for a period, agreed on-chain by both.

The owner's node builds a statement from the indexed uses of the consumer's grants on the
department's datasets in ``[period_start, period_end)`` (block time), each grant at the price
per use its approval fixed (zero is allowed). The statement's canonical JSON is hashed; the
owner acknowledges the hash on-chain first, which fixes the terms; the consumer checks the
statement against the chain itself, then acknowledges the same terms, and it is settled.

The consumer's check trusts nothing of the department's: not its lines, not its node's SQL. It
refuses a grant billed twice, a period overlapping one already settled or issued, and a line
on a dataset the department does not own, reading each from the chain.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from ledger.clients import Statement as ChainStatement
from ledger.deploy import Ledger, department_id
from ledger.errors import ContractError
from ledger.events import ChainEvent, fetch_events
from node.departments import code_of
from node.errors import AlreadyExists, Conflict, InvalidInput, StatementRefused
from node.models import Dataset, Grant, Statement, Use
from node.chain.outbox import enqueue
from node.catalog.texts import canonical_hash
from node.audit.verify import Report

MAX_LINES = 1000
"""Lines one statement may have: one per grant, each read on-chain by the consumer's check."""

# ---------------------------------------------------------------- the owner's side


def statement_id(department: str, consumer: str, period_start: int, period_end: int) -> str:
    key = f"provledger statement/{department}/{consumer.lower()}/{period_start}/{period_end}"
    return "0x" + hashlib.sha256(key.encode()).hexdigest()


def build_statement(session: Session, *, department: str, consumer: str, period_start: int,
                    period_end: int) -> Statement:
    """The statement of ``consumer``'s uses of ``department``'s data in the period, kept and
    queued for the owner's acknowledgement on-chain. A period overlapping one of our earlier
    statements to the consumer is refused: the consumer's check would refuse it, for good."""
    if not 0 <= period_start < period_end < 1 << 63:
        raise InvalidInput("period", "must satisfy 0 <= start < end < 2**63")
    consumer = Web3.to_checksum_address(consumer)
    sid = statement_id(department, consumer, period_start, period_end)
    if session.get(Statement, sid) is not None:
        raise AlreadyExists("statement", sid)
    earlier = session.scalars(select(Statement).where(
        Statement.owner_department == department, Statement.consumer == consumer,
        Statement.period_start < period_end, Statement.period_end > period_start).limit(1)).first()
    if earlier is not None:
        raise Conflict("period", f"overlaps statement {earlier.statement_id} "
                                 f"[{earlier.period_start}, {earlier.period_end}) to the same consumer")
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


def chain_terms(body: Mapping[str, Any]) -> ChainStatement:
    """The on-chain terms of a statement body: what both sides acknowledge."""
    return ChainStatement(bytes.fromhex(body["statement_id"][2:]), department_id(body["owner_department"]),
                          Web3.to_checksum_address(body["consumer"]), int(body["period_start"]),
                          int(body["period_end"]), int(body["amount"]), bytes.fromhex(canonical_hash(body)[2:]))


# ---------------------------------------------------------------- a statement body, read strictly


@dataclass(frozen=True)
class Line:
    """One line of a statement; ``number`` counts from 1, as the consumer reads them."""

    number: int
    grant_id: str
    dataset_id: str
    uses: int
    price_per_use: int
    amount: int
    first_sequence: int
    last_sequence: int


@dataclass(frozen=True)
class StatementBody:
    statement_id: str
    owner_department: str
    consumer: str
    period_start: int
    period_end: int
    amount: int
    lines: tuple[Line, ...]
    terms: ChainStatement


def _get(body: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in body:
        raise InvalidInput(where + key, "is missing")
    return body[key]


def _id32(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{64}", value):
        raise InvalidInput(where, "must be 0x and 64 hex digits")
    return value.lower()


def _whole(value: Any, where: str, bits: int, *, text: bool = False) -> int:
    """A whole number below ``2**bits``: a JSON number, or (with ``text``) its decimal string."""
    if isinstance(value, str) and text and re.fullmatch(r"[0-9]{1,40}", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << bits:
        raise InvalidInput(where, f"must be a whole number below 2**{bits}")
    return value


def parse_statement(body: Mapping[str, Any]) -> StatementBody:
    """``body`` read as a statement, every field typed; :class:`InvalidInput` names the first
    one that is not what a statement holds."""
    if not isinstance(body, Mapping):
        raise InvalidInput("statement", "must be a JSON object")
    consumer = _get(body, "consumer", "")
    if not isinstance(consumer, str) or not Web3.is_address(consumer):
        raise InvalidInput("consumer", "must be an address")
    department = _get(body, "owner_department", "")
    if not isinstance(department, str) or not 0 < len(department.encode(errors="replace")) <= 31:
        raise InvalidInput("owner_department", "must be a department code of 1 to 31 bytes")
    raw_lines = _get(body, "lines", "")
    if not isinstance(raw_lines, list) or len(raw_lines) > MAX_LINES:
        raise InvalidInput("lines", f"must be a list of at most {MAX_LINES} lines")
    lines = []
    for number, raw in enumerate(raw_lines, 1):
        where = f"lines[{number - 1}]."
        if not isinstance(raw, Mapping):
            raise InvalidInput(where[:-1], "must be a JSON object")
        lines.append(Line(
            number, _id32(_get(raw, "grant_id", where), where + "grant_id"),
            _id32(_get(raw, "dataset_id", where), where + "dataset_id"),
            _whole(_get(raw, "uses", where), where + "uses", 32),
            _whole(_get(raw, "price_per_use", where), where + "price_per_use", 96, text=True),
            _whole(_get(raw, "amount", where), where + "amount", 128, text=True),
            _whole(_get(raw, "first_sequence", where), where + "first_sequence", 32),
            _whole(_get(raw, "last_sequence", where), where + "last_sequence", 32)))
    start = _whole(_get(body, "period_start", ""), "period_start", 63)
    end = _whole(_get(body, "period_end", ""), "period_end", 63)
    if start >= end:
        raise InvalidInput("period_end", "must be after period_start")
    sid = _id32(_get(body, "statement_id", ""), "statement_id")
    amount = _whole(_get(body, "amount", ""), "amount", 128, text=True)
    try:
        terms = chain_terms(body)
    except UnicodeEncodeError as err:  # a lone surrogate: JSON allows it, UTF-8 does not
        raise InvalidInput("statement", "is not valid UTF-8 text") from err
    return StatementBody(sid, department, Web3.to_checksum_address(consumer), start, end, amount, tuple(lines), terms)


# ---------------------------------------------------------------- the consumer's check


def check_statement(ledger: Ledger, body: Mapping[str, Any]) -> Report:
    """The consumer's check of a statement against the chain; the report lists every problem:

    - the owner department acknowledged exactly these terms on-chain;
    - no grant is billed on two lines, so no use is billed twice;
    - the period overlaps no other statement of the department to the consumer that the
      consumer acknowledged, or that the department issued on-chain before this one (of two
      overlapping statements only the first can settle, and no use is paid twice);
    - each line's grant is the consumer's and on the dataset the line names, which the billing
      department owns on-chain; its price is the grant's; its uses are those recorded on-chain
      in the period (count and sequences); the amounts add up.

    A body that is not a statement at all raises :class:`InvalidInput`.
    """
    statement = parse_statement(body)
    report = Report(f"statement {statement.statement_id}")
    head = ledger.w3.eth.block_number
    report.problems += _repeated(statement.lines)
    report.problems += _against_acknowledgements(statement, _acknowledgements(ledger, statement, head))
    recorded = _uses_in_period(ledger, {line.grant_id for line in statement.lines}, statement.period_start,
                               statement.period_end, head)
    billed: set[str] = set()
    for line in statement.lines:
        if line.grant_id not in billed:
            billed.add(line.grant_id)
            report.problems += _line_problems(ledger, statement, line, recorded.get(line.grant_id, []))
    if statement.amount != sum(line.amount for line in statement.lines):
        report.problems.append("the total is not the sum of the lines")
    return report


def accept_statement(ledger: Ledger, body: Mapping[str, Any]) -> Report:
    """:func:`check_statement`, refusing with :class:`StatementRefused` unless everything holds."""
    report = check_statement(ledger, body)
    if not report.ok:
        raise StatementRefused(parse_statement(body).statement_id, report.problems)
    return report


def acknowledge_as_consumer(ledger: Ledger, body: Mapping[str, Any]) -> Report:
    """Check the statement against the chain and, if it holds, acknowledge it with ``ledger``'s
    account (the consumer's); :class:`StatementRefused` says what did not hold otherwise, and
    nothing is sent."""
    report = accept_statement(ledger, body)
    ledger.usage.acknowledge_statement(chain_terms(body))
    return report


def _repeated(lines: Iterable[Line]) -> list[str]:
    per_grant: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        per_grant[line.grant_id].append(line)
    problems = []
    for grant, same in per_grant.items():
        if len(same) < 2:
            continue
        twice: list[tuple[int, int]] = []
        reach = -1
        for line in sorted(same, key=lambda li: li.first_sequence):
            if line.first_sequence <= reach:
                twice.append((line.first_sequence, min(line.last_sequence, reach)))
            reach = max(reach, line.last_sequence)
        uses = f", its uses {min(t[0] for t in twice)}..{max(t[1] for t in twice)} twice" if twice else ""
        problems.append(f"grant {grant} is billed on lines {', '.join(str(line.number) for line in same)}{uses}; "
                        "a grant has one line")
    return problems


def _event_topic(ledger: Ledger, name: str) -> str:
    abi = next(i for i in ledger.usage.contract.abi if i.get("type") == "event" and i.get("name") == name)
    return "0x" + event_abi_to_log_topic(abi).hex()  # type: ignore[arg-type]


def _acknowledgements(ledger: Ledger, statement: StatementBody, head: int) -> list[ChainEvent]:
    """Every StatementAcknowledged of the department to the consumer, read from the chain."""
    consumer = "0x" + bytes.fromhex(statement.consumer[2:]).rjust(32, b"\x00").hex()
    topics: list[Any] = [_event_topic(ledger, "StatementAcknowledged"), None,
                         "0x" + statement.terms.owner_department.hex(), consumer]
    return [e for e in fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block, head, topics=topics)
            if e.contract == "UsageLog"]


def _against_acknowledgements(statement: StatementBody, events: list[ChainEvent]) -> list[str]:
    terms = statement.terms
    problems = []
    issued = next((e for e in events if e.args["statementId"] == terms.statement_id
                   and e.args["party"] != statement.consumer), None)
    if issued is None:
        problems.append("the owner department has not acknowledged this statement on-chain")
    else:
        held = issued.args
        if ((held["periodStart"], held["periodEnd"], held["amount"], held["statementHash"])
                != (terms.period_start, terms.period_end, terms.amount, terms.statement_hash)):
            problems.append(f"the owner department acknowledged other terms on-chain: period [{held['periodStart']}, "
                            f"{held['periodEnd']}), amount {held['amount']}, hash 0x{bytes(held['statementHash']).hex()}")
    others: dict[bytes, list[ChainEvent]] = defaultdict(list)
    for event in events:
        if event.args["statementId"] != terms.statement_id:
            others[bytes(event.args["statementId"])].append(event)
    for other, acks in others.items():
        start, end = int(acks[0].args["periodStart"]), int(acks[0].args["periodEnd"])
        if not (start < statement.period_end and statement.period_start < end):
            continue
        overlap = (f"its period [{statement.period_start}, {statement.period_end}) overlaps [{start}, {end}) "
                   f"of statement 0x{other.hex()}")
        if any(e.args["party"] == statement.consumer for e in acks):
            problems.append(f"{overlap}, which the consumer acknowledged: uses in "
                            f"[{max(start, statement.period_start)}, {min(end, statement.period_end)}) would be "
                            "paid twice")
        elif issued is None or acks[0].key < issued.key:
            problems.append(f"{overlap}, which the department issued on-chain before this one")
    return problems


def _uses_in_period(ledger: Ledger, grant_ids: set[str], start: int, end: int, head: int) -> dict[str, list[int]]:
    """The sequences of each grant's uses recorded on-chain in ``[start, end)`` (block time)."""
    sequences: dict[str, list[int]] = defaultdict(list)
    if not grant_ids:
        return sequences
    topics: list[Any] = [_event_topic(ledger, "UseRecorded"), sorted(grant_ids)]
    times: dict[int, int] = {}
    for event in fetch_events(ledger.w3, ledger.events, ledger.manifest.deployment_block, head, topics=topics):
        if event.contract != "UsageLog":
            continue
        if event.block_number not in times:
            times[event.block_number] = int(ledger.w3.eth.get_block(event.block_number)["timestamp"])
        if start <= times[event.block_number] < end:
            sequences["0x" + bytes(event.args["grantId"]).hex()].append(int(event.args["sequence"]))
    return sequences


def _department_name(raw: bytes) -> str:
    return code_of(raw) or "no department"


def _line_problems(ledger: Ledger, statement: StatementBody, line: Line, sequences: list[int]) -> list[str]:
    where = f"line {line.number} (grant {line.grant_id})"
    try:
        grant = ledger.grants.grant(bytes.fromhex(line.grant_id[2:]))
    except ContractError as err:
        return [f"{where}: no such grant on-chain ({err.name})"]
    problems = []
    if grant.grantee != statement.consumer:
        problems.append(f"{where}: the grant is not the consumer's")
    dataset = "0x" + bytes(grant.dataset_id).hex()
    if dataset != line.dataset_id:
        problems.append(f"{where}: the grant is on dataset {dataset} on-chain, not {line.dataset_id}")
    owner = bytes(ledger.registry.dataset(bytes(grant.dataset_id)).owner_department)
    if owner != statement.terms.owner_department:
        problems.append(f"{where}: dataset {dataset} is owned on-chain by {_department_name(owner)}, "
                        f"not by {statement.owner_department}, which bills it")
    if line.price_per_use != grant.price_per_use:
        problems.append(f"{where}: the grant costs {grant.price_per_use} per use, not {line.price_per_use}")
    if line.uses != len(sequences):
        problems.append(f"{where}: {len(sequences)} uses are recorded on-chain in the period, not {line.uses}")
    elif sequences and (min(sequences), max(sequences)) != (line.first_sequence, line.last_sequence):
        problems.append(f"{where}: the uses in the period are {min(sequences)}..{max(sequences)} on-chain, "
                        f"not {line.first_sequence}..{line.last_sequence}")
    if line.uses == 0:
        problems.append(f"{where}: the line bills no use")
    if line.amount != line.uses * line.price_per_use:
        problems.append(f"{where}: the amount is not uses times price")
    return problems
