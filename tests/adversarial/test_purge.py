"""Purge with evidence (issue 20), end to end over real HTTP on a Chinese table kept in GBK:
one person's records and one whole version purged; the evidence, the trace and the chain's
record stay, the plaintext goes, deliveries and queries are refused, verification says purged;
and the hostile cases: another department or a consumer cannot purge, a reason holding an ID
number is refused, a second purge is refused, a tampered (not purged) version still says tampered;
one person written two ways (the first-generation 15 digits, full-width) goes by one purge, and an
ID number with a wrong check character purges nobody, refused by the API, the CLI and the dashboard
without saying it back."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

import httpx
import pytest

from api.cli import Refused, main, register_dataset
from api.redact import redact
from ledger.errors import ContractError
from node.catalog.purge import subject_hash, subject_salt
from node.datakey import KeySecret, data_key
from node.fields import id_check_character
from node.store import DataStore
from tests.adversarial.conftest import CLASSES, HOSTILE, OWNER, World, people, wait_for
from tests.adversarial.test_delivery import _source_of

VALID_ID = "11010119900307123" + id_check_character("11010119900307123")
REASON = "数据主体依《个人信息保护法》第四十七条请求删除"


def _gbk_dataset(world: World, rows: list[dict[str, str]]) -> str:
    code = f"purge-{secrets.token_hex(6)}"
    path = world.folder / f"{code}.csv"
    path.write_bytes(("姓名,身份证号,手机号,就诊次数\n" + "".join(
        f"{r['name']},{r['id_number']},{r['phone']},{r['visits']}\n" for r in rows)).encode("gbk"))
    dataset, _, _ = register_dataset(world.staff(OWNER), path, code=code, name=f"Dataset {code}", category="health",
                                     grade=2, interval=86400, encoding="gbk", rules=[], key_fields=[],
                                     field_classes={"姓名": CLASSES["name"], "身份证号": CLASSES["id_number"],
                                                    "手机号": CLASSES["phone"]})
    return str(dataset["dataset_id"])


def _checked(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """``rows`` with resident ID numbers a purge takes: ``people`` writes any check character and
    a day 00 of birth; here each is born on a real day (10th to 19th) and checked."""
    bodies = [row["id_number"][:12] + "1" + row["id_number"][13:17] for row in rows]
    return [{**row, "id_number": body + id_check_character(body)} for row, body in zip(rows, bodies, strict=True)]


def _refused(call: object, status: int, code: str) -> Refused:
    with pytest.raises(Refused) as caught:
        call()  # type: ignore[operator]
    assert (caught.value.status_code, caught.value.code) == (status, code), caught.value
    return caught.value


def _confirmed(world: World, write_id: int) -> None:
    api = world.staff(OWNER)
    wait_for(f"write {write_id}", lambda: api.call("GET", f"/writes/{write_id}")["status"] == "confirmed" or None)


def test_a_person_purged_leaves_no_byte_behind_and_the_chain_and_trace_show_it(world: World) -> None:
    rows = people(5)
    # Values no other test's data holds (people() repeats its own): the whole data folder is searched.
    body = f"44030519880{1 + secrets.randbelow(9)}1{secrets.randbelow(10)}{secrets.randbelow(1000):03d}"  # a real birth date
    rows[2] = person = {"name": "欧阳" + "".join(chr(0x4E00 + secrets.randbelow(0x5000)) for _ in range(2)),
                        "id_number": body + id_check_character(body), "phone": f"139{secrets.randbelow(10**8):08d}",
                        "visits": "3"}
    dataset = _gbk_dataset(world, rows)
    staff = world.staff(OWNER)
    consumer, grant = world.granted(world.honest_consumer, dataset, fields=("姓名", "就诊次数"), uses=5)
    consumer.call("POST", f"/grants/{grant}/deliveries", json={})  # a delivered copy holds the person too
    old_source = _source_of(world, dataset)
    done = staff.call("POST", f"/datasets/{dataset}/purge-person", json={"id_number": person["id_number"],
                                                                        "reason": REASON})
    assert done["replaced"] == [[1, 2]] and person["id_number"] not in json.dumps(done)
    for write in done["writes"]:
        _confirmed(world, write["id"])
    ledger = world.ledger(world.coordinator)
    raw = bytes.fromhex(dataset[2:])
    assert ledger.registry.is_purged(raw, 1) and not ledger.registry.is_purged(raw, 2)
    assert ledger.registry.version(raw, 1).content_root  # the old root stays anchored
    wait_for("the successor anchored", lambda: ledger.registry.dataset(raw).version_count == 2 or None)
    # No byte of the person in the node's data folder, read raw or decrypted with the node's key.
    department = world.deployment.department(OWNER)
    assert not old_source.exists()
    secret = KeySecret("passphrase", world.deployment.passphrase.encode(), "passphrase")
    store = DataStore(data_key(department.data_dir, secret))
    secrets_of = [person[f].encode(enc) for f in ("name", "id_number", "phone") for enc in ("gbk", "utf-8")]
    for path in (p for p in department.data_dir.rglob("*") if p.is_file()):
        held = path.read_bytes()
        try:
            with store.open(path) as f:
                held += f.read()
        except Exception:  # noqa: BLE001  (not a stored file: its raw bytes are what is checked)
            pass
        assert not [s for s in secrets_of if s in held], path
    # The old version: deliveries refused, verification says purged; the successor still delivers.
    _refused(lambda: consumer.call("POST", f"/grants/{grant}/deliveries", json={"version": 1}), 410, "version_purged")
    consumer.call("POST", f"/grants/{grant}/deliveries", json={})
    check = staff.call("GET", f"/audit/datasets/{dataset}/versions/1/verification")
    assert not check["ok"] and check["purged"] and REASON in check["purged"] and not check["problems"]
    assert staff.call("GET", f"/audit/datasets/{dataset}/versions/2/verification")["ok"]
    def purge_traced() -> dict[str, object] | None:
        page: dict[str, object] = staff.call("GET", f"/audit/datasets/{dataset}/trace", params={"limit": 1000})
        return page if "VersionPurged" in json.dumps(page) else None

    trace = wait_for("the purge in the trace", purge_traced)
    assert REASON in json.dumps(trace, ensure_ascii=False)
    # Purging again is refused, by the node and by the contract.
    _refused(lambda: staff.call("POST", f"/datasets/{dataset}/versions/1/purge", json={"reason": "again"}),
             409, "conflict")
    with pytest.raises(ContractError, match="RegistryVersionPurged"):
        world.ledger(world.department_account(OWNER)).registry.purge_version(raw, 1, b"\x01" * 32)


def test_a_whole_version_purged_refuses_its_deliveries_and_only_the_chain_says_purged(world: World) -> None:
    dataset = world.publish(people(4))
    world.add_version(dataset, people(6))
    staff = world.staff(OWNER)
    consumer, grant = world.granted(world.hostile_consumer, dataset, uses=5)
    _refused(lambda: staff.call("POST", f"/datasets/{dataset}/versions/1/purge",
                                json={"reason": f"删除 {VALID_ID} 的记录"}), 422, "invalid_input")
    write = staff.call("POST", f"/datasets/{dataset}/versions/1/purge", json={"reason": "retention period ended"})
    _refused(lambda: consumer.call("POST", f"/grants/{grant}/deliveries", json={"version": 1}), 410, "version_purged")
    _confirmed(world, write["id"])
    assert world.ledger(world.coordinator).registry.is_purged(bytes.fromhex(dataset[2:]), 1)
    # A tampered version (its file edited, never purged) still says tampered, not purged.
    source = _source_of(world, dataset)
    kept = source.read_bytes()
    try:
        source.write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))
        check = staff.call("GET", f"/audit/datasets/{dataset}/versions/2/verification")
        assert not check["ok"] and check["purged"] is None and check["problems"]
    finally:
        source.write_bytes(kept)


def test_another_department_or_a_consumer_cannot_purge(world: World) -> None:
    dataset = world.publish(people(3))
    other = HOSTILE
    _refused(lambda: world.staff(other).call("POST", f"/datasets/{dataset}/versions/1/purge",
                                              json={"reason": "not mine"}), 403, "forbidden")
    consumer = world.signed_in(world.honest_consumer)
    with pytest.raises(Refused) as caught:
        consumer.call("POST", f"/datasets/{dataset}/versions/1/purge", json={"reason": "not mine"})
    assert caught.value.status_code in (401, 403)
    for account in (world.department_account(other), world.honest_consumer):
        with pytest.raises(ContractError, match="RegistryNotOwner"):
            world.ledger(account).registry.purge_version(bytes.fromhex(dataset[2:]), 1, b"\x01" * 32)
    assert not world.ledger(world.coordinator).registry.is_purged(bytes.fromhex(dataset[2:]), 1)


def test_the_cli_purges_a_person_and_a_version_and_never_prints_the_id_number(
        world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rows = _checked(people(4))
    dataset = world.publish(rows)
    department = world.deployment.department(OWNER)
    staff = ("--api", department.url, "--user", department.username, "--password", department.password)
    for name in ("API", "USER", "PASSWORD", "KEYSTORE", "PASSPHRASE"):
        monkeypatch.delenv(f"PROVLEDGER_{name}", raising=False)
    assert main(["dataset", "purge", dataset, "--person", rows[1]["id_number"], "--reason", "依法删除", *staff]) == 0
    out, err = capsys.readouterr()
    assert "version 1 purged, its successor is version 2: confirmed in block" in out
    assert rows[1]["id_number"] not in out + err
    assert main(["dataset", "purge", dataset, "--person", rows[1]["id_number"], "--reason", "again", *staff]) == 1
    out, err = capsys.readouterr()
    assert "404" in out + err and rows[1]["id_number"] not in out + err
    assert main(["dataset", "purge", dataset, "--version", "2", "--reason", "保存期满", "--json", *staff]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "confirmed"
    assert main(["dataset", "purge", dataset, "--reason", "neither", *staff]) == 2
    raw = bytes.fromhex(dataset[2:])
    assert all(world.ledger(world.coordinator).registry.is_purged(raw, n) for n in (1, 2))


def test_the_dashboard_purges_after_a_confirmation_that_never_holds_the_id_number(world: World) -> None:
    rows = _checked(people(3))
    dataset = world.publish(rows)
    department = world.deployment.department(OWNER)
    with httpx.Client(base_url=department.url, timeout=30, headers={"Origin": department.url}) as http:
        signed = http.post("/dashboard/sign-in", data={"username": department.username,
                                                       "password": department.password})
        assert signed.status_code == 303, signed.text
        assert f"/dashboard/datasets/{dataset}/purge" in http.get("/dashboard/catalog").text
        page = http.get(f"/dashboard/datasets/{dataset}/purge")
        token = re.search(r'name="form_token" value="([^"]+)"', page.text)
        assert page.status_code == 200 and token is not None
        form = {"form_token": token.group(1), "id_number": rows[0]["id_number"], "reason": "依法删除"}
        confirm = http.post(f"/dashboard/datasets/{dataset}/purge", data=form)
        assert confirm.status_code == 200 and 'id="purge-confirm"' in confirm.text
        assert rows[0]["id_number"] not in confirm.text  # typed again, never sent back
        masked = rows[0]["id_number"][:6] + "*" * 8 + rows[0]["id_number"][14:]
        assert f'<span class="id-number">{masked}</span>' in confirm.text  # the person named, masked
        assert not world.ledger(world.coordinator).registry.dataset(bytes.fromhex(dataset[2:])).version_count > 1
        done = http.post(f"/dashboard/datasets/{dataset}/purge", data={**form, "confirmed": "yes"})
        assert done.status_code == 303, done.text
        shown = http.get(done.headers["location"]).text
        assert 'data-version="1" data-purged="yes"' in shown and "依法删除" in shown
        assert "version 1 purged, its successor is version 2" in shown
    other = world.deployment.department(HOSTILE)  # another department's staff, at its own node
    with httpx.Client(base_url=other.url, timeout=30, headers={"Origin": other.url}) as http:
        assert http.post("/dashboard/sign-in", data={"username": other.username,
                                                     "password": other.password}).status_code == 303
        assert http.get(f"/dashboard/datasets/{dataset}/purge").status_code == 403


def _sign_in_dashboard(http: httpx.Client, code: str, world: World) -> None:
    department = world.deployment.department(code)
    signed = http.post("/dashboard/sign-in", data={"username": department.username, "password": department.password})
    assert signed.status_code == 303, signed.text


def test_one_person_written_two_ways_goes_by_one_purge_and_a_wrong_check_character_purges_nobody(
        world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("API", "USER", "PASSWORD", "KEYSTORE", "PASSPHRASE"):
        monkeypatch.delenv(f"PROVLEDGER_{name}", raising=False)
    area, born, serial = "440305", f"{1950 + secrets.randbelow(50)}0{1 + secrets.randbelow(9)}1{secrets.randbelow(10)}", \
        f"{secrets.randbelow(1000):03d}"
    number = area + born + serial + id_check_character(area + born + serial)
    first_generation = area + born[2:] + serial  # the same person's number before the 18-character upgrade
    wide = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    rows = _checked(people(5))
    rows[1] = {**rows[1], "name": "李旧证", "id_number": first_generation}
    rows[3] = {**rows[3], "name": "李全角", "id_number": f" {wide[:6]} {wide[6:14]} {wide[14:]} "}
    dataset = _gbk_dataset(world, rows)
    raw = bytes.fromhex(dataset[2:])
    staff = world.staff(OWNER)
    wrong = number[:17] + next(c for c in "0123456789X" if c != number[17])
    # The API: 422 naming id_number, the number masked, never in full.
    refused = _refused(lambda: staff.call("POST", f"/datasets/{dataset}/purge-person",
                                          json={"id_number": wrong, "reason": REASON}), 422, "invalid_input")
    assert refused.detail.get("field") == "id_number" and "check character" in str(refused), refused
    assert wrong not in json.dumps(refused.detail) + str(refused) and wrong[:6] + "********" + wrong[14:] in str(refused)
    # The CLI: exit 2 and one line.
    department = world.deployment.department(OWNER)
    login = ("--api", department.url, "--user", department.username, "--password", department.password)
    capsys.readouterr()
    assert main(["dataset", "purge", dataset, "--person", wrong, "--reason", REASON, *login]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "id_number" in err and "check character" in err, err
    assert wrong not in err
    # The dashboard: the form refused, saying why, before any confirmation; the number not in the page.
    with httpx.Client(base_url=department.url, timeout=30, headers={"Origin": department.url}) as http:
        _sign_in_dashboard(http, OWNER, world)
        token = re.search(r'name="form_token" value="([^"]+)"', http.get(f"/dashboard/datasets/{dataset}/purge").text)
        assert token is not None
        for confirmed in ({}, {"confirmed": "yes"}):
            shown = http.post(f"/dashboard/datasets/{dataset}/purge", data={
                "form_token": token.group(1), "id_number": wrong, "reason": REASON, **confirmed})
            assert shown.status_code == 422 and 'id="purge-error"' in shown.text and "check character" in shown.text
            assert 'id="purge-confirm"' not in shown.text and wrong not in shown.text
    ledger = world.ledger(world.coordinator)
    assert ledger.registry.dataset(raw).version_count == 1 and not ledger.registry.is_purged(raw, 1)
    assert [v["record_count"] for v in staff.call("GET", f"/datasets/{dataset}")["versions"]] == [5]
    # The 18-character form, as written on the new card, finds both records; one hash names the person.
    done = staff.call("POST", f"/datasets/{dataset}/purge-person", json={"id_number": number, "reason": REASON})
    assert done["replaced"] == [[1, 2]]
    assert done["subject_hash"] == subject_hash(subject_salt(department.data_dir), first_generation) \
        == subject_hash(subject_salt(department.data_dir), wide)
    for write in done["writes"]:
        _confirmed(world, write["id"])
    assert ledger.registry.is_purged(raw, 1)
    versions = staff.call("GET", f"/datasets/{dataset}")["versions"]
    assert [(v["number"], v["record_count"]) for v in versions] == [(1, 5), (2, 3)]
    # The successor holds neither spelling, and every other record.
    secret = KeySecret("passphrase", world.deployment.passphrase.encode(), "passphrase")
    store = DataStore(data_key(department.data_dir, secret))
    with store.open(Path(_source_of(world, dataset))) as f:
        kept = f.read().decode("gbk")
    assert first_generation not in kept and wide[6:14] not in kept and "李" not in kept
    assert all(row["id_number"] in kept for i, row in enumerate(rows) if i not in (1, 3))


def test_an_id_number_put_in_a_url_is_redacted_from_the_logs() -> None:
    line = f"POST /datasets/0xab/purge-person?id_number={VALID_ID}&reason=x HTTP/1.1"
    assert VALID_ID not in redact(line) and "id_number=[redacted]&reason=x" in redact(line)
