"""Feedback (ý kiến – đề xuất) through the real app: members send it signed or anonymous, organisers of
the right level move it on and answer it, the author reads the answer; text is shown as text."""

from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from conference import tables as t
from conference.accounts import Role
from tests.world import World, sign_in
from web.bootstrap import Services

SCRIPT = '<script>alert("ý kiến")</script><img src=x onerror=alert(1)>'


def services_of(client: TestClient) -> Services:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    return svc


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def send(client: TestClient, **form: str) -> tuple[int, str]:
    csrf = page_csrf(client.get("/me/feedback").text)
    response = client.post("/me/feedback", data={"csrf": csrf, "kind": "proposal", **form})
    return response.status_code, response.text


def feedback_rows(client: TestClient) -> list[dict[str, object]]:
    async def read() -> list[dict[str, object]]:
        async with services_of(client).engine.connect() as c:
            return [dict(r._mapping) for r in await c.execute(select(t.feedback).order_by(t.feedback.c.id))]

    assert client.portal is not None
    return client.portal.call(read)


def test_signed_feedback_goes_up_and_its_answer_comes_back(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "member.a1")
    status, html = send(client, content=f"Đề nghị bố trí thêm thời gian thảo luận.\n{SCRIPT}",
                        conference_id=str(world.conference_id))
    assert status == 200 and "Đã gửi ý kiến" in html
    assert SCRIPT not in html and "&lt;script&gt;alert(&#34;ý kiến&#34;)&lt;/script&gt;" in html
    fid = int(feedback_rows(client)[0]["id"])  # type: ignore[call-overload]

    # the district sees it (with the author's name: logged), takes it up, then passes it to the province
    csrf = sign_in(client, "org.d1")
    listing = client.get("/feedback").text
    assert "Nguyễn Văn An" in listing and SCRIPT not in listing and "&lt;img src=x onerror=alert(1)&gt;" in listing
    moved = client.post(f"/api/feedback/{fid}/state", json={"state": "in_progress"}, headers={"X-CSRF-Token": csrf})
    assert moved.status_code == 200 and moved.json()["state"] == "in_progress"
    up = client.post(f"/api/feedback/{fid}/state", json={"state": "escalated"}, headers={"X-CSRF-Token": csrf})
    assert up.json()["state"] == "escalated" and up.json()["handled_by"] == "Đảng bộ tỉnh"
    again = client.post(f"/api/feedback/{fid}/state", json={"state": "answered", "answer": "x"},
                        headers={"X-CSRF-Token": csrf})
    assert again.status_code == 403  # now the province's to handle
    assert "Ý kiến này do Đảng bộ tỉnh xử lý." in client.get(f"/feedback/{fid}").text

    # the province answers through the page
    sign_in(client, "org.p")
    page = client.get(f"/feedback/{fid}").text
    assert 'value="answered"' in page
    empty = client.post(f"/feedback/{fid}", data={"csrf": page_csrf(page), "state": "answered", "answer": " "})
    assert empty.status_code == 422
    done = client.post(f"/feedback/{fid}", data={"csrf": page_csrf(page), "state": "answered",
                                                 "answer": "Đã tiếp thu; <b>thêm 30 phút</b> thảo luận."})
    assert done.status_code == 200 and "Đã trả lời" in done.text

    sign_in(client, "member.a1")
    mine = client.get("/me/feedback").text
    assert "Đã tiếp thu; &lt;b&gt;thêm 30 phút&lt;/b&gt; thảo luận." in mine and "<b>thêm" not in mine
    assert client.get("/api/me/feedback").json()[0]["answer"] == "Đã tiếp thu; <b>thêm 30 phút</b> thảo luận."

    audit = services_of(client).conference.store
    assert client.portal is not None
    entries = client.portal.call(audit.audit_entries, 50)
    assert any(e.action.value == "view_people" and e.detail.startswith("feedback authors") for e in entries)
    assert [e.detail for e in entries if e.action.value == "feedback_change"] == [
        "escalated -> answered", f"in_progress -> escalated, to unit {world.units['P']}", "new -> in_progress"]


