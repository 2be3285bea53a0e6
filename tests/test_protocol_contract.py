"""The live protocol as a published contract (issue 19): /api/asyncapi.json is a valid AsyncAPI 3.0 document,
the server parses exactly what it says, and a client written from it and docs/PROTOCOL.md alone, merging
changes as the guide says, ends equal to a fresh snapshot after a burst of 500 check-ins."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import httpx2 as httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect

from tests.contract import asyncapi_validator, frame_problem
from tests.served import ORGANISER, Prepared, prepare
from tests.test_live import hello, refused, subscribed, ticket
from tests.test_wire import served
from tests.world import World
from web.app import create_app
from web.live import protocol
from web.live.contract import document
from web.live.protocol import Close, ProtocolError, parse
from web.settings import Settings

# -- the document ---------------------------------------------------------------------------------------


def test_the_served_document_is_valid_asyncapi_3(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    client.cookies.clear()
    response = client.get("/api/asyncapi.json")  # public, like /api/openapi.json
    assert response.status_code == 200
    doc = response.json()
    errors = [f"{e.json_path}: {e.message[:200]}" for e in asyncapi_validator().iter_errors(doc)]
    assert errors == []
    assert doc["asyncapi"] == "3.0.0" and doc["servers"]["hub"]["host"] == "testserver"
    names = {m["name"] for m in doc["components"]["messages"].values()}
    assert {"hello", "subscribe", "unsubscribe", "snapshot", "change", "resumed", "unsubscribed",
            "media_state", "verdict"} <= names


def test_the_validator_refuses_a_broken_document() -> None:
    doc = document()
    doc["operations"]["sendToClient"]["action"] = "shout"
    assert list(asyncapi_validator().iter_errors(doc))


def test_a_frame_that_breaks_the_document_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    problems: list[str | None] = []  # what the test session's check (tests/conftest.py) would have failed on
    monkeypatch.setattr(protocol, "frame_check", lambda text: problems.append(frame_problem(text)))
    protocol.frame("change", topic="session:1/unit:1", seq=3, data={"unit": {"in_person": 4}})
    protocol.frame("change", topic="session:1/unit:1", seq=3, data={"unit": {"in_peson": 4}})
    protocol.frame("pong", t="soon")
    protocol.frame("snapshot", topic="session:1/hall:2", seq=0, epoch="e", data={"hall": {}})
    assert problems[0] is None and all(problems[1:]) and len(problems) == 4, problems
    assert frame_problem('{"type": "dance"}') is not None
    with pytest.raises(ValueError):
        protocol.frame("dance")  # a server message the document does not name is never built


# -- the parser says what the schema says -----------------------------------------------------------------

_CLIENT = {m["name"]: Draft7Validator(m["payload"]) for i, m in document()["components"]["messages"].items()
           if i.startswith("client_") and m["contentType"] == "application/json"}
_VALUES = st.sampled_from([None, 0, 1, -1, 12, 10**9 - 1, 10**9, 2.5, True, "", "x", "x" * 70, "x" * 2000, [], [5],
                           [5, 0], {}, "give", "order", "take_back", "view", "publish", "qr", "face", "en", "vi",
                           "session:1/unit:1", "v=0", "candidate:1"])
_FIELDS = sorted({f for v in _CLIENT.values() for f in v.schema["properties"]} | {"extra"} - {"type"})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(_CLIENT)), st.dictionaries(st.sampled_from(_FIELDS), _VALUES, max_size=6))
def test_the_parser_accepts_exactly_what_the_schema_accepts(kind: str, fields: dict[str, Any]) -> None:
    message = {"type": kind, **fields}
    if kind == "hello" and fields.get("v") is None:
        message["v"] = 1
    valid = _CLIENT[kind].is_valid({k: v for k, v in message.items() if v is not None})  # null: absent
    try:
        parse(json.dumps(message))
    except ProtocolError as e:
        assert not valid, (message, e.message)
        assert e.close in (Close.BAD_MESSAGE, Close.BAD_VERSION, Close.BAD_AUTH)
    else:
        assert valid, message


def test_nesting_beyond_the_limit_is_refused_the_same_at_any_depth() -> None:
    limit = document()["info"]["x-limits"]["nesting_max"]
    parse(json.dumps({"type": "ping", "extra": json.loads("[" * (limit - 1) + "]" * (limit - 1))}))
    for levels in (limit + 1, 500, 1000, 5000):
        with pytest.raises(ProtocolError) as refused:
            parse('{"type": "ping", "extra": ' + "[" * levels + "]" * levels + "}")
        assert refused.value.close is Close.BAD_MESSAGE and "nested too deeply" in refused.value.message


def test_a_deep_message_closes_the_socket_saying_so(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.p"))
        ws.send_text('{"type": "ping", "x": ' + "[" * 1000 + "]" * 1000 + "}")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == Close.BAD_MESSAGE and "nested too deeply" in str(closed.value.reason)


# -- acknowledgements -------------------------------------------------------------------------------------

def test_unsubscribe_is_acknowledged_and_a_resume_that_missed_nothing_says_so(
        world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    topic = f"session:{world.session_id}/unit:{world.units['P']}"
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "org.p"))
        snapshot = subscribed(ws, topic)
        ws.send_json({"type": "unsubscribe", "topic": topic})
        assert ws.receive_json() == {"type": "unsubscribed", "topic": topic}
        ws.send_json({"type": "subscribe", "topic": topic, "since": snapshot["seq"], "epoch": snapshot["epoch"]})
        assert ws.receive_json() == {"type": "resumed", "topic": topic, "seq": snapshot["seq"],
                                     "epoch": snapshot["epoch"]}
        ws.send_json({"type": "unsubscribe", "topic": "session:999/viewer"})  # one not read: acknowledged too
        assert ws.receive_json()["type"] == "unsubscribed"


def test_a_topic_has_one_spelling(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    s, p = world.session_id, world.units["P"]
    with client.websocket_connect("/ws") as ws:
        hello(ws, ticket(client, "admin"))
        for odd in (f"session:0{s}/unit:{p}", f"session:{s}/unit:0{p}", "session:0/viewer",
                    f"session:1000000000/unit:{p}", f"session:{s}/unit:{p}/"):
            assert refused(ws, odd) == "bad_topic", odd
        assert refused(ws, f"session:999999999/unit:{p}") == "not_found"
        assert refused(ws, f"session:{s}/hall:999999999") == "not_found"
        assert subscribed(ws, f"session:{s}/unit:{p}")["topic"] == f"session:{s}/unit:{p}"


# -- a client from the contract alone ---------------------------------------------------------------------

class ContractClient:
    """A live client written from /api/asyncapi.json and docs/PROTOCOL.md section 3 only: it checks every
    frame against the document's payload schemas and merges changes into the snapshot as the guide says."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.schemas = {m["name"]: Draft7Validator(m["payload"]) for i, m in doc["components"]["messages"].items()
                        if i.startswith("server_")}
        self.recent_max = doc["info"]["x-limits"]["recent_max"]
        self.state: dict[str, dict[str, Any]] = {}  # topic -> data
        self.seq: dict[str, int] = {}

    def take(self, text: str | bytes) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(text)
        errors = [e.message for e in self.schemas[message["type"]].iter_errors(message)]
        assert not errors, (errors[:3], str(text)[:300])
        topic = message.get("topic", "")
        if message["type"] == "snapshot":
            self.state[topic], self.seq[topic] = message["data"], message["seq"]
        elif message["type"] == "change":
            assert message["seq"] == self.seq[topic] + 1, "a gap"
            self.seq[topic] = message["seq"]
            self.merge(self.state[topic], message["data"])
        return message

    def merge(self, state: dict[str, Any], change: dict[str, Any]) -> None:
        for key, value in change.items():
            if key in ("halls", "units"):  # rows: only the changed fields of changed rows
                for row_id, fields in value.items():
                    state[key].setdefault(row_id, {}).update(fields)
            elif key == "unit":
                state["unit"].update(value)
            elif key == "rate":  # the changed minutes, with their new counts
                state["rate"].update(value)
            elif key == "recent":  # newest first: before those held, the first recent_max kept
                state["recent"] = (value + state["recent"])[:self.recent_max]
            else:  # totals, hall: whole
                state[key] = value


