"""The conference to play: the demo province in the deployment's database, a session whose check-in is
open, who arrives when at which kiosk, who watches from a browser, who is recognised by face.

Arrivals follow the way people come to a conference: a few early, most in the last 20 minutes before
it starts, some late (`KNOTS`, a density over conference minutes), compressed into `seconds` of real
time. Each arriving person scans their own QR credential (the real signed text) at a kiosk of the hall
they are invited to; a share of them scan twice, scan at another hall's kiosk, or show a forged code.
Participants watching from a browser are invited people who do not come in person; each has an
account (created through the conference service).
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate, pairwise
from pathlib import Path

from kiosk_load import Item
from scan_plan import forge, seed_demo

from attendance.face_calibration import CalibrationRecord, recommend
from conference.accounts import Role
from web.bootstrap import build
from web.demo import province as demo_data
from web.face_calibrate import measure
from web.settings import Settings

from .client import issued_session

# relative arrival density over conference minutes (0: the opening); 2/3 come in the last 20 minutes
KNOTS: tuple[tuple[float, float], ...] = ((-45, 0.1), (-30, 0.4), (-20, 1.0), (-10, 1.5), (-3, 1.6), (0, 1.2),
                                          (5, 0.0))
FACE_PEOPLE = ("alex_lacamoire", "biden", "kit_harington", "obama", "rose_leslie", "lin_manuel_miranda")
PARTICIPANT_PASSWORD = "hoinghi-tong-duyet"
EXPECTED_OUTCOME = {"fresh": "accepted", "wrong_hall": "accepted", "repeat": "repeat", "forged": "refused"}


@dataclass(frozen=True)
class Scan:
    due: float  # seconds after the arrivals begin
    item: Item


@dataclass
class KioskPlan:
    index: int
    hall_id: int
    name: str
    code: str  # the one-time enrolment code the kiosk spends at start-up
    scans: list[Scan] = field(default_factory=list)


@dataclass(frozen=True)
class ViewerPlan:
    person_id: int
    username: str
    join: float  # seconds after the arrivals begin
    cookie: str | None  # a session cookie of an earlier sign-in, or None: signs in through the page
    csrf: str | None


@dataclass(frozen=True)
class FacePlan:
    person_id: int
    name: str  # whose photos (a folder of the shared face photos)
    enrol_photo: Path
    probe_photo: Path
    due: float
    card: str = ""  # the person's QR text: shown instead when the camera does not know them


@dataclass(frozen=True)
class OfflinePlan:
    kiosk: KioskPlan
    items: list[Item]
    at: float  # when it comes back online and uploads, seconds after the arrivals begin
    span: float  # the scans' kiosk times spread over this many seconds before the upload
    wrong_hall: int  # items of people invited to another hall (accepted, flagged for review)


@dataclass(frozen=True)
class HallPlan:
    id: int
    name: str
    channel: str
    invited: int
    arriving: int
    kiosks: int


@dataclass
class Plan:
    session_id: int
    conference_id: int
    province_unit_id: int
    members: int
    expected: int  # invited, not exempt (the dashboards' "expected")
    halls: list[HallPlan]
    all_halls: int
    kiosks: list[KioskPlan]
    viewers: list[ViewerPlan]
    faces: list[FacePlan]
    face_kiosk: KioskPlan | None
    offline: OfflinePlan | None
    seconds: float  # the arrivals' span in real time
    peak_per_s: float
    schedule: dict[str, float]  # client-side faults: name -> seconds after the arrivals begin
    organiser: tuple[str, str]
    admin: tuple[str, str]
    kinds: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def topic(self) -> str:
        return f"session:{self.session_id}/unit:{self.province_unit_id}"


class Laps:
    """How long each step took, in seconds: `lap(name)` ends the step that began at the previous lap."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.mark = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = now - self.mark
        self.mark = now


