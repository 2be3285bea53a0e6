"""The checkin bench's preparation: the demo province seeded with a session open for check-in, kiosks
enrolled over the halls in proportion to their invitees, and each kiosk's scans (fresh, repeated and
forged QR texts) with unique nonces."""

from __future__ import annotations

import argparse
import base64
import random
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from kiosk_load import Item, Kiosk

from attendance.credentials import LAYOUT, PREFIX
from conference.accounts import User
from conference.conferences import Session
from web.bootstrap import Services, build
from web.demo import province as demo_data
from web.demo import seeding
from web.demo.accounts import DemoAccounts
from web.settings import Settings


@dataclass
class Plan:
    session_id: int
    halls: int
    kiosks: list[Kiosk]
    warmup: list[Kiosk]
    timings: dict[str, float] = field(default_factory=dict)
    fresh: int = 0
    repeats: int = 0
    forged: int = 0
    notes: list[str] = field(default_factory=list)


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """`total` split in proportion to `weights`, in whole numbers that add up to `total`."""
    whole = sum(weights)
    if total <= 0 or whole <= 0:
        return [0] * len(weights)
    exact = [total * w / whole for w in weights]
    out = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - out[i], reverse=True)
    for i in order[:total - sum(out)]:
        out[i] += 1
    return out


def forge(text: str, rng: random.Random) -> str:
    """A valid-looking credential text whose signature no longer matches: flipped signature bytes."""
    body = text[len(PREFIX):]
    blob = bytearray(base64.b32decode(body + "=" * (-len(body) % 8)))
    for _ in range(3):
        blob[LAYOUT.size + rng.randrange(64)] ^= 0xFF
    return PREFIX + base64.b32encode(bytes(blob)).decode("ascii").rstrip("=")


async def seed_demo(svc: Services, members: int, title: str) -> tuple[User, DemoAccounts, Session]:
    """The demo province written into an empty database, and a session of its conference whose check-in
    is open now (it starts in 20 minutes): the administrator, the demo accounts, the session."""
    conference = svc.conference
    now = datetime.now(UTC)
    accounts = await seeding.seed(svc.engine, conference.passwords, now, members=members)
    conference.forget_units()
    found = await conference.store.user_with_hash(demo_data.ADMIN_USERNAME)
    assert found is not None
    session = await conference.add_session(found[0], accounts.conference_id, title, now + timedelta(minutes=20),
                                           now + timedelta(hours=4))
    return found[0], accounts, session


async def prepare(settings: Settings, args: argparse.Namespace, rng: random.Random) -> Plan:
    timings: dict[str, float] = {}
    mark = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        timings[name] = now - mark
        mark = now

    async with build(settings) as svc:  # migrates the new database (auto_migrate)
        lap("migrate")
        conference = svc.conference
        admin, accounts, session = await seed_demo(svc, args.members, "Phiên đo hiệu năng điểm danh")
        lap("seed province")
        conf_id = accounts.conference_id

        invited: dict[int, list[int]] = defaultdict(list)
        for inv in await conference.store.invitations_of(conf_id):
            invited[inv.hall_id].append(inv.person_id)
        everyone = sorted(p for people in invited.values() for p in people)
        live = await svc.credentials.current(everyone)
        lap("credentials")

        # kiosks: one per hall (while there are enough), the rest in proportion to the invitees
        halls = sorted((h for h in await conference.store.halls_of(conf_id) if invited.get(h.id)),
                       key=lambda h: (-len(invited[h.id]), h.id))
        sizes = [len(invited[h.id]) for h in halls]
        if args.kiosks >= len(halls):
            per_hall = [1 + n for n in largest_remainder(args.kiosks - len(halls), [float(s) for s in sizes])]
        else:
            per_hall = [1] * args.kiosks + [0] * (len(halls) - args.kiosks)
        kiosks: list[Kiosk] = []
        hall_kiosks: dict[int, list[Kiosk]] = {}
        for hall, count in zip(halls, per_hall, strict=True):
            hall_kiosks[hall.id] = []
            for _ in range(count):
                code, _ = await svc.devices.issue_enrolment_code(hall.id, admin.id)
                _, token = await svc.devices.enrol(code, f"Kiosk {len(kiosks) + 1} · {hall.name}")
                kiosk = Kiosk(len(kiosks), hall.id, token, [])
                kiosks.append(kiosk)
                hall_kiosks[hall.id].append(kiosk)
        lap("enrol kiosks")

        # the scans: fresh people of each covered hall in proportion to its size, split over its kiosks
        covered = [h for h in halls if hall_kiosks[h.id]]
        pools = {h.id: rng.sample(invited[h.id], len(invited[h.id])) for h in covered}
        warm_hall = covered[0].id
        warm_person = pools[warm_hall].pop()  # checked in during the warm-up, not measured
        repeats = round(args.checkins * args.repeats)
        forged = round(args.checkins * args.forged)
        fresh = args.checkins - repeats - forged
        available = sum(len(p) for p in pools.values())
        notes = []
        if fresh > available:
            notes.append(f"only {available} people at the kiosks' halls: {fresh - available} more repeats")
            repeats += fresh - available
            fresh = available
        quotas = largest_remainder(fresh, [float(len(pools[h.id])) for h in covered])
        fresh_of: dict[int, list[int]] = defaultdict(list)
        for hall, quota in zip(covered, quotas, strict=True):
            for n, person in enumerate(pools[hall.id][:quota]):
                ks = hall_kiosks[hall.id]
                fresh_of[ks[n % len(ks)].index].append(person)
        weights = [float(len(fresh_of[k.index])) for k in kiosks]
        rep_of = largest_remainder(repeats, weights)
        forged_of = largest_remainder(forged, weights)

        texts: dict[int, str] = {}

        async def text(person: int) -> str:
            if person not in texts:
                texts[person] = await svc.credentials.text(live[person])
            return texts[person]

        tag = secrets.token_hex(3)
        for kiosk in kiosks:
            people = fresh_of[kiosk.index]
            if not people:
                continue
            m = len(people)
            keyed: list[tuple[float, str, int]] = [(float(i), "fresh", p) for i, p in enumerate(people)]
            for _ in range(rep_of[kiosk.index]):
                i = rng.randrange(m)
                keyed.append((rng.uniform(i + 0.01, m), "repeat", people[i]))
            for _ in range(forged_of[kiosk.index]):
                keyed.append((rng.uniform(0, m), "forged", rng.choice(invited[kiosk.hall_id])))
            keyed.sort(key=lambda x: x[0])
            for seq, (_, kind, person) in enumerate(keyed):
                credential = await text(person)
                if kind == "forged":
                    credential = forge(credential, rng)
                kiosk.items.append(Item(kind, person, credential, f"bench-{tag}-{kiosk.index:04d}-{seq:06d}"))

        # warm-up (not measured): one forged scan per kiosk, and one real check-in
        warmup = [Kiosk(k.index, k.hall_id, k.token, [Item("forged", 0, forge(await text(
            rng.choice(invited[k.hall_id])), rng), f"warm-{tag}-{k.index:04d}")]) for k in kiosks]
        first = hall_kiosks[warm_hall][0]
        warmup.append(Kiosk(first.index, warm_hall, first.token,
                            [Item("fresh", warm_person, await text(warm_person), f"warm-{tag}-fresh")]))
        lap("scan plan (QR texts)")
    timings["prepare total"] = sum(timings.values())
    return Plan(session.id, len(halls), kiosks, warmup, timings, fresh, repeats, forged, notes)


