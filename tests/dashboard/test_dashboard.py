"""The dashboard in a real headless Chromium against a real node and chain: staff sign in and
decide requests, an auditor signs in with a one-time link from ``provledger login`` and sees
the tampered version failed in the trace, a consumer signs in with a wallet and watches its
uses arrive live; every page at 1280 and 390 px, screenshots in ``screenshots/``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from api.cli import main, use_grant
from api.dashboard.session import COOKIE
from tests.dashboard.browser import Browser, Page
from tests.dashboard.conftest import BUREAU, SCREENSHOTS, Story

WIDTHS = (1280, 390)


# ---------------------------------------------------------------- helpers


def shoot(page: Page, name: str) -> list[Path]:
    """Screenshots of the page at each width; at every width nothing scrolls sideways."""
    taken = []
    for width in WIDTHS:
        page.resize(width)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {width} px"
        taken.append(page.screenshot(SCREENSHOTS / f"{name}-{width}.png"))
    page.resize(WIDTHS[0])
    assert page.problems() == [], f"{name}: script or console errors"
    return taken


def sign_in_staff(browser: Browser, story: Story, then: str = "/dashboard/review") -> Page:
    department = story.deployment.departments[0]
    page = browser.context().page()
    page.goto(f"{story.url}{then}")
    assert "/dashboard/sign-in?next=" in page.url
    page.fill("#staff-sign-in input[name=username]", department.username)
    page.fill("#staff-sign-in input[name=password]", department.password)
    assert page.click("#staff-sign-in button", navigates=True).endswith(then)
    return page


def login_link(story: Story) -> str:
    with story.signed_in(story.auditor) as auditor:
        url: str = auditor.call("POST", "/dashboard/login-links")["url"]
    return url


def follow_link(page: Page, link: str) -> Page:
    """Open a login link: its page posts the secret from the fragment, then lands signed in."""
    page.goto(link)
    page.wait(".who .roles")
    return page


def grant_status(story: Story, grant: str) -> str:
    with story.signed_in(story.consumer) as consumer:
        return next(str(g["status"]) for g in consumer.call("GET", "/me/grants") if g["grant_id"] == grant)


def reload_until(page: Page, selector: str, *, present: bool, timeout: float = 60.0) -> None:
    """Reload the page until ``selector`` matches something (or, not ``present``, nothing): the
    node has indexed what changes it."""
    for _ in range(int(timeout / 0.5)):
        page.goto(page.url)
        if (page.count(selector) > 0) == present:
            return
        page.evaluate("new Promise(r => setTimeout(r, 500))")
    raise AssertionError(f"{selector} {'never' if present else 'still'} on {page.url} after {timeout:g} s")


def exhaust(story: Story) -> None:
    """Use the live grant until the chain refuses: its quota and refusal alerts follow."""
    with story.signed_in(story.consumer) as consumer:
        for _ in range(3):
            made = consumer.http.post(f"/grants/{story.live}/deliveries", json={},
                                      headers={"Authorization": f"Bearer {consumer.token}"})
            if made.status_code == 403:
                assert made.json()["error"]["refusal"] == "quota_exhausted", made.text
                return
            assert made.status_code == 201, made.text
    raise AssertionError("the grant's quota was never exhausted")


# ---------------------------------------------------------------- over HTTP


def test_forms_from_elsewhere_and_a_reused_login_link_are_refused(story: Story) -> None:
    department = story.deployment.departments[0]
    with httpx.Client(base_url=story.url, timeout=30) as http:
        signed = http.post("/dashboard/sign-in", data={"username": department.username,
                                                       "password": department.password},
                           headers={"Origin": story.url})
        assert signed.status_code == 303, signed.text
        cookie = signed.headers["set-cookie"]
        assert all(flag in cookie for flag in ("HttpOnly", "Path=/dashboard", "SameSite=strict")), cookie
        # The cookie holds a token of the API's own format: the API accepts it as a bearer token.
        token = http.cookies[COOKIE]
        assert http.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["kind"] == "staff"

        approve = f"/dashboard/review/{story.waiting}/approve"
        assert http.post(approve, data={"reason": "x"}, headers={"Origin": "http://evil.example"}).status_code == 403
        assert http.post(approve, data={"reason": "x"}, headers={"Origin": story.url}).status_code == 403
        assert http.post(approve, data={"reason": "x"}).status_code == 403
        assert grant_status(story, story.waiting) == "pending"

        assert http.post("/dashboard/login-links").status_code == 401
        staff_link = http.post("/dashboard/login-links", headers={"Authorization": f"Bearer {token}"})
        assert staff_link.status_code == 403, staff_link.text

    # The link's secret is in its fragment, which no browser sends: its page posts it.
    page, secret = login_link(story).split("#")
    assert page == f"{story.url}/dashboard/login" and secret
    here = {"Origin": story.url}
    with httpx.Client(timeout=30) as first, httpx.Client(timeout=30) as second:
        assert first.get(page).status_code == 200
        assert first.post(page, json={"secret": secret}, headers={"Origin": "http://evil.example"}).status_code == 403
        used = first.post(page, json={"secret": secret}, headers=here)
        assert used.status_code == 200 and used.json() == {"next": "/dashboard/"}, used.text
        assert "HttpOnly" in used.headers["set-cookie"]
        assert second.post(page, json={"secret": secret}, headers=here).status_code == 401
        assert second.post(page, json={"secret": "a" * len(secret)}, headers=here).status_code == 401


# ---------------------------------------------------------------- in the browser


def test_staff_sign_in_and_approve_and_reject_requests(browser: Browser, story: Story) -> None:
    page = sign_in_staff(browser, story)
    for grant in (story.to_approve, story.to_reject, story.waiting):
        page.wait(f"article[data-grant='{grant}']")
    assert "name" in page.text(f"article[data-grant='{story.to_approve}'] .facts")
    shoot(page, "review")

    card = f"article[data-grant='{story.to_approve}']"
    page.fill(f"{card} form.approve input[name=reason]", "covered by the 2026 data-sharing agreement")
    page.click(f"{card} form.approve button", navigates=True)
    assert "approval" in page.text("#review-sent")

    card = f"article[data-grant='{story.to_reject}']"
    page.fill(f"{card} form.reject input[name=reason]", "a marketing list is no public purpose")
    page.click(f"{card} form.reject button", navigates=True)
    assert "rejection" in page.text("#review-sent")

    reload_until(page, f"article[data-grant='{story.to_approve}'], article[data-grant='{story.to_reject}']",
                 present=False)
    assert grant_status(story, story.to_approve) == "active"
    assert grant_status(story, story.to_reject) == "rejected"
    assert page.count(f"article[data-grant='{story.waiting}']") == 1
    # The reason's hash went on-chain; its text shows beside the rejection in the trace.
    page.goto(f"{story.url}/dashboard/datasets/{story.dataset}/trace")
    assert "a marketing list is no public purpose" in page.text("#timeline li[data-event=RequestRejected]")


def test_provledger_login_prints_a_link_that_signs_the_auditor_in_once(
        browser: Browser, story: Story, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", story.deployment.passphrase)
    assert main(["login", "--api", story.url, "--keystore", str(story.auditor.keystore), "--no-progress"]) == 0
    link = capsys.readouterr().out.strip()
    assert link.startswith(f"{story.url}/dashboard/login#"), link

    page = browser.context().page()
    page.goto(f"{story.url}/dashboard/sign-in")
    assert page.attribute("#wallet", "data-wallet") == "none"
    assert "provledger login" in page.text("#wallet .no-wallet")
    shoot(page, "sign-in")

    follow_link(page, link)
    assert page.url.endswith("/dashboard/trace")
    assert page.text(".who .roles") == "auditor"
    again = browser.context().page()
    again.goto(link)
    again.wait("#sign-in-error", "used already")
    assert again.url == f"{story.url}/dashboard/login"  # the secret left the address bar


def test_the_trace_shows_each_item_verified_and_the_tampered_version_failed(browser: Browser, story: Story) -> None:
    # Also an indexed row changed behind the node's back: its item fails, naming the column.
    database = story.deployment.departments[0].data_dir / "node.db"
    with sqlite3.connect(database) as db:
        changed = db.execute("UPDATE chain_events SET args = json_set(args, '$.maxUses', 999) "
                             "WHERE name = 'AccessRequested' AND grant_id = ?", (story.waiting,)).rowcount
    assert changed == 1

    page = follow_link(browser.context().page(), login_link(story))
    page.goto(f"{story.url}/dashboard/trace")
    page.click(f"#registered a[href$='{story.dataset}/trace']", navigates=True)
    assert int(page.attribute("#summary", "data-failed") or 0) >= 2

    version_items = "#timeline li[data-event=VersionAdded]"
    assert page.count(version_items) == 2
    tampered = page.text(f"{version_items}[data-verified=false]")
    assert "failed" in tampered and "chunk 0" in tampered and "differs" in tampered, tampered
    assert page.count(f"{version_items}[data-verified=true]") == 1
    assert "chunk 0 (bytes 0-1048575) differs" in page.text("#versions li[data-version='1'][data-verified=false]")
    assert page.count("#versions li[data-version='2'][data-verified=true]") == 1

    row = page.text("#timeline li[data-event=AccessRequested][data-verified=false]")
    assert "column args.maxUses is 999, the chain says 20" in row, row
    assert page.count("#timeline li[data-event=DatasetRegistered][data-verified=true]") == 1
    assert "approved for the monitoring demo" in page.text("#timeline li[data-event=RequestApproved]")
    failed = page.count("#timeline li[data-verified=false]")
    assert failed == 2 and page.count("#timeline li[data-verified=true]") >= 8

    for relative in (story.parent, story.child):
        assert page.count(f"#lineage g.node[data-dataset='{relative}'][data-verified=true]") == 1
    assert page.count("#lineage path.edge.ok") == 2
    shoot(page, "trace")

    page.click(f"#lineage g.node[data-dataset='{story.parent}']", navigates=True)
    assert page.url.endswith(f"/dashboard/datasets/{story.parent}/trace")
    assert page.attribute("#summary", "data-failed") == "0"


def test_a_consumer_signs_in_with_a_wallet_and_sees_its_uses_live(browser: Browser, story: Story) -> None:
    page = browser.context(wallet="0x" + bytes(story.consumer.account.key).hex()).page()
    page.goto(f"{story.url}/dashboard/sign-in")
    page.wait("#wallet-sign-in")
    page.click("#wallet-sign-in", navigates=True)
    page.wait("#live[data-state=live]")
    assert page.url.endswith("/dashboard/monitor")
    assert page.text(".who .roles") == "consumer"

    with story.signed_in(story.consumer) as consumer:
        for _ in range(2):
            with open("/dev/null", "wb") as sink:
                use_grant(consumer, story.consumer.account, story.live, sink, encrypt=False)
        refused = consumer.http.post(f"/grants/{story.live}/deliveries", json={},
                                     headers={"Authorization": f"Bearer {consumer.token}"})
    assert refused.status_code == 403 and refused.json()["error"]["refusal"] == "quota_exhausted"

    # Nothing reloads the page: the rows come through the event stream.
    page.wait("#uses tr[data-event]", text="recorded #2", timeout=60)
    page.wait("#uses tr[data-event].fail", text="refused: quota exhausted", timeout=60)
    assert page.count("#uses tr[data-event]") == 3
    assert page.count("#alerts") == 0  # alerts are for auditors and staff
    shoot(page, "monitor-consumer")


def test_every_page_fits_1280_and_390_px(browser: Browser, story: Story) -> None:
    public = browser.context().page()
    public.goto(f"{story.url}/dashboard/catalog?q=2026")
    assert public.count("#catalog tr[data-dataset]") == 2
    public.goto(f"{story.url}/dashboard/catalog")
    assert public.attribute(f"#catalog tr[data-dataset='{story.dataset}']", "data-freshness") == "current"
    assert public.attribute(f"#catalog tr[data-dataset='{story.dataset}']", "data-owner") == "stats-bureau"
    assert public.attribute(f"#catalog tr[data-dataset='{story.parent}']", "data-freshness") == "unscheduled"
    shoot(public, "catalog")
    public.goto(f"{story.url}/dashboard/catalog?grade=1")
    assert public.count("#catalog tr[data-dataset]") == 1
    assert public.count(f"#catalog tr[data-dataset='{story.child}']") == 1

    exhaust(story)
    staff = sign_in_staff(browser, story, "/dashboard/monitor")
    reload_until(staff, "#alerts li[data-kind=quota]", present=True)
    reload_until(staff, "#alerts li[data-kind=refused]", present=True)
    shoot(staff, "monitor")

    auditor = follow_link(browser.context().page(), login_link(story))
    shoot(auditor, "trace-pick")
    auditor.goto(f"{story.url}/dashboard/datasets/{story.dataset}/trace")
    shoot(auditor, "trace")
    auditor.goto(f"{story.url}/dashboard/review")
    assert auditor.count("main .notice.fail") == 1  # the review queue is for department staff
    shot = shoot(auditor, "refused")
    assert all(path.stat().st_size > 0 for path in shot)


CJK_FONTS = ("PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Source Han Sans SC",
             "WenQuanYi Micro Hei")


def test_the_departments_chinese_name_shows_in_a_cjk_font_stack(browser: Browser, story: Story) -> None:
    public = browser.context().page()
    public.goto(f"{story.url}/dashboard/catalog")
    assert public.text(".brand span") == f"{BUREAU.name} ({BUREAU.code})"
    assert set(public.texts("#catalog td.owner")) == {BUREAU.name}
    assert public.attribute("#catalog td.owner", "lang") == "zh-CN"
    assert public.attribute("#catalog td.owner", "title") == BUREAU.code
    for selector in (".brand span", "#catalog td.owner", "body"):
        family = public.evaluate(f"getComputedStyle(document.querySelector({selector!r})).fontFamily")
        assert all(font in family for font in CJK_FONTS), (selector, family)
    # The name in Chinese content comes first in the CJK fonts; the English page keeps its Latin ones first.
    owner = public.evaluate("getComputedStyle(document.querySelector('#catalog td.owner')).fontFamily")
    assert owner.index("PingFang SC") < owner.index("system-ui")
    assert public.evaluate("document.documentElement.lang") == "en"
    # Rendered: the three characters take room on the page, in some face the machine has.
    assert public.evaluate("document.querySelector('.brand span').getBoundingClientRect().width") > 0
