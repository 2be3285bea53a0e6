"""The relay with real aiortc peers in one process: one publisher, several viewers that decode every
frame, no encoder per viewer, a stuck viewer that holds nobody back, the floor passing to a hall and
back, and the HLS playlist, segments and recording read back with PyAV."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import av
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from tests.media_peers import Pattern, Tone, Viewer, near, publisher_offer, until
from web.media import service as service_module
from web.media import tap
from web.media.access import Audience
from web.media.broadcast import Broadcast
from web.media.errors import MediaRefused
from web.media.frames import Kind
from web.media.relay import QUEUE_FRAMES, Source
from web.media.service import MediaConfig, MediaService

AUDIENCE = Audience(session_id=7, conference_id=1, organiser_unit_id=1, user=None, hall=None)
BLUE, ORANGE = (0, 90, 200), (230, 120, 0)


@pytest.fixture
async def media(tmp_path: Path) -> AsyncIterator[MediaService]:
    service = MediaService(MediaConfig(tmp_path / "media", [], segment_seconds=1.0), None, None)  # type: ignore[arg-type]
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def publish(media: MediaService, broadcast: Broadcast, source: Source, colour: tuple[int, int, int] = BLUE):
    pc = await publisher_offer(Pattern(colour))
    _, answer = await media.publish(broadcast, pc.localDescription.sdp, source)
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    return pc


async def watch(media: MediaService, broadcast: Broadcast) -> Viewer:
    viewer = Viewer()
    _, answer = await media.view(broadcast, await viewer.offer())
    await viewer.answer(answer)
    return viewer


async def test_every_viewer_decodes_the_presenter_and_no_viewer_costs_an_encoder(media: MediaService) -> None:
    broadcast = media.open_broadcast(AUDIENCE)
    started = asyncio.get_running_loop().time()
    with tap.count_encodes() as encodes:
        presenter = await publish(media, broadcast, Source("presenter", "Báo cáo viên"))
        viewers = [await watch(media, broadcast) for _ in range(3)]
        assert await until(lambda: all(v.video_frames >= 45 and v.audio_frames >= 50 for v in viewers), 20), \
            [(v.video_frames, v.audio_frames) for v in viewers]
        created = encodes.encoders
    try:
        assert created == 2  # the publisher's own video and audio encoders, and nothing for 3 viewers
        for viewer in viewers:
            assert viewer.sizes == {(320, 240)}
            assert all(near(c, BLUE) for c in viewer.colours)
            assert viewer.pts == sorted(viewer.pts)
        senders = [t.sender for p in broadcast.peers if p.role == "view" for t in p.pc.getTransceivers()]
        assert len(senders) == 6
        assert all(isinstance(s._RTCRtpSender__encoder, tap.SharedPacketizer) for s in senders)
        # a NACKed packet goes out again as RTX, from the lean RTP loop's history
        video = next(s for s in senders if s.kind == "video")
        history = video._RTCRtpSender__rtp_history
        assert tap._direct_route(video.transport.transport) is not None  # straight to the UDP socket
        stored = next(iter(history.values()))  # the raw packet; bytes 2-3 are its sequence number
        rtx_before = video._RTCRtpSender__rtx_sequence_number
        await video._retransmit(int.from_bytes(stored[2:4], "big"))
        assert video._RTCRtpSender__rtx_sequence_number == (rtx_before + 1) & 0xFFFF
        assert broadcast.channel.viewer_count == 3
        source = broadcast.presenter
        assert source is not None and source.keyframes >= 1 and broadcast.channel.on_air is source
        # every new viewer (and every HLS segment) asks for a keyframe; the presenter hears one a second at most
        assert 1 <= broadcast.channel.keyframes.sent <= 1 + asyncio.get_running_loop().time() - started
    finally:
        for viewer in viewers:
            await viewer.close()
        await presenter.close()
    assert await until(lambda: broadcast.channel.viewer_count == 0 and not broadcast.peers, 10)


async def test_a_stuck_viewer_holds_nobody_back_and_its_queue_stays_bounded(media: MediaService) -> None:
    broadcast = media.open_broadcast(AUDIENCE)
    presenter = await publish(media, broadcast, Source("presenter", "Báo cáo viên"))
    stuck = broadcast.channel.attach(Kind.VIDEO)  # a viewer whose sender never reads
    viewer = await watch(media, broadcast)
    try:
        assert await until(lambda: viewer.video_frames >= 150, 20), viewer.video_frames
        # it skips to each new keyframe (or, behind by a full queue, drops everything and waits for one)
        assert len(stuck.queue) <= QUEUE_FRAMES[Kind.VIDEO]
        assert stuck.queue.stats.dropped >= 100
        assert viewer.pts == sorted(viewer.pts)
    finally:
        stuck.stop()
        await viewer.close()
        await presenter.close()


async def test_the_floor_goes_to_a_hall_and_back_without_breaking_any_picture(media: MediaService) -> None:
    broadcast = media.open_broadcast(AUDIENCE)
    presenter = await publish(media, broadcast, Source("presenter", "Báo cáo viên"), BLUE)
    viewer = await watch(media, broadcast)
    hall_pc = None
    try:
        assert await until(lambda: len(viewer.colours) >= 4, 15)
        assert near(viewer.colours[-1], BLUE)

        broadcast.floor.raise_hand(42, "Điểm cầu xã Gio Mỹ", datetime.now(UTC))
        broadcast.floor.give(42)
        hall_pc = await publish(media, broadcast, Source("hall:42", "Điểm cầu xã Gio Mỹ", 42), ORANGE)
        assert await until(lambda: broadcast.channel.on_air is not None and broadcast.channel.on_air.hall_id == 42, 10)
        seen = len(viewer.colours)
        assert await until(lambda: len(viewer.colours) >= seen + 4 and near(viewer.colours[-1], ORANGE), 10)
        assert media.state(broadcast)["on_air"] == {"kind": "hall", "name": "Điểm cầu xã Gio Mỹ", "hall_id": 42}

        await media.take_back(broadcast)
        broadcast.choose_on_air()
        seen = len(viewer.colours)
        assert await until(lambda: len(viewer.colours) >= seen + 4 and near(viewer.colours[-1], BLUE), 10)
        assert broadcast.channel.on_air is broadcast.presenter
        assert viewer.pts == sorted(viewer.pts)  # one programme clock across three sources
        assert viewer.sizes == {(320, 240)}
    finally:
        await viewer.close()
        await presenter.close()
        if hall_pc is not None:
            await hall_pc.close()


async def test_hls_segments_and_the_recording_decode_with_pyav(media: MediaService) -> None:
    broadcast = media.open_broadcast(AUDIENCE)
    presenter = await publish(media, broadcast, Source("presenter", "Báo cáo viên"))
    try:
        assert await until(lambda: broadcast.hls_ready and broadcast.muxer is not None
                           and broadcast.muxer.stats.segments >= 3, 20)
        url = broadcast.hls_url
        assert url is not None and url.startswith(f"/media/hls/{AUDIENCE.session_id}/")
        key = url.split("/")[4]
        playlist = media.recordings.hls_file(AUDIENCE.session_id, key, "index.m3u8").read_text()
    finally:
        await presenter.close()
    lines = playlist.splitlines()
    assert lines[0] == "#EXTM3U" and any(line.startswith("#EXT-X-MEDIA-SEQUENCE:") for line in lines)
    durations = [float(m) for m in re.findall(r"#EXTINF:([\d.]+),", playlist)]
    segments = [line for line in lines if line.endswith(".ts")]
    assert len(segments) == len(durations) >= 3
    assert all(0.5 <= d <= 2.5 for d in durations), durations  # 1 s target, cut at keyframes
    for name in segments:
        with av.open(str(media.recordings.hls_file(AUDIENCE.session_id, key, name))) as container:
            assert {s.type for s in container.streams} == {"video", "audio"}
            assert container.streams.video[0].codec_context.name == "h264"
            frames = list(container.decode(video=0))
            assert frames and frames[0].key_frame and (frames[0].width, frames[0].height) == (320, 240)
        with av.open(str(media.recordings.hls_file(AUDIENCE.session_id, key, name))) as container:
            assert container.streams.audio[0].codec_context.name == "aac"
            assert sum(f.samples for f in container.decode(audio=0)) > 0

    await media._stop_muxer(broadcast)  # the broadcast ends: the recording is closed
    [recording] = media.recordings.listing(AUDIENCE.session_id)
    path = media.recordings.recording_file(AUDIENCE.session_id, recording["name"])
    with av.open(str(path)) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded >= 60
    with pytest.raises(Exception, match="no such HLS file"):
        media.recordings.hls_file(AUDIENCE.session_id, "x" * 24, "index.m3u8")
    with pytest.raises(Exception, match="no such HLS file"):
        media.recordings.hls_file(AUDIENCE.session_id, key, "../../etc/passwd")


async def test_a_full_or_late_relay_sends_the_next_viewer_to_hls(media: MediaService,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    broadcast = media.open_broadcast(AUDIENCE)
    media.config = replace(media.config, max_viewers=1)
    first, second = await watch(media, broadcast), Viewer()
    try:
        with pytest.raises(MediaRefused) as refused:
            await media.view(broadcast, await second.offer())
        assert refused.value.code == "full" and broadcast.channel.viewer_count == 1
        media.config = replace(media.config, max_viewers=100)
        monkeypatch.setattr(service_module, "OVERLOAD_VIEWERS", 1)
        media.lag = 0.8  # the event loop runs late: no new WebRTC viewer until it catches up
        with pytest.raises(MediaRefused, match="behind its packets"):
            await media.view(broadcast, await second.offer())
    finally:
        await first.close()
        await second.close()


async def test_a_camera_without_a_microphone_goes_on_air(media: MediaService) -> None:
    broadcast = media.open_broadcast(AUDIENCE)
    presenter = await publisher_offer(Pattern(ORANGE), audio=False)
    _, answer = await media.publish(broadcast, presenter.localDescription.sdp, Source("presenter", "Báo cáo viên"))
    await presenter.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    viewer = await watch(media, broadcast)
    try:
        assert await until(lambda: viewer.video_frames >= 15, 20), viewer.video_frames
        assert all(near(c, ORANGE) for c in viewer.colours) and viewer.audio_frames == 0
    finally:
        await viewer.close()
        await presenter.close()
    audio_only = RTCPeerConnection()  # a microphone alone is no broadcast
    audio_only.addTrack(Tone())
    await audio_only.setLocalDescription(await audio_only.createOffer())
    try:
        with pytest.raises(MediaRefused, match="must send video"):
            await media.publish(broadcast, audio_only.localDescription.sdp, Source("presenter", "Báo cáo viên"))
    finally:
        await audio_only.close()
