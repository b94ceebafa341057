"""Pages from Jinja2 templates, sent with headers that keep them to this origin; and the two
ways a page is refused (a sign-in needed, or not this visitor's) turned into pages too."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth.service import Auth
from api.dashboard.session import PATH, PageRefused, SignInNeeded, Visitor, visitors
from api.dashboard.trace import short, title
from api.dashboard.views import DECISIONS
from node.catalog.freshness import duration

HERE = Path(__file__).parent
STATIC = HERE / "static"

# Scripts, styles and connections from this origin only; no inline script, no framing.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(value: int | float | datetime | None) -> str:
    """A block time or a stored date as ``2026-05-01 08:10:00 UTC``."""
    if value is None:
        return "-"
    moment = value if isinstance(value, datetime) else datetime.fromtimestamp(value, timezone.utc)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters.update(duration=duration, short=short, title=title, when=_when)
templates.env.globals.update(base=PATH, decisions=DECISIONS)


class Pages:
    """Renders the dashboard's pages for one node."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth
        # Error pages only show who is signed in: no chain read there, which could fail again.
        self.visitor = visitors(auth, on_chain=False)

    def page(self, request: Request, name: str, visitor: Visitor, *, status: int = 200,
             headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        names = self.auth.names
        # An error page reads nothing on chain, which could fail again: a name not read yet is the code.
        label = names.label(self.auth.department, read=name != "error.html")
        context = {"visitor": visitor, "department": label, "department_name": names.name,
                   "department_label": names.label, "own_department": self.auth.department, **context}
        return templates.TemplateResponse(request, name, context, status_code=status,
                                          headers={**HEADERS, **(headers or {})})

    async def sign_in_needed(self, request: Request, err: Exception) -> Response:
        assert isinstance(err, SignInNeeded)
        return RedirectResponse(f"{PATH}/sign-in?next={quote(err.then, safe='/')}", status_code=303,
                                headers={"Cache-Control": "no-store"})

    async def refused(self, request: Request, err: Exception) -> Response:
        assert isinstance(err, PageRefused)
        return self.page(request, "error.html", self.visitor(request), status=err.status, message=err.message)
