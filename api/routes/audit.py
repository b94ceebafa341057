"""Auditing: traces of a dataset or a consumer, each item verifiable (and verified on request)
against the chain; a version's files against its anchored root; PROV export; alerts; and
attributing a leaked copy to the delivery it came from."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

import io
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from api.auth.service import Auth
from api.auth.tokens import Principal
from api.errors import errors
from api.deps import DB, Id32, Node, Number
from api.routes.datasets import version_of
from api.schemas.audit import (
    AlertOut, AttributionOut, CompletenessOut, FileVerification, LineageOut, PositionOut, SuspectOut, TracePage,
    trace_json,
)
from api.schemas.base import MAX_NUMBER
from node.audit.chainsets import END, Subject
from node.audit.completeness import Completeness
from node.access.delivery.serve import attribute_leak
from node.errors import InvalidInput, NotFound
from node.audit.prov import dataset_prov
from node.formats import FORMATS, Kind
from node.models import Alert, Dataset, Delivery
from node.audit.trace import Lineage, Page, consumer_trace, dataset_trace, lineage
from node.audit.verify import verify_events, verify_version_files

MAX_LEAK = 512 << 20
After = Annotated[int, Query(ge=0, le=MAX_NUMBER, description="the `next_after` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Verify = Annotated[bool, Query(description="check every item against the chain, and that the trace is complete: "
                                          "the page's span of the chain item by item, and the whole trace's counts")]
PAGES_AT_ONCE = 1
"""Plain trace pages one app reads at once; the others wait on the event loop. A page is mostly
Python (reading rows, writing JSON): a second thread at it only contends for the interpreter, and
SQLite's reads, which give it up and take it back a row at a time, then wait for it on each row
(under 32 clients, one at a time served a third more pages than four, at a lower p95)."""
VERIFIED_AT_ONCE = 4
"""Verified pages one app works on at once, apart from plain ones (so that verified ones, which
also wait on the chain, do not hold up plain ones). The limiters are the app's own: an anyio
limiter belongs to the event loop that first uses it, and several apps (each its own loop) serve
in one process under ``provledger up``."""


def _completeness(found: Completeness) -> CompletenessOut:
    def position(at: tuple[int, int] | None) -> PositionOut | None:
        return PositionOut(block_number=at[0], log_index=at[1] if at[1] < END else None) if at else None

    return CompletenessOut(ok=found.ok, scope=found.scope, block_number=found.block_number, on_chain=found.on_chain,
                           in_index=found.in_index, after=position(found.after), through=position(found.through),
                           missing=found.missing, extra=found.extra, changed=found.changed, problems=found.problems)


def _out(subject: Subject, page: Page, node: Any, verify: bool, after: int, family: Lineage | None) -> Response:
    """The page as its JSON body, with ``verify`` each item checked against its log and the
    trace's completeness (the page's span item by item) against the chain's logs by topic, in
    one batched read each. Called once the page's database session is closed: the completeness
    check takes a connection of its own, and holding both would starve the pool under load."""
    lineage_out = LineageOut(parents=family.parents, children=family.children) if family is not None else None
    if not verify:
        return Response(trace_json(subject.key, page, lineage_out), media_type="application/json")
    complete = node.traces.check(subject, after=after, through=page.next_after)
    settled = complete.block_number if complete.ok else None  # only a complete trace's logs are kept
    reports = verify_events(node.ledger, page.items, node.traces.chain, settled) if page.items else []
    problems = [report.problems + [p for p in complete.item_problems.get(item.id, []) if p not in report.problems]
                for item, report in zip(page.items, reports)]
    return Response(trace_json(subject.key, page, lineage_out, problems, _completeness(complete)),
                    media_type="application/json")


async def _traced(node: Any, subject: Subject, read: Callable[[Session], tuple[Page, Lineage | None]], verify: bool,
                  after: int, limiter: CapacityLimiter) -> Response:
    """A trace page's response, read and written in one worker thread (one hop off the event
    loop, not one per dependency), and answered as the JSON its body model writes."""

    def answer() -> Response:
        with node.sessions() as db:
            page, family = read(db)
        return _out(subject, page, node, verify, after, family)

    return await to_thread.run_sync(answer, limiter=limiter)


Address = Annotated[str, PathParam(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x14dC79964da2C08b23698B3D3cc7Ca32193d9955"],
                                   description="an account address, in any letter case")]


def router(auth: Auth) -> APIRouter:
    api = APIRouter(prefix="/audit", tags=["audit"])
    Auditor = Annotated[Principal, Depends(auth.require("auditor", "department", staff="viewer"))]
    reading, verifying = CapacityLimiter(PAGES_AT_ONCE), CapacityLimiter(VERIFIED_AT_ONCE)

    @api.get("/datasets/{dataset_id}/trace", response_model=TracePage, responses=errors(422),
             summary="A dataset's history: registration, versions, requests, decisions, uses, quality, lineage")
    async def dataset(dataset_id: Id32, node: Node, who: Auditor, after: After = 0, limit: Limit = 100,
                      verify: Verify = False) -> Response:
        addresses = node.ledger.manifest.addresses
        return await _traced(node, Subject.dataset(dataset_id), lambda db: (
            dataset_trace(db, addresses, dataset_id, after=after, limit=limit), lineage(db, dataset_id)), verify, after,
            verifying if verify else reading)

    @api.get("/consumers/{address}/trace", response_model=TracePage, responses=errors(422),
             summary="A consumer's history: requests, decisions, uses of its grants, statements")
    async def consumer(address: Address, node: Node, who: Auditor, after: After = 0, limit: Limit = 100,
                       verify: Verify = False) -> Response:
        account = Web3.to_checksum_address(address.lower())
        addresses = node.ledger.manifest.addresses
        return await _traced(node, Subject.consumer(account), lambda db: (
            consumer_trace(db, addresses, account, after=after, limit=limit), None), verify, after,
            verifying if verify else reading)

    @api.get("/datasets/{dataset_id}/prov", responses={200: {"content": {"application/json": {}}}},
             summary="The dataset's whole trace as W3C PROV-JSON")
    async def prov(dataset_id: Id32, node: Node, who: Auditor) -> StreamingResponse:
        addresses, chain_id = node.ledger.manifest.addresses, node.ledger.manifest.chain_id

        def document() -> Iterator[str]:
            # Streamed as the index is read: a trace of any length is never whole in memory.
            with node.sessions() as db:
                yield from dataset_prov(db, addresses, dataset_id, chain_id=chain_id)

        return StreamingResponse(document(), media_type="application/json")

    @api.get("/datasets/{dataset_id}/versions/{number}/verification", response_model=FileVerification,
             responses=errors(404), summary="Hash a version's files again and compare with the anchored root")
    def files(dataset_id: Id32, number: Number, db: DB, node: Node, who: Auditor) -> FileVerification:
        dataset = db.get(Dataset, dataset_id.lower())
        if dataset is None:
            raise NotFound("dataset on this node", dataset_id)
        report = verify_version_files(db, node.ledger, version_of(db, dataset, number).id, store=node.store)
        return FileVerification(ok=report.ok, problems=report.problems, purged=report.purged)

    @api.get("/alerts", response_model=list[AlertOut], responses=errors(422),
             summary="Alerts raised by the monitor, oldest first, paged by id")
    def alerts(db: DB, who: Auditor, after: After = 0, limit: Limit = 100,
               kind: Annotated[str | None, Query(max_length=32)] = None) -> list[Alert]:
        query = select(Alert).where(Alert.id > after)
        if kind:
            query = query.where(Alert.kind == kind)
        return list(db.scalars(query.order_by(Alert.id).limit(limit)))

    @api.post("/attributions", response_model=AttributionOut, responses=errors(404, 413, 422),
              summary="Find the delivery, grant and consumer a leaked copy came from (the body is the copy), "
                      "or say why the copy names no one",
              openapi_extra={"requestBody": {"required": True, "content": {
                  f.media_type: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
                  for f in FORMATS.values()}}})
    async def attribution(request: Request, node: Node, who: Auditor,
                          dataset_id: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{64}$")] = None,
                          format: Annotated[str | None, Query(pattern=f"^({'|'.join(FORMATS)})$")] = None) -> AttributionOut:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LEAK:
                raise InvalidInput("body", f"a copy larger than {MAX_LEAK >> 20} MiB: send a part of it")
        kind: Kind | None = FORMATS[format].kind if format else None

        def find() -> AttributionOut:
            with node.sessions() as db:
                found = attribute_leak(db, io.BytesIO(bytes(body)), node.fingerprint_key,
                                       dataset_id=dataset_id.lower() if dataset_id else None, kind=kind)
                suspects = [db.get(Delivery, "0x" + b.hex()) for b in found.attribution.beyond_chance]
                a, d = found.attribution, found.delivery
                return AttributionOut(
                    delivery_id=d.delivery_id if d else None, grant_id=d.grant_id if d else None,
                    consumer=d.consumer if d else None, dataset_id=d.dataset_id if d else None,
                    confident=a.confident, reason=a.reason, bits=a.bits, matching=a.matching, score=a.score,
                    p_value=a.p_value, runner_up_score=a.runner_up_score, rows=a.rows,
                    beyond_chance=[SuspectOut(delivery_id=s.delivery_id, grant_id=s.grant_id, consumer=s.consumer)
                                   for s in suspects if s is not None])

        return await run_in_threadpool(find)

    return api
