"""QR cards and badge sheets through the real app: PDFs rendered by poppler, codes decoded by zxing-cpp,
and every decoded text resolved by the real credential issuer."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
import zxingcpp
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

from attendance.checkins import IssuedCredential, Refusal
from attendance.credentials import CredentialRefused
from conference.audit import AuditAction, AuditEntry
from conference.blobs import BlobStore
from conference.errors import Conflict, NotFound
from conference.store.jobs import JobStore
from tests.world import World, build_world, sign_in
from web import cli
from web.bootstrap import Services, build
from web.render import qr
from web.render.badges import Badge, FontMissing, Progress, Sheet, render
from web.settings import Settings
from web.usecases.badge_jobs import KEEP_SECONDS, KEPT_PER_USER, STALE_SECONDS, STOPPED, BadgeJobs

BADGE_TIMEOUT = 20.0


def services_of(client: TestClient) -> Services:
    svc: Services = client.app.state.services  # type: ignore[attr-defined]
    return svc


def resolve(client: TestClient, text: str) -> IssuedCredential:
    assert client.portal is not None
    issued: IssuedCredential = client.portal.call(services_of(client).credentials.resolve, text, None)
    return issued


def decode_image(image: np.ndarray) -> list[str]:
    return sorted(code.text for code in zxingcpp.read_barcodes(image))


def decode_png(data: bytes) -> list[str]:
    return decode_image(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR))


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_codes(pdf: Path) -> list[str]:
    """Every QR code on every page, rendered at 150 dpi as a printer would."""
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(pdf.with_suffix(""))], check=True)
    pages = sorted(pdf.parent.glob(f"{pdf.stem}-*.png"))
    assert pages
    return sorted(text for page in pages for text in decode_image(cv2.imread(str(page))))


def make_badges(client: TestClient, form_url: str, csrf: str, tmp_path: Path, **fields: str) -> Path:
    """Start a badge job through the form, poll it as the page does, download the PDF."""
    started = client.post(form_url, data={"csrf": csrf, **fields}, follow_redirects=False)
    assert started.status_code == 303, started.text
    page_url = started.headers["location"]
    assert page_url.startswith("/badges/jobs/") and page_url.endswith("/page")
    page = client.get(page_url)
    assert page.status_code == 200 and "<progress" in page.text
    status_url = page_url.removesuffix("/page")
    deadline = time.monotonic() + BADGE_TIMEOUT
    while (status := client.get(status_url).json())["state"] == "running":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert status["state"] == "done" and status["done"] == status["total"], status
    pdf = client.get(f"{status_url}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("attachment;")
    path = tmp_path / "badges.pdf"
    path.write_bytes(pdf.content)
    return path


def test_an_organiser_prints_a_cells_badges_that_scan(world_client: tuple[TestClient, World], tmp_path: Path) -> None:
    client, world = world_client
    csrf = sign_in(client, "org.p")
    chooser = client.get(f"/units/{world.units['C1']}/badges")
    assert chooser.status_code == 200 and "Chi bộ thôn Một" in chooser.text
    pdf = make_badges(client, f"/units/{world.units['C1']}/badges", csrf, tmp_path,
                      conference_id=str(world.conference_id))
    text = pdf_text(pdf)
    assert "Nguyễn Văn An" in text and "Trần Thị Bình" in text
    assert "Lê Văn Cường" not in text  # C2 is not in C1's subtree
    flowing = " ".join(text.split())  # titles and the footer may wrap
    assert "Chuyên đề năm 2026" in flowing and "Đưa mã này trước máy quét tại điểm cầu" in flowing
    codes = pdf_codes(pdf)
    assert len(codes) == 2 and all(code.startswith("HN1:") for code in codes)
    assert {resolve(client, code).person_id for code in codes} == {world.persons["A1"], world.persons["A2"]}
    assert all("Nguyễn" not in code and "A1" not in code.split(":", 1)[1] for code in codes)  # no personal data


def test_a_hall_clerk_prints_the_halls_invitees(world_client: tuple[TestClient, World], tmp_path: Path) -> None:
    client, world = world_client
    csrf = sign_in(client, "clerk.c1")
    pdf = make_badges(client, f"/halls/{world.halls['C1']}/badges", csrf, tmp_path)
    # a hall's badges carry its conference's title
    assert "Hội nghị học tập Chuyên đề năm 2026" in " ".join(pdf_text(pdf).split())
    codes = pdf_codes(pdf)
    assert {resolve(client, code).person_id for code in codes} == {world.persons["A1"], world.persons["A2"]}


def test_badges_are_scope_checked_and_jobs_are_private(world_client: tuple[TestClient, World], tmp_path: Path
                                                       ) -> None:
    client, world = world_client
    csrf = sign_in(client, "org.d1")
    assert client.get(f"/units/{world.units['C2']}/badges").status_code == 403
    assert client.post(f"/units/{world.units['C2']}/badges", data={"csrf": csrf}).status_code == 403
    assert client.post(f"/halls/{world.halls['C2']}/badges", data={"csrf": csrf}).status_code == 403
    assert client.post(f"/units/{world.units['C1']}/badges", data={"csrf": "wrong"}).status_code == 403
    started = client.post(f"/units/{world.units['C1']}/badges", data={"csrf": csrf}, follow_redirects=False)
    assert started.status_code == 303
    status_url = started.headers["location"].removesuffix("/page")
    csrf = sign_in(client, "member.a1")
    assert client.post(f"/units/{world.units['C1']}/badges", data={"csrf": csrf}).status_code == 403
    sign_in(client, "org.p")  # someone else's job does not exist for you
    assert client.get(status_url).status_code == 404
    assert client.get(f"{status_url}.pdf").status_code == 404


def test_a_participant_sees_only_their_own_code(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "member.a1")
    page = client.get("/me/qr")
    assert page.status_code == 200 and page.headers["cache-control"].startswith("no-store")
    for shown in ("Mã QR của tôi", "Nguyễn Văn An", "Chi bộ thôn Một", "Đưa mã này trước máy quét tại điểm cầu",
                  "<svg", "data-print"):
        assert shown in page.text
    assert 'href="/me/qr"' in client.get("/me").text
    own = client.get(f"/api/persons/{world.persons['A1']}/qr.png")
    assert own.status_code == 200 and own.headers["content-type"] == "image/png"
    [text] = decode_png(own.content)
    assert resolve(client, text).person_id == world.persons["A1"]
    assert decode_png(client.get(f"/api/persons/{world.persons['A1']}/qr.png").content) == [text]  # stable
    assert client.get(f"/api/persons/{world.persons['A1']}/qr.svg").text.startswith("<svg")
    for other in ("A2", "B1"):
        assert client.get(f"/api/persons/{world.persons[other]}/qr.png").status_code == 403
        assert client.get(f"/api/persons/{world.persons[other]}/qr.svg").status_code == 403
    sign_in(client, "org.p")
    assert client.get("/me/qr").status_code == 404  # staff have no roster entry of their own


def test_staff_views_of_a_code_are_scoped_and_logged(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "clerk.c1")
    assert client.get(f"/api/persons/{world.persons['A2']}/qr.png").status_code == 200
    assert client.get(f"/api/persons/{world.persons['B1']}/qr.png").status_code == 403
    assert client.portal is not None
    entries: list[AuditEntry] = client.portal.call(services_of(client).conference.store.audit_entries)
    assert any(e.action is AuditAction.VIEW_CREDENTIAL and e.subject == f"person:{world.persons['A2']}"
               for e in entries)


def test_reissuing_revokes_the_lost_card(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    a1 = world.persons["A1"]
    csrf = sign_in(client, "member.a1")
    [old] = decode_png(client.get(f"/api/persons/{a1}/qr.png").content)
    assert client.post(f"/api/persons/{a1}/credential", headers={"X-CSRF-Token": csrf}).status_code == 403
    csrf = sign_in(client, "org.d1")
    assert client.post(f"/api/persons/{world.persons['B1']}/credential",
                       headers={"X-CSRF-Token": csrf}).status_code == 403
    assert client.post(f"/api/persons/{a1}/credential").status_code == 403  # no CSRF token
    reissued = client.post(f"/api/persons/{a1}/credential", headers={"X-CSRF-Token": csrf})
    assert reissued.status_code == 201, reissued.text
    new_id = reissued.json()["credential_id"]
    with pytest.raises(CredentialRefused) as refused:
        resolve(client, old)
    assert refused.value.reason is Refusal.REVOKED
    [new] = decode_png(client.get(f"/api/persons/{a1}/qr.png").content)
    assert new != old and resolve(client, new).credential_id == new_id and resolve(client, new).person_id == a1


def test_qr_codes_stay_at_version_6_or_below(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    sign_in(client, "member.a1")
    png = client.get(f"/api/persons/{world.persons['A1']}/qr.png").content
    [text] = decode_png(png)
    symbol = qr.make(text)
    assert symbol.version is not None and symbol.version <= qr.MAX_VERSION
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    modules = 4 * symbol.version + 17 + 2 * qr.QUIET_ZONE
    assert image.shape == (modules * 8, modules * 8)  # the served image is that symbol, 8 px a module
    with pytest.raises(qr.QrTooLarge):
        qr.make("HN1:" + "A" * 300)


def test_a_missing_font_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FontMissing) as missing:
        render(Sheet("", [Badge("Nguyễn Văn An", "Chi bộ", "HN1:X")]), tmp_path)
    assert "DejaVuSans.ttf" in missing.value.message and "HOINGHI_PDF_FONT_DIR" in missing.value.message


def test_the_command_line_prints_a_cell(app_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    async def world() -> None:
        async with build(app_settings) as services:
            await build_world(services)

    asyncio.run(world())
    monkeypatch.setenv("DATABASE_URL", app_settings.database_url)
    monkeypatch.setenv("HOINGHI_SECRET_KEY", app_settings.secret_key)
    out = tmp_path / "c1.pdf"
    cli.main(["badges", "--unit", "C1", "-o", str(out)])
    captured = capsys.readouterr()
    assert "2/2 thẻ" in captured.err and "2 badges written" in captured.out
    assert "Trần Thị Bình" in pdf_text(out) and len(pdf_codes(out)) == 2
    with pytest.raises(SystemExit):
        cli.main(["badges", "--unit", "NOPE", "-o", str(out)])
    assert "no unit with code NOPE" in capsys.readouterr().err


def clock_at(now: list[datetime]) -> Callable[[], datetime]:
    return lambda: now[0]


async def test_jobs_are_kept_for_30_minutes_and_only_for_their_owner(engine: AsyncEngine, tmp_path: Path) -> None:
    now = [datetime(2026, 12, 1, 7, 0, tzinfo=UTC)]
    files = BlobStore(tmp_path / "badges")
    jobs = BadgeJobs(JobStore(engine), files, clock_at(now))

    async def work(progress: Progress) -> bytes:
        progress(1, 1)
        return b"%PDF" + uuid.uuid4().bytes

    job = await jobs.start(7, "the-qr.pdf", 1, work)
    await jobs.wait(job.id)
    done = await jobs.get(job.id, 7)
    assert done.status()["state"] == "done" and (await jobs.pdf(done)).startswith(b"%PDF")
    assert done.sha256 is not None and files.existing(done.sha256).is_file()  # the PDF is a file, not memory
    with pytest.raises(NotFound):
        await jobs.get(job.id, 8)
    now[0] += timedelta(seconds=KEEP_SECONDS + 1)
    with pytest.raises(NotFound):
        await jobs.get(job.id, 7)
    assert not files.path(done.sha256).exists()  # its file went with it
    made = []
    for _ in range(KEPT_PER_USER + 3):  # finished PDFs per user are bounded: the oldest go first
        now[0] += timedelta(seconds=1)
        made.append(await jobs.start(7, "the-qr.pdf", 1, work))
        await jobs.wait(made[-1].id)
    with pytest.raises(NotFound):
        await jobs.get(made[0].id, 7)
    assert all([await jobs.get(j.id, 7) for j in made[-KEPT_PER_USER:]])


async def test_a_user_runs_at_most_two_jobs_at_once(engine: AsyncEngine, tmp_path: Path) -> None:
    now = [datetime(2026, 12, 1, 7, 0, tzinfo=UTC)]
    jobs = BadgeJobs(JobStore(engine), BlobStore(tmp_path), clock_at(now))
    release = asyncio.Event()

    async def work(progress: Progress) -> bytes:
        await release.wait()
        return b"%PDF"

    running = [await jobs.start(7, "a.pdf", 1, work), await jobs.start(7, "b.pdf", 1, work)]
    with pytest.raises(Conflict):
        await jobs.start(7, "c.pdf", 1, work)
    running.append(await jobs.start(8, "d.pdf", 1, work))  # another user is not held up
    release.set()
    for job in running:
        await jobs.wait(job.id)
    assert [(await jobs.get(j.id, j.owner_user_id)).state.value for j in running] == ["done"] * 3


async def test_a_job_whose_hub_stopped_reads_as_failed_and_holds_nothing_up(engine: AsyncEngine,
                                                                            tmp_path: Path) -> None:
    """A hub killed mid-job leaves a running row without heartbeats: it fails after STALE_SECONDS."""
    now = [datetime(2026, 12, 1, 7, 0, tzinfo=UTC)]
    store = JobStore(engine)
    jobs = BadgeJobs(store, BlobStore(tmp_path), clock_at(now))
    forever = asyncio.Event()

    async def work(progress: Progress) -> bytes:
        await forever.wait()
        return b"%PDF"

    stuck = [await jobs.start(7, "a.pdf", 1, work), await jobs.start(7, "b.pdf", 1, work)]
    other_hub = BadgeJobs(store, BlobStore(tmp_path), clock_at(now))
    assert (await other_hub.get(stuck[0].id, 7)).state.value == "running"  # seen from another hub
    with pytest.raises(Conflict):
        await other_hub.start(7, "c.pdf", 1, work)
    now[0] += timedelta(seconds=STALE_SECONDS + 1)  # no heartbeat written in that time (the clock jumped)
    seen = await other_hub.get(stuck[0].id, 7)
    assert seen.state.value == "failed" and seen.error == STOPPED
    await other_hub.close()
    await jobs.close()  # shutdown marks its own running jobs failed
    assert {(await other_hub.get(j.id, 7)).error for j in stuck} == {STOPPED}
