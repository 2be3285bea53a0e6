"""Benchmark: what a kiosk's camera frames cost, QR codes and faces.

- QR: real credential texts (`HN1:`…, signed as attendance/credentials.py signs them) drawn as the
  project draws them (version 6, level M), placed in 640×480 and 1280×720 scenes, saved as JPEG; each
  frame is then timed from the JPEG bytes: decode to grayscale with OpenCV, read with zxing-cpp.
  Success is measured on generated frames under blur, rotation, perspective, noise, small modules and
  dark mode (inverted).
- Faces: decision time for a 640×480 frame with one face (decode, HOG detection with one upsample,
  68 landmarks, 128-d embedding, 1:N decision), in process and through the worker pool; 1:N search
  time over 1k, 10k and 100k random templates; rank-1 and false accepts on the shared photos (each
  person enrolled from their first photo, probed with the others), with the distances behind the
  default thresholds (docs/FACES.md).

    uv run python scripts/bench/vision.py [--faces ../shared/faces] [--samples 50] [--repeat 3]

Timings are the median of `--repeat` runs (each run's own median per frame). The last line is:
qr_720p_ms=<float> qr_success_pct=<float> face_ms=<float> search_100k_ms=<float> rank1_pct=<float> false_accepts=<n>
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
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

from attendance.credentials import Credential, sign
from attendance.face_engine import EngineConfig, FaceEngine, FrameAnalysis, analyse_image, load_models
from attendance.face_match import DIM, Decision, Gallery, MatchPolicy
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


# -- faces -------------------------------------------------------------------------------------------
def photos(faces_dir: Path) -> dict[str, list[Path]]:
    return {d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
            for d in sorted(faces_dir.iterdir()) if d.is_dir() and d.name != "groups"}


def kiosk_frame(path: Path) -> bytes:
    image = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, path
    height, width = image.shape[:2]
    frame = cv2.resize(image, (640, round(height * 640 / width)))[:480]
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def timed(work: Callable[[], object], times: int, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        samples = []
        for _ in range(times):
            started = time.perf_counter()
            work()
            samples.append((time.perf_counter() - started) * 1000)
        runs.append(statistics.median(samples))
    return statistics.median(runs)


def random_gallery(size: int, rng: np.random.Generator) -> Gallery:
    return Gallery(list(range(size)), rng.normal(0, 0.09, (size, DIM)).astype(np.float32))


def bench_faces(faces_dir: Path, repeat: int, rng: np.random.Generator) -> tuple[float, float, float, int, float]:
    config = EngineConfig(workers=0)
    policy = MatchPolicy()
    load_models()
    frame = kiosk_frame(faces_dir / "obama" / "obama1.jpg")
    gallery_1k = random_gallery(1000, rng)

    def decide_frame() -> Decision:
        found = analyse_image(frame, config, encode=True)
        assert found is not None and found.faces and found.faces[0].embedding is not None
        return policy.decide(found.faces[0].embedding, gallery_1k).decision

    face_ms = timed(decide_frame, 10, repeat)
    detect_ms = timed(lambda: analyse_image(frame, config, encode=False), 10, repeat)
    pooled_ms = asyncio.run(pool_round_trip(frame, repeat))
    print("| face, 640×480, one face | ms per frame (median) |")
    print("|---|---|")
    print(f"| decode + detect + 68 landmarks (liveness frame) | {detect_ms:.1f} |")
    print(f"| … + embedding + 1:N decision (1k gallery), in process | {face_ms:.1f} |")
    print(f"| the same through the worker pool (1 process) | {pooled_ms:.1f} |")
    print()
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
    rank1, false_accepts = recognition(faces_dir, config, policy)
    return face_ms, search[100_000], rank1, false_accepts, detect_ms


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


def recognition(faces_dir: Path, config: EngineConfig, policy: MatchPolicy) -> tuple[float, int]:
    """Each person enrolled from their first photo; every other photo probed against everyone (closed
    set: the nearest must be right, no one else accepted) and against everyone else (open set: the person
    left out, nobody may be accepted)."""
    people = photos(faces_dir)
    owner = {p: ("obama" if name == "partial" else name) for name, ps in people.items() for p in ps}
    analysed: dict[Path, FrameAnalysis] = {}
    for path in owner:
        found = analyse_image(path.read_bytes(), config, encode=True)
        assert found is not None and len(found.faces) == 1, path
        analysed[path] = found
    vector = {p: a.faces[0].embedding for p, a in analysed.items()}
    enrolled = {name: ps[0] for name, ps in people.items() if name != "partial"}
    ids = {name: n for n, name in enumerate(enrolled, start=1)}
    names = {n: name for name, n in ids.items()}
    gallery = Gallery.of({ids[name]: vector[p] for name, p in enrolled.items()})  # type: ignore[misc]
    probes = [p for p in owner if p not in enrolled.values()]

    print("| probe | person | nearest | distance | other person nearest | gap | decision "
          "| left out: nearest, decision |")
    print("|---|---|---|---|---|---|---|---|")
    right = false_accepts = 0
    for path in probes:
        person = owner[path]
        embedding = vector[path]
        assert embedding is not None
        d = policy.decide(embedding, gallery)
        assert d.best is not None
        nearest = names[d.best.person_id]
        right += nearest == person
        if d.decision is Decision.ACCEPT and nearest != person:
            false_accepts += 1
        others = Gallery.of({ids[n]: vector[p] for n, p in enrolled.items() if n != person})  # type: ignore[misc]
        o = policy.decide(embedding, others)
        assert o.best is not None
        false_accepts += o.decision is Decision.ACCEPT
        edge = " (at edge)" if analysed[path].faces[0].problem else ""
        runner = d.runner_up.distance if d.runner_up else float("nan")
        print(f"| {path.parent.name}/{path.name}{edge} | {person} | {nearest} | {d.best.distance:.3f} | "
              f"{runner:.3f} | {runner - d.best.distance:.3f} | {d.decision.value} | "
              f"{names[o.best.person_id]} {o.best.distance:.3f}, {o.decision.value} |")
    print()
    same: list[tuple[float, Path, Path]] = []
    other: list[tuple[float, Path, Path]] = []
    for a, b in itertools.combinations(sorted(owner), 2):
        va, vb = vector[a], vector[b]
        assert va is not None and vb is not None
        (same if owner[a] == owner[b] else other).append((float(np.linalg.norm(va - vb)), a, b))
    whole = [s for s in same if "partial" not in (s[1].parent.name, s[2].parent.name)]
    partial = [s for s in same if s not in whole]
    print("| pairs of photos | count | min | median | max |")
    print("|---|---|---|---|---|")
    for label, pairs in (("same person", whole), ("same person, one partly hidden", partial),
                         ("different people", other)):
        ds = [d for d, _, _ in pairs]
        print(f"| {label} | {len(ds)} | {min(ds):.3f} | {statistics.median(ds):.3f} | {max(ds):.3f} |")
    print()
    worst_same = max(whole)
    closest = sorted(other)[:3]
    print(f"largest same-person distance: {worst_same[0]:.3f} ({worst_same[1].name}, {worst_same[2].name})")
    print("smallest different-person distances: " + ", ".join(f"{d:.3f} ({a.name}, {b.name})" for d, a, b in closest))
    print(f"policy: threshold {policy.threshold}, margin {policy.margin}, confirm band up to "
          f"{policy.threshold + policy.confirm_band:.2f}")
    print()
    return 100 * right / len(probes), false_accepts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    default_faces = Path(os.environ.get("HOINGHI_FACES_DIR", Path(__file__).resolve().parents[3] / "shared" / "faces"))
    parser.add_argument("--faces", type=Path, default=default_faces)
    parser.add_argument("--samples", type=int, default=50, help="QR frames per condition")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(2026)
    qr_ms, qr_success = bench_qr(args.samples, args.repeat, rng)
    face_ms, search_ms, rank1, false_accepts, _ = bench_faces(args.faces, args.repeat, rng)
    print(f"qr_720p_ms={qr_ms:.2f} qr_success_pct={qr_success:.1f} face_ms={face_ms:.1f} "
          f"search_100k_ms={search_ms:.3f} rank1_pct={rank1:.1f} false_accepts={false_accepts}")


if __name__ == "__main__":
    main()
