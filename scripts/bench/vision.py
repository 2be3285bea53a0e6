"""Benchmark: what a kiosk's camera frames cost, QR codes and faces.

- QR: real credential texts (`HN1:`…, signed as attendance/credentials.py signs them) drawn as the
  project draws them (version 6, level M), placed in 640×480 and 1280×720 scenes, saved as JPEG; each
  frame is then timed from the JPEG bytes: decode to grayscale with OpenCV, read with zxing-cpp.
  Success is measured on generated frames under blur, rotation, perspective, noise, small modules and
  dark mode (inverted).
- QR on phone screens: codes from another generator (OpenCV's) on a simulated phone (pixel grid, bezel,
  dim / over-bright / dark mode, tilt up to 45°, 20–60 % of the frame's height, glare, noise, JPEG
  40–60; scripts/bench/qr_phone.py), per-condition success before and after the reader's second passes,
  and a clean frame's CPU time through both.
- Faces: the CPU time of one decision on a 640×480 frame with one face (decode, HOG detection at the
  minimum face size's scale, 68 landmarks, 128-d embedding, 1:N decision), measured as process CPU
  time (BLAS on one thread, as in the face workers); the pool's round trip (wall time); a followed
  face (searched around its last box); the kiosk's time from a face entering the frame to its verdict,
  with liveness off and on (frames until the verdict × the camera's 0.2 s interval + the CPU); 1:N search
  time over 1k, 10k and 100k random templates; rank-1 and false accepts on the shared photos (each
  person enrolled from their first photo, probed with the others), with the distances behind the
  default thresholds (docs/FACES.md).

    uv run python scripts/bench/vision.py [--faces ../shared/faces --faces ../shared/faces-east-asian]
        [--strangers ../shared/faces-east-asian] [--plot docs/faces_distances.png] [--samples 50] [--repeat 3]

Timings are the median of `--repeat` runs (each run's own median per frame). The last line is:
qr_720p_ms=<float> qr_success_pct=<float> face_ms=<float> verdict_ms=<float> search_100k_ms=<float> rank1_pct=<float>
false_accepts=<n> stranger_accepts=<n> stranger_confirms=<n> qr_phone_min_pct=<float> (one line; face_ms is CPU,
verdict_ms with liveness on; qr_phone_min_pct the worst phone-screen condition with modules ≥ 3 px).
The face protocol is in scripts/bench/vision_faces.py.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read when NumPy loads: one thread, as in the face workers
import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from qr_phone import CONDITIONS as PHONE_CONDITIONS
from qr_phone import OUTSIDE_GOAL, backdrop, phone_frame  # beside this file (sys.path[0])
from vision_faces import Outcome, recognition, time_to_verdict  # beside this file (sys.path[0])

from attendance.credentials import Credential, sign
from attendance.face_engine import EngineConfig, FaceEngine, analyse_image, load_models
from attendance.face_match import DIM, Decision, Gallery, MatchPolicy
from web.kiosk.vision import decode_gray, first_pass, read_qr
from web.render.qr import modules

QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
Frame = npt.NDArray[Any]
CONDITIONS = ("clean", "blur", "rotation", "perspective", "noise", "small modules", "inverted")


# -- QR ----------------------------------------------------------------------------------------------
def credential_texts(count: int, rng: np.random.Generator) -> list[str]:
    key = Ed25519PrivateKey.generate()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [sign(Credential(1, rng.bytes(8), int(rng.integers(0, 50)), start, start + timedelta(days=400)), key)
            for _ in range(count)]


def code_image(text: str, px: int = 8, dark_mode: bool = False) -> Frame:
    """The symbol (quiet zone included) at `px` pixels a module; dark mode: light modules on black."""
    matrix = np.array(modules(text), dtype=bool)
    image = np.where(matrix, 0, 255).astype(np.uint8)
    if dark_mode:
        image = 255 - image
        image = np.clip(image.astype(np.int16) * 0.85 + 20, 0, 255).astype(np.uint8)  # a screen's grey-on-black
    return cv2.resize(image, None, fx=px, fy=px, interpolation=cv2.INTER_NEAREST)


def scene(width: int, height: int, rng: np.random.Generator) -> Frame:
    """A plausible background: a lit gradient, a few objects, sensor noise."""
    y, x = np.mgrid[0:height, 0:width]
    base = 90 + 70 * (x / width) + 40 * np.sin(y / height * 3.1)
    image = base.astype(np.float32)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        w, h = int(rng.integers(30, width // 3)), int(rng.integers(30, height // 3))
        image[y0:y0 + h, x0:x0 + w] = float(rng.integers(20, 235))
    image += rng.normal(0, 4, image.shape)
    out: Frame = np.clip(image, 0, 255).astype(np.uint8)
    return out


def place(code: Frame, frame: Frame, side: float, angle: float, tilt: float, rng: np.random.Generator) -> Frame:
    """The code drawn into the frame as a quadrilateral `side` pixels across, turned by `angle` degrees,
    its corners pulled by up to `tilt` of its side (perspective)."""
    height, width = frame.shape
    n = code.shape[0]
    half = side / 2
    reach = half * 1.5 + side * tilt
    cx = rng.uniform(reach, width - reach) if width > 2 * reach else width / 2
    cy = rng.uniform(reach, height - reach) if height > 2 * reach else height / 2
    corners = np.array([[-half, -half], [half, -half], [half, half], [-half, half]], dtype=np.float32)
    corners += rng.uniform(-tilt, tilt, corners.shape).astype(np.float32) * side
    a = np.radians(angle)
    turn = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]], dtype=np.float32)
    target = corners @ turn.T + np.array([cx, cy], dtype=np.float32)
    source = np.array([[0, 0], [n, 0], [n, n], [0, n]], dtype=np.float32)
    warp = cv2.getPerspectiveTransform(source, target.astype(np.float32))
    drawn = cv2.warpPerspective(code, warp, (width, height), flags=cv2.INTER_AREA, borderValue=0)
    mask = cv2.warpPerspective(np.full_like(code, 255), warp, (width, height), flags=cv2.INTER_NEAREST)
    out = frame.copy()
    out[mask > 0] = drawn[mask > 0]
    return out


def qr_frame(text: str, condition: str, width: int, height: int, rng: np.random.Generator) -> bytes:
    modules_across = len(modules(text))
    module_px, angle, tilt = rng.uniform(5, 8), rng.uniform(-12, 12), 0.0
    if condition == "rotation":
        angle = rng.uniform(0, 360)
    elif condition == "perspective":
        tilt = rng.uniform(0.12, 0.2)
        angle = rng.uniform(-30, 30)
    elif condition == "small modules":
        module_px = rng.uniform(2.4, 3.2)
    code = code_image(text, dark_mode=condition == "inverted")
    frame = place(code, scene(width, height, rng), module_px * modules_across, angle, tilt, rng)
    quality = 85
    if condition == "blur":
        frame = cv2.GaussianBlur(frame, (0, 0), rng.uniform(1.2, 2.2))
    elif condition == "noise":
        frame = np.clip(frame + rng.normal(0, rng.uniform(15, 25), frame.shape), 0, 255).astype(np.uint8)
        quality = 60
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def read_frame(jpeg: bytes) -> list[str]:
    """What a kiosk does with each frame: JPEG to grayscale, then zxing-cpp."""
    gray = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [r.text for r in zxingcpp.read_barcodes(gray, formats=QR_ONLY) if r.valid]


def per_frame_ms(frames: list[bytes], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        times = []
        for jpeg in frames:
            started = time.perf_counter()
            read_frame(jpeg)
            times.append((time.perf_counter() - started) * 1000)
        runs.append(statistics.median(times))
    return statistics.median(runs)


def bench_qr(samples: int, repeat: int, rng: np.random.Generator) -> tuple[float, float]:
    texts = credential_texts(samples * len(CONDITIONS) + 100, rng)
    print(f"QR: {len(texts[0])}-character credentials, version {(len(modules(texts[0])) - 8 - 17) // 4}, level M")
    print("| frames | ms per frame (median) |")
    print("|---|---|")
    timings = {}
    for width, height in ((640, 480), (1280, 720)):
        with_code = [qr_frame(t, "clean", width, height, rng) for t in texts[:50]]
        empty = [cv2.imencode(".jpg", scene(width, height, rng), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
                 for _ in range(30)]
        timings[(width, "code")] = per_frame_ms(with_code, repeat)
        timings[(width, "empty")] = per_frame_ms(empty, repeat)
        print(f"| {width}×{height} with a code | {timings[(width, 'code')]:.2f} |")
        print(f"| {width}×{height} without a code | {timings[(width, 'empty')]:.2f} |")
    print()
    print("| condition | frames | read | success % |")
    print("|---|---|---|---|")
    total = ok = 0
    pool = iter(texts[50:])
    for condition in CONDITIONS:
        read = 0
        for n in range(samples):
            text = next(pool)
            width, height = ((1280, 720), (640, 480))[n % 2]
            if read_frame(qr_frame(text, condition, width, height, rng)) == [text]:
                read += 1
        total += samples
        ok += read
        print(f"| {condition} | {samples} | {read} | {100 * read / samples:.1f} |")
    success = 100 * ok / total
    print(f"| all | {total} | {ok} | {success:.1f} |")
    print()
    return timings[(1280, "code")], success


def bench_qr_phone(samples: int, repeat: int, rng: np.random.Generator) -> float:
    """Phone screens (scripts/bench/qr_phone.py): per-condition success of the first pass alone (the
    reader before the second passes) and of the kiosk's reader (web/kiosk/vision.py), and the CPU time
    of a clean frame through both. Returns the worst condition's success within the goal (modules ≥ 3 px)."""
    texts = credential_texts(samples, rng)
    print("QR on phone screens (OpenCV's encoder, level M; scripts/bench/qr_phone.py)")
    print("| condition | frames | first pass only % | reader % |")
    print("|---|---|---|---|")
    worst = 100.0
    clean: list[bytes] = []
    for condition in (*PHONE_CONDITIONS, *OUTSIDE_GOAL):
        before = after = 0
        for n, text in enumerate(texts):
            width, height = ((1280, 720), (640, 480))[n % 2]
            jpeg, _ = phone_frame(text, condition, width, height, rng)
            gray = decode_gray(jpeg)
            before += first_pass(gray) == [text]
            after += read_qr(gray) == [text]
            if condition == "clean" and width == 1280:
                clean.append(jpeg)
        pct = 100 * after / samples
        if condition not in OUTSIDE_GOAL:
            worst = min(worst, pct)
        print(f"| {condition} | {samples} | {100 * before / samples:.1f} | {pct:.1f} |")
    print()
    cpu = time.process_time
    frames = iter(clean * (20 * repeat))
    old_ms = timed(lambda: first_pass(decode_gray(next(frames))), 20, repeat, cpu)
    new_ms = timed(lambda: read_qr(decode_gray(next(frames))), 20, repeat, cpu)
    empty = [cv2.imencode(".jpg", np.clip(backdrop(1280, 720, rng) + rng.normal(0, 4, (720, 1280)), 0, 255)
                          .astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes() for _ in range(10)]
    nothing = iter(empty * (20 * repeat))
    old_empty = timed(lambda: first_pass(decode_gray(next(nothing))), 20, repeat, cpu)
    new_empty = timed(lambda: read_qr(decode_gray(next(nothing))), 20, repeat, cpu)
    print("| 1280×720, CPU ms (median) | first pass only | reader |")
    print("|---|---|---|")
    print(f"| a clean phone frame, decode + read | {old_ms:.2f} | {new_ms:.2f} |")
    print(f"| a frame without a code (every second pass runs) | {old_empty:.2f} | {new_empty:.2f} |")
    print()
    return worst


# -- faces -------------------------------------------------------------------------------------------
def kiosk_frame(path: Path) -> bytes:
    image = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, path
    height, width = image.shape[:2]
    frame = cv2.resize(image, (640, round(height * 640 / width)))[:480]
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def timed(work: Callable[[], object], times: int, repeat: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """The median of `repeat` runs' medians of `times` calls, in ms of `clock` (wall, or time.process_time)."""
    runs = []
    for _ in range(repeat):
        samples = []
        for _ in range(times):
            started = clock()
            work()
            samples.append((clock() - started) * 1000)
        runs.append(statistics.median(samples))
    return statistics.median(runs)


def random_gallery(size: int, rng: np.random.Generator) -> Gallery:
    return Gallery(list(range(size)), rng.normal(0, 0.09, (size, DIM)).astype(np.float32))


def bench_faces(faces_dirs: list[Path], strangers: list[Path], plot: Path | None, repeat: int,
                rng: np.random.Generator) -> tuple[float, float, float, Outcome]:
    config = EngineConfig(workers=0)
    policy = MatchPolicy()
    load_models()
    first = next(p for d in faces_dirs for p in sorted(d.rglob("*")) if p.suffix.lower() in (".jpg", ".png"))
    frame = kiosk_frame(first)
    gallery_1k = random_gallery(1000, rng)

    def decide_frame() -> Decision:
        found = analyse_image(frame, config, encode=True)
        assert found is not None and found.faces and found.faces[0].embedding is not None
        return policy.decide(found.faces[0].embedding, gallery_1k).decision

    cpu = time.process_time
    face_ms = timed(decide_frame, 10, repeat, cpu)
    face_wall_ms = timed(decide_frame, 10, repeat)
    detect_ms = timed(lambda: analyse_image(frame, config, encode=False), 10, repeat, cpu)
    box = analyse_image(frame, config, encode=False)
    assert box is not None and box.faces
    near_ms = timed(lambda: analyse_image(frame, config, encode=False, near=box.faces[0].box), 10, repeat, cpu)
    pooled_ms = asyncio.run(pool_round_trip(frame, repeat))
    print("| face, 640×480, one face | ms per frame (median) |")
    print("|---|---|")
    print(f"| decode + detect + 68 landmarks (liveness frame), CPU | {detect_ms:.1f} |")
    print(f"| the same, a followed face (searched around its last box), CPU | {near_ms:.1f} |")
    print(f"| … + embedding + 1:N decision (1k gallery), CPU | **{face_ms:.1f}** |")
    print(f"| the same, wall time in process | {face_wall_ms:.1f} |")
    print(f"| the same through the worker pool (1 process), wall time | {pooled_ms:.1f} |")
    print()
    pictures = [p for d in faces_dirs for p in sorted(d.rglob("*")) if p.suffix.lower() in (".jpg", ".png")]
    verdict = time_to_verdict([kiosk_frame(p) for p in pictures[:8]], config, face_ms, repeat)
    print("| 1:N search | ms per probe (median) |")
    print("|---|---|")
    search = {}
    for size in (1000, 10_000, 100_000):
        gallery = random_gallery(size, rng)
        probes = iter(rng.normal(0, 0.09, (1000, DIM)).astype(np.float32))

        def search_once(g: Gallery = gallery, p: Any = probes) -> None:
            policy.decide(next(p), g)

        search[size] = timed(search_once, 200, repeat)
        print(f"| {size:,} templates | {search[size]:.3f} |")
    print()
    return face_ms, verdict, search[100_000], recognition(faces_dirs, strangers, config, policy, plot)


async def pool_round_trip(frame: bytes, repeat: int) -> float:
    engine = FaceEngine(EngineConfig(workers=1))
    try:
        await engine.warm_up()
        runs = []
        for _ in range(repeat):
            samples = []
            for _ in range(10):
                started = time.perf_counter()
                await engine.analyse(frame)
                samples.append((time.perf_counter() - started) * 1000)
            runs.append(statistics.median(samples))
        return statistics.median(runs)
    finally:
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    default_faces = Path(os.environ.get("HOINGHI_FACES_DIR", Path(__file__).resolve().parents[3] / "shared" / "faces"))
    parser.add_argument("--faces", type=Path, action="append", help="a photo set (repeatable)")
    parser.add_argument("--strangers", type=Path, action="append", default=[],
                        help="every face in every picture here is a stranger (repeatable)")
    parser.add_argument("--plot", type=Path, default=Path("docs/faces_distances.png"),
                        help="the distance distributions drawn here (PNG)")
    parser.add_argument("--samples", type=int, default=50, help="QR frames per condition")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    qr_ms, qr_success = bench_qr(args.samples, args.repeat, rng)
    qr_phone_min = bench_qr_phone(args.samples, args.repeat, rng)
    face_ms, verdict_ms, search_ms, found = bench_faces(args.faces or [default_faces], args.strangers, args.plot,
                                                        args.repeat, rng)
    print(f"qr_720p_ms={qr_ms:.2f} qr_success_pct={qr_success:.1f} face_ms={face_ms:.1f} verdict_ms={verdict_ms:.0f} "
          f"search_100k_ms={search_ms:.3f} rank1_pct={found.rank1_pct:.1f} false_accepts={found.false_accepts} "
          f"stranger_accepts={found.stranger_accepts} stranger_confirms={found.stranger_confirms} "
          f"qr_phone_min_pct={qr_phone_min:.1f}")


if __name__ == "__main__":
    main()
