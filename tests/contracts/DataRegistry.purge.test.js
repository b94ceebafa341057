const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, datasetInput, datasetIdOf, id, hash, DEPT_A } = require("./fixture");

const CENSUS_CODE = id("census-2026");
const CENSUS = datasetIdOf(DEPT_A, CENSUS_CODE);
const SUBJECT = hash("salted person");

// CENSUS registered by DEPT_A with two versions.
async function versioned() {
  const s = await deploySuite();
  await s.registry.connect(s.deptA).registerDataset(CENSUS_CODE, datasetInput());
  await s.registry.connect(s.deptA).addVersion(CENSUS, hash("root v1"), "schema", 10, 1);
  await s.registry.connect(s.deptA).addVersion(CENSUS, hash("root v2"), "schema", 10, 1);
  return s;
}

describe("DataRegistry purgeVersion", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(versioned));
  });

  it("records the owner's purge with its reason and subject, and leaves the version's root in place", async function () {
    await expect(this.registry.connect(this.deptA).purgeVersion(CENSUS, 1, hash("PIPL art. 47"), SUBJECT))
      .to.emit(this.registry, "VersionPurged").withArgs(CENSUS, 1, hash("PIPL art. 47"), SUBJECT, this.deptA.address);
    expect(await this.registry.isPurged(CENSUS, 1)).to.equal(true);
    expect(await this.registry.isPurged(CENSUS, 2)).to.equal(false);
    expect((await this.registry.version(CENSUS, 1)).contentRoot).to.equal(hash("root v1"));
    expect(await this.registry.versionOfRoot(CENSUS, hash("root v1"))).to.equal(1);
  });

  it("refuses a second purge of the same version", async function () {
    await this.registry.connect(this.deptA).purgeVersion(CENSUS, 2, hash("r"), ethers.ZeroHash);
    await expect(this.registry.connect(this.deptA).purgeVersion(CENSUS, 2, hash("again"), ethers.ZeroHash))
      .to.be.revertedWithCustomError(this.registry, "RegistryVersionPurged").withArgs(CENSUS, 2);
  });

  it("refuses another department, the coordinator, the auditor, a consumer and anyone outside", async function () {
    for (const caller of [this.deptB, this.coordinator, this.auditor, this.consumer, this.outsider]) {
      await expect(this.registry.connect(caller).purgeVersion(CENSUS, 1, hash("r"), ethers.ZeroHash))
        .to.be.revertedWithCustomError(this.registry, "RegistryNotOwner").withArgs(caller.address, CENSUS);
    }
    expect(await this.registry.isPurged(CENSUS, 1)).to.equal(false);
  });

  it("refuses version 0 and a version beyond the count", async function () {
    for (const v of [0, 3]) {
      await expect(this.registry.connect(this.deptA).purgeVersion(CENSUS, v, hash("r"), ethers.ZeroHash))
        .to.be.revertedWithCustomError(this.registry, "RegistryUnknownVersion").withArgs(CENSUS, v);
    }
  });

  it("purges under a coordinator's freeze: the law's deletion is not held back by an investigation", async function () {
    await this.registry.freeze(CENSUS, hash("investigation"));
    await expect(this.registry.connect(this.deptA).purgeVersion(CENSUS, 1, hash("r"), ethers.ZeroHash))
      .to.emit(this.registry, "VersionPurged");
  });

  it("refuses while the consortium is paused", async function () {
    await this.consortium.pause(ethers.ZeroHash);
    await expect(this.registry.connect(this.deptA).purgeVersion(CENSUS, 1, hash("r"), ethers.ZeroHash))
      .to.be.revertedWithCustomError(this.registry, "ConsortiumIsPaused");
  });
});
