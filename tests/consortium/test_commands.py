"""``down`` finds the ``up`` serving a folder by its command line, however it was started
(``python -m node.consortium up``, ``provledger consortium up``), and stops no other process
that happens to hold the pid the folder recorded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from node.consortium import STATE_FILE, Consortium, down, main

SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")


def _record_up(directory: Path, pid: int) -> None:
    state = {"chain_id": 20267, "coordinator": "stats-bureau", "up_pid": pid, "departments": []}
    (directory / STATE_FILE).write_text(json.dumps(state))


@pytest.mark.timeout(60)
def test_down_stops_the_up_process_it_recorded_and_no_other_process(tmp_path: Path) -> None:
    started = {name: subprocess.Popen([*SLEEPER, *argv]) for name, argv in (
        ("module", ("node.consortium", "up", "--dir", str(tmp_path))),
        ("cli", ("consortium", "up", "--dir", str(tmp_path))),
        ("stranger", ("consortium", "status")),
    )}
    try:
        for name, process in started.items():
            _record_up(tmp_path, process.pid)
            stopped = down(tmp_path, timeout=30)
            assert json.loads((tmp_path / STATE_FILE).read_text())["up_pid"] is None
            if name == "stranger":
                assert stopped == [] and process.poll() is None
            else:
                assert stopped == [f"up process {process.pid}"]
                assert process.wait(timeout=30) == -signal.SIGTERM
    finally:
        for process in started.values():
            process.kill()
            process.wait(timeout=30)


@pytest.mark.parametrize(("argv", "says"), [
    (("--department", "civil-affairs=民政局", "--department", "big-data=大数据局"), "3 to 16, not 2"),
    (("--departments", "6",), "--departments must be 3 to 5"),
    (("--departments", "3", "--department", "civil-affairs=民政局"), "--departments N makes unnamed"),
])
def test_up_refuses_bad_departments_before_making_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           argv: tuple[str, ...], says: str) -> None:
    code = main(["up", "--dir", str(tmp_path / "c"), *argv])
    err = capsys.readouterr().err
    assert code == 2 and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "c").exists()
    with pytest.raises(SystemExit) as refused:  # argparse's own check: its usage, then the error
        main(["up", "--dir", str(tmp_path / "c"), "--department", "Civil=民政局"])
    assert refused.value.code == 2 and "a-z, 0-9 and '-'" in capsys.readouterr().err.splitlines()[-1]


@pytest.mark.timeout(120)
def test_a_consortium_of_named_departments_records_their_names_and_its_coordinator(geth: Path,
                                                                                    tmp_path: Path) -> None:
    named = [("civil-affairs", "民政局"), ("market-regulation", "市场监管局"), ("big-data", "大数据局")]
    consortium = Consortium.create(tmp_path, named, geth=geth, light_kdf=True, coordinator="big-data")
    state = json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))
    assert [(d["code"], d["name"]) for d in state["departments"]] == named and state["coordinator"] == "big-data"
    assert (tmp_path / "big-data" / "keys" / "coordinator.json").is_file()
    assert not (tmp_path / "civil-affairs" / "keys" / "coordinator.json").exists()
    assert Consortium.open(tmp_path, geth).members["market-regulation"].name == "市场监管局"
    assert consortium.coordinator_code == "big-data"
