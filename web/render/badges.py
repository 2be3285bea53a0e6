"""Printable QR badges (thẻ QR) for delegates without a smartphone: an A4 PDF, 8 badges a page.

Pure and synchronous (bytes out, no I/O but reading the font files): callers run it off the event loop.
Each badge has the person's full name, their unit, the conference title if given and a QR code drawn
as vector shapes (42 mm with its quiet zone, so the symbol itself is about 35 mm: sharp at any
printer resolution). Vietnamese text needs a Unicode TrueType font; DejaVu Sans is embedded (subset).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from fpdf import FPDF
from fpdf.enums import MethodReturnValue

from web.render.qr import dark_runs, modules

Progress = Callable[[int, int], None]

FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FAMILY = "dejavu"
PAGE_W, PAGE_H = 210.0, 297.0  # A4, millimetres
MARGIN = 10.0
COLUMNS, ROWS = 2, 4
CELL_W = (PAGE_W - 2 * MARGIN) / COLUMNS  # 95 mm
CELL_H = (PAGE_H - 2 * MARGIN) / ROWS  # 69.25 mm
QR_MM = 42.0  # quiet zone included
PAD = 3.0
TEXT_X = PAD + QR_MM + 2.0  # text column, from the cell's left edge
TEXT_W = CELL_W - TEXT_X - PAD
PT = 0.3528  # millimetres per point


class FontMissing(Exception):
    """The TrueType fonts badges need are not where the settings say."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Badge:
    full_name: str
    unit_name: str
    qr_text: str  # the credential text; carries no personal data


@dataclass(frozen=True)
class Sheet:
    """Everything one PDF holds; `footer` is the short instruction printed on every badge."""

    title: str
    badges: list[Badge] = field(default_factory=list)
    footer: str = ""


def font_files(font_dir: Path) -> dict[str, Path]:
    """The regular and bold DejaVu Sans files in `font_dir`, or FontMissing naming what is absent."""
    found = {style: font_dir / name for style, name in FONT_FILES.items()}
    missing = [str(path) for path in found.values() if not path.is_file()]
    if missing:
        raise FontMissing(f"badge font not found: {', '.join(missing)} (install fonts-dejavu-core or set "
                          "HOINGHI_PDF_FONT_DIR to a folder holding DejaVuSans.ttf and DejaVuSans-Bold.ttf)")
    return found


def render(sheet: Sheet, font_dir: Path, progress: Progress | None = None) -> bytes:
    """The PDF for a sheet; `progress(done, total)` is called after each badge is laid out."""
    fonts = font_files(font_dir)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN)
    pdf.set_title(_nfc(sheet.title) or "Thẻ QR")
    pdf.set_creator("hoinghi")
    for style, path in fonts.items():
        pdf.add_font(FAMILY, style, str(path))
    total = len(sheet.badges)
    per_page = COLUMNS * ROWS
    pdf.add_page()
    title = _fit(pdf, _nfc(sheet.title), "", 7.5, 6.5, 3) if sheet.title.strip() else None
    footer = _fit(pdf, _nfc(sheet.footer), "", 6.5, 5.5, 2) if sheet.footer.strip() else None
    for index, badge in enumerate(sheet.badges):
        if index and index % per_page == 0:
            pdf.add_page()
        slot = index % per_page
        x = MARGIN + (slot % COLUMNS) * CELL_W
        y = MARGIN + (slot // COLUMNS) * CELL_H
        _badge(pdf, x, y, badge, title, footer)
        if progress is not None:
            progress(index + 1, total)
    return bytes(pdf.output())


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


Fitted = tuple[float, list[str]]  # a font size, and the lines the text wraps into at that size


def _badge(pdf: FPDF, x: float, y: float, badge: Badge, title: Fitted | None, footer: Fitted | None) -> None:
    pdf.set_draw_color(170)
    pdf.set_line_width(0.2)
    with pdf.local_context():
        pdf.set_dash_pattern(dash=1.5, gap=1.5)
        pdf.rect(x, y, CELL_W, CELL_H)  # cut line
    _qr(pdf, x + PAD, y + (CELL_H - QR_MM) / 2, badge.qr_text)
    left, top = x + TEXT_X, y + PAD + 1.0
    if title is not None:
        pdf.set_text_color(90)
        top = _draw(pdf, left, top, title, "") + 2.0
    pdf.set_text_color(0)
    top = _draw(pdf, left, top + 1.0, _fit(pdf, _nfc(badge.full_name), "B", 14, 9, 3), "B") + 1.0
    pdf.set_text_color(40)
    _draw(pdf, left, top, _fit(pdf, _nfc(badge.unit_name), "", 9, 7, 2), "")
    if footer is not None:
        pdf.set_text_color(90)
        size, lines = footer
        _draw(pdf, left, y + CELL_H - PAD - len(lines) * _leading(size), footer, "")


def _qr(pdf: FPDF, x: float, y: float, text: str) -> None:
    matrix = modules(text)
    module = QR_MM / len(matrix)
    pdf.set_fill_color(0)
    for row, column, length in dark_runs(matrix):
        pdf.rect(x + column * module, y + row * module, length * module, module, style="F")


def _leading(size: float) -> float:
    return size * PT * 1.2


def _fit(pdf: FPDF, text: str, style: str, largest: float, smallest: float, max_lines: int) -> Fitted:
    """The largest size (in half points) at which `text` wraps into at most `max_lines` lines."""
    size = largest
    while True:
        pdf.set_font(FAMILY, style, size)
        lines = cast(list[str], pdf.multi_cell(TEXT_W, _leading(size), text, dry_run=True,
                                               output=MethodReturnValue.LINES))
        if len(lines) <= max_lines or size <= smallest:
            break
        size -= 0.5
    if len(lines) > max_lines:  # still too long at the smallest size: cut, and say so
        lines = [*lines[:max_lines - 1], lines[max_lines - 1].rstrip() + "…"]
    return size, lines


def _draw(pdf: FPDF, x: float, y: float, fitted: Fitted, style: str) -> float:
    """Draw fitted lines from (x, y); returns the y just below them."""
    size, lines = fitted
    pdf.set_font(FAMILY, style, size)
    for line in lines:
        pdf.set_xy(x, y)
        pdf.cell(TEXT_W, _leading(size), line)
        y += _leading(size)
    return y
