"""Everything that reaches into aiortc's internals, in one small place (checked against aiortc 1.16).

aiortc decodes everything it receives and encodes everything it sends; a relay wants neither. Three
taps, each pinned by a test in tests/test_media_tap.py so an aiortc upgrade that moves them fails there:

1. `tap_receiver`: `RTCRtpReceiver._handle_rtp_packet` assembles each encoded frame in its jitter
   buffer and `put`s `(codec, JitterFrame)` on `__decoder_queue`, read by a decoder thread. We replace
   that queue, before `receive()` starts the thread, with one whose `put` hands the frame to us on the
   event loop and never decodes; only the stop sentinel (None) is queued, so the idle thread still ends.
2. `on_keyframe_request`: a viewer's PLI/FIR makes `RTCRtpSender._handle_rtcp_packet` call
   `self._send_keyframe()`, which for an encoder means "next frame is a keyframe". An instance attribute
   of that name sends the request to us instead, and we forward it upstream.
3. `share_packetizer`: `RTCRtpSender._next_encoded_frame` creates an encoder (`__encoder`) on first use
   and, for anything that is not an `av.Frame`, calls `encoder.pack(data)`. Installing a packetizer
   there first means the sender never creates an encoder, and every viewer sends the payloads the
   programme cut once per frame.

4. `relay_rtp`: per packet, `RTCRtpSender._run_rtp` builds an `RtpPacket`, serialises it and awaits three
   layers of coroutines down to the socket: most of a relay's CPU with many viewers. Its replacement
   (an instance attribute, started by `send()` like the original) writes each header with one
   `struct.pack`, reuses a frame's header extensions (mid, abs-send-time) for all its packets, protects
   with the transport's SRTP session, writes to the selected ICE pair's UDP socket directly (aioice's
   `Connection._nominated`; through aioice as before over a TURN relay) and keeps the sender's history,
   RTCP sender-report counters and retransmissions (`_retransmit`, parsing the stored packet only when a
   NACK asks for it) working.

`request_keyframe` sends an RTCP PLI upstream with the receiver's own `_send_rtcp_pli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import aioice.ice
from aiortc import RTCRtpReceiver, RTCRtpSender, clock
from aiortc.codecs import h264, opus, vpx
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE, HeaderExtensions, RtpPacket, wrap_rtx
from aiortc.utils import random32, uint16_add

log = logging.getLogger(__name__)

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"
_ENCODER = "_RTCRtpSender__encoder"

FrameSink = Callable[[RTCRtpCodecParameters, JitterFrame], None]


class TapUnavailable(RuntimeError):
    """aiortc changed where a tap attaches: the relay cannot run with this version."""


class _Tap(queue.Queue[Any]):
    """Stands in for the receiver's decoder queue: frames go to `sink`, never to the decoder thread."""

    def __init__(self, sink: FrameSink) -> None:
        super().__init__()
        self.sink = sink

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stopping: let its (idle) decoder thread end
            super().put(None)
            return
        codec, encoded = item
        self.sink(codec, encoded)


