// QualityBoard: the PDMA loop. An issue against a dataset version is opened by an inspector,
// returned to the owning department, repaired by a newer version, then verified and closed or
// reopened; every step is refused to the wrong caller and in the wrong status. Who may review an
// issue over time is in QualityBoard.reviewers.test.js.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, addServiceAccount, datasetInput, datasetIdOf, issueIdOf, id, hash, IssueStatus, DEPT_A, DEPT_B, DEPT_C } = require("./fixture");

const CENSUS = datasetIdOf(DEPT_A, id("census-2026"));
const REPORT = hash("report: 3% of ID numbers malformed");
const NOTE = hash("note");
// Issue codes are the openers' own; ids are derived from opener and code.
const CODE = { Open: id("issue-open"), Returned: id("issue-returned"), Repaired: id("issue-repaired"), Closed: id("issue-closed") };
const NEW_CODE = id("issue-new");
const UNKNOWN_ISSUE = id("no-such-issue");

// CENSUS of DEPT_A with versions 1 and 2; against version 1, one issue in each status, each
// opened by a different inspector: OPEN by the auditor, RETURNED by DEPT_B, REPAIRED (with
// version 2) by DEPT_C, CLOSED by the coordinator. `issues` maps each status name to its issue.
async function deployWithIssues() {
  const s = await deploySuite();
  const { registry, quality, deptA, deptB, deptC, auditor, coordinator } = s;
  const [OPEN, RETURNED, REPAIRED, CLOSED] = [
    issueIdOf(auditor, CODE.Open), issueIdOf(deptB, CODE.Returned), issueIdOf(deptC, CODE.Repaired), issueIdOf(coordinator, CODE.Closed),
  ];
  await registry.connect(deptA).registerDataset(id("census-2026"), datasetInput());
  await registry.connect(deptA).addVersion(CENSUS, hash("root v1"), "schema", 1024, 10);
  await registry.connect(deptA).addVersion(CENSUS, hash("root v2"), "schema", 1024, 10);
  await quality.connect(auditor).openIssue(CODE.Open, CENSUS, 1, REPORT);
  await quality.connect(deptB).openIssue(CODE.Returned, CENSUS, 1, REPORT);
  await quality.connect(deptB).returnToSource(RETURNED, NOTE);
  await quality.connect(deptC).openIssue(CODE.Repaired, CENSUS, 1, REPORT);
  await quality.connect(deptC).returnToSource(REPAIRED, NOTE);
  await quality.connect(deptA).submitRepair(REPAIRED, 2, NOTE);
  await quality.connect(coordinator).openIssue(CODE.Closed, CENSUS, 1, REPORT);
  await quality.connect(coordinator).returnToSource(CLOSED, NOTE);
  await quality.connect(deptA).submitRepair(CLOSED, 2, NOTE);
  await quality.connect(coordinator).verifyAndClose(CLOSED, REPORT);
  return { ...s, OPEN, RETURNED, REPAIRED, CLOSED, issues: { Open: OPEN, Returned: RETURNED, Repaired: REPAIRED, Closed: CLOSED } };
}

async function statusOf(quality, issueId) {
  return (await quality.issue(issueId)).status;
}

// For each step: the issue it applies to, the other issues (in the wrong status), and a call
// by a caller who would otherwise be allowed.
function shouldRefuseOtherStatuses(allowed, call) {
  for (const name of Object.keys(CODE).filter((n) => n !== allowed)) {
    it(`refuses an issue that is ${name}`, async function () {
      const issueId = this.issues[name];
      await expect(call(this, issueId))
        .to.be.revertedWithCustomError(this.quality, "QualityUnexpectedStatus")
        .withArgs(issueId, IssueStatus[name]);
      expect(await statusOf(this.quality, issueId)).to.equal(IssueStatus[name]);
    });
  }

  it("refuses an unknown issue", async function () {
    await expect(call(this, UNKNOWN_ISSUE)).to.be.revertedWithCustomError(this.quality, "QualityUnknownIssue").withArgs(UNKNOWN_ISSUE);
  });
}

