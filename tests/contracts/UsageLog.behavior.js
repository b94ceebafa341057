// Cases shared by UsageLog.recordUse and UsageLog.recordUses: every use is checked against its
// grant the same way. A recorder says what "recorded" and "refused" mean for one entry point:
// recordUse emits UseRecorded or reverts with the custom error; a batch of one use emits
// UseRecorded or UseRefused(reason), then UsesBatchRecorded.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { time } = require("@nomicfoundation/hardhat-network-helpers");
const { id, hash, Action, GrantStatus, Refusal } = require("./fixture");

const REASON = hash("reason");
const OWNER_ACTIONS = ["Collect", "Store", "Manage", "Open", "Settle", "Query", "Download"];
const GRANTEE_ACTIONS = ["Share", "Analyse"];

let evidenceCount = 0;
function use(grantId, action) {
  evidenceCount += 1;
  return { grantId, action: Action[action], evidenceHash: hash(`delivered bytes ${evidenceCount}`) };
}

function shouldCheckEachUseAgainstItsGrant(recorder) {
  describe("checks each use against its grant", function () {
    it("records the owner's deliveries with the grant's next sequence numbers", async function () {
      await recorder.expectRecorded(this, this.deptA, use(this.grantId, "Query"), this.datasetId, 1);
      await recorder.expectRecorded(this, this.deptA, use(this.grantId, "Download"), this.datasetId, 2);
    });

    it("records the grantee's own analysis", async function () {
      await recorder.expectRecorded(this, this.consumer, use(this.grantId, "Analyse"), this.datasetId, 1);
    });

    it("refuses a use without a grant", async function () {
      const u = use(id("no-such-grant"), "Query");
      await recorder.expectRefused(this, this.deptA, u, Refusal.UnknownGrant, "UsageUnknownGrant", [u.grantId]);
    });

    for (const action of OWNER_ACTIONS) {
      it(`records ${action} by any service account of the owner department`, async function () {
        await recorder.expectRecorded(this, this.deptA, use(this.fullGrant, action), this.datasetId, 1);
        await recorder.expectRecorded(this, this.spare, use(this.fullGrant, action), this.datasetId, 2);
      });

      it(`refuses ${action} recorded by the consumer, another department or an outsider`, async function () {
        for (const account of [this.consumer, this.deptB, this.outsider]) {
          const u = use(this.fullGrant, action);
          await recorder.expectRefused(this, account, u, Refusal.CallerNotAllowed, "UsageCallerNotAllowed", [account.address, u.grantId, u.action]);
        }
      });
    }

    for (const action of GRANTEE_ACTIONS) {
      it(`records ${action} by the grantee`, async function () {
        await recorder.expectRecorded(this, this.consumer, use(this.fullGrant, action), this.datasetId, 1);
      });

      it(`refuses ${action} recorded by the owner department, another department, another consumer or an outsider`, async function () {
        for (const account of [this.deptA, this.deptB, this.consumer2, this.outsider]) {
          const u = use(this.fullGrant, action);
          await recorder.expectRefused(this, account, u, Refusal.CallerNotAllowed, "UsageCallerNotAllowed", [account.address, u.grantId, u.action]);
        }
      });
    }

    it("refuses an action the grant does not allow", async function () {
      const share = use(this.grantId, "Share");
      await recorder.expectRefused(this, this.consumer, share, Refusal.ActionNotGranted, "UsageActionNotGranted", [this.grantId, Action.Share]);
      const settle = use(this.grantId, "Settle");
      await recorder.expectRefused(this, this.deptA, settle, Refusal.ActionNotGranted, "UsageActionNotGranted", [this.grantId, Action.Settle]);
    });

    it("refuses uses of a revoked grant", async function () {
      await this.grants.connect(this.coordinator).revoke(this.grantId, REASON);
      await recorder.expectRefused(this, this.deptA, use(this.grantId, "Query"), Refusal.Revoked, "UsageGrantRevoked", [this.grantId]);
      await recorder.expectRefused(this, this.consumer, use(this.grantId, "Analyse"), Refusal.Revoked, "UsageGrantRevoked", [this.grantId]);
    });

    it("refuses uses of a request still pending review", async function () {
      const u = use(this.pendingGrant, "Query");
      await recorder.expectRefused(this, this.deptA, u, Refusal.NotActive, "UsageGrantNotActive", [u.grantId, GrantStatus.Pending]);
    });

    it("refuses uses of a grade-3 grant until the coordinator co-approves it", async function () {
      const u = use(this.sensitiveGrant, "Query");
      await recorder.expectRefused(this, this.deptA, u, Refusal.NotActive, "UsageGrantNotActive", [u.grantId, GrantStatus.AwaitingCoApproval]);
      await this.grants.connect(this.coordinator).coApprove(this.sensitiveGrant, REASON);
      await recorder.expectRecorded(this, this.deptA, use(this.sensitiveGrant, "Query"), this.sensitiveId, 1);
    });

    it("refuses uses of a rejected or a withdrawn request", async function () {
      await this.grants.connect(this.deptA).reject(this.pendingGrant, REASON);
      await this.grants.connect(this.consumer).withdraw(this.sensitiveGrant);
      for (const [grantId, status] of [[this.pendingGrant, GrantStatus.Rejected], [this.sensitiveGrant, GrantStatus.Withdrawn]]) {
        await recorder.expectRefused(this, this.deptA, use(grantId, "Query"), Refusal.NotActive, "UsageGrantNotActive", [grantId, status]);
      }
    });

    it("accepts a use up to the last second before expiry and refuses it from expiry on", async function () {
      const { expiresAt } = await this.grants.grant(this.grantId);
      await time.setNextBlockTimestamp(expiresAt - 1n);
      await recorder.expectRecorded(this, this.deptA, use(this.grantId, "Query"), this.datasetId, 1);
      await time.setNextBlockTimestamp(expiresAt);
      await recorder.expectRefused(this, this.deptA, use(this.grantId, "Query"), Refusal.Expired, "UsageGrantExpired", [this.grantId, expiresAt]);
    });

    it("refuses uses of a grant long expired", async function () {
      const { expiresAt } = await this.grants.grant(this.grantId);
      await time.increase(31n * 24n * 3600n);
      await recorder.expectRefused(this, this.consumer, use(this.grantId, "Analyse"), Refusal.Expired, "UsageGrantExpired", [this.grantId, expiresAt]);
    });

    it("refuses uses once the grantee is no longer registered, whoever records them", async function () {
      await this.consortium.connect(this.deptA).removeConsumer(this.consumer.address);
      await recorder.expectRefused(this, this.deptA, use(this.grantId, "Query"), Refusal.GranteeRemoved, "UsageGranteeRemoved", [this.grantId, this.consumer.address]);
      await recorder.expectRefused(this, this.consumer, use(this.grantId, "Analyse"), Refusal.GranteeRemoved, "UsageGranteeRemoved", [this.grantId, this.consumer.address]);
    });

    it("refuses uses of a frozen dataset until it is unfrozen", async function () {
      await this.registry.connect(this.coordinator).freeze(this.datasetId, REASON);
      await recorder.expectRefused(this, this.deptA, use(this.grantId, "Query"), Refusal.DatasetFrozen, "UsageDatasetFrozen", [this.datasetId]);
      await recorder.expectRefused(this, this.consumer, use(this.grantId, "Analyse"), Refusal.DatasetFrozen, "UsageDatasetFrozen", [this.datasetId]);
      await this.registry.connect(this.coordinator).unfreeze(this.datasetId, REASON);
      await recorder.expectRecorded(this, this.deptA, use(this.grantId, "Query"), this.datasetId, 1);
    });

    it("records up to the grant's quota, numbered 1..maxUses, and refuses any use beyond", async function () {
      for (let sequence = 1; sequence <= this.quota; sequence++) {
        await recorder.expectRecorded(this, this.deptA, use(this.fullGrant, "Download"), this.datasetId, sequence);
      }
      for (const [account, action] of [[this.deptA, "Query"], [this.consumer, "Analyse"]]) {
        await recorder.expectRefused(this, account, use(this.fullGrant, action), Refusal.QuotaExhausted, "UsageQuotaExhausted", [this.fullGrant, this.quota]);
      }
    });

    it("refuses every use while the ledger is paused", async function () {
      await this.consortium.connect(this.coordinator).pause(ethers.ZeroHash);
      await expect(recorder.send(this, this.deptA, use(this.grantId, "Query"))).to.be.revertedWithCustomError(this.usage, "ConsortiumIsPaused");
      await this.consortium.connect(this.coordinator).unpause(ethers.ZeroHash);
      await recorder.expectRecorded(this, this.deptA, use(this.grantId, "Query"), this.datasetId, 1);
    });
  });
}

