"""`hoinghi faces calibrate DIR` on the East Asian photos (the real command, real dlib analyses), and the
pure recommendation: thresholds below the closest different people, and a 1:N verdict that only as
many impostor pairs as were measured can vouch for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attendance.face_calibration import Distributions, Pair, Sample, distributions, false_match_bound, recommend
from tests.faces_photos import east_asian_dir
from web.cli import main


def test_calibrate_prints_the_distributions_draws_them_and_recommends(faces_dir: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    plot = tmp_path / "calibration.png"
    main(["faces", "calibrate", str(east_asian_dir(faces_dir)), "--plot", str(plot), "--population", "300"])
    out = capsys.readouterr().out
    assert "| different people | 33 | 0.508 |" in out
    assert "recommended: HOINGHI_FACE_THRESHOLD=0.41" in out and "nobody named at or above 0.48" in out
    assert "1:N identification among 300 people: NOT safe" in out  # 33 pairs vouch for no gallery at all
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 5_000


def test_calibrate_refuses_a_folder_that_is_not_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["faces", "calibrate", str(tmp_path / "missing")])
    assert stopped.value.code == 2 and capsys.readouterr().err.startswith("hoinghi: ")


def measured(genuine: list[float], impostor: list[float]) -> Distributions:
    return Distributions(tuple(Pair(d, "a", "a") for d in sorted(genuine)),
                         tuple(Pair(d, "a", "b") for d in sorted(impostor)))


def test_recommendation_and_the_population_it_vouches_for() -> None:
    few = recommend(measured([0.3, 0.35], [0.6, 0.7, 0.8]), 0.07, population=10)
    assert few.ceiling == pytest.approx(0.57) and few.threshold == pytest.approx(0.50)
    assert few.genuine_accepted == 2 and not few.identification_safe and few.largest_safe_population == 0
    many = recommend(measured([0.3], [0.6] * 60_000), 0.07, population=500)
    assert many.false_match_bound == pytest.approx(3 / 60_000)
    assert many.identification_safe and many.largest_safe_population >= 1000
    assert not recommend(measured([0.3], [0.6] * 60_000), 0.07, population=2000).identification_safe
    assert false_match_bound(0, 0) == 1.0 and false_match_bound(100, 2) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        recommend(few_pairs := measured([], [0.5]), 0.07, population=0)
    assert few_pairs.genuine == ()


def test_pairs_are_split_by_person() -> None:
    a, b = np.zeros(128, np.float32), np.full(128, 0.05, np.float32)
    found = distributions([Sample("x", a), Sample("x", a + 0.01), Sample("y", b)])
    assert len(found.genuine) == 1 and len(found.impostor) == 2
    assert found.genuine_distances[0] == pytest.approx(0.01 * np.sqrt(128), rel=1e-4)
