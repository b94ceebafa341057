// Contract-level attacks from shared/THREATS.md. Each case names the attack, asserts that it
// fails, and asserts that the honest party's own action still goes through afterwards: the
// owner's write landed, the use is on chain, the quota held.
const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, setBalance } = require("@nomicfoundation/hardhat-network-helpers");
const {
  deploySuite, datasetInput, requestInput, addServiceAccount, datasetIdOf, grantIdOf, issueIdOf, textHash, id, hash, CATALOG_TEXT,
  Action, GrantStatus, Refusal, AnchorKind, DEPT_A, DEPT_B,
} = require("../contracts/fixture");

const CENSUS_CODE = id("census-2026");
const CENSUS = datasetIdOf(DEPT_A, CENSUS_CODE);
const SENSITIVE_CODE = id("medical-records");
const SENSITIVE = datasetIdOf(DEPT_A, SENSITIVE_CODE);
const REASON = hash("reason");

// DEPT_A owns CENSUS (grade 1, one version) and SENSITIVE (grade 3). `consumer` and `consumer2`
// each hold an active grant on CENSUS; `consumer` awaits a coordinator's co-approval on SENSITIVE.
async function deployLedger() {
  const s = await deploySuite();
  const { registry, grants, deptA, consumer, consumer2 } = s;
  await registry.connect(deptA).registerDataset(CENSUS_CODE, datasetInput());
  await registry.connect(deptA).addVersion(CENSUS, hash("root v1"), "schema v1", 1024, 10);
  await registry.connect(deptA).registerDataset(SENSITIVE_CODE, datasetInput({ grade: 3 }));
  for (const grantee of [consumer, consumer2]) {
    await grants.connect(grantee).requestAccess(id("census access"), requestInput(CENSUS));
    await grants.connect(deptA).approve(grantIdOf(grantee, id("census access")), REASON, 0);
  }
  await grants.connect(consumer).requestAccess(id("sensitive access"), requestInput(SENSITIVE));
  await grants.connect(deptA).approve(grantIdOf(consumer, id("sensitive access")), REASON, 0);
  return {
    ...s,
    grantOf: { consumer: grantIdOf(consumer, id("census access")), consumer2: grantIdOf(consumer2, id("census access")) },
    awaiting: grantIdOf(consumer, id("sensitive access")),
    roles: { coordinator: await s.consortium.COORDINATOR_ROLE(), department: await s.consortium.DEPARTMENT_ROLE() },
  };
}

let evidence = 0;
const use = (grantId, action) => ({ grantId, action: Action[action], evidenceHash: hash(`delivered ${++evidence}`) });

