"""Issue 13, headers, keys and limits, each tried through the real interfaces:

- security headers on every answer (CSP, no framing, nosniff, Referrer-Policy, HSTS over HTTPS), and no
  page of the demo breaking its own CSP in a real Chromium; a foreign page cannot frame the kiosk revoke or
  the feedback-state page;
- the data key: production refuses to start without its own; sealed blobs carry the key version (an old
  key still opens them); `hoinghi keys rotate|withdraw` for the credential signing keys;
- limits: a roster XLSX bounded in size and rows (a zip bomb refused whole, nothing imported), chunked
  request bodies bounded like declared ones, a bad page number a 422;
- SQL errors logged without their bound parameters.
"""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import subprocess
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from playwright.sync_api import Page
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from attendance import tables as t
from attendance.errors import InvalidRecord
from attendance.face_service import open_template, seal_template
from attendance.faces import ConsentChannel, ConsentPurpose
from attendance.keys import VERSIONED, Sealer, data_key_id
from conference import tables as ct
from conference.roster_files import ROWS_MAX, XLSX_UNPACKED_MAX
from conference.store import ConferenceStore
from conference.units import UnitType, new_unit
from tests.browser import HOINGHI, chromium, hoinghi_server
from tests.served import Hub
from tests.test_pages import page_csrf
from tests.world import World, build_world, sign_in
from web.app import create_app
from web.bootstrap import Services
from web.settings import Settings, SettingsError, load

FRAMELESS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


