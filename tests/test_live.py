"""The live hub through its real WebSocket endpoint: handshake, close codes, snapshots, changes, resume."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.test_checkin_api import qr_text
from tests.world import World, sign_in
from web.live.connections import QUEUE_MAX, Conn
from web.live.protocol import Close
from web.live.tally import HallInfo, Invitee, SessionTally

Socket = Any


def ticket(client: TestClient, username: str) -> str:
    csrf = sign_in(client, username)
    response = client.post("/api/live/ticket", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200
    return str(response.json()["ticket"])


def hello(ws: Socket, ticket_text: str) -> dict[str, Any]:
    ws.send_json({"type": "hello", "v": 1, "ticket": ticket_text})
    welcome: dict[str, Any] = ws.receive_json()
    assert welcome["type"] == "welcome"
    return welcome


def closed_with(ws: Socket) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        for _ in range(10):
            ws.receive_text()
    return closed.value.code


def until(ws: Socket, kind: str) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message


def subscribed(ws: Socket, topic: str) -> dict[str, Any]:
    """Subscribe to `topic` and return the hub's answer: its `error`, `subscribed` or `snapshot` frame.

    Other topics' changes and snapshots may come first, so frames are read up to the pong of a ping
    sent right after: the hub answers messages in order, so an answer that is not there by then fails."""
    ws.send_json({"type": "subscribe", "topic": topic})
    ws.send_json({"type": "ping"})
    answers = []
    while (message := ws.receive_json())["type"] != "pong":
        if message.get("topic") == topic and message["type"] in ("error", "subscribed", "snapshot"):
            answers.append(message)
    assert len(answers) == 1, answers
    return answers[0]


def refused(ws: Socket, topic: str) -> str:
    """The error code the hub answered subscribing to `topic` with (failing when it answered otherwise)."""
    message = subscribed(ws, topic)
    assert message["type"] == "error", message
    return str(message["code"])


def kiosk_scan(client: TestClient, world: World, person: str) -> None:
    response = client.post("/api/checkins", headers={"Authorization": f"Bearer {world.kiosk_token}"},
                           json={"session_id": world.session_id, "credential": qr_text(client, world.persons[person])})
    assert response.json()["outcome"] == "accepted"


@pytest.mark.parametrize(("first", "code"), [
    ({"type": "ping"}, Close.BAD_AUTH),
    ({"type": "hello", "v": 1, "ticket": "forged"}, Close.BAD_AUTH),
    ({"type": "hello", "v": 1, "device_token": "1.wrong"}, Close.BAD_AUTH),
    ({"type": "hello", "v": 2, "ticket": "x"}, Close.BAD_VERSION),
    ("not json at all", Close.BAD_MESSAGE),
    ({"type": "hello", "v": 1, "ticket": "x" * 20_000}, Close.TOO_BIG),
])
def test_bad_handshakes_get_their_close_codes(world_client: tuple[TestClient, World], first: Any, code: int) -> None:
    client, _ = world_client
    with client.websocket_connect("/ws") as ws:
        ws.send_text(first if isinstance(first, str) else json.dumps(first))
        assert closed_with(ws) == code


def test_malformed_messages_after_hello_close_the_socket(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    for bad, code in [("[1, 2]", Close.BAD_MESSAGE), ('{"type": "dance"}', Close.BAD_MESSAGE),
                      ('{"type": "subscribe", "topic": 5}', Close.BAD_MESSAGE),
                      ('{"type": "subscribe", "topic": "session:1/unit:1", "since": -1}', Close.BAD_MESSAGE),
                      ("x" * 17_000, Close.TOO_BIG)]:
        token = ticket(client, "org.p")
        with client.websocket_connect("/ws") as ws:
            hello(ws, token)
            ws.send_text(bad)
            assert closed_with(ws) == code, bad


def test_a_kiosk_says_hello_with_its_token_and_pings(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
        welcome = ws.receive_json()
        assert welcome["user"] == {"device_id": world.kiosk_device_id, "hall_id": world.halls["C1"]}
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"
        ws.send_json({"type": "subscribe", "topic": f"session:{world.session_id}/hall:{world.halls['C2']}"})
        assert ws.receive_json()["code"] == "forbidden"
        ws.send_json({"type": "subscribe", "topic": f"session:{world.session_id}/hall:{world.halls['C1']}"})
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot" and snapshot["data"]["hall"]["expected"] == 2


def test_dashboard_snapshot_then_coalesced_changes(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    token = ticket(client, "org.p")
    topic = f"session:{world.session_id}/unit:{world.units['P']}"
    with client.websocket_connect("/ws") as ws:
        hello(ws, token)
        ws.send_json({"type": "subscribe", "topic": topic})
        snapshot = until(ws, "snapshot")
        data = snapshot["data"]
        assert data["totals"]["expected"] == 3 and data["totals"]["in_person"] == 0 and data["totals"]["halls"] == 2
        assert set(data["units"]) == {str(world.units["D1"]), str(world.units["D2"])}
        kiosk_scan(client, world, "A1")
        kiosk_scan(client, world, "A2")
        seen: dict[str, Any] = {}
        deadline = time.monotonic() + 5
        while seen.get("totals", {}).get("in_person") != 2 and time.monotonic() < deadline:
            change = until(ws, "change")
            assert change["seq"] > snapshot["seq"]
            for key, value in change["data"].items():
                if isinstance(value, list):
                    seen[key] = [*seen.get(key, []), *value]
                else:
                    seen[key] = value if not isinstance(value, dict) else {**seen.get(key, {}), **value}
        assert seen["totals"]["in_person"] == 2 and seen["totals"]["percent"] == 66.7
        assert seen["halls"][str(world.halls["C1"])]["in_person"] == 2
        assert seen["units"][str(world.units["D1"])]["in_person"] == 2
        assert {r["name"] for r in seen["recent"]} == {"Nguyễn Văn An", "Trần Thị Bình"}


def test_scope_decides_which_topics_a_user_reads(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    token = ticket(client, "org.d1")
    with client.websocket_connect("/ws") as ws:
        hello(ws, token)
        assert refused(ws, f"session:{world.session_id}/unit:{world.units['P']}") == "forbidden"
        assert subscribed(ws, f"session:{world.session_id}/unit:{world.units['D1']}")["type"] == "snapshot"
        # from here on a change of the topic read (or presence) may come before each answer
        assert refused(ws, "session:999/unit:1") == "not_found"
        assert refused(ws, f"session:{world.session_id}/unit:999999") == "not_found"
        assert refused(ws, f"session:{world.session_id}/hall:999999") == "not_found"
        assert refused(ws, f"session:{world.session_id}/hall:{world.halls['C2']}") == "forbidden"  # outside D1
        assert subscribed(ws, f"session:{world.session_id}/hall:{world.halls['C1']}")["type"] == "snapshot"
        assert refused(ws, "weather") == "bad_topic"
    token = ticket(client, "member.a1")
    with client.websocket_connect("/ws") as ws:
        hello(ws, token)
        assert refused(ws, f"session:{world.session_id}/unit:{world.units['C1']}") == "forbidden"
        assert subscribed(ws, f"session:{world.session_id}/viewer")["type"] == "subscribed"


def test_a_hall_of_another_conference_is_no_topic_of_the_session(world_client: tuple[TestClient, World]) -> None:
    """Even the administrator, who reads every hall, reads a hall only under a session of its conference."""
    from conference.conferences import ConferenceMode
    from conference.halls import Channel, HallRole

    client, world = world_client
    services = client.app.state.services  # type: ignore[attr-defined]

    async def other_hall() -> int:
        found = await services.conference.store.user_with_hash("org.p")
        assert found is not None
        org = found[0]
        conference = await services.conference.create_conference(org, "Hội nghị khác", "Khác",
                                                                  ConferenceMode.PRESENTER, world.units["P"])
        hall = await services.conference.add_hall(org, conference.id, world.units["C1"], "", HallRole.PARTICIPATING,
                                                  Channel.IN_PERSON)
        return int(hall.id)

    assert client.portal is not None
    other = client.portal.call(other_hall)
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "admin"))
        assert refused(ws, f"session:{world.session_id}/hall:{other}") == "forbidden"
        assert subscribed(ws, f"session:{world.session_id}/hall:{world.halls['C1']}")["type"] == "snapshot"


def test_resume_after_reconnect_misses_no_change(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    topic = f"session:{world.session_id}/unit:{world.units['P']}"
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.p"))
        ws.send_json({"type": "subscribe", "topic": topic})
        snapshot = until(ws, "snapshot")
        epoch = snapshot["epoch"]
        kiosk_scan(client, world, "A1")
        last = until(ws, "change")
    kiosk_scan(client, world, "A2")  # while disconnected
    time.sleep(0.6)  # let the hub push it (to nobody)
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.p"))
        ws.send_json({"type": "subscribe", "topic": topic, "since": last["seq"], "epoch": epoch})
        missed = ws.receive_json()
        assert missed["type"] == "change" and missed["seq"] == last["seq"] + 1
        assert missed["data"]["totals"]["in_person"] == 2
    with client.websocket_connect("/ws") as ws:  # another hub's epoch: a fresh snapshot
        hello(ws, ticket(client, "org.p"))
        ws.send_json({"type": "subscribe", "topic": topic, "since": last["seq"], "epoch": "another-hub"})
        fresh = ws.receive_json()
        assert fresh["type"] == "snapshot" and fresh["data"]["totals"]["in_person"] == 2


async def test_a_slow_consumer_is_closed_and_never_blocks_others() -> None:
    never = asyncio.Event()
    closed: list[int] = []
    delivered: list[str] = []

    async def stuck_send(text: str) -> None:
        await never.wait()  # a client that stopped reading: the socket's buffer is full

    async def fast_send(text: str) -> None:
        delivered.append(text)

    async def close(code: int, reason: str) -> None:
        closed.append(code)

    slow, fast = Conn(stuck_send, close, None, None), Conn(fast_send, close, None, None)
    for n in range(QUEUE_MAX + 5):
        slow.push(f"frame {n}")
        fast.push(f"frame {n}")
        await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert closed == [Close.SLOW_CONSUMER] and slow.closing
    assert len(delivered) == QUEUE_MAX + 5 and not fast.closing
    assert slow.sender is not None
    slow.sender.cancel()


def test_watching_long_enough_makes_a_participant_present_online(app_settings: Any, tmp_path: Any) -> None:
    """A participant whose player pulls the livestream (HLS, with their own viewer key) while it is on air."""
    from dataclasses import replace

    from tests.media_live import fetch_segment, media_settings, on_air, viewer_key
    from tests.world import build_world
    from web.app import create_app

    settings = replace(media_settings(app_settings, tmp_path), online_after_minutes=0.02)  # 1.2 s of watching
    with TestClient(create_app(settings)) as client:
        assert client.portal is not None
        services = client.app.state.services  # type: ignore[attr-defined]
        world = client.portal.call(build_world, services)
        services.hub.online.watching.left_after = 1.0
        dashboard_ticket, viewer_ticket = ticket(client, "org.p"), ticket(client, "member.a1")
        key = viewer_key(client, "member.a1", world.session_id)
        with client.websocket_connect("/ws") as board, on_air(client, world.session_id, hls=True) as state:
            hello(board, dashboard_ticket)
            board.send_json({"type": "subscribe", "topic": f"session:{world.session_id}/unit:{world.units['P']}"})
            until(board, "snapshot")
            with client.websocket_connect("/ws") as viewer:
                hello(viewer, viewer_ticket)
                viewer.send_json({"type": "subscribe", "topic": f"session:{world.session_id}/viewer"})
                assert viewer.receive_json()["type"] == "subscribed"
                for _ in range(8):
                    assert fetch_segment(client, state["hls"], key) == 200
                    time.sleep(0.4)
                    viewer.send_json({"type": "ping"})
                    until(viewer, "pong")
                totals: dict[str, Any] = {}
                deadline = time.monotonic() + 5
                while totals.get("online") != 1 and time.monotonic() < deadline:
                    totals.update(until(board, "change")["data"].get("totals", {}))
                assert totals["online"] == 1 and totals["viewers"] == 1
            checkins = client.portal.call(services.ledger.checkins, world.session_id)
            [online] = checkins
            assert online.person_id == world.persons["A1"] and online.status.value == "present_online"
            assert online.method.value == "online" and not online.left_early
            deadline = time.monotonic() + 6  # the viewer left before the session ended: về sớm
            while time.monotonic() < deadline:
                [online] = client.portal.call(services.ledger.checkins, world.session_id)
                if online.left_early:
                    break
                time.sleep(0.3)
            assert online.left_early


def test_watch_time_follows_a_participant_to_another_hub(app_settings: Any, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Any, request: pytest.FixtureRequest) -> None:
    """Two hub processes on one store and one Redis: seconds watched on the first count on the second, and
    the first does not take a participant who moved for one who left. The session's media is on the first
    hub; the second learns through Redis that the participant's player pulls it."""
    from dataclasses import replace

    from tests.media_live import fetch_segment, media_settings, on_air, viewer_key
    from tests.served import ThrowawayRedis
    from tests.world import build_world
    from web import app as app_module
    from web.live import watching as watching_module

    monkeypatch.setattr(watching_module, "WATCH_STORE_SECONDS", 0.3)
    monkeypatch.setattr(watching_module, "ONLINE_CHECK_SECONDS", 0.2)  # a hub stores within 0.5 s of a ping
    redis = ThrowawayRedis().start()
    request.addfinalizer(redis.stop)
    settings = replace(media_settings(app_settings, tmp_path), online_after_minutes=0.05,  # 3 s of watching
                       redis_url=redis.url)

    def watch(client: TestClient, session_id: int, seconds: float) -> None:
        with client.websocket_connect("/ws") as viewer:
            hello(viewer, ticket(client, "member.a1"))
            viewer.send_json({"type": "subscribe", "topic": f"session:{session_id}/viewer"})
            assert viewer.receive_json()["type"] == "subscribed"
            for _ in range(int(seconds / 0.4)):
                assert fetch_segment(first, state["hls"], key) == 200  # from the media's hub
                time.sleep(0.4)
                viewer.send_json({"type": "ping"})
                until(viewer, "pong")
            time.sleep(1.0)  # stored before the socket goes

    with TestClient(app_module.create_app(replace(settings, hub_id="a"))) as first, \
            TestClient(app_module.create_app(replace(settings, hub_id="b"))) as second:
        assert first.portal is not None and second.portal is not None
        services_a = first.app.state.services  # type: ignore[attr-defined]
        world = first.portal.call(build_world, services_a)
        services_a.hub.online.watching.left_after = 3.0
        services_b = second.app.state.services  # type: ignore[attr-defined]
        services_b.hub.online.watching.left_after = 3.0
        key = viewer_key(first, "member.a1", world.session_id)
        with on_air(first, world.session_id, hls=True) as state:
            watch(first, world.session_id, 2.0)  # 2 s on hub a: not yet present
            assert first.portal.call(services_a.ledger.checkins, world.session_id) == []
            watch(second, world.session_id, 2.4)  # 2.4 s more on hub b: 4 s or so in all
            [online] = first.portal.call(services_a.ledger.checkins, world.session_id)
            assert online.status.value == "present_online" and not online.left_early
            # back on hub a for 4 s: hub b, which checked them in, finds them silent after 3 s, but
            # hub a counts them watching: they moved, they did not leave
            watch(first, world.session_id, 4.0)
            [online] = first.portal.call(services_a.ledger.checkins, world.session_id)
            assert not online.left_early
            deadline = time.monotonic() + 8  # then they leave, before the session ends: về sớm
            while not online.left_early and time.monotonic() < deadline:
                time.sleep(0.3)
                [online] = first.portal.call(services_a.ledger.checkins, world.session_id)
            assert online.left_early


