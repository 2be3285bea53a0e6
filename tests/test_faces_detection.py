"""The faster face pipeline on real photos (../shared/faces): the NumPy ResNet gives dlib's embedding, the
search at the minimum face size's scale (and on a scaled copy) finds the faces dlib's full-size upsampled
search finds, a followed face is found around its last box, and faces under the minimum are still
refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import dlib
import numpy as np
import numpy.typing as npt

from attendance.face_detection import REMEASURE, Box, box_of
from attendance.face_engine import EngineConfig, FaceProblem, _decode, _Models, analyse_image
from attendance.face_resnet import CHIP, PADDING
from tests.faces_photos import GROUPS, people, photo

CONFIG = EngineConfig(workers=0)


def pictures(faces_dir: Path) -> list[Path]:
    return [p for ps in people(faces_dir).values() for p in ps] + sorted((faces_dir / GROUPS).iterdir())


def centre_gap(a: Box, b: Box) -> float:
    return float(np.hypot(a.left + a.right - b.left - b.right, a.top + a.bottom - b.top - b.bottom) / 2)


def test_the_numpy_resnet_gives_dlibs_embedding(faces_dir: Path) -> None:
    models = _Models.get()
    dlib_encoder = models_dlib_encoder()
    for path in [ps[0] for ps in people(faces_dir).values()]:
        frame = _decode(photo(path), CONFIG.max_side)
        assert frame is not None
        rect = models.detector(frame.gray, 1)[0]
        shape = models.landmarks(frame.rgb, rect)
        ours = models.encoder.embed(dlib.get_face_chip(frame.rgb, shape, CHIP, PADDING))
        theirs = np.asarray(dlib_encoder.compute_face_descriptor(frame.rgb, shape, 1), dtype=np.float32)
        assert ours.shape == (128,) and ours.dtype == np.float32
        assert float(np.abs(ours - theirs).max()) < 1e-5, path.name


def models_dlib_encoder() -> Any:
    """dlib's own encoder of the same weights file (the engine no longer loads it)."""
    import face_recognition_models

    return dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())


def test_the_search_finds_the_faces_the_full_size_upsampled_search_finds(faces_dir: Path) -> None:
    """Every face of at least the minimum size that dlib finds with one upsample over the whole picture
    (the search before) is found, at the same place; nothing else of that size is found."""
    models = _Models.get()
    for path in pictures(faces_dir):
        frame = _decode(photo(path), CONFIG.max_side)
        assert frame is not None
        before = [b for b in map(box_of, models.detector(frame.gray, 1)) if b.width >= CONFIG.min_face]
        found = analyse_image(photo(path), CONFIG, encode=False)
        assert found is not None
        now = [f.box for f in found.faces if f.problem is not FaceProblem.TOO_SMALL]
        assert len(now) == len(before), path.name
        for old in before:
            box = min(now, key=lambda b, o=old: centre_gap(b, o))
            assert centre_gap(box, old) < 0.15 * old.width, path.name  # the same face
            assert 0.75 * old.width <= box.width <= 1.25 * old.width, path.name  # within a step of the pyramid


