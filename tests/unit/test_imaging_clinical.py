"""A clinical-like scan: crop, seed, separation of bones joined across a joint, density split.

The hip-like phantom (:func:`bonefem.imaging.phantoms.joint_phantom`) puts a femur's head in
a pelvis-like cup with a 2.5-mm joint space, joins them by a 1-mm bony bridge, blurs the
scan (σ 0.5 mm) and adds noise; calibration rods lie outside the femur's box. Truth is the
unblurred geometry. Serial and 2 ranks for the mesh path.
"""

from __future__ import annotations

import numpy as np
import pytest

from bonefem.errors import InputError
from bonefem.imaging.image import Image, write_image
from bonefem.imaging.phantoms import joint_phantom
from bonefem.imaging.segment import component_at, fill_capped, fill_holes, separate, threshold_mask
from bonefem.mesh import load_bone_mesh

pytestmark = pytest.mark.mpi


@pytest.fixture(scope="module")
def phantom():
    return joint_phantom()


def _seed_index(ph) -> tuple[int, int, int]:
    i, j, k = np.rint(ph.image.physical_to_index([ph.femur_seed])[0]).astype(int)
    return (int(k), int(j), int(i))


def _fractions(mask, truth) -> tuple[float, float, int]:
    femur = (truth == 1) | (truth == 2)
    pelvis = truth == 3
    return (
        float((mask & femur).sum() / femur.sum()),
        float((mask & pelvis).sum() / pelvis.sum()),
        int(mask.sum()),
    )


def test_the_bridge_joins_the_bones(phantom) -> None:
    """Without separation the femur's component holds the pelvis (what the tool must cut)."""
    mask = threshold_mask(phantom.image.array, 450.0, keep_largest=False)
    joined = fill_holes(component_at(mask, _seed_index(phantom)))
    femur, pelvis, _ = _fractions(joined, phantom.truth)
    assert femur > 0.99
    assert pelvis > 0.85
    # and the largest component is not the femur alone either
    largest = threshold_mask(phantom.image.array, 450.0)
    assert _fractions(largest, phantom.truth)[1] > 0.85


@pytest.mark.parametrize("threshold", [200.0, 450.0, 600.0])
@pytest.mark.parametrize("layers", [1, 2])
def test_separate_keeps_the_femur_and_drops_the_pelvis(phantom, threshold, layers) -> None:
    mask = threshold_mask(phantom.image.array, threshold, keep_largest=False)
    femur_mask = fill_holes(
        separate(mask, layers, _seed_index(phantom), spacing=phantom.image.spacing)
    )
    femur, pelvis, n = _fractions(femur_mask, phantom.truth)
    assert femur > 0.999
    assert pelvis == 0.0
    truth = int(((phantom.truth == 1) | (phantom.truth == 2)).sum())
    # a threshold at about half the cortex's HU finds the true surface; a low one adds the
    # blur's halo (one voxel layer)
    assert n / truth == pytest.approx(1.0, abs=0.002 if threshold >= 450.0 else 0.16)


def test_separate_without_seed_takes_the_largest_and_seed_in_the_canal(phantom) -> None:
    mask = threshold_mask(phantom.image.array, 450.0, keep_largest=False)
    largest = separate(mask, 2, spacing=phantom.image.spacing)
    femur, pelvis, _ = _fractions(largest, phantom.truth)
    assert pelvis > 0.9  # the pelvis is the larger bone
    assert femur < 0.01
    # a seed on the shaft's axis lies in the marrow (below the threshold): the nearest
    # marker is the femur's
    axis = np.rint(phantom.image.physical_to_index([(20.0, 30.0, 10.0)])[0]).astype(int)
    seed = (int(axis[2]), int(axis[1]), int(axis[0]))
    assert not mask[seed]
    femur_mask = fill_holes(separate(mask, 2, seed, spacing=phantom.image.spacing))
    femur, pelvis, _ = _fractions(femur_mask, phantom.truth)
    assert femur > 0.99
    assert pelvis == 0.0
    with pytest.raises(ValueError, match="at least 1"):
        separate(mask, 0)
    with pytest.raises(ValueError, match="nothing is left"):
        separate(mask, 40)


