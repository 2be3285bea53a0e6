"""Roster files in, row tables out: CSV (UTF-8, comma, semicolon or tab) and Excel .xlsx.

The thin I/O edge of `conference.roster`: it only turns bytes into `RosterSheet`s, recognising
which table holds units and which persons; every rule about the rows lives in the pure core.

Bounded before anything is kept: a file at most `FILE_MAX` bytes and `ROWS_MAX` rows (the first
`COLUMNS_MAX` columns of each row are read); an .xlsx is a zip archive, so its members are counted and
their unpacked sizes summed from the archive's directory before one is opened (a zip bomb is refused
there; a member that unpacks beyond its declared size fails its CRC and is refused as corrupt), and the
rows of its sheets are counted as they unpack, before the slow parse.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import PurePath
from typing import TypeVar

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

from conference.errors import Invalid
from conference.roster_sheets import Cell, RosterSheet, classify, header_row
from conference.text import thousands

RosterFile = tuple[str, bytes]  # file name (as uploaded or on disk) and content

ZIP_MAGIC = b"PK\x03\x04"  # .xlsx is a zip archive
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97-2003 .xls
XLSX_SUFFIXES = {".xlsx", ".xlsm"}
CSV_SUFFIXES = {".csv", ".txt"}
DELIMITERS = ",;\t"
FILE_MAX = 50 * 1024 * 1024  # one roster file as uploaded
ROWS_MAX = 250_000  # rows of one file, every sheet together (a province of 70.000 members is 70.000)
COLUMNS_MAX = 64  # the columns read of each row: the roster's are the first few
XLSX_UNPACKED_MAX = 256 * 1024 * 1024  # every member of the archive, unpacked
XLSX_MEMBERS_MAX = 1000
MB = 1024 * 1024
R = TypeVar("R")
SHEET = re.compile(r"xl/worksheets/[^/]+\.xml")
ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")  # <row …>, <x:row …>
ROW_TAG_MAX = 64  # longer than any match: a tag split between two chunks is counted once


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
    if len(data) > FILE_MAX:
        raise Invalid(f"{name}: tệp quá lớn ({len(data) / MB:.0f} MB; tối đa {FILE_MAX // MB} MB)")
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
        rows = _bounded(name, (row[:COLUMNS_MAX] for row in csv.reader(io.StringIO(text, newline=""),
                                                                         delimiter=_delimiter(text))))
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


def too_many_rows(name: str) -> str:
    return f"{name}: quá nhiều dòng (hơn {thousands(ROWS_MAX)} dòng); hãy chia thành nhiều tệp, không nhập gì"


def _bounded(name: str, rows: Iterable[R], before: int = 0) -> list[R]:
    """The rows, refused as soon as the file (`before` rows already read) passes `ROWS_MAX`."""
    kept: list[R] = []
    for row in rows:
        kept.append(row)
        if before + len(kept) > ROWS_MAX:
            raise Invalid(too_many_rows(name))
    return kept


def _rows(name: str, sheet: ReadOnlyWorksheet, before: int) -> list[list[Cell]]:
    sheet.reset_dimensions()  # read every row, whatever size the writing program declared
    return _bounded(name, ([v if v is None or type(v) is str else _cell(v) for v in row[:COLUMNS_MAX]]
                           for row in sheet.values), before)


def _check_archive(name: str, data: bytes) -> None:
    """Refuse an archive that would unpack too far, from its directory alone (nothing is unpacked), then one
    whose sheets hold too many rows, counted as they unpack (nothing is parsed)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Invalid(f"{name}: tệp Excel bị hỏng, không đọc được") from None
    with archive:
        _check_members(name, archive)


def _check_members(name: str, archive: zipfile.ZipFile) -> None:
    members = archive.infolist()
    try:
        unpacked = sum(m.file_size for m in members)
        if len(members) > XLSX_MEMBERS_MAX or unpacked > XLSX_UNPACKED_MAX:
            size = f"{thousands(round(unpacked / MB))} MB, {thousands(len(members))} phần"
            raise Invalid(f"{name}: tệp Excel giải nén ra quá lớn ({size}; tối đa {XLSX_UNPACKED_MAX // MB} MB, "
                          f"{thousands(XLSX_MEMBERS_MAX)} phần): có thể là tệp nén độc hại (zip bomb), không nhập gì")
        rows = sum(_count_rows(archive, m) for m in members if SHEET.fullmatch(m.filename))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise Invalid(f"{name}: tệp Excel bị hỏng, không đọc được") from None
    if rows > ROWS_MAX:
        raise Invalid(too_many_rows(name))


def _count_rows(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> int:
    """The `<row>` elements of a sheet, counted as it unpacks (C speed), before any is parsed."""
    count, tail, in_tail = 0, b"", 0
    with archive.open(member) as stream:
        while chunk := stream.read(1024 * 1024):
            data = tail + chunk  # a tag split between two chunks is whole here
            count += len(ROW_TAG.findall(data)) - in_tail  # those wholly in the tail were counted last time
            tail = data[-ROW_TAG_MAX:]
            in_tail = len(ROW_TAG.findall(tail))
    return count


def _xlsx(name: str, data: bytes) -> list[RosterSheet]:
    _check_archive(name, data)
    corrupt = (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError, EOFError)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except corrupt:
        raise Invalid(f"{name}: tệp Excel bị hỏng, không đọc được") from None
    tables: list[tuple[str, list[list[Cell]]]] = []
    try:
        for s in book.worksheets:
            if isinstance(s, ReadOnlyWorksheet):
                tables.append((s.title, _rows(name, s, sum(len(rows) for _, rows in tables))))
    except corrupt:  # a member unpacking beyond its declared size fails its CRC here
        raise Invalid(f"{name}: tệp Excel bị hỏng, không đọc được") from None
    finally:
        book.close()
    tables = [(title, rows) for title, rows in tables if header_row(rows) is not None]
    sheets = [RosterSheet(kind, f"{name} › {title}", rows)
              for title, rows in tables if (kind := classify(title, rows)) is not None]
    if not sheets:
        what = "tệp trống" if not tables else "không trang nào là danh sách đơn vị hay đảng viên (xem tên trang, cột)"
        raise Invalid(f"{name}: {what}")
    return sheets
