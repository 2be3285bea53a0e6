"""Roster import: files in, units and persons written, all or nothing.

`RosterImporter` reads and checks the whole input off the event loop, compares it with the store,
checks the actor's unit scope against every unit it would touch, and only then writes, in one
transaction (`ConferenceStore.apply_roster`). Every successful import is recorded with the sha256 of
its input; importing the same files again writes no unit or person.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from conference.accounts import Action, Role, User, authorize
from conference.errors import Forbidden, Invalid
from conference.roster import RosterDiff, diff_roster, plan_roster
from conference.roster_files import FILE_MAX, RosterFile, read_roster_files
from conference.roster_sheets import RosterSheet
from conference.store import ConferenceStore, ImportCounts
from conference.text import thousands
from conference.units import Unit, UnitTree

Clock = Callable[[], datetime]
Progress = Callable[[int, int], None]  # (persons written, persons to write)
Source = Path | str | RosterFile  # a path, or a file name with its content (an upload)
FILENAME_MAX = 300


@dataclass(frozen=True)
class PreparedImport:
    """A checked and authorised import, not yet written."""

    diff: RosterDiff
    sha256: str
    filename: str
    read_seconds: float
    check_seconds: float


def _load(sources: Sequence[Source]) -> list[RosterFile]:
    files: list[RosterFile] = []
    for source in sources:
        if isinstance(source, tuple):
            files.append(source)
            continue
        path = Path(source)
        try:
            if path.stat().st_size > FILE_MAX:  # refused before it is read, as an upload is
                raise Invalid(f"{path.name}: tệp quá lớn (tối đa {FILE_MAX // (1024 * 1024)} MB)")
            files.append((path.name, path.read_bytes()))
        except OSError as e:
            raise Invalid(f"{path.name}: không mở được tệp ({e.strerror})") from None
    return files


def _read(sources: Sequence[Source]) -> tuple[list[RosterFile], list[RosterSheet]]:
    files = _load(sources)
    return files, read_roster_files(files)


def _check_scope(actor: User, diff: RosterDiff, units: Sequence[Unit]) -> None:
    """Every stored unit the import writes at or under must lie in the actor's scope."""
    tree = UnitTree(units)
    for unit_id in diff.anchors:
        if unit_id is None:
            if actor.role is not Role.ADMIN:
                raise Forbidden("only an administrator may add a top-level unit")
            continue
        authorize(actor, Action.IMPORT_ROSTER, unit_id, tree)


class RosterImporter:
    """Imports roster files (units, persons) into the store. One per process; imports run one at a time."""

    def __init__(self, store: ConferenceStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._lock = asyncio.Lock()

    async def import_files(
        self, sources: Sequence[Source], actor: User | None = None, progress: Progress | None = None,
    ) -> ImportCounts:
        """Import one roster made of one or more files (say units.csv and persons.csv).

        `actor` None is the command line: no scope check. Raises Invalid for an unreadable file,
        ImportRefused listing every bad row, Forbidden when a unit touched is outside the actor's
        scope; in each case nothing is written.
        """
        async with self._lock:
            prepared = await self.prepare(sources, actor)
            return await self.write(prepared, actor, progress)

    async def prepare(self, sources: Sequence[Source], actor: User | None) -> PreparedImport:
        """Read, check, compare with the store and authorise, writing nothing."""
        if actor is not None:
            authorize(actor, Action.IMPORT_ROSTER, None, UnitTree([]))  # refuse a wrong role before reading
        started = time.perf_counter()
        files, sheets = await asyncio.to_thread(_read, sources)
        read = time.perf_counter()
        units = await self.store.all_units()
        plan = await asyncio.to_thread(plan_roster, sheets, units)
        persons = await self.store.persons_by_code()
        diff = await asyncio.to_thread(diff_roster, plan, units, persons)
        if actor is not None:
            _check_scope(actor, diff, units)
        digest = hashlib.sha256()
        for _, data in files:
            digest.update(data)
        filename = ", ".join(name for name, _ in files)[:FILENAME_MAX]
        return PreparedImport(diff, digest.hexdigest(), filename, read - started, time.perf_counter() - read)

    async def write(self, prepared: PreparedImport, actor: User | None, progress: Progress | None = None,
                    ) -> ImportCounts:
        """Write a prepared import in one transaction and record it (an empty diff records only the import)."""
        d = prepared.diff
        record = {"sha256": prepared.sha256, "filename": prepared.filename, "imported_at": self.clock(),
                  "user_id": actor.id if actor else None}
        return await self.store.apply_roster(d.new_units, d.changed_units, d.parent_codes, d.new_persons,
                                             d.changed_persons, record, progress)


def text_progress_bar(stream: TextIO, noun: str = "đảng viên", width: int = 30,
                      every_seconds: float = 0.2) -> Progress:
    """A one-line bar for the command line, redrawn with \\r at most every `every_seconds`:
    `[#####.........] 35.000/70.000 đảng viên`; the final state is always drawn, then a new line."""
    last = -math.inf
    shown: tuple[int, int] | None = None

    def draw(done: int, total: int) -> None:
        nonlocal last, shown
        now = time.monotonic()
        finished = done >= total
        if (done, total) == shown or (not finished and now - last < every_seconds):
            return
        last, shown = now, (done, total)
        filled = width if total <= 0 else width * min(done, total) // total
        end = "\n" if finished else ""
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {thousands(done)}/{thousands(total)} {noun}{end}")
        stream.flush()

    return draw