def test_fill_capped_closes_cut_canals_not_joint_spaces() -> None:
    """A tube open at both image faces is filled; the gap between a ball and a cup is not."""
    z, y, x = np.mgrid[0:20, 0:30, 0:30].astype(float)
    r = np.hypot(x - 15, y - 15)
    tube = (r <= 8) & (r >= 5)
    filled = fill_capped(tube)
    assert filled[10][r[10] < 5].all()  # the canal, open at z = 0 and z = 19
    d = np.sqrt((x - 15) ** 2 + (y - 15) ** 2 + (z - 8) ** 2)
    ball_cup = (d <= 5) | ((d >= 7) & (d <= 9) & (z >= 8))
    gap = (d > 5) & (d < 7) & (z >= 8)
    assert not fill_capped(ball_cup)[gap].any()
    assert fill_holes(ball_cup)[gap].any()  # slice-wise filling closes it: why markers don't


def test_crop_keeps_physical_positions_and_checks_ranges() -> None:
    img = Image(np.arange(4 * 5 * 6).reshape(4, 5, 6), spacing=(0.5, 0.6, 0.7),
                origin=(1.0, 2.0, 3.0), direction=np.array([[0, -1, 0], [1, 0, 0], [0, 0, 1.0]]),
                source="a.nii")  # fmt: skip
    sub = img.crop([[1, 4], [2, 5], [1, 3]])
    assert sub.size == (3, 3, 2)
    assert sub.array[0, 0, 0] == img.array[1, 2, 1]
    np.testing.assert_allclose(sub.index_to_physical([[2, 1, 1]]),
                               img.index_to_physical([[3, 3, 2]]), atol=1e-12)  # fmt: skip
    for bad, axis in (([[0, 7], [0, 5], [0, 4]], 0), ([[0, 6], [3, 3], [0, 4]], 1),
                      ([[0, 6], [0, 5], [-1, 2]], 2)):  # fmt: skip
        with pytest.raises(InputError) as err:
            img.crop(bad, field="mesh.image.crop")
        assert err.value.field == f"mesh.image.crop[{axis}]"
        assert "a.nii" in str(err.value)
    with pytest.raises(InputError, match="three"):
        img.crop([[0, 1], [0, 1]])


@pytest.fixture
def hip_file(phantom, mpi_tmp_path, comm):
    if comm.rank == 0:
        write_image(phantom.image, mpi_tmp_path / "hip.nii.gz")
    comm.Barrier()
    return mpi_tmp_path


def _table(ph, **kw):
    table = {
        "file": "hip.nii.gz",
        "crop": ph.femur_box,
        "threshold": [450.0],
        "seed": list(ph.femur_seed),
        "separate": 2,
        "fill_holes": True,
        "cortical_apparent_density": 1.0,
        "density": {
            "units": "HU",
            "rods": [{"center": list(c), "radius": 2.0, "density": d}
                     for c, d in zip(ph.rod_centers, ph.rod_densities, strict=True)],
        },
    }  # fmt: skip
    table.update(kw)
    return {"image": table}


