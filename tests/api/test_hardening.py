"""The API's open doors against anyone who reaches them, over real HTTP: sign-in, nonces,
anonymous reads and queries sent are rate limited (429 with Retry-After), nonces cost no stored row until spent,
uploads are capped while they stream (413), /relay answers before its transaction is mined and
takes only the sender's next nonce, open downloads are anchored many to one item, /metrics needs
staff, and no secret used in a whole flow reaches a log line."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from eth_account.messages import encode_defunct
from sqlalchemy import func, select
from web3 import Web3

from api.app import create_app
from api.auth.service import Auth
from api.auth.siwe import siwe_message
from api.staff import create_staff
from api.cli import main
from ledger import ids
from ledger.chain import LocalChain, free_port
from ledger.clients import Action
from ledger.merkle import MerkleTree
from ledger.tx import write_keystore
from node.models import AnchorItem, DatasetVersion, OpenDownload, SignInNonce
from node.service import NodeService
from node.audit.verify import verify_anchor_item
from tests.api.clients import bearer, relay, siwe_token, staff_token, wait_for_write, wait_until
from tests.api.conftest import serve, start_node
from tests.utils.ledgers import Suite

STAFF, PASSWORD = "steward.hardening", "hardening staff password"
CAP = 64 << 10
LIMITS = {"rate_sign_in": "5/minute", "rate_staff_user": "3/minute", "rate_nonce": "4/minute",
          "rate_anonymous": "8/minute", "rate_query": "3/minute", "max_upload_bytes": CAP, "open_download_batch": 3,
          "open_download_interval": 3600.0}
CSV = "name,visits\n" + "".join(f"person {i},{i}\n" for i in range(50))


@pytest.fixture(scope="module")
def node(chain: LocalChain, suite: Suite, tmp_path_factory: pytest.TempPathFactory,
         module_database_url: str) -> Iterator[NodeService]:
    """The first department's node with small limits, a staff account and nothing else."""
    service = start_node(chain, suite, tmp_path_factory.mktemp("node"), module_database_url, **LIMITS)
    with service.sessions() as session:
        create_staff(session, STAFF, PASSWORD, "admin")
        session.commit()
    yield service
    service.close()


@contextmanager
def api(node: NodeService, log_level: str = "warning") -> Iterator[httpx.Client]:
    """A fresh app on ``node`` (fresh rate limits) served with its background work."""
    port = free_port()
    with serve(create_app(node, domain=f"127.0.0.1:{port}"), port, lifespan=True, log_level=log_level) as served, \
            httpx.Client(base_url=served.base_url, timeout=60) as http:
        yield http


