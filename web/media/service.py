"""The media service: who may publish, watch and take the floor, and the broadcasts of this process.

The hub's WebSocket endpoint hands it the signalling messages (docs/PROTOCOL.md section 7) with the
connection they came on; it answers on that connection (`rtc_answer`, `rtc_error`, `media_state`).
Each session being broadcast has a `Broadcast`: its relay `Channel`, the floor (raised hands), the
HLS/recording muxer and the connections watching its state. Peer connections live on after their
WebSocket closes (a reconnecting page keeps its video) and end with their ICE/DTLS connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import shutil
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from aiortc import RTCPeerConnection, RTCRtpReceiver

from attendance.devices import Device
from conference.accounts import Action, Role, User, authorize
from conference.errors import ConferenceError, Forbidden, Invalid, NotFound
from conference.halls import Channel as HallChannel
from conference.halls import Hall
from conference.service import ConferenceService
from web.live.protocol import FloorControl, MediaMessage, MediaWatch, RaiseHand, RtcCandidate, RtcClose, RtcOffer, frame
from web.media import tap
from web.media.floor import Floor, FloorError
from web.media.frames import Kind
from web.media.ice import IceServer
from web.media.muxer import PLAYLIST, ProgramMuxer
from web.media.peers import OfferRefused, Peers, add_candidate, announce_addresses, close_quietly
from web.media.relay import Channel, RelayTrack, Source
from web.usecases.facts import ConferenceFacts

log = logging.getLogger(__name__)

PUBLISHERS = frozenset({Role.PRESENTER, Role.ORGANISER, Role.ADMIN})
TICK_SECONDS = 0.25
STATE_PUSH_SECONDS = 2.0  # viewer counts are pushed at most this often
CONNECT_SECONDS = 30.0  # a peer not connected by then is closed
OFF_AIR_GRACE_SECONDS = 30.0  # a broadcast without a source for this long ends its HLS and recording
IDLE_SECONDS = 60.0  # a broadcast with nobody left is forgotten
HLS_KEEP_SECONDS = 600.0  # an ended HLS stream stays on disk this long
PEERS_PER_CONNECTION = 3
OVERLOAD_LAG_SECONDS = 0.5  # the event loop this late (smoothed), with OVERLOAD_VIEWERS: new viewers go to HLS
OVERLOAD_VIEWERS = 20
LAG_SMOOTHING = 0.1  # about the last 2.5 s of ticks
KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HLS_FILE = re.compile(r"^(index\.m3u8|\d{1,9}\.ts)$")
RECORDING_FILE = re.compile(r"^\d{8}-\d{6}\.mp4$")


class MediaRefused(Exception):
    """A signalling request that is refused; sent back as `rtc_error` with `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Connection(Protocol):
    """What the media service needs of a hub connection (web.live.hub.Conn)."""

    user: User | None
    device: Device | None
    closing: bool

    def push(self, text: str) -> None: ...


class PeerRole(StrEnum):
    PUBLISH = "publish"
    VIEW = "view"


@dataclass(eq=False)
class Peer:
    id: str
    role: PeerRole
    session_id: int
    pc: RTCPeerConnection
    owner: Connection | None
    created: float
    source: Source | None = None
    tracks: list[RelayTrack] = field(default_factory=list)
    connected: bool = False
    closed: bool = False


@dataclass(frozen=True)
class Audience:
    """Who asks, about which session: the session's conference and, for a hall screen, its hall."""

    session_id: int
    conference_id: int
    organiser_unit_id: int
    user: User | None
    hall: Hall | None  # the device's hall


@dataclass(eq=False)
class Broadcast:
    session_id: int
    conference_id: int
    channel: Channel
    floor: Floor = field(default_factory=Floor)
    watchers: set[Connection] = field(default_factory=set)
    peers: set[Peer] = field(default_factory=set)
    muxer: ProgramMuxer | None = None
    hls_key: str | None = None
    hls_ready: bool = False
    off_air_since: float | None = None
    idle_since: float | None = None
    pushed_viewers: int = -1
    pushed_at: float = 0.0
    dirty: bool = True

    @property
    def presenter(self) -> Source | None:
        return self.channel.sources.get("presenter")


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

    @property
    def hls_root(self) -> Path:
        return self.media_root / "hls"

    @property
    def recordings_root(self) -> Path:
        return self.media_root / "recordings"


class MediaService:
    def __init__(self, config: MediaConfig, conference: ConferenceService, facts: ConferenceFacts,
                 clock: Callable[[], float] = time.monotonic) -> None:
        tap.check()
        self.config = config
        self.conference = conference
        self.facts = facts
        self.clock = clock
        self.peers = Peers(config.ice_servers, config.video_codec, config.lean_rtp)
        self.broadcasts: dict[int, Broadcast] = {}
        self._peers: dict[str, Peer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self.lag = 0.0  # smoothed lateness of the event loop, seconds
        self.muxing = config.video_codec == "H264" and (config.hls or config.record)

    # -- lifecycle ----------------------------------------------------------------------------------
    async def start(self) -> None:
        announce_addresses(list(self.config.addresses))
        await asyncio.to_thread(self._clean_hls, HLS_KEEP_SECONDS)  # others may share the volume
        self._ticker = asyncio.create_task(self._tick_loop(), name="media-tick")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        await asyncio.gather(*(self._close_peer(p, "shutting down") for p in list(self._peers.values())))
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
        """Handle a signalling message in the background; the endpoint's read loop goes on."""
        self._spawn(self._handle(conn, message))

    def disconnect(self, conn: Connection) -> None:
        """The WebSocket closed: it no longer watches; its peer connections live on."""
        for broadcast in self.broadcasts.values():
            broadcast.watchers.discard(conn)
        for peer in self._peers.values():
            if peer.owner is conn:
                peer.owner = None

    async def _handle(self, conn: Connection, message: MediaMessage) -> None:
        session = getattr(message, "session", None)
        try:
            if isinstance(message, RtcOffer):
                await self._offer(conn, message)
            elif isinstance(message, RtcCandidate):
                peer = self._own_peer(conn, message.pc)
                try:
                    await add_candidate(peer.pc, message.candidate, message.sdp_mid, message.sdp_mline_index)
                except OfferRefused as e:
                    raise MediaRefused("bad_candidate", str(e)) from None
            elif isinstance(message, RtcClose):
                await self._close_peer(self._own_peer(conn, message.pc), "closed by the client")
            elif isinstance(message, MediaWatch):
                await self._watch(conn, message.session)
            elif isinstance(message, RaiseHand):
                await self._hand(conn, message)
            elif isinstance(message, FloorControl):
                await self._floor(conn, message)
        except MediaRefused as e:
            conn.push(frame("rtc_error", code=e.code, message=e.message, session=session,
                            ref=getattr(message, "ref", None), pc=getattr(message, "pc", None)))
        except Forbidden as e:
            conn.push(frame("rtc_error", code="forbidden", message=e.message, session=session,
                            ref=getattr(message, "ref", None)))
        except NotFound as e:
            conn.push(frame("rtc_error", code="not_found", message=e.message, session=session,
                            ref=getattr(message, "ref", None)))
        except ConferenceError as e:
            conn.push(frame("rtc_error", code=e.code, message=e.message, session=session))
        except Exception:
            log.exception("media message %s failed", type(message).__name__)
            conn.push(frame("rtc_error", code="internal", message="the media service failed", session=session))

    # -- who may do what ----------------------------------------------------------------------------
    async def audience(self, user: User | None, device: Device | None, session_id: int) -> Audience:
        """Check that `user` or `device` may watch the session; Forbidden or NotFound otherwise.

        Watchers: the participants invited to the session's conference, staff and presenters whose scope
        the conference concerns, the administrator, and kiosks/hall screens of the conference's halls.
        """
        store = self.conference.store
        if device is not None:
            session = await store.get_session(session_id)
            hall = await store.get_hall(device.hall_id)
            if hall.conference_id != session.conference_id:
                raise Forbidden("this device's hall is not in the session's conference")
            conf = await store.get_conference(session.conference_id)
            return Audience(session.id, conf.id, conf.organiser_unit_id, None, hall)
        if user is None:
            raise Forbidden("sign in first")
        conf, session = await self.conference.session(user, session_id)
        if user.role is Role.PARTICIPANT and (
                user.person_id is None or user.person_id not in await self.facts.invited(conf.id)):
            raise Forbidden("not invited to this conference")
        return Audience(session.id, conf.id, conf.organiser_unit_id, user, None)

    @staticmethod
    def may_publish(user: User | None) -> bool:
        return user is not None and user.active and user.role in PUBLISHERS

    async def may_control(self, user: User | None, audience: Audience) -> bool:
        """The organisers of the conference (and the administrator) order the queue and give the floor."""
        if user is None:
            return False
        try:
            authorize(user, Action.MANAGE_CONFERENCE, audience.organiser_unit_id, await self.conference.tree())
        except Forbidden:
            return False
        return True

    async def _speaking_hall(self, conn: Connection, audience: Audience, hall_id: int | None) -> Hall:
        """The hall a hall screen speaks for: a kiosk's own hall, or one the hall's staff may run."""
        if audience.hall is not None:
            if hall_id is not None and hall_id != audience.hall.id:
                raise Forbidden("a device speaks only for its own hall")
            hall = audience.hall
        else:
            if hall_id is None or conn.user is None:
                raise Invalid("name the hall", field="hall")
            hall = await self.conference.hall(conn.user, hall_id, Action.VIEW_ATTENDANCE)
            if hall.conference_id != audience.conference_id:
                raise Forbidden("this hall is not in the session's conference")
        if hall.channel is not HallChannel.TWO_WAY:
            raise MediaRefused("not_two_way", "only two-way halls can ask to speak")
        return hall

    # -- signalling ---------------------------------------------------------------------------------
    def _own_peer(self, conn: Connection, peer_id: str) -> Peer:
        peer = self._peers.get(peer_id)
        if peer is None or (peer.owner is not None and peer.owner is not conn):
            raise MediaRefused("unknown_pc", "no such peer connection on this socket")
        peer.owner = conn
        return peer

    async def _offer(self, conn: Connection, offer: RtcOffer) -> None:
        audience = await self.audience(conn.user, conn.device, offer.session)
        if sum(p.owner is conn for p in self._peers.values()) >= PEERS_PER_CONNECTION:
            raise MediaRefused("too_many", f"at most {PEERS_PER_CONNECTION} peer connections per socket")
        broadcast = self._broadcast(audience)
        if offer.role == "view":
            peer, answer = await self.view(broadcast, offer.sdp, conn)
        elif offer.hall is not None or (conn.device is not None and conn.user is None):
            hall = await self._speaking_hall(conn, audience, offer.hall)
            if broadcast.floor.holder != hall.id:
                raise MediaRefused("no_floor", "this hall does not have the floor")
            peer, answer = await self.publish(broadcast, offer.sdp, Source(f"hall:{hall.id}", hall.name, hall.id),
                                              conn)
        else:
            if not self.may_publish(conn.user):
                raise Forbidden("only presenters and organisers may broadcast")
            assert conn.user is not None
            peer, answer = await self.publish(broadcast, offer.sdp, Source("presenter", conn.user.display_name), conn)
        conn.push(frame("rtc_answer", session=offer.session, role=offer.role, pc=peer.id, sdp=answer, ref=offer.ref))

    def _broadcast(self, audience: Audience) -> Broadcast:
        broadcast = self.broadcasts.get(audience.session_id)
        if broadcast is None:
            channel = Channel(audience.session_id, self.clock)
            broadcast = Broadcast(audience.session_id, audience.conference_id, channel)
            channel.listeners.append(lambda _: self._on_air_changed(broadcast))
            self.broadcasts[audience.session_id] = broadcast
        broadcast.idle_since = None
        return broadcast

    def _new_peer(self, role: PeerRole, broadcast: Broadcast, owner: Connection | None) -> Peer:
        peer = Peer(secrets.token_urlsafe(12), role, broadcast.session_id, self.peers.connection(), owner, self.clock())
        self._peers[peer.id] = peer
        broadcast.peers.add(peer)

        @peer.pc.on("connectionstatechange")
        async def changed() -> None:
            state = peer.pc.connectionState
            if state == "connected":
                peer.connected = True
            elif state in ("failed", "closed"):
                await self._close_peer(peer, state)

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
            await self._close_peer(peer, "refused")
            raise MediaRefused("bad_offer", str(e)) from None
        replaced = broadcast.channel.add_source(source)
        if replaced is not None:
            for other in list(broadcast.peers):
                if other.source is replaced:
                    await self._close_peer(other, "replaced")
        self._choose_on_air(broadcast)
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
            await self._close_peer(peer, "refused")
            raise MediaRefused("bad_offer", str(e)) from None
        for kind, track in tracks.items():
            if kind not in kinds:
                track.stop()
        broadcast.dirty = True
        return peer, answer

    async def _close_peer(self, peer: Peer, reason: str) -> None:
        if peer.closed:
            return
        peer.closed = True
        log.log(logging.DEBUG if reason == "shutting down" else logging.INFO, "session %s: %s peer %s closed (%s)",
                peer.session_id, peer.role.value, peer.id, reason)
        self._peers.pop(peer.id, None)
        broadcast = self.broadcasts.get(peer.session_id)
        for track in peer.tracks:
            track.stop()
        if broadcast is not None:
            broadcast.peers.discard(peer)
            if peer.source is not None:
                broadcast.channel.remove_source(peer.source)
                self._choose_on_air(broadcast)
            broadcast.dirty = True
        if peer.owner is not None and reason not in ("closed by the client", "shutting down"):
            peer.owner.push(frame("rtc_closed", pc=peer.id, session=peer.session_id, reason=reason))
        await close_quietly(peer.pc)

    def _choose_on_air(self, broadcast: Broadcast) -> None:
        """The hall with the floor if it is sending, else the presenter; the switch waits for a keyframe."""
        channel = broadcast.channel
        holder = broadcast.floor.holder
        wanted = channel.sources.get(f"hall:{holder}") if holder is not None else None
        wanted = wanted or broadcast.presenter
        if wanted is None:
            if channel.on_air is not None and channel.on_air.key not in channel.sources:
                channel.switch_to(None)
            return
        if channel.on_air is not wanted and channel.next is not wanted:
            channel.switch_to(wanted)

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

    # -- HLS and recording --------------------------------------------------------------------------
    def _start_muxer(self, broadcast: Broadcast) -> None:
        key = secrets.token_urlsafe(18)
        hls_dir = self.config.hls_root / str(broadcast.session_id) / key if self.config.hls else None
        recordings = self.config.recordings_root / str(broadcast.session_id) if self.config.record else None
        broadcast.muxer = ProgramMuxer(hls_dir, recordings, self.config.segment_seconds, audio=self.config.audio,
                                       name=f"session-{broadcast.session_id}")
        broadcast.hls_key = key if hls_dir is not None else None
        broadcast.hls_ready = False
        broadcast.channel.sinks.append(broadcast.muxer.put)
        broadcast.channel.keyframes.every = self.config.segment_seconds if hls_dir is not None else None

    async def _stop_muxer(self, broadcast: Broadcast) -> None:
        muxer, broadcast.muxer = broadcast.muxer, None
        if muxer is None:
            return
        with contextlib.suppress(ValueError):
            broadcast.channel.sinks.remove(muxer.put)
        broadcast.channel.keyframes.every = None
        await asyncio.to_thread(muxer.close)
        broadcast.dirty = True

    def hls_url(self, broadcast: Broadcast) -> str | None:
        if broadcast.hls_key is None or not broadcast.hls_ready:
            return None
        return f"/media/hls/{broadcast.session_id}/{broadcast.hls_key}/{PLAYLIST}"

    def hls_file(self, session_id: int, key: str, name: str) -> Path:
        """A file of an HLS stream; the random key in its path is the capability (nginx/CDN cacheable)."""
        if not KEY.match(key) or not HLS_FILE.match(name):
            raise NotFound("no such HLS file")
        path = self.config.hls_root / str(session_id) / key / name
        if not path.is_file():
            raise NotFound("no such HLS file")
        return path

    def recordings(self, session_id: int) -> list[dict[str, Any]]:
        directory = self.config.recordings_root / str(session_id)
        if not directory.is_dir():
            return []
        out = []
        live = {b.muxer.stats.recording for b in self.broadcasts.values() if b.muxer is not None}
        for path in sorted(directory.iterdir(), reverse=True):
            if RECORDING_FILE.match(path.name):
                started = datetime.strptime(path.stem, "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
                out.append({"name": path.name, "started_at": started.isoformat(), "bytes": path.stat().st_size,
                            "recording": path in live, "url": f"/media/recordings/{session_id}/{path.name}"})
        return out

    def recording_file(self, session_id: int, name: str) -> Path:
        path = self.config.recordings_root / str(session_id) / name
        if not RECORDING_FILE.match(name) or not path.is_file():
            raise NotFound("no such recording")
        return path

    def _clean_hls(self, older_than: float) -> None:
        """Remove HLS streams not written for `older_than` seconds (all of them at start-up)."""
        root = self.config.hls_root
        if not root.is_dir():
            return
        active = {b.hls_key for b in self.broadcasts.values()}
        limit = time.time() - older_than
        for session_dir in root.iterdir():
            for key_dir in session_dir.iterdir() if session_dir.is_dir() else []:
                if key_dir.name not in active and key_dir.stat().st_mtime < limit:
                    shutil.rmtree(key_dir, ignore_errors=True)

    # -- watching, hands and the floor --------------------------------------------------------------
    async def _watch(self, conn: Connection, session_id: int) -> None:
        audience = await self.audience(conn.user, conn.device, session_id)
        broadcast = self._broadcast(audience)
        broadcast.watchers.add(conn)
        conn.push(self._state_frame(broadcast))

    async def _hand(self, conn: Connection, message: RaiseHand) -> None:
        audience = await self.audience(conn.user, conn.device, message.session)
        hall = await self._speaking_hall(conn, audience, message.hall)
        broadcast = self._broadcast(audience)
        if message.up:
            broadcast.floor.raise_hand(hall.id, hall.name, datetime.now(UTC))
        else:
            broadcast.floor.lower_hand(hall.id)
        broadcast.dirty = True

    async def _floor(self, conn: Connection, message: FloorControl) -> None:
        audience = await self.audience(conn.user, conn.device, message.session)
        if not await self.may_control(conn.user, audience):
            raise Forbidden("only the conference's organisers give the floor")
        broadcast = self._broadcast(audience)
        floor = broadcast.floor
        try:
            if message.action == "order":
                floor.reorder(list(message.halls))
            elif message.action == "give":
                assert message.hall is not None
                await self._take_back(broadcast)
                floor.give(message.hall)
            else:
                await self._take_back(broadcast)
        except FloorError as e:
            raise MediaRefused("floor", str(e)) from None
        self._choose_on_air(broadcast)
        broadcast.dirty = True

    async def _take_back(self, broadcast: Broadcast) -> None:
        """The speaking hall goes back to listening: its publishing connection is closed."""
        holder = broadcast.floor.take_back()
        if holder is None:
            return
        for peer in list(broadcast.peers):
            if peer.source is not None and peer.source.hall_id == holder:
                await self._close_peer(peer, "floor taken back")

    # -- state --------------------------------------------------------------------------------------
    def state(self, broadcast: Broadcast) -> dict[str, Any]:
        on_air = broadcast.channel.on_air
        return {
            "session": broadcast.session_id,
            "live": on_air is not None,
            "on_air": None if on_air is None else {"kind": "hall" if on_air.hall_id else "presenter",
                                                   "name": on_air.label, "hall_id": on_air.hall_id},
            "presenter": broadcast.presenter is not None,
            "viewers": broadcast.channel.viewer_count,
            "hls": self.hls_url(broadcast),
            "recording": broadcast.muxer is not None and self.config.record,
            "floor": broadcast.floor.snapshot(),
        }

    def _state_frame(self, broadcast: Broadcast) -> str:
        return frame("media_state", **self.state(broadcast))

    def info(self, audience: Audience) -> dict[str, Any]:
        """What a page needs to start: the state, the ICE servers and the codec."""
        broadcast = self.broadcasts.get(audience.session_id)
        state = self.state(broadcast) if broadcast is not None else {
            "session": audience.session_id, "live": False, "on_air": None, "presenter": False, "viewers": 0,
            "hls": None, "recording": False, "floor": Floor().snapshot()}
        return {**state, "ice_servers": [s.as_dict() for s in self.config.ice_servers],
                "codec": self.config.video_codec, "heartbeat_s": 15}

    def _push_state(self, broadcast: Broadcast) -> None:
        text = self._state_frame(broadcast)
        for conn in list(broadcast.watchers):
            if conn.closing:
                broadcast.watchers.discard(conn)
            else:
                conn.push(text)
        broadcast.pushed_viewers = broadcast.channel.viewer_count
        broadcast.pushed_at = self.clock()
        broadcast.dirty = False

    # -- the ticker ---------------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        cleaned = self.clock()
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
            if now - cleaned > 60:
                cleaned = now
                await asyncio.to_thread(self._clean_hls, HLS_KEEP_SECONDS)

    async def _tick(self, broadcast: Broadcast, now: float) -> None:
        broadcast.channel.tick()
        for peer in list(broadcast.peers):
            if not peer.connected and now - peer.created > CONNECT_SECONDS:
                await self._close_peer(peer, "not connected in time")
        muxer = broadcast.muxer
        if muxer is not None and not broadcast.hls_ready and muxer.ready.is_set():
            broadcast.hls_ready = True
            broadcast.dirty = True
        if broadcast.off_air_since is not None and now - broadcast.off_air_since > OFF_AIR_GRACE_SECONDS \
                and muxer is not None:
            await self._stop_muxer(broadcast)
        viewers_changed = broadcast.channel.viewer_count != broadcast.pushed_viewers
        if broadcast.dirty or (viewers_changed and now - broadcast.pushed_at >= STATE_PUSH_SECONDS):
            self._push_state(broadcast)
        if broadcast.peers or broadcast.watchers or broadcast.floor.hands or broadcast.floor.holder:
            broadcast.idle_since = None
        elif broadcast.idle_since is None:
            broadcast.idle_since = now
        elif now - broadcast.idle_since > IDLE_SECONDS:
            await self._end_broadcast(broadcast)

    async def _end_broadcast(self, broadcast: Broadcast) -> None:
        self.broadcasts.pop(broadcast.session_id, None)
        await self._stop_muxer(broadcast)
        await broadcast.channel.close()
