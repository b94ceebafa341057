"""Issue 20's done-when: after the whole demo story, no node's data folder holds the source's
personal data in clear: not the uploaded versions, not the delivered copies, not the database;
and every file and folder a node wrote is private to its user."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from api.cli import main
from api.demo import people
from node.private import open_to_others


def personal_values() -> set[bytes]:
    """The ID numbers, mobile numbers, names and addresses of every version the demo uploads."""
    rows = people(40, broken=True) + people(40, broken=False)
    return {value.encode() for row in rows for value in row[:4]}


@pytest.mark.timeout(400)
def test_after_the_demo_no_data_folder_holds_personal_data_in_clear(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API", "USER", "PASSWORD", "KEYSTORE", "PASSPHRASE"):
        monkeypatch.delenv(f"PROVLEDGER_{name}", raising=False)
    folder = tmp_path / "demo"
    code = main(["demo", "--dir", str(folder), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0 and "story complete: every check held" in out, out
    data_dirs = sorted(p for p in folder.glob("*/data") if p.is_dir())
    assert len(data_dirs) == 3
    files = [p for d in data_dirs for p in d.rglob("*") if p.is_file()]
    stored = [p for p in files if "datasets" in p.parts or "deliveries" in p.parts]
    assert len(stored) >= 4 and any(p.name == "node.db" for p in files)  # versions, copies and databases searched
    values = personal_values()
    # The search finds what it looks for: the demo's own source files, outside the nodes, hold every value.
    sources = b"".join(p.read_bytes() for p in (folder / "demo").glob("visits-v*.csv"))
    assert all(v in sources for v in values)
    # The query chapter's relief roll: its names and ID numbers, read from the source the owner registered.
    with open(folder / "demo" / "relief-roll.csv", newline="", encoding="utf-8") as roll:
        relief = [(row["姓名"].encode(), row["身份证号"].encode()) for row in csv.DictReader(roll)]
    assert len(relief) >= 20
    values |= {value for pair in relief for value in pair}
    found = {(str(p.relative_to(folder)), v.decode()) for p in files for v in values if v in p.read_bytes()}
    assert not found, sorted(found)[:20]
    # And everything each node wrote is its user's only (files 0600, folders 0700).
    assert all(open_to_others(d) == [] for d in data_dirs), [open_to_others(d) for d in data_dirs]