describe("Adversarial: contracts", function () {
  beforeEach(async function () {
    Object.assign(this, await loadFixture(deployLedger));
  });

  describe("record ids are derived from or keyed by their creator", function () {
    it("a department registering another's dataset code first gets a dataset of its own, and the owner's registration still succeeds", async function () {
      const { registry, deptA, deptB } = this;
      const code = id("vaccinations-2026");
      const squatted = datasetIdOf(DEPT_B, code);
      await registry.connect(deptB).registerDataset(code, datasetInput({ owner: DEPT_B }));
      const owners = datasetIdOf(DEPT_A, code);
      expect(owners).to.not.equal(squatted);
      await expect(registry.connect(deptA).registerDataset(code, datasetInput()))
        .to.emit(registry, "DatasetRegistered")
        .withArgs(owners, DEPT_A, deptA.address, code, hash(CATALOG_TEXT), id("population"), 1, 86400, [], CATALOG_TEXT);
      expect((await registry.dataset(owners)).ownerDepartment).to.equal(DEPT_A);
      expect((await registry.dataset(squatted)).ownerDepartment).to.equal(DEPT_B);
    });

    it("a consumer using another grantee's request key gets a grant of its own, and the owner of the key still requests", async function () {
      const { grants, consumer, consumer2 } = this;
      const key = id("next quarter");
      await grants.connect(consumer2).requestAccess(key, requestInput(CENSUS));
      const theirs = grantIdOf(consumer, key);
      const r = requestInput(CENSUS);
      await expect(grants.connect(consumer).requestAccess(key, r))
        .to.emit(grants, "AccessRequested")
        .withArgs(theirs, CENSUS, consumer.address, textHash(r.purpose), r.purpose, r.schemaHash, r.fields, r.actions, r.duration, r.maxUses);
      expect((await grants.grant(theirs)).grantee).to.equal(consumer.address);
      expect((await grants.grant(grantIdOf(consumer2, key))).grantee).to.equal(consumer2.address);
    });

    it("a consumer claiming the node's batch id does not stop the node's batch: both are recorded, and the node's uses are counted", async function () {
      const { usage, deptA, consumer, grantOf } = this;
      const batchId = id("node batch 2026-07-01T10");
      await usage.connect(consumer).recordUses(batchId, [use(grantOf.consumer, "Analyse")]);
      const deliveries = [use(grantOf.consumer, "Download"), use(grantOf.consumer, "Query")];
      await expect(usage.connect(deptA).recordUses(batchId, deliveries))
        .to.emit(usage, "UsesBatchRecorded")
        .withArgs(batchId, deptA.address, 2, 0);
      expect(await usage.idUsed(consumer.address, batchId)).to.equal(true);
      expect(await usage.idUsed(deptA.address, batchId)).to.equal(true);
      expect(await usage.usesOf(grantOf.consumer)).to.equal(3);
    });

    it("another department anchoring a root first does not stop the owner anchoring it: anchorOf(owner, root) is the owner's, with its leaf count", async function () {
      const { anchors, deptA, deptB } = this;
      const root = hash("the owner's delivery receipts");
      await anchors.connect(deptB).anchor(root, 1, AnchorKind.DeliveryReceipts);
      await expect(anchors.connect(deptA).anchor(root, 42, AnchorKind.DeliveryReceipts))
        .to.emit(anchors, "RootAnchored")
        .withArgs(root, DEPT_A, AnchorKind.DeliveryReceipts, deptA.address, 42);
      const a = await anchors.anchorOf(DEPT_A, root);
      expect([a.department, a.by, a.leafCount]).to.deep.equal([DEPT_A, deptA.address, 42n]);
      expect((await anchors.anchorOf(DEPT_B, root)).leafCount).to.equal(1);
    });

    it("a department issuing a statement under the owner's statement id first does not block the owner's statement, which settles", async function () {
      const { usage, deptA, deptB, consumer } = this;
      const statement = {
        statementId: id("statement-2026-q3"), ownerDepartment: DEPT_A, consumer: consumer.address,
        periodStart: 1782864000n, periodEnd: 1790812800n, amount: 125000n, statementHash: hash("statement 2026 Q3"),
      };
      await usage.connect(deptB).acknowledgeStatement({ ...statement, ownerDepartment: DEPT_B, amount: 1n, statementHash: hash("squat") });
      await usage.connect(deptA).acknowledgeStatement(statement);
      await expect(usage.connect(consumer).acknowledgeStatement(statement))
        .to.emit(usage, "StatementSettled")
        .withArgs(statement.statementId, statement.statementHash);
      expect(await usage.statement(DEPT_A, statement.statementId)).to.deep.equal([statement.statementHash, true, true]);
    });

    it("a department opening an issue under an auditor's code first does not block the auditor's issue", async function () {
      const { quality, deptB, auditor } = this;
      const code = id("malformed ids 2026-07");
      await quality.connect(deptB).openIssue(code, CENSUS, 1, hash("squat"));
      const auditors = issueIdOf(auditor, code);
      await expect(quality.connect(auditor).openIssue(code, CENSUS, 1, hash("3% of ID numbers malformed")))
        .to.emit(quality, "IssueOpened")
        .withArgs(auditors, CENSUS, DEPT_A, auditor.address, 1, hash("3% of ID numbers malformed"));
      expect((await quality.issue(auditors)).opener).to.equal(auditor.address);
      expect((await quality.issue(issueIdOf(deptB, code))).opener).to.equal(deptB.address);
    });
  });

  describe("authority over another's decisions", function () {
    it("the owner department cannot lift a coordinator's freeze; the coordinator can", async function () {
      const { registry, deptA, coordinator } = this;
      await registry.connect(coordinator).freeze(CENSUS, hash("incident"));
      await expect(registry.connect(deptA).unfreeze(CENSUS, hash("nothing to see")))
        .to.be.revertedWithCustomError(registry, "RegistryFrozenByCoordinator")
        .withArgs(deptA.address, CENSUS);
      expect(await registry.freezeOf(CENSUS)).to.deep.equal([true, true]);
      await expect(registry.connect(coordinator).unfreeze(CENSUS, hash("resolved")))
        .to.emit(registry, "DatasetUnfrozen")
        .withArgs(CENSUS, coordinator.address, hash("resolved"));
      expect(await registry.freezeOf(CENSUS)).to.deep.equal([false, false]);
    });

    it("a coordinator cannot co-approve a grant on its own department's dataset; another coordinator can", async function () {
      const { grants, consortium, deptA, coordinator, awaiting, roles } = this;
      await consortium.grantRole(roles.coordinator, deptA.address);
      await expect(grants.connect(deptA).coApprove(awaiting, REASON))
        .to.be.revertedWithCustomError(grants, "GrantsCoordinatorIsOwner")
        .withArgs(deptA.address, SENSITIVE);
      expect((await grants.grant(awaiting)).status).to.equal(GrantStatus.AwaitingCoApproval);
      await expect(grants.connect(coordinator).coApprove(awaiting, REASON))
        .to.emit(grants, "GrantActivated");
    });

    it("the last coordinator can neither renounce the role nor be revoked; once another is appointed, one may go", async function () {
      const { consortium, coordinator, spare, roles } = this;
      await expect(consortium.renounceRole(roles.coordinator, coordinator.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumLastCoordinator");
      await expect(consortium.revokeRole(roles.coordinator, coordinator.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumLastCoordinator");
      expect(await consortium.isCoordinator(coordinator.address)).to.equal(true);
      await consortium.grantRole(roles.coordinator, spare.address);
      await expect(consortium.connect(spare).revokeRole(roles.coordinator, coordinator.address))
        .to.emit(consortium, "RoleRevoked")
        .withArgs(roles.coordinator, coordinator.address, spare.address);
      await expect(consortium.connect(spare).renounceRole(roles.coordinator, spare.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumLastCoordinator");
    });
  });

  describe("service accounts", function () {
    it("a department cannot enlist an account without its acceptance; the account joins once it accepts", async function () {
      const { consortium, deptA, spare, roles } = this;
      await consortium.connect(deptA).offerServiceAccount(spare.address);
      expect(await consortium.departmentOf(spare.address)).to.equal(ethers.ZeroHash);
      expect(await consortium.hasRole(roles.department, spare.address)).to.equal(false);
      await expect(consortium.connect(spare).acceptServiceAccount(DEPT_B))
        .to.be.revertedWithCustomError(consortium, "ConsortiumNoOffer")
        .withArgs(spare.address, DEPT_B);
      await expect(consortium.connect(spare).acceptServiceAccount(DEPT_A))
        .to.emit(consortium, "ServiceAccountAdded")
        .withArgs(DEPT_A, spare.address, spare.address);
      expect(await consortium.departmentOf(spare.address)).to.equal(DEPT_A);
    });

    it("a department cannot grow beyond MAX_SERVICE_ACCOUNTS; it can again once it removes one", async function () {
      const { consortium, deptA } = this;
      const max = Number(await consortium.MAX_SERVICE_ACCOUNTS());
      const wallets = [];
      for (let i = 0; i < max; i++) {
        const wallet = ethers.Wallet.createRandom().connect(ethers.provider);
        await setBalance(wallet.address, ethers.parseEther("1"));
        wallets.push(wallet);
      }
      for (const wallet of wallets.slice(1)) await addServiceAccount(consortium, deptA, wallet);
      await expect(consortium.connect(deptA).offerServiceAccount(wallets[0].address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumTooManyServiceAccounts")
        .withArgs(DEPT_A);
      expect(await consortium.serviceAccounts(DEPT_A)).to.have.length(max);
      await consortium.connect(deptA).removeServiceAccount(wallets[1].address);
      await addServiceAccount(consortium, deptA, wallets[0]);
      expect(await consortium.departmentOf(wallets[0].address)).to.equal(DEPT_A);
    });

    it("a department cannot take an auditor's address as a service account or consumer; the auditor keeps auditing", async function () {
      const { consortium, quality, deptA, auditor } = this;
      await expect(consortium.connect(deptA).offerServiceAccount(auditor.address))
        .to.be.revertedWithCustomError(consortium, "ConsortiumAccountInUse")
        .withArgs(auditor.address, ethers.ZeroHash);
      await expect(consortium.connect(deptA).registerConsumer(auditor.address, hash("p")))
        .to.be.revertedWithCustomError(consortium, "ConsortiumAccountInUse")
        .withArgs(auditor.address, ethers.ZeroHash);
      expect(await consortium.departmentOf(auditor.address)).to.equal(ethers.ZeroHash);
      await expect(quality.connect(auditor).openIssue(id("audit"), CENSUS, 1, hash("report"))).to.emit(quality, "IssueOpened");
    });
  });

  describe("uses", function () {
    it("a removed consumer's uses are refused with GranteeRemoved, the other grants' uses still count, and anyone can lapse its grant", async function () {
      const { usage, grants, consortium, deptA, consumer, outsider, grantOf } = this;
      await consortium.connect(deptA).removeConsumer(consumer.address);
      await expect(usage.connect(consumer).recordUse(id("use"), use(grantOf.consumer, "Analyse")))
        .to.be.revertedWithCustomError(usage, "UsageGranteeRemoved")
        .withArgs(grantOf.consumer, consumer.address);
      const [refused, served] = [use(grantOf.consumer, "Download"), use(grantOf.consumer2, "Download")];
      const batch = usage.connect(deptA).recordUses(id("batch"), [refused, served]);
      await expect(batch)
        .to.emit(usage, "UseRefused")
        .withArgs(grantOf.consumer, deptA.address, Action.Download, refused.evidenceHash, Refusal.GranteeRemoved);
      await expect(batch)
        .to.emit(usage, "UseRecorded")
        .withArgs(grantOf.consumer2, CENSUS, deptA.address, Action.Download, served.evidenceHash, 1);
      expect([await usage.usesOf(grantOf.consumer), await usage.usesOf(grantOf.consumer2)]).to.deep.equal([0n, 1n]);
      await expect(grants.connect(outsider).lapse(grantOf.consumer))
        .to.emit(grants, "GrantLapsed")
        .withArgs(grantOf.consumer, CENSUS, consumer.address, outsider.address);
      expect((await grants.grant(grantOf.consumer)).status).to.equal(GrantStatus.Revoked);
    });

    it("a consumer recording uses on another consumer's grant is refused with CallerNotAllowed, attributed to the attacker, and the grantee's own use still counts", async function () {
      const { usage, consumer, consumer2, grantOf } = this;
      const forged = use(grantOf.consumer, "Analyse");
      await expect(usage.connect(consumer2).recordUse(id("forged"), forged))
        .to.be.revertedWithCustomError(usage, "UsageCallerNotAllowed")
        .withArgs(consumer2.address, grantOf.consumer, Action.Analyse);
      const batch = usage.connect(consumer2).recordUses(id("forged batch"), [forged]);
      await expect(batch)
        .to.emit(usage, "UseRefused")
        .withArgs(grantOf.consumer, consumer2.address, Action.Analyse, forged.evidenceHash, Refusal.CallerNotAllowed);
      await expect(batch).to.emit(usage, "UsesBatchRecorded").withArgs(id("forged batch"), consumer2.address, 0, 1);
      expect(await usage.usesOf(grantOf.consumer)).to.equal(0);
      const own = use(grantOf.consumer, "Analyse");
      await expect(usage.connect(consumer).recordUse(id("own"), own))
        .to.emit(usage, "UseRecorded")
        .withArgs(grantOf.consumer, CENSUS, consumer.address, Action.Analyse, own.evidenceHash, 1);
    });
  });
});
