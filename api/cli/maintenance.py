"""``provledger node backup|restore|reindex|rotate-data-key``: the operator's maintenance of one node, on its
settings (``PROVLEDGER_*``, as ``provledger serve`` reads them; :mod:`node.maintenance`)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from api.cli.client import CliError, UsageError
from api.cli.options import emit, json_option

if TYPE_CHECKING:
    from api.cli.options import SubCommands
    from node.settings import NodeSettings


def _settings(command: str) -> NodeSettings:
    from pydantic import ValidationError

    from node.settings import NodeSettings, startup_error

    try:
        return NodeSettings()  # type: ignore[call-arg]
    except ValidationError as err:
        raise UsageError(f"the node's settings, as provledger serve reads them: {startup_error(err)}",
                         f"provledger node {command}") from err


def cmd_backup(args: argparse.Namespace) -> int:
    from node.maintenance.backup import BackupError, backup

    settings = _settings("backup")
    try:
        done = backup(settings, args.out)
    except BackupError as err:
        raise UsageError(str(err), "provledger node backup") from err
    manifest = done.manifest
    emit(args, {"out": str(done.out), **manifest}, lambda: print(
        f"{done.out}: {done.members} members, {sum(m['size'] for m in manifest['members'].values())} bytes, "
        f"{manifest['database']} database indexed to block {manifest['cursor_block']}"))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from node.maintenance.backup import BackupError, restore

    try:
        manifest = restore(args.archive, args.into, database_url=args.database_url)
    except BackupError as err:
        raise UsageError(str(err), "provledger node restore") from err
    emit(args, {"into": str(args.into), "env": str(args.into / "node.env"), **manifest}, lambda: print(
        f"{args.into}: {len(manifest['members'])} members checked and restored; the node's settings are in "
        f"{args.into / 'node.env'} (add its passphrase)"))
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from node.db import make_engine
    from node.maintenance import NodeRunning, stopped
    from node.maintenance.reindex import DERIVED, NOT_COMPARED, open_ledger, reindex, replace

    settings = _settings("reindex")
    engine = make_engine(settings.sql_url)
    ledger = open_ledger(settings.chain_url, settings.manifest_path)
    try:
        with stopped(settings.data_dir) if args.replace else nullcontext(), \
                tempfile.TemporaryDirectory(prefix="provledger-reindex-") as work:
            report = reindex(engine, ledger, Path(work))
            replaced = replace(engine, report.rebuilt) if args.replace and report.rebuilt else None
    except NodeRunning as err:
        raise CliError(f"provledger node reindex --replace: {err}", 1) from err
    finally:
        ledger.close()
        engine.dispose()

    def text() -> None:
        for difference in report.differences:
            print(difference)
        verdict = "equal" if report.equal else f"{len(report.differences)} differences"
        print(f"rebuilt from the chain to block {report.cursor_block}: {len(report.tables)} tables, "
              f"{report.rows} rows, {report.seconds:.1f} s: {verdict}")
        ignored = ", ".join(f"{d.name}.{c}" for d in DERIVED for c in d.ignored)
        print(f"not compared: {ignored} (surrogate ids and local times); "
              + "; ".join(f"{k} ({v})" for k, v in NOT_COMPARED.items()))
        if replaced is not None:
            print(f"replaced: the live index now holds the {replaced} rows rebuilt from the chain")

    emit(args, {**report.as_json(), "replaced": replaced}, text)
    return 0 if report.equal or replaced is not None else 1


def cmd_rotate_data_key(args: argparse.Namespace) -> int:
    from node.datakey import KeySecret, key_file_secret, rewrap
    from node.errors import SettingsInvalid
    from node.maintenance import NodeRunning, stopped

    settings = _settings("rotate-data-key")
    try:
        if args.new_key_file is not None:
            new = key_file_secret(args.new_key_file, "--new-key-file")
        else:
            try:
                text = args.new_passphrase_file.read_text().strip()
            except OSError as err:
                raise SettingsInvalid("--new-passphrase-file", f"cannot read {args.new_passphrase_file}: {err}") from err
            if not text:
                raise SettingsInvalid("--new-passphrase-file", f"{args.new_passphrase_file} is empty")
            new = KeySecret("passphrase", text.encode(), "--new-passphrase-file")
        with stopped(settings.data_dir):
            rewrap(settings.data_dir, settings.data_key_secret(), new)
    except SettingsInvalid as err:
        raise UsageError(str(err), "provledger node rotate-data-key") from err
    except NodeRunning as err:
        raise CliError(f"provledger node rotate-data-key: {err}", 1) from err
    under = f"the key file {args.new_key_file}" if args.new_key_file is not None else "the new passphrase"
    setting = (f"PROVLEDGER_DATA_KEY_FILE={args.new_key_file}" if args.new_key_file is not None
               else "the new keystore passphrase, and no PROVLEDGER_DATA_KEY_FILE")
    emit(args, {"data_dir": str(settings.data_dir), "wrapped_under": new.kind}, lambda: print(
        f"{settings.data_dir}: the data key is now wrapped under {under}; start the node with {setting}"))
    return 0


def add_commands(node_commands: SubCommands) -> None:
    """``node backup``, ``node restore``, ``node reindex`` and ``node rotate-data-key``."""
    backup = node_commands.add_parser("backup", help="the node's database, keystore, manifest, data files and "
                                                     "settings in one archive, while it runs")
    backup.add_argument("--out", required=True, type=Path, metavar="FILE.tar.gz", help="a new file (written 0600)")
    backup.set_defaults(run=cmd_backup)
    restore = node_commands.add_parser("restore", help="a backup into an empty folder, every member's sha256 checked")
    restore.add_argument("archive", type=Path, metavar="FILE")
    restore.add_argument("--into", required=True, type=Path, metavar="DIR", help="an empty or new folder")
    restore.add_argument("--database-url", metavar="URL",
                         help="for a PostgreSQL backup: the empty database to restore it into")
    restore.set_defaults(run=cmd_restore)
    reindex = node_commands.add_parser("reindex", help="rebuild the index from the chain alone and check it equal "
                                                       "to the live one, row for row (exit 1 if not)")
    reindex.add_argument("--replace", action="store_true",
                         help="then swap the rebuilt index in (the node must be stopped)")
    reindex.set_defaults(run=cmd_reindex)
    rotate = node_commands.add_parser("rotate-data-key", help="wrap the node's data key under a new passphrase "
                                      "or key file (the node must be stopped; the files stay as they are)")
    new = rotate.add_mutually_exclusive_group(required=True)
    new.add_argument("--new-passphrase-file", type=Path, metavar="FILE",
                     help="the keystore's new passphrase (change the keystore's own with it)")
    new.add_argument("--new-key-file", type=Path, metavar="FILE", help="a file of at least 32 secret bytes")
    rotate.set_defaults(run=cmd_rotate_data_key)
    for sub in (backup, restore, reindex, rotate):
        json_option(sub)
