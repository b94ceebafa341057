"""`make demo` and ``python -m scripts.demo``: the provledger story, told over the HTTP API.

A thin wrapper: the story lives in ``provledger demo`` (:mod:`api.cli`), which starts a local
deployment (anvil, the contracts, three department nodes serving their APIs, two consumers,
an auditor) and runs every step through the nodes' HTTP APIs.
"""

from __future__ import annotations

import sys

from api.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
