"""WebRTC peer connections of the relay: answer a publisher's offer (receive, tapped, never decoded)
or a viewer's offer (send relayed frames, never encoded). The browser always offers; the server answers
with every ICE candidate in the answer, so a viewer needs no trickle from the server.

Codecs are pinned to the deployment's one video codec (H.264 by default: HLS and recordings need it)
and Opus, so that any source can go on air to viewers that negotiated before it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import aioice.ice
import aioice.turn
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.sdp import candidate_from_sdp

from web.media import tap
from web.media.frames import Kind
from web.media.ice import IceServer, Turn, ice_for

SDP_MAX = 15_000  # the hub takes frames up to 16 KiB
ORIGINAL_HOST_ADDRESSES = aioice.ice.get_host_addresses
# per UDP socket: with the kernel's bookkeeping, some 3 s of a 1.5 Mbps stream (aioice's 256 KiB: 1.5 s).
# Not more: under a sustained overload a deeper buffer only delays the stream (and ICE consent) further.
RECEIVE_BUFFER = 512 * 1024


class OfferRefused(ValueError):
    """The offer cannot be answered (malformed, unsupported codec, too many streams)."""


def announce_addresses(addresses: list[str], receive_buffer: int = RECEIVE_BUFFER) -> None:
    """Gather host candidates only on these addresses (empty: every interface but loopback, aioice's
    default), on sockets with a `receive_buffer` large enough to ride out a few seconds of the process
    not being scheduled without losing packets. Process-wide: aioice offers no per-connection choice."""
    aioice.turn.UDP_SOCKET_BUFFER_SIZE = receive_buffer
    if addresses:
        aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [
            a for a in addresses if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]
    else:
        aioice.ice.get_host_addresses = ORIGINAL_HOST_ADDRESSES


def _capabilities(kind: str, codec: str) -> list[RTCRtpCodecCapability]:
    caps = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in caps if c.mimeType.lower() == f"{kind}/{codec}".lower()]
    if kind == "video":
        chosen += [c for c in caps if c.mimeType.lower() == "video/rtx"]
    return chosen


def check_offer(sdp: str) -> None:
    if len(sdp) > SDP_MAX or not sdp.startswith("v=0"):
        raise OfferRefused("not an SDP offer")
    lines = sdp.splitlines()
    if sum(line.startswith("m=video") for line in lines) > 1 or sum(line.startswith("m=audio") for line in lines) > 1:
        raise OfferRefused("one video and one audio stream at most")
    if not any(line.startswith(("m=video", "m=audio")) for line in lines):
        raise OfferRefused("the offer has no media")


class Peers:
    """Builds answering peer connections with the deployment's ICE servers and video codec."""

    def __init__(self, ice_servers: list[IceServer], video_codec: str = "H264", lean_rtp: bool = True,
                 turn: Turn | None = None) -> None:
        self.ice_servers = ice_servers
        self.turn = turn
        self.video_codec = video_codec
        self.lean_rtp = lean_rtp  # tap.relay_rtp: the relay's own RTP loop (False: aiortc's)
        self.preferences = {Kind.VIDEO: _capabilities("video", video_codec), Kind.AUDIO: _capabilities("audio", "opus")}
        if not self.preferences[Kind.VIDEO]:
            raise ValueError(f"aiortc cannot carry video codec {video_codec}")

    def connection(self) -> RTCPeerConnection:
        return RTCPeerConnection(RTCConfiguration(iceServers=[
            RTCIceServer(s.urls, s.username, s.credential) for s in ice_for(self.ice_servers, self.turn, time.time())]))

    async def _answer(self, pc: RTCPeerConnection, offer: str) -> str:
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except (ValueError, KeyError, IndexError) as e:
            raise OfferRefused(f"cannot answer this offer: {e}") from None
        except Exception as e:  # aiortc's OperationError / InvalidStateError: no common codec and the like
            raise OfferRefused(f"cannot answer this offer: {e}") from None
        return pc.localDescription.sdp

    async def answer_publisher(self, pc: RTCPeerConnection, offer: str,
                               sink: Callable[[Kind, RTCRtpReceiver], None]) -> str:
        """Receive the offered video and audio; `sink(kind, receiver)` must tap each receiver (it is
        called before the connection starts receiving). Returns the answer SDP."""
        check_offer(offer)
        offered = {line.split(" ", 1)[0].removeprefix("m=") for line in offer.splitlines() if line.startswith("m=")}
        transceivers: dict[Kind, RTCRtpTransceiver] = {}
        for kind in (k for k in Kind if k.value in offered):  # a camera without a microphone goes on air too
            transceivers[kind] = pc.addTransceiver(kind.value, direction="recvonly")
            transceivers[kind].setCodecPreferences(self.preferences[kind])
        answer = await self._answer(pc, offer)
        if Kind.VIDEO not in transceivers or transceivers[Kind.VIDEO].mid is None:
            raise OfferRefused("a publisher must send video")
        for kind, transceiver in transceivers.items():
            if transceiver.mid is not None:
                sink(kind, transceiver.receiver)
        return answer

    async def answer_viewer(self, pc: RTCPeerConnection, offer: str, tracks: dict[Kind, object],
                            on_keyframe_request: Callable[[], None]) -> tuple[str, set[Kind]]:
        """Send the relay tracks the viewer asked for; returns the answer and the kinds it takes."""
        check_offer(offer)
        transceivers: dict[Kind, RTCRtpTransceiver] = {}
        for kind, track in tracks.items():
            transceiver = pc.addTransceiver(track, direction="sendonly")  # type: ignore[arg-type]
            transceiver.setCodecPreferences(self.preferences[kind])
            tap.share_packetizer(transceiver.sender)  # never an encoder, even on aiortc's own RTP loop
            if self.lean_rtp:
                tap.relay_rtp(transceiver.sender)
            if kind is Kind.VIDEO:
                tap.on_keyframe_request(transceiver.sender, on_keyframe_request)
            transceivers[kind] = transceiver
        answer = await self._answer(pc, offer)
        return answer, {kind for kind, t in transceivers.items() if t.mid is not None}


async def add_candidate(pc: RTCPeerConnection, candidate: str, sdp_mid: str | None,
                        sdp_mline_index: int | None) -> None:
    """A trickled browser candidate ("candidate:…" line); an empty one ends the trickle."""
    if not candidate:
        return
    text = candidate.removeprefix("a=").removeprefix("candidate:")
    try:
        parsed = candidate_from_sdp(text)
    except (ValueError, IndexError):
        raise OfferRefused("malformed ICE candidate") from None
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = sdp_mline_index
    await pc.addIceCandidate(parsed)


async def close_quietly(pc: RTCPeerConnection, timeout: float = 5.0) -> None:
    with contextlib.suppress(Exception):  # already gone
        await asyncio.wait_for(pc.close(), timeout)
