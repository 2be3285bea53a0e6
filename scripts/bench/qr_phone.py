"""Phone screens as a kiosk camera sees them: generated, seeded frames of QR codes shown on a phone.

The codes come from OpenCV's `QRCodeEncoder` (level M), not from the `qrcode` package the project
issues cards with, so the reader is not tuned to one generator's masks and layout. Each frame is built
the way the light travels:

1. the phone's screen at its own resolution: an app page (light, or dark mode with light modules on
   black), a white or black card with the code and its 4-module quiet zone, a few grey text bars;
2. every screen pixel drawn as a cell of 3×3 with darker gaps between cells (the pixel grid), inside
   a black bezel and the phone's body;
3. turned in 3-D (tilt up to 45° about a random axis in the screen's plane, a pinhole camera) and in
   the picture's plane, then projected into a 640×480 or 1280×720 scene with a little optical blur, so
   the grid beats against the camera's pixels (moiré);
4. exposure (dim, over-bright with flare), glare streaks (specular, on top of the screen), sensor
   noise, and JPEG at the condition's quality.

The code's height is 20–60 % of the frame's height, never with modules under 3 pixels on the shortest
projected side unless the condition is "small modules (< 3 px)". That one and "all at once (stress)"
(every hardship of the list in one frame) are reported outside the goal.
`phone_frame` returns the JPEG bytes and the code's smallest module width in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[Any]
GRID = 3  # camera-side cells per screen pixel: the last row and column of each cell is the gap
QUIET = 4

# name: what changes from the base frame (light screen, normal exposure, tilt ≤ 15°, JPEG 80)
CONDITIONS: dict[str, str] = {
    "clean": "light screen, normal exposure, tilt ≤ 15°, JPEG 80",
    "pixel grid (moiré)": "strong gaps between screen pixels, pitch near the camera's",
    "dim": "screen at 20–35 % of a normal exposure",
    "over-bright": "white clipped, black lifted by flare to 90–140, bloom",
    "dark mode": "light modules on a black screen",
    "glare": "one or two glare streaks across the code",
    "glare + dim": "glare streaks across a dim screen",
    "noise + JPEG 40–60": "sensor noise σ 10–20, JPEG quality 40–60",
    "tilt 30–45°": "the phone turned 30–45° out of the camera's plane",
    "small (20–30 %)": "the code 20–30 % of the frame's height",
    "large (50–60 %)": "the code 50–60 % of the frame's height",
}
STRESS = "all at once (stress)"  # dim or over-bright, dark mode half the time, glare, noise, JPEG 40–60, tilt ≤ 45°
BELOW_GOAL = "small modules (< 3 px)"
OUTSIDE_GOAL = (STRESS, BELOW_GOAL)  # reported, not in the goal: beyond the single conditions


@dataclass(frozen=True)
class Shot:
    """How one frame is taken."""

    size: tuple[float, float] = (0.2, 0.6)  # the code's height, share of the frame's height
    tilt: tuple[float, float] = (0.0, 15.0)  # degrees out of the camera's plane
    dark_mode: bool = False
    gain: tuple[float, float] = (0.75, 1.0)  # exposure: white's level is gain × 255
    flare: tuple[float, float] = (0.0, 12.0)  # added everywhere on the screen
    grid: tuple[float, float] = (0.55, 0.8)  # brightness of the gaps between screen pixels
    glare: int = 0  # streaks
    noise: tuple[float, float] = (2.0, 5.0)
    quality: tuple[int, int] = (78, 82)
    min_module: float = 3.0
    max_module: float = 1e9


def shot_for(condition: str, rng: np.random.Generator) -> Shot:
    if condition == "clean":
        return Shot()
    if condition == "pixel grid (moiré)":
        return Shot(grid=(0.25, 0.45), size=(0.2, 0.4))
    if condition == "dim":
        return Shot(gain=(0.2, 0.35), flare=(0.0, 6.0))
    if condition == "over-bright":
        return Shot(gain=(1.6, 2.4), flare=(90.0, 140.0))
    if condition == "dark mode":
        return Shot(dark_mode=True)
    if condition == "glare":
        return Shot(glare=int(rng.integers(1, 3)))
    if condition == "glare + dim":
        return Shot(glare=int(rng.integers(1, 3)), gain=(0.2, 0.35), flare=(0.0, 6.0))
    if condition == "noise + JPEG 40–60":
        return Shot(noise=(10.0, 20.0), quality=(40, 60))
    if condition == "tilt 30–45°":
        return Shot(tilt=(30.0, 45.0))
    if condition == "small (20–30 %)":
        return Shot(size=(0.2, 0.3))
    if condition == "large (50–60 %)":
        return Shot(size=(0.5, 0.6))
    if condition == STRESS:
        bright = rng.random() < 0.5
        return Shot(tilt=(0.0, 45.0), dark_mode=bool(rng.random() < 0.5),
                    gain=(1.6, 2.2) if bright else (0.25, 0.4), flare=(80.0, 120.0) if bright else (0.0, 6.0),
                    glare=int(rng.integers(1, 3)), noise=(8.0, 15.0), quality=(40, 60))
    if condition == BELOW_GOAL:
        return Shot(size=(0.1, 0.3), min_module=1.8, max_module=3.0)
    raise ValueError(condition)


def symbol(text: str) -> npt.NDArray[np.bool_]:
    """The code's modules from OpenCV's encoder (level M), without a quiet zone: True is dark."""
    params = cv2.QRCodeEncoder.Params()
    params.correction_level = cv2.QRCodeEncoder_CORRECT_LEVEL_M
    encoded = cv2.QRCodeEncoder.create(params).encode(text)
    matrix: npt.NDArray[np.bool_] = encoded < 128
    return matrix


def screen(matrix: npt.NDArray[np.bool_], module: int, dark_mode: bool,
           rng: np.random.Generator) -> tuple[Frame, tuple[int, int, int]]:
    """The phone's screen as emitted light in 0..1, at screen pixels: page, card with the code, text bars.
    Returns the screen and the code's box (x0, y0, side) in screen pixels."""
    n = matrix.shape[0]
    card = (n + 2 * QUIET) * module
    width = int(card * rng.uniform(1.15, 1.35))
    height = int(width * rng.uniform(1.9, 2.1))
    page, ink = (0.03, 0.85) if dark_mode else (0.93, 0.15)
    light = np.full((height, width), page, np.float32)
    top = int(height * rng.uniform(0.3, 0.4))
    left = (width - card) // 2
    for row in range(3):  # the person's name, the conference, "last refreshed"
        y = int(height * 0.1) + row * module * 5
        light[y:y + module * 3, left:left + int(card * rng.uniform(0.4, 0.9))] = ink * 0.8 + page * 0.2
    code = np.where(matrix, 0.02, 0.97).astype(np.float32)
    if dark_mode:
        code = 1.0 - code
        code = code * 0.85 + 0.03  # a dark theme's grey-on-black, not pure white
    quiet = 0.02 * 0.85 + 0.03 if dark_mode else 0.97
    framed = np.pad(code, QUIET, constant_values=quiet)
    light[top:top + card, left:left + card] = np.kron(framed, np.ones((module, module), np.float32))
    return light, (left + QUIET * module, top + QUIET * module, n * module)


