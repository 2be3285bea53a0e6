"""Face calibration, the pure core: from labelled face templates to the distance distributions, the
open-set results and a recommended decision rule, with what the evidence can vouch for.

No I/O, no clock: a `Sample` is a person's label and a 128-d template. The photo folders are read by
`attendance.face_photos`, the report printed and drawn by `web.face_calibrate` and
`scripts/bench/vision.py`.

What it computes:
- genuine pairs (two photos of one person) and impostor pairs (two different people), each a sorted
  list of Euclidean distances;
- `recommend`: the confirm ceiling is the smallest impostor distance less a safety gap, the threshold
  one confirm band below it; the 1:N verdict bounds the per-comparison false match rate by the rule of
  three (with n impostor pairs and none under the ceiling, at most 3/n at 95 % confidence) and compares
  the chance that a stranger comes under the ceiling of anyone in a gallery of `population` people,
  1 - (1 - 3/n)^population, with the accepted `risk`.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]

SAFETY = 0.03  # kept between the smallest impostor distance measured and the confirm ceiling
DEFAULT_RISK = 0.05  # the accepted chance that a stranger reaches a clerk's screen named as someone


@dataclass(frozen=True)
class Sample:
    person: str
    template: Vector
    label: str = ""  # e.g. the photo's name, for the report


@dataclass(frozen=True)
class Pair:
    distance: float
    a: str
    b: str


@dataclass(frozen=True)
class Summary:
    count: int
    low: float
    median: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary | None:
        if not values:
            return None
        return cls(len(values), min(values), statistics.median(values), max(values))


def table_row(label: str, values: Sequence[float]) -> str:
    """A Markdown row: label, count, min, median, max."""
    s = Summary.of(values)
    if s is None:
        return f"| {label} | 0 | | | |"
    return f"| {label} | {s.count} | {s.low:.3f} | {s.median:.3f} | {s.high:.3f} |"


@dataclass(frozen=True)
class Distributions:
    genuine: tuple[Pair, ...]  # sorted by distance
    impostor: tuple[Pair, ...]

    @property
    def genuine_distances(self) -> list[float]:
        return [p.distance for p in self.genuine]

    @property
    def impostor_distances(self) -> list[float]:
        return [p.distance for p in self.impostor]


def distance(a: Vector, b: Vector) -> float:
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def distributions(samples: Sequence[Sample]) -> Distributions:
    """Every pair of samples, genuine (same person) or impostor (different people)."""
    genuine: list[Pair] = []
    impostor: list[Pair] = []
    for x, y in itertools.combinations(samples, 2):
        pair = Pair(distance(x.template, y.template), x.label or x.person, y.label or y.person)
        (genuine if x.person == y.person else impostor).append(pair)
    return Distributions(tuple(sorted(genuine, key=lambda p: p.distance)),
                         tuple(sorted(impostor, key=lambda p: p.distance)))


@dataclass(frozen=True)
class Recommendation:
    threshold: float  # accept under it (with the margin)
    ceiling: float  # threshold + confirm band: nobody is named to the clerk at or above it
    genuine_accepted: int  # genuine pairs under the threshold
    genuine_total: int
    impostor_pairs: int
    impostors_under_ceiling: int
    false_match_bound: float  # per comparison, 95 % upper bound
    stranger_risk: float  # chance a stranger comes under the ceiling of someone in `population`
    population: int
    risk: float
    identification_safe: bool

    @property
    def largest_safe_population(self) -> int:
        """The largest gallery for which the stranger risk stays within `risk` (0: none)."""
        if self.false_match_bound >= 1:
            return 0
        return max(0, math.floor(math.log1p(-self.risk) / math.log1p(-self.false_match_bound)))


def false_match_bound(impostor_pairs: int, under: int) -> float:
    """95 % upper bound of the per-comparison rate of impostor pairs under a ceiling: the rule of three
    when none was seen, (under + 3) / n otherwise (a simple, conservative bound); 1 without evidence."""
    if impostor_pairs == 0:
        return 1.0
    return min(1.0, (under + 3) / impostor_pairs)


def recommend(measured: Distributions, confirm_band: float, population: int,
              risk: float = DEFAULT_RISK, safety: float = SAFETY) -> Recommendation:
    """The threshold and confirm ceiling these distributions support, and whether 1:N identification
    among `population` enrolled people keeps a stranger's chance of being named within `risk`."""
    if population < 1 or not 0 < risk < 1:
        raise ValueError("the population is at least 1 and the risk between 0 and 1")
    impostor = measured.impostor_distances
    genuine = measured.genuine_distances
    ceiling = round((min(impostor) - safety) if impostor else 0.0, 3)
    threshold = round(max(0.0, ceiling - confirm_band), 3)
    under = sum(d < ceiling for d in impostor)
    bound = false_match_bound(len(impostor), under)
    stranger = 1 - (1 - bound) ** population
    return Recommendation(threshold, ceiling, sum(d < threshold for d in genuine), len(genuine), len(impostor),
                          under, bound, stranger, population, risk, bool(impostor) and stranger <= risk)


@dataclass(frozen=True)
class CalibrationRecord:
    """A calibration as recorded in the store (1:N face check-in is refused until one is): who ran it,
    when, on which photo set, its figures and the verdict at the population asked."""

    recorded_by: str
    recorded_at: datetime
    source: str  # the photo set (a folder's name)
    people: int
    photos: int
    genuine: Summary | None
    impostor: Summary | None
    threshold: float
    ceiling: float
    population: int
    risk: float
    stranger_risk: float
    identification_safe: bool
    id: int = 0

    @classmethod
    def of(cls, r: Recommendation, measured: Distributions, people: int, photos: int, source: str,
           recorded_by: str, recorded_at: datetime) -> CalibrationRecord:
        if not recorded_by.strip():
            raise ValueError("a calibration names who ran it")
        return cls(recorded_by.strip()[:100], recorded_at, source[:300], people, photos,
                   Summary.of(measured.genuine_distances), Summary.of(measured.impostor_distances), r.threshold,
                   r.ceiling, r.population, r.risk, r.stranger_risk, r.identification_safe)
