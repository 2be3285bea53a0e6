"""Face analysis with dlib and face_recognition's models: the adapter around the pure cores
`attendance.face_match` and `attendance.liveness`.

One frame is decoded with OpenCV (an encoded JPEG/PNG, or a raw BGR or grayscale frame from a
camera), scaled down when larger than `max_side`, searched for faces once with the HOG detector on
its grayscale copy, and each face found gets its 68 landmarks (on the RGB copy) and, when asked and
when it is large enough, its 128-d embedding: dlib's ResNet on the chip cut along those same
landmarks, run with NumPy (`attendance.face_resnet`, 4x faster than the BLAS-less dlib wheel).

Where the faces are is `attendance.face_detection` (at the scale the minimum face size asks for; a face
a kiosk follows is searched around its last place first, `near`). Nothing is ever written anywhere:
images live in memory for the length of one call.

The work runs in a process pool (dlib holds the GIL for the detection and the landmarks, which would
stall the event loop even from a thread), one OpenBLAS thread each, or with `workers=0` in one worker
thread (tests, tiny deployments). `FrameGate` lets a camera stream drop frames while one is being analysed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import os
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from attendance.errors import AttendanceError
from attendance.face_detection import Box, box_of, find, find_near
from attendance.face_match import Vector
from attendance.face_resnet import CHIP, PADDING, FaceResNet
from attendance.liveness import FaceMeasure, LivenessCheck, LivenessFailure, LivenessPolicy, LivenessState, measure

Image = bytes | npt.NDArray[np.uint8]  # an encoded picture, or a raw frame (H×W×3 BGR or H×W gray)
T = TypeVar("T")
MAX_PIXELS = 64_000_000  # the largest picture a worker decodes (a 48-megapixel phone photo fits)


class EngineUnavailable(AttendanceError):
    """The face analysis workers could not run (crashed or shut down); nothing was decided. Try again."""

    code = "face_engine_unavailable"


class FaceProblem(StrEnum):
    TOO_SMALL = "too_small"  # fewer pixels than `min_face`: not compared
    AT_EDGE = "at_edge"  # the face runs off the picture: part of it is hidden


@dataclass(frozen=True)
class EngineConfig:
    min_face: int = 80  # pixels across (the detector's box), in the analysed (possibly scaled) picture
    max_side: int = 1280  # larger pictures are scaled down before detection
    workers: int = 1  # processes; 0: one thread in this process
    edge_tolerance: float = 0.04  # a box may cross the picture's edge by this fraction of its width


@dataclass(frozen=True)
class FoundFace:
    box: Box  # in the analysed picture's pixels
    problem: FaceProblem | None
    measure: FaceMeasure
    embedding: Vector | None = None  # None when not asked for, or too small

    @property
    def size(self) -> int:
        return self.box.width


@dataclass(frozen=True)
class FrameAnalysis:
    width: int  # of the analysed picture
    height: int
    scale: float  # analysed size / original size
    faces: tuple[FoundFace, ...]  # largest first


@dataclass(frozen=True)
class BurstAnalysis:
    """A short sequence of frames of one person: the liveness verdict and, only when it passed, that
    person's face from the most frontal frame, encoded."""

    liveness: LivenessState
    failure: LivenessFailure | None
    frames: int  # frames analysed (the burst stops at the frame liveness passes on)
    face: FoundFace | None


# -- the worker side: plain functions, run in the pool -------------------------------------------
class _Models:
    loaded: _Models | None = None

    def __init__(self) -> None:
        import dlib

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # face_recognition_models imports pkg_resources
            import face_recognition_models

        self.detector: Any = dlib.get_frontal_face_detector()
        self.landmarks: Any = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
        self.encoder = FaceResNet(Path(face_recognition_models.face_recognition_model_location()))

    @classmethod
    def get(cls) -> _Models:
        if cls.loaded is None:
            cls.loaded = cls()
        return cls.loaded


def load_models() -> None:
    """Pool initializer: load dlib's models once per worker process."""
    _Models.get()


@dataclass
class _Frame:
    rgb: npt.NDArray[Any]
    gray: npt.NDArray[Any]
    scale: float


def _decode(image: Image, max_side: int) -> _Frame | None:
    if isinstance(image, bytes | bytearray | memoryview):
        try:
            bgr = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)  # EXIF orientation applied
        except cv2.error:  # e.g. more than MAX_PIXELS
            return None
        if bgr is None:
            return None
    else:
        bgr = np.asarray(image, dtype=np.uint8)
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        elif bgr.ndim != 3 or bgr.shape[2] != 3:
            return None
    height, width = bgr.shape[:2]
    if min(height, width) < 16:
        return None
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        bgr = cv2.resize(bgr, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return _Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), scale)


def _rect(box: Box) -> Any:
    import dlib

    return dlib.rectangle(box.left, box.top, box.right, box.bottom)


def _face(models: _Models, frame: _Frame, rect: Any, config: EngineConfig, encode: bool) -> FoundFace:
    box = box_of(rect)
    height, width = frame.gray.shape
    slack = config.edge_tolerance * box.width
    problem = None
    if box.width < config.min_face:
        problem = FaceProblem.TOO_SMALL
    elif box.left < -slack or box.top < -slack or box.right > width + slack or box.bottom > height + slack:
        problem = FaceProblem.AT_EDGE
    shape = models.landmarks(frame.rgb, rect)
    points = [(float(p.x), float(p.y)) for p in shape.parts()]
    embedding = None
    if encode and problem is not FaceProblem.TOO_SMALL:
        import dlib

        embedding = models.encoder.embed(dlib.get_face_chip(frame.rgb, shape, CHIP, PADDING))
    return FoundFace(box, problem, measure(points), embedding)


