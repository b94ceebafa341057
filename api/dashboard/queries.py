"""The Queries page, for a signed-in consumer: its query grants on this node's datasets (dataset,
purpose, fields, k, bounds, ε budget, spent, queued and left) with the queries recorded under
each, and a form to run an aggregate query, answered with the released table, the groups left
out under k and the hashes recorded on chain.

The form posts through the node's own route (``POST /grants/{id}/queries``, see
:mod:`api.routes.grants`), called in-process with the visitor's session token
(:mod:`api.dashboard.inprocess`): the query check, k, the noise and the ε budget keep their one
home there, and a refusal shows in the route's words. What the page lists is read by
:mod:`node.access.query_grants`, which the route ``GET /grants/{id}/queries`` reads too.
"""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from api.auth.service import Auth
from api.dashboard.inprocess import NodeRoutes, refusal_text
from api.dashboard.render import Pages
from api.dashboard.session import PATH, Visitor, checked_form, signed_in
from api.deps import Id32, Node
from node.access.query_grants import GrantQueries, consumer_query_grants
from node.service import NodeService


def _grants(node: NodeService, consumer: str) -> list[GrantQueries]:
    with node.sessions() as session:
        return consumer_query_grants(session, node.ledger, consumer)


def router(auth: Auth, pages: Pages) -> APIRouter:
    api = APIRouter(prefix=PATH, include_in_schema=False)
    Consumer = Annotated[Visitor, Depends(signed_in(auth, "consumer"))]
    ConsumerForm = Annotated[tuple[Visitor, dict[str, str]], Depends(checked_form(auth, "consumer"))]

    async def page(request: Request, node: NodeService, visitor: Visitor, *, status: int = 200,
                   error: str | None = None, grant: str | None = None, sql: str = "", epsilon: str = "",
                   released: dict[str, Any] | None = None) -> HTMLResponse:
        assert visitor.principal is not None
        grants = await run_in_threadpool(_grants, node, visitor.principal.address)
        return pages.page(request, "queries.html", visitor, status=status, nav="queries", grants=grants, error=error,
                          chosen=grant, sql=sql, epsilon=epsilon, released=released)

    @api.get("/queries")
    async def shown(request: Request, node: Node, visitor: Consumer) -> HTMLResponse:
        return await page(request, node, visitor)

    @api.post("/queries/{grant_id}")
    async def run(request: Request, grant_id: Id32, node: Node, form: ConsumerForm) -> HTMLResponse:
        visitor, fields = form
        grant, sql, epsilon = grant_id.lower(), fields.get("sql", ""), fields.get("epsilon", "").strip()
        status, answer = await NodeRoutes(request, visitor).call("POST", f"/grants/{grant}/queries",
                                                                 {"sql": sql, "epsilon": epsilon})
        if status != 201:
            return await page(request, node, visitor, status=status if status >= 400 else 502, grant=grant, sql=sql,
                              epsilon=epsilon, error=refusal_text(status, answer))
        return await page(request, node, visitor, grant=grant, sql=sql, epsilon=epsilon, released=answer)

    return api
