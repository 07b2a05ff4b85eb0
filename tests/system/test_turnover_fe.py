"""The turnover columns close the bone's mass balance (bonefem.metrics.turnover)."""

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

#: estrogen already gone at t = 0 from the healthy state: resorption rises within days,
#: formation follows over months, the bone is lost throughout
LATE_MENOPAUSE = 'estrogen = { menopause = "natural", menopause_time_days = -1826.25 }'


class _Rows:
    """A progress sink that keeps the metrics rows."""

    def __init__(self, rows: list[dict[str, float]]) -> None:
        self.rows = rows

    def update(self, t: float, step: int, metrics: dict[str, float] | None = None) -> None:
        if metrics:
            self.rows.append(metrics)


@pytest.mark.mpi
def test_bone_volume_changes_by_formation_minus_resorption(mpi_tmp_path: Path) -> None:
    """Between weekly metrics rows the bone volume Σ f V (bvtv_mean times the bone's
    volume) changes by the trapezoid integral of bone_formation_rate − bone_resorption_rate
    (mm³/day): within 1 % per week once the first week's fast osteoclast rise is over
    (the trapezoid rule's and the cell integrator's errors), 0.5 % over the run. A rate in
    the wrong unit (per year, per bone volume) or sign fails by orders of magnitude. The
    same on 1 and 2 ranks (the sums are reduced over ranks); at t = 0 formation equals
    resorption (the healthy steady state) and the BFR/BV is the cell model's
    premenopausal turnover. The bfr_bv field of the ParaView files, weighted by bone
    volume, is the bfr_bv column."""
    comm = MPI.COMM_WORLD
    path = mpi_tmp_path / "balance.toml"
    if comm.rank == 0:
        path = write_case(
            mpi_tmp_path, "balance", duration=182.625, step=7.0, metrics_every=7.0,
            biology=LATE_MENOPAUSE,
        )  # fmt: skip
    comm.Barrier()
    case = load_case(path)
    model = build(case, load_bone_mesh(case.mesh, comm, base_dir=path.parent))
    volume = comm.allreduce(float(np.sum(model.geometry.volumes)), op=MPI.SUM)
    run = CoupledRun(model)
    rows = [run.metrics_row()]
    run.run(_Rows(rows))
    assert len(rows) == 28  # t = 0, 7, ..., 182 and the end, 182.625 days
    t = np.array([r["time_days"] for r in rows])
    bone = volume * np.array([r["bvtv_mean"] for r in rows])  # mm³
    form = np.array([r["bone_formation_rate"] for r in rows])
    res = np.array([r["bone_resorption_rate"] for r in rows])
    assert form[0] == pytest.approx(res[0], rel=1e-9)
    assert rows[0]["bfr_bv"] == pytest.approx(100.0 * 365.25 * form[0] / bone[0], rel=1e-12)
    assert 20.0 < rows[0]["bfr_bv"] < 30.0  # %/year
    assert np.all(res[1:] > form[1:])  # losing bone
    change = np.diff(bone)
    integral = 0.5 * (form - res)[1:] * np.diff(t) + 0.5 * (form - res)[:-1] * np.diff(t)
    np.testing.assert_allclose(integral[1:], change[1:], rtol=1e-2)
    total = bone[-1] - bone[1]
    assert np.sum(integral[1:]) == pytest.approx(total, rel=5e-3)
    assert total < -0.002 * bone[0]  # a loss well above the tolerances
    # the ParaView field bfr_bv (%/year per cell), weighted by bone volume, is the column
    from bonefem.output.fields import BY_NAME

    view = run.view()
    bv = view.state.f * model.geometry.volumes
    field = np.asarray(BY_NAME["bfr_bv"].value(view), dtype=float)
    mean = comm.allreduce(float(np.sum(field * bv)), op=MPI.SUM) / comm.allreduce(
        float(np.sum(bv)), op=MPI.SUM
    )
    assert mean == pytest.approx(rows[-1]["bfr_bv"], rel=1e-12)
