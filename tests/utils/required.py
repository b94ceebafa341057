"""The one rule for a test dependency that may be missing: skip on a laptop, fail where it is promised.

`make test` installs PostgreSQL and Chromium (`make postgres`, `make chromium`) before pytest and
exports PROVLEDGER_REQUIRE_ALL=1; CI sets CI=true. Under either, a missing dependency is a failure
naming what is missing and how to install it, never a silent skip. Elsewhere a developer may run
without it and sees the reason in the skip.
"""

from __future__ import annotations

import os

import pytest

TRUE = {"1", "true", "yes", "on"}


def all_required() -> bool:
    """True where every promised dependency must be present (CI, `make test`)."""
    return any(os.environ.get(name, "").strip().lower() in TRUE for name in ("CI", "PROVLEDGER_REQUIRE_ALL"))


def require(what: str, reason: str | None, install: str) -> None:
    """Returns if `reason` is None; otherwise fails (CI, `make test`) or skips, naming `what` and `install`."""
    if reason is None:
        return
    message = f"{what} is required but unavailable: {reason}; install it with `{install}`"
    if all_required():
        pytest.fail(message + " (CI=true or PROVLEDGER_REQUIRE_ALL=1: a missing dependency fails, not skips)",
                    pytrace=False)
    pytest.skip(message)