# -- the arrival curve ------------------------------------------------------------------------------------
def _curve(points: int = 2000) -> tuple[list[float], list[float]]:
    """The cumulative distribution of KNOTS on a fine grid: (fraction of the span, share arrived)."""
    lo, hi = KNOTS[0][0], KNOTS[-1][0]
    xs = [lo + (hi - lo) * i / points for i in range(points + 1)]
    knot_x = [k[0] for k in KNOTS]

    def density(x: float) -> float:
        i = min(max(bisect.bisect_right(knot_x, x) - 1, 0), len(KNOTS) - 2)
        (a, wa), (b, wb) = KNOTS[i], KNOTS[i + 1]
        return wa + (wb - wa) * (x - a) / (b - a)

    steps = [(density(a) + density(b)) / 2 for a, b in pairwise(xs)]
    cdf = [0.0, *accumulate(steps)]
    return [(x - lo) / (hi - lo) for x in xs], [c / cdf[-1] for c in cdf]


def arrival_times(n: int, seconds: float, rng: random.Random) -> list[float]:
    """`n` arrival moments (seconds, sorted) drawn from the curve stretched over `seconds`."""
    frac, cdf = _curve()
    out = []
    for _ in range(n):
        u = rng.random()
        i = min(bisect.bisect_right(cdf, u), len(cdf) - 1)
        lo_c, hi_c = cdf[i - 1], cdf[i]
        t = frac[i - 1] + (frac[i] - frac[i - 1]) * ((u - lo_c) / (hi_c - lo_c) if hi_c > lo_c else 0.0)
        out.append(t * seconds)
    return sorted(out)


def peak_rate(n: int, seconds: float) -> float:
    """The arrivals per second at the curve's peak."""
    area = sum((wa + wb) / 2 * (b - a) for (a, wa), (b, wb) in pairwise(KNOTS))
    span = KNOTS[-1][0] - KNOTS[0][0]
    return n / seconds * max(w for _, w in KNOTS) * span / area


def interleave_channels(halls: list[HallPlan]) -> list[HallPlan]:
    """Halls in turn from each channel (in the demo's order within a channel): the first four cover all four."""
    by_channel: dict[str, list[HallPlan]] = defaultdict(list)
    for h in halls:
        by_channel[h.channel].append(h)
    queues = [by_channel[c] for c in sorted(by_channel, key=lambda c: -len(by_channel[c]))]
    out: list[HallPlan] = []
    while any(queues):
        for q in queues:
            if q:
                out.append(q.pop(0))
    return out


