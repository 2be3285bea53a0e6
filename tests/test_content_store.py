"""The stores of documents, feedback, invitees as they stood, the audit log and the report reads, against
SQLite and PostgreSQL (each test runs on both)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from attendance.checkins import CheckIn, Method, Outcome, Refusal, ScanEvent, Status
from attendance.store import LedgerStore, LedgerWrite
from conference import tables as t
from conference.audit import CATEGORIES, AuditAction, AuditCategory, AuditEntry
from conference.conferences import ConferenceMode, new_conference
from conference.documents import ANONYMOUS, DocumentAccess, FileKind, new_document
from conference.errors import Conflict, NotFound
from conference.feedback import FeedbackKind, FeedbackState, new_feedback, receipt_hash
from conference.halls import Channel, HallRole, Invitation, new_hall
from conference.people import new_person
from conference.store import ConferenceStore
from conference.units import UnitType, new_unit

NOW = datetime(2026, 11, 20, 0, 30, tzinfo=UTC)


async def seed(store: ConferenceStore) -> dict[str, int]:
    p = await store.add_unit(new_unit("P", "Đảng bộ tỉnh", UnitType.PROVINCE, None))
    d = await store.add_unit(new_unit("D", "Đảng bộ huyện", UnitType.COMMITTEE, p.id))
    c = await store.add_unit(new_unit("C", "Chi bộ thôn Đông", UnitType.CELL, d.id))
    await store.apply_roster([], [], {}, [(new_person("A", "Nguyễn Văn An", c.id), "C"),
                                          (new_person("B", "Trần Thị Bình", c.id), "C")], [],
                             {"sha256": "0" * 64, "filename": "x", "imported_at": NOW, "user_id": None})
    people = await store.persons_by_code()
    conf = await store.add_conference(new_conference("Hội nghị", "", ConferenceMode.PRESENTER, p.id, NOW))
    hall = await store.add_hall(new_hall(conf.id, c.id, "Hội trường", 2, HallRole.PARTICIPATING, Channel.IN_PERSON))
    return {"P": p.id, "D": d.id, "C": c.id, "A": people["A"].id, "B": people["B"].id, "conf": conf.id,
            "hall": hall.id}


async def test_documents_openings_and_invitees_as_they_stood(engine: AsyncEngine) -> None:
    store = ConferenceStore(engine)
    ids = await seed(store)
    doc = await store.add_document(new_document(ids["conf"], "Hướng dẫn", "15-HD", "Ban Tuyên giáo",
                                                date(2026, 11, 1), "Hướng dẫn", DocumentAccess.PUBLIC, "a" * 64,
                                                FileKind.PDF, 1234, NOW, None))
    twin = await store.add_document(new_document(ids["conf"], "Bản sao", "", "", None, "", DocumentAccess.SIGNED_IN,
                                                 "a" * 64, FileKind.PDF, 1234, NOW, None))
    assert (await store.get_document(doc.id)).issued_on == date(2026, 11, 1)
    assert [d.id for d in await store.documents_of(ids["conf"])] == [doc.id, twin.id]
    await asyncio.gather(*(store.count_opening(doc.id, ids["C"]) for _ in range(5)))
    await store.count_opening(doc.id, ANONYMOUS)
    assert await store.openings_of(ids["conf"]) == {doc.id: {ids["C"]: 5, ANONYMOUS: 1}}
    assert await store.delete_document(doc.id) is None  # the twin still holds the same file
    assert await store.delete_document(twin.id) == "a" * 64
    assert await store.openings_of(ids["conf"]) == {} and not await store.sha_in_use("a" * 64)
    with pytest.raises(NotFound):
        await store.get_document(doc.id)

    # invitations keep the unit each invitee was invited from, whatever the roster says later
    await store.invite([Invitation(ids["conf"], ids["A"], ids["hall"]), Invitation(ids["conf"], ids["B"], ids["hall"])])
    merged = await store.add_unit(new_unit("C2", "Chi bộ sáp nhập", UnitType.CELL, ids["D"], date(2027, 1, 1)))
    async with engine.begin() as c:  # the roster after a merger: everyone moved to the new cell
        await c.execute(update(t.persons).values(unit_id=merged.id))
    invitees = {p.code: (p.unit_id, hall, unit) for p, hall, unit in await store.invitees_of(ids["conf"])}
    assert invitees == {"A": (merged.id, ids["hall"], ids["C"]), "B": (merged.id, ids["hall"], ids["C"])}


async def test_feedback_moves_are_guarded_against_races(engine: AsyncEngine) -> None:
    store = ConferenceStore(engine)
    ids = await seed(store)
    signed = await store.add_feedback(new_feedback(FeedbackKind.PROPOSAL, "Đề xuất", ids["C"], ids["A"], ids["conf"],
                                                   NOW, anonymous=False))
    anonymous = await store.add_feedback(new_feedback(FeedbackKind.OPINION, "Ý kiến", ids["C"], ids["A"], None, NOW,
                                                      anonymous=True), receipt_hash("ABCD0123WXYZ"))
    assert anonymous.author_person_id is None
    assert (await store.feedback_by_receipt(receipt_hash("ABCD0123WXYZ"))) == anonymous
    assert await store.feedback_by_receipt(receipt_hash("ABCD0123WXY0")) is None
    up = signed.move(FeedbackState.ESCALATED, NOW, handler_unit_id=ids["P"])
    await store.update_feedback(signed, up)
    with pytest.raises(Conflict):
        await store.update_feedback(signed, signed.move(FeedbackState.IN_PROGRESS, NOW))  # it moved meanwhile
    again = up.move(FeedbackState.ESCALATED, NOW, handler_unit_id=ids["D"])
    await store.update_feedback(up, again)
    with pytest.raises(Conflict):
        await store.update_feedback(up, up.move(FeedbackState.ANSWERED, NOW, "Trả lời"))  # same state, other handler
    assert (await store.get_feedback(signed.id)).handler == ids["D"]
    found, total = await store.find_feedback({ids["C"]}, state=FeedbackState.NEW)
    assert total == 1 and found == [anonymous]
    assert (await store.find_feedback({ids["D"]}))[1] == 0
    assert await store.feedback_of_author(ids["A"]) == [await store.get_feedback(signed.id)]
    counts = await store.feedback_counts(ids["conf"])
    assert counts == [(ids["C"], FeedbackKind.PROPOSAL, FeedbackState.ESCALATED, 1)]
    assert await store.feedback_counts(None) == [(ids["C"], FeedbackKind.OPINION, FeedbackState.NEW, 1)]


async def test_audit_page_and_ledger_reads(engine: AsyncEngine) -> None:
    store = ConferenceStore(engine)
    await seed(store)
    for i, action in enumerate([AuditAction.SIGN_IN, AuditAction.VIEW_PEOPLE, AuditAction.EXPORT_PEOPLE,
                                AuditAction.MANUAL_ATTENDANCE, AuditAction.VIEW_PEOPLE]):
        await store.audit(AuditEntry(NOW + timedelta(hours=i), 1 if i % 2 else 2, action, f"unit:{i}", "d"))
    entries, total = await store.audit_page(CATEGORIES[AuditCategory.PERSONAL_DATA])
    assert total == 4 and [e.subject for _, e in entries][:3] == ["unit:4", "unit:2", "unit:1"]
    assert entries[3][1].action is AuditAction.IMPORT_ROSTER  # the seed's roster import
    entries, total = await store.audit_page(None, actor_user_id=1, since=NOW + timedelta(minutes=1),
                                            until=NOW + timedelta(hours=3, minutes=1), limit=1)
    assert total == 2 and [e.subject for _, e in entries] == ["unit:3"]

    ledger = LedgerStore(engine)
    manual = CheckIn(5, 1, Status.PRESENT_IN_PERSON, Method.MANUAL, 9, NOW, operator_user_id=3)
    await ledger.write([
        LedgerWrite(ScanEvent(5, 9, Method.QR, Outcome.ACCEPTED, NOW, person_id=2, nonce="n1"),
                    CheckIn(5, 2, Status.PRESENT_IN_PERSON, Method.QR, 9, NOW)),
        LedgerWrite(ScanEvent(5, 9, Method.QR, Outcome.REPEAT, NOW, person_id=2, nonce="n2")),
        LedgerWrite(ScanEvent(5, 9, Method.QR, Outcome.REFUSED, NOW, Refusal.EXPIRED, nonce="n3")),
        LedgerWrite(ScanEvent(5, 9, Method.QR, Outcome.REFUSED, NOW, Refusal.EXPIRED, nonce="n4")),
        LedgerWrite(ScanEvent(6, 9, Method.QR, Outcome.ACCEPTED, NOW, person_id=2, nonce="n5")),
    ])
    await ledger.put_checkin(manual)
    summary = sorted(await ledger.scan_summary(5), key=lambda s: (s[2].value, s[4]))
    assert summary == [(9, Method.QR, Outcome.ACCEPTED, None, 1), (9, Method.QR, Outcome.REFUSED, Refusal.EXPIRED, 2),
                       (9, Method.QR, Outcome.REPEAT, None, 1)]
    assert await ledger.operated_checkins() == [manual]
    assert await ledger.operated_checkins(since=NOW + timedelta(seconds=1)) == []
