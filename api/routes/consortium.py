"""The consortium's governance: its state for everyone signed in; proposals and votes on members,
sponsored consumers and service accounts for a member department's admins; auditors,
coordinators, the pause and the end of founding for the coordinator's (:mod:`node.governance`)."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.auth.service import Auth
from api.auth.tokens import Principal
from api.deps import DB, RECORDS, RECORDS_WHILE_PAUSED, Id32, Node
from api.errors import errors
from api.schemas.consortium import (
    AccountIn, AdmissionIn, ConsortiumOut, ConsumerIn, ProposalIn, ProposalWriteOut, ReasonIn,
)
from api.schemas.grants import WriteOut
from node.governance import actions
from node.governance.state import ConsortiumState, read_state
from node.models import OutboxEntry

AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="an account's 0x address")]
WRITE_ERRORS = errors(403, 404, 409, 422)


def router(auth: Auth) -> APIRouter:
    api = APIRouter(prefix="/consortium", tags=["consortium"])
    Party = Annotated[Principal, Depends(auth.require("department", "consumer", "auditor", staff="viewer"))]
    Admin = Annotated[Principal, Depends(auth.require("department", staff="admin"))]

    def written(db: DB, entry: OutboxEntry) -> WriteOut:
        db.commit()
        return WriteOut.model_validate(entry)

    @api.get("", response_model=ConsortiumOut, summary="Members, proposals, consumers, auditors, coordinators and "
                                                        "the pause, as the chain holds them")
    def state(db: DB, node: Node, who: Party) -> ConsortiumState:
        return read_state(db, node.ledger, auth.names, department=node.settings.department_id)

    # ------------------------------------------------------------ members

    @api.post("/proposals", status_code=202, response_model=ProposalWriteOut, dependencies=[RECORDS],
              responses=WRITE_ERRORS, summary="Propose admitting or removing a department (a member's admin)")
    def propose(body: ProposalIn, db: DB, node: Node, who: Admin) -> ProposalWriteOut:
        department = node.settings.department_id
        if isinstance(body, AdmissionIn):
            entry, proposal = actions.propose_admission(
                db, node.ledger, department, code=body.code, name=body.name, validator=body.validator,
                service_account=body.service_account)
        else:
            entry, proposal = actions.propose_removal(db, node.ledger, department, code=body.code)
        out = written(db, entry)
        return ProposalWriteOut(**out.model_dump(), proposal=proposal)

    @api.post("/proposals/{proposal}/vote", status_code=202, response_model=WriteOut, dependencies=[RECORDS],
              responses=WRITE_ERRORS, summary="Vote for a proposal, for this node's department")
    def vote(proposal: Id32, db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.vote(db, node.ledger, node.settings.department_id, proposal.lower()))

    @api.post("/proposals/{proposal}/execute", status_code=202, response_model=WriteOut, dependencies=[RECORDS],
              responses=WRITE_ERRORS, summary="Carry out a proposal a majority of the members voted for")
    def execute(proposal: Id32, db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.execute(db, node.ledger, node.settings.department_id, proposal.lower()))

    # ------------------------------------------------------------ consumers and service accounts

    @api.post("/consumers", status_code=202, response_model=WriteOut, dependencies=[RECORDS], responses=WRITE_ERRORS,
              summary="Sponsor a consumer; its profile goes on chain, hashed in its registration")
    def register_consumer(body: ConsumerIn, db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.register_consumer(
            db, node.ledger, node.settings.department_id, consumer=body.address, organisation=body.organisation,
            contact=body.contact, purpose=body.purpose))

    @api.post("/consumers/{address}/remove", status_code=202, response_model=WriteOut, dependencies=[RECORDS],
              responses=WRITE_ERRORS, summary="Remove a consumer (its sponsor, or the coordinator)")
    def remove_consumer(address: AddressPath, body: ReasonIn, db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.remove_consumer(db, node.ledger, node.settings.department_id, consumer=address,
                                                   reason=body.reason))

    @api.post("/service-accounts", status_code=202, response_model=WriteOut, dependencies=[RECORDS],
              responses=WRITE_ERRORS, summary="Offer an account a place among this department's service accounts; "
                                              "it accepts by relaying its own Consortium.acceptServiceAccount")
    def offer_service_account(body: AccountIn, db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.offer_service_account(db, node.ledger, node.settings.department_id,
                                                         account=body.address))

    @api.post("/service-accounts/{address}/remove", status_code=202, response_model=WriteOut, dependencies=[RECORDS],
              responses=WRITE_ERRORS, summary="Remove one of this department's service accounts")
    def remove_service_account(address: AddressPath, db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.remove_service_account(db, node.ledger, node.settings.department_id,
                                                          account=address))

    # ------------------------------------------------------------ the coordinator

    for role in ("auditor", "coordinator"):
        def appoint(body: AccountIn, db: DB, node: Node, who: Admin, role: actions.Role = role) -> WriteOut:
            return written(db, actions.appoint(db, node.ledger, node.settings.department_id, role, body.address))

        def dismiss(address: AddressPath, db: DB, node: Node, who: Admin, role: actions.Role = role) -> WriteOut:
            return written(db, actions.dismiss(db, node.ledger, node.settings.department_id, role, address))

        api.add_api_route(f"/{role}s", appoint, methods=["POST"], status_code=202, response_model=WriteOut,
                          dependencies=[RECORDS], responses=WRITE_ERRORS, name=f"appoint_{role}",
                          summary=f"Appoint an {role} (the coordinator)")
        api.add_api_route(f"/{role}s/{{address}}/remove", dismiss, methods=["POST"], status_code=202,
                          response_model=WriteOut, dependencies=[RECORDS], responses=WRITE_ERRORS,
                          name=f"remove_{role}", summary=f"Remove an {role} (the coordinator)")

    @api.post("/pause", status_code=202, response_model=WriteOut, dependencies=[RECORDS], responses=WRITE_ERRORS,
              summary="Pause the ledger, with a reason (the coordinator): every write and delivery is refused "
                      "until it resumes")
    def pause(body: ReasonIn, db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.pause(db, node.ledger, node.settings.department_id, reason=body.reason))

    @api.post("/resume", status_code=202, response_model=WriteOut, dependencies=[RECORDS_WHILE_PAUSED],
              responses=WRITE_ERRORS, summary="Resume the ledger, with a reason (the coordinator)")
    def resume(body: ReasonIn, db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.resume(db, node.ledger, node.settings.department_id, reason=body.reason))

    @api.post("/close-founding", status_code=202, response_model=WriteOut, dependencies=[RECORDS],
              responses=WRITE_ERRORS, summary="End the founding phase (the coordinator)")
    def close_founding(db: DB, node: Node, who: Admin) -> WriteOut:
        return written(db, actions.close_founding(db, node.ledger, node.settings.department_id))

    return api
