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


def test_joint_phantom_voxelmesh_with_crop_seed_separate(tmp_path: Path, capsys, comm) -> None:
    """The femur of the hip-like scan from the command line (crop, seed, separate)."""
    import numpy as np

    from bonefem.imaging.image import read_image
    from bonefem.imaging.phantoms import joint_phantom
    from bonefem.mesh import read_mesh

    img = tmp_path / "hip.nii.gz"
    assert main(["phantom", "joint", "-o", str(img)]) == 0
    out = capsys.readouterr().out
    assert "a point in the femur (mm): [25.75, 30.0, 10.0]" in out
    truth = read_image(tmp_path / "hip-labels.nii.gz").array
    assert np.array_equal(truth, joint_phantom().truth)
    ph = joint_phantom()
    crop = [str(v) for r in ph.femur_box for v in r]
    seed = [str(v) for v in ph.femur_seed]
    mesh = tmp_path / "femur.xdmf"
    argv = ["voxelmesh", str(img), "--crop", *crop, "--threshold", "450", "--seed", *seed,
            "--separate", "2", "--fill-holes", "-o", str(mesh)]  # fmt: skip
    assert main(argv) == 0
    femur = int(((truth == 1) | (truth == 2)).sum())
    assert read_mesh(mesh, comm).volume() == pytest.approx(femur * 0.64, rel=0.002)
    capsys.readouterr()
    # the same without --separate: the femur's component holds the pelvis too
    joined = tmp_path / "joined.xdmf"
    assert main([*argv[:-5], "--fill-holes", "-o", str(joined)]) == 0
    assert read_mesh(joined, comm).volume() > 2.5 * femur * 0.64
    capsys.readouterr()
    assert main([*argv[:2], "--crop", "0", "99", "0", "1", "0", "1", "--threshold", "450"]) == 2
    assert "--crop[0]" in capsys.readouterr().err
    assert main([*argv[:2], "--threshold", "450", "--seed", "900", "0", "0"]) == 2
    assert "--seed" in capsys.readouterr().err


def test_components_lists_the_bones_and_a_seed(tmp_path: Path, capsys) -> None:
    """`components`: joined, the femur is part of the largest; cut apart, its own part."""
    import json

    import numpy as np

    from bonefem.imaging.image import read_image

    img = tmp_path / "hip.nii.gz"
    assert main(["phantom", "joint", "-o", str(img)]) == 0
    truth = read_image(tmp_path / "hip-labels.nii.gz")
    femur = (truth.array == 1) | (truth.array == 2)
    capsys.readouterr()
    parts = {}
    for layers in (0, 2):
        argv = ["components", str(img), "--threshold", "450", "--separate", str(layers)]
        assert main([*argv, "--json"]) == 0
        parts[layers] = json.loads(capsys.readouterr().out)
    # the bones and the two densest rods; the bridge joins femur and pelvis until cut
    assert parts[0]["parts"] == 3 and parts[2]["parts"] == 4
    joined, cut = parts[0]["listed"][0], parts[2]["listed"][1]
    (i0, i1), (j0, j1), (k0, k1) = cut["crop"]
    inside = np.zeros_like(femur)
    inside[k0:k1, j0:j1, i0:i1] = True
    assert femur[~inside].sum() == 0  # the femur's box holds every femur voxel
    assert joined["voxels"] > cut["voxels"] + parts[2]["listed"][0]["voxels"] - 50
    i, j, k = np.rint(truth.physical_to_index([cut["seed_mm"]])[0]).astype(int)
    assert femur[k, j, i]  # the seed lies in the femur
    # the femur's long axis is its shaft, the image's z; shaft and head span 48 slices of 1 mm
    assert np.allclose(cut["axis"], [0.0, 0.0, 1.0], atol=0.02)
    assert cut["length_mm"] == pytest.approx(48.0, abs=1.0)
    assert main(["components", str(img), "--threshold", "450"]) == 0
    assert "3 part(s) within the threshold (26-connected)" in capsys.readouterr().out
    assert main(["components", str(img), "--threshold", "450", "--separate", "40"]) == 2
    assert "--separate" in capsys.readouterr().err
