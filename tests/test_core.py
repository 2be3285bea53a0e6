"""The pure core, with no event loop and no I/O: unit trees, permissions, sessions, records' invariants."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from attendance.checkins import CheckIn, Method, Outcome, Refusal, ScanEvent, Status
from attendance.devices import Device, EnrolmentCode, digest, normalise_code, split_token
from attendance.errors import DeviceRejected, EnrolmentRefused, InvalidRecord, WrongHall
from attendance.headcounts import Headcount
from conference.accounts import Action, Role, User, authorize, covers, new_user
from conference.conferences import new_session
from conference.errors import Forbidden, Invalid
from conference.feedback import Feedback, FeedbackKind, FeedbackState
from conference.halls import Channel, ConnectionStatus, Hall, HallRole
from conference.people import new_person
from conference.text import clean, fold, format_datetime, thousands
from conference.units import Unit, UnitTree, UnitType

T0 = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội


def tree_units() -> list[Unit]:
    return [
        Unit(1, "P", "Tỉnh", UnitType.PROVINCE, None),
        Unit(2, "D1", "Huyện Một", UnitType.COMMITTEE, 1),
        Unit(3, "D2", "Huyện Hai", UnitType.COMMITTEE, 1, valid_to=date(2025, 6, 30)),
        Unit(4, "C1", "Chi bộ Một", UnitType.CELL, 2),
        Unit(5, "C2", "Chi bộ Hai", UnitType.CELL, 3, valid_to=date(2025, 6, 30)),
        Unit(6, "D12", "Huyện Một-Hai (sáp nhập)", UnitType.COMMITTEE, 1, valid_from=date(2025, 7, 1)),
    ]


def test_text_rules() -> None:
    decomposed = "Nguye\u0302\u0303n  Va\u0306n   An"
    assert clean(decomposed) == "Nguyễn Văn An"
    assert fold("Đặng Thị Ánh") == "dang thi anh"
    assert thousands(70000) == "70.000" and thousands(1234567) == "1.234.567"
    from zoneinfo import ZoneInfo
    assert format_datetime(T0, ZoneInfo("Asia/Ho_Chi_Minh")) == "01/12/2026 07:30"


def test_unit_tree_as_of_a_date() -> None:
    before = UnitTree(tree_units(), date(2025, 1, 1))
    after = UnitTree(tree_units(), date(2026, 1, 1))
    assert 3 in before and 5 in before and 6 not in before
    assert 3 not in after and 6 in after
    assert [u.code for u in before.path(5)] == ["P", "D2", "C2"]
    assert before.subtree_ids(2) == {2, 4} and before.level(4) == 2
    assert before.within(4, 1) and not before.within(4, 3)
    assert [u.code for u in after.walk()] == ["P", "D1", "C1", "D12"]


def test_unit_tree_refuses_cycles_and_bad_dates() -> None:
    with pytest.raises(Invalid):
        UnitTree([Unit(1, "A", "A", UnitType.CELL, 2), Unit(2, "B", "B", UnitType.CELL, 1)])
    with pytest.raises(Invalid):
        Unit(1, "A", "A", UnitType.CELL, None, date(2026, 1, 2), date(2026, 1, 1))


def test_roles_and_scopes() -> None:
    tree = UnitTree(tree_units(), date(2025, 1, 1))
    district = User(1, "d1", "D1", Role.ORGANISER, 2)
    clerk = User(2, "c1", "C1", Role.HALL_CLERK, 4)
    member = User(3, "m", "M", Role.PARTICIPANT, 4, person_id=9)
    admin = User(4, "root", "Root", Role.ADMIN, None)
    authorize(district, Action.VIEW_PEOPLE, 4, tree)
    with pytest.raises(Forbidden):
        authorize(district, Action.VIEW_PEOPLE, 5, tree)  # another district's cell
    with pytest.raises(Forbidden):
        authorize(member, Action.VIEW_PEOPLE, 4, tree)  # a role without the right
    with pytest.raises(Forbidden):
        authorize(clerk, Action.MANAGE_CONFERENCE, 4, tree)
    authorize(admin, Action.MANAGE_USERS, None, tree)
    with pytest.raises(Forbidden):
        authorize(district, Action.MANAGE_USERS, None, tree)
    assert covers(member, 1, tree) and covers(district, 1, tree) and not covers(district, 3, tree)
    with pytest.raises(Forbidden):
        authorize(User(5, "off", "Off", Role.ORGANISER, 1, active=False), Action.VIEW_CONFERENCE, None, tree)


def test_accounts_need_a_scope_and_a_clean_username() -> None:
    with pytest.raises(Invalid):
        new_user("x", "X", Role.ORGANISER, 1)  # too short
    with pytest.raises(Invalid):
        new_user("ban.to.chuc", "B", Role.ORGANISER, None)
    with pytest.raises(Invalid):
        new_user("dai.bieu", "D", Role.PARTICIPANT, 4)  # a participant belongs to a person
    assert new_user("  Ban.To.Chuc ", "", Role.ADMIN, None).username == "ban.to.chuc"


def test_session_window_and_late_flag() -> None:
    s = new_session(1, "Buổi sáng", T0, T0 + timedelta(hours=4), late_after_minutes=15)
    assert s.checkin_open(T0 - timedelta(minutes=59)) and not s.checkin_open(T0 - timedelta(minutes=61))
    assert not s.is_late(T0 + timedelta(minutes=15)) and s.is_late(T0 + timedelta(minutes=16))
    with pytest.raises(Invalid):
        new_session(1, "x", T0, T0 - timedelta(hours=1))
    with pytest.raises(Invalid):
        new_session(1, "x", T0.replace(tzinfo=None), T0.replace(tzinfo=None) + timedelta(hours=1))


def test_persons_are_cleaned_and_checked() -> None:
    p = new_person(" P1 ", "  Hoàng   Thị  Thu ", 4, exempt=True)
    assert p.full_name == "Hoàng Thị Thu" and p.code == "P1" and not p.counts_as_expected
    with pytest.raises(Invalid):
        new_person("P2", "   ", 4)
    with pytest.raises(Invalid):
        new_person("P3", "A" * 121, 4)


def test_hall_status_from_heartbeats() -> None:
    hall = Hall(1, 1, 4, "Hội trường", 2, HallRole.PARTICIPATING, Channel.TWO_WAY, last_seen_at=T0)
    assert hall.status_at(T0 + timedelta(seconds=20), timedelta(seconds=30)) is ConnectionStatus.ONLINE
    assert hall.status_at(T0 + timedelta(seconds=40), timedelta(seconds=30)) is ConnectionStatus.OFFLINE
    with pytest.raises(Invalid):
        Hall(1, 1, 4, "x", 2, HallRole.HOST, Channel.IN_PERSON, preflight_done=frozenset({"coffee"}))


def test_feedback_state_machine() -> None:
    fb = Feedback(1, None, 4, None, FeedbackKind.PROPOSAL, "Đề nghị tăng thời lượng thảo luận", FeedbackState.NEW, T0)
    working = fb.move(FeedbackState.IN_PROGRESS, T0)
    with pytest.raises(Invalid):
        working.move(FeedbackState.ANSWERED, T0)  # an answer needs text
    answered = working.move(FeedbackState.ANSWERED, T0, "Đã tiếp thu, sẽ bố trí thêm 30 phút")
    assert answered.state is FeedbackState.ANSWERED and answered.answered_at == T0
    with pytest.raises(Invalid):
        answered.move(FeedbackState.NEW, T0)


def test_attendance_records_keep_their_invariants() -> None:
    with pytest.raises(InvalidRecord):
        CheckIn(1, 1, Status.ABSENT_EXCUSED, Method.MANUAL, 1, T0)  # a reason is required
    CheckIn(1, 1, Status.ABSENT_EXCUSED, Method.MANUAL, 1, T0, absence_reason="Đi công tác")
    with pytest.raises(InvalidRecord):
        CheckIn(1, 1, Status.PRESENT_IN_PERSON, Method.QR, 1, T0, face_score=0.3)
    with pytest.raises(InvalidRecord):
        ScanEvent(1, 1, Method.QR, Outcome.REFUSED, T0)  # refused without a reason
    ScanEvent(1, 1, Method.QR, Outcome.REFUSED, T0, reason=Refusal.EXPIRED)
    with pytest.raises(InvalidRecord):
        Headcount(1, 1, expected=10, present=8, absent_excused=2, absent_unexcused=1, reported_by_user_id=1,
                  reported_at=T0)


def test_device_tokens_and_codes() -> None:
    device = Device(7, 3, "Kiosk", digest("s3cret"), T0)
    device.verify("s3cret")
    device.require_hall(3)
    with pytest.raises(DeviceRejected):
        device.verify("guess")
    with pytest.raises(WrongHall):
        device.require_hall(4)
    with pytest.raises(DeviceRejected):
        Device(7, 3, "Kiosk", digest("s3cret"), T0, revoked_at=T0).verify("s3cret")
    assert split_token("7.s3cret") == (7, "s3cret")
    for bad in ("", "7", "x.y", ".y", "7."):
        with pytest.raises(DeviceRejected):
            split_token(bad)
    assert normalise_code(" abcd-efgh ") == "ABCDEFGH"
    with pytest.raises(EnrolmentRefused):
        EnrolmentCode("h", 3, None, T0).check(T0 + timedelta(seconds=1))
    with pytest.raises(EnrolmentRefused):
        EnrolmentCode("h", 3, None, T0, used_at=T0).check(T0)
