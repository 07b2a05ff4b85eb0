"""Quality measures, ``bonefem mesh``, default mesh settings, a sanity solve and ParaView."""

from __future__ import annotations

import json
import math
import subprocess
import tomllib
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI, dolfinx
from bonefem.mesh import BoneMesh, box, generate, load_bone_mesh, quality_stats
from bonefem.mesh.command import main as mesh_main
from bonefem.mesh.quality import hexahedron_quality, tetrahedron_quality
from tests.conftest import ROOT, pvbatch


def test_regular_tetrahedron_has_quality_one() -> None:
    x = np.array([[[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1.0]]])
    q = tetrahedron_quality(x)
    assert q["quality"][0] == pytest.approx(1.0)
    assert q["min_dihedral"][0] == pytest.approx(math.degrees(math.acos(1 / 3)))
    assert abs(q["volume"][0]) == pytest.approx(8 / 3)
    flat = np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 1e-9]]])
    assert tetrahedron_quality(flat)["quality"][0] < 1e-6


def test_hexahedron_scaled_jacobian_and_volume() -> None:
    unit = np.array([[[i & 1, (i >> 1) & 1, (i >> 2) & 1] for i in range(8)]], dtype=float)
    q = hexahedron_quality(unit * [2.0, 3.0, 4.0])
    assert q["quality"][0] == pytest.approx(1.0) and q["volume"][0] == pytest.approx(24.0)
    sheared = unit.copy()
    sheared[0, 4:, 0] += 1.0  # top face shifted by one edge length: 45 deg shear
    assert hexahedron_quality(sheared)["quality"][0] == pytest.approx(math.sqrt(0.5))
    tangled = unit.copy()
    tangled[0, 7] = [0.2, 0.2, 0.2]  # a corner pushed through the cell
    assert hexahedron_quality(tangled)["quality"][0] < 0.0


@pytest.mark.mpi
def test_quality_stats_are_reduced_over_ranks() -> None:
    stats = quality_stats(box(MPI.COMM_WORLD, (1, 1, 1), (4, 4, 4)).mesh)
    assert stats.num_cells == 6 * 64
    assert stats.min_quality == pytest.approx(0.7174389352143, rel=1e-9)  # Kuhn simplex
    assert stats.min_dihedral == pytest.approx(45.0) and stats.max_dihedral == pytest.approx(90.0)
    assert stats.num_inverted == 0 and stats.num_degenerate == 0


