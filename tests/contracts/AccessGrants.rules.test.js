// AccessGrants: the rules that keep grants meaningful: no grant on one's own data, bounded
// durations, and no new grant for a consumer its sponsor has removed.
const { expect } = require("chai");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, datasetInput, requestInput, datasetIdOf, grantIdOf, id, hash, actionBits, Action, DAY, DEPT_A } = require("./fixture");

const DATASET = datasetIdOf(DEPT_A, id("rules-dataset"));
const SENSITIVE = datasetIdOf(DEPT_A, id("rules-sensitive"));

async function withDatasets() {
  const s = await deploySuite();
  await s.registry.connect(s.deptA).registerDataset(id("rules-dataset"), datasetInput());
  await s.registry.connect(s.deptA).registerDataset(id("rules-sensitive"), datasetInput({ grade: 4 }));
  return s;
}

describe("AccessGrants rules", function () {
  it("refuses a department asking for a grant on its own dataset", async function () {
    const s = await loadFixture(withDatasets);
    await expect(s.grants.connect(s.deptA).requestAccess(id("own"), requestInput(DATASET)))
      .to.be.revertedWithCustomError(s.grants, "GrantsOwnDataset").withArgs(DATASET);
  });

  it("refuses a duration over 100 years instead of overflowing the expiry", async function () {
    const s = await loadFixture(withDatasets);
    const duration = 100n * 365n * DAY + 1n;
    await expect(s.grants.connect(s.consumer).requestAccess(id("long"), requestInput(DATASET, { duration })))
      .to.be.revertedWithCustomError(s.grants, "GrantsInvalidTerms")
      .withArgs(grantIdOf(s.consumer, id("long")), duration, 100, actionBits(Action.Query, Action.Download, Action.Analyse));
  });

  it("accepts the longest duration allowed", async function () {
    const s = await loadFixture(withDatasets);
    const duration = 100n * 365n * DAY;
    await s.grants.connect(s.consumer).requestAccess(id("long"), requestInput(DATASET, { duration }));
    await expect(s.grants.connect(s.deptA).approve(grantIdOf(s.consumer, id("long")), hash("ok"), 0)).to.emit(s.grants, "GrantActivated");
  });

  it("refuses approving or co-approving for a consumer its sponsor removed", async function () {
    const s = await loadFixture(withDatasets);
    await s.grants.connect(s.consumer).requestAccess(id("g1"), requestInput(DATASET));
    await s.grants.connect(s.consumer).requestAccess(id("g4"), requestInput(SENSITIVE));
    await s.grants.connect(s.deptA).approve(grantIdOf(s.consumer, id("g4")), hash("ok"), 0);
    await s.consortium.connect(s.deptA).removeConsumer(s.consumer.address);
    await expect(s.grants.connect(s.deptA).approve(grantIdOf(s.consumer, id("g1")), hash("ok"), 0))
      .to.be.revertedWithCustomError(s.grants, "GrantsNotConsumer").withArgs(s.consumer.address);
    await expect(s.grants.connect(s.coordinator).coApprove(grantIdOf(s.consumer, id("g4")), hash("ok")))
      .to.be.revertedWithCustomError(s.grants, "GrantsNotConsumer").withArgs(s.consumer.address);
  });
});
