"""The missing-dependency rule: a skip with the reason on a laptop, a failure naming the fix under CI."""

from __future__ import annotations

import pytest

from tests.utils.required import require


@pytest.fixture
def outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PROVLEDGER_REQUIRE_ALL", raising=False)


def test_a_present_dependency_neither_skips_nor_fails(outside_ci: None, monkeypatch: pytest.MonkeyPatch) -> None:
    require("PostgreSQL", None, "make postgres")
    monkeypatch.setenv("CI", "true")
    require("PostgreSQL", None, "make postgres")


def test_outside_ci_a_missing_dependency_skips_with_its_reason_and_remedy(outside_ci: None) -> None:
    with pytest.raises(pytest.skip.Exception, match=r"PostgreSQL .*no initdb.*`make postgres`"):
        require("PostgreSQL", "no initdb", "make postgres")


@pytest.mark.parametrize("variable, value", [("CI", "true"), ("CI", "1"), ("PROVLEDGER_REQUIRE_ALL", "1")])
def test_under_ci_or_make_test_a_missing_dependency_fails_naming_what_and_how(
        outside_ci: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(pytest.fail.Exception, match=r"Chromium .*no binary.*`make chromium`"):
        require("Chromium", "no binary", "make chromium")


def test_ci_false_still_skips(outside_ci: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        require("Chromium", "no binary", "make chromium")
