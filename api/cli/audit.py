"""``provledger trace`` and ``provledger verify``: a dataset's history and files against the chain."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from api.cli.client import Api, Progress, UsageError
from api.cli.options import emit
from api.cli.signin import auditor_or_staff_sign_in, connect
from ledger.hashing import content_root


def hash_locally(path: Path, progress: Progress) -> str:
    """``path``'s content root, as the nodes compute it, with a progress bar."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    with progress.bar(f"hashing {path.name}", sum(p.stat().st_size for p in files)) as bar:
        root = content_root(path, observe=lambda chunk: bar.update(len(chunk)))
    return "0x" + root.root.hex()


def trace_page(api: Api, dataset_id: str, *, after: int, limit: int, verify: bool,
               of: str = "datasets") -> dict[str, Any]:
    """A page of a dataset's trace, or (``of="consumers"``, an address for ``dataset_id``) a consumer's."""
    page: dict[str, Any] = api.call("GET", f"/audit/{of}/{dataset_id}/trace",
                                    params={"after": after, "limit": limit, "verify": verify})
    return page


def trace(api: Api, dataset_id: str, *, verify: bool, limit: int = 100,
          complete: list[dict[str, Any]] | None = None, of: str = "datasets") -> list[dict[str, Any]]:
    """Every item of a dataset's trace (or a consumer's: ``of="consumers"``), page after page,
    with a progress bar; with ``verify``, each page's completeness check is appended to ``complete``."""
    items: list[dict[str, Any]] = []
    after: int | None = 0
    with api.progress.bar("verifying trace" if verify else "reading trace", unit="item") as bar:
        while after is not None:
            page = trace_page(api, dataset_id, after=after, limit=limit, verify=verify, of=of)
            items += page["items"]
            if complete is not None and page.get("complete"):
                complete.append(page["complete"])
            bar.update(len(page["items"]))
            after = page["next_after"]
    return items


def print_trace(items: list[dict[str, Any]], out: TextIO | None = None) -> tuple[int, int]:
    """One line per trace item; (verified, failed) where items carry a verification."""
    verified = failed = 0
    for item in items:
        check = item.get("verification")
        mark = "" if check is None else "  verified" if check["ok"] else "  FAILED: " + "; ".join(check["problems"])
        verified += bool(check and check["ok"])
        failed += bool(check and not check["ok"])
        print(f"   block {item['block_number']:>5}  {item['contract']:<14} {item['name']:<22}{mark}", file=out)
        if item["name"] == "QueryRefused":
            said = item.get("texts", {})
            print(f"         refused: {said.get('reason', item['args']['reason'])}; "
                  f"{said.get('queryHash') or 'query ' + item['args']['queryHash']}", file=out)
    return verified, failed


def print_completeness(checks: list[dict[str, Any]], out: TextIO | None = None) -> bool:
    """Whether the trace is complete, from every page's check (each page compared its own span of
    the chain); prints the counts of the last and every difference found. False if no check came."""
    if not checks:
        print("completeness: the node did not report it", file=out)
        return False
    last, complete = checks[-1], all(c["ok"] for c in checks)
    print(f"trace {'complete' if complete else 'INCOMPLETE'} up to block {last['block_number']}: "
          f"{last['on_chain']} items on chain, {last['in_index']} in the index", file=out)
    for problem in dict.fromkeys(p for c in checks for p in c["problems"]):
        print(f"   {problem}", file=out)
    return complete


def cmd_trace(args: argparse.Namespace) -> int:
    if (args.dataset is None) == (args.consumer is None):
        raise UsageError("trace DATASET, or trace --consumer ADDRESS")
    if args.consumer is not None and args.prov is not None:
        raise UsageError("--prov exports a dataset's trace: give DATASET")
    subject, of = (args.dataset, "datasets") if args.dataset is not None else (args.consumer, "consumers")
    with connect(args) as api:
        auditor_or_staff_sign_in(args, api)
        checks: list[dict[str, Any]] = []
        items = trace(api, subject, verify=args.verify, limit=args.limit, complete=checks, of=of)
        if args.prov is not None:
            with open(args.prov, "wb") as f:
                api.download(f"/audit/datasets/{args.dataset}/prov", f, total=None, desc="exporting PROV")
    failed = sum(not i["verification"]["ok"] for i in items if i.get("verification") is not None)
    complete = all(c["ok"] for c in checks) and bool(checks) if args.verify else True
    if args.json:
        emit(args, {"subject": subject, "items": items, "completeness": checks if args.verify else None,
                    "complete": complete, "failed": failed}, lambda: None)
        return 1 if failed or not complete else 0
    print(f"trace of {subject}: {len(items)} items")
    verified, _ = print_trace(items)
    if args.verify:
        print(f"{verified} items verified, {failed} failed")
        print_completeness(checks)
    if args.prov is not None:
        print(f"PROV-JSON written to {args.prov}")
    return 1 if failed or not complete else 0


def cmd_verify(args: argparse.Namespace) -> int:
    if args.file is not None or args.root is not None:
        if args.file is None or args.root is None or args.dataset is not None:
            raise UsageError("verify a local copy with --file PATH --root 0x..., nothing else")
        if not args.file.exists():
            raise UsageError(f"no such file: {args.file}")
        root = hash_locally(args.file, Progress(False if args.no_progress else None))
        same = root == args.root
        emit(args, {"file": str(args.file), "root": root, "expected": args.root, "ok": same}, lambda: print(
            f"{args.file} matches {root}" if same else f"{args.file} does NOT match: its root is {root}, "
                                                       f"not {args.root}"))
        return 0 if same else 1
    if args.dataset is None or args.version is None:
        raise UsageError("verify DATASET VERSION, or verify --file PATH --root 0x...")
    with connect(args) as api:
        auditor_or_staff_sign_in(args, api)
        result = api.call("GET", f"/audit/datasets/{args.dataset}/versions/{args.version}/verification")
    said = "its files match the anchored root" if result["ok"] else "; ".join(result["problems"])
    emit(args, result, lambda: print(f"version {args.version} of {args.dataset}: {said}"))
    return 0 if result["ok"] else 1
