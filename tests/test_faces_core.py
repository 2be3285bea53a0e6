"""The pure face cores, without dlib or an event loop: gallery search, decisions, liveness."""

from __future__ import annotations

import math

import numpy as np
import pytest

from attendance.face_match import (
    DIM,
    Decision,
    Gallery,
    MatchPolicy,
    MatchReason,
    as_vector,
    decide,
    partial,
    verify,
)
from attendance.liveness import (
    FaceMeasure,
    LivenessCheck,
    LivenessFailure,
    LivenessMode,
    LivenessPolicy,
    LivenessState,
    measure,
)

RNG = np.random.default_rng(7)


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def toward(base: np.ndarray, distance: float) -> np.ndarray:
    """A vector exactly `distance` away from `base`."""
    step = unit(RNG.standard_normal(DIM))
    return (base + distance * step).astype(np.float32)


def test_search_matches_brute_force_and_reports_distinct_persons() -> None:
    templates = RNG.standard_normal((500, DIM)).astype(np.float32) * 0.1
    ids = [i // 2 for i in range(500)]  # two templates a person
    gallery = Gallery(ids, templates)
    for _ in range(20):
        probe = as_vector(RNG.standard_normal(DIM) * 0.1)
        brute = np.linalg.norm(templates - probe, axis=1)
        per_person = {}
        for pid, d in zip(ids, brute, strict=True):
            per_person[pid] = min(per_person.get(pid, math.inf), float(d))
        expected = sorted(per_person.items(), key=lambda kv: kv[1])[:2]
        found = gallery.nearest(probe, 2)
        assert [c.person_id for c in found] == [p for p, _ in expected]
        assert [c.distance for c in found] == pytest.approx([d for _, d in expected], abs=1e-4)


def test_one_person_filling_the_shortlist_still_finds_the_runner_up() -> None:
    base = unit(RNG.standard_normal(DIM))
    rows = [toward(base, 0.01 * (i + 1)) for i in range(40)] + [toward(base, 0.9)]
    gallery = Gallery([1] * 40 + [2], np.stack(rows))
    found = gallery.nearest(base, 2)
    assert [c.person_id for c in found] == [1, 2] and found[1].distance == pytest.approx(0.9, abs=1e-4)


def test_decisions() -> None:
    me, other = unit(RNG.standard_normal(DIM)), unit(RNG.standard_normal(DIM))
    gallery = Gallery([1, 2], np.stack([me, other]))
    policy = MatchPolicy(threshold=0.55, margin=0.08, confirm_band=0.07)
    accept = policy.decide(toward(me, 0.3), gallery)
    assert accept.decision is Decision.ACCEPT and accept.person_id == 1 and accept.reason is MatchReason.MATCH
    assert accept.distance == pytest.approx(0.3, abs=1e-4)
    borderline = policy.decide(toward(me, 0.58), gallery)
    assert borderline.decision is Decision.CONFIRM and borderline.reason is MatchReason.BORDERLINE
    stranger = policy.decide(toward(me, 0.7), gallery)
    assert stranger.decision is Decision.REJECT and stranger.person_id is None  # nobody is named to a stranger
    assert decide(me, Gallery([], np.zeros((0, DIM)))).reason is MatchReason.EMPTY_GALLERY
    # two people almost equally close: the evidence names neither, not even to the clerk
    twin = toward(me, 0.1)
    crowded = Gallery([1, 3], np.stack([me, twin]))
    probe = ((me + twin) / 2).astype(np.float32)
    ambiguous = policy.decide(probe, crowded)
    assert ambiguous.decision is Decision.REJECT and ambiguous.reason is MatchReason.AMBIGUOUS
    assert ambiguous.person_id is None
    # a borderline match that does not stand out by the margin is not shown either
    probe = toward(me, 0.58)
    near_other = Gallery([1, 4], np.stack([me, toward(probe, 0.62)]))
    assert policy.decide(probe, near_other).person_id is None
    # a face cut by the picture's edge is never accepted outright
    assert partial(accept).decision is Decision.CONFIRM and partial(accept).reason is MatchReason.PARTIAL
    assert partial(stranger) == stranger


def test_verify_one_to_one() -> None:
    me = unit(RNG.standard_normal(DIM))
    assert verify(toward(me, 0.2), me).decision is Decision.ACCEPT
    assert verify(toward(me, 0.48), me).decision is Decision.CONFIRM
    assert verify(toward(me, 0.8), me).decision is Decision.REJECT
    # its own threshold, apart from 1:N's
    policy = MatchPolicy(threshold=0.3, verify_threshold=0.5)
    assert policy.verify(toward(me, 0.45), me).decision is Decision.ACCEPT
    assert policy.decide(toward(me, 0.45), Gallery([1], me[None, :])).decision is Decision.REJECT


def test_bad_templates_are_refused() -> None:
    with pytest.raises(ValueError):
        as_vector([0.0] * 127)
    with pytest.raises(ValueError):
        as_vector([math.nan] * DIM)
    with pytest.raises(ValueError):
        Gallery([1, 2], np.zeros((1, DIM)))
    with pytest.raises(ValueError):
        MatchPolicy(threshold=0)


# -- liveness ---------------------------------------------------------------------------------------
def m(ear: float = 0.30, yaw: float = 0.0, aspect: float = 1.0, cx: float = 320, cy: float = 240,
      size: float = 150) -> FaceMeasure:
    return FaceMeasure(ear, yaw, aspect, cx, cy, size)


def run(policy: LivenessPolicy, frames: list[FaceMeasure | None], interval: float = 0.2) -> LivenessCheck:
    check = LivenessCheck(policy)
    for n, frame in enumerate(frames):
        check.feed(frame, n * interval)
    check.finish()
    return check


BLINK = LivenessPolicy(mode=LivenessMode.BLINK)
TURN = LivenessPolicy(mode=LivenessMode.TURN)
EITHER = LivenessPolicy()


def test_a_blink_passes() -> None:
    check = run(BLINK, [m(0.30), m(0.31), m(0.12), m(0.29)])
    assert check.state is LivenessState.PASSED and check.blinked


def test_a_head_turn_passes() -> None:
    check = run(TURN, [m(yaw=0.0), m(yaw=0.15), m(yaw=0.32)])
    assert check.state is LivenessState.PASSED and check.turned
    assert run(EITHER, [m(yaw=0.0), m(yaw=-0.2), m(yaw=0.1)]).state is LivenessState.PASSED
    assert run(LivenessPolicy(mode=LivenessMode.BLINK_AND_TURN),
               [m(yaw=0.0), m(yaw=0.3), m(yaw=0.3)]).state is LivenessState.FAILED


def test_a_still_photo_fails_repeated_shifted_or_zoomed() -> None:
    repeated = [m() for _ in range(10)]
    shifted = [m(ear=0.30 + 0.004 * (n % 3), yaw=0.01 * (n % 2), cx=320 + 6 * n, cy=240 - 3 * n,
                 size=150 * (1 + 0.02 * n)) for n in range(10)]
    for frames in (repeated, shifted):
        check = run(EITHER, list(frames))
        assert check.state is LivenessState.FAILED and check.failure is LivenessFailure.NO_MOVEMENT


def test_a_tilted_photo_does_not_fake_a_blink() -> None:
    """Tilting a photo back squashes the whole face: the eyes "close" but so does the face's shape."""
    frames = [m(0.30, aspect=1.0), m(0.30, aspect=1.0), m(0.18, aspect=0.6), m(0.30, aspect=1.0)]
    assert run(BLINK, frames).state is LivenessState.FAILED


def test_another_face_slipped_in_starts_over() -> None:
    """Eyes open in one photo, closed in another held in a different place: no blink."""
    frames = [m(0.30), m(0.30), m(0.10, cx=520), m(0.30, cx=520)]
    check = run(BLINK, frames)
    assert check.state is LivenessState.FAILED


def test_failures_say_why_and_time_runs_out() -> None:
    assert run(EITHER, [None, None]).failure is LivenessFailure.NO_FACE
    assert run(EITHER, [m(), None]).failure is LivenessFailure.TOO_FEW_FRAMES
    slow = LivenessCheck(BLINK)
    for n, ear in enumerate([0.30, 0.30, 0.30, 0.10, 0.30]):
        slow.feed(m(ear), n * 3.0)  # the blink comes after the 8-second window
    assert slow.state is LivenessState.FAILED
    assert LivenessCheck(LivenessPolicy(mode=LivenessMode.OFF)).state is LivenessState.PASSED
    empty_hall = LivenessCheck(BLINK)
    for n in range(100):  # a kiosk camera watching an empty hall: waiting, not failing
        assert empty_hall.feed(None, n * 1.0) is LivenessState.OBSERVING
    for n, ear in enumerate([0.30, 0.30, 0.10, 0.30]):
        empty_hall.feed(m(ear), 100 + n * 0.2)
    assert empty_hall.state is LivenessState.PASSED


def test_measure_from_landmarks_ignores_position_scale_and_roll() -> None:
    points = face_points()
    base = measure(points)
    assert 0.25 < base.ear < 0.35 and abs(base.yaw) < 0.01
    angle = math.radians(20)
    moved = [(2.0 * (x * math.cos(angle) - y * math.sin(angle)) + 100,
              2.0 * (x * math.sin(angle) + y * math.cos(angle)) + 50) for x, y in points]
    again = measure(moved)
    assert again.ear == pytest.approx(base.ear, abs=1e-6) and again.yaw == pytest.approx(base.yaw, abs=1e-6)
    assert again.aspect == pytest.approx(base.aspect, abs=1e-6) and again.size == pytest.approx(2 * base.size)
    closed = [(x, y if not 36 <= i <= 47 else (y + _eye_middle(points, i)) / 2 if i not in (36, 39, 42, 45) else y)
              for i, (x, y) in enumerate(points)]
    assert measure(closed).ear < base.ear * 0.6
    turned = [(x + (12 if i in (27, 28, 29, 30, 31, 32, 33, 34, 35) else 0), y) for i, (x, y) in enumerate(points)]
    assert measure(turned).yaw > 0.2
    squashed = [(x, y * 0.6) for x, y in points]  # a photo tilted back: all of it, not only the eyes
    assert measure(squashed).aspect == pytest.approx(base.aspect * 0.6, rel=1e-6)
    with pytest.raises(ValueError):
        measure(points[:5])


def _eye_middle(points: list[tuple[float, float]], i: int) -> float:
    eye = range(36, 42) if i < 42 else range(42, 48)
    return sum(points[j][1] for j in eye) / 6


def face_points() -> list[tuple[float, float]]:
    """A symmetric frontal face's 68 landmarks, face width 100."""
    pts: list[tuple[float, float]] = [(0.0, 0.0)] * 68
    for i in range(17):  # jaw from the right ear (image left) round the chin
        t = math.pi * i / 16
        pts[i] = (-50 * math.cos(t), 60 * math.sin(t))
    for i in range(5):
        pts[17 + i] = (-40 + 7 * i, -30.0)
        pts[22 + i] = (12 + 7 * i, -30.0)
    for i in range(4):
        pts[27 + i] = (0.0, -20 + 8 * i)
    for i in range(5):
        pts[31 + i] = (-8 + 4 * i, 16.0)
    for cx, base in ((-22.0, 36), (22.0, 42)):
        pts[base:base + 6] = [(cx - 10, -15), (cx - 4, -18), (cx + 4, -18), (cx + 10, -15), (cx + 4, -12),
                              (cx - 4, -12)]
    for i in range(20):
        t = 2 * math.pi * i / 20
        pts[48 + i] = (18 * math.cos(t), 35 + 6 * math.sin(t))
    return pts
