"""Access-control attacks (issue 13, holes 1, 3, 4, 8, kiosk-supplied fields, audit), each through the real
HTTP or WebSocket interface of the app: the attack is tried and seen refused, and what is allowed still works.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from conference.accounts import Role
from conference.audit import AuditAction
from tests.test_live import hello, ticket
from tests.test_media_signalling import offer, reply
from tests.world import PASSWORD, World, sign_in
from web.bootstrap import Services


def services(client: TestClient) -> Services:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    return svc


def call(client: TestClient, fn: Any, *args: Any) -> Any:
    assert client.portal is not None
    return client.portal.call(fn, *args)


def audited(client: TestClient, action: AuditAction) -> list[Any]:
    entries = call(client, services(client).conference.store.audit_entries, 500)
    return [e for e in entries if e.action is action]


# -- hole 1: taking over a broadcast -----------------------------------------------------------------
def test_only_assigned_presenters_and_the_conferences_organisers_publish(world_client: tuple[TestClient, World]
                                                                         ) -> None:
    client, world = world_client
    svc, sid = services(client), world.session_id

    async def presenters() -> None:
        for name in ("presenter.p", "presenter.q", "presenter.x"):
            await svc.conference.create_user(None, name, name, Role.PRESENTER, PASSWORD, world.units["P"])
        org = (await svc.conference.store.user_with_hash("org.p"))
        assert org is not None
        for name in ("presenter.p", "presenter.q"):
            found = await svc.conference.store.user_with_hash(name)
            assert found is not None
            await svc.conference.assign_presenter(org[0], sid, found[0].id)

    call(client, presenters)
    publish = offer("publish")

    def try_publish(username: str) -> dict[str, Any]:
        with client.websocket_connect("/ws") as ws:
            hello(ws, ticket(client, username))
            ws.send_json({"type": "rtc_offer", "session": sid, "role": "publish", "sdp": publish, "ref": username})
            return reply(ws)

    # a district organiser over the province's session, a presenter not assigned to it
    for attacker in ("org.d1", "presenter.x"):
        refused = try_publish(attacker)
        assert refused["type"] == "rtc_error" and refused["code"] == "forbidden", attacker
        assert client.get(f"/sessions/{sid}/present").status_code == 403
        assert client.get(f"/api/sessions/{sid}/media").json()["may_publish"] is False

    with client.websocket_connect("/ws") as live:
        hello(live, ticket(client, "presenter.p"))
        live.send_json({"type": "rtc_offer", "session": sid, "role": "publish", "sdp": publish, "ref": "p"})
        assert reply(live)["type"] == "rtc_answer"
        # another assigned presenter does not replace the one on air
        refused = try_publish("presenter.q")
        assert refused["type"] == "rtc_error" and refused["code"] == "forbidden"
        assert not audited(client, AuditAction.BROADCAST_TAKEOVER)
        # the conference's organiser does, and it is audited
        assert try_publish("org.p")["type"] == "rtc_answer"
        takeovers = audited(client, AuditAction.BROADCAST_TAKEOVER)
        assert [t.subject for t in takeovers] == [f"session:{sid}"]
    sign_in(client, "presenter.p")
    assert client.get(f"/api/sessions/{sid}/media").json()["may_publish"] is True
