"""The shared face photos (../shared/faces, or HOINGHI_FACES_DIR), each read and analysed at most once
per test session: dlib takes ~0.1-0.5 s a photo, and the machine is shared. Never copy them into the
repository."""

from __future__ import annotations

import functools
import hashlib
import os
from datetime import UTC, datetime
from pathlib import Path

from attendance.face_calibration import CalibrationRecord, Sample, distributions, recommend
from attendance.face_detection import Box
from attendance.face_engine import EngineConfig, FaceEngine, FrameAnalysis, Image, analyse_image, load_models
from attendance.face_match import DEFAULT_CONFIRM_BAND

GROUPS = "groups"
PARTIAL = "partial"


def east_asian_dir(faces_dir: Path) -> Path:
    """The East Asian photos (HOINGHI_FACES_EAST_ASIAN_DIR, default beside ../shared/faces)."""
    return Path(os.environ.get("HOINGHI_FACES_EAST_ASIAN_DIR", faces_dir.parent / "faces-east-asian"))


def people(faces_dir: Path) -> dict[str, list[Path]]:
    """Each person's single-face photos, sorted: the first is the one enrolled."""
    return {d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            for d in sorted(faces_dir.iterdir()) if d.is_dir() and d.name not in (GROUPS, PARTIAL)}


@functools.cache
def photo(path: Path) -> bytes:
    return path.read_bytes()


@functools.cache
def _analysed(digest: str, data: bytes, min_face: int) -> FrameAnalysis:
    load_models()
    found = analyse_image(data, EngineConfig(min_face=min_face, workers=0), encode=True)
    assert found is not None
    return found


def analysed(image: Path | bytes, min_face: int = 80) -> FrameAnalysis:
    """The engine's analysis of a photo (with embeddings), computed once per session."""
    data = photo(image) if isinstance(image, Path) else image
    return _analysed(hashlib.sha256(data).hexdigest(), data, min_face)


class CachedEngine(FaceEngine):
    """The real engine, with single-picture analyses served from the session's cache: the same results
    dlib gives, without computing them again for every test and backend."""

    def __init__(self) -> None:
        super().__init__(EngineConfig(workers=0))

    async def analyse(self, image: Image, encode: bool = True, near: Box | None = None) -> FrameAnalysis | None:
        if not isinstance(image, bytes) or near is not None:
            return await super().analyse(image, encode, near)
        try:
            return analysed(image, self.config.min_face)
        except AssertionError:
            return None


def calibration(faces_dir: Path, by: str = "Ban tổ chức (kiểm thử)", population: int = 50) -> CalibrationRecord:
    """A real calibration of these photos' people, computed as `hoinghi faces calibrate` does: tests of 1:N
    identification record it in their setup (1:N is refused until one is recorded)."""
    found = [Sample(name, face.embedding, path.name) for name, paths in people(faces_dir).items() for path in paths
             if len(faces := analysed(path).faces) == 1 and (face := faces[0]).embedding is not None]
    measured = distributions(found)
    return CalibrationRecord.of(recommend(measured, DEFAULT_CONFIRM_BAND, population), measured,
                                len({s.person for s in found}), len(found), faces_dir.name, by, datetime.now(UTC))
