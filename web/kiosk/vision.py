"""QR codes in a kiosk's camera frames: JPEG bytes in, code texts out.

Pure CPU work with no I/O and no clock, meant for a worker thread: OpenCV's JPEG decoder and
zxing-cpp both release the GIL, so frames of different kiosks are read in parallel and the event loop
never waits for one. `FramePool` is that bounded set of threads, built once in the lifespan.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

JPEG_MAGIC = b"\xff\xd8\xff"
MAX_SIDE = 1280  # larger pictures are scaled down before reading: bounded CPU per frame
MIN_SIDE = 64
T = TypeVar("T")
Gray = npt.NDArray[np.uint8]
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class BadFrame(ValueError):
    """Bytes that start like a JPEG picture but cannot be decoded as one (truncated, corrupted)."""


def looks_like_jpeg(data: bytes) -> bool:
    """A cheap check, on the event loop, before a frame is queued for decoding."""
    return data[:3] == JPEG_MAGIC


def decode_gray(jpeg: bytes) -> Gray:
    """The picture as 8-bit grayscale, scaled down to at most MAX_SIDE pixels; BadFrame otherwise."""
    gray = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is None:
        raise BadFrame("the frame is not a decodable JPEG picture")
    height, width = gray.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise BadFrame(f"the frame is smaller than {MIN_SIDE}×{MIN_SIDE} pixels")
    scale = MAX_SIDE / max(height, width)
    if scale < 1:
        gray = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray)


def first_pass(gray: Gray, try_rotate: bool = True) -> list[str]:
    """zxing-cpp on the picture as it is (its local-average binariser, rotations, inverted codes for dark
    mode, downscaled copies): enough for a clean frame, and all a clean frame costs."""
    found = zxingcpp.read_barcodes(gray, formats=QR_ONLY, try_rotate=try_rotate)
    return list(dict.fromkeys(r.text for r in found if r.valid and r.text))


def flattened(gray: Gray) -> Gray:
    """The picture minus its local mean (σ 4 px), contrast doubled: a glare streak's slope, a dim or
    over-bright screen and the screen's pixel grid flattened, the modules' edges kept."""
    return np.asarray(cv2.addWeighted(gray, 2.0, cv2.GaussianBlur(gray, (0, 0), 4), -2.0, 128), np.uint8)


def stretched(gray: Gray) -> Gray:
    """Each pixel placed between its neighbourhood's darkest and lightest (11 px, smoothed): the modules
    beside a glare streak and under it, where it does not clip, get the full range again."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (11, 11))
    low = cv2.GaussianBlur(cv2.erode(gray, kernel), (0, 0), 5).astype(np.float32)
    high = cv2.GaussianBlur(cv2.dilate(gray, kernel), (0, 0), 5).astype(np.float32)
    return np.asarray(np.clip((gray - low) / np.maximum(high - low, 8) * 255, 0, 255), np.uint8)


def thresholded(gray: Gray) -> Gray:
    """Black and white by each pixel's Gaussian neighbourhood (31 px): another binarisation than zxing's."""
    return np.asarray(cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, 31, 5),
                      np.uint8)


def enlarged(gray: Gray) -> Gray:
    """A 1.5× copy of the flattened picture: small modules under glare get more pixels to be binarised."""
    return np.asarray(cv2.resize(flattened(gray), None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC), np.uint8)


SECOND_PASSES: tuple[Callable[[Gray], Gray], ...] = (flattened, stretched, thresholded, enlarged)


def read_qr(gray: Gray) -> list[str]:
    """The texts of the QR codes in a grayscale picture, each once, in the order found. The second passes
    (phone screens under glare, dim or over-bright, noisy) run only when the first finds nothing, in
    order, until one finds a code."""
    texts = first_pass(gray)
    for prepare in SECOND_PASSES:
        if texts:
            break
        texts = first_pass(np.ascontiguousarray(prepare(gray)), try_rotate=False)  # QR finders turn anyway
    return texts


def qr_texts(jpeg: bytes) -> list[str]:
    """A camera frame's QR codes: what a worker thread runs for each frame."""
    return read_qr(decode_gray(jpeg))


class FramePool:
    """Worker threads for camera frames, shared by every kiosk of this process. Each kiosk has at most
    one frame in the pool at a time (see `camera.CameraLink`), so the queue is bounded by the number of
    connected kiosks."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="kiosk-frames")
        self.frames = 0
        self.busy_seconds = 0.0

    async def run(self, work: Callable[[bytes], T], data: bytes) -> T:
        def timed() -> T:
            start = time.perf_counter()
            try:
                return work(data)
            finally:
                self.frames += 1
                self.busy_seconds += time.perf_counter() - start

        return await asyncio.get_running_loop().run_in_executor(self._executor, timed)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
