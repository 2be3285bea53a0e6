"""Who has the floor: halls that raised their hand (xin phát biểu), in the organiser's order, and the
hall whose stream goes to everyone. Pure: the caller passes the time and persists nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class FloorError(ValueError):
    """A floor action that does not apply (no raised hand, unknown hall)."""


@dataclass(frozen=True)
class Hand:
    hall_id: int
    hall_name: str
    raised_at: datetime


@dataclass
class Floor:
    hands: list[Hand] = field(default_factory=list)  # the queue, first speaks first
    holder: int | None = None  # the hall with the floor; None: the presenter
    holder_name: str = ""

    def raise_hand(self, hall_id: int, hall_name: str, now: datetime) -> bool:
        """Queue the hall; False when it is already queued or already speaking."""
        if hall_id == self.holder or any(h.hall_id == hall_id for h in self.hands):
            return False
        self.hands.append(Hand(hall_id, hall_name, now))
        return True

    def lower_hand(self, hall_id: int) -> bool:
        before = len(self.hands)
        self.hands = [h for h in self.hands if h.hall_id != hall_id]
        return len(self.hands) != before

    def reorder(self, hall_ids: list[int]) -> None:
        """Put the named halls first, in that order; the others keep their order after them."""
        queued = {h.hall_id: h for h in self.hands}
        unknown = [h for h in hall_ids if h not in queued]
        if unknown or len(set(hall_ids)) != len(hall_ids):
            raise FloorError(f"not in the queue (or repeated): {unknown or hall_ids}")
        first = [queued[h] for h in hall_ids]
        self.hands = first + [h for h in self.hands if h.hall_id not in set(hall_ids)]

    def give(self, hall_id: int) -> Hand:
        """The hall takes the floor and leaves the queue; only a hall that raised its hand may."""
        hand = next((h for h in self.hands if h.hall_id == hall_id), None)
        if hand is None:
            raise FloorError(f"hall {hall_id} has not asked to speak")
        self.hands.remove(hand)
        self.holder, self.holder_name = hand.hall_id, hand.hall_name
        return hand

    def take_back(self) -> int | None:
        """The floor returns to the presenter; returns the hall that had it."""
        holder, self.holder, self.holder_name = self.holder, None, ""
        return holder

    def snapshot(self) -> dict[str, Any]:
        return {"holder": self.holder, "holder_name": self.holder_name,
                "hands": [{"hall_id": h.hall_id, "hall": h.hall_name, "at": h.raised_at.isoformat()}
                          for h in self.hands]}
