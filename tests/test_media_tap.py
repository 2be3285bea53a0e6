"""Pins the three places web/media/tap.py reaches into aiortc (checked against aiortc 1.16): if an aiortc
upgrade moves one of them, this fails here rather than in a conference."""

from __future__ import annotations

import fractions

import av
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.h264 import H264Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from tests.media_peers import Pattern, until
from web.media import tap
from web.media.frames import Kind, h264_nal_types, is_keyframe
from web.media.relay import ProgramFrame


async def test_the_taps_hold_on_this_aiortc() -> None:
    tap.check()
    sender_pc, receiver_pc = RTCPeerConnection(), RTCPeerConnection()
    frames: list[tuple[RTCRtpCodecParameters, JitterFrame]] = []
    requests: list[int] = []
    try:
        sender_pc.addTrack(Pattern())
        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        transceiver = receiver_pc.addTransceiver("video", direction="recvonly")
        transceiver.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                         if c.mimeType == "video/H264"])
        await receiver_pc.setRemoteDescription(sender_pc.localDescription)
        # 1. the receiver's frames, assembled but not decoded, come to us
        tap.tap_receiver(transceiver.receiver, lambda codec, frame: frames.append((codec, frame)))
        await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
        [sender] = sender_pc.getSenders()
        # 2. a keyframe request from the far end reaches a callback instead of the encoder
        tap.on_keyframe_request(sender, lambda: requests.append(1))
        await sender_pc.setRemoteDescription(RTCSessionDescription(receiver_pc.localDescription.sdp, "answer"))

        assert await until(lambda: len(frames) >= 20, 15), len(frames)
        codec, first = frames[0]
        assert codec.name == "H264" and codec.clockRate == 90000
        assert first.data.startswith(b"\x00\x00\x00\x01") and {7, 8, 5} <= set(h264_nal_types(first.data))
        assert is_keyframe("H264", first.data) and not is_keyframe("H264", frames[5][1].data)
        assert [f.timestamp for _, f in frames] == sorted(f.timestamp for _, f in frames)
        assert transceiver.receiver.track._queue.qsize() == 0  # nothing was decoded

        # 3. RTCRtpReceiver's own PLI goes upstream
        assert await tap.request_keyframe(transceiver.receiver) == 1
        assert await until(lambda: len(requests) >= 1, 5)
    finally:
        await sender_pc.close()
        await receiver_pc.close()


def test_a_relay_sender_packs_the_payloads_cut_once() -> None:
    keyframe = b"\x00\x00\x00\x01\x67\x42\xc0\x1e" + b"\x00\x00\x00\x01\x68\xce\x0f\xc8" + \
        b"\x00\x00\x00\x01\x65" + bytes(range(256)) * 12
    frame = ProgramFrame(Kind.VIDEO, "H264", keyframe, 3000, True)
    payloads, timestamp = tap.SharedPacketizer().pack(frame)
    assert timestamp == 3000 and payloads is frame.packed()[0]  # cut once, shared by every viewer
    assert payloads == H264Encoder().pack(_packet(keyframe))[0]
    assert all(len(p) <= 1300 for p in payloads) and payloads[0][0] & 0x1F == 24  # STAP-A: SPS + PPS


def _packet(data: bytes) -> av.Packet:
    packet = av.Packet(data)
    packet.pts = 3000
    packet.time_base = fractions.Fraction(1, 90000)
    return packet
