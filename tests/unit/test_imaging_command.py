"""``bonefem image`` (bonefem.imaging.command): inspect, phantom, voxelmesh; exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bonefem.imaging.command import main

pytestmark = pytest.mark.serial


def test_phantom_inspect_voxelmesh(tmp_path: Path, capsys, comm) -> None:
    img = tmp_path / "ph.nii.gz"
    assert main(["phantom", "qct", "-o", str(img)]) == 0
    assert (tmp_path / "ph-labels.nii.gz").is_file()
    capsys.readouterr()
    png = tmp_path / "h.png"
    assert main(["inspect", str(img), "--histogram", str(png)]) == 0
    out = capsys.readouterr().out
    assert "72 x 72 x 24 voxels" in out and "0.75 x 0.75 x 0.75 mm" in out
    assert png.stat().st_size > 1000
    mesh = tmp_path / "ph.xdmf"
    labels = str(tmp_path / "ph-labels.nii.gz")
    regions = ["--region", "cortical=1", "--region", "trabecular=2"]
    code = main(["voxelmesh", str(img), "--labels", labels, *regions, "-o", str(mesh)])
    assert code == 0
    from bonefem.mesh import read_mesh

    bone = read_mesh(mesh, comm)
    assert set(bone.regions) == {"cortical", "trabecular"}
    # k = 1: the mesh volume is the labelled volume; the phantom has 19248 bone voxels
    assert bone.volume() == pytest.approx(19248 * 0.75**3, rel=1e-12)
    assert "zmin" in bone.surfaces and "surface" in bone.surfaces


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["inspect", "missing.nii"], "no such image"),
        (["voxelmesh", "{img}"], "exactly one of --labels or --threshold"),
        (["voxelmesh", "{img}", "--threshold", "99999"], "no voxel is within"),
        (["inspect", "{img}", "--max-gib", "1e-9"], "over the limit"),
    ],
)
def test_bad_input_exit_2(tmp_path: Path, capsys, argv, message) -> None:
    img = tmp_path / "rods.mha"
    assert main(["phantom", "rods", "-o", str(img)]) == 0
    capsys.readouterr()
    assert main([a.format(img=img) for a in argv]) == 2
    assert message in capsys.readouterr().err
