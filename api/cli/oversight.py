"""What an auditor (or the department's staff) watches: ``provledger alerts`` and ``provledger
attribute`` (the delivery a leaked copy came from)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.cli.client import UsageError
from api.cli.options import at_least, emit, hash32, node_command
from api.cli.signin import auditor_or_staff_sign_in, connect
from node.formats import FORMATS, format_of

if TYPE_CHECKING:
    from api.cli.options import SubCommands


def cmd_alerts(args: argparse.Namespace) -> int:
    with connect(args) as api:
        auditor_or_staff_sign_in(args, api)
        params: dict[str, Any] = {"after": args.after, "limit": args.limit}
        if args.kind:
            params["kind"] = args.kind
        alerts: list[dict[str, Any]] = api.call("GET", "/audit/alerts", params=params)

    def text() -> None:
        print(f"{len(alerts)} alert(s)")
        for a in alerts:
            print(f"   {a['id']:>5}  {a['severity']:<8} {a['kind']:<14} {a['message']}")

    emit(args, alerts, text)
    return 0


def cmd_attribute(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    kind = args.format or (tabular.kind if (tabular := format_of(path)) else None)
    params = {k: v for k, v in (("dataset_id", args.dataset), ("format", kind)) if v}
    media = FORMATS[kind].media_type if kind else "application/octet-stream"
    with connect(args) as api, open(path, "rb") as copy:
        auditor_or_staff_sign_in(args, api)
        found: dict[str, Any] = api.call("POST", "/audit/attributions", params=params, content=copy,
                                         headers={"Content-Type": media})

    def text() -> None:
        sure = "confidently" if found["confident"] else "NOT confidently (the copy says too little to be sure)"
        print(f"{path} attributed {sure} to delivery {found['delivery_id']}")
        print(f"   grant {found['grant_id']}, consumer {found['consumer']}, dataset {found['dataset_id']}")
        runner = "" if found["runner_up_score"] is None else f", next best {found['runner_up_score']:.3f}"
        print(f"   score {found['score']:.3f}{runner}; p-value {found['p_value']:.3g}; "
              f"{found['bits']} bits read from {found['rows']} rows")

    emit(args, found, text)
    return 0 if found["confident"] else 1


def add_commands(commands: SubCommands) -> None:
    """These commands, under ``provledger``."""
    alerts = commands.add_parser("alerts", help="alerts the node's monitor raised, oldest first (auditor or staff)")
    alerts.add_argument("--kind", metavar="KIND", help="only this kind, e.g. quota")
    alerts.add_argument("--after", type=at_least(0), default=0, metavar="ID", help="those after this alert id")
    alerts.add_argument("--limit", type=at_least(1), default=100, metavar="N")
    alerts.set_defaults(run=cmd_alerts)
    attribute = commands.add_parser("attribute", help="the delivery, grant and consumer a leaked copy came from "
                                                      "(auditor or staff); exit 1 when not confident")
    attribute.add_argument("file", type=Path, metavar="FILE", help="the copy found, or a part of it")
    attribute.add_argument("--dataset", type=hash32("dataset"), metavar="ID", help="the dataset it is a copy of")
    attribute.add_argument("--format", choices=sorted(FORMATS), help="default: from the file's name")
    attribute.set_defaults(run=cmd_attribute)
    for sub in (alerts, attribute):
        node_command(sub, staff=True, wallet=True)
