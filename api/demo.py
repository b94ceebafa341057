"""The provledger story, told over the HTTP API of a fresh local deployment (``provledger demo``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.access import check_statement, decide, request_access, use_grant
from api.cli.audit import print_trace, trace
from api.cli.client import Api, CliError, Progress, Refused, signed_call
from api.cli.datasets import register_dataset, upload_version, wait_anchored
from api.demo_queries import query_chapter
from ledger.deploy import Ledger, Manifest
from node.access.settlement import chain_terms
from node.access.delivery.fingerprint import plain_masks
from node.catalog.freshness import DAY
from node.catalog.texts import canonical_hash
from node.fields import id_check_character
from node.service import load_artifacts

if TYPE_CHECKING:
    from api.local import LocalDeployment


FIELDS = ("name", "id_number", "phone", "address", "visits")
CLASSES = {"name": "name", "id_number": "id_number", "phone": "mobile", "address": "address", "visits": "plain"}
RULES: list[dict[str, Any]] = [{"kind": "completeness", "fields": ["phone"]},
                               {"kind": "validity", "fields": ["id_number"]},
                               {"kind": "uniqueness", "fields": ["id_number"]}]
EXPECTED_EVENTS = ("DatasetRegistered", "VersionAdded", "AccessRequested", "RequestApproved", "RequestCoApproved",
                   "GrantActivated", "UseRecorded", "UseRefused", "IssueOpened", "IssueReturned", "IssueRepaired",
                   "IssueClosed")


def id_number(serial: int) -> str:
    """A resident ID number with a valid GB 11643 check digit."""
    body = f"11010119900307{serial:03d}"
    return body + id_check_character(body)


def people(count: int, *, broken: bool) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [
        (f"Person {i}", id_number(i), f"1380013{i:04d}", f"Beijing Dongcheng Jingshan {i}", str(i % 7))
        for i in range(count)]
    if broken:  # a wrong check digit, and a record entered twice
        rows[3] = rows[3][:1] + (rows[3][1][:-1] + ("0" if rows[3][1][-1] != "0" else "1"),) + rows[3][2:]
        rows[5] = rows[4]
    return rows


def write_csv(path: Path, rows: list[tuple[str, ...]]) -> Path:
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([FIELDS, *rows])
    return path


def _bytes(hex32: str) -> bytes:
    return bytes.fromhex(hex32.removeprefix("0x"))


class Story:
    """The whole story against a :class:`LocalDeployment`, through its HTTP APIs only: the
    statistics bureau (also coordinator), the health commission (the owner), two consumers and
    the auditor. Each step prints what happened and checks what must hold: a value read back from
    a node's API or from the chain, compared with what the step did. A failed check, or a step
    that stops the story, is reported under the step's title."""

    def __init__(self, deployment: LocalDeployment, progress: Progress) -> None:
        self.d = deployment
        self.progress = progress
        self.folder = deployment.work_dir / "demo"
        self.failed: list[str] = []
        self._apis: list[Api] = []
        self.dataset_id = ""
        self.grants: list[str] = []
        self.consumers: list[Api] = []
        self.leaked = b""
        self.current = ""
        self._ledger: Ledger | None = None

    def step(self, title: str) -> None:
        self.current = title
        print(f"\n== {title}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)

    def check(self, ok: bool, text: str) -> bool:
        print(f"   {'ok' if ok else 'FAILED':<6} {text}", flush=True)
        if not ok:
            self.failed.append(f"{self.current}: {text}")
        return ok

    def chain(self) -> Ledger:
        """The deployment read straight from the chain, to check what the story did over HTTP."""
        if self._ledger is None:
            assert self.d.chain is not None, "not started"
            artifacts = load_artifacts(self.d.project_root / "build" / "contracts")
            self._ledger = Ledger(self.d.chain.web3(), Manifest.load(self.d.manifest_path), artifacts)
        return self._ledger

    def api(self, url: str) -> Api:
        self._apis.append(Api(url, self.progress))
        return self._apis[-1]

    def tell(self) -> bool:
        try:
            for chapter in (self.sign_in_staff, self.register, self.request, self.review, self.co_approve,
                            self.deliver, self.quota, self.alerts, self.quality, self.settle, self.audit, self.leak,
                            self.queries):
                chapter()
        except CliError as err:
            self.check(False, f"the story stopped: {err}")
        finally:
            for api in self._apis:
                api.close()
        for failure in self.failed:
            print(f"FAILED at {failure}", flush=True)
        return not self.failed

    # ------------------------------------------------------------ chapters

    def sign_in_staff(self) -> None:
        self.step("department staff sign in to their own department's node")
        bureau, health = self.d.departments[0], self.d.departments[1]
        self.coordinator, self.owner = self.api(bureau.url), self.api(health.url)
        self.coordinator.sign_in_staff(bureau.username, bureau.password)
        self.owner.sign_in_staff(health.username, health.password)
        self.check(self.owner.roles == ["department"], f"{health.username}: roles {self.owner.roles}")
        self.check(set(self.coordinator.roles) == {"coordinator", "department"},
                   f"{bureau.username}: roles {self.coordinator.roles} (the bureau's node is also coordinator)")

    def register(self) -> None:
        self.step("the health commission registers a grade-3 dataset: CSV upload, field classes, quality rules")
        self.folder.mkdir(parents=True, exist_ok=True)
        v1 = write_csv(self.folder / "visits-v1.csv", people(40, broken=True))
        dataset, version, block = register_dataset(
            self.owner, v1, code="hospital-visits-2026", name="Hospital visits 2026", category="health", grade=3,
            interval=DAY, field_classes=CLASSES, rules=RULES, key_fields=["id_number"])
        self.dataset_id = dataset["dataset_id"]
        self.say(f"dataset {self.dataset_id}, grade {dataset['grade']}, owner {dataset['owner_department']}")
        self.say(f"version 1: content root {version['content_root']}, {version['record_count']} records")
        self.say("rules: " + "; ".join(f"{r['kind']}({', '.join(r['fields'])})" for r in RULES))
        on_chain = self.chain().registry.version_of_root(_bytes(self.dataset_id), _bytes(version["content_root"]))
        self.check(on_chain == 1, f"version 1 anchored on-chain in block {block}")

    def request(self) -> None:
        self.step("two consumers sign in with Ethereum and ask for access (they sign requestAccess, the node relays)")
        health = self.d.departments[1]
        for participant, uses in zip(self.d.consumers, (3, 5)):
            api = self.api(health.url)
            api.sign_in_siwe(participant.account)
            self.check(api.roles == ["consumer"], f"{participant.label} {participant.address} signed in: {api.roles}")
            grant = request_access(api, participant.account, self.dataset_id, purpose="public health study 2026",
                                   fields=["visits"], uses=uses, days=1)
            self.say(f"{participant.label} requests grant {grant}: 'visits' in the clear, {uses} downloads, 1 day")
            self.consumers.append(api)
            self.grants.append(grant)

    def _queued(self, api: Api, waiting_for: str) -> list[dict[str, Any]] | None:
        queue = [q for q in api.call("GET", "/review/queue") if q["grant_id"] in self.grants]
        return queue if {q["grant_id"] for q in queue if q["waiting_for"] == waiting_for} == set(self.grants) else None

    def review(self) -> None:
        self.step("the owner's staff see the requests in their review queue and approve them, at 5 per use")
        queue = self.progress.wait("the requests in the owner's queue", lambda: self._queued(self.owner, "owner"))
        for item in queue:
            self.say(f"waiting for the owner: {item['grant_id']} from {item['grantee']}, grade {item['grade']}, "
                     f"purpose {item['purpose']!r}, in the clear: {', '.join(item['fields'])}")
        for grant in self.grants:
            write = decide(self.owner, grant, price=5, reason="public health study under the 2026 sharing agreement")
            self.say(f"approved {grant[:18]}...: chain write {write['id']} confirmed in block {write['block_number']}")
        try:
            self.owner.call("POST", f"/grants/{self.grants[0]}/co-approve", json={})
            refused: Refused | None = None
        except Refused as err:
            refused = err
        self.check(refused is not None and refused.status_code == 403, f"the owner may not co-approve: {refused}")

    def co_approve(self) -> None:
        self.step("the coordinator's staff (statistics bureau) see the grade-3 grants in their queue and co-approve")
        queue = self.progress.wait("the grants in the coordinator's queue",
                                   lambda: self._queued(self.coordinator, "coordinator"))
        self.say(f"{len(queue)} grants waiting for the coordinator, each with its purpose and the owner's reason: "
                 + "; ".join(f"{q['purpose']!r} ({(q['owner_decision'] or {}).get('reason')!r})" for q in queue))
        for grant in self.grants:
            write = decide(self.coordinator, grant, co_approve=True, reason="grade 3: co-approved")
            self.say(f"co-approved {grant[:18]}...: confirmed in block {write['block_number']}")

        def active() -> dict[str, Any] | None:
            mine = [g for g in self.consumers[0].call("GET", "/me/grants") if g["grant_id"] == self.grants[0]]
            return mine[0] if mine and mine[0]["status"] == "active" else None

        seen = self.progress.wait("the grant active on the owner's node", active)
        until = datetime.fromtimestamp(seen["expires_at"], timezone.utc).isoformat(timespec="seconds")
        on_chain = self.chain().grants.grant(_bytes(self.grants[0]))
        self.check((seen["max_uses"], int(seen["price_per_use"]), seen["expires_at"]) == (3, 5, on_chain.expires_at)
                   and (on_chain.max_uses, on_chain.price_per_use) == (3, 5),
                   f"consumer-1 sees its grant active: {seen['max_uses']} uses at "
                   f"{seen['price_per_use']} each, until {until}")

    def deliver(self) -> None:
        self.step("consumer-1 downloads a delivery: masked outside its grant, fingerprinted, encrypted to its key")
        c1, c2 = self.d.consumers
        copy = io.BytesIO()
        delivery = use_grant(self.consumers[0], c1.account, self.grants[0], copy, encrypt=True)
        self.say(f"delivery {delivery['delivery_id']}: {delivery['size']} bytes encrypted, "
                 f"recorded as use {delivery['evidence_hash']}")
        rows = list(csv.reader(io.StringIO(plain_masks(copy.getvalue().decode()))))
        original = people(40, broken=True)[0]
        self.say(f"decrypted here:   {','.join(rows[0])}")
        self.say(f"first row:        {','.join(rows[1])}")
        self.say(f"in the source:    {','.join(original)}")
        self.check(rows[0] == list(FIELDS) and len(rows) == 41, "40 records and the header")
        self.check(rows[1][4] == original[4], "'visits' in the clear, as granted")
        self.check(all(rows[1][i] != original[i] and "*" in rows[1][i] for i in range(4)),
                   "name, ID number, phone and address masked")
        self.leaked = copy.getvalue()
        other = io.BytesIO()
        use_grant(self.consumers[1], c2.account, self.grants[1], other, encrypt=False)
        self.check(other.getvalue() != self.leaked, "consumer-2's own copy is fingerprinted differently")

    def quota(self) -> None:
        self.step("uses beyond the quota are refused (consumer-1's grant allows 3 downloads)")
        c1 = self.d.consumers[0]
        for n in (2, 3):
            delivery = use_grant(self.consumers[0], c1.account, self.grants[0], io.BytesIO(), encrypt=False)
            self.say(f"use {n}: delivery {delivery['delivery_id'][:18]}..., {delivery['rows']} rows")
        try:
            use_grant(self.consumers[0], c1.account, self.grants[0], io.BytesIO(), encrypt=False)
            refused: Refused | None = None
        except Refused as err:
            refused = err
        self.check(refused is not None and refused.status_code == 403 and refused.code == "grant_refused",
                   f"use 4: {refused}")

    def alerts(self) -> None:
        self.step("the owner's monitor raises alerts from the usage events on the chain")

        def raised() -> list[dict[str, Any]] | None:
            found = [a for a in self.owner.call("GET", "/audit/alerts", params={"limit": 1000})
                     if a["dataset_id"] == self.dataset_id]
            return found if {"quota", "refused"} <= {a["kind"] for a in found} else None

        alerts = self.progress.wait("the quota and refusal alerts", raised)
        for alert in alerts:
            self.say(f"{alert['kind']:<8} {alert['severity']:<8} {alert['message']}")
        about = {a["kind"] for a in alerts if a["grant_id"] == self.grants[0]}
        self.check({"quota", "refused"} <= about, "quota reached and refused use both alerted")

    def _issue(self, issue_id: str, status: str) -> dict[str, Any] | None:
        found = [i for i in self.owner.call("GET", "/quality/issues") if i["issue_id"] == issue_id]
        return found[0] if found and found[0]["status"] == status else None

    def quality(self) -> None:
        self.step("quality: version 1 fails its rules -> an issue returns it to the source -> version 2 repairs it")
        owner, ds = self.owner, self.dataset_id
        report = owner.call("POST", f"/datasets/{ds}/versions/1/quality-check", json={"open_issue": True})
        failures = [r.get("detail", "") for r in report["report"].get("results", []) if not r.get("passed")]
        self.check(not report["passed"] and report["issue_id"] is not None,
                   "version 1 fails: " + "; ".join(str(f) for f in failures))
        issue_id = report["issue_id"]
        self.progress.wait("the issue returned to the source", lambda: self._issue(issue_id, "returned"))
        self.say(f"issue {issue_id} opened on-chain and returned to the health commission")
        v2 = write_csv(self.folder / "visits-v2.csv", people(40, broken=False))
        version = upload_version(owner, ds, v2)
        block = wait_anchored(owner, ds, version["content_root"])
        self.say(f"version 2 uploaded: content root {version['content_root']}, anchored in block {block}")
        repair = owner.call("POST", f"/quality/issues/{issue_id}/repair",
                            json={"version": 2, "note": "check digit and duplicate record fixed"})
        owner.wait_write(repair, "the repair")
        result = owner.call("POST", f"/quality/issues/{issue_id}/verification", json={"version": 2})
        self.check(result["passed"], "version 2 passes every rule")
        issue = self.progress.wait("the issue closed", lambda: self._issue(issue_id, "closed"))
        self.check(issue["repaired_version"] == 2, "the issue is closed on-chain, repaired by version 2")

    def settle(self) -> None:
        self.step("settlement: the owner's statement of consumer-1's uses, checked and acknowledged by the consumer")
        consumer, account = self.consumers[0], self.d.consumers[0].account

        def recorded() -> dict[str, int] | None:
            counts: dict[str, int] = {}
            for use in consumer.call("GET", "/me/uses", params={"limit": 1000}):
                if use["refused"] is None:
                    counts[use["grant_id"]] = counts.get(use["grant_id"], 0) + 1
            return counts if counts.get(self.grants[0]) == 3 else None

        counts = self.progress.wait("consumer-1's uses indexed", recorded)
        statement = self.owner.call("POST", "/statements", json={"consumer": account.address, "period_start": 0,
                                                                 "period_end": 1 << 40})
        for line in statement["body"]["lines"]:
            self.say(f"grant {line['grant_id'][:18]}...: {line['uses']} uses x {line['price_per_use']} "
                     f"= {line['amount']}")
        self.check(statement["amount"] == "15", f"statement {statement['statement_id'][:18]}...: {statement['amount']}")
        seen = consumer.call("GET", f"/statements/{statement['statement_id']}")
        body = seen["body"]
        self.progress.wait("the owner's acknowledgement on-chain", self.owner.settled)
        checked = check_statement(consumer, body)
        holds = (canonical_hash(body) == seen["statement_hash"] == checked["statement_hash"]
                 and all(line["uses"] == counts.get(line["grant_id"], 0) for line in body["lines"]))
        self.check(holds, "consumer-1 checks it against the chain: the owner's acknowledged hash, one line per grant "
                          "on the owner's datasets, each use and price as recorded, no overlapping period")
        terms = chain_terms(body)
        done = signed_call(consumer, account, "UsageLog", "acknowledgeStatement", terms.as_tuple())
        on_chain = self.chain().usage.statement(terms.owner_department, terms.statement_id)
        self.check(on_chain == (terms.statement_hash, True, True),
                   f"consumer-1 acknowledges the same terms (tx {done['tx_hash'][:18]}..., "
                   f"block {done['block_number']}): settled by both sides")

    def audit(self) -> None:
        self.step("the auditor signs in with Ethereum and traces the dataset, every item verified against the chain")
        auditor = self.api(self.d.departments[1].url)
        assert self.d.auditor is not None
        auditor.sign_in_siwe(self.d.auditor.account)
        self.check(auditor.roles == ["auditor"], f"auditor {self.d.auditor.address} signed in: {auditor.roles}")
        self.auditor = auditor
        self.progress.wait("the owner's node to index everything", self.owner.settled)
        checks: list[dict[str, Any]] = []
        items = trace(auditor, self.dataset_id, verify=True, complete=checks)
        verified, failed = print_trace(items)
        missing = [name for name in EXPECTED_EVENTS if name not in {i["name"] for i in items}]
        self.check(not missing, "registration, versions, request, approvals, uses, refusal and the quality loop"
                   + (f"; missing {missing}" if missing else ""))
        self.check(failed == 0 and verified == len(items), f"{verified} items verified, {failed} failed")
        self.check(bool(checks) and all(c["ok"] for c in checks),
                   f"complete: {checks[-1]['on_chain'] if checks else '?'} events on chain by topic, "
                   f"{checks[-1]['in_index'] if checks else '?'} in the index")
        for number in (1, 2):
            result = auditor.call("GET", f"/audit/datasets/{self.dataset_id}/versions/{number}/verification")
            self.check(result["ok"], f"version {number}'s files match the root anchored on-chain")
        prov = self.folder / "trace.prov.json"
        with open(prov, "wb") as f:
            auditor.download(f"/audit/datasets/{self.dataset_id}/prov", f, total=None, desc="exporting PROV")
        document = json.loads(prov.read_text())
        self.say(f"PROV-JSON: {prov} ({len(document.get('entity', {}))} entities, "
                 f"{len(document.get('activity', {}))} activities, {len(document.get('agent', {}))} agents)")
        consumer = self.d.consumers[0].address
        page = auditor.call("GET", f"/audit/consumers/{consumer}/trace", params={"limit": 1000, "verify": True})
        acks = [i for i in page["items"] if i["name"] == "StatementAcknowledged"]
        self.check(len(acks) == 2 and all(i["verification"]["ok"] for i in page["items"]) and page["complete"]["ok"],
                   f"consumer-1's trace: {len(page['items'])} items verified, the statement acknowledged by both sides")

    def queries(self) -> None:
        query_chapter(self)

    def leak(self) -> None:
        self.step("half of a copy leaks: the auditor asks the owner's node whose it was")
        half = self.leaked[: len(self.leaked) // 2]
        found = self.auditor.call("POST", "/audit/attributions", content=half, headers={"Content-Type": "text/csv"},
                                  params={"dataset_id": self.dataset_id, "format": "csv"})
        if not found["confident"]:
            raise CliError(f"the leaked copy names no one: {found['reason']}")
        self.say(f"{len(half)} bytes -> delivery {found['delivery_id'][:18]}... of grant {found['grant_id'][:18]}...: "
                 f"{found['consumer']} (score {found['score']:.2f}, p-value {found['p_value']:.1e})")
        self.check(found["consumer"] == self.d.consumers[0].address and found["grant_id"] == self.grants[0]
                   and found["confident"], "attributed to consumer-1, with confidence")
