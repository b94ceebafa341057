"""A department's operator runs its node: ``provledger node init|start|join`` and
``provledger consortium genesis|deploy`` (the work itself: :mod:`node.consortium.folder` and
:mod:`node.consortium.operator`). Only public files travel between departments: facts,
genesis, peers and manifest."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from api.cli.client import CliError, UsageError
from node.consortium.commands import gas_limit_option

if TYPE_CHECKING:
    from api.cli.options import SubCommands
    from api.local import Served
    from node.consortium.folder import NodeFolder
    from node.service import NodeService


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 1 to 65535")
    return value


def add_commands(node_commands: SubCommands, consortium_commands: SubCommands) -> None:
    """``node init|start|join`` and ``consortium genesis|deploy``."""
    init = node_commands.add_parser("init", help="this department's node folder: its keys, encrypted, and settings; "
                                                 "writes the public facts to hand out")
    init.add_argument("--dir", type=Path, required=True, help="the node folder (created, mode 0700)")
    init.add_argument("--code", required=True, help="the department's code, e.g. market-regulation")
    init.add_argument("--name", required=True, help="the department's name")
    init.add_argument("--host", required=True, help="the address other departments reach this machine's p2p port on")
    init.add_argument("--p2p-port", type=_port, required=True, help="geth's p2p port (TCP), open to the consortium")
    init.add_argument("--http-port", type=_port, default=8545, help="geth's JSON-RPC on 127.0.0.1 (default 8545)")
    init.add_argument("--authrpc-port", type=_port, default=8551, help="geth's engine API on 127.0.0.1 (default 8551)")
    init.add_argument("--api-port", type=_port, default=8000, help="the node's HTTP API on 127.0.0.1 (default 8000)")
    init.add_argument("--netrestrict", help="the networks peers may connect from (default HOST/32), e.g. "
                                            "10.20.0.0/24,10.30.0.0/24")
    init.add_argument("--passphrase-file", type=Path, help="a file holding the keystores' passphrase (a mounted "
                                                           "secret); else it is asked without echo")
    init.add_argument("--coordinator", action="store_true", help="also make the coordinator account (one founder)")
    init.add_argument("--light-kdf", action="store_true", help="cheap key encryption, for throwaway test nodes only")
    init.set_defaults(run=cmd_init)

    for name, text in (("start", "run this department's geth and, once the manifest is there, its node service "
                                 "and API, until SIGTERM or Ctrl-C"),
                       ("join", "as start, for a department admitted after the founding: syncs, then seals once "
                                "the members voted its validator in")):
        sub = node_commands.add_parser(name, help=text)
        sub.add_argument("--dir", type=Path, required=True, help="the node folder (node init)")
        sub.add_argument("--genesis", type=Path, required=True, help="the consortium's genesis.json")
        sub.add_argument("--peers", type=Path, required=True, help="the peers file: one enode a line")
        sub.add_argument("--manifest", type=Path, required=name == "join",
                         help="the contracts' manifest; the services start once this file exists")
        sub.set_defaults(run=cmd_start)

    genesis = consortium_commands.add_parser("genesis", help="the genesis and peers file from the founding "
                                                             "departments' facts")
    genesis.add_argument("--facts", type=Path, nargs="+", required=True, help="each founder's facts.json")
    genesis.add_argument("--chain-id", type=int, required=True)
    genesis.add_argument("--period", type=int, default=1, help="seconds between blocks (default 1)")
    gas_limit_option(genesis)
    genesis.add_argument("--out", type=Path, required=True, help="where to write genesis.json")
    genesis.add_argument("--peers-out", type=Path, help="where to write the peers file (every founder's enode)")
    genesis.set_defaults(run=cmd_genesis)

    deploy = consortium_commands.add_parser("deploy", help="the contracts, from the coordinator's node folder, "
                                                           "with the founders seated; writes the manifest")
    deploy.add_argument("--dir", type=Path, required=True, help="the coordinator's node folder, its node started")
    deploy.add_argument("--facts", type=Path, nargs="+", required=True, help="each founder's facts.json")
    deploy.add_argument("--out", type=Path, required=True, help="where to write the manifest to hand out")
    deploy.set_defaults(run=cmd_deploy)


def _passphrase(args: argparse.Namespace) -> str | None:
    if args.passphrase_file is not None:
        return None
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask the passphrase on: give --passphrase-file")
    passphrase = getpass.getpass("keystore passphrase: ")
    if len(passphrase) < 12:
        raise UsageError("the passphrase must have at least 12 characters")
    if getpass.getpass("the same again: ") != passphrase:
        raise UsageError("the two passphrases differ")
    return passphrase


def cmd_init(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ledger.geth import GethPorts
    from node.consortium.folder import FolderError, NodeFolder

    passphrase = _passphrase(args)
    try:
        folder = NodeFolder.init(
            args.dir, code=args.code, name=args.name, host=args.host,
            ports=GethPorts(args.p2p_port, args.http_port, args.authrpc_port), api_port=args.api_port,
            passphrase=passphrase, passphrase_file=args.passphrase_file, coordinator=args.coordinator,
            netrestrict=args.netrestrict, light_kdf=args.light_kdf)
    except FolderError as err:
        raise UsageError(str(err), "provledger node init") from err
    print(json.dumps(asdict(folder.facts()), indent=2))
    print(f"keys and settings in {folder.directory}; hand out {folder.directory / 'facts.json'}", file=sys.stderr)
    return 0


def cmd_genesis(args: argparse.Namespace) -> int:
    from node.consortium.folder import Facts, FolderError, founding_genesis
    from node.consortium.members import DEFAULT_GAS_LIMIT

    try:
        facts = [Facts.load(path) for path in args.facts]
        genesis = founding_genesis(facts, chain_id=args.chain_id, period=args.period,
                                   gas_limit=args.gas_limit or DEFAULT_GAS_LIMIT)
    except (FolderError, ValueError) as err:
        raise UsageError(str(err), "provledger consortium genesis") from err
    args.out.write_text(json.dumps(genesis, indent=2) + "\n")
    if args.peers_out is not None:
        args.peers_out.write_text("".join(f"{f.enode}\n" for f in facts))
    print(f"genesis of chain {args.chain_id} with {len(facts)} signers: {args.out}", file=sys.stderr)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from ledger.errors import LedgerError
    from node.consortium.folder import Facts, FolderError, NodeFolder
    from node.consortium.operator import deploy

    try:
        folder = NodeFolder.open(args.dir)
        manifest = deploy(folder, [Facts.load(path) for path in args.facts], args.out)
    except FolderError as err:
        raise UsageError(str(err), "provledger consortium deploy") from err
    except LedgerError as err:
        raise CliError(f"the deployment failed: {err}") from err
    print(json.dumps(manifest.addresses, indent=2))
    print(f"manifest: {args.out}; hand it out to every department", file=sys.stderr)
    return 0


def serve_api(service: NodeService, folder: NodeFolder) -> Served:
    """The node's API over ``service``, on the folder's port (what ``node start`` serves)."""
    from api.app import ApiSettings, create_app
    from api.local import Served

    return Served(create_app(service, domain=folder.settings(ApiSettings).domain), folder.api_port)


def cmd_start(args: argparse.Namespace) -> int:
    from ledger.errors import LedgerError
    from node.consortium.folder import FolderError, NodeFolder
    from node.consortium.operator import OperatedNode
    from node.errors import NodeError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        folder = NodeFolder.open(args.dir)
        running = OperatedNode(folder, args.genesis, args.peers, args.manifest, serve=serve_api)
    except FolderError as err:
        raise UsageError(str(err), f"provledger node {args.node_command}") from err
    try:
        running.start()
        print(f"provledger: {folder.code} node running (geth {folder.chain_url}, api "
              f"http://127.0.0.1:{folder.api_port} once the manifest is there); Ctrl-C or SIGTERM stops it",
              flush=True)
        while not stop.wait(0.5):
            running.step()
            if not running.alive:
                raise CliError("geth or the API stopped unexpectedly")
    except KeyboardInterrupt:
        pass
    except (LedgerError, NodeError) as err:
        raise CliError(str(err)) from err
    finally:
        running.close()
        signal.signal(signal.SIGTERM, previous)
    print("stopped", flush=True)
    return 0
