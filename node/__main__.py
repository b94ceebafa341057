"""``python -m node run``: one department's node service (settings from PROVLEDGER_*)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from pydantic import ValidationError

from node.errors import NodeError
from node.service import NodeService
from node.settings import NodeSettings, startup_error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="send the outbox, anchor, index and watch the chain until stopped")
    run.add_argument("--exit-when-idle", action="store_true", help="stop once the outbox is empty")
    args = parser.parse_args(argv)
    try:
        service = NodeService.start(NodeSettings())  # type: ignore[call-arg]
    except (ValidationError, NodeError) as err:
        print(startup_error(err), file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if args.exit_when_idle:
            service.settle(timeout=600)
        else:
            service.run(stop)
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
