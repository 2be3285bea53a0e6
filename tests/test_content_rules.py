"""The pure rules of documents, feedback and reports, with no event loop and no I/O.

The report tables are checked against the live dashboard's tally on the same records: a report and
the dashboard never disagree about who was present.
"""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest

from attendance.checkins import CheckIn, Method, Outcome, Refusal, Status
from attendance.headcounts import Headcount
from conference.conferences import Conference, ConferenceMode, Session
from conference.documents import (
    DOCUMENT_MAX,
    Document,
    DocumentAccess,
    FileKind,
    UploadProblem,
    UploadRefused,
    check_upload,
    content_disposition,
    extension,
    sniff,
)
from conference.errors import Invalid
from conference.feedback import (
    CONTENT_MAX,
    FeedbackKind,
    FeedbackState,
    clean_text,
    escalation_target,
    format_receipt,
    new_feedback,
    normalise_receipt,
    receipt_hash,
)
from conference.halls import Channel, Hall, HallRole
from conference.people import Person
from conference.units import Unit, UnitTree, UnitType
from web.live.tally import HallInfo, Invitee, Reported, SessionTally
from web.reporting.figures import SessionData
from web.reporting.model import Filters, Kind, Words, display
from web.reporting.tables import session_summary, session_tables

T0 = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội


