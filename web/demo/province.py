"""The demo province: a realistic (fictional) provincial Party organisation with its study conference.

`province()` is pure and deterministic for a seed: the unit tree (province → 11 committees → about
100 grassroots organisations → about 400 cells), `members` persons with Vietnamese names, one
conference and its halls (điểm cầu); `demo_sessions()` its two sessions, the first open for check-in
now. The places and names it draws from are data in `web.demo.places` and `web.demo.names`, the demo
accounts in `web.demo.accounts`; `web.demo.seeding` writes all of it into a database.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conference.conferences import ConferenceMode, Session, new_session
from conference.halls import Channel, HallRole
from conference.people import MemberType, Person, new_person
from conference.text import clean
from conference.units import Unit, UnitType, new_unit
from web.demo.names import Names
from web.demo.places import BLOCS, DISTRICT_OFFICE_CELLS, DISTRICTS, HIGHLAND_HAMLETS, LOWLAND_HAMLETS

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
    names = Names(rng)

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


SESSION_LEAD = timedelta(minutes=30)  # the first session starts this long after the demo does


def demo_sessions(now: datetime, conference_id: int = 0) -> list[Session]:
    """The conference's two sessions, built relative to `now` so that a demo can check people in at once:
    the first starts half an hour after `now` (on a 5-minute mark, Asia/Ho_Chi_Minh) with check-in open an
    hour before its start, so open now and nobody late yet; the second follows an hour and a half after the
    first ends."""
    if now.tzinfo is None:
        raise ValueError("now must carry a time zone")
    local = now.astimezone(ZONE).replace(second=0, microsecond=0)
    start = local - timedelta(minutes=local.minute % 5) + SESSION_LEAD
    afternoon = start + timedelta(hours=5, minutes=30)
    return [
        new_session(conference_id, "Phiên 1 – Khai mạc, quán triệt Chuyên đề", start, start + timedelta(hours=4),
                    late_after_minutes=15),
        new_session(conference_id, "Phiên 2 – Thảo luận, liên hệ thực tiễn và bế mạc", afternoon,
                    afternoon + timedelta(hours=3, minutes=30), late_after_minutes=15),
    ]
