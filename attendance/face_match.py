"""Face matching, the pure core: a gallery of templates searched by Euclidean distance, and the
decision a kiosk acts on.

No I/O, no clock, no dlib: templates are 128-d float32 vectors (the dlib ResNet embedding) and a
decision is a function of distances only. See docs/FACES.md for the measured distances behind the
default policy.

- ACCEPT: the nearest person is closer than `threshold` and the closest *other* person is at least
  `margin` further away. The kiosk may check them in.
- CONFIRM: the nearest person lies in the band just above the threshold, and still stands out by the
  margin: the operator is shown that one candidate and decides.
- REJECT: nobody named. Nobody near enough, nobody enrolled, or `ambiguous`: the nearest does not stand
  out from the next person by the margin. A stranger among people who look alike to the model has
  several neighbours at about the same distance, while a genuine match stands out (measured on both
  photo sets, docs/FACES.md), so a candidate is shown to the clerk only when the evidence supports it.

1:1 verification (QR, then face) compares one template only and has its own threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

DIM = 128
Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]

# measured on both photo sets (docs/FACES.md): different people come as close as 0.497, so nobody is
# named at or above 0.47; a genuine match stands out from the next person by at least 0.21, a stranger's
# nearest by at most 0.104
DEFAULT_THRESHOLD = 0.40
DEFAULT_MARGIN = 0.15
DEFAULT_CONFIRM_BAND = 0.07
DEFAULT_VERIFY_THRESHOLD = 0.45  # 1:1: one comparison, so a little above the 1:N threshold, below 0.497
_SHORTLIST = 16  # nearest rows examined for the nearest two distinct persons before a full scan


class Decision(StrEnum):
    ACCEPT = "accept"
    CONFIRM = "confirm"  # the operator is asked
    REJECT = "reject"


class MatchReason(StrEnum):
    MATCH = "match"  # ACCEPT
    AMBIGUOUS = "ambiguous"  # REJECT: another person is nearly as close, nobody named; CONFIRM: two faces, one person
    BORDERLINE = "borderline"  # CONFIRM: in the band just above the threshold
    PARTIAL = "partial"  # CONFIRM: would be accepted, but part of the face is outside the picture
    NO_MATCH = "no_match"  # REJECT: nobody close enough
    EMPTY_GALLERY = "empty_gallery"  # REJECT: nobody enrolled here
    TOO_SMALL = "too_small"  # REJECT: the face is too small in the picture to be compared


@dataclass(frozen=True)
class Candidate:
    person_id: int
    distance: float


@dataclass(frozen=True)
class FaceDecision:
    decision: Decision
    reason: MatchReason
    best: Candidate | None  # the nearest person (None only for an empty gallery)
    runner_up: Candidate | None  # the nearest *other* person, if any

    @property
    def person_id(self) -> int | None:
        """The person to greet or to confirm; None for a rejection (a stranger is not told who they resemble)."""
        return self.best.person_id if self.best is not None and self.decision is not Decision.REJECT else None

    @property
    def distance(self) -> float | None:
        return self.best.distance if self.best is not None else None


@dataclass(frozen=True)
class MatchPolicy:
    """The thresholds of `decide`, checked once."""

    threshold: float = DEFAULT_THRESHOLD
    margin: float = DEFAULT_MARGIN
    confirm_band: float = DEFAULT_CONFIRM_BAND
    verify_threshold: float = DEFAULT_VERIFY_THRESHOLD

    @property
    def ceiling(self) -> float:
        """Nobody is named at or above this distance (threshold + confirm band)."""
        return self.threshold + self.confirm_band

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 2 or not 0 < self.verify_threshold < 2:
            raise ValueError("the face thresholds are distances between 0 and 2")
        if not 0 <= self.margin < 1 or not 0 <= self.confirm_band < 1:
            raise ValueError("the face margin and confirm band are distances between 0 and 1")

    def decide(self, probe: Vector, gallery: Gallery) -> FaceDecision:
        return decide(probe, gallery, self.threshold, self.margin, self.confirm_band)

    def verify(self, probe: Vector, template: Vector) -> Verification:
        return verify(probe, template, self.verify_threshold, self.confirm_band)


def as_vector(values: npt.ArrayLike) -> Vector:
    vector = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    if vector.shape != (DIM,) or not np.isfinite(vector).all():
        raise ValueError(f"a face template is {DIM} finite numbers")
    return vector


class Gallery:
    """The templates one kiosk searches: a row-per-template float32 matrix, the person of each row, and
    each row's squared norm, precomputed so a search is one matrix-vector product:
    |g - p|² = |g|² - 2 g·p + |p|².

    A person may have several rows; distances are reported per person (their nearest row).
    """

    def __init__(self, person_ids: Sequence[int], templates: npt.ArrayLike) -> None:
        matrix = np.ascontiguousarray(templates, dtype=np.float32)
        if len(person_ids) == 0:
            matrix = np.zeros((0, DIM), dtype=np.float32)
        if matrix.ndim != 2 or matrix.shape != (len(person_ids), DIM):
            raise ValueError(f"a gallery needs one {DIM}-d template per person id")
        self.matrix: Matrix = matrix
        self.ids: npt.NDArray[np.int64] = np.asarray(person_ids, dtype=np.int64)
        self.norms: npt.NDArray[np.float32] = np.einsum("ij,ij->i", matrix, matrix)

    @classmethod
    def of(cls, templates: dict[int, Vector]) -> Gallery:
        ids = list(templates)
        return cls(ids, np.stack([templates[i] for i in ids]) if ids else np.zeros((0, DIM), np.float32))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @property
    def persons(self) -> frozenset[int]:
        return frozenset(int(i) for i in self.ids)

    def squared_distances(self, probe: Vector) -> npt.NDArray[np.float32]:
        # einsum's own single-threaded loop, not BLAS: the product is bound by memory (51 MB for 100k
        # templates), and BLAS threads only contend for it, and for the cores, on a busy server
        scores: npt.NDArray[np.float32] = np.einsum("ij,j->i", self.matrix, probe)
        scores *= -2.0
        scores += self.norms
        scores += np.float32(probe @ probe)
        return np.maximum(scores, 0.0, out=scores)

    def nearest(self, probe: Vector, persons: int = 2) -> list[Candidate]:
        """Up to `persons` distinct persons, nearest first."""
        n = len(self)
        if n == 0:
            return []
        d2 = self.squared_distances(as_vector(probe))
        k = min(n, max(_SHORTLIST, persons))
        rows = np.argpartition(d2, k - 1)[:k] if k < n else np.arange(n)
        found = _distinct(rows[np.argsort(d2[rows], kind="stable")], d2, self.ids, persons)
        if len(found) < persons and k < n:  # one person fills the shortlist: look at every row
            found = _distinct(np.argsort(d2, kind="stable"), d2, self.ids, persons)
        return found


def _distinct(order: npt.NDArray[np.intp], d2: npt.NDArray[np.float32], ids: npt.NDArray[np.int64],
              persons: int) -> list[Candidate]:
    out: list[Candidate] = []
    seen: set[int] = set()
    for row in order:
        pid = int(ids[row])
        if pid not in seen:
            seen.add(pid)
            out.append(Candidate(pid, math.sqrt(float(d2[row]))))
            if len(out) == persons:
                break
    return out


def decide(probe: Vector, gallery: Gallery, threshold: float = DEFAULT_THRESHOLD, margin: float = DEFAULT_MARGIN,
           confirm_band: float = DEFAULT_CONFIRM_BAND) -> FaceDecision:
    """The decision for one face against a gallery (1:N)."""
    found = gallery.nearest(probe, 2)
    if not found:
        return FaceDecision(Decision.REJECT, MatchReason.EMPTY_GALLERY, None, None)
    best = found[0]
    runner_up = found[1] if len(found) > 1 else None
    gap = runner_up.distance - best.distance if runner_up is not None else math.inf
    if best.distance >= threshold + confirm_band:
        return FaceDecision(Decision.REJECT, MatchReason.NO_MATCH, best, runner_up)
    if gap < margin:  # the nearest does not stand out: name nobody
        return FaceDecision(Decision.REJECT, MatchReason.AMBIGUOUS, best, runner_up)
    if best.distance < threshold:
        return FaceDecision(Decision.ACCEPT, MatchReason.MATCH, best, runner_up)
    return FaceDecision(Decision.CONFIRM, MatchReason.BORDERLINE, best, runner_up)


@dataclass(frozen=True)
class Verification:
    decision: Decision
    distance: float


def verify(probe: Vector, template: Vector, threshold: float = DEFAULT_VERIFY_THRESHOLD,
           confirm_band: float = DEFAULT_CONFIRM_BAND) -> Verification:
    """1:1, for QR-then-face: is the face at the kiosk the card holder's? No margin: nobody else is compared."""
    d = distance(probe, template)
    if d < threshold:
        return Verification(Decision.ACCEPT, d)
    return Verification(Decision.CONFIRM if d < threshold + confirm_band else Decision.REJECT, d)


def distance(a: Vector, b: Vector) -> float:
    return float(np.linalg.norm(as_vector(a) - as_vector(b)))


def partial(decision: FaceDecision) -> FaceDecision:
    """A face cut by the picture's edge is never accepted outright: an ACCEPT becomes a CONFIRM."""
    if decision.decision is Decision.ACCEPT:
        return FaceDecision(Decision.CONFIRM, MatchReason.PARTIAL, decision.best, decision.runner_up)
    return decision
