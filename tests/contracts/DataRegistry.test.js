const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, addServiceAccount, datasetInput, datasetIdOf, id, hash, CATALOG_TEXT, DEPT_A, DEPT_B, DEPT_C } = require("./fixture");

// Codes are the departments' own names for their datasets; ids are derived from owner and code.
const CENSUS_CODE = id("census-2026");
const HEALTH_CODE = id("health-stats");
const CENSUS = datasetIdOf(DEPT_A, CENSUS_CODE);
const HEALTH = datasetIdOf(DEPT_B, HEALTH_CODE);
const HEALTH_OF_A = datasetIdOf(DEPT_A, HEALTH_CODE);
const GHOST = datasetIdOf(DEPT_A, id("never-registered"));

// The suite with CENSUS registered by DEPT_A (grade 1, usage right to DEPT_B, no versions yet).
async function registered() {
  const s = await deploySuite();
  await s.registry.connect(s.deptA).registerDataset(CENSUS_CODE, datasetInput());
  return { ...s, extra: s.signers[12], roles: { coordinator: await s.consortium.COORDINATOR_ROLE() } };
}

async function removeDepartment(consortium, departmentId, voters) {
  const key = hash(`remove ${departmentId}`);
  await consortium.connect(voters[0]).proposeRemoval(key, departmentId);
  const proposalId = await consortium.proposalIdOf(voters[0].address, key);
  for (const voter of voters) await consortium.connect(voter).vote(proposalId);
  await consortium.execute(proposalId);
}

