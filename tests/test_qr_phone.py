"""The kiosk's QR reader on phone screens as a camera sees them (scripts/bench/qr_phone.py: codes from
OpenCV's encoder, not the project's own, on a simulated phone): hard frames decode, the second passes
are what reads the glare, and a frame without a code gives nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from qr_phone import Shot, backdrop, phone_frame  # scripts/bench, as the benchmark runs it

from web.kiosk.vision import decode_gray, first_pass, qr_texts

TEXT = "HN1:" + "Qk3xZ9-_" * 12
HARD = {
    "glare across a dim screen": Shot(glare=2, gain=(0.25, 0.25), flare=(3.0, 3.0)),
    "dark mode": Shot(dark_mode=True, gain=(0.6, 0.6)),
    "JPEG 40 with sensor noise": Shot(noise=(15.0, 15.0), quality=(40, 40)),
    "tilted 40°": Shot(tilt=(40.0, 40.0)),
    "over-bright with flare": Shot(gain=(2.0, 2.0), flare=(120.0, 120.0)),
}


@pytest.mark.parametrize("condition", HARD)
@pytest.mark.parametrize("seed", [1, 2])
def test_a_hard_phone_frame_decodes(condition: str, seed: int) -> None:
    jpeg, module = phone_frame(TEXT, HARD[condition], 1280, 720, np.random.default_rng(seed))
    assert module >= 3
    assert qr_texts(jpeg) == [TEXT]


def test_the_second_passes_read_glare_the_first_pass_misses() -> None:
    """Frames of glare across a dim screen: the first pass alone misses most, the reader gets them."""
    frames = [decode_gray(phone_frame(TEXT, HARD["glare across a dim screen"], 1280, 720,
                                      np.random.default_rng(seed))[0]) for seed in range(4)]
    assert sum(first_pass(gray) == [TEXT] for gray in frames) <= 1
    assert all(qr_texts(cv2.imencode(".jpg", gray)[1].tobytes()) == [TEXT] for gray in frames)


def test_a_frame_without_a_code_gives_nothing() -> None:
    rng = np.random.default_rng(3)
    picture = np.clip(backdrop(1280, 720, rng) + rng.normal(0, 12, (720, 1280)), 0, 255).astype(np.uint8)
    assert qr_texts(cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 50])[1].tobytes()) == []
