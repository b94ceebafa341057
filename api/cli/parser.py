"""The argparse tree of ``provledger``: every command, its options and their checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from api.cli.access import cmd_approve, cmd_query, cmd_request, cmd_statement, cmd_use, epsilon_option
from api.cli.audit import cmd_trace, cmd_verify
from api.cli.catalog import cmd_catalog
from api.cli.queries import bounds_option, cmd_queries
from api.cli.datasets import cmd_register
from api.cli.nodes import cmd_demo, cmd_serve, cmd_up
from api.cli.options import Parser as _Parser
from api.cli.options import at_least as _at_least
from api.cli.options import connection as _connection
from api.cli.options import field_class as _field_class
from api.cli.options import field_names as _names
from api.cli.options import hash32 as _hash32
from api.cli.options import quality_rule as _rule
from api.cli.options import staff_options as _staff_options
from api.cli.options import wallet_options as _wallet_options
from api.cli import governance, maintenance, manage, mine, operators, oversight
from api.cli.options import address, json_option
from api.cli.review import cmd_quality, cmd_review, parse_finding
from api.cli.signin import cmd_login
from api.cli.staff import cmd_staff
from api.cli.options import encoding_name as _encoding
from node.formats import ENCODINGS
from node.consortium.commands import add_local_commands
from node.departments import department_options
from node.models import STAFF_ROLES

if TYPE_CHECKING:
    from api.cli.options import SubCommands


def _review_commands(commands: SubCommands, quality_commands: SubCommands) -> None:
    """``review`` and ``quality list|open|repair|close|reopen`` (staff; :mod:`api.cli.review`)."""
    review = commands.add_parser("review", help="the review queue, with purpose, dataset, fields and terms in view "
                                                "(staff)")
    listed = quality_commands.add_parser("list", help="issues on this department's data or opened by it "
                                                      "(the coordinator: all), with their texts")
    opened = quality_commands.add_parser("open", help="open an issue on a dataset version (another department's: "
                                                      "the coordinator only) and return it to its source")
    opened.add_argument("dataset", nargs="?", type=_hash32("dataset"), metavar="DATASET")
    opened.add_argument("version", nargs="?", type=_at_least(1), metavar="VERSION")
    opened.add_argument("--finding", type=parse_finding, action="append", default=[], metavar="FIELD:ROWS:PROBLEM",
                        help="evidence, repeatable: a field, record numbers from 1, the problem (never a value)")
    opened.add_argument("--report", type=_at_least(1), metavar="ID", help="instead: a failing report this node holds")
    repair = quality_commands.add_parser("repair", help="name the new version that repairs an issue (the source)")
    repair.add_argument("--version", required=True, type=_at_least(1), metavar="N")
    verdicts = [quality_commands.add_parser(name, help=text) for name, text in (
        ("close", "the repair holds: close the issue (its opener or the coordinator)"),
        ("reopen", "the repair does not hold: return the issue again, saying why in --note"))]
    for sub in (repair, *verdicts):
        sub.add_argument("issue", type=_hash32("issue"), metavar="ISSUE")
        sub.add_argument("--no-wait", action="store_true", help="do not wait for the confirmation")
    for sub in (opened, repair, *verdicts):
        sub.add_argument("--note", default="", metavar="TEXT", help="goes on chain: no personal data")
    for sub, run in ((review, cmd_review), (listed, cmd_quality), (opened, cmd_quality),
                     (repair, cmd_quality), *((v, cmd_quality) for v in verdicts)):
        sub.add_argument("--json", action="store_true", help="print the answer as JSON")
        _connection(sub)
        _staff_options(sub)
        sub.set_defaults(run=run)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="provledger", description="The provledger consortium from the command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="a local chain, the contracts, N department nodes and their APIs")
    department_options(up, counted=_at_least(1))
    up.add_argument("--dir", type=Path, help="keep the keystores, manifest and databases here (empty or new)")
    up.set_defaults(run=cmd_up)

    demo = commands.add_parser("demo", help="the whole story on a fresh local deployment, over HTTP")
    demo.add_argument("--dir", type=Path, help="keep the deployment's folder here (empty or new)")
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(run=cmd_demo)

    dataset = commands.add_parser("dataset", help="datasets (staff)")
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True, metavar="COMMAND")
    register = dataset_commands.add_parser("register", help="register a dataset and upload its first version")
    register.add_argument("file", type=Path, metavar="FILE", help="the first version: a .csv or .jsonl file")
    register.add_argument("--code", required=True, help="short code, unique in the department")
    register.add_argument("--name", required=True)
    register.add_argument("--category", required=True)
    register.add_argument("--grade", required=True, type=int, choices=range(1, 5), help="sensitivity, 1 open .. 4")
    register.add_argument("--interval", required=True, type=_at_least(0), metavar="SECONDS",
                          help="expected seconds between versions; 0: none")
    register.add_argument("--field-class", type=_field_class, action="append", default=[], metavar="NAME=CLASS")
    register.add_argument("--key-field", action="append", default=[], metavar="NAME")
    register.add_argument("--rule", type=_rule, action="append", default=[], metavar="JSON",
                          help='a quality rule, e.g. \'{"kind": "validity", "fields": ["id_number"]}\'')
    register.add_argument("--encoding", type=_encoding, metavar="NAME",
                          help=f"the file's text encoding ({', '.join(ENCODINGS)}); default: detected")
    register.add_argument("--no-wait", action="store_true", help="do not wait for the anchoring")
    for p in (register,):
        _connection(p)
        _staff_options(p)
        json_option(p)
    register.set_defaults(run=cmd_register)

    catalog = commands.add_parser("catalog", help="every department's datasets, with their freshness (anyone)")
    catalog.add_argument("--q", metavar="TEXT", help="words in the name, description, category, department or fields")
    catalog.add_argument("--department", metavar="D", help="the owner department: its code, name or id")
    catalog.add_argument("--grade", type=int, choices=range(1, 5))
    catalog_commands = catalog.add_subparsers(dest="catalog_command", metavar="COMMAND")
    show = catalog_commands.add_parser("show", help="one dataset: its metadata, fields and versions")
    show.add_argument("dataset", type=_hash32("dataset"), metavar="ID")
    for p in (catalog, show):
        p.add_argument("--json", action="store_true", help="the node's JSON answer")
        _connection(p)
        p.set_defaults(run=cmd_catalog)

    request = commands.add_parser("request", help="ask for access to a dataset (consumer)")
    request.add_argument("--dataset", required=True, type=_hash32("dataset"), metavar="ID")
    request.add_argument("--purpose", required=True, metavar="TEXT")
    request.add_argument("--fields", required=True, type=_names, metavar="NAME,...",
                         help="the fields asked for in the clear, by name, comma-separated (the catalog lists them); "
                              "'' for none: every personal field is then masked")
    request.add_argument("--uses", required=True, type=_at_least(1), metavar="N")
    request.add_argument("--days", required=True, type=_at_least(1), metavar="N")
    asked = request.add_argument_group("a query grant (aggregate queries only, 数据可用不可见)")
    asked.add_argument("--query", action="store_true", help="ask for a query grant instead of downloads")
    asked.add_argument("--epsilon-budget", type=epsilon_option, metavar="ε", help="ε all queries may spend, e.g. 5")
    asked.add_argument("--epsilon-cap", type=epsilon_option, metavar="ε", help="the most ε one query spends, e.g. 1")
    asked.add_argument("--k", type=int, metavar="K", help="groups of fewer rows are never released (at least 2)")
    asked.add_argument("--bounds", type=bounds_option, action="append", default=[], metavar="FIELD=LOW:HIGH",
                       help="clamping bounds of a numeric field for SUM and AVG, repeatable, e.g. 年龄=0:120")
    _connection(request)
    _wallet_options(request)
    json_option(request)
    request.set_defaults(run=cmd_request)

    approve = commands.add_parser("approve", help="approve a request, or co-approve it (staff)")
    approve.add_argument("grant", type=_hash32("grant"), metavar="GRANT")
    approve.add_argument("--price", type=_at_least(0), default=0, metavar="N", help="price per use")
    approve.add_argument("--reason", default="")
    approve.add_argument("--co-approve", action="store_true", help="as the coordinator (grades 3 and 4)")
    approve.add_argument("--no-wait", action="store_true", help="do not wait for the confirmation")
    _connection(approve)
    _staff_options(approve)
    json_option(approve)
    approve.set_defaults(run=cmd_approve)


    use = commands.add_parser("use", help="download a delivery under a grant (consumer)")
    use.add_argument("grant", type=_hash32("grant"), metavar="GRANT")
    use.add_argument("--out", type=Path, metavar="FILE", help="default: standard output")
    use.add_argument("--encrypt", action="store_true", help="encrypted to the consumer's key, decrypted here")
    use.add_argument("--version", type=_at_least(1), metavar="N", help="default: the latest")
    use.add_argument("--encoding", choices=("source", "utf-8"), default="utf-8",
                     help="the copy's text encoding: the dataset's own (e.g. GBK) or UTF-8 (default)")
    use.add_argument("--keep-encrypted", action="store_true",
                     help="with --encrypt: keep the bytes as received (provledger decrypt opens them later)")
    _connection(use)
    _wallet_options(use)
    json_option(use)
    use.set_defaults(run=cmd_use)

    query = commands.add_parser("query", help="run an aggregate query under a query grant: only privacy-checked "
                                              "results are released, each query recorded on chain (consumer)")
    query.add_argument("grant", type=_hash32("grant"), metavar="GRANT")
    query.add_argument("sql", metavar="SQL", help="one aggregate SELECT over the table data, e.g. "
                                                  "\"SELECT 区县, COUNT(*) FROM data GROUP BY 区县\"")
    query.add_argument("--epsilon", required=True, type=epsilon_option, metavar="ε",
                       help="the privacy budget this query spends, at most the grant's cap (e.g. 0.5)")
    query.add_argument("--version", type=_at_least(1), metavar="N", help="default: the latest")
    _connection(query)
    _wallet_options(query)
    json_option(query)
    query.set_defaults(run=cmd_query)

    queries = commands.add_parser("queries", help="a query grant's terms, ε spent and left, and its queries "
                                                  "(its consumer, the owner's staff, an auditor)")
    queries.add_argument("grant", type=_hash32("grant"), metavar="GRANT")
    _connection(queries)
    _staff_options(queries)
    _wallet_options(queries)
    json_option(queries)
    queries.set_defaults(run=cmd_queries)

    statement = commands.add_parser("statement", help="settlement statements (consumer)")
    statement_commands = statement.add_subparsers(dest="statement_command", required=True, metavar="COMMAND")
    for name, text in (("check", "check a statement against the chain, on the node"),
                       ("acknowledge", "check a statement, then acknowledge it with the consumer's key")):
        sub = statement_commands.add_parser(name, help=text)
        sub.add_argument("statement", metavar="STATEMENT",
                         help="its id (read from the node) or a JSON file holding it, as its department sent it")
        _connection(sub)
        _wallet_options(sub)
        json_option(sub)
        sub.set_defaults(run=cmd_statement)

    trace_ = commands.add_parser("trace", help="a dataset's history, or a consumer's (auditor or staff)")
    trace_.add_argument("dataset", nargs="?", type=_hash32("dataset"), metavar="DATASET")
    trace_.add_argument("--consumer", type=address, metavar="ADDRESS", help="a consumer's history instead")
    trace_.add_argument("--verify", action="store_true",
                        help="verify every item against the chain, and that none is missing (exit 1 if not)")
    trace_.add_argument("--prov", type=Path, metavar="FILE", help="also export the trace as PROV-JSON")
    trace_.add_argument("--limit", type=_at_least(1), default=100, metavar="N", help="items per page")
    verify = commands.add_parser("verify", help="files against an anchored root, on the node or here")
    verify.add_argument("dataset", nargs="?", type=_hash32("dataset"), metavar="DATASET")
    verify.add_argument("version", nargs="?", type=_at_least(1), metavar="VERSION")
    verify.add_argument("--file", type=Path, metavar="PATH", help="a local file or folder")
    verify.add_argument("--root", type=_hash32("content root"), metavar="0x...")
    for p in (trace_, verify):
        _connection(p)
        _staff_options(p)
        _wallet_options(p)
        json_option(p)
    trace_.set_defaults(run=cmd_trace)
    verify.set_defaults(run=cmd_verify)

    login = commands.add_parser("login", help="a one-time link signing a browser in to the dashboard "
                                              "(consumer or auditor)")
    _connection(login)
    _wallet_options(login)
    json_option(login)
    login.set_defaults(run=cmd_login)

    consortium = commands.add_parser("consortium", help="the consortium: its members, votes and chain")
    consortium_commands = consortium.add_subparsers(dest="consortium_command", required=True, metavar="COMMAND")
    add_local_commands(consortium_commands)
    governance.add_commands(commands, consortium_commands)
    node = commands.add_parser("node", help="this department's node on its own machine: init, start, join, "
                                            "backup, restore, reindex")
    node_commands = node.add_subparsers(dest="node_command", required=True, metavar="COMMAND")
    operators.add_commands(node_commands, consortium_commands)

    serve = commands.add_parser("serve", help="one node's API, from PROVLEDGER_* settings")
    serve.set_defaults(run=cmd_serve)

    staff = commands.add_parser("staff", help="the node's staff accounts, on its database (PROVLEDGER_* settings, "
                                              "as serve reads them)")
    staff_commands = staff.add_subparsers(dest="staff_command", required=True, metavar="COMMAND")
    role_help = "admin: manages staff; reviewer: review decisions, freezes; steward: datasets, versions, quality; " \
                "viewer: reads"
    for name, text in (("add", "add a staff account"), ("list", "list the staff accounts and their roles"),
                       ("disable", "disable an account: it cannot sign in, and its sessions end"),
                       ("password", "give an account a new password: its sessions end"),
                       ("role", "give an account another role")):
        sub = staff_commands.add_parser(name, help=text)
        if name != "list":
            sub.add_argument("username", metavar="USERNAME")
        if name == "add":
            sub.add_argument("--role", required=True, choices=STAFF_ROLES, help=role_help)
        if name == "role":
            sub.add_argument("role", choices=STAFF_ROLES, metavar="ROLE", help=role_help)
        if name in ("add", "password"):
            sub.add_argument("--password-stdin", action="store_true",
                             help="read the password from the first line of standard input (else it is asked)")
        if name == "list":
            json_option(sub)
        sub.add_argument("--dir", type=Path, help="a node folder (provledger node init): its settings, not PROVLEDGER_*")
        sub.set_defaults(run=cmd_staff)

    maintenance.add_commands(node_commands)

    _review_commands(commands, manage.add_commands(commands, dataset_commands, statement_commands))
    mine.add_commands(commands, statement_commands)
    oversight.add_commands(commands)
    return parser

