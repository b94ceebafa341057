"""A demo step that goes wrong fails ``provledger demo`` under the step's title, whether a check
read back a different value or the step stopped on an error; the whole story holding is
``tests/api/test_cli.py::test_the_demo_tells_every_step_and_exits_0``."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cli import CliError, Progress
from api.demo import Story
from api.local import LocalDeployment


class BrokenStory(Story):
    """The story with its first two chapters broken the two ways a real one can break."""

    def sign_in_staff(self) -> None:
        self.step("staff sign in")
        self.check(["viewer"] == ["department"], "roles read back from the node")
        self.say("the story goes on after a failed check")

    def register(self) -> None:
        self.step("a dataset is registered")
        raise CliError("422 invalid_input: code is taken")

    def request(self) -> None:
        raise AssertionError("the story must stop at the step that raised")


def test_a_failed_check_and_a_stopped_step_fail_the_story_naming_their_steps(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unstarted = LocalDeployment(tmp_path / "deployment")
    assert BrokenStory(unstarted, Progress(False)).tell() is False
    out = capsys.readouterr().out
    assert "   FAILED roles read back from the node" in out
    assert "the story goes on after a failed check" in out
    assert out.endswith("FAILED at staff sign in: roles read back from the node\n"
                        "FAILED at a dataset is registered: the story stopped: 422 invalid_input: code is taken\n")
