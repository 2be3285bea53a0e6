"""Issue 13, ending an account's access everywhere, tried through the real HTTP, WebSocket and command line:

- a live ticket carries its session's version: minted before a sign-out, a password change, a role change
  or a deactivation, it is refused after it;
- administering accounts (`/api/accounts`, the `/accounts` page, `hoinghi accounts`): only the
  administrator and organisers, only for accounts below them in scope, never their own, never raising
  anyone to their own rank or above; audited; the account's sessions and open sockets end on every hub.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from conference.audit import AuditAction
from tests.security.test_live_hub import closed_within, no_recheck, two_hubs  # noqa: F401 (fixtures)
from tests.test_cli import hoinghi
from tests.test_live import closed_with, hello, subscribed, ticket
from tests.world import PASSWORD, World, sign_in
from web.live.protocol import Close


def services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def user_id(client: TestClient, username: str) -> int:
    assert client.portal is not None
    user = client.portal.call(services(client).conference.store.user_by_name, username)
    assert user is not None
    return int(user.id)


def admin_post(client: TestClient, actor: str, path: str, json: dict[str, Any] | None = None) -> Any:
    csrf = sign_in(client, actor)
    return client.post(path, headers={"X-CSRF-Token": csrf}, json=json)


# -- tickets carry the session version ----------------------------------------------------------------
def _sign_out(client: TestClient, world: World) -> None:
    csrf = client.get("/api/me").json()["csrf_token"]
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303


def _new_password(client: TestClient, world: World) -> None:
    csrf = client.get("/api/me").json()["csrf_token"]
    answer = client.post("/api/me/password", headers={"X-CSRF-Token": csrf},
                         json={"current_password": PASSWORD, "new_password": "mat-khau-moi-2026"})
    assert answer.status_code == 200, answer.text


def _new_role(client: TestClient, world: World) -> None:
    answer = admin_post(client, "admin", f"/api/accounts/{user_id(client, 'org.d1')}/role",
                        {"role": "hall_chair", "scope_unit_id": world.units["D1"]})
    assert answer.status_code == 200, answer.text


def _deactivated(client: TestClient, world: World) -> None:
    answer = admin_post(client, "org.p", f"/api/accounts/{user_id(client, 'org.d1')}/deactivate")
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("end", [_sign_out, _new_password, _new_role, _deactivated],
                         ids=["sign-out", "password", "role", "deactivated"])
def test_a_ticket_minted_before_the_session_ended_is_refused_after(world_client: tuple[TestClient, World],
                                                                  end: Any) -> None:
    client, world = world_client
    stolen = ticket(client, "org.d1")  # minted while the session was good, used after it ended
    end(client, world)
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "hello", "v": 1, "ticket": stolen})
        assert closed_with(ws) == Close.BAD_AUTH
    if end is _new_role:  # the account itself is fine: a fresh ticket from a fresh sign-in opens a socket
        with client.websocket_connect("/ws") as ws:
            assert hello(ws, ticket(client, "org.d1"))["type"] == "welcome"


# -- administering accounts ---------------------------------------------------------------------------
def test_an_organiser_deactivates_an_account_below_and_its_sockets_close_on_every_hub(
        two_hubs: tuple[TestClient, TestClient, World], no_recheck: None) -> None:  # noqa: F811 (fixtures)
    first, second, world = two_hubs
    clerk = user_id(first, "clerk.c1")
    with second.websocket_connect("/ws") as board:  # the clerk's browser, on the other hub
        hello(board, ticket(second, "clerk.c1"))
        clerks_cookie = dict(second.cookies)
        assert subscribed(board, f"session:{world.session_id}/hall:{world.halls['C1']}")["type"] == "snapshot"
        sign_in(first, "org.d1")
        listed = {a["username"] for a in first.get("/api/accounts").json()["accounts"]}
        assert listed == {"clerk.c1", "chair.c1"}  # below the district's organiser: its halls' staff
        answer = admin_post(first, "org.d1", f"/api/accounts/{clerk}/deactivate")
        assert answer.status_code == 200 and answer.json()["user"]["active"] is False
        assert closed_within(board, 10) == Close.BAD_AUTH  # over the bus, not at a re-read
    second.cookies.clear()
    second.cookies.update(clerks_cookie)
    assert second.get("/api/me").status_code == 401  # its session cookie is signed out too
    with pytest.raises(AssertionError):
        sign_in(second, "clerk.c1")  # and it cannot sign in again
    assert admin_post(first, "org.d1", f"/api/accounts/{clerk}/activate").json()["user"]["active"] is True
    sign_in(first, "clerk.c1")  # reactivated: signs in again
    assert first.portal is not None
    entries = first.portal.call(services(first).conference.store.audit_entries)
    changes = [e.detail for e in entries if e.action is AuditAction.USER_CHANGE and e.subject == f"user:{clerk}"]
    assert {"deactivated", "reactivated"} <= set(changes)  # each change audited


@pytest.mark.parametrize(("actor", "target", "path", "body", "status"), [
    ("org.d1", "org.p", "deactivate", None, 403),  # above: the province's organiser
    ("org.p", "admin", "deactivate", None, 403),  # the administrator is above every organiser
    ("org.p", "org.p", "deactivate", None, 403),  # never one's own account
    ("org.d1", "org.d1", "role", {"role": "admin"}, 403),  # nor raise oneself
    ("org.p", "clerk.c1", "role", {"role": "admin"}, 403),  # nobody raised above one's own rank
    ("org.p", "clerk.c1", "role", {"role": "organiser", "scope_unit_id": "P"}, 403),  # nor to it (a peer)
    ("org.d1", "clerk.c1", "role", {"role": "hall_chair", "scope_unit_id": "D2"}, 403),  # nor out of scope
    ("org.d1", "chair.c1", "deactivate", None, 200),
    ("org.p", "clerk.c1", "role", {"role": "organiser", "scope_unit_id": "D1"}, 200),  # below: a district
    ("clerk.c1", "chair.c1", "deactivate", None, 403),  # a role without ADMINISTER_ACCOUNTS
    ("chair.c1", "clerk.c1", "deactivate", None, 403),
    ("member.a1", "clerk.c1", "deactivate", None, 403),
    ("org.p", "clerk.c1", "role", {"role": "boss", "scope_unit_id": "C1"}, 422),
    ("admin", "org.p", "role", {"role": "participant", "scope_unit_id": "P"}, 422),  # no person of its own
])
def test_who_may_administer_whom(world_client: tuple[TestClient, World], actor: str, target: str, path: str,
                                 body: dict[str, Any] | None, status: int) -> None:
    client, world = world_client
    if body is not None and isinstance(body.get("scope_unit_id"), str):
        body = {**body, "scope_unit_id": world.units[body["scope_unit_id"]]}
    before = client.portal.call(services(client).conference.store.user_by_name, target)  # type: ignore[union-attr]
    answer = admin_post(client, actor, f"/api/accounts/{user_id(client, target)}/{path}", body)
    assert answer.status_code == status, answer.text
    after = client.portal.call(services(client).conference.store.user_by_name, target)  # type: ignore[union-attr]
    assert (after == before) == (status != 200)  # a refusal changes nothing


def test_administering_needs_a_signed_in_session_and_its_csrf_token(world_client: tuple[TestClient, World]
                                                                    ) -> None:
    client, _ = world_client
    clerk = user_id(client, "clerk.c1")
    client.cookies.clear()
    assert client.get("/api/accounts").status_code == 401
    assert client.post(f"/api/accounts/{clerk}/deactivate").status_code == 401
    sign_in(client, "org.p")
    assert client.post(f"/api/accounts/{clerk}/deactivate").status_code == 403  # no CSRF token
    assert client.post("/api/accounts/999999/deactivate",
                       headers={"X-CSRF-Token": client.get("/api/me").json()["csrf_token"]}).status_code == 404


def test_the_accounts_page_deactivates_and_changes_a_role(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    page = client.get("/accounts")
    assert page.status_code == 200 and "Quản lý tài khoản" in page.text and "org.p" not in page.text.split(
        'id="accounts"', 1)[1].split("</table>", 1)[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    clerk = user_id(client, "clerk.c1")
    done = client.post(f"/accounts/{clerk}/active", data={"csrf": csrf.group(1), "active": "false"},
                       follow_redirects=False)
    assert done.status_code == 303
    assert "Đã khóa" in client.get("/accounts").text
    outside = client.post(f"/accounts/{clerk}/role", data={"csrf": csrf.group(1), "role": "hall_chair",
                                                           "scope_unit_id": "999999"})
    assert outside.status_code == 403  # a unit outside one's scope
    bad = client.post(f"/accounts/{clerk}/role", data={"csrf": csrf.group(1), "role": "boss",
                                                       "scope_unit_id": str(world.units["C1"])})
    assert bad.status_code == 422 and 'id="accounts"' in bad.text  # the page again, saying why
    moved = client.post(f"/accounts/{clerk}/role", data={"csrf": csrf.group(1), "role": "hall_chair",
                                                         "scope_unit_id": str(world.units["C1"])},
                        follow_redirects=False)
    assert moved.status_code == 303
    assert client.portal is not None
    changed = client.portal.call(services(client).conference.store.user_by_name, "clerk.c1")
    assert changed is not None and changed.role.value == "hall_chair" and not changed.active
    sign_in(client, "chair.c1")
    assert client.get("/accounts").status_code == 403


def test_the_command_line_deactivates_activates_and_changes_a_role(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite"}
    assert hoinghi("db", "upgrade", env=env).returncode == 0
    assert hoinghi("user", "add", "btg", "--role", "admin", "--password-stdin", env=env,
                   stdin="mat-khau-dai\n").returncode == 0
    off = hoinghi("accounts", "deactivate", "btg", env=env)
    assert off.returncode == 0 and "btg deactivated" in off.stdout, off.stderr
    on = hoinghi("accounts", "activate", "btg", env=env)
    assert on.returncode == 0 and "btg active" in on.stdout
    missing = hoinghi("accounts", "deactivate", "nobody", env=env)
    assert missing.returncode == 2 and "no account 'nobody'" in missing.stderr
    no_unit = hoinghi("accounts", "role", "btg", "organiser", env=env)
    assert no_unit.returncode == 2 and "--unit" in no_unit.stderr


def test_an_ended_accounts_webrtc_media_closes_on_every_hub(two_hubs: tuple[TestClient, TestClient, World],  # noqa: F811
                                                            no_recheck: None) -> None:  # noqa: F811
    """Media outlives its socket (a reloading page keeps its video), so ending the socket is not enough: a
    deactivated viewer's and a signed-out publisher's peer connections close too, on the hub that carries
    them, told over the bus by the hub where the account was ended."""
    from tests.test_media_signalling import offer, reply, state

    first, second, world = two_hubs
    s = world.session_id
    view_offer, publish_offer = offer("view"), offer("publish")
    with second.websocket_connect("/ws") as watcher, second.websocket_connect("/ws") as viewer, \
            second.websocket_connect("/ws") as presenter:
        hello(watcher, ticket(second, "chair.c1"))
        watcher.send_json({"type": "media_watch", "session": s})
        hello(presenter, ticket(second, "org.p"))
        presenter.send_json({"type": "rtc_offer", "session": s, "role": "publish", "sdp": publish_offer})
        assert reply(presenter)["type"] == "rtc_answer"
        hello(viewer, ticket(second, "member.a1"))
        viewer.send_json({"type": "rtc_offer", "session": s, "role": "view", "sdp": view_offer})
        assert reply(viewer)["type"] == "rtc_answer"
        assert state(watcher, lambda m: m["viewers"] == 1 and m["presenter"])["session"] == s
        assert admin_post(first, "admin", f"/api/accounts/{user_id(first, 'member.a1')}/deactivate").status_code == 200
        assert state(watcher, lambda m: m["viewers"] == 0)["presenter"] is True  # the viewer's peer closed
        csrf = sign_in(first, "org.p")  # the presenter signs out everywhere, from another browser
        assert first.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
        assert state(watcher, lambda m: not m["presenter"])["viewers"] == 0  # the publisher's peer closed
        assert closed_within(viewer, 5) == Close.BAD_AUTH and closed_within(presenter, 5) == Close.BAD_AUTH
    media = services(second).media
    assert [p for p in media.open_peers.values() if p.user_id is not None] == []
