"""The bus codec: what one hub tells the others, and how a message is applied (or replayed) here.

A bus message is `{"hub": <sender>, "items": [...]}`, each item one of:

- `{"k": "c", "s": session, "p": person, "st": status|null, "at": iso|null, "h": hall, "m": method, "n": name}`:
  a committed check-in (status null: undone);
- `{"k": "h", "s": session, "h": hall, "r": [expected, present, absent_excused, absent_unexcused]}`: a headcount;
- `{"k": "p", "h": hall, "at": iso}`: a hall seen (presence);
- `{"k": "v", "hub": hub, "n": {session: viewers}}`: a hub's viewer counts;
- `{"k": "resync"}`: a hub that could not publish asks every hub to rebuild from the store;
- `{"k": "end", "u": [user ids], "d": [device ids]}`: accounts deactivated and devices revoked: every hub
  closes their connections (4001).

A hub applies its own changes at once and ignores its own messages on the bus. Check-ins and headcounts
applied while a resync reads the store are journalled, then replayed on the rebuilt tally.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from attendance.headcounts import Headcount
from attendance.ledger import Committed
from web.live.bus import Bus
from web.live.presence import Presence
from web.live.tally import Reported
from web.live.topics import LiveSession
from web.usecases.facts import PersonCard

log = logging.getLogger(__name__)

Item = dict[str, Any]


def change_items(changes: list[Committed | Headcount], cards: dict[int, PersonCard]) -> list[Item]:
    """The ledger's committed changes as bus items, check-ins with the person's name when known."""
    items: list[Item] = []
    for c in changes:
        if isinstance(c, Headcount):
            items.append({"k": "h", "s": c.session_id, "h": c.hall_id,
                          "r": [c.expected, c.present, c.absent_excused, c.absent_unexcused]})
            continue
        ci = c.checkin
        card = cards.get(c.person_id)
        items.append({"k": "c", "s": c.session_id, "p": c.person_id, "st": ci.status.value if ci else None,
                      "at": ci.server_time.isoformat() if ci else None, "h": ci.hall_id if ci else None,
                      "m": ci.method.value if ci else "", "n": card.full_name if card else ""})
    return items


def hall_seen_item(hall_id: int, at: datetime) -> Item:
    return {"k": "p", "h": hall_id, "at": at.isoformat()}


def viewers_item(hub_id: str, counts: dict[int, int]) -> Item:
    return {"k": "v", "hub": hub_id, "n": {str(s): n for s, n in counts.items()}}


def end_item(users: list[int], devices: list[int]) -> Item:
    return {"k": "end", "u": users, "d": devices}


RESYNC: Item = {"k": "resync"}


class Relay:
    """This hub's end of the bus: sends items to the other hubs and applies theirs to the sessions served."""

    def __init__(self, hub_id: str, bus: Bus, sessions: dict[int, LiveSession], presence: Presence,
                 resync: Callable[[], None], end: Callable[[list[int], list[int]], None]) -> None:
        self.hub_id = hub_id
        self.bus = bus
        self.sessions = sessions
        self.presence = presence
        self.resync = resync
        self.end = end  # close the connections of these users and devices
        self._owe_resync = False

    async def send(self, items: list[Item]) -> None:
        """Publish to the other hubs. A message the bus drops is made good by asking every hub to resync
        from the store as soon as the bus carries messages again."""
        text = json.dumps({"hub": self.hub_id, "items": items}, ensure_ascii=False, separators=(",", ":"))
        if self._owe_resync:
            self._owe_resync = not await self.bus.publish(json.dumps({"hub": self.hub_id, "items": [RESYNC]}))
        if not await self.bus.publish(text):
            self._owe_resync = True

    def received(self, text: str) -> None:
        """A message from the bus (this hub's own are ignored: they were applied when sent)."""
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("bad bus message ignored")
            return
        if message.get("hub") != self.hub_id:
            self.apply(message.get("items", []))

    def apply(self, items: list[Item], replay: bool = False) -> None:
        """Apply items to the sessions served; a `replay` (after a resync) is not journalled again."""
        for item in items:
            kind = item.get("k")
            live = self.sessions.get(item.get("s", -1))
            if live is not None and live.journal is not None and kind in ("c", "h") and not replay:
                live.journal.append(item)
            if kind == "c" and live is not None:
                at = datetime.fromisoformat(item["at"]) if item.get("at") else None
                live.tally.apply(item["p"], item["st"], at, item.get("n", ""), item.get("h"), item.get("m", ""),
                                 replay=replay)
            elif kind == "h" and live is not None:
                live.tally.report(item["h"], Reported(*item["r"]))
            elif kind == "p":
                self.presence.heard_hall(item["h"], datetime.fromisoformat(item["at"]))
            elif kind == "resync":
                self.resync()
            elif kind == "end":
                self.end([int(u) for u in item.get("u", [])], [int(d) for d in item.get("d", [])])
            elif kind == "v" and item.get("hub") != self.hub_id:
                self.presence.heard_viewers(item["hub"], {int(s): n for s, n in item.get("n", {}).items()})
