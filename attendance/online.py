"""Online attendance, pure: watch time, when a participant becomes present online, when they left early.

- A viewer's ping counts as watching only while the session is on air and the viewer's own media flows
  (`not_counted`): a ping on the viewer topic alone is no proof that anyone watches.
- The time between a viewer's counted pings is their watch time (at most `GAP_MAX_HEARTBEATS` heartbeats of
  it, so a viewer whose pings stopped for a while is not counted for the silence).
- Seconds watched on one hub are summed with the other hubs' in the store; once the total reaches the
  threshold (`online_after_minutes`, 10 by default) the participant is checked in present online.
- A checked-in viewer silent for `LEFT_AFTER_HEARTBEATS` heartbeats has gone; before the session's end
  that is "left early" (về sớm), unless another hub counted them watching since (they moved hubs).

No I/O and no clock: times come in as arguments (monotonic seconds for watching, datetimes for the
session's end). The live hub (web/live/watching.py) feeds the pings in and carries out the decisions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from attendance.checkins import CheckIn

LEFT_AFTER_HEARTBEATS = 3  # silent this many heartbeats: the viewer has gone
GAP_MAX_HEARTBEATS = 2  # at most this many heartbeats count between two pings

Key = tuple[int, int]  # (session id, person id)


class NotCounted(StrEnum):
    """Why a viewer's ping did not count as watching (the ping's answer says it: docs/PROTOCOL.md section 4)."""

    NOT_ON_AIR = "not_on_air"  # nothing of the session is on air
    NO_MEDIA = "no_media"  # on air, but none of it reaches this viewer (no WebRTC connection, no HLS fetched)


def not_counted(on_air: bool, media_flowing: bool) -> NotCounted | None:
    """Why a viewer's ping does not count as watching, or None when it counts: only while the session is on
    air and the viewer's own media flows (the media layer says both; this says what they make)."""
    if not on_air:
        return NotCounted.NOT_ON_AIR
    if not media_flowing:
        return NotCounted.NO_MEDIA
    return None


class Watching:
    """How long each participant has watched each session (from their viewer pings), and who is due.

    Seconds watched here are `pending` until handed to the store (`take`), which adds them to what the
    other hubs counted and answers the totals (`stored`): a viewer moved to another hub goes on counting.
    `due` hands out the viewers to check in present online, `gone` the checked-in viewers who went silent."""

    def __init__(self, online_after_seconds: float, heartbeat_seconds: float) -> None:
        self.online_after = online_after_seconds
        self.left_after = LEFT_AFTER_HEARTBEATS * heartbeat_seconds  # silence after which a viewer has gone
        self.gap_max = GAP_MAX_HEARTBEATS * heartbeat_seconds
        self.stored_seconds: dict[Key, float] = {}
        self.pending_seconds: dict[Key, float] = {}
        self.last: dict[Key, float] = {}
        self.present: set[Key] = set()
        self.pending: set[Key] = set()

    def watched(self, session_id: int, person_id: int, since_last_ping: float, now: float) -> None:
        """A viewer's ping at `now`, `since_last_ping` seconds after their connection's previous one."""
        key = (session_id, person_id)
        seconds = min(max(since_last_ping, 0.0), self.gap_max)
        self.pending_seconds[key] = self.pending_seconds.get(key, 0.0) + seconds
        self.last[key] = now

    def seconds(self, key: Key) -> float:
        """Watched in all: the store's total over every hub, and what this hub has not stored yet."""
        return self.stored_seconds.get(key, 0.0) + self.pending_seconds.get(key, 0.0)

    def take(self) -> dict[Key, float]:
        """The seconds not yet stored; `stored` (or `restore`, when the store failed) follows."""
        taken, self.pending_seconds = self.pending_seconds, {}
        return taken

    def stored(self, totals: dict[Key, float]) -> None:
        """The store's totals over every hub, after it took what `take` handed out."""
        for key, total in totals.items():
            if key in self.last:  # not gone meanwhile
                self.stored_seconds[key] = total

    def restore(self, taken: dict[Key, float]) -> None:
        """The store could not take them: the seconds wait for the next round."""
        for key, seconds in taken.items():
            if key in self.last:
                self.pending_seconds[key] = self.pending_seconds.get(key, 0.0) + seconds

    def due(self) -> list[Key]:
        """Viewers who reached the threshold and are not yet checked in (each handed out once, until
        `checked_in` or `retry` answers for them)."""
        out = [k for k in self.last if k not in self.present and k not in self.pending
               and self.seconds(k) >= self.online_after]
        self.pending.update(out)
        return out

    def checked_in(self, session_id: int, person_id: int) -> None:
        self.pending.discard((session_id, person_id))
        self.present.add((session_id, person_id))

    def retry(self, session_id: int, person_id: int) -> None:
        """The check-in of a viewer handed out by `due` failed: `due` hands them out again."""
        self.pending.discard((session_id, person_id))

    def gone(self, now: float) -> list[Key]:
        """Checked-in viewers silent for `left_after` seconds (each handed out once); every silent viewer
        is forgotten here, their seconds being in the store (or about to be)."""
        silent = [k for k, last in self.last.items() if now - last > self.left_after]
        out = [k for k in silent if k in self.present]
        for key in silent:
            self.present.discard(key)
            self.stored_seconds.pop(key, None)
            del self.last[key]
        return out


def left_early(now: datetime, session_ends_at: datetime, watching_elsewhere: bool) -> bool:
    """Whether a checked-in viewer who has gone (`Watching.gone`) left early: before the session's end,
    and not counted watching by another hub since (then they moved hubs, they did not leave)."""
    return now < session_ends_at and not watching_elsewhere


def with_left_early(checkin: CheckIn | None) -> CheckIn | None:
    """The check-in flagged left early; None when there is nothing to flag (no check-in, not present,
    or flagged already)."""
    if checkin is None or not checkin.present or checkin.left_early:
        return None
    return replace(checkin, left_early=True)