def test_a_scaled_copy_finds_the_same_boxes_scaled_back(faces_dir: Path) -> None:
    """A minimum of 160 pixels searches a copy at half the size: its boxes, scaled back, are within a few
    pixels of those found on the picture halved beforehand (minimum 80), doubled."""
    compared = 0
    for path in [ps[0] for ps in people(faces_dir).values()]:
        full = _decode(photo(path), CONFIG.max_side)
        assert full is not None
        height, width = full.gray.shape
        bgr = cv2.cvtColor(full.rgb, cv2.COLOR_RGB2BGR)
        halved = cv2.resize(bgr, (round(width / 2), round(height / 2)), interpolation=cv2.INTER_AREA)
        on_copy = analyse_image(bgr, EngineConfig(min_face=160, workers=0), encode=False)
        on_half = analyse_image(halved, CONFIG, encode=False)
        assert on_copy is not None and on_half is not None
        # faces near the minimum are measured again on a crop, at twice the scale (upsampled by dlib on the
        # halved picture, by OpenCV on the copy): the same face, but not to the pixel
        copy_faces = [f for f in on_copy.faces if f.size >= REMEASURE * 160]
        half_faces = [f for f in on_half.faces if f.size >= REMEASURE * 80]
        assert len(copy_faces) == len(half_faces), path.name
        compared += len(copy_faces)
        for a, b in zip(copy_faces, half_faces, strict=True):
            assert abs(a.box.left - 2 * b.box.left) <= 3 and abs(a.box.top - 2 * b.box.top) <= 3, path.name
            assert abs(a.box.width - 2 * b.box.width) <= 4, path.name
    assert compared >= 4


def test_a_followed_face_is_found_around_its_last_box(faces_dir: Path) -> None:
    path = people(faces_dir)["obama"][0]
    whole = analyse_image(photo(path), CONFIG, encode=True)
    assert whole is not None and len(whole.faces) == 1
    face = whole.faces[0]
    near = analyse_image(photo(path), CONFIG, encode=True, near=face.box)
    assert near is not None and len(near.faces) == 1
    # the same face, the detector's grid laid from the crop's corner: a few pixels apart
    followed = near.faces[0]
    assert centre_gap(followed.box, face.box) < 0.1 * face.size and abs(followed.size - face.size) < 0.1 * face.size
    assert followed.embedding is not None and face.embedding is not None
    assert float(np.linalg.norm(followed.embedding - face.embedding)) < 0.1  # the same photo (accept: 0.40)
    # the face gone from where it was (another corner): the whole frame is searched again
    elsewhere = Box(top=0, right=60, bottom=60, left=0)
    moved = analyse_image(photo(path), CONFIG, encode=False, near=elsewhere)
    assert moved is not None and [f.box for f in moved.faces] == [face.box]  # exactly the whole frame's search


def shrunk(image: npt.NDArray[np.uint8], face: int, target: int) -> npt.NDArray[np.uint8]:
    """`image` scaled so that a face `face` pixels across becomes `target`, on a grey 640×480 frame."""
    small = cv2.resize(image, None, fx=target / face, fy=target / face, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    h, w = min(480, small.shape[0]), min(640, small.shape[1])
    canvas[:h, :w] = small[:h, :w]
    return canvas


def test_faces_under_the_minimum_are_still_refused(faces_dir: Path) -> None:
    """Real faces scaled to 64 and 72 pixels (10 % and more under the 80-pixel minimum) are never
    compared, in a frame as a kiosk sends it; at 100 pixels they are. Rose's 77-pixel face beside Kit is
    reported too small, as before."""
    for name, paths in people(faces_dir).items():
        big = _decode(photo(paths[0]), CONFIG.max_side)
        assert big is not None
        first = analyse_image(photo(paths[0]), CONFIG, encode=False)
        assert first is not None
        bgr = cv2.cvtColor(big.rgb, cv2.COLOR_RGB2BGR)
        for target in (64, 72):
            found = analyse_image(shrunk(bgr, first.faces[0].size, target), CONFIG, encode=True)
            assert found is not None, name
            assert all(f.embedding is None and f.problem is FaceProblem.TOO_SMALL for f in found.faces), (name, target)
        found = analyse_image(shrunk(bgr, first.faces[0].size, 100), CONFIG, encode=True)
        assert found is not None and len(found.faces) == 1 and found.faces[0].embedding is not None, name
    group = analyse_image(photo(faces_dir / GROUPS / "kit_with_rose.jpg"), CONFIG, encode=True)
    assert group is not None and [f.problem for f in group.faces] == [None, FaceProblem.TOO_SMALL]
    assert group.faces[1].size < CONFIG.min_face and group.faces[1].embedding is None