def face_photos(faces_dir: Path | None) -> list[tuple[str, Path, Path | None]]:
    """(person, photo to enrol, photo to show the kiosk or None) from the shared face photos."""
    if faces_dir is None or not faces_dir.is_dir():
        return []
    out = []
    for name in FACE_PEOPLE:
        photos = sorted(p for p in (faces_dir / name).glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if photos:
            out.append((name, photos[0], photos[1] if len(photos) > 1 else None))
    return out


# -- preparation ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sizes:
    members: int
    halls: int | None  # None: every hall
    people: int | None  # None: everyone invited to those halls who comes
    viewers: int
    sign_ins: int  # of the viewers, those who sign in through the page during the rehearsal
    seconds: float
    offline: int
    per_kiosk: int
    absent: float
    repeats: float
    forged: float
    wrong_hall: float
    seed: int


async def prepare(settings: Settings, sizes: Sizes, schedule: dict[str, float], faces_dir: Path | None) -> Plan:
    """Writes the province and everything the crowd needs into the (migrated, empty) database."""
    rng = random.Random(sizes.seed)
    laps = Laps()
    notes: list[str] = []
    async with build(settings) as svc:
        conference = svc.conference
        admin, accounts, session = await seed_demo(svc, sizes.members, "Phiên tổng duyệt – Khai mạc")
        laps.lap("seed the province")
        conf = await conference.store.get_conference(accounts.conference_id)
        invited: dict[int, list[int]] = defaultdict(list)
        for inv in await conference.store.invitations_of(conf.id):
            invited[inv.hall_id].append(inv.person_id)
        people = await conference.store.persons_by_ids([p for ps in invited.values() for p in ps])
        expected = sum(1 for p in people.values() if not p.exempt)
        halls = [HallPlan(h.id, h.name, h.channel.value, len(invited[h.id]), 0, 0)
                 for h in sorted(await conference.store.halls_of(conf.id), key=lambda h: h.id)]
        chosen = interleave_channels(halls)[:sizes.halls] if sizes.halls else halls
        chosen_ids = {h.id for h in chosen}

        # who watches from a browser (any hall), who comes in person (the chosen halls), who stays away
        everyone = sorted(people)
        viewers = rng.sample(everyone, min(sizes.viewers, len(everyone)))
        watching = set(viewers)
        pool = [p for h in chosen for p in invited[h.id] if p not in watching]
        rng.shuffle(pool)
        coming = pool[:round(len(pool) * (1 - sizes.absent))]
        if sizes.people is not None:
            if sizes.people > len(coming):
                notes.append(f"only {len(coming):,} people can come to the chosen halls (asked for {sizes.people:,})")
            coming = coming[:sizes.people]
        hall_of = {p: h for h, ps in invited.items() for p in ps}

        # the offline kiosk's queue: people of the busiest chosen hall first, then of others (wrong hall)
        offline_people: list[int] = []
        offline_hall = max(chosen, key=lambda h: sum(hall_of[p] == h.id for p in coming)).id
        if sizes.offline:
            own = [p for p in coming if hall_of[p] == offline_hall]
            offline_people = (own + [p for p in coming if hall_of[p] != offline_hall])[:sizes.offline]
            if len(offline_people) < sizes.offline:
                notes.append(f"the offline kiosk queues {len(offline_people):,} scans (asked for {sizes.offline:,})")
        # face check-ins: the shared photos' people, enrolled at one hall
        photos = face_photos(faces_dir)
        if faces_dir is not None and not photos:
            notes.append(f"no face photos in {faces_dir}: no face check-ins")
        taken = set(offline_people)
        face_hall = next((h.id for h in sorted(chosen, key=lambda h: -h.invited) if h.id != offline_hall), offline_hall)
        face_people = [p for p in coming if hall_of[p] == face_hall and p not in taken][:len(photos)]
        taken |= set(face_people)
        online = [p for p in coming if p not in taken]
        laps.lap("choose the crowd")

        creds = await svc.credentials.current(online + offline_people + face_people)
        texts = {p: await svc.credentials.text(c) for p, c in creds.items()}
        laps.lap("credentials (QR texts)")

        # kiosks: enough per hall for its arrivals, each with a one-time enrolment code
        arriving: dict[int, list[int]] = defaultdict(list)
        for p in online:
            arriving[hall_of[p]].append(p)
        kiosks: list[KioskPlan] = []
        hall_kiosks: dict[int, list[KioskPlan]] = {}
        plans = []
        for h in chosen:
            count = max(1, math.ceil(len(arriving[h.id]) / sizes.per_kiosk))
            hall_kiosks[h.id] = []
            for n in range(count):
                code, _ = await svc.devices.issue_enrolment_code(h.id, admin.id)
                kiosk = KioskPlan(len(kiosks), h.id, f"Kiosk {n + 1} · {h.name}", code)
                kiosks.append(kiosk)
                hall_kiosks[h.id].append(kiosk)
            plans.append(HallPlan(h.id, h.name, h.channel, h.invited, len(arriving[h.id]) + sum(
                hall_of[p] == h.id for p in taken), count))

        async def extra_kiosk(hall_id: int, name: str) -> KioskPlan:
            code, _ = await svc.devices.issue_enrolment_code(hall_id, admin.id)
            return KioskPlan(-1, hall_id, name, code)

        # the scans: each person at their due time, at a kiosk of their hall (a few at another hall's)
        tag = secrets.token_hex(3)
        due = arrival_times(len(online), sizes.seconds, rng)
        order = list(online)
        rng.shuffle(order)
        kinds: dict[str, int] = defaultdict(int)
        chosen_list = sorted(chosen_ids)
        for person, at in zip(order, due, strict=True):
            kind = "fresh"
            hall = hall_of[person]
            if len(chosen_list) > 1 and rng.random() < sizes.wrong_hall:
                kind, hall = "wrong_hall", rng.choice([h for h in chosen_list if h != hall])
            kiosk = rng.choice(hall_kiosks[hall])
            kiosk.scans.append(Scan(at, Item(kind, person, texts[person], "")))
            kinds[kind] += 1
            if rng.random() < sizes.repeats:  # scans again a little later, at the same kiosk
                kiosk.scans.append(Scan(min(at + rng.uniform(2, 30), sizes.seconds), Item("repeat", person,
                                                                                       texts[person], "")))
                kinds["repeat"] += 1
            if rng.random() < sizes.forged:  # someone shows a doctored code
                kiosk.scans.append(Scan(at, Item("forged", person, forge(texts[person], rng), "")))
                kinds["forged"] += 1
        for kiosk in kiosks:
            kiosk.scans.sort(key=lambda s: s.due)
            kiosk.scans = [Scan(s.due, Item(s.item.kind, s.item.person_id, s.item.credential,
                                            f"r-{tag}-{kiosk.index:04d}-{n:06d}"))
                           for n, s in enumerate(kiosk.scans)]
        laps.lap("scan plan")

        offline = None
        if offline_people:
            items = [Item("fresh" if hall_of[p] == offline_hall else "wrong_hall", p, texts[p], f"off-{tag}-{n:06d}")
                     for n, p in enumerate(offline_people)]
            offline = OfflinePlan(await extra_kiosk(offline_hall, "Kiosk mất mạng"), items, schedule["offline_kiosk"],
                                  600.0, sum(hall_of[p] != offline_hall for p in offline_people))
        face_kiosk = await extra_kiosk(face_hall, "Kiosk khuôn mặt") if face_people else None
        if face_people and faces_dir is not None:  # as a province would before 1:N face check-in (refused before)
            measured, names, found, _ = await asyncio.to_thread(measure, faces_dir, {"partial": "obama"})
            await svc.biometrics.record_calibration(CalibrationRecord.of(
                recommend(measured, settings.face_confirm_band, len(invited[face_hall])), measured, len(names),
                len(found), faces_dir.name, "Tổng duyệt (rehearsal)", datetime.now(UTC)))
            laps.lap("face calibration (the photos enrolled)")
        with_probe = [(p, ph) for p, ph in zip(face_people, photos, strict=False) if ph[2] is not None]
        faces = [FacePlan(p, name, enrol, probe or enrol, sizes.seconds * (0.2 + 0.6 * n / max(1, len(with_probe))),
                          texts.get(p, "")) for n, (p, (name, enrol, probe)) in enumerate(with_probe)]
        # a person of the gallery without a second photo is enrolled but never shown (a bigger gallery)
        faces += [FacePlan(p, name, enrol, enrol, -1.0) for p, (name, enrol, probe) in zip(face_people, photos,
                                                                                            strict=False)
                  if probe is None]

        # participants' accounts; most signed in before the rehearsal, `sign_ins` of them sign in during it
        joins = [t * 0.6 for t in arrival_times(len(viewers), sizes.seconds, rng)]
        signing_in = set(range(0, len(viewers), max(1, len(viewers) // sizes.sign_ins))[:sizes.sign_ins]) \
            if sizes.sign_ins else set()
        viewer_plans = []
        for n, (person, at) in enumerate(zip(viewers, joins, strict=True)):
            username = f"daibieu.{people[person].code.lower()}"
            user = await conference.create_user(None, username, people[person].full_name, Role.PARTICIPANT,
                                                PARTICIPANT_PASSWORD, None, person)
            cookie, csrf = (None, None) if n in signing_in else issued_session(settings.secret_key, user.id)
            viewer_plans.append(ViewerPlan(person, username, at, cookie, csrf))
        laps.lap("participants' accounts")
        organiser = next(a for a in accounts if a.role is Role.ORGANISER and a.scope_code == demo_data.PROVINCE_CODE)
    return Plan(
        session.id, conf.id, conf.organiser_unit_id, sizes.members, expected, plans, len(halls), kiosks,
        viewer_plans, faces, face_kiosk, offline, sizes.seconds, peak_rate(len(online), sizes.seconds), schedule,
        (organiser.username, organiser.password), (demo_data.ADMIN_USERNAME, demo_data.DEMO_PASSWORD), dict(kinds),
        laps.times, notes)
