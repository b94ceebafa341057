"""py-solc-x compiles the contracts offline to exactly Hardhat's bytecode."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ledger.compile import PROJECT_ROOT, collect_sources, compile_contracts, find_solc
from ledger.errors import CompilationFailed

HARDHAT_ARTIFACTS = PROJECT_ROOT / "build" / "hardhat" / "artifacts" / "contracts"


@pytest.fixture(scope="module")
def hardhat_artifacts() -> dict[str, dict[str, str]]:
    subprocess.run(["npx", "hardhat", "compile", "--quiet"], cwd=PROJECT_ROOT, check=True)
    found = {}
    for path in HARDHAT_ARTIFACTS.rglob("*.json"):
        if path.name.endswith(".dbg.json"):
            continue
        data = json.loads(path.read_text())
        if data["bytecode"] != "0x":
            found[data["contractName"]] = data
    return found


def test_python_compile_matches_hardhat_bytecode(hardhat_artifacts: dict[str, dict[str, str]]) -> None:
    ours = compile_contracts()
    assert set(hardhat_artifacts) <= set(ours)
    assert {"Consortium", "DataRegistry", "AccessGrants", "UsageLog", "AnchorRegistry", "QualityBoard"} <= set(
        hardhat_artifacts
    )
    for name, theirs in hardhat_artifacts.items():
        assert ours[name].bytecode == theirs["bytecode"], name
        assert ours[name].deployed_bytecode == theirs["deployedBytecode"], name
        assert ours[name].abi == theirs["abi"], name


def test_compiler_is_native_solc_or_the_solcjs_wrapper() -> None:
    solc = find_solc("0.8.28")
    assert solc == PROJECT_ROOT / "scripts" / "solc" or solc == Path(shutil.which("solc") or "")
    shown = subprocess.run([str(solc), "--version"], capture_output=True, text=True, check=True).stdout
    assert "Version: 0.8.28+" in shown


def test_syntax_error_raises_compilation_failed_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "compiler.json").write_text((PROJECT_ROOT / "contracts" / "compiler.json").read_text())
    (tmp_path / "contracts" / "Broken.sol").write_text("pragma solidity ^0.8.20;\ncontract Broken { function }\n")
    with pytest.raises(CompilationFailed) as caught:
        compile_contracts(tmp_path, solc=PROJECT_ROOT / "scripts" / "solc")
    assert "contracts/Broken.sol" in str(caught.value)


def test_missing_import_raises_compilation_failed_naming_the_unit(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "compiler.json").write_text((PROJECT_ROOT / "contracts" / "compiler.json").read_text())
    (tmp_path / "contracts" / "A.sol").write_text('pragma solidity ^0.8.20;\nimport "./Missing.sol";\ncontract A {}\n')
    with pytest.raises(CompilationFailed, match="contracts/Missing.sol"):
        compile_contracts(tmp_path)


def test_every_import_form_is_collected_so_a_native_solc_needs_no_import_callback(tmp_path: Path) -> None:
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "A.sol").write_text(
        'import "@lib/B.sol" as B;\nimport * as C from "@lib/C.sol";\nimport {\n  D\n} from "@lib/D.sol";\ncontract A {}\n'
    )
    library = tmp_path / "node_modules" / "@lib"
    library.mkdir(parents=True)
    (library / "B.sol").write_text('import "./E.sol";\ncontract B {}\n')
    for name in "CDE":
        (library / f"{name}.sol").write_text(f"contract {name} {{}}\n")
    assert set(collect_sources(tmp_path)) == {"contracts/A.sol"} | {f"@lib/{name}.sol" for name in "BCDE"}
