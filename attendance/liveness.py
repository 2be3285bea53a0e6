"""Liveness, the pure core: is a live person at the kiosk, or a photo held up to the camera?

A state machine fed one measurement per frame (taken from the 68 face landmarks by the adapter in
`attendance.face_engine`), with time passed in. It passes on a challenge a printed or on-screen
photo cannot perform:

- blink: the eye aspect ratio (EAR) dips well below the level seen with open eyes, while the rest of
  the face keeps its shape, then recovers;
- head turn: the horizontal position of the nose between the two sides of the face (yaw) sweeps
  far enough.

The measurements are ratios, so a photo moved, zoomed or rotated in the picture reads the same in
every frame and never passes. Tilting a photo squashes the whole face, not only the eyes: the face's
own aspect ratio gives that away, and yaw is measured along one axis only, which a photo turned
about its vertical axis leaves unchanged. A face that jumps between frames (another photo slipped
in) starts the challenge again. What it cannot catch: a video replayed on a screen, or a mask; see
docs/FACES.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

LANDMARKS = 68
_RIGHT_EYE = (36, 37, 38, 39, 40, 41)
_LEFT_EYE = (42, 43, 44, 45, 46, 47)
_JAW_RIGHT, _JAW_LEFT, _CHIN, _NOSE_TIP = 0, 16, 8, 30
_BROWS = (19, 24)


class LivenessMode(StrEnum):
    OFF = "off"
    BLINK = "blink"
    TURN = "turn"
    BLINK_OR_TURN = "blink_or_turn"
    BLINK_AND_TURN = "blink_and_turn"


class LivenessState(StrEnum):
    OBSERVING = "observing"
    PASSED = "passed"
    FAILED = "failed"


class LivenessFailure(StrEnum):
    NO_FACE = "no_face"
    TOO_FEW_FRAMES = "too_few_frames"
    NO_MOVEMENT = "no_movement"  # no blink, no turn: a still picture, or a person who did not respond


@dataclass(frozen=True)
class FaceMeasure:
    """One frame's face, as liveness sees it: ratios that do not change when a photo is moved or zoomed."""

    ear: float  # eye aspect ratio, mean of both eyes: about 0.25-0.35 open, under 0.15 closed
    yaw: float  # nose between the sides of the face: 0 frontal, about ±0.5 turned 30°
    aspect: float  # face height over width
    cx: float  # face centre and width in pixels: only to tell one face from the next
    cy: float
    size: float


@dataclass(frozen=True)
class LivenessPolicy:
    mode: LivenessMode = LivenessMode.BLINK_OR_TURN
    min_open_ear: float = 0.18  # eyes count as open above this
    blink_drop: float = 0.35  # closed: the EAR falls this fraction below its open level
    blink_recover: float = 0.85  # reopened: back to this fraction of the open level
    aspect_tolerance: float = 0.08  # how much the face's shape may change while the eyes close
    turn_range: float = 0.25  # how far yaw must sweep (about 15°)
    max_jump: float = 0.5  # the face moving more than this × its width between frames is another face
    max_scale_change: float = 0.3
    window: float = 8.0  # seconds to pass in
    min_frames: int = 3

    def __post_init__(self) -> None:
        if not (0 < self.blink_drop < 1 and 0 < self.blink_recover <= 1 and self.turn_range > 0
                and self.window > 0 and self.min_frames >= 1):
            raise ValueError("liveness policy out of range")