def _refused(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert error["code"] == code, response.text
    return error


def _rate_limited(response: httpx.Response, says: str) -> None:
    error = _refused(response, 429, "rate_limited")
    assert says in str(error["message"]), error
    assert int(response.headers["Retry-After"]) >= 1


@pytest.fixture(scope="module")
def open_dataset(node: NodeService) -> str:
    """A grade-1 dataset of this node with one version anchored on chain."""
    with api(node) as http:
        staff = staff_token(http, STAFF, PASSWORD)
        created = http.post("/datasets", headers=bearer(staff), json={
            "code": "hardening-open", "name": "Open visits", "category": "health", "grade": 1,
            "update_interval": 86400})
        assert created.status_code == 201, created.text
        dataset_id: str = created.json()["dataset_id"]
        uploaded = http.put(f"/datasets/{dataset_id}/versions", content=CSV.encode(),
                            headers={**bearer(staff), "Content-Type": "text/csv"})
        assert uploaded.status_code == 201, uploaded.text
        root = bytes.fromhex(uploaded.json()["content_root"][2:])
        wait_until(lambda: node.ledger.registry.version_of_root(bytes.fromhex(dataset_id[2:]), root))
    return dataset_id


# ---------------------------------------------------------------- rate limits


def test_sign_in_past_its_limits_is_refused_with_retry_after(node: NodeService) -> None:
    with api(node) as http:
        def staff(username: str) -> httpx.Response:
            return http.post("/auth/staff", json={"username": username, "password": "a wrong password"})

        for _ in range(3):
            _refused(staff(STAFF), 401, "unauthenticated")
        # The username's limit holds from any address: no fourth scrypt for it this minute.
        _rate_limited(staff(STAFF), "for this username")
        _refused(staff("someone.else"), 401, "unauthenticated")
        # Five attempts from this address: no sixth, whatever the username or the kind of sign-in.
        _rate_limited(staff("someone.else"), "sign-in attempts per minute")
        _rate_limited(http.post("/auth/siwe", json={"message": "x", "signature": "0x" + "1b" * 65}),
                      "sign-in attempts per minute")


def test_only_failed_sign_ins_count_against_a_username(node: NodeService) -> None:
    with api(node) as http:
        # More successful sign-ins than the username's limit of failures: none refused.
        for _ in range(4):
            assert http.post("/auth/staff", json={"username": STAFF, "password": PASSWORD}).status_code == 200


def test_nonces_past_their_limit_are_refused_and_cost_no_row(node: NodeService, suite: Suite) -> None:
    def rows() -> int:
        with node.sessions() as session:
            return session.scalar(select(func.count()).select_from(SignInNonce)) or 0

    before = rows()
    with api(node) as http:
        nonces = [http.get("/auth/nonce") for _ in range(4)]
        assert all(n.status_code == 200 for n in nonces)
        assert rows() == before  # handed out, stored nowhere
        _rate_limited(http.get("/auth/nonce"), "nonces per minute")

        # Spending one stores it, once: the same nonce again is refused.
        domain, chain_id = str(http.base_url.netloc.decode()), node.ledger.manifest.chain_id
        nonce = nonces[0].json()["nonce"]
        account = suite.accounts[7]
        for expected in (200, 401):
            message = siwe_message(domain, account.address, str(http.base_url), chain_id, nonce,
                                   datetime.now(timezone.utc) - timedelta(seconds=5))
            signature = Web3.to_hex(account.sign_message(encode_defunct(text=message)).signature)
            signed = http.post("/auth/siwe", json={"message": message, "signature": signature})
            assert signed.status_code == expected, signed.text
        assert "used already" in signed.json()["error"]["message"]
        assert rows() == before + 1


def test_spent_nonces_are_swept_in_bounded_chunks_once_expired(node: NodeService) -> None:
    now = datetime.now(timezone.utc)
    with node.sessions() as session:
        session.add_all(SignInNonce(nonce=f"{i:064x}", expires_at=now - timedelta(seconds=1), used_at=now)
                        for i in range(1, 1201))
        session.add(SignInNonce(nonce="f" * 64, expires_at=now + timedelta(minutes=5), used_at=now))
        session.commit()
    secrets = Auth.for_node(node, domain="127.0.0.1:1").nonces
    secrets.sweep_chunk, secrets.sweep_rounds = 500, 2
    assert secrets.sweep(now) == 1000  # two chunks, then it stops
    assert secrets.sweep(now) == 200
    with node.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SignInNonce)
                              .where(SignInNonce.expires_at < now)) == 0
        assert session.get(SignInNonce, "f" * 64) is not None  # not expired yet: kept


def test_anonymous_reads_past_their_limit_are_refused_but_sessions_are_not(node: NodeService) -> None:
    with api(node) as http:
        staff = staff_token(http, STAFF, PASSWORD)
        for path in ("/health", "/catalog", "/catalog/dcat", "/health") * 2:
            assert http.get(path).status_code == 200
        _rate_limited(http.get("/health"), "requests without a session")
        _rate_limited(http.get("/catalog"), "requests without a session")
        assert http.get("/catalog", headers=bearer(staff)).status_code == 200



