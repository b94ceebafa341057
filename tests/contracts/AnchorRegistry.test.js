// AnchorRegistry: member departments anchor Merkle roots once each, per department; anyone checks an item's
// inclusion on-chain under the documented hashing rule, rebuilt here by a naive reference.
const fs = require("fs");
const path = require("path");
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { deploySuite, addServiceAccount, hash, textHash, AnchorKind, DEPT_A, DEPT_B, DEPT_C } = require("./fixture");

// ------------------------------------------------------------------ test-only reference tree
// Deliberately naive: it keeps every level and reads proofs off them. Its output has the shape
// of a tests/vectors/merkle_NNN.json file ({ size, items, root, cases: [{ index, item, proof,
// valid }] }), so the trees below can be swapped for those files without touching the tests.

const leaf = (item) => ethers.sha256(ethers.concat(["0x00", item]));
const node = (a, b) => ethers.sha256(ethers.concat(["0x01", ...(BigInt(a) < BigInt(b) ? [a, b] : [b, a])]));

function referenceVector(items) {
  const levels = [items.map(leaf)];
  while (levels.at(-1).length > 1) {
    const below = levels.at(-1);
    const above = [];
    // A level with an odd count carries its last node up unchanged.
    for (let i = 0; i < below.length; i += 2) above.push(i + 1 < below.length ? node(below[i], below[i + 1]) : below[i]);
    levels.push(above);
  }
  const proofOf = (index) => {
    const proof = [];
    for (const level of levels.slice(0, -1)) {
      if ((index ^ 1) < level.length) proof.push(level[index ^ 1]);
      index >>= 1;
    }
    return proof;
  };
  const cases = items.map((item, index) => ({ index, item, proof: proofOf(index), valid: true }));
  return { size: items.length, items, root: levels.at(-1)[0], cases };
}

// Mixed lengths, as anchored in practice: 32-byte hashes and raw items of a few bytes.
const itemsOf = (size) =>
  Array.from({ length: size }, (_, i) => (i % 3 ? hash(`receipt ${size}/${i}`) : ethers.hexlify(ethers.toUtf8Bytes(`raw ${i}`))));

function changeByte(hex, position) {
  const bytes = ethers.getBytes(hex);
  bytes[position] ^= 0x01;
  return ethers.hexlify(bytes);
}

const ROOT = hash("a batch of delivery receipts");
const OTHER_ROOT = hash("another batch");

