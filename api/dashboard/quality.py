"""The dashboard's quality issues page: every issue this department takes part in (the
coordinator's node: all), with the report and the note behind each step; the coordinator opens
an issue on any department's version, the source names its repair, the opener or the coordinator
closes or reopens it (:mod:`node.quality.issues`)."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth.service import Auth
from api.dashboard.render import Pages
from api.dashboard.session import PATH, Visitor, checked_form, signed_in
from api.deps import DB, Id32, Node
from api.errors import status_of
from api.sessions import staff_allows
from ledger.deploy import department_id
from ledger.errors import LedgerError
from node.errors import InvalidInput, NodeError
from node.models import OutboxEntry
from node.quality import issues

WRITES = {"open_issue": "opening", "submit_repair": "repair", "close_issue": "closing", "reopen_issue": "reopening",
          "return_issue": "return"}


def _number(fields: dict[str, str], name: str) -> int:
    value = fields.get(name, "").strip()
    if not value.isdigit() or not 0 < int(value) < 2**31:
        raise InvalidInput(name, "must be a whole number from 1")
    return int(value)


def router(auth: Auth, pages: Pages) -> APIRouter:
    api = APIRouter(prefix=PATH, include_in_schema=False)
    Staff = Annotated[Visitor, Depends(signed_in(auth, "department", staff="viewer"))]
    Steward = Annotated[tuple[Visitor, dict[str, str]], Depends(checked_form(auth, "department", staff="steward"))]

    def quality_page(request: Request, db: DB, node: Node, visitor: Visitor, *, status: int = 200,
                     error: str | None = None, write: int | None = None, issue: str | None = None) -> HTMLResponse:
        coordinator = visitor.has("coordinator")
        department = node.settings.department_id
        found = issues.issue_views(db, node.ledger, department, coordinator=coordinator)
        entry = db.get(OutboxEntry, write) if write else None
        role = visitor.principal.staff_role if visitor.principal else None
        return pages.page(request, "quality.html", visitor, status=status, nav="quality", issues=found, error=error,
                          coordinator=coordinator, mine="0x" + department_id(department).hex(), opened=issue,
                          write=entry if entry and entry.kind in WRITES else None, writes=WRITES,
                          acts=role is not None and staff_allows(role, "steward"), role=role)

    @api.get("/quality")
    def listed(request: Request, db: DB, node: Node, visitor: Staff,
               write: Annotated[int | None, Query(ge=1, lt=2**31)] = None,
               issue: Annotated[str | None, Query(pattern=r"^0x[0-9a-f]{64}$")] = None) -> HTMLResponse:
        return quality_page(request, db, node, visitor, write=write, issue=issue)

    @api.post("/quality/open")
    def open_issue(request: Request, db: DB, node: Node, form: Steward) -> Response:
        visitor, fields = form
        try:
            node.require_can_record()
            findings = [issues.Finding.parse(line) for line in fields.get("findings", "").splitlines() if line.strip()]
            issue_id = issues.open_by_hand(db, node.ledger, node.settings.department_id,
                                           dataset_id=fields.get("dataset_id", "").strip().lower(),
                                           version=_number(fields, "version"), findings=findings,
                                           note=fields.get("note", ""))
            db.commit()
        except (NodeError, LedgerError) as err:
            db.rollback()
            return quality_page(request, db, node, visitor, status=status_of(err), error=str(err))
        return RedirectResponse(f"{PATH}/quality?issue={issue_id}", status_code=303)

    @api.post("/quality/{issue_id}/{step}")
    def act(request: Request, issue_id: Id32, step: Literal["repair", "close", "reopen"], db: DB, node: Node,
            form: Steward) -> Response:
        visitor, fields = form
        department, issue_id = node.settings.department_id, issue_id.lower()
        try:
            node.require_can_record()
            if step == "repair":
                entry = issues.repair(db, department, issue_id, _number(fields, "version"), note=fields.get("note", ""))
            else:
                entry = issues.verify(db, node.ledger, department, issue_id, close=step == "close",
                                      note=fields.get("note", ""))
            db.commit()
        except (NodeError, LedgerError) as err:
            db.rollback()
            return quality_page(request, db, node, visitor, status=status_of(err), error=str(err))
        return RedirectResponse(f"{PATH}/quality?write={entry.id}", status_code=303)

    return api
