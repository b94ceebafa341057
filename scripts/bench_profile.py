"""Optional profiles of the figures that miss their targets (``make bench`` runs without them).

``--profile DIR`` runs the profiled parts under pyinstrument, which is not a dependency of the
project: ``.venv/bin/pip install pyinstrument`` first. A profiled figure runs slower than it
does unprofiled, so its numbers are for reading the profile beside, not for the table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Profiler:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        if directory is not None:
            try:
                importlib.import_module("pyinstrument")
            except ImportError as err:
                raise SystemExit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument") from err
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    def run(self, name: str, fn: Callable[[], T]) -> T:
        """``fn()``, under the profiler when profiling; writes ``<name>.txt`` and ``<name>.html``."""
        if self.directory is None:
            return fn()
        pyinstrument = importlib.import_module("pyinstrument")
        profiler = pyinstrument.Profiler(interval=0.001)
        profiler.start()
        try:
            return fn()
        finally:
            profiler.stop()
            (self.directory / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False,
                                                                             show_all=False))
            (self.directory / f"{name}.html").write_text(profiler.output_html())
            print(f"profile of {name}: {self.directory / (name + '.txt')}", flush=True)
