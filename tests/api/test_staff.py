"""Staff roles over real HTTP: each staff route lets through the roles it names and refuses the
others with a 403 naming the role needed; a disabled account's sessions end (401); the operator
makes and changes accounts with ``provledger staff`` on the node's database, and an admin over
the API."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from api.cli import main
from api.dashboard.session import COOKIE, form_token
from node.db import make_engine, migrate
from node.service import NodeService
from tests.api.clients import bearer, request_access, siwe_token, staff_token, wait_for_write, wait_until
from tests.api.conftest import serve, serve_node
from tests.utils.ledgers import Suite

PASSWORD = "staff roles password"
ROLES = ("admin", "reviewer", "steward", "viewer")
NOWHERE = "0x" + "11" * 32


@dataclass
class Site:
    http: httpx.Client
    tokens: dict[str, str]
    """A session of an account of each staff role, named after it."""
    domain: str
    tag: str


@pytest.fixture(scope="module")
def site(node: NodeService, module_database_url: str) -> Iterator[Site]:
    # The role cache is kept short here so that changes made beside the API show within a second.
    with serve_node(node, {f"{role}.wu": role for role in ROLES}, PASSWORD, role_ttl=0.5) as api:
        tokens = {role: api.staff[f"{role}.wu"] for role in ROLES}
        yield Site(api.http, tokens, api.domain, module_database_url.split(":", 1)[0].split("+")[0])


def refused(response: httpx.Response, status: int, says: str) -> dict[str, str]:
    assert response.status_code == status, response.text
    error: dict[str, str] = response.json()["error"]
    assert says in error["message"], response.text
    return error


def test_a_viewer_and_a_steward_are_refused_a_review_decision_that_a_reviewer_makes(
        site: Site, node: NodeService, suite: Suite) -> None:
    http, tokens = site.http, site.tokens
    created = http.post("/datasets", headers=bearer(tokens["steward"]), json={
        "code": f"staff-roles-{site.tag}", "name": "Staff roles", "category": "health", "grade": 2,
        "update_interval": 0})
    assert created.status_code == 201, created.text
    dataset_id = created.json()["dataset_id"]
    uploaded = http.put(f"/datasets/{dataset_id}/versions", params={"format": "csv"}, content=b"visits\n1\n2\n",
                        headers={**bearer(tokens["steward"]), "Content-Type": "text/csv"})
    assert uploaded.status_code == 201, uploaded.text
    root = bytes.fromhex(uploaded.json()["content_root"][2:])
    wait_until(lambda: node.ledger.registry.version_of_root(bytes.fromhex(dataset_id[2:]), root))
    consumer = siwe_token(http, suite.accounts[7], site.domain, node.ledger.manifest.chain_id)
    grant = request_access(http, consumer, suite.consumers[0], dataset_id, f"staff roles {site.tag}")
    wait_until(lambda: any(q["grant_id"] == grant for q in http.get(
        "/review/queue", headers=bearer(tokens["viewer"])).json()))

    for role in ("viewer", "steward"):
        error = refused(http.post(f"/grants/{grant}/approve", json={"reason": "ok"}, headers=bearer(tokens[role])),
                        403, "this needs the staff role reviewer")
        assert error["code"] == "forbidden" and error["needed_role"] == "reviewer" and error["role"] == role
    refused(http.post(f"/datasets/{dataset_id}/freeze", json={"reason": "no"}, headers=bearer(tokens["steward"])),
            403, "this needs the staff role reviewer")
    refused(http.post("/datasets", json={}, headers=bearer(tokens["reviewer"])), 403, "the staff role steward")

    approved = http.post(f"/grants/{grant}/approve", json={"reason": "ok"}, headers=bearer(tokens["reviewer"]))
    assert approved.status_code == 202, approved.text
    assert wait_for_write(http, tokens["viewer"], approved.json()["id"])["status"] == "confirmed"
    assert http.get("/auth/me", headers=bearer(tokens["reviewer"])).json()["staff_role"] == "reviewer"


def test_an_admin_manages_staff_and_a_disabled_accounts_sessions_end(site: Site) -> None:
    http, admin = site.http, bearer(site.tokens["admin"])
    for role in ("reviewer", "steward", "viewer"):
        refused(http.get("/staff", headers=bearer(site.tokens[role])), 403, "this needs the staff role admin")
    made = http.post("/staff", json={"username": "temp.zhao", "password": PASSWORD, "role": "viewer"}, headers=admin)
    assert made.status_code == 201, made.text
    assert (made.json()["username"], made.json()["role"], made.json()["disabled"]) == ("temp.zhao", "viewer", False)
    refused(http.post("/staff", json={"username": "temp.zhao", "password": PASSWORD, "role": "viewer"},
                      headers=admin), 409, "exists already")
    listed = http.get("/staff", headers=admin)
    assert {(a["username"], a["role"]) for a in listed.json()} >= {("temp.zhao", "viewer"), ("admin.wu", "admin")}
    assert "scrypt" not in listed.text and "password" not in listed.text

    token = staff_token(http, "temp.zhao", PASSWORD)
    assert http.get("/datasets", headers=bearer(token)).status_code == 200
    refused(http.post("/datasets", json={}, headers=bearer(token)), 403, "the staff role steward")
    assert http.put("/staff/temp.zhao/role", json={"role": "steward"}, headers=admin).json()["role"] == "steward"
    refused(http.post("/datasets", json={}, headers=bearer(token)), 422, "body")  # past the role check

    assert http.put("/staff/temp.zhao/password", json={"password": "another staff password"},
                    headers=admin).status_code == 200
    refused(http.get("/datasets", headers=bearer(token)), 401, "the password of temp.zhao was changed")
    refused(http.post("/auth/staff", json={"username": "temp.zhao", "password": PASSWORD}), 401, "wrong")
    token = staff_token(http, "temp.zhao", "another staff password")

    assert http.post("/staff/temp.zhao/disable", headers=admin).json()["disabled"] is True
    refused(http.get("/datasets", headers=bearer(token)), 401, "the staff account temp.zhao is disabled")
    refused(http.get("/auth/me", headers=bearer(token)), 401, "disabled")
    refused(http.post("/auth/staff", json={"username": "temp.zhao", "password": "another staff password"}),
            401, "disabled")
    refused(http.post("/staff/nobody.here/disable", headers=admin), 404, "no staff account nobody.here")
    # An admin's own account is changed by another admin or the operator, never halfway by itself.
    refused(http.put("/staff/admin.wu/role", json={"role": "viewer"}, headers=admin), 409, "it is your own")
    refused(http.post("/staff/admin.wu/disable", headers=admin), 409, "it is your own")
    refused(http.put("/staff/admin.wu/password", json={"password": "another staff password"}, headers=admin),
            409, "another admin or the operator")
    assert http.get("/staff", headers=admin).status_code == 200


def test_an_admin_manages_staff_on_the_dashboard_and_a_viewer_cannot(site: Site) -> None:
    http, origin = site.http, str(site.http.base_url).rstrip("/")

    def post(token: str, path: str, **fields: str) -> httpx.Response:
        return http.post(f"/dashboard{path}", data={"form_token": form_token(token), **fields},
                         headers={"Origin": origin, "Cookie": f"{COOKIE}={token}"})

    admin, viewer = site.tokens["admin"], site.tokens["viewer"]
    page = http.get("/dashboard/staff", headers={"Cookie": f"{COOKIE}={admin}"})
    assert page.status_code == 200 and 'data-username="viewer.wu" data-role="viewer"' in page.text
    assert "scrypt" not in page.text
    assert post(admin, "/staff", username="desk.qian", role="viewer", password=PASSWORD).status_code == 303
    token = staff_token(http, "desk.qian", PASSWORD)
    assert post(admin, "/staff/desk.qian/role", role="reviewer").status_code == 303
    assert http.get("/auth/me", headers=bearer(token)).json()["staff_role"] == "reviewer"
    again = post(admin, "/staff", username="desk.qian", role="viewer", password=PASSWORD)
    assert again.status_code == 409 and "exists already" in again.text
    assert post(admin, "/staff/desk.qian/disable").status_code == 303
    refused(http.get("/auth/me", headers=bearer(token)), 401, "disabled")

    for attempt in (http.get("/dashboard/staff", headers={"Cookie": f"{COOKIE}={viewer}"}),
                    post(viewer, "/staff", username="mallory.admin", role="admin", password=PASSWORD),
                    post(viewer, "/staff/viewer.wu/role", role="admin")):
        assert attempt.status_code == 403 and "this needs the staff role admin" in attempt.text, attempt.text
    assert "mallory.admin" not in http.get("/staff", headers=bearer(admin)).text
    assert http.get("/auth/me", headers=bearer(viewer)).json()["staff_role"] == "viewer"


# ---------------------------------------------------------------- provledger staff


@pytest.fixture
def operator(node: NodeService, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The node's settings in the environment, as ``provledger serve`` would read them."""
    settings = node.settings
    assert settings.passphrase is not None
    monkeypatch.chdir(tmp_path_factory.mktemp("operator"))  # no .env of the checkout
    for name, value in {"DEPARTMENT_ID": settings.department_id, "KEYSTORE_PATH": str(settings.keystore_path),
                        "PASSPHRASE": settings.passphrase.get_secret_value(), "DATA_DIR": str(settings.data_dir),
                        "DATABASE_URL": settings.sql_url}.items():
        monkeypatch.setenv(f"PROVLEDGER_{name}", value)


