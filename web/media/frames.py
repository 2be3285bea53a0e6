"""Encoded frames and what can be read from their bitstream without decoding: is this a keyframe?

Pure: bytes in, facts out. H.264 frames are Annex B (start codes), as aiortc's depayloader assembles
them; VP8 frames are the codec's own frame bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    VIDEO = "video"
    AUDIO = "audio"


H264_IDR = 5
H264_SPS = 7
H264_PPS = 8


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One encoded frame as it arrived from a source: its codec, bytes and media timestamp."""

    kind: Kind
    codec: str  # "H264", "VP8", "opus" (aiortc's codec names)
    data: bytes
    timestamp: int  # in `clock_rate` units, counted from the source's first frame
    clock_rate: int
    keyframe: bool


def nal_units(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B byte stream (3- or 4-byte start codes)."""
    start = data.find(b"\x00\x00\x01")
    while start != -1:
        start += 3
        end = data.find(b"\x00\x00\x01", start)
        if end == -1:
            yield data[start:]
            return
        yield data[start:end - 1] if data[end - 1] == 0 else data[start:end]
        start = end


def h264_nal_types(data: bytes) -> list[int]:
    return [unit[0] & 0x1F for unit in nal_units(data) if unit]


def h264_is_keyframe(data: bytes) -> bool:
    """An IDR picture: a decoder can start here (WebRTC senders put SPS and PPS in front of it)."""
    return H264_IDR in h264_nal_types(data)


def vp8_is_keyframe(data: bytes) -> bool:
    """RFC 6386 9.1: the frame tag's lowest bit is 0 on a key frame, followed by the start code 9d 01 2a."""
    return len(data) >= 6 and data[0] & 0x01 == 0 and data[3:6] == b"\x9d\x01\x2a"


def is_keyframe(codec: str, data: bytes) -> bool:
    """Whether a decoder can start at this frame. Audio frames always can."""
    name = codec.upper()
    if name == "H264":
        return h264_is_keyframe(data)
    if name == "VP8":
        return vp8_is_keyframe(data)
    return True


def frame(kind: Kind, codec: str, data: bytes, timestamp: int, clock_rate: int) -> EncodedFrame:
    return EncodedFrame(kind, codec, data, timestamp, clock_rate,
                        True if kind is Kind.AUDIO else is_keyframe(codec, data))
