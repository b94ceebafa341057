// AccessGrants: a request is reviewed by the owner department (and on grades 3-4 co-approved by
// a coordinator of another department) before it becomes an active grant; every step is refused
// to the wrong caller and in the wrong status; a grant outliving its grantee's registration lapses.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const {
  deploySuite, addServiceAccount, datasetInput, requestInput, datasetIdOf, grantIdOf, fieldsHashOf, textHash, id, hash, GrantStatus, DEPT_A,
} = require("./fixture");

const REASON = hash("reason");
const PRICE = 250n;

// Four datasets of DEPT_A, one per grade; on them, a pending request, a grade-3 request awaiting
// co-approval and an active grant, all asked for by `consumer`.
async function deployWithRequests() {
  const s = await deploySuite();
  const datasets = {};
  for (const grade of [1, 2, 3, 4]) {
    datasets[grade] = datasetIdOf(DEPT_A, id(`grade-${grade}`));
    await s.registry.connect(s.deptA).registerDataset(id(`grade-${grade}`), datasetInput({ grade }));
  }
  const [pending, awaiting, active] = ["pending", "awaiting", "active"].map((key) => grantIdOf(s.consumer, id(key)));
  await s.grants.connect(s.consumer).requestAccess(id("pending"), requestInput(datasets[1]));
  await s.grants.connect(s.consumer).requestAccess(id("awaiting"), requestInput(datasets[3]));
  await s.grants.connect(s.deptA).approve(awaiting, REASON, PRICE);
  await s.grants.connect(s.consumer).requestAccess(id("active"), requestInput(datasets[1]));
  await s.grants.connect(s.deptA).approve(active, REASON, PRICE);
  return { ...s, datasets, pending, awaiting, active, roles: { coordinator: await s.consortium.COORDINATOR_ROLE() } };
}

async function statusOf(grants, grantId) {
  return (await grants.grant(grantId)).status;
}