# -- files: what they are is read from their first bytes ----------------------------------------------
def docx(extra: dict[str, bytes] | None = None, content_types: bytes = b"<Types/>") -> bytes:
    """A minimal Word file, the same bytes every time (fixed timestamps)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        parts = {"[Content_Types].xml": content_types, "word/document.xml": b"<w:document/>", **(extra or {})}
        for name, data in parts.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 1, 0, 0, 0)), data)
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 20
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 20


def test_files_are_known_by_their_content_not_their_name() -> None:
    assert sniff(PDF) is FileKind.PDF and sniff(PNG) is FileKind.PNG and sniff(JPEG) is FileKind.JPEG
    assert sniff(WEBP) is FileKind.WEBP and sniff(docx()) is FileKind.DOCX
    for disguised in (b"MZ\x90\x00" + b"\x00" * 60, b"<!doctype html><script>alert(1)</script>",
                      b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", b"PK\x03\x04broken zip", b""):
        assert sniff(disguised) is None
    xlsx = io.BytesIO()
    with zipfile.ZipFile(xlsx, "w") as z:
        z.writestr("[Content_Types].xml", b"<Types/>")
        z.writestr("xl/workbook.xml", b"<workbook/>")
    assert sniff(xlsx.getvalue()) is None  # a ZIP, but not a Word document


@pytest.mark.parametrize(("data", "name", "problem"), [
    (b"", "a.pdf", UploadProblem.EMPTY),
    (b"MZ\x90\x00" + b"\x00" * 60, "nghi-quyet.pdf", UploadProblem.UNKNOWN_TYPE),
    (b"<html><script>alert(1)</script></html>", "tai-lieu.pdf", UploadProblem.UNKNOWN_TYPE),
    (PNG, "tai-lieu.pdf", UploadProblem.MISMATCH),
    (PDF, "anh.jpg", UploadProblem.MISMATCH),
    (docx({"word/vbaProject.bin": b"x"}), "macro.docx", UploadProblem.MACRO),
    (docx(content_types=b"<Types><Default ContentType='application/vnd.ms-word.document.macroEnabled.main+xml'/>"
                        b"</Types>"), "macro.docx", UploadProblem.MACRO),
])
def test_uploads_that_are_refused_say_why(data: bytes, name: str, problem: UploadProblem) -> None:
    with pytest.raises(UploadRefused) as refused:
        check_upload(data, name)
    assert refused.value.problem is problem and refused.value.field == "file"


def test_size_limit_and_accepted_names() -> None:
    with pytest.raises(UploadRefused) as refused:
        check_upload(PDF + b"0" * 100, "x.pdf", limit=64)
    assert refused.value.problem is UploadProblem.TOO_LARGE
    assert check_upload(PDF, "Nghị quyết 15.PDF") is FileKind.PDF
    assert check_upload(JPEG, "anh.jpeg") is FileKind.JPEG and check_upload(JPEG, "anh.JPG") is FileKind.JPEG
    assert check_upload(PDF, "no-extension") is FileKind.PDF
    assert extension("C:\\Users\\x\\evil.exe.pdf") == ".pdf" and extension(".pdf") == "" and extension("a.") == ""
    assert DOCUMENT_MAX == 25 * 1024 * 1024


def test_a_served_document_is_named_safely() -> None:
    doc = Document(7, 1, 'Hướng dẫn "15"/2026\r\n; filename=evil.exe <b>', "15-HD/BTGTU", "Ban Tuyên giáo",
                   date(2026, 11, 1), "Hướng dẫn", DocumentAccess.PUBLIC, "a" * 64, "application/pdf", 10)
    header = content_disposition(doc)
    assert header.startswith('inline; filename="huong-dan-15-2026-filename-evil-exe-b.pdf"; filename*=UTF-8\'\'')
    assert "\r" not in header and "\n" not in header and header.count('"') == 2 and ".exe" not in header.split(";")[1]
    word = Document(8, 1, "Tài liệu", "", "", None, "", DocumentAccess.SIGNED_IN, "b" * 64,
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 10)
    assert content_disposition(word).startswith('attachment; filename="tai-lieu.docx"')


# -- feedback --------------------------------------------------------------------------------------------
def tree() -> UnitTree:
    return UnitTree([Unit(1, "P", "Đảng bộ tỉnh", UnitType.PROVINCE, None),
                     Unit(2, "D1", "Đảng bộ huyện Một", UnitType.COMMITTEE, 1),
                     Unit(3, "D2", "Đảng bộ huyện Hai", UnitType.COMMITTEE, 1),
                     Unit(4, "C1", "Chi bộ thôn Một", UnitType.CELL, 2),
                     Unit(5, "C2", "Chi bộ thôn Hai", UnitType.CELL, 3)])


def test_feedback_moves_up_the_tree_and_is_answered() -> None:
    typed = "  Đề nghị\r\n\r\n\r\n\r\ntăng thời lượng\x00 thảo luận\u202e "
    fb = new_feedback(FeedbackKind.PROPOSAL, typed, 4, 9, None, T0, anonymous=False)
    assert fb.content == "Đề nghị\n\ntăng thời lượng thảo luận" and fb.handler == 4 and not fb.anonymous
    # a district organiser passes it on: it goes above the district, to the province
    up = fb.move(FeedbackState.ESCALATED, T0, handler_unit_id=escalation_target(fb.handler, 2, tree()))
    assert up.state is FeedbackState.ESCALATED and up.handler == 1
    assert escalation_target(up.handler, 1, tree()) is None  # nothing above the province
    with pytest.raises(Invalid):
        up.move(FeedbackState.ESCALATED, T0, handler_unit_id=None)
    working = up.move(FeedbackState.IN_PROGRESS, T0)
    with pytest.raises(Invalid) as empty:
        working.move(FeedbackState.ANSWERED, T0, "   ")
    assert empty.value.field == "answer"
    answered = working.move(FeedbackState.ANSWERED, T0 + timedelta(hours=1), "Đã tiếp thu, bố trí thêm 30 phút", 3)
    assert answered.answer == "Đã tiếp thu, bố trí thêm 30 phút" and answered.answered_by_user_id == 3
    with pytest.raises(Invalid):
        answered.move(FeedbackState.IN_PROGRESS, T0)
    with pytest.raises(Invalid):
        new_feedback(FeedbackKind.OPINION, "x" * (CONTENT_MAX + 1), 4, 9, None, T0, anonymous=False)
    with pytest.raises(Invalid):
        new_feedback(FeedbackKind.OPINION, " \n\t ", 4, 9, None, T0, anonymous=False)


def test_anonymous_feedback_keeps_nothing_of_its_author() -> None:
    fb = new_feedback(FeedbackKind.RECOMMENDATION, "Kiến nghị", 4, 9, 2, T0 + timedelta(minutes=37), anonymous=True)
    assert fb.author_person_id is None and fb.anonymous and fb.created_at == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    assert clean_text("<script>alert(1)</script>") == "<script>alert(1)</script>"  # kept as typed, shown as text
    code = format_receipt("ABCD0123WXYZ")
    assert code == "ABCD-0123-WXYZ" and normalise_receipt(" abcd-o123-wxyz ") == "ABCD0123WXYZ"
    assert normalise_receipt("short") == "" and normalise_receipt("ABCD-0123-WXYU") == ""  # U is not issued
    assert receipt_hash("ABCD0123WXYZ") != receipt_hash("ABCD0123WXY0") and "ABCD" not in receipt_hash("ABCD0123WXYZ")


# -- reports ---------------------------------------------------------------------------------------------
def session_data(now: datetime = T0) -> SessionData:
    conf = Conference(1, "Hội nghị học tập", "Chuyên đề", ConferenceMode.PRESENTER, 1, T0)
    session = Session(10, 1, "Buổi sáng", T0, T0 + timedelta(hours=3), T0 - timedelta(hours=1),
                      T0 + timedelta(hours=3), 15)
    halls = [Hall(100, 1, 4, "Hội trường thôn Một", 2, HallRole.PARTICIPATING, Channel.IN_PERSON,
                  last_seen_at=now - timedelta(seconds=5)),
             Hall(200, 1, 5, "Hội trường thôn Hai", 2, HallRole.PARTICIPATING, Channel.BROADCAST)]
    people = [Person(1, "A1", "Nguyễn Văn An", 4), Person(2, "A2", "Trần Thị Bình", 4),
              Person(3, "A3", "Phạm Văn Ba", 4, exempt=True), Person(4, "A4", "Lê Thị Tư", 4),
              Person(5, "B1", "Lê Văn Cường", 5), Person(6, "B2", "Võ Thị Năm", 5)]
    invitees = [(p, 100 if p.unit_id == 4 else 200, p.unit_id) for p in people]
    checkins = [
        CheckIn(10, 1, Status.PRESENT_IN_PERSON, Method.QR, 100, T0 - timedelta(minutes=40)),
        CheckIn(10, 3, Status.PRESENT_IN_PERSON, Method.MANUAL, 100, T0 + timedelta(minutes=20), late=True,
                operator_user_id=7),
        CheckIn(10, 2, Status.ABSENT_EXCUSED, Method.MANUAL, 100, T0, absence_reason="Ốm", operator_user_id=7),
    ]
    headcounts = [Headcount(10, 200, 2, 1, 1, 0, 7, T0)]
    scans = [(100, Method.QR, Outcome.ACCEPTED, None, 1), (100, Method.QR, Outcome.REPEAT, None, 2),
             (100, Method.QR, Outcome.REFUSED, Refusal.BAD_SIGNATURE, 1),
             (999, Method.QR, Outcome.REFUSED, Refusal.EXPIRED, 5)]  # another unit's hall: not in this report
    feedback = [(4, FeedbackKind.PROPOSAL, FeedbackState.NEW, 2), (5, FeedbackKind.OPINION, FeedbackState.ANSWERED, 1)]
    return SessionData(conf, session, tree(), tree().get(1), halls, invitees, checkins, headcounts, scans, feedback,
                       tree(), now)


WORDS = Words(lambda key, **kw: key + (str(sorted(kw.items())) if kw else ""), lambda reason: f"refused:{reason}")


def test_report_tables_agree_with_the_live_dashboard() -> None:
    data = session_data()
    tables = {t.key: t for t in session_tables(data, Filters(), WORDS)}
    infos = [HallInfo(h.id, h.name, h.unit_id, h.level, h.channel.value) for h in data.halls]
    tally = SessionTally({}, data.tree, infos,
                         {p.id: Invitee(hall, unit, not p.exempt) for p, hall, unit in data.invitees},
                         {c.person_id: c.status.value for c in data.checkins},
                         {h.hall_id: Reported(h.expected, h.present, h.absent_excused, h.absent_unexcused)
                          for h in data.headcounts})
    halls = tables["halls"]
    for hall, row in zip(data.halls, halls.rows, strict=False):
        live = tally.hall_row(hall.id)
        assert row.cells[4:9] == (live["expected"], live["in_person"], live["online"], live["absent_excused"],
                                  live["absent_unexcused"])
        assert row.cells[10] == live["percent"] and row.cells[11] == f"rep_source_{live['source']}"
    assert halls.column("rep_expected") == [3, 2, 5] and halls.column("rep_in_person") == [2, 1, 3]
    assert halls.column("rep_pending") == [1, 0, 1] and halls.column("rep_percent") == [66.7, 50.0, 60.0]
    units = {r.cells[0]: r for r in tables["units"].rows}
    for unit_id, name in ((1, "Đảng bộ tỉnh"), (2, "Đảng bộ huyện Một"), (5, "Chi bộ thôn Hai")):
        live = tally.unit_row(unit_id)
        assert units[name].cells[2:5] == (live["expected"], live["in_person"], live["online"])
        assert units[name].cells[9] == live["percent"]
    assert units["Đảng bộ tỉnh"].cells[5] == 1 and units["Đảng bộ tỉnh"].total  # reported present rolled up
    assert [r.depth for r in tables["units"].rows] == [0, 1, 2, 1, 2]
    summary = session_summary(data)
    assert summary["percent"] == tally.totals(1, 0)["percent"] and summary["halls_online"] == 1


def test_absentees_methods_timing_and_feedback() -> None:
    data = session_data()
    tables = {t.key: t for t in session_tables(data, Filters(), WORDS)}
    absent = tables["absentees"]
    assert absent.personal
    # the exempt member who came is not an absentee; the reported hall has no names but a note
    # those not yet checked in are counted in a note unless asked for (a province's would fill 2,000 pages)
    assert [(r.cells[1], r.cells[4], r.cells[5]) for r in absent.rows] == [
        ("Trần Thị Bình", "status_absent_excused", "Ốm")]
    assert "rep_note_pending_unlisted[('n', '1')]" in absent.notes
    absent = {t.key: t for t in session_tables(data, Filters(pending=True), WORDS)}["absentees"]
    assert [(r.cells[1], r.cells[4], r.cells[5]) for r in absent.rows] == [
        ("Lê Thị Tư", "rep_pending", ""), ("Trần Thị Bình", "status_absent_excused", "Ốm")]
    assert absent.rows[0].group == "Chi bộ thôn Một" and any("Hội trường thôn Hai" in n for n in absent.notes)
    assert not any("pending_unlisted" in n for n in absent.notes)
    only_excused = {t.key: t for t in session_tables(data, Filters(absence="absent_excused"), WORDS)}["absentees"]
    assert [r.cells[1] for r in only_excused.rows] == ["Trần Thị Bình"]
    methods = {r.cells[0]: r.cells for r in tables["methods"].rows}
    assert methods["rep_method_qr"] == ("rep_method_qr", 1, 0, 1, 2, 1)
    assert methods["rep_method_manual"][1:3] == (1, 1) and methods["rep_method_headcount"][1] == 1
    assert methods["rep_total"][1] == 3
    assert [r.cells for r in tables["refusals"].rows] == [("refused:bad_signature", 1), ("rep_total", 1)]
    assert [r.cells[1] for r in tables["timing"].rows] == [1, 0, 0, 1, 2]
    feedback = {r.cells[0]: r.cells for r in tables["feedback"].rows}
    assert feedback["Đảng bộ huyện Một"][2] == 2 and feedback["Đảng bộ huyện Hai"][1] == 1
    assert feedback["rep_total"][-1] == 3
    overview = tables["overview"].rows
    assert overview[0].cells[0] == "rep_level_2" and overview[-1].cells[1:] == (0, 0, 1, 1, 2, 1, 0, 1)


def test_filters_narrow_the_hall_table() -> None:
    data = session_data()
    reported = {t.key: t for t in session_tables(data, Filters(source="reported"), WORDS)}["halls"]
    assert [r.cells[0] for r in reported.rows] == ["Hội trường thôn Hai", "rep_total_halls[('n', 1)]"]
    broadcast = {t.key: t for t in session_tables(data, Filters(channel=Channel.IN_PERSON, level=2), WORDS)}
    assert [r.cells[0] for r in broadcast["halls"].rows][:-1] == ["Hội trường thôn Một"]
    shallow = {t.key: t for t in session_tables(data, Filters(depth=1), WORDS)}["units"]
    assert [r.depth for r in shallow.rows] == [0, 1, 1]


def test_numbers_are_written_the_vietnamese_way() -> None:
    assert display(70000, Kind.NUMBER) == "70.000" and display(70000, Kind.NUMBER, "en") == "70,000"
    assert display(66.7, Kind.PERCENT) == "66,7%" and display(66.7, Kind.PERCENT, "en") == "66.7%"
    assert display(None, Kind.NUMBER) == "" and display("=1+2", Kind.TEXT) == "=1+2"
