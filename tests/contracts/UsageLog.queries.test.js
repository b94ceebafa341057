// Query grants: privacy terms asked for with requestQueryAccess (AccessGrants), and queries
// recorded against their ε budget with recordQueries (UsageLog). ε is in micro-ε throughout.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { anyValue } = require("@nomicfoundation/hardhat-chai-matchers/withArgs");
const { deployWithGrant, requestInput, grantIdOf, id, hash, textHash, actionBits, Action, Refusal } = require("./fixture");

const EPS = 1_000_000n;
const BOUNDS = JSON.stringify({ 年龄: [0, 120], 家庭人口: [1, 12] });
const TERMS = { epsilonBudget: 2n * EPS, epsilonCap: EPS / 2n, minGroupSize: 10, bounds: BOUNDS };
const QUERY_ACTIONS = actionBits(Action.Query);

// deployWithGrant's plain grant (no privacy terms, allows Query) and an active query grant with TERMS and 5 uses.
async function deployWithQueryGrant() {
  const s = await deployWithGrant();
  const queryGrant = grantIdOf(s.consumer, id("query-grant"));
  await s.grants.connect(s.consumer).requestQueryAccess(id("query-grant"), requestInput(s.datasetId, { actions: QUERY_ACTIONS, maxUses: 5 }), TERMS);
  await s.grants.connect(s.deptA).approve(queryGrant, hash("ok"), 0);
  return { ...s, queryGrant };
}

let serial = 0;
const query = (grantId, epsilon, n = serial++) => ({
  grantId, queryHash: hash(`query ${n}`), resultHash: hash(`result ${n}`), epsilon, rowsScanned: 10_000 + n,
});

// [name, grantId, detail] per UsageLog event of the transaction, in log order.
async function events(usage, tx) {
  const receipt = await (await tx).wait();
  return receipt.logs.filter((log) => log.address === usage.target).map((log) => usage.interface.parseLog(log)).map((e) => {
    if (e.name === "UseRefused") return ["UseRefused", e.args.grantId, Number(e.args.reason)];
    if (e.name === "QueryRecorded") return ["QueryRecorded", e.args.grantId, e.args.epsilonSpent];
    if (e.name === "UseRecorded") return ["UseRecorded", e.args.grantId, Number(e.args.action)];
    return [e.name, Number(e.args.recorded), Number(e.args.refused)];
  });
}

