"""The monitor's burst and quota rules read SQL once per step, not once per use: they must name
the same uses the per-use rules did. Rows are written as the indexer writes them (the indexer's
own tests run it on a real chain); the expected alerts are counted naively, use by use."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from node.audit.monitor import Monitor
from node.models import Alert, AlertRule, ChainEventRow, Grant, Use, Watermark

GRANTS = ["0x" + f"{n:064x}" for n in (1, 2)]


def _index(session: Session, blocks: list[tuple[int, list[int]]]) -> list[tuple[str, int, int, int]]:
    """Uses of the grants in blocks ``(time step, [grant index per use])``: the events and uses
    rows the indexer would write; returns (grant, block number, block time, sequence) per use."""
    for grant in GRANTS:
        session.add(Grant(grant_id=grant, dataset_id="0x" + "ab" * 32, grantee="0x" + "cd" * 20, status="active",
                          purpose_hash="0x" + "00" * 32, actions=1, duration=10**6, max_uses=40, requested_block=0))
    uses, sequence, time = [], {g: 0 for g in GRANTS}, 1_000
    for number, (step, grants) in enumerate(blocks, start=1):
        time += step
        for log_index, which in enumerate(grants):
            grant = GRANTS[which]
            sequence[grant] += 1
            args = {"grantId": grant, "actor": "0x" + "ef" * 20, "action": 1, "evidenceHash": "0x" + "11" * 32,
                    "sequence": sequence[grant]}
            session.add(ChainEventRow(block_number=number, block_hash="0x" + f"{number:064x}", block_time=time,
                                      tx_hash="0x" + "22" * 32, log_index=log_index, contract="UsageLog",
                                      name="UseRecorded", args=args, dataset_id="0x" + "ab" * 32, grant_id=grant))
            session.add(Use(grant_id=grant, dataset_id="0x" + "ab" * 32, actor=args["actor"], action=1,
                            evidence_hash=args["evidenceHash"], sequence=sequence[grant], block_number=number,
                            block_time=time, log_index=log_index, tx_hash="0x" + "22" * 32))
            uses.append((grant, number, time, sequence[grant]))
    session.commit()
    return uses


def _expected(uses: list[tuple[str, int, int, int]], threshold: int, window: int, quota: float) -> set[tuple[str, int]]:
    """The (key, block) of each alert, counted per use as the rules used to: burst over the
    uses of the grant up to its block within the window, quota at the first use past its share."""
    found: dict[str, int] = {}
    for grant, number, time, sequence in uses:
        count = sum(1 for g, n, t, _ in uses if g == grant and n <= number and time - window < t <= time)
        if count > threshold:
            found.setdefault(f"burst:{grant}:{time // window}", number)
        if sequence >= quota * 40:
            found.setdefault(f"quota:{grant}", number)
    return set(found.items())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blocks=st.lists(st.tuples(st.integers(0, 7), st.lists(st.integers(0, 1), max_size=6)), min_size=1, max_size=25),
       threshold=st.integers(1, 8), window=st.integers(1, 20), batch=st.integers(1, 30))
def test_burst_and_quota_alerts_name_the_uses_a_per_use_count_names(
        session: Session, blocks: list[tuple[int, list[int]]], threshold: int, window: int, batch: int) -> None:
    for table in (Alert, Use, ChainEventRow, Grant, Watermark):  # the fixture is one database for every example
        session.execute(delete(table))
    session.execute(update(AlertRule).where(AlertRule.kind == "burst").values(threshold=threshold,
                                                                               window_seconds=window))
    session.commit()
    quota = session.scalars(select(AlertRule.threshold).where(AlertRule.kind == "quota")).one()
    uses = _index(session, blocks)
    Monitor(sessionmaker(bind=session.get_bind()), batch=batch).run_until_current(now=0)
    raised = {(a.key, a.block_number) for a in session.scalars(select(Alert).where(Alert.kind.in_(("burst", "quota"))))}
    assert raised == _expected(uses, threshold, window, quota)


def test_a_use_of_a_grant_not_indexed_raises_no_quota_alert(session: Session) -> None:
    uses = _index(session, [(1, [0] * 40)])
    session.execute(delete(Grant))
    session.commit()
    Monitor(sessionmaker(bind=session.get_bind())).run_until_current(now=0)
    assert len(uses) == 40 and not session.scalars(select(Alert).where(Alert.kind == "quota")).all()

