"""The WebSocket endpoint `/ws` and the ticket a browser trades its session cookie for.

The handler only moves frames: it authenticates the first message (web/live/identity.py), then hands
every message to the hub, each counted against the connection's rate (4029 beyond it) and preceded by
a fresh enough look at its user or device. A protocol breach, a refused authentication or an
unreachable store closes the socket with the code docs/PROTOCOL.md gives, as web/http/errors.py's one
table says.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from web.bootstrap import services
from web.http.auth import api_user
from web.http.errors import close_of, live_error, unreachable, warn_unreachable
from web.kiosk.camera import CameraLink, open_camera
from web.live.connections import Conn
from web.live.contract import asyncapi
from web.live.hub import Hub
from web.live.identity import TICKET_SECONDS
from web.live.protocol import (
    HEARTBEAT_S,
    MEDIA_MESSAGES,
    VERSION,
    Camera,
    Close,
    Hello,
    Ping,
    ProtocolError,
    Subscribe,
    Unsubscribe,
    frame,
    parse,
)
from web.live.wire import wire_of

HELLO_SECONDS = 10


async def ticket(request: Request) -> JSONResponse:
    """A 60-second ticket naming the signed-in user and the session's version, for one WebSocket's first
    message."""
    user = await api_user(request)
    version = request.session["sv"]  # the account's current one: `api_user` signed the session out otherwise
    return JSONResponse({"ticket": services(request).hub.identity.ticket(user, version),
                         "expires_in": TICKET_SECONDS})


async def _identify(ws: WebSocket, hello: Hello) -> Conn:
    """The connection of the user named by the hello's ticket, or of the kiosk its device token names
    (NotAuthenticated or DeviceRejected otherwise)."""
    user, device = await services(ws).hub.identity.hello(hello)
    return Conn(ws.send_text, lambda code, reason: _close(ws, code, reason), user, device, wire_of(ws.scope),
                hello.device_token)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await ws.close(code, reason)


async def _receive(ws: WebSocket) -> str | bytes:
    """The next message: text (a protocol message) or bytes (a kiosk's camera frame)."""
    message = await ws.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    if message.get("bytes") is not None:
        return bytes(message["bytes"])
    return str(message.get("text") or "")


async def live(ws: WebSocket) -> None:
    hub: Hub = services(ws).hub
    await ws.accept()
    conn: Conn | None = None
    camera: CameraLink | None = None  # a kiosk's camera, from its `camera` message on
    try:
        try:
            first = await asyncio.wait_for(_receive(ws), HELLO_SECONDS)
        except TimeoutError:
            raise ProtocolError(Close.BAD_AUTH, "say hello first") from None
        if isinstance(first, bytes):
            raise ProtocolError(Close.BAD_AUTH, "the first message must be hello")
        hello = parse(first)
        if not isinstance(hello, Hello):
            raise ProtocolError(Close.BAD_AUTH, "the first message must be hello")
        conn = await _identify(ws, hello)
        hub.register(conn)
        who = {"id": conn.user.id, "role": conn.user.role.value} if conn.user else \
            {"device_id": conn.device.id, "hall_id": conn.device.hall_id} if conn.device else {}
        conn.push(frame("welcome", v=VERSION, heartbeat_s=HEARTBEAT_S, user=who))
        while not conn.closing:
            received = await _receive(ws)
            now = time.monotonic()
            conn.rate.take(now)  # TooManyMessages: closed with 4029
            await hub.identity.current(conn, now)  # deactivated, revoked: closed with 4001
            if isinstance(received, bytes):
                if camera is None:
                    raise ProtocolError(Close.BAD_MESSAGE, "binary messages are camera frames: send camera first")
                camera.offer(received)
                continue
            message = parse(received)
            if isinstance(message, Ping):
                conn.push(hub.ping(conn))
            elif isinstance(message, Subscribe):
                try:
                    await hub.subscribe(conn, message.topic, message.since, message.epoch)
                except Exception as e:  # a refusal keeps the connection open (no such session, unit or hall)
                    refusal = live_error(e)
                    if refusal is None:
                        raise
                    conn.push(frame("error", topic=message.topic, **refusal))
            elif isinstance(message, Unsubscribe):
                hub.unsubscribe(conn, message.topic)
                conn.push(frame("unsubscribed", topic=message.topic))
            elif isinstance(message, Camera):
                camera = await open_camera(services(ws), conn, hello.device_token, message)
            elif isinstance(message, MEDIA_MESSAGES):
                services(ws).media.handle(conn, message)  # signalling: docs/PROTOCOL.md section 7
            else:
                raise ProtocolError(Close.BAD_MESSAGE, "hello only once")
    except (WebSocketDisconnect, RuntimeError):
        pass
    except Exception as e:
        closing = close_of(e)
        if closing is None:
            raise
        if unreachable(e):
            warn_unreachable(e, f"live connections closed with {closing[0].value}")
        await _close(ws, *closing)
    finally:
        if conn is not None:
            hub.disconnect(conn)
            services(ws).media.disconnect(conn)


routes = [
    Route("/api/live/ticket", ticket, methods=["POST"]),
    Route("/api/asyncapi.json", asyncapi),
    WebSocketRoute("/ws", live),
]
