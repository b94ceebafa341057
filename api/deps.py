"""What routes share: the node behind the API and a database session per request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Path as PathParam, Request
from sqlalchemy.orm import Session

from node.service import NodeService


def node(request: Request) -> NodeService:
    service: NodeService = request.app.state.node
    return service


def session(request: Request) -> Iterator[Session]:
    with node(request).sessions() as s:
        yield s


Node = Annotated[NodeService, Depends(node)]
Id32 = Annotated[str, PathParam(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "ab" * 32],
                                 description="a 32-byte id in 0x hex")]
Number = Annotated[int, PathParam(ge=1, le=2**31 - 1, description="a version or record number")]
DB = Annotated[Session, Depends(session)]


def file_chunks(path: Path, size: int = 1 << 20) -> Iterator[bytes]:
    """A file's bytes in chunks, for streamed responses."""
    with open(path, "rb") as f:
        while chunk := f.read(size):
            yield chunk
