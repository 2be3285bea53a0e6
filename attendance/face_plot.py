"""Pictures of face distance distributions, drawn with OpenCV (no plotting library): one panel per
photo set, genuine pairs (green) and impostor pairs (red) as histograms over the distance, with the
decision rule's threshold and confirm ceiling as vertical lines. Returns PNG bytes; the caller writes
the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

GENUINE = (60, 160, 40)  # BGR
IMPOSTOR = (40, 40, 200)
STRANGER = (180, 100, 20)
INK = (40, 40, 40)
LOW, HIGH, BIN = 0.0, 1.1, 0.02


@dataclass(frozen=True)
class Panel:
    title: str
    genuine: Sequence[float]
    impostor: Sequence[float]
    strangers: Sequence[float] = ()  # each stranger's nearest enrolled person


def _text(image: np.ndarray, text: str, x: int, y: int, scale: float = 0.45, color: tuple[int, int, int] = INK
          ) -> None:
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def draw(panels: Sequence[Panel], threshold: float, ceiling: float, width: int = 900, panel_height: int = 220) -> bytes:
    """The histograms, one panel per set, as a PNG."""
    bins = np.arange(LOW, HIGH + BIN / 2, BIN)
    left, right, top, bottom = 50, 20, 30, 40
    image = np.full((panel_height * len(panels), width, 3), 255, np.uint8)
    plot_w = width - left - right

    def x_of(d: float) -> int:
        return left + round((d - LOW) / (HIGH - LOW) * plot_w)

    for n, panel in enumerate(panels):
        y0 = n * panel_height
        base = y0 + panel_height - bottom
        height = panel_height - top - bottom
        series = [(panel.genuine, GENUINE, "same person"), (panel.impostor, IMPOSTOR, "different people"),
                  (panel.strangers, STRANGER, "stranger's nearest")]
        counts = [np.histogram(np.clip(values, LOW, HIGH - 1e-6), bins)[0] if len(values) else np.zeros(len(bins) - 1)
                  for values, _, _ in series]
        shares = [c / max(1, c.sum()) for c in counts]
        peak = max(float(s.max()) for s in shares) or 1.0
        for k, (share, (values, color, label)) in enumerate(zip(shares, series, strict=True)):
            if not len(values):
                continue
            for i, s in enumerate(share):
                if s <= 0:
                    continue
                x1, x2 = x_of(bins[i]), x_of(bins[i + 1])
                y = base - round(s / peak * height)
                cv2.rectangle(image, (x1 + k, y), (x2 - 1, base), color, 1 if k else -1)
            _text(image, f"{label} ({len(values)})", left + 10 + 190 * k, y0 + top - 8, 0.42, color)
        cv2.line(image, (left, base), (width - right, base), INK, 1)
        for tick in np.arange(0.0, HIGH + 1e-9, 0.1):
            cv2.line(image, (x_of(tick), base), (x_of(tick), base + 4), INK, 1)
            _text(image, f"{tick:.1f}", x_of(tick) - 10, base + 18, 0.38)
        for value, label, dx in ((threshold, "accept", -82), (ceiling, "named", 3)):
            cv2.line(image, (x_of(value), y0 + top), (x_of(value), base), INK, 1, cv2.LINE_4)
            _text(image, f"{label} < {value:.2f}", x_of(value) + dx, y0 + top + 12, 0.38)
        _text(image, panel.title, width - right - 8 * len(panel.title) - 10, y0 + top - 8, 0.45)
        _text(image, "share of pairs by Euclidean distance", left, base + 34, 0.38)
    ok, png = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover: OpenCV always encodes a uint8 picture
        raise RuntimeError("could not encode the plot")
    return png.tobytes()