async def _sign_in_ticket(http: httpx.AsyncClient) -> str:
    """What the guide says a non-browser client does: the login form with its CSRF field, GET /api/me for
    the CSRF token, POST /api/live/ticket with it."""
    page = await http.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    signed = await http.post("/login", data={"username": ORGANISER[0], "password": ORGANISER[1], "csrf": csrf})
    assert signed.status_code == 303
    me = (await http.get("/api/me")).json()
    answer = await http.post("/api/live/ticket", headers={"X-CSRF-Token": me["csrf_token"]})
    assert answer.status_code == 200 and answer.json()["expires_in"] > 0
    return str(answer.json()["ticket"])


async def _until_seq(ws: ClientConnection, client: ContractClient, want: dict[str, int]) -> None:
    while any(client.seq.get(t, -1) < s for t, s in want.items()):
        client.take(await asyncio.wait_for(ws.recv(), 10))


async def _open(host: str, http: httpx.AsyncClient, client: ContractClient, topic: str) -> ClientConnection:
    """A connection that said hello and subscribed to `topic`, its welcome and snapshot taken."""
    ws = await connect(f"ws://{host}/ws", compression=None)
    await ws.send(json.dumps({"type": "hello", "v": 1, "ticket": await _sign_in_ticket(http)}))
    assert client.take(await ws.recv())["type"] == "welcome"
    await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
    await _until_seq(ws, client, {topic: 0})
    return ws