def tap_receiver(receiver: RTCRtpReceiver, sink: FrameSink) -> None:
    """Deliver the receiver's encoded frames to `sink` (on the event loop) instead of decoding them.

    Call it before the connection starts receiving: right after `setRemoteDescription` of an offer.
    """
    if not isinstance(getattr(receiver, _DECODER_QUEUE, None), queue.Queue):
        raise TapUnavailable("RTCRtpReceiver has no decoder queue to tap")
    setattr(receiver, _DECODER_QUEUE, _Tap(sink))


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call `callback` when the remote viewer asks for a keyframe (RTCP PLI or FIR)."""
    if not callable(getattr(sender, "_send_keyframe", None)):
        raise TapUnavailable("RTCRtpSender has no _send_keyframe")
    sender._send_keyframe = callback  # type: ignore[method-assign]


class Packable(Protocol):
    def packed(self) -> tuple[list[bytes], int]: ...


class SharedPacketizer:
    """The sender's "encoder" for relayed frames: returns the RTP payloads the frame already carries."""

    encodes = 0  # stays 0: nothing here can encode

    def encode(self, frame: Any, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        raise TypeError("a relay sender never encodes")

    def pack(self, packet: Packable) -> tuple[list[bytes], int]:
        return packet.packed()


def share_packetizer(sender: RTCRtpSender) -> None:
    """Make the sender send pre-cut payloads (`Packable.packed()`) and never create an encoder."""
    if not hasattr(sender, _ENCODER):
        raise TapUnavailable("RTCRtpSender has no encoder slot")
    setattr(sender, _ENCODER, SharedPacketizer())


async def request_keyframe(receiver: RTCRtpReceiver) -> int:
    """Send a PLI for each media SSRC the receiver hears (not retransmission SSRCs); returns how many."""
    rtx = getattr(receiver, _RTX_SSRC, {})
    sent = 0
    for source in receiver.getSynchronizationSources():
        if source.source not in rtx:
            await receiver._send_rtcp_pli(source.source)
            sent += 1
    return sent


def h264_payloads(data: bytes) -> list[bytes]:
    """RTP payloads (single NAL, STAP-A, FU-A) of one Annex B frame, as aiortc's H.264 sender cuts them."""
    return h264.H264Encoder._packetize(h264.H264Encoder._split_bitstream(data))


def vp8_payloads(data: bytes, picture_id: int) -> list[bytes]:
    return vpx.Vp8Encoder._packetize(data, picture_id)


_SENDER = "_RTCRtpSender__"
_SENDER_STATE = ("rtp_started", "rtp_exited", "rtp_history", "rtp_header_extensions_map", "mid", "track",
                 "ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count", "rtx_payload_type",
                 "rtx_sequence_number")
_HEADER = struct.Struct("!BBHLL")


def relay_rtp(sender: RTCRtpSender) -> None:
    """Send relayed frames (`Packable`) with the lean RTP loop described above; call before `send()`."""
    missing = [name for name in _SENDER_STATE if not hasattr(sender, _SENDER + name)]
    if missing:
        raise TapUnavailable(f"RTCRtpSender lacks {missing}")

    async def run(codec: RTCRtpCodecParameters) -> None:
        await _run_relay_rtp(sender, codec)

    async def retransmit(sequence_number: int) -> None:
        await _retransmit(sender, sequence_number)

    sender._run_rtp = run  # type: ignore[method-assign]
    sender._retransmit = retransmit  # type: ignore[method-assign]


async def _run_relay_rtp(sender: RTCRtpSender, codec: RTCRtpCodecParameters) -> None:
    state = sender.__dict__
    history: dict[int, Any] = state[_SENDER + "rtp_history"]
    extensions_map = state[_SENDER + "rtp_header_extensions_map"]
    mid = state[_SENDER + "mid"]
    state[_SENDER + "rtp_started"].set()
    payload_type, ssrc = codec.payloadType, sender._ssrc
    assert payload_type is not None
    sequence_number, origin = random_sequence_number(), random32()
    try:
        while True:
            track = state[_SENDER + "track"]
            if track is None:
                await asyncio.sleep(0.02)
                continue
            frame = await track.recv()
            if not sender._enabled:
                continue
            payloads, pts = frame.packed()
            if not payloads:
                continue
            transport = sender.transport
            if transport.state != "connected":
                raise ConnectionError("the DTLS transport is not connected")
            protect, send = transport._tx_srtp.protect, transport.transport._send
            direct = _direct_route(transport.transport)
            timestamp = (origin + pts) & 0xFFFFFFFF
            ntp = clock.current_ntp_time()
            profile, value = extensions_map.set(HeaderExtensions(mid=mid, abs_send_time=(ntp >> 14) & 0xFFFFFF))
            extension = struct.pack("!HH", profile, len(value) >> 2) + value if value else b""
            first = 0x90 if value else 0x80
            last = len(payloads) - 1
            octets = 0
            for i, payload in enumerate(payloads):
                raw = _HEADER.pack(first, 0x80 | payload_type if i == last else payload_type, sequence_number,
                                   timestamp, ssrc) + extension + payload
                history[sequence_number % RTP_HISTORY_SIZE] = raw
                if direct is not None:
                    direct[0](protect(raw), direct[1])
                else:
                    await send(protect(raw))
                octets += len(payload)
                sequence_number = (sequence_number + 1) & 0xFFFF
            state[_SENDER + "ntp_timestamp"] = ntp
            state[_SENDER + "rtp_timestamp"] = timestamp
            state[_SENDER + "octet_count"] += octets
            state[_SENDER + "packet_count"] += len(payloads)
    except (asyncio.CancelledError, ConnectionError, MediaStreamError):
        pass
    except Exception:
        log.exception("relay RTP loop failed")
    finally:
        track = state[_SENDER + "track"]
        if track is not None:
            track.stop()
            state[_SENDER + "track"] = None
        state[_SENDER + "rtp_exited"].set()


def _direct_route(ice: Any) -> tuple[Callable[[bytes, Any], None], Any] | None:
    """The UDP socket and address of the selected ICE pair, when it is a plain UDP one (host or server-
    reflexive), so packets skip aioice's three coroutine layers; None (send through aioice) otherwise,
    e.g. over a TURN relay, whose framing aioice adds."""
    pair: Any = getattr(getattr(ice, "_connection", None), "_nominated", {}).get(1)
    protocol = getattr(pair, "protocol", None)
    if pair is None or not isinstance(protocol, aioice.ice.StunProtocol) or protocol.transport is None:
        return None
    return protocol.transport.sendto, pair.remote_addr


async def _retransmit(sender: RTCRtpSender, sequence_number: int) -> None:
    """A NACKed packet again, as RTX when negotiated (what aiortc's own `_retransmit` sends)."""
    state = sender.__dict__
    raw = state[_SENDER + "rtp_history"].get(sequence_number % RTP_HISTORY_SIZE)
    if raw is None:
        return
    extensions_map = state[_SENDER + "rtp_header_extensions_map"]
    packet = RtpPacket.parse(raw, extensions_map)
    if packet.sequence_number != sequence_number:
        return
    rtx_payload_type = state[_SENDER + "rtx_payload_type"]
    if rtx_payload_type is not None:
        packet = wrap_rtx(packet, payload_type=rtx_payload_type,
                          sequence_number=state[_SENDER + "rtx_sequence_number"], ssrc=sender._rtx_ssrc)
        state[_SENDER + "rtx_sequence_number"] = uint16_add(state[_SENDER + "rtx_sequence_number"], 1)
    with contextlib.suppress(ConnectionError):
        await sender.transport._send_rtp(packet.serialize(extensions_map))


def check() -> None:
    """Fail at start-up, not mid-conference, when this aiortc lacks a tap point."""
    for cls, name in ((RTCRtpSender, "_send_keyframe"), (RTCRtpReceiver, "_send_rtcp_pli"),
                      (h264.H264Encoder, "_packetize"), (h264.H264Encoder, "_split_bitstream"),
                      (vpx.Vp8Encoder, "_packetize")):
        if not callable(getattr(cls, name, None)):
            raise TapUnavailable(f"aiortc {cls.__name__} has no {name}")


class EncodeCounter:
    """Counts encoders created and frames encoded by aiortc in this process (tests and benchmark)."""

    def __init__(self) -> None:
        self.encoders = 0
        self.frames = 0


@contextmanager
def count_encodes() -> Iterator[EncodeCounter]:
    """While active, every aiortc encoder construction and `encode()` call is counted."""
    counter = EncodeCounter()
    classes = (h264.H264Encoder, vpx.Vp8Encoder, opus.OpusEncoder)
    saved = [(cls, cls.__init__, cls.encode) for cls in classes]

    def wrap(init: Any, encode: Any) -> tuple[Any, Any]:
        def counted_init(self: Any, *args: Any, **kwargs: Any) -> None:
            counter.encoders += 1
            init(self, *args, **kwargs)

        def counted_encode(self: Any, *args: Any, **kwargs: Any) -> Any:
            counter.frames += 1
            return encode(self, *args, **kwargs)

        return counted_init, counted_encode

    try:
        for cls, init, encode in saved:
            cls.__init__, cls.encode = wrap(init, encode)  # type: ignore[method-assign]
        yield counter
    finally:
        for cls, init, encode in saved:
            cls.__init__, cls.encode = init, encode  # type: ignore[method-assign]
