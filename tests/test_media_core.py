"""The media plane's pure pieces, without an event loop: keyframes in a bitstream, the per-viewer queue,
keyframe requests, the programme clock, the floor, HLS playlists and cuts, ICE settings, signalling, and
the permission table's media actions; viewers' HLS keys, and the media facts online attendance reads
(in memory, and in a real Redis)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from conference.accounts import Role, User
from web.live.protocol import (
    FloorControl,
    MediaWatch,
    ProtocolError,
    RaiseHand,
    RtcCandidate,
    RtcClose,
    RtcOffer,
    parse,
)
from web.media.access import may_publish, watches_as_invitee
from web.media.fanout import FrameQueue, KeyframePolicy, Offered
from web.media.floor import Floor, FloorError
from web.media.frames import h264_is_keyframe, h264_nal_types, is_keyframe, nal_units, vp8_is_keyframe
from web.media.ice import IceServer, parse_ice_servers
from web.media.playlist import Cutter, Playlist, Segment
from web.media.timeline import Timeline
from web.media.viewing import AIR_SECONDS, FLOW_SECONDS, Facts, MemoryFacts, RedisFacts, ViewerKeys
from web.settings import SettingsError, load

SPS, PPS = b"\x67\x42\xc0\x1e\xda", b"\x68\xce\x0f\xc8"
IDR, SLICE = b"\x65\x88\x84\x00", b"\x41\x9a\x21\x00"


def annexb(*units: bytes, long: bool = True) -> bytes:
    return b"".join((b"\x00\x00\x00\x01" if long else b"\x00\x00\x01") + u for u in units)


# -- frames ---------------------------------------------------------------------------------------------
def test_h264_keyframes_are_idr_pictures_with_either_start_code() -> None:
    key = annexb(SPS, PPS, IDR)
    assert list(nal_units(key)) == [SPS, PPS, IDR] and h264_nal_types(key) == [7, 8, 5]
    assert h264_is_keyframe(key) and h264_is_keyframe(annexb(SPS, PPS, IDR, long=False))
    assert not h264_is_keyframe(annexb(SLICE)) and not h264_is_keyframe(annexb(SPS, PPS))
    assert not h264_is_keyframe(b"") and h264_nal_types(b"\x00\x00") == []


def test_vp8_keyframes_by_their_frame_tag_and_start_code() -> None:
    assert vp8_is_keyframe(bytes([0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x40, 0x01]))
    assert not vp8_is_keyframe(bytes([0x51, 0x42, 0x00, 0x9D, 0x01, 0x2A]))  # inter frame
    assert not vp8_is_keyframe(bytes([0x50, 0x42, 0x00, 0x00, 0x00, 0x00])) and not vp8_is_keyframe(b"\x50")
    assert is_keyframe("opus", b"\x01") and is_keyframe("h264", annexb(IDR))


# -- the per-viewer queue -------------------------------------------------------------------------------
def test_a_new_viewer_starts_at_a_keyframe() -> None:
    q: FrameQueue[str] = FrameQueue(capacity=4, catch_up=3)
    assert q.offer("p1", False) is Offered.SKIPPED and len(q) == 0
    assert q.offer("k1", True) is Offered.QUEUED and q.offer("p2", False) is Offered.QUEUED
    assert [q.pop(), q.pop(), q.pop()] == ["k1", "p2", None]


def test_a_lagging_viewer_drops_its_backlog_and_waits_for_the_next_keyframe() -> None:
    q: FrameQueue[str] = FrameQueue(capacity=4, catch_up=4, waiting=False)
    for i in range(4):
        assert q.offer(f"p{i}", False) is Offered.QUEUED
    assert q.offer("p4", False) is Offered.OVERFLOW  # ask upstream for a keyframe
    assert len(q) == 0 and q.waiting and q.stats.dropped == 4 and q.stats.overflows == 1
    assert q.offer("p5", False) is Offered.SKIPPED
    assert q.offer("k", True) is Offered.QUEUED and q.pop() == "k"
    for i in range(100):  # never more than the capacity, whatever happens
        q.offer(str(i), i % 7 == 0)
        assert len(q) <= 4


def test_a_late_viewer_skips_ahead_when_a_keyframe_comes() -> None:
    q: FrameQueue[str] = FrameQueue(capacity=10, catch_up=3, waiting=False)
    for i in range(3):
        q.offer(f"p{i}", False)
    assert q.offer("k", True) is Offered.CAUGHT_UP and q.pop() == "k" and q.pop() is None
    q.offer("p", False)
    assert q.offer("k2", True) is Offered.QUEUED and len(q) == 2  # only a little behind: keeps its frames
    q.restart()
    assert len(q) == 0 and q.offer("p", False) is Offered.SKIPPED
    with pytest.raises(ValueError):
        FrameQueue(capacity=2, catch_up=3)


def test_keyframe_requests_are_coalesced_and_rate_limited() -> None:
    policy = KeyframePolicy(min_interval=1.0)
    assert not policy.due(0.0)  # nobody asked
    policy.want()
    policy.want()
    assert policy.due(10.0) and policy.coalesced == 1
    policy.want()
    assert not policy.due(10.5)  # too soon after the last one
    assert policy.due(11.0) and policy.sent == 2
    policy.want()
    policy.saw_keyframe(11.2)  # a keyframe came anyway: nothing owed
    assert not policy.due(20.0)


def test_periodic_keyframes_only_when_none_came_for_a_while() -> None:
    policy = KeyframePolicy(min_interval=0.5, every=2.0)
    assert policy.due(0.0)  # segments need a first keyframe
    policy.saw_keyframe(0.1)
    assert not policy.due(1.5) and policy.due(2.2)
    policy.saw_keyframe(2.3)
    assert not policy.due(3.0)


# -- the programme clock --------------------------------------------------------------------------------
def test_the_programme_clock_runs_on_across_sources() -> None:
    clock = Timeline(90_000)
    a, b = object(), object()
    assert clock.map(a, 0, 0.0) == 0 and clock.map(a, 3000, 0.033) == 3000
    # the hall joins ten seconds in; its own clock starts at 5_000_000
    at = clock.map(b, 5_000_000, 10.0)
    assert at == 900_000 and clock.map(b, 5_003_000, 10.03) == 903_000
    # back to the presenter, whose timestamps now lie in the past of the programme: never backwards
    back = clock.map(a, 6000, 10.05)
    assert back > 903_000 and back >= round(10.05 * 90_000)
    assert clock.map(a, 3000, 10.1) == back + 1  # a source whose clock steps back stays monotonic


def test_buffering_latency_moves_a_source_earlier() -> None:
    audio = Timeline(48_000, latency=0.08)
    assert audio.map("x", 0, 1.0) == round(0.92 * 48_000)


# -- the floor ------------------------------------------------------------------------------------------
def test_halls_queue_the_organiser_orders_and_gives_the_floor() -> None:
    now = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    floor = Floor()
    assert floor.raise_hand(1, "Gio Mỹ", now) and floor.raise_hand(2, "Gio Linh", now)
    assert floor.raise_hand(3, "Cam Lộ", now) and not floor.raise_hand(2, "Gio Linh", now)
    floor.reorder([3, 1])
    assert [h.hall_id for h in floor.hands] == [3, 1, 2]
    with pytest.raises(FloorError):
        floor.reorder([9])
    with pytest.raises(FloorError):
        floor.give(9)
    assert floor.give(3).hall_name == "Cam Lộ" and floor.holder == 3
    assert not floor.raise_hand(3, "Cam Lộ", now)  # already speaking
    assert floor.lower_hand(2) and not floor.lower_hand(2)
    snapshot = floor.snapshot()
    assert snapshot["holder"] == 3 and [h["hall_id"] for h in snapshot["hands"]] == [1]
    assert floor.take_back() == 3 and floor.holder is None and floor.take_back() is None


# -- HLS ------------------------------------------------------------------------------------------------
def test_a_live_playlist_slides_and_counts_discontinuities() -> None:
    playlist = Playlist(target=2.0, window=3)
    removed = []
    for n in range(1, 6):
        removed += playlist.add(Segment(n, f"{n}.ts", 2.0 + n / 100, discontinuity=n == 2))
    assert [s.uri for s in removed] == ["1.ts", "2.ts"]
    text = playlist.render()
    assert text.splitlines()[:5] == ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2",
                                     "#EXT-X-MEDIA-SEQUENCE:3", "#EXT-X-DISCONTINUITY-SEQUENCE:1"]
    assert "#EXTINF:2.030,\n3.ts" in text and "#EXT-X-ENDLIST" not in text
    playlist.add(Segment(6, "6.ts", 2.6))
    assert "#EXT-X-TARGETDURATION:3" in playlist.render()  # rounded durations never exceed it
    playlist.ended = True
    assert playlist.render().endswith("#EXT-X-ENDLIST\n")


def test_a_recording_playlist_keeps_everything() -> None:
    playlist = Playlist(target=2.0, window=None)
    for n in range(20):
        playlist.add(Segment(n, f"{n}.ts", 2.0))
    assert len(playlist.segments) == 20 and "#EXT-X-PLAYLIST-TYPE:EVENT" in playlist.render()


def test_segments_are_cut_at_keyframes_once_long_enough() -> None:
    cutter = Cutter(target=2.0)
    assert not cutter.cut(0.0, False)  # nothing before the first keyframe
    assert cutter.cut(0.5, True)
    assert not cutter.cut(1.0, True) and not cutter.cut(2.0, False)
    assert cutter.cut(2.5, True)
    assert cutter.cut(8.6, False)  # no keyframe for three targets: cut anyway
    cutter.reset()
    assert not cutter.cut(9.0, False) and cutter.cut(9.1, True)


# -- settings and signalling ----------------------------------------------------------------------------
def test_ice_servers_default_to_none_and_accept_urls_or_json() -> None:
    assert parse_ice_servers("") == []
    assert parse_ice_servers("stun:10.0.0.1:3478, turn:10.0.0.1") == [IceServer(["stun:10.0.0.1:3478"]),
                                                                        IceServer(["turn:10.0.0.1"])]
    [turn] = parse_ice_servers('[{"urls": ["turn:t.local:3478"], "username": "u", "credential": "p"}]')
    assert turn.as_dict() == {"urls": ["turn:t.local:3478"], "username": "u", "credential": "p"}
    for bad in ("http://stun.example", "[{}]", "[1, 2", "[{\"urls\": \"ftp://x\"}]"):
        with pytest.raises(ValueError):
            parse_ice_servers(bad)
    settings = load({}, None, secret_key="s" * 40)
    assert settings.ice_servers == "" and settings.media_codec == "H264"
    assert str(settings.media_root) == "var/media"
    with pytest.raises(SettingsError, match="ICE_SERVERS"):
        load({"HOINGHI_ICE_SERVERS": "stun.l.google.com"}, None, secret_key="s" * 40)
    with pytest.raises(SettingsError, match="MEDIA_CODEC"):
        load({"HOINGHI_MEDIA_CODEC": "AV1"}, None, secret_key="s" * 40)


def test_signalling_messages_parse_or_close_with_4002() -> None:
    assert parse('{"type":"rtc_offer","session":3,"role":"view","sdp":"v=0","ref":"r1"}') == \
        RtcOffer(3, "view", "v=0", None, "r1")
    assert parse('{"type":"rtc_offer","session":3,"role":"publish","sdp":"v=0","hall":9}').hall == 9
    assert parse('{"type":"rtc_candidate","pc":"abc","candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host",'
                 '"sdp_mid":"0","sdp_mline_index":0}') == \
        RtcCandidate("abc", "candidate:1 1 udp 1 1.2.3.4 5 typ host", "0", 0)
    assert parse('{"type":"rtc_candidate","pc":"abc","candidate":""}').candidate == ""
    assert parse('{"type":"rtc_close","pc":"abc"}') == RtcClose("abc")
    assert parse('{"type":"media_watch","session":3}') == MediaWatch(3)
    assert parse('{"type":"raise_hand","session":3,"hall":4}') == RaiseHand(3, 4, True)
    assert parse('{"type":"lower_hand","session":3}') == RaiseHand(3, None, False)
    assert parse('{"type":"floor","session":3,"action":"give","hall":4}') == FloorControl(3, "give", 4)
    assert parse('{"type":"floor","session":3,"action":"order","halls":[4,5]}').halls == (4, 5)
    assert parse('{"type":"floor","session":3,"action":"take_back"}') == FloorControl(3, "take_back")
    for bad in ('{"type":"rtc_offer","session":3,"role":"steal","sdp":"v=0"}',
                '{"type":"rtc_offer","session":"3","role":"view","sdp":"v=0"}',
                '{"type":"rtc_offer","session":3,"role":"view"}',
                '{"type":"rtc_candidate","pc":"a","candidate":5}',
                '{"type":"raise_hand","session":true}',
                '{"type":"floor","session":3,"action":"give"}',
                '{"type":"floor","session":3,"action":"order","halls":[]}',
                '{"type":"floor","session":3,"action":"order","halls":["x"]}',
                '{"type":"floor","session":3,"action":"shout"}'):
        with pytest.raises(ProtocolError) as refused:
            parse(bad)
        assert refused.value.close == 4002, bad


@pytest.mark.parametrize("role, publish, invitee", [
    (Role.ADMIN, True, False), (Role.ORGANISER, True, False), (Role.PRESENTER, True, False),
    (Role.HALL_CHAIR, False, False), (Role.HALL_CLERK, False, False), (Role.PARTICIPANT, False, True)])
def test_who_may_publish_and_who_watches_as_an_invitee(role: Role, publish: bool, invitee: bool) -> None:
    user = User(1, "u", "U", role, None if role is Role.ADMIN else 1, 7 if role is Role.PARTICIPANT else None)
    assert may_publish(user) is publish and watches_as_invitee(user) is invitee
    assert not may_publish(User(1, "u", "U", role, user.scope_unit_id, user.person_id, active=False))
    assert not may_publish(None)


def test_a_viewers_hls_key_names_them_for_that_session_only() -> None:
    keys = ViewerKeys("s" * 40)
    key = keys.key(12, 7)
    assert key.startswith("7.") and keys.viewer(12, key) == 7
    assert keys.viewer(13, key) is None  # another session
    assert keys.viewer(12, "8." + key.split(".")[1]) is None  # another user's id on this MAC
    assert ViewerKeys("o" * 40).viewer(12, key) is None  # another deployment's secret
    assert all(keys.viewer(12, bad) is None for bad in ("", "7", "7.", "x." + "A" * 22, key + "A", "../index"))


async def test_media_facts_live_a_while_unless_told_again() -> None:
    now = [100.0]
    facts = MemoryFacts(lambda: now[0])
    await facts.on_air(1, True)
    await facts.flowing(1, 7)
    assert await facts.read([(1, 7), (1, 8), (2, 7)]) == Facts(frozenset({1}), frozenset({(1, 7)}))
    now[0] += AIR_SECONDS + 0.1  # the media hub stopped telling: on air no more (it died, say)
    assert (await facts.read([(1, 7)])).on_air == frozenset()
    now[0] += FLOW_SECONDS
    assert (await facts.read([(1, 7)])).flowing == frozenset()
    await facts.on_air(1, True)
    await facts.on_air(1, False)  # off air at once
    assert (await facts.read([(1, 7)])).on_air == frozenset()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_media_facts_told_on_one_hub_are_read_on_another(kind: str) -> None:
    from tests.conftest import REDIS_URL

    prefix = f"hoinghi:test:{uuid.uuid4().hex}:"
    if kind == "memory":
        told = read = MemoryFacts()
    else:
        told, read = RedisFacts(REDIS_URL, prefix), RedisFacts(REDIS_URL, prefix)
    try:
        assert await read.read([(1, 7)]) == Facts()
        await told.on_air(1, True)
        await told.flowing(1, 7)
        assert await read.read([(1, 7), (1, 8)]) == Facts(frozenset({1}), frozenset({(1, 7)}))
        await told.on_air(1, False)
        assert await read.read([(1, 7)]) == Facts(frozenset(), frozenset({(1, 7)}))
        assert await read.read([]) == Facts()
    finally:
        await told.close()
        if read is not told:
            await read.close()
