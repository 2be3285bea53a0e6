"""The face service on SQLite and PostgreSQL: consent and enrolment, sealed templates, withdrawal in one
transaction, identification among a hall's invitees with its cache, retention."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from attendance import tables as t
from attendance.errors import InvalidRecord
from attendance.face_match import Decision, MatchReason
from attendance.face_service import (
    ConsentRequired,
    EnrolProblem,
    FaceRefused,
    FaceService,
    NotEnrolled,
    open_template,
    seal_template,
)
from attendance.faces import ConsentChannel
from attendance.keys import Sealer
from attendance.liveness import LivenessFailure, LivenessMode, LivenessPolicy, LivenessState
from attendance.store import FaceStore
from tests.faces_photos import GROUPS, PARTIAL, CachedEngine, analysed, photo

SESSION, HALL, OTHER_HALL = 7, 3, 4
OBAMA, BIDEN, KIT = 101, 102, 103


class Roster:
    def __init__(self) -> None:
        self.halls: dict[int, set[int]] = {HALL: {OBAMA, BIDEN}, OTHER_HALL: {KIT}}

    async def invitees(self, session_id: int, hall_id: int) -> Collection[int]:
        return frozenset(self.halls.get(hall_id, set()))


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def service(engine: AsyncEngine, clock: Clock | None = None, roster: Roster | None = None) -> FaceService:
    return FaceService(FaceStore(engine), CachedEngine(), Sealer("k" * 40), clock or Clock(), roster or Roster(),
                       liveness=LivenessPolicy(mode=LivenessMode.OFF), retention=timedelta(days=365))


async def test_enrol_seals_the_template_and_records_the_consent(engine: AsyncEngine, faces_dir: Path) -> None:
    faces = service(engine)
    done = await faces.enrol(OBAMA, photo(faces_dir / "obama" / "obama1.jpg"), ConsentChannel.HALL_OPERATOR, True)
    assert done.consent.active and done.consent.channel is ConsentChannel.HALL_OPERATOR and done.face_size >= 80
    status = await faces.status(OBAMA)
    assert status.consent == done.consent and status.enrolled_at == done.enrolled_at
    async with engine.connect() as c:
        row = (await c.execute(select(t.face_templates))).one()
    expected = analysed(faces_dir / "obama" / "obama1.jpg").faces[0].embedding
    assert expected is not None
    assert row.consent_id == done.consent.id and expected.astype("<f4").tobytes() not in row.ciphertext
    assert np.allclose(open_template(Sealer("k" * 40), OBAMA, row.ciphertext), expected)
    with pytest.raises(InvalidRecord):  # sealed for one person: opens as nobody else's
        open_template(Sealer("k" * 40), BIDEN, row.ciphertext)
    with pytest.raises(InvalidRecord):  # and only with this deployment's key
        open_template(Sealer("x" * 40), OBAMA, row.ciphertext)
    # enrolling again replaces the template and keeps the same consent
    again = await faces.enrol(OBAMA, photo(faces_dir / "obama" / "obama4.jpg"), ConsentChannel.HALL_OPERATOR, True)
    assert again.consent.id == done.consent.id
    async with engine.connect() as c:
        assert len((await c.execute(select(t.face_templates))).all()) == 1


async def test_unusable_pictures_are_refused_with_a_reason(engine: AsyncEngine, faces_dir: Path) -> None:
    faces = service(engine)
    kit = cv2.imdecode(np.frombuffer(photo(faces_dir / "kit_harington" / "kit2.jpg"), np.uint8), cv2.IMREAD_COLOR)
    tiny = cv2.imencode(".jpg", cv2.resize(kit, None, fx=0.35, fy=0.35))[1].tobytes()
    blank = cv2.imencode(".png", np.full((300, 300, 3), 90, np.uint8))[1].tobytes()
    cases = [
        (photo(faces_dir / GROUPS / "two_people.jpg"), EnrolProblem.SEVERAL_FACES),
        (photo(faces_dir / PARTIAL / "obama_partial1.jpg"), EnrolProblem.FACE_AT_EDGE),
        (tiny, EnrolProblem.FACE_TOO_SMALL),
        (blank, EnrolProblem.NO_FACE),
        (b"GIF89a not a picture we read", EnrolProblem.NOT_AN_IMAGE),
    ]
    for image, problem in cases:
        with pytest.raises(FaceRefused) as refused:
            await faces.enrol(KIT, image, ConsentChannel.HALL_OPERATOR, True)
        assert refused.value.problem is problem and refused.value.field == "image"
    with pytest.raises(ConsentRequired):
        await faces.enrol(KIT, photo(faces_dir / "kit_harington" / "kit1.jpg"), ConsentChannel.HALL_OPERATOR, False)
    with pytest.raises(InvalidRecord):
        await faces.enrol(KIT, photo(faces_dir / "kit_harington" / "kit1.jpg"), ConsentChannel.PAPER, True, "1999")
    assert (await faces.status(KIT)).consents == ()  # nothing recorded by a refusal


async def test_identify_among_the_halls_invitees_and_withdraw(engine: AsyncEngine, faces_dir: Path) -> None:
    roster = Roster()
    faces = service(engine, roster=roster)
    group = [photo(faces_dir / GROUPS / "obama_and_biden.jpg")]
    before = await faces.identify(SESSION, HALL, group)
    assert before.gallery_size == 0 and all(f.decision.reason is MatchReason.EMPTY_GALLERY for f in before.faces)
    for pid, file in ((OBAMA, "obama/obama1.jpg"), (BIDEN, "biden/biden1.jpg"), (KIT, "kit_harington/kit1.jpg")):
        await faces.enrol(pid, photo(faces_dir / file), ConsentChannel.PARTICIPANT_PAGE, True)
    found = await faces.identify(SESSION, HALL, group)  # the enrolments dropped the cached, empty gallery
    assert found.liveness is LivenessState.PASSED and found.gallery_size == 2  # Kit is invited elsewhere
    assert sorted((f.decision.decision, f.decision.person_id) for f in found.faces if f.decision.person_id) == [
        (Decision.ACCEPT, OBAMA), (Decision.ACCEPT, BIDEN)]
    assert len(found.faces) == 3
    # Kit is enrolled but not invited to this hall: never searched for here
    kit = await faces.identify(SESSION, HALL, [photo(faces_dir / "kit_harington" / "kit2.jpg")])
    assert kit.faces[0].decision.decision is Decision.REJECT and kit.faces[0].decision.person_id is None
    assert (await faces.identify(SESSION, OTHER_HALL, [photo(faces_dir / "kit_harington" / "kit2.jpg")])
            ).faces[0].decision.person_id == KIT
    # withdrawal: consent closed and template gone in one transaction
    withdrawn, deleted = await faces.withdraw(OBAMA)
    assert deleted and len(withdrawn) == 1 and withdrawn[0].withdrawn_at is not None
    status = await faces.status(OBAMA)
    assert status.enrolled_at is None and status.consent is None and status.consents[0].withdrawn_at is not None
    async with engine.connect() as c:
        assert (await c.execute(select(t.face_templates).where(t.face_templates.c.person_id == OBAMA))).first() is None
    after = await faces.identify(SESSION, HALL, group)
    assert OBAMA not in {f.decision.person_id for f in after.faces} and after.gallery_size == 1
    assert await faces.withdraw(OBAMA) == ([], False)


async def test_a_withdrawal_through_another_process_takes_effect_at_once(engine: AsyncEngine, faces_dir: Path
                                                                         ) -> None:
    here, elsewhere = service(engine), service(engine)
    await here.enrol(BIDEN, photo(faces_dir / "biden/biden1.jpg"), ConsentChannel.HALL_OPERATOR, True)
    probe = [photo(faces_dir / "biden/biden2.jpg")]
    assert (await here.identify(SESSION, HALL, probe)).faces[0].decision.person_id == BIDEN  # now cached here
    await elsewhere.withdraw(BIDEN)
    again = (await here.identify(SESSION, HALL, probe)).faces[0].decision
    assert again.decision is Decision.REJECT and again.person_id is None


async def test_verify_one_to_one_and_retention(engine: AsyncEngine, faces_dir: Path) -> None:
    clock = Clock()
    faces = service(engine, clock)
    with pytest.raises(NotEnrolled):
        await faces.verify(KIT, [photo(faces_dir / "kit_harington/kit2.jpg")])
    await faces.enrol(KIT, photo(faces_dir / "kit_harington/kit1.jpg"), ConsentChannel.PAPER, True)
    same = await faces.verify(KIT, [photo(faces_dir / "kit_harington/kit3.jpg")])
    assert same.verification is not None and same.verification.decision is Decision.ACCEPT
    other = await faces.verify(KIT, [photo(faces_dir / "rose_leslie/rose1.jpg")])
    assert other.verification is not None and other.verification.decision is Decision.REJECT
    clock.now += timedelta(days=364)
    assert await faces.purge_expired() == []
    clock.now += timedelta(days=2)
    assert await faces.purge_expired() == [KIT]
    status = await faces.status(KIT)
    assert status.enrolled_at is None and status.consent is not None  # the consent record stays; the template goes


async def test_liveness_needs_a_burst(engine: AsyncEngine, faces_dir: Path) -> None:
    faces = FaceService(FaceStore(engine), CachedEngine(), Sealer("k" * 40), Clock(), Roster())
    one = await faces.identify(SESSION, HALL, [photo(faces_dir / "obama/obama1.jpg")])
    assert one.liveness is LivenessState.FAILED and one.liveness_failure is LivenessFailure.TOO_FEW_FRAMES
    assert one.faces == ()


def test_templates_are_bound_to_their_person() -> None:
    sealer = Sealer("k" * 40)
    vector = np.linspace(-0.2, 0.2, 128, dtype=np.float32)
    sealed = seal_template(sealer, 5, vector)
    assert len(sealed) == 5 + 12 + 5 + 128 * 4 + 16 and vector.tobytes() not in sealed
    assert np.array_equal(open_template(sealer, 5, sealed), vector)
    assert seal_template(sealer, 5, vector) != sealed  # a fresh nonce every time


async def test_a_kiosk_stream_drops_frames_while_busy_and_follows_liveness(engine: AsyncEngine, faces_dir: Path
                                                                          ) -> None:
    faces = service(engine)
    await faces.enrol(OBAMA, photo(faces_dir / "obama/obama1.jpg"), ConsentChannel.HALL_OPERATOR, True)
    stream = faces.stream(SESSION, HALL)
    frame = photo(faces_dir / "obama/obama5-480p.jpg")
    first = asyncio.create_task(stream.push(frame, 0.0))
    await asyncio.sleep(0)
    assert stream.gate.busy and await stream.push(frame, 0.1) is None and stream.gate.skipped == 1
    found = await first
    assert found is not None and found.faces[0].decision.person_id == OBAMA

    live = FaceService(FaceStore(engine), CachedEngine(), Sealer("k" * 40), Clock(), Roster())
    held_up = live.stream(SESSION, HALL)
    for n in range(5):
        seen = await held_up.push(frame, n * 0.25)
        assert seen is not None and seen.liveness is LivenessState.OBSERVING and seen.faces == ()
    late = await held_up.push(frame, 9.0)  # the 8-second window is over: a still picture
    assert late is not None and late.liveness is LivenessState.FAILED
    assert late.liveness_failure is LivenessFailure.NO_MOVEMENT and late.faces == ()
    assert held_up.check.state is LivenessState.OBSERVING  # the next person starts afresh
