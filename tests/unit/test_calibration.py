"""Calibrated constants reproduce their clinical targets (calibration-data.md)."""

from __future__ import annotations

import dataclasses

import pytest

from bonefem.biology import calibration as cal
from bonefem.biology.calibrated import CALIBRATED


def test_targets_are_the_calibration_data() -> None:
    t = cal.TARGETS
    assert t["swan_rate_post"][0] == -3.3
    assert t["swan_total_10y"][0] == -10.6
    assert t["whi_th_3y_diff"][0] == pytest.approx(3.7 - 0.14)
    assert t["freedom_th_36_diff"][0] == pytest.approx(5.0 + 1.4)
    assert t["freedom_ls_36_diff"][0] == 8.8


def test_swan_fit() -> None:
    v = cal.swan(CALIBRATED)
    assert v["swan_total_10y"] == pytest.approx(-10.6, abs=1.0)
    assert v["swan_rate_pre"] == pytest.approx(-1.7, abs=0.5)
    # the model's loss peaks lower and decelerates faster than SWAN (see docs/calibration.md)
    assert v["swan_rate_post"] == pytest.approx(-3.3, abs=1.2)
    assert v["swan_rate_late"] == pytest.approx(-1.1, abs=0.8)


@pytest.mark.slow
def test_whi_and_freedom_fit() -> None:
    w = cal.whi(CALIBRATED)
    assert w["whi_th_3y_diff"] == pytest.approx(3.56, abs=1.0)
    f = cal.freedom(CALIBRATED)
    for months, target in ((12, 3.2), (24, 5.1), (36, 6.4)):
        assert f[f"freedom_th_{months}_diff"] == pytest.approx(target, abs=1.6)
    assert f["freedom_ls_36_diff"] == pytest.approx(8.8, abs=1.6)
    # the fit is meaningful: without denosumab's RANKL binding there is no gain
    no_dmab = cal.freedom(dataclasses.replace(CALIBRATED, denosumab_accessibility=0.0))
    assert abs(no_dmab["freedom_th_36_diff"]) < 0.01


def test_calibration_point_error() -> None:
    p = cal.CalibrationPoint("k", "d", target=-3.3, model=-2.5, source="s")
    assert p.error == pytest.approx(0.8)
