"""What routes share: the node behind the API, a database session per request, and the check that
refuses chain writes the node cannot record now."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, BinaryIO

from fastapi import Depends, Path as PathParam, Request
from sqlalchemy.orm import Session
from starlette.convertors import Convertor, register_url_convertor

from api.errors import answers
from node.service import NodeService


def node(request: Request) -> NodeService:
    service: NodeService = request.app.state.node
    return service


async def _node(request: Request) -> NodeService:
    """:func:`node` as a dependency: run on the event loop, as a sync one would cost each request
    a hop to the thread pool and back (as much as a plain trace page's own reading under load)."""
    return node(request)


def session(request: Request) -> Iterator[Session]:
    with node(request).sessions() as s:
        yield s


def can_record(request: Request) -> None:
    """Backpressure: a request that makes the node record on chain is refused (503, with why and
    ``Retry-After``) before anything is done or leaves, when the node could not record it now,
    or while the coordinator has paused the ledger (``ledger_paused``, with the reason)."""
    node(request).require_can_record()
    node(request).require_not_paused()


def can_record_paused(request: Request) -> None:
    """:func:`can_record` for the one write taken on while the ledger is paused: resuming it."""
    node(request).require_can_record()


Node = Annotated[NodeService, Depends(_node)]
RECORDS = Depends(answers(can_record, {503: "the node cannot record this now (its chain, outbox or indexer): the "
                                            "reasons are in the message; try again as Retry-After says"}))
"""For ``dependencies=[RECORDS]`` on every route that writes to the chain."""
RECORDS_WHILE_PAUSED = Depends(answers(can_record_paused, {503: "the node cannot record this now (its chain, outbox "
                                                                 "or indexer): the reasons are in the message"}))
""":data:`RECORDS` for the route that resumes a paused ledger."""
Id32 = Annotated[str, PathParam(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "ab" * 32],
                                 description="a 32-byte id in 0x hex")]
Number = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="a version or record number")]
DB = Annotated[Session, Depends(session)]


class Hex32(Convertor[str]):
    """``{name:hex32}`` in a path matches only a 32-byte id, so that a literal sibling path
    (``/statements/check``) is not also taken for an id: its other methods answer 405."""

    regex = "0x[0-9a-fA-F]{64}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("hex32", Hex32())


def file_chunks(source: Path | BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    """A file's bytes in chunks, for streamed responses; an open file is closed at the end."""
    with open(source, "rb") if isinstance(source, Path) else source as f:
        while chunk := f.read(size):
            yield chunk
