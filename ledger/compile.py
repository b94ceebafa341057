"""Compile the contracts offline through py-solc-x, exactly as Hardhat does.

The compiler is a native ``solc`` on PATH when its version is the one in
``contracts/compiler.json``, else ``scripts/solc`` over the npm solc package. Sources go to the
compiler under the same unit names Hardhat gives them (``contracts/Foo.sol``,
``@openzeppelin/contracts/...``) with the same settings, so the metadata hash at the end of the
bytecode, and hence the bytecode itself, is identical both ways.

``python -m ledger.compile`` writes one artifact per deployable contract to ``build/contracts``.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solcx
from solcx.exceptions import SolcError

from ledger.errors import CompilationFailed

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Every import form: `import "x";`, `import "x" as X;`, `import {A} from "x";`, `import * as X from "x";`.
_IMPORT = re.compile(r'^\s*import\s+(?:[^"\';]*\s+from\s+)?["\']([^"\']+)["\'][^;]*;', re.MULTILINE)
_OUTPUTS = ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.methodIdentifiers"]


@dataclass(frozen=True)
class ContractArtifact:
    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str

    def to_json(self) -> dict[str, Any]:
        return {
            "contractName": self.name,
            "sourceName": self.source,
            "abi": self.abi,
            "bytecode": self.bytecode,
            "deployedBytecode": self.deployed_bytecode,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContractArtifact:
        return cls(data["contractName"], data["sourceName"], data["abi"], data["bytecode"], data["deployedBytecode"])


def compiler_config(root: Path = PROJECT_ROOT) -> dict[str, Any]:
    config: dict[str, Any] = json.loads((root / "contracts" / "compiler.json").read_text())
    return config


def find_solc(version: str, root: Path = PROJECT_ROOT) -> Path:
    """A native solc of ``version`` if one is on PATH, else the wrapper over solcjs."""
    native = shutil.which("solc")
    if native is not None:
        shown = subprocess.run([native, "--version"], capture_output=True, text=True, check=False).stdout
        if f"Version: {version}+" in shown:
            return Path(native)
    return root / "scripts" / "solc"


def _resolve(unit: str, importer: str) -> str:
    if unit.startswith("."):
        return posixpath.normpath(posixpath.join(posixpath.dirname(importer), unit))
    return unit


def _read_unit(unit: str, root: Path) -> str:
    for base in (root, root / "node_modules"):
        path = base / unit
        if path.is_file():
            return path.read_text()
    raise CompilationFailed([f"{unit}: imported but found neither in the project nor in node_modules"])


def collect_sources(root: Path = PROJECT_ROOT) -> dict[str, dict[str, str]]:
    """Every source unit under ``contracts/`` and everything it imports, by unit name."""
    pending = sorted(p.relative_to(root).as_posix() for p in (root / "contracts").rglob("*.sol"))
    sources: dict[str, dict[str, str]] = {}
    while pending:
        unit = pending.pop()
        if unit in sources:
            continue
        content = _read_unit(unit, root)
        sources[unit] = {"content": content}
        pending.extend(_resolve(imported, unit) for imported in _IMPORT.findall(content))
    return dict(sorted(sources.items()))


def compile_contracts(root: Path = PROJECT_ROOT, solc: Path | None = None) -> dict[str, ContractArtifact]:
    """Compile every contract under ``root/contracts``; returns artifacts by contract name."""
    config = compiler_config(root)
    standard_input = {
        "language": "Solidity",
        "sources": collect_sources(root),
        "settings": {**config["settings"], "outputSelection": {"*": {"*": _OUTPUTS}}},
    }
    try:
        output = solcx.compile_standard(standard_input, solc_binary=solc or find_solc(config["version"], root))
    except SolcError as err:
        raise CompilationFailed([str(err.message or err)]) from err
    errors = [e["formattedMessage"] for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        raise CompilationFailed(errors)
    artifacts = {}
    for source, contracts in output["contracts"].items():
        for name, out in contracts.items():
            artifacts[name] = ContractArtifact(
                name=name,
                source=source,
                abi=out["abi"],
                bytecode="0x" + out["evm"]["bytecode"]["object"],
                deployed_bytecode="0x" + out["evm"]["deployedBytecode"]["object"],
            )
    return artifacts


def write_artifacts(artifacts: dict[str, ContractArtifact], out_dir: Path) -> list[Path]:
    """One JSON file per deployable contract (interfaces and libraries without code are skipped)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for artifact in artifacts.values():
        if artifact.bytecode == "0x" or not artifact.source.startswith("contracts/"):
            continue
        path = out_dir / f"{artifact.name}.json"
        path.write_text(json.dumps(artifact.to_json(), indent=1))
        written.append(path)
    return written


def load_artifact(name: str, build_dir: Path = PROJECT_ROOT / "build" / "contracts") -> ContractArtifact:
    path = build_dir / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no artifact {path}: run `make compile`")
    return ContractArtifact.from_json(json.loads(path.read_text()))


def main() -> int:
    try:
        written = write_artifacts(compile_contracts(), PROJECT_ROOT / "build" / "contracts")
    except CompilationFailed as err:
        print(err, file=sys.stderr)
        return 1
    print(f"compiled {len(written)} contracts into build/contracts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
