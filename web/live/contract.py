"""The live protocol as an AsyncAPI 3.0 document, served at /api/asyncapi.json (public, like the OpenAPI one).

Generated from web/live/messages.py, the schemas the server parses client frames with and builds its
frames from, so the document and the server cannot diverge. docs/PROTOCOL.md is the readable guide.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from web.live.messages import CLIENT, FRAME_MAX, NESTING_MAX, RECENT_MAX, SERVER, VERSION, Schema
from web.live.protocol import (
    BINARY_FRAME_MAX,
    HEARTBEAT_S,
    RATE_BURST,
    RATE_PER_SECOND,
    TOPICS_MAX,
    Close,
)

CAMERA_FRAME = "client_camera_frame"


def payload(kind: str, schema: Schema) -> Schema:
    """A message's whole payload: its schema with the `type` field that names it."""
    return {**schema, "type": "object", "properties": {"type": {"const": kind}, **schema.get("properties", {})},
            "required": ["type", *schema.get("required", ())]}


def _message(kind: str, schema: Schema, side: str) -> dict[str, Any]:
    body = {k: v for k, v in schema.items() if k != "description"}
    return {"name": kind, "title": kind, "summary": schema.get("description", kind),
            "contentType": "application/json", "payload": payload(kind, body),
            "x-direction": side}


def messages() -> dict[str, dict[str, Any]]:
    """Every message, by its id: client_<type> (client to server) and server_<type>."""
    out = {f"client_{k}": _message(k, s, "client to server") for k, s in CLIENT.items()}
    out[CAMERA_FRAME] = {"name": "camera frame", "title": "camera frame", "contentType": "image/jpeg",
                         "summary": f"A binary message after camera: one JPEG picture, at most {BINARY_FRAME_MAX} "
                                    "bytes (640×480 recommended).",
                         "payload": {"type": "string", "format": "binary", "maxLength": BINARY_FRAME_MAX},
                         "x-direction": "client to server"}
    out |= {f"server_{k}": _message(k, s, "server to client") for k, s in SERVER.items()}
    return out


def document(host: str = "localhost:8000", secure: bool = False) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the live protocol, for a hub reached at `host`."""
    ids = list(messages())
    refs = {i: {"$ref": f"#/components/messages/{i}"} for i in ids}
    channel_messages = {i: refs[i] for i in ids}

    def operation(action: str, channel: str, prefix: str) -> dict[str, Any]:
        return {"action": action, "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{i}"} for i in ids if i.startswith(prefix)]}

    closes = {str(c.value): c.name.lower() for c in Close}
    return {
        "asyncapi": "3.0.0",
        "id": "urn:hoinghi:live",
        "info": {
            "title": "hoinghi live hub",
            "version": str(VERSION),
            "description": (
                "The live protocol of hoinghi: one WebSocket carries dashboards, hall screens, kiosks and "
                "participant pages. The readable guide is docs/PROTOCOL.md. Every message is a JSON object "
                f"with a `type`, at most {FRAME_MAX} bytes and {NESTING_MAX} levels deep from a client; a "
                "field whose value is null counts as absent, unknown fields are ignored. A message that breaks "
                "its schema closes the socket with 4002 (a hello's `v`: 4000; a hello with neither or both of "
                "ticket and device_token: 4001)."),
            "x-limits": {"frame_max": FRAME_MAX, "nesting_max": NESTING_MAX, "binary_frame_max": BINARY_FRAME_MAX,
                         "topics_max": TOPICS_MAX, "heartbeat_s": HEARTBEAT_S, "recent_max": RECENT_MAX,
                         "rate_per_second": RATE_PER_SECOND, "rate_burst": RATE_BURST},
            "x-close-codes": closes,
        },
        "defaultContentType": "application/json",
        "servers": {"hub": {"host": host, "protocol": "wss" if secure else "ws",
                            "description": "this hub (behind nginx: the deployment's host)"}},
        "channels": {
            "live": {"address": "/ws", "title": "the live hub", "servers": [{"$ref": "#/servers/hub"}],
                     "messages": channel_messages},
            "media": {"address": "/media/ws", "title": "the live hub, for one session's media",
                      "description": "The same protocol at /media/ws?session=S, so that a proxy sends one "
                                     "session's media to the one process that carries it.",
                      "servers": [{"$ref": "#/servers/hub"}], "messages": channel_messages},
        },
        "operations": {
            "receiveFromClient": operation("receive", "live", "client_"),
            "sendToClient": operation("send", "live", "server_"),
            "receiveMediaFromClient": operation("receive", "media", "client_"),
            "sendMediaToClient": operation("send", "media", "server_"),
        },
        "components": {"messages": messages()},
    }


async def asyncapi(request: Request) -> JSONResponse:
    """GET /api/asyncapi.json: the live protocol's contract (public, like /api/openapi.json)."""
    return JSONResponse(document(request.url.netloc, request.url.scheme in ("https", "wss")))