let idCount = 0;
const freshId = (prefix) => id(`${prefix}-${++idCount}`);

// recordUse: a refused use reverts, and its id stays free.
const singleUse = {
  send(ctx, signer, u) {
    return ctx.usage.connect(signer).recordUse(freshId("use"), u);
  },
  async expectRecorded(ctx, signer, u, datasetId, sequence) {
    const useId = freshId("use");
    await expect(ctx.usage.connect(signer).recordUse(useId, u))
      .to.emit(ctx.usage, "UseRecorded")
      .withArgs(u.grantId, datasetId, signer.address, u.action, u.evidenceHash, sequence);
    expect(await ctx.usage.usesOf(u.grantId)).to.equal(sequence);
    expect(await ctx.usage.idUsed(signer.address, useId)).to.equal(true);
  },
  async expectRefused(ctx, signer, u, _reason, error, args) {
    const useId = freshId("use");
    const before = await ctx.usage.usesOf(u.grantId);
    await expect(ctx.usage.connect(signer).recordUse(useId, u))
      .to.be.revertedWithCustomError(ctx.usage, error)
      .withArgs(...args);
    expect(await ctx.usage.usesOf(u.grantId)).to.equal(before);
    expect(await ctx.usage.idUsed(signer.address, useId)).to.equal(false);
  },
};

