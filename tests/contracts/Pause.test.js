// The emergency pause: every state-changing function of every contract bound to the Consortium
// refuses to run while the coordinator has paused it, and runs again once unpaused.
const { expect } = require("chai");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deployWithGrant, datasetInput, requestInput, datasetIdOf, grantIdOf, issueIdOf, id, hash, Action, AnchorKind, DEPT_A } = require("./fixture");
const { shouldRefuseWhilePaused } = require("./pause.behavior");

const NOTE = hash("note");
const [FROZEN, SENSITIVE] = [datasetIdOf(DEPT_A, id("frozen")), datasetIdOf(DEPT_A, id("grade-3"))];
// Codes of the issues the coordinator opens; their ids (`issues[code]`) derive from its address.
const [OPEN_ISSUE, RETURNED_ISSUE, REPAIRED_ISSUE] = [id("issue-open"), id("issue-returned"), id("issue-repaired")];

const statementInput = (consumer, statementId) => ({
  statementId,
  ownerDepartment: DEPT_A,
  consumer: consumer.address,
  periodStart: 1782864000n,
  periodEnd: 1790812800n,
  amount: 125000n,
  statementHash: hash(`statement ${statementId}`),
});
const ISSUED = id("statement-issued");

// On top of deployWithGrant (dataset of DEPT_A with one version, active grant to `consumer`):
// a second version, a frozen dataset, a pending request, a grade-3 request awaiting
// co-approval, a grant whose grantee its sponsor removed, a statement the owner issued, and
// quality issues Open, Returned and Repaired.
async function deployEveryState() {
  const s = await deployWithGrant();
  const { registry, grants, usage, quality, consortium, deptA, deptB, consumer, coordinator, datasetId } = s;
  const removed = s.signers[12];
  const [PENDING, AWAITING, ORPHANED] = [grantIdOf(consumer, id("pending")), grantIdOf(consumer, id("awaiting")), grantIdOf(removed, id("orphaned"))];
  await registry.connect(deptA).addVersion(datasetId, hash("root v2"), "schema v1", 2048, 20);
  await registry.connect(deptA).registerDataset(id("frozen"), datasetInput());
  await registry.connect(deptA).freeze(FROZEN, NOTE);
  await registry.connect(deptA).registerDataset(id("grade-3"), datasetInput({ grade: 3 }));
  await grants.connect(consumer).requestAccess(id("pending"), requestInput(datasetId));
  await grants.connect(consumer).requestAccess(id("awaiting"), requestInput(SENSITIVE));
  await grants.connect(deptA).approve(AWAITING, NOTE, 0);
  await consortium.connect(deptB).registerConsumer(removed.address, hash("profile"));
  await grants.connect(removed).requestAccess(id("orphaned"), requestInput(datasetId));
  await consortium.connect(deptB).removeConsumer(removed.address);
  await usage.connect(deptA).acknowledgeStatement(statementInput(consumer, ISSUED));
  const issues = {};
  for (const code of [OPEN_ISSUE, RETURNED_ISSUE, REPAIRED_ISSUE]) {
    await quality.connect(coordinator).openIssue(code, datasetId, 1, NOTE);
    issues[code] = issueIdOf(coordinator, code);
  }
  for (const code of [RETURNED_ISSUE, REPAIRED_ISSUE]) await quality.connect(coordinator).returnToSource(issues[code], NOTE);
  await quality.connect(deptA).submitRepair(issues[REPAIRED_ISSUE], 2, NOTE);
  return { ...s, issues, PENDING, AWAITING, ORPHANED };
}

const use = (t, action) => ({ grantId: t.grantId, action, evidenceHash: hash(`delivered ${action}`) });

