"""The demo province: a realistic (fictional) provincial Party organisation with its study conference.

`province()` is pure and deterministic for a seed: the unit tree (province → 11 committees → about
100 grassroots organisations → about 400 cells), `members` persons with Vietnamese names, one
conference and its halls (điểm cầu). `seed()` writes all of it into an empty, migrated database
through the store, plus a handful of demo accounts (only those get an Argon2 password hash, which is
the slow part of an account).
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from conference import tables as t
from conference.accounts import Role
from conference.conferences import ConferenceMode, Session, new_conference, new_session
from conference.errors import Conflict
from conference.halls import Channel, HallRole, Invitation, new_hall
from conference.passwords import Passwords
from conference.people import MemberType, Person, new_person
from conference.service import ConferenceService
from conference.store import ConferenceStore
from conference.text import clean, fold, thousands
from conference.units import Unit, UnitType, new_unit

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DEMO_PASSWORD = "hoinghi-demo"
ADMIN_USERNAME = "quantri"

PROVINCE_CODE = "QT"
PROVINCE_NAME = "Đảng bộ tỉnh Quảng Trị"
CONFERENCE_TITLE = "Hội nghị học tập, quán triệt Chuyên đề năm 2026"
CONFERENCE_TOPIC = (
    "Chuyên đề năm 2026: Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh về xây dựng "
    "Đảng bộ tỉnh trong sạch, vững mạnh, đáp ứng yêu cầu nhiệm vụ trong giai đoạn mới"
)

# -- the province as data ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _District:
    kind: str  # huyện, thị xã, thành phố
    name: str
    committee: str  # Huyện ủy, Thị ủy, Thành ủy
    communes: tuple[tuple[str, str], ...]  # (xã / phường / thị trấn, name)
    highland: bool = False

    @property
    def title(self) -> str:
        return f"{self.kind} {self.name}"


def _xa(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(("xã", n) for n in names)


def _phuong(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(("phường", n) for n in names)


def _tt(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple(("thị trấn", n) for n in names)


DISTRICTS: tuple[_District, ...] = (
    _District("thành phố", "Đông Hà", "Thành ủy",
              _phuong("1", "2", "3", "4", "5", "Đông Giang", "Đông Lễ", "Đông Lương", "Đông Thanh")),
    _District("thị xã", "Quảng Trị", "Thị ủy", _phuong("1", "2", "3", "An Đôn") + _xa("Hải Lệ")),
    _District("huyện", "Vĩnh Linh", "Huyện ủy",
              _tt("Hồ Xá", "Cửa Tùng") + _xa("Vĩnh Thái", "Vĩnh Tú", "Vĩnh Chấp", "Vĩnh Nam", "Vĩnh Hòa",
                                           "Vĩnh Thủy", "Vĩnh Lâm", "Vĩnh Sơn", "Vĩnh Giang", "Kim Thạch")),
    _District("huyện", "Gio Linh", "Huyện ủy",
              _tt("Gio Linh", "Cửa Việt") + _xa("Gio Mỹ", "Gio Hải", "Gio Quang", "Gio An", "Gio Sơn",
                                              "Gio Mai", "Gio Việt", "Linh Trường", "Trung Giang")),
    _District("huyện", "Cam Lộ", "Huyện ủy",
              _tt("Cam Lộ") + _xa("Cam Tuyền", "Cam Thành", "Cam Chính", "Cam Nghĩa", "Cam Hiếu", "Cam Thủy")),
    _District("huyện", "Triệu Phong", "Huyện ủy",
              _tt("Ái Tử") + _xa("Triệu An", "Triệu Vân", "Triệu Phước", "Triệu Độ", "Triệu Trạch",
                                 "Triệu Thuận", "Triệu Đại", "Triệu Hòa", "Triệu Long", "Triệu Thành",
                                 "Triệu Giang")),
    _District("huyện", "Hải Lăng", "Huyện ủy",
              _tt("Diên Sanh") + _xa("Hải An", "Hải Ba", "Hải Quy", "Hải Quế", "Hải Hưng", "Hải Phú",
                                     "Hải Thượng", "Hải Dương", "Hải Định", "Hải Lâm")),
    _District("huyện", "Hướng Hóa", "Huyện ủy",
              _tt("Khe Sanh", "Lao Bảo") + _xa("Hướng Lập", "Hướng Việt", "Hướng Phùng", "Hướng Sơn",
                                             "Hướng Tân", "Tân Hợp", "Tân Thành", "Tân Long", "Húc", "Thuận"),
              highland=True),
)

# The agencies of a district (one grassroots organisation per district); the first cell leads.
DISTRICT_OFFICE_CELLS = ("Văn phòng {committee}", "Các ban xây dựng Đảng", "Ủy ban Mặt trận Tổ quốc và các đoàn thể",
                         "Văn phòng HĐND và UBND", "Phòng Giáo dục và Đào tạo", "Phòng Tài chính – Kế hoạch")


@dataclass(frozen=True)
class _Grassroots:
    name: str
    cells: tuple[str, ...] = ()  # empty: a "chi bộ cơ sở", whose members belong to it directly
    has_hall: bool = True


@dataclass(frozen=True)
class _Bloc:
    name: str
    hall: str
    leaders: tuple[str, ...]
    grassroots: tuple[_Grassroots, ...]


BLOCS: tuple[_Bloc, ...] = (
    _Bloc("Đảng bộ Khối các cơ quan tỉnh", "Điểm cầu Đảng bộ Khối các cơ quan tỉnh",
          ("Bí thư Đảng ủy Khối các cơ quan tỉnh", "Phó Bí thư Thường trực Đảng ủy Khối các cơ quan tỉnh"), (
              _Grassroots("Đảng bộ Văn phòng Tỉnh ủy", ("Lãnh đạo Văn phòng", "Phòng Tổng hợp",
                                                         "Phòng Hành chính – Lưu trữ", "Phòng Quản trị – Tài vụ")),
              _Grassroots("Đảng bộ Sở Giáo dục và Đào tạo", ("Văn phòng Sở", "Phòng Giáo dục Trung học",
                                                              "Phòng Tổ chức cán bộ")),
              _Grassroots("Đảng bộ Sở Y tế", ("Văn phòng Sở", "Phòng Nghiệp vụ Y", "Trung tâm Kiểm soát bệnh tật")),
              _Grassroots("Đảng bộ Sở Nông nghiệp và Môi trường", ("Văn phòng Sở", "Chi cục Thủy lợi",
                                                                    "Chi cục Kiểm lâm")),
              _Grassroots("Đảng bộ Trường Chính trị Lê Duẩn", ("Khoa Xây dựng Đảng", "Khoa Lý luận cơ sở",
                                                                "Phòng Tổ chức – Hành chính")),
              _Grassroots("Đảng bộ Bệnh viện Đa khoa tỉnh", ("Khối Nội", "Khối Ngoại", "Khối Cận lâm sàng",
                                                              "Phòng Hành chính – Quản trị")),
              _Grassroots("Chi bộ cơ sở Sở Tài chính"),
              _Grassroots("Chi bộ cơ sở Sở Tư pháp"),
              _Grassroots("Chi bộ cơ sở Sở Văn hóa, Thể thao và Du lịch"),
              _Grassroots("Chi bộ cơ sở Ban Tuyên giáo và Dân vận Tỉnh ủy"),
              _Grassroots("Chi bộ cơ sở Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh"),
              _Grassroots("Chi bộ cơ sở Báo và Phát thanh, Truyền hình Quảng Trị"),
          )),
    _Bloc("Đảng bộ Khối Doanh nghiệp tỉnh", "Điểm cầu Đảng bộ Khối Doanh nghiệp tỉnh",
          ("Bí thư Đảng ủy Khối Doanh nghiệp tỉnh", "Phó Bí thư Thường trực Đảng ủy Khối Doanh nghiệp tỉnh"), (
              _Grassroots("Đảng bộ Công ty Điện lực Quảng Trị", ("Văn phòng Công ty", "Điện lực Đông Hà",
                                                                  "Điện lực Vĩnh Linh", "Điện lực Hướng Hóa")),
              _Grassroots("Đảng bộ Công ty Cổ phần Nước sạch Quảng Trị", ("Văn phòng Công ty",
                                                                           "Xí nghiệp Nước Đông Hà")),
              _Grassroots("Đảng bộ Ngân hàng Nông nghiệp và Phát triển nông thôn Chi nhánh Quảng Trị",
                          ("Văn phòng Chi nhánh", "Chi nhánh Đông Hà")),
              _Grassroots("Chi bộ cơ sở Công ty TNHH MTV Lâm nghiệp Đường 9"),
              _Grassroots("Chi bộ cơ sở Bưu điện tỉnh Quảng Trị"),
              # small organisations follow the conference at their committee's hall
              _Grassroots("Chi bộ cơ sở Công ty Cổ phần Cảng Cửa Việt", has_hall=False),
              _Grassroots("Chi bộ cơ sở Công ty TNHH MTV Xổ số kiến thiết Quảng Trị", has_hall=False),
          )),
    _Bloc("Đảng bộ Quân sự tỉnh", "Điểm cầu Đảng bộ Quân sự tỉnh",
          ("Bí thư Đảng ủy Quân sự tỉnh", "Phó Bí thư Đảng ủy, Chỉ huy trưởng Bộ Chỉ huy Quân sự tỉnh"), (
              _Grassroots("Đảng bộ Cơ quan Bộ Chỉ huy Quân sự tỉnh", ("Phòng Tham mưu", "Phòng Chính trị",
                                                                       "Phòng Hậu cần – Kỹ thuật")),
              _Grassroots("Đảng bộ Trung đoàn 842", ("Cơ quan Trung đoàn", "Tiểu đoàn 1", "Tiểu đoàn 2")),
              _Grassroots("Đảng bộ Trường Quân sự tỉnh", ("Khoa Quân sự", "Khoa Chính trị")),
              _Grassroots("Chi bộ cơ sở Đại đội Trinh sát 21"),
          )),
)

LOWLAND_HAMLETS = (
    "An Xuân", "An Trung", "An Hưng", "Bích La", "Bích Khê", "Đại Hòa", "Phú Hội", "Phú Lễ", "Tân Mỹ",
    "Tân Định", "Hà Thượng", "Hà Trung", "Lâm Xuân", "Mai Xá", "Cát Sơn", "Long Hưng", "Xuân Mỹ", "Hưng Nhơn",
    "Thượng Phước", "Hội Yên", "Vân Hòa", "Phước Mỹ", "Trung Chỉ", "Nhan Biều", "Linh Chiểu", "Ba Du",
    "Duy Phiên", "Thâm Khê", "Hậu Kiên", "Đại Độ", "Kim Long", "Mỹ Chánh", "Văn Quỹ", "Câu Nhi", "Đâu Kênh",
    "Thuận Đầu", "Hội Kỳ", "Phương Lang", "Trà Lộc", "Xuân Lộc", "Tân Hòa", "Cam Vũ", "An Mỹ", "Phổ Lại",
    "Mộc Đức", "Hòa Bình", "Thạch Hãn", "Đông Dương", "Lệ Xuyên", "Phú Kinh", "Hà Lợi", "Diên Khánh",
    "Long Quang", "Đồng Bào", "Phước Lễ", "Thanh Lê", "Xuân Viên", "Tường Vân", "Nại Cửu", "Gia Độ",
    "Hải Chữ", "Lưỡng Kim", "Bến Đá", "Cổ Thành", "Tiên Mỹ", "Quy Thiện", "Mỹ Thủy", "Thâm Triều",
    "Đông Xuyên", "Hòa Lý", "Lâm Lang", "An Thái", "Tân Lương", "Hà Bắc", "Ngô Xá", "Hiền Lương",
    "Tùng Luật", "Di Loan", "Thủy Ba", "Đơn Duệ",
)
HIGHLAND_HAMLETS = (
    "Xa Bai", "Tà Rùng", "Xa Re", "Cu Vơ", "A Xóc", "Ka Tăng", "Húc Thượng", "Hoong", "Trằm", "Ruộng",
    "Xy La", "Ra Ty", "A Ho", "Tà Đủ", "Cha Lỳ", "Pa Tầng", "Ra Man", "Hướng Choa", "Klu", "Vây",
    "Tà Puồng", "Cựp", "Ka Reng", "A Rồng", "Pire", "Bù", "Tà Nua", "Sa Trầm",
)

# -- names --------------------------------------------------------------------------------------------

SURNAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0), ("Trần", 11.0), ("Lê", 9.5), ("Phạm", 7.0), ("Hoàng", 5.1), ("Phan", 4.5),
    ("Võ", 3.9), ("Đặng", 2.1), ("Bùi", 2.0), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1.0),
    ("Lý", 0.5), ("Trương", 1.0), ("Lương", 0.6), ("Đinh", 0.6), ("Mai", 0.5), ("Thái", 0.4), ("Cao", 0.4),
    ("Hà", 0.4), ("Đoàn", 0.5), ("Lâm", 0.3), ("Tôn Thất", 0.1),
)
MALE_MIDDLE: tuple[tuple[str, float], ...] = (
    ("Văn", 40.0), ("Hữu", 8.0), ("Đức", 8.0), ("Minh", 7.0), ("Quang", 6.0), ("Công", 5.0), ("Xuân", 5.0),
    ("Đình", 5.0), ("Ngọc", 4.0), ("Thanh", 4.0), ("Anh", 3.0), ("Tiến", 3.0), ("Trọng", 3.0), ("Viết", 3.0),
)
FEMALE_MIDDLE: tuple[tuple[str, float], ...] = (
    ("Thị", 48.0), ("Thị Thu", 5.0), ("Thị Kim", 4.0), ("Thị Minh", 3.0), ("Thị Hồng", 3.0),
    ("Thị Thanh", 3.0), ("Ngọc", 6.0), ("Thu", 6.0), ("Thanh", 5.0), ("Minh", 4.0), ("Hồng", 4.0),
    ("Kim", 4.0), ("Thùy", 4.0), ("Diệu", 2.0), ("Bích", 2.0), ("Mỹ", 3.0),
)
MALE_GIVEN = (
    "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Dương", "Đạt", "Đông", "Đức", "Giang", "Hải", "Hiếu",
    "Hoàng", "Hùng", "Huy", "Hưng", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Lộc", "Lợi", "Minh", "Nam",
    "Nghĩa", "Nhân", "Phong", "Phúc", "Quang", "Quân", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thịnh",
    "Toàn", "Trung", "Tuấn", "Tùng", "Việt", "Vinh", "Vũ", "Hòa", "Lực", "Thuận", "Chiến", "Hậu",
)
FEMALE_GIVEN = (
    "An", "Anh", "Bích", "Châu", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng",
    "Huệ", "Hương", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Oanh",
    "Phương", "Quyên", "Quỳnh", "Tâm", "Thảo", "Thanh", "Thu", "Thủy", "Trang", "Trinh", "Tuyết", "Vân", "Yến",
)
FEMALE_SHARE = 0.38


def _cumulative(pairs: Sequence[tuple[str, float]]) -> tuple[list[str], list[float]]:
    names, total, cum = [], 0.0, []
    for name, weight in pairs:
        names.append(name)
        total += weight
        cum.append(total)
    return names, cum


class _Names:
    """Vietnamese full names: weighted surnames, middle names by gender, given names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames = _cumulative(SURNAMES)
        highland = [(n, w * 12 if n == "Hồ" else w) for n, w in SURNAMES]  # Vân Kiều, Pa Kô families
        self.highland_surnames = _cumulative(highland)
        self.male = _cumulative(MALE_MIDDLE)
        self.female = _cumulative(FEMALE_MIDDLE)

    def __call__(self, highland: bool = False) -> str:
        rng = self.rng
        pop, cum = self.highland_surnames if highland else self.surnames
        surname = rng.choices(pop, cum_weights=cum)[0]
        if rng.random() < FEMALE_SHARE:
            mid_pop, mid_cum = self.female
            given = rng.choice(FEMALE_GIVEN)
        else:
            mid_pop, mid_cum = self.male
            given = rng.choice(MALE_GIVEN)
        middle = rng.choices(mid_pop, cum_weights=mid_cum)[0]
        return f"{surname} {middle} {given}"


