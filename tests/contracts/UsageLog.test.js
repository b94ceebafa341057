// UsageLog: each use is checked against its grant, alone (recordUse) or in batches (recordUses).
// Settlement statements are in UsageLog.settlement.test.js.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { anyValue } = require("@nomicfoundation/hardhat-chai-matchers/withArgs");
const {
  deployWithGrant, addServiceAccount, datasetInput, requestInput, datasetIdOf, grantIdOf, id, hash, actionBits, Action, Refusal, DEPT_A,
} = require("./fixture");
const { shouldCheckEachUseAgainstItsGrant, singleUse, batchOfOne, use, freshId, REASON } = require("./UsageLog.behavior");

const QUOTA = 3;
const EVERY_ACTION = actionBits(...Object.values(Action));

// deployWithGrant's active grade-1 grant (Query, Download, Analyse; 100 uses), plus: a second
// service account of DEPT_A, an active grant allowing every action with a quota of three, a
// pending request, and a grade-3 grant the owner approved that awaits the coordinator.
async function deployForUsage() {
  const s = await deployWithGrant();
  await addServiceAccount(s.consortium, s.deptA, s.spare);

  const fullGrant = grantIdOf(s.consumer, id("grant-full"));
  await s.grants.connect(s.consumer).requestAccess(id("grant-full"), requestInput(s.datasetId, { actions: EVERY_ACTION, maxUses: QUOTA }));
  await s.grants.connect(s.deptA).approve(fullGrant, REASON, 0);

  const pendingGrant = grantIdOf(s.consumer, id("grant-pending"));
  await s.grants.connect(s.consumer).requestAccess(id("grant-pending"), requestInput(s.datasetId));

  const sensitiveId = datasetIdOf(DEPT_A, id("medical-records"));
  await s.registry.connect(s.deptA).registerDataset(id("medical-records"), datasetInput({ grade: 3 }));
  const sensitiveGrant = grantIdOf(s.consumer, id("grant-sensitive"));
  await s.grants.connect(s.consumer).requestAccess(id("grant-sensitive"), requestInput(sensitiveId));
  await s.grants.connect(s.deptA).approve(sensitiveGrant, REASON, 0);

  return { ...s, fullGrant, pendingGrant, sensitiveId, sensitiveGrant, quota: QUOTA };
}

// The usage events of a transaction in log order, reduced to what the batch tests compare.
async function usageEvents(usage, tx) {
  const receipt = await (await tx).wait();
  return receipt.logs
    .filter((log) => log.address === usage.target)
    .map((log) => usage.interface.parseLog(log))
    .map((e) => {
      if (e.name === "UseRecorded") return ["UseRecorded", e.args.grantId, Number(e.args.sequence)];
      if (e.name === "UseRefused") return ["UseRefused", e.args.grantId, Number(e.args.reason)];
      return [e.name, e.args.batchId, Number(e.args.recorded), Number(e.args.refused)];
    });
}

