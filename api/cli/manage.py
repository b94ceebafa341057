"""Staff work on datasets and grants beyond registering and approving: ``provledger dataset
version|list|show|freeze|unfreeze|purge``, ``reject``, ``revoke``, ``write``, ``quality rules
set|show``, ``quality check`` and ``statement issue``."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.client import Api, UsageError
from api.cli.datasets import tabular_file, upload_version, wait_anchored
from api.cli.options import address, at_least, emit, encoding_name, hash32, node_command, quality_rule
from node.formats import ENCODINGS
from api.cli.signin import signed_in_staff

if TYPE_CHECKING:
    from api.cli.options import SubCommands

def moment(value: str) -> int:
    """Unix seconds, or an ISO 8601 date or time (UTC unless it names its zone)."""
    if value.isdigit():
        return int(value)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is neither unix seconds nor an ISO 8601 date or time") from None
    return int((when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp())


def follow(api: Api, write: dict[str, Any], desc: str, wait: bool) -> dict[str, Any]:
    return api.wait_write(write, desc) if wait else write


def print_write(what: str, write: dict[str, Any]) -> None:
    if write["status"] == "confirmed":
        print(f"{what}: confirmed in block {write['block_number']}")
    elif write["status"] == "failed":
        print(f"{what}: write {write['id']} FAILED: {write.get('error')}")
    else:
        print(f"{what}: write {write['id']} {write['status']}")


# ---------------------------------------------------------------- datasets


def cmd_version(args: argparse.Namespace) -> int:
    path = tabular_file(args.file)
    with signed_in_staff(args) as api:
        version = upload_version(api, args.dataset, path, args.encoding)
        block = None if args.no_wait else wait_anchored(api, args.dataset, version["content_root"])
    emit(args, {**version, "anchored_block": block}, lambda: print(
        f"version {version['number']} of {args.dataset}: content root {version['content_root']}, "
        f"{version['record_count']} records, {version['encoding']} text; " + (f"anchored in block {block}" if block else "anchoring queued")))
    return 0


def print_dataset(dataset: dict[str, Any], names: dict[str, str]) -> None:
    owner = dataset["owner_department"]
    versions = dataset.get("versions") or []
    latest = f"version {versions[-1]['number']}" if versions else "no version"
    print(f"{dataset['dataset_id']}  {dataset['name']}  (owner {names.get(owner, owner)}, {owner}; grade "
          f"{dataset['grade']}; {'FROZEN; ' if dataset['frozen'] else ''}{latest})")


def cmd_datasets(args: argparse.Namespace) -> int:
    with signed_in_staff(args) as api:
        names = api.department_names()
        if args.dataset_command == "list":
            found: list[dict[str, Any]] = api.call("GET", "/datasets")

            def listed() -> None:
                for d in found:
                    print_dataset(d, names)
                print(f"{len(found)} dataset(s)")

            emit(args, found, listed)
            return 0
        one: dict[str, Any] = api.call("GET", f"/datasets/{args.dataset}")

    def text() -> None:
        print_dataset(one, names)
        for v in one["versions"]:
            print(f"   version {v['number']}: {v['record_count']} records, root {v['content_root']}")
        print(f"   fields in classes: {', '.join(f'{k}={c}' for k, c in one['field_classes'].items()) or 'none'}")
        print(f"   quality rules: {len(one['quality_rules'])}")

    emit(args, one, text)
    return 0


def cmd_freeze(args: argparse.Namespace) -> int:
    frozen = args.dataset_command == "freeze"
    with signed_in_staff(args) as api:
        write = api.call("POST", f"/datasets/{args.dataset}/freeze", json={"reason": args.reason, "frozen": frozen})
        write = follow(api, write, "the freeze" if frozen else "the unfreeze", not args.no_wait)
    emit(args, write, lambda: print_write(f"dataset {args.dataset} {'frozen' if frozen else 'unfrozen'}", write))
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Purge a version, or one person's records (each version holding them replaced by a successor
    without them); the ID number goes in the request body only, never printed back."""
    if (args.version is None) == (args.person is None):
        raise UsageError("give --version N or --person ID_NUMBER (one of them)")
    with signed_in_staff(args) as api:
        if args.version is not None:
            write = api.call("POST", f"/datasets/{args.dataset}/versions/{args.version}/purge",
                             json={"reason": args.reason})
            write = follow(api, write, "the purge", not args.no_wait)
            emit(args, write, lambda: print_write(f"dataset {args.dataset} version {args.version} purged", write))
            return 0
        done = api.call("POST", f"/datasets/{args.dataset}/purge-person",
                        json={"id_number": args.person, "reason": args.reason})
        done["writes"] = [follow(api, w, "the purge", not args.no_wait) for w in done["writes"]]

    def text() -> None:
        for (old, new), write in zip(done["replaced"], done["writes"]):
            print_write(f"dataset {args.dataset} version {old} purged, its successor is version {new}", write)
        print(f"the person is named on chain by {done['subject_hash']} (salted; the ID number is not kept)")
    emit(args, done, text)
    return 0