# -- the pure result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoHall:
    """A hall of the demo conference, by its host unit's code."""

    unit_code: str
    name: str
    level: int  # 0 province, 1 committee, 2 grassroots
    role: HallRole
    channel: Channel
    chair: str
    technical_contact: str


@dataclass(frozen=True)
class DemoProvince:
    """Plain rows for `ConferenceStore.apply_roster`, and the conference to create on top of them."""

    seed: int
    units: tuple[Unit, ...]  # topologically ordered, parent ids unresolved (see parent_codes)
    parent_codes: dict[str, str | None]
    persons: tuple[tuple[Person, str], ...]  # each with its unit's code
    halls: tuple[DemoHall, ...]
    hall_of: dict[str, str]  # person code -> the unit code of the hall they are invited to
    conference_title: str
    conference_topic: str
    conference_mode: ConferenceMode
    organiser_code: str
    district_code: str  # the district whose organiser is a demo account
    hall_unit_code: str  # the grassroots hall whose chair and clerk are demo accounts
    participant_code: str  # the member behind the demo participant account
    unit_names: dict[str, str]  # unit code -> name

    def units_of(self, type: UnitType) -> list[Unit]:
        return [u for u in self.units if u.type is type]

    def hall(self, unit_code: str) -> DemoHall:
        return next(h for h in self.halls if h.unit_code == unit_code)