describe("AnchorRegistry", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deploySuite));
  });

  describe("anchor", function () {
    it("records the root for the caller's department and emits RootAnchored", async function () {
      const { anchors, deptA } = this;
      const tx = anchors.connect(deptA).anchor(ROOT, 42, AnchorKind.DeliveryReceipts);
      await expect(tx).to.emit(anchors, "RootAnchored").withArgs(ROOT, DEPT_A, AnchorKind.DeliveryReceipts, deptA.address, 42);
      const receipt = await (await tx).wait();
      const a = await anchors.anchorOf(DEPT_A, ROOT);
      expect([a.department, a.by, a.leafCount, a.kind]).to.deep.equal([DEPT_A, deptA.address, 42n, BigInt(AnchorKind.DeliveryReceipts)]);
      expect(a.anchoredAt).to.equal(await time.latest());
      expect(a.blockNumber).to.equal(receipt.blockNumber);
    });

    it("accepts roots of every kind", async function () {
      const { anchors, deptB } = this;
      for (const [name, kind] of Object.entries(AnchorKind)) {
        const root = hash(`root of ${name}`);
        await expect(anchors.connect(deptB).anchor(root, 1, kind))
          .to.emit(anchors, "RootAnchored")
          .withArgs(root, DEPT_B, kind, deptB.address, 1);
        expect((await anchors.anchorOf(DEPT_B, root)).kind).to.equal(kind);
      }
    });

    it("refuses a kind outside the enumeration when decoding the call", async function () {
      const kinds = Object.keys(AnchorKind).length;
      await expect(this.anchors.connect(this.deptA).anchor(ROOT, 1, kinds)).to.be.revertedWithoutReason();
    });

    it("refuses the coordinator, an auditor, a consumer and an outsider, who serve no department", async function () {
      const { anchors, coordinator, auditor, consumer, outsider } = this;
      for (const caller of [coordinator, auditor, consumer, outsider]) {
        await expect(anchors.connect(caller).anchor(ROOT, 1, AnchorKind.DatasetVersions))
          .to.be.revertedWithCustomError(anchors, "ConsortiumNotADepartment")
          .withArgs(caller.address);
      }
    });

    it("refuses a service account after its department removed it", async function () {
      const { anchors, consortium, deptA, spare } = this;
      await addServiceAccount(consortium, deptA, spare);
      await consortium.connect(deptA).removeServiceAccount(spare.address);
      await expect(anchors.connect(spare).anchor(ROOT, 1, AnchorKind.DatasetVersions))
        .to.be.revertedWithCustomError(anchors, "ConsortiumNotADepartment")
        .withArgs(spare.address);
    });

    it("refuses a zero root", async function () {
      await expect(this.anchors.connect(this.deptA).anchor(ethers.ZeroHash, 3, AnchorKind.DatasetVersions))
        .to.be.revertedWithCustomError(this.anchors, "AnchorEmptyTree")
        .withArgs(ethers.ZeroHash, 3);
    });

    it("refuses a root over no leaves", async function () {
      await expect(this.anchors.connect(this.deptA).anchor(ROOT, 0, AnchorKind.DatasetVersions))
        .to.be.revertedWithCustomError(this.anchors, "AnchorEmptyTree")
        .withArgs(ROOT, 0);
    });

    it("refuses anchoring the same root twice, whatever the kind or leaf count", async function () {
      const { anchors, deptA } = this;
      await anchors.connect(deptA).anchor(ROOT, 4, AnchorKind.DatasetVersions);
      await expect(anchors.connect(deptA).anchor(ROOT, 4, AnchorKind.DatasetVersions))
        .to.be.revertedWithCustomError(anchors, "AnchorRootExists")
        .withArgs(ROOT, DEPT_A);
      await expect(anchors.connect(deptA).anchor(ROOT, 5, AnchorKind.QualityReports))
        .to.be.revertedWithCustomError(anchors, "AnchorRootExists")
        .withArgs(ROOT, DEPT_A);
    });

    it("refuses the same root from another service account of the same department", async function () {
      const { anchors, consortium, deptA, spare } = this;
      await addServiceAccount(consortium, deptA, spare);
      await anchors.connect(deptA).anchor(ROOT, 4, AnchorKind.DatasetVersions);
      await expect(anchors.connect(spare).anchor(ROOT, 4, AnchorKind.DatasetVersions))
        .to.be.revertedWithCustomError(anchors, "AnchorRootExists")
        .withArgs(ROOT, DEPT_A);
    });

    it("lets another department anchor the same root, each department keeping its own anchor", async function () {
      const { anchors, deptA, deptB } = this;
      await anchors.connect(deptA).anchor(ROOT, 4, AnchorKind.DatasetVersions);
      await expect(anchors.connect(deptB).anchor(ROOT, 9, AnchorKind.QualityReports))
        .to.emit(anchors, "RootAnchored")
        .withArgs(ROOT, DEPT_B, AnchorKind.QualityReports, deptB.address, 9);
      const [a, b] = [await anchors.anchorOf(DEPT_A, ROOT), await anchors.anchorOf(DEPT_B, ROOT)];
      expect([a.department, a.by, a.leafCount, a.kind]).to.deep.equal([DEPT_A, deptA.address, 4n, BigInt(AnchorKind.DatasetVersions)]);
      expect([b.department, b.by, b.leafCount, b.kind]).to.deep.equal([DEPT_B, deptB.address, 9n, BigInt(AnchorKind.QualityReports)]);
    });
  });

  describe("publishText", function () {
    const TEXT = "数据质量问题：第3、7行身份证号校验位错误，请核实后重新报送";

    it("publishes a text under its keccak256 for a department, a consumer, the coordinator and an auditor", async function () {
      const { anchors, deptA, consumer, coordinator, auditor } = this;
      for (const caller of [deptA, consumer, coordinator, auditor]) {
        expect(await anchors.connect(caller).publishText.staticCall(TEXT)).to.equal(textHash(TEXT));
        await expect(anchors.connect(caller).publishText(TEXT))
          .to.emit(anchors, "TextPublished")
          .withArgs(textHash(TEXT), caller.address, TEXT);
      }
    });

    it("refuses an outsider and a consumer its sponsor removed", async function () {
      const { anchors, consortium, deptA, consumer, outsider } = this;
      await consortium.connect(deptA).removeConsumer(consumer.address);
      for (const caller of [outsider, consumer]) {
        await expect(anchors.connect(caller).publishText(TEXT))
          .to.be.revertedWithCustomError(anchors, "AnchorNotParticipant")
          .withArgs(caller.address);
      }
    });

    it("refuses an empty text and one longer than MAX_TEXT_LENGTH bytes, naming its length", async function () {
      const { anchors, deptA } = this;
      expect(await anchors.MAX_TEXT_LENGTH()).to.equal(8192);
      // 2731 three-byte characters: 8193 bytes.
      for (const [text, length] of [["", 0], ["x".repeat(8193), 8193], ["质".repeat(2731), 8193]]) {
        await expect(anchors.connect(deptA).publishText(text))
          .to.be.revertedWithCustomError(anchors, "AnchorInvalidText")
          .withArgs(length);
      }
      await expect(anchors.connect(deptA).publishText("x".repeat(8192))).to.emit(anchors, "TextPublished");
    });
  });

  describe("anchorOf", function () {
    it("keeps each root's own anchor", async function () {
      const { anchors, deptA, deptB } = this;
      await anchors.connect(deptA).anchor(ROOT, 7, AnchorKind.LifecycleEvidence);
      await anchors.connect(deptB).anchor(OTHER_ROOT, 9, AnchorKind.SettlementStatements);
      const [a, b] = [await anchors.anchorOf(DEPT_A, ROOT), await anchors.anchorOf(DEPT_B, OTHER_ROOT)];
      expect([a.department, a.by, a.leafCount, a.kind]).to.deep.equal([DEPT_A, deptA.address, 7n, BigInt(AnchorKind.LifecycleEvidence)]);
      expect([b.department, b.by, b.leafCount, b.kind]).to.deep.equal([DEPT_B, deptB.address, 9n, BigInt(AnchorKind.SettlementStatements)]);
      expect(b.blockNumber).to.equal(a.blockNumber + 1n);
    });

    it("reverts for a root never anchored", async function () {
      await expect(this.anchors.anchorOf(DEPT_A, ROOT)).to.be.revertedWithCustomError(this.anchors, "AnchorUnknownRoot").withArgs(DEPT_A, ROOT);
    });

    it("reverts for a root anchored by another department only", async function () {
      await this.anchors.connect(this.deptB).anchor(ROOT, 1, AnchorKind.DeliveryReceipts);
      await expect(this.anchors.anchorOf(DEPT_A, ROOT)).to.be.revertedWithCustomError(this.anchors, "AnchorUnknownRoot").withArgs(DEPT_A, ROOT);
    });
  });

  describe("leafHash and nodeHash", function () {
    const A = hash("left");
    const B = hash("right");

    it("hash a leaf as sha256(0x00 || item), for items of any length", async function () {
      for (const item of ["0x", "0x00", "0x1e", A, ethers.hexlify(ethers.toUtf8Bytes("a longer raw item ".repeat(5)))]) {
        expect(await this.anchors.leafHash(item)).to.equal(ethers.sha256(ethers.concat(["0x00", item])));
      }
    });

    it("hash two nodes as sha256(0x01 || min || max), in either order", async function () {
      const [lo, hi] = BigInt(A) < BigInt(B) ? [A, B] : [B, A];
      const expected = ethers.sha256(ethers.concat(["0x01", lo, hi]));
      expect(await this.anchors.nodeHash(lo, hi)).to.equal(expected);
      expect(await this.anchors.nodeHash(hi, lo)).to.equal(expected);
      expect(await this.anchors.nodeHash(A, A)).to.equal(ethers.sha256(ethers.concat(["0x01", A, A])));
    });

    it("never give a leaf the hash of the node over the same bytes", async function () {
      const [lo, hi] = BigInt(A) < BigInt(B) ? [A, B] : [B, A];
      expect(await this.anchors.leafHash(ethers.concat([lo, hi]))).to.not.equal(await this.anchors.nodeHash(lo, hi));
    });
  });

  describe("verifyInclusion", function () {
    it("agrees with the reference on the shared vectors in tests/vectors", function () {
      const dir = path.join(__dirname, "..", "vectors");
      const files = fs.readdirSync(dir).filter((name) => /^merkle_\d+\.json$/.test(name));
      expect(files).to.not.be.empty;
      for (const name of files) {
        const vector = JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
        const ours = referenceVector(vector.items);
        expect(ours.root, name).to.equal(vector.root);
        expect(ours.cases, name).to.deep.equal(vector.cases.filter((c) => c.valid));
      }
    });

    for (const size of [1, 2, 3, 5, 8, 13]) {
      describe(`on a tree of ${size} item${size > 1 ? "s" : ""}`, function () {
        const tree = referenceVector(itemsOf(size));

        beforeEach(async function () {
          await this.anchors.connect(this.deptA).anchor(tree.root, tree.size, AnchorKind.DeliveryReceipts);
        });

        it("verifies every item's proof", async function () {
          for (const c of tree.cases) {
            expect(await this.anchors.verifyInclusion(DEPT_A, tree.root, c.item, c.proof), `item ${c.index}`).to.equal(true);
          }
        });

        it("refuses every proof with one changed byte", async function () {
          for (const c of tree.cases) {
            for (let n = 0; n < c.proof.length; n++) {
              for (const position of [0, 31]) {
                const broken = c.proof.map((sibling, i) => (i === n ? changeByte(sibling, position) : sibling));
                expect(await this.anchors.verifyInclusion(DEPT_A, tree.root, c.item, broken), `item ${c.index}, sibling ${n}`).to.equal(false);
              }
            }
          }
        });

        it("refuses an item with one changed byte", async function () {
          for (const c of tree.cases) {
            expect(await this.anchors.verifyInclusion(DEPT_A, tree.root, changeByte(c.item, 0), c.proof)).to.equal(false);
          }
        });

        it("refuses an item not in the tree, and an item's leaf hash given as the item", async function () {
          for (const c of tree.cases) {
            expect(await this.anchors.verifyInclusion(DEPT_A, tree.root, hash("not anchored"), c.proof)).to.equal(false);
            expect(await this.anchors.verifyInclusion(DEPT_A, tree.root, leaf(c.item), c.proof)).to.equal(false);
          }
        });

        if (size > 1) {
          it("refuses an item with the proof of another item", async function () {
            for (const c of tree.cases) {
              const other = tree.cases[(c.index + 1) % size];
              expect(await this.anchors.verifyInclusion(DEPT_A, tree.root, c.item, other.proof), `item ${c.index}`).to.equal(false);
            }
          });

          it("refuses a truncated proof, and a proof with an extra sibling", async function () {
            for (const c of tree.cases) {
              expect(await this.anchors.verifyInclusion(DEPT_A, tree.root, c.item, c.proof.slice(0, -1))).to.equal(false);
              expect(await this.anchors.verifyInclusion(DEPT_A, tree.root, c.item, [...c.proof, c.proof[0]])).to.equal(false);
            }
          });
        }

        it("refuses a valid proof against another anchored root", async function () {
          await this.anchors.connect(this.deptB).anchor(OTHER_ROOT, 1, AnchorKind.DeliveryReceipts);
          expect(await this.anchors.verifyInclusion(DEPT_B, OTHER_ROOT, tree.cases[0].item, tree.cases[0].proof)).to.equal(false);
        });

        it("verifies the same proof against another department's anchor of the same root", async function () {
          await this.anchors.connect(this.deptB).anchor(tree.root, tree.size, AnchorKind.DeliveryReceipts);
          const c = tree.cases[0];
          expect(await this.anchors.verifyInclusion(DEPT_B, tree.root, c.item, c.proof)).to.equal(true);
        });

        it("reverts for the root under a department that never anchored it", async function () {
          const c = tree.cases[0];
          await expect(this.anchors.verifyInclusion(DEPT_C, tree.root, c.item, c.proof))
            .to.be.revertedWithCustomError(this.anchors, "AnchorUnknownRoot")
            .withArgs(DEPT_C, tree.root);
        });
      });
    }

    it("reverts for a root never anchored, even with a proof that would verify", async function () {
      const tree = referenceVector(itemsOf(5));
      const c = tree.cases[2];
      await expect(this.anchors.verifyInclusion(DEPT_A, tree.root, c.item, c.proof))
        .to.be.revertedWithCustomError(this.anchors, "AnchorUnknownRoot")
        .withArgs(DEPT_A, tree.root);
    });
  });
});
