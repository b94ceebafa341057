"""The dashboard's purge page for one of this department's datasets: its versions, each purged
one with when and why; a steward purges a version, or one person's records, in two steps (the
form, then a page saying what will go and what stays, confirmed by a second post) through
:mod:`node.catalog.purge`, as ``POST /datasets/{id}/versions/{n}/purge`` and ``/purge-person`` do.
The ID number travels in the forms' bodies only: the confirmation page never holds it (it is typed
again there; the page names the person masked, ``110105********002X``), and one that is no resident
ID number (a wrong check character) is refused at the first form, masked too."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth.service import Auth
from api.dashboard.render import Pages
from api.dashboard.session import PATH, Visitor, checked_form, signed_in
from api.deps import DB, Id32, Node
from api.errors import status_of
from api.routes.datasets import own_dataset
from ledger.errors import LedgerError
from node.catalog import purge as purging
from node.chain.texts import texts
from node.errors import InvalidInput, NodeError
from node.fields import FieldClass, mask_value
from node.models import DatasetVersion
from node.service import NodeService


def _versions(db: Session, dataset_id: str) -> list[DatasetVersion]:
    return list(db.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
                           .order_by(DatasetVersion.number)))


def router(auth: Auth, pages: Pages) -> APIRouter:
    api = APIRouter(prefix=PATH, include_in_schema=False)
    Staff = Annotated[Visitor, Depends(signed_in(auth, "department", staff="steward"))]
    Steward = Annotated[tuple[Visitor, dict[str, str]], Depends(checked_form(auth, "department", staff="steward"))]

    def purge_page(request: Request, db: DB, node: NodeService, visitor: Visitor, dataset_id: str, *,
                   status: int = 200, error: str | None = None, confirm: dict[str, str] | None = None,
                   done: str | None = None) -> HTMLResponse:
        dataset = own_dataset(db, node, dataset_id)
        versions = _versions(db, dataset.dataset_id)
        return pages.page(request, "purge.html", visitor, status=status, nav="catalog", dataset=dataset,
                          versions=versions, reasons=texts(db, [v.purge_reason for v in versions]), error=error,
                          confirm=confirm, done=done)

    @api.get("/datasets/{dataset_id}/purge")
    def page(request: Request, dataset_id: Id32, db: DB, node: Node, visitor: Staff) -> HTMLResponse:
        return purge_page(request, db, node, visitor, dataset_id.lower())

    @api.post("/datasets/{dataset_id}/purge")
    def act(request: Request, dataset_id: Id32, db: DB, node: Node, form: Steward) -> Response:
        visitor, fields = form
        dataset_id = dataset_id.lower()
        own_dataset(db, node, dataset_id)
        chosen = {name: fields.get(name, "").strip() for name in ("version", "id_number", "reason")}
        try:
            if not chosen["reason"]:
                raise InvalidInput("reason", "a purge needs a reason")
            if bool(chosen["version"]) == bool(chosen["id_number"]):
                raise InvalidInput("version", "choose a version, or give a person's ID number (one of them)")
            # A typo is told at the form, before any confirmation; the confirmation names the person masked.
            person = mask_value(FieldClass.ID_NUMBER, purging.person_of(chosen["id_number"])) \
                if chosen["id_number"] else ""
            if fields.get("confirmed") != "yes":
                return purge_page(request, db, node, visitor, dataset_id, confirm={
                    "version": chosen["version"], "reason": chosen["reason"], "person": person})
            node.require_can_record()
            if chosen["version"]:
                if not chosen["version"].isdigit():
                    raise InvalidInput("version", "must be a version number")
                purging.purge_version(db, dataset_id=dataset_id, number=int(chosen["version"]),
                                      reason=chosen["reason"])
                done = f"version {chosen['version']} purged"
            else:
                made = purging.purge_person(db, node.store, dataset_id=dataset_id, id_number=chosen["id_number"],
                                            reason=chosen["reason"], salt=purging.subject_salt(node.settings.data_dir))
                done = "; ".join(f"version {old} purged, its successor is version {new}" for old, new in made.replaced)
            db.commit()
        except (NodeError, LedgerError) as err:
            db.rollback()
            return purge_page(request, db, node, visitor, dataset_id, status=status_of(err), error=str(err))
        purging.remove_purged(db)
        return RedirectResponse(f"{PATH}/datasets/{dataset_id}/purge?done={done}", status_code=303)

    return api
