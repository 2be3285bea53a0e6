"""Frames written straight to a WebSocket's transport, encoded once for every subscriber.

A server's WebSocket frames are not masked, so one change frame is the same bytes for all of a topic's
10,000 subscribers. Through ASGI each `send` re-encodes the frame and passes through three layers
(~25 µs); written here it is one `transport.write` (~3 µs), and nothing waits for it.

uvicorn runs this protocol class (`ws=` in web/cli.py): its websockets sans-I/O protocol, which also
puts a `Wire` for the connection in the ASGI scope's extensions under `hoinghi.wire`. A server without
it (a test client, another ASGI server) leaves the extension out and the hub sends through ASGI.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

EXTENSION = "hoinghi.wire"


def encode(text: str) -> bytes:
    """A server's (unmasked, uncompressed) text frame."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class Wire:
    """One connection's transport, for frames encoded by `encode`."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: WebSocketsSansIOProtocol) -> None:
        self._protocol = protocol

    def write(self, data: bytes) -> int | None:
        """Write one encoded frame; the bytes now waiting in the transport's buffer, or None when the
        connection is closing (nothing written)."""
        p = self._protocol
        if p.disconnected or p.close_sent or p.conn.state is not State.OPEN or p.transport.is_closing():
            return None
        p.transport.write(data)
        return p.transport.get_write_buffer_size()

    def abort(self) -> None:
        """Drop the connection at once (a client that reads nothing cannot even take a close frame)."""
        self._protocol.transport.abort()


class WireProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets sans-I/O protocol, offering a `Wire` to the application."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None and not self.conn.extensions:  # frames encoded once only without compression
            scope["extensions"][EXTENSION] = Wire(self)


def wire_of(scope: Any) -> Wire | None:
    """The connection's Wire, when its server offers one."""
    extensions = scope.get("extensions") or {}
    wire = extensions.get(EXTENSION)
    return wire if isinstance(wire, Wire) else None