async def _subscribe(ws: ClientConnection, client: ContractClient, topics: list[str]) -> None:
    for topic in topics:
        await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
    await _until_seq(ws, client, {t: 0 for t in topics})


async def _check_in(http: httpx.AsyncClient, prepared: Prepared, texts: list[str]) -> None:
    """The kiosk checks in everyone of `texts`, 8 at a time: a burst."""
    kiosk = {"Authorization": f"Bearer {prepared.kiosk_token}"}
    todo = iter(texts)

    async def scan() -> None:
        for text in todo:
            answer = await http.post("/api/checkins", headers=kiosk,
                                     json={"session_id": prepared.session_id, "credential": text})
            assert answer.status_code == 200 and answer.json()["outcome"] == "accepted", answer.text
    await asyncio.gather(*(scan() for _ in range(8)))


async def test_a_client_from_the_contract_alone_matches_a_fresh_snapshot_after_500_check_ins(
        app_settings: Settings) -> None:
    prepared = await prepare(app_settings, members=700)
    province = f"session:{prepared.session_id}/unit:{prepared.province_unit_id}"
    hall = f"session:{prepared.session_id}/hall:{prepared.kiosk_hall_id}"
    async with served(create_app(app_settings)) as url:
        host = url.split("/")[2]
        async with httpx.AsyncClient(base_url=f"http://{host}") as http:
            doc = (await http.get("/api/asyncapi.json")).json()
            assert doc["channels"]["live"]["address"] == "/ws"
            client = ContractClient(doc)
            ws = await _open(host, http, client, province)
            units = [f"session:{prepared.session_id}/unit:{u}" for u in list(client.state[province]["units"])[:2]]
            topics = [province, hall, *units]
            await _subscribe(ws, client, [hall, *units])

            async def read() -> None:
                while True:
                    client.take(await ws.recv())
            reader = asyncio.create_task(read())
            await _check_in(http, prepared, prepared.texts[:500])
            await asyncio.sleep(1.0)  # the last flush
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            fresh = ContractClient(doc)
            other = await _open(host, http, fresh, province)
            await _subscribe(other, fresh, topics[1:])
            await other.close()
            await _until_seq(ws, client, fresh.seq)  # a change between the two connections: read up to it
            await ws.close()
    assert client.seq == fresh.seq
    assert client.state[province]["totals"]["in_person"] == 500
    assert len(client.state[province]["recent"]) == client.recent_max
    for topic in topics:
        assert client.state[topic] == fresh.state[topic], topic
