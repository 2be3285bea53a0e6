"""Frames written straight to the transport (web/live/wire.py), through a real uvicorn server and real
sockets: every client reads them as text frames, and a client that reads nothing is dropped without
holding back the others."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.testclient import TestClient
from starlette.types import ASGIApp
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.browser import free_port
from web.live import connections, topics
from web.live.connections import Conn
from web.live.protocol import Close
from web.live.wire import WireProtocol, wire_of

FRAME = 64 * 1024


class Room:
    """A tiny application: every socket joins; a `go N` message fans N large frames out to all."""

    def __init__(self) -> None:
        self.conns: list[Conn] = []
        self.wired: list[bool] = []

    async def endpoint(self, ws: WebSocket) -> None:
        await ws.accept()

        async def close(code: int, reason: str) -> None:
            with contextlib.suppress(Exception):  # as web/live/endpoint.py: the socket may be gone
                await ws.close(code, reason)

        conn = Conn(ws.send_text, close, None, None, wire_of(ws.scope))
        self.conns.append(conn)
        self.wired.append(conn.wire is not None)
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                message = await ws.receive_text()
                if message.startswith("go "):
                    for n in range(int(message[3:])):
                        text = json.dumps({"n": n, "pad": "x" * FRAME})
                        await topics.fan_out(text, list(self.conns))
                        await asyncio.sleep(0.01)  # paced like the flushes: a reading client keeps up
                    conn.push(json.dumps({"done": True}))
                else:
                    conn.push(message)

    def app(self) -> Starlette:
        return Starlette(routes=[WebSocketRoute("/ws", self.endpoint)])


@contextlib.asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[str]:
    """`app` served by uvicorn with the Wire protocol (as `hoinghi serve` does), in this event loop: its /ws URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, ws=WireProtocol,
                                           ws_per_message_deflate=False, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}/ws"
    finally:
        server.should_exit = True
        await task


async def test_frames_written_to_the_wire_are_read_as_text_frames() -> None:
    room = Room()
    async with served(room.app()) as url, connect(url, compression=None) as ws:
        await ws.send("hello wire")  # echoed through Conn.push, i.e. the wire
        assert await ws.recv() == "hello wire"
        await ws.send("ünïcödé ✓")
        assert await ws.recv() == "ünïcödé ✓"
    assert room.wired == [True]


def test_a_server_without_the_wire_sends_through_asgi() -> None:
    room = Room()
    with TestClient(room.app()) as client, client.websocket_connect("/ws") as ws:
        ws.send_text("hello queue")
        assert ws.receive_text() == "hello queue"
    assert room.wired == [False]


async def test_a_client_that_reads_nothing_is_dropped_and_the_others_get_everything(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connections, "CLOSE_SECONDS", 0.5)
    room = Room()
    frames = 200  # 13 MB: more than the stuck client's socket buffers and the hub's limit together
    async with served(room.app()) as url:
        stuck = await connect(url, compression=None, max_queue=1, max_size=2 ** 20)
        async with connect(url, compression=None, max_size=2 ** 20) as fast:
            await fast.send(f"go {frames}")
            got = []
            while True:
                message = json.loads(await asyncio.wait_for(fast.recv(), 30))
                if message.get("done"):
                    break
                got.append(message["n"])
            assert got == list(range(frames))
        slow_conn = room.conns[0]
        assert slow_conn.closing
        # the stuck client's connection is dropped (it could not even take the close frame in time)
        try:
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(stuck.recv(), 30)
            assert closed.value.rcvd is None or closed.value.rcvd.code == Close.SLOW_CONSUMER
        finally:
            await stuck.close()
