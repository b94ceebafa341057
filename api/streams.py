"""Live streams (server-sent events) that end when their server begins to stop.

A usage stream never ends by itself, and uvicorn, stopping, waits for the responses under way
until its graceful-shutdown timeout, then cancels them and logs each cancelled task's traceback.
:class:`Server` tells the app it serves that it is stopping before uvicorn waits, and
:func:`event_stream` ends its events then, between two events: the response completes as any
other, and the server stops at once, quietly.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import uvicorn
from fastapi import Request
from fastapi.responses import StreamingResponse


class Server(uvicorn.Server):
    """uvicorn's server, which ends the live streams of the app it serves as it begins to stop."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        state = getattr(self.config.app, "state", None)
        if state is not None:
            state.stopping = asyncio.get_running_loop().create_future()
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        stopping: asyncio.Future[None] | None = getattr(getattr(self.config.app, "state", None), "stopping", None)
        if stopping is not None and not stopping.done():
            stopping.set_result(None)
        await super().shutdown(sockets)


def event_stream(request: Request, events: AsyncIterator[str], *, headers: dict[str, str]) -> StreamingResponse:
    """``events`` sent as server-sent events, until the server serving the app stops (for ever
    under a server other than :class:`Server`)."""
    stopping: asyncio.Future[None] | None = getattr(request.app.state, "stopping", None)
    return StreamingResponse(events if stopping is None else _until(stopping, events),
                             media_type="text/event-stream", headers=headers)


async def _until(stopping: asyncio.Future[None], events: AsyncIterator[str]) -> AsyncIterator[str]:
    """``events`` until ``stopping`` is done. Only the wait for the next event is cut short (as
    a timeout would), never the sending of one, so the response ends whole."""
    loop = asyncio.get_running_loop()
    while not stopping.done():
        try:
            async with asyncio.timeout(None) as wait:
                def stop(_: asyncio.Future[None], wait: asyncio.Timeout = wait) -> None:
                    wait.reschedule(loop.time())

                stopping.add_done_callback(stop)
                try:
                    event = await anext(events)
                finally:
                    stopping.remove_done_callback(stop)
        except (TimeoutError, StopAsyncIteration):
            return
        yield event
