"""Report tables as files: an Excel workbook (openpyxl) and an A4 PDF (fpdf2, DejaVu Sans).

Pure and synchronous (bytes out; the PDF reads its font files): callers run them off the event loop.
Both take the tables of `web.reporting.model`, so a download shows exactly what the page shows.

- XLSX: one sheet per table, numbers as numbers, and any text that a spreadsheet would read as a
  formula (starting with = + - @, a tab or a carriage return) written as text, never evaluated.
- PDF: landscape A4, the table's heading row repeated on every page, "Trang x/y" in the footer,
  Vietnamese text embedded as text (a subset of DejaVu Sans), so it can be searched and copied.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont
from openpyxl import Workbook
from openpyxl.cell import Cell as XlCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from web.render.badges import FAMILY, font_files
from web.reporting.model import Cell, Kind, Table, display

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")


@dataclass(frozen=True)
class Heading:
    """What sits above the tables: the title, lines under it (conference, session, unit, filters), and
    who made the file when (the footer of the first page / the first sheet)."""

    title: str
    lines: list[str] = field(default_factory=list)
    made: str = ""
    lang: str = "vi"


# -- Excel ------------------------------------------------------------------------------------------
def write_text(cell: XlCell, text: str) -> None:
    """Put text in a cell so that no spreadsheet ever evaluates it (formula injection)."""
    cell.value = text
    if text.startswith(FORMULA_START):
        cell.data_type = "s"
        cell.quotePrefix = True


def write(cell: XlCell, value: Cell, kind: Kind) -> None:
    if value is None:
        return
    if isinstance(value, str):
        write_text(cell, value)
        return
    cell.value = value
    if kind is Kind.PERCENT:
        cell.number_format = "0.0"
    elif isinstance(value, int):
        cell.number_format = "#,##0"


SHEET_NAME_MAX = 31  # Excel's limit


def shortened(text: str, limit: int) -> str:
    """The text cut to at most `limit` characters at a word boundary (a single longer word is cut)."""
    if len(text) <= limit:
        return text
    cut = text[:limit + 1].rsplit(" ", 1)[0].rstrip(" –-·,.:;(")
    return cut if cut and len(cut) <= limit else text[:limit].rstrip()


def sheet_name(title: str, taken: set[str]) -> str:
    """A sheet's name from its table's title: at most 31 characters, cut between words, unique in the book
    (case-insensitively, as Excel compares them) with " 2", " 3"… when two titles shorten alike."""
    clean = " ".join(SHEET_NAME_BAD.sub(" ", title).split()).strip("'")
    base = shortened(clean, SHEET_NAME_MAX) or "Sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" {n}"
        name, n = shortened(clean, SHEET_NAME_MAX - len(suffix)) + suffix, n + 1
    taken.add(name.lower())
    return name


def xlsx(heading: Heading, tables: Sequence[Table]) -> bytes:
    """A workbook: one sheet per table; row 1 the table's title, rows 2+ the heading lines, then the
    column titles (bold, frozen) and the rows; notes under the table."""
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    book.properties.title = heading.title[:255]
    book.properties.creator = "hoinghi"
    taken: set[str] = set()
    bold = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="EEF1F5")
    for table in tables:
        sheet = book.create_sheet(sheet_name(table.title, taken))
        write_text(sheet.cell(1, 1), table.title)
        sheet.cell(1, 1).font = Font(bold=True, size=13)
        row_no = 2
        for line in [heading.title, *heading.lines]:
            write_text(sheet.cell(row_no, 1), line)
            row_no += 1
        row_no += 1
        header_row = row_no
        for i, column in enumerate(table.columns, start=1):
            cell = sheet.cell(header_row, i)
            write_text(cell, column.title)
            cell.font, cell.fill = bold, header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
            sheet.column_dimensions[get_column_letter(i)].width = max(9.0, min(48.0, 12.0 * column.width))
        for row in table.rows:
            row_no += 1
            for i, (value, column) in enumerate(zip(row.cells, table.columns, strict=True), start=1):
                cell = sheet.cell(row_no, i)
                write(cell, value, column.kind)
                if i == 1 and row.depth:
                    cell.alignment = Alignment(indent=min(row.depth * 2, 15))
                if row.total:
                    cell.font = bold
        sheet.freeze_panes = sheet.cell(header_row + 1, 1)
        row_no += 1
        for note in table.notes:
            row_no += 1
            write_text(sheet.cell(row_no, 1), note)
        if heading.made:
            write_text(sheet.cell(row_no + 2, 1), heading.made)
    if not book.worksheets:
        book.create_sheet("Sheet")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- PDF --------------------------------------------------------------------------------------------
def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class ReportPdf(FPDF):
    """A4 pages with DejaVu Sans, a footer "Trang x/y", and helpers for headings, paragraphs and tables."""

    def __init__(self, font_dir: Path, landscape: bool = True, footer_text: str = "Trang {page}/{pages}") -> None:
        super().__init__(orientation="L" if landscape else "P", unit="mm", format="A4")
        for style, path in font_files(font_dir).items():
            self.add_font(FAMILY, style, str(path))
        self.footer_text = footer_text
        self.set_margins(12, 12, 12)
        self.set_auto_page_break(True, margin=14)
        self.set_creator("hoinghi")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(110)
        self.cell(0, 4, self.footer_text.format(page=self.page_no(), pages="{nb}"), align="C")
        self.set_text_color(0)

    def heading(self, text: str, size: float = 13, align: str = "L", space: float = 2.0) -> None:
        self.set_font(FAMILY, "B", size)
        self.multi_cell(0, size * 0.5, nfc(text), align=align, new_x="LMARGIN", new_y="NEXT")
        self.ln(space)

    def paragraph(self, text: str, size: float = 10, align: str = "L", style: str = "") -> None:
        self.set_font(FAMILY, style, size)
        self.multi_cell(0, size * 0.48, nfc(text), align=align, new_x="LMARGIN", new_y="NEXT")

    def table_of(self, table: Table, lang: str, size: float = 8.0) -> None:
        """A report table: its heading row repeated on each page, text wrapped in its column, numbers
        right-aligned, totals in bold. Laid out here, row by row: fpdf2's own tables (and even its string
        widths) take minutes for the 20,000 absentees of a province."""
        if self.will_page_break(28):  # never a title alone at the foot of a page
            self.add_page()
        self.heading(table.title, 11, space=1.0)
        scale = self.epw / sum(c.width for c in table.columns)
        layout = _Layout([c.width * scale for c in table.columns], [c.kind is not Kind.TEXT for c in table.columns],
                         size, size * 0.3528 * 1.2)
        header = [nfc(c.title) for c in table.columns]
        top = self.get_y()
        self._row(header, layout, "B", fill=True)
        group = ""
        for row in table.rows:
            cells = [nfc(display(value, column.kind, lang)) for value, column in zip(row.cells, table.columns,
                                                                                     strict=True)]
            if row.depth and cells:
                cells[0] = "\u00a0" * (3 * row.depth) + cells[0]
            style = "B" if row.total else ""
            lines = self._lines(cells, layout, style)
            band = layout.height([[""]]) if row.group and row.group != group else 0.0
            if self.get_y() + band + layout.height(lines) > self.page_break_trigger:
                self._columns(layout, top)
                self.add_page()
                top = self.get_y()
                self._row(header, layout, "B", fill=True)
            if band:  # the rows of one group (an absentee list's cell) under its name, across the table
                self._columns(layout, top)
                group = row.group
                self._band(nfc(group), layout)
                top = self.get_y()
            self._row(cells, layout, style, lines)
        self._columns(layout, top)
        self.ln(1)
        for note in table.notes:
            self.paragraph(note, 8.5)
        self.ln(4)

    def _lines(self, cells: list[str], layout: _Layout, style: str) -> list[list[str]]:
        self.set_font(FAMILY, style, layout.size)
        return [self._wrap(text, width - 2 * layout.pad) for text, width in zip(cells, layout.widths, strict=True)]

    def _row(self, cells: list[str], layout: _Layout, style: str, lines: list[list[str]] | None = None,
             fill: bool = False) -> None:
        """One row at the current position: its text, and the rule under it (the columns' rules are drawn
        once per page, by `_columns`)."""
        lines = lines if lines is not None else self._lines(cells, layout, style)
        self.set_font(FAMILY, style, layout.size)
        height = layout.height(lines)
        x, y = self.l_margin, self.get_y()
        if fill:
            self.set_fill_color(238, 241, 245)
            self.rect(x, y, sum(layout.widths), height, style="DF")
        for cell_lines, width, right in zip(lines, layout.widths, layout.right, strict=True):
            for i, line in enumerate(cell_lines):
                if line:
                    left = x + width - layout.pad - self._width(line) if right else x + layout.pad
                    self.text(left, y + layout.pad + (i + 0.78) * layout.leading, line)
            x += width
        self.line(self.l_margin, y + height, self.l_margin + sum(layout.widths), y + height)
        self.set_y(y + height)

    def _band(self, text: str, layout: _Layout) -> None:
        """A group's name in bold on a shaded line the width of the table."""
        self.set_font(FAMILY, "B", layout.size)
        x, y = self.l_margin, self.get_y()
        height = layout.height([[text]])
        self.set_fill_color(247, 248, 250)
        self.rect(x, y, sum(layout.widths), height, style="DF")
        self.text(x + layout.pad, y + layout.pad + 0.78 * layout.leading, text[:200])
        self.set_y(y + height)

    def _columns(self, layout: _Layout, top: float) -> None:
        """The vertical rules of a table's part on one page, from its heading row down to its last row."""
        x, bottom = self.l_margin, self.get_y()
        self.line(x, top, x, bottom)
        for width in layout.widths:
            x += width
            self.line(x, top, x, bottom)

    def _width(self, text: str) -> float:
        """`get_string_width` for the fonts used here (no stretching, spacing or shaping), much faster."""
        font = self.current_font
        if not isinstance(font, TTFFont):  # not one of ours: let fpdf2 measure
            return float(self.get_string_width(text))
        widths = font.cw
        return float(sum(widths[ord(c)] for c in text)) * self.font_size_pt * 0.001 / self.k

    def _wrap(self, text: str, width: float) -> list[str]:
        """Greedy word wrap in the current font; a word wider than the column is cut where it must be."""
        lines: list[str] = []
        space = self._width(" ")
        for paragraph in text.split("\n"):
            line, used = "", 0.0
            for word in paragraph.split(" "):
                size = self._width(word)
                if not line or used + space + size > width:
                    if line:
                        lines.append(line)
                    while size > width and len(word) > 1:
                        cut = len(word) - 1
                        while cut > 1 and self._width(word[:cut]) > width:
                            cut -= 1
                        lines.append(word[:cut])
                        word = word[cut:]
                        size = self._width(word)
                    line, used = word, size
                else:
                    line, used = f"{line} {word}", used + space + size
            lines.append(line)
        return lines or [""]


