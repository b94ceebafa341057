"""``up``, ``down`` and ``status`` of a consortium folder, and their command line
(``python -m node.consortium``, ``provledger consortium``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from ledger.compile import ContractArtifact
from ledger.errors import LedgerError
from ledger.geth import DEFAULT_GETH_DIR, ensure_geth, stop_pid
from ledger.waiting import WaitTimedOut, wait_for
from node.consortium.consortium import Consortium
from node.consortium.members import (
    DEFAULT_CHAIN_ID, DEFAULT_DIR, DEFAULT_GAS_LIMIT, DEPARTMENTS, STATE_FILE, DepartmentStatus,
)
from node.departments import DepartmentPlan, DepartmentSpec, department_options, plan_departments
from node.errors import NodeError
from node.service import load_artifacts

log = logging.getLogger(__name__)


def counted_departments(count: int) -> list[DepartmentSpec]:
    """The first ``count`` of the consortium's default departments, 3 to 5."""
    if not 3 <= count <= len(DEPARTMENTS):
        raise ValueError(f"--departments must be 3 to {len(DEPARTMENTS)}")
    return [DepartmentSpec(code, name) for code, name in DEPARTMENTS[:count]]


def consortium_plan(departments: int | DepartmentPlan) -> DepartmentPlan:
    """Named departments (at least 3, for Clique to outlast one node down), or a count of defaults."""
    if isinstance(departments, DepartmentPlan):
        return plan_departments(departments.departments, coordinator=departments.coordinator,
                                default_codes=counted_departments, at_least=3)
    return plan_departments((), count=departments, default_codes=counted_departments, at_least=3)


def up(directory: Path, departments: int | DepartmentPlan, *, geth_dir: Path = DEFAULT_GETH_DIR,
       chain_id: int = DEFAULT_CHAIN_ID, period: int = 1, artifacts: Mapping[str, ContractArtifact] | None = None,
       services: bool = True, light_kdf: bool = False, gas_limit: int | None = None) -> Consortium:
    """Start the consortium in ``directory`` (created with ``departments`` if new, named or
    counted, its keys at geth's ``--lightkdf`` cost with ``light_kdf``, its blocks of
    ``gas_limit`` gas, default :data:`DEFAULT_GAS_LIMIT`), and, with ``services``, deploy the
    contracts if not yet and start every department's node service (without, only the chain
    runs). An existing consortium keeps the gas limit of its genesis: another one is refused."""
    plan = consortium_plan(departments)
    geth = ensure_geth(geth_dir)
    if (directory / STATE_FILE).exists():
        consortium = Consortium.open(directory, geth)
        if gas_limit is not None and gas_limit != consortium.gas_limit:
            raise ValueError(f"the consortium in {directory} has blocks of {consortium.gas_limit} gas, set by its "
                             f"genesis; --gas-limit {gas_limit} applies to a new consortium only")
    else:
        consortium = Consortium.create(directory, [(d.code, d.name) for d in plan.departments], geth=geth,
                                       chain_id=chain_id, period=period, light_kdf=light_kdf,
                                       coordinator=plan.coordinator, gas_limit=gas_limit or DEFAULT_GAS_LIMIT)
        log.info("keys and genesis of %d departments written to %s", len(plan.departments), directory)
    try:
        consortium.start_chain()
        log.info("%d geth nodes peered and sealing", len(consortium.nodes))
        if not services:
            return consortium
        artifacts = artifacts or load_artifacts()
        consortium.deploy(artifacts)
        log.info("contracts: %s", consortium.manifest_path)
        consortium.start_services(artifacts)
        log.info("%d department node services started", len(consortium.services))
    except BaseException:
        consortium.close()
        raise
    return consortium


UP_MARKER = "consortium\0up"
"""In the command line of a running ``up``, whether started as ``python -m node.consortium up`` or
``provledger consortium up``: a pid the system gave to another program since is not stopped."""


def _alive(pid: int | None) -> bool:
    try:
        return pid is not None and UP_MARKER.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def down(directory: Path, timeout: float = 60.0) -> list[str]:
    """Stop the ``up`` process serving ``directory`` and any geth it left; returns what stopped."""
    state = json.loads((directory / STATE_FILE).read_text())
    stopped = []
    up_pid = state.get("up_pid")
    if _alive(up_pid):
        os.kill(up_pid, signal.SIGTERM)
        # An up that does not stop in time still has its geths stopped below.
        with suppress(WaitTimedOut):
            wait_for(lambda: None if _alive(up_pid) else True, timeout=timeout, what=f"up process {up_pid} to stop",
                     interval=0.2)
        stopped.append(f"up process {up_pid}")
    for member in json.loads((directory / STATE_FILE).read_text())["departments"]:
        if member.get("pid") and stop_pid(member["pid"], directory / member["code"] / "geth"):
            stopped.append(f"geth of {member['code']} ({member['pid']})")
    state = json.loads((directory / STATE_FILE).read_text())
    state["up_pid"] = None
    for member in state["departments"]:
        member["pid"] = None
    (directory / STATE_FILE).write_text(json.dumps(state, indent=2))
    return stopped


