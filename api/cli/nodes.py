"""Nodes on this machine: ``provledger up``, ``demo`` and ``serve``."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from api.cli.client import CliError, Progress, UsageError

if TYPE_CHECKING:
    from api.local import LocalDeployment


def print_deployment(deployment: LocalDeployment, out: TextIO | None = None) -> None:
    print(f"   chain {deployment.chain_url} (anvil); contracts in {deployment.manifest_path}", file=out)
    for d in deployment.departments:
        role = " (also coordinator)" if d.coordinator else ""
        print(f"   {d.name} ({d.code}){role}  {d.url}  docs {d.docs}", file=out)
        print(f"      staff {d.username} / {d.password}", file=out)
    people = [*deployment.consumers, *([deployment.auditor] if deployment.auditor else [])]
    for p in people:
        sponsor = f" sponsored by {p.sponsor}" if p.sponsor else ""
        print(f"   {p.label:<10} {p.address}{sponsor}\n   {'':<10} keystore {p.keystore}", file=out)
    print(f"   keystore passphrase: {deployment.passphrase} (also in {deployment.passphrase_path})", file=out)


def cmd_up(args: argparse.Namespace) -> int:
    from api.local import LocalDeployment, counted_departments
    from node.departments import plan_departments

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, on_signal) if main_thread else None
    try:
        plan = plan_departments(args.department, file=args.departments_file, coordinator=args.coordinator,
                                count=args.departments, default_codes=counted_departments)
        deployment = LocalDeployment(args.dir, departments=plan)
    except ValueError as err:
        raise UsageError(str(err)) from err
    try:
        with deployment:
            print(f"provledger: {len(plan.departments)} department node(s) up", flush=True)
            print_deployment(deployment)
            first = deployment.departments[min(1, len(deployment.departments) - 1)]
            print(f"   e.g. export PROVLEDGER_API={first.url} PROVLEDGER_USER={first.username}")
            print("serving; Ctrl-C or SIGTERM stops everything", flush=True)
            while not stop.wait(0.5):
                if not deployment.alive:
                    raise CliError("an API server stopped unexpectedly")
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("stopped")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from api.demo import Story
    from api.local import LocalDeployment

    progress = Progress(False if args.no_progress else None)
    print("== local deployment: anvil, the contracts, 3 department nodes serving their APIs", flush=True)
    started = time.monotonic()
    with LocalDeployment(args.dir) as deployment:
        print_deployment(deployment)
        ok = Story(deployment, progress).tell()
    print(f"\n{'story complete: every check held' if ok else 'story FAILED'} ({time.monotonic() - started:.0f} s)")
    return 0 if ok else 1


def cmd_serve(args: argparse.Namespace) -> int:
    from api.__main__ import main as serve

    return serve()
