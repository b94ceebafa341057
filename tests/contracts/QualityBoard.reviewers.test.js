// QualityBoard review rights: returning, closing and reopening an issue belong to the department
// that opened it, to an auditor opener while it stays an auditor, and to the coordinator.
// The quality loop itself is in QualityBoard.test.js.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, addServiceAccount, datasetInput, datasetIdOf, issueIdOf, id, hash, IssueStatus, DEPT_A, DEPT_B, DEPT_C } = require("./fixture");

const CENSUS = datasetIdOf(DEPT_A, id("census-2026"));
const REPORT = hash("report");
const NOTE = hash("note");
const [DEPARTMENT_CODE, AUDITOR_CODE, COORDINATOR_CODE] = [id("issue-by-department"), id("issue-by-auditor"), id("issue-by-coordinator")];
const NEW_CODE = id("issue-new");

// CENSUS of DEPT_A with versions 1 to 3; against version 1, open issues by DEPT_B's service
// account, by the auditor and by the coordinator. `extra` and `extra2` hold no role yet.
async function deployWithOpenIssues() {
  const s = await deploySuite();
  const { registry, quality, deptA, deptB, auditor, coordinator } = s;
  await registry.connect(deptA).registerDataset(id("census-2026"), datasetInput());
  for (const v of [1, 2, 3]) await registry.connect(deptA).addVersion(CENSUS, hash(`root v${v}`), "schema", 1024, 10);
  await quality.connect(deptB).openIssue(DEPARTMENT_CODE, CENSUS, 1, REPORT);
  await quality.connect(auditor).openIssue(AUDITOR_CODE, CENSUS, 1, REPORT);
  await quality.connect(coordinator).openIssue(COORDINATOR_CODE, CENSUS, 1, REPORT);
  const [extra, extra2] = s.signers.slice(12);
  return {
    ...s, extra, extra2,
    BY_DEPARTMENT: issueIdOf(deptB, DEPARTMENT_CODE),
    BY_AUDITOR: issueIdOf(auditor, AUDITOR_CODE),
    BY_COORDINATOR: issueIdOf(coordinator, COORDINATOR_CODE),
    roles: { auditor: await s.consortium.AUDITOR_ROLE(), coordinator: await s.consortium.COORDINATOR_ROLE() },
  };
}

async function expectNotReviewer(quality, caller, issueId) {
  await expect(quality.connect(caller).returnToSource(issueId, NOTE))
    .to.be.revertedWithCustomError(quality, "QualityNotReviewer")
    .withArgs(caller.address, issueId);
}

async function expectReturnedBy(quality, caller, issueId) {
  await expect(quality.connect(caller).returnToSource(issueId, NOTE))
    .to.emit(quality, "IssueReturned")
    .withArgs(issueId, CENSUS, DEPT_A, caller.address, NOTE);
}

