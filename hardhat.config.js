// Hardhat 2, compiling offline with the npm solc package (solcjs): no compiler download.
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");
require("@nomicfoundation/hardhat-ethers");
require("@nomicfoundation/hardhat-chai-matchers");

const solc = require("solc");
// One compiler version and one set of settings for Hardhat and for ledger/compile.py.
const compiler = require("./contracts/compiler.json");
const SOLC_VERSION = compiler.version;
if (require("solc/package.json").version !== SOLC_VERSION) {
  throw new Error(`contracts/compiler.json wants solc ${SOLC_VERSION}; npm installed ${require("solc/package.json").version}`);
}

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: solc.version(),
  };
});

module.exports = {
  solidity: {
    version: SOLC_VERSION,
    settings: compiler.settings,
  },
  networks: {
    hardhat: { hardfork: "merge" },
  },
  paths: {
    sources: "./contracts",
    tests: "./tests/contracts",
    cache: "./build/hardhat/cache",
    artifacts: "./build/hardhat/artifacts",
  },
  mocha: { timeout: 120000 },
};
