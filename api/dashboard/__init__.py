"""The web dashboard, served by the node's API itself: server-rendered pages (Jinja2), a small
script and a style sheet from this package, nothing from elsewhere at run time.

    /dashboard/catalog                  anyone: every department's datasets; search, grade, owner, freshness
    /dashboard/review                   department staff: the review queue, approve or reject
    /dashboard/quality                  department staff: quality issues (the coordinator: all), open, repair, close
    /dashboard/datasets/{id}/trace      auditors and staff: timeline and lineage, each item verified
    /dashboard/datasets/{id}/purge      steward staff of the owner: purge a version or a person's records (confirmed)
    /dashboard/monitor                  signed in: the live usage stream (and the alerts, for auditors and staff)
    /dashboard/staff                    admin staff: the accounts, their roles; add, change, disable
    /dashboard/queries                  consumers: their query grants, ε spent and left, their queries; run one
    /dashboard/consortium               signed in: members, proposals, consumers, auditors, the pause; the
                                        forms of the roles that hold them (vote, propose, sponsor, pause)

Sign-in is the API's own (see :mod:`api.dashboard.signin`), its token kept in an HttpOnly
cookie (see :mod:`api.dashboard.session`).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.auth.service import Auth
from api.dashboard import consortium, pages, purge, quality, queries, signin, staff
from api.dashboard.links import LoginLinks
from api.dashboard.render import STATIC, Pages
from api.dashboard.session import PATH, PageRefused, SignInNeeded


def install(app: FastAPI, auth: Auth) -> None:
    """Serve the dashboard from ``app``: its pages, its sign-in routes and its static files."""
    rendered = Pages(auth)
    app.include_router(signin.router(auth, rendered, LoginLinks(auth.single_use("dashboard login link", 20))))
    app.include_router(pages.router(auth, rendered))
    app.include_router(quality.router(auth, rendered))
    app.include_router(purge.router(auth, rendered))
    app.include_router(staff.router(auth, rendered))
    app.include_router(consortium.router(auth, rendered))
    app.include_router(queries.router(auth, rendered))
    app.mount(f"{PATH}/static", StaticFiles(directory=STATIC), name="dashboard-static")
    app.add_exception_handler(SignInNeeded, rendered.sign_in_needed)
    app.add_exception_handler(PageRefused, rendered.refused)
