"""`make demo`: the provledger story on a local chain, step by step, with what exists so far.

Three departments (the statistics bureau is also the coordinator), two consumers, one auditor:
register a grade-3 dataset -> request -> owner approves, coordinator co-approves -> a masked,
fingerprinted, encrypted delivery the consumer decrypts -> uses batched on-chain, those over
quota refused -> the index of the dataset's history -> every record verified -> a tampered file
caught -> a leaked copy attributed to its consumer.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import sys
import tempfile
from pathlib import Path

from eth_account import Account
from sqlalchemy import select

from ledger.chain import LocalChain, find_anvil
from ledger.clients import Action
from ledger.compile import PROJECT_ROOT
from ledger.deploy import FoundingDepartment, Ledger, deploy_suite, department_id
from ledger.tx import TransactionSender, write_keystore
from node.delivery.crypto import decrypt_stream, encrypt_stream, public_key_of
from node.delivery.fingerprint import attribute, fingerprint_csv
from node.delivery.masking import FieldClass, MaskPlan, mask_csv, scope_fields
from node.indexer import Indexer
from node.models import ChainEventRow
from node.register import register_dataset, register_version
from node.service import NodeService, load_artifacts
from node.settings import NodeSettings
from node.uses import UseRequest, queue_uses
from node.verify import verify_event_row, verify_version_files

DEPARTMENTS = ("stats-bureau", "health-commission", "public-security")
PEOPLE = [(name, f"1101011990{i:04d}123{i % 10}", f"1380013{i:04d}", f"{city}第{i}号", str(i % 17))
          for i, (name, city) in enumerate([("李雷", "北京市东城区景山前街"), ("韩梅梅", "上海市黄浦区中山东一路")] * 40)]


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def main() -> int:
    artifacts = load_artifacts()
    with tempfile.TemporaryDirectory() as tmp_dir, LocalChain(find_anvil(PROJECT_ROOT), accounts=8) as chain:
        tmp = Path(tmp_dir)
        keys = chain.private_keys
        senders = [TransactionSender(chain.web3(), Account.from_key(k), poll_interval=0.002) for k in keys]
        step(f"local chain {chain.url}: deploy the contracts, seat 3 departments")
        founders = [FoundingDepartment(department_id(code), code, senders[i].address, senders[i].address)
                    for i, code in enumerate(DEPARTMENTS)]
        manifest = deploy_suite(senders[0], artifacts, founders=founders)
        bureau, health, _, consumer, consumer2, auditor = (Ledger(s.w3, manifest, artifacts, s) for s in senders[:6])
        bureau.consortium.register_consumer(consumer.sender.address)  # type: ignore[union-attr]
        health.consortium.register_consumer(consumer2.sender.address)  # type: ignore[union-attr]
        bureau.consortium.appoint_auditor(auditor.sender.address)  # type: ignore[union-attr]
        for code, sender in zip(DEPARTMENTS, senders):
            print(f"   department {code:<18} {sender.address}")
        print(f"   coordinator: the statistics bureau; 2 consumers; 1 auditor")

        step("the statistics bureau's node registers a grade-3 dataset from a CSV file")
        manifest_path = manifest.save(tmp / "deployment.json")
        settings = NodeSettings(department_id=DEPARTMENTS[0], chain_url=chain.url, manifest_path=manifest_path,
                                keystore_path=write_keystore(senders[0].account, tmp / "key.json", "demo node key"),
                                passphrase="demo node key", data_dir=tmp / "data")  # type: ignore[arg-type]
        node = NodeService.start(settings, artifacts)
        source = tmp / "residents.csv"
        with open(source, "w", newline="") as f:
            csv.writer(f).writerows([("name", "id_number", "phone", "address", "visits"), *PEOPLE])
        with node.sessions() as session:
            dataset = register_dataset(session, department=DEPARTMENTS[0], code="residents-2026", name="Residents",
                                       category="population", grade=3, update_interval=86400)
            version = register_version(session, dataset_id=dataset.dataset_id, path=source)
            session.commit()
        node.outbox.run_until_idle()
        print(f"   dataset {dataset.dataset_id}\n   content root {version.content_root}, "
              f"{version.record_count} records, schema {version.schema}")

        step("a consumer asks for access; the bureau approves; the coordinator co-approves (grade 3)")
        grant = secrets.token_bytes(32)
        ds = bytes.fromhex(dataset.dataset_id[2:])
        scope = 0b10001  # name and visits in the clear; the rest masked
        consumer.grants.request_access(grant, dataset_id=ds, purpose_hash=hashlib.sha256(b"public health study").digest(),
                                       field_scope=scope, actions=Action.mask(Action.DOWNLOAD), duration=86400, max_uses=3)
        bureau.grants.approve(grant, price_per_use=5)
        print(f"   after the owner: {bureau.grants.grant(grant).status.name}")
        bureau.grants.co_approve(grant)
        print(f"   after the coordinator: {bureau.grants.grant(grant).status.name}")

        step("delivery: masked outside the grant's scope, fingerprinted, encrypted to the consumer")
        allowed = scope_fields(scope, version.schema)
        plan = MaskPlan({"name": FieldClass.NAME, "id_number": FieldClass.ID_NUMBER, "phone": FieldClass.MOBILE,
                         "address": FieldClass.ADDRESS, "visits": FieldClass.PLAIN}, allowed)
        masked = io.BytesIO()
        with open(source, "rb") as f:
            mask_csv(f, masked, plan)
        node_key = secrets.token_bytes(32)
        deliveries = {}
        for name, who in (("consumer", consumer), ("consumer2", consumer2)):
            delivery_id = hashlib.sha256(grant + name.encode()).digest()
            copy = io.BytesIO()
            stats = fingerprint_csv(csv.reader(io.StringIO(masked.getvalue().decode())), copy, node_key, delivery_id)
            deliveries[delivery_id] = (name, copy.getvalue(), stats.sha256)
        delivery_id, (_, delivered, receipt) = next(iter(deliveries.items()))
        sealed, opened = io.BytesIO(), io.BytesIO()
        encrypt_stream(io.BytesIO(delivered), sealed, public_key_of(bytes(consumer.sender.account.key)))  # type: ignore[union-attr]
        decrypt_stream(io.BytesIO(sealed.getvalue()), opened, bytes(consumer.sender.account.key))  # type: ignore[union-attr]
        print("   consumer decrypts:", opened.getvalue() == delivered, "| first row:", delivered.decode().splitlines()[1])
        print(f"   receipt (hash of the bytes delivered) {receipt.hex()}")

        step("uses batched on-chain: 5 downloads on a 3-use grant")
        with node.sessions() as session:
            queue_uses(session, [UseRequest("0x" + hashlib.sha256(b"use %d" % i).hexdigest(), "0x" + grant.hex(),
                                            Action.DOWNLOAD, "0x" + receipt.hex()) for i in range(5)])
            session.commit()
        node.outbox.run_until_idle()
        print(f"   recorded on-chain: {bureau.usage.uses_of(grant)} of 5 (the rest refused, over quota)")

        step("the dataset's history, from the index of the chain")
        Indexer(node.sessions, node.ledger, confirmations=1).catch_up()
        with node.sessions() as session:
            rows = session.scalars(select(ChainEventRow).where(
                (ChainEventRow.dataset_id == dataset.dataset_id) | (ChainEventRow.grant_id == "0x" + grant.hex()))
                .order_by(ChainEventRow.block_number, ChainEventRow.log_index)).all()
            for row in rows:
                print(f"   block {row.block_number:>4}  {row.contract:<13} {row.name}")
            step("verification against the chain")
            failed = [r for r in (verify_event_row(session, node.ledger, row.id) for row in rows) if not r.ok]
            print(f"   {len(rows)} indexed events verified, {len(failed)} failed")
            print("  ", verify_version_files(session, node.ledger, version.id))
            data = bytearray(source.read_bytes())
            data[len(data) // 2] ^= 0x01
            source.write_bytes(bytes(data))
            print("   after changing one byte:", verify_version_files(session, node.ledger, version.id))

        step("a copy leaks: whose was it?")
        name, leaked, _ = deliveries[delivery_id]
        half = leaked[: len(leaked) // 2]
        found = attribute(io.BytesIO(half), "csv", node_key, deliveries)
        print(f"   half of {name}'s copy -> {deliveries[found.delivery_id][0]} "
              f"(score {found.score:.2f}, confident {found.confident})")
        node.close()
        ok = not failed and found.delivery_id == delivery_id and found.confident
        print("\nstory complete" if ok else "\nstory FAILED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
