"""The dashboard's per-minute chart as the live tally keeps it: an undone check-in leaves the chart live as it
would after a reload (the store no longer holds it), and the change says so."""

from __future__ import annotations

from datetime import UTC, datetime

from attendance.counting import Invitee
from conference.units import Unit, UnitTree, UnitType
from web.live.tally import Arrival, HallInfo, SessionTally


def tally(arrivals: list[Arrival] = []) -> SessionTally:  # noqa: B006 (never changed)
    tree = UnitTree([Unit(1, "P", "Tỉnh", UnitType.PROVINCE, None), Unit(2, "C", "Chi bộ", UnitType.CELL, 1)])
    made = SessionTally({"id": 1}, tree, [HallInfo(5, "Hội trường", 2, 1, "in_person")],
                        {n: Invitee(5, 2, True) for n in range(10, 20)},
                        {a.person_id: "present_in_person" for a in arrivals}, {})
    made.load_history(arrivals, {})
    made.take_changes()
    return made


def test_an_undone_check_in_leaves_the_chart_as_a_reload_would_show_it() -> None:
    at = datetime(2026, 12, 7, 1, 30, 20, tzinfo=UTC)
    live = tally()
    for person in (10, 11):
        live.apply(person, "present_in_person", at, f"P{person}", 5, "manual")
    assert live.unit_change(1, live.take_changes(), 0, False)["rate"] == {"2026-12-07T01:30": 2}
    live.apply(11, None)  # undone
    assert live.unit_change(1, live.take_changes(), 0, False)["rate"] == {"2026-12-07T01:30": 1}
    reloaded = tally([Arrival(10, at, 5, "manual")])
    assert live.unit_snapshot(1, 0)["rate"] == reloaded.unit_snapshot(1, 0)["rate"] == {"2026-12-07T01:30": 1}
    reloaded.apply(10, None)  # a check-in loaded from the store, undone: out of the chart too
    assert reloaded.unit_change(1, reloaded.take_changes(), 0, False)["rate"] == {"2026-12-07T01:30": 0}
    live.apply(12, "absent_excused", at)  # an absence is no arrival
    assert "rate" not in live.unit_change(1, live.take_changes(), 0, False)