describe("AccessGrants", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deployWithRequests));
  });

  describe("requestAccess", function () {
    beforeEach(function () {
      this.requestKey = id("new-request");
      this.grantId = grantIdOf(this.consumer, this.requestKey);
      this.input = requestInput(this.datasets[1]);
    });

    it("records a consumer's request as pending under the id derived from consumer and key, and emits AccessRequested", async function () {
      const { grants, consumer, requestKey, grantId, input } = this;
      expect(await grants.grantIdOf(consumer.address, requestKey)).to.equal(grantId);
      expect(await grants.connect(consumer).requestAccess.staticCall(requestKey, input)).to.equal(grantId);
      await expect(grants.connect(consumer).requestAccess(requestKey, input))
        .to.emit(grants, "AccessRequested")
        .withArgs(grantId, input.datasetId, consumer.address, textHash(input.purpose), input.purpose, input.schemaHash, input.fields, input.actions, input.duration, input.maxUses);
      const g = await grants.grant(grantId);
      expect(g.grantee).to.equal(consumer.address);
      expect(g.status).to.equal(GrantStatus.Pending);
      expect([g.actions, g.maxUses, g.duration, g.expiresAt, g.pricePerUse]).to.deep.equal([BigInt(input.actions), BigInt(input.maxUses), input.duration, 0n, 0n]);
      expect([g.datasetId, g.purposeHash, g.fieldsHash, g.schemaHash])
        .to.deep.equal([input.datasetId, textHash(input.purpose), fieldsHashOf(input.fields), input.schemaHash]);
      expect(g.requestedAt).to.equal(await time.latest());
    });

    it("keeps the fields' order and spelling in the fields hash", async function () {
      const { grants, consumer } = this;
      const cases = [["district", "age_band"], ["age_band", "district"], ["District", "age_band"]];
      for (const [n, fields] of cases.entries()) {
        await grants.connect(consumer).requestAccess(id(`fields-${n}`), requestInput(this.datasets[1], { fields }));
        expect((await grants.grant(grantIdOf(consumer, id(`fields-${n}`)))).fieldsHash).to.equal(fieldsHashOf(fields));
      }
      expect(new Set(cases.map(fieldsHashOf)).size).to.equal(cases.length);
    });

    it("lets a department's service account request access for its department", async function () {
      const { grants, deptB, requestKey, input } = this;
      const grantId = grantIdOf(deptB, requestKey);
      await expect(grants.connect(deptB).requestAccess(requestKey, input))
        .to.emit(grants, "AccessRequested")
        .withArgs(grantId, input.datasetId, deptB.address, textHash(input.purpose), input.purpose, input.schemaHash, input.fields, input.actions, input.duration, input.maxUses);
      expect((await grants.grant(grantId)).grantee).to.equal(deptB.address);
    });

    it("refuses a request by an account that is neither consumer nor department", async function () {
      const { grants, outsider, auditor, coordinator, requestKey, input } = this;
      for (const account of [outsider, auditor, coordinator]) {
        await expect(grants.connect(account).requestAccess(requestKey, input))
          .to.be.revertedWithCustomError(grants, "GrantsNotConsumer")
          .withArgs(account.address);
      }
    });

    it("refuses a request by a consumer its sponsor has removed", async function () {
      const { grants, consortium, deptA, consumer, requestKey, input } = this;
      await consortium.connect(deptA).removeConsumer(consumer.address);
      await expect(grants.connect(consumer).requestAccess(requestKey, input))
        .to.be.revertedWithCustomError(grants, "GrantsNotConsumer")
        .withArgs(consumer.address);
    });

    for (const [what, terms] of [
      ["a zero duration", { duration: 0n }],
      ["a zero quota", { maxUses: 0 }],
      ["no actions", { actions: 0 }],
    ]) {
      it(`refuses a request with ${what}`, async function () {
        const { grants, consumer, requestKey, grantId } = this;
        const input = requestInput(this.datasets[1], terms);
        await expect(grants.connect(consumer).requestAccess(requestKey, input))
          .to.be.revertedWithCustomError(grants, "GrantsInvalidTerms")
          .withArgs(grantId, input.duration, input.maxUses, input.actions);
      });
    }

    it("refuses a request with a zero key, naming no grant", async function () {
      const { grants, consumer, input } = this;
      await expect(grants.connect(consumer).requestAccess(ethers.ZeroHash, input))
        .to.be.revertedWithCustomError(grants, "GrantsInvalidTerms")
        .withArgs(ethers.ZeroHash, input.duration, input.maxUses, input.actions);
    });

    it("keeps the keccak256 of the purpose text it was given, and puts the text in AccessRequested", async function () {
      const { grants, consumer, requestKey, grantId } = this;
      const purpose = "2026年居民健康档案核查：仅用于社区卫生服务规划";
      const input = requestInput(this.datasets[1], { purpose });
      await expect(grants.connect(consumer).requestAccess(requestKey, input))
        .to.emit(grants, "AccessRequested")
        .withArgs(grantId, input.datasetId, consumer.address, textHash(purpose), purpose, input.schemaHash, input.fields, input.actions, input.duration, input.maxUses);
      expect((await grants.grant(grantId)).purposeHash).to.equal(textHash(purpose));
    });

    it("refuses an empty purpose, or one longer than MAX_PURPOSE_LENGTH bytes, naming its length", async function () {
      const { grants, consumer, requestKey } = this;
      expect(await grants.MAX_PURPOSE_LENGTH()).to.equal(1000);
      // 334 three-byte characters: 1002 bytes.
      for (const [purpose, length] of [["", 0], ["x".repeat(1001), 1001], ["查".repeat(334), 1002]]) {
        await expect(grants.connect(consumer).requestAccess(requestKey, requestInput(this.datasets[1], { purpose })))
          .to.be.revertedWithCustomError(grants, "GrantsInvalidPurpose")
          .withArgs(length);
      }
      await expect(grants.connect(consumer).requestAccess(requestKey, requestInput(this.datasets[1], { purpose: "x".repeat(1000) })))
        .to.emit(grants, "AccessRequested");
    });

    it("refuses more than MAX_FIELDS fields, naming the first one over", async function () {
      const { grants, consumer, requestKey } = this;
      expect(await grants.MAX_FIELDS()).to.equal(64);
      const fields = Array.from({ length: 65 }, (_, i) => `field_${i}`);
      await expect(grants.connect(consumer).requestAccess(requestKey, requestInput(this.datasets[1], { fields })))
        .to.be.revertedWithCustomError(grants, "GrantsInvalidFields")
        .withArgs(64);
    });

    it("refuses an empty field name, or one longer than MAX_FIELD_LENGTH bytes, naming its index", async function () {
      const { grants, consumer, requestKey } = this;
      expect(await grants.MAX_FIELD_LENGTH()).to.equal(64);
      // 22 three-byte characters: 66 bytes in 22 characters.
      for (const [index, bad] of [[0, ""], [1, "x".repeat(65)], [2, "区".repeat(22)]]) {
        const fields = ["district", "age_band", "household_size"];
        fields[index] = bad;
        await expect(grants.connect(consumer).requestAccess(requestKey, requestInput(this.datasets[1], { fields })))
          .to.be.revertedWithCustomError(grants, "GrantsInvalidFields")
          .withArgs(index);
      }
    });

    it("accepts MAX_FIELDS fields of 1 and of MAX_FIELD_LENGTH bytes", async function () {
      const { grants, consumer, requestKey, grantId } = this;
      const fields = Array.from({ length: 64 }, (_, i) => (i % 2 ? "y" : String(i).padEnd(64, "x")));
      await expect(grants.connect(consumer).requestAccess(requestKey, requestInput(this.datasets[1], { fields })))
        .to.emit(grants, "AccessRequested");
      expect((await grants.grant(grantId)).fieldsHash).to.equal(fieldsHashOf(fields));
    });

    it("refuses a request key the grantee used already, and leaves its request as it was", async function () {
      const { grants, consumer, pending, input } = this;
      const before = await grants.grant(pending);
      await expect(grants.connect(consumer).requestAccess(id("pending"), input))
        .to.be.revertedWithCustomError(grants, "GrantsRequestExists")
        .withArgs(pending);
      expect(await grants.grant(pending)).to.deep.equal(before);
    });

    it("gives another grantee using the same request key a request of its own", async function () {
      const { grants, consumer, consumer2, pending, input } = this;
      const theirs = grantIdOf(consumer2, id("pending"));
      await expect(grants.connect(consumer2).requestAccess(id("pending"), input))
        .to.emit(grants, "AccessRequested")
        .withArgs(theirs, input.datasetId, consumer2.address, textHash(input.purpose), input.purpose, input.schemaHash, input.fields, input.actions, input.duration, input.maxUses);
      expect((await grants.grant(theirs)).grantee).to.equal(consumer2.address);
      expect((await grants.grant(pending)).grantee).to.equal(consumer.address);
    });

    it("refuses a request for an unknown dataset with the registry's error", async function () {
      const { grants, registry, consumer, requestKey } = this;
      const unknown = datasetIdOf(DEPT_A, id("no-such-dataset"));
      await expect(grants.connect(consumer).requestAccess(requestKey, requestInput(unknown)))
        .to.be.revertedWithCustomError(registry, "RegistryUnknownDataset")
        .withArgs(unknown);
    });

    it("refuses a request for a frozen dataset", async function () {
      const { grants, registry, coordinator, consumer, requestKey, input } = this;
      await registry.connect(coordinator).freeze(input.datasetId, REASON);
      await expect(grants.connect(consumer).requestAccess(requestKey, input))
        .to.be.revertedWithCustomError(grants, "GrantsDatasetFrozen")
        .withArgs(input.datasetId);
    });
  });

  describe("approve", function () {
    for (const grade of [1, 2]) {
      it(`activates a grade-${grade} grant at once, expiring one duration after approval`, async function () {
        const { grants, deptA, consumer, datasets } = this;
        const grantId = grantIdOf(consumer, id(`request-grade-${grade}`));
        const input = requestInput(datasets[grade]);
        await grants.connect(consumer).requestAccess(id(`request-grade-${grade}`), input);
        const at = (await time.latest()) + 100;
        await time.setNextBlockTimestamp(at);
        await expect(grants.connect(deptA).approve(grantId, REASON, PRICE))
          .to.emit(grants, "RequestApproved")
          .withArgs(grantId, datasets[grade], deptA.address, REASON, PRICE, false)
          .and.to.emit(grants, "GrantActivated")
          .withArgs(grantId, datasets[grade], consumer.address, BigInt(at) + input.duration, input.maxUses);
        const g = await grants.grant(grantId);
        expect([g.status, g.expiresAt, g.pricePerUse]).to.deep.equal([BigInt(GrantStatus.Active), BigInt(at) + input.duration, PRICE]);
      });
    }

    for (const grade of [3, 4]) {
      it(`leaves a grade-${grade} grant awaiting the coordinator's co-approval`, async function () {
        const { grants, deptA, consumer, datasets } = this;
        const grantId = grantIdOf(consumer, id(`request-grade-${grade}`));
        await grants.connect(consumer).requestAccess(id(`request-grade-${grade}`), requestInput(datasets[grade]));
        await expect(grants.connect(deptA).approve(grantId, REASON, PRICE))
          .to.emit(grants, "RequestApproved")
          .withArgs(grantId, datasets[grade], deptA.address, REASON, PRICE, true)
          .and.not.to.emit(grants, "GrantActivated");
        const g = await grants.grant(grantId);
        expect([g.status, g.expiresAt, g.pricePerUse]).to.deep.equal([BigInt(GrantStatus.AwaitingCoApproval), 0n, PRICE]);
      });
    }

    it("lets any service account of the owner department approve", async function () {
      const { grants, consortium, deptA, spare, pending, datasets } = this;
      await addServiceAccount(consortium, deptA, spare);
      await expect(grants.connect(spare).approve(pending, REASON, 0))
        .to.emit(grants, "RequestApproved")
        .withArgs(pending, datasets[1], spare.address, REASON, 0, false);
    });

    it("refuses approval by a department that does not own the dataset, the consumer or the coordinator", async function () {
      const { grants, deptB, consumer, coordinator, pending, datasets } = this;
      for (const account of [deptB, consumer, coordinator]) {
        await expect(grants.connect(account).approve(pending, REASON, PRICE))
          .to.be.revertedWithCustomError(grants, "GrantsNotReviewer")
          .withArgs(account.address, datasets[1]);
      }
    });

    it("refuses to approve a request that is not pending", async function () {
      const { grants, deptA, awaiting, active, pending } = this;
      await grants.connect(deptA).reject(pending, REASON);
      for (const [grantId, status] of [[awaiting, GrantStatus.AwaitingCoApproval], [active, GrantStatus.Active], [pending, GrantStatus.Rejected]]) {
        await expect(grants.connect(deptA).approve(grantId, REASON, PRICE))
          .to.be.revertedWithCustomError(grants, "GrantsUnexpectedStatus")
          .withArgs(grantId, status);
      }
    });

    it("refuses to approve an unknown request", async function () {
      const { grants, deptA } = this;
      await expect(grants.connect(deptA).approve(id("unknown"), REASON, PRICE))
        .to.be.revertedWithCustomError(grants, "GrantsUnknownGrant")
        .withArgs(id("unknown"));
    });

    it("refuses to approve a request on a frozen dataset", async function () {
      const { grants, registry, deptA, pending, datasets } = this;
      await registry.connect(deptA).freeze(datasets[1], REASON);
      await expect(grants.connect(deptA).approve(pending, REASON, PRICE))
        .to.be.revertedWithCustomError(grants, "GrantsDatasetFrozen")
        .withArgs(datasets[1]);
    });
  });

  describe("coApprove", function () {
    it("activates the grant, expiring one duration after the co-approval", async function () {
      const { grants, coordinator, consumer, awaiting, datasets } = this;
      const input = requestInput(datasets[3]);
      const at = (await time.latest()) + 3600;
      await time.setNextBlockTimestamp(at);
      await expect(grants.connect(coordinator).coApprove(awaiting, REASON))
        .to.emit(grants, "RequestCoApproved")
        .withArgs(awaiting, datasets[3], coordinator.address, REASON)
        .and.to.emit(grants, "GrantActivated")
        .withArgs(awaiting, datasets[3], consumer.address, BigInt(at) + input.duration, input.maxUses);
      const g = await grants.grant(awaiting);
      expect([g.status, g.expiresAt, g.pricePerUse]).to.deep.equal([BigInt(GrantStatus.Active), BigInt(at) + input.duration, PRICE]);
    });

    it("refuses co-approval by anyone but the coordinator", async function () {
      const { grants, deptA, deptB, consumer, auditor, awaiting } = this;
      for (const account of [deptA, deptB, consumer, auditor]) {
        await expect(grants.connect(account).coApprove(awaiting, REASON))
          .to.be.revertedWithCustomError(grants, "GrantsNotCoordinator")
          .withArgs(account.address);
      }
    });

    it("refuses a coordinator that serves the owner department, and lets another coordinator co-approve", async function () {
      const { grants, consortium, coordinator, deptA, awaiting, datasets, roles } = this;
      await consortium.grantRole(roles.coordinator, deptA.address);
      await expect(grants.connect(deptA).coApprove(awaiting, REASON))
        .to.be.revertedWithCustomError(grants, "GrantsCoordinatorIsOwner")
        .withArgs(deptA.address, datasets[3]);
      expect(await statusOf(grants, awaiting)).to.equal(GrantStatus.AwaitingCoApproval);
      await expect(grants.connect(coordinator).coApprove(awaiting, REASON))
        .to.emit(grants, "RequestCoApproved")
        .withArgs(awaiting, datasets[3], coordinator.address, REASON);
    });

    it("refuses to co-approve a request that is not awaiting co-approval", async function () {
      const { grants, coordinator, pending, active } = this;
      for (const [grantId, status] of [[pending, GrantStatus.Pending], [active, GrantStatus.Active]]) {
        await expect(grants.connect(coordinator).coApprove(grantId, REASON))
          .to.be.revertedWithCustomError(grants, "GrantsUnexpectedStatus")
          .withArgs(grantId, status);
      }
    });

    it("refuses to co-approve a request on a frozen dataset", async function () {
      const { grants, registry, coordinator, awaiting, datasets } = this;
      await registry.connect(coordinator).freeze(datasets[3], REASON);
      await expect(grants.connect(coordinator).coApprove(awaiting, REASON))
        .to.be.revertedWithCustomError(grants, "GrantsDatasetFrozen")
        .withArgs(datasets[3]);
    });
  });

  describe("reject", function () {
    it("lets the owner department reject a pending request", async function () {
      const { grants, deptA, pending, datasets } = this;
      await expect(grants.connect(deptA).reject(pending, REASON))
        .to.emit(grants, "RequestRejected")
        .withArgs(pending, datasets[1], deptA.address, REASON);
      expect(await statusOf(grants, pending)).to.equal(GrantStatus.Rejected);
    });

    it("lets the owner department or the coordinator reject a request awaiting co-approval", async function () {
      const { grants, deptA, coordinator, consumer, awaiting, datasets } = this;
      const awaiting4 = grantIdOf(consumer, id("awaiting-grade-4"));
      await grants.connect(consumer).requestAccess(id("awaiting-grade-4"), requestInput(datasets[4]));
      await grants.connect(deptA).approve(awaiting4, REASON, 0);
      for (const [account, grantId, datasetId] of [[deptA, awaiting, datasets[3]], [coordinator, awaiting4, datasets[4]]]) {
        await expect(grants.connect(account).reject(grantId, REASON))
          .to.emit(grants, "RequestRejected")
          .withArgs(grantId, datasetId, account.address, REASON);
        expect(await statusOf(grants, grantId)).to.equal(GrantStatus.Rejected);
      }
    });

    it("refuses the coordinator, another department or the consumer on a pending request", async function () {
      const { grants, coordinator, deptB, consumer, pending, datasets } = this;
      for (const account of [coordinator, deptB, consumer]) {
        await expect(grants.connect(account).reject(pending, REASON))
          .to.be.revertedWithCustomError(grants, "GrantsNotReviewer")
          .withArgs(account.address, datasets[1]);
      }
    });

    it("refuses another department or the consumer on a request awaiting co-approval", async function () {
      const { grants, deptB, consumer, awaiting } = this;
      for (const account of [deptB, consumer]) {
        await expect(grants.connect(account).reject(awaiting, REASON))
          .to.be.revertedWithCustomError(grants, "GrantsNotOwnerOrCoordinator")
          .withArgs(account.address, awaiting);
      }
    });

    it("refuses to reject an active grant or a decided request", async function () {
      const { grants, deptA, consumer, coordinator, active, pending, awaiting } = this;
      await grants.connect(deptA).reject(pending, REASON);
      await grants.connect(consumer).withdraw(awaiting);
      for (const [grantId, status] of [[active, GrantStatus.Active], [pending, GrantStatus.Rejected], [awaiting, GrantStatus.Withdrawn]]) {
        for (const account of [deptA, coordinator]) {
          await expect(grants.connect(account).reject(grantId, REASON))
            .to.be.revertedWithCustomError(grants, "GrantsUnexpectedStatus")
            .withArgs(grantId, status);
        }
      }
    });

    it("refuses to reject an unknown request", async function () {
      const { grants, deptA } = this;
      await expect(grants.connect(deptA).reject(id("unknown"), REASON))
        .to.be.revertedWithCustomError(grants, "GrantsUnknownGrant")
        .withArgs(id("unknown"));
    });
  });

  describe("withdraw", function () {
    it("lets the grantee withdraw a pending request or one awaiting co-approval", async function () {
      const { grants, consumer, pending, awaiting, datasets } = this;
      for (const [grantId, datasetId] of [[pending, datasets[1]], [awaiting, datasets[3]]]) {
        await expect(grants.connect(consumer).withdraw(grantId))
          .to.emit(grants, "RequestWithdrawn")
          .withArgs(grantId, datasetId, consumer.address);
        expect(await statusOf(grants, grantId)).to.equal(GrantStatus.Withdrawn);
      }
    });

    it("refuses anyone but the grantee", async function () {
      const { grants, consumer2, deptA, coordinator, pending } = this;
      for (const account of [consumer2, deptA, coordinator]) {
        await expect(grants.connect(account).withdraw(pending))
          .to.be.revertedWithCustomError(grants, "GrantsNotGrantee")
          .withArgs(account.address, pending);
      }
    });

    it("refuses to withdraw an active grant or a decided request", async function () {
      const { grants, deptA, consumer, active, pending, awaiting } = this;
      await grants.connect(deptA).reject(pending, REASON);
      await grants.connect(consumer).withdraw(awaiting);
      for (const [grantId, status] of [[active, GrantStatus.Active], [pending, GrantStatus.Rejected], [awaiting, GrantStatus.Withdrawn]]) {
        await expect(grants.connect(consumer).withdraw(grantId))
          .to.be.revertedWithCustomError(grants, "GrantsUnexpectedStatus")
          .withArgs(grantId, status);
      }
    });

    it("leaves a withdrawn request impossible to approve", async function () {
      const { grants, deptA, consumer, pending } = this;
      await grants.connect(consumer).withdraw(pending);
      await expect(grants.connect(deptA).approve(pending, REASON, 0))
        .to.be.revertedWithCustomError(grants, "GrantsUnexpectedStatus")
        .withArgs(pending, GrantStatus.Withdrawn);
    });
  });

  describe("revoke", function () {
    for (const who of ["deptA", "coordinator"]) {
      it(`lets ${who === "deptA" ? "the owner department" : "the coordinator"} revoke an active grant`, async function () {
        const { grants, active, datasets } = this;
        const account = this[who];
        await expect(grants.connect(account).revoke(active, REASON))
          .to.emit(grants, "GrantRevoked")
          .withArgs(active, datasets[1], account.address, REASON);
        expect(await statusOf(grants, active)).to.equal(GrantStatus.Revoked);
      });
    }

    it("refuses the consumer, another department or an outsider", async function () {
      const { grants, consumer, deptB, outsider, active } = this;
      for (const account of [consumer, deptB, outsider]) {
        await expect(grants.connect(account).revoke(active, REASON))
          .to.be.revertedWithCustomError(grants, "GrantsNotOwnerOrCoordinator")
          .withArgs(account.address, active);
      }
    });

    it("refuses to revoke a grant that is not active", async function () {
      const { grants, deptA, pending, awaiting, active } = this;
      await grants.connect(deptA).revoke(active, REASON);
      for (const [grantId, status] of [[pending, GrantStatus.Pending], [awaiting, GrantStatus.AwaitingCoApproval], [active, GrantStatus.Revoked]]) {
        await expect(grants.connect(deptA).revoke(grantId, REASON))
          .to.be.revertedWithCustomError(grants, "GrantsUnexpectedStatus")
          .withArgs(grantId, status);
      }
    });
  });

  describe("lapse", function () {
    it("lets anyone end a live grant of a consumer its sponsor removed, whatever its live status", async function () {
      const { grants, consortium, deptA, consumer, outsider, pending, awaiting, active, datasets } = this;
      await consortium.connect(deptA).removeConsumer(consumer.address);
      for (const [grantId, datasetId] of [[pending, datasets[1]], [awaiting, datasets[3]], [active, datasets[1]]]) {
        await expect(grants.connect(outsider).lapse(grantId))
          .to.emit(grants, "GrantLapsed")
          .withArgs(grantId, datasetId, consumer.address, outsider.address);
        expect(await statusOf(grants, grantId)).to.equal(GrantStatus.Revoked);
      }
    });

    it("lapses the grant of a service account that no longer serves a member department", async function () {
      const { grants, consortium, deptA, deptB, spare, datasets } = this;
      const grantId = grantIdOf(deptB, id("department-grant"));
      await grants.connect(deptB).requestAccess(id("department-grant"), requestInput(datasets[1]));
      await grants.connect(deptA).approve(grantId, REASON, 0);
      await addServiceAccount(consortium, deptB, spare);
      await consortium.connect(spare).removeServiceAccount(deptB.address);
      await expect(grants.connect(spare).lapse(grantId))
        .to.emit(grants, "GrantLapsed")
        .withArgs(grantId, datasets[1], deptB.address, spare.address);
    });

    it("refuses to lapse the grant of a grantee still registered", async function () {
      const { grants, deptA, consumer, active } = this;
      await expect(grants.connect(deptA).lapse(active))
        .to.be.revertedWithCustomError(grants, "GrantsGranteeRegistered")
        .withArgs(active, consumer.address);
      expect(await statusOf(grants, active)).to.equal(GrantStatus.Active);
    });

    it("refuses to lapse a grant that is no longer live, or unknown", async function () {
      const { grants, consortium, deptA, consumer, outsider, pending, awaiting, active } = this;
      await grants.connect(deptA).reject(pending, REASON);
      await grants.connect(consumer).withdraw(awaiting);
      await grants.connect(deptA).revoke(active, REASON);
      await consortium.connect(deptA).removeConsumer(consumer.address);
      for (const [grantId, status] of [[pending, GrantStatus.Rejected], [awaiting, GrantStatus.Withdrawn], [active, GrantStatus.Revoked]]) {
        await expect(grants.connect(outsider).lapse(grantId))
          .to.be.revertedWithCustomError(grants, "GrantsUnexpectedStatus")
          .withArgs(grantId, status);
      }
      await expect(grants.connect(outsider).lapse(id("unknown")))
        .to.be.revertedWithCustomError(grants, "GrantsUnknownGrant")
        .withArgs(id("unknown"));
    });
  });

  describe("views", function () {
    it("refuses to read an unknown grant", async function () {
      await expect(this.grants.grant(id("unknown")))
        .to.be.revertedWithCustomError(this.grants, "GrantsUnknownGrant")
        .withArgs(id("unknown"));
    });

    it("gives the terms a use is checked against", async function () {
      const { grants, consumer, active, datasets } = this;
      const g = await grants.grant(active);
      const input = requestInput(datasets[1]);
      expect(await grants.useTerms(active)).to.deep.equal([
        consumer.address, BigInt(GrantStatus.Active), BigInt(input.actions), g.expiresAt, BigInt(input.maxUses), datasets[1],
      ]);
    });

    it("gives empty terms with status None for an unknown grant", async function () {
      expect(await this.grants.useTerms(id("unknown"))).to.deep.equal([ethers.ZeroAddress, 0n, 0n, 0n, 0n, ethers.ZeroHash]);
    });
  });

  describe("while the ledger is paused", function () {
    beforeEach(async function () {
      await this.consortium.connect(this.coordinator).pause(ethers.ZeroHash);
    });

    it("refuses every write", async function () {
      const { grants, consumer, deptA, coordinator, pending, awaiting, active, datasets } = this;
      const writes = [
        () => grants.connect(consumer).requestAccess(id("new-request"), requestInput(datasets[1])),
        () => grants.connect(deptA).lapse(active),
        () => grants.connect(deptA).approve(pending, REASON, 0),
        () => grants.connect(coordinator).coApprove(awaiting, REASON),
        () => grants.connect(deptA).reject(pending, REASON),
        () => grants.connect(consumer).withdraw(pending),
        () => grants.connect(deptA).revoke(active, REASON),
      ];
      for (const write of writes) {
        await expect(write()).to.be.revertedWithCustomError(grants, "ConsortiumIsPaused");
      }
    });

    it("accepts writes again once unpaused", async function () {
      const { grants, consortium, deptA, coordinator, pending } = this;
      await consortium.connect(coordinator).unpause(ethers.ZeroHash);
      await expect(grants.connect(deptA).approve(pending, REASON, 0)).to.emit(grants, "GrantActivated");
    });
  });
});
