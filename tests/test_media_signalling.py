"""Media signalling through the real app's WebSocket and HTTP: who may publish, watch, ask to speak and
give the floor (the permission table's media actions, and only for halls of the session's conference);
answers carry the deployment's codec; the media API, HLS files and pages."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc import RTCPeerConnection
from starlette.testclient import TestClient

from conference.accounts import Role, User
from conference.conferences import ConferenceMode
from conference.halls import Channel, HallRole
from tests.media_peers import Pattern, Tone
from tests.test_live import hello, ticket, until
from tests.world import PASSWORD, World, sign_in
from web.bootstrap import Services

Socket = Any


def offer(role: str) -> str:
    """A real browser-like offer: sendonly camera + microphone, or recvonly video + audio."""
    async def make() -> str:
        pc = RTCPeerConnection()
        if role == "publish":
            pc.addTrack(Pattern())
            pc.addTrack(Tone())
        else:
            pc.addTransceiver("video", direction="recvonly")
            pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = str(pc.localDescription.sdp)
        await pc.close()
        return sdp
    return asyncio.run(make())


def reply(ws: Socket) -> dict[str, Any]:
    """The next signalling reply (skipping pongs and state pushes)."""
    while True:
        message: dict[str, Any] = ws.receive_json()
        if message["type"] in ("rtc_answer", "rtc_error"):
            return message


def state(ws: Socket, check: Any = lambda s: True) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = until(ws, "media_state")
        if check(message):
            return message


async def organiser(svc: Services) -> User:
    found = await svc.conference.store.user_with_hash("org.p")
    assert found is not None
    return found[0]


async def hall_with_screen(svc: Services, conference_id: int, unit_id: int, name: str) -> tuple[int, str]:
    """A two-way hall of the conference, added by the province's organiser, with an enrolled hall screen."""
    org = await organiser(svc)
    hall = await svc.conference.add_hall(org, conference_id, unit_id, name, HallRole.PARTICIPATING, Channel.TWO_WAY)
    code, _ = await svc.devices.issue_enrolment_code(hall.id, org.id)
    _, token = await svc.devices.enrol(code, f"Màn hình {name}")
    return hall.id, token


@pytest.fixture
def two_way(world_client: tuple[TestClient, World]) -> tuple[TestClient, World, int, str]:
    """A two-way hall (hosted by district D1) with an enrolled hall screen."""
    client, world = world_client
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None
    hall_id, token = client.portal.call(hall_with_screen, svc, world.conference_id, world.units["D1"],
                                        "Điểm cầu huyện Một")
    return client, world, hall_id, token


def test_a_participant_watches_but_may_not_publish(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    view_offer, publish_offer = offer("view"), offer("publish")
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "member.a1"))
        ws.send_json({"type": "media_watch", "session": world.session_id})
        first = state(ws)
        assert first["live"] is False and first["viewers"] == 0 and first["hls"] is None
        ws.send_json({"type": "rtc_offer", "session": world.session_id, "role": "view", "sdp": view_offer, "ref": "v1"})
        answer = reply(ws)
        assert answer["type"] == "rtc_answer" and answer["ref"] == "v1" and answer["role"] == "view"
        sdp = answer["sdp"]
        assert "a=sendonly" in sdp and "H264/90000" in sdp and "VP8" not in sdp and "opus/48000" in sdp
        assert "a=candidate:" in sdp  # every server candidate is in the answer: no trickle needed
        assert state(ws, lambda s: s["viewers"] == 1)["viewers"] == 1

        ws.send_json({"type": "rtc_offer", "session": world.session_id, "role": "publish", "sdp": publish_offer,
                      "ref": "p1"})
        refused = reply(ws)
        assert refused["type"] == "rtc_error" and refused["code"] == "forbidden" and refused["ref"] == "p1"
        ws.send_json({"type": "rtc_offer", "session": world.session_id, "role": "view", "sdp": "not sdp", "ref": "x"})
        assert reply(ws)["code"] == "bad_offer"
        ws.send_json({"type": "rtc_offer", "session": 999_999, "role": "view", "sdp": view_offer})
        assert reply(ws)["code"] == "not_found"
        ws.send_json({"type": "rtc_close", "pc": answer["pc"]})
        assert state(ws, lambda s: s["viewers"] == 0)["viewers"] == 0
        ws.send_json({"type": "rtc_close", "pc": "no-such-peer"})
        assert reply(ws)["code"] == "unknown_pc"


