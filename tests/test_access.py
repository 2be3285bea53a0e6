"""The access matrix: every role against every resource, through the real HTTP interface and the live hub.

Unauthenticated -> 401 (a page: 303 to sign in); out of role or unit scope -> 403; a kiosk token cannot act for
another hall. Every route of the app is a row of `tests/access_routes.py` (a test says so); the WebSocket
actions (topics, media publishing and watching, the floor, a hall's hand) have their own table here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from conference.accounts import Role
from tests import access_routes
from tests.world import PASSWORD, World, sign_in

ACTORS = ["anonymous", "admin", "org.p", "org.d1", "clerk.c1", "chair.c1", "member.a1", "kiosk.c1", "bad.token"]
USERS = ["admin", "org.p", "org.d1", "clerk.c1", "chair.c1", "member.a1"]
NOBODY = {"anonymous": 401, "kiosk.c1": 401, "bad.token": 401}


def expect(default: int, **by_actor: int) -> dict[str, int]:
    """Statuses by actor: unauthenticated callers get 401 unless said otherwise, the named users what is given."""
    table = {actor: default for actor in USERS} | NOBODY
    return table | {k.replace("_", "."): v for k, v in by_actor.items()}


Resource = tuple[str, Callable[[World], str], dict[str, Any] | Callable[[World], dict[str, Any]] | None, dict[str, int]]

RESOURCES: list[Resource] = [
    ("GET", lambda w: "/api/me", None, expect(200)),
    ("GET", lambda w: "/api/conferences", None, expect(200)),
    ("POST", lambda w: "/api/conferences", lambda w: {"title": "Hội nghị mới", "organiser_unit_id": w.units["P"]},
     expect(403, admin=201, org_p=201)),
    ("GET", lambda w: f"/api/conferences/{w.conference_id}", None, expect(200)),
    ("GET", lambda w: f"/api/conferences/{w.conference_id}/sessions", None, expect(200)),
    ("GET", lambda w: f"/api/units/{w.units['D2']}/people", None, expect(403, admin=200, org_p=200)),
    ("GET", lambda w: f"/api/units/{w.units['C1']}/people", None,
     expect(200, member_a1=403)),
    ("GET", lambda w: f"/api/persons/{w.persons['B1']}", None, expect(403, admin=200, org_p=200)),
    ("GET", lambda w: f"/api/persons/{w.persons['A1']}", None, expect(200)),
    ("POST", lambda w: f"/api/conferences/{w.conference_id}/halls",
     lambda w: {"unit_id": w.units["D2"], "channel": "two_way"}, expect(403, admin=201, org_p=201)),
    ("POST", lambda w: f"/api/conferences/{w.conference_id}/sessions",
     {"title": "Buổi chiều", "starts_at": "2026-12-01T13:30:00+07:00", "ends_at": "2026-12-01T17:00:00+07:00"},
     expect(403, admin=201, org_p=201)),
    ("POST", lambda w: f"/api/halls/{w.halls['C2']}/enrolment-codes", None, expect(403, admin=201, org_p=201)),
    ("POST", lambda w: f"/api/halls/{w.halls['C1']}/enrolment-codes", None,
     expect(403, admin=201, org_p=201, org_d1=201, clerk_c1=201)),
    ("GET", lambda w: f"/api/halls/{w.halls['C1']}/devices", None,
     expect(403, admin=200, org_p=200, org_d1=200, clerk_c1=200)),
    ("GET", lambda w: f"/api/kiosk/halls/{w.halls['C1']}", None, expect(401, kiosk_c1=200)),
    ("GET", lambda w: f"/api/kiosk/halls/{w.halls['C2']}", None, expect(401, kiosk_c1=403)),
    ("GET", lambda w: f"/units/{w.units['D2']}/people", None,
     expect(403, admin=200, org_p=200) | {"anonymous": 303, "kiosk.c1": 303, "bad.token": 303}),
    ("GET", lambda w: "/conferences", None, expect(200) | {"anonymous": 303, "kiosk.c1": 303, "bad.token": 303}),
]


def headers_of(client: TestClient, world: World, actor: str) -> dict[str, str]:
    if actor in USERS:
        return {"X-CSRF-Token": sign_in(client, actor)}
    if actor == "kiosk.c1":
        return {"Authorization": f"Bearer {world.kiosk_token}"}
    if actor == "bad.token":
        return {"Authorization": f"Bearer {world.kiosk_device_id}.not-the-secret"}
    return {}


def mismatches(client: TestClient, headers: dict[str, str], cells: list[tuple[str, str, str, Any, int]]) -> list[str]:
    """Each (method, label, path, body, expected status) asked with `headers`; the answers that differ."""
    wrong = []
    for method, label, path, body, expected in cells:
        if isinstance(body, dict) and "form" in body:
            form = body["form"] | {"csrf": headers.get("X-CSRF-Token", "")}
            response = client.request(method, path, data=form, headers=headers, follow_redirects=False)
        else:
            response = client.request(method, path, json=body, headers=headers, follow_redirects=False)
        if response.status_code != expected:
            wrong.append(f"{method} {label}: {response.status_code}, expected {expected} ({response.text[:120]})")
    return wrong


@pytest.mark.parametrize("actor", access_routes.ACTORS)
def test_every_route_answers_each_role(world_client: tuple[TestClient, World], actor: str) -> None:
    client, world = world_client
    extras = access_routes.prepare(client, world)
    column = access_routes.ACTORS.index(actor)
    cells = [(m, t, path, body, statuses[column]) for m, t, path, body, statuses in access_routes.rows(world, extras)]
    wrong = mismatches(client, headers_of(client, world, actor), cells)
    assert not wrong, "\n".join(wrong)


def test_every_route_is_in_the_matrix(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    ids = {"document": 1, "document2": 2, "feedback": 1, "presenter": 1}
    listed = {(m, t) for m, t, *_ in access_routes.rows(world, ids)}
    served = {(m, r.path) for r in client.app.routes if isinstance(r, Route)  # type: ignore[attr-defined]
              for m in (r.methods or set()) - {"HEAD"}}
    assert served - listed == set(), "routes missing from tests/access_routes.py"
    assert listed - served == set(), "rows of tests/access_routes.py for routes the app does not have"


@pytest.mark.parametrize("actor", ACTORS)
def test_access_matrix(world_client: tuple[TestClient, World], actor: str) -> None:
    """The scope cells: the same routes on units, halls and persons inside and outside each actor's scope."""
    client, world = world_client
    cells = [(method, path_of(world), path_of(world), body(world) if callable(body) else body, statuses[actor])
             for method, path_of, body, statuses in RESOURCES]
    wrong = mismatches(client, headers_of(client, world, actor), cells)
    assert not wrong, "\n".join(wrong)