describe("QualityBoard", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deployWithIssues));
  });

  describe("openIssue", function () {
    it("opens an issue against the version under the id derived from opener and code, sourced to the dataset's owner, and emits IssueOpened", async function () {
      const { quality, coordinator } = this;
      const issueId = issueIdOf(coordinator, NEW_CODE);
      expect(await quality.issueIdOf(coordinator.address, NEW_CODE)).to.equal(issueId);
      expect(await quality.connect(coordinator).openIssue.staticCall(NEW_CODE, CENSUS, 2, REPORT)).to.equal(issueId);
      await expect(quality.connect(coordinator).openIssue(NEW_CODE, CENSUS, 2, REPORT))
        .to.emit(quality, "IssueOpened")
        .withArgs(issueId, CENSUS, DEPT_A, coordinator.address, 2, REPORT);
      const i = await quality.issue(issueId);
      expect([i.datasetId, i.sourceDepartment, i.openerDepartment, i.opener, i.version, i.repairedVersion, i.status, i.reportHash])
        .to.deep.equal([CENSUS, DEPT_A, ethers.ZeroHash, coordinator.address, 2n, 0n, BigInt(IssueStatus.Open), REPORT]);
      expect(i.openedAt).to.equal(await time.latest());
    });

    it("lets the coordinator, an auditor and the service account of any member department open issues, recording the opener's department", async function () {
      const { quality, coordinator, auditor, deptA, deptB, deptC } = this;
      const inspectors = [[coordinator, ethers.ZeroHash], [auditor, ethers.ZeroHash], [deptA, DEPT_A], [deptB, DEPT_B], [deptC, DEPT_C]];
      for (const [n, [inspector, department]] of inspectors.entries()) {
        const issueId = issueIdOf(inspector, id(`inspected-${n}`));
        await expect(quality.connect(inspector).openIssue(id(`inspected-${n}`), CENSUS, 1, REPORT))
          .to.emit(quality, "IssueOpened")
          .withArgs(issueId, CENSUS, DEPT_A, inspector.address, 1, REPORT);
        expect((await quality.issue(issueId)).openerDepartment).to.equal(department);
      }
    });

    it("names as source department the owner of the dataset, not the opener's department", async function () {
      const { quality, registry, deptA, deptB } = this;
      const health = datasetIdOf(DEPT_B, id("vaccinations"));
      await registry.connect(deptB).registerDataset(id("vaccinations"), datasetInput({ owner: DEPT_B, usage: [] }));
      await registry.connect(deptB).addVersion(health, hash("vaccinations v1"), "schema", 10, 1);
      const issueId = issueIdOf(deptA, NEW_CODE);
      await expect(quality.connect(deptA).openIssue(NEW_CODE, health, 1, REPORT))
        .to.emit(quality, "IssueOpened")
        .withArgs(issueId, health, DEPT_B, deptA.address, 1, REPORT);
      expect((await quality.issue(issueId)).sourceDepartment).to.equal(DEPT_B);
    });

    it("refuses a consumer and an outsider", async function () {
      const { quality, consumer, outsider } = this;
      for (const caller of [consumer, outsider]) {
        await expect(quality.connect(caller).openIssue(NEW_CODE, CENSUS, 1, REPORT))
          .to.be.revertedWithCustomError(quality, "QualityNotInspector")
          .withArgs(caller.address);
      }
    });

    it("refuses a version the dataset does not have", async function () {
      const { quality, registry, auditor } = this;
      for (const version of [0, 3]) {
        await expect(quality.connect(auditor).openIssue(NEW_CODE, CENSUS, version, REPORT))
          .to.be.revertedWithCustomError(registry, "RegistryUnknownVersion")
          .withArgs(CENSUS, version);
      }
    });

    it("refuses a dataset that is not registered", async function () {
      const { quality, registry, auditor } = this;
      const unknown = datasetIdOf(DEPT_A, id("no-such-dataset"));
      await expect(quality.connect(auditor).openIssue(NEW_CODE, unknown, 1, REPORT))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownDataset")
        .withArgs(unknown);
    });

    it("refuses a code the opener used already, whatever the issue's status, and leaves the issue as it was", async function () {
      const { quality, auditor, coordinator } = this;
      for (const [opener, name] of [[auditor, "Open"], [coordinator, "Closed"]]) {
        const issueId = this.issues[name];
        const before = await quality.issue(issueId);
        await expect(quality.connect(opener).openIssue(CODE[name], CENSUS, 2, hash("other report")))
          .to.be.revertedWithCustomError(quality, "QualityIssueExists")
          .withArgs(issueId);
        expect(await quality.issue(issueId)).to.deep.equal(before);
      }
    });

    it("gives another opener using the same code an issue of its own", async function () {
      const { quality, deptB } = this;
      const before = await quality.issue(this.OPEN);
      const theirs = issueIdOf(deptB, CODE.Open);
      await expect(quality.connect(deptB).openIssue(CODE.Open, CENSUS, 2, hash("other report")))
        .to.emit(quality, "IssueOpened")
        .withArgs(theirs, CENSUS, DEPT_A, deptB.address, 2, hash("other report"));
      expect(await quality.issue(this.OPEN)).to.deep.equal(before);
      expect((await quality.issue(theirs)).opener).to.equal(deptB.address);
    });

    it("refuses a zero code", async function () {
      await expect(this.quality.connect(this.auditor).openIssue(ethers.ZeroHash, CENSUS, 1, REPORT))
        .to.be.revertedWithCustomError(this.quality, "QualityIssueExists")
        .withArgs(ethers.ZeroHash);
    });
  });

  describe("returnToSource", function () {
    it("lets the opener return an open issue to the source department and emits IssueReturned", async function () {
      const { quality, auditor } = this;
      await expect(quality.connect(auditor).returnToSource(this.OPEN, NOTE))
        .to.emit(quality, "IssueReturned")
        .withArgs(this.OPEN, CENSUS, DEPT_A, auditor.address, NOTE);
      expect(await statusOf(quality, this.OPEN)).to.equal(IssueStatus.Returned);
    });

    it("lets the coordinator return an issue someone else opened", async function () {
      const { quality, coordinator } = this;
      await expect(quality.connect(coordinator).returnToSource(this.OPEN, NOTE))
        .to.emit(quality, "IssueReturned")
        .withArgs(this.OPEN, CENSUS, DEPT_A, coordinator.address, NOTE);
      expect(await statusOf(quality, this.OPEN)).to.equal(IssueStatus.Returned);
    });

    it("refuses the source department, other departments, a consumer and an outsider", async function () {
      const { quality, deptA, deptB, consumer, outsider } = this;
      for (const caller of [deptA, deptB, consumer, outsider]) {
        await expect(quality.connect(caller).returnToSource(this.OPEN, NOTE))
          .to.be.revertedWithCustomError(quality, "QualityNotReviewer")
          .withArgs(caller.address, this.OPEN);
      }
      expect(await statusOf(quality, this.OPEN)).to.equal(IssueStatus.Open);
    });

    shouldRefuseOtherStatuses("Open", (t, issueId) => t.quality.connect(t.coordinator).returnToSource(issueId, NOTE));
  });

  describe("submitRepair", function () {
    it("lets the source department repair a returned issue with a newer version and emits IssueRepaired", async function () {
      const { quality, deptA } = this;
      await expect(quality.connect(deptA).submitRepair(this.RETURNED, 2, NOTE))
        .to.emit(quality, "IssueRepaired")
        .withArgs(this.RETURNED, CENSUS, DEPT_A, deptA.address, 2, NOTE);
      const i = await quality.issue(this.RETURNED);
      expect([i.status, i.version, i.repairedVersion]).to.deep.equal([BigInt(IssueStatus.Repaired), 1n, 2n]);
    });

    it("accepts the repair from any service account of the source department", async function () {
      const { quality, consortium, deptA, spare } = this;
      await addServiceAccount(consortium, deptA, spare);
      await expect(quality.connect(spare).submitRepair(this.RETURNED, 2, NOTE))
        .to.emit(quality, "IssueRepaired")
        .withArgs(this.RETURNED, CENSUS, DEPT_A, spare.address, 2, NOTE);
    });

    it("refuses the opener, the coordinator, an auditor, another department, a consumer and an outsider", async function () {
      const { quality, deptB, deptC, coordinator, auditor, consumer, outsider } = this;
      for (const caller of [deptB, coordinator, auditor, deptC, consumer, outsider]) {
        await expect(quality.connect(caller).submitRepair(this.RETURNED, 2, NOTE))
          .to.be.revertedWithCustomError(quality, "QualityNotSource")
          .withArgs(caller.address, this.RETURNED);
      }
      expect(await statusOf(quality, this.RETURNED)).to.equal(IssueStatus.Returned);
    });

    it("refuses the version at issue itself, and version 0", async function () {
      const { quality, deptA } = this;
      for (const version of [1, 0]) {
        await expect(quality.connect(deptA).submitRepair(this.RETURNED, version, NOTE))
          .to.be.revertedWithCustomError(quality, "QualityInvalidRepair")
          .withArgs(this.RETURNED, 1, version);
      }
    });

    it("refuses a version older than the one at issue", async function () {
      const { quality, deptA, auditor } = this;
      const issueId = issueIdOf(auditor, NEW_CODE);
      await quality.connect(auditor).openIssue(NEW_CODE, CENSUS, 2, REPORT);
      await quality.connect(auditor).returnToSource(issueId, NOTE);
      await expect(quality.connect(deptA).submitRepair(issueId, 1, NOTE))
        .to.be.revertedWithCustomError(quality, "QualityInvalidRepair")
        .withArgs(issueId, 2, 1);
    });

    it("refuses a version not registered yet, and accepts it once it is", async function () {
      const { quality, registry, deptA } = this;
      await expect(quality.connect(deptA).submitRepair(this.RETURNED, 3, NOTE))
        .to.be.revertedWithCustomError(quality, "QualityInvalidRepair")
        .withArgs(this.RETURNED, 1, 3);
      await registry.connect(deptA).addVersion(CENSUS, hash("root v3"), "schema", 1024, 10);
      await expect(quality.connect(deptA).submitRepair(this.RETURNED, 3, NOTE))
        .to.emit(quality, "IssueRepaired")
        .withArgs(this.RETURNED, CENSUS, DEPT_A, deptA.address, 3, NOTE);
    });

    it("refuses the repair rejected by a reopen, and any older version, and accepts a newer one", async function () {
      const { quality, registry, deptA, deptC } = this;
      await quality.connect(deptC).reopen(this.REPAIRED, NOTE);
      await registry.connect(deptA).addVersion(CENSUS, hash("root v3"), "schema", 1024, 10);
      for (const version of [2, 1]) {
        await expect(quality.connect(deptA).submitRepair(this.REPAIRED, version, NOTE))
          .to.be.revertedWithCustomError(quality, "QualityInvalidRepair")
          .withArgs(this.REPAIRED, 2, version);
      }
      expect(await statusOf(quality, this.REPAIRED)).to.equal(IssueStatus.Returned);
      await expect(quality.connect(deptA).submitRepair(this.REPAIRED, 3, NOTE))
        .to.emit(quality, "IssueRepaired")
        .withArgs(this.REPAIRED, CENSUS, DEPT_A, deptA.address, 3, NOTE);
    });

    shouldRefuseOtherStatuses("Returned", (t, issueId) => t.quality.connect(t.deptA).submitRepair(issueId, 2, NOTE));
  });

  describe("verifyAndClose", function () {
    it("lets the opener close a repaired issue and emits IssueClosed with the accepted version", async function () {
      const { quality, deptC } = this;
      await expect(quality.connect(deptC).verifyAndClose(this.REPAIRED, REPORT))
        .to.emit(quality, "IssueClosed")
        .withArgs(this.REPAIRED, CENSUS, DEPT_A, deptC.address, 2, REPORT);
      expect(await statusOf(quality, this.REPAIRED)).to.equal(IssueStatus.Closed);
    });

    it("lets the coordinator close an issue someone else opened", async function () {
      const { quality, coordinator } = this;
      await expect(quality.connect(coordinator).verifyAndClose(this.REPAIRED, REPORT))
        .to.emit(quality, "IssueClosed")
        .withArgs(this.REPAIRED, CENSUS, DEPT_A, coordinator.address, 2, REPORT);
    });

    it("refuses the source department that made the repair, other departments, an auditor, a consumer and an outsider", async function () {
      const { quality, deptA, deptB, auditor, consumer, outsider } = this;
      for (const caller of [deptA, deptB, auditor, consumer, outsider]) {
        await expect(quality.connect(caller).verifyAndClose(this.REPAIRED, REPORT))
          .to.be.revertedWithCustomError(quality, "QualityNotReviewer")
          .withArgs(caller.address, this.REPAIRED);
      }
      expect(await statusOf(quality, this.REPAIRED)).to.equal(IssueStatus.Repaired);
    });

    shouldRefuseOtherStatuses("Repaired", (t, issueId) => t.quality.connect(t.coordinator).verifyAndClose(issueId, REPORT));
  });

  describe("reopen", function () {
    it("lets the opener reject the repair: emits IssueReopened with the rejected version and IssueReturned, and the issue is Returned", async function () {
      const { quality, deptC } = this;
      const reason = hash("still malformed");
      await expect(quality.connect(deptC).reopen(this.REPAIRED, reason))
        .to.emit(quality, "IssueReopened")
        .withArgs(this.REPAIRED, CENSUS, DEPT_A, deptC.address, 2, reason)
        .and.to.emit(quality, "IssueReturned")
        .withArgs(this.REPAIRED, CENSUS, DEPT_A, deptC.address, reason);
      expect(await statusOf(quality, this.REPAIRED)).to.equal(IssueStatus.Returned);
    });

    it("lets the coordinator reopen an issue someone else opened", async function () {
      const { quality, coordinator } = this;
      await expect(quality.connect(coordinator).reopen(this.REPAIRED, NOTE))
        .to.emit(quality, "IssueReopened")
        .withArgs(this.REPAIRED, CENSUS, DEPT_A, coordinator.address, 2, NOTE);
    });

    it("refuses the source department, other departments, an auditor, a consumer and an outsider", async function () {
      const { quality, deptA, deptB, auditor, consumer, outsider } = this;
      for (const caller of [deptA, deptB, auditor, consumer, outsider]) {
        await expect(quality.connect(caller).reopen(this.REPAIRED, NOTE))
          .to.be.revertedWithCustomError(quality, "QualityNotReviewer")
          .withArgs(caller.address, this.REPAIRED);
      }
      expect(await statusOf(quality, this.REPAIRED)).to.equal(IssueStatus.Repaired);
    });

    it("lets the source department repair again, and the opener then close the issue", async function () {
      const { quality, registry, deptA, deptC } = this;
      await quality.connect(deptC).reopen(this.REPAIRED, NOTE);
      await registry.connect(deptA).addVersion(CENSUS, hash("root v3"), "schema", 1024, 10);
      await expect(quality.connect(deptA).submitRepair(this.REPAIRED, 3, NOTE))
        .to.emit(quality, "IssueRepaired")
        .withArgs(this.REPAIRED, CENSUS, DEPT_A, deptA.address, 3, NOTE);
      await expect(quality.connect(deptC).verifyAndClose(this.REPAIRED, REPORT))
        .to.emit(quality, "IssueClosed")
        .withArgs(this.REPAIRED, CENSUS, DEPT_A, deptC.address, 3, REPORT);
      const i = await quality.issue(this.REPAIRED);
      expect([i.status, i.repairedVersion]).to.deep.equal([BigInt(IssueStatus.Closed), 3n]);
    });

    shouldRefuseOtherStatuses("Repaired", (t, issueId) => t.quality.connect(t.coordinator).reopen(issueId, NOTE));
  });

  describe("issue", function () {
    it("follows the full loop: opened, returned, repaired, reopened, repaired again, closed", async function () {
      const { quality, registry, auditor, deptA } = this;
      const NEW_ISSUE = issueIdOf(auditor, NEW_CODE);
      const fields = async () => {
        const i = await quality.issue(NEW_ISSUE);
        return [i.status, i.version, i.repairedVersion];
      };
      const expected = (status, repairedVersion) => [BigInt(status), 1n, BigInt(repairedVersion)];

      await quality.connect(auditor).openIssue(NEW_CODE, CENSUS, 1, REPORT);
      const openedAt = BigInt(await time.latest());
      expect(await fields()).to.deep.equal(expected(IssueStatus.Open, 0));
      await quality.connect(auditor).returnToSource(NEW_ISSUE, NOTE);
      expect(await fields()).to.deep.equal(expected(IssueStatus.Returned, 0));
      await quality.connect(deptA).submitRepair(NEW_ISSUE, 2, NOTE);
      expect(await fields()).to.deep.equal(expected(IssueStatus.Repaired, 2));
      await quality.connect(auditor).reopen(NEW_ISSUE, NOTE);
      // The rejected repair's version stays on record until the next repair replaces it.
      expect(await fields()).to.deep.equal(expected(IssueStatus.Returned, 2));
      await registry.connect(deptA).addVersion(CENSUS, hash("root v3"), "schema", 1024, 10);
      await quality.connect(deptA).submitRepair(NEW_ISSUE, 3, NOTE);
      expect(await fields()).to.deep.equal(expected(IssueStatus.Repaired, 3));
      await quality.connect(auditor).verifyAndClose(NEW_ISSUE, hash("closing report"));
      expect(await fields()).to.deep.equal(expected(IssueStatus.Closed, 3));

      const i = await quality.issue(NEW_ISSUE);
      expect([i.datasetId, i.sourceDepartment, i.openerDepartment, i.opener, i.openedAt, i.reportHash]).to.deep.equal([
        CENSUS, DEPT_A, ethers.ZeroHash, auditor.address, openedAt, REPORT,
      ]);
    });

    it("reverts for an unknown issue", async function () {
      await expect(this.quality.issue(UNKNOWN_ISSUE)).to.be.revertedWithCustomError(this.quality, "QualityUnknownIssue").withArgs(UNKNOWN_ISSUE);
    });
  });
});