def test_a_resync_that_read_the_store_too_early_loses_nothing() -> None:
    """A change applied while a resync read the store is replayed after it, counted once."""
    from datetime import UTC, datetime

    tally = small_tally()
    now = datetime.now(UTC)
    tally.apply(10, "present_in_person", now, "Nguyễn Văn An", 5, "qr")
    tally.resync({}, {})  # the store was read before that check-in committed
    assert tally.totals(1, 0)["in_person"] == 0
    tally.apply(10, "present_in_person", now, "Nguyễn Văn An", 5, "qr", replay=True)
    assert len(tally.unit_change(1, tally.take_changes(), 0, False)["recent"]) == 1
    snapshot = tally.unit_snapshot(1, 0)
    assert snapshot["totals"]["in_person"] == 1 and len(snapshot["recent"]) == 1
    assert sum(snapshot["rate"].values()) == 1


def small_tally(people: int = 10) -> SessionTally:
    from conference.units import Unit, UnitTree, UnitType

    tree = UnitTree([Unit(1, "P", "Tỉnh", UnitType.PROVINCE, None), Unit(2, "C", "Chi bộ", UnitType.CELL, 1)])
    return SessionTally({"id": 1}, tree, [HallInfo(5, "Hội trường", 2, 1, "in_person")],
                        {n: Invitee(5, 2, True) for n in range(10, 10 + people)}, {}, {})


