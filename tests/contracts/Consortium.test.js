const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { anyValue } = require("@nomicfoundation/hardhat-chai-matchers/withArgs");
const { deploySuite, id, hash, ProposalKind, ProposalStatus, DEPT_A, DEPT_B, DEPT_C, VOTING_PERIOD } = require("./fixture");

const NEW_DEPT = id("water-authority");
const PROPOSAL = id("admit-water");

async function admissionProposed() {
  const s = await deploySuite();
  const newService = s.signers[12];
  await s.consortium.connect(s.deptA).proposeAdmission(PROPOSAL, NEW_DEPT, "Water Authority", s.spare.address, newService.address);
  return { ...s, newService };
}

describe("Consortium", function () {
  describe("founding", function () {
    it("seats founding departments with their validator and service account", async function () {
      const s = await loadFixture(deploySuite);
      expect(await s.consortium.members()).to.deep.equal([DEPT_A, DEPT_B, DEPT_C]);
      const a = await s.consortium.department(DEPT_A);
      expect(a.name).to.equal("Statistics Bureau");
      expect(a.validator).to.equal(s.validatorA.address);
      expect(a.active).to.equal(true);
      expect(await s.consortium.departmentOf(s.deptA.address)).to.equal(DEPT_A);
      expect(await s.consortium.serviceAccounts(DEPT_A)).to.deep.equal([s.deptA.address]);
      expect(await s.consortium.hasRole(await s.consortium.DEPARTMENT_ROLE(), s.deptA.address)).to.equal(true);
    });

    it("emits DepartmentAdmitted with a zero proposal id and ServiceAccountAdded", async function () {
      const [coordinator, dept, validator] = await ethers.getSigners();
      const consortium = await ethers.deployContract("Consortium", [coordinator.address, VOTING_PERIOD]);
      await expect(consortium.seatFoundingDepartment(DEPT_A, "Statistics Bureau", validator.address, dept.address))
        .to.emit(consortium, "DepartmentAdmitted").withArgs(DEPT_A, validator.address, ethers.ZeroHash, "Statistics Bureau", dept.address)
        .and.to.emit(consortium, "ServiceAccountAdded").withArgs(DEPT_A, dept.address, coordinator.address);
    });

    it("refuses a founding seat from anyone but the coordinator", async function () {
      const s = await loadFixture(deploySuite);
      const role = await s.consortium.COORDINATOR_ROLE();
      await expect(s.consortium.connect(s.deptA).seatFoundingDepartment(NEW_DEPT, "X", s.spare.address, s.spare.address))
        .to.be.revertedWithCustomError(s.consortium, "AccessControlUnauthorizedAccount").withArgs(s.deptA.address, role);
    });

    it("refuses founding seats once founding is closed, and closing twice", async function () {
      const s = await loadFixture(deploySuite);
      await expect(s.consortium.seatFoundingDepartment(NEW_DEPT, "X", s.spare.address, s.spare.address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumFoundingClosed");
      await expect(s.consortium.closeFounding()).to.be.revertedWithCustomError(s.consortium, "ConsortiumFoundingClosed");
    });

    it("refuses a duplicate department, a zero id, a zero validator and an account already in use", async function () {
      const [coordinator, a, b, consumer, validator] = await ethers.getSigners();
      const consortium = await ethers.deployContract("Consortium", [coordinator.address, VOTING_PERIOD]);
      await consortium.seatFoundingDepartment(DEPT_A, "A", validator.address, a.address);
      await expect(consortium.seatFoundingDepartment(DEPT_A, "A again", validator.address, b.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumDepartmentExists").withArgs(DEPT_A);
      await expect(consortium.seatFoundingDepartment(ethers.ZeroHash, "Zero", validator.address, b.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, ethers.ZeroHash);
      await expect(consortium.seatFoundingDepartment(DEPT_B, "B", ethers.ZeroAddress, b.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, DEPT_B);
      await expect(consortium.seatFoundingDepartment(DEPT_B, "B", validator.address, a.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumAccountInUse").withArgs(a.address, DEPT_A);
      await consortium.connect(a).registerConsumer(consumer.address, hash("p"));
      await expect(consortium.seatFoundingDepartment(DEPT_B, "B", validator.address, consumer.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumAccountInUse").withArgs(consumer.address, ethers.ZeroHash);
    });

    it("refuses a zero coordinator at deployment", async function () {
      const factory = await ethers.getContractFactory("Consortium");
      await expect(ethers.deployContract("Consortium", [ethers.ZeroAddress, VOTING_PERIOD]))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidArgument");
    });
  });

  describe("proposals", function () {
    it("opens an admission proposal with a majority quorum of the current members", async function () {
      const s = await loadFixture(deploySuite);
      const deadline = BigInt(await time.latest()) + 1n + VOTING_PERIOD;
      await expect(s.consortium.connect(s.deptA).proposeAdmission(PROPOSAL, NEW_DEPT, "Water Authority", s.spare.address, s.signers[12].address))
        .to.emit(s.consortium, "ProposalOpened")
        .withArgs(PROPOSAL, ProposalKind.Admit, NEW_DEPT, s.deptA.address, s.spare.address, s.signers[12].address, "Water Authority", 2, deadline);
      const p = await s.consortium.proposal(PROPOSAL);
      expect(p.status).to.equal(ProposalStatus.Open);
      expect(p.quorum).to.equal(2);
    });

    it("lets the coordinator propose", async function () {
      const s = await loadFixture(deploySuite);
      await expect(s.consortium.proposeAdmission(PROPOSAL, NEW_DEPT, "W", s.spare.address, s.signers[12].address))
        .to.emit(s.consortium, "ProposalOpened");
    });

    it("refuses proposals from a consumer or an outsider", async function () {
      const s = await loadFixture(deploySuite);
      for (const caller of [s.consumer, s.outsider, s.auditor]) {
        await expect(s.consortium.connect(caller).proposeAdmission(PROPOSAL, NEW_DEPT, "W", s.spare.address, s.signers[12].address))
          .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotMemberOrCoordinator").withArgs(caller.address);
        await expect(s.consortium.connect(caller).proposeRemoval(PROPOSAL, DEPT_C))
          .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotMemberOrCoordinator").withArgs(caller.address);
      }
    });

    it("refuses a duplicate or zero proposal id, an existing department, and removing an unknown one", async function () {
      const s = await loadFixture(admissionProposed);
      await expect(s.consortium.connect(s.deptB).proposeRemoval(PROPOSAL, DEPT_C))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumProposalExists").withArgs(PROPOSAL);
      await expect(s.consortium.connect(s.deptB).proposeRemoval(ethers.ZeroHash, DEPT_C))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, ethers.ZeroHash);
      await expect(s.consortium.connect(s.deptB).proposeAdmission(id("p2"), DEPT_C, "C", s.spare.address, s.signers[13].address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumDepartmentExists").withArgs(DEPT_C);
      await expect(s.consortium.connect(s.deptB).proposeRemoval(id("p3"), NEW_DEPT))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumUnknownDepartment").withArgs(NEW_DEPT);
    });

    it("counts one vote per department, whichever of its service accounts casts it", async function () {
      const s = await loadFixture(admissionProposed);
      await s.consortium.connect(s.deptA).addServiceAccount(s.signers[14].address);
      await expect(s.consortium.connect(s.deptA).vote(PROPOSAL))
        .to.emit(s.consortium, "ProposalVoted").withArgs(PROPOSAL, DEPT_A, s.deptA.address, 1);
      await expect(s.consortium.connect(s.signers[14]).vote(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumAlreadyVoted").withArgs(PROPOSAL, DEPT_A);
    });

    it("refuses votes from non-members, on unknown proposals and after the deadline", async function () {
      const s = await loadFixture(admissionProposed);
      await expect(s.consortium.connect(s.consumer).vote(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotADepartment").withArgs(s.consumer.address);
      await expect(s.consortium.vote(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotADepartment").withArgs(s.coordinator.address);
      await expect(s.consortium.connect(s.deptA).vote(id("nope")))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumUnknownProposal").withArgs(id("nope"));
      const { deadline } = await s.consortium.proposal(PROPOSAL);
      await time.increaseTo(deadline + 1n);
      await expect(s.consortium.connect(s.deptA).vote(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumProposalExpired").withArgs(PROPOSAL, deadline);
      await expect(s.consortium.connect(s.deptA).execute(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumProposalExpired").withArgs(PROPOSAL, deadline);
    });

    it("refuses to execute an admission passed without a majority", async function () {
      const s = await loadFixture(admissionProposed);
      await expect(s.consortium.connect(s.deptA).execute(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNoMajority").withArgs(PROPOSAL, 0, 2);
      await s.consortium.connect(s.deptA).vote(PROPOSAL);
      await expect(s.consortium.connect(s.deptA).execute(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNoMajority").withArgs(PROPOSAL, 1, 2);
      expect(await s.consortium.isMember(NEW_DEPT)).to.equal(false);
    });

    it("refuses execution by an outsider", async function () {
      const s = await loadFixture(admissionProposed);
      await s.consortium.connect(s.deptA).vote(PROPOSAL);
      await s.consortium.connect(s.deptB).vote(PROPOSAL);
      await expect(s.consortium.connect(s.outsider).execute(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotMemberOrCoordinator").withArgs(s.outsider.address);
    });

    it("admits a department once a majority voted, and raises the quorum for later proposals", async function () {
      const s = await loadFixture(admissionProposed);
      await s.consortium.connect(s.deptA).vote(PROPOSAL);
      await s.consortium.connect(s.deptB).vote(PROPOSAL);
      await expect(s.consortium.execute(PROPOSAL))
        .to.emit(s.consortium, "ProposalExecuted").withArgs(PROPOSAL, s.coordinator.address)
        .and.to.emit(s.consortium, "DepartmentAdmitted").withArgs(NEW_DEPT, s.spare.address, PROPOSAL, "Water Authority", s.newService.address)
        .and.to.emit(s.consortium, "ServiceAccountAdded").withArgs(NEW_DEPT, s.newService.address, s.coordinator.address);
      expect(await s.consortium.members()).to.deep.equal([DEPT_A, DEPT_B, DEPT_C, NEW_DEPT]);
      expect(await s.consortium.departmentOf(s.newService.address)).to.equal(NEW_DEPT);
      expect(await s.consortium.hasRole(await s.consortium.DEPARTMENT_ROLE(), s.newService.address)).to.equal(true);
      expect((await s.consortium.proposal(PROPOSAL)).status).to.equal(ProposalStatus.Executed);
      await s.consortium.connect(s.newService).proposeRemoval(id("remove-c"), DEPT_C);
      expect((await s.consortium.proposal(id("remove-c"))).quorum).to.equal(3);
      await expect(s.consortium.execute(PROPOSAL))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumProposalClosed").withArgs(PROPOSAL, ProposalStatus.Executed);
    });

    it("removes a department by majority: inactive, its accounts lose their role", async function () {
      const s = await loadFixture(deploySuite);
      const removal = id("remove-c");
      await s.consortium.connect(s.deptA).proposeRemoval(removal, DEPT_C);
      expect((await s.consortium.proposal(removal)).kind).to.equal(ProposalKind.Remove);
      await s.consortium.connect(s.deptA).vote(removal);
      await s.consortium.connect(s.deptB).vote(removal);
      await expect(s.consortium.connect(s.deptB).execute(removal))
        .to.emit(s.consortium, "DepartmentRemoved").withArgs(DEPT_C, s.validatorC.address, removal);
      expect(await s.consortium.isMember(DEPT_C)).to.equal(false);
      expect(await s.consortium.departmentOf(s.deptC.address)).to.equal(ethers.ZeroHash);
      expect(await s.consortium.hasRole(await s.consortium.DEPARTMENT_ROLE(), s.deptC.address)).to.equal(false);
      expect([...(await s.consortium.members())]).to.have.members([DEPT_A, DEPT_B]);
      expect((await s.consortium.department(DEPT_C)).active).to.equal(false);
      await expect(s.consortium.connect(s.deptC).vote(removal))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotADepartment").withArgs(s.deptC.address);
      await expect(s.consortium.connect(s.deptA).proposeAdmission(id("back"), DEPT_C, "C", s.spare.address, s.signers[13].address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumDepartmentExists").withArgs(DEPT_C);
    });

    it("never removes the last department", async function () {
      const [coordinator, a, validator] = await ethers.getSigners();
      const consortium = await ethers.deployContract("Consortium", [coordinator.address, VOTING_PERIOD]);
      await consortium.seatFoundingDepartment(DEPT_A, "A", validator.address, a.address);
      await expect(consortium.connect(a).proposeRemoval(id("r"), DEPT_A))
        .to.be.revertedWithCustomError(consortium, "ConsortiumLastDepartment").withArgs(DEPT_A);
    });
  });

  describe("service accounts", function () {
    it("adds and removes a department's own service accounts", async function () {
      const s = await loadFixture(deploySuite);
      const extra = s.signers[14];
      await expect(s.consortium.connect(s.deptA).addServiceAccount(extra.address))
        .to.emit(s.consortium, "ServiceAccountAdded").withArgs(DEPT_A, extra.address, s.deptA.address);
      expect(await s.consortium.departmentOf(extra.address)).to.equal(DEPT_A);
      await expect(s.consortium.connect(extra).removeServiceAccount(s.deptA.address))
        .to.emit(s.consortium, "ServiceAccountRemoved").withArgs(DEPT_A, s.deptA.address, extra.address);
      expect(await s.consortium.serviceAccounts(DEPT_A)).to.deep.equal([extra.address]);
      expect(await s.consortium.departmentOf(s.deptA.address)).to.equal(ethers.ZeroHash);
    });

    it("refuses removing the last account, another department's account, and additions by outsiders", async function () {
      const s = await loadFixture(deploySuite);
      await expect(s.consortium.connect(s.deptA).removeServiceAccount(s.deptA.address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumLastServiceAccount").withArgs(DEPT_A);
      await expect(s.consortium.connect(s.deptA).removeServiceAccount(s.deptB.address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotADepartment").withArgs(s.deptB.address);
      await expect(s.consortium.connect(s.outsider).addServiceAccount(s.spare.address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotADepartment").withArgs(s.outsider.address);
      await expect(s.consortium.connect(s.deptA).addServiceAccount(s.deptB.address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumAccountInUse").withArgs(s.deptB.address, DEPT_B);
      await expect(s.consortium.connect(s.deptA).addServiceAccount(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumInvalidArgument");
    });
  });

  describe("consumers and auditors", function () {
    it("registers a consumer sponsored by the caller's department", async function () {
      const s = await loadFixture(deploySuite);
      await expect(s.consortium.connect(s.deptC).registerConsumer(s.spare.address, hash("research institute")))
        .to.emit(s.consortium, "ConsumerRegistered").withArgs(s.spare.address, DEPT_C, s.deptC.address, hash("research institute"));
      expect(await s.consortium.sponsorOf(s.spare.address)).to.equal(DEPT_C);
      expect(await s.consortium.hasRole(await s.consortium.CONSUMER_ROLE(), s.spare.address)).to.equal(true);
    });

    it("refuses consumers registered by outsiders, twice, or over a service account", async function () {
      const s = await loadFixture(deploySuite);
      await expect(s.consortium.connect(s.consumer).registerConsumer(s.spare.address, hash("x")))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotADepartment").withArgs(s.consumer.address);
      await expect(s.consortium.connect(s.deptC).registerConsumer(s.consumer.address, hash("x")))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumAccountInUse").withArgs(s.consumer.address, ethers.ZeroHash);
      await expect(s.consortium.connect(s.deptC).registerConsumer(s.deptA.address, hash("x")))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumAccountInUse").withArgs(s.deptA.address, DEPT_A);
    });

    it("lets the sponsor or the coordinator remove a consumer, and no one else", async function () {
      const s = await loadFixture(deploySuite);
      await expect(s.consortium.connect(s.deptB).removeConsumer(s.consumer.address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumNotSponsor").withArgs(s.deptB.address, s.consumer.address);
      await expect(s.consortium.connect(s.deptA).removeConsumer(s.consumer.address))
        .to.emit(s.consortium, "ConsumerRemoved").withArgs(s.consumer.address, DEPT_A, s.deptA.address);
      await expect(s.consortium.connect(s.deptA).removeConsumer(s.consumer.address))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumUnknownConsumer").withArgs(s.consumer.address);
      await expect(s.consortium.removeConsumer(s.consumer2.address))
        .to.emit(s.consortium, "ConsumerRemoved").withArgs(s.consumer2.address, DEPT_B, s.coordinator.address);
    });

    it("lets only the coordinator appoint auditors", async function () {
      const s = await loadFixture(deploySuite);
      const auditorRole = await s.consortium.AUDITOR_ROLE();
      const coordinatorRole = await s.consortium.COORDINATOR_ROLE();
      expect(await s.consortium.isAuditor(s.auditor.address)).to.equal(true);
      await expect(s.consortium.connect(s.deptA).grantRole(auditorRole, s.spare.address))
        .to.be.revertedWithCustomError(s.consortium, "AccessControlUnauthorizedAccount").withArgs(s.deptA.address, coordinatorRole);
    });

    it("lets nobody grant the department or consumer role outside the contract's rules", async function () {
      const s = await loadFixture(deploySuite);
      for (const role of [await s.consortium.DEPARTMENT_ROLE(), await s.consortium.CONSUMER_ROLE()]) {
        await expect(s.consortium.grantRole(role, s.spare.address))
          .to.be.revertedWithCustomError(s.consortium, "AccessControlUnauthorizedAccount").withArgs(s.coordinator.address, ethers.ZeroHash);
      }
    });
  });

  describe("emergency pause", function () {
    it("lets only the coordinator pause and unpause", async function () {
      const s = await loadFixture(deploySuite);
      const role = await s.consortium.COORDINATOR_ROLE();
      await expect(s.consortium.connect(s.deptA).pause())
        .to.be.revertedWithCustomError(s.consortium, "AccessControlUnauthorizedAccount").withArgs(s.deptA.address, role);
      await expect(s.consortium.pause()).to.emit(s.consortium, "Paused").withArgs(s.coordinator.address);
      await expect(s.consortium.pause()).to.be.revertedWithCustomError(s.consortium, "EnforcedPause");
      await expect(s.consortium.connect(s.deptA).unpause())
        .to.be.revertedWithCustomError(s.consortium, "AccessControlUnauthorizedAccount").withArgs(s.deptA.address, role);
      await expect(s.consortium.unpause()).to.emit(s.consortium, "Unpaused").withArgs(s.coordinator.address);
      await expect(s.consortium.unpause()).to.be.revertedWithCustomError(s.consortium, "ExpectedPause");
    });

    it("refuses membership writes while paused", async function () {
      const s = await loadFixture(admissionProposed);
      await s.consortium.pause();
      const calls = [
        () => s.consortium.connect(s.deptA).vote(PROPOSAL),
        () => s.consortium.connect(s.deptA).execute(PROPOSAL),
        () => s.consortium.connect(s.deptA).proposeRemoval(id("r"), DEPT_C),
        () => s.consortium.connect(s.deptA).proposeAdmission(id("a"), id("new"), "N", s.spare.address, s.signers[15].address),
        () => s.consortium.connect(s.deptA).addServiceAccount(s.signers[15].address),
        () => s.consortium.connect(s.deptA).removeServiceAccount(s.deptA.address),
        () => s.consortium.connect(s.deptA).registerConsumer(s.signers[15].address, hash("x")),
        () => s.consortium.connect(s.deptA).removeConsumer(s.consumer.address),
      ];
      for (const call of calls) await expect(call()).to.be.revertedWithCustomError(s.consortium, "EnforcedPause");
    });
  });
});