@pytest.mark.mpi
def test_mesh_command_generates_writes_and_reports(
    mpi_tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BONEFEM_MESH_CACHE", str(mpi_tmp_path / "cache"))
    out = mpi_tmp_path / "d.xdmf"
    args = ["diaphysis", "--set", "length=20", "--set", 'core="hollow"', "-o", str(out), "--json"]
    assert mesh_main(args) == 0
    text = capsys.readouterr().out
    if MPI.COMM_WORLD.rank == 0:
        summary = json.loads(text)
        assert set(summary["surfaces"]) == {"distal", "proximal", "periosteal", "endosteal"}
        assert summary["regions"]["cortical"]["volume"] > 0
        assert summary["quality"]["num_inverted"] == 0
    assert out.exists()
    assert mesh_main(["--input", str(out)]) == 0
    report = capsys.readouterr().out
    if MPI.COMM_WORLD.rank == 0:
        assert "endosteal" in report and "radius ratio" in report
    # cached: a second generation reads the cache
    assert mesh_main(["diaphysis", "--set", "length=20", "--set", 'core="hollow"']) == 0
    assert len(list((mpi_tmp_path / "cache").glob("diaphysis-*.xdmf"))) == 1


def test_mesh_command_reports_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert mesh_main(["vertebra", "--set", "hight=3"]) == 2
    assert "Did you mean 'height'" in capsys.readouterr().err
    assert mesh_main(["--input", "/no/such/file.vtu"]) == 2
    assert "no such mesh file" in capsys.readouterr().err
    assert mesh_main([]) == 2
    assert mesh_main(["--list", "femur"]) == 0
    assert "neck_shaft_angle" in capsys.readouterr().out


@pytest.mark.mpi
@pytest.mark.parametrize("name", ["specimen", "diaphysis", "vertebra", "femur"])
def test_default_mesh_settings(name: str, mpi_tmp_path: Path) -> None:
    bone = load_bone_mesh({"settings": f"{name}.toml", "cache": False}, MPI.COMM_WORLD)
    assert 5_000 < bone.num_cells_global < 60_000
    settings = tomllib.loads((ROOT / "meshes" / f"{name}.toml").read_text())
    assert settings["mesh"]["generator"] == name


def _solve(bone: BoneMesh, cases: list) -> object:
    from bonefem.mechanics import ElasticityProblem

    problem = ElasticityProblem(bone, cases, options_prefix=f"meshtest_{len(cases)}_")
    E = np.where(bone.cell_region_index()[: bone.num_cells_local] == 0, 15000.0, 500.0)
    problem.set_modulus(E)  # region index 0 = cortical (sorted names)
    for lc in cases:
        problem.solve(lc.name)
    return problem


@pytest.mark.mpi
def test_vertebra_axial_compression_solves() -> None:
    from bonefem.config.loading import Displacement, Fixed, LoadCase

    bone = generate("vertebra", MPI.COMM_WORLD, {"mesh_size": 5.0, "cortical_mesh_size": 2.0})
    lc = LoadCase(
        name="axial",
        supports=[
            Fixed(surface="caudal_endplate"),
            Displacement(surface="cranial_endplate", value=-0.05, component="z"),
        ],
    )
    problem = _solve(bone, [lc])
    k = problem.apparent_stiffness("axial")  # type: ignore[attr-defined]
    # bounds: trabecular core alone (500 MPa) and all bone as cortex (15 GPa), area ~ V / H
    area = bone.volume() / 27.0
    assert 500.0 * area / 27.0 < k < 15000.0 * area / 27.0
    problem.destroy()  # type: ignore[attr-defined]


@pytest.mark.mpi
def test_femur_stance_and_fall_solve() -> None:
    from bonefem.config.loading import Fixed, Force, LoadCase

    bone = generate("femur", MPI.COMM_WORLD, {"mesh_size": 10.0, "cortical_mesh_size": 4.0})
    lm = bone.landmarks
    stance = LoadCase(
        name="stance",
        supports=[Fixed(surface="distal")],
        loads=[
            Force(
                surface="head_contact", force=list(2000.0 * np.array(lm["stance_load_direction"]))
            )
        ],
    )
    fall = LoadCase(
        name="fall",
        supports=[Fixed(surface="distal"), Fixed(surface="trochanter_support")],
        loads=[
            Force(surface="head_fall", force=list(3000.0 * np.array(lm["fall_load_direction"])))
        ],
    )
    problem = _solve(bone, [stance, fall])
    for name, direction in (
        ("stance", lm["stance_load_direction"]),
        ("fall", lm["fall_load_direction"]),
    ):
        surface = "head_contact" if name == "stance" else "head_fall"
        u = problem.mean_displacement(name, surface)  # type: ignore[attr-defined]
        assert 1e-4 < float(u @ np.array(direction)) < 10.0  # the head gives way, a little
    problem.destroy()  # type: ignore[attr-defined]


@pytest.mark.paraview
def test_generated_mesh_opens_in_paraview_with_regions(mpi_tmp_path: Path) -> None:
    exe = pvbatch()
    if exe is None:
        pytest.skip("ParaView's pvbatch is not installed")
    bone = generate("vertebra", MPI.COMM_WORLD, {"mesh_size": 6.0, "cortical_mesh_size": 2.5})
    Q = dolfinx.fem.functionspace(bone.mesh, ("DG", 0))
    regions = dolfinx.fem.Function(Q, name="regions")
    regions.x.array[bone.cell_tags.indices] = bone.cell_tags.values
    pvd = mpi_tmp_path / "vertebra.pvd"
    with dolfinx.io.VTKFile(MPI.COMM_WORLD, str(pvd), "w") as f:
        f.write_function(regions)
    if MPI.COMM_WORLD.rank != 0:
        return
    script = mpi_tmp_path / "check.py"
    script.write_text(
        "from paraview.simple import PVDReader, MergeBlocks, servermanager\n"
        f"r = PVDReader(FileName={str(pvd)!r})\n"
        "m = MergeBlocks(Input=r)\nm.UpdatePipeline()\n"
        "d = servermanager.Fetch(m)\n"
        "a = d.GetCellData().GetArray('regions')\n"
        "print('CELLS', d.GetNumberOfCells(), 'RANGE', *(a.GetRange() if a else (0, 0)))\n"
    )
    out = subprocess.run([exe, str(script)], capture_output=True, text=True, timeout=300)
    line = next(x for x in out.stdout.splitlines() if x.startswith("CELLS"))
    _, cells, _, lo, hi = line.split()
    assert int(cells) == bone.num_cells_global
    assert (float(lo), float(hi)) == (1.0, 2.0)


@pytest.mark.paraview
def test_bonefem_file_opens_in_paraview(mpi_tmp_path: Path) -> None:
    exe = pvbatch()
    if exe is None:
        pytest.skip("ParaView's pvbatch is not installed")
    from bonefem.mesh import write_mesh

    bone = generate("specimen", MPI.COMM_WORLD, {"cortical_thickness": 0.5, "mesh_size": 1.2})
    path = write_mesh(bone, mpi_tmp_path / "s.xdmf")
    if MPI.COMM_WORLD.rank != 0:
        return
    script = mpi_tmp_path / "check.py"
    script.write_text(
        "from paraview.simple import Xdmf3ReaderS, servermanager\n"
        f"r = Xdmf3ReaderS(FileName=[{str(path)!r}])\nr.UpdatePipeline()\n"
        "it = servermanager.Fetch(r).NewIterator()\nit.InitTraversal()\n"
        "while not it.IsDoneWithTraversal():\n"
        "    d = it.GetCurrentDataObject()\n"
        "    a = d.GetCellData().GetArray('regions')\n"
        "    if a is not None:\n"
        "        print('CELLS', d.GetNumberOfCells(), 'RANGE', *a.GetRange())\n"
        "    it.GoToNextItem()\n"
    )
    out = subprocess.run([exe, str(script)], capture_output=True, text=True, timeout=300)
    line = next(x for x in out.stdout.splitlines() if x.startswith("CELLS"))
    _, cells, _, lo, hi = line.split()
    assert int(cells) == bone.num_cells_global
    assert (float(lo), float(hi)) == (1.0, 2.0)
