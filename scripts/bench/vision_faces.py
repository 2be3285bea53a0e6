"""The face recognition protocol of scripts/bench/vision.py, on one or more photo sets and strangers.

- Each person of every `--faces` set is enrolled from their first photo; every other photo is probed
  against everyone (closed set: the nearest must be right, nobody else accepted) and against everyone
  else (open set: the person left out, nobody may be accepted).
- Every face in every picture of a `--strangers` folder is a stranger, probed against the whole
  gallery; when that folder is also a `--faces` set, the stranger's own person is left out first
  (so a set serves as enrolled people and, one at a time, as strangers). Strangers must be neither
  accepted nor shown to the clerk (CONFIRM names a candidate).
- The genuine and impostor distances of each set (every pair of photos), printed and drawn (PNG).
- The kiosk's time from a face entering the frame to its verdict: the frames it takes (one with liveness
  off; with liveness on, a burst of the face turning: a frame and its mirror image, as in
  tests/test_faces_engine.py, since there is no video) × the camera's frame interval, plus the CPU.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from attendance.face_calibration import Sample, distributions, table_row
from attendance.face_engine import EngineConfig, analyse_burst
from attendance.face_match import Decision, Gallery, MatchPolicy
from attendance.face_photos import Photo, read_set, samples
from attendance.face_plot import Panel, draw
from attendance.liveness import LivenessPolicy, LivenessState

FRAME_INTERVAL = 0.2  # seconds: the kiosk sends 5 frames a second (web/kiosk/camera.py, FPS)

ALIASES = {"partial": "obama"}  # the shared Western set: partly hidden photos of the obama/ person


@dataclass
class Outcome:
    probes: int = 0
    right: int = 0
    false_accepts: int = 0
    strangers: int = 0
    stranger_accepts: int = 0
    stranger_confirms: int = 0
    stranger_nearest: list[float] = field(default_factory=list)

    @property
    def rank1_pct(self) -> float:
        return 100 * self.right / self.probes if self.probes else 0.0


def _gallery(enrolled: dict[str, Sample], leave_out: str | None = None) -> tuple[Gallery, list[str]]:
    names = [n for n in enrolled if n != leave_out]
    return Gallery(list(range(len(names))), np.stack([enrolled[n].template for n in names])), names


def recognition(faces_dirs: list[Path], strangers_dirs: list[Path], config: EngineConfig, policy: MatchPolicy,
                plot: Path | None) -> Outcome:
    sets: list[tuple[Path, list[Photo], list[Sample]]] = []
    for directory in faces_dirs:
        photos = read_set(directory, config, ALIASES, groups=False)
        sets.append((directory, photos, samples(photos, prefix=f"{directory.name}:")))
    everyone = [s for _, _, ss in sets for s in ss]
    enrolled: dict[str, Sample] = {}
    for s in everyone:
        enrolled.setdefault(s.person, s)
    out = Outcome()
    print("| probe | nearest | distance | other person | gap | decision | left out: nearest, decision |")
    print("|---|---|---|---|---|---|---|")
    gallery, names = _gallery(enrolled)
    for s in everyone:
        if enrolled[s.person] is s:
            continue
        d = policy.decide(s.template, gallery)
        assert d.best is not None
        nearest = names[d.best.person_id]
        out.probes += 1
        out.right += nearest == s.person
        out.false_accepts += d.decision is Decision.ACCEPT and nearest != s.person
        others, other_names = _gallery(enrolled, s.person)
        o = policy.decide(s.template, others)
        assert o.best is not None
        out.false_accepts += o.decision is Decision.ACCEPT
        runner = d.runner_up.distance if d.runner_up else float("nan")
        print(f"| {s.label} | {nearest.split(':')[1]} | {d.best.distance:.3f} | {runner:.3f} | "
              f"{runner - d.best.distance:.3f} | {d.decision.value} ({d.reason.value}) | "
              f"{other_names[o.best.person_id].split(':')[1]} {o.best.distance:.3f}, {o.decision.value} |")
    print()
    panels = []
    print("| photo set | pairs | count | min | median | max |")
    print("|---|---|---|---|---|---|")
    for directory, _, ss in sets:
        measured = distributions(ss)
        print(table_row(f"{directory.name} | same person", measured.genuine_distances))
        print(table_row(f"{directory.name} | different people", measured.impostor_distances))
        closest = ", ".join(f"{p.distance:.3f} ({p.a}, {p.b})" for p in measured.impostor[:3])
        print(f"| {directory.name} | closest different people: {closest} | | | | |")
        panels.append(Panel(directory.name, measured.genuine_distances, measured.impostor_distances))
    both = distributions(everyone)
    print(table_row("all sets | same person", both.genuine_distances))
    print(table_row("all sets | different people", both.impostor_distances))
    print()
    if strangers_dirs:
        print("| stranger | nearest | distance | next | gap | decision |")
        print("|---|---|---|---|---|---|")
    for directory in strangers_dirs:
        own_set = any(directory.resolve() == d.resolve() for d in faces_dirs)
        for photo in read_set(directory, config, ALIASES):
            for face in photo.faces:
                if face.embedding is None:
                    continue  # too small to compare: never named
                person = f"{directory.name}:{photo.person}" if own_set and photo.person else None
                g, gnames = _gallery(enrolled, person)
                d = policy.decide(face.embedding, g)
                assert d.best is not None
                out.strangers += 1
                out.stranger_accepts += d.decision is Decision.ACCEPT
                out.stranger_confirms += d.decision is Decision.CONFIRM
                out.stranger_nearest.append(d.best.distance)
                runner = d.runner_up.distance if d.runner_up else float("nan")
                print(f"| {photo.label} | {gnames[d.best.person_id]} | {d.best.distance:.3f} | {runner:.3f} | "
                      f"{runner - d.best.distance:.3f} | {d.decision.value} ({d.reason.value}) |")
    if strangers_dirs:
        print()
        panels.append(Panel("strangers", [], [], out.stranger_nearest))
    print(f"policy: accept under {policy.threshold:.2f} when the next person is {policy.margin:.2f} further; "
          f"named to the clerk under {policy.ceiling:.2f}; 1:1 accept under {policy.verify_threshold:.2f}")
    print(f"rank-1 {out.right}/{out.probes}, false accepts {out.false_accepts}, strangers {out.strangers}: "
          f"{out.stranger_accepts} accepted, {out.stranger_confirms} shown to the clerk")
    if plot is not None:
        plot.write_bytes(draw(panels, policy.threshold, policy.ceiling))
        print(f"plot: {plot}")
    print()
    return out


def _turning(jpeg: bytes) -> list[bytes]:
    still = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert still is not None
    mirrored = cv2.imencode(".jpg", cv2.flip(still, 1), [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
    return [jpeg, jpeg, mirrored]


def time_to_verdict(frames: list[bytes], config: EngineConfig, decision_ms: float, repeat: int) -> float:
    """From a face entering the frame to its verdict, in ms (liveness on; printed for off too): the frames
    it takes × the frame interval (the first frame with the face is up to one interval away) + CPU."""
    policy = LivenessPolicy()
    burst = next((b for b in map(_turning, frames)
                  if (r := analyse_burst(b, config, policy, FRAME_INTERVAL)) and r.liveness is LivenessState.PASSED),
                 None)
    print("| liveness | frames until the verdict | waiting for them, ms | CPU, ms | face entering → verdict, ms |")
    print("|---|---|---|---|---|")
    wait = 1000 * FRAME_INTERVAL
    print(f"| off | 1 | {wait:.0f} | {decision_ms:.1f} | {wait + decision_ms:.0f} |")
    if burst is None:
        print("| blink_or_turn | no burst of these photos passes | | | |\n")
        return float("nan")
    runs, needed = [], 0
    for _ in range(repeat):
        started = time.process_time()
        result = analyse_burst(burst, config, policy, FRAME_INTERVAL)
        runs.append(1000 * (time.process_time() - started))
        assert result is not None and result.liveness is LivenessState.PASSED
        needed = result.frames
    cpu = statistics.median(runs)
    wait = 1000 * FRAME_INTERVAL * needed
    print(f"| {policy.mode.value} (a head turn; the face followed) | {needed} | {wait:.0f} | {cpu:.1f} | "
          f"**{wait + cpu:.0f}** |")
    print()
    return wait + cpu
