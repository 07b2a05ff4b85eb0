"""Raw mesh arrays are checked before DOLFINx sees them (issue 16, item 1): a tetrahedron
that repeats a vertex corrupted memory; now it is exit 2 with one line."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import meshio
import numpy as np
import pytest

from bonefem.cli import main
from bonefem.errors import InputError
from bonefem.mesh.validate import check_cell_array
from tests.conftest import ROOT, mpiexec
from tests.helpers.cases import write_case


def cube(n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A cube of n³ Kuhn-split hexes (6 positively oriented tetrahedra each), mm."""
    g = np.linspace(0.0, 8.0, n + 1)
    pts = np.array(list(itertools.product(g, g, g)))
    idx = np.arange(pts.shape[0]).reshape(n + 1, n + 1, n + 1)
    tets = []
    for i, j, k in itertools.product(range(n), repeat=3):
        v = [idx[i + a, j + b, k + c] for a, b, c in itertools.product((0, 1), repeat=3)]
        for perm in itertools.permutations((4, 2, 1)):
            corner, path = 0, [v[0]]
            for step in perm:
                corner += step
                path.append(v[corner])
            tets.append(path)
    cells = np.array(tets)
    p = pts[cells]
    vol = np.einsum("ij,ij->i", np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]), p[:, 3] - p[:, 0])
    cells[vol < 0] = cells[vol < 0][:, [0, 2, 1, 3]]
    return pts, cells


def test_a_good_mesh_passes() -> None:
    pts, cells = cube()
    check_cell_array(pts, cells, source="cube")
    check_cell_array(pts, cells[:, [0, 2, 1, 3]], source="all flipped")  # consistent


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        (lambda p, c: c.__setitem__((5, 3), c[5, 0]), "1 cell(s) repeat a vertex"),
        (lambda p, c: p.__setitem__((3, 1), np.nan), "not finite"),
        (lambda p, c: p.__setitem__((3, 1), np.inf), "not finite"),
        (lambda p, c: c.__setitem__((7, 2), 10_000), "refer to nodes that do not exist"),
        (lambda p, c: c.__setitem__((7, 2), -1), "refer to nodes that do not exist"),
        (lambda p, c: c.__setitem__(4, c[4][[0, 2, 1, 3]]), "1 of 48 tetrahedra are inverted"),
    ],
)
def test_bad_meshes_are_rejected(damage, words) -> None:
    pts, cells = cube()
    damage(pts, cells)
    with pytest.raises(InputError, match=re.escape(words)) as info:
        check_cell_array(pts, cells, source="bad.vtu")
    assert "bad.vtu" in str(info.value)


def test_a_flat_tetrahedron_is_rejected() -> None:
    pts, cells = cube()
    pts = np.vstack([pts, [[1.0, 1.0, 0.0], [2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [1.5, 1.5, 0.0]]])
    n = pts.shape[0]
    cells = np.vstack([cells, [[n - 4, n - 3, n - 2, n - 1]]])
    with pytest.raises(InputError, match="1 tetrahedra have zero volume"):
        check_cell_array(pts, cells, source="flat")


def _case_with_mesh(tmp_path: Path, mesh_file: str) -> Path:
    case = write_case(tmp_path, "imported")
    text = case.read_text()
    start = text.index("[mesh]")
    end = text.index("[material")
    text = text[:start] + f'[mesh]\nfile = "{mesh_file}"\n\n' + text[end:]
    case.write_text(text)
    return case


def _write_vtu(path: Path, pts: np.ndarray, cells: np.ndarray) -> None:
    tags = np.ones(cells.shape[0], dtype=np.int32)
    meshio.write(str(path), meshio.Mesh(pts, [("tetra", cells)], cell_data={"regions": [tags]}))


@pytest.mark.serial
def test_check_rejects_a_mesh_file_with_a_repeated_vertex(capsys, tmp_path) -> None:
    pts, cells = cube()
    cells[5, 3] = cells[5, 0]
    _write_vtu(tmp_path / "bad.vtu", pts, cells)
    case = _case_with_mesh(tmp_path, "bad.vtu")
    code = main(["-q", "check", str(case)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert "bad.vtu" in lines[0] and "repeat a vertex" in lines[0] and "cell 5" in lines[0]


@pytest.mark.serial
@pytest.mark.parametrize("nprocs", [1, 2])
def test_run_with_a_collapsed_tetrahedron_exits_2_on_every_rank(tmp_path, nprocs) -> None:
    pts, cells = cube()
    cells[11, 1] = cells[11, 2]
    _write_vtu(tmp_path / "bad.vtu", pts, cells)
    case = _case_with_mesh(tmp_path, "bad.vtu")
    cmd = [sys.executable, "-m", "bonefem.cli", "-q", "run", str(case), "-o", str(tmp_path / "r")]
    if nprocs > 1:
        cmd = [mpiexec(), "-n", str(nprocs), *cmd]
    env = dict(os.environ)
    env.pop("PMI_RANK", None)
    env.pop("PMI_SIZE", None)
    # The crash this replaces varied from run to run (it came from DOLFINx reading the
    # degenerate cell); the message below comes only from the validation that now runs
    # before DOLFINx sees the mesh, so one run per rank count shows that it ran.
    proc = subprocess.run(
        [*cmd, "--overwrite", "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert "repeat a vertex" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.serial
def test_check_follows_settings_files_to_the_mesh_file(capsys, tmp_path) -> None:
    pts, cells = cube()
    pts[2, 0] = np.nan
    (tmp_path / "meshes").mkdir()
    _write_vtu(tmp_path / "meshes" / "nan.vtu", pts, cells)
    (tmp_path / "meshes" / "bone.toml").write_text('[mesh]\nfile = "nan.vtu"\n')
    case = write_case(tmp_path, "via_settings")
    text = case.read_text()
    start, end = text.index("[mesh]"), text.index("[material")
    case.write_text(text[:start] + '[mesh]\nsettings = "meshes/bone.toml"\n\n' + text[end:])
    code = main(["-q", "check", str(case)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "nan.vtu" in err and "not finite" in err and len(err.strip().splitlines()) == 1
