"""The online-attendance rules (attendance/online.py), pure and without an event loop: which pings count
(on air, media flowing), watch time from pings, the threshold of present online, the store's totals over
every hub, gone and left early."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from attendance.checkins import CheckIn, Method, Status
from attendance.online import NotCounted, Watching, left_early, not_counted, with_left_early

HEARTBEAT = 20.0
KEY = (1, 42)


def pinged(watching: Watching, every: float, times: int, start: float = 0.0) -> float:
    """A viewer of session 1, person 42 pinging `times` times, `every` seconds apart; the last ping's time."""
    now = start
    for _ in range(times):
        now += every
        watching.watched(*KEY, every, now)
    return now


def test_a_ping_counts_only_on_air_with_the_viewers_media_flowing() -> None:
    assert not_counted(on_air=False, media_flowing=False) is NotCounted.NOT_ON_AIR
    assert not_counted(on_air=False, media_flowing=True) is NotCounted.NOT_ON_AIR  # a stale fetch, nothing live
    assert not_counted(on_air=True, media_flowing=False) is NotCounted.NO_MEDIA
    assert not_counted(on_air=True, media_flowing=True) is None
    assert [str(r) for r in NotCounted] == ["not_on_air", "no_media"]  # the pong's `reason` (PROTOCOL.md)


def test_a_viewer_is_due_once_after_watching_long_enough() -> None:
    watching = Watching(online_after_seconds=60, heartbeat_seconds=HEARTBEAT)
    pinged(watching, 10, 5)
    assert watching.seconds(KEY) == 50 and watching.due() == []
    pinged(watching, 10, 1, start=50)
    assert watching.due() == [KEY]
    assert watching.due() == []  # handed out once, while its check-in is under way
    watching.checked_in(*KEY)
    pinged(watching, 10, 3, start=60)
    assert watching.due() == []  # present already


def test_a_failed_check_in_is_handed_out_again() -> None:
    watching = Watching(online_after_seconds=30, heartbeat_seconds=HEARTBEAT)
    pinged(watching, 15, 2)
    assert watching.due() == [KEY]
    watching.retry(*KEY)
    assert watching.due() == [KEY]


def test_a_long_silence_between_pings_counts_two_heartbeats_at_most() -> None:
    watching = Watching(online_after_seconds=600, heartbeat_seconds=HEARTBEAT)
    watching.watched(*KEY, 3600, 3600)  # a laptop asleep for an hour
    watching.watched(*KEY, -5, 3601)  # a clock that went back counts nothing
    assert watching.seconds(KEY) == 2 * HEARTBEAT


def test_seconds_stored_by_every_hub_count_towards_the_threshold() -> None:
    """This hub counted 20 s; the store adds them to another hub's 50 s and answers 70 s in all."""
    watching = Watching(online_after_seconds=60, heartbeat_seconds=HEARTBEAT)
    pinged(watching, 10, 2)
    taken = watching.take()
    assert taken == {KEY: 20} and watching.seconds(KEY) == 0
    watching.stored({KEY: 70})
    assert watching.seconds(KEY) == 70 and watching.due() == [KEY]


def test_seconds_the_store_refused_wait_for_the_next_round() -> None:
    watching = Watching(online_after_seconds=60, heartbeat_seconds=HEARTBEAT)
    pinged(watching, 10, 2)
    taken = watching.take()
    pinged(watching, 10, 1, start=20)
    watching.restore(taken)
    assert watching.take() == {KEY: 30}


def test_a_checked_in_viewer_silent_for_three_heartbeats_is_gone_once() -> None:
    watching = Watching(online_after_seconds=10, heartbeat_seconds=HEARTBEAT)
    last = pinged(watching, 10, 2)
    assert watching.due() == [KEY]
    watching.checked_in(*KEY)
    assert watching.gone(last + 3 * HEARTBEAT) == []  # not yet: exactly three heartbeats
    assert watching.gone(last + 3 * HEARTBEAT + 1) == [KEY]
    assert watching.gone(last + 10 * HEARTBEAT) == []  # forgotten
    assert watching.take() == {KEY: 20}  # what they watched still goes to the store
    assert watching.seconds(KEY) == 0 and watching.due() == []


def test_a_silent_viewer_never_checked_in_is_forgotten_not_gone() -> None:
    watching = Watching(online_after_seconds=600, heartbeat_seconds=HEARTBEAT)
    last = pinged(watching, 10, 2)
    taken = watching.take()
    assert watching.gone(last + 3 * HEARTBEAT + 1) == []
    watching.stored({KEY: 500 + taken[KEY]})  # the store's answer for a viewer gone meanwhile is not kept
    assert watching.seconds(KEY) == 0 and watching.due() == []


def test_left_early_only_before_the_end_and_not_when_watching_elsewhere() -> None:
    ends = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
    assert left_early(ends - timedelta(minutes=1), ends, watching_elsewhere=False)
    assert not left_early(ends - timedelta(minutes=1), ends, watching_elsewhere=True)  # they moved hubs
    assert not left_early(ends, ends, watching_elsewhere=False)
    assert not left_early(ends + timedelta(minutes=1), ends, watching_elsewhere=False)


def test_only_a_present_check_in_not_yet_flagged_is_flagged_left_early() -> None:
    at = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    online = CheckIn(1, 42, Status.PRESENT_ONLINE, Method.ONLINE, None, at)
    flagged = with_left_early(online)
    assert flagged is not None and flagged.left_early and flagged.status is Status.PRESENT_ONLINE
    assert with_left_early(flagged) is None  # flagged already
    assert with_left_early(None) is None
    absent = CheckIn(1, 42, Status.ABSENT_UNEXCUSED, Method.MANUAL, None, at)
    assert with_left_early(absent) is None
