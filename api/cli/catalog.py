"""``provledger catalog``: every department's datasets, from any node, with their freshness."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from api.cli.client import Api, CliError, Refused
from api.cli.options import emit
from api.cli.signin import connect


def catalog_entry(api: Api, dataset_id: str) -> dict[str, Any]:
    """One dataset of any department, from the node's catalog; a missing one is a one-line error."""
    try:
        entry: dict[str, Any] = api.call("GET", f"/catalog/{dataset_id}")
    except Refused as err:
        if err.status_code == 404:
            raise CliError(f"dataset {dataset_id} is in no department's catalog") from err
        raise
    return entry


def print_catalog(entries: list[dict[str, Any]], out: TextIO | None = None) -> None:
    """One line per dataset: id, grade, department, latest version, freshness, name."""
    print(f"{len(entries)} dataset{'' if len(entries) == 1 else 's'}", file=out)
    for e in entries:
        version = f"v{e['latest_version']}" if e["latest_version"] else "-"
        mark = "" if e["verified"] else "  UNVERIFIED"
        print(f"{e['dataset_id']}  grade {e['grade']}  {e['department_name']} ({e['owner_department']})  "
              f"{version:<4} {e['freshness']['summary']:<16} {e['name']}{mark}", file=out)


def print_entry(e: dict[str, Any], out: TextIO | None = None) -> None:
    rows = [("dataset", e["dataset_id"]), ("name", e["name"]), ("description", e["description"] or "-"),
            ("department", f"{e['department_name']} ({e['owner_department']})"),
            ("category", e["category"]), ("grade", f"{e['grade']}{' (open)' if e['open'] else ''}"),
            ("freshness", e["freshness"]["summary"]), ("verified", "yes" if e["verified"] else "NO: its text does "
                                                       "not match the hash on chain"),
            ("field classes", ", ".join(f"{k}={v}" for k, v in e["field_classes"].items()) or "-"),
            ("key fields", ", ".join(e["key_fields"]) or "-")]
    for label, value in rows:
        print(f"{label + ':':<15}{value}", file=out)
    for v in e["versions"]:
        print(f"version {v['number']}: {v['record_count']} records, {v['size_bytes']} bytes, "
              f"{v['format'] or v['media_type']}, fields {', '.join(v['fields']) or '-'}  root {v['content_root']}",
              file=out)


def cmd_catalog(args: argparse.Namespace) -> int:
    with connect(args) as api:
        if args.catalog_command == "show":
            entry = catalog_entry(api, args.dataset)
            emit(args, entry, lambda: print_entry(entry))
            return 0
        params = {k: v for k, v in (("q", args.q), ("department", args.department), ("grade", args.grade)) if v}
        entries: list[dict[str, Any]] = api.call("GET", "/catalog", params=params)
    emit(args, entries, lambda: print_catalog(entries))
    return 0
