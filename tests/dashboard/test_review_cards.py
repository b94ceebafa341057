"""What the coordinator sees in a real Chromium, on its own node, of a request on another
department's grade-3 data: the co-approval card names the dataset, the purpose in the consumer's
words, the owner and the sponsor by name, the fields in the clear, the quota, the duration and the
owner's decision; then the quality loop on the issues page, the coordinator opening an issue on
the owner's version and the owner's page showing its findings."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from api.cli import Api, Progress, request_access
from api.local import LocalDeployment
from tests.dashboard.browser import Browser, Page
from tests.dashboard.conftest import people
from tests.dashboard.test_dashboard import reload_until, shoot

PURPOSE = "2026年门诊统计：用于社区卫生服务规划"
REASON = "符合卫生数据共享协议"


@dataclass
class Request:
    deployment: LocalDeployment
    dataset: str
    grant: str


@pytest.fixture(scope="module")
def deployment() -> Iterator[LocalDeployment]:
    """Two departments: the statistics bureau's node is the coordinator, the health commission owns the data."""
    with LocalDeployment(departments=2) as local:
        yield local


@pytest.fixture(scope="module")
def asked(deployment: LocalDeployment) -> Iterator[Request]:
    owner = deployment.department("health-commission")
    with Api(owner.url, Progress(False)) as staff, Api(owner.url, Progress(False)) as as_consumer:
        staff.sign_in_staff(owner.username, owner.password)
        dataset = staff.call("POST", "/datasets", json={
            "code": "outpatients-2026", "name": "门诊就诊记录 2026", "category": "卫生健康", "grade": 3,
            "update_interval": 86400, "field_classes": {"name": "name", "phone": "mobile"}})["dataset_id"]
        staff.call("PUT", f"/datasets/{dataset}/versions", params={"format": "csv"}, content=people(20, 3),
                   headers={"Content-Type": "text/csv"})
        staff.progress.wait("the version in the catalog", lambda: any(
            e["dataset_id"] == dataset and e["latest_version"] for e in staff.call("GET", "/catalog")) or None,
            timeout=60)
        consumer = deployment.consumers[0]  # sponsored by the statistics bureau
        as_consumer.sign_in_siwe(consumer.account)
        grant = request_access(as_consumer, consumer.account, dataset, purpose=PURPOSE, fields=["district", "visits"],
                               uses=12, days=30)
        staff.progress.wait("the request in the owner's queue", lambda: any(
            q["grant_id"] == grant for q in staff.call("GET", "/review/queue")) or None, timeout=60)
        staff.call("POST", f"/grants/{grant}/approve", json={"reason": REASON, "price_per_use": 2})
        yield Request(deployment, dataset, grant)


def sign_in(browser: Browser, deployment: LocalDeployment, code: str, then: str) -> Page:
    department = deployment.department(code)
    page = browser.context().page()
    page.goto(f"{department.url}{then}")
    page.fill("#staff-sign-in input[name=username]", department.username)
    page.fill("#staff-sign-in input[name=password]", department.password)
    assert page.click("#staff-sign-in button", navigates=True).endswith(then)
    return page


def test_the_coordinators_co_approval_card_shows_everything_it_decides_on(browser: Browser, asked: Request) -> None:
    page = sign_in(browser, asked.deployment, "stats-bureau", "/dashboard/review")
    card = f"article[data-grant='{asked.grant}'][data-waiting-for=coordinator]"
    reload_until(page, card, present=True)
    assert page.text(f"{card} .dataset-name") == "门诊就诊记录 2026"
    assert "grade 3" in page.text(f"{card} h2") and page.text(f"{card} .category") == "卫生健康"
    assert page.text(f"{card} .purpose") == PURPOSE
    assert page.text(f"{card} .owner") == "Health Commission"
    assert page.text(f"{card} .sponsor") == "Stats Bureau"
    assert page.text(f"{card} .clear") == "district, visits"
    assert page.text(f"{card} .quota") == "at most 12 uses"
    assert page.text(f"{card} .duration") == "30 days"
    decision = page.text(f"{card} .owner-decision")
    assert "approved by Health Commission" in decision and REASON in decision and "at 2 per use" in decision
    assert "0x" not in page.text(f"{card} h2") and "no field" not in page.text(f"{card} .clear")
    shoot(page, "review-coordinator")

    page.click(f"{card} form.approve button", navigates=True)
    assert "co-approval" in page.text("#review-sent")
    reload_until(page, card, present=False)


def test_the_coordinator_opens_an_issue_on_the_owners_version_and_the_owners_page_shows_its_findings(
        browser: Browser, asked: Request) -> None:
    page = sign_in(browser, asked.deployment, "stats-bureau", "/dashboard/quality")
    page.fill("#open-issue input[name=dataset_id]", asked.dataset)
    page.fill("#open-issue input[name=version]", "1")
    page.fill("#open-issue textarea[name=findings]", "phone:4,9:手机号位数不足\nname:2:姓名为空")
    page.fill("#open-issue input[name=note]", "请更正后重新报送")
    page.click("#open-issue button", navigates=True)
    issue = page.attribute("#quality-opened", "data-issue")
    assert issue is not None
    shoot(page, "quality-coordinator")

    owner = sign_in(browser, asked.deployment, "health-commission", "/dashboard/quality")
    card = f"article[data-issue='{issue}'][data-status=returned]"
    reload_until(owner, card, present=True)
    assert owner.texts(f"{card} table.findings td") == ["phone", "4, 9", "手机号位数不足", "name", "2", "姓名为空"]
    assert owner.text(f"{card} .opener").startswith("Stats Bureau")
    assert "请更正后重新报送" in owner.text(f"{card} li[data-event=IssueReturned]")
    assert owner.count(f"{card} form.repair") == 1 and owner.count(f"{card} form.close") == 0
    shoot(owner, "quality-owner")