# -- 1. security headers ------------------------------------------------------------------------------
def assert_protected(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in FRAMELESS.items():
        assert headers.get(name) == value, (name, headers.get(name))
    policy = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-eval'" not in policy
    if headers["content-type"].startswith("text/html"):  # a page: its own scripts and styles, nothing inline
        assert "default-src 'self'" in policy and "'unsafe-inline'" not in policy
    else:  # JSON, a file: it loads nothing
        assert policy.startswith("default-src 'none'")


def test_every_answer_carries_the_security_headers(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    answers = [client.get("/login"), client.get("/static/app.css"), client.get("/api/me"),
               client.get("/no/such/page"), client.get("/api/openapi.json")]
    assert [a.status_code for a in answers] == [200, 200, 401, 404, 200]
    sign_in(client, "clerk.c1")
    kiosks = client.get(f"/halls/{world.halls['C1']}/kiosks")  # the kiosk revoke page
    assert kiosks.status_code == 200 and "revoke" in kiosks.text
    for answer in [*answers, kiosks]:
        assert_protected(answer)
        assert "strict-transport-security" not in answer.headers  # plain HTTP: HSTS would mean nothing
    sign_in(client, "org.p")
    pdf = client.get(f"/sessions/{world.session_id}/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-security-policy"] == "frame-ancestors 'none'"  # the browser's viewer must work
    assert pdf.headers["x-frame-options"] == "DENY" and pdf.headers["x-content-type-options"] == "nosniff"


def test_the_feedback_state_page_cannot_be_framed(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    sign_in(client, "member.a1")
    sent = client.post("/me/feedback", data={"csrf": page_csrf(client.get("/me/feedback").text), "kind": "proposal",
                                             "content": "Đề nghị tăng thời gian thảo luận."})
    assert sent.status_code == 200
    sign_in(client, "org.p")
    listing = client.get("/feedback")
    fid = re.search(r'href="/feedback/(\d+)"', listing.text)
    assert fid
    page = client.get(f"/feedback/{fid.group(1)}")
    assert page.status_code == 200 and 'name="state"' in page.text
    assert_protected(page)


def test_hsts_only_over_https(app_settings: Settings) -> None:
    with TestClient(create_app(app_settings), base_url="https://testserver") as client:
        assert client.get("/login").headers["strict-transport-security"].startswith("max-age=31536000")
    with TestClient(create_app(app_settings)) as client:
        assert "strict-transport-security" not in client.get("/login").headers
        behind_nginx = client.get("/login", headers={"X-Forwarded-Proto": "https"})  # not trusted in-process
        assert "strict-transport-security" not in behind_nginx.headers
    with TestClient(create_app(replace(app_settings, secure_cookies=True))) as client:
        assert client.get("/login").headers["strict-transport-security"].startswith("max-age=31536000")
        assert client.get("/api/me").headers["strict-transport-security"].startswith("max-age=31536000")


SKIP = re.compile(r"/logout|/lang/|\.pdf$|\.xlsx$|/file$|/delete$|/poster|/openapi|/media/(hls|recordings)")


def watch(page: Page, violations: list[str]) -> None:
    """Collect the page's CSP violations (Chromium reports each on the console) and its script errors."""
    page.on("console", lambda m: violations.append(f"{page.url}: {m.text}")
            if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: violations.append(f"{page.url}: {e}"))


def crawl(page: Page, base: str, start: str, budget: int) -> list[str]:
    """Open `start`, then the same-site pages it links to (one of each kind of path), breadth first."""
    visited: list[str] = []
    queue, seen = [start], {start}
    while queue and len(visited) < budget:
        path = queue.pop(0)
        answer = page.goto(base + path)
        assert answer is not None
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue
        page.wait_for_timeout(300)  # let the page's scripts run (sockets, charts)
        visited.append(path)
        for href in page.eval_on_selector_all("a[href^='/']", "as => as.map(a => a.getAttribute('href'))"):
            target = href.split("#")[0]
            kind = re.sub(r"\d+", "N", target.split("?")[0])
            if target and not SKIP.search(target) and kind not in seen:
                seen.add(kind)
                queue.append(target)
    return visited


@pytest.mark.browser
def test_no_page_breaks_its_content_security_policy(tmp_path: Path) -> None:
    """Every page an organiser and a participant reach by following links, and the kiosk, open in Chromium
    without one CSP violation; a foreign site framing the sign-in or the kiosk page gets nothing of them."""
    violations: list[str] = []
    visited: list[str] = []
    with hoinghi_server("demo", "--dir", str(tmp_path / "demo"), "--members", "1500",
                        log=tmp_path / "demo.log") as base, chromium() as browser:
        for username, start, budget in [("bantochuc.tinh", "/conferences", 40), ("daibieu", "/me", 12)]:
            context = browser.new_context()
            page = context.new_page()
            watch(page, violations)
            page.goto(base + "/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", "hoinghi-demo")
            page.click("button[type=submit]")
            page.wait_for_load_state("load")
            visited += crawl(page, base, start, budget)
            context.close()
        kiosk = browser.new_page()
        watch(kiosk, violations)
        visited += crawl(kiosk, base, "/kiosk", 1)

        framer = browser.new_page()
        framer.route("http://attacker.test/", lambda route: route.fulfill(
            content_type="text/html", body=f'<iframe src="{base}/login"></iframe><iframe src="{base}/kiosk"></iframe>'))
        framer.goto("http://attacker.test/")
        framed = [f for f in framer.frames if f != framer.main_frame]
        assert len(framed) == 2
        for frame in framed:  # blocked: the frame holds Chromium's error page, not ours
            frame.wait_for_load_state("load")
            assert not frame.url.startswith(base) or frame.evaluate("document.querySelector('form, main')") is None
    assert len(visited) >= 25, visited
    assert not violations, violations


# -- 2. keys --------------------------------------------------------------------------------------------
SECRET = "s" * 40
K1, K2 = "data-key-one-" + "1" * 30, "data-key-two-" + "2" * 30


def hoinghi(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HOINGHI, *args], env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                 "HOINGHI_SECRET_KEY": SECRET} | env,
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_a_data_key_of_its_own(tmp_path: Path) -> None:
    db = {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "HOINGHI_PRODUCTION": "true"}
    for env in ({}, {"HOINGHI_DATA_KEY": SECRET}):
        refused = hoinghi("serve", env=db | env)
        assert refused.returncode == 2 and "HOINGHI_DATA_KEY" in refused.stderr, refused.stderr
        assert refused.stderr.startswith("hoinghi: ") and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.db").exists()  # refused before anything was touched
    assert hoinghi("db", "upgrade", env=db | {"HOINGHI_DATA_KEY": K1}).returncode == 0
    with pytest.raises(SettingsError, match="HOINGHI_OLD_DATA_KEYS"):
        load({"HOINGHI_SECRET_KEY": SECRET, "HOINGHI_OLD_DATA_KEYS": "short"})


def legacy_blob(data_key: str, purpose: str, plaintext: bytes) -> bytes:
    """A blob as sealed before key ids: nonce and AES-GCM ciphertext, the purpose as associated data."""
    key = HKDF(algorithm=SHA256(), length=32, salt=b"hoinghi", info=purpose.encode()).derive(data_key.encode())
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, purpose.encode())


def test_sealed_blobs_name_their_data_key_so_it_can_rotate() -> None:
    old, new = Sealer(K1), Sealer(K2, [K1])
    sealed = old.seal("face-template", b"vector")
    assert sealed[:1] == VERSIONED and sealed[1:5] == data_key_id(K1) == old.key_id
    assert new.open("face-template", sealed) == b"vector"  # sealed with the old key, opened after rotation
    resealed = new.seal("face-template", b"vector")
    assert new.sealed_with(resealed) == data_key_id(K2) and new.sealed_with(sealed) == data_key_id(K1)
    assert new.open("face-template", legacy_blob(K1, "face-template", b"old")) == b"old"  # before key ids
    tampered = sealed[:5] + bytes([sealed[5] ^ 1]) + sealed[6:]
    for sealer, purpose, blob in ((Sealer(K2), "face-template", sealed),  # the old key was dropped
                                  (new, "credential-signing-key", sealed),  # another purpose
                                  (new, "face-template", tampered)):
        with pytest.raises(InvalidRecord):
            sealer.open(purpose, blob)


def scan(client: TestClient, world: World, text: str) -> dict[str, object]:
    answer = client.post("/api/checkins", headers={"Authorization": f"Bearer {world.kiosk_token}"},
                         json={"session_id": world.session_id, "credential": text, "nonce": uuid.uuid4().hex})
    assert answer.status_code == 200, answer.text
    data: dict[str, object] = answer.json()
    return data


def qr_text(client: TestClient, person_id: int) -> str:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None
    cred = client.portal.call(svc.credentials.issue, person_id)
    return str(client.portal.call(svc.credentials.text, cred))


def sealed_keys(client: TestClient) -> dict[int, bytes]:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]

    async def read() -> dict[int, bytes]:
        async with svc.engine.connect() as c:
            rows = await c.execute(select(t.signing_keys.c.key_id, t.signing_keys.c.sealed_private_key))
            return {r.key_id: r.sealed_private_key for r in rows}

    assert client.portal is not None
    return client.portal.call(read)