def print_status(statuses: Sequence[DepartmentStatus]) -> None:
    print(f"{'department':<20} {'validator':<44} {'url':<24} {'up':<4} {'peers':>5} {'head':>7} {'lag':>4}  "
          "signer  name")
    for s in statuses:
        print(f"{s.code:<20} {s.validator:<44} {s.node.url:<24} {'yes' if s.node.up else 'no':<4} {s.node.peers:>5} "
              f"{s.node.head:>7} {'' if s.lag is None else s.lag:>4}  {'yes' if s.signer else 'no':<6}  {s.name}")
    signers = next((s.node.signers for s in sorted(statuses, key=lambda s: -s.node.head) if s.node.up), ())
    print(f"clique signers ({len(signers)}): {', '.join(signers)}")


MIN_GAS_LIMIT = 5_000
"""geth's floor for a block gas limit (``params.MinGasLimit``)."""


def _gas_limit(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of gas: {text!r}") from None
    if value < MIN_GAS_LIMIT:
        raise argparse.ArgumentTypeError(f"at least {MIN_GAS_LIMIT:,} gas, the least a block may have")
    return value


def gas_limit_option(parser: argparse.ArgumentParser) -> None:
    """``--gas-limit`` of a new consortium's genesis, for ``up`` and ``consortium genesis``."""
    parser.add_argument("--gas-limit", type=_gas_limit, default=None, metavar="GAS",
                        help=f"the block gas limit of a new consortium (default {DEFAULT_GAS_LIMIT:,}; higher holds "
                             "more uses a block, and every node must execute every block in time: docs/consortium.md)")


def add_local_commands(commands: argparse._SubParsersAction[Any]) -> None:
    """``up``, ``down`` and ``status`` of a consortium on this machine, with their options, under
    ``commands`` (``python -m node.consortium`` and ``provledger consortium``); each runs :func:`run`."""
    start = commands.add_parser("up", help="a consortium of geth nodes on this machine: start it (creating it if "
                                           "new) and serve it until stopped")
    department_options(start, counted=int)
    start.add_argument("--chain-id", type=int, default=DEFAULT_CHAIN_ID)
    start.add_argument("--period", type=int, default=1, help="seconds between blocks (default 1)")
    start.add_argument("--chain-only", action="store_true", help="run the geth nodes only: no contracts, no services")
    gas_limit_option(start)
    stop = commands.add_parser("down", help="stop the consortium on this machine")
    status = commands.add_parser("status", help="peers, head, lag and signer of each department on this machine")
    for name, command in (("up", start), ("down", stop), ("status", status)):
        command.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"consortium folder (default {DEFAULT_DIR})")
        command.set_defaults(run=run, local_command=name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node.consortium",
                                     description="A consortium of departments on one machine.")
    add_local_commands(parser.add_subparsers(dest="command", required=True))
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run ``up``, ``down`` or ``status`` as parsed by :func:`add_local_commands`."""
    directory: Path = args.dir.resolve()
    command: str = args.local_command
    if command in ("down", "status") and not (directory / STATE_FILE).is_file():
        print(f"error: no consortium in {directory}", file=sys.stderr)
        return 2
    if command == "down":
        print("\n".join(down(directory)) or "nothing was running")
        return 0
    if command == "status":
        print_status(Consortium.open(directory, DEFAULT_GETH_DIR / "bin" / "geth").status())
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        plan = plan_departments(args.department, file=args.departments_file, coordinator=args.coordinator,
                                count=args.departments, default_codes=counted_departments, at_least=3)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        consortium = up(directory, plan, chain_id=args.chain_id, period=args.period, services=not args.chain_only,
                        gas_limit=args.gas_limit)
    except (LedgerError, NodeError, ValueError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    try:
        consortium.up_pid = os.getpid()
        consortium.save()
        print_status(consortium.status())
        print(f"serving {len(consortium.services)} department nodes; Ctrl-C or `down --dir {directory}` stops them",
              flush=True)
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        consortium.up_pid = None
        consortium.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
