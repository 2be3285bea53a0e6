"""One session's broadcast on this process, as records: its relay channel, the floor, the HLS/recording
muxer, its peer connections and the hub connections watching its state; which source goes on air, and
what its `media_state` says. The media service (web/media/service.py) drives them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from aiortc import RTCPeerConnection

from attendance.devices import Device
from conference.accounts import User
from web.media.floor import Floor
from web.media.muxer import ProgramMuxer
from web.media.recordings import Recordings
from web.media.relay import Channel, RelayTrack, Source


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
    """A WebRTC peer connection of a broadcast; it outlives the WebSocket that opened it (`owner`)."""

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
    user_id: int | None = None  # the signed-in user who opened it (a viewer's media flowing counts for them)


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

    @property
    def busy(self) -> bool:
        """Someone still takes part: a peer, a watcher, a raised hand or a hall with the floor."""
        return bool(self.peers or self.watchers or self.floor.hands or self.floor.holder)

    @property
    def hls_url(self) -> str | None:
        """Where its HLS stream is played, once the playlist has a segment."""
        if self.hls_key is None or not self.hls_ready:
            return None
        return Recordings.hls_url(self.session_id, self.hls_key)

    def attach_muxer(self, muxer: ProgramMuxer, hls_key: str | None, segment_seconds: float) -> None:
        """The programme goes to `muxer` too; while it cuts HLS, a keyframe is asked for every segment."""
        self.muxer, self.hls_key, self.hls_ready = muxer, hls_key, False
        self.channel.sinks.append(muxer.put)
        self.channel.keyframes.every = segment_seconds if hls_key is not None else None

    def detach_muxer(self) -> ProgramMuxer | None:
        """The muxer, no longer fed (the caller closes it); None if there was none."""
        muxer, self.muxer = self.muxer, None
        if muxer is not None:
            with contextlib.suppress(ValueError):
                self.channel.sinks.remove(muxer.put)
            self.channel.keyframes.every = None
        return muxer

    def push(self, text: str, now: float) -> None:
        """Send a state frame to every watcher still connected."""
        for conn in list(self.watchers):
            if conn.closing:
                self.watchers.discard(conn)
            else:
                conn.push(text)
        self.pushed_viewers = self.channel.viewer_count
        self.pushed_at = now
        self.dirty = False

    def choose_on_air(self) -> None:
        """The hall with the floor if it is sending, else the presenter; the switch waits for a keyframe."""
        channel = self.channel
        holder = self.floor.holder
        wanted = channel.sources.get(f"hall:{holder}") if holder is not None else None
        wanted = wanted or self.presenter
        if wanted is None:
            if channel.on_air is not None and channel.on_air.key not in channel.sources:
                channel.switch_to(None)
            return
        if channel.on_air is not wanted and channel.next is not wanted:
            channel.switch_to(wanted)

    def state(self, recording: bool) -> dict[str, Any]:
        """The `media_state` of the broadcast (docs/PROTOCOL.md section 7)."""
        on_air = self.channel.on_air
        return {
            "session": self.session_id,
            "live": on_air is not None,
            "on_air": None if on_air is None else {"kind": "hall" if on_air.hall_id else "presenter",
                                                   "name": on_air.label, "hall_id": on_air.hall_id},
            "presenter": self.presenter is not None,
            "viewers": self.channel.viewer_count,
            "hls": self.hls_url,
            "recording": recording,
            "floor": self.floor.snapshot(),
        }


def quiet_state(session_id: int) -> dict[str, Any]:
    """The `media_state` of a session this process broadcasts nothing of."""
    return {"session": session_id, "live": False, "on_air": None, "presenter": False, "viewers": 0,
            "hls": None, "recording": False, "floor": Floor().snapshot()}
