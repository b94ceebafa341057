// Gas used by every external write of the suite, and gas per use of `recordUses` by batch size.
// Run with `make gas` (npx hardhat run scripts/gas.js); prints a table and writes build/gas.json.
// Fails when a batch of 100 uses of one grant costs more than GAS_PER_USE_TARGET per use.
const fs = require("fs");
const path = require("path");
const { ethers } = require("hardhat");
const f = require("../tests/contracts/fixture");

const GAS_PER_USE_TARGET = 8000;
const rows = [];

async function measure(label, txPromise, perUse = 0) {
  const receipt = await (await txPromise).wait();
  const gas = Number(receipt.gasUsed);
  rows.push({ call: label, gas, perUse: perUse ? Math.round(gas / perUse) : null });
  return receipt;
}

const uses = (grantIds, n) =>
  Array.from({ length: n }, (_, i) => ({
    grantId: grantIds[i % grantIds.length],
    action: f.Action.Download,
    evidenceHash: ethers.sha256(ethers.toUtf8Bytes(`delivery ${i}`)),
  })).sort((a, b) => (a.grantId < b.grantId ? -1 : a.grantId > b.grantId ? 1 : 0));

async function grantsFor(s, datasetId, count, tag) {
  const ids = [];
  for (let i = 0; i < count; i++) {
    const grantId = f.grantIdOf(s.consumer, f.id(`${tag}-${i}`));
    await s.grants.connect(s.consumer).requestAccess(f.id(`${tag}-${i}`), f.requestInput(datasetId, { maxUses: 1_000_000 }));
    await s.grants.connect(s.deptA).approve(grantId, f.hash("ok"), 0);
    ids.push(grantId);
  }
  return ids;
}