def test_anonymous_feedback_cannot_be_traced_and_is_read_by_receipt(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "member.a1")
    before = len(client.portal.call(services_of(client).conference.store.audit_entries, 500))  # type: ignore[union-attr]
    status, html = send(client, content="Kiến nghị ẩn danh", anonymous="1", kind="recommendation")
    assert status == 200 and "Đã gửi ý kiến ẩn danh" in html
    receipt = re.search(r'id="receipt">([0-9A-Z-]+)<', html)
    assert receipt and re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", receipt.group(1))
    row = feedback_rows(client)[0]
    assert row["author_person_id"] is None and row["unit_id"] == world.units["C1"]
    assert row["receipt_hash"] != receipt.group(1) and receipt.group(1).replace("-", "") not in str(row)
    assert row["created_at"].minute == 0 and row["created_at"].second == 0  # type: ignore[attr-defined]
    after = client.portal.call(services_of(client).conference.store.audit_entries, 500)  # type: ignore[union-attr]
    assert len(after) == before  # nothing logged about who sent it
    assert client.get("/api/me/feedback").json() == []  # not listed as theirs either

    csrf = sign_in(client, "org.p")
    item = client.get(f"/api/feedback/{row['id']}").json()
    assert item["author"] is None and item["anonymous"] is True and item["unit"] == "Chi bộ thôn Một"
    client.post(f"/api/feedback/{row['id']}/state", json={"state": "answered", "answer": "Cảm ơn đồng chí."},
                headers={"X-CSRF-Token": csrf})

    client.cookies.clear()  # no sign-in needed to read the answer, only the code
    lookup = client.get("/feedback/receipt").text
    found = client.post("/feedback/receipt", data={"csrf": page_csrf(lookup), "code": receipt.group(1).lower()})
    assert found.status_code == 200 and "Cảm ơn đồng chí." in found.text and "Kiến nghị ẩn danh" in found.text
    wrong = client.post("/feedback/receipt", data={"csrf": page_csrf(lookup), "code": "0000-0000-0000"})
    assert wrong.status_code == 404 and "Không có ý kiến nào với mã này." in wrong.text
    api = client.post("/api/feedback/receipt", json={"code": receipt.group(1)})
    assert api.json()["answer"] == "Cảm ơn đồng chí." and "receipt" not in api.json()


def test_feedback_is_scoped_and_length_limited(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    csrf = sign_in(client, "member.a1")
    too_long = client.post("/api/feedback", json={"kind": "opinion", "content": "x" * 4001},
                           headers={"X-CSRF-Token": csrf})
    assert too_long.status_code == 422 and too_long.json()["field"] == "content"
    status, html = send(client, content="ý" * 4001)
    assert status == 422 and "ý" * 4001 in html  # kept in the form to shorten, not lost
    assert 'id="fb-error" data-field="content">Nội dung dài quá: tối đa 4.000 ký tự.' in html  # on the form
    client.get("/lang/en")  # the same refusal in the page's language, the conference chosen kept
    status, html = send(client, content="  ", conference_id=str(world.conference_id))
    assert status == 422 and 'data-field="content">Please write the feedback.</p>' in html
    assert f'<option value="{world.conference_id}" selected>' in html and 'value="proposal" checked' in html
    client.get("/lang/vi")
    sent = client.post("/api/feedback", json={"kind": "speak_request", "content": "Xin phát biểu về chuyển đổi số",
                                              "conference_id": world.conference_id}, headers={"X-CSRF-Token": csrf})
    assert sent.status_code == 201 and sent.json()["author"] == "Nguyễn Văn An" and "receipt" not in sent.json()
    fid = sent.json()["id"]
    assert client.get("/feedback").status_code == 403  # members do not list everyone's feedback
    assert client.get(f"/api/feedback/{fid}").status_code == 200  # but read their own
    for username, status_code in (("clerk.c1", 403), ("org.d1", 200)):
        sign_in(client, username)
        assert client.get(f"/api/feedback/{fid}").status_code == status_code, username
    sign_in(client, "admin")
    assert client.get("/api/feedback", params={"kind": "speak_request"}).json()["total"] == 1
    # a district organiser of another district sees none of it
    store = services_of(client).conference
    assert client.portal is not None
    other = client.portal.call(store.create_user, None, "org.d2", "org.d2", Role.ORGANISER,
                               "mat-khau-thu-nghiem", world.units["D2"])
    assert other.scope_unit_id == world.units["D2"]
    sign_in(client, "org.d2")
    assert client.get("/api/feedback").json()["total"] == 0
    assert client.get(f"/api/feedback/{fid}").status_code == 403
    assert client.get("/api/feedback", params={"unit": world.units["C1"]}).status_code == 403
