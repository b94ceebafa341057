"""Review and quality from the command line (staff): ``provledger review``, ``reject`` and
``quality open|list|repair|close|reopen``. Each prints a line per item, or JSON with ``--json``."""

from __future__ import annotations

import argparse
from typing import Any

from api.cli.client import Api, UsageError
from api.cli.options import emit
from api.cli.signin import connect, staff_sign_in
from ledger.clients import Action
from node.errors import InvalidInput
from node.quality.issues import Finding


def _waited(api: Api, write: dict[str, Any], what: str, args: argparse.Namespace) -> dict[str, Any]:
    return write if getattr(args, "no_wait", False) else api.wait_write(write, what)


def _written(write: dict[str, Any]) -> str:
    if write["status"] == "confirmed":
        return f"confirmed in block {write['block_number']}"
    return f"write {write['id']} {write['status']}"


# ---------------------------------------------------------------- review


def describe(item: dict[str, Any]) -> list[str]:
    """A queue item in a few lines, everything a reviewer decides on."""
    owner, sponsor, decision = item["owner_department"], item["sponsor"], item["owner_decision"]
    purpose = item["purpose"] if item["purpose"] is not None else f"(not on this node yet: {item['purpose_hash']})"
    masked = item["masked_fields"]
    lines = [
        f"{item['grant_id']}  waiting for the {item['waiting_for']}",
        f"  dataset   {item['dataset_name'] or item['dataset_id']} (grade {item['grade']}"
        f"{', ' + item['category'] if item['category'] else ''}), owner {owner['name']}",
        f"  asked by  {item['grantee']}" + (f", sponsored by {sponsor['name']}" if sponsor else ""),
        f"  purpose   {purpose}",
        f"  in clear  {', '.join(item['fields']) or 'no field'}"
        + ("" if masked is None else f"; masked: {', '.join(masked) or 'no classed field'}"),
        f"  terms     {', '.join(Action.names(item['actions'])) or 'no action'}, at most {item['max_uses']} uses, "
        f"{item['duration_days']:g} days",
    ]
    if item.get("query_terms"):
        lines.append(f"  privacy   {item['query_terms']['words']}")
    if decision:
        reason = f": {decision['reason']}" if decision["reason"] else ""
        lines.append(f"  owner     approved by {decision['department']['name']} ({decision['reviewer']}) "
                     f"in block {decision['block']}, at {decision['price_per_use']} per use{reason}")
    return lines


def cmd_review(args: argparse.Namespace) -> int:
    with connect(args) as api:
        staff_sign_in(args, api)
        queue: list[dict[str, Any]] = api.call("GET", "/review/queue")
    emit(args, queue, lambda: _print_queue(queue))
    return 0


def _print_queue(queue: list[dict[str, Any]]) -> None:
    for item in queue:
        print("\n".join(describe(item)))
    print(f"{len(queue)} request{'' if len(queue) == 1 else 's'} waiting")


# ---------------------------------------------------------------- quality


def parse_finding(value: str) -> dict[str, Any]:
    """``FIELD:ROWS:PROBLEM`` (:meth:`node.quality.issues.Finding.parse`), as the API takes it."""
    try:
        return vars(Finding.parse(value))
    except InvalidInput as err:
        raise argparse.ArgumentTypeError(err.reason) from None


def _issue_line(issue: dict[str, Any]) -> str:
    opener = (issue["opener_department"] or {}).get("name") or issue["opener"]
    return (f"{issue['issue_id']}  {issue['status']:<9} {issue['dataset_name'] or issue['dataset_id']} "
            f"v{issue['version']}{' -> v' + str(issue['repaired_version']) if issue['repaired_version'] else ''}, "
            f"source {issue['source_department']['name']}, opened by {opener}")


def cmd_quality(args: argparse.Namespace) -> int:
    with connect(args) as api:
        staff_sign_in(args, api)
        result = _quality(api, args)
    emit(args, result, lambda: _print_quality(args, result))
    return 0


def _print_quality(args: argparse.Namespace, result: Any) -> None:
    if args.quality_command == "list":
        for issue in result:
            print(_issue_line(issue))
            for step in issue["steps"]:
                print(f"    block {step['block']}: {step['event']}" + (f": {step['text']}" if step["text"] else ""))
    elif args.quality_command == "open":
        print(f"issue {result['issue_id']} opened and returned to the source department")
    else:
        print(f"issue {args.issue}: {args.quality_command} {_written(result)}")


def _quality(api: Api, args: argparse.Namespace) -> Any:
    command = args.quality_command
    if command == "list":
        return api.call("GET", "/quality/issues")
    if command == "open":
        if args.report is not None:
            if args.dataset or args.version or args.finding:
                raise UsageError("--report names the report: give no DATASET, VERSION or --finding with it")
            body: dict[str, Any] = {"report_id": args.report, "note": args.note}
        elif args.dataset and args.version and args.finding:
            body = {"dataset_id": args.dataset, "version": args.version, "findings": args.finding, "note": args.note}
        else:
            raise UsageError("give DATASET VERSION and at least one --finding, or --report ID")
        return api.call("POST", "/quality/issues", json=body)
    if command == "repair":
        write = api.call("POST", f"/quality/issues/{args.issue}/repair", json={"version": args.version,
                                                                              "note": args.note})
        return _waited(api, write, "the repair", args)
    write = api.call("POST", f"/quality/issues/{args.issue}/{command}", json={"note": args.note})
    return _waited(api, write, f"the {command}", args)
