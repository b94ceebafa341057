// Admitting and removing departments by a majority vote of the members at the time of execution.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { anyValue } = require("@nomicfoundation/hardhat-chai-matchers/withArgs");
const { deploySuite, addServiceAccount, id, proposalIdOf, ProposalKind, ProposalStatus, DEPT_A, DEPT_B, DEPT_C, VOTING_PERIOD } = require("./fixture");

const NEW_DEPT = id("water-authority");
const ADMIT_KEY = id("admit-water");
const REMOVE_KEY = id("remove-public-security");
// The ids DEPT_A's proposals under those keys get (set once the signers are known).
let ADMIT, REMOVE;

// The suite's three departments, with DEPT_A proposing to admit the water authority.
async function admissionProposed() {
  const s = await deploySuite();
  const [newService, extra, extra2] = s.signers.slice(12);
  await s.consortium.connect(s.deptA).proposeAdmission(ADMIT_KEY, NEW_DEPT, "Water Authority", s.spare.address, newService.address);
  return { ...s, newService, extra, extra2 };
}

// The suite's three departments, with DEPT_A proposing to remove DEPT_C, which has two service accounts.
async function removalProposed() {
  const s = await deploySuite();
  const [newService, extra, extra2] = s.signers.slice(12);
  await addServiceAccount(s.consortium, s.deptC, extra);
  await s.consortium.connect(s.deptA).proposeRemoval(REMOVE_KEY, DEPT_C);
  return { ...s, newService, extra, extra2 };
}

// Two founding departments only: every proposal needs both votes.
async function deployPair() {
  const [coordinator, deptA, deptB, validatorA, validatorB] = await ethers.getSigners();
  const consortium = await ethers.deployContract("Consortium", [coordinator.address, VOTING_PERIOD]);
  await consortium.seatFoundingDepartment(DEPT_A, "A", validatorA.address, deptA.address);
  await consortium.seatFoundingDepartment(DEPT_B, "B", validatorB.address, deptB.address);
  await consortium.closeFounding();
  return { consortium, coordinator, deptA, deptB };
}

async function passed(consortium, proposalId, ...voters) {
  for (const voter of voters) await consortium.connect(voter).vote(proposalId);
}

