"""Headless Chromium for the dashboard tests: Debian's ``chromium`` driven by playwright-core
through ``drive.js``, one JSON command a line, every step bounded in time.

Only the browser Debian installs is used (``scripts/ensure-chromium``); nothing is downloaded.
"""

from __future__ import annotations

import itertools
import json
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from ledger.compile import PROJECT_ROOT

DRIVER = Path(__file__).with_name("drive.js")
STEP_TIMEOUT = 60.0
"""Seconds one command may take on the Python side (drive.js bounds each step at 20 s)."""


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def unavailable() -> str | None:
    """None if the dashboard can be driven here, otherwise a one-line reason it cannot."""
    if find_chromium() is None:
        return "chromium is not installed (scripts/ensure-chromium installs Debian's, as root)"
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PROJECT_ROOT / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is not installed (npm ci)"
    return None


class BrowserError(AssertionError):
    """A step the browser could not do (an element never appeared, a page failed to load)."""


class Browser:
    """One Chromium under drive.js; ``with`` starts it and always stops it."""

    def __init__(self, chromium: str, log: Path) -> None:
        self.chromium = chromium
        self.log_path = log
        self._ids = itertools.count(1)
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._process: subprocess.Popen[str] | None = None
        self._log: Any = None

    def __enter__(self) -> Browser:
        self._log = open(self.log_path, "w")
        self._process = subprocess.Popen(["node", str(DRIVER), "--chromium", self.chromium], cwd=PROJECT_ROOT,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        threading.Thread(target=self._read, name="drive.js", daemon=True).start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._replies.put(json.loads(line))
        self._replies.put(None)

    def call(self, op: str, timeout: float = STEP_TIMEOUT, **args: Any) -> Any:
        assert self._process is not None and self._process.stdin is not None, "not started"
        command_id = next(self._ids)
        self._process.stdin.write(json.dumps({"id": command_id, "op": op, **args}) + "\n")
        self._process.stdin.flush()
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"drive.js gave no answer to {op} {args} within {timeout:g} s") from None
        if reply is None:
            raise BrowserError(f"drive.js stopped (see {self.log_path})")
        assert reply["id"] == command_id, reply
        if not reply["ok"]:
            raise BrowserError(f"{op} {args}: {reply['error']}")
        return reply["value"]

    def context(self, width: int = 1280, height: int = 900, *, wallet: str | None = None) -> Context:
        """A fresh browser profile (its own cookies), with an injected wallet holding ``wallet`` if given."""
        return Context(self, self.call("context", width=width, height=height, wallet=wallet))

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        try:
            assert process.stdin is not None
            process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            process.stdin.close()
            process.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait(timeout=10)
        finally:
            self._log.close()


class Context:
    def __init__(self, browser: Browser, context_id: str) -> None:
        self.browser = browser
        self.id = context_id

    def page(self) -> Page:
        return Page(self.browser, self.browser.call("page", context=self.id))

    def close(self) -> None:
        self.browser.call("closeContext", context=self.id)


class Page:
    """A tab; selectors are Playwright's (CSS, plus ``:has-text()`` and friends)."""

    def __init__(self, browser: Browser, page_id: str) -> None:
        self.browser = browser
        self.id = page_id

    def _call(self, op: str, **args: Any) -> Any:
        return self.browser.call(op, page=self.id, **args)

    def goto(self, url: str) -> int | None:
        status: int | None = self._call("goto", url=url)["status"]
        return status

    def fill(self, selector: str, value: str) -> None:
        self._call("fill", selector=selector, value=value)

    def click(self, selector: str, *, navigates: bool = False) -> str:
        url: str = self._call("click", selector=selector, navigates=navigates)
        return url

    def text(self, selector: str) -> str:
        found: str = self._call("text", selector=selector)
        return found

    def texts(self, selector: str) -> list[str]:
        found: list[str] = self._call("texts", selector=selector)
        return found

    def attribute(self, selector: str, name: str) -> str | None:
        found: str | None = self._call("attribute", selector=selector, name=name)
        return found

    def count(self, selector: str) -> int:
        found: int = self._call("count", selector=selector)
        return found

    def wait(self, selector: str, text: str | None = None, timeout: float = 20.0) -> None:
        """Until an element matching ``selector`` (and holding ``text``, if given) is visible."""
        self.browser.call("wait", timeout=timeout + 10, page=self.id, selector=selector, text=text,
                          ms=int(timeout * 1000))

    def evaluate(self, expression: str) -> Any:
        return self._call("evaluate", expression=expression)

    @property
    def url(self) -> str:
        found: str = self._call("url")
        return found

    def resize(self, width: int, height: int = 900) -> None:
        self._call("resize", width=width, height=height)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._call("screenshot", path=str(path))
        return path

    def problems(self) -> list[str]:
        """Script errors and console errors (a CSP violation among them) since last asked."""
        found: list[str] = self._call("problems")
        return found

    def close(self) -> None:
        self._call("closePage")