describe("UsageLog", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deployForUsage));
  });

  describe("recordUse", function () {
    shouldCheckEachUseAgainstItsGrant(singleUse);

    it("returns the use's sequence number", async function () {
      const { usage, deptA, grantId } = this;
      await usage.connect(deptA).recordUse(freshId("use"), use(grantId, "Query"));
      expect(await usage.connect(deptA).recordUse.staticCall(freshId("use"), use(grantId, "Query"))).to.equal(2);
    });

    it("counts the uses of each grant apart", async function () {
      const { usage, deptA, grantId, fullGrant } = this;
      await usage.connect(deptA).recordUse(freshId("use"), use(grantId, "Query"));
      await usage.connect(deptA).recordUse(freshId("use"), use(grantId, "Query"));
      await usage.connect(deptA).recordUse(freshId("use"), use(fullGrant, "Query"));
      expect([await usage.usesOf(grantId), await usage.usesOf(fullGrant), await usage.usesOf(id("other"))]).to.deep.equal([2n, 1n, 0n]);
    });

    it("refuses a use id the caller recorded already, as a use or as a batch", async function () {
      const { usage, deptA, grantId } = this;
      const [useId, batchId] = [freshId("use"), freshId("batch")];
      await usage.connect(deptA).recordUse(useId, use(grantId, "Query"));
      await usage.connect(deptA).recordUses(batchId, [use(grantId, "Query")]);
      for (const reused of [useId, batchId]) {
        await expect(usage.connect(deptA).recordUse(reused, use(grantId, "Download")))
          .to.be.revertedWithCustomError(usage, "UsageIdUsed")
          .withArgs(deptA.address, reused);
      }
      expect(await usage.usesOf(grantId)).to.equal(2);
    });

    it("keeps each caller's ids apart: an id another caller used is still free", async function () {
      const { usage, deptA, spare, consumer, grantId, datasetId } = this;
      const useId = freshId("use");
      await usage.connect(consumer).recordUse(useId, use(grantId, "Analyse"));
      for (const [caller, sequence] of [[deptA, 2], [spare, 3]]) {
        await expect(usage.connect(caller).recordUse(useId, use(grantId, "Query")))
          .to.emit(usage, "UseRecorded")
          .withArgs(grantId, datasetId, caller.address, Action.Query, anyValue, sequence);
      }
      for (const caller of [consumer, deptA, spare]) expect(await usage.idUsed(caller.address, useId)).to.equal(true);
      expect(await usage.idUsed(this.deptB.address, useId)).to.equal(false);
    });

    it("checks the grantee's registration only after the caller, a revocation and the grant's status", async function () {
      const { usage, grants, consortium, deptA, deptB, consumer, coordinator, grantId, pendingGrant } = this;
      await consortium.connect(deptA).removeConsumer(consumer.address);
      const u = use(grantId, "Query");
      await expect(usage.connect(deptB).recordUse(freshId("use"), u))
        .to.be.revertedWithCustomError(usage, "UsageCallerNotAllowed").withArgs(deptB.address, grantId, Action.Query);
      await expect(usage.connect(deptA).recordUse(freshId("use"), use(pendingGrant, "Query")))
        .to.be.revertedWithCustomError(usage, "UsageGrantNotActive").withArgs(pendingGrant, 1);
      await grants.connect(coordinator).revoke(grantId, REASON);
      await expect(usage.connect(deptA).recordUse(freshId("use"), u))
        .to.be.revertedWithCustomError(usage, "UsageGrantRevoked").withArgs(grantId);
    });

    it("refuses a zero use id", async function () {
      const { usage, deptA, grantId } = this;
      await expect(usage.connect(deptA).recordUse(ethers.ZeroHash, use(grantId, "Query")))
        .to.be.revertedWithCustomError(usage, "UsageInvalidId")
        .withArgs(ethers.ZeroHash);
    });

    it("leaves the id of a refused use free for the retry", async function () {
      const { usage, registry, deptA, coordinator, grantId, datasetId } = this;
      const useId = freshId("use");
      await registry.connect(coordinator).freeze(datasetId, REASON);
      await expect(usage.connect(deptA).recordUse(useId, use(grantId, "Query"))).to.be.revertedWithCustomError(usage, "UsageDatasetFrozen");
      expect(await usage.idUsed(deptA.address, useId)).to.equal(false);
      await registry.connect(coordinator).unfreeze(datasetId, REASON);
      await expect(usage.connect(deptA).recordUse(useId, use(grantId, "Query"))).to.emit(usage, "UseRecorded");
      expect(await usage.idUsed(deptA.address, useId)).to.equal(true);
    });
  });

  describe("recordUses", function () {
    shouldCheckEachUseAgainstItsGrant(batchOfOne);

    it("returns how many uses it recorded", async function () {
      const { usage, deptA, grantId } = this;
      const uses = [use(grantId, "Query"), use(id("no-such-grant"), "Query"), use(grantId, "Download")];
      expect(await usage.connect(deptA).recordUses.staticCall(freshId("batch"), uses)).to.equal(2);
    });

    it("refuses an empty batch", async function () {
      const { usage, deptA } = this;
      const batchId = freshId("batch");
      await expect(usage.connect(deptA).recordUses(batchId, []))
        .to.be.revertedWithCustomError(usage, "UsageEmptyBatch")
        .withArgs(batchId);
      expect(await usage.idUsed(deptA.address, batchId)).to.equal(false);
    });

    it("refuses a zero batch id", async function () {
      const { usage, deptA, grantId } = this;
      await expect(usage.connect(deptA).recordUses(ethers.ZeroHash, [use(grantId, "Query")]))
        .to.be.revertedWithCustomError(usage, "UsageInvalidId")
        .withArgs(ethers.ZeroHash);
    });

    it("refuses a batch id the caller recorded already, as a batch or as a use, even if that batch refused every use", async function () {
      const { usage, deptA, grantId } = this;
      const [refusedBatch, useId] = [freshId("batch"), freshId("use")];
      await usage.connect(deptA).recordUses(refusedBatch, [use(id("no-such-grant"), "Query")]);
      await usage.connect(deptA).recordUse(useId, use(grantId, "Query"));
      for (const reused of [refusedBatch, useId]) {
        await expect(usage.connect(deptA).recordUses(reused, [use(grantId, "Download")]))
          .to.be.revertedWithCustomError(usage, "UsageIdUsed")
          .withArgs(deptA.address, reused);
      }
      expect(await usage.usesOf(grantId)).to.equal(1);
    });

    it("records the uses within quota and refuses the rest of the same batch", async function () {
      const { usage, deptA, fullGrant, datasetId } = this;
      const batchId = freshId("batch");
      const uses = Array.from({ length: QUOTA + 2 }, () => use(fullGrant, "Download"));
      const tx = usage.connect(deptA).recordUses(batchId, uses);
      await expect(tx)
        .to.emit(usage, "UseRecorded")
        .withArgs(fullGrant, datasetId, deptA.address, Action.Download, uses[QUOTA - 1].evidenceHash, QUOTA);
      await expect(tx)
        .to.emit(usage, "UseRefused")
        .withArgs(fullGrant, deptA.address, Action.Download, uses[QUOTA + 1].evidenceHash, Refusal.QuotaExhausted);
      expect(await usageEvents(usage, tx)).to.deep.equal([
        ["UseRecorded", fullGrant, 1],
        ["UseRecorded", fullGrant, 2],
        ["UseRecorded", fullGrant, 3],
        ["UseRefused", fullGrant, Refusal.QuotaExhausted],
        ["UseRefused", fullGrant, Refusal.QuotaExhausted],
        ["UsesBatchRecorded", batchId, 3, 2],
      ]);
      expect(await usage.usesOf(fullGrant)).to.equal(QUOTA);
    });

    it("continues the quota count from earlier batches", async function () {
      const { usage, deptA, fullGrant } = this;
      await usage.connect(deptA).recordUses(freshId("batch"), [use(fullGrant, "Query"), use(fullGrant, "Query")]);
      const batchId = freshId("batch");
      const tx = usage.connect(deptA).recordUses(batchId, [use(fullGrant, "Query"), use(fullGrant, "Query")]);
      expect(await usageEvents(usage, tx)).to.deep.equal([
        ["UseRecorded", fullGrant, 3],
        ["UseRefused", fullGrant, Refusal.QuotaExhausted],
        ["UsesBatchRecorded", batchId, 1, 1],
      ]);
    });

    it("numbers runs of uses of several grants per grant", async function () {
      const { usage, deptA, grantId, fullGrant, sensitiveGrant, coordinator } = this;
      await this.grants.connect(coordinator).coApprove(sensitiveGrant, REASON);
      const batchId = freshId("batch");
      const [A, B, C] = [grantId, fullGrant, sensitiveGrant];
      const tx = usage.connect(deptA).recordUses(batchId, [A, A, B, B, C].map((g) => use(g, "Query")));
      expect(await usageEvents(usage, tx)).to.deep.equal([
        ["UseRecorded", A, 1],
        ["UseRecorded", A, 2],
        ["UseRecorded", B, 1],
        ["UseRecorded", B, 2],
        ["UseRecorded", C, 1],
        ["UsesBatchRecorded", batchId, 5, 0],
      ]);
      expect([await usage.usesOf(A), await usage.usesOf(B), await usage.usesOf(C)]).to.deep.equal([2n, 2n, 1n]);
    });

    it("carries each grant's count and quota across interleaved uses of several grants", async function () {
      const { usage, deptA, grantId, fullGrant } = this;
      const batchId = freshId("batch");
      const [A, B] = [grantId, fullGrant];
      const tx = usage.connect(deptA).recordUses(batchId, [B, A, B, A, B, A, B].map((g) => use(g, "Query")));
      expect(await usageEvents(usage, tx)).to.deep.equal([
        ["UseRecorded", B, 1],
        ["UseRecorded", A, 1],
        ["UseRecorded", B, 2],
        ["UseRecorded", A, 2],
        ["UseRecorded", B, 3],
        ["UseRecorded", A, 3],
        ["UseRefused", B, Refusal.QuotaExhausted],
        ["UsesBatchRecorded", batchId, 6, 1],
      ]);
      expect([await usage.usesOf(A), await usage.usesOf(B)]).to.deep.equal([3n, 3n]);
    });

    it("records the valid uses of a mixed batch and logs each refused one with its reason", async function () {
      const { usage, grants, deptA, coordinator, grantId, fullGrant, pendingGrant, sensitiveGrant } = this;
      await grants.connect(coordinator).revoke(fullGrant, REASON);
      const batchId = freshId("batch");
      const uses = [
        use(grantId, "Query"),
        use(id("no-such-grant"), "Query"),
        use(pendingGrant, "Query"),
        use(grantId, "Analyse"),
        use(fullGrant, "Download"),
        use(sensitiveGrant, "Download"),
        use(grantId, "Download"),
      ];
      const tx = usage.connect(deptA).recordUses(batchId, uses);
      await expect(tx)
        .to.emit(usage, "UseRefused")
        .withArgs(grantId, deptA.address, Action.Analyse, uses[3].evidenceHash, Refusal.CallerNotAllowed);
      expect(await usageEvents(usage, tx)).to.deep.equal([
        ["UseRecorded", grantId, 1],
        ["UseRefused", id("no-such-grant"), Refusal.UnknownGrant],
        ["UseRefused", pendingGrant, Refusal.NotActive],
        ["UseRefused", grantId, Refusal.CallerNotAllowed],
        ["UseRefused", fullGrant, Refusal.Revoked],
        ["UseRefused", sensitiveGrant, Refusal.NotActive],
        ["UseRecorded", grantId, 2],
        ["UsesBatchRecorded", batchId, 2, 5],
      ]);
      expect(await usage.usesOf(grantId)).to.equal(2);
      expect(await usage.idUsed(deptA.address, batchId)).to.equal(true);
    });
  });
});
