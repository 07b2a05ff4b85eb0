"""0-D turnover columns: the mass balance of each point, and the skeleton's markers."""

from __future__ import annotations

import numpy as np

from bonefem.biology.zerod import SKELETAL_TRABECULAR_SHARE, RunConfig, run_zero_d
from bonefem.config.scenario import DenosumabConfig, EstrogenConfig, ScenarioConfig


def _denosumab() -> ScenarioConfig:
    return ScenarioConfig(
        age_at_start_years=60.0,
        estrogen=EstrogenConfig(menopause="natural", menopause_time_days=-3652.5),
        denosumab=[DenosumabConfig(start_days=0.0, stop_days=365.25)],
    )


def test_bvtv_changes_by_formation_minus_resorption() -> None:
    """At daily rows the central difference of each point's BV/TV equals
    f (BFR/BV − resorption per BV) / (100 × 365.25) within 0.5 % of the resorption rate,
    away from the injection days, through denosumab's suppression (resorption −80 % within
    weeks) and its waning; a
    rate per total volume or per day instead of per year fails by orders of magnitude."""
    r = run_zero_d(_denosumab(), 365.25, run=RunConfig(step_days=1.0))
    t = r["time_days"]
    for suffix in ("trab", "cort"):
        f = r[f"bvtv_{suffix}"]
        form, res = r[f"bfr_bv_pct_per_year_{suffix}"], r[f"resorption_pct_per_year_{suffix}"]
        net = f * (form - res) / (100.0 * 365.25)  # 1/day
        dfdt = (f[2:] - f[:-2]) / (t[2:] - t[:-2])
        scale = f[1:-1] * res[1:-1] / (100.0 * 365.25)
        # away from the injections (days 0 and 183), where the rates jump within a day
        mid = t[1:-1]
        inner = np.all([np.abs(mid - d - 4.0) > 5.0 for d in (0.0, 183.0)], axis=0)
        assert np.max(np.abs(dfdt - net[1:-1])[inner] / scale[inner]) < 5e-3


def test_markers_weight_the_points_by_the_skeleton() -> None:
    """The markers are 0 at t = 0 and follow the two points weighted by their share of the
    skeleton's bone (20 % trabecular, Clarke 2008) and their bone volume at t = 0."""
    r = run_zero_d(_denosumab(), 120.0, run=RunConfig(step_days=7.0))
    share = np.array([SKELETAL_TRABECULAR_SHARE, 1.0 - SKELETAL_TRABECULAR_SHARE])
    for name, col in (
        ("formation", "bfr_bv_pct_per_year"),
        ("resorption", "resorption_pct_per_year"),
    ):
        per_bv = np.array([r[f"{col}_trab"], r[f"{col}_cort"]])  # per bone volume now
        f = np.array([r["bvtv_trab"], r["bvtv_cort"]])
        skeleton = (share[:, None] * per_bv * f / f[:, :1]).sum(axis=0)
        expected = 100.0 * (skeleton / skeleton[0] - 1.0)
        np.testing.assert_allclose(r[f"{name}_marker_change_pct"], expected, rtol=1e-12, atol=1e-12)
        assert r[f"{name}_marker_change_pct"][0] == 0.0
    assert r.at("resorption_marker_change_pct", 28.0) < -50.0  # denosumab suppresses
    assert r.at("formation_marker_change_pct", 7.0) > -5.0  # formation follows later
    assert r.at("formation_marker_change_pct", 119.0) < -20.0
