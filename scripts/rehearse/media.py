"""The livestream in the rehearsal: a presenter on air, and each participant's player pulling it.

Online attendance counts only media that flows (docs/PROTOCOL.md section 4), so the participants must
pull the stream to be counted, as their browsers' players would:

- `Presenter` (a client process of its own): the province organiser's camera (aiortc's test picture) goes
  on air over the session's media socket (`/media/ws?session=S`, through nginx to the session's hub); when
  the socket or the connection drops (a hub killed), it publishes again.
- `Player`: a participant's HLS player. Every PING_S it reads the session's media info once (the stream's
  path and the participant's own viewer key), then the playlist and its newest segment under that key;
  a refused fetch (a new broadcast after a hub died) reads the info again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import Any

from .client import Front, Http, HttpError, device_address, sign_in, ticket
from .plan import Plan

SEGMENT = re.compile(rb"^(\d{1,9}\.ts)$", re.M)
RETRY_S = 3.0


class Player:
    """One participant's HLS player: the cookie of their own sign-in, one keep-alive connection."""

    def __init__(self, http: Http, session_id: int) -> None:
        self.http = http
        self.session_id = session_id
        self.base: str | None = None  # /media/hls/S/<stream>/<viewer key>/
        self.fetched = 0
        self.failed = 0

    async def pull(self) -> bool:
        """The playlist and its newest segment; True when a segment came."""
        try:
            if self.base is None:
                info = await self.http.request("GET", f"/api/sessions/{self.session_id}/media")
                data = info.json() if info.status == 200 else {}
                if not data.get("hls") or not data.get("hls_viewer"):
                    return False  # nothing on air yet (or no HLS): the next round asks again
                self.base = data["hls"].rsplit("/", 1)[0] + f"/{data['hls_viewer']}/"
            playlist = await self.http.request("GET", self.base + "index.m3u8")
            segments = SEGMENT.findall(playlist.body) if playlist.status == 200 else []
            if segments:
                segment = await self.http.request("GET", self.base + segments[-1].decode())
                if segment.status == 200:
                    self.fetched += 1
                    return True
            self.base = None  # another broadcast (a hub died): its path again
        except (HttpError, ValueError):
            self.base = None
        self.failed += 1
        return False

    def close(self) -> None:
        self.http.close()


class Presenter:
    """The role of the presenter's process (crowd.Role): on air from setup to finish."""

    def __init__(self, plan: Plan, front: Front) -> None:
        self.plan = plan
        self.front = front
        self.task: asyncio.Task[None] | None = None
        self.stopping = False
        self.on_air = False
        self.publishes = 0
        self.failures: list[str] = []

    async def setup(self) -> dict[str, Any]:
        self.http = self.front.http(device_address(3, 249))  # the presenter's own PC
        for attempt in range(10):  # the dashboards sign the same account in meanwhile: the throttle may say wait
            try:
                self.csrf = await sign_in(self.http, *self.plan.organiser)
                break
            except HttpError as e:
                if e.status != 429 or attempt == 9:
                    raise
                await asyncio.sleep(2.0)
        self.task = asyncio.create_task(self._run())
        deadline = time.monotonic() + 60
        while not self.on_air and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        return {"on_air": self.on_air}

    def start(self, t0: float) -> None:
        pass

    def status(self) -> dict[str, Any]:
        return {"on_air": self.on_air, "publishes": self.publishes}

    async def finish(self) -> dict[str, Any]:
        self.stopping = True
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        self.http.close()
        return {"publishes": self.publishes, "failures": self.failures[-5:]}

    async def _run(self) -> None:
        while not self.stopping:
            try:
                await self._publish()
            except Exception as e:  # a hub killed, a connection lost: on air again in a moment
                self.failures.append(f"{type(e).__name__}: {str(e)[:80]}")
            self.on_air = False
            await asyncio.sleep(RETRY_S)

    async def _publish(self) -> None:
        from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
        from websockets.asyncio.client import connect

        url = self.front.ws.removesuffix("/ws") + f"/media/ws?session={self.plan.session_id}"
        pc = RTCPeerConnection()
        try:
            pc.addTrack(VideoStreamTrack())  # aiortc's own test picture, 30 frames a second
            pc.addTrack(AudioStreamTrack())  # and silence
            await pc.setLocalDescription(await pc.createOffer())
            async with connect(url, ssl=self.front.tls(), open_timeout=30, ping_interval=None,
                               max_size=2 ** 20) as ws:
                await ws.send(json.dumps({"type": "hello", "v": 1, "ticket": await ticket(self.http, self.csrf)}))
                await ws.send(json.dumps({"type": "rtc_offer", "session": self.plan.session_id, "role": "publish",
                                          "sdp": pc.localDescription.sdp}))
                await ws.send(json.dumps({"type": "media_watch", "session": self.plan.session_id}))
                pinged = time.monotonic()
                while not self.stopping:
                    with contextlib.suppress(TimeoutError):
                        message = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        if message["type"] == "rtc_answer":
                            await pc.setRemoteDescription(RTCSessionDescription(message["sdp"], "answer"))
                            self.publishes += 1
                        elif message["type"] in ("rtc_error", "rtc_closed"):
                            raise HttpError(0, f"{message['type']} {message.get('code') or message.get('reason')}")
                        elif message["type"] == "media_state":
                            self.on_air = bool(message["live"])
                    if pc.connectionState in ("failed", "closed"):
                        raise HttpError(0, f"connection {pc.connectionState}")
                    if time.monotonic() - pinged > 10:
                        pinged = time.monotonic()
                        await ws.send(json.dumps({"type": "ping"}))
        finally:
            with contextlib.suppress(Exception):
                await pc.close()