describe("Query grants", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deployWithQueryGrant));
  });

  describe("requestQueryAccess", function () {
    it("keeps the privacy terms with the bounds' hash and emits them in full after AccessRequested", async function () {
      const { grants, consumer, datasetId } = this;
      const grantId = grantIdOf(consumer, id("q2"));
      await expect(grants.connect(consumer).requestQueryAccess(id("q2"), requestInput(datasetId), TERMS))
        .to.emit(grants, "AccessRequested").withArgs(grantId, datasetId, consumer.address, anyValue, anyValue, anyValue, anyValue, anyValue, anyValue, anyValue)
        .and.to.emit(grants, "QueryTermsRequested").withArgs(grantId, TERMS.epsilonBudget, TERMS.epsilonCap, TERMS.minGroupSize, BOUNDS);
      expect(await grants.privacyTerms(grantId)).to.deep.equal([TERMS.epsilonBudget, TERMS.epsilonCap, 10n, textHash(BOUNDS)]);
      expect((await grants.grant(grantId)).status).to.equal(1n);
    });

    it("gives plain grants no privacy terms", async function () {
      expect(await this.grants.privacyTerms(this.grantId)).to.deep.equal([0n, 0n, 0n, ethers.ZeroHash]);
    });

    for (const [label, actions, terms] of [
      ["without the Query action", actionBits(Action.Download), TERMS],
      ["with a zero cap", QUERY_ACTIONS, { ...TERMS, epsilonCap: 0 }],
      ["with a cap over the budget", QUERY_ACTIONS, { ...TERMS, epsilonCap: TERMS.epsilonBudget + 1n }],
      ["with k under 2", QUERY_ACTIONS, { ...TERMS, minGroupSize: 1 }],
    ]) {
      it(`refuses a request ${label}`, async function () {
        const { grants, consumer, datasetId } = this;
        await expect(grants.connect(consumer).requestQueryAccess(id("bad"), requestInput(datasetId, { actions }), terms))
          .to.be.revertedWithCustomError(grants, "GrantsInvalidPrivacyTerms")
          .withArgs(grantIdOf(consumer, id("bad")), terms.epsilonBudget, terms.epsilonCap, terms.minGroupSize);
      });
    }

    it("refuses bounds over 2000 bytes and accepts exactly 2000", async function () {
      const { grants, consumer, datasetId } = this;
      await expect(grants.connect(consumer).requestQueryAccess(id("b1"), requestInput(datasetId), { ...TERMS, bounds: "x".repeat(2001) }))
        .to.be.revertedWithCustomError(grants, "GrantsInvalidBounds").withArgs(2001);
      await grants.connect(consumer).requestQueryAccess(id("b2"), requestInput(datasetId), { ...TERMS, bounds: "x".repeat(2000) });
    });

    it("applies requestAccess's checks: a resent request is refused", async function () {
      const { grants, consumer, datasetId, queryGrant } = this;
      await expect(grants.connect(consumer).requestQueryAccess(id("query-grant"), requestInput(datasetId), TERMS))
        .to.be.revertedWithCustomError(grants, "GrantsRequestExists").withArgs(queryGrant);
    });
  });

  describe("recordQueries", function () {
    it("records a query as a use with its hashes, ε and rows, and counts ε spent", async function () {
      const { usage, deptA, queryGrant, datasetId } = this;
      const q = query(queryGrant, 300_000n);
      await expect(usage.connect(deptA).recordQueries(id("batch-1"), [q]))
        .to.emit(usage, "UseRecorded").withArgs(queryGrant, datasetId, deptA.address, Action.Query, q.queryHash, 1)
        .and.to.emit(usage, "QueryRecorded").withArgs(queryGrant, 1, q.queryHash, q.resultHash, 300_000n, 300_000n, q.rowsScanned)
        .and.to.emit(usage, "UsesBatchRecorded").withArgs(id("batch-1"), deptA.address, 1, 0);
      expect(await usage.epsilonSpent(queryGrant)).to.equal(300_000n);
      expect(await usage.usesOf(queryGrant)).to.equal(1n);
    });

    it("spends the budget exactly and refuses the query past it", async function () {
      const { usage, deptA, queryGrant } = this;
      const batch = [query(queryGrant, EPS / 2n), query(queryGrant, EPS / 2n), query(queryGrant, EPS / 2n), query(queryGrant, EPS / 2n - 1n),
        query(queryGrant, 2n), query(queryGrant, 1n)];
      expect(await events(usage, usage.connect(deptA).recordQueries(id("budget"), batch))).to.deep.equal([
        ["UseRecorded", queryGrant, Action.Query], ["QueryRecorded", queryGrant, 500_000n],
        ["UseRecorded", queryGrant, Action.Query], ["QueryRecorded", queryGrant, 1_000_000n],
        ["UseRecorded", queryGrant, Action.Query], ["QueryRecorded", queryGrant, 1_500_000n],
        ["UseRecorded", queryGrant, Action.Query], ["QueryRecorded", queryGrant, 1_999_999n],
        ["UseRefused", queryGrant, Refusal.BudgetExhausted],
        ["UseRecorded", queryGrant, Action.Query], ["QueryRecorded", queryGrant, 2_000_000n],
        ["UsesBatchRecorded", 5, 1],
      ]);
      expect(await usage.epsilonSpent(queryGrant)).to.equal(TERMS.epsilonBudget);
    });

    it("refuses ε over the cap, ε of zero, and grants without privacy terms", async function () {
      const { usage, deptA, queryGrant, grantId } = this;
      const batch = [query(queryGrant, TERMS.epsilonCap + 1n), query(queryGrant, 0n), query(grantId, 1n)];
      expect(await events(usage, usage.connect(deptA).recordQueries(id("refusals"), batch))).to.deep.equal([
        ["UseRefused", queryGrant, Refusal.EpsilonOverCap], ["UseRefused", queryGrant, Refusal.EpsilonOverCap],
        ["UseRefused", grantId, Refusal.NoPrivacyTerms], ["UsesBatchRecorded", 0, 3],
      ]);
      expect(await usage.epsilonSpent(queryGrant)).to.equal(0n);
    });

    it("counts a query as one use of the quota", async function () {
      const { usage, deptA, queryGrant } = this;
      const batch = Array.from({ length: 6 }, () => query(queryGrant, 1n));
      const seen = await events(usage, usage.connect(deptA).recordQueries(id("quota"), batch));
      expect(seen.at(-2)).to.deep.equal(["UseRefused", queryGrant, Refusal.QuotaExhausted]);
      expect(seen.at(-1)).to.deep.equal(["UsesBatchRecorded", 5, 1]);
      expect(await usage.epsilonSpent(queryGrant)).to.equal(5n);
    });

    it("lets only the owner department record queries, not the consumer", async function () {
      const { usage, consumer, deptB, queryGrant } = this;
      for (const caller of [consumer, deptB]) {
        expect(await events(usage, usage.connect(caller).recordQueries(id("caller"), [query(queryGrant, 1n)])))
          .to.deep.equal([["UseRefused", queryGrant, Refusal.CallerNotAllowed], ["UsesBatchRecorded", 0, 1]]);
      }
      expect(await usage.epsilonSpent(queryGrant)).to.equal(0n);
    });

    it("refuses a pending or revoked query grant", async function () {
      const { usage, grants, deptA, consumer, datasetId, queryGrant } = this;
      const pending = grantIdOf(consumer, id("pending-q"));
      await grants.connect(consumer).requestQueryAccess(id("pending-q"), requestInput(datasetId), TERMS);
      await grants.connect(deptA).revoke(queryGrant, hash("misuse"));
      expect(await events(usage, usage.connect(deptA).recordQueries(id("status"), [query(pending, 1n), query(queryGrant, 1n)])))
        .to.deep.equal([["UseRefused", pending, Refusal.NotActive], ["UseRefused", queryGrant, Refusal.Revoked], ["UsesBatchRecorded", 0, 2]]);
    });

    it("refuses an empty batch and a reused batch id", async function () {
      const { usage, deptA, queryGrant } = this;
      await expect(usage.connect(deptA).recordQueries(id("empty"), [])).to.be.revertedWithCustomError(usage, "UsageEmptyBatch");
      await usage.connect(deptA).recordQueries(id("once"), [query(queryGrant, 1n)]);
      await expect(usage.connect(deptA).recordQueries(id("once"), [query(queryGrant, 1n)]))
        .to.be.revertedWithCustomError(usage, "UsageIdUsed").withArgs(deptA.address, id("once"));
    });

    it("refuses a Query use that bypasses the budget on a query grant, but not on a plain grant", async function () {
      const { usage, deptA, queryGrant, grantId } = this;
      const plain = (g) => ({ grantId: g, action: Action.Query, evidenceHash: hash("bypass") });
      await expect(usage.connect(deptA).recordUse(id("u-q"), plain(queryGrant)))
        .to.be.revertedWithCustomError(usage, "UsageEpsilonOverCap").withArgs(queryGrant, 0);
      const seen = await events(usage, usage.connect(deptA).recordUses(id("uses"), [plain(grantId), plain(queryGrant)]));
      expect(seen).to.deep.equal([["UseRecorded", grantId, Action.Query], ["UseRefused", queryGrant, Refusal.EpsilonOverCap], ["UsesBatchRecorded", 1, 1]]);
    });
  });

  describe("recordRefusedQueries", function () {
    // IUsageLog.QueryRefusal, in declaration order.
    const Why = { SqlNotAllowed: 0, IdentifyingField: 1, SqlUnreadable: 2, EpsilonOverCap: 3, BudgetExhausted: 4,
      QuotaExhausted: 5, NoPrivacyTerms: 6, GrantNotAllowing: 7 };
    const refusal = (grantId, reason, n = serial++) => ({ grantId, queryHash: hash(`refused ${n}`), reason });
    const refusedEvents = async (usage, tx) => {
      const receipt = await (await tx).wait();
      return receipt.logs.filter((log) => log.address === usage.target).map((log) => usage.interface.parseLog(log))
        .map((e) => [e.name, e.args.grantId, e.args.consumer, e.args.queryHash, Number(e.args.reason)]);
    };

    it("records each refusal of a batch, in order, with its grantee, and spends neither quota nor ε", async function () {
      const { usage, deptA, consumer, queryGrant, grantId } = this;
      await usage.connect(deptA).recordQueries(id("one"), [query(queryGrant, 100_000n)]);
      const batch = [refusal(queryGrant, Why.IdentifyingField), refusal(queryGrant, Why.EpsilonOverCap),
        refusal(grantId, Why.NoPrivacyTerms), refusal(queryGrant, Why.SqlUnreadable)];
      expect(await refusedEvents(usage, usage.connect(deptA).recordRefusedQueries(id("refusals"), batch))).to.deep.equal(
        batch.map((r) => ["QueryRefused", r.grantId, consumer.address, r.queryHash, r.reason]));
      expect(await usage.usesOf(queryGrant)).to.equal(1n);
      expect(await usage.epsilonSpent(queryGrant)).to.equal(100_000n);
      expect(await usage.usesOf(grantId)).to.equal(0n);
    });

    it("records the attempts on a revoked grant: it allows no query now", async function () {
      const { usage, grants, deptA, consumer, queryGrant } = this;
      await grants.connect(deptA).revoke(queryGrant, hash("misuse"));
      const r = refusal(queryGrant, Why.GrantNotAllowing);
      await expect(usage.connect(deptA).recordRefusedQueries(id("revoked"), [r]))
        .to.emit(usage, "QueryRefused").withArgs(queryGrant, consumer.address, r.queryHash, Why.GrantNotAllowing);
    });

    it("lets only the owner department record refusals: neither the consumer nor another department", async function () {
      const { usage, consumer, deptB, queryGrant } = this;
      for (const caller of [consumer, deptB]) {
        await expect(usage.connect(caller).recordRefusedQueries(id("not-mine"), [refusal(queryGrant, Why.SqlNotAllowed)]))
          .to.be.revertedWithCustomError(usage, "UsageCallerNotAllowed").withArgs(caller.address, queryGrant, Action.Query);
      }
    });

    it("refuses a batch naming an unknown grant anywhere, an empty batch, a reused id and an unknown reason", async function () {
      const { usage, deptA, queryGrant } = this;
      await expect(usage.connect(deptA).recordRefusedQueries(id("unknown"), [refusal(queryGrant, 0), refusal(id("nothing"), 0)]))
        .to.be.revertedWithCustomError(usage, "UsageUnknownGrant").withArgs(id("nothing"));
      await expect(usage.connect(deptA).recordRefusedQueries(id("empty"), [])).to.be.revertedWithCustomError(usage, "UsageEmptyBatch");
      await usage.connect(deptA).recordRefusedQueries(id("once"), [refusal(queryGrant, 0)]);
      await expect(usage.connect(deptA).recordRefusedQueries(id("once"), [refusal(queryGrant, 0)]))
        .to.be.revertedWithCustomError(usage, "UsageIdUsed").withArgs(deptA.address, id("once"));
      await expect(usage.connect(deptA).recordRefusedQueries(id("reason"), [refusal(queryGrant, 8)])).to.be.reverted;
    });
  });
});
