"""Conference documents through the real app: upload, list, open by link and by the QR poster,
sign-in required documents refused to anonymous readers, openings counted per unit, disguised and
oversized uploads refused with a clear message."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from typing import Any

import cv2
import pytest
import zxingcpp
from PIL import Image
from starlette.testclient import TestClient

from conference.documents import DOCUMENT_MAX
from tests.test_content_rules import PDF, docx
from tests.world import World, sign_in
from web.settings import Settings, load


@pytest.fixture
def app_settings(tmp_path: Path) -> Settings:
    """As conftest's, with the uploaded documents kept under the test's own directory."""
    return load({}, None, database_url=f"sqlite:///{tmp_path / 'app.db'}", secret_key="t" * 40,
                password_time_cost=1, password_memory_kib=8192, documents_dir=tmp_path / "documents")


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


def upload(client: TestClient, world: World, name: str, data: bytes, **fields: str) -> Any:
    csrf = page_csrf(client.get(f"/conferences/{world.conference_id}/documents").text)
    form = {"csrf": csrf, "title": "Tài liệu", "access": "signed_in", **fields}
    return client.post(f"/conferences/{world.conference_id}/documents", data=form,
                       files={"file": (name, data, "application/octet-stream")}, follow_redirects=False)


def document_ids(client: TestClient, world: World) -> dict[str, int]:
    listed = client.get(f"/api/conferences/{world.conference_id}/documents").json()
    return {d["title"]: d["id"] for d in listed}


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


def stored_files(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.documents_path.rglob("*") if p.is_file())


def decode_pdf_qr(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "poster.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(path), str(tmp_path / "poster")], check=True)
    pages = sorted(tmp_path.glob("poster-*.png"))
    assert len(pages) == 1
    return [code.text for code in zxingcpp.read_barcodes(cv2.imread(str(pages[0])))]


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True)
    return " ".join(out.stdout.split())


def test_documents_by_link_and_qr_with_access_and_openings(world_client: tuple[TestClient, World],
                                                           app_settings: Settings, tmp_path: Path) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    public = upload(client, world, "huong-dan.pdf", PDF, title="Hướng dẫn 15-HD/BTGTU", number="15-HD/BTGTU",
                    issuer="Ban Tuyên giáo Tỉnh ủy", issued_on="2026-11-01", category="Hướng dẫn", access="public")
    assert public.status_code == 303
    assert upload(client, world, "de-cuong.docx", docx(), title="Đề cương <b>báo cáo</b>").status_code == 303
    ids = document_ids(client, world)
    pub, private = ids["Hướng dẫn 15-HD/BTGTU"], ids["Đề cương <b>báo cáo</b>"]
    listing = client.get(f"/conferences/{world.conference_id}/documents").text
    assert "Đề cương &lt;b&gt;báo cáo&lt;/b&gt;" in listing and "<b>báo cáo</b>" not in listing
    assert len(stored_files(app_settings)) == 2  # stored under their hashes, not their names
    assert all(re.fullmatch(r"[0-9a-f]{64}", p.name) for p in stored_files(app_settings))

    # the QR posters lead to the document's page and to the hall's list of documents
    poster = client.get(f"/documents/{private}/poster.pdf")
    assert poster.status_code == 200 and poster.headers["content-type"] == "application/pdf"
    assert decode_pdf_qr(poster.content, tmp_path) == [f"http://testserver/documents/{private}"]
    text = pdf_text(poster.content, tmp_path)
    assert "Đề cương <b>báo cáo</b>" in text and "Cần đăng nhập tài khoản để xem" in text
    assert "Hội nghị học tập Chuyên đề năm 2026" in text

    # anonymous readers: the public document opens, the other one sends them to sign in, by link or QR
    client.cookies.clear()
    page = client.get(f"/documents/{pub}")
    assert page.status_code == 200 and "Ban Tuyên giáo Tỉnh ủy" in page.text and "01/11/2026" in page.text
    opened = client.get(f"/documents/{pub}/file")
    assert opened.status_code == 200 and opened.content == PDF
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["x-content-type-options"] == "nosniff"
    assert opened.headers["content-disposition"].startswith('inline; filename="huong-dan-15-hd-btgtu.pdf"')
    for url in (f"/documents/{private}", f"/documents/{private}/file"):
        refused = client.get(url, follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"] == f"/login?next={url}"
    assert client.get(f"/api/documents/{private}").status_code == 401
    assert client.get(f"/api/documents/{pub}").json()["title"] == "Hướng dẫn 15-HD/BTGTU"
    hall_page = client.get(f"/halls/{world.halls['C1']}/documents").text
    assert "Hướng dẫn 15-HD/BTGTU" in hall_page and "Đề cương" not in hall_page
    assert "1 tài liệu chỉ dành cho người đã đăng nhập" in hall_page

    # a member signs in: both open; the Word file is offered as a download with its detected type
    sign_in(client, "member.a1")
    word = client.get(f"/documents/{private}/file")
    assert word.status_code == 200 and word.content == docx()
    assert word.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.wordprocessing")
    assert word.headers["content-disposition"].startswith('attachment; filename="de-cuong-b-bao-cao-b.docx"')
    assert client.head(f"/documents/{pub}/file").status_code == 200  # a HEAD is not an opening
    mine = client.get("/me/documents").text
    assert "Hướng dẫn 15-HD/BTGTU" in mine and "Đề cương &lt;b&gt;báo cáo&lt;/b&gt;" in mine
    assert f'href="/documents/{pub}/file"' in mine  # one tap opens the document (its details one link aside)
    assert client.post(f"/documents/{pub}/delete", data={"csrf": page_csrf(mine)}).status_code == 403

    # openings are counted per unit, never per person
    sign_in(client, "org.p")
    listed = {d["id"]: d["openings"] for d in client.get(f"/api/conferences/{world.conference_id}/documents").json()}
    assert listed[pub] == {"total": 1, "by_unit": [{"unit": None, "openings": 1}]}
    assert listed[private] == {"total": 1, "by_unit": [{"unit": "Chi bộ thôn Một", "openings": 1}]}


def test_hall_poster_opens_the_halls_documents(world_client: tuple[TestClient, World], tmp_path: Path) -> None:
    client, world = world_client
    sign_in(client, "clerk.c1")
    poster = client.get(f"/halls/{world.halls['C1']}/poster.pdf")
    assert poster.status_code == 200
    assert decode_pdf_qr(poster.content, tmp_path) == [f"http://testserver/halls/{world.halls['C1']}/documents"]
    assert "Quét mã QR để xem tài liệu hội nghị" in pdf_text(poster.content, tmp_path)
    assert client.get(f"/halls/{world.halls['C2']}/poster.pdf").status_code == 403  # another hall's clerk


@pytest.mark.parametrize(("name", "data", "message"), [
    ("chuong-trinh.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200, "nội dung tệp không phải PDF, Word (DOCX) hay ảnh"),
    ("trang.pdf", b"<!doctype html><script>alert(document.cookie)</script>", "nội dung tệp không phải PDF"),
    ("anh.pdf", b"", "chưa chọn tệp, hoặc tệp rỗng"),
    ("macro.docx", docx({"word/vbaProject.bin": b"\x00"}), "tệp Word có chứa macro"),
])
def test_disguised_uploads_are_refused_clearly(world_client: tuple[TestClient, World], app_settings: Settings,
                                               name: str, data: bytes, message: str) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    refused = upload(client, world, name, data)
    assert refused.status_code == 422 and "Tệp bị từ chối:" in refused.text and message in refused.text
    assert stored_files(app_settings) == [] and document_ids(client, world) == {}


def test_oversized_and_mismatched_uploads_are_refused(world_client: tuple[TestClient, World],
                                                      app_settings: Settings) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    huge = upload(client, world, "lon.pdf", PDF + b"0" * DOCUMENT_MAX)
    assert huge.status_code == 422 and "tệp quá lớn, tối đa 25 MB" in huge.text
    mismatch = upload(client, world, "anh.pdf", png_bytes())
    assert mismatch.status_code == 422 and "tên tệp có đuôi .pdf nhưng nội dung là tệp PNG" in mismatch.text
    csrf = client.get("/api/me").json()["csrf_token"]
    api = client.post(f"/api/conferences/{world.conference_id}/documents", headers={"X-CSRF-Token": csrf},
                      data={"title": "x"}, files={"file": ("x.pdf", b"MZ" + b"\x00" * 10, "application/pdf")})
    assert api.status_code == 422 and api.json()["field"] == "file"
    assert stored_files(app_settings) == []
    image = client.post(f"/api/conferences/{world.conference_id}/documents", headers={"X-CSRF-Token": csrf},
                        data={"title": "Ảnh hội trường", "access": "public"},
                        files={"file": ("hoi-truong.png", png_bytes(), "application/pdf")})
    assert image.status_code == 201 and image.json()["content_type"] == "image/png"  # the content, not the claim
    assert client.delete(f"/api/documents/{image.json()['id']}", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert stored_files(app_settings) == []  # nobody else uses the file: gone


def test_only_the_conferences_organisers_manage_documents(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    for username in ("org.d1", "clerk.c1", "member.a1"):
        sign_in(client, username)
        assert upload(client, world, "a.pdf", PDF).status_code == 403, username
    client.cookies.clear()
    assert client.get(f"/conferences/{world.conference_id}/documents", follow_redirects=False).status_code == 303
    assert client.get("/api/documents/999").status_code == 404


def test_uploads_need_the_csrf_token(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "org.p")
    forged = client.post(f"/conferences/{world.conference_id}/documents", data={"title": "x", "csrf": "forged"},
                         files={"file": ("a.pdf", PDF, "application/pdf")})
    assert forged.status_code == 403
