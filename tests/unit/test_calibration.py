"""Calibration: target tests and regression pins (issue 18).

* Target tests: every calibration point against its published value, within the misfit
  docs/calibration.md states for it ("Fit error at every data point"): 0.3 percentage
  points (pp) for the points a constant was fitted to exactly (WHI difference, FREEDOM
  placebo), the documented compromise error rounded up to 0.1 pp for the others (the SWAN
  rates and the 10-year total are not mutually consistent; docs say why). Issue 13 asks
  for every point within 1 pp and the SWAN stage rates within 0.7 %/y. Since alendronate's
  suppression was fitted to histomorphometry (Chavassieux 1997) and the mineralisation
  refitted through it (Boivin 2000), two bounds are outside those: the SWAN post-FMP rate
  (0.93 %/y) and FREEDOM total hip at 12 months (1.06 pp); docs/calibration.md says why,
  with the measured sensitivities (the remodelling space carries both transients with
  opposite demands; the FREEDOM 12-month gain hardly depends on the fitted accessibility).
* The SWAN 10-year total is Greendale et al.'s window, 5 years before to 5 years after the
  FMP (it was taken as FMP-3..FMP+7 before: -10.82 there, -10.45 over the published window,
  same constants).
* Regression pins: today's model values (the ``--evaluate`` table in docs/calibration.md)
  within 0.05 pp, so that any drift of the biology shows even where the target band is wide.
* One mechanism check: without denosumab's RANKL binding there is no FREEDOM gain.
"""

from __future__ import annotations

import dataclasses

import pytest

from bonefem.biology import calibration as cal
from bonefem.biology.calibrated import CALIBRATED

#: key -> (published value, documented misfit bound, today's model value)
POINTS = {
    "swan_rate_pre": (-1.7, 0.1, -1.65),
    "swan_rate_post": (-3.3, 1.0, -2.37),
    "swan_rate_late": (-1.1, 0.6, -0.56),
    "swan_total_10y": (-10.6, 0.2, -10.45),
    "whi_th_3y_diff": (3.7 - 0.14, 0.3, 3.56),
    "freedom_th_12_diff": (3.2, 1.1, 4.26),
    "freedom_th_24_diff": (4.4 + 0.7, 0.5, 5.58),
    "freedom_th_36_diff": (5.0 + 1.4, 0.1, 6.41),
    "freedom_ls_36_diff": (8.8, 0.9, 7.95),
    "freedom_th_36_placebo": (-1.4, 0.3, -1.40),
}
PIN = 0.05  # pp (or %/y for the rates)


@pytest.fixture(scope="module")
def values() -> dict[str, float]:
    return {**cal.swan(CALIBRATED), **cal.whi(CALIBRATED), **cal.freedom(CALIBRATED)}


def test_targets_name_the_published_values() -> None:
    """The fit uses the calibration data: each target equals the published value above."""
    for key, (published, _, _) in POINTS.items():
        assert cal.TARGETS[key][0] == pytest.approx(published, abs=1e-12), key


@pytest.mark.parametrize("key", sorted(POINTS))
def test_calibration_target(key: str, values: dict[str, float]) -> None:
    published, bound, _ = POINTS[key]
    assert values[key] == pytest.approx(published, abs=bound)


@pytest.mark.parametrize("key", sorted(POINTS))
def test_calibration_pin(key: str, values: dict[str, float]) -> None:
    assert values[key] == pytest.approx(POINTS[key][2], abs=PIN)


@pytest.mark.slow
def test_denosumab_gain_needs_its_rankl_binding() -> None:
    no_dmab = cal.freedom(dataclasses.replace(CALIBRATED, denosumab_accessibility=0.0))
    assert abs(no_dmab["freedom_th_36_diff"]) < 0.01


def test_calibration_point_error() -> None:
    p = cal.CalibrationPoint("k", "d", target=-3.3, model=-2.5, source="s")
    assert p.error == pytest.approx(0.8)
