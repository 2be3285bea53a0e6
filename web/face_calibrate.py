"""`hoinghi faces calibrate DIR`: what face recognition does on a province's own consenting volunteers,
before face check-in is switched on.

DIR has one sub-folder per person (two or more photos each where possible). Every picture is analysed
here, in memory; nothing is written but the plot. The command prints the genuine and impostor distance
distributions, the closest different-person pairs, draws both (PNG), recommends a threshold and confirm
ceiling (attendance/face_calibration.py: `recommend`), and says whether 1:N identification among
`--population` enrolled people is safe: whether the chance that a stranger comes under the ceiling of
someone stays within `--risk`, as far as this many impostor pairs can vouch for.

With `--record --by NAME` the run is also recorded in the store (who, when, the figures): 1:N face
check-in is refused until a calibration was recorded (web/usecases/biometrics.py). Without it, nothing
is written but the plot.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from attendance.face_calibration import (
    DEFAULT_RISK,
    CalibrationRecord,
    Distributions,
    Recommendation,
    Sample,
    distributions,
    recommend,
    table_row,
)
from attendance.face_match import DEFAULT_CONFIRM_BAND


def verdict(r: Recommendation) -> str:
    if r.identification_safe:
        return (f"1:N identification among {r.population} people: safe (a stranger is named with a chance of at "
                f"most {100 * r.stranger_risk:.1f} %, within {100 * r.risk:.0f} %)")
    return (f"1:N identification among {r.population} people: NOT safe on this evidence (a stranger could be "
            f"named with a chance of up to {100 * r.stranger_risk:.0f} %; {r.impostor_pairs} different-person pairs "
            f"vouch for galleries of at most {r.largest_safe_population} people). Use QR with 1:1 face "
            "verification, or calibrate on more volunteers")


def measure(directory: Path, aliases: Mapping[str, str] | None = None
            ) -> tuple[Distributions, list[str], list[Sample], list[str]]:
    """Analyse every photo of `directory` (a sub-folder per person, `aliases` renaming some): the distance
    distributions, the people, the usable samples, and the photos left out (not exactly one usable face)."""
    from attendance.face_engine import EngineConfig  # OpenCV and dlib: only for this command
    from attendance.face_photos import read_set, samples

    photos = read_set(directory, EngineConfig(workers=0), aliases, groups=False)
    found = samples(photos)
    unusable = [p.label for p in photos if p.person is not None and (len(p.faces) != 1 or p.faces[0].embedding is None)]
    people = sorted({s.person for s in found})
    if len(people) < 2:
        raise ValueError(f"{directory}: photos of at least two people are needed, found {len(people)}")
    return distributions(found), people, found, unusable


def calibrate(directory: Path, plot: Path, population: int, risk: float, confirm_band: float,
              recorded_by: str | None = None) -> CalibrationRecord:
    """Analyse, print and draw; returns the record to keep (stamped now, by `recorded_by`; "-" when not kept)."""
    from attendance.face_plot import Panel, draw

    measured, people, found, unusable = measure(directory)
    r = recommend(measured, confirm_band, population, risk)
    print(f"{directory}: {len(people)} people, {len(found)} photos with one usable face"
          + (f"; left out (not exactly one usable face): {', '.join(unusable)}" if unusable else ""))
    print()
    print("| pairs of photos | count | min | median | max |")
    print("|---|---|---|---|---|")
    print(table_row("same person", measured.genuine_distances))
    print(table_row("different people", measured.impostor_distances))
    print()
    print("closest different people: " + ", ".join(f"{p.distance:.3f} ({p.a}, {p.b})" for p in measured.impostor[:5]))
    if measured.genuine:
        worst = measured.genuine[-1]
        print(f"farthest same person: {worst.distance:.3f} ({worst.a}, {worst.b})")
    print()
    print(f"recommended: HOINGHI_FACE_THRESHOLD={r.threshold:.2f} HOINGHI_FACE_CONFIRM_BAND={confirm_band:.2f} "
          f"(nobody named at or above {r.ceiling:.2f}, {r.impostors_under_ceiling} different-person pairs under it)")
    print(f"same-person pairs accepted at that threshold: {r.genuine_accepted} of {r.genuine_total}")
    print(verdict(r))
    plot.write_bytes(draw([Panel(directory.name, measured.genuine_distances, measured.impostor_distances)],
                          r.threshold, r.ceiling))
    print(f"plot: {plot}")
    return CalibrationRecord.of(r, measured, len(people), len(found), directory.name, recorded_by or "-",
                                datetime.now(UTC))


async def record(settings_file: Path | None, calibration: CalibrationRecord) -> CalibrationRecord:
    """Keep the calibration in the store of the deployment's settings."""
    from web.bootstrap import build
    from web.settings import load

    async with build(load(os.environ, settings_file)) as services:
        return await services.biometrics.record_calibration(calibration)


def command(args: argparse.Namespace) -> None:
    from attendance.errors import AttendanceError
    from web.settings import SettingsError

    if args.record and not (args.by or "").strip():
        print("hoinghi: --record needs --by NAME (who ran the calibration)", file=sys.stderr)
        raise SystemExit(2)
    try:
        found = calibrate(args.dir, args.plot, args.population, args.risk, args.confirm_band, args.by)
        if args.record:
            kept = asyncio.run(record(args.config, found))
            print(f"recorded: calibration {kept.id} by {kept.recorded_by} at {kept.recorded_at:%Y-%m-%d %H:%M} UTC; "
                  "1:N face check-in is allowed")
    except (ValueError, OSError, SettingsError, AttendanceError) as e:
        print(f"hoinghi: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    faces = sub.add_parser("faces", help="face recognition")
    facesub = faces.add_subparsers(dest="faces_command", required=True)
    cal = facesub.add_parser("calibrate", help="distances, plot and a recommended threshold from a folder of "
                                               "volunteers' photos (one sub-folder per person)")
    cal.add_argument("dir", type=Path)
    cal.add_argument("--plot", type=Path, default=Path("face_calibration.png"), help="the PNG drawn")
    cal.add_argument("--population", type=int, default=500, help="enrolled people one kiosk searches (1:N)")
    cal.add_argument("--risk", type=float, default=DEFAULT_RISK,
                     help="accepted chance that a stranger is named (default 0.05)")
    cal.add_argument("--confirm-band", type=float, default=DEFAULT_CONFIRM_BAND)
    cal.add_argument("--record", action="store_true", help="also record the calibration in the store (1:N face "
                                                           "check-in stays off until one is)")
    cal.add_argument("--by", help="who ran the calibration (with --record)")
    cal.set_defaults(func=command)
