"""The "how to add" recipes of docs/architecture.md, exercised.

* a metric: one registered metric object adds its columns to every row;
* an output field: every field of the registry is written under its label;
* a remodeling law: the Huiskes law (remodeling/huiskes.py + its settings) runs in the
  coupled loop, honours the stop event and its lazy zone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.build import build
from bonefem.config.case import load_case
from bonefem.coupling.loop import CoupledRun
from bonefem.mesh import load_bone_mesh
from bonefem.metrics import evaluator
from bonefem.metrics.evaluator import MetricContext, Row
from bonefem.output.fields import FIELD_NAMES, FIELDS
from bonefem.state import RunView
from tests.helpers.cases import write_case


def _on_root_case(folder: Path, name: str, extra: str = "", **kw: Any) -> Path:
    """write_case on rank 0 (plus ``extra`` TOML text), then every rank reads it."""
    comm = MPI.COMM_WORLD
    path = folder / f"{name}.toml"
    if comm.rank == 0:
        path = write_case(folder, name, **kw)
        path.write_text(path.read_text() + extra)
    comm.Barrier()
    return path


def _model(case_path: Path):
    case = load_case(case_path)
    bone = load_bone_mesh(case.mesh, MPI.COMM_WORLD, base_dir=case_path.parent)
    return case, build(case, bone)


class BoneVolume:
    """Toy metric: total bone volume (mm³) -- the recipe's worked example."""

    def __init__(self, context: MetricContext) -> None:
        self.comm = context.bone.comm

    def evaluate(self, view: RunView, row: Row) -> None:
        local = float(np.dot(view.state.f, view.geometry.volumes))
        row["bone_volume_mm3"] = self.comm.allreduce(local, op=MPI.SUM)


@pytest.mark.mpi
def test_a_registered_metric_adds_its_column(mpi_tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(evaluator._METRICS, "bone_volume", (25, BoneVolume))
    case_path = _on_root_case(mpi_tmp_path, "metric", duration=14.0)
    _, model = _model(case_path)
    row = CoupledRun(model).metrics_row()
    keys = list(row)
    assert keys.index("bone_volume_mm3") == keys.index("abmd") + 1  # placed by its order
    assert row["bone_volume_mm3"] == pytest.approx(0.15 * 8.0**3, rel=1e-12)  # BV/TV x 8 mm cube


@pytest.mark.mpi
def test_every_registered_field_is_written_under_its_label(mpi_tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    names = ", ".join(f'"{name}"' for name in FIELD_NAMES)
    comm = MPI.COMM_WORLD
    case_path = mpi_tmp_path / "fields.toml"
    if comm.rank == 0:
        text = write_case(mpi_tmp_path, "fields", duration=14.0).read_text()
        case_path.write_text(text.replace("[output]", f"[output]\nfields = [{names}]", 1))
    comm.Barrier()
    from bonefem.driver import run_case

    folder = run_case(case_path, output=mpi_tmp_path / "run", progress=False)
    if MPI.COMM_WORLD.rank == 0:
        pvtu = sorted(folder.glob("fields_*.pvtu"))[-1]
        labels = {e.get("Name") for e in ET.parse(pvtu).iter() if e.get("Name")}
        assert {spec.label for spec in FIELDS} <= labels


def _huiskes_case(folder: Path, name: str, scale: float) -> Path:
    extra = (
        '\n[remodeling]\nlaw = "huiskes"\n'
        + f"\n[[activity]]\nstart_days = 0.0\nstop_days = 1e9\nload_scale = {scale}\n"
    )
    return _on_root_case(folder, name, extra, duration=182.625, step=14.0)


@pytest.mark.mpi
def test_huiskes_disuse_in_the_coupled_loop(mpi_tmp_path: Path) -> None:
    """30 % load: S = 0.09 K, far below the lazy zone -> bone loss with re-solves on the way;
    90 % load: S = 0.81 K, inside the lazy zone (0.65-1.35 K) -> no change at all."""
    _, lazy = _model(_huiskes_case(mpi_tmp_path, "lazy", 0.9))
    run = CoupledRun(lazy)
    run.run()
    np.testing.assert_array_equal(run.state.f, lazy.f0)
    assert run.loop.mechanics_solves == 1

    _, disuse = _model(_huiskes_case(mpi_tmp_path, "disuse", 0.3))
    run = CoupledRun(disuse)
    first = run.metrics_row()
    last = run.run()
    assert last["bvtv_mean_pct_change"] < -5.0
    assert last["apparent_stiffness"] < first["apparent_stiffness"]
    assert run.loop.mechanics_solves > 2  # the stop event re-solved inside the steps
    assert np.all(np.diff([first["bvtv_mean"], last["bvtv_mean"]]) < 0)


@pytest.mark.mpi
def test_virtual_tests_solve_to_their_own_tolerance(mpi_tmp_path: Path) -> None:
    """``solver.test_rtol`` reaches the test load cases only; the habitual ones keep ``rtol``."""
    path = _on_root_case(mpi_tmp_path, "tols", "\n[solver]\ntest_rtol = 2e-5\n", duration=14.0)
    case, model = _model(path)
    mech = model.mechanics
    assert mech.case_rtol == {"test": 2e-5, "overload": 2e-5}
    assert case.solver.rtol == 1e-6 and "compression" not in mech.case_rtol