def test_keys_rotate_and_withdraw_from_the_command_line(database_url: str) -> None:
    """The data key and the credential signing keys rotate; old credentials verify until their key is
    withdrawn, then every kiosk refuses them; once resealed, nothing needs the old data key."""
    url = database_url
    first = load({}, None, database_url=url, secret_key=SECRET, data_key=K1, password_time_cost=1,
                 password_memory_kib=8192)
    vector = np.linspace(-0.2, 0.2, 128, dtype=np.float32)
    with TestClient(create_app(first)) as client:
        assert client.portal is not None
        svc: Services = client.app.state.services  # type: ignore[attr-defined]
        world = client.portal.call(build_world, svc)
        old_text = qr_text(client, world.persons["A1"])
        assert scan(client, world, old_text)["outcome"] == "accepted"
        b1 = world.persons["B1"]
        client.portal.call(svc.biometrics.faces.store.enrol, b1, ConsentPurpose.FACE_CHECKIN, "v1",
                           ConsentChannel.PAPER, seal_template(Sealer(K1), b1, vector), datetime.now(UTC))
    env = {"DATABASE_URL": url, "HOINGHI_DATA_KEY": K2, "HOINGHI_OLD_DATA_KEYS": K1}
    rotated = hoinghi("keys", "rotate", env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "signing key 2" in rotated.stdout and "\tverifies" in rotated.stdout and "\tcurrent" in rotated.stdout
    second = replace(first, data_key=K2, old_data_keys=K1)
    with TestClient(create_app(second)) as client:
        blobs = sealed_keys(client)
        assert Sealer(K2).sealed_with(blobs[2]) == data_key_id(K2)  # the new key sealed with the new data key
        assert Sealer(K1).sealed_with(blobs[1]) == data_key_id(K1)
        assert scan(client, world, old_text)["outcome"] == "repeat"  # key 1 still verifies
        new_text = qr_text(client, world.persons["A2"])  # signed with key 2
        assert scan(client, world, new_text)["outcome"] == "accepted"
    resealed = hoinghi("keys", "reseal", env=env)  # the last step of a data key rotation
    assert resealed.returncode == 0 and "1 signing keys and 1 face templates" in resealed.stdout, resealed.stderr
    assert hoinghi("keys", "reseal", env=env).stdout.startswith("hoinghi: 0 signing keys and 0 face templates")
    withdrawn = hoinghi("keys", "withdraw", "1", env=env)
    assert withdrawn.returncode == 0 and "\twithdrawn" in withdrawn.stdout, withdrawn.stderr
    unknown = hoinghi("keys", "withdraw", "77", env=env)
    assert unknown.returncode == 2 and unknown.stderr == "hoinghi: no signing key 77\n"
    with TestClient(create_app(replace(first, data_key=K2))) as client:  # K1 dropped: everything was resealed
        refused = scan(client, world, old_text)
        assert refused["outcome"] == "refused" and refused["reason"] == "unknown_key"
        assert scan(client, world, new_text)["outcome"] == "repeat"
        assert all(Sealer(K2).sealed_with(blob) == data_key_id(K2) for blob in sealed_keys(client).values())
        svc = client.app.state.services  # type: ignore[attr-defined]
        assert client.portal is not None
        template = client.portal.call(svc.biometrics.faces.store.template_of, b1)
        assert template is not None and np.array_equal(open_template(Sealer(K2), b1, template.ciphertext), vector)


# -- 3. limits ------------------------------------------------------------------------------------------
MB = 1024 * 1024


def workbook(extra: dict[str, bytes | Iterator[bytes]], units_rows: int = 1) -> bytes:
    """A real .xlsx (written by hand, as a spreadsheet program writes it) with a units sheet of
    `units_rows` rows and extra archive members (a member given as chunks is streamed in)."""
    rows = "".join(f'<row r="{i + 2}"><c r="A{i + 2}" t="inlineStr"><is><t>U{i}</t></is></c>'
                   f'<c r="B{i + 2}" t="inlineStr"><is><t>Chi bộ {i}</t></is></c>'
                   f'<c r="C{i + 2}" t="inlineStr"><is><t>chi bộ</t></is></c>'
                   f'<c r="D{i + 2}" t="inlineStr"><is><t>P</t></is></c></row>' for i in range(units_rows))
    header = "".join(f'<c r="{c}1" t="inlineStr"><is><t>{h}</t></is></c>'
                     for c, h in zip("ABCD", ("Mã", "Tên đơn vị", "Loại", "Mã cấp trên"), strict=True))
    members = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
        '+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
        'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
        'name="Đơn vị" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        f'spreadsheetml/2006/main"><sheetData><row r="1">{header}</row>{rows}</sheetData></worksheet>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
        for name, content in extra.items():
            if isinstance(content, bytes):
                archive.writestr(name, content)
            else:
                with archive.open(name, "w", force_zip64=True) as member:
                    for chunk in content:
                        member.write(chunk)
    return out.getvalue()


def import_roster(client: TestClient, name: str, data: bytes) -> tuple[int, str]:
    csrf = page_csrf(client.get("/roster/import").text)
    answer = client.post("/roster/import", data={"csrf": csrf}, files={"files": (name, data, "application/xlsx")})
    return answer.status_code, answer.text


def unit_codes(client: TestClient) -> set[str]:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    assert client.portal is not None
    return {u.code for u in client.portal.call(svc.conference.store.all_units)}


def test_a_zip_bomb_or_too_many_rows_is_refused_whole(world_client: tuple[TestClient, World]) -> None:
    client, _ = world_client
    sign_in(client, "admin")
    before = unit_codes(client)
    status, page = import_roster(client, "donvi.xlsx", workbook({}, units_rows=2))
    assert status == 200, page  # the hand-written workbook is a good roster
    assert unit_codes(client) == before | {"U0", "U1"}
    zeros = (bytes(MB) for _ in range(XLSX_UNPACKED_MAX // MB + 1))  # 257 MB unpacked, 0.3 MB packed
    bomb = workbook({"xl/media/image1.bin": zeros}, units_rows=3)
    assert len(bomb) < MB
    status, page = import_roster(client, "bom.xlsx", bomb)
    assert status == 422 and "zip bomb" in page and "không nhập gì" in page
    rows = workbook({}, units_rows=ROWS_MAX)  # with its header, one row too many
    status, page = import_roster(client, "nhieu.xlsx", rows)
    assert status == 422 and "quá nhiều dòng (hơn 250.000 dòng)" in page
    assert unit_codes(client) == before | {"U0", "U1"}  # nothing of either was imported


def test_a_bad_page_number_is_a_422(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    people = f"/units/{world.units['P']}/people"
    assert client.get(people, params={"page": "2"}).status_code == 200
    for bad in ("x", "1.5", "", "99999999999999999999", "\x00"):
        answer = client.get(people, params={"page": bad})
        assert answer.status_code == 422 and "page" in answer.text, (bad, answer.status_code)


def send_chunked(port: int, head: str, chunks: int, chunk: bytes) -> tuple[str, int]:
    """Send a chunked body until the server answers; (its status line, bytes of body sent by then)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode() + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        sent = 0
        conn.setblocking(False)
        try:
            for _ in range(chunks):
                if select_ready(conn):
                    break
                conn.setblocking(True)
                conn.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                conn.setblocking(False)
                sent += len(chunk)
            else:
                conn.setblocking(True)
                conn.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading and closed: its answer is waiting
        conn.setblocking(True)
        answer = b""
        while b"\r\n" not in answer:
            data = conn.recv(4096)
            if not data:
                break
            answer += data
        return answer.split(b"\r\n", 1)[0].decode(), sent


def select_ready(conn: socket.socket) -> bool:
    import select as selecting
    readable, _, _ = selecting.select([conn], [], [], 0)
    return bool(readable)


def test_chunked_bodies_are_cut_off_at_their_limit(tmp_path: Path) -> None:
    """A JSON request and a form sent chunked (no Content-Length) are refused once they pass their limit,
    not read to the end (before: read whole into memory, or spooled to disk)."""
    settings = load({}, None, database_url=f"sqlite:///{tmp_path}/chunked.db", secret_key=SECRET)
    hub = Hub(settings, tmp_path / "hub.log").start()
    try:
        total = 64 * MB
        status, sent = send_chunked(hub.port, "POST /api/devices/enrol HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Type: application/json\r\n", total // (64 * 1024), b" " * 64 * 1024)
        assert status == "HTTP/1.1 422 Unprocessable Entity" and sent < total // 4, (status, sent)
        boundary = "b0undary"
        head = (f"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n")
        part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n\r\n").encode()
        status, sent = send_chunked(hub.port, head, total // (64 * 1024), part + bytes(64 * 1024 - len(part)))
        assert status == "HTTP/1.1 422 Unprocessable Entity" and sent < total // 4, (status, sent)
    finally:
        hub.stop()


# -- 4. SQL errors in the logs --------------------------------------------------------------------------
async def test_sql_errors_are_logged_without_their_parameters(engine: AsyncEngine,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    """A statement the store refuses (here a duplicate person code, a name bound beside it) is reported and
    logged with its SQL only: the name never reaches an exception's text or a log line."""
    unit = await ConferenceStore(engine).add_unit(new_unit("P", "Đảng bộ tỉnh", UnitType.PROVINCE, None))
    person = {"code": "A1", "unit_id": unit.id, "member_type": "full", "exempt": False, "position": ""}
    async with engine.begin() as c:
        await c.execute(insert(ct.persons).values(full_name="Nguyễn Văn An", search_key="nguyen van an", **person))
    secret = {"full_name": "Trần Thị Bí Mật", "search_key": "tran thi bi mat"}
    with pytest.raises(IntegrityError) as refused:
        try:
            async with engine.begin() as c:
                await c.execute(insert(ct.persons).values(**secret, **person))
        except IntegrityError:
            logging.getLogger("web.http.errors").exception("a store error")  # as a 500 is logged, traceback and all
            raise
    said = str(refused.value)
    assert "SQL parameters hidden" in said and "INSERT INTO persons" in said
    assert "Bí Mật" not in said + caplog.text and "bi mat" not in said + caplog.text
    assert "INSERT INTO persons" in caplog.text
