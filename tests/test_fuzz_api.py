"""The JSON API fuzzed from its own OpenAPI document (schemathesis): no 5xx, every refusal a clear JSON error.

Every documented operation is called with generated input, valid and invalid, against the real app on
SQLite and on PostgreSQL: as the signed-in administrator (session cookie + X-CSRF-Token) for cookie
operations, as the enrolled kiosk (bearer token) for kiosk operations. Half of the examples have their
ids (in the path and in the body) replaced by the test province's real ones, so that generated bodies
reach real records.
CI runs a bounded number of examples per operation, derandomized so that a failure reproduces; set
HOINGHI_FUZZ_EXAMPLES for a longer fuzz (README: Fuzzing).

Every answer is checked against the document (`response_schema_conformance`), and every operation whose
2xx answer has a typed schema is seen answering 2xx at least once, from the role matrix's concrete
requests (tests/access_routes.py), so that its schema is checked against a real answer, not only refusals.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route
from starlette.testclient import TestClient

from attendance.face_engine import EngineUnavailable
from attendance.ledger import Unavailable
from tests import access_routes
from tests.faces_photos import GROUPS, photo
from tests.test_access import headers_of
from tests.test_checkin_api import qr_text
from tests.test_content_rules import PDF
from tests.test_faces_web import enrol, face_client  # noqa: F401 (a fixture)
from tests.world import PASSWORD, World, sign_in
from web.app import create_app
from web.http.auth import IdConvertor
from web.http.errors import status_of
from web.settings import Settings, load

EXAMPLES = int(os.environ.get("HOINGHI_FUZZ_EXAMPLES", "15"))
BASE = "http://testserver"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def served_document() -> dict[str, Any]:
    """The document as the app serves it (the route needs no database: no lifespan is started)."""
    app = create_app(load({}, None, database_url="sqlite:///never-opened.db", secret_key="f" * 40))
    document: dict[str, Any] = TestClient(app).get("/api/openapi.json").json()
    return document


@pytest.fixture
def app_settings(database_url: str) -> Settings:
    """The fuzz runs on SQLite and on PostgreSQL (which refuses what SQLite stores: NUL in text, ids over
    32 bits, times whose UTC conversion overflows): conftest's `database_url` gives both."""
    return load({}, None, database_url=database_url, secret_key="t" * 40, password_time_cost=1,
                password_memory_kib=8192)


SCHEMA = schemathesis.openapi.from_dict(served_document())
SCHEMA.config.generation.update(max_examples=EXAMPLES, deterministic=True, database="none",
                                with_security_parameters=False)


@dataclass
class Fuzzed:
    """The app under fuzz, who calls it, and every status it answered."""

    client: TestClient
    world: World
    auth: dict[str, dict[str, str]]
    statuses: list[int] = field(default_factory=list)

    def real_ids(self) -> dict[str, int]:
        w = self.world
        return {"cid": w.conference_id, "conference_id": w.conference_id, "sid": w.session_id,
                "session_id": w.session_id, "hid": w.halls["C1"], "hall_id": w.halls["C1"],
                "pid": w.persons["A1"], "person_id": w.persons["A1"], "uid": w.units["P"],
                "organiser_unit_id": w.units["P"], "unit_id": w.units["C1"], "did": w.kiosk_device_id}


@pytest.fixture
def fuzzed(world_client: tuple[TestClient, World]) -> Iterator[Fuzzed]:
    client, world = world_client
    csrf = sign_in(client, "admin")
    run = Fuzzed(client, world, {"cookie": {"X-CSRF-Token": csrf}, "none": {"X-CSRF-Token": csrf},
                                 "kiosk": {"Authorization": f"Bearer {world.kiosk_token}"}})
    yield run
    # whatever it was sent, the app still serves, and its records are still there
    assert client.get("/api/me").json()["user"]["username"] == "admin"
    assert client.get(f"/api/conferences/{world.conference_id}").status_code == 200
    assert any(status != 401 for status in run.statuses), "the fuzz never got past authentication"


