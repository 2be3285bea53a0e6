"""Halls (điểm cầu) of a conference, and invitations: who is expected at which hall."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from conference.errors import Invalid
from conference.text import clean

# A hall whose kiosks and screens have been silent for longer is offline: the dashboard, the hub and the reports
# all ask `connection_at`, which takes this as its default.
HALL_EXPIRY = timedelta(seconds=60)


class HallRole(StrEnum):
    HOST = "host"  # điểm cầu chính
    PARTICIPATING = "participating"  # điểm cầu thành phần


class Channel(StrEnum):
    TWO_WAY = "two_way"  # truyền hình hai chiều
    RECEIVE_ONLY = "receive_only"  # chỉ nhận tín hiệu
    BROADCAST = "broadcast"  # theo dõi qua truyền hình
    IN_PERSON = "in_person"  # trực tiếp tại hội trường


class ConnectionStatus(StrEnum):
    UNKNOWN = "unknown"
    ONLINE = "online"
    OFFLINE = "offline"


PREFLIGHT_ITEMS: tuple[str, ...] = ("network", "video", "audio", "kiosk", "power")


@dataclass(frozen=True)
class Hall:
    id: int
    conference_id: int
    unit_id: int  # host unit
    name: str
    level: int  # depth of the host unit: 0 province, 1 committee, 2 grassroots, 3 cell
    role: HallRole
    channel: Channel
    chair: str = ""
    technical_contact: str = ""
    expected_count: int = 0
    connection: ConnectionStatus = ConnectionStatus.UNKNOWN
    last_seen_at: datetime | None = None
    preflight_done: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.name:
            raise Invalid("a hall needs a name", field="name")
        if self.expected_count < 0:
            raise Invalid("expected count cannot be negative", field="expected_count")
        unknown = self.preflight_done - set(PREFLIGHT_ITEMS)
        if unknown:
            raise Invalid(f"unknown pre-flight items: {sorted(unknown)}", field="preflight")

    @property
    def preflight_complete(self) -> bool:
        return self.preflight_done >= set(PREFLIGHT_ITEMS)

    def status_at(self, now: datetime, expiry: timedelta = HALL_EXPIRY) -> ConnectionStatus:
        """Online only while the last heartbeat is younger than `expiry`."""
        return connection_at(self.last_seen_at, now, expiry)


def connection_at(last_seen: datetime | None, now: datetime, expiry: timedelta = HALL_EXPIRY) -> ConnectionStatus:
    """A hall seen last at `last_seen` (None: never): online while that is at most `expiry` ago."""
    if last_seen is None:
        return ConnectionStatus.UNKNOWN
    return ConnectionStatus.ONLINE if now - last_seen <= expiry else ConnectionStatus.OFFLINE


def new_hall(
    conference_id: int,
    unit_id: int,
    name: str,
    level: int,
    role: HallRole,
    channel: Channel,
    chair: str = "",
    technical_contact: str = "",
) -> Hall:
    return Hall(0, conference_id, unit_id, clean(name), level, role, channel, clean(chair),
                clean(technical_contact))


@dataclass(frozen=True)
class Invitation:
    """Triệu tập: the person is expected at every session of this conference, at this hall."""

    conference_id: int
    person_id: int
    hall_id: int