async function main() {
  const s = await f.deploySuite();
  const { consortium, registry, grants, usage, anchors, quality, deptA, deptB, consumer, coordinator } = s;

  await measure("Consortium.proposeAdmission", consortium.connect(deptA).proposeAdmission(
    f.id("p1"), f.id("water-authority"), "Water Authority", s.spare.address, s.signers[12].address));
  const p1 = await consortium.proposalIdOf(deptA.address, f.id("p1"));
  await measure("Consortium.vote", consortium.connect(deptA).vote(p1));
  await consortium.connect(deptB).vote(p1);
  await measure("Consortium.execute (admit)", consortium.connect(deptA).execute(p1));
  await measure("Consortium.registerConsumer", consortium.connect(deptA).registerConsumer(s.signers[13].address, f.hash("p")));
  await measure("Consortium.offerServiceAccount", consortium.connect(deptB).offerServiceAccount(s.signers[14].address));
  await measure("Consortium.acceptServiceAccount", consortium.connect(s.signers[14]).acceptServiceAccount(f.DEPT_B));

  const datasetId = f.datasetIdOf(f.DEPT_A, f.id("census-2026"));
  // Catalog texts as a node writes them for a 12-field table with 4 personal fields (about 400 and 220 bytes).
  const fields = ["姓名", "身份证号", "手机号", "住址", "district", "age_band", "household_size", "visits", "year", "month", "hospital", "ward"];
  const metadata = JSON.stringify({
    catalog: { description: "门诊人次, per person, hospital and month", keywords: ["health", "visits"], license: "CC-BY-4.0", language: "zh" },
    category: "health", department: "health-commission", field_classes: { 住址: "address", 姓名: "name", 手机号: "mobile", 身份证号: "id_number" },
    grade: 3, key_fields: ["身份证号"], name: "门诊人次 2026", update_interval: 86400,
  });
  const schema = JSON.stringify({ fields, format: "csv", media_type: "text/csv", record_count: 1_000_000, size_bytes: 1 << 30 });
  const [m, sc] = [Buffer.byteLength(metadata), Buffer.byteLength(schema)];
  await measure("DataRegistry.registerDataset (2-byte text)", registry.connect(deptA).registerDataset(f.id("bare"), f.datasetInput({ metadata: "{}" })));
  await measure(`DataRegistry.registerDataset (${m}-byte text)`, registry.connect(deptA).registerDataset(f.id("census-2026"), f.datasetInput({ metadata })));
  await measure(`DataRegistry.updateMetadata (${m}-byte text)`, registry.connect(deptA).updateMetadata(datasetId, metadata.replace("2026", "2027")));
  await measure(`DataRegistry.addVersion (${sc}-byte schema)`, registry.connect(deptA).addVersion(datasetId, f.hash("root v1"), schema, 1 << 30, 1_000_000));
  await measure("DataRegistry.freeze", registry.connect(deptA).freeze(datasetId, f.hash("incident")));
  await measure("DataRegistry.unfreeze", registry.connect(deptA).unfreeze(datasetId, f.hash("resolved")));

  const [g, g3] = [f.grantIdOf(consumer, f.id("g")), f.grantIdOf(consumer, f.id("g3"))];
  await measure("AccessGrants.requestAccess", grants.connect(consumer).requestAccess(f.id("g"), f.requestInput(datasetId)));
  // A purpose of 100 Chinese characters (300 bytes) costs its calldata and event data.
  await measure("AccessGrants.requestAccess (300-byte purpose)", grants.connect(consumer).requestAccess(
    f.id("g-long"), f.requestInput(datasetId, { purpose: "用于社区卫生服务规划的居民健康档案核查".repeat(6).slice(0, 100) })));
  const bounds = JSON.stringify({ 年龄: [0, 120], 家庭人口: [1, 12] });
  const privacy = { epsilonBudget: 10_000_000, epsilonCap: 1_000_000, minGroupSize: 10, bounds };
  const gq = f.grantIdOf(consumer, f.id("gq"));
  await measure(`AccessGrants.requestQueryAccess (${Buffer.byteLength(bounds)}-byte bounds)`,
    grants.connect(consumer).requestQueryAccess(f.id("gq"), f.requestInput(datasetId, { maxUses: 1000 }), privacy));
  await grants.connect(deptA).approve(gq, f.hash("ok"), 0);
  await measure("AccessGrants.approve (grade 1)", grants.connect(deptA).approve(g, f.hash("ok"), 5));
  const sensitive = f.datasetIdOf(f.DEPT_A, f.id("medical-records"));
  await registry.connect(deptA).registerDataset(f.id("medical-records"), f.datasetInput({ grade: 3 }));
  await grants.connect(consumer).requestAccess(f.id("g3"), f.requestInput(sensitive));
  await measure("AccessGrants.approve (grade 3)", grants.connect(deptA).approve(g3, f.hash("ok"), 0));
  await measure("AccessGrants.coApprove", grants.connect(coordinator).coApprove(g3, f.hash("ok")));
  await measure("AccessGrants.revoke", grants.connect(deptA).revoke(g3, f.hash("misuse")));
  const orphan = s.signers[13];
  await grants.connect(orphan).requestAccess(f.id("orphaned"), f.requestInput(datasetId));
  await consortium.connect(deptA).removeConsumer(orphan.address);
  await measure("AccessGrants.lapse", grants.connect(deptB).lapse(f.grantIdOf(orphan, f.id("orphaned"))));

  await measure("UsageLog.recordUse", usage.connect(deptA).recordUse(f.id("u1"),
    { grantId: g, action: f.Action.Download, evidenceHash: f.hash("bytes") }));
  const oneGrant = await grantsFor(s, datasetId, 1, "bench");
  const tenGrants = await grantsFor(s, datasetId, 10, "bench10");
  for (const n of [1, 10, 100]) {
    await measure(`UsageLog.recordUses x${n} (1 grant)`, usage.connect(deptA).recordUses(f.id(`b1-${n}`), uses(oneGrant, n)), n);
  }
  const queries = (n, tag) => Array.from({ length: n }, (_, i) => ({
    grantId: gq, queryHash: f.hash(`${tag} query ${i}`), resultHash: f.hash(`${tag} result ${i}`), epsilon: 100_000, rowsScanned: 1_000_000,
  }));
  for (const n of [1, 10]) {
    await measure(`UsageLog.recordQueries x${n} (1 grant)`, usage.connect(deptA).recordQueries(f.id(`q-${n}`), queries(n, `q${n}`)), n);
  }
  const refusals = (n, tag) => Array.from({ length: n }, (_, i) => ({ grantId: gq, queryHash: f.hash(`${tag} refused ${i}`), reason: 1 }));
  for (const n of [1, 10, 100]) {
    await measure(`UsageLog.recordRefusedQueries x${n} (1 grant)`, usage.connect(deptA).recordRefusedQueries(f.id(`r-${n}`), refusals(n, `r${n}`)), n);
  }
  await measure("UsageLog.recordUses x100 (10 grants)", usage.connect(deptA).recordUses(f.id("b10"), uses(tenGrants, 100)), 100);
  const statement = {
    statementId: f.id("st-1"), ownerDepartment: f.DEPT_A, consumer: consumer.address,
    periodStart: 0, periodEnd: 86400, amount: 500, statementHash: f.hash("statement"),
  };
  await measure("UsageLog.acknowledgeStatement (1st side)", usage.connect(deptA).acknowledgeStatement(statement));
  await measure("UsageLog.acknowledgeStatement (2nd side)", usage.connect(consumer).acknowledgeStatement(statement));

  await measure("AnchorRegistry.anchor", anchors.connect(deptA).anchor(f.hash("root"), 1_000_000, f.AnchorKind.DeliveryReceipts));
  await measure("AnchorRegistry.publishText (100 bytes)", anchors.connect(deptA).publishText("r".repeat(100)));
  await measure("AnchorRegistry.publishText (4 KiB report)", anchors.connect(coordinator).publishText("q".repeat(4096)));

  const issueId = f.issueIdOf(coordinator, f.id("q1"));
  await measure("QualityBoard.openIssue", quality.connect(coordinator).openIssue(f.id("q1"), datasetId, 1, f.hash("report")));
  await measure("QualityBoard.returnToSource", quality.connect(coordinator).returnToSource(issueId, f.hash("note")));
  await registry.connect(deptA).addVersion(datasetId, f.hash("root v2"), "schema", 1 << 30, 1_000_000);
  await measure("QualityBoard.submitRepair", quality.connect(deptA).submitRepair(issueId, 2, f.hash("fixed")));
  await measure("QualityBoard.verifyAndClose", quality.connect(coordinator).verifyAndClose(issueId, f.hash("ok")));

  const width = Math.max(...rows.map((r) => r.call.length));
  console.log(`${"call".padEnd(width)}  ${"gas".padStart(9)}  ${"gas/use".padStart(8)}`);
  for (const r of rows) {
    console.log(`${r.call.padEnd(width)}  ${String(r.gas).padStart(9)}  ${r.perUse === null ? "" : String(r.perUse).padStart(8)}`);
  }
  const batch100 = rows.find((r) => r.call === "UsageLog.recordUses x100 (1 grant)").perUse;
  console.log(`\ngas per use in batches of 100: ${batch100} (target <= ${GAS_PER_USE_TARGET}; one transaction per use: ` +
    `${rows.find((r) => r.call === "UsageLog.recordUse").gas})`);
  const out = path.join(__dirname, "..", "build", "gas.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ rows, gasPerUseBatch100: batch100 }, null, 2));
  if (batch100 > GAS_PER_USE_TARGET) {
    console.error(`gas per use in batches of 100 is over the target of ${GAS_PER_USE_TARGET}`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
