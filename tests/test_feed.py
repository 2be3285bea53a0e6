"""The store feed a hub reads while its bus is down: the window (pure) and the store's query, on SQLite
and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from attendance.checkins import Outcome, Status
from tests.test_ledger import Setup, kiosk_scan, setup
from web.live.feed import Window

__all__ = ["setup"]  # the ledger suite's fixture, used here


def test_the_window_hands_each_event_on_once_and_reads_late_commits_again() -> None:
    w = Window(lookback=5.0)
    w.saw(10, now=0.0)  # the bus works: only the newest id noted
    assert w.after(1.0) == 10
    assert w.fresh([(11, "a"), (13, "c")], now=1.0) == ["a", "c"]
    # 12 took its id before 13 but committed after it: read again, it is handed on, 11 and 13 are not
    assert w.after(2.0) == 10
    assert w.fresh([(11, "a"), (12, "b"), (13, "c"), (14, "d")], now=2.0) == ["b", "d"]
    assert w.fresh([(11, "a"), (12, "b"), (13, "c"), (14, "d")], now=3.0) == []
    # LOOKBACK later the window moves on: what it read by then is no longer read again
    assert w.after(6.0) == 13 and w.after(7.5) == 14
    assert w.fresh([(15, "e")], now=7.5) == ["e"]


def test_a_window_reads_from_what_it_saw_before_the_bus_went_down() -> None:
    w = Window(lookback=5.0)
    for t in range(10):
        w.saw(100 + t, now=float(t))
    assert w.after(9.5) == 104  # the newest noted at least 5 s ago: the bus's loss is noticed late
    assert w.fresh([(105, "x"), (110, "y")], now=9.5) == ["x", "y"]


async def test_accepted_after_gives_each_accepted_scans_check_in_since_an_event(setup: Setup,
                                                                                engine: AsyncEngine) -> None:
    store = setup.ledger.store
    assert await store.last_event() == 0
    first = await setup.ledger.scan(kiosk_scan(setup, 0), setup.texts[setup.persons[0]])
    start = await store.last_event()
    assert first.outcome is Outcome.ACCEPTED and start > 0
    await setup.ledger.scan(kiosk_scan(setup, 1), setup.texts[setup.persons[1]])
    repeat = await setup.ledger.scan(kiosk_scan(setup, 1, device=2), setup.texts[setup.persons[1]])
    assert repeat.outcome is Outcome.REPEAT  # an event, but no new check-in
    await setup.ledger.scan(kiosk_scan(setup, 2), "not a credential")  # refused: an event, no check-in
    await setup.ledger.scan(kiosk_scan(setup, 3), setup.texts[setup.persons[3]])
    rows = await store.accepted_after(start, [setup.session_id])
    assert [c.person_id for _, c in rows] == [setup.persons[1], setup.persons[3]]
    assert all(i > start for i, _ in rows) and [i for i, _ in rows] == sorted(i for i, _ in rows)
    assert rows[0][1] == (await setup.ledger.current(setup.session_id, setup.persons[1]))
    assert all(c.status is Status.PRESENT_IN_PERSON for _, c in rows)
    assert [c.person_id for _, c in await store.accepted_after(0, [setup.session_id])] == [
        setup.persons[0], setup.persons[1], setup.persons[3]]
    assert await store.accepted_after(0, [setup.session_id + 1]) == []
    assert await store.accepted_after(rows[-1][0], [setup.session_id]) == []
    assert await store.last_event() >= rows[-1][0]


def test_a_window_keeps_only_the_marks_it_needs() -> None:
    w = Window(lookback=5.0)
    for t in range(1000):  # a day of a working bus, in short
        w.saw(t, now=float(t))
    assert w.after(999.0) == 994 and len(w._marks) <= 7