# ---------------------------------------------------------------- grants and writes


def cmd_decline(args: argparse.Namespace) -> int:
    """``reject`` a request or ``revoke`` a grant, with the reason."""
    with signed_in_staff(args) as api:
        write = api.call("POST", f"/grants/{args.grant}/{args.command}", json={"reason": args.reason})
        write = follow(api, write, f"the {args.command}", not args.no_wait)
    what = "rejected" if args.command == "reject" else "revoked"
    emit(args, write, lambda: print_write(f"grant {args.grant} {what}", write))
    return 0


def cmd_write(args: argparse.Namespace) -> int:
    with signed_in_staff(args) as api:
        write: dict[str, Any] = api.call("GET", f"/writes/{args.write}")
        if args.wait and write["status"] not in ("confirmed", "failed"):
            write = api.wait_write(write, f"write {args.write}")
    emit(args, write, lambda: print_write(f"write {write['id']} ({write['key']})", write))
    return 0 if write["status"] != "failed" else 1


# ---------------------------------------------------------------- quality and statements


def cmd_rules(args: argparse.Namespace) -> int:
    with signed_in_staff(args) as api:
        if args.rules_command == "set":
            rules: Any = api.call("PUT", f"/datasets/{args.dataset}/quality-rules", json=list(args.rule))
        else:
            rules = api.call("GET", f"/datasets/{args.dataset}")["quality_rules"]

    def text() -> None:
        print(f"{len(rules)} quality rule(s) on {args.dataset}")
        for rule in rules:
            rest = {k: v for k, v in rule.items() if k not in ("kind", "fields")}
            print(f"   {rule['kind']:<13} {','.join(rule.get('fields', []))}  {rest if rest else ''}".rstrip())

    emit(args, rules, text)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    with signed_in_staff(args) as api:
        report: dict[str, Any] = api.call("POST", f"/datasets/{args.dataset}/versions/{args.version}/quality-check",
                                          json={"open_issue": not args.no_issue})

    def text() -> None:
        verdict = "passed" if report["passed"] else "FAILED"
        issue = f"; issue {report['issue_id']} opened" if report["issue_id"] else ""
        print(f"version {args.version} of {args.dataset}: {verdict} (report {report['report_hash']}){issue}")
        for result in report["report"].get("results", []):
            rule = result["rule"]
            print(f"   {rule['kind']:<13} {','.join(rule['fields']):<20} {'passed' if result['passed'] else 'FAILED'}"
                  f"  {result['failed']} of {result['checked']} failed")

    emit(args, report, text)
    return 0 if report["passed"] else 1


def cmd_issue(args: argparse.Namespace) -> int:
    if args.to <= args.start:
        raise UsageError("statement issue: --to must come after --from")
    with signed_in_staff(args) as api:
        statement: dict[str, Any] = api.call("POST", "/statements", json={
            "consumer": args.consumer, "period_start": args.start, "period_end": args.to})
    emit(args, statement, lambda: print(
        f"statement {statement['statement_id']} to {args.consumer}: {len(statement['body']['lines'])} lines, "
        f"amount {statement['amount']}, hash {statement['statement_hash']}"))
    return 0


# ---------------------------------------------------------------- the commands


