"""A finite-element run of a cohort starts from the 0-D history (issue 13 item 7)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.build import build
from bonefem.config.case import load_case
from bonefem.coupling.loop import CoupledRun
from bonefem.mesh import load_bone_mesh
from tests.helpers.cases import write_case

COHORT = """age_at_start_years = 70.0
history_from_age_years = 45.0
estrogen = { menopause = "natural", menopause_time_days = -6939.75 }"""


@pytest.mark.mpi
def test_fe_cohort_starts_from_its_history(mpi_tmp_path: Path) -> None:
    """Cells, BV/TV and the relative stimulus at t = 0 are the history's (the same on 1 and
    2 ranks: the history runs at the case's region BV/TV, not at the rank's cells), and the
    run goes on losing bone from there."""
    comm = MPI.COMM_WORLD
    path = mpi_tmp_path / "cohort.toml"
    if comm.rank == 0:
        path = write_case(mpi_tmp_path, "cohort", duration=182.625, biology=COHORT)
    comm.Barrier()
    case = load_case(path)
    model = build(case, load_bone_mesh(case.mesh, comm, base_dir=path.parent))
    history = model.law.history  # type: ignore[attr-defined]
    assert history is not None and history.years == 25.0
    run = CoupledRun(model)
    s = run.state
    f_young = case.material.regions["trabecular"].bvtv
    assert np.all(s.cells[3] < f_young)  # bone lost in the 25 years before t = 0
    np.testing.assert_allclose(s.cells, history.state(model.f0), rtol=0, atol=0)
    # the first solve sees the history's relative stimulus (> 1: the loss braked by it); the
    # default 1 mm Helmholtz filter returns this one-region constant to its solver tolerance
    np.testing.assert_allclose(s.ratio_solved, history.stimulus_ratio(model.f0), rtol=1e-8)
    assert np.all(s.ratio_solved > 1.0)
    first = run.metrics_row()
    run.run()
    last = run.metrics_row()
    assert last["bvtv_mean_trabecular"] < first["bvtv_mean_trabecular"]


@pytest.mark.mpi
def test_fe_baseline_t_score_scales_the_young_adult_bvtv(mpi_tmp_path: Path) -> None:
    """A baseline T-score scales every region's young-adult BV/TV by the 0-D factor k (the
    same k on 1 and 2 ranks: it comes from the case's region values, not the partition),
    the history then runs from the scaled peak (the cells at t = 0 are the history's at
    k f), and the site aBMD (0-D mapping) of the scaled peak after the history is the
    T-score's."""
    from bonefem.biology.densitometry import (
        SITE_TRABECULAR_SHARE,
        YOUNG_ADULT_REFERENCE,
        relative_abmd,
        t_score,
    )
    from bonefem.biology.history import CohortHistory

    comm = MPI.COMM_WORLD
    path = mpi_tmp_path / "cohort_t.toml"
    text = COHORT + '\nbaseline_t_score = -2.5\nbaseline_site = "lumbar_spine"'
    if comm.rank == 0:
        path = write_case(mpi_tmp_path, "cohort_t", duration=91.3125, biology=text)
    comm.Barrier()
    case = load_case(path)
    model = build(case, load_bone_mesh(case.mesh, comm, base_dir=path.parent))
    regions = case.material.regions
    young = np.array([regions[name].bvtv for name in model.geometry.region_names])
    k_cells = model.f0 / young[model.geometry.region_index]
    k = float(k_cells[0])
    np.testing.assert_allclose(k_cells, k, rtol=1e-14)  # one factor for every region
    assert 0.7 < k < 0.95  # a T-score below the cohort's mean lowers the peak
    ks = comm.allgather(k)
    assert ks[0] == ks[-1]
    history = model.law.history  # type: ignore[attr-defined]
    run = CoupledRun(model)
    np.testing.assert_allclose(run.state.cells, history.state(model.f0), rtol=0, atol=0)
    # the t_score column: the case's at t = 0, then this run's own aBMD change
    assert run.metrics_row()["t_score"] == pytest.approx(-2.5, abs=1e-12)
    run.run()
    last = run.metrics_row()
    mean, sd, _ = YOUNG_ADULT_REFERENCE["lumbar_spine"]
    ratio = relative_abmd(-2.5, "lumbar_spine") * (1.0 + last["abmd_pct_change"] / 100.0)
    assert last["t_score"] == pytest.approx((ratio - 1.0) * mean / sd, abs=1e-9)
    assert last["t_score"] < -2.5  # the cohort goes on losing bone
    # the site's aBMD (0-D mapping): the test mesh has one region, so the cortical point
    # is the 0-D default 0.95; its history from k f gives the T-score
    f_tc = np.array([regions["trabecular"].bvtv, 0.95])
    cell_model = model.law.model  # type: ignore[attr-defined]
    end = CohortHistory.run(cell_model, model.signals, k * f_tc, 25.0).cells
    ref = cell_model.healthy_state(f_tc)
    fm = end[3] * end[4] / (ref[3] * ref[4])
    w = SITE_TRABECULAR_SHARE["lumbar_spine"]
    assert float(t_score(w * fm[0] + (1 - w) * fm[1], "lumbar_spine")) == pytest.approx(
        -2.5, abs=1e-6
    )
