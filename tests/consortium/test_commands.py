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

from node.consortium import STATE_FILE, down

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
