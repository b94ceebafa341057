"""Datasets: a department registers them and their versions, sets quality rules, freezes them;
anyone browses the catalog and downloads open (grade 1) data, each download logged."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.service import Auth
from api.auth.tokens import Principal
from api.deps import DB, RECORDS, Id32, Node, Number, file_chunks
from api.errors import ApiError, errors
from api.schemas.datasets import (
    CatalogEntry, DatasetIn, DatasetOut, Freeze, PersonPurgeIn, PersonPurgeOut, PurgeIn, QualityCheck, QualityReportOut, QualityRuleIn, QualityRuleOut,
    RepairIn, VersionOut,
)
from api.schemas.grants import WriteOut
from ledger.errors import ContractError
from node.access import review
from node.quality import issues
from node.quality import loop as quality
from node.chain.anchoring import log_open_download
from node.access.delivery import checks
from node.errors import InvalidInput, NotFound, NotPermitted
from node.catalog import purge as purging
from node.catalog.dcat import catalog_to_dcat
from node.catalog.entries import entries
from node.formats import ENCODINGS, FORMATS, format_of, transcode
from node.models import Dataset, DatasetVersion, QualityIssue
from node.catalog.register import register_dataset, register_version
from node.service import NodeService

def too_large(cap: int) -> ApiError:
    return ApiError(413, "too_large", f"the upload is larger than this node takes ({cap} bytes)", limit=cap)


def own_dataset(db: Session, node: NodeService, dataset_id: str) -> Dataset:
    """A dataset of this node's department: 403 if it is another department's, 404 if unknown."""
    dataset = db.get(Dataset, dataset_id.lower())
    if dataset is not None:
        return dataset
    try:
        node.ledger.registry.dataset(bytes.fromhex(dataset_id.removeprefix("0x")))
    except (ContractError, ValueError) as err:
        raise NotFound("dataset", dataset_id) from err
    raise NotPermitted(node.settings.department_id, "act on this dataset", "it belongs to another department")


def version_of(db: Session, dataset: Dataset, number: int) -> DatasetVersion:
    version = db.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.dataset_id,
                                                     DatasetVersion.number == number))
    if version is None:
        raise NotFound("version", f"{dataset.dataset_id} #{number}")
    return version


def _issue_and_version(db: Session, node: NodeService, issue_id: str, number: int) -> tuple[QualityIssue, DatasetVersion]:
    """An issue on one of this department's datasets, and a version of that dataset."""
    issue = db.get(QualityIssue, issue_id.lower())
    if issue is None:
        raise NotFound("quality issue", issue_id)
    return issue, version_of(db, own_dataset(db, node, issue.dataset_id), number)


def _write(entry: Any) -> WriteOut:
    return WriteOut.model_validate(entry)