// Per fixture contract: one call per state-changing function (a second case of a function
// takes a description after its name), each valid on the unpaused ledger.
const WRITES = {
  registry: {
    registerDataset: (t) => t.registry.connect(t.deptA).registerDataset(id("new-dataset"), datasetInput()),
    setRights: (t) => t.registry.connect(t.deptA).setRights(t.datasetId, datasetInput({ usage: [] }).rights),
    updateMetadata: (t) => t.registry.connect(t.deptA).updateMetadata(t.datasetId, "new catalog entry"),
    addVersion: (t) => t.registry.connect(t.deptA).addVersion(t.datasetId, hash("root v3"), "schema v1", 1, 1),
    "freeze by the owner": (t) => t.registry.connect(t.deptA).freeze(t.datasetId, NOTE),
    "freeze by the coordinator": (t) => t.registry.connect(t.coordinator).freeze(t.datasetId, NOTE),
    unfreeze: (t) => t.registry.connect(t.deptA).unfreeze(FROZEN, NOTE),
    purgeVersion: (t) => t.registry.connect(t.deptA).purgeVersion(t.datasetId, 1, NOTE, NOTE),
  },
  grants: {
    requestAccess: (t) => t.grants.connect(t.consumer2).requestAccess(id("new-request"), requestInput(t.datasetId)),
    requestQueryAccess: (t) => t.grants.connect(t.consumer2).requestQueryAccess(id("new-query-request"), requestInput(t.datasetId),
      { epsilonBudget: 1_000_000, epsilonCap: 500_000, minGroupSize: 5, bounds: "{}" }),
    approve: (t) => t.grants.connect(t.deptA).approve(t.PENDING, NOTE, 0),
    coApprove: (t) => t.grants.connect(t.coordinator).coApprove(t.AWAITING, NOTE),
    reject: (t) => t.grants.connect(t.deptA).reject(t.PENDING, NOTE),
    withdraw: (t) => t.grants.connect(t.consumer).withdraw(t.PENDING),
    revoke: (t) => t.grants.connect(t.deptA).revoke(t.grantId, NOTE),
    lapse: (t) => t.grants.connect(t.outsider).lapse(t.ORPHANED),
  },
  usage: {
    recordUse: (t) => t.usage.connect(t.deptA).recordUse(id("use-1"), use(t, Action.Query)),
    recordUses: (t) => t.usage.connect(t.deptA).recordUses(id("batch-1"), [use(t, Action.Query), use(t, Action.Download)]),
    // Refused per query (no privacy terms) when unpaused, but the pause check comes first.
    recordQueries: (t) => t.usage.connect(t.deptA).recordQueries(id("queries-1"),
      [{ grantId: t.grantId, queryHash: hash("q"), resultHash: hash("r"), epsilon: 1, rowsScanned: 1 }]),
    recordRefusedQueries: (t) => t.usage.connect(t.deptA).recordRefusedQueries(id("refused-1"),
      [{ grantId: t.grantId, queryHash: hash("q"), reason: 0 }]),
    "acknowledgeStatement by the owner": (t) => t.usage.connect(t.deptA).acknowledgeStatement(statementInput(t.consumer, id("statement-new"))),
    "acknowledgeStatement by the consumer": (t) => t.usage.connect(t.consumer).acknowledgeStatement(statementInput(t.consumer, ISSUED)),
  },
  anchors: {
    anchor: (t) => t.anchors.connect(t.deptA).anchor(hash("a batch of receipts"), 16, AnchorKind.DeliveryReceipts),
    publishText: (t) => t.anchors.connect(t.consumer).publishText("the reason for a decision"),
  },
  quality: {
    openIssue: (t) => t.quality.connect(t.auditor).openIssue(id("issue-new"), t.datasetId, 2, NOTE),
    returnToSource: (t) => t.quality.connect(t.coordinator).returnToSource(t.issues[OPEN_ISSUE], NOTE),
    submitRepair: (t) => t.quality.connect(t.deptA).submitRepair(t.issues[RETURNED_ISSUE], 2, NOTE),
    verifyAndClose: (t) => t.quality.connect(t.coordinator).verifyAndClose(t.issues[REPAIRED_ISSUE], NOTE),
    reopen: (t) => t.quality.connect(t.coordinator).reopen(t.issues[REPAIRED_ISSUE], NOTE),
  },
};
const NAMES = { registry: "DataRegistry", grants: "AccessGrants", usage: "UsageLog", anchors: "AnchorRegistry", quality: "QualityBoard" };

describe("Pause", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deployEveryState));
  });

  for (const [key, writes] of Object.entries(WRITES)) {
    describe(NAMES[key], function () {
      it("has every state-changing function covered here", async function () {
        const writers = [];
        this[key].interface.forEachFunction((f) => {
          if (!f.constant) writers.push(f.name);
        });
        const covered = new Set(Object.keys(writes).map((name) => name.split(" ")[0]));
        expect([...covered].sort()).to.deep.equal(writers.sort());
      });

      for (const [name, send] of Object.entries(writes)) {
        describe(name, function () {
          shouldRefuseWhilePaused((t) => ({ contract: t[key], send: () => send(t) }));
        });
      }
    });
  }
});
