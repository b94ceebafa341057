// Founding, service accounts, consumers, roles and the emergency pause.
// Admission and removal votes are in Consortium.proposals.test.js.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time, setBalance } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, addServiceAccount, id, hash, DEPT_A, DEPT_B, DEPT_C, VOTING_PERIOD } = require("./fixture");

const NEW_DEPT = id("water-authority");

async function rolesOf(consortium) {
  return {
    coordinator: await consortium.COORDINATOR_ROLE(),
    auditor: await consortium.AUDITOR_ROLE(),
    department: await consortium.DEPARTMENT_ROLE(),
    consumer: await consortium.CONSUMER_ROLE(),
  };
}

// A consortium still in its founding phase: one department seated, one consumer, one auditor.
async function deployFounding() {
  const [coordinator, deptA, validatorA, validatorB, deptB, consumer, outsider, auditor] = await ethers.getSigners();
  const consortium = await ethers.deployContract("Consortium", [coordinator.address, VOTING_PERIOD]);
  await consortium.seatFoundingDepartment(DEPT_A, "Statistics Bureau", validatorA.address, deptA.address);
  await consortium.connect(deptA).registerConsumer(consumer.address, hash("consumer profile"));
  const roles = await rolesOf(consortium);
  await consortium.grantRole(roles.auditor, auditor.address);
  return { consortium, roles, coordinator, deptA, validatorA, validatorB, deptB, consumer, outsider, auditor };
}

// Funded accounts beyond the node's twenty signers.
async function freshAccounts(count) {
  const accounts = [];
  for (let i = 0; i < count; i++) {
    const wallet = ethers.Wallet.createRandom().connect(ethers.provider);
    await setBalance(wallet.address, ethers.parseEther("1"));
    accounts.push(wallet);
  }
  return accounts;
}

async function deployWithRoles() {
  const s = await deploySuite();
  return { ...s, roles: await rolesOf(s.consortium), extra: s.signers[12], extra2: s.signers[13] };
}

