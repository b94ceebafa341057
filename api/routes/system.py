"""Health, Prometheus metrics, and the live usage stream as server-sent events."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.service import Auth
from api.auth.tokens import Principal
from api.errors import errors
from api.deps import DB, Node
from api.schemas.base import MAX_NUMBER
from api.schemas.system import DepartmentOut, Health, WorkerHealthOut
from api.streams import event_stream
from node.models import Alert, IndexerCursor, OutboxEntry
from node.audit.monitor import usage_stream



class Metrics:
    """The API's own counters, and gauges read from the node when scraped."""

    def __init__(self, *, public: bool = False) -> None:
        self.public = public
        """Served without a session; else only to staff."""
        self.registry = CollectorRegistry()
        self.requests = Counter("provledger_http_requests", "HTTP requests answered", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("provledger_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry)
        self.outbox = Gauge("provledger_outbox_entries", "chain writes by status", ["status"], registry=self.registry)
        self.head = Gauge("provledger_chain_head", "latest block of the chain", registry=self.registry)
        self.indexed = Gauge("provledger_indexed_block", "last block indexed", registry=self.registry)
        self.alerts = Gauge("provledger_alerts", "alerts raised, by kind", ["kind"], registry=self.registry)


class Measured:
    """Counts and times every HTTP request by route template and status, as a pure ASGI
    middleware: it only watches the response start go by, so streamed responses stream and no
    request pays for being wrapped in a second request object (``BaseHTTPMiddleware`` did both)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers for an app that raised before it started a response

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            # The router puts the matched route in the scope it was given, which is this one.
            template = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - started)


def router(auth: Auth, metrics: Metrics) -> APIRouter:
    api = APIRouter(tags=["system"])
    Watcher = Annotated[Principal, Depends(auth.require("department", "auditor", "consumer", staff="viewer"))]

    @api.get("/health", response_model=Health, summary="Whether the node reaches its chain, keeps up and records uses",
             responses={503: {"model": Health, "description": "The node cannot record uses now: `reasons` says why"}})
    def health(node: Node) -> Health | Response:
        found = node.health()
        body = Health(
            status="unavailable" if not found.can_record else "degraded" if found.degraded else "ok",
            department=node.settings.department_id, chain_id=node.ledger.manifest.chain_id, head=found.chain.head,
            indexed=found.indexed, outbox_open=found.backlog.open if found.backlog else 0,
            chain_reachable=found.chain.reachable, chain_error=found.chain.error, head_age=found.chain.head_age,
            index_lag=found.index_lag, outbox_oldest_age=found.backlog.oldest_age if found.backlog else None,
            outbox_limit=node.settings.max_backlog, reasons=found.refusals,
            workers={name: WorkerHealthOut.model_validate(w) for name, w in found.workers.items()})
        if found.can_record:
            return body
        # Load balancers read the status; people and the CLI read the same body.
        return JSONResponse(body.model_dump(mode="json"), status_code=503,
                            headers={"Retry-After": str(node.settings.retry_after)})

    @api.get("/departments", response_model=list[DepartmentOut], tags=["public"],
             summary="The consortium's member departments, by code and by their name on chain (no sign-in)")
    def departments() -> list[DepartmentOut]:
        return [DepartmentOut(code=code, name=name, this_node=code == auth.department)
                for code, name in auth.names.members()]

    # Staff only, unless PROVLEDGER_METRICS_PUBLIC: the figures tell what the node is doing.
    scraper = [] if metrics.public else [Depends(auth.require("department", staff="viewer"))]

    @api.get("/metrics", response_class=Response, summary="Prometheus metrics, text format (staff, by default)",
             dependencies=scraper,
             responses={**({} if metrics.public else errors(401, 403)), 200: {"content": {CONTENT_TYPE_LATEST: {}}}})
    def scrape(db: DB, node: Node) -> Response:
        for status, count in db.execute(select(OutboxEntry.status, func.count()).group_by(OutboxEntry.status)):
            metrics.outbox.labels(status).set(count)
        for kind, count in db.execute(select(Alert.kind, func.count()).group_by(Alert.kind)):
            metrics.alerts.labels(kind).set(count)
        cursor = db.get(IndexerCursor, "events")
        if cursor is not None:
            metrics.indexed.set(cursor.block_number)
        try:
            metrics.head.set(node.ledger.w3.eth.block_number)
        except Exception:  # the gauge keeps its last value; /health reports the outage
            pass
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @api.get("/stream/uses", summary="Live usage events as server-sent events (consumers see their own)",
             responses={200: {"content": {"text/event-stream": {}}}})
    async def stream(request: Request, node: Node, who: Watcher,
                     after: Annotated[int | None, Query(ge=0, le=MAX_NUMBER)] = None,
                     dataset_id: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{64}$")] = None) -> StreamingResponse:
        consumer = who.address if who.roles == {"consumer"} else None

        async def events() -> AsyncIterator[str]:
            yield ": provledger usage stream\n\n"
            source = usage_stream(node.sessions, after=after, dataset_id=dataset_id.lower() if dataset_id else None,
                                  consumer=consumer, poll=0.25)
            async for event in source:
                if await request.is_disconnected():
                    return
                yield f"id: {event.id}\nevent: use\ndata: {json.dumps(asdict(event))}\n\n"

        return event_stream(request, events(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return api