def router(auth: Auth) -> APIRouter:
    api = APIRouter(tags=["datasets"])
    Viewer = Annotated[Principal, Depends(auth.require("department", staff="viewer"))]
    Steward = Annotated[Principal, Depends(auth.require("department", staff="steward"))]
    Reviewer = Annotated[Principal, Depends(auth.require("department", staff="reviewer"))]
    Anyone = Annotated[Principal | None, Depends(auth.optional())]

    @api.post("/datasets", status_code=201, response_model=DatasetOut,
              dependencies=[RECORDS], responses=errors(409, 422),
              summary="Register a dataset owned by this node's department")
    def create(body: DatasetIn, db: DB, node: Node, who: Steward) -> Dataset:
        for parent in body.parents:
            try:
                node.ledger.registry.dataset(bytes.fromhex(parent.removeprefix("0x")))
            except (ContractError, ValueError) as err:
                raise InvalidInput("parents", f"{parent} is no dataset on the chain") from err
        dataset = register_dataset(db, department=node.settings.department_id, code=body.code, name=body.name,
                                   category=body.category, grade=body.grade, update_interval=body.update_interval,
                                   catalog=dict(body.catalog), parents=[p.lower() for p in body.parents],
                                   field_classes=dict(body.field_classes), key_fields=body.key_fields,
                                   encoding=body.encoding)
        db.commit()
        return dataset

    @api.get("/datasets", response_model=list[DatasetOut],
             summary="This department's datasets, with their versions")
    def mine(db: DB, who: Viewer) -> list[Dataset]:
        return list(db.scalars(select(Dataset).order_by(Dataset.created_at, Dataset.dataset_id)))

    @api.get("/datasets/{dataset_id}", response_model=DatasetOut, responses=errors(404))
    def one(dataset_id: Id32, db: DB, node: Node, who: Viewer) -> Dataset:
        return own_dataset(db, node, dataset_id)

    @api.put("/datasets/{dataset_id}/versions", status_code=201, response_model=VersionOut,
             dependencies=[RECORDS], responses=errors(404, 409, 413, 422),
             summary="Upload a new version (the request body is the file, at most PROVLEDGER_MAX_UPLOAD_BYTES); "
                     "a file not in its declared or a detectable encoding, or whose columns the field classes "
                     "do not name, is refused and nothing is kept",
             openapi_extra={"requestBody": {"required": True, "content": {
                 f.media_type: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
                 for f in FORMATS.values()}}})
    async def upload(dataset_id: Id32, request: Request, node: Node, who: Steward,
                     format: Annotated[str, Query(pattern=f"^({'|'.join(FORMATS)})$")] = "csv",
                     encoding: Annotated[str | None, Query(max_length=32, description=(
                         "the file's text encoding: " + ", ".join(ENCODINGS) + "; default: the dataset's, "
                         "else detected"))] = None) -> DatasetVersion:
        def check() -> Path:
            with node.sessions() as db:
                own_dataset(db, node, dataset_id)
            folder = node.settings.data_dir / "datasets" / dataset_id.lower()
            folder.mkdir(parents=True, exist_ok=True)
            return folder

        cap = node.settings.max_upload_bytes
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_large(cap)
        folder = await run_in_threadpool(check)
        partial = folder / f".upload-{secrets.token_hex(8)}"
        try:
            # Kept encrypted from its first byte (node.store): the upload is never on disk in clear.
            with node.store.create(partial) as f:
                async for chunk in request.stream():
                    if f.size + len(chunk) > cap:
                        raise too_large(cap)
                    f.write(chunk)
            if f.size == 0:
                raise InvalidInput("body", "the file is empty")

            def register() -> DatasetVersion:
                final = folder / f"{secrets.token_hex(12)}{FORMATS[format].suffix}"
                partial.rename(final)
                with node.sessions() as db:
                    try:
                        version = register_version(db, dataset_id=dataset_id.lower(), path=final, encoding=encoding,
                                                   store=node.store)
                        db.commit()
                    except Exception:
                        final.unlink(missing_ok=True)
                        raise
                    return version

            return await run_in_threadpool(register)
        finally:
            partial.unlink(missing_ok=True)

    @api.post("/datasets/{dataset_id}/freeze", status_code=202, response_model=WriteOut,
              dependencies=[RECORDS], responses=errors(404, 409, 422),
              summary="Freeze a dataset in an emergency, or lift it")
    def freeze(dataset_id: Id32, body: Freeze, db: DB, node: Node, who: Reviewer) -> WriteOut:
        entry = review.freeze(db, node.ledger, node.settings.department_id, dataset_id.lower(), reason=body.reason,
                              frozen=body.frozen)
        db.commit()
        return _write(entry)

    @api.post("/datasets/{dataset_id}/versions/{number}/purge", status_code=202, response_model=WriteOut,
              dependencies=[RECORDS], responses=errors(404, 409, 422),
              summary="Purge a version's plaintext as the law requires: its root, evidence and trace stay, the "
                      "purge goes on chain with its reason; its deliveries and queries are refused from now (410)")
    def purge(dataset_id: Id32, number: Number, body: PurgeIn, db: DB, node: Node, who: Steward) -> WriteOut:
        own_dataset(db, node, dataset_id)
        entry = purging.purge_version(db, dataset_id=dataset_id.lower(), number=number, reason=body.reason)
        db.commit()
        purging.remove_purged(db)
        return _write(entry)

    @api.post("/datasets/{dataset_id}/purge-person", status_code=202, response_model=PersonPurgeOut,
              dependencies=[RECORDS], responses=errors(404, 409, 422),
              summary="Remove one person's records (found by the ID-number field): each version holding them is "
                      "replaced by a successor without them (anchored), then purged naming the person by a salted "
                      "hash")
    def purge_person(dataset_id: Id32, body: PersonPurgeIn, db: DB, node: Node, who: Steward) -> PersonPurgeOut:
        own_dataset(db, node, dataset_id)
        done = purging.purge_person(db, node.store, dataset_id=dataset_id.lower(), id_number=body.id_number,
                                    reason=body.reason, salt=purging.subject_salt(node.settings.data_dir))
        db.commit()
        purging.remove_purged(db)
        return PersonPurgeOut(dataset_id=done.dataset_id, subject_hash=done.subject_hash, replaced=done.replaced,
                              writes=[_write(e) for e in done.writes])

    @api.put("/datasets/{dataset_id}/quality-rules", response_model=list[QualityRuleOut],
             responses=errors(404, 422), summary="Replace the dataset's quality rules")
    def rules(dataset_id: Id32, body: list[QualityRuleIn], db: DB, node: Node, who: Steward) -> list[dict[str, Any]]:
        dataset = own_dataset(db, node, dataset_id)
        parsed = quality.set_rules(db, dataset.dataset_id, [r.model_dump() for r in body])
        db.commit()
        return [r.to_json() for r in parsed]

    @api.post("/datasets/{dataset_id}/versions/{number}/quality-check", response_model=QualityReportOut,
              dependencies=[RECORDS], responses=errors(404, 422),
              summary="Check a version against the rules; a failure opens an issue")
    def check(dataset_id: Id32, number: Number, body: QualityCheck, db: DB, node: Node, who: Steward) -> Any:
        version = version_of(db, own_dataset(db, node, dataset_id), number)
        report = quality.check_version(db, version.id, store=node.store)
        if not report.passed and body.open_issue:
            quality.open_issue(db, report, ledger=node.ledger)
        db.commit()
        return report

    @api.post("/quality/issues/{issue_id}/repair", status_code=202, response_model=WriteOut,
              dependencies=[RECORDS], responses=errors(403, 404, 422), summary="Name the version that repairs an issue")
    def repair(issue_id: Id32, body: RepairIn, db: DB, node: Node, who: Steward) -> WriteOut:
        entry = issues.repair(db, node.settings.department_id, issue_id, body.version, note=body.note)
        db.commit()
        return _write(entry)

    @api.post("/quality/issues/{issue_id}/verification", response_model=QualityReportOut,
              dependencies=[RECORDS], responses=errors(404, 422),
              summary="Check the repair again: close the issue or reopen it")
    def verify(issue_id: Id32, body: RepairIn, db: DB, node: Node, who: Steward) -> Any:
        issue, version = _issue_and_version(db, node, issue_id, body.version)
        issues.require_reviewer(node.ledger, node.settings.department_id, issue.issue_id, "verify this repair")
        report = quality.verify_repair(db, issue.issue_id, version.id, store=node.store)
        db.commit()
        return report

    # ------------------------------------------------------------ the public

    @api.get("/catalog", response_model=list[CatalogEntry], tags=["public"],
             summary="The catalog across departments: every dataset on the chain, with its freshness (no sign-in)")
    def catalog(db: DB, node: Node, q: Annotated[str | None, Query(max_length=100, description=(
                    "words in the name, description, category, department or field names"))] = None,
                grade: Annotated[int | None, Query(ge=1, le=4)] = None,
                department: Annotated[str | None, Query(max_length=100, description=(
                    "the owner department: its code, its name or its id"))] = None) -> list[CatalogEntry]:
        found = entries(db, node.ledger, q=q or "", grade=grade, department=department or "")
        return [CatalogEntry.of(e) for e in found]

    @api.get("/catalog/dcat", tags=["public"], summary="The catalog across departments as DCAT JSON-LD",
             responses={200: {"content": {"application/ld+json": {}}}})
    def dcat(request: Request, db: DB, node: Node) -> Any:
        base = str(request.base_url).rstrip("/")
        own = set(db.scalars(select(Dataset.dataset_id).where(Dataset.grade == 1, Dataset.frozen.is_(False))))
        return catalog_to_dcat(entries(db, node.ledger), base_url=base,
                               downloadable=lambda e: e.dataset_id in own and e.verified)

    @api.get("/catalog/{dataset_id}", response_model=CatalogEntry, tags=["public"], responses=errors(404),
             summary="One dataset of any department, as the chain says it (no sign-in)")
    def catalog_entry(dataset_id: Id32, db: DB, node: Node) -> CatalogEntry:
        found = entries(db, node.ledger, dataset_ids=[dataset_id])
        if not found:
            raise NotFound("dataset", dataset_id)
        return CatalogEntry.of(found[0])

    @api.get("/open/{dataset_id}/content", tags=["public"], responses={**errors(403, 404, 409, 503),
             200: {"content": {f.media_type: {} for f in FORMATS.values()}}},
             summary="Download open (grade 1) data; each download is logged, and anchored with others",
             # Signing in is optional (a signed-in downloader is logged by its address): `{}` says so.
             openapi_extra={"security": [{}]})
    def open_download(dataset_id: Id32, db: DB, node: Node, who: Anyone,
                      encoding: Annotated[Literal["source", "utf-8"], Query(description=(
                          "the text encoding of a tabular file: its own (the bytes the content root is "
                          "over) or UTF-8"))] = "utf-8") -> StreamingResponse:
        dataset = db.get(Dataset, dataset_id.lower())
        if dataset is None:
            raise NotFound("dataset", dataset_id)
        if dataset.grade != 1 or dataset.frozen:
            raise NotPermitted("the public", "download this dataset", "only open, unfrozen datasets are public")
        if not dataset.versions:
            raise NotFound("version", f"{dataset_id} #latest")
        version = dataset.versions[-1]
        # Open, unfrozen and ours on chain, not only in SQL; the file still hashes to its root.
        checks.require_own_dataset(node.ledger, node.settings.department_id, dataset.dataset_id)
        _, grade, frozen = node.ledger.registry.use_status(bytes.fromhex(dataset.dataset_id[2:]))
        if grade != 1 or frozen:
            raise NotPermitted("the public", "download this dataset", "the chain says it is not open, or frozen")
        checks.require_not_paused(node.ledger)
        checks.require_anchored_version(node.ledger, version)
        checks.require_untampered_source(version, store=node.store)
        logged = log_open_download(db, dataset_id=dataset.dataset_id, version=version.number,
                                   content_root=version.content_root, downloader=who.address if who else None)
        db.commit()
        path = Path(version.source_path)
        media = tabular.media_type if (tabular := format_of(path)) else "application/octet-stream"
        headers = {"X-Provledger-Receipt": logged.receipt, "X-Provledger-Content-Root": version.content_root}
        chunks = file_chunks(node.store.open(path))
        if tabular is not None and version.encoding:
            target = version.encoding if encoding == "source" else "utf-8"
            chunks = transcode(chunks, version.encoding, target)
            media = f"{media}; charset={target}"
            headers |= {"X-Provledger-Encoding": target, "X-Provledger-Source-Encoding": version.encoding}
        return StreamingResponse(chunks, media_type=media, headers=headers)

    return api