def pin_ids(case: Case[Any], ids: dict[str, int]) -> None:
    """Point the case's integer ids (path, top-level body fields) at the world's real records."""
    for params in (case.path_parameters, case.body):
        if isinstance(params, dict):
            for name, value in params.items():
                if name in ids and isinstance(value, int) and not isinstance(value, bool):
                    params[name] = ids[name]


def send(client: TestClient, request: dict[str, Any]) -> Any:
    """A case serialized for `requests`, encoded by `requests` byte for byte, sent through the test client."""
    request = {k: v for k, v in request.items() if k != "cookies"}  # the client's jar holds the session
    prepared = requests.Request(**request).prepare()
    body = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    assert body is None or isinstance(body, bytes)
    headers = {k: v if isinstance(v, str) else v.decode("latin-1") for k, v in prepared.headers.items()}
    return client.request(prepared.method or "GET", prepared.url or "/", content=body, headers=headers)


def scheme_of(case: Case[Any]) -> str:
    security = case.operation.definition.raw.get("security") or [{"none": []}]
    return str(next(iter(security[0])))


def assert_clear_refusal(response: Any) -> None:
    assert response.headers["content-type"].startswith("application/json"), response.text
    error = response.json()
    assert isinstance(error.get("error"), str) and error["error"], response.text
    assert isinstance(error.get("message"), str) and error["message"].strip(), response.text


