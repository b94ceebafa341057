// One deployment of the whole suite, shared by every contract test through loadFixture.
const { ethers } = require("hardhat");

const VOTING_PERIOD = 7n * 24n * 3600n;
const DAY = 24n * 3600n;

const id = (text) => ethers.encodeBytes32String(text);
const hash = (text) => ethers.keccak256(ethers.toUtf8Bytes(text));
// The id of the proposal `proposer` opens under `key`: Consortium.proposalIdOf.
const proposalIdOf = (proposer, key) =>
  ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["address", "bytes32"], [proposer, key]));

// Record ids derived from their creator, as the contracts derive them.
const abi = ethers.AbiCoder.defaultAbiCoder();
const datasetIdOf = (department, code) => ethers.keccak256(abi.encode(["bytes32", "bytes32"], [department, code]));
const grantIdOf = (grantee, requestKey) => ethers.keccak256(abi.encode(["address", "bytes32"], [grantee.address ?? grantee, requestKey]));
const issueIdOf = (opener, code) => ethers.keccak256(abi.encode(["address", "bytes32"], [opener.address ?? opener, code]));
// What a grant keeps of the fields it names: the hash of their ABI encoding as a string[].
const fieldsHashOf = (fields) => ethers.keccak256(abi.encode(["string[]"], [fields]));

// Action numbers as in IUsageLog.Action, and the grant bit of each.
const Action = { Collect: 0, Store: 1, Manage: 2, Share: 3, Open: 4, Analyse: 5, Settle: 6, Query: 7, Download: 8 };
const actionBits = (...actions) => actions.reduce((mask, a) => mask | (1 << a), 0);
const GrantStatus = { None: 0, Pending: 1, AwaitingCoApproval: 2, Active: 3, Rejected: 4, Withdrawn: 5, Revoked: 6 };
const Refusal = {
  None: 0, UnknownGrant: 1, CallerNotAllowed: 2, Revoked: 3, NotActive: 4,
  Expired: 5, DatasetFrozen: 6, ActionNotGranted: 7, QuotaExhausted: 8, GranteeRemoved: 9,
  NoPrivacyTerms: 10, EpsilonOverCap: 11, BudgetExhausted: 12,
};
const ProposalKind = { Admit: 0, Remove: 1 };
const ProposalStatus = { None: 0, Open: 1, Executed: 2 };
const IssueStatus = { None: 0, Open: 1, Returned: 2, Repaired: 3, Closed: 4 };
const AnchorKind = { DatasetVersions: 0, DeliveryReceipts: 1, LifecycleEvidence: 2, QualityReports: 3, SettlementStatements: 4 };

const DEPT_A = id("stats-bureau");
const DEPT_B = id("health-commission");
const DEPT_C = id("public-security");

async function deploySuite() {
  const signers = await ethers.getSigners();
  const [coordinator, deptA, deptB, deptC, consumer, consumer2, auditor, outsider, validatorA, validatorB, validatorC, spare] =
    signers;

  const consortium = await ethers.deployContract("Consortium", [coordinator.address, VOTING_PERIOD]);
  const registry = await ethers.deployContract("DataRegistry", [consortium.target]);
  const grants = await ethers.deployContract("AccessGrants", [consortium.target, registry.target]);
  const usage = await ethers.deployContract("UsageLog", [consortium.target, registry.target, grants.target]);
  const anchors = await ethers.deployContract("AnchorRegistry", [consortium.target]);
  const quality = await ethers.deployContract("QualityBoard", [consortium.target, registry.target]);

  await consortium.seatFoundingDepartment(DEPT_A, "Statistics Bureau", validatorA.address, deptA.address);
  await consortium.seatFoundingDepartment(DEPT_B, "Health Commission", validatorB.address, deptB.address);
  await consortium.seatFoundingDepartment(DEPT_C, "Public Security", validatorC.address, deptC.address);
  await consortium.closeFounding();
  await consortium.connect(deptA).registerConsumer(consumer.address, hash("consumer profile"));
  await consortium.connect(deptB).registerConsumer(consumer2.address, hash("consumer2 profile"));
  await consortium.grantRole(await consortium.AUDITOR_ROLE(), auditor.address);

  return {
    consortium, registry, grants, usage, anchors, quality,
    coordinator, deptA, deptB, deptC, consumer, consumer2, auditor, outsider,
    validatorA, validatorB, validatorC, spare, signers,
  };
}

// A dataset's public catalog text, as a node writes it: canonical JSON with names only, never values.
const CATALOG_TEXT = JSON.stringify({ name: "Census 2026", category: "population", fields: { district: null, id_number: "id_number" } });

function datasetInput({ grade = 1, parents = [], owner = DEPT_A, usage = [DEPT_B], beneficiary, interval = 86400, metadata = CATALOG_TEXT } = {}) {
  return {
    metadata,
    category: id("population"),
    grade,
    updateInterval: interval,
    rights: { ownershipHolder: owner, usageRightHolders: usage, revenueBeneficiary: beneficiary ?? ethers.ZeroAddress },
    parents,
  };
}

function requestInput(datasetId, {
  actions = actionBits(Action.Query, Action.Download, Action.Analyse),
  duration = 30n * DAY,
  maxUses = 100,
  fields = ["district", "age_band", "household_size"],
  schemaHash = hash("census schema v1"),
  purpose = "purpose: public health research",
} = {}) {
  return { datasetId, purpose, schemaHash, fields, actions, duration, maxUses };
}

// The hash the contract keeps of a purpose (or of any published text): keccak256 of its UTF-8 bytes.
const textHash = (text) => ethers.keccak256(ethers.toUtf8Bytes(text));

// How a service account joins: its department offers, then the account itself accepts.
async function addServiceAccount(consortium, department, account) {
  const departmentId = await consortium.departmentOf(department.address);
  await consortium.connect(department).offerServiceAccount(account.address);
  return consortium.connect(account).acceptServiceAccount(departmentId);
}

// A suite with one dataset owned by DEPT_A (grade 1, one version) and an active grant to `consumer`.
async function deployWithGrant() {
  const s = await deploySuite();
  const datasetId = datasetIdOf(DEPT_A, id("census-2026"));
  await s.registry.connect(s.deptA).registerDataset(id("census-2026"), datasetInput());
  await s.registry.connect(s.deptA).addVersion(datasetId, hash("root v1"), "schema v1", 1024, 10);
  const grantId = grantIdOf(s.consumer, id("grant-1"));
  await s.grants.connect(s.consumer).requestAccess(id("grant-1"), requestInput(datasetId));
  await s.grants.connect(s.deptA).approve(grantId, hash("approved"), 0);
  return { ...s, datasetId, grantId };
}

module.exports = {
  proposalIdOf,
  deploySuite, deployWithGrant, datasetInput, CATALOG_TEXT, requestInput, addServiceAccount, id, hash, actionBits,
  datasetIdOf, grantIdOf, issueIdOf, fieldsHashOf, textHash,
  Action, GrantStatus, Refusal, ProposalKind, ProposalStatus, IssueStatus, AnchorKind,
  DEPT_A, DEPT_B, DEPT_C, VOTING_PERIOD, DAY,
};
