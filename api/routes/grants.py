"""Access: the review queue and decisions (departments, the coordinator), consumers' own grants,
uses and deliveries, relayed consumer transactions, settlement statements, and chain writes."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from web3 import Web3

from api.auth.service import Auth
from api.auth.tokens import Principal
from api.errors import errors
from api.deps import DB, RECORDS, Id32, Node, Number, file_chunks
from api.schemas.base import MAX_NUMBER
from api.schemas.grants import (
    Approval, DeliveryIn, DeliveryOut, GrantOut, GrantQueriesOut, QueryIn, QueryOut, QueueItemOut, Reason, RelayIn, RelayOut, RelayParams,
    StatementCheckIn, StatementCheckOut, StatementIn, StatementOut, UseOut, WriteOut,
)
from ledger.clients import Action
from node.access import review
from node.access.queries import run_granted_query
from node.access.query_grants import GrantQueries, grant_queries, readable_grant
from node.access.queue import QueueItem, review_queue
from node.access.delivery import checks, retention
from node.access.delivery.serve import Request as DeliveryRequest
from node.access.delivery.serve import deliver
from node.errors import NotFound, NotPermitted
from node.formats import FORMATS
from node.query import epsilon_micro, epsilon_text
from node.models import Delivery, Grant, OutboxEntry, Statement
from node.audit.monitor import UsageEvent, use_events
from node.chain.relay import ACCOUNT_CALLS, CONSUMER_CALLS, Relayed, relay, relayed
from node.access.settlement import accept_statement, build_statement, chain_terms


def router(auth: Auth) -> APIRouter:
    api = APIRouter()
    Viewer = Annotated[Principal, Depends(auth.require("department", staff="viewer"))]
    Reviewer = Annotated[Principal, Depends(auth.require("department", staff="reviewer"))]
    Steward = Annotated[Principal, Depends(auth.require("department", staff="steward"))]
    Coordinator = Annotated[Principal, Depends(auth.require("coordinator", staff="reviewer"))]
    Consumer = Annotated[Principal, Depends(auth.require("consumer"))]
    Party = Annotated[Principal, Depends(auth.require("department", "consumer", "auditor", staff="viewer"))]
    Anyone = Annotated[Principal | None, Depends(auth.optional())]

    # ------------------------------------------------------------ review

    @api.get("/review/queue", response_model=list[QueueItemOut], tags=["review"],
             summary="Requests waiting for this department (and, on the coordinator's node, co-approvals)")
    def queue(db: DB, node: Node, who: Viewer) -> list[QueueItem]:
        return review_queue(db, node.ledger, node.settings.department_id, coordinator="coordinator" in who.roles)

    def decided(entry: OutboxEntry) -> WriteOut:
        return WriteOut.model_validate(entry)

    @api.post("/grants/{grant_id}/approve", status_code=202, response_model=WriteOut, tags=["review"],
              dependencies=[RECORDS], responses=errors(404, 409, 422))
    def approve(grant_id: Id32, body: Approval, db: DB, node: Node, who: Reviewer) -> WriteOut:
        entry = review.approve(db, node.ledger, node.settings.department_id, grant_id.lower(), reason=body.reason,
                               price_per_use=body.price_per_use)
        db.commit()
        return decided(entry)

    @api.post("/grants/{grant_id}/reject", status_code=202, response_model=WriteOut, tags=["review"],
              dependencies=[RECORDS], responses=errors(404, 409, 422))
    def reject(grant_id: Id32, body: Reason, db: DB, node: Node, who: Reviewer) -> WriteOut:
        entry = review.reject(db, node.ledger, node.settings.department_id, grant_id.lower(), reason=body.reason)
        db.commit()
        return decided(entry)

    @api.post("/grants/{grant_id}/co-approve", status_code=202, response_model=WriteOut, tags=["review"],
              dependencies=[RECORDS], responses=errors(404, 409, 422),
              summary="The coordinator's co-approval (grades 3 and 4)")
    def co_approve(grant_id: Id32, body: Approval, db: DB, node: Node, who: Coordinator) -> WriteOut:
        entry = review.co_approve(db, node.ledger, node.settings.department_id, grant_id.lower(), reason=body.reason)
        db.commit()
        return decided(entry)

    @api.post("/grants/{grant_id}/revoke", status_code=202, response_model=WriteOut, tags=["review"],
              dependencies=[RECORDS], responses=errors(404, 409, 422))
    def revoke(grant_id: Id32, body: Reason, db: DB, node: Node, who: Reviewer) -> WriteOut:
        entry = review.revoke(db, node.ledger, node.settings.department_id, grant_id.lower(), reason=body.reason)
        db.commit()
        return decided(entry)

    @api.get("/writes/{write_id}", response_model=WriteOut, tags=["review"], responses=errors(404),
             summary="Follow a chain write the node accepted")
    def write(write_id: Number, db: DB, who: Viewer) -> OutboxEntry:
        entry = db.get(OutboxEntry, write_id)
        if entry is None:
            raise NotFound("write", str(write_id))
        return entry

    # ------------------------------------------------------------ consumers

    def relay_scope(who: Principal | None) -> dict[str, Any]:
        """A consumer's calls for a consumer; an account's own consent for anyone else."""
        if who is not None and "consumer" in who.roles:
            return {"caller": who.address, "allowed": CONSUMER_CALLS}
        return {"caller": None, "allowed": ACCOUNT_CALLS}

    def relay_out(done: Relayed) -> RelayOut:
        return RelayOut(tx_hash=done.tx_hash, function=done.function, status=done.status,
                        block_number=done.block_number, error=done.error, follow=f"/relay/{done.tx_hash}")

    @api.post("/relay", status_code=202, response_model=RelayOut, tags=["consumers"],
              responses=errors(403, 409, 422),
              summary="Relay a transaction the consumer signed (request access, withdraw, acknowledge a statement); "
                      "answered once sent, follow it at /relay/{tx_hash}")
    def relay_send(body: RelayIn, response: Response, node: Node, who: Anyone) -> RelayOut:
        """The transaction must carry the sender's next nonce (pending ones counted), else 409.
        Without a session, only an account accepting a department's standing offer of a place
        among its service accounts (``Consortium.acceptServiceAccount``) is relayed."""
        sent = relay_out(relay(node.ledger, body.raw_transaction, **relay_scope(who)))
        response.headers["Location"] = sent.follow
        return sent

    @api.get("/relay/params", response_model=RelayParams, tags=["consumers"], responses=errors(403),
             summary="Chain id, the caller's next nonce, gas price and contract addresses, to sign for /relay")
    def relay_params(node: Node, who: Anyone,
                     address: Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$",
                                                          description="without a consumer's session: the account "
                                                                      "that signs (accepting a service account offer)")]
                     = None) -> RelayParams:
        caller = who.address if who is not None and "consumer" in who.roles else address and Web3.to_checksum_address(
            address)
        if caller is None:
            raise NotPermitted("this caller", "read relay parameters", "sign in as a consumer, or give ?address=")
        w3 = node.ledger.w3
        return RelayParams(chain_id=node.ledger.manifest.chain_id,
                           nonce=w3.eth.get_transaction_count(caller, "pending"),  # type: ignore[arg-type]
                           gas_price=w3.eth.gas_price, addresses=dict(node.ledger.manifest.addresses))

    # After /relay/params: a path of its own is no transaction hash.
    @api.get("/relay/{tx_hash}", response_model=RelayOut, tags=["consumers"], responses=errors(403, 404),
             summary="A relayed transaction: pending, or mined with its outcome")
    def relay_follow(tx_hash: Id32, node: Node, who: Anyone) -> RelayOut:
        return relay_out(relayed(node.ledger, tx_hash, **relay_scope(who)))

    @api.get("/me/grants", response_model=list[GrantOut], tags=["consumers"],
             summary="The caller's grants on this node's datasets, as indexed")
    def my_grants(db: DB, who: Consumer) -> list[Grant]:
        return list(db.scalars(select(Grant).where(Grant.grantee == who.address).order_by(Grant.requested_block)))

    @api.get("/me/uses", response_model=list[UseOut], tags=["consumers"], responses=errors(422),
             summary="Uses of the caller's grants, and its refused attempts on others', oldest first, paged by id")
    def my_uses(db: DB, who: Consumer, after: Annotated[int, Query(ge=0, le=MAX_NUMBER)] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[UsageEvent]:
        return use_events(db, after, limit, consumer=who.address)

    @api.post("/grants/{grant_id}/deliveries", status_code=201, response_model=DeliveryOut, tags=["consumers"],
              dependencies=[RECORDS], responses=errors(404, 409, 410, 422),
              summary="Ask for a delivery: the grant is checked on-chain now; the use is recorded with its hash")
    def delivery(grant_id: Id32, body: DeliveryIn, db: DB, node: Node, who: Consumer) -> DeliveryOut:
        key = bytes.fromhex(body.public_key[2:]) if body.public_key else None
        row = deliver(db, node.ledger, department=node.settings.department_id, key=node.fingerprint_key,
                      out_dir=node.deliveries_dir, store=node.store,
                      request=DeliveryRequest(grant_id.lower(), who.address, version=body.version, encrypt_to=key,
                                              encoding=body.encoding))
        return DeliveryOut(delivery_id=row.delivery_id, grant_id=row.grant_id, dataset_id=row.dataset_id,
                           consumer=row.consumer, kind=row.kind, encoding=row.encoding, encrypted=row.encrypted,
                           rows=row.rows, size=row.size,
                           evidence_hash=row.evidence_hash, download=f"/deliveries/{row.delivery_id}/content")

    @api.post("/grants/{grant_id}/queries", status_code=201, response_model=QueryOut, tags=["consumers"],
              dependencies=[RECORDS], responses=errors(403, 404, 409, 410, 422),
              summary="Run an aggregate query under a query grant: checked on-chain now, released with privacy "
                      "checks (k, noise), recorded on-chain with its hashes and ε")
    def grant_query(grant_id: Id32, body: QueryIn, db: DB, node: Node, who: Consumer) -> QueryOut:
        """422 names what is refused (the SQL's construct, ε over the grant's cap); 409 when the
        grant's ε budget or quota is spent; 403 when the grant allows no query now."""
        outcome = run_granted_query(db, node.ledger, department=node.settings.department_id, grant_id=grant_id,
                                    consumer=who.address, sql=body.sql, epsilon_micro=epsilon_micro(str(body.epsilon)),
                                    version=body.version, store=node.store)
        result = outcome.result
        return QueryOut(columns=result.columns, rows=result.rows, release_threshold=result.release_threshold,
                        rows_scanned=result.rows_scanned, epsilon=epsilon_text(result.epsilon),
                        normalised_sql=result.normalised_sql, query_hash="0x" + result.query_hash.hex(),
                        result_json=result.result_json.decode(), result_hash="0x" + result.result_hash.hex(),
                        write=WriteOut.model_validate(outcome.entry))

    @api.get("/grants/{grant_id}/queries", response_model=GrantQueriesOut, tags=["consumers"],
             responses=errors(403, 404),
             summary="A query grant on this node's datasets: its terms, ε spent, queued and left, and its queries "
                     "(its consumer, this department's staff, an auditor)")
    def grant_queries_of(grant_id: Id32, db: DB, node: Node, who: Party) -> GrantQueries:
        grant, dataset = readable_grant(db, grant_id, consumer=who.address if who.roles == {"consumer"} else None)
        return grant_queries(db, node.ledger, grant, dataset)

    @api.get("/deliveries/{delivery_id}/content", tags=["consumers"],
             responses={**errors(404, 409, 410), 200: {"content": {"application/octet-stream": {}}}},
             summary="Stream a delivery's bytes: exactly those whose hash was recorded (410 once the copy "
                     "is past its retention: its receipt stays)")
    def content(delivery_id: Id32, db: DB, node: Node, who: Consumer) -> StreamingResponse:
        row = db.get(Delivery, delivery_id.lower())
        if row is None:
            raise NotFound("delivery", delivery_id)
        if row.consumer != who.address:
            raise NotPermitted(who.address, "download this delivery", "it was made for another consumer")
        # The grant is read again now: a copy made before a revocation, a removal or a freeze
        # does not leave after it.
        grant = checks.grant_for(node.ledger, row.grant_id, who.address)
        checks.require_not_paused(node.ledger)
        checks.require_grant_allows(node.ledger, row.grant_id, grant, Action.DOWNLOAD)
        charset = f"; charset={row.encoding or 'utf-8'}"
        media = "application/octet-stream" if row.encrypted else FORMATS[row.kind].media_type + charset
        source = retention.open_copy(row, node.store)

        def chunks() -> Iterator[bytes]:
            yield from file_chunks(source)
            with node.sessions() as session:
                retention.mark_downloaded(session, row.delivery_id)

        return StreamingResponse(chunks(), media_type=media,
                                 headers={"X-Provledger-Evidence": row.evidence_hash,
                                          "Content-Disposition": f'attachment; filename="{Path(row.path).name}"'})

    # ------------------------------------------------------------ settlement

    @api.post("/statements", status_code=201, response_model=StatementOut, tags=["settlement"],
              dependencies=[RECORDS], responses=errors(409, 422),
              summary="Build a consumer's statement for a period from indexed uses; acknowledged on-chain by us")
    def statement(body: StatementIn, db: DB, node: Node, who: Steward) -> Statement:
        row = build_statement(db, department=node.settings.department_id, consumer=body.consumer,
                              period_start=body.period_start, period_end=body.period_end)
        db.commit()
        return row

    @api.post("/statements/check", response_model=StatementCheckOut, tags=["settlement"],
              responses=errors(422, 503),
              summary="Check a statement against the chain, as its consumer does before acknowledging it")
    def statement_check(body: StatementCheckIn, node: Node, who: Party) -> StatementCheckOut:
        """Reads the chain only, never this node's SQL, so a consumer may ask any department's
        node, not only the one that bills it. A repeated grant, a period overlapping one already
        acknowledged or issued, a line on a dataset the billing department does not own, or a
        count or price that differs from the chain is refused with a 422 naming each problem."""
        consumer = body.body.get("consumer")
        if who.roles == {"consumer"} and (not isinstance(consumer, str) or consumer.lower() != who.address.lower()):
            raise NotPermitted(who.address, "check this statement", "it is another consumer's")
        accept_statement(node.ledger, body.body)
        terms = chain_terms(body.body)
        return StatementCheckOut(statement_id="0x" + terms.statement_id.hex(),
                                 statement_hash="0x" + terms.statement_hash.hex(), amount=str(terms.amount),
                                 lines=len(body.body["lines"]))

    @api.get("/statements/{statement_id:hex32}", response_model=StatementOut, tags=["settlement"],
             responses=errors(404), summary="A statement, for its consumer to check and acknowledge")
    def statement_of(statement_id: Id32, db: DB, who: Party) -> Statement:
        row = db.get(Statement, statement_id.lower())
        if row is None:
            raise NotFound("statement", statement_id)
        if who.roles == {"consumer"} and row.consumer != who.address:
            raise NotPermitted(who.address, "read this statement", "it is another consumer's")
        return row

    return api