def phone(light: Frame, grid: float, rng: np.random.Generator) -> tuple[Frame, Frame, int]:
    """The screen as the camera's side sees it: each pixel a GRID×GRID cell with darker gaps, inside a
    black bezel and a grey body. Returns the image (light in 0..1), the phone's mask and the bezel width."""
    cells = np.kron(light, np.ones((GRID, GRID), np.float32))
    gaps = np.ones((GRID, GRID), np.float32)
    gaps[-1, :] = gaps[:, -1] = grid
    cells *= np.tile(gaps, light.shape)
    bezel = int(cells.shape[1] * rng.uniform(0.03, 0.06))
    body = np.pad(cells, bezel, constant_values=0.01)
    body = np.pad(body, 3 * GRID, constant_values=float(rng.uniform(0.05, 0.3)))
    return body, np.ones_like(body), bezel + 3 * GRID


def tilted(points: Frame, tilt: float, axis: float, turn: float, focal: float, distance: float) -> Frame:
    """Points of the phone's plane (centred, z = 0) turned `tilt` degrees about the in-plane axis at angle
    `axis`, then `turn` degrees in the picture's plane, `distance` away from a pinhole camera of `focal`
    pixels: their positions in the picture, relative to its centre of view."""
    ax, ay = np.cos(axis), np.sin(axis)
    t = np.radians(tilt)
    c, s = np.cos(t), np.sin(t)
    rot = np.array([[c + ax * ax * (1 - c), ax * ay * (1 - c), ay * s],  # Rodrigues, about (ax, ay, 0)
                    [ax * ay * (1 - c), c + ay * ay * (1 - c), -ax * s],
                    [-ay * s, ax * s, c]])
    xyz = np.c_[points, np.zeros(len(points))] @ rot.T
    projected = xyz[:, :2] * focal / (xyz[:, 2:3] + distance)
    a = np.radians(turn)
    spin = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    out: Frame = projected @ spin.T
    return out