def test_change_rows_carry_only_the_fields_that_changed() -> None:
    """A client merging each change into its snapshot's rows ends with the rows the tally has."""
    from datetime import UTC, datetime

    tally = small_tally()
    tally.take_changes()
    shown = tally.unit_snapshot(1, 0)
    now = datetime.now(UTC)
    for person in (10, 11, 12):
        tally.apply(person, "present_in_person", now, f"P{person}", 5, "qr")
        tally.apply(person + 5, "absent_excused", now)
        change = tally.unit_change(1, tally.take_changes(), 0, False)
        assert set(change["halls"]["5"]) == {"in_person", "absent_excused", "percent"}
        assert set(change["units"]["2"]) == {"in_person", "absent_excused", "percent"}
        for key in ("halls", "units"):
            for row, fields in change[key].items():
                shown[key][row].update(fields)
    assert shown["halls"]["5"] == tally.hall_row(5) and shown["units"]["2"] == tally.unit_row(2)
    assert not tally.unit_change(1, tally.take_changes(), 0, False)  # nothing changed, nothing to send


def test_a_snapshot_between_pushes_and_the_next_change_show_each_check_in_once() -> None:
    from datetime import UTC, datetime

    tally = small_tally()
    now = datetime.now(UTC)
    tally.apply(10, "present_in_person", now, "An", 5, "qr")
    tally.take_changes()  # pushed
    tally.apply(11, "present_in_person", now, "Bình", 5, "qr")  # not yet pushed
    snapshot = tally.unit_snapshot(1, 0)
    change = tally.unit_change(1, tally.take_changes(), 0, False)
    assert [r["name"] for r in change["recent"] + snapshot["recent"]] == ["Bình", "An"]
    assert snapshot["totals"]["in_person"] == 2 == change["totals"]["in_person"]


