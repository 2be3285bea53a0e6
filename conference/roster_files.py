"""Roster files in, row tables out: CSV (UTF-8, comma, semicolon or tab) and Excel .xlsx.

The thin I/O edge of `conference.roster`: it only turns bytes into `RosterSheet`s, recognising
which table holds units and which persons; every rule about the rows lives in the pure core.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import PurePath

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from conference.errors import Invalid
from conference.roster_sheets import Cell, RosterSheet, classify, header_row

RosterFile = tuple[str, bytes]  # file name (as uploaded or on disk) and content

ZIP_MAGIC = b"PK\x03\x04"  # .xlsx is a zip archive
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 .xls
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv", ".txt"}
DELIMITERS = ",;\t"


def read_roster_files(files: Iterable[RosterFile]) -> list[RosterSheet]:
    """Every unit and person table of the files, in order (e.g. units.csv then persons.csv).

    Raises Invalid when a file cannot be read, or when no file holds a roster table.
    """
    sheets = [sheet for name, data in files for sheet in read_roster_file(name, data)]
    if not sheets:
        raise Invalid("không có tệp danh sách nào")
    return sheets


def read_roster_file(name: str, data: bytes) -> list[RosterSheet]:
    """The roster tables of one file, told apart by content first and by its suffix second."""
    suffix = PurePath(name).suffix.lower()
    if data.startswith(ZIP_MAGIC):
        return _xlsx(name, data)
    if data.startswith(OLE_MAGIC) or suffix == ".xls":
        raise Invalid(f"{name}: tệp Excel 97-2003 (.xls) không được hỗ trợ; hãy lưu lại dưới dạng .xlsx")
    if suffix in XLSX_SUFFIXES:
        raise Invalid(f"{name}: tệp Excel bị hỏng, không đọc được")
    if suffix not in CSV_SUFFIXES:
        raise Invalid(f"{name}: chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv)")
    return [_csv(name, data)]


# -- CSV ---------------------------------------------------------------------------------------------
def _delimiter(text: str) -> str:
    """The separator of the header line: the one of , ; and tab it holds most of."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    return max(DELIMITERS, key=header.count)


def _csv(name: str, data: bytes) -> RosterSheet:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(f"{name}: tệp CSV không phải mã UTF-8; hãy lưu lại với kiểu «CSV UTF-8»") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text)))
    except csv.Error as e:
        raise Invalid(f"{name}: tệp CSV hỏng ({e})") from None
    kind = classify(None, rows)
    if kind is None:
        what = "tệp trống" if header_row(rows) is None else "không nhận ra danh sách đơn vị hay đảng viên (xem tên cột)"
        raise Invalid(f"{name}: {what}")
    return RosterSheet(kind, name, rows)


# -- Excel -------------------------------------------------------------------------------------------
def _cell(value: object) -> Cell:
    """An Excel value as text, or as a date: 12345 -> "12345", 1.5 -> "1.5", TRUE -> "true"."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rows(sheet: ReadOnlyWorksheet) -> list[list[Cell]]:
    sheet.reset_dimensions()  # read every row, whatever size the writing program declared
    return [[v if v is None or type(v) is str else _cell(v) for v in row] for row in sheet.values]


def _xlsx(name: str, data: bytes) -> list[RosterSheet]:
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError):
        raise Invalid(f"{name}: tệp Excel bị hỏng, không đọc được") from None
    try:
        tables = [(s.title, _rows(s)) for s in book.worksheets if isinstance(s, ReadOnlyWorksheet)]
    finally:
        book.close()
    tables = [(title, rows) for title, rows in tables if header_row(rows) is not None]
    sheets = [RosterSheet(kind, f"{name} › {title}", rows)
              for title, rows in tables if (kind := classify(title, rows)) is not None]
    if not sheets:
        what = "tệp trống" if not tables else "không trang nào là danh sách đơn vị hay đảng viên (xem tên trang, cột)"
        raise Invalid(f"{name}: {what}")
    return sheets