def staff(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str,
          stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["staff", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(result: tuple[int, str, str], says: str) -> None:
    code, out, err = result
    assert code == 2 and out == "", result
    assert err.count("\n") == 1 and says in err, result


@pytest.mark.usefixtures("operator")
def test_the_operator_makes_lists_disables_and_resets_staff_accounts(
        site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        return staff(capsys, monkeypatch, *args, stdin=stdin)

    first = "first cli password"
    assert run("add", "cli.sun", "--role", "reviewer", "--password-stdin", stdin=f"{first}\n")[0] == 0
    one_line_error(run("add", "cli.sun", "--role", "viewer", "--password-stdin", stdin=f"{first}\n"), "exists already")
    one_line_error(run("add", "cli.short", "--role", "viewer", "--password-stdin", stdin="short\n"), "password")
    one_line_error(run("add", "Bad Name", "--role", "viewer", "--password-stdin", stdin=f"{first}\n"), "username")
    one_line_error(run("add", "cli.wizard", "--role", "wizard", "--password-stdin", stdin=f"{first}\n"), "wizard")
    one_line_error(run("add", "cli.asked", "--role", "viewer", stdin=f"{first}\n"), "--password-stdin")
    one_line_error(run("disable", "nobody.here"), "no staff account nobody.here")
    one_line_error(run("password", "nobody.here", "--password-stdin", stdin=f"{first}\n"), "no staff account")
    one_line_error(run("disable", "admin.wu"), "last enabled admin")
    one_line_error(run("role", "admin.wu", "viewer"), "last enabled admin")

    code, out, err = run("list")
    assert code == 0 and err == ""
    listed = {line.split("\t")[0]: line.split("\t")[1:3] for line in out.splitlines()}
    assert listed["cli.sun"] == ["reviewer", "enabled"] and listed["admin.wu"] == ["admin", "enabled"]
    assert "cli.short" not in listed and "scrypt" not in out and first not in out

    token = staff_token(site.http, "cli.sun", first)
    assert site.http.get("/review/queue", headers=bearer(token)).status_code == 200
    assert run("password", "cli.sun", "--password-stdin", stdin="second cli password\n")[0] == 0
    ended = wait_until(lambda: site.http.get("/review/queue", headers=bearer(token)).status_code == 401, timeout=10)
    assert ended
    token = staff_token(site.http, "cli.sun", "second cli password")
    assert run("role", "cli.sun", "viewer")[0] == 0
    wait_until(lambda: site.http.post(f"/grants/{NOWHERE}/approve", json={},
                                      headers=bearer(token)).status_code == 403, timeout=10)

    assert run("disable", "cli.sun")[0] == 0
    wait_until(lambda: site.http.get("/review/queue", headers=bearer(token)).status_code == 401, timeout=10)
    refused(site.http.get("/review/queue", headers=bearer(token)), 401, "the staff account cli.sun is disabled")
    code, out, _ = run("list")
    assert code == 0 and "cli.sun\tviewer\tdisabled" in out


# ---------------------------------------------------------------- the migration


def test_the_migration_keeps_known_roles_makes_others_viewers_and_refuses_unknown_ones(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate(engine, "0005")
    staff = sa.table("staff_accounts", sa.column("username", sa.String), sa.column("password_hash", sa.String),
                     sa.column("role", sa.String), sa.column("disabled", sa.Boolean),
                     sa.column("created_at", sa.DateTime(timezone=True)))
    made = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with engine.begin() as connection:
        connection.execute(sa.insert(staff), [
            {"username": username, "password_hash": "scrypt$x", "role": role, "disabled": False, "created_at": made}
            for username, role in (("old.admin", "admin"), ("old.reviewer", "reviewer"), ("old.boss", "superuser"))])
    migrate(engine)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT username, role, session_epoch FROM staff_accounts")).all()
    assert sorted(map(tuple, rows)) == [("old.admin", "admin", 0), ("old.boss", "viewer", 0),
                                        ("old.reviewer", "reviewer", 0)]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(sa.update(staff).where(staff.c.username == "old.admin").values(role="superuser"))
    engine.dispose()
