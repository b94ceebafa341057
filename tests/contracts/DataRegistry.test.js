const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, datasetInput, id, hash, DEPT_A, DEPT_B, DEPT_C } = require("./fixture");

const CENSUS = id("census-2026");
const HEALTH = id("health-stats");

async function registered() {
  const s = await deploySuite();
  await s.registry.connect(s.deptA).registerDataset(CENSUS, datasetInput());
  return s;
}

describe("DataRegistry", function () {
  describe("registerDataset", function () {
    it("records the dataset, its owner, lineage and rights split", async function () {
      const s = await loadFixture(registered);
      const input = datasetInput({ grade: 2, parents: [CENSUS], usage: [DEPT_A, DEPT_C], beneficiary: s.spare.address });
      await expect(s.registry.connect(s.deptB).registerDataset(HEALTH, input))
        .to.emit(s.registry, "DatasetRegistered")
        .withArgs(HEALTH, DEPT_B, s.deptB.address, input.metadataHash, input.category, 2, input.updateInterval, [CENSUS])
        .and.to.emit(s.registry, "RightsSet")
        .withArgs(HEALTH, DEPT_A, s.deptB.address, [DEPT_A, DEPT_C], s.spare.address);
      const d = await s.registry.dataset(HEALTH);
      expect(d.ownerDepartment).to.equal(DEPT_B);
      expect(d.grade).to.equal(2);
      expect(d.frozen).to.equal(false);
      expect(d.versionCount).to.equal(0);
      expect(await s.registry.parentsOf(HEALTH)).to.deep.equal([CENSUS]);
      const rights = await s.registry.rightsOf(HEALTH);
      expect(rights.ownershipHolder).to.equal(DEPT_A);
      expect(rights.usageRightHolders).to.deep.equal([DEPT_A, DEPT_C]);
      expect(rights.revenueBeneficiary).to.equal(s.spare.address);
      expect(await s.registry.useStatus(HEALTH)).to.deep.equal([DEPT_B, 2n, false]);
    });

    it("refuses registration by anyone who does not serve a member department", async function () {
      const s = await loadFixture(deploySuite);
      for (const caller of [s.consumer, s.outsider, s.coordinator, s.auditor]) {
        await expect(s.registry.connect(caller).registerDataset(CENSUS, datasetInput()))
          .to.be.revertedWithCustomError(s.registry, "ConsortiumNotADepartment").withArgs(caller.address);
      }
    });

    it("refuses grades outside 1 to 4", async function () {
      const s = await loadFixture(deploySuite);
      for (const grade of [0, 5]) {
        await expect(s.registry.connect(s.deptA).registerDataset(CENSUS, datasetInput({ grade })))
          .to.be.revertedWithCustomError(s.registry, "RegistryInvalidGrade").withArgs(grade);
      }
    });

    it("refuses a zero id, a duplicate, an unknown parent and a rights holder that is no member", async function () {
      const s = await loadFixture(registered);
      await expect(s.registry.connect(s.deptA).registerDataset(ethers.ZeroHash, datasetInput()))
        .to.be.revertedWithCustomError(s.registry, "RegistryInvalidArgument").withArgs(ethers.ZeroHash, ethers.ZeroHash);
      await expect(s.registry.connect(s.deptB).registerDataset(CENSUS, datasetInput()))
        .to.be.revertedWithCustomError(s.registry, "RegistryDatasetExists").withArgs(CENSUS);
      await expect(s.registry.connect(s.deptA).registerDataset(HEALTH, datasetInput({ parents: [CENSUS, id("ghost")] })))
        .to.be.revertedWithCustomError(s.registry, "RegistryUnknownParent").withArgs(HEALTH, id("ghost"));
      await expect(s.registry.connect(s.deptA).registerDataset(HEALTH, datasetInput({ usage: [id("ghost-dept")] })))
        .to.be.revertedWithCustomError(s.registry, "RegistryInvalidArgument").withArgs(HEALTH, id("ghost-dept"));
      await expect(s.registry.connect(s.deptA).registerDataset(HEALTH, datasetInput({ owner: ethers.ZeroHash })))
        .to.be.revertedWithCustomError(s.registry, "RegistryInvalidArgument").withArgs(HEALTH, ethers.ZeroHash);
    });

    it("refuses registration by a department removed from the consortium", async function () {
      const s = await loadFixture(deploySuite);
      await s.consortium.connect(s.deptA).proposeRemoval(id("rm"), DEPT_C);
      await s.consortium.connect(s.deptA).vote(id("rm"));
      await s.consortium.connect(s.deptB).vote(id("rm"));
      await s.consortium.connect(s.deptA).execute(id("rm"));
      await expect(s.registry.connect(s.deptC).registerDataset(CENSUS, datasetInput({ usage: [] })))
        .to.be.revertedWithCustomError(s.registry, "ConsortiumNotADepartment").withArgs(s.deptC.address);
    });
  });

  describe("setRights and updateMetadata", function () {
    it("lets the owner department change the rights split and the metadata", async function () {
      const s = await loadFixture(registered);
      const rights = { ownershipHolder: DEPT_A, usageRightHolders: [DEPT_B, DEPT_C], revenueBeneficiary: s.spare.address };
      await expect(s.registry.connect(s.deptA).setRights(CENSUS, rights))
        .to.emit(s.registry, "RightsSet").withArgs(CENSUS, DEPT_A, s.deptA.address, [DEPT_B, DEPT_C], s.spare.address);
      await expect(s.registry.connect(s.deptA).updateMetadata(CENSUS, hash("catalog v2")))
        .to.emit(s.registry, "MetadataUpdated").withArgs(CENSUS, s.deptA.address, hash("catalog v2"));
      expect((await s.registry.dataset(CENSUS)).metadataHash).to.equal(hash("catalog v2"));
    });

    it("refuses changes by another department, the coordinator or a consumer", async function () {
      const s = await loadFixture(registered);
      const rights = { ownershipHolder: DEPT_B, usageRightHolders: [], revenueBeneficiary: ethers.ZeroAddress };
      for (const caller of [s.deptB, s.coordinator, s.consumer]) {
        await expect(s.registry.connect(caller).setRights(CENSUS, rights))
          .to.be.revertedWithCustomError(s.registry, "RegistryNotOwner").withArgs(caller.address, CENSUS);
        await expect(s.registry.connect(caller).updateMetadata(CENSUS, hash("x")))
          .to.be.revertedWithCustomError(s.registry, "RegistryNotOwner").withArgs(caller.address, CENSUS);
      }
    });
  });

  describe("addVersion", function () {
    it("numbers versions from 1 and anchors each content root", async function () {
      const s = await loadFixture(registered);
      await expect(s.registry.connect(s.deptA).addVersion(CENSUS, hash("root v1"), hash("schema"), 1024, 10))
        .to.emit(s.registry, "VersionAdded").withArgs(CENSUS, 1, hash("root v1"), hash("schema"), 1024, 10, s.deptA.address);
      await expect(s.registry.connect(s.deptA).addVersion(CENSUS, hash("root v2"), hash("schema"), 2048, 20))
        .to.emit(s.registry, "VersionAdded").withArgs(CENSUS, 2, hash("root v2"), hash("schema"), 2048, 20, s.deptA.address);
      const v2 = await s.registry.version(CENSUS, 2);
      expect(v2.contentRoot).to.equal(hash("root v2"));
      expect(v2.sizeBytes).to.equal(2048);
      expect(v2.recordCount).to.equal(20);
      expect(await s.registry.versionOfRoot(CENSUS, hash("root v1"))).to.equal(1);
      expect(await s.registry.versionOfRoot(CENSUS, hash("never"))).to.equal(0);
      expect((await s.registry.dataset(CENSUS)).versionCount).to.equal(2);
    });

    it("refuses a content root anchored already, so a resent write is not applied twice", async function () {
      const s = await loadFixture(registered);
      await s.registry.connect(s.deptA).addVersion(CENSUS, hash("root v1"), hash("schema"), 1, 1);
      await expect(s.registry.connect(s.deptA).addVersion(CENSUS, hash("root v1"), hash("schema"), 1, 1))
        .to.be.revertedWithCustomError(s.registry, "RegistryVersionExists").withArgs(CENSUS, hash("root v1"));
    });

    it("refuses a zero root, an unknown dataset and any caller but the owner", async function () {
      const s = await loadFixture(registered);
      await expect(s.registry.connect(s.deptA).addVersion(CENSUS, ethers.ZeroHash, hash("s"), 1, 1))
        .to.be.revertedWithCustomError(s.registry, "RegistryInvalidArgument").withArgs(CENSUS, ethers.ZeroHash);
      await expect(s.registry.connect(s.deptA).addVersion(HEALTH, hash("r"), hash("s"), 1, 1))
        .to.be.revertedWithCustomError(s.registry, "RegistryUnknownDataset").withArgs(HEALTH);
      for (const caller of [s.deptB, s.coordinator, s.consumer, s.outsider]) {
        await expect(s.registry.connect(caller).addVersion(CENSUS, hash("r"), hash("s"), 1, 1))
          .to.be.revertedWithCustomError(s.registry, "RegistryNotOwner").withArgs(caller.address, CENSUS);
      }
    });

    it("answers unknown versions and datasets with their errors", async function () {
      const s = await loadFixture(registered);
      await s.registry.connect(s.deptA).addVersion(CENSUS, hash("root v1"), hash("schema"), 1, 1);
      for (const v of [0, 2]) {
        await expect(s.registry.version(CENSUS, v)).to.be.revertedWithCustomError(s.registry, "RegistryUnknownVersion").withArgs(CENSUS, v);
      }
      for (const view of ["dataset", "rightsOf", "parentsOf", "useStatus"]) {
        await expect(s.registry[view](HEALTH)).to.be.revertedWithCustomError(s.registry, "RegistryUnknownDataset").withArgs(HEALTH);
      }
    });
  });

  describe("freeze and unfreeze", function () {
    it("lets the owner freeze and unfreeze", async function () {
      const s = await loadFixture(registered);
      await expect(s.registry.connect(s.deptA).freeze(CENSUS, hash("leak suspected")))
        .to.emit(s.registry, "DatasetFrozen").withArgs(CENSUS, s.deptA.address, hash("leak suspected"));
      expect((await s.registry.dataset(CENSUS)).frozen).to.equal(true);
      await expect(s.registry.connect(s.deptA).unfreeze(CENSUS, hash("cleared")))
        .to.emit(s.registry, "DatasetUnfrozen").withArgs(CENSUS, s.deptA.address, hash("cleared"));
      expect((await s.registry.dataset(CENSUS)).frozen).to.equal(false);
    });

    it("lets the coordinator freeze in an emergency", async function () {
      const s = await loadFixture(registered);
      await expect(s.registry.freeze(CENSUS, hash("emergency")))
        .to.emit(s.registry, "DatasetFrozen").withArgs(CENSUS, s.coordinator.address, hash("emergency"));
      await expect(s.registry.unfreeze(CENSUS, hash("over")))
        .to.emit(s.registry, "DatasetUnfrozen").withArgs(CENSUS, s.coordinator.address, hash("over"));
    });

    it("refuses another department, a consumer and an auditor", async function () {
      const s = await loadFixture(registered);
      for (const caller of [s.deptB, s.consumer, s.auditor]) {
        await expect(s.registry.connect(caller).freeze(CENSUS, hash("x")))
          .to.be.revertedWithCustomError(s.registry, "RegistryNotOwnerOrCoordinator").withArgs(caller.address, CENSUS);
      }
      await s.registry.connect(s.deptA).freeze(CENSUS, hash("x"));
      await expect(s.registry.connect(s.deptB).unfreeze(CENSUS, hash("x")))
        .to.be.revertedWithCustomError(s.registry, "RegistryNotOwnerOrCoordinator").withArgs(s.deptB.address, CENSUS);
    });

    it("refuses freezing twice and unfreezing what is not frozen", async function () {
      const s = await loadFixture(registered);
      await expect(s.registry.connect(s.deptA).unfreeze(CENSUS, hash("x")))
        .to.be.revertedWithCustomError(s.registry, "RegistryDatasetNotFrozen").withArgs(CENSUS);
      await s.registry.connect(s.deptA).freeze(CENSUS, hash("x"));
      await expect(s.registry.connect(s.deptA).freeze(CENSUS, hash("x")))
        .to.be.revertedWithCustomError(s.registry, "RegistryDatasetFrozen").withArgs(CENSUS);
    });

    it("still accepts a repaired version while frozen", async function () {
      const s = await loadFixture(registered);
      await s.registry.connect(s.deptA).freeze(CENSUS, hash("x"));
      await expect(s.registry.connect(s.deptA).addVersion(CENSUS, hash("fixed"), hash("s"), 1, 1)).to.emit(s.registry, "VersionAdded");
    });
  });
});
