"""Quality issues across departments: every issue this department takes part in, with its texts;
opening one (the coordinator on any department's data, a department on its own), closing or
reopening it after a repair. Checks of a department's own versions and repairs are with the
datasets (``api.routes.datasets``)."""

# No `from __future__ import annotations`: FastAPI reads the role dependencies, made per app, at runtime.

from typing import Annotated, Literal

from fastapi import APIRouter, Depends

from api.auth.service import Auth
from api.auth.tokens import Principal
from api.deps import DB, RECORDS, Id32, Node
from api.errors import errors
from api.schemas.grants import WriteOut
from api.schemas.quality import IssueIn, IssueOpenedOut, IssueViewOut, VerdictIn
from node.errors import InvalidInput
from node.quality import issues, loop


def router(auth: Auth) -> APIRouter:
    api = APIRouter(prefix="/quality", tags=["quality"])
    Viewer = Annotated[Principal, Depends(auth.require("department", staff="viewer"))]
    Steward = Annotated[Principal, Depends(auth.require("department", staff="steward"))]

    @api.get("/issues", response_model=list[IssueViewOut],
             summary="Quality issues on this department's datasets or opened by it (on the coordinator's node: all), "
                     "with the report and notes behind their hashes")
    def listed(db: DB, node: Node, who: Viewer) -> list[issues.IssueView]:
        return issues.issue_views(db, node.ledger, node.settings.department_id, coordinator="coordinator" in who.roles)

    @api.post("/issues", status_code=202, response_model=IssueOpenedOut, dependencies=[RECORDS],
              responses=errors(403, 404, 409, 422),
              summary="Open an issue on a dataset version, by hand with findings or from a failing report; "
                      "it is returned to the source department")
    def open_issue(body: IssueIn, db: DB, node: Node, who: Steward) -> IssueOpenedOut:
        department = node.settings.department_id
        if body.report_id is not None:
            if body.dataset_id or body.version or body.findings:
                raise InvalidInput("report_id", "names the report: give no dataset_id, version or findings with it")
            issue_id = loop.open_from_report(db, node.ledger, body.report_id, note=body.note)
        else:
            if body.dataset_id is None or body.version is None:
                raise InvalidInput("dataset_id", "an issue opened by hand names a dataset_id and a version")
            issue_id = issues.open_by_hand(db, node.ledger, department, dataset_id=body.dataset_id,
                                           version=body.version, findings=[f.finding() for f in body.findings],
                                           note=body.note)
        db.commit()
        return IssueOpenedOut(issue_id=issue_id, follow="/quality/issues")

    @api.post("/issues/{issue_id}/{verdict}", status_code=202, response_model=WriteOut, dependencies=[RECORDS],
              responses=errors(403, 404, 409, 422),
              summary="Verify a repair (the issue's opener's department or the coordinator): close the issue if it "
                      "holds, reopen it, saying why, if not")
    def verify(issue_id: Id32, verdict: Literal["close", "reopen"], body: VerdictIn, db: DB, node: Node,
               who: Steward) -> WriteOut:
        entry = issues.verify(db, node.ledger, node.settings.department_id, issue_id, close=verdict == "close",
                              note=body.note)
        db.commit()
        return WriteOut.model_validate(entry)

    return api