def backdrop(width: int, height: int, rng: np.random.Generator) -> Frame:
    """A hall's door seen from a kiosk: a lit gradient, a few objects (a hand, a coat, a wall)."""
    y, x = np.mgrid[0:height, 0:width]
    image = (80 + 60 * (x / width) + 30 * np.sin(y / height * 3.1)).astype(np.float32)
    for _ in range(5):
        x0, y0 = int(rng.integers(0, width - 40)), int(rng.integers(0, height - 40))
        w, h = int(rng.integers(30, width // 3)), int(rng.integers(30, height // 3))
        image[y0:y0 + h, x0:x0 + w] = float(rng.integers(20, 235))
    out: Frame = image
    return out


def phone_frame(text: str, condition: str | Shot, width: int, height: int,
                rng: np.random.Generator) -> tuple[bytes, float]:
    """One JPEG frame of `text` on a phone under `condition` (a name or a Shot), and the code's smallest
    module in pixels."""
    shot = condition if isinstance(condition, Shot) else shot_for(condition, rng)
    matrix = symbol(text)
    n = matrix.shape[0]
    module = int(rng.integers(6, 11))
    light, (cx0, cy0, side) = screen(matrix, module, shot.dark_mode, rng)
    body, mask, margin = phone(light, float(rng.uniform(*shot.grid)), rng)
    focal = width * rng.uniform(0.9, 1.3)
    square = np.array([[cx0, cy0], [cx0 + side, cy0], [cx0 + side, cy0 + side], [cx0, cy0 + side]], float)
    code = square * GRID + margin
    corners = np.array([[0, 0], [body.shape[1], 0], [body.shape[1], body.shape[0]], [0, body.shape[0]]], float)
    centre = np.array([body.shape[1], body.shape[0]]) / 2
    for _ in range(200):  # a pose whose code has the condition's size and module width
        tilt, turn, axis = rng.uniform(*shot.tilt), rng.uniform(-25, 25), rng.uniform(0, np.pi)
        distance = focal * float(np.ptp(code[:, 1])) / (rng.uniform(*shot.size) * height)
        both = tilted(np.r_[code, corners] - centre, tilt, axis, turn, focal, distance)
        code_seen, phone_seen = both[:4], both[4:]
        edges = np.linalg.norm(np.roll(code_seen, -1, 0) - code_seen, axis=1)
        smallest = float(edges.min() / n)
        share = float(np.ptp(code_seen[:, 1])) / height
        if shot.min_module <= smallest < shot.max_module and shot.size[0] <= share <= shot.size[1] + 0.05:
            break
    else:
        raise RuntimeError(f"no pose for {condition} in a {width}×{height} frame")
    lo, hi = code_seen.min(0), code_seen.max(0)
    shift = np.array([rng.uniform(-lo[k], max(-lo[k], limit - hi[k])) if limit > hi[k] - lo[k]
                      else limit / 2 - (lo[k] + hi[k]) / 2 for k, limit in enumerate((width, height))])
    warp = cv2.getPerspectiveTransform(corners.astype(np.float32), (phone_seen + shift).astype(np.float32))
    shrink = body.shape[0] / max(1.0, float(np.ptp(phone_seen[:, 1])))
    optics = cv2.GaussianBlur(body, (0, 0), max(0.3, 0.35 * shrink))  # the lens: some of the grid survives
    emitted = cv2.warpPerspective(optics, warp, (width, height), flags=cv2.INTER_LINEAR)
    covered = cv2.warpPerspective(mask, warp, (width, height), flags=cv2.INTER_LINEAR)
    gain = rng.uniform(*shot.gain) * 255
    lit = emitted * gain + rng.uniform(*shot.flare)
    if shot.gain[0] > 1.2:  # over-exposed: light bleeds around bright areas
        lit += cv2.GaussianBlur(np.clip(lit - 255, 0, None), (0, 0), 3.0) * 0.25
    for _ in range(shot.glare):
        lit += glare(code_seen + shift, width, height, rng)
    blend = backdrop(width, height, rng) * (1 - covered) + lit * covered
    frame: Frame = cv2.GaussianBlur(blend, (0, 0), 0.6)
    frame += rng.normal(0, rng.uniform(*shot.noise), frame.shape)
    picture = np.clip(frame, 0, 255).astype(np.uint8)
    quality = int(rng.integers(shot.quality[0], shot.quality[1] + 1))
    return cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes(), smallest


def glare(code: Frame, width: int, height: int, rng: np.random.Generator) -> Frame:
    """A specular streak: a soft band across the code, about 8–20 % of its side wide (σ 2–5 %), adding 80–180:
    where it clips, those modules are lost, within what level M's error correction (15 %) recovers."""
    side = float(np.linalg.norm(code[1] - code[0]))
    centre = code.mean(0) + rng.uniform(-0.3, 0.3, 2) * side
    angle = rng.uniform(0, np.pi)
    normal = np.array([-np.sin(angle), np.cos(angle)])
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    distance = (x - centre[0]) * normal[0] + (y - centre[1]) * normal[1]
    sigma = rng.uniform(0.02, 0.05) * side
    out: Frame = rng.uniform(80, 180) * np.exp(-0.5 * (distance / sigma) ** 2)
    return out