def add_commands(commands: SubCommands, dataset: SubCommands, statement: SubCommands) -> SubCommands:
    """These commands, under ``provledger``, its ``dataset`` and its ``statement``; the ``quality``
    group's subcommands, for the issue commands (:mod:`api.cli.review`) to join."""
    version = dataset.add_parser("version", help="upload a new version of a dataset (staff)")
    version.add_argument("dataset", type=hash32("dataset"), metavar="DATASET")
    version.add_argument("file", type=Path, metavar="FILE", help="a .csv or .jsonl file")
    version.add_argument("--encoding", type=encoding_name, metavar="NAME",
                         help=f"the file's text encoding ({', '.join(ENCODINGS)}); default: the dataset's, or detected")
    version.add_argument("--no-wait", action="store_true", help="do not wait for the anchoring")
    version.set_defaults(run=cmd_version)
    listed = dataset.add_parser("list", help="the department's datasets (staff)")
    listed.set_defaults(run=cmd_datasets)
    show = dataset.add_parser("show", help="one dataset: versions, field classes, rules (staff)")
    show.add_argument("dataset", type=hash32("dataset"), metavar="DATASET")
    show.set_defaults(run=cmd_datasets)
    purge = dataset.add_parser("purge", help="purge a version's plaintext, or one person's records, as the law "
                                             "requires: the evidence stays, the purge goes on chain (staff: steward)")
    purge.add_argument("dataset", type=hash32("dataset"), metavar="DATASET")
    purge.add_argument("--version", type=at_least(1), metavar="N", help="the version to purge")
    purge.add_argument("--person", metavar="ID_NUMBER", help="the resident ID number whose records go (never printed)")
    purge.add_argument("--reason", required=True, metavar="TEXT", help="published on chain: no ID or mobile number")
    purge.add_argument("--no-wait", action="store_true", help="do not wait for the confirmation")
    purge.set_defaults(run=cmd_purge)
    chosen = [version, listed, show, purge]
    # A decision with its reason, on a dataset or on a grant.
    for under, name, subject, run, text in (
            (dataset, "freeze", "dataset", cmd_freeze,
             "freeze a dataset: no use of it until unfrozen (staff: reviewer)"),
            (dataset, "unfreeze", "dataset", cmd_freeze, "lift a dataset's freeze (staff: reviewer)"),
            (commands, "reject", "grant", cmd_decline, "reject a request (staff: reviewer)"),
            (commands, "revoke", "grant", cmd_decline, "revoke a grant: no use of it from now on (staff: reviewer)")):
        sub = under.add_parser(name, help=text)
        sub.add_argument(subject, type=hash32(subject), metavar=subject.upper())
        sub.add_argument("--reason", required=True, metavar="TEXT")
        sub.add_argument("--no-wait", action="store_true", help="do not wait for the confirmation")
        sub.set_defaults(run=run)
        chosen.append(sub)
    write = commands.add_parser("write", help="a chain write the node accepted: queued, sent, confirmed or failed "
                                              "(staff)")
    write.add_argument("write", type=at_least(1), metavar="ID")
    write.add_argument("--wait", action="store_true", help="wait until it is confirmed or failed")
    write.set_defaults(run=cmd_write)
    chosen.append(write)

    quality = commands.add_parser("quality", help="quality rules, checks and issues across departments (staff)")
    quality_commands = quality.add_subparsers(dest="quality_command", required=True, metavar="COMMAND")
    rules = quality_commands.add_parser("rules", help="a dataset's quality rules")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    rules_set = rules_commands.add_parser("set", help="replace a dataset's quality rules")
    rules_set.add_argument("dataset", type=hash32("dataset"), metavar="DATASET")
    rules_set.add_argument("--rule", type=quality_rule, action="append", default=[], metavar="JSON",
                           help='a rule, e.g. \'{"kind": "validity", "fields": ["id_number"]}\'; none: no rules')
    rules_show = rules_commands.add_parser("show", help="a dataset's quality rules")
    rules_show.add_argument("dataset", type=hash32("dataset"), metavar="DATASET")
    for sub in (rules_set, rules_show):
        sub.set_defaults(run=cmd_rules)
    check = quality_commands.add_parser("check", help="check a version against the rules (exit 1 if it fails); "
                                                      "a failure opens an issue")
    check.add_argument("dataset", type=hash32("dataset"), metavar="DATASET")
    check.add_argument("version", type=at_least(1), metavar="VERSION")
    check.add_argument("--no-issue", action="store_true", help="open no issue if it fails")
    check.set_defaults(run=cmd_check)
    chosen += [rules_set, rules_show, check]

    issue = statement.add_parser("issue", help="issue a consumer's statement for a period (staff)")
    issue.add_argument("--consumer", required=True, type=address, metavar="ADDRESS")
    issue.add_argument("--from", dest="start", required=True, type=moment, metavar="WHEN",
                       help="unix seconds or ISO 8601 (UTC unless zoned)")
    issue.add_argument("--to", required=True, type=moment, metavar="WHEN")
    issue.set_defaults(run=cmd_issue)
    chosen.append(issue)
    for sub in chosen:
        node_command(sub, staff=True)
    return quality_commands
