"""The media service: the broadcasts of this process, driven by the hub's signalling messages.

The hub's WebSocket endpoint hands it the signalling messages (docs/PROTOCOL.md section 7) with the
connection they came on; it answers on that connection (`rtc_answer`, `rtc_error`, `media_state`).
Each session being broadcast has a `Broadcast` (web/media/broadcast.py): its relay `Channel`, the floor
(raised hands), the HLS/recording muxer and the connections watching its state. Peer connections live on
after their WebSocket closes (a reconnecting page keeps its video) and end with their ICE/DTLS connection.
Who may do what is asked of `access` (web/media/access.py); the files are `recordings`'s. What online
attendance needs to know (a session on air, a viewer's media flowing) is told to `viewing`
(web/media/viewing.py), shared by every hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiortc import RTCRtpReceiver

from conference.service import ConferenceService
from web.live.protocol import MediaMessage, frame
from web.media import tap
from web.media.access import Audience, MediaAccess
from web.media.api import MediaApi
from web.media.broadcast import Broadcast, Connection, Peer, PeerRole
from web.media.errors import MediaRefused
from web.media.frames import Kind
from web.media.ice import IceServer, Turn
from web.media.peers import OfferRefused, Peers, announce_addresses, close_quietly
from web.media.recordings import HLS_KEEP_SECONDS, Recordings
from web.media.relay import Channel, Source
from web.media.signalling import Signalling
from web.media.viewing import SHARE_SECONDS, MediaFacts, MemoryFacts, ViewerKeys
from web.usecases.facts import ConferenceFacts

# what the bootstrap and the benchmarks import from here
__all__ = ["Audience", "Broadcast", "MediaConfig", "MediaRefused", "MediaService"]

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
STATE_PUSH_SECONDS = 2.0  # viewer counts are pushed at most this often
CONNECT_SECONDS = 30.0  # a peer not connected by then is closed
OFF_AIR_GRACE_SECONDS = 30.0  # a broadcast without a source for this long ends its HLS and recording
IDLE_SECONDS = 60.0  # a broadcast with nobody left is forgotten
OVERLOAD_LAG_SECONDS = 0.5  # the event loop this late (smoothed), with OVERLOAD_VIEWERS: new viewers go to HLS
OVERLOAD_VIEWERS = 20
LAG_SMOOTHING = 0.1  # about the last 2.5 s of ticks


@dataclass(frozen=True)
class MediaConfig:
    media_root: Path
    ice_servers: list[IceServer]
    video_codec: str = "H264"
    addresses: tuple[str, ...] = ()
    hls: bool = True
    record: bool = True
    segment_seconds: float = 2.0
    max_viewers: int = 150
    audio: bool = True  # AAC audio in HLS and recordings
    lean_rtp: bool = True  # viewers' RTP sent by tap.relay_rtp rather than aiortc's loop (benchmarks compare)
    turn: Turn | None = None  # the deployment's TURN server: fresh credentials for each peer connection
    viewer_secret: str = ""  # signs each viewer's HLS key (the deployment's secret; empty: this process's own)


class MediaService:
    def __init__(self, config: MediaConfig, conference: ConferenceService, facts: ConferenceFacts,
                 clock: Callable[[], float] = time.monotonic, viewing: MediaFacts | None = None) -> None:
        tap.check()
        self.config = config
        self.viewing = viewing if viewing is not None else MemoryFacts(clock)
        self.viewer_keys = ViewerKeys(config.viewer_secret or secrets.token_hex(16))
        self.access = MediaAccess(conference, facts)
        self.recordings = Recordings(config.media_root)
        self.signalling = Signalling(self)
        self.api = MediaApi(self)
        self.clock = clock
        self.peers = Peers(config.ice_servers, config.video_codec, config.lean_rtp, config.turn)
        self.broadcasts: dict[int, Broadcast] = {}
        self.open_peers: dict[str, Peer] = {}  # by id, of every broadcast
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.lag = 0.0  # smoothed lateness of the event loop, seconds
        self.muxing = config.video_codec == "H264" and (config.hls or config.record)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        announce_addresses(list(self.config.addresses))
        await asyncio.to_thread(self._clean_hls)  # others may share the volume
        self._ticker = asyncio.create_task(self._tick_loop(), name="media-tick")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await asyncio.gather(*(self.close_peer(p, "shutting down") for p in list(self.open_peers.values())))
        for broadcast in list(self.broadcasts.values()):
            await self._end_broadcast(broadcast)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the endpoint's entry points ----------------------------------------------------------------
    def handle(self, conn: Connection, message: MediaMessage) -> None:
        """Handle a signalling message (web/media/signalling.py) in the background; the endpoint's read loop
        goes on."""
        self._spawn(self.signalling.handle(conn, message))

    def disconnect(self, conn: Connection) -> None:
        """The WebSocket closed: it no longer watches; its peer connections live on."""
        for broadcast in self.broadcasts.values():
            broadcast.watchers.discard(conn)
        for peer in self.open_peers.values():
            if peer.owner is conn:
                peer.owner = None

    # -- signalling ---------------------------------------------------------------------------------
    def open_broadcast(self, audience: Audience) -> Broadcast:
        """The session's broadcast on this process, opened on first use."""
        broadcast = self.broadcasts.get(audience.session_id)
        if broadcast is None:
            channel = Channel(audience.session_id, self.clock)
            broadcast = Broadcast(audience.session_id, audience.conference_id, channel)
            channel.listeners.append(lambda _: self._on_air_changed(broadcast))
            self.broadcasts[audience.session_id] = broadcast
        broadcast.idle_since = None
        return broadcast

    def _new_peer(self, role: PeerRole, broadcast: Broadcast, owner: Connection | None) -> Peer:
        user_id = owner.user.id if owner is not None and owner.user is not None else None
        peer = Peer(secrets.token_urlsafe(12), role, broadcast.session_id, self.peers.connection(), owner, self.clock(),
                    user_id=user_id)
        self.open_peers[peer.id] = peer
        broadcast.peers.add(peer)

        @peer.pc.on("connectionstatechange")
        async def changed() -> None:
            state = peer.pc.connectionState
            if state == "connected":
                peer.connected = True
                await self._share_peer(peer)
            elif state in ("failed", "closed"):
                await self.close_peer(peer, state)

        return peer

    async def publish(self, broadcast: Broadcast, offer: str, source: Source,
                      owner: Connection | None = None) -> tuple[Peer, str]:
        """Answer a publisher; its frames reach the channel undecoded. A second publisher with the same
        key (the presenter again, after a reconnect) replaces the first."""
        peer = self._new_peer(PeerRole.PUBLISH, broadcast, owner)
        peer.source = source

        def tap_it(kind: Kind, receiver: RTCRtpReceiver) -> None:
            source.receivers[kind] = receiver
            tap.tap_receiver(receiver, source.sink(broadcast.channel))

        try:
            answer = await self.peers.answer_publisher(peer.pc, offer, tap_it)
        except OfferRefused as e:
            await self.close_peer(peer, "refused")
            raise MediaRefused("bad_offer", str(e)) from None
        replaced = broadcast.channel.add_source(source)
        if replaced is not None:
            for other in list(broadcast.peers):
                if other.source is replaced:
                    await self.close_peer(other, "replaced")
        broadcast.choose_on_air()
        broadcast.dirty = True
        return peer, answer

    async def view(self, broadcast: Broadcast, offer: str, owner: Connection | None = None) -> tuple[Peer, str]:
        """Answer a viewer with relay tracks of the session's programme (whatever is on air, now or later)."""
        if broadcast.channel.viewer_count >= self.config.max_viewers:
            raise MediaRefused("full", "this server carries no more viewers of the session: use HLS")
        if self.lag > OVERLOAD_LAG_SECONDS and broadcast.channel.viewer_count >= OVERLOAD_VIEWERS:
            raise MediaRefused("full", "this server is behind its packets and takes no more viewers: use HLS")
        peer = self._new_peer(PeerRole.VIEW, broadcast, owner)
        channel = broadcast.channel
        tracks = {Kind.VIDEO: channel.attach(Kind.VIDEO), Kind.AUDIO: channel.attach(Kind.AUDIO)}
        peer.tracks = list(tracks.values())
        try:
            answer, kinds = await self.peers.answer_viewer(peer.pc, offer, dict(tracks), channel.want_keyframe)
        except OfferRefused as e:
            await self.close_peer(peer, "refused")
            raise MediaRefused("bad_offer", str(e)) from None
        for kind, track in tracks.items():
            if kind not in kinds:
                track.stop()
        broadcast.dirty = True
        return peer, answer

    def end_users(self, user_ids: set[int]) -> None:
        """These accounts' sessions ended (deactivated, signed out everywhere, another role or password): their
        peer connections on this process close, publishing and viewing alike (media outlives the socket)."""
        for peer in [p for p in self.open_peers.values() if p.user_id in user_ids]:
            self._spawn(self.close_peer(peer, "revoked"))

    async def close_peer(self, peer: Peer, reason: str) -> None:
        if peer.closed:
            return
        peer.closed = True
        log.log(logging.DEBUG if reason == "shutting down" else logging.INFO, "session %s: %s peer %s closed (%s)",
                peer.session_id, peer.role.value, peer.id, reason)
        self.open_peers.pop(peer.id, None)
        broadcast = self.broadcasts.get(peer.session_id)
        for track in peer.tracks:
            track.stop()
        if broadcast is not None:
            broadcast.peers.discard(peer)
            if peer.source is not None:
                broadcast.channel.remove_source(peer.source)
                broadcast.choose_on_air()
            broadcast.dirty = True
        if peer.owner is not None and reason not in ("closed by the client", "shutting down"):
            peer.owner.push(frame("rtc_closed", pc=peer.id, session=peer.session_id, reason=reason))
        await close_quietly(peer.pc)

    # -- on air, HLS and recording ------------------------------------------------------------------
    def _on_air_changed(self, broadcast: Broadcast) -> None:
        on_air = broadcast.channel.on_air
        if on_air is not None:
            broadcast.off_air_since = None
            if broadcast.muxer is None and self.muxing:
                self._start_muxer(broadcast)
            elif broadcast.muxer is not None:
                broadcast.muxer.discontinuity()
        elif broadcast.off_air_since is None:
            broadcast.off_air_since = self.clock()
        broadcast.dirty = True
        self._spawn(self.viewing.on_air(broadcast.session_id, on_air is not None))

    def _start_muxer(self, broadcast: Broadcast) -> None:
        config = self.config
        muxer, key = self.recordings.muxer(broadcast.session_id, config.segment_seconds, config.hls, config.record,
                                           config.audio)
        broadcast.attach_muxer(muxer, key, config.segment_seconds)

    async def _stop_muxer(self, broadcast: Broadcast) -> None:
        muxer = broadcast.detach_muxer()
        if muxer is not None:
            await asyncio.to_thread(muxer.close)
            broadcast.dirty = True

    def _clean_hls(self) -> None:
        self.recordings.clean_hls(HLS_KEEP_SECONDS, {b.hls_key for b in self.broadcasts.values()})

    async def take_back(self, broadcast: Broadcast) -> None:
        """The speaking hall goes back to listening: its publishing connection is closed."""
        holder = broadcast.floor.take_back()
        if holder is None:
            return
        for peer in list(broadcast.peers):
            if peer.source is not None and peer.source.hall_id == holder:
                await self.close_peer(peer, "floor taken back")

    # -- state and the ticker -----------------------------------------------------------------------
    def state(self, broadcast: Broadcast) -> dict[str, Any]:
        return broadcast.state(recording=broadcast.muxer is not None and self.config.record)

    def state_frame(self, broadcast: Broadcast) -> str:
        return frame("media_state", **self.state(broadcast))

    # -- what online attendance needs to know --------------------------------------------------------
    async def _share_peer(self, peer: Peer) -> None:
        """A viewer connection of a user, connected: their media flows (told again every SHARE_SECONDS)."""
        if peer.role is PeerRole.VIEW and peer.user_id is not None and peer.connected and not peer.closed:
            await self.viewing.flowing(peer.session_id, peer.user_id)

    async def _share(self) -> None:
        """Tell `viewing` again what this process carries: the sessions on air, the connected viewers."""
        for broadcast in list(self.broadcasts.values()):
            if broadcast.channel.on_air is not None:
                await self.viewing.on_air(broadcast.session_id, True)
            for peer in list(broadcast.peers):
                await self._share_peer(peer)

    async def segment_fetched(self, session_id: int, user_id: int) -> None:
        """An HLS segment of the session fetched with the user's own viewer key: their media flows."""
        await self.viewing.flowing(session_id, user_id)

    async def _tick_loop(self) -> None:
        cleaned = shared = self.clock()
        while True:
            before = self.clock()
            await asyncio.sleep(TICK_SECONDS)
            now = self.clock()
            # how late the event loop runs: a relay behind its packets takes no more viewers
            self.lag += (max(0.0, now - before - TICK_SECONDS) - self.lag) * LAG_SMOOTHING
            for broadcast in list(self.broadcasts.values()):
                try:
                    await self._tick(broadcast, now)
                except Exception:
                    log.exception("media tick of session %s failed", broadcast.session_id)
            if now - shared >= SHARE_SECONDS:
                shared = now
                try:
                    await self._share()
                except Exception:
                    log.exception("media facts not shared")
            if now - cleaned > 60:
                cleaned = now
                await asyncio.to_thread(self._clean_hls)

    async def _tick(self, broadcast: Broadcast, now: float) -> None:
        broadcast.channel.tick()
        for peer in list(broadcast.peers):
            if not peer.connected and now - peer.created > CONNECT_SECONDS:
                await self.close_peer(peer, "not connected in time")
        muxer = broadcast.muxer
        if muxer is not None and not broadcast.hls_ready and muxer.ready.is_set():
            broadcast.hls_ready = True
            broadcast.dirty = True
        if broadcast.off_air_since is not None and now - broadcast.off_air_since > OFF_AIR_GRACE_SECONDS \
                and muxer is not None:
            await self._stop_muxer(broadcast)
        viewers_changed = broadcast.channel.viewer_count != broadcast.pushed_viewers
        if broadcast.dirty or (viewers_changed and now - broadcast.pushed_at >= STATE_PUSH_SECONDS):
            broadcast.push(self.state_frame(broadcast), self.clock())
        if broadcast.busy:
            broadcast.idle_since = None
        elif broadcast.idle_since is None:
            broadcast.idle_since = now
        elif now - broadcast.idle_since > IDLE_SECONDS:
            await self._end_broadcast(broadcast)

    async def _end_broadcast(self, broadcast: Broadcast) -> None:
        self.broadcasts.pop(broadcast.session_id, None)
        await self.viewing.on_air(broadcast.session_id, False)
        await self._stop_muxer(broadcast)
        await broadcast.channel.close()
