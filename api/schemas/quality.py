"""Bodies of the quality routes across departments: opening an issue, verifying a repair, and
every issue with its texts in view (``node.quality.issues``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from api.schemas.base import ADDRESS_EXAMPLE, Body, Model
from api.schemas.grants import DepartmentRef
from api.schemas.mirror import mirrors
from node.quality.issues import MAX_FINDINGS, MAX_ROWS, Finding, IssueStep, IssueView


@mirrors(Finding)
class FindingIn(Body):
    field: str = Field(min_length=1, max_length=64, examples=["身份证号"])
    rows: list[int] = Field(max_length=MAX_ROWS, description="the 1-based record numbers (header not counted) "
                            "that show the problem; never a value", examples=[[3, 7]])
    problem: str = Field(min_length=1, max_length=500, examples=["check character wrong"])

    def finding(self) -> Finding:
        return Finding(self.field, list(self.rows), self.problem)


class IssueIn(Body):
    """By hand: ``dataset_id``, ``version`` and ``findings``; or from a failing report this node holds: ``report_id``."""

    dataset_id: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{64}$")
    version: int | None = Field(default=None, ge=1, le=2**32 - 1, description="a version number (uint32 on chain)")
    findings: list[FindingIn] = Field(default_factory=list, max_length=MAX_FINDINGS)
    report_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    note: str = Field(default="", max_length=2000, description="returned to the source with the issue",
                      examples=["请核实第3、7行身份证号后重新报送"])


class IssueOpenedOut(Model):
    issue_id: str
    follow: str = Field(description="GET /quality/issues lists it once the chain has it")


class VerdictIn(Body):
    note: str = Field(default="", max_length=2000, examples=["repair verified against the findings"])


@mirrors(IssueStep)
class IssueStepOut(Model):
    event: str = Field(examples=["IssueRepaired"])
    by: str = Field(examples=[ADDRESS_EXAMPLE])
    block: int
    at: int | None
    text: str | None = Field(description="the text behind the step's hash (report, note, reason), if published")
    repaired_version: int | None


@mirrors(IssueView)
class IssueViewOut(Model):
    issue_id: str
    dataset_id: str
    dataset_name: str | None
    version: int
    status: str = Field(examples=["returned"])
    repaired_version: int | None
    opened_block: int
    source_department: DepartmentRef
    opener: str
    opener_department: DepartmentRef | None
    report_hash: str
    report: dict[str, Any] | None
    steps: list[IssueStepOut]