def test_scoped_lists_show_only_the_scope(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.d1")
    halls = client.get(f"/api/conferences/{world.conference_id}/halls").json()
    assert [h["unit_id"] for h in halls] == [world.units["C1"]]
    people = client.get(f"/api/units/{world.units['D1']}/people", params={"q": "nguyen van an"}).json()
    assert [p["full_name"] for p in people["people"]] == ["Nguyễn Văn An"]
    sign_in(client, "org.p")
    assert len(client.get(f"/api/conferences/{world.conference_id}/halls").json()) == 2


def test_cookie_writes_need_the_csrf_token(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    csrf = sign_in(client, "org.p")
    body = {"title": "Hội nghị", "organiser_unit_id": world.units["P"]}
    refused = client.post("/api/conferences", json=body)
    assert refused.status_code == 403 and refused.json()["error"] == "csrf"
    assert client.post("/api/conferences", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    form = client.post("/conferences", data={"title": "Không có mã", "mode": "presenter"})
    assert form.status_code == 403


def test_revoked_kiosk_is_refused_and_codes_are_one_time(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    kiosk = {"Authorization": f"Bearer {world.kiosk_token}"}
    assert client.get(f"/api/kiosk/halls/{world.halls['C1']}", headers=kiosk).status_code == 200
    csrf = sign_in(client, "clerk.c1")
    code = client.post(f"/api/halls/{world.halls['C1']}/enrolment-codes", headers={"X-CSRF-Token": csrf}).json()
    first = client.post("/api/devices/enrol", json={"code": code["code"].lower(), "name": "Máy tính bảng 2"})
    assert first.status_code == 201 and first.json()["hall_id"] == world.halls["C1"]
    again = client.post("/api/devices/enrol", json={"code": code["code"], "name": "Máy thứ ba"})
    assert again.status_code == 422 and again.json()["error"] == "enrolment_refused"
    revoked = client.post(f"/api/devices/{world.kiosk_device_id}/revoke", headers={"X-CSRF-Token": csrf})
    assert revoked.status_code == 200
    refused = client.get(f"/api/kiosk/halls/{world.halls['C1']}", headers=kiosk)
    assert refused.status_code == 401 and refused.json()["error"] == "device_rejected"
    new_kiosk = {"Authorization": f"Bearer {first.json()['token']}"}
    people = client.get(f"/api/kiosk/halls/{world.halls['C1']}", params={"q": "binh"}, headers=new_kiosk).json()
    assert [p["full_name"] for p in people["people"]] == ["Trần Thị Bình"]


def test_bad_input_gets_a_clear_error(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    csrf = sign_in(client, "org.p")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    not_json = client.post("/api/conferences", content=b"{nope", headers=headers)
    assert not_json.status_code == 422 and "JSON" in not_json.json()["message"]
    no_tz = client.post(f"/api/conferences/{world.conference_id}/sessions", headers=headers,
                        json={"title": "x", "starts_at": "2026-12-01T07:30", "ends_at": "2026-12-01T11:00"})
    assert no_tz.status_code == 422 and no_tz.json()["field"] == "starts_at"
    backwards = client.post(f"/api/conferences/{world.conference_id}/sessions", headers=headers,
                            json={"title": "x", "starts_at": "2026-12-01T11:00:00+07:00",
                                  "ends_at": "2026-12-01T07:30:00+07:00"})
    assert backwards.status_code == 422 and backwards.json()["field"] == "ends_at"
    bad_channel = client.post(f"/api/conferences/{world.conference_id}/halls", headers=headers,
                              json={"unit_id": world.units["D2"], "channel": "pigeon"})
    assert bad_channel.status_code == 422 and bad_channel.json()["field"] == "channel"
    assert client.get("/api/conferences/999999").status_code == 404


# -- the live hub's actions ---------------------------------------------------------------------------------------
LIVE_ACTIONS = ("unit:P", "unit:D2", "hall:C1", "viewer", "watch", "hand", "floor", "publish")
OK = "ok"
F = "forbidden"
LIVE: dict[str, tuple[str, ...]] = {  # per actor, the answer to each of LIVE_ACTIONS: ok or the refusal's code
    "admin": (OK, OK, OK, OK, OK, OK, OK, OK),
    "org.p": (OK, OK, OK, F, OK, OK, OK, OK),
    "org.d1": (F, F, OK, F, OK, OK, F, F),
    "clerk.c1": (F, F, OK, F, OK, F, F, F),
    "chair.c1": (F, F, OK, F, OK, F, F, F),
    "member.a1": (F, F, F, OK, OK, F, F, F),
    "presenter.p": (F, F, F, F, OK, F, F, OK),
    "kiosk.c1": (F, F, OK, F, OK, F, F, "not_two_way"),
}


def live_answer(ws: Any, kind: str, world: World, two_way: int) -> str:
    """One live action on an open socket, and how the hub answered it."""
    from tests.test_live import subscribed
    from tests.test_media_signalling import offer

    sid = world.session_id
    if kind in ("unit:P", "unit:D2", "hall:C1", "viewer"):
        target = {"unit:P": f"unit:{world.units['P']}", "unit:D2": f"unit:{world.units['D2']}",
                  "hall:C1": f"hall:{world.halls['C1']}", "viewer": "viewer"}[kind]
        answer = subscribed(ws, f"session:{sid}/{target}")
        return str(answer.get("code")) if answer["type"] == "error" else OK
    message = {"watch": {"type": "media_watch", "session": sid},
               "hand": {"type": "raise_hand", "session": sid, "hall": two_way},
               "floor": {"type": "floor", "session": sid, "action": "give", "hall": two_way},
               "publish": {"type": "rtc_offer", "session": sid, "role": "publish", "sdp": offer("publish")}}[kind]
    ws.send_json(message)
    while True:
        frame: dict[str, Any] = ws.receive_json()
        if frame["type"] == "rtc_error":
            return str(frame["code"])
        if kind == "publish" and frame["type"] == "rtc_answer":
            return OK
        if kind == "watch" and frame["type"] == "media_state":
            return OK
        if kind == "hand" and frame["type"] == "media_state" and any(
                h["hall_id"] == two_way for h in frame["floor"]["hands"]):
            return OK
        if kind == "floor" and frame["type"] == "media_state" and frame["floor"]["holder"] == two_way:
            return OK  # the hall had raised its hand (the actor speaks for it too)


@pytest.mark.parametrize("actor", list(LIVE))
def test_every_live_action_answers_each_role(world_client: tuple[TestClient, World], actor: str) -> None:
    """Topics, watching, a hall's hand, the floor and publishing, each actor on its own socket."""
    from tests.test_live import hello, ticket
    from tests.test_media_signalling import hall_with_screen, organiser

    client, world = world_client
    svc = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None

    async def setup() -> int:
        presenter = await svc.conference.create_user(None, "presenter.p", "Báo cáo viên", Role.PRESENTER,
                                                     PASSWORD, world.units["P"])
        await svc.conference.assign_presenter(await organiser(svc), world.session_id, presenter.id)
        hall_id, _ = await hall_with_screen(svc, world.conference_id, world.units["D1"], "Điểm cầu huyện Một")
        return int(hall_id)

    two_way = client.portal.call(setup)
    with client.websocket_connect("/ws") as ws:
        if actor == "kiosk.c1":
            ws.send_json({"type": "hello", "v": 1, "device_token": world.kiosk_token})
            assert ws.receive_json()["type"] == "welcome"
        else:
            hello(ws, ticket(client, actor))
        got = tuple(live_answer(ws, kind, world, two_way) for kind in LIVE_ACTIONS)
    assert dict(zip(LIVE_ACTIONS, got, strict=True)) == dict(zip(LIVE_ACTIONS, LIVE[actor], strict=True))


def test_the_live_hub_refuses_who_is_not_signed_in(world_client: tuple[TestClient, World]) -> None:
    from tests.test_live import closed_with

    client, world = world_client
    for first in ({"type": "hello", "v": 1, "ticket": "not-a-ticket"},
                  {"type": "hello", "v": 1, "device_token": f"{world.kiosk_device_id}.not-the-secret"},
                  {"type": "subscribe", "topic": f"session:{world.session_id}/unit:{world.units['P']}"}):
        with client.websocket_connect("/ws") as ws:
            ws.send_json(first)
            assert closed_with(ws) in (4001, 4002), first