describe("Consortium proposals", function () {
  before(async function () {
    const [, deptA] = await ethers.getSigners();
    [ADMIT, REMOVE] = [proposalIdOf(deptA.address, ADMIT_KEY), proposalIdOf(deptA.address, REMOVE_KEY)];
  });

  describe("proposeAdmission", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deploySuite));
      [this.newService] = this.signers.slice(12);
    });

    it("opens a proposal whose quorum is a majority of the current members", async function () {
      // Pinned: the next block's timestamp may otherwise run a second ahead of the wall clock.
      const openedAt = BigInt(await time.latest()) + 1n;
      await time.setNextBlockTimestamp(openedAt);
      const deadline = openedAt + VOTING_PERIOD;
      await expect(this.consortium.connect(this.deptA).proposeAdmission(ADMIT_KEY, NEW_DEPT, "Water Authority", this.spare.address, this.newService.address))
        .to.emit(this.consortium, "ProposalOpened")
        .withArgs(ADMIT, ProposalKind.Admit, NEW_DEPT, this.deptA.address, this.spare.address, this.newService.address, "Water Authority", 2, deadline);
      const p = await this.consortium.proposal(ADMIT);
      expect([p.kind, p.status, p.yesVotes, p.quorum, p.deadline]).to.deep.equal([
        BigInt(ProposalKind.Admit), BigInt(ProposalStatus.Open), 0n, 2n, deadline,
      ]);
      expect([p.departmentId, p.validator, p.serviceAccount, p.proposer, p.name]).to.deep.equal([
        NEW_DEPT, this.spare.address, this.newService.address, this.deptA.address, "Water Authority",
      ]);
      expect(await this.consortium.isMember(NEW_DEPT)).to.equal(false);
    });

    it("lets the coordinator propose", async function () {
      await expect(this.consortium.proposeAdmission(ADMIT_KEY, NEW_DEPT, "Water Authority", this.spare.address, this.newService.address))
        .to.emit(this.consortium, "ProposalOpened")
        .withArgs(proposalIdOf(this.coordinator.address, ADMIT_KEY), ProposalKind.Admit, NEW_DEPT, this.coordinator.address, this.spare.address, this.newService.address, "Water Authority", 2, anyValue);
    });

    it("refuses a caller that is neither a member department nor the coordinator", async function () {
      for (const caller of [this.auditor, this.consumer, this.outsider]) {
        await expect(this.consortium.connect(caller).proposeAdmission(ADMIT_KEY, NEW_DEPT, "W", this.spare.address, this.newService.address))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotMemberOrCoordinator").withArgs(caller.address);
      }
    });

    it("refuses a key the proposer used already", async function () {
      await this.consortium.connect(this.deptA).proposeRemoval(ADMIT_KEY, DEPT_C);
      await expect(this.consortium.connect(this.deptA).proposeAdmission(ADMIT_KEY, NEW_DEPT, "W", this.spare.address, this.newService.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumProposalExists").withArgs(ADMIT);
    });

    it("lets no member squat another's proposal: the same key gives each proposer its own id", async function () {
      expect(await this.consortium.proposalIdOf(this.deptA.address, ADMIT_KEY)).to.equal(ADMIT);
      // DEPT_B sees DEPT_A's key (in the pool, say) and proposes under it first, with other terms.
      await this.consortium.connect(this.deptB).proposeAdmission(ADMIT_KEY, NEW_DEPT, "Squatter", this.spare.address, this.outsider.address);
      const squatted = proposalIdOf(this.deptB.address, ADMIT_KEY);
      expect(squatted).to.not.equal(ADMIT);
      await expect(this.consortium.connect(this.deptA).proposeAdmission(ADMIT_KEY, NEW_DEPT, "Water Authority", this.spare.address, this.newService.address))
        .to.emit(this.consortium, "ProposalOpened")
        .withArgs(ADMIT, ProposalKind.Admit, NEW_DEPT, this.deptA.address, this.spare.address, this.newService.address, "Water Authority", 2, anyValue);
      expect((await this.consortium.proposal(ADMIT)).name).to.equal("Water Authority");
      expect((await this.consortium.proposal(squatted)).proposer).to.equal(this.deptB.address);
    });

    it("derives the same id from a zero key as any other", async function () {
      await this.consortium.connect(this.deptA).proposeAdmission(ethers.ZeroHash, NEW_DEPT, "W", this.spare.address, this.newService.address);
      expect((await this.consortium.proposal(proposalIdOf(this.deptA.address, ethers.ZeroHash))).name).to.equal("W");
    });

    it("refuses a department that is a member already", async function () {
      await expect(this.consortium.connect(this.deptA).proposeAdmission(ADMIT_KEY, DEPT_C, "C", this.spare.address, this.newService.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumDepartmentExists").withArgs(DEPT_C);
    });

    it("refuses a zero validator or service account, or an account in use", async function () {
      await expect(this.consortium.connect(this.deptA).proposeAdmission(ADMIT_KEY, NEW_DEPT, "W", ethers.ZeroAddress, this.newService.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, NEW_DEPT);
      await expect(this.consortium.connect(this.deptA).proposeAdmission(ADMIT_KEY, NEW_DEPT, "W", this.spare.address, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, ethers.ZeroHash);
      await expect(this.consortium.connect(this.deptA).proposeAdmission(ADMIT_KEY, NEW_DEPT, "W", this.spare.address, this.deptB.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.deptB.address, DEPT_B);
    });
  });

  describe("proposeRemoval", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deploySuite));
    });

    it("opens a proposal naming the department's validator", async function () {
      await expect(this.consortium.connect(this.deptA).proposeRemoval(REMOVE_KEY, DEPT_C))
        .to.emit(this.consortium, "ProposalOpened")
        .withArgs(REMOVE, ProposalKind.Remove, DEPT_C, this.deptA.address, this.validatorC.address, ethers.ZeroAddress, "Public Security", 2, anyValue);
      expect((await this.consortium.proposal(REMOVE)).kind).to.equal(ProposalKind.Remove);
    });

    it("refuses a caller that is neither a member department nor the coordinator", async function () {
      for (const caller of [this.auditor, this.consumer, this.outsider]) {
        await expect(this.consortium.connect(caller).proposeRemoval(REMOVE_KEY, DEPT_C))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotMemberOrCoordinator").withArgs(caller.address);
      }
    });

    it("refuses a key the proposer used already", async function () {
      await this.consortium.connect(this.deptA).proposeRemoval(REMOVE_KEY, DEPT_C);
      await expect(this.consortium.connect(this.deptA).proposeRemoval(REMOVE_KEY, DEPT_A))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumProposalExists").withArgs(REMOVE);
    });

    it("refuses a department that is not a member", async function () {
      await expect(this.consortium.connect(this.deptA).proposeRemoval(REMOVE_KEY, NEW_DEPT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownDepartment").withArgs(NEW_DEPT);
    });

    it("refuses removing the last department", async function () {
      const [coordinator, dept, validator] = await ethers.getSigners();
      const single = await ethers.deployContract("Consortium", [coordinator.address, VOTING_PERIOD]);
      await single.seatFoundingDepartment(DEPT_A, "A", validator.address, dept.address);
      await expect(single.connect(dept).proposeRemoval(REMOVE_KEY, DEPT_A))
        .to.be.revertedWithCustomError(single, "ConsortiumLastDepartment").withArgs(DEPT_A);
    });
  });

  describe("vote", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(admissionProposed));
    });

    it("counts the vote of the caller's department", async function () {
      await expect(this.consortium.connect(this.deptA).vote(ADMIT))
        .to.emit(this.consortium, "ProposalVoted").withArgs(ADMIT, DEPT_A, this.deptA.address, 1);
      await expect(this.consortium.connect(this.deptC).vote(ADMIT))
        .to.emit(this.consortium, "ProposalVoted").withArgs(ADMIT, DEPT_C, this.deptC.address, 2);
      expect((await this.consortium.proposal(ADMIT)).yesVotes).to.equal(2);
    });

    it("refuses a second vote by the same department, even through another service account", async function () {
      await addServiceAccount(this.consortium, this.deptA, this.extra);
      await this.consortium.connect(this.deptA).vote(ADMIT);
      for (const account of [this.deptA, this.extra]) {
        await expect(this.consortium.connect(account).vote(ADMIT))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumAlreadyVoted").withArgs(ADMIT, DEPT_A);
      }
    });

    it("refuses a caller that serves no member department, the coordinator included", async function () {
      for (const caller of [this.coordinator, this.auditor, this.consumer, this.outsider, this.newService]) {
        await expect(this.consortium.connect(caller).vote(ADMIT))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotADepartment").withArgs(caller.address);
      }
    });

    it("refuses an unknown proposal", async function () {
      await expect(this.consortium.connect(this.deptA).vote(id("nope")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownProposal").withArgs(id("nope"));
    });

    it("accepts a vote cast at the deadline itself", async function () {
      const { deadline } = await this.consortium.proposal(ADMIT);
      await time.setNextBlockTimestamp(deadline);
      await expect(this.consortium.connect(this.deptA).vote(ADMIT)).to.emit(this.consortium, "ProposalVoted");
    });

    it("refuses a vote once the voting period is over", async function () {
      const { deadline } = await this.consortium.proposal(ADMIT);
      await time.increase(VOTING_PERIOD + 1n);
      await expect(this.consortium.connect(this.deptA).vote(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumProposalExpired").withArgs(ADMIT, deadline);
    });

    it("refuses a vote on a proposal executed already", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      await this.consortium.execute(ADMIT);
      await expect(this.consortium.connect(this.deptC).vote(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumProposalClosed").withArgs(ADMIT, ProposalStatus.Executed);
    });
  });

  describe("execute an admission", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(admissionProposed));
    });

    it("refuses a proposal without votes: three members need two", async function () {
      await expect(this.consortium.connect(this.deptA).execute(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoMajority").withArgs(ADMIT, 0, 2);
    });

    it("refuses a proposal with one vote of three", async function () {
      await passed(this.consortium, ADMIT, this.deptA);
      await expect(this.consortium.execute(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoMajority").withArgs(ADMIT, 1, 2);
      expect(await this.consortium.isMember(NEW_DEPT)).to.equal(false);
      expect((await this.consortium.proposal(ADMIT)).status).to.equal(ProposalStatus.Open);
    });

    it("admits the department once a majority voted for it", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      await expect(this.consortium.connect(this.deptC).execute(ADMIT))
        .to.emit(this.consortium, "ProposalExecuted").withArgs(ADMIT, this.deptC.address)
        .and.to.emit(this.consortium, "DepartmentAdmitted").withArgs(NEW_DEPT, this.spare.address, ADMIT, "Water Authority", this.newService.address)
        .and.to.emit(this.consortium, "ServiceAccountAdded").withArgs(NEW_DEPT, this.newService.address, this.deptC.address);
      expect((await this.consortium.proposal(ADMIT)).status).to.equal(ProposalStatus.Executed);
      expect(await this.consortium.members()).to.deep.equal([DEPT_A, DEPT_B, DEPT_C, NEW_DEPT]);
      expect(await this.consortium.isMember(NEW_DEPT)).to.equal(true);
      expect(await this.consortium.departmentOf(this.newService.address)).to.equal(NEW_DEPT);
      expect(await this.consortium.hasRole(await this.consortium.DEPARTMENT_ROLE(), this.newService.address)).to.equal(true);
      const dept = await this.consortium.department(NEW_DEPT);
      expect([dept.name, dept.validator, dept.active]).to.deep.equal(["Water Authority", this.spare.address, true]);
    });

    it("lets the new department vote, and raises the quorum of later proposals to three of four", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      await this.consortium.execute(ADMIT);
      const removal = proposalIdOf(this.newService.address, REMOVE_KEY);
      await expect(this.consortium.connect(this.newService).proposeRemoval(REMOVE_KEY, DEPT_C))
        .to.emit(this.consortium, "ProposalOpened")
        .withArgs(removal, ProposalKind.Remove, DEPT_C, this.newService.address, this.validatorC.address, ethers.ZeroAddress, "Public Security", 3, anyValue);
      await passed(this.consortium, removal, this.newService, this.deptA);
      await expect(this.consortium.execute(removal))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoMajority").withArgs(removal, 2, 3);
    });

    it("refuses executing twice", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      await this.consortium.execute(ADMIT);
      await expect(this.consortium.execute(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumProposalClosed").withArgs(ADMIT, ProposalStatus.Executed);
    });

    it("refuses a caller that is neither a member department nor the coordinator", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      for (const caller of [this.auditor, this.consumer, this.outsider, this.newService]) {
        await expect(this.consortium.connect(caller).execute(ADMIT))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotMemberOrCoordinator").withArgs(caller.address);
      }
    });

    it("refuses an unknown proposal", async function () {
      await expect(this.consortium.execute(id("nope")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownProposal").withArgs(id("nope"));
    });

    it("refuses a majority reached after the deadline", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      const { deadline } = await this.consortium.proposal(ADMIT);
      await time.increase(VOTING_PERIOD + 1n);
      await expect(this.consortium.execute(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumProposalExpired").withArgs(ADMIT, deadline);
    });

    it("refuses a department admitted meanwhile by another proposal", async function () {
      await this.consortium.connect(this.deptB).proposeAdmission(id("admit-water-again"), NEW_DEPT, "Water", this.spare.address, this.extra.address);
      const rival = proposalIdOf(this.deptB.address, id("admit-water-again"));
      await passed(this.consortium, rival, this.deptA, this.deptB);
      await passed(this.consortium, ADMIT, this.deptA, this.deptB, this.deptC);
      await this.consortium.execute(rival);
      await expect(this.consortium.execute(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumDepartmentExists").withArgs(NEW_DEPT);
    });

    it("refuses a service account taken meanwhile by a member department", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      await addServiceAccount(this.consortium, this.deptB, this.newService);
      await expect(this.consortium.execute(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.newService.address, DEPT_B);
    });
  });

  describe("execute a removal", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(removalProposed));
    });

    it("refuses a removal without a majority", async function () {
      await passed(this.consortium, REMOVE, this.deptA);
      await expect(this.consortium.execute(REMOVE))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoMajority").withArgs(REMOVE, 1, 2);
      expect(await this.consortium.isMember(DEPT_C)).to.equal(true);
    });

    it("deactivates the department and takes the role from all its service accounts, emitting ServiceAccountRemoved for each", async function () {
      const role = await this.consortium.DEPARTMENT_ROLE();
      await passed(this.consortium, REMOVE, this.deptA, this.deptB);
      await expect(this.consortium.connect(this.deptB).execute(REMOVE))
        .to.emit(this.consortium, "ProposalExecuted").withArgs(REMOVE, this.deptB.address)
        .and.to.emit(this.consortium, "DepartmentRemoved").withArgs(DEPT_C, this.validatorC.address, REMOVE)
        .and.to.emit(this.consortium, "ServiceAccountRemoved").withArgs(DEPT_C, this.deptC.address, this.deptB.address)
        .and.to.emit(this.consortium, "ServiceAccountRemoved").withArgs(DEPT_C, this.extra.address, this.deptB.address)
        .and.to.emit(this.consortium, "RoleRevoked").withArgs(role, this.deptC.address, this.deptB.address)
        .and.to.emit(this.consortium, "RoleRevoked").withArgs(role, this.extra.address, this.deptB.address);
      expect(await this.consortium.serviceAccounts(DEPT_C)).to.deep.equal([]);
      expect(await this.consortium.isMember(DEPT_C)).to.equal(false);
      expect((await this.consortium.department(DEPT_C)).active).to.equal(false);
      expect(await this.consortium.members()).to.deep.equal([DEPT_A, DEPT_B]);
      for (const account of [this.deptC, this.extra]) {
        expect(await this.consortium.departmentOf(account.address)).to.equal(ethers.ZeroHash);
        expect(await this.consortium.hasRole(role, account.address)).to.equal(false);
      }
    });

    it("lets a removed department neither vote, propose nor add accounts", async function () {
      await passed(this.consortium, REMOVE, this.deptA, this.deptB);
      await this.consortium.execute(REMOVE);
      await this.consortium.connect(this.deptA).proposeRemoval(id("next"), DEPT_B);
      await expect(this.consortium.connect(this.deptC).vote(id("next")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotADepartment").withArgs(this.deptC.address);
      await expect(this.consortium.connect(this.deptC).proposeRemoval(id("revenge"), DEPT_A))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotMemberOrCoordinator").withArgs(this.deptC.address);
      await expect(this.consortium.connect(this.extra).offerServiceAccount(this.extra2.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotADepartment").withArgs(this.extra.address);
    });

    it("refuses an account accepting an offer the department made before it was removed", async function () {
      await this.consortium.connect(this.deptC).offerServiceAccount(this.extra2.address);
      await passed(this.consortium, REMOVE, this.deptA, this.deptB);
      await this.consortium.execute(REMOVE);
      await expect(this.consortium.connect(this.extra2).acceptServiceAccount(DEPT_C))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownDepartment").withArgs(DEPT_C);
      expect(await this.consortium.departmentOf(this.extra2.address)).to.equal(ethers.ZeroHash);
    });

    it("leaves service accounts that the events alone rebuild: none for the removed department", async function () {
      await passed(this.consortium, REMOVE, this.deptA, this.deptB);
      await this.consortium.execute(REMOVE);
      const accounts = new Set();
      for (const event of await this.consortium.queryFilter("*")) {
        if (event.fragment?.name === "ServiceAccountAdded" && event.args.departmentId === DEPT_C) accounts.add(event.args.account);
        if (event.fragment?.name === "ServiceAccountRemoved" && event.args.departmentId === DEPT_C) accounts.delete(event.args.account);
      }
      expect([...accounts]).to.deep.equal(await this.consortium.serviceAccounts(DEPT_C)).and.to.deep.equal([]);
    });

    it("frees the removed department's service accounts to serve another department or become consumers", async function () {
      await passed(this.consortium, REMOVE, this.deptA, this.deptB);
      await this.consortium.execute(REMOVE);
      await this.consortium.connect(this.deptA).offerServiceAccount(this.deptC.address);
      await expect(this.consortium.connect(this.deptC).acceptServiceAccount(DEPT_A))
        .to.emit(this.consortium, "ServiceAccountAdded").withArgs(DEPT_A, this.deptC.address, this.deptC.address);
      expect(await this.consortium.departmentOf(this.deptC.address)).to.equal(DEPT_A);
      await expect(this.consortium.connect(this.deptB).registerConsumer(this.extra.address, ethers.ZeroHash))
        .to.emit(this.consortium, "ConsumerRegistered").withArgs(this.extra.address, DEPT_B, this.deptB.address, ethers.ZeroHash);
    });

    it("never lets a removed department's id be admitted again", async function () {
      await passed(this.consortium, REMOVE, this.deptA, this.deptB);
      await this.consortium.execute(REMOVE);
      await expect(this.consortium.connect(this.deptA).proposeAdmission(id("back"), DEPT_C, "C", this.spare.address, this.newService.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumDepartmentExists").withArgs(DEPT_C);
    });

    it("refuses a second removal of a department removed meanwhile", async function () {
      await this.consortium.connect(this.deptB).proposeRemoval(id("remove-c-again"), DEPT_C);
      const again = proposalIdOf(this.deptB.address, id("remove-c-again"));
      await passed(this.consortium, again, this.deptA, this.deptB);
      await passed(this.consortium, REMOVE, this.deptA, this.deptB);
      await this.consortium.execute(REMOVE);
      await expect(this.consortium.execute(again))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownDepartment").withArgs(DEPT_C);
    });

    it("refuses a removal that would leave no department at all", async function () {
      const { consortium, deptA, deptB } = await loadFixture(deployPair);
      await consortium.connect(deptA).proposeRemoval(id("rm-a"), DEPT_A);
      await consortium.connect(deptB).proposeRemoval(id("rm-b"), DEPT_B);
      const [rmA, rmB] = [proposalIdOf(deptA.address, id("rm-a")), proposalIdOf(deptB.address, id("rm-b"))];
      await passed(consortium, rmA, deptA, deptB);
      await passed(consortium, rmB, deptA, deptB);
      await consortium.execute(rmA);
      await expect(consortium.execute(rmB))
        .to.be.revertedWithCustomError(consortium, "ConsortiumLastDepartment").withArgs(DEPT_B);
    });
  });

  describe("a majority of the current members", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(admissionProposed));
    });

    async function removeDepartment(consortium, key, departmentId, ...voters) {
      await consortium.connect(voters[0]).proposeRemoval(key, departmentId);
      const proposalId = proposalIdOf(voters[0].address, key);
      await passed(consortium, proposalId, ...voters);
      await consortium.execute(proposalId);
    }

    it("does not count the vote of a department removed after it voted", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptC);
      expect(await this.consortium.tally(ADMIT)).to.deep.equal([2n, 2n]);
      await removeDepartment(this.consortium, REMOVE_KEY, DEPT_C, this.deptA, this.deptB);
      expect(await this.consortium.tally(ADMIT)).to.deep.equal([1n, 2n]);
      expect((await this.consortium.proposal(ADMIT)).yesVotes).to.equal(2);
      await expect(this.consortium.execute(ADMIT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoMajority").withArgs(ADMIT, 1, 2);
      await expect(this.consortium.connect(this.deptB).vote(ADMIT))
        .to.emit(this.consortium, "ProposalVoted").withArgs(ADMIT, DEPT_B, this.deptB.address, 3);
      await expect(this.consortium.execute(ADMIT)).to.emit(this.consortium, "ProposalExecuted").withArgs(ADMIT, this.coordinator.address);
    });

    it("raises the quorum when a department is admitted after the vote opened, and counts the new department's vote", async function () {
      await this.consortium.connect(this.deptA).proposeRemoval(REMOVE_KEY, DEPT_C);
      await passed(this.consortium, REMOVE, this.deptA, this.deptB);
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      await this.consortium.execute(ADMIT);
      expect(await this.consortium.tally(REMOVE)).to.deep.equal([2n, 3n]);
      await expect(this.consortium.execute(REMOVE))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoMajority").withArgs(REMOVE, 2, 3);
      await this.consortium.connect(this.newService).vote(REMOVE);
      await expect(this.consortium.execute(REMOVE)).to.emit(this.consortium, "DepartmentRemoved").withArgs(DEPT_C, this.validatorC.address, REMOVE);
    });

    it("lowers the quorum when a department is removed after the vote opened, though the proposal keeps its opening quorum", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      await this.consortium.execute(ADMIT);
      const port = proposalIdOf(this.deptA.address, id("admit-port"));
      await expect(this.consortium.connect(this.deptA).proposeAdmission(id("admit-port"), id("port-authority"), "Port Authority", this.extra.address, this.extra2.address))
        .to.emit(this.consortium, "ProposalOpened")
        .withArgs(port, ProposalKind.Admit, id("port-authority"), this.deptA.address, this.extra.address, this.extra2.address, "Port Authority", 3, anyValue);
      await passed(this.consortium, port, this.deptA, this.deptB);
      await expect(this.consortium.execute(port))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoMajority").withArgs(port, 2, 3);
      await removeDepartment(this.consortium, id("remove-water"), NEW_DEPT, this.deptA, this.deptB, this.deptC);
      expect(await this.consortium.tally(port)).to.deep.equal([2n, 2n]);
      expect((await this.consortium.proposal(port)).quorum).to.equal(3);
      await expect(this.consortium.execute(port)).to.emit(this.consortium, "ProposalExecuted").withArgs(port, this.coordinator.address);
      expect(await this.consortium.isMember(id("port-authority"))).to.equal(true);
    });

    it("answers the tally of a proposal executed, and of an unknown proposal with ConsortiumUnknownProposal", async function () {
      await passed(this.consortium, ADMIT, this.deptA, this.deptB);
      await this.consortium.execute(ADMIT);
      expect(await this.consortium.tally(ADMIT)).to.deep.equal([2n, 3n]);
      await expect(this.consortium.tally(id("nope")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownProposal").withArgs(id("nope"));
    });
  });
});