@dataclass
class _Draft:
    """A person while the province is being built (positions change before the record is frozen)."""

    name: str
    unit_code: str
    position: str
    member_type: MemberType = MemberType.FULL
    exempt: bool = False


ORDINARY = "Đảng viên"


def _cell_positions(count: int) -> list[str]:
    """Bí thư, Phó Bí thư and (from 9 members) chi ủy viên, the rest ordinary members."""
    top = ["Bí thư chi bộ", "Phó Bí thư chi bộ"]
    if count >= 30:
        top += ["Chi ủy viên"] * 3
    elif count >= 9:
        top += ["Chi ủy viên"]
    return [top[i] if i < len(top) else ORDINARY for i in range(count)]


def _place(kind: str, name: str) -> str:
    """'phường', '1' -> 'Phường 1'; 'xã', 'Gio Mỹ' -> 'xã Gio Mỹ'."""
    return f"{kind.capitalize()} {name}" if name.isdigit() else f"{kind} {name}"


def _short(name: str) -> str:
    for prefix in ("Chi bộ cơ sở ", "Đảng bộ "):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def province(seed: int = 2026, members: int = 70_000) -> DemoProvince:
    """The demo province, the same for the same seed and size. Pure: no I/O, no clock."""
    if members < 0:
        raise ValueError("members cannot be negative")
    rng = random.Random(seed)
    names = _Names(rng)

    units: list[Unit] = []
    parents: dict[str, str | None] = {}
    # member-holding units: code -> (kind of weight, highland)
    holders: dict[str, tuple[str, bool]] = {}
    cells_of: dict[str, list[str]] = {}  # a grassroots Đảng bộ -> its cells
    halls: list[tuple[str, str, HallRole, str]] = []  # unit code, name, role, channel class
    leaders: list[tuple[str, list[str], tuple[str, ...]]] = []  # unit, pool of cells, titles
    district_code = hall_unit_code = ""

    def add(code: str, name: str, type: UnitType, parent: str | None) -> str:
        units.append(new_unit(code, name, type, None))
        parents[code] = parent
        return code

    root = add(PROVINCE_CODE, PROVINCE_NAME, UnitType.PROVINCE, None)
    halls.append((root, "Điểm cầu chính – Hội trường Tỉnh ủy Quảng Trị", HallRole.HOST, "host"))

    for d_no, district in enumerate(DISTRICTS, 1):
        dcode = add(f"{root}.H{d_no:02d}", f"Đảng bộ {district.title}", UnitType.COMMITTEE, root)
        halls.append((dcode, f"Điểm cầu {district.title}", HallRole.PARTICIPATING, "committee"))
        if district.name == "Gio Linh":
            district_code = dcode
        for x_no, (kind, cname) in enumerate(district.communes, 1):
            place = _place(kind, cname)
            gcode = add(f"{dcode}.X{x_no:02d}", f"Đảng bộ {place}", UnitType.GRASSROOTS, dcode)
            if kind == "xã":
                hamlets = [f"thôn {h}" for h in rng.sample(
                    HIGHLAND_HAMLETS if district.highland else LOWLAND_HAMLETS, rng.randint(2, 4))]
                services = [f"Trường THCS {cname}", f"Trường Tiểu học {cname}", f"Trường Mầm non {cname}",
                            f"Trạm Y tế {place}", f"Quân sự {place}", f"Công an {place}"]
                extra = rng.sample(services, rng.randint(0, 2))
                channel = "highland" if district.highland else "commune"
                if not hall_unit_code and district.name == "Gio Linh":
                    hall_unit_code = gcode
            else:
                hamlets = [f"khu phố {n}" for n in range(1, rng.randint(3, 5) + 1)]
                extra = rng.sample([f"Trạm Y tế {place}", f"Quân sự {place}", f"Công an {place}"],
                                   rng.randint(0, 1))
                channel = "ward"
            cells = []
            for c_no, cell in enumerate([*hamlets, *extra], 1):
                ccode = add(f"{gcode}.C{c_no:02d}", f"Chi bộ {cell}", UnitType.CELL, gcode)
                holders[ccode] = ("resident" if c_no <= len(hamlets) else "service", district.highland)
                cells.append(ccode)
            cells_of[gcode] = cells
            halls.append((gcode, f"Điểm cầu {place}", HallRole.PARTICIPATING, channel))
        ocode = add(f"{dcode}.S01", f"Đảng bộ Các cơ quan {district.title}", UnitType.GRASSROOTS, dcode)
        halls.append((ocode, f"Điểm cầu Các cơ quan {district.title}", HallRole.PARTICIPATING, "office"))
        office_cells = []
        for c_no, cell in enumerate(DISTRICT_OFFICE_CELLS, 1):
            ccode = add(f"{ocode}.C{c_no:02d}", f"Chi bộ {cell.format(committee=district.committee)}",
                        UnitType.CELL, ocode)
            holders[ccode] = ("office", False)
            office_cells.append(ccode)
        cells_of[ocode] = office_cells
        cq = district.committee
        leaders.append((dcode, office_cells, (
            f"Bí thư {cq}", f"Phó Bí thư Thường trực {cq}", f"Phó Bí thư {cq}, Chủ tịch UBND {district.title}",
            f"Ủy viên Ban Thường vụ, Trưởng Ban Tuyên giáo và Dân vận {cq}")))

    for b_no, bloc in enumerate(BLOCS, 1):
        bcode = add(f"{root}.K{b_no:02d}", bloc.name, UnitType.COMMITTEE, root)
        halls.append((bcode, bloc.hall, HallRole.PARTICIPATING, "committee"))
        first_cells: list[str] = []
        for g_no, org in enumerate(bloc.grassroots, 1):
            gcode = add(f"{bcode}.S{g_no:02d}", org.name, UnitType.GRASSROOTS, bcode)
            if org.has_hall:
                halls.append((gcode, f"Điểm cầu {_short(org.name)}", HallRole.PARTICIPATING, "office"))
            if not org.cells:
                holders[gcode] = ("chibo", False)
                first_cells = first_cells or [gcode]
                continue
            cells = []
            for c_no, cell in enumerate(org.cells, 1):
                ccode = add(f"{gcode}.C{c_no:02d}", f"Chi bộ {cell}", UnitType.CELL, gcode)
                holders[ccode] = ("office", False)
                cells.append(ccode)
            cells_of[gcode] = cells
            if g_no == 1:
                first_cells = cells
        leaders.append((bcode, first_cells, bloc.leaders))
        if b_no == 1:  # the province's leaders sit in the first cells of the provincial agencies
            leaders.insert(0, (root, first_cells, (
                "Bí thư Tỉnh ủy", "Phó Bí thư Thường trực Tỉnh ủy", "Phó Bí thư Tỉnh ủy, Chủ tịch UBND tỉnh",
                "Ủy viên Ban Thường vụ, Trưởng Ban Tuyên giáo và Dân vận Tỉnh ủy")))
    for gcode, cells in cells_of.items():
        leaders.append((gcode, cells, ("Bí thư Đảng ủy", "Phó Bí thư Đảng ủy", "Đảng ủy viên", "Đảng ủy viên")))

    # -- members: spread over the member-holding units by a weight per kind ---------------------------
    n_guests = min(24, max(3, members // 2500), members // 10)
    regular = members - n_guests
    spans = {"resident": (1.0, 2.2), "service": (0.15, 0.4), "office": (0.3, 0.7), "chibo": (0.5, 1.2)}
    holder_codes = list(holders)
    weights = [rng.uniform(*spans[holders[c][0]]) for c in holder_codes]
    counts: Counter[str] = Counter()
    if regular >= len(holder_codes):
        counts.update(holder_codes)
        counts.update(rng.choices(holder_codes, weights=weights, k=regular - len(holder_codes)))
    else:
        counts.update(rng.choices(holder_codes, weights=weights, k=regular))

    drafts: list[_Draft] = []
    by_unit: dict[str, list[int]] = {}
    for code in holder_codes:
        highland = holders[code][1]
        start = len(drafts)
        drafts.extend(_Draft(names(highland), code, pos) for pos in _cell_positions(counts[code]))
        by_unit[code] = list(range(start, len(drafts)))

    # leaders of Đảng bộ, committees and the province: ordinary members of their leading cells
    heads: dict[str, tuple[str, str]] = {}  # unit code -> (name, title)
    for unit_code, pool, titles in leaders:
        candidates = (i for cell in pool for i in by_unit.get(cell, []) if drafts[i].position == ORDINARY)
        for title, i in zip(titles, candidates, strict=False):
            drafts[i].position = title
            heads.setdefault(unit_code, (drafts[i].name, title))
    for code, indices in by_unit.items():
        if indices and code not in heads:
            heads[code] = (drafts[indices[0]].name, drafts[indices[0]].position)

    ordinary = [i for i, d in enumerate(drafts) if d.position == ORDINARY]
    residents = [i for i in ordinary if holders[drafts[i].unit_code][0] == "resident"]
    for i in rng.sample(residents, min(len(residents), round(regular * 0.02))):
        drafts[i].exempt = True  # miễn sinh hoạt: elderly members
    active = [i for i in ordinary if not drafts[i].exempt]
    for i in rng.sample(active, min(len(active), round(regular * 0.03))):
        drafts[i].member_type = MemberType.PROBATIONARY
        drafts[i].position = "Đảng viên dự bị"

    persons: list[tuple[Person, str]] = [
        (new_person(f"{PROVINCE_CODE}-{n:06d}", d.name, 0, d.position, d.member_type, d.exempt), d.unit_code)
        for n, d in enumerate(drafts, 1)]
    guest_places = [root] * 3 + [c for c, p in parents.items() if p == root]
    guest_roles = ("Đại diện Ủy ban Mặt trận Tổ quốc Việt Nam", "Đại diện Hội Cựu chiến binh",
                   "Đại diện Hội Liên hiệp Phụ nữ", "Đại diện Đoàn Thanh niên", "Phóng viên Báo Quảng Trị",
                   "Đại diện Hội Nông dân")
    for n in range(1, n_guests + 1):
        unit = guest_places[(n - 1) % len(guest_places)]
        persons.append((new_person(f"{PROVINCE_CODE}-KM{n:04d}", names(), 0,
                                   f"Khách mời – {rng.choice(guest_roles)}", MemberType.GUEST), unit))

    # -- halls: channels by kind of place, every channel present, chairs from the unit's leaders ------
    channel_weights = {
        "host": {Channel.TWO_WAY: 1.0}, "committee": {Channel.TWO_WAY: 1.0},
        "ward": {Channel.TWO_WAY: 1.0, Channel.RECEIVE_ONLY: 1.0},
        "commune": {Channel.RECEIVE_ONLY: 7.0, Channel.TWO_WAY: 2.0, Channel.BROADCAST: 1.0},
        "highland": {Channel.RECEIVE_ONLY: 4.0, Channel.BROADCAST: 5.0, Channel.TWO_WAY: 1.0},
        "office": {Channel.IN_PERSON: 5.0, Channel.RECEIVE_ONLY: 4.0, Channel.TWO_WAY: 1.0},
    }
    channels = []
    for _, _, _, kind in halls:
        options = channel_weights[kind]
        channels.append(rng.choices(list(options), weights=list(options.values()))[0])
    for missing in [c for c in Channel if c not in channels]:
        spare = next(i for i, c in enumerate(channels) if i > 11 and channels.count(c) > 1)
        channels[spare] = missing
    hall_names = Counter(name for _, name, _, _ in halls)
    demo_halls = []
    for (code, name, role, _), channel in zip(halls, channels, strict=True):
        if hall_names[name] > 1 or name[-1].isdigit():  # "Phường 1" exists in two towns
            name = f"{name}, {_short(next(u.name for u in units if u.code == parents[code]))}"
        head = heads.get(code)
        chair = f"{head[0]} – {head[1]}" if head else names()
        demo_halls.append(DemoHall(code, clean(name), code.count("."), role, channel, clean(chair), names()))

    with_hall = {h.unit_code for h in demo_halls}
    hall_unit: dict[str, str] = {}
    for code in parents:  # topological order: a parent is resolved before its children
        parent = parents[code]
        hall_unit[code] = code if code in with_hall or parent is None else hall_unit[parent]
    hall_of = {p.code: hall_unit[unit] for p, unit in persons}

    participant_code = next(
        (p.code for p, unit in persons if hall_unit[unit] == hall_unit_code and p.position == ORDINARY
         and p.member_type is MemberType.FULL and not p.exempt),
        persons[0][0].code if persons else "")
    return DemoProvince(
        seed=seed, units=tuple(units), parent_codes=parents, persons=tuple(persons), halls=tuple(demo_halls),
        hall_of=hall_of, conference_title=CONFERENCE_TITLE, conference_topic=CONFERENCE_TOPIC,
        conference_mode=ConferenceMode.PRESENTER, organiser_code=root, district_code=district_code,
        hall_unit_code=hall_unit_code, participant_code=participant_code,
        unit_names={u.code: u.name for u in units})


def demo_sessions(now: datetime, conference_id: int = 0) -> list[Session]:
    """Morning and afternoon of the day after `now` (Asia/Ho_Chi_Minh); check-in opens an hour before."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    day = now.astimezone(ZONE).date() + timedelta(days=1)

    def at(hour: int, minute: int) -> datetime:
        return datetime.combine(day, time(hour, minute), ZONE)

    return [
        new_session(conference_id, "Buổi sáng – Khai mạc, quán triệt Chuyên đề", at(7, 30), at(11, 30),
                    late_after_minutes=15),
        new_session(conference_id, "Buổi chiều – Thảo luận, liên hệ thực tiễn và bế mạc", at(13, 30), at(17, 0),
                    late_after_minutes=15),
    ]


# -- accounts -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoAccount:
    role: Role
    label: str  # the role in Vietnamese
    username: str
    password: str
    display_name: str
    sees: str  # what they see, in Vietnamese
    scope_code: str | None  # the unit their scope is rooted at (None: administrator)
    person_code: str | None = None


@dataclass(frozen=True)
class DemoAccounts:
    conference_id: int
    accounts: tuple[DemoAccount, ...]

    def __iter__(self) -> Iterator[DemoAccount]:
        return iter(self.accounts)

    def __len__(self) -> int:
        return len(self.accounts)

    def by_role(self, role: Role) -> list[DemoAccount]:
        return [a for a in self.accounts if a.role is role]

    def by_username(self, username: str) -> DemoAccount:
        return next(a for a in self.accounts if a.username == username)


def _slug(text: str) -> str:
    return "".join(ch for ch in fold(text) if ch.isalnum())


def account_plan(demo: DemoProvince) -> tuple[DemoAccount, ...]:
    """The demo accounts (pure): one per role worth showing, all with the same printable password."""
    district = demo.unit_names[demo.district_code].removeprefix("Đảng bộ ")
    district_name = district.removeprefix("huyện ").removeprefix("thị xã ").removeprefix("thành phố ")
    hall = demo.hall(demo.hall_unit_code)
    place = demo.unit_names[demo.hall_unit_code].removeprefix("Đảng bộ ")
    place_name = place.removeprefix("xã ").removeprefix("phường ").removeprefix("thị trấn ")
    participant = next(p for p, _ in demo.persons if p.code == demo.participant_code)
    n_members = sum(1 for p, _ in demo.persons if p.member_type is not MemberType.GUEST)
    in_district = sum(1 for h in demo.halls
                      if h.unit_code == demo.district_code or h.unit_code.startswith(demo.district_code + "."))
    committee = next(d.committee for d in DISTRICTS if d.title == district)
    chair_name = hall.chair.split(" – ")[0]
    pw = DEMO_PASSWORD
    return (
        DemoAccount(Role.ADMIN, "Quản trị hệ thống", ADMIN_USERNAME, pw, "Quản trị hệ thống",
                    "Toàn hệ thống: người dùng, thiết bị, đơn vị, nhật ký truy cập", None),
        DemoAccount(Role.ORGANISER, "Ban tổ chức cấp tỉnh", "bantochuc.tinh", pw,
                    "Ban Tuyên giáo và Dân vận Tỉnh ủy",
                    f"Toàn tỉnh: {len(demo.halls)} điểm cầu · {thousands(n_members)} đảng viên",
                    demo.organiser_code),
        DemoAccount(Role.ORGANISER, f"Ban tổ chức {district}", f"bantochuc.{_slug(district_name)}", pw,
                    f"Ban Tuyên giáo và Dân vận {committee} {district_name}",
                    f"Chỉ {district}: {in_district} điểm cầu và đảng viên của đảng bộ", demo.district_code),
        DemoAccount(Role.HALL_CLERK, "Thư ký / cán bộ kỹ thuật điểm cầu", f"thuky.{_slug(place_name)}", pw,
                    hall.technical_contact,
                    f"{hall.name}: quét mã, điểm danh thủ công, báo cáo số lượng, kiểm tra kỹ thuật",
                    demo.hall_unit_code),
        DemoAccount(Role.HALL_CHAIR, "Chủ trì điểm cầu", f"chutri.{_slug(place_name)}", pw, chair_name,
                    f"{hall.name}: tình hình điểm danh và xác nhận kết quả", demo.hall_unit_code),
        DemoAccount(Role.PARTICIPANT, "Đại biểu / đảng viên", "daibieu", pw, participant.full_name,
                    f"Mã QR của tôi, tài liệu hội nghị, gửi ý kiến – đề xuất ({hall.name})",
                    None, demo.participant_code),
    )


def banner(url: str, accounts: DemoAccounts | Sequence[DemoAccount] | None = None, members: int = 70_000,
           seed: int = 2026) -> str:
    """What the demo prints when it is ready: where to go and whom to sign in as.

    Without `accounts` (a demo database seeded earlier), the plan is recomputed for `members` and `seed`.
    """
    plan = list(accounts) if accounts is not None else list(account_plan(province(seed, members)))
    width_label = max(len(a.label) for a in plan)
    width_user = max(len(a.username) for a in plan)
    lines = [f"Hội nghị trực tuyến – bản demo đã sẵn sàng: {url}", "Tài khoản demo:"]
    lines += [f"  {a.label.ljust(width_label)}  {a.username.ljust(width_user)}  mật khẩu: {a.password}  ·  {a.sees}"
              for a in plan]
    return "\n".join(lines)


# -- writing it to a database -------------------------------------------------------------------------


async def is_seeded(engine: AsyncEngine) -> bool:
    """Whether the demo has been written completely (its administrator account is written last)."""
    async with engine.connect() as c:
        row = (await c.execute(select(t.users.c.id).where(t.users.c.username == ADMIN_USERNAME))).first()
        unit = (await c.execute(select(t.units.c.id).where(t.units.c.code == PROVINCE_CODE))).first()
    return row is not None and unit is not None


async def _is_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as c:
        for table in (t.units, t.persons, t.users, t.conferences):
            if (await c.execute(select(func.count()).select_from(table))).scalar_one():
                return False
    return True


async def seed(engine: AsyncEngine, passwords: Passwords, now: datetime, members: int = 70_000,
               seed: int = 2026) -> DemoAccounts:
    """Write the demo province, its conference and the demo accounts into an empty, migrated database."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    if not await _is_empty(engine):
        raise Conflict("the demo data goes only into an empty database")
    demo = province(seed, members)
    store = ConferenceStore(engine)
    digest = hashlib.sha256(f"hoinghi-demo:{seed}:{members}".encode()).hexdigest()
    await store.apply_roster(demo.units, [], demo.parent_codes, demo.persons, [],
                             {"sha256": digest, "filename": "demo (dữ liệu mẫu)", "imported_at": now,
                              "user_id": None})
    unit_ids = {u.code: u.id for u in await store.all_units()}
    conf = await store.add_conference(new_conference(demo.conference_title, demo.conference_topic,
                                                     demo.conference_mode, unit_ids[demo.organiser_code], now))
    for session in demo_sessions(now, conf.id):
        await store.add_session(session)
    hall_ids: dict[str, int] = {}
    for h in demo.halls:
        stored = await store.add_hall(new_hall(conf.id, unit_ids[h.unit_code], h.name, h.level, h.role,
                                               h.channel, h.chair, h.technical_contact))
        hall_ids[h.unit_code] = stored.id
    person_ids = await _person_ids(engine)
    await store.invite([Invitation(conf.id, person_ids[code], hall_ids[hall])
                        for code, hall in demo.hall_of.items()])

    service = ConferenceService(store, passwords, lambda: now)
    plan = account_plan(demo)
    for a in sorted(plan, key=lambda a: a.role is Role.ADMIN):  # the administrator last: is_seeded's mark
        await service.create_user(None, a.username, a.display_name, a.role, a.password,
                                  unit_ids[a.scope_code] if a.scope_code else None,
                                  person_ids[a.person_code] if a.person_code else None)
    return DemoAccounts(conf.id, plan)


async def _person_ids(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as c:
        return {r.code: r.id for r in await c.execute(select(t.persons.c.code, t.persons.c.id))}
