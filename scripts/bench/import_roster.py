"""Benchmark: import a 70.000-person roster from one .xlsx file.

Generates a province (1 province, 11 committees, ~100 grassroots organisations, ~400 cells, 70.000
members with Vietnamese names) as an Excel file in a temporary directory, imports it into a fresh
database with the command-line progress bar, imports it a second time (which must write nothing),
and prints the timings, ending with `persons=<n> seconds=<float>` (the first import, generation aside).

    uv run python scripts/bench/import_roster.py [--persons 70000] [--database postgresql://…]

Without --database it uses a new SQLite file in the temporary directory; a given database should be
empty, or the import measures a diff rather than a load.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import openpyxl

from conference.importer import RosterImporter, text_progress_bar
from conference.store import ConferenceStore
from conference.text import thousands
from web.db import create_engine, upgrade

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
            "Ngô", "Dương", "Lý", "Đinh", "Trương", "Lương", "Mai"]
MIDDLE_MALE = ["Văn", "Hữu", "Đức", "Minh", "Quang", "Xuân", "Công", "Thành", "Đình", "Trọng"]
MIDDLE_FEMALE = ["Thị", "Thu", "Ngọc", "Thanh", "Hồng", "Kim", "Diệu", "Phương", "Mỹ", "Bích"]
GIVEN_MALE = ["An", "Bình", "Cường", "Dũng", "Đức", "Hải", "Hiếu", "Hùng", "Khánh", "Long", "Minh", "Nam",
              "Phúc", "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Vinh", "Lộc", "Tiến", "Hưng", "Đạt"]
GIVEN_FEMALE = ["Ánh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Nga",
                "Ngọc", "Nhung", "Phương", "Quỳnh", "Tâm", "Thảo", "Thủy", "Trang", "Vân", "Yến", "Huyền", "Oanh"]
COMMITTEES = ["Đảng bộ thành phố Đồng Hới", "Đảng bộ thị xã Ba Đồn", "Đảng bộ huyện Bố Trạch",
              "Đảng bộ huyện Quảng Trạch", "Đảng bộ huyện Tuyên Hóa", "Đảng bộ huyện Minh Hóa",
              "Đảng bộ huyện Quảng Ninh", "Đảng bộ huyện Lệ Thủy", "Đảng bộ Khối các cơ quan tỉnh",
              "Đảng bộ Khối Doanh nghiệp tỉnh", "Đảng bộ Quân sự tỉnh"]
COMMUNES = ["Hải Ninh", "Sen Thủy", "Phong Thủy", "Cam Thủy", "Hưng Thủy", "Mỹ Thủy", "Trường Sơn", "Hiền Ninh",
            "Lương Ninh", "Vạn Ninh", "Hoàn Lão", "Nhân Trạch", "Sơn Trạch", "Phúc Trạch", "Quảng Phú",
            "Quảng Hưng", "Đồng Lê", "Thanh Hóa", "Quy Đạt", "Hóa Tiến", "Bảo Ninh", "Đức Ninh", "Nghĩa Ninh"]
HAMLETS = ["Đông", "Tây", "Nam", "Bắc", "Thượng", "Trung", "Hạ", "Tân Hòa", "Phú Xuân", "An Lạc", "Xuân Hồi"]
POSITIONS = ["Bí thư chi bộ", "Phó Bí thư chi bộ", "Chi ủy viên"]


def _name(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_MALE)} {rng.choice(GIVEN_MALE)}"
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE_FEMALE)} {rng.choice(GIVEN_FEMALE)}"


def _units(rng: random.Random) -> list[tuple[str, str, str, str]]:
    """(code, name, type, parent code): 1 province, 11 committees, 9 grassroots each, about 4 cells each."""
    units = [("QB", "Đảng bộ tỉnh Quảng Bình", "Tỉnh", "")]
    for c, committee in enumerate(COMMITTEES, start=1):
        ccode = f"QB.{c:02d}"
        units.append((ccode, committee, "Huyện", "QB"))
        for g in range(1, 10):
            gcode = f"{ccode}.{g:02d}"
            units.append((gcode, f"Đảng bộ xã {rng.choice(COMMUNES)} {g}", "Cơ sở", ccode))
            units += [(f"{gcode}.{k:02d}", f"Chi bộ thôn {rng.choice(HAMLETS)} {k}", "Chi bộ", gcode)
                      for k in range(1, 4 + (g % 3 == 0) + 1)]
    return units


def generate(path: Path, persons: int, seed: int = 2026) -> None:
    """Write the roster workbook: sheet "Đơn vị" then sheet "Đảng viên", Vietnamese headers."""
    rng = random.Random(seed)
    units = _units(rng)
    cells = [code for code, _, kind, _ in units if kind == "Chi bộ"]
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Đơn vị")
    sheet.append(["Mã", "Tên đơn vị", "Loại", "Mã cấp trên", "Hiệu lực từ"])
    for code, name, kind, parent in units:
        sheet.append([code, name, kind, parent, "01/01/2020"])
    sheet = book.create_sheet("Đảng viên")
    sheet.append(["Mã", "Họ và tên", "Mã đơn vị", "Chức vụ", "Loại đảng viên", "Miễn sinh hoạt"])
    for i in range(persons):
        kind = "Dự bị" if rng.random() < 0.04 else "Chính thức"
        position = POSITIONS[i % 175] if i % 175 < len(POSITIONS) else ""
        sheet.append([f"DV{i:06d}", _name(rng), cells[i % len(cells)], position, kind,
                      "x" if rng.random() < 0.03 else ""])
    book.save(path)


async def bench(persons: int, database: str | None, workdir: Path) -> None:
    path = workdir / "danh-sach-dang-vien.xlsx"
    started = time.perf_counter()
    generate(path, persons)
    generated = time.perf_counter() - started

    engine = create_engine(database or f"sqlite:///{workdir / 'bench.db'}")
    await upgrade(engine)
    importer = RosterImporter(ConferenceStore(engine), lambda: datetime.now(UTC))
    try:
        started = time.perf_counter()
        prepared = await importer.prepare([path], None)
        written = time.perf_counter()
        counts = await importer.write(prepared, None, text_progress_bar(sys.stderr))
        write_seconds = time.perf_counter() - written
        total = time.perf_counter() - started

        started = time.perf_counter()
        again = await importer.import_files([path])
        repeat_seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    if again.changed_anything:
        raise SystemExit(f"the second import changed something: {again}")

    print(f"{'phase':<22}{'seconds':>10}")
    for phase, seconds in [("generate", generated), ("read", prepared.read_seconds),
                           ("validate", prepared.check_seconds), ("write", write_seconds),
                           ("import total", total), ("re-import (no-op)", repeat_seconds)]:
        print(f"{phase:<22}{seconds:>10.2f}")
    print(f"{thousands(counts.units_added)} đơn vị, {thousands(counts.persons_added)} đảng viên")
    print(f"persons={counts.persons_added} seconds={total:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=70_000)
    parser.add_argument("--database", help="database URL (default: a new SQLite file in a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-") as workdir:
        asyncio.run(bench(args.persons, args.database, Path(workdir)))


if __name__ == "__main__":
    main()
