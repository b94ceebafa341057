"""Node settings are validated at start; bad ones stop the node with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from ledger.compile import PROJECT_ROOT
from node.errors import SettingsInvalid
from node.settings import NodeSettings


def _settings(tmp_path: Path, **overrides: object) -> NodeSettings:
    keystore = tmp_path / "key.json"
    keystore.write_text("{}")
    values: dict[str, object] = {"department_id": "stats-bureau", "keystore_path": keystore,
                                 "passphrase": "a long secret", "data_dir": tmp_path / "data"}
    values.update(overrides)
    return NodeSettings(**values)  # type: ignore[arg-type]


def test_defaults_put_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path).prepare()
    assert settings.sql_url == f"sqlite:///{(tmp_path / 'data' / 'node.db').resolve()}"
    assert (tmp_path / "data").is_dir()


def test_a_non_http_chain_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="chain_url"):
        _settings(tmp_path, chain_url="ws://127.0.0.1:8545")


def test_exactly_one_passphrase_source_is_required(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from a file\n")
    with pytest.raises(ValidationError, match="exactly one"):
        _settings(tmp_path, passphrase_file=secret)
    assert _settings(tmp_path, passphrase=None, passphrase_file=secret).keystore_passphrase() == "from a file"


def test_default_passphrases_are_refused_outside_demos(tmp_path: Path) -> None:
    with pytest.raises(SettingsInvalid, match="default passphrase"):
        _settings(tmp_path, passphrase="changeme").keystore_passphrase()
    assert _settings(tmp_path, passphrase="changeme", allow_demo_passphrase=True).keystore_passphrase() == "changeme"


def test_a_missing_keystore_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsInvalid, match="keystore_path"):
        _settings(tmp_path, keystore_path=tmp_path / "nope.json").prepare()


def test_the_node_exits_2_with_one_line_on_bad_settings(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVLEDGER_")}
    env.update({"PROVLEDGER_DEPARTMENT_ID": "stats-bureau", "PROVLEDGER_KEYSTORE_PATH": str(tmp_path / "k.json"),
                "PROVLEDGER_PASSPHRASE": "a long secret", "PROVLEDGER_CONFIRMATIONS": "-1"})
    done = subprocess.run([sys.executable, "-m", "node", "run"], cwd=tmp_path, env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: setting confirmations")