def test_queries_past_their_limit_are_refused_before_the_route_runs(node: NodeService, suite: Suite) -> None:
    """Each query a node refuses is recorded on chain: a consumer probing a grant is held to a rate,
    counted before the route runs, while reading the grant's queries is not counted."""
    with api(node) as http:
        consumer = siwe_token(http, suite.accounts[7], http.base_url.netloc.decode(), node.ledger.manifest.chain_id)
        path, probe = f"/grants/0x{'12' * 32}/queries", {"sql": "SELECT 身份证号 FROM data", "epsilon": "0.5"}
        for _ in range(3):
            assert http.post(path, json=probe, headers=bearer(consumer)).status_code == 404
        _rate_limited(http.post(path, json=probe, headers=bearer(consumer)), "queries per minute")
        assert http.post(path, json=probe).status_code == 401  # without a session: refused, recording nothing
        assert http.get(path, headers=bearer(consumer)).status_code == 404


# ---------------------------------------------------------------- uploads


def test_an_upload_past_the_cap_is_refused_while_streaming_and_nothing_is_lost(
        node: NodeService, open_dataset: str) -> None:
    folder = node.settings.data_dir / "datasets" / open_dataset
    before = sorted(p.name for p in folder.iterdir())
    with api(node) as http:
        staff = {**bearer(staff_token(http, STAFF, PASSWORD)), "Content-Type": "text/csv"}
        path = f"/datasets/{open_dataset}/versions"
        declared = http.put(path, content=b"a,b\n" + b"1,2\n" * (CAP // 4), headers=staff)
        error = _refused(declared, 413, "too_large")
        assert error["limit"] == CAP

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b"a,b\n"
            for _ in range(3 * CAP // 1024):
                yield b"1,2\n" * 256

        _refused(http.put(path, content=chunks(), headers=staff), 413, "too_large")
        versions = http.get(f"/datasets/{open_dataset}", headers=staff).json()["versions"]
    assert len(versions) == 1
    assert sorted(p.name for p in folder.iterdir()) == before  # no partial upload left behind
    with node.sessions() as session:
        version = session.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == open_dataset)).one()
        with node.store.open(Path(version.source_path)) as kept:  # kept encrypted, read through the node's store
            assert kept.read().decode() == CSV


# ---------------------------------------------------------------- relay


def test_relay_answers_before_the_receipt_and_takes_only_the_next_nonce(
        node: NodeService, suite: Suite, chain: LocalChain, open_dataset: str) -> None:
    consumer = suite.consumers[0]
    account = suite.accounts[7]
    w3 = node.ledger.w3
    with api(node) as http:
        token = siwe_token(http, account, str(http.base_url.netloc.decode()), node.ledger.manifest.chain_id)
        params = http.get("/relay/params", headers=bearer(token)).json()
        key = hashlib.sha256(f"hardening relay {node.settings.sql_url}".encode()).digest()
        call = consumer.grants.contract.functions.requestAccess(
            key, (bytes.fromhex(open_dataset[2:]), "a hardening test", b"\x00" * 32, [], Action.mask(Action.DOWNLOAD),
                  3600, 5))

        def signed(nonce: int) -> str:
            tx = call.build_transaction({"from": account.address, "nonce": nonce, "chainId": params["chain_id"],
                                         "gas": 600_000, "gasPrice": params["gas_price"]})
            return Web3.to_hex(account.sign_transaction(tx).raw_transaction)

        future = http.post("/relay", json={"raw_transaction": signed(params["nonce"] + 3)}, headers=bearer(token))
        assert "the sender's next is" in str(_refused(future, 409, "conflict")["message"])
        assert w3.eth.get_transaction_count(account.address, "pending") == params["nonce"]  # nothing was sent

        # The chain mines nothing until told: the answer cannot have waited for a receipt.
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        try:
            raw = signed(params["nonce"])
            sent = http.post("/relay", json={"raw_transaction": raw}, headers=bearer(token))
            assert sent.status_code == 202, sent.text
            body = sent.json()
            assert body["status"] == "pending" and body["block_number"] is None
            assert body["tx_hash"] == Web3.to_hex(Web3.keccak(hexstr=raw))
            assert sent.headers["Location"] == body["follow"] == f"/relay/{body['tx_hash']}"
            assert http.get(body["follow"], headers=bearer(token)).json()["status"] == "pending"
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        finally:
            w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        mined = http.get(body["follow"], headers=bearer(token)).json()
        assert mined["status"] == "success" and mined["function"] == "requestAccess", mined
        assert mined["block_number"] == w3.eth.get_transaction_receipt(body["tx_hash"])["blockNumber"]
        assert consumer.grants.grant(ids.grant_id(account.address, key)).grantee == account.address

        # A spent nonce is not the next one either; and another consumer cannot follow the transaction.
        _refused(http.post("/relay", json={"raw_transaction": raw}, headers=bearer(token)), 409, "conflict")
        other = siwe_token(http, suite.accounts[8], str(http.base_url.netloc.decode()), node.ledger.manifest.chain_id)
        _refused(http.get(body["follow"], headers=bearer(other)), 403, "forbidden")
        _refused(http.get(f"/relay/0x{'ab' * 32}", headers=bearer(token)), 404, "not_found")


# ---------------------------------------------------------------- open downloads, metrics


def test_open_downloads_are_anchored_many_to_one_item(node: NodeService, open_dataset: str) -> None:
    def gathered() -> AnchorItem | None:
        with node.sessions() as session:
            rows = session.scalars(select(OpenDownload).where(OpenDownload.receipt.in_(receipts))
                                   .order_by(OpenDownload.id)).all()
            items = {r.anchor_item_id for r in rows}
            if len(rows) != 3 or None in items:
                return None
            assert len(items) == 1, items  # one item for the three downloads
            return session.get(AnchorItem, items.pop())

    def anchored() -> bool:
        with node.sessions() as session:
            return verify_anchor_item(session, node.ledger, item.id).ok

    with api(node) as http:  # the node's anchoring runs while it is served
        receipts = []
        for _ in range(3):
            download = http.get(f"/open/{open_dataset}/content")
            assert download.status_code == 200 and download.text == CSV, download.text
            receipts.append(download.headers["X-Provledger-Receipt"])
        item = wait_until(gathered)
        assert item.item == "0x" + MerkleTree.from_items([bytes.fromhex(r[2:]) for r in receipts]).root.hex()
        assert item.label.endswith("(3)")
        wait_until(anchored)


def test_metrics_need_a_staff_session_by_default(node: NodeService, suite: Suite) -> None:
    with api(node) as http:
        _refused(http.get("/metrics"), 401, "unauthenticated")
        consumer = siwe_token(http, suite.accounts[7], str(http.base_url.netloc.decode()),
                              node.ledger.manifest.chain_id)
        _refused(http.get("/metrics", headers=bearer(consumer)), 403, "forbidden")
        scraped = http.get("/metrics", headers=bearer(staff_token(http, STAFF, PASSWORD)))
        assert scraped.status_code == 200 and "provledger_http_requests" in scraped.text
        # Each answer is counted under its route's template and status, refusals too.
        for status in (401, 403):
            assert f'provledger_http_requests_total{{method="GET",route="/metrics",status="{status}"}} 1.0' in scraped.text
        assert 'provledger_http_request_seconds_count{route="/metrics"} 2.0' in scraped.text
    # An operator who scrapes without a session opens it on purpose.
    node.settings.metrics_public = True
    try:
        with api(node) as http:
            assert "provledger_http_requests" in http.get("/metrics").text
    finally:
        node.settings.metrics_public = False


# ---------------------------------------------------------------- logs


def test_no_secret_used_in_a_whole_flow_reaches_a_log_line(
        node: NodeService, suite: Suite, open_dataset: str, tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    passphrase = "hardening auditor keystore passphrase"
    keystore = write_keystore(suite.accounts[9], tmp_path / "auditor.json", passphrase)
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", passphrase)
    caplog.set_level(logging.DEBUG)
    # uvicorn's own loggers do not propagate, and are configured as the server starts: capture
    # them where they write, once it has.
    quiet = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.access", "uvicorn.error")]
    try:
        with api(node, log_level="debug") as http:
            for logger in quiet:
                logger.addHandler(caplog.handler)
            url = str(http.base_url).rstrip("/")
            here = {"Origin": url}
            staff = staff_token(http, STAFF, PASSWORD)
            consumer = siwe_token(http, suite.accounts[7], http.base_url.netloc.decode(), node.ledger.manifest.chain_id)
            # A client that puts its token in the query string: refused, and kept out of the access log.
            assert http.get("/auth/me", params={"token": consumer}).status_code == 401

            key = hashlib.sha256(f"hardening logs {node.settings.sql_url}".encode()).digest()
            grant = "0x" + ids.grant_id(suite.accounts[7].address, key).hex()
            requested = relay(http, consumer, suite.accounts[7], suite.consumers[0].grants.contract.functions
                              .requestAccess(key, (bytes.fromhex(open_dataset[2:]), "a log test", b"\x00" * 32, [],
                                                   Action.mask(Action.DOWNLOAD), 3600, 5)))
            assert requested["status"] == "success", requested
            wait_until(lambda: any(q["grant_id"] == grant for q in http.get(
                "/review/queue", headers=bearer(staff)).json()))
            approved = http.post(f"/grants/{grant}/approve", json={"reason": "logs"}, headers=bearer(staff))
            assert wait_for_write(http, staff, approved.json()["id"])["status"] == "confirmed"
            wait_until(lambda: any(g["grant_id"] == grant and g["status"] == "active"
                                   for g in http.get("/me/grants", headers=bearer(consumer)).json()))
            made = http.post(f"/grants/{grant}/deliveries", json={}, headers=bearer(consumer))
            assert made.status_code == 201, made.text
            assert http.get(made.json()["download"], headers=bearer(consumer)).status_code == 200

            assert main(["login", "--api", url, "--keystore", str(keystore), "--no-progress"]) == 0
            # uvicorn writes its access log to stdout too: the link is the line the command printed.
            link = next(line for line in capsys.readouterr().out.splitlines() if "/dashboard/login#" in line)
            page, secret = link.split("#")
            assert http.get(page).status_code == 200  # what a browser asks for: the page, not the secret
            assert http.post(page, json={"secret": secret}, headers=here).status_code == 200
    finally:
        for logger in quiet:
            logger.removeHandler(caplog.handler)

    logged = caplog.text
    assert "GET /auth/me?token=[redacted]" in logged  # the access log was captured, and redacted
    assert "POST /dashboard/login" in logged
    session_key = (node.settings.data_dir / "session.key").read_bytes().hex()
    for name, value in {"staff password": PASSWORD, "keystore passphrase": passphrase,
                        "node passphrase": node.settings.keystore_passphrase(), "staff token": staff,
                        "consumer token": consumer, "login link secret": secret, "session key": session_key}.items():
        assert value not in logged, f"the {name} is in the logs"


def test_every_new_answer_is_declared_in_the_openapi_document(node: NodeService) -> None:
    with api(node) as http:
        paths = http.get("/openapi.json").json()["paths"]

    def declared(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    for path, method in (("/auth/nonce", "get"), ("/auth/siwe", "post"), ("/auth/staff", "post"),
                         ("/catalog", "get"), ("/catalog/dcat", "get"), ("/open/{dataset_id}/content", "get"),
                         ("/health", "get"), ("/departments", "get")):
        assert "429" in declared(path, method), path
    assert {"202", "409", "422"} <= declared("/relay", "post")
    assert {"200", "404"} <= declared("/relay/{tx_hash}", "get")
    assert "413" in declared("/datasets/{dataset_id}/versions", "put")
    assert {"401", "403"} <= declared("/metrics", "get")
