"""The Consortium page in a real Chromium, on a deployment of three Chinese-named departments:
民政局 proposes admitting 市场监管局 through the API; 民政局's admin votes through the page and the
tally moves; a viewer of the same node sees the proposal, its tally and the members by name, and
no button to vote with."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account import Account

from api.cli import Api, Progress
from api.local import LocalDeployment
from node.departments import DepartmentPlan, DepartmentSpec
from tests.dashboard.browser import Browser, Page
from tests.dashboard.test_dashboard import reload_until, shoot

CIVIL, DATA, HEALTH = (DepartmentSpec("civil-affairs", "民政局"), DepartmentSpec("big-data", "大数据局"),
                       DepartmentSpec("health", "卫健委"))
VIEWER, VIEWER_PASSWORD = "civil.viewer", "viewer password 2026"


@dataclass
class Proposed:
    deployment: LocalDeployment
    proposal: str


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    with LocalDeployment(departments=DepartmentPlan((CIVIL, DATA, HEALTH), DATA.code)) as local:
        yield local


@pytest.fixture(scope="module")
def proposed(deployment: LocalDeployment) -> Proposed:
    civil = deployment.department(CIVIL.code)
    with Api(civil.url, Progress(False)) as staff:
        staff.sign_in_staff(civil.username, civil.password)
        staff.call("POST", "/staff", json={"username": VIEWER, "password": VIEWER_PASSWORD, "role": "viewer"})
        write = staff.call("POST", "/consortium/proposals", json={
            "kind": "admission", "code": "market-regulation", "name": "市场监管局",
            "validator": Account.create().address, "service_account": Account.create().address})
        staff.wait_write(write, "the proposal")
    return Proposed(deployment, write["proposal"])


def sign_in(browser: Browser, url: str, username: str, password: str) -> Page:
    page = browser.context().page()
    page.goto(f"{url}/dashboard/consortium")
    page.fill("#staff-sign-in input[name=username]", username)
    page.fill("#staff-sign-in input[name=password]", password)
    assert page.click("#staff-sign-in button", navigates=True).endswith("/dashboard/consortium")
    return page


def test_a_staff_admin_votes_through_the_page_and_the_tally_moves(browser: Browser, proposed: Proposed) -> None:
    civil = proposed.deployment.department(CIVIL.code)
    page = sign_in(browser, civil.url, civil.username, civil.password)
    card = f"article[data-proposal='{proposed.proposal}']"
    assert page.text(f"{card} h2").startswith("Admit 市场监管局 (market-regulation)")
    assert page.text(f"{card} .tally") == "0 of 2 needed" and page.text(f"{card} .voters") == "nobody yet"
    assert page.texts("#members tr[data-code] td[data-label=Department] .department") == ["民政局", "大数据局", "卫健委"]
    assert page.count("#propose") == 1 and page.count("#sponsor") == 1
    assert page.count("#pause-form") == 0  # the coordinator's, on 大数据局's node
    shoot(page, "consortium-admin")

    page.click(f"{card} form.vote button", navigates=True)
    assert "Vote sent" in page.text("#consortium-done")
    # The tally is read on chain, the voters from the node's index: both, once it has the vote.
    reload_until(page, f"{card}[data-yes='1'] .voters:has-text('民政局 (civil-affairs)')", present=True)
    assert page.text(f"{card} .tally") == "1 of 2 needed"
    assert page.text(f"{card} .voters").startswith("民政局 (civil-affairs)")
    assert page.count(f"{card} form.vote") == 0  # voted once


def test_a_viewer_sees_the_proposal_and_no_vote_button(browser: Browser, proposed: Proposed) -> None:
    civil = proposed.deployment.department(CIVIL.code)
    page = sign_in(browser, civil.url, VIEWER, VIEWER_PASSWORD)
    card = f"article[data-proposal='{proposed.proposal}']"
    assert page.text(f"{card} h2").startswith("Admit 市场监管局 (market-regulation)")
    assert page.count(f"{card} .tally") == 1
    assert page.count("form.vote") == 0 and page.count("form.execute") == 0
    assert page.count("#propose") == 0 and page.count("#sponsor") == 0
    assert page.text("#pause h2") == "The ledger is running"
