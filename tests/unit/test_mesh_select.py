"""[[mesh.select]]: geometric selectors in case files (serial and on 2 ranks, marker mpi).

The selectors add named surfaces to a mesh of any source after it is loaded; the case-vs-
mesh checks and load cases see them, the mesh file keeps them, and an empty selection is
an InputError naming the file, the selector and the mesh's bounding box (exit 2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.imaging.image import Image, write_image
from bonefem.mesh import load_bone_mesh, read_mesh, write_mesh

pytestmark = pytest.mark.mpi

H = 0.5  # mm voxels: a 4 x 5 x 6 mm block of 8 x 10 x 12 voxels


@pytest.fixture
def block_image(mpi_tmp_path: Path, comm) -> Path:
    if comm.rank == 0:
        img = Image(np.full((12, 10, 8), 1000, np.int16), spacing=(H, H, H), origin=(H / 2,) * 3)
        write_image(img, mpi_tmp_path / "block.nii.gz")
    comm.Barrier()
    return mpi_tmp_path


def _table(*select: dict) -> dict:
    return {"image": {"file": "block.nii.gz", "threshold": [500.0]}, "select": list(select)}


TOP = {"name": "top_cut", "type": "plane", "normal": [0, 0, 1], "offset": 6.0, "band": 1e-6}
END = {"name": "x_end", "type": "extreme", "direction": [1, 0, 0], "band": 1e-6}


def test_selections_add_named_surfaces(block_image: Path, comm) -> None:
    bone = load_bone_mesh(_table(TOP, END), comm, base_dir=block_image)
    assert {"top_cut", "x_end", "zmax", "xmax"} <= set(bone.surfaces)
    assert bone.area("top_cut") == pytest.approx(20.0)
    assert bone.area("x_end") == pytest.approx(30.0)
    assert bone.area("zmax") == pytest.approx(0.0, abs=1e-12)  # the facets moved
    # written with the mesh's surface names, as the run folder's mesh file
    write_mesh(bone, block_image / "mesh.xdmf")
    back = read_mesh(block_image / "mesh.xdmf", comm)
    assert back.area("top_cut") == pytest.approx(20.0)
    assert back.area("x_end") == pytest.approx(30.0)


def test_empty_selection_names_file_selector_and_bbox(block_image: Path, comm) -> None:
    miss = {"name": "nowhere", "type": "sphere", "center": [50, 50, 50], "radius": 1.0}
    with pytest.raises(InputError) as err:
        load_bone_mesh(_table(TOP, miss), comm, base_dir=block_image, file="case.toml")
    text = str(err.value)
    assert "case.toml" in text and "mesh.select[1]" in text and "nowhere" in text
    assert "(0, 0, 0) to (4, 5, 6) mm" in text


def test_selection_emptied_by_a_later_one(block_image: Path, comm) -> None:
    again = {**TOP, "name": "again"}
    with pytest.raises(InputError, match=r"mesh.select\[0\].*later selector"):
        load_bone_mesh(_table(TOP, again), comm, base_dir=block_image)


def test_bad_selector_table_is_an_input_error(block_image: Path, comm) -> None:
    with pytest.raises(InputError, match=r"mesh.select.0"):
        load_bone_mesh(_table({"name": "a", "type": "plane", "normal": [0, 0]}), comm,
                       base_dir=block_image)  # fmt: skip


CASE = """
[run]
name = "select-check"
duration_days = 10.0

[mesh.image]
file = "block.nii.gz"
threshold = [500.0]

[[mesh.select]]
name = "top_cut"
type = "plane"
normal = [0.0, 0.0, 1.0]
offset = {offset}
band = 0.01

[material.regions.bone]
bvtv = 0.5
modulus = {{ preset = "morgan2003_vertebra" }}

[[load_cases]]
name = "walk"
supports = [{{ type = "fixed", surface = "zmin" }}]
loads = [{{ type = "force", surface = "top_cut", force = [0.0, 0.0, -100.0] }}]
"""


def _check(path: Path, nprocs: int, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Exit code and stderr of ``bonefem check PATH``: 1 rank in this process (the CLI's
    ``main``), 2 ranks under mpiexec."""
    if nprocs > 1:
        from tests.helpers.cli import _run

        proc = _run([sys.executable, "-m", "bonefem.cli", "check", str(path)], nprocs)
        return proc.returncode, proc.stderr
    from tests.helpers.cli import run_main

    code, _, err = run_main(["check", str(path)], capsys)
    return code, err


@pytest.mark.parametrize("nprocs", [1, 2])
def test_bonefem_check_sees_selected_surfaces(
    block_image: Path, comm, capsys: pytest.CaptureFixture[str], nprocs: int
) -> None:
    if comm.size > 1:
        pytest.skip("launches its own processes")
    good, bad = block_image / "good.toml", block_image / "bad.toml"
    good.write_text(CASE.format(offset=6.0))
    bad.write_text(CASE.format(offset=60.0))
    code, err = _check(good, nprocs, capsys)
    assert code == 0, err
    assert "top_cut" in err
    code, err = _check(bad, nprocs, capsys)
    assert code == 2, err
    assert "mesh.select[0]" in err and "selects no boundary facet" in err