describe("Consortium", function () {
  describe("deployment", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployFounding));
    });

    it("refuses a zero coordinator", async function () {
      const factory = await ethers.getContractFactory("Consortium");
      await expect(ethers.deployContract("Consortium", [ethers.ZeroAddress, VOTING_PERIOD]))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, ethers.ZeroHash);
    });

    it("makes the coordinator the admin of the coordinator and auditor roles", async function () {
      expect(await this.consortium.isCoordinator(this.coordinator.address)).to.equal(true);
      expect(await this.consortium.getRoleAdmin(this.roles.coordinator)).to.equal(this.roles.coordinator);
      expect(await this.consortium.getRoleAdmin(this.roles.auditor)).to.equal(this.roles.coordinator);
      expect(await this.consortium.votingPeriod()).to.equal(VOTING_PERIOD);
    });

    it("leaves the department and consumer roles to an admin role that nobody holds", async function () {
      expect(await this.consortium.getRoleAdmin(this.roles.department)).to.equal(ethers.ZeroHash);
      expect(await this.consortium.getRoleAdmin(this.roles.consumer)).to.equal(ethers.ZeroHash);
      expect(await this.consortium.hasRole(ethers.ZeroHash, this.coordinator.address)).to.equal(false);
    });
  });

  describe("seatFoundingDepartment", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployFounding));
    });

    it("seats a department with its validator and first service account", async function () {
      await expect(this.consortium.seatFoundingDepartment(DEPT_B, "Health Commission", this.validatorB.address, this.deptB.address))
        .to.emit(this.consortium, "DepartmentAdmitted")
        .withArgs(DEPT_B, this.validatorB.address, ethers.ZeroHash, "Health Commission", this.deptB.address)
        .and.to.emit(this.consortium, "ServiceAccountAdded").withArgs(DEPT_B, this.deptB.address, this.coordinator.address)
        .and.to.emit(this.consortium, "RoleGranted").withArgs(this.roles.department, this.deptB.address, this.coordinator.address);
      const dept = await this.consortium.department(DEPT_B);
      expect([dept.name, dept.validator, dept.active, dept.admittedAt])
        .to.deep.equal(["Health Commission", this.validatorB.address, true, BigInt(await time.latest())]);
      expect(await this.consortium.members()).to.deep.equal([DEPT_A, DEPT_B]);
      expect(await this.consortium.isMember(DEPT_B)).to.equal(true);
      expect(await this.consortium.departmentOf(this.deptB.address)).to.equal(DEPT_B);
      expect(await this.consortium.serviceAccounts(DEPT_B)).to.deep.equal([this.deptB.address]);
      expect(await this.consortium.hasRole(this.roles.department, this.deptB.address)).to.equal(true);
    });

    it("refuses a seat from anyone but the coordinator", async function () {
      for (const caller of [this.deptA, this.outsider]) {
        await expect(this.consortium.connect(caller).seatFoundingDepartment(DEPT_B, "B", this.validatorB.address, this.deptB.address))
          .to.be.revertedWithCustomError(this.consortium, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, this.roles.coordinator);
      }
    });

    it("refuses a department id seated already", async function () {
      await expect(this.consortium.seatFoundingDepartment(DEPT_A, "Again", this.validatorB.address, this.deptB.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumDepartmentExists").withArgs(DEPT_A);
    });

    it("refuses a zero department id or an empty name", async function () {
      await expect(this.consortium.seatFoundingDepartment(ethers.ZeroHash, "B", this.validatorB.address, this.deptB.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, ethers.ZeroHash);
      await expect(this.consortium.seatFoundingDepartment(DEPT_B, "", this.validatorB.address, this.deptB.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, DEPT_B);
    });

    it("refuses a zero validator", async function () {
      await expect(this.consortium.seatFoundingDepartment(DEPT_B, "B", ethers.ZeroAddress, this.deptB.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, DEPT_B);
    });

    it("refuses a zero service account", async function () {
      await expect(this.consortium.seatFoundingDepartment(DEPT_B, "B", this.validatorB.address, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, ethers.ZeroHash);
    });

    it("refuses a service account that already serves a department", async function () {
      await expect(this.consortium.seatFoundingDepartment(DEPT_B, "B", this.validatorB.address, this.deptA.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.deptA.address, DEPT_A);
    });

    it("refuses a service account that is a consumer or an auditor", async function () {
      for (const account of [this.consumer, this.auditor]) {
        await expect(this.consortium.seatFoundingDepartment(DEPT_B, "B", this.validatorB.address, account.address))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(account.address, ethers.ZeroHash);
      }
    });

    it("refuses every seat once founding is closed", async function () {
      await this.consortium.closeFounding();
      await expect(this.consortium.seatFoundingDepartment(DEPT_B, "B", this.validatorB.address, this.deptB.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumFoundingClosed");
    });
  });

  describe("closeFounding", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployFounding));
    });

    it("ends the founding phase with the number of departments seated", async function () {
      await expect(this.consortium.closeFounding())
        .to.emit(this.consortium, "FoundingClosed").withArgs(this.coordinator.address, 1);
    });

    it("refuses closing twice", async function () {
      await this.consortium.closeFounding();
      await expect(this.consortium.closeFounding()).to.be.revertedWithCustomError(this.consortium, "ConsortiumFoundingClosed");
    });

    it("refuses anyone but the coordinator", async function () {
      await expect(this.consortium.connect(this.deptA).closeFounding())
        .to.be.revertedWithCustomError(this.consortium, "AccessControlUnauthorizedAccount")
        .withArgs(this.deptA.address, this.roles.coordinator);
    });
  });

  describe("offerServiceAccount and acceptServiceAccount", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployWithRoles));
    });

    it("lets a department act through a further service account once the account accepts its offer", async function () {
      await expect(this.consortium.connect(this.deptA).offerServiceAccount(this.extra.address))
        .to.emit(this.consortium, "ServiceAccountOffered").withArgs(DEPT_A, this.extra.address, this.deptA.address);
      expect(await this.consortium.hasOffer(DEPT_A, this.extra.address)).to.equal(true);
      expect(await this.consortium.departmentOf(this.extra.address)).to.equal(ethers.ZeroHash);
      await expect(this.consortium.connect(this.extra).acceptServiceAccount(DEPT_A))
        .to.emit(this.consortium, "ServiceAccountAdded").withArgs(DEPT_A, this.extra.address, this.extra.address)
        .and.to.emit(this.consortium, "RoleGranted").withArgs(this.roles.department, this.extra.address, this.extra.address);
      expect(await this.consortium.hasOffer(DEPT_A, this.extra.address)).to.equal(false);
      expect(await this.consortium.departmentOf(this.extra.address)).to.equal(DEPT_A);
      expect(await this.consortium.serviceAccounts(DEPT_A)).to.deep.equal([this.deptA.address, this.extra.address]);
      expect(await this.consortium.hasRole(this.roles.department, this.extra.address)).to.equal(true);
      await expect(this.consortium.connect(this.extra).registerConsumer(this.extra2.address, hash("p")))
        .to.emit(this.consortium, "ConsumerRegistered").withArgs(this.extra2.address, DEPT_A, this.extra.address, hash("p"));
    });

    it("refuses an offer from a caller that serves no active department", async function () {
      for (const caller of [this.coordinator, this.auditor, this.consumer, this.outsider]) {
        await expect(this.consortium.connect(caller).offerServiceAccount(this.extra.address))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotADepartment").withArgs(caller.address);
      }
    });

    it("refuses an offer to the zero address", async function () {
      await expect(this.consortium.connect(this.deptA).offerServiceAccount(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, ethers.ZeroHash);
    });

    it("refuses an offer to an account that serves a department, is a consumer or is an auditor", async function () {
      await expect(this.consortium.connect(this.deptA).offerServiceAccount(this.deptB.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.deptB.address, DEPT_B);
      for (const account of [this.consumer, this.auditor]) {
        await expect(this.consortium.connect(this.deptA).offerServiceAccount(account.address))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(account.address, ethers.ZeroHash);
      }
    });

    it("refuses an acceptance without an offer from that department, and spends an offer once accepted", async function () {
      await this.consortium.connect(this.deptB).offerServiceAccount(this.extra.address);
      await expect(this.consortium.connect(this.extra).acceptServiceAccount(DEPT_A))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoOffer").withArgs(this.extra.address, DEPT_A);
      await this.consortium.connect(this.extra).acceptServiceAccount(DEPT_B);
      await expect(this.consortium.connect(this.extra).acceptServiceAccount(DEPT_B))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNoOffer").withArgs(this.extra.address, DEPT_B);
    });

    it("refuses an acceptance by an account that took another role since the offer", async function () {
      for (const department of [this.deptA, this.deptB]) await this.consortium.connect(department).offerServiceAccount(this.extra.address);
      await this.consortium.connect(this.extra).acceptServiceAccount(DEPT_B);
      await expect(this.consortium.connect(this.extra).acceptServiceAccount(DEPT_A))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.extra.address, DEPT_B);
      await this.consortium.connect(this.deptA).offerServiceAccount(this.extra2.address);
      await this.consortium.grantRole(this.roles.auditor, this.extra2.address);
      await expect(this.consortium.connect(this.extra2).acceptServiceAccount(DEPT_A))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.extra2.address, ethers.ZeroHash);
    });

    it("caps a department at MAX_SERVICE_ACCOUNTS, refusing both offers and acceptances beyond it", async function () {
      const max = Number(await this.consortium.MAX_SERVICE_ACCOUNTS());
      expect(max).to.equal(8);
      const [late, ...accounts] = await freshAccounts(max);
      await this.consortium.connect(this.deptA).offerServiceAccount(late.address);
      for (const account of accounts) await addServiceAccount(this.consortium, this.deptA, account);
      expect(await this.consortium.serviceAccounts(DEPT_A)).to.have.length(max);
      await expect(this.consortium.connect(this.deptA).offerServiceAccount(this.extra.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumTooManyServiceAccounts").withArgs(DEPT_A);
      await expect(this.consortium.connect(late).acceptServiceAccount(DEPT_A))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumTooManyServiceAccounts").withArgs(DEPT_A);
      await this.consortium.connect(this.deptA).removeServiceAccount(accounts[0].address);
      await expect(this.consortium.connect(late).acceptServiceAccount(DEPT_A))
        .to.emit(this.consortium, "ServiceAccountAdded").withArgs(DEPT_A, late.address, late.address);
    });
  });

  describe("removeServiceAccount", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployWithRoles));
      await addServiceAccount(this.consortium, this.deptA, this.extra);
    });

    it("takes the account and its role away from the department", async function () {
      await expect(this.consortium.connect(this.extra).removeServiceAccount(this.deptA.address))
        .to.emit(this.consortium, "ServiceAccountRemoved").withArgs(DEPT_A, this.deptA.address, this.extra.address)
        .and.to.emit(this.consortium, "RoleRevoked").withArgs(this.roles.department, this.deptA.address, this.extra.address);
      expect(await this.consortium.serviceAccounts(DEPT_A)).to.deep.equal([this.extra.address]);
      expect(await this.consortium.departmentOf(this.deptA.address)).to.equal(ethers.ZeroHash);
      expect(await this.consortium.hasRole(this.roles.department, this.deptA.address)).to.equal(false);
    });

    it("frees the account to serve another department", async function () {
      await this.consortium.connect(this.deptA).removeServiceAccount(this.extra.address);
      await this.consortium.connect(this.deptB).offerServiceAccount(this.extra.address);
      await expect(this.consortium.connect(this.extra).acceptServiceAccount(DEPT_B))
        .to.emit(this.consortium, "ServiceAccountAdded").withArgs(DEPT_B, this.extra.address, this.extra.address);
    });

    it("refuses removing a department's last service account", async function () {
      await this.consortium.connect(this.deptA).removeServiceAccount(this.extra.address);
      await expect(this.consortium.connect(this.deptA).removeServiceAccount(this.deptA.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumLastServiceAccount").withArgs(DEPT_A);
    });

    it("refuses removing another department's account", async function () {
      await expect(this.consortium.connect(this.deptA).removeServiceAccount(this.deptB.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotADepartment").withArgs(this.deptB.address);
    });

    it("refuses a caller that serves no active department", async function () {
      for (const caller of [this.coordinator, this.consumer, this.outsider]) {
        await expect(this.consortium.connect(caller).removeServiceAccount(this.extra.address))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotADepartment").withArgs(caller.address);
      }
    });
  });

  describe("registerConsumer", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployWithRoles));
    });

    it("makes an account a consumer sponsored by the caller's department", async function () {
      await expect(this.consortium.connect(this.deptC).registerConsumer(this.extra.address, hash("research institute")))
        .to.emit(this.consortium, "ConsumerRegistered").withArgs(this.extra.address, DEPT_C, this.deptC.address, hash("research institute"))
        .and.to.emit(this.consortium, "RoleGranted").withArgs(this.roles.consumer, this.extra.address, this.deptC.address);
      expect(await this.consortium.sponsorOf(this.extra.address)).to.equal(DEPT_C);
      expect(await this.consortium.hasRole(this.roles.consumer, this.extra.address)).to.equal(true);
    });

    it("refuses a caller that serves no active department", async function () {
      for (const caller of [this.coordinator, this.auditor, this.consumer, this.outsider]) {
        await expect(this.consortium.connect(caller).registerConsumer(this.extra.address, hash("p")))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotADepartment").withArgs(caller.address);
      }
    });

    it("refuses the zero address", async function () {
      await expect(this.consortium.connect(this.deptA).registerConsumer(ethers.ZeroAddress, hash("p")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumInvalidArgument").withArgs(ethers.ZeroAddress, ethers.ZeroHash);
    });

    it("refuses a consumer registered already, even by another sponsor", async function () {
      await expect(this.consortium.connect(this.deptC).registerConsumer(this.consumer.address, hash("p")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.consumer.address, ethers.ZeroHash);
    });

    it("refuses a service account", async function () {
      await expect(this.consortium.connect(this.deptC).registerConsumer(this.deptA.address, hash("p")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.deptA.address, DEPT_A);
    });

    it("refuses an auditor", async function () {
      await expect(this.consortium.connect(this.deptC).registerConsumer(this.auditor.address, hash("p")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumAccountInUse").withArgs(this.auditor.address, ethers.ZeroHash);
    });
  });

  describe("removeConsumer", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployWithRoles));
    });

    it("lets the sponsor department take the consumer role away", async function () {
      await expect(this.consortium.connect(this.deptA).removeConsumer(this.consumer.address))
        .to.emit(this.consortium, "ConsumerRemoved").withArgs(this.consumer.address, DEPT_A, this.deptA.address)
        .and.to.emit(this.consortium, "RoleRevoked").withArgs(this.roles.consumer, this.consumer.address, this.deptA.address);
      expect(await this.consortium.sponsorOf(this.consumer.address)).to.equal(ethers.ZeroHash);
      expect(await this.consortium.hasRole(this.roles.consumer, this.consumer.address)).to.equal(false);
    });

    it("lets the coordinator remove any consumer", async function () {
      await expect(this.consortium.removeConsumer(this.consumer2.address))
        .to.emit(this.consortium, "ConsumerRemoved").withArgs(this.consumer2.address, DEPT_B, this.coordinator.address);
    });

    it("refuses another department, an auditor, the consumer itself and outsiders", async function () {
      for (const caller of [this.deptB, this.auditor, this.consumer, this.outsider]) {
        await expect(this.consortium.connect(caller).removeConsumer(this.consumer.address))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumNotSponsor").withArgs(caller.address, this.consumer.address);
      }
    });

    it("refuses an account that is not a consumer", async function () {
      await this.consortium.connect(this.deptA).removeConsumer(this.consumer.address);
      for (const account of [this.consumer, this.outsider]) {
        await expect(this.consortium.connect(this.deptA).removeConsumer(account.address))
          .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownConsumer").withArgs(account.address);
      }
    });
  });

  describe("roles granted directly", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployWithRoles));
    });

    it("lets the coordinator appoint and dismiss auditors", async function () {
      await expect(this.consortium.grantRole(this.roles.auditor, this.extra.address))
        .to.emit(this.consortium, "RoleGranted").withArgs(this.roles.auditor, this.extra.address, this.coordinator.address);
      expect(await this.consortium.isAuditor(this.extra.address)).to.equal(true);
      await expect(this.consortium.revokeRole(this.roles.auditor, this.extra.address))
        .to.emit(this.consortium, "RoleRevoked").withArgs(this.roles.auditor, this.extra.address, this.coordinator.address);
      expect(await this.consortium.isAuditor(this.extra.address)).to.equal(false);
    });

    it("refuses an auditor appointed by anyone but the coordinator", async function () {
      for (const caller of [this.deptA, this.auditor, this.consumer, this.outsider]) {
        await expect(this.consortium.connect(caller).grantRole(this.roles.auditor, this.extra.address))
          .to.be.revertedWithCustomError(this.consortium, "AccessControlUnauthorizedAccount")
          .withArgs(caller.address, this.roles.coordinator);
      }
    });

    it("lets a coordinator dismiss another coordinator, but never the last one", async function () {
      await this.consortium.grantRole(this.roles.coordinator, this.extra.address);
      await expect(this.consortium.connect(this.extra).revokeRole(this.roles.coordinator, this.coordinator.address))
        .to.emit(this.consortium, "RoleRevoked").withArgs(this.roles.coordinator, this.coordinator.address, this.extra.address);
      await expect(this.consortium.connect(this.extra).revokeRole(this.roles.coordinator, this.extra.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumLastCoordinator").withArgs();
      expect(await this.consortium.isCoordinator(this.extra.address)).to.equal(true);
    });

    it("lets revoking the coordinator role from an account without it pass as a no-op, even with one coordinator", async function () {
      await expect(this.consortium.revokeRole(this.roles.coordinator, this.extra.address))
        .not.to.emit(this.consortium, "RoleRevoked");
      expect(await this.consortium.isCoordinator(this.coordinator.address)).to.equal(true);
    });

    it("lets nobody grant the department or consumer role, not even the coordinator", async function () {
      for (const role of [this.roles.department, this.roles.consumer]) {
        for (const caller of [this.coordinator, this.deptA]) {
          await expect(this.consortium.connect(caller).grantRole(role, this.extra.address))
            .to.be.revertedWithCustomError(this.consortium, "AccessControlUnauthorizedAccount")
            .withArgs(caller.address, ethers.ZeroHash);
        }
      }
    });

    it("lets nobody revoke the department or consumer role outside the membership rules", async function () {
      await expect(this.consortium.revokeRole(this.roles.department, this.deptA.address))
        .to.be.revertedWithCustomError(this.consortium, "AccessControlUnauthorizedAccount").withArgs(this.coordinator.address, ethers.ZeroHash);
      await expect(this.consortium.connect(this.deptA).revokeRole(this.roles.consumer, this.consumer.address))
        .to.be.revertedWithCustomError(this.consortium, "AccessControlUnauthorizedAccount").withArgs(this.deptA.address, ethers.ZeroHash);
    });
  });

  describe("renounceRole", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployWithRoles));
    });

    it("refuses a service account giving up the department role: it stays in its department", async function () {
      await expect(this.consortium.connect(this.deptA).renounceRole(this.roles.department, this.deptA.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumRoleFollowsMembership").withArgs(this.roles.department);
      expect(await this.consortium.hasRole(this.roles.department, this.deptA.address)).to.equal(true);
      expect(await this.consortium.departmentOf(this.deptA.address)).to.equal(DEPT_A);
    });

    it("refuses a consumer giving up the consumer role: it stays sponsored", async function () {
      await expect(this.consortium.connect(this.consumer).renounceRole(this.roles.consumer, this.consumer.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumRoleFollowsMembership").withArgs(this.roles.consumer);
      expect(await this.consortium.hasRole(this.roles.consumer, this.consumer.address)).to.equal(true);
      expect(await this.consortium.sponsorOf(this.consumer.address)).to.equal(DEPT_A);
    });

    it("refuses renouncing either role to anyone, whether it holds the role or not", async function () {
      for (const role of [this.roles.department, this.roles.consumer]) {
        for (const caller of [this.coordinator, this.outsider]) {
          await expect(this.consortium.connect(caller).renounceRole(role, caller.address))
            .to.be.revertedWithCustomError(this.consortium, "ConsortiumRoleFollowsMembership").withArgs(role);
        }
      }
    });

    it("lets an auditor give up the auditor role", async function () {
      await expect(this.consortium.connect(this.auditor).renounceRole(this.roles.auditor, this.auditor.address))
        .to.emit(this.consortium, "RoleRevoked").withArgs(this.roles.auditor, this.auditor.address, this.auditor.address);
      expect(await this.consortium.isAuditor(this.auditor.address)).to.equal(false);
    });

    it("lets a coordinator give up the coordinator role while another remains", async function () {
      await this.consortium.grantRole(this.roles.coordinator, this.extra.address);
      await expect(this.consortium.connect(this.extra).renounceRole(this.roles.coordinator, this.extra.address))
        .to.emit(this.consortium, "RoleRevoked").withArgs(this.roles.coordinator, this.extra.address, this.extra.address);
      expect(await this.consortium.isCoordinator(this.extra.address)).to.equal(false);
    });

    it("refuses the last coordinator giving up the coordinator role", async function () {
      await expect(this.consortium.renounceRole(this.roles.coordinator, this.coordinator.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumLastCoordinator").withArgs();
      expect(await this.consortium.isCoordinator(this.coordinator.address)).to.equal(true);
    });

    it("counts a coordinator granted twice once", async function () {
      await this.consortium.grantRole(this.roles.coordinator, this.extra.address);
      await this.consortium.grantRole(this.roles.coordinator, this.extra.address);
      await this.consortium.connect(this.extra).renounceRole(this.roles.coordinator, this.extra.address);
      await expect(this.consortium.renounceRole(this.roles.coordinator, this.coordinator.address))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumLastCoordinator").withArgs();
    });

    it("refuses renouncing a role for another account, as OpenZeppelin does", async function () {
      await expect(this.consortium.connect(this.coordinator).renounceRole(this.roles.auditor, this.auditor.address))
        .to.be.revertedWithCustomError(this.consortium, "AccessControlBadConfirmation").withArgs();
      expect(await this.consortium.isAuditor(this.auditor.address)).to.equal(true);
    });
  });

  describe("pause and unpause", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployWithRoles));
    });

    it("lets the coordinator pause the ledger", async function () {
      await expect(this.consortium.pause(hash("drill")))
        .to.emit(this.consortium, "Paused").withArgs(this.coordinator.address)
        .and.to.emit(this.consortium, "LedgerPaused").withArgs(this.coordinator.address, hash("drill"));
      expect(await this.consortium.paused()).to.equal(true);
    });

    it("refuses a pause by anyone but the coordinator", async function () {
      for (const caller of [this.deptA, this.auditor, this.outsider]) {
        await expect(this.consortium.connect(caller).pause(ethers.ZeroHash))
          .to.be.revertedWithCustomError(this.consortium, "AccessControlUnauthorizedAccount").withArgs(caller.address, this.roles.coordinator);
      }
    });

    it("refuses pausing twice", async function () {
      await this.consortium.pause(ethers.ZeroHash);
      await expect(this.consortium.pause(ethers.ZeroHash)).to.be.revertedWithCustomError(this.consortium, "EnforcedPause");
    });

    it("lets the coordinator, and only the coordinator, unpause", async function () {
      await this.consortium.pause(ethers.ZeroHash);
      await expect(this.consortium.connect(this.deptA).unpause(ethers.ZeroHash))
        .to.be.revertedWithCustomError(this.consortium, "AccessControlUnauthorizedAccount").withArgs(this.deptA.address, this.roles.coordinator);
      await expect(this.consortium.unpause(hash("drill over")))
        .to.emit(this.consortium, "Unpaused").withArgs(this.coordinator.address)
        .and.to.emit(this.consortium, "LedgerResumed").withArgs(this.coordinator.address, hash("drill over"));
      expect(await this.consortium.paused()).to.equal(false);
    });

    it("refuses unpausing a ledger that is not paused", async function () {
      await expect(this.consortium.unpause(ethers.ZeroHash)).to.be.revertedWithCustomError(this.consortium, "ExpectedPause");
    });

    it("refuses every membership write while paused, and accepts them again once unpaused", async function () {
      await this.consortium.connect(this.deptA).proposeAdmission(id("admit-water"), NEW_DEPT, "Water", this.spare.address, this.extra.address);
      const proposal = await this.consortium.proposalIdOf(this.deptA.address, id("admit-water"));
      await addServiceAccount(this.consortium, this.deptA, this.extra2);
      await this.consortium.connect(this.deptB).offerServiceAccount(this.signers[15].address);
      await this.consortium.pause(ethers.ZeroHash);
      const fresh = this.signers[14].address;
      const writes = [
        () => this.consortium.connect(this.deptA).proposeAdmission(id("a"), id("new"), "N", this.spare.address, fresh),
        () => this.consortium.connect(this.deptA).proposeRemoval(id("r"), DEPT_C),
        () => this.consortium.connect(this.deptA).vote(proposal),
        () => this.consortium.execute(proposal),
        () => this.consortium.connect(this.deptA).offerServiceAccount(fresh),
        () => this.consortium.connect(this.signers[15]).acceptServiceAccount(DEPT_B),
        () => this.consortium.connect(this.deptA).removeServiceAccount(this.extra2.address),
        () => this.consortium.connect(this.deptA).registerConsumer(fresh, hash("p")),
        () => this.consortium.connect(this.deptA).removeConsumer(this.consumer.address),
      ];
      for (const write of writes) await expect(write()).to.be.revertedWithCustomError(this.consortium, "EnforcedPause");
      await this.consortium.unpause(ethers.ZeroHash);
      await expect(this.consortium.connect(this.deptA).vote(proposal)).to.emit(this.consortium, "ProposalVoted");
    });
  });

  describe("views", function () {
    beforeEach(async function () {
      Object.assign(this, await loadFixture(deployWithRoles));
    });

    it("answers a department that was never seated with ConsortiumUnknownDepartment", async function () {
      await expect(this.consortium.department(NEW_DEPT))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownDepartment").withArgs(NEW_DEPT);
      expect(await this.consortium.isMember(NEW_DEPT)).to.equal(false);
      expect(await this.consortium.serviceAccounts(NEW_DEPT)).to.deep.equal([]);
    });

    it("tells whether founding is closed and which departments voted", async function () {
      expect(await this.consortium.foundingClosed()).to.equal(true);
      await this.consortium.connect(this.deptA).proposeRemoval(id("rm"), DEPT_C);
      const proposal = await this.consortium.proposalIdOf(this.deptA.address, id("rm"));
      await this.consortium.connect(this.deptB).vote(proposal);
      expect(await this.consortium.hasVoted(proposal, DEPT_B)).to.equal(true);
      expect(await this.consortium.hasVoted(proposal, DEPT_A)).to.equal(false);
    });

    it("answers an unknown proposal with ConsortiumUnknownProposal", async function () {
      await expect(this.consortium.proposal(id("nope")))
        .to.be.revertedWithCustomError(this.consortium, "ConsortiumUnknownProposal").withArgs(id("nope"));
    });

    it("tells each kind of account apart", async function () {
      expect(await this.consortium.departmentOf(this.outsider.address)).to.equal(ethers.ZeroHash);
      expect(await this.consortium.departmentOf(this.consumer.address)).to.equal(ethers.ZeroHash);
      expect(await this.consortium.sponsorOf(this.deptA.address)).to.equal(ethers.ZeroHash);
      expect(await this.consortium.isCoordinator(this.deptA.address)).to.equal(false);
      expect(await this.consortium.isAuditor(this.auditor.address)).to.equal(true);
      expect(await this.consortium.isAuditor(this.coordinator.address)).to.equal(false);
    });
  });
});
