"""The API app: one department node behind FastAPI, its background work in the app's lifespan.

``create_app`` wires the routers, the sign-in, the error handler and metrics around a started
:class:`node.service.NodeService`; ``python -m api`` (or ``provledger serve``) starts one from
``PROVLEDGER_*`` settings, validated before anything listens.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from pydantic import Field

from api import dashboard, errors, redact
from api.auth.service import Auth
from api.limits import RateLimits
from api.limits import install as limit_doors
from api.routes import audit, consortium, datasets, grants, quality, staff, system
from api.routes.system import Measured, Metrics
from node.service import NodeService
from node.settings import NodeSettings

DESCRIPTION = """\
A department's node of the provledger consortium chain.

* **Departments** (staff sign in with a password at `/auth/staff`) register datasets and
  versions, review access requests, freeze datasets, run the quality loop, issue statements,
  each within the staff role of the account: `admin` (manages staff at `/staff`, may do
  everything), `reviewer` (review decisions, freezes), `steward` (datasets, versions, quality,
  statements), `viewer` (reads).
* **Consumers and auditors** sign in with Ethereum (EIP-4361): `GET /auth/nonce`, sign the
  message, `POST /auth/siwe`. Roles come from the Consortium contract.
* **The public** browses the catalog and downloads open data, each download logged.

Every chain write a route accepts goes through the node's durable outbox (202 with the write
to follow at `/writes/{id}`); every trace item carries what is needed to verify it on-chain.
"""


class ApiSettings(NodeSettings):
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65535)
    api_domain: str | None = Field(default=None, description="the domain sign-in messages must name; default host:port")
    token_lifetime: int = Field(default=3600, ge=60, le=7 * 86400)
    role_ttl: float = Field(default=3.0, ge=0.0, le=60.0,
                            description="seconds a session's roles read on chain are trusted before read again")

    @property
    def domain(self) -> str:
        return self.api_domain or f"{self.api_host}:{self.api_port}"


def create_app(node: NodeService, *, domain: str, token_lifetime: int = 3600, role_ttl: float = 3.0,
               background: bool = True) -> FastAPI:
    """The app for ``node``; with ``background``, the node's outbox, anchoring, indexer and
    monitor run while the app does."""
    auth = Auth.for_node(node, domain=domain, token_lifetime=token_lifetime, role_ttl=role_ttl)
    metrics = Metrics(public=node.settings.metrics_public)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker = threading.Thread(target=node.run, args=(stop,), name="node", daemon=True) if background else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=30)

    app = FastAPI(title="provledger node API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.node = node
    app.state.auth = auth
    errors.install(app)
    app.include_router(auth.router())
    for module in (datasets, grants, quality, audit, staff, consortium):
        app.include_router(module.router(auth))
    app.include_router(system.router(auth, metrics))
    dashboard.install(app, auth)
    limit_doors(app, RateLimits(node.settings))
    redact.install()

    app.add_middleware(Measured, metrics=metrics)  # outermost: times the rate limits' refusals too
    return app