def test_a_hub_starting_mid_session_rebuilds_the_chart_and_the_feed_from_the_store() -> None:
    from datetime import UTC, datetime, timedelta

    from web.live.tally import RECENT_MAX, Arrival

    seen = small_tally(40)  # a hub that saw the check-ins arrive
    start = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
    arrivals = [Arrival(10 + n, start + timedelta(seconds=20 * n), 5, "qr") for n in range(40)]
    for a in arrivals:
        seen.apply(a.person_id, "present_in_person", a.at, f"P{a.person_id}", a.hall_id, a.method)
    late = small_tally(40)  # one started afterwards, from the store
    late.load_history(arrivals, {p: f"P{p}" for p in range(10, 50)})
    rate = {f"2026-11-25T07:{m:02d}": 3 for m in range(13)} | {"2026-11-25T07:13": 1}
    assert late.unit_snapshot(1, 0)["rate"] == seen.unit_snapshot(1, 0)["rate"] == rate
    seen.take_changes()  # pushed: the snapshot's feed holds them
    assert late.unit_snapshot(1, 0)["recent"] == seen.unit_snapshot(1, 0)["recent"]
    feed = late.unit_snapshot(1, 0)["recent"]
    assert len(feed) == RECENT_MAX and feed[0]["name"] == "P49"