@SCHEMA.parametrize()
@SCHEMA.given(real=st.booleans())
@settings(derandomize=True, database=None, deadline=None, max_examples=EXAMPLES,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_bad_input_gets_a_clear_refusal(case: Case[Any], real: bool, fuzzed: Fuzzed) -> None:
    if real:
        pin_ids(case, fuzzed.real_ids())
    headers = fuzzed.auth[scheme_of(case)]
    try:
        response = send(fuzzed.client, case.as_transport_kwargs(base_url=BASE, headers=headers))
    except Exception as crash:  # the test client re-raises what the app raised: a 500
        crash.add_note(f"request: {case.as_curl_command(headers, base_url=BASE)}")
        raise
    fuzzed.statuses.append(response.status_code)
    case.validate_response(response, checks=CHECKS)
    if 400 <= response.status_code < 500:
        assert_clear_refusal(response)


def typed(schema: dict[str, Any]) -> bool:
    """Whether a schema says more than "some object": every object in it names its properties."""
    if schema.get("type") == "object" and "properties" not in schema and "additionalProperties" not in schema:
        return False
    return all(typed(v) for v in schema.values() if isinstance(v, dict)) and \
        all(typed(i) for v in schema.values() if isinstance(v, list) for i in v if isinstance(i, dict))


def typed_operations() -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) of every operation with a JSON 2xx answer, and that answer's schema."""
    found = {}
    for path, operations in served_document()["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith("2") and "application/json" in answer.get("content", {}):
                    found[(method.upper(), path)] = answer["content"]["application/json"]["schema"]
    return found


def test_every_2xx_answer_has_a_typed_schema() -> None:
    untyped = sorted(f"{m} {p}" for (m, p), schema in typed_operations().items() if not typed(schema))
    assert not untyped, untyped


def valid_requests(client: TestClient, world: World) -> list[tuple[str, str, str, Callable[[], Any]]]:
    """Requests that succeed, for the operations whose matrix rows are refusals: (method, route, path, send)."""
    sid, cid, hid = world.session_id, world.conference_id, world.halls["C1"]
    kiosk = {"Authorization": f"Bearer {world.kiosk_token}"}
    a2 = world.persons["A2"]
    state: dict[str, Any] = {}

    def as_admin() -> dict[str, str]:
        return {"X-CSRF-Token": sign_in(client, "admin")}

    def move_session() -> Any:
        headers = as_admin()
        session = client.get(f"/api/conferences/{cid}/sessions", headers=headers).json()[0]
        return client.patch(f"/api/sessions/{sid}", headers=headers,
                            json={"starts_at": session["starts_at"], "ends_at": session["ends_at"]})

    def undo() -> Any:
        scan = client.post("/api/checkins", headers=kiosk, json={"session_id": sid, "credential": qr_text(client, a2)})
        assert scan.json()["outcome"] == "accepted", scan.text
        return client.post("/api/checkins/undo", headers=kiosk, json={"session_id": sid, "person_id": a2})

    def upload() -> Any:
        return client.post(f"/api/conferences/{cid}/documents", headers=as_admin(), data={"title": "Nghị quyết"},
                           files={"file": ("nq.pdf", PDF, "application/pdf")})

    def enrol() -> Any:
        code = client.post(f"/api/halls/{hid}/enrolment-codes", headers=as_admin()).json()["code"]
        return client.post("/api/devices/enrol", json={"code": code, "name": "Kiosk thứ hai"})

    def receipt() -> Any:
        csrf = sign_in(client, "member.a1")
        sent = client.post("/api/feedback", headers={"X-CSRF-Token": csrf},
                           json={"kind": "proposal", "content": "Đề nghị", "anonymous": True})
        state["receipt"] = sent.json()["receipt"]
        return client.post("/api/feedback/receipt", json={"code": state["receipt"]})

    return [("PATCH", "/api/sessions/{sid:int}", f"/api/sessions/{sid}", move_session),
            ("POST", "/api/checkins/undo", "/api/checkins/undo", undo),
            ("POST", "/api/conferences/{cid:int}/documents", f"/api/conferences/{cid}/documents", upload),
            ("POST", "/api/devices/enrol", "/api/devices/enrol", enrol),
            ("POST", "/api/feedback/receipt", "/api/feedback/receipt", receipt)]


def path_values(template: str, path: str) -> dict[str, Any]:
    """The path parameters of a concrete `path` of the route `template` ("/api/persons/{pid:int}")."""
    pattern = re.sub(r"\\{(\w+)(?::int)?\\}", r"(?P<\1>[^/?]+)", re.escape(template))
    found = re.match(pattern, path)
    assert found is not None, (template, path)
    return {k: int(v) if v.isdigit() else v for k, v in found.groupdict().items()}


def test_every_typed_answer_conforms_to_its_schema(world_client: tuple[TestClient, World]) -> None:
    """The matrix's concrete requests, as the kiosk, a participant and the administrator (who may do the
    most): each 2xx answer of a documented operation validated against its schema by schemathesis."""
    client, world = world_client
    rows = access_routes.rows(world, access_routes.prepare(client, world))
    seen: set[tuple[str, str]] = set()

    def check(method: str, template: str, path: str, response: Any) -> None:
        assert 200 <= response.status_code < 300, (method, path, response.text)
        case = SCHEMA[template.replace(":int", "")][method].Case(path_parameters=path_values(template, path))
        case.validate_response(response, checks=[response_schema_conformance])
        seen.add((method, template.replace(":int", "")))

    for method, template, path, request in valid_requests(client, world):  # what the matrix only refuses
        check(method, template, path, request())
    for actor in ("kiosk.c1", "member.a1", "admin"):  # the administrator last: its rows revoke the kiosk
        headers = headers_of(client, world, actor)
        for method, template, path, body, _ in rows:
            key = (method, template.replace(":int", ""))
            if key not in typed_operations() or key in seen:
                continue
            if isinstance(body, dict) and "form" in body:
                continue
            response = client.request(method, path, json=body, headers=headers, follow_redirects=False)
            if 200 <= response.status_code < 300:
                check(method, template, path, response)
    csrf = sign_in(client, "admin")  # last: a new password
    check("POST", "/api/me/password", "/api/me/password", client.post(
        "/api/me/password", headers={"X-CSRF-Token": csrf},
        json={"current_password": PASSWORD, "new_password": "mat-khau-moi-2026"}))
    unseen = sorted(f"{m} {p}" for m, p in set(typed_operations()) - seen - FACE_OPERATIONS)
    assert not unseen, f"typed operations never answered 2xx here: {unseen}"


FACE_OPERATIONS = {("POST", "/api/persons/{pid}/face"), ("POST", "/api/faces/identify"), ("POST", "/api/faces/verify")}


def test_the_face_answers_conform_to_their_schemas(face_client: tuple[TestClient, World],  # noqa: F811 (the fixture)
                                                   faces_dir: Path) -> None:
    """With the real face engine and photos (a calibration recorded): enrolment, 1:N and 1:1 answers."""
    client, world = face_client
    a1 = world.persons["A1"]
    csrf = sign_in(client, "clerk.c1")
    kiosk = {"Authorization": f"Bearer {world.kiosk_token}"}
    answers = {
        ("POST", "/api/persons/{pid}/face"): (f"/api/persons/{a1}/face", enrol(
            client, csrf, a1, photo(faces_dir / "obama" / "obama1.jpg"))),
        ("POST", "/api/faces/identify"): ("/api/faces/identify", client.post(
            "/api/faces/identify", headers=kiosk, data={"session_id": str(world.session_id), "check_in": "true"},
            files={"image": ("f.jpg", photo(faces_dir / GROUPS / "obama_and_biden.jpg"), "image/jpeg")})),
        ("POST", "/api/faces/verify"): ("/api/faces/verify", client.post(
            "/api/faces/verify", headers=kiosk, data={"session_id": str(world.session_id), "person_id": str(a1)},
            files={"image": ("f.jpg", photo(faces_dir / "obama" / "obama2.jpg"), "image/jpeg")})),
    }
    assert set(answers) == FACE_OPERATIONS
    for (method, template), (path, response) in answers.items():
        assert 200 <= response.status_code < 300, response.text
        case = SCHEMA[template][method].Case(path_parameters=path_values(template.replace("}", ":int}"), path))
        case.validate_response(response, checks=[response_schema_conformance])


# -- what the fuzz found, pinned -------------------------------------------------------------------------
def test_every_path_id_is_bounded(world_client: tuple[TestClient, World]) -> None:
    """A path id of 10 digits or more matches no route: it never reaches a store that cannot bind it."""
    client, _ = world_client
    routes = [r for r in client.app.routes if isinstance(r, Route)]  # type: ignore[attr-defined]
    ints = [c for r in routes for c in r.param_convertors.values() if c.regex == "[0-9]+"]
    assert not ints, "a route was built before web.http.auth registered the bounded `int` convertor"
    assert any(isinstance(c, IdConvertor) for r in routes for c in r.param_convertors.values())
    sign_in(client, "admin")
    for path in ("/api/conferences/99999999999999999999", "/api/persons/2147483648/qr.png",
                 "/api/sessions/9223372036854775808/report"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert_clear_refusal(response)


def test_numbers_out_of_range_are_refused_by_name(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    csrf = sign_in(client, "admin")
    huge = client.get(f"/api/units/{world.units['P']}/people?offset=99999999999999999999")
    assert huge.status_code == 422 and huge.json()["field"] == "offset"
    kiosk = {"Authorization": f"Bearer {world.kiosk_token}", "content-type": "application/json"}
    sid = world.session_id
    for body, refused in [(f'{{"session_id": {2**63}, "credential": "x"}}', "session_id"),
                          (f'{{"session_id": {sid}, "person_id": 1, "method": "face", "face_score": 1e400}}',
                           "face_score"),
                          (f'{{"session_id": {sid}, "credential": "x", "face_score": NaN}}', "NaN")]:
        response = client.post("/api/checkins", headers=kiosk, content=body)
        assert response.status_code == 422 and refused in response.text, response.text
    headcount = client.post("/api/headcounts", headers={"X-CSRF-Token": csrf}, json={
        "session_id": world.session_id, "hall_id": world.halls["C1"], "expected": 2**40, "present": 0})
    assert headcount.status_code == 422 and headcount.json()["field"] == "expected"


def test_text_with_nul_is_refused_by_name(world_client: tuple[TestClient, World]) -> None:
    """PostgreSQL cannot store NUL in text: refused at the edge, on every backend alike."""
    client, world = world_client
    csrf = sign_in(client, "admin")
    response = client.post("/api/conferences", headers={"X-CSRF-Token": csrf},
                           json={"title": "Hội nghị\x00", "organiser_unit_id": world.units["P"]})
    assert response.status_code == 422 and response.json()["field"] == "title"
    search = client.get(f"/api/units/{world.units['P']}/people", params={"q": "An\x00"})
    assert search.status_code == 422 and search.json()["field"] == "q"
    nobody = client.get("/api/audit", params={"user": "admin\x00"})
    assert nobody.status_code == 200 and nobody.json()["total"] == 0
    client.cookies.clear()
    csrf = client.get("/login").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = {"username": "admin\x00", "password": "x", "csrf": csrf}
    signing_in = client.post("/login", data=form)
    assert signing_in.status_code == 422 and "username" in signing_in.text


def test_bodies_that_do_not_parse_are_refused(world_client: tuple[TestClient, World]) -> None:
    """JSON nested deeper than the decoder recurses, a multipart body without its parts: 422, never a 500
    or a bare 400."""
    client, world = world_client
    csrf = sign_in(client, "admin")
    deep = client.post("/api/conferences", headers={"X-CSRF-Token": csrf, "content-type": "application/json"},
                       content="[" * 50_000)
    assert deep.status_code == 422 and deep.json()["message"] == "request body is not JSON"
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=xyz"):
        upload = client.post(f"/api/conferences/{world.conference_id}/documents", content=b"garbage",
                             headers={"X-CSRF-Token": csrf, "content-type": content_type})
        assert upload.status_code == 422 and "not a valid multipart form" in upload.json()["message"], upload.text


def test_a_conference_of_an_unknown_unit_is_not_found(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    csrf = sign_in(client, "admin")
    response = client.post("/api/conferences", headers={"X-CSRF-Token": csrf},
                           json={"title": "Hội nghị", "organiser_unit_id": 0})
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert len(client.get("/api/conferences").json()) == 1  # nothing half-made


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_times_beyond_the_calendar_are_refused_by_name(world_client: tuple[TestClient, World], when: str) -> None:
    """Such a kiosk_time once failed the ledger's whole batch (every kiosk's scans in it), and such a
    session start crashed while its check-in window was computed."""
    client, world = world_client
    scan = client.post("/api/checkins", headers={"Authorization": f"Bearer {world.kiosk_token}"},
                       json={"session_id": world.session_id, "credential": "x", "kiosk_time": when})
    assert scan.status_code == 422 and scan.json()["field"] == "kiosk_time", scan.text
    csrf = sign_in(client, "admin")
    session = client.post(f"/api/conferences/{world.conference_id}/sessions", headers={"X-CSRF-Token": csrf},
                          json={"title": "Buổi chiều", "starts_at": when, "ends_at": "2026-12-01T11:00:00+07:00"})
    assert session.status_code == 422 and session.json()["field"] == "starts_at", session.text


def test_a_ledger_that_cannot_commit_answers_503() -> None:
    assert status_of(Unavailable("the database could not record this scan; try again")) == 503
    assert status_of(EngineUnavailable("face analysis is unavailable right now; try again")) == 503



@pytest.mark.parametrize("day", [{"from": "0001-01-01"}, {"to": "9999-12-31"}])
def test_audit_days_beyond_the_calendar(world_client: tuple[TestClient, World], day: dict[str, str]) -> None:
    client, _ = world_client
    sign_in(client, "admin")
    response = client.get("/api/audit", params=day)
    assert response.status_code == 422 and response.json()["field"] == next(iter(day))