// recordUses with a batch of one: a refused use is logged and the batch still goes through.
const batchOfOne = {
  send(ctx, signer, u) {
    return ctx.usage.connect(signer).recordUses(freshId("batch"), [u]);
  },
  async expectRecorded(ctx, signer, u, datasetId, sequence) {
    const batchId = freshId("batch");
    const tx = ctx.usage.connect(signer).recordUses(batchId, [u]);
    await expect(tx)
      .to.emit(ctx.usage, "UseRecorded")
      .withArgs(u.grantId, datasetId, signer.address, u.action, u.evidenceHash, sequence);
    await expect(tx).to.emit(ctx.usage, "UsesBatchRecorded").withArgs(batchId, signer.address, 1, 0);
    await expect(tx).not.to.emit(ctx.usage, "UseRefused");
    expect(await ctx.usage.usesOf(u.grantId)).to.equal(sequence);
  },
  async expectRefused(ctx, signer, u, reason) {
    const batchId = freshId("batch");
    const before = await ctx.usage.usesOf(u.grantId);
    const tx = ctx.usage.connect(signer).recordUses(batchId, [u]);
    await expect(tx)
      .to.emit(ctx.usage, "UseRefused")
      .withArgs(u.grantId, signer.address, u.action, u.evidenceHash, reason);
    await expect(tx).to.emit(ctx.usage, "UsesBatchRecorded").withArgs(batchId, signer.address, 0, 1);
    await expect(tx).not.to.emit(ctx.usage, "UseRecorded");
    expect(await ctx.usage.usesOf(u.grantId)).to.equal(before);
    expect(await ctx.usage.idUsed(signer.address, batchId)).to.equal(true);
  },
};

module.exports = { shouldCheckEachUseAgainstItsGrant, singleUse, batchOfOne, use, freshId, REASON };