class LivenessCheck:
    """One challenge for one face. Call `feed` for each analysed frame, `finish` when a burst ends.

    With mode OFF it has passed from the start.
    """

    def __init__(self, policy: LivenessPolicy) -> None:
        self.policy = policy
        self.state = LivenessState.PASSED if policy.mode is LivenessMode.OFF else LivenessState.OBSERVING
        self.failure: LivenessFailure | None = None
        self.blinked = False
        self.turned = False
        self._started: float | None = None
        self._reset()

    def _reset(self) -> None:
        self.frames = 0
        self._last: FaceMeasure | None = None
        self._open: FaceMeasure | None = None  # the widest-open eyes seen: the blink's reference
        self._closed = False
        self._yaw_low = math.inf
        self._yaw_high = -math.inf
        self.blinked = self.turned = False

    def feed(self, measure: FaceMeasure | None, at: float) -> LivenessState:
        """One frame at time `at` (seconds); `measure` None when no face was found in it."""
        if self.state is not LivenessState.OBSERVING:
            return self.state
        if self._started is None and measure is not None:
            self._started = at  # the clock starts with the first face: an empty scene never fails
        if self._started is not None and at - self._started > self.policy.window:
            return self._fail()
        if measure is None:
            return self.state
        if self._last is not None and self._another_face(self._last, measure):
            self._reset()
        self._last = measure
        self.frames += 1
        self._watch_eyes(measure)
        self._yaw_low, self._yaw_high = min(self._yaw_low, measure.yaw), max(self._yaw_high, measure.yaw)
        self.turned = self._yaw_high - self._yaw_low >= self.policy.turn_range
        if self._done() and self.frames >= self.policy.min_frames:
            self.state = LivenessState.PASSED
        return self.state

    def finish(self) -> LivenessState:
        """No more frames are coming: a challenge not passed by now has failed."""
        if self.state is LivenessState.OBSERVING:
            self._fail()
        return self.state

    def _fail(self) -> LivenessState:
        self.state = LivenessState.FAILED
        if self.frames == 0:
            self.failure = LivenessFailure.NO_FACE
        elif self.frames < self.policy.min_frames:
            self.failure = LivenessFailure.TOO_FEW_FRAMES
        else:
            self.failure = LivenessFailure.NO_MOVEMENT
        return self.state

    def _another_face(self, last: FaceMeasure, now: FaceMeasure) -> bool:
        moved = math.hypot(now.cx - last.cx, now.cy - last.cy) > self.policy.max_jump * last.size
        rescaled = abs(now.size / last.size - 1) > self.policy.max_scale_change if last.size > 0 else True
        return moved or rescaled

    def _watch_eyes(self, m: FaceMeasure) -> None:
        p = self.policy
        ref = self._open
        if self._closed:
            if ref is not None and m.ear >= ref.ear * p.blink_recover:
                self.blinked = True
                self._closed = False
            return
        if m.ear >= p.min_open_ear and (ref is None or m.ear > ref.ear):
            self._open = m
            return
        if ref is not None and m.ear <= ref.ear * (1 - p.blink_drop) and \
                abs(m.aspect / ref.aspect - 1) <= p.aspect_tolerance:
            self._closed = True

    def _done(self) -> bool:
        mode = self.policy.mode
        if mode is LivenessMode.BLINK:
            return self.blinked
        if mode is LivenessMode.TURN:
            return self.turned
        if mode is LivenessMode.BLINK_AND_TURN:
            return self.blinked and self.turned
        return self.blinked or self.turned


def measure(points: Sequence[tuple[float, float]]) -> FaceMeasure:
    """The liveness measurement of one face from its 68 landmarks (iBUG 300-W order), in pixels.

    The points are first turned so the line between the eyes is level: a tilted head (roll) reads
    the same as an upright one.
    """
    if len(points) != LANDMARKS:
        raise ValueError(f"{LANDMARKS} landmarks expected, not {len(points)}")
    right, left = _centre(points, _RIGHT_EYE), _centre(points, _LEFT_EYE)
    angle = math.atan2(left[1] - right[1], left[0] - right[0])
    cos, sin = math.cos(-angle), math.sin(-angle)
    cx = sum(x for x, _ in points) / LANDMARKS
    cy = sum(y for _, y in points) / LANDMARKS
    level = [((x - cx) * cos - (y - cy) * sin, (x - cx) * sin + (y - cy) * cos) for x, y in points]
    ear = (_ear(level, _RIGHT_EYE) + _ear(level, _LEFT_EYE)) / 2
    width = level[_JAW_LEFT][0] - level[_JAW_RIGHT][0]
    nose = level[_NOSE_TIP][0]
    yaw = ((nose - level[_JAW_RIGHT][0]) - (level[_JAW_LEFT][0] - nose)) / width if width > 0 else 0.0
    brows = sum(level[i][1] for i in _BROWS) / len(_BROWS)
    aspect = (level[_CHIN][1] - brows) / width if width > 0 else 0.0
    return FaceMeasure(ear, yaw, aspect, cx, cy, max(width, 0.0))


def _centre(points: Sequence[tuple[float, float]], idx: tuple[int, ...]) -> tuple[float, float]:
    return sum(points[i][0] for i in idx) / len(idx), sum(points[i][1] for i in idx) / len(idx)


def _ear(p: Sequence[tuple[float, float]], eye: tuple[int, ...]) -> float:
    p1, p2, p3, p4, p5, p6 = (p[i] for i in eye)
    across = math.dist(p1, p4)
    return (math.dist(p2, p6) + math.dist(p3, p5)) / (2 * across) if across > 0 else 0.0