describe("QualityBoard review rights", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deployWithOpenIssues));
  });

  it("records the department of a service account opener, and none for the coordinator or an auditor", async function () {
    const { quality } = this;
    expect((await quality.issue(this.BY_DEPARTMENT)).openerDepartment).to.equal(DEPT_B);
    expect((await quality.issue(this.BY_AUDITOR)).openerDepartment).to.equal(ethers.ZeroHash);
    expect((await quality.issue(this.BY_COORDINATOR)).openerDepartment).to.equal(ethers.ZeroHash);
  });

  describe("of an issue opened by a department", function () {
    it("lets any current service account of the department return, reopen and close it", async function () {
      const { quality, consortium, deptA, deptB, extra } = this;
      await addServiceAccount(consortium, deptB, extra);
      await expectReturnedBy(quality, extra, this.BY_DEPARTMENT);
      await quality.connect(deptA).submitRepair(this.BY_DEPARTMENT, 2, NOTE);
      await expect(quality.connect(extra).reopen(this.BY_DEPARTMENT, NOTE))
        .to.emit(quality, "IssueReopened")
        .withArgs(this.BY_DEPARTMENT, CENSUS, DEPT_A, extra.address, 2, NOTE);
      await quality.connect(deptA).submitRepair(this.BY_DEPARTMENT, 3, NOTE);
      await expect(quality.connect(extra).verifyAndClose(this.BY_DEPARTMENT, REPORT))
        .to.emit(quality, "IssueClosed")
        .withArgs(this.BY_DEPARTMENT, CENSUS, DEPT_A, extra.address, 3, REPORT);
      expect((await quality.issue(this.BY_DEPARTMENT)).status).to.equal(IssueStatus.Closed);
    });

    it("refuses the opener once it no longer serves the department, and lets the department's other account review", async function () {
      const { quality, consortium, deptB, extra } = this;
      await addServiceAccount(consortium, deptB, extra);
      await consortium.connect(extra).removeServiceAccount(deptB.address);
      await expectNotReviewer(quality, deptB, this.BY_DEPARTMENT);
      await expectReturnedBy(quality, extra, this.BY_DEPARTMENT);
    });

    it("refuses the opener once it serves another department", async function () {
      const { quality, consortium, deptB, deptC, extra } = this;
      await addServiceAccount(consortium, deptB, extra);
      await consortium.connect(extra).removeServiceAccount(deptB.address);
      await addServiceAccount(consortium, deptC, deptB);
      await expectNotReviewer(quality, deptB, this.BY_DEPARTMENT);
    });

    it("refuses every account of the department once it is removed, and leaves the issue to the coordinator", async function () {
      const { quality, consortium, coordinator, deptA, deptB, deptC } = this;
      await consortium.connect(deptA).proposeRemoval(id("remove-health"), DEPT_B);
      const removal = await consortium.proposalIdOf(deptA.address, id("remove-health"));
      for (const voter of [deptA, deptC]) await consortium.connect(voter).vote(removal);
      await consortium.execute(removal);
      await expectNotReviewer(quality, deptB, this.BY_DEPARTMENT);
      await expectReturnedBy(quality, coordinator, this.BY_DEPARTMENT);
    });

    it("refuses the accounts of other departments and of the source department", async function () {
      for (const caller of [this.deptA, this.deptC]) await expectNotReviewer(this.quality, caller, this.BY_DEPARTMENT);
    });

    it("belongs to the department even when its opener is also an auditor", async function () {
      const { quality, consortium, deptC, extra, roles } = this;
      await consortium.grantRole(roles.auditor, deptC.address);
      const NEW_ISSUE = issueIdOf(deptC, NEW_CODE);
      await quality.connect(deptC).openIssue(NEW_CODE, CENSUS, 1, REPORT);
      expect((await quality.issue(NEW_ISSUE)).openerDepartment).to.equal(DEPT_C);
      await addServiceAccount(consortium, deptC, extra);
      await consortium.connect(deptC).removeServiceAccount(deptC.address);
      await expectNotReviewer(quality, deptC, NEW_ISSUE);
      await expectReturnedBy(quality, extra, NEW_ISSUE);
    });
  });

  describe("of an issue opened by an auditor", function () {
    it("refuses other auditors", async function () {
      const { quality, consortium, extra, roles } = this;
      await consortium.grantRole(roles.auditor, extra.address);
      await expectNotReviewer(quality, extra, this.BY_AUDITOR);
    });

    it("refuses the opener once it is no longer an auditor, and leaves the issue to the coordinator", async function () {
      const { quality, consortium, coordinator, auditor, roles } = this;
      await consortium.revokeRole(roles.auditor, auditor.address);
      await expectNotReviewer(quality, auditor, this.BY_AUDITOR);
      await expectReturnedBy(quality, coordinator, this.BY_AUDITOR);
    });

    it("refuses the opener once it renounced the auditor role, even if it now serves a department", async function () {
      const { quality, consortium, deptA, auditor, roles } = this;
      await consortium.connect(auditor).renounceRole(roles.auditor, auditor.address);
      await addServiceAccount(consortium, deptA, auditor);
      await expectNotReviewer(quality, auditor, this.BY_AUDITOR);
    });
  });

  describe("of an issue opened by the coordinator", function () {
    it("lets another coordinator review it", async function () {
      const { quality, consortium, extra, roles } = this;
      await consortium.grantRole(roles.coordinator, extra.address);
      await expectReturnedBy(quality, extra, this.BY_COORDINATOR);
    });

    it("refuses the opener once it is no longer coordinator", async function () {
      const { quality, consortium, coordinator, extra, roles } = this;
      await consortium.grantRole(roles.coordinator, extra.address);
      await consortium.connect(extra).revokeRole(roles.coordinator, coordinator.address);
      await expectNotReviewer(quality, coordinator, this.BY_COORDINATOR);
      await expectReturnedBy(quality, extra, this.BY_COORDINATOR);
    });

    it("refuses an auditor and every department", async function () {
      for (const caller of [this.auditor, this.deptA, this.deptB, this.deptC]) {
        await expectNotReviewer(this.quality, caller, this.BY_COORDINATOR);
      }
    });
  });
});