def test_case_mesh_of_the_femur_from_the_hip_scan(phantom, hip_file, comm) -> None:
    """Crop (rods outside), seed, separation and the cortical split through a case table."""
    bone = load_bone_mesh(_table(phantom), comm, base_dir=hip_file)
    assert bone.regions == {"cortical": 1, "trabecular": 2}
    v = float(np.prod(phantom.image.spacing))
    truth = phantom.truth
    # volumes of the regions against the unblurred truth
    assert bone.volume() == pytest.approx(((truth == 1) | (truth == 2)).sum() * v, rel=0.002)
    assert bone.volume("cortical") == pytest.approx((truth == 1).sum() * v, rel=0.01)
    assert bone.volume("trabecular") == pytest.approx((truth == 2).sum() * v, rel=0.01)
    # the rods outside the crop calibrated the line (the phantom's: 0.0008 g/cm³ per HU): at
    # k = 1 the mapped mineral Σ ρ V is the calibrated scan's over the femur's voxels
    rho = bone.cell_data["initial_mineral_density"][: bone.num_cells_local]
    mass = comm.allreduce(float(rho.sum()) * v)
    mask = threshold_mask(ph_hu := phantom.image.array, 450.0, keep_largest=False)
    mask = fill_holes(separate(mask, 2, _seed_index(phantom), spacing=phantom.image.spacing))
    scanned = float(phantom.calibration.density(ph_hu[mask].astype(float)).sum()) * v
    assert mass == pytest.approx(scanned, rel=0.01)
    # which is below the true mineral by the blur's spill beyond the surface (about σ/√(2π)
    # × the cortex's density per unit of surface: 0.2 mm × 1 g/cm³ × ~2600 mm²)
    true_mass = ((truth == 1).sum() * 1.0 + (truth == 2).sum() * 0.15) * v
    assert 0.05 < 1.0 - mass / true_mass < 0.12
    # the image's facets: the shaft's cut end and the bone surface
    assert set(bone.surfaces) == {"zmin", "surface"}


def test_case_mesh_errors_name_the_field(phantom, hip_file, comm) -> None:
    ph = phantom
    cases = [
        (_table(ph, seed=[500.0, 0.0, 0.0]), "mesh.image.seed", "outside the cropped image"),
        (_table(ph, seed=[20.0, 30.0, 10.0], separate=0), "mesh.image.seed", "not bone"),
        (_table(ph, crop=[[0, 99], [0, 10], [0, 10]]), "mesh.image.crop[0]", "0 <= start"),
        (_table(ph, separate=12), "mesh.image.separate", "nothing is left"),
    ]
    for table, field, words in cases:
        with pytest.raises(InputError) as err:
            load_bone_mesh(table, comm, base_dir=hip_file)
        assert err.value.field == field
        assert words in str(err.value)
    bad = _table(ph)
    del bad["image"]["density"]
    with pytest.raises(InputError, match=r"cortical_apparent_density.*needs a"):
        load_bone_mesh(bad, comm, base_dir=hip_file)
    labels = _table(ph)["image"]
    for key in ("threshold", "cortical_apparent_density", "density", "separate"):
        labels.pop(key)
    labels["labels"] = "hip.nii.gz"
    with pytest.raises(InputError, match="'seed' works on a 'threshold'"):
        load_bone_mesh({"image": labels}, comm, base_dir=hip_file)


@pytest.fixture
def hip_dicom(phantom, mpi_tmp_path, comm):
    from tests.unit.test_imaging_image import _dicom_series

    if comm.rank == 0:
        _dicom_series(phantom.image, mpi_tmp_path / "hip_dcm", "1.2.826.0.1.3680043.2.1125.17")
        write_image(phantom.image, mpi_tmp_path / "hip.nii.gz")
    comm.Barrier()
    return mpi_tmp_path


def test_dicom_series_gives_the_same_femur(phantom, hip_dicom, comm) -> None:
    """The scan as a DICOM series (positions in the headers, the crop read slice by slice,
    a given calibration line) gives the femur of the NIfTI file: same volumes, same mineral."""
    density = {"units": "HU", "slope": 0.0008, "intercept": 0.0}
    bones = []
    for name in ("hip_dcm", "hip.nii.gz"):
        table = _table(phantom, file=name, density=density)
        bones.append(load_bone_mesh(table, comm, base_dir=hip_dicom))
    dcm, nii = bones
    for region in ("cortical", "trabecular"):
        # NIfTI keeps the voxel size in single precision (0.8 mm reads 0.8 + 1.2e-8)
        assert dcm.volume(region) == pytest.approx(nii.volume(region), rel=1e-7)
    mass = [
        comm.allreduce(float(b.cell_data["initial_mineral_density"][: b.num_cells_local].sum()))
        for b in bones
    ]
    assert mass[0] == pytest.approx(mass[1], rel=1e-9)
