"""The check-in rules, pure: windows, lateness, invitations, wrong halls, offline flags, repeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from attendance.checkins import Method, Outcome, Refusal, ReviewState, Status
from attendance.errors import InvalidRecord
from attendance.rules import Scan, SessionRules, WrongHallPolicy, judge, mark_absent, may_undo

START = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)  # 07:30 in Hà Nội
RULES = SessionRules(1, 10, START, START - timedelta(hours=1), START + timedelta(hours=4), 15)


def scan(minutes: float = 0, hall: int = 5, offline: bool = False, method: Method = Method.QR,
         device: int | None = 3) -> Scan:
    moment = START + timedelta(minutes=minutes)
    return Scan(1, hall, method, moment if not offline else START + timedelta(hours=6), kiosk_time=moment,
                device_id=device, offline=offline)


def test_accepts_on_time_and_flags_late() -> None:
    on_time = judge(RULES, scan(10), 42, 5, None)
    assert on_time.outcome is Outcome.ACCEPTED and on_time.checkin is not None
    assert on_time.checkin.status is Status.PRESENT_IN_PERSON and not on_time.checkin.late
    late = judge(RULES, scan(16), 42, 5, None)
    assert late.checkin is not None and late.checkin.late


def test_refusals_online() -> None:
    assert judge(RULES, scan(-61), 42, 5, None).reason is Refusal.CHECKIN_NOT_OPEN
    assert judge(RULES, scan(241), 42, 5, None).reason is Refusal.CHECKIN_CLOSED
    assert judge(RULES, scan(0), 42, None, None).reason is Refusal.NOT_EXPECTED
    guests = SessionRules(1, 10, START, START - timedelta(hours=1), START + timedelta(hours=4), 15,
                          admit_uninvited=True)
    assert judge(guests, scan(0), 42, None, None).outcome is Outcome.ACCEPTED


def test_wrong_hall_policy() -> None:
    flagged = judge(RULES, scan(0, hall=6), 42, 5, None)
    assert flagged.outcome is Outcome.ACCEPTED and flagged.checkin is not None and flagged.checkin.wrong_hall
    strict = SessionRules(1, 10, START, START - timedelta(hours=1), START + timedelta(hours=4), 15,
                          WrongHallPolicy.REFUSE)
    assert judge(strict, scan(0, hall=6), 42, 5, None).reason is Refusal.WRONG_HALL


def test_offline_scans_breaking_a_rule_are_kept_and_flagged() -> None:
    verdict = judge(RULES, scan(-90, offline=True), 42, None, None)
    assert verdict.outcome is Outcome.ACCEPTED and verdict.checkin is not None
    assert verdict.checkin.review is ReviewState.PENDING
    on_time = judge(RULES, scan(5, offline=True), 42, 5, None)
    assert on_time.checkin is not None and on_time.checkin.review is ReviewState.NONE
    assert not on_time.checkin.late  # judged at the kiosk's time, not the upload's


def test_a_repeat_answers_with_the_first_check_in() -> None:
    first = judge(RULES, scan(1), 42, 5, None).checkin
    again = judge(RULES, scan(3), 42, 5, first)
    assert again.outcome is Outcome.REPEAT and again.checkin == first


def test_absence_and_undo() -> None:
    absent = mark_absent(RULES, 42, 5, "Đi công tác", 9, START, None)
    assert absent.status is Status.ABSENT_EXCUSED and absent.absence_reason == "Đi công tác"
    assert mark_absent(RULES, 42, 5, " ", 9, START, None).status is Status.ABSENT_UNEXCUSED
    present = judge(RULES, scan(1), 42, 5, absent).checkin  # arrived after all
    assert present is not None and present.present
    with pytest.raises(InvalidRecord):
        mark_absent(RULES, 42, 5, "x", 9, START, present)
    assert may_undo(present, 3, None, present.server_time + timedelta(minutes=4))
    assert not may_undo(present, 4, None, present.server_time + timedelta(minutes=1))
    assert not may_undo(present, 3, None, present.server_time + timedelta(minutes=6))
