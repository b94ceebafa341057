"""The node's own API routes, called in-process for one dashboard visitor with its session token,
which is the API's own: a page that acts through them keeps every rule (roles on chain, the
contract's refusals, the pause, the query checks) in its one home, and shows a refusal in the
route's words."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import Request

from api.dashboard.session import Visitor


class NodeRoutes:
    """The node's routes, called in-process for ``visitor``."""

    def __init__(self, request: Request, visitor: Visitor) -> None:
        # The visitor's own address, so that the API's rate limits count the visitor, not the dashboard.
        client = (request.client.host, request.client.port) if request.client else ("127.0.0.1", 123)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=request.app, client=client),
                                        base_url="http://node",
                                        headers={"Authorization": f"Bearer {visitor.token}"}, timeout=60)

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        async with self.client as client:
            response = await client.request(method, path, json=body)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None


def refusal_text(status: int, answer: Any) -> str:
    """A refusal of the routes in its own words."""
    error = answer.get("error") if isinstance(answer, dict) else None
    if isinstance(error, dict) and error.get("message"):
        reason = f" ({error['reason']})" if error.get("reason") else ""
        return f"{error['message']}{reason}"
    return f"The node answered {status}."