describe("DataRegistry", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(registered));
  });

  describe("registerDataset", function () {
    it("records the dataset under the id derived from its owner and code, with its lineage and rights split", async function () {
      const input = datasetInput({ grade: 2, parents: [CENSUS], usage: [DEPT_A, DEPT_C], beneficiary: this.spare.address, interval: 3600 });
      await expect(this.registry.connect(this.deptB).registerDataset(HEALTH_CODE, input))
        .to.emit(this.registry, "DatasetRegistered")
        .withArgs(HEALTH, DEPT_B, this.deptB.address, HEALTH_CODE, hash(input.metadata), input.category, 2, 3600, [CENSUS], input.metadata)
        .and.to.emit(this.registry, "RightsSet")
        .withArgs(HEALTH, DEPT_A, this.deptB.address, [DEPT_A, DEPT_C], this.spare.address);
      const d = await this.registry.dataset(HEALTH);
      expect([d.ownerDepartment, d.metadataHash, d.category, d.grade, d.frozen, d.frozenByCoordinator, d.updateInterval, d.versionCount, d.registeredAt])
        .to.deep.equal([DEPT_B, hash(input.metadata), input.category, 2n, false, false, 3600n, 0n, BigInt(await time.latest())]);
      expect(await this.registry.parentsOf(HEALTH)).to.deep.equal([CENSUS]);
      const rights = await this.registry.rightsOf(HEALTH);
      expect([rights.ownershipHolder, [...rights.usageRightHolders], rights.revenueBeneficiary])
        .to.deep.equal([DEPT_A, [DEPT_A, DEPT_C], this.spare.address]);
      expect(await this.registry.useStatus(HEALTH)).to.deep.equal([DEPT_B, 2n, false]);
    });

    it("returns the new dataset's id to a calling contract, as datasetIdOf derives it", async function () {
      const returned = await this.registry.connect(this.deptB).registerDataset.staticCall(HEALTH_CODE, datasetInput());
      expect(returned).to.equal(HEALTH);
      expect(await this.registry.datasetIdOf(DEPT_B, HEALTH_CODE)).to.equal(HEALTH);
    });

    it("accepts every grade from 1 to 4", async function () {
      for (const grade of [1, 2, 3, 4]) {
        const code = id(`graded ${grade}`);
        await this.registry.connect(this.deptA).registerDataset(code, datasetInput({ grade }));
        expect((await this.registry.dataset(datasetIdOf(DEPT_A, code))).grade).to.equal(grade);
      }
    });

    it("refuses a caller that serves no member department", async function () {
      expect(this.registry.interface.getError("ConsortiumNotADepartment")).to.not.equal(null);
      for (const caller of [this.coordinator, this.auditor, this.consumer, this.outsider]) {
        await expect(this.registry.connect(caller).registerDataset(HEALTH_CODE, datasetInput()))
          .to.be.revertedWithCustomError(this.registry, "ConsortiumNotADepartment").withArgs(caller.address);
      }
    });

    it("refuses grades 0 and 5", async function () {
      for (const grade of [0, 5]) {
        await expect(this.registry.connect(this.deptA).registerDataset(HEALTH_CODE, datasetInput({ grade })))
          .to.be.revertedWithCustomError(this.registry, "RegistryInvalidGrade").withArgs(grade);
      }
    });

    it("refuses a zero code", async function () {
      await expect(this.registry.connect(this.deptA).registerDataset(ethers.ZeroHash, datasetInput()))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidArgument").withArgs(ethers.ZeroHash, ethers.ZeroHash);
    });

    it("refuses a code the department registered already, through any of its service accounts", async function () {
      await addServiceAccount(this.consortium, this.deptA, this.extra);
      for (const caller of [this.deptA, this.extra]) {
        await expect(this.registry.connect(caller).registerDataset(CENSUS_CODE, datasetInput()))
          .to.be.revertedWithCustomError(this.registry, "RegistryDatasetExists").withArgs(CENSUS);
      }
    });

    it("gives another department registering the same code a dataset of its own", async function () {
      const theirs = datasetIdOf(DEPT_B, CENSUS_CODE);
      expect(theirs).to.not.equal(CENSUS);
      await expect(this.registry.connect(this.deptB).registerDataset(CENSUS_CODE, datasetInput({ owner: DEPT_B })))
        .to.emit(this.registry, "DatasetRegistered")
        .withArgs(theirs, DEPT_B, this.deptB.address, CENSUS_CODE, hash(CATALOG_TEXT), id("population"), 1, 86400, [], CATALOG_TEXT);
      expect((await this.registry.dataset(theirs)).ownerDepartment).to.equal(DEPT_B);
      expect((await this.registry.dataset(CENSUS)).ownerDepartment).to.equal(DEPT_A);
    });

    it("names the caller's department as owner whatever department the catalog text claims", async function () {
      const claim = JSON.stringify({ name: "Census 2026", owner_department: "stats-bureau", department_name: "Statistics Bureau" });
      await expect(this.registry.connect(this.deptB).registerDataset(HEALTH_CODE, datasetInput({ owner: DEPT_B, metadata: claim })))
        .to.emit(this.registry, "DatasetRegistered")
        .withArgs(HEALTH, DEPT_B, this.deptB.address, HEALTH_CODE, hash(claim), id("population"), 1, 86400, [], claim);
      expect((await this.registry.dataset(HEALTH)).ownerDepartment).to.equal(DEPT_B);
    });

    it("refuses a lineage parent that is not registered", async function () {
      await expect(this.registry.connect(this.deptA).registerDataset(HEALTH_CODE, datasetInput({ parents: [CENSUS, GHOST] })))
        .to.be.revertedWithCustomError(this.registry, "RegistryUnknownParent").withArgs(HEALTH_OF_A, GHOST);
    });

    it("refuses an ownership or usage-right holder that is not a member department", async function () {
      await expect(this.registry.connect(this.deptA).registerDataset(HEALTH_CODE, datasetInput({ owner: ethers.ZeroHash })))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidArgument").withArgs(HEALTH_OF_A, ethers.ZeroHash);
      await expect(this.registry.connect(this.deptA).registerDataset(HEALTH_CODE, datasetInput({ usage: [DEPT_B, id("ghost-dept")] })))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidArgument").withArgs(HEALTH_OF_A, id("ghost-dept"));
    });

    it("refuses a department removed from the consortium, as registrant or as rights holder", async function () {
      await removeDepartment(this.consortium, DEPT_C, [this.deptA, this.deptB]);
      await expect(this.registry.connect(this.deptC).registerDataset(HEALTH_CODE, datasetInput({ owner: DEPT_A, usage: [] })))
        .to.be.revertedWithCustomError(this.registry, "ConsortiumNotADepartment").withArgs(this.deptC.address);
      await expect(this.registry.connect(this.deptA).registerDataset(HEALTH_CODE, datasetInput({ usage: [DEPT_C] })))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidArgument").withArgs(HEALTH_OF_A, DEPT_C);
    });
  });

  describe("setRights", function () {
    const newRights = (beneficiary) => ({ ownershipHolder: DEPT_A, usageRightHolders: [DEPT_B, DEPT_C], revenueBeneficiary: beneficiary });

    it("lets the owner department replace the rights split", async function () {
      await expect(this.registry.connect(this.deptA).setRights(CENSUS, newRights(this.spare.address)))
        .to.emit(this.registry, "RightsSet").withArgs(CENSUS, DEPT_A, this.deptA.address, [DEPT_B, DEPT_C], this.spare.address);
      expect([...(await this.registry.rightsOf(CENSUS)).usageRightHolders]).to.deep.equal([DEPT_B, DEPT_C]);
    });

    it("refuses another department, the coordinator and anyone outside", async function () {
      for (const caller of [this.deptB, this.coordinator, this.auditor, this.consumer, this.outsider]) {
        await expect(this.registry.connect(caller).setRights(CENSUS, newRights(this.spare.address)))
          .to.be.revertedWithCustomError(this.registry, "RegistryNotOwner").withArgs(caller.address, CENSUS);
      }
    });

    it("refuses a holder that is not a member department", async function () {
      const rights = { ownershipHolder: DEPT_A, usageRightHolders: [id("ghost-dept")], revenueBeneficiary: ethers.ZeroAddress };
      await expect(this.registry.connect(this.deptA).setRights(CENSUS, rights))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidArgument").withArgs(CENSUS, id("ghost-dept"));
    });

    it("refuses an unknown dataset", async function () {
      await expect(this.registry.connect(this.deptA).setRights(GHOST, newRights(this.spare.address)))
        .to.be.revertedWithCustomError(this.registry, "RegistryUnknownDataset").withArgs(GHOST);
    });
  });

  describe("updateMetadata", function () {
    it("lets the owner department replace the catalog text, and hashes it itself", async function () {
      const text = JSON.stringify({ name: "人口普查 2026", category: "population" });
      await expect(this.registry.connect(this.deptA).updateMetadata(CENSUS, text))
        .to.emit(this.registry, "MetadataUpdated").withArgs(CENSUS, this.deptA.address, hash(text), text);
      expect((await this.registry.dataset(CENSUS)).metadataHash).to.equal(hash(text));
    });

    it("refuses an empty text and one longer than MAX_TEXT", async function () {
      const max = await this.registry.MAX_TEXT();
      await expect(this.registry.connect(this.deptA).updateMetadata(CENSUS, ""))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidText").withArgs(0, max);
      const long = "x".repeat(Number(max) + 1);
      await expect(this.registry.connect(this.deptA).updateMetadata(CENSUS, long))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidText").withArgs(max + 1n, max);
      await expect(this.registry.connect(this.deptA).registerDataset(HEALTH_CODE, datasetInput({ metadata: "" })))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidText").withArgs(0, max);
      await expect(this.registry.connect(this.deptA).addVersion(CENSUS, hash("root v1"), "", 1, 1))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidText").withArgs(0, max);
    });

    it("refuses another department, the coordinator and anyone outside", async function () {
      for (const caller of [this.deptB, this.coordinator, this.auditor, this.consumer, this.outsider]) {
        await expect(this.registry.connect(caller).updateMetadata(CENSUS, "x"))
          .to.be.revertedWithCustomError(this.registry, "RegistryNotOwner").withArgs(caller.address, CENSUS);
      }
    });
  });

  describe("addVersion", function () {
    it("numbers versions 1, 2, ... and anchors each content root", async function () {
      await expect(this.registry.connect(this.deptA).addVersion(CENSUS, hash("root v1"), "schema", 1024, 10))
        .to.emit(this.registry, "VersionAdded").withArgs(CENSUS, 1, hash("root v1"), hash("schema"), 1024, 10, this.deptA.address, "schema");
      await expect(this.registry.connect(this.deptA).addVersion(CENSUS, hash("root v2"), "schema 2", 2048, 20))
        .to.emit(this.registry, "VersionAdded").withArgs(CENSUS, 2, hash("root v2"), hash("schema 2"), 2048, 20, this.deptA.address, "schema 2");
      const v2 = await this.registry.version(CENSUS, 2);
      expect([v2.contentRoot, v2.schemaHash, v2.sizeBytes, v2.recordCount, v2.anchoredAt])
        .to.deep.equal([hash("root v2"), hash("schema 2"), 2048n, 20n, BigInt(await time.latest())]);
      expect((await this.registry.version(CENSUS, 1)).contentRoot).to.equal(hash("root v1"));
      expect(await this.registry.versionOfRoot(CENSUS, hash("root v1"))).to.equal(1);
      expect(await this.registry.versionOfRoot(CENSUS, hash("root v2"))).to.equal(2);
      expect(await this.registry.versionOfRoot(CENSUS, hash("never anchored"))).to.equal(0);
      expect((await this.registry.dataset(CENSUS)).versionCount).to.equal(2);
    });

    it("returns the new version number to a calling contract", async function () {
      expect(await this.registry.connect(this.deptA).addVersion.staticCall(CENSUS, hash("root v1"), "s", 1, 1)).to.equal(1);
    });

    it("accepts a version from any service account of the owner department", async function () {
      await addServiceAccount(this.consortium, this.deptA, this.extra);
      await expect(this.registry.connect(this.extra).addVersion(CENSUS, hash("root v1"), "s", 1, 1))
        .to.emit(this.registry, "VersionAdded").withArgs(CENSUS, 1, hash("root v1"), hash("s"), 1, 1, this.extra.address, "s");
    });

    it("refuses a content root anchored already, so a resent write is not applied twice", async function () {
      await this.registry.connect(this.deptA).addVersion(CENSUS, hash("root v1"), "schema", 1, 1);
      await expect(this.registry.connect(this.deptA).addVersion(CENSUS, hash("root v1"), "other schema", 2, 2))
        .to.be.revertedWithCustomError(this.registry, "RegistryVersionExists").withArgs(CENSUS, hash("root v1"));
    });

    it("accepts the same content root in another dataset", async function () {
      await this.registry.connect(this.deptB).registerDataset(HEALTH_CODE, datasetInput({ owner: DEPT_B }));
      await this.registry.connect(this.deptA).addVersion(CENSUS, hash("root v1"), "s", 1, 1);
      await expect(this.registry.connect(this.deptB).addVersion(HEALTH, hash("root v1"), "s", 1, 1))
        .to.emit(this.registry, "VersionAdded").withArgs(HEALTH, 1, hash("root v1"), hash("s"), 1, 1, this.deptB.address, "s");
    });

    it("refuses a zero content root", async function () {
      await expect(this.registry.connect(this.deptA).addVersion(CENSUS, ethers.ZeroHash, "s", 1, 1))
        .to.be.revertedWithCustomError(this.registry, "RegistryInvalidArgument").withArgs(CENSUS, ethers.ZeroHash);
    });

    it("refuses another department, the coordinator and anyone outside", async function () {
      for (const caller of [this.deptB, this.coordinator, this.auditor, this.consumer, this.outsider]) {
        await expect(this.registry.connect(caller).addVersion(CENSUS, hash("r"), "s", 1, 1))
          .to.be.revertedWithCustomError(this.registry, "RegistryNotOwner").withArgs(caller.address, CENSUS);
      }
    });

    it("refuses the owner once it is removed from the consortium", async function () {
      await removeDepartment(this.consortium, DEPT_A, [this.deptB, this.deptC]);
      await expect(this.registry.connect(this.deptA).addVersion(CENSUS, hash("r"), "s", 1, 1))
        .to.be.revertedWithCustomError(this.registry, "RegistryNotOwner").withArgs(this.deptA.address, CENSUS);
    });

    it("refuses an unknown dataset", async function () {
      await expect(this.registry.connect(this.deptA).addVersion(GHOST, hash("r"), "s", 1, 1))
        .to.be.revertedWithCustomError(this.registry, "RegistryUnknownDataset").withArgs(GHOST);
    });

    it("answers version 0 and versions beyond the count with RegistryUnknownVersion", async function () {
      await expect(this.registry.version(CENSUS, 1))
        .to.be.revertedWithCustomError(this.registry, "RegistryUnknownVersion").withArgs(CENSUS, 1);
      await this.registry.connect(this.deptA).addVersion(CENSUS, hash("root v1"), "schema", 1, 1);
      for (const v of [0, 2]) {
        await expect(this.registry.version(CENSUS, v))
          .to.be.revertedWithCustomError(this.registry, "RegistryUnknownVersion").withArgs(CENSUS, v);
      }
    });
  });

  describe("freeze and unfreeze", function () {
    it("lets the owner department freeze and unfreeze", async function () {
      await expect(this.registry.connect(this.deptA).freeze(CENSUS, hash("leak suspected")))
        .to.emit(this.registry, "DatasetFrozen").withArgs(CENSUS, this.deptA.address, hash("leak suspected"), false);
      expect(await this.registry.useStatus(CENSUS)).to.deep.equal([DEPT_A, 1n, true]);
      expect(await this.registry.freezeOf(CENSUS)).to.deep.equal([true, false]);
      await expect(this.registry.connect(this.deptA).unfreeze(CENSUS, hash("cleared")))
        .to.emit(this.registry, "DatasetUnfrozen").withArgs(CENSUS, this.deptA.address, hash("cleared"));
      expect(await this.registry.useStatus(CENSUS)).to.deep.equal([DEPT_A, 1n, false]);
      expect(await this.registry.freezeOf(CENSUS)).to.deep.equal([false, false]);
    });

    it("lets the coordinator freeze and unfreeze in an emergency, recording the freeze as the coordinator's", async function () {
      await expect(this.registry.freeze(CENSUS, hash("emergency")))
        .to.emit(this.registry, "DatasetFrozen").withArgs(CENSUS, this.coordinator.address, hash("emergency"), true);
      const d = await this.registry.dataset(CENSUS);
      expect([d.frozen, d.frozenByCoordinator]).to.deep.equal([true, true]);
      expect(await this.registry.freezeOf(CENSUS)).to.deep.equal([true, true]);
      await expect(this.registry.unfreeze(CENSUS, hash("over")))
        .to.emit(this.registry, "DatasetUnfrozen").withArgs(CENSUS, this.coordinator.address, hash("over"));
      expect(await this.registry.freezeOf(CENSUS)).to.deep.equal([false, false]);
    });

    it("refuses the owner department lifting a coordinator's freeze, and leaves it frozen", async function () {
      await this.registry.freeze(CENSUS, hash("emergency"));
      await expect(this.registry.connect(this.deptA).unfreeze(CENSUS, hash("x")))
        .to.be.revertedWithCustomError(this.registry, "RegistryFrozenByCoordinator").withArgs(this.deptA.address, CENSUS);
      expect(await this.registry.freezeOf(CENSUS)).to.deep.equal([true, true]);
    });

    it("lets the coordinator take over the owner's freeze, which the owner then cannot lift", async function () {
      await this.registry.connect(this.deptA).freeze(CENSUS, hash("owner's freeze"));
      await expect(this.registry.freeze(CENSUS, hash("escalated")))
        .to.emit(this.registry, "DatasetFrozen").withArgs(CENSUS, this.coordinator.address, hash("escalated"), true);
      expect(await this.registry.freezeOf(CENSUS)).to.deep.equal([true, true]);
      await expect(this.registry.connect(this.deptA).unfreeze(CENSUS, hash("x")))
        .to.be.revertedWithCustomError(this.registry, "RegistryFrozenByCoordinator").withArgs(this.deptA.address, CENSUS);
      await expect(this.registry.unfreeze(CENSUS, hash("over"))).to.emit(this.registry, "DatasetUnfrozen");
    });

    it("freezes as a coordinator a caller that also serves the owner department", async function () {
      await this.consortium.grantRole(this.roles.coordinator, this.extra.address);
      await this.consortium.connect(this.deptA).offerServiceAccount(this.extra.address);
      await this.consortium.connect(this.extra).acceptServiceAccount(DEPT_A);
      await expect(this.registry.connect(this.extra).freeze(CENSUS, hash("x")))
        .to.emit(this.registry, "DatasetFrozen").withArgs(CENSUS, this.extra.address, hash("x"), true);
      await expect(this.registry.connect(this.deptA).unfreeze(CENSUS, hash("x")))
        .to.be.revertedWithCustomError(this.registry, "RegistryFrozenByCoordinator").withArgs(this.deptA.address, CENSUS);
    });

    it("refuses another department, an auditor, a consumer and outsiders", async function () {
      for (const caller of [this.deptB, this.auditor, this.consumer, this.outsider]) {
        await expect(this.registry.connect(caller).freeze(CENSUS, hash("x")))
          .to.be.revertedWithCustomError(this.registry, "RegistryNotOwnerOrCoordinator").withArgs(caller.address, CENSUS);
      }
      await this.registry.connect(this.deptA).freeze(CENSUS, hash("x"));
      for (const caller of [this.deptB, this.auditor]) {
        await expect(this.registry.connect(caller).unfreeze(CENSUS, hash("x")))
          .to.be.revertedWithCustomError(this.registry, "RegistryNotOwnerOrCoordinator").withArgs(caller.address, CENSUS);
      }
    });

    it("refuses freezing again a dataset frozen by the same authority", async function () {
      await this.registry.connect(this.deptA).freeze(CENSUS, hash("x"));
      await expect(this.registry.connect(this.deptA).freeze(CENSUS, hash("y")))
        .to.be.revertedWithCustomError(this.registry, "RegistryDatasetFrozen").withArgs(CENSUS);
      await this.registry.freeze(CENSUS, hash("escalated"));
      for (const caller of [this.coordinator, this.deptA]) {
        await expect(this.registry.connect(caller).freeze(CENSUS, hash("y")))
          .to.be.revertedWithCustomError(this.registry, "RegistryDatasetFrozen").withArgs(CENSUS);
      }
    });

    it("refuses unfreezing a dataset that is not frozen", async function () {
      await expect(this.registry.connect(this.deptA).unfreeze(CENSUS, hash("x")))
        .to.be.revertedWithCustomError(this.registry, "RegistryDatasetNotFrozen").withArgs(CENSUS);
    });

    it("refuses an unknown dataset", async function () {
      await expect(this.registry.freeze(GHOST, hash("x")))
        .to.be.revertedWithCustomError(this.registry, "RegistryUnknownDataset").withArgs(GHOST);
      await expect(this.registry.unfreeze(GHOST, hash("x")))
        .to.be.revertedWithCustomError(this.registry, "RegistryUnknownDataset").withArgs(GHOST);
    });

    it("still accepts a repaired version while frozen", async function () {
      await this.registry.connect(this.deptA).freeze(CENSUS, hash("x"));
      await expect(this.registry.connect(this.deptA).addVersion(CENSUS, hash("fixed"), "s", 1, 1))
        .to.emit(this.registry, "VersionAdded").withArgs(CENSUS, 1, hash("fixed"), hash("s"), 1, 1, this.deptA.address, "s");
    });
  });

  describe("views on an unknown dataset", function () {
    it("answers with RegistryUnknownDataset", async function () {
      for (const view of ["dataset", "rightsOf", "parentsOf", "useStatus", "freezeOf"]) {
        await expect(this.registry[view](GHOST))
          .to.be.revertedWithCustomError(this.registry, "RegistryUnknownDataset").withArgs(GHOST);
      }
      await expect(this.registry.version(GHOST, 1))
        .to.be.revertedWithCustomError(this.registry, "RegistryUnknownDataset").withArgs(GHOST);
    });

    it("answers versionOfRoot with 0", async function () {
      expect(await this.registry.versionOfRoot(GHOST, hash("root v1"))).to.equal(0);
    });
  });

  describe("while the consortium is paused", function () {
    const OPEN_CODE = id("open-data");
    const OPEN = datasetIdOf(DEPT_A, OPEN_CODE);

    beforeEach(async function () {
      await this.registry.connect(this.deptA).registerDataset(OPEN_CODE, datasetInput());
      await this.registry.connect(this.deptA).freeze(CENSUS, hash("before the pause"));
      await this.consortium.pause(ethers.ZeroHash);
    });

    it("refuses every write with ConsortiumIsPaused, the coordinator's included", async function () {
      const rights = { ownershipHolder: DEPT_A, usageRightHolders: [], revenueBeneficiary: ethers.ZeroAddress };
      const writes = [
        () => this.registry.connect(this.deptA).registerDataset(HEALTH_CODE, datasetInput()),
        () => this.registry.connect(this.deptA).setRights(OPEN, rights),
        () => this.registry.connect(this.deptA).updateMetadata(OPEN, "x"),
        () => this.registry.connect(this.deptA).addVersion(OPEN, hash("r"), "s", 1, 1),
        () => this.registry.connect(this.deptA).freeze(OPEN, hash("x")),
        () => this.registry.freeze(OPEN, hash("x")),
        () => this.registry.connect(this.deptA).unfreeze(CENSUS, hash("x")),
        () => this.registry.unfreeze(CENSUS, hash("x")),
      ];
      for (const write of writes) await expect(write()).to.be.revertedWithCustomError(this.registry, "ConsortiumIsPaused");
    });

    it("accepts writes again once the coordinator unpauses", async function () {
      await this.consortium.unpause(ethers.ZeroHash);
      await expect(this.registry.connect(this.deptA).unfreeze(CENSUS, hash("x")))
        .to.emit(this.registry, "DatasetUnfrozen").withArgs(CENSUS, this.deptA.address, hash("x"));
    });

    it("still answers views", async function () {
      expect(await this.registry.useStatus(CENSUS)).to.deep.equal([DEPT_A, 1n, true]);
    });
  });
});
