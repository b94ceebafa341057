"""``python -m api``: serve one department node's API from ``PROVLEDGER_*`` settings."""

from __future__ import annotations

import sys

import uvicorn
from pydantic import ValidationError

from api.app import ApiSettings, create_app
from api.streams import Server
from node.errors import NodeError
from node.service import NodeService
from node.settings import startup_error


def main() -> int:
    try:
        settings = ApiSettings()  # type: ignore[call-arg]
        node = NodeService.start(settings)
    except (ValidationError, NodeError) as err:
        print(startup_error(err), file=sys.stderr)
        return 2
    app = create_app(node, domain=settings.domain, token_lifetime=settings.token_lifetime,
                     role_ttl=settings.role_ttl)
    try:
        # The server ends live streams as it stops; other responses have 5 s to finish.
        Server(uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="info",
                              timeout_graceful_shutdown=5)).run()
    finally:
        node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
