"""The dashboard's pages: the catalog, the review queue with its decisions, the auditor's trace
of a dataset, and the live usage stream with the alerts."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import func, select

from api.auth.service import Auth
from api.dashboard import views
from api.dashboard.lineage import lineage_graph
from api.dashboard.render import Pages
from api.dashboard.session import PATH, Visitor, checked_form, signed_in, visitors
from api.dashboard.trace import dataset_page
from api.sessions import staff_allows
from api.deps import DB, Id32, Node
from api.errors import status_of
from api.streams import event_stream
from ledger.errors import LedgerError
from node.access import review
from node.catalog.entries import entries, owners
from node.errors import InvalidInput, NodeError
from node.models import ChainEventRow, Dataset, OutboxEntry
from node.audit.monitor import usage_stream

HASH = r"^0x[0-9a-fA-F]{64}$"
REVIEWABLE = ("approve", "reject", "co_approve")


def router(auth: Auth, pages: Pages) -> APIRouter:
    api = APIRouter(prefix=PATH, include_in_schema=False)
    Visit = Annotated[Visitor, Depends(visitors(auth))]
    Staff = Annotated[Visitor, Depends(signed_in(auth, "department", staff="viewer"))]
    Auditor = Annotated[Visitor, Depends(signed_in(auth, "auditor", "department", staff="viewer"))]
    Watcher = Annotated[Visitor, Depends(signed_in(auth, "auditor", "department", "consumer", staff="viewer"))]
    Reviewer = Annotated[tuple[Visitor, dict[str, str]], Depends(checked_form(auth, "department", staff="reviewer"))]

    @api.get("/")
    def home(visitor: Visit) -> Response:
        where = ("review" if visitor.has("department") else "trace" if visitor.has("auditor")
                 else "monitor" if visitor.has("consumer") else "catalog")
        return RedirectResponse(f"{PATH}/{where}", status_code=303)

    # ------------------------------------------------------------ the catalog

    @api.get("/catalog")
    def catalog(request: Request, db: DB, node: Node, visitor: Visit, q: Annotated[str, Query(max_length=100)] = "",
                grade: Annotated[str, Query(pattern=r"^[1-4]?$")] = "",
                owner: Annotated[str, Query(max_length=64)] = "") -> HTMLResponse:
        rows = entries(db, node.ledger, q=q, grade=int(grade) if grade else None, department=owner)
        return pages.page(request, "catalog.html", visitor, nav="catalog", rows=rows, q=q, grade=grade, owner=owner,
                          owners=owners(db))

    # ------------------------------------------------------------ review

    def review_page(request: Request, db: DB, node: Node, visitor: Visitor, *, status: int = 200,
                    error: str | None = None, write: int | None = None) -> HTMLResponse:
        coordinator = visitor.has("coordinator")
        rows = views.review_rows(db, node.ledger, node.settings.department_id, coordinator=coordinator)
        entry = db.get(OutboxEntry, write) if write else None
        role = visitor.principal.staff_role if visitor.principal else None
        return pages.page(request, "review.html", visitor, status=status, nav="review", rows=rows, error=error,
                          coordinator=coordinator, write=entry if entry and entry.kind in REVIEWABLE else None,
                          decides=role is not None and staff_allows(role, "reviewer"), role=role)

    @api.get("/review")
    def queue(request: Request, db: DB, node: Node, visitor: Staff,
              write: Annotated[int | None, Query(ge=1, lt=2**31)] = None) -> HTMLResponse:
        return review_page(request, db, node, visitor, write=write)

    @api.post("/review/{grant_id}/{decision}")
    def decide(request: Request, grant_id: Id32, decision: Literal["approve", "reject", "co-approve"], db: DB,
               node: Node, form: Reviewer) -> Response:
        visitor, fields = form
        reason, department, grant = fields.get("reason", "").strip(), node.settings.department_id, grant_id.lower()
        try:
            node.require_can_record()
            if decision == "approve":
                price = fields.get("price_per_use", "").strip() or "0"
                if not price.isdigit():
                    raise InvalidInput("price_per_use", "must be a whole number")
                entry = review.approve(db, node.ledger, department, grant, reason=reason, price_per_use=int(price))
            elif decision == "reject":
                entry = review.reject(db, node.ledger, department, grant, reason=reason)
            else:
                entry = review.co_approve(db, node.ledger, department, grant, reason=reason)
            db.commit()
        except (NodeError, LedgerError) as err:
            db.rollback()
            return review_page(request, db, node, visitor, status=status_of(err), error=str(err))
        return RedirectResponse(f"{PATH}/review?write={entry.id}", status_code=303)

    # ------------------------------------------------------------ the trace

    @api.get("/trace")
    def pick(request: Request, db: DB, visitor: Auditor,
             dataset: Annotated[str, Query(max_length=100)] = "") -> Response:
        wanted = dataset.strip().lower()
        if wanted.startswith("0x") and len(wanted) == 66 and all(c in "0123456789abcdef" for c in wanted[2:]):
            return RedirectResponse(f"{PATH}/datasets/{wanted}/trace", status_code=303)
        names = {d: n for d, n in db.execute(select(Dataset.dataset_id, Dataset.name))}
        registered = db.scalars(select(ChainEventRow.dataset_id).where(ChainEventRow.name == "DatasetRegistered")
                                .order_by(ChainEventRow.id.desc()).limit(200)).all()
        return pages.page(request, "trace_pick.html", visitor, nav="trace", dataset=dataset, names=names,
                          registered=[d for d in registered if d], error="Not a dataset id." if dataset else None)

    @api.get("/datasets/{dataset_id}/trace")
    def trace(request: Request, dataset_id: Id32, db: DB, node: Node, visitor: Auditor,
              after: Annotated[int, Query(ge=0, lt=2**63)] = 0) -> HTMLResponse:
        found = dataset_page(db, node.ledger, node.traces, dataset_id, after=after, store=node.store)
        graph = lineage_graph(db, node.ledger, dataset_id)
        return pages.page(request, "trace.html", visitor, nav="trace", trace=found, graph=graph, after=after)

    # ------------------------------------------------------------ the live stream and alerts

    @api.get("/monitor")
    def monitor(request: Request, db: DB, visitor: Watcher) -> HTMLResponse:
        assert visitor.principal is not None
        consumer = visitor.principal.address if visitor.principal.roles == {"consumer"} else None
        uses = views.recent_uses(db, consumer=consumer)
        newest = db.scalar(select(func.max(ChainEventRow.id))) or 0
        alerts = views.recent_alerts(db) if visitor.has("auditor", "department") else None
        return pages.page(request, "monitor.html", visitor, nav="monitor", uses=uses, alerts=alerts,
                          after=newest, own=consumer is not None)

    @api.get("/stream/uses")
    async def stream(request: Request, node: Node, visitor: Watcher,
                     after: Annotated[int | None, Query(ge=0, lt=2**63)] = None) -> StreamingResponse:
        """The usage stream for EventSource, which sends the session cookie but no bearer token."""
        assert visitor.principal is not None
        consumer = visitor.principal.address if visitor.principal.roles == {"consumer"} else None
        # A reconnecting EventSource says where it stopped.
        resumed = request.headers.get("last-event-id", "")
        if resumed.isdigit() and len(resumed) < 19:
            after = int(resumed)

        async def events() -> AsyncIterator[str]:
            yield "retry: 2000\n\n"
            async for event in usage_stream(node.sessions, after=after, consumer=consumer, poll=0.25):
                yield f"id: {event.id}\nevent: use\ndata: {json.dumps(asdict(event))}\n\n"

        return event_stream(request, events(), headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return api
