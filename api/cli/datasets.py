"""``provledger dataset register``: a dataset registered, its versions uploaded and anchored."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from api.cli.audit import hash_locally, trace_page
from api.cli.client import Api, CliError, UsageError
from api.cli.options import emit
from api.cli.signin import connect, staff_sign_in
from node.catalog.register import describe, require_columns
from node.errors import InvalidInput
from node.formats import format_of


def upload_version(api: Api, dataset_id: str, path: Path, encoding: str | None = None) -> dict[str, Any]:
    """Stream ``path`` as a new version of ``dataset_id`` (text in ``encoding``, else the
    dataset's declared or a detected one); the node hashes it and queues its anchoring."""
    tabular = format_of(path)
    if tabular is None:
        raise UsageError(f"{path} is neither .csv nor .jsonl")
    fmt, media = tabular.kind, tabular.media_type

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as f, api.progress.bar(f"uploading {path.name}", path.stat().st_size) as bar:
            while chunk := f.read(1 << 20):
                bar.update(len(chunk))
                yield chunk

    params = {"format": fmt} | ({"encoding": encoding} if encoding else {})
    version: dict[str, Any] = api.call("PUT", f"/datasets/{dataset_id}/versions", params=params,
                                       content=chunks(), headers={"Content-Type": media})
    return version


def wait_anchored(api: Api, dataset_id: str, root: str, timeout: float = 120.0) -> int:
    """Wait until the node has indexed the version with ``root`` from the chain; its block."""
    after = 0

    def poll() -> int | None:
        nonlocal after
        page = trace_page(api, dataset_id, after=after, limit=1000, verify=False)
        for item in page["items"]:
            after = item["id"]
            if item["name"] == "VersionAdded" and item["args"].get("contentRoot") == root:
                return int(item["block_number"])
        return None

    return api.progress.wait(f"anchoring {root[:10]}", poll, timeout=timeout)


def check_file(path: Path, field_classes: dict[str, str], key_fields: list[str], encoding: str | None) -> str:
    """``path``'s text encoding, after checking it as registration does; :class:`UsageError` if
    the node would refuse it."""
    tabular = format_of(path)
    if tabular is None:
        raise UsageError(f"{path} is neither .csv nor .jsonl")
    try:
        found, fields, _ = describe(path, tabular.kind, encoding)
        require_columns(fields, field_classes, key_fields)
    except InvalidInput as err:
        raise UsageError(f"{path}: {err}") from err
    return found


def register_dataset(api: Api, path: Path, *, code: str, name: str, category: str, grade: int, interval: int,
                     field_classes: dict[str, str], rules: list[dict[str, Any]], key_fields: list[str],
                     wait: bool = True, encoding: str | None = None) -> tuple[dict[str, Any], dict[str, Any], int | None]:
    """Register a dataset, set its rules, upload ``path`` as version 1 and (with ``wait``) wait
    until it is anchored: (dataset, version, block).

    The file is read here first as the node will read it (its text in ``encoding``, else a
    detected one; field classes and key fields naming its columns): a file the node would refuse
    is refused before anything is registered."""
    check_file(path, field_classes, key_fields, encoding)
    root = hash_locally(path, api.progress)
    dataset: dict[str, Any] = api.call("POST", "/datasets", json={
        "code": code, "name": name, "category": category, "grade": grade, "update_interval": interval,
        "field_classes": field_classes, "key_fields": key_fields} | ({"encoding": encoding} if encoding else {}))
    if rules:
        api.call("PUT", f"/datasets/{dataset['dataset_id']}/quality-rules", json=rules)
    version = upload_version(api, dataset["dataset_id"], path)
    if version["content_root"] != root:
        raise CliError(f"the node computed the root {version['content_root']}, not {root} as here")
    block = wait_anchored(api, dataset["dataset_id"], root) if wait else None
    return dataset, version, block


def tabular_file(path: Path) -> Path:
    """``path``, a file of a format the nodes take; exit 2 otherwise."""
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if format_of(path) is None:
        raise UsageError(f"{path} is neither .csv nor .jsonl")
    return path


def cmd_register(args: argparse.Namespace) -> int:
    path = tabular_file(args.file)
    # Read here first, as the node will: a file it would refuse is refused before anything is sent.
    check_file(path, dict(args.field_class), list(args.key_field), args.encoding)
    with connect(args) as api:
        staff_sign_in(args, api)
        dataset, version, block = register_dataset(
            api, path, code=args.code, name=args.name, category=args.category, grade=args.grade,
            interval=args.interval, field_classes=dict(args.field_class), rules=list(args.rule),
            key_fields=list(args.key_field), wait=not args.no_wait, encoding=args.encoding)
        owner = dataset["owner_department"]
        name = api.department_names().get(owner, owner)

    def text() -> None:
        print(f"dataset {dataset['dataset_id']} registered by {name} ({owner})")
        print(f"version {version['number']}: content root {version['content_root']}, {version['record_count']} "
              f"records, {version['encoding']} text, fields {','.join(version['schema'])}")
        print(f"anchored in block {block}" if block is not None else "anchoring queued")

    emit(args, {"dataset": dataset, "version": version, "anchored_block": block}, text)
    return 0