def test_the_presenter_goes_live_and_a_kiosk_screen_may_watch(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.p"))
        ws.send_json({"type": "rtc_offer", "session": world.session_id, "role": "publish", "sdp": offer("publish")})
        answer = reply(ws)
        assert answer["type"] == "rtc_answer" and "a=recvonly" in answer["sdp"] and "H264/90000" in answer["sdp"]
    with client.websocket_connect("/ws") as ws:  # a hall screen of an in-person hall watches...
        ws.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
        assert ws.receive_json()["type"] == "welcome"
        ws.send_json({"type": "media_watch", "session": world.session_id})
        assert state(ws)["presenter"] is True
        ws.send_json({"type": "raise_hand", "session": world.session_id})  # ...but only two-way halls speak
        assert reply(ws)["code"] == "not_two_way"
        ws.send_json({"type": "floor", "session": world.session_id, "action": "take_back"})
        assert reply(ws)["code"] == "forbidden"


def test_a_two_way_hall_asks_to_speak_and_the_organiser_gives_it_the_floor(
        two_way: tuple[TestClient, World, int, str]) -> None:
    client, world, hall_id, token = two_way
    sid = world.session_id
    organiser_ticket, member_ticket = ticket(client, "org.p"), ticket(client, "member.a1")
    with client.websocket_connect("/ws") as org, client.websocket_connect("/ws") as hall, \
            client.websocket_connect("/ws") as member:
        hello(org, organiser_ticket)
        hello(member, member_ticket)
        hall.send_json({"type": "hello", "v": 1, "device_token": token})
        assert hall.receive_json()["type"] == "welcome"
        for ws in (org, hall):
            ws.send_json({"type": "media_watch", "session": sid})
            state(ws)

        hall.send_json({"type": "rtc_offer", "session": sid, "role": "publish", "sdp": offer("publish")})
        assert reply(hall)["code"] == "no_floor"  # not before the organiser gives it the floor
        hall.send_json({"type": "raise_hand", "session": sid})
        hands = state(org, lambda s: s["floor"]["hands"])["floor"]["hands"]
        assert [(h["hall_id"], h["hall"]) for h in hands] == [(hall_id, "Điểm cầu huyện Một")]

        member.send_json({"type": "floor", "session": sid, "action": "give", "hall": hall_id})
        assert reply(member)["code"] == "forbidden"
        org.send_json({"type": "floor", "session": sid, "action": "give", "hall": 987})
        assert reply(org)["code"] == "floor"  # it has not asked to speak
        org.send_json({"type": "floor", "session": sid, "action": "give", "hall": hall_id})
        given = state(hall, lambda s: s["floor"]["holder"] == hall_id)
        assert given["floor"]["hands"] == [] and given["floor"]["holder_name"] == "Điểm cầu huyện Một"

        hall.send_json({"type": "rtc_offer", "session": sid, "role": "publish", "sdp": offer("publish"), "ref": "h"})
        answer = reply(hall)
        assert answer["type"] == "rtc_answer" and answer["ref"] == "h"

        org.send_json({"type": "floor", "session": sid, "action": "take_back"})
        assert state(org, lambda s: s["floor"]["holder"] is None)["floor"]["holder"] is None
        closed = until(hall, "rtc_closed")  # its camera connection is closed by the server
        assert closed["pc"] == answer["pc"] and closed["reason"] == "floor taken back"

        hall.send_json({"type": "raise_hand", "session": sid})
        state(org, lambda s: s["floor"]["hands"])
        hall.send_json({"type": "lower_hand", "session": sid})
        assert state(org, lambda s: not s["floor"]["hands"])["floor"]["hands"] == []


def test_the_media_api_hls_files_and_pages(two_way: tuple[TestClient, World, int, str]) -> None:
    client, world, hall_id, token = two_way
    sid = world.session_id
    assert client.get(f"/api/sessions/{sid}/media").status_code == 401
    sign_in(client, "member.a1")
    info = client.get(f"/api/sessions/{sid}/media").json()
    assert info["ice_servers"] == [] and info["codec"] == "H264" and info["live"] is False
    assert info["may_publish"] is False and info["may_control"] is False and info["heartbeat_s"] == 15
    assert client.get(f"/api/sessions/{sid}/recordings").json() == {"recordings": []}
    watch = client.get(f"/sessions/{sid}/watch")
    assert watch.status_code == 200 and "/static/vendor/hls.light.min.js" in watch.text
    assert '"viewer_topic": true' in watch.text
    assert client.get(f"/sessions/{sid}/present").status_code == 403
    assert f"/sessions/{sid}/watch" in client.get("/live").text and f"/sessions/{sid}/watch" in client.get("/me").text
    assert client.get("/static/media.js").status_code == 200
    assert client.get("/static/vendor/hls.light.min.js").status_code == 200

    sign_in(client, "org.p")
    info = client.get(f"/api/sessions/{sid}/media").json()
    assert info["may_publish"] is True and info["may_control"] is True
    present = client.get(f"/sessions/{sid}/present")
    assert present.status_code == 200 and 'id="floor"' in present.text
    assert f"/sessions/{sid}/present" in client.get("/live").text

    sign_in(client, "clerk.c1")
    assert client.get(f"/halls/{world.halls['C1']}/sessions/{sid}/screen").status_code == 200
    assert client.get(f"/halls/{world.halls['C2']}/sessions/{sid}/screen").status_code == 403
    assert f"/halls/{world.halls['C1']}/sessions/{sid}/screen" in client.get("/live").text

    client.cookies.clear()
    device = client.get(f"/api/sessions/{sid}/media", headers={"Authorization": f"Bearer {token}"})
    assert device.status_code == 200 and device.json()["may_publish"] is False
    assert client.get(f"/api/sessions/{sid}/media", headers={"Authorization": "Bearer 1.forged"}).status_code == 401
    shell = client.get(f"/halls/{hall_id}/sessions/{sid}/screen")  # a hall screen with no one signed in
    assert shell.status_code == 200 and '"device": true' in shell.text and "Điểm cầu huyện Một" not in shell.text

    for path in (f"/media/hls/{sid}/{'k' * 24}/index.m3u8", f"/media/hls/{sid}/short/1.ts",
                 f"/media/hls/{sid}/{'k' * 24}/app.db"):
        missing = client.get(path)
        assert missing.status_code == 404 and missing.headers["cache-control"] == "no-store"
    assert client.get(f"/media/hls/{sid}/{'k' * 24}/..%2F..%2Fapp.db").status_code == 404
    assert client.get(f"/media/recordings/{sid}/20260101-000000.mp4", follow_redirects=False).status_code == 303


def test_who_may_publish_give_the_floor_and_speak_for_which_hall(two_way: tuple[TestClient, World, int, str]) -> None:
    """The permission table's media actions through the real socket and pages: hall staff may not publish, a
    presenter may but does not run the floor, and no hall or device speaks in another conference's session."""
    client, world, hall_id, _ = two_way
    sid = world.session_id
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None

    async def make() -> tuple[int, str]:
        presenter = await svc.conference.create_user(None, "presenter.p", "Báo cáo viên", Role.PRESENTER, PASSWORD,
                                                     world.units["P"])
        await svc.conference.assign_presenter(await organiser(svc), sid, presenter.id)
        other = await svc.conference.create_conference(await organiser(svc), "Hội nghị khác", "Khác",
                                                       ConferenceMode.PRESENTER, world.units["P"])
        return await hall_with_screen(svc, other.id, world.units["C1"], "Điểm cầu hội nghị khác")

    elsewhere, elsewhere_token = client.portal.call(make)
    publish_offer = offer("publish")
    for staff in ("clerk.c1", "chair.c1"):
        with client.websocket_connect("/ws") as ws:
            hello(ws, ticket(client, staff))
            ws.send_json({"type": "rtc_offer", "session": sid, "role": "publish", "sdp": publish_offer, "ref": staff})
            refused = reply(ws)
            assert refused["type"] == "rtc_error" and refused["code"] == "forbidden" and refused["ref"] == staff
            ws.send_json({"type": "floor", "session": sid, "action": "take_back"})
            assert reply(ws)["code"] == "forbidden"
            ws.send_json({"type": "raise_hand", "session": sid, "hall": elsewhere})  # in scope, not in the session
            assert reply(ws)["code"] == "forbidden"
        assert client.get(f"/sessions/{sid}/present").status_code == 403
        assert client.get(f"/api/sessions/{sid}/media").json()["may_publish"] is False
        assert client.get(f"/halls/{elsewhere}/sessions/{sid}/screen").status_code == 403

    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "presenter.p"))
        ws.send_json({"type": "rtc_offer", "session": sid, "role": "publish", "sdp": publish_offer, "ref": "p"})
        assert reply(ws)["type"] == "rtc_answer"
        ws.send_json({"type": "floor", "session": sid, "action": "give", "hall": hall_id})
        assert reply(ws)["code"] == "forbidden"
        ws.send_json({"type": "raise_hand", "session": sid, "hall": hall_id})
        assert reply(ws)["code"] == "forbidden"  # a presenter does not speak for a hall
    info = client.get(f"/api/sessions/{sid}/media").json()
    assert info["may_publish"] is True and info["may_control"] is False
    assert client.get(f"/sessions/{sid}/present").status_code == 200
    assert '"viewer_topic": false' in client.get(f"/sessions/{sid}/watch").text

    with client.websocket_connect("/ws") as ws:  # a hall screen of another conference's hall
        ws.send_json({"type": "hello", "v": 1, "device_token": elsewhere_token})
        assert ws.receive_json()["type"] == "welcome"
        ws.send_json({"type": "media_watch", "session": sid})
        assert reply(ws)["code"] == "forbidden"
    refused = client.get(f"/api/sessions/{sid}/media", headers={"Authorization": f"Bearer {elsewhere_token}"})
    assert refused.status_code == 403
