// UsageLog.acknowledgeStatement: both sides of a settlement acknowledge the same terms; the
// second acknowledgement settles the statement.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, addServiceAccount, id, hash, DEPT_A, DEPT_B } = require("./fixture");

async function deployWithSecondServiceAccount() {
  const s = await deploySuite();
  await addServiceAccount(s.consortium, s.deptA, s.spare);
  return s;
}

function statementInput(consumer, changes = {}) {
  return {
    statementId: id("statement-2026-q3"),
    ownerDepartment: DEPT_A,
    consumer: consumer.address,
    periodStart: 1782864000n,
    periodEnd: 1790812800n,
    amount: 125000n,
    statementHash: hash("statement 2026 Q3"),
    ...changes,
  };
}

function acknowledgedArgs(s, party) {
  return [s.statementId, s.ownerDepartment, s.consumer, party.address, s.periodStart, s.periodEnd, s.amount, s.statementHash];
}

describe("UsageLog settlement", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deployWithSecondServiceAccount));
    this.statement = statementInput(this.consumer);
  });

  describe("acknowledgeStatement", function () {
    it("settles a statement the owner department and then the consumer acknowledge alike", async function () {
      const { usage, deptA, consumer, statement } = this;
      await expect(usage.connect(deptA).acknowledgeStatement(statement))
        .to.emit(usage, "StatementAcknowledged")
        .withArgs(...acknowledgedArgs(statement, deptA))
        .and.not.to.emit(usage, "StatementSettled");
      await expect(usage.connect(consumer).acknowledgeStatement(statement))
        .to.emit(usage, "StatementAcknowledged")
        .withArgs(...acknowledgedArgs(statement, consumer))
        .and.to.emit(usage, "StatementSettled")
        .withArgs(statement.statementId, statement.statementHash);
    });

    it("refuses a consumer acknowledging a statement its owner department has not issued", async function () {
      const { usage, deptA, consumer, statement } = this;
      await expect(usage.connect(consumer).acknowledgeStatement(statement))
        .to.be.revertedWithCustomError(usage, "UsageStatementNotIssued")
        .withArgs(statement.statementId, consumer.address);
      await usage.connect(deptA).acknowledgeStatement(statement);
      await expect(usage.connect(consumer).acknowledgeStatement(statement))
        .to.emit(usage, "StatementSettled")
        .withArgs(statement.statementId, statement.statementHash);
    });

    it("lets any service account of the owner department acknowledge for it", async function () {
      const { usage, spare, consumer, statement } = this;
      await expect(usage.connect(spare).acknowledgeStatement(statement))
        .to.emit(usage, "StatementAcknowledged")
        .withArgs(...acknowledgedArgs(statement, spare));
      await expect(usage.connect(consumer).acknowledgeStatement(statement)).to.emit(usage, "StatementSettled");
    });

    it("refuses a party to neither side of the statement", async function () {
      const { usage, deptB, consumer2, coordinator, auditor, outsider, statement } = this;
      for (const account of [deptB, consumer2, coordinator, auditor, outsider]) {
        await expect(usage.connect(account).acknowledgeStatement(statement))
          .to.be.revertedWithCustomError(usage, "UsageNotStatementParty")
          .withArgs(account.address, statement.statementId);
      }
    });

    it("refuses an account serving no department as the owner's side of a statement naming no department", async function () {
      const { usage, outsider, statement } = this;
      const noOwner = { ...statement, ownerDepartment: ethers.ZeroHash };
      await expect(usage.connect(outsider).acknowledgeStatement(noOwner))
        .to.be.revertedWithCustomError(usage, "UsageNotStatementParty")
        .withArgs(outsider.address, statement.statementId);
    });

    for (const [what, changes] of [
      ["another amount", { amount: 125001n }],
      ["another period", { periodEnd: 1790812801n }],
      ["another statement hash", { statementHash: hash("statement 2026 Q3, revised") }],
    ]) {
      it(`refuses the second side acknowledging ${what}`, async function () {
        const { usage, deptA, consumer, statement } = this;
        await usage.connect(deptA).acknowledgeStatement(statement);
        await expect(usage.connect(consumer).acknowledgeStatement({ ...statement, ...changes }))
          .to.be.revertedWithCustomError(usage, "UsageStatementMismatch")
          .withArgs(statement.statementId, statement.statementHash);
        expect(await usage.statement(DEPT_A, statement.statementId)).to.deep.equal([statement.statementHash, true, false]);
      });
    }

    it("refuses the same side acknowledging twice, through the same or another account", async function () {
      const { usage, deptA, spare, consumer, statement } = this;
      await usage.connect(deptA).acknowledgeStatement(statement);
      await usage.connect(consumer).acknowledgeStatement(statement);
      for (const account of [deptA, spare, consumer]) {
        await expect(usage.connect(account).acknowledgeStatement(statement))
          .to.be.revertedWithCustomError(usage, "UsageStatementAcknowledged")
          .withArgs(statement.statementId, account.address);
      }
    });

    it("refuses every acknowledgement while the ledger is paused", async function () {
      const { usage, consortium, coordinator, deptA, statement } = this;
      await consortium.connect(coordinator).pause(ethers.ZeroHash);
      await expect(usage.connect(deptA).acknowledgeStatement(statement)).to.be.revertedWithCustomError(usage, "ConsortiumIsPaused");
      await consortium.connect(coordinator).unpause(ethers.ZeroHash);
      await expect(usage.connect(deptA).acknowledgeStatement(statement)).to.emit(usage, "StatementAcknowledged");
    });
  });

  describe("statement", function () {
    it("shows the statement's hash and which sides acknowledged it", async function () {
      const { usage, deptA, consumer, statement } = this;
      expect(await usage.statement(DEPT_A, statement.statementId)).to.deep.equal([ethers.ZeroHash, false, false]);
      await usage.connect(deptA).acknowledgeStatement(statement);
      expect(await usage.statement(DEPT_A, statement.statementId)).to.deep.equal([statement.statementHash, true, false]);
      await usage.connect(consumer).acknowledgeStatement(statement);
      expect(await usage.statement(DEPT_A, statement.statementId)).to.deep.equal([statement.statementHash, true, true]);
    });

    it("keeps the statements of different owner departments apart under the same statement id", async function () {
      const { usage, deptA, deptB, consumer, statement } = this;
      const theirs = { ...statement, ownerDepartment: DEPT_B, amount: 1n, statementHash: hash("another department's statement") };
      await usage.connect(deptB).acknowledgeStatement(theirs);
      expect(await usage.statement(DEPT_A, statement.statementId)).to.deep.equal([ethers.ZeroHash, false, false]);
      await usage.connect(deptA).acknowledgeStatement(statement);
      await expect(usage.connect(consumer).acknowledgeStatement(statement))
        .to.emit(usage, "StatementSettled").withArgs(statement.statementId, statement.statementHash);
      expect(await usage.statement(DEPT_A, statement.statementId)).to.deep.equal([statement.statementHash, true, true]);
      expect(await usage.statement(DEPT_B, statement.statementId)).to.deep.equal([theirs.statementHash, true, false]);
    });
  });
});
