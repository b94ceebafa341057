// The Merkle vector files in tests/vectors, shared with tests/ledger/test_merkle.py: every valid
// proof verifies on-chain, every deliberately broken one and every proof with a changed byte fails.
const fs = require("fs");
const path = require("path");
const { expect } = require("chai");
const { loadFixture } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, AnchorKind, DEPT_A } = require("./fixture");

const VECTOR_DIR = path.join(__dirname, "..", "vectors");
const vectors = fs
  .readdirSync(VECTOR_DIR)
  .filter((name) => /^merkle_\d+\.json$/.test(name))
  .sort()
  .map((name) => ({ name, ...JSON.parse(fs.readFileSync(path.join(VECTOR_DIR, name), "utf8")) }));

function flipByte(hex, position) {
  const bytes = Buffer.from(hex.slice(2), "hex");
  bytes[position] ^= 0x80;
  return "0x" + bytes.toString("hex");
}

describe("Merkle vectors (tests/vectors)", function () {
  it("are present, with valid and broken cases", function () {
    expect(vectors.length).to.be.at.least(8);
    for (const v of vectors) {
      expect(v.cases.some((c) => c.valid)).to.equal(true);
      expect(v.cases.some((c) => !c.valid)).to.equal(true);
    }
  });

  for (const vector of vectors) {
    describe(vector.name, function () {
      beforeEach(async function () {
        this.s = await loadFixture(deploySuite);
        await this.s.anchors.connect(this.s.deptA).anchor(vector.root, vector.size, AnchorKind.DeliveryReceipts);
      });

      it("verifies every case on-chain exactly when it is marked valid", async function () {
        for (const c of vector.cases) {
          const verified = await this.s.anchors.verifyInclusion(DEPT_A, vector.root, c.item, c.proof);
          expect(verified, c.broken || `leaf ${c.index}`).to.equal(c.valid);
        }
      });

      it("rejects every valid proof with one changed byte in any sibling", async function () {
        for (const c of vector.cases.filter((x) => x.valid)) {
          for (let n = 0; n < c.proof.length; n++) {
            for (const position of [0, 17, 31]) {
              const broken = c.proof.map((s, i) => (i === n ? flipByte(s, position) : s));
              expect(await this.s.anchors.verifyInclusion(DEPT_A, vector.root, c.item, broken)).to.equal(false);
            }
          }
        }
      });

      it("computes the same leaf hashes as the reference", async function () {
        const { ethers } = require("hardhat");
        for (const item of vector.items) {
          expect(await this.s.anchors.leafHash(item)).to.equal(ethers.sha256(ethers.concat(["0x00", item])));
        }
      });
    });
  }
});