def _locate(models: _Models, frame: _Frame, config: EngineConfig, near: Box | None) -> list[Any]:
    """The faces around `near` when it is given and one is still there, else of the whole frame."""
    found = find_near(models.detector, frame.gray, config.min_face, near) if near is not None else []
    return found or find(models.detector, frame.gray, config.min_face)


def analyse_image(image: Image, config: EngineConfig, encode: bool, near: Box | None = None) -> FrameAnalysis | None:
    """Every face of one picture, largest first; None when it is not a picture. With `near` (a face
    followed from the previous frame), only the faces around it, unless it is gone."""
    models = _Models.get()
    frame = _decode(image, config.max_side)
    if frame is None:
        return None
    faces = tuple(_face(models, frame, r, config, encode) for r in _locate(models, frame, config, near))
    height, width = frame.gray.shape
    return FrameAnalysis(width, height, frame.scale, faces)


def follow(faces: Sequence[FoundFace], last: FoundFace | None) -> FoundFace | None:
    """The face a burst follows: the one nearest where it was, or at first the largest."""
    if not faces:
        return None
    if last is None:
        return faces[0]
    return min(faces, key=lambda f: (f.measure.cx - last.measure.cx) ** 2 + (f.measure.cy - last.measure.cy) ** 2)


def analyse_burst(frames: Sequence[Image], config: EngineConfig, policy: LivenessPolicy,
                  interval: float) -> BurstAnalysis | None:
    """Liveness over a few frames of one person (`interval` seconds apart), then that person's
    embedding from the most frontal frame, only if liveness passed. None when a frame is not a picture."""
    models = _Models.get()
    check = LivenessCheck(policy)
    seen: list[tuple[_Frame, Any, FoundFace]] = []
    last: FoundFace | None = None  # the face followed, as found in the previous frame (None: search it all)
    analysed = 0
    for n, image in enumerate(frames):
        frame = _decode(image, config.max_side)
        if frame is None:
            return None
        rects = _locate(models, frame, config, last.box if last is not None else None)
        faces = [_face(models, frame, r, config, encode=False) for r in rects]
        face = follow(faces, last)
        analysed += 1
        last = face
        if face is not None:
            seen.append((frame, rects[next(i for i, f in enumerate(faces) if f is face)], face))
        if check.feed(face.measure if face is not None else None, n * interval) is not LivenessState.OBSERVING:
            break
    state = check.finish()
    if state is not LivenessState.PASSED or not seen:
        return BurstAnalysis(state, check.failure, analysed, None)
    usable = [s for s in seen if s[2].problem is not FaceProblem.TOO_SMALL] or seen
    frame, rect, _ = min(reversed(usable), key=lambda s: abs(s[2].measure.yaw))
    return BurstAnalysis(state, None, analysed, _face(models, frame, rect, config, encode=True))


def encode_at(image: Image, config: EngineConfig, box: Box) -> Vector | None:
    """The embedding of the face already found at `box` (in the analysed picture): no second detection."""
    models = _Models.get()
    frame = _decode(image, config.max_side)
    if frame is None:
        return None
    return _face(models, frame, _rect(box), config, encode=True).embedding


# -- the async side ------------------------------------------------------------------------------
class FaceEngine:
    """The analyses, run off the event loop. Start lazily on first use; `close` in the lifespan."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self._executor: concurrent.futures.Executor | None = None

    def _pool(self) -> concurrent.futures.Executor:
        if self._executor is None:
            if self.config.workers > 0:
                # workers inherit it and read it when they import OpenCV: a small file claiming a huge picture
                # (a decompression bomb) is refused instead of allocating gigabytes
                os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_PIXELS))
                os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core per decision (the ResNet's products)
                self._executor = concurrent.futures.ProcessPoolExecutor(
                    self.config.workers, mp_context=multiprocessing.get_context("spawn"), initializer=load_models)
            else:
                self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="face")
        return self._executor

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool(), fn, *args)
        except concurrent.futures.BrokenExecutor:
            broken, self._executor = self._executor, None  # a crashed worker: start afresh next time
            if broken is not None:
                broken.shutdown(wait=False, cancel_futures=True)
            raise EngineUnavailable("face analysis is unavailable right now; try again") from None

    async def warm_up(self) -> None:
        """Start the workers and load the models now rather than on the first face."""
        await self._run(load_models)

    async def analyse(self, image: Image, encode: bool = True, near: Box | None = None) -> FrameAnalysis | None:
        return await self._run(analyse_image, image, self.config, encode, near)

    async def analyse_burst(self, frames: Sequence[Image], policy: LivenessPolicy,
                            interval: float = 0.2) -> BurstAnalysis | None:
        return await self._run(analyse_burst, list(frames), self.config, policy, interval)

    async def encode_at(self, image: Image, box: Box) -> Vector | None:
        return await self._run(encode_at, image, self.config, box)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, True, cancel_futures=True)


class FrameGate:
    """A camera's frames into the engine, one at a time: a frame offered while the previous one is still
    being analysed is skipped, so a live stream never queues up behind the detector."""

    def __init__(self) -> None:
        self.busy = False
        self.skipped = 0
        self.analysed = 0

    async def run(self, work: Callable[[], Awaitable[T]]) -> T | None:
        """`work()` if the gate is free (its result), or None at once when busy (the frame is dropped)."""
        if self.busy:
            self.skipped += 1
            return None
        self.busy = True
        try:
            return await work()
        finally:
            self.busy = False
            self.analysed += 1
