"""Attack 11 of issue 13, membership: claiming accounts that are not a department's own, and
making the consortium lose its coordinator. Driven with the hostile member's own key against
the deployment's chain, as the issue's reproduction did."""

from __future__ import annotations

import pytest

from ledger.deploy import FoundingDepartment, Ledger, deploy_suite, department_id
from ledger.tx import TransactionSender
from ledger.errors import ContractError
from tests.adversarial.conftest import HOSTILE, World


def test_a_department_cannot_claim_an_account_without_its_consent(world: World) -> None:
    hostile = world.ledger(world.department_account(HOSTILE))
    newcomer = world.fresh_account()
    hostile.consortium.offer_service_account(newcomer.address)
    # An offer is not a seat: the newcomer serves nobody until it accepts.
    assert hostile.consortium.department_of(newcomer.address) == b"\x00" * 32
    auditor = world.deployment.auditor
    assert auditor is not None
    with pytest.raises(ContractError) as refused:
        hostile.consortium.offer_service_account(auditor.address)
    assert refused.value.name == "ConsortiumAccountInUse"
    with pytest.raises(ContractError) as refused:
        world.ledger(auditor.account).consortium.accept_service_account(department_id(HOSTILE))
    assert refused.value.name in ("ConsortiumNoOffer", "ConsortiumAccountInUse")
    assert world.ledger(world.coordinator).consortium.is_auditor(auditor.address)


def test_a_department_cannot_grow_past_the_service_account_cap(world: World) -> None:
    hostile = world.ledger(world.department_account(HOSTILE))
    joined = len(hostile.consortium.service_accounts(department_id(HOSTILE)))
    refusal = None
    for _ in range(12):
        account = world.fresh_account()
        try:
            hostile.consortium.offer_service_account(account.address)
            world.ledger(account).consortium.accept_service_account(department_id(HOSTILE))
        except ContractError as err:
            refusal = err
            break
        joined += 1
    assert refusal is not None and refusal.name == "ConsortiumTooManyServiceAccounts"
    assert joined == 8 == len(hostile.consortium.service_accounts(department_id(HOSTILE)))


def test_the_last_coordinator_cannot_leave(world: World) -> None:
    # A consortium of its own on the same chain, with one coordinator, so the shared one keeps its two.
    founder, validator, coordinator_account = world.fresh_account(), world.fresh_account(), world.fresh_account()
    sender = TransactionSender(world.w3, coordinator_account, poll_interval=0.002)
    manifest = deploy_suite(sender, world.artifacts, founders=[
        FoundingDepartment(department_id("lonely-bureau"), "Lonely Bureau", validator.address, founder.address)])
    coordinator = Ledger(world.w3, manifest, world.artifacts, sender)
    role = coordinator.consortium.contract.functions.COORDINATOR_ROLE().call()
    with pytest.raises(ContractError) as refused:
        coordinator.consortium._send("renounceRole", role, coordinator_account.address)
    assert refused.value.name == "ConsortiumLastCoordinator"
    # With a second coordinator appointed, the first may leave; the second then may not.
    second = world.fresh_account()
    coordinator.consortium.appoint_coordinator(second.address)
    coordinator.consortium._send("renounceRole", role, coordinator_account.address)
    as_second = coordinator.as_account(TransactionSender(world.w3, second, poll_interval=0.002))
    with pytest.raises(ContractError) as refused:
        as_second.consortium._send("revokeRole", role, second.address)
    assert refused.value.name == "ConsortiumLastCoordinator"
    assert as_second.consortium.is_coordinator(second.address)
