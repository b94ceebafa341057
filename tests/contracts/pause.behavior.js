// Cases shared by every state-changing function of the contracts bound to the Consortium: while
// the coordinator has paused the consortium the call reverts with ConsortiumIsPaused (declared in
// IConsortium, part of each contract's ABI); once unpaused, the very same call goes through.
//
// getCall(context) returns { contract, send }: `contract` is the contract called, `send()` sends
// a call that succeeds on the unpaused ledger set up by the suite's fixture.
const { expect } = require("chai");
const { ethers } = require("hardhat");

function shouldRefuseWhilePaused(getCall) {
  describe("while the consortium is paused", function () {
    beforeEach(async function () {
      await this.consortium.connect(this.coordinator).pause(ethers.ZeroHash);
    });

    it("reverts with ConsortiumIsPaused", async function () {
      const { contract, send } = getCall(this);
      await expect(send()).to.be.revertedWithCustomError(contract, "ConsortiumIsPaused").withArgs();
    });

    it("succeeds with the same call once the coordinator unpauses", async function () {
      const { contract, send } = getCall(this);
      await expect(send()).to.be.revertedWithCustomError(contract, "ConsortiumIsPaused");
      await this.consortium.connect(this.coordinator).unpause(ethers.ZeroHash);
      await expect(send()).to.not.be.reverted;
    });
  });
}

module.exports = { shouldRefuseWhilePaused };
