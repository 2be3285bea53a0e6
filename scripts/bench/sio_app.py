"""The socket.io peer of the fan-out benchmark: what a Python team would otherwise write.

A python-socketio `AsyncServer` (ASGI, under uvicorn with the same defaults as `hoinghi serve`: uvloop,
httptools, websockets-sansio with permessage-deflate). Clients join a room with the event
`join`; the server answers with the current count (the "snapshot"). `POST /checkin` stands in for a
committed check-in: it increments the count (an int in this process, or a Redis counter shared by
several processes), answers at once, and then emits the new count to the room: one naive `emit`
per check-in. With `--redis`, `AsyncRedisManager` carries the emits to every process.

    python scripts/bench/sio_app.py --room session:1/unit:1 serve --port 8100
    python scripts/bench/sio_app.py --room r --redis redis://127.0.0.1:6390/0 --channel c --counter k serve --port 8101
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import socketio
import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def build(room: str, redis_url: str | None, channel: str, counter_key: str) -> Any:
    manager = socketio.AsyncRedisManager(redis_url, channel=channel) if redis_url else None
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, cors_allowed_origins="*")
    background: set[asyncio.Task[Any]] = set()
    local = {"n": 0}
    counter: Any = None
    if redis_url:
        import redis.asyncio as redis

        counter = redis.Redis.from_url(redis_url)

    async def current() -> int:
        if counter is None:
            return local["n"]
        return int(await counter.get(counter_key) or 0)

    async def commit() -> int:
        if counter is None:
            local["n"] += 1
            return local["n"]
        return int(await counter.incr(counter_key))

    @sio.event  # type: ignore[untyped-decorator]
    async def join(sid: str, name: str) -> None:
        await sio.enter_room(sid, name)
        await sio.emit("count", {"in_person": await current()}, to=sid)

    async def checkin(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http" or scope["path"] != "/checkin" or scope["method"] != "POST":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        while (await receive()).get("more_body"):
            pass
        n = await commit()
        body = json.dumps({"outcome": "accepted", "in_person": n}).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
        # committed and acknowledged: now tell the room, one emit per check-in
        task = asyncio.create_task(sio.emit("count", {"in_person": n}, room=room))
        background.add(task)
        task.add_done_callback(background.discard)

    return socketio.ASGIApp(sio, other_asgi_app=checkin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=["serve"], help="accepted for symmetry with hoinghi serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--room", required=True, help="the room every check-in is emitted to")
    parser.add_argument("--redis", help="Redis URL: AsyncRedisManager and a shared counter (several processes)")
    parser.add_argument("--channel", default="fanout-bench", help="the Redis manager's channel")
    parser.add_argument("--counter", default="fanout-bench:in_person", help="the Redis counter's key")
    args = parser.parse_args()
    app = build(args.room, args.redis, args.channel, args.counter)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
