"""The shape of every report, pure: titled columns, rows of text and numbers, notes; the words and the
filters a report is built with; a cell as the page and the PDF show it.

The page, the XLSX and the PDF all render these same tables, so the three always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from attendance.checkins import Status
from attendance.counting import Source
from conference.halls import Channel

LEVELS = (0, 1, 2, 3)


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    PERCENT = "percent"


Cell = str | int | float | None


@dataclass(frozen=True)
class Column:
    title: str
    kind: Kind = Kind.TEXT
    width: float = 1.0  # relative, for the PDF


@dataclass(frozen=True)
class Row:
    cells: tuple[Cell, ...]
    depth: int = 0  # indentation of a unit in the rollup
    total: bool = False
    group: str = ""  # rows of one group (the absentees of one cell) are shown under its name


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    personal: bool = False  # holds personal data: viewing and exporting it are logged

    def column(self, title: str) -> list[Cell]:
        """The cells of one column, by its title (tests, and anyone reading a table back)."""
        i = [c.title for c in self.columns].index(title)
        return [r.cells[i] for r in self.rows]


@dataclass(frozen=True)
class Words:
    """The report's words in one language: `t` as web.i18n's translator, `refusal` a refusal reason."""

    t: Callable[..., str]
    refusal: Callable[[str], str]
    lang: str = "vi"  # numbers in the words: 68.600 (vi), 68,600 (en)


class Absence(StrEnum):
    """The absentees a report can be filtered to: absent with or without a reason, not yet checked in."""

    EXCUSED = Status.ABSENT_EXCUSED.value
    UNEXCUSED = Status.ABSENT_UNEXCUSED.value
    PENDING = "pending"


@dataclass(frozen=True)
class Filters:
    level: int | None = None  # halls of one level
    channel: Channel | None = None
    source: Source | None = None
    absence: Absence | None = None  # absentees of one kind
    depth: int | None = None  # unit rollup: levels below the report's unit
    pending: bool = False  # the absentees list names those not yet checked in too (a province: tens of thousands)


def number_columns(keys: Iterable[str], t: Callable[..., str], kind: Kind = Kind.NUMBER) -> list[Column]:
    """Narrow columns of numbers, titled by their message keys."""
    return [Column(t(key), kind, 0.8) for key in keys]


def level_label(level: int, t: Callable[..., str]) -> str:
    return t(f"rep_level_{level}") if level in LEVELS else str(level)


def display(value: Cell, kind: Kind, lang: str = "vi") -> str:
    """A cell as text: Vietnamese thousands "70.000" and decimal comma "66,7" (English: 70,000 and 66.7)."""
    if value is None:
        return ""
    if kind is Kind.PERCENT and isinstance(value, int | float):
        text = f"{value:.1f}"
        return (text.replace(".", ",") if lang == "vi" else text) + "%"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        grouped = f"{value:,}"
        return grouped.replace(",", ".") if lang == "vi" else grouped
    if isinstance(value, float):
        text = f"{value:.1f}"
        return text.replace(".", ",") if lang == "vi" else text
    return str(value)



def table_json(table: Table) -> dict[str, Any]:
    return {"key": table.key, "title": table.title, "personal": table.personal,
            "columns": [{"title": c.title, "kind": c.kind.value} for c in table.columns],
            "rows": [{"cells": list(r.cells), "depth": r.depth, "total": r.total, "group": r.group}
                     for r in table.rows],
            "notes": table.notes}
