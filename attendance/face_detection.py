"""Where the faces of a picture are: dlib's HOG detector, searched at the scale the minimum face size
asks for, and around a face followed from the previous frame. Boxes are in the analysed picture's
pixels; `detector` is dlib's frontal face detector, loaded once per worker (`attendance.face_engine`).

The detector's window is 80 pixels: it finds faces from about that size up (a pyramid of copies, each
5/6 of the last). To find every face of at least `min_face` pixels the grayscale picture is searched at
80 / `min_face`: the picture itself for the default 80 (dlib's upsample searched a copy twice the size,
four times the cost, to find 40-pixel faces only to refuse them), a half-size copy for 160. A box of
that search is never under the window, whatever the face's size, so a face found under 1.3 × the
minimum is measured again around it at twice the scale, as finely as before: the minimum-size rule
itself (`EngineConfig.min_face`, in `face_engine._face`) is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

DETECTOR_WINDOW = 80  # pixels: dlib's HOG face detector's window
REMEASURE = 1.3  # a face found under this many times the minimum size is measured again at twice the scale
Gray = npt.NDArray[Any]  # 8-bit grayscale, H×W


@dataclass(frozen=True)
class Box:
    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


def box_of(rect: Any) -> Box:
    """A dlib rectangle as a Box."""
    return Box(rect.top(), rect.right(), rect.bottom(), rect.left())


def detection_scale(min_face: int) -> float:
    """The scale the grayscale picture is searched at: the smallest face worth comparing fills the window."""
    return DETECTOR_WINDOW / min_face


def _search(detector: Any, gray: Gray, scale: float, top: int = 0, left: int = 0) -> list[Any]:
    """One pass of the HOG detector over `gray` at `scale` (2: dlib's own upsample), its boxes mapped back
    into the analysed picture (offset by `top`, `left` for a crop)."""
    import dlib

    upsample = 1 if abs(scale - 2) < 0.01 else 0
    if upsample or abs(scale - 1) < 0.01:
        scale = 1.0  # dlib maps its upsampled boxes back itself
    else:
        height, width = gray.shape
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    found = detector(np.ascontiguousarray(gray), upsample)
    return [dlib.rectangle(round(r.left() / scale) + left, round(r.top() / scale) + top,
                           round(r.right() / scale) + left, round(r.bottom() / scale) + top) for r in found]


def _around(gray: Gray, box: Box) -> tuple[Gray, int, int] | None:
    """A crop twice the face's size around `box` (and where it starts), or None if almost nothing is left."""
    height, width = gray.shape
    pad = box.width // 2
    top, left = max(0, box.top - pad), max(0, box.left - pad)
    bottom, right = min(height, box.bottom + pad), min(width, box.right + pad)
    if bottom - top < 32 or right - left < 32:
        return None
    return gray[top:bottom, left:right], top, left


def _overlap(a: Any, b: Any) -> float:
    """Intersection over union of two dlib rectangles."""
    inter = a.intersect(b)
    shared = inter.area() if not inter.is_empty() else 0
    return float(shared / (a.area() + b.area() - shared))


def find(detector: Any, gray: Gray, min_face: int, top: int = 0, left: int = 0) -> list[Any]:
    """The faces of `gray` (a crop starting at `top`, `left`), largest first: one search at
    `detection_scale`, then each face near the minimum size measured again around it at twice that
    scale, as finely as dlib's upsample measured it (the coarse search's boxes are never under the
    detector's 80-pixel window, whatever the face's size)."""
    import dlib

    scale = detection_scale(min_face)
    out = []
    for rect in _search(detector, gray, scale):
        crop = _around(gray, box_of(rect)) if rect.width() < REMEASURE * min_face else None
        if crop is not None:
            again = [(_overlap(r, rect), r) for r in _search(detector, crop[0], 2 * scale, crop[1], crop[2])]
            best = max(again, key=lambda o: o[0], default=(0.0, rect))
            rect = best[1] if best[0] >= 0.5 else rect
        out.append(dlib.rectangle(rect.left() + left, rect.top() + top, rect.right() + left, rect.bottom() + top))
    return sorted(out, key=lambda r: -r.width())


def find_near(detector: Any, gray: Gray, min_face: int, box: Box) -> list[Any]:
    """Faces near `box` only, where the followed face was one frame earlier: a search of a crop twice the
    face's size (a fraction of a full search). Empty when the face moved out of the crop."""
    crop = _around(gray, box)
    return find(detector, crop[0], min_face, crop[1], crop[2]) if crop is not None else []
