"""Authentication attacks (issue 13, hole 2 and "Sessions"), through the real HTTP interface: guessing
passwords, kiosk enrolment codes and feedback receipts is throttled per account and per address (429 with
Retry-After, shared by two app instances on Redis); parallel guesses do not stall check-ins (Argon2id runs
in a bounded pool); a stolen session cookie stops working after sign-out elsewhere, a password change, a
deactivation or a role change. The throttle's rule and both its backends are tested here too.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
import requests
import uvicorn
from starlette.testclient import TestClient

from conference.accounts import Role
from tests.browser import free_port
from tests.conftest import REDIS_URL
from tests.security.test_access_control import call, services
from tests.world import PASSWORD, World, build_world, sign_in
from web.app import create_app
from web.settings import Settings
from web.throttle.backends import MemoryThrottle, RedisThrottle, Throttle, throttle_from_url
from web.throttle.rule import Backoff, admit, counted, forgive, waiting

RULE = Backoff(free=3, base_seconds=10.0, longest_seconds=40.0, window_seconds=100.0)


def login(client: TestClient, username: str, password: str) -> Any:
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return client.post("/login", data={"username": username, "password": password, "csrf": csrf},
                       follow_redirects=False)


# -- the rule, without an event loop -------------------------------------------------------------------
def test_the_rule_backs_off_exponentially_and_forgets() -> None:
    assert [RULE.wait_after(n) for n in range(1, 7)] == [0.0, 0.0, 10.0, 20.0, 40.0, 40.0]
    count, now = None, 0.0
    for _ in range(3):
        count, wait = admit(count, RULE, now)
        assert wait == 0.0
    assert waiting(count, now) == 10.0
    assert admit(count, RULE, now + 4)[1] == 6.0  # refused while waiting, and not counted
    count, wait = admit(count, RULE, now + 10)
    assert wait == 0.0 and count is not None and count.attempts == 4 and waiting(count, now + 10) == 20.0
    assert forgive(count, now + 10, everything=True) is None
    one_less = forgive(count, now + 10, everything=False)
    assert one_less is not None and one_less.attempts == 3 and waiting(one_less, now + 10) == 20.0
    assert counted(count, RULE, now + 10 + RULE.forget_after(4)).attempts == 1  # forgotten after the window


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[Throttle, list[float]]]:
    clock = [1000.0]
    if request.param == "memory":
        yield MemoryThrottle(clock=lambda: clock[0]), clock
    else:
        yield RedisThrottle(REDIS_URL, prefix=f"test-throttle-{uuid.uuid4().hex}:"), clock


async def test_both_backends_count_wait_and_forgive(backend: tuple[Throttle, list[float]]) -> None:
    throttle, _ = backend
    assert [await throttle.admit("acct", RULE) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert 9.0 < await throttle.waiting("acct") <= 10.0
    assert 9.0 < await throttle.admit("acct", RULE) <= 10.0
    await throttle.forgive("acct", everything=True)
    assert await throttle.waiting("acct") == 0.0 and await throttle.admit("acct", RULE) == 0.0
    for _ in range(3):
        await throttle.fail("addr", RULE)
    assert await throttle.waiting("addr") > 0
    await throttle.forgive("addr", everything=False)  # one success from an address: its other guesses stand
    assert await throttle.waiting("addr") > 0
    await throttle.close()


def test_the_backend_is_chosen_by_url() -> None:
    assert isinstance(throttle_from_url(""), MemoryThrottle)
    assert isinstance(throttle_from_url("memory://"), MemoryThrottle)
    assert isinstance(throttle_from_url("redis://127.0.0.1:6379/0"), RedisThrottle)


async def test_redis_away_falls_back_to_counting_in_the_process() -> None:
    throttle = RedisThrottle("redis://127.0.0.1:1/0")
    assert [await throttle.admit("acct", RULE) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert await throttle.admit("acct", RULE) > 0
    await throttle.close()


# -- guessing over HTTP --------------------------------------------------------------------------------
def test_guessing_one_accounts_password_is_throttled_and_answered_in_vietnamese(
        world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    statuses = [login(client, "org.p", "wrong-password").status_code for _ in range(8)]
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429] * 3
    refused = login(client, "org.p", PASSWORD)  # even the right password waits: the lock is the account's
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "Đăng nhập sai quá nhiều lần" in refused.text
    client.cookies.set("lang", "en")
    assert "Too many failed sign-ins" in login(client, "org.p", PASSWORD).text
    assert login(client, "org.d1", PASSWORD).status_code == 303  # another account is not locked


def test_guessing_from_one_address_is_throttled_across_accounts(world_client: tuple[TestClient, World],
                                                               ) -> None:
    client, _ = world_client
    limit = services(client).settings.signin_address_attempts
    statuses = [login(client, f"guess-{i}", "wrong-password").status_code for i in range(limit + 2)]
    assert statuses[:limit] == [401] * limit and statuses[limit:] == [429, 429]
    assert login(client, "org.p", PASSWORD).status_code == 429  # from this address, even the right one waits


def test_guessing_enrolment_codes_and_receipts_is_throttled(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    limit = services(client).settings.signin_address_attempts
    enrol = [client.post("/api/devices/enrol", json={"code": f"WRONG{i}", "name": "k"}) for i in range(limit + 1)]
    assert [r.status_code for r in enrol] == [422] * limit + [429]
    assert enrol[-1].json()["error"] == "throttled" and int(enrol[-1].headers["retry-after"]) >= 1
    receipts = [client.post("/api/feedback/receipt", json={"code": f"NO-{i}"}) for i in range(limit + 1)]
    assert [r.status_code for r in receipts] == [404] * limit + [429]
    page = client.get("/feedback/receipt")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = client.post("/feedback/receipt", data={"code": "NO-X", "csrf": csrf})
    assert form.status_code == 429 and "Bạn đã thử sai quá nhiều lần" in form.text and form.headers["retry-after"]


def test_the_throttle_is_shared_by_two_app_instances_on_redis(app_settings: Settings, tmp_path: Any) -> None:
    username = f"ghost-{uuid.uuid4().hex[:12]}"
    r = redis.Redis.from_url(REDIS_URL)
    r.delete(*[k for k in r.scan_iter("hoinghi:throttle:sign-in:testclient*")] or ["-"])
    first = replace(app_settings, redis_url=REDIS_URL)
    second = replace(first, database_url=f"sqlite:///{tmp_path / 'second.db'}")
    try:
        with TestClient(create_app(first)) as one, TestClient(create_app(second)) as two:
            assert [login(one, username, "guess").status_code for _ in range(5)] == [401] * 5
            assert login(two, username, "guess").status_code == 429  # the other instance knows
    finally:
        r.delete(f"hoinghi:throttle:account:{username}", f"hoinghi:throttle:account:{username}:wait",
                 *[k for k in r.scan_iter("hoinghi:throttle:sign-in:testclient*")])
        r.close()


# -- sessions --------------------------------------------------------------------------------------------
def as_other(client: TestClient, cookie: str) -> int:
    """`/api/me` with another browser's cookie (the stolen one), this client's own cookies left aside."""
    own = client.cookies
    client.cookies = {}  # type: ignore[assignment]
    try:
        return client.get("/api/me", headers={"cookie": f"hoinghi={cookie}"}).status_code
    finally:
        client.cookies = own


def test_a_stolen_cookie_stops_working_after_sign_out_elsewhere(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    sign_in(client, "org.p")
    cookie = client.cookies["hoinghi"]
    csrf = sign_in(client, "org.p")  # the account's own, other session
    assert as_other(client, cookie) == 200
    page = client.get("/conferences")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert as_other(client, cookie) == 401 and csrf


def test_a_stolen_cookie_stops_working_after_a_password_change(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    sign_in(client, "clerk.c1")
    cookie = client.cookies["hoinghi"]
    csrf = sign_in(client, "clerk.c1")
    wrong = client.post("/api/me/password", headers={"X-CSRF-Token": csrf},
                        json={"current_password": "not-it", "new_password": "mat-khau-moi-123"})
    assert wrong.status_code == 401 and as_other(client, cookie) == 200
    short = client.post("/api/me/password", headers={"X-CSRF-Token": csrf},
                        json={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422 and short.json()["field"] == "new_password"
    changed = client.post("/api/me/password", headers={"X-CSRF-Token": csrf},
                          json={"current_password": PASSWORD, "new_password": "mat-khau-moi-123"})
    assert changed.status_code == 200, changed.text
    assert as_other(client, cookie) == 401  # the stolen one ended
    assert client.get("/api/me").status_code == 200  # the one that changed it carries on, with a new token
    assert changed.json()["csrf_token"] != csrf
    assert login(client, "clerk.c1", PASSWORD).status_code == 401
    assert login(client, "clerk.c1", "mat-khau-moi-123").status_code == 303


def test_the_password_page_changes_it_and_says_so(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    sign_in(client, "chair.c1")
    cookie = client.cookies["hoinghi"]
    sign_in(client, "chair.c1")
    page = client.get("/me/password")
    assert page.status_code == 200 and "Đổi mật khẩu" in page.text
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    form = {"csrf": csrf, "current_password": PASSWORD, "new_password": "mat-khau-moi-456"}
    differ = client.post("/me/password", data=form | {"repeat_password": "khac"})
    assert differ.status_code == 422 and "không khớp" in differ.text
    wrong = client.post("/me/password", data=form | {"current_password": "x", "repeat_password": "mat-khau-moi-456"})
    assert wrong.status_code == 403 and "Mật khẩu hiện tại không đúng" in wrong.text
    done = client.post("/me/password", data=form | {"repeat_password": "mat-khau-moi-456"})
    assert done.status_code == 200 and "Đã đổi mật khẩu" in done.text
    assert as_other(client, cookie) == 401 and client.get("/api/me").status_code == 200
    assert client.get("/me/password").status_code == 200
    client.cookies.clear()
    assert client.get("/me/password", follow_redirects=False).status_code == 303  # signed out: to /login


def test_deactivation_and_a_role_change_end_every_session(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    store = services(client).conference.store
    sign_in(client, "org.d1")
    org_d1 = client.cookies["hoinghi"]
    sign_in(client, "chair.c1")
    chair = client.cookies["hoinghi"]
    assert as_other(client, org_d1) == 200 and as_other(client, chair) == 200
    uid = call(client, store.user_by_name, "org.d1").id
    call(client, store.set_active, uid, False)
    assert as_other(client, org_d1) == 401
    call(client, store.set_active, uid, True)
    assert as_other(client, org_d1) == 401  # reactivated, it signs in again: the old session stays ended
    chair_id = call(client, store.user_by_name, "chair.c1").id
    call(client, store.set_role, chair_id, Role.HALL_CLERK, world.units["C1"])
    assert as_other(client, chair) == 401
    assert as_other(client, "not-a-signed-cookie") == 401


# -- acceptance 3: 50 wrong passwords in a row, while check-ins go on through another connection ---------
@pytest.fixture
def served(app_settings: Settings) -> Iterator[tuple[str, World]]:
    """The app served by uvicorn in a thread, with the default (production) Argon2id cost."""
    settings = replace(app_settings, password_time_cost=3, password_memory_kib=65536, signin_address_attempts=1000)
    with TestClient(create_app(settings)) as client:
        world = call(client, build_world, services(client))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", world
    finally:
        server.should_exit = True
        thread.join(30)


def guess(http: requests.Session, base: str, username: str) -> tuple[int, float, str]:
    page = http.get(base + "/login", timeout=60)
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    started = time.perf_counter()
    answer = http.post(base + "/login", data={"username": username, "password": "wrong-password", "csrf": csrf},
                       allow_redirects=False, timeout=60)
    return answer.status_code, time.perf_counter() - started, answer.headers.get("retry-after", "")


def test_fifty_wrong_passwords_are_throttled_while_check_ins_are_answered(served: tuple[str, World]) -> None:
    base, world = served
    kiosk = requests.Session()
    kiosk.headers["Authorization"] = f"Bearer {world.kiosk_token}"
    body = {"session_id": world.session_id, "hall_id": world.halls["C1"], "person_id": world.persons["A1"],
            "method": "manual"}

    def check_in() -> float:
        started = time.perf_counter()
        answer = kiosk.post(base + "/api/checkins", json=body | {"nonce": uuid.uuid4().hex}, timeout=60)
        assert answer.status_code == 200, answer.text
        return time.perf_counter() - started

    before = [check_in() for _ in range(20)]
    during: list[float] = []
    done = threading.Event()

    def keep_checking_in() -> None:
        while not done.is_set():
            during.append(check_in())

    def attack(usernames: list[str], out: list[tuple[int, float, str]]) -> None:
        with requests.Session() as http:
            out.extend(guess(http, base, name) for name in usernames)

    checker = threading.Thread(target=keep_checking_in)
    checker.start()
    in_a_row: list[tuple[int, float, str]] = []
    attack(["org.p"] * 50, in_a_row)  # one account, 50 wrong passwords in a row
    # then guesses in parallel at many accounts (the address limit raised): Argon2id runs for each
    parallel: list[list[tuple[int, float, str]]] = [[] for _ in range(6)]
    attackers = [threading.Thread(target=attack, args=([f"ghost-{i}-{j}" for j in range(3)], parallel[i]))
                 for i in range(6)]
    mark = len(during)
    for t in attackers:
        t.start()
    for t in attackers:
        t.join()
    done.set()
    checker.join()
    kiosk.close()

    statuses = [s for s, _, _ in in_a_row]
    first_refusal = statuses.index(429)
    assert first_refusal <= 6 and statuses.count(401) <= 10, statuses  # 429 well before the 50th
    assert all(retry for s, _, retry in in_a_row if s == 429)
    hashed = [t for guesses in parallel for s, t, _ in guesses if s == 401]
    assert len(hashed) == 18
    under_attack = during[mark:]
    assert len(during) >= 10 and len(under_attack) >= 3  # check-ins kept being answered (each asserted 200)
    one_hash = statistics.median(t for s, t, _ in in_a_row if s == 401)  # a guess alone: about one hash
    ratio = statistics.median(under_attack) / one_hash
    print(f"\ncheck-in median before {statistics.median(before) * 1000:.1f} ms, during the parallel guesses "
          f"{statistics.median(under_attack) * 1000:.1f} ms; one guess alone {one_hash * 1000:.0f} ms, in parallel "
          f"{statistics.median(hashed) * 1000:.0f} ms; check-in / one guess {ratio:.3f}; first 429 at attempt "
          f"{first_refusal + 1}, {statuses.count(401)} of 50 hashed")
    # on the event loop, a check-in would wait for the hash being computed (half of one, on average, or
    # more with six queued); off it, it waits for none
    assert ratio < 0.35