@dataclass(frozen=True)
class _Layout:
    widths: list[float]
    right: list[bool]  # right-aligned (numbers)
    size: float
    leading: float
    pad: float = 0.9

    def height(self, lines: list[list[str]]) -> float:
        return max(len(cell) for cell in lines) * self.leading + 2 * self.pad


def pdf(heading: Heading, tables: Sequence[Table], font_dir: Path, footer: str = "Trang {page}/{pages}") -> bytes:
    """The tables in one landscape A4 PDF, under the heading."""
    doc = ReportPdf(font_dir, landscape=True, footer_text=footer)
    doc.set_title(nfc(heading.title))
    doc.add_page()
    doc.heading(heading.title, 14)
    for line in heading.lines:
        doc.paragraph(line, 9.5)
    if heading.made:
        doc.paragraph(heading.made, 8, style="")
    doc.ln(3)
    for table in tables:
        doc.table_of(table, heading.lang)
    return bytes(doc.output())


@dataclass(frozen=True)
class Formal:
    """A formal report's frame: the issuing body (left) and the party's name with place and date (right)
    above the title, the text, and who signs at the end."""

    issuer: list[str]
    motto: list[str]
    title: list[str]
    paragraphs: list[str]
    signature: list[str]
    lang: str = "vi"


def formal_pdf(frame: Formal, tables: Sequence[Table], font_dir: Path, footer: str = "Trang {page}/{pages}") -> bytes:
    """A portrait A4 report (Báo cáo kết quả): the heading in two columns, the title, the text, the tables,
    the signature block."""
    doc = ReportPdf(font_dir, landscape=False, footer_text=footer)
    doc.set_title(nfc(" ".join(frame.title)))
    doc.add_page()
    half = (doc.w - doc.l_margin - doc.r_margin) / 2
    top = doc.get_y()
    for i, line in enumerate(frame.issuer):
        doc.set_font(FAMILY, "B" if i else "", 10)
        doc.set_x(doc.l_margin)
        doc.multi_cell(half, 5, nfc(line), align="C", new_x="LMARGIN", new_y="NEXT")
    left_end = doc.get_y()
    doc.set_y(top)
    for i, line in enumerate(frame.motto):
        doc.set_font(FAMILY, "B" if i == 0 else "", 10 if i == 0 else 9.5)
        doc.set_x(doc.l_margin + half)
        doc.multi_cell(half, 5, nfc(line), align="C", new_x="LMARGIN", new_y="NEXT")
    doc.set_y(max(left_end, doc.get_y()) + 6)
    for i, line in enumerate(frame.title):
        doc.heading(line, 14 if i == 0 else 11.5, align="C", space=1.0)
    doc.ln(4)
    for text in frame.paragraphs:
        doc.paragraph(text, 10.5, align="J")
        doc.ln(1.5)
    doc.ln(2)
    for table in tables:
        doc.table_of(table, frame.lang, size=7.5)
    if doc.will_page_break(40):
        doc.add_page()
    doc.ln(6)
    for i, line in enumerate(frame.signature):
        doc.set_font(FAMILY, "B" if i == 0 else "", 10.5 if i == 0 else 9.5)
        doc.set_x(doc.l_margin + half)
        doc.multi_cell(half, 5.5, nfc(line), align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())
