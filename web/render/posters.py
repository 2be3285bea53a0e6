"""Printable QR posters (A4 portrait): one per document, one per hall, instead of paper copies.

Pure and synchronous (bytes out; it reads the font files): callers run it off the event loop. The
QR code holds only a link to this server (never personal data) and is drawn as vector shapes, level
Q (it survives a torn or dirty poster), about 120 mm across: readable from a few metres.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import qrcode
from fpdf import FPDF
from fpdf.enums import MethodReturnValue
from qrcode.constants import ERROR_CORRECT_Q

from web.render.badges import FAMILY, font_files
from web.render.qr import dark_runs

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 18.0
QR_MM = 120.0  # quiet zone included
MAX_VERSION = 15


class LinkTooLong(ValueError):
    """The poster's link needs a QR code too dense to scan from a wall."""


@dataclass(frozen=True)
class Poster:
    kicker: str  # small line on top: the conference
    title: str  # large: the document's or hall's name
    url: str  # what the QR code opens
    instruction: str  # "Quét mã QR để đọc tài liệu"
    details: list[str] = field(default_factory=list)  # number, issuer, date; or the hall's unit
    note: str = ""  # "Cần đăng nhập để xem" for a sign-in document


def matrix(text: str) -> list[list[bool]]:
    qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_Q, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    if qr.version is None or qr.version > MAX_VERSION:
        raise LinkTooLong(f"the link needs QR version {qr.version}")
    return [list(row) for row in qr.get_matrix()]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text.strip())


def render(poster: Poster, font_dir: Path) -> bytes:
    """The poster as a one-page PDF."""
    fonts = font_files(font_dir)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_title(_nfc(poster.title))
    pdf.set_creator("hoinghi")
    for style, path in fonts.items():
        pdf.add_font(FAMILY, style, str(path))
    pdf.add_page()
    width = PAGE_W - 2 * MARGIN
    pdf.set_draw_color(179, 22, 27)
    pdf.set_line_width(1.2)
    pdf.rect(MARGIN / 2, MARGIN / 2, PAGE_W - MARGIN, PAGE_H - MARGIN)
    pdf.set_y(MARGIN + 2)
    pdf.set_font(FAMILY, "", 12)
    pdf.set_text_color(90)
    pdf.multi_cell(width, 6, _nfc(poster.kicker), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_text_color(0)
    size = 24.0
    title = _nfc(poster.title)
    while size > 14:  # the largest size at which the title fits in three lines
        pdf.set_font(FAMILY, "B", size)
        lines = cast(list[str], pdf.multi_cell(width, size * 0.45, title, dry_run=True,
                                               output=MethodReturnValue.LINES))
        if len(lines) <= 3:
            break
        size -= 1
    pdf.multi_cell(width, size * 0.45, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FAMILY, "", 11)
    pdf.set_text_color(60)
    for line in poster.details:
        pdf.multi_cell(width, 5.5, _nfc(line), align="C", new_x="LMARGIN", new_y="NEXT")
    top = max(pdf.get_y() + 10, 75.0)
    cells = matrix(poster.url)
    module = QR_MM / len(cells)
    left = (PAGE_W - QR_MM) / 2
    pdf.set_fill_color(0)
    for row, column, length in dark_runs(cells):
        pdf.rect(left + column * module, top + row * module, length * module, module, style="F")
    pdf.set_y(top + QR_MM + 4)
    pdf.set_text_color(0)
    pdf.set_font(FAMILY, "B", 16)
    pdf.multi_cell(width, 8, _nfc(poster.instruction), align="C", new_x="LMARGIN", new_y="NEXT")
    if poster.note:
        pdf.set_font(FAMILY, "", 11)
        pdf.set_text_color(179, 22, 27)
        pdf.multi_cell(width, 6, _nfc(poster.note), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, "", 9)
    pdf.set_text_color(90)
    pdf.set_y(PAGE_H - MARGIN - 8)
    pdf.multi_cell(width, 4.5, poster.url, align="C")
    return bytes(pdf.output())
