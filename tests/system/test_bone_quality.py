"""Insulin resistance acts mainly through bone quality (issue 13): the failure load falls
with the tissue yield factor while density barely changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefem._dolfinx import MPI
from bonefem.biology.agents.metabolic import INSULIN_RESISTANCE_YIELD
from bonefem.biology.zerod import RunConfig, run_zero_d
from bonefem.config.scenario import MetabolicConfig, ScenarioConfig
from bonefem.driver import run_case
from bonefem.output.run_folder import read_metrics
from tests.helpers.cases import write_case

YEAR = 365.25
IR = "age_at_start_years = 40.0\n[[biology.metabolic]]\nstart_days = 0.0\ninsulin_resistance = 1.0"


@pytest.mark.serial
def test_failure_load_scales_with_the_tissue_yield_factor(tmp_path: Path) -> None:
    """At t = 0 (same density, same strains) the Pistoia failure load is proportional to the
    yield strain, so insulin resistance 1 gives exactly 1 - 0.1 of the healthy value (to the
    10 printed digits); stiffness is unchanged."""
    rows = {}
    for name, bio in (("healthy", "age_at_start_years = 40.0"), ("ir", IR)):
        case = write_case(tmp_path, name, duration=91.3125, biology=bio)
        out = run_case(case, output=tmp_path / name, progress=False, comm=MPI.COMM_SELF)
        rows[name] = read_metrics(out / "metrics.csv")
    h, ir = rows["healthy"][0], rows["ir"][0]
    ratio = float(ir["failure_load"]) / float(h["failure_load"])
    assert ratio == pytest.approx(1.0 - INSULIN_RESISTANCE_YIELD, rel=1e-8)
    assert float(ir["apparent_stiffness"]) == pytest.approx(
        float(h["apparent_stiffness"]), rel=1e-9
    )
    assert float(ir["signal_tissue_yield_factor"]) == pytest.approx(0.9)


def test_insulin_resistance_changes_density_little() -> None:
    """0-D, 3 years of insulin resistance 0.8: lumbar-spine aBMD within 2 % (type 2 diabetes:
    normal-to-higher BMD, Schwartz 2011), while the yield factor is 0.92."""
    sc = ScenarioConfig(
        age_at_start_years=40.0, metabolic=[MetabolicConfig(start_days=0.0, insulin_resistance=0.8)]
    )
    r = run_zero_d(sc, 3 * YEAR, run=RunConfig(step_days=28.0))
    assert abs(r.at("abmd_change_pct_lumbar_spine", 3 * YEAR)) < 2.0
    assert r.at("tissue_yield_factor", YEAR) == pytest.approx(0.92)
