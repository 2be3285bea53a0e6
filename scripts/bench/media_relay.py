"""The livestream bench's relay process: the production relay (`web.media.service.MediaService`) behind a
JSON-lines signalling socket (`ask`), with its event loop's lag and its aiortc encoders counted."""


from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


LOOPBACK = ["127.0.0.1"]

SESSION = 1



# -- signalling: one JSON object per line over TCP ------------------------------------------------------
async def ask(port: int, request: dict[str, Any]) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(json.dumps(request).encode() + b"\n")
    await writer.drain()
    line = await reader.readline()
    writer.close()
    answer: dict[str, Any] = json.loads(line)
    return answer


class LoopLag:
    """The longest time the event loop was late to wake a 10 ms sleeper, since the last reading."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, loop.time() - start - 0.01)

    def read(self) -> float:
        worst, self.worst = self.worst, 0.0
        return worst


# -- the relay process ----------------------------------------------------------------------------------
def relay_main(port_out: Any, media_dir: str, hls: bool, lean: bool, profile: str | None) -> None:
    if profile:
        import cProfile

        cProfile.runctx("asyncio.run(_relay(port_out, media_dir, hls, lean))", globals(), locals(), profile)
    else:
        asyncio.run(_relay(port_out, media_dir, hls, lean))


async def _relay(port_out: Any, media_dir: str, hls: bool, lean: bool) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, format="# relay: %(levelname)s %(name)s %(message)s")
    logging.getLogger("web.media").setLevel(logging.INFO)
    from web.media import tap
    from web.media.frames import Kind
    from web.media.peers import announce_addresses
    from web.media.relay import Source
    from web.media.service import Audience, MediaConfig, MediaRefused, MediaService

    with tap.count_encodes() as encodes:
        service = MediaService(MediaConfig(Path(media_dir), [], hls=hls, record=hls, lean_rtp=lean), None, None)  # type: ignore[arg-type]
        await service.start()
        announce_addresses(LOOPBACK)
        broadcast = service.open_broadcast(Audience(SESSION, 1, 1, None, None))
        done = asyncio.Event()
        lag = LoopLag()
        refused = [0]

        def usage() -> float:
            r = resource.getrusage(resource.RUSAGE_SELF)
            return r.ru_utime + r.ru_stime

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = json.loads(await reader.readline())
            if request["op"] == "publish":
                _, sdp = await service.publish(broadcast, request["sdp"], Source("presenter", "bench"))
                reply: dict[str, Any] = {"sdp": sdp}
            elif request["op"] == "view":
                try:
                    _, sdp = await service.view(broadcast, request["sdp"])
                    reply = {"sdp": sdp}
                except MediaRefused as e:  # admission control: the relay is behind (or full)
                    refused[0] += 1
                    reply = {"refused": e.message}
            elif request["op"] == "stats":
                queues = [t.queue.stats for t in broadcast.channel.viewers[Kind.VIDEO]]
                muxer = broadcast.muxer
                lost = received = 0
                if broadcast.presenter is not None and Kind.VIDEO in broadcast.presenter.receivers:
                    receiver = broadcast.presenter.receivers[Kind.VIDEO]
                    streams = getattr(receiver, "_RTCRtpReceiver__remote_streams")  # noqa: B009 (media and RTX)
                    for stream in streams.values():
                        lost += stream.packets_lost
                        received += stream.packets_received
                reply = {"packets_lost": lost, "packets_received": received, "lag": lag.read(), "refused": refused[0],
                         "cpu": usage(), "t": time.monotonic(), "viewers": broadcast.channel.viewer_count,
                         "encoders": encodes.encoders, "encoded_frames": encodes.frames,
                         "dropped": sum(q.dropped for q in queues), "overflows": sum(q.overflows for q in queues),
                         "keyframe_requests_upstream": broadcast.channel.keyframes.sent,
                         "frames_in": broadcast.presenter.video_frames if broadcast.presenter else 0,
                         "bytes_in": broadcast.presenter.bytes if broadcast.presenter else 0,
                         "segments": muxer.stats.segments if muxer else 0}
            else:
                done.set()
                reply = {}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=512)
        port_out.send(server.sockets[0].getsockname()[1])
        await done.wait()
        server.close()
        await service.stop()


