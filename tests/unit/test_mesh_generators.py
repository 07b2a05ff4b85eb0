"""Generated bone geometries: analytic volumes and areas, named groups, shells, validation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.errors import InputError
from bonefem.mesh import BoneMesh, generate, region_at_points
from bonefem.mesh.generators import GENERATORS, FemurParameters
from bonefem.mesh.generators.femur import SURFACES as FEMUR_SURFACES

pytestmark = pytest.mark.mpi

EXPECTED = {
    "specimen": ({"trabecular"}, {"top", "bottom", "side"}),
    "diaphysis": ({"cortical", "trabecular"}, {"proximal", "distal", "periosteal"}),
    "vertebra": ({"cortical", "trabecular"}, {"cranial_endplate", "caudal_endplate", "periosteal"}),
    "femur": ({"cortical", "trabecular"}, set(FEMUR_SURFACES)),
}


@pytest.fixture(scope="module")
def defaults(bone_mesh) -> dict[str, BoneMesh]:
    return {name: bone_mesh(name) for name in GENERATORS}


def polygon_error(h: float, r: float) -> float:
    """Relative area deficit of a circle of radius r resolved by chords of length ~h.

    A regular N-gon inscribed in the circle has area (N/2π) sin(2π/N) π r², i.e. a relative
    deficit (2π/N)²/6 = (h/r)²/6; the unstructured surface mesh has chords up to ~1.5 h.
    """
    return 1.5**2 * (h / r) ** 2 / 6.0


def test_every_generator_has_its_named_groups(defaults: dict[str, BoneMesh]) -> None:
    for name, (regions, surfaces) in EXPECTED.items():
        bone = defaults[name]
        assert set(bone.regions) == regions, name
        assert set(bone.surfaces) == surfaces, name
        # sorted: collective calls must come in the same order on every rank
        for r in sorted(regions):
            assert bone.volume(r) > 0.0, (name, r)
        for s in sorted(surfaces):
            assert bone.area(s) > 0.0, (name, s)
        # defaults mesh in seconds with well under 100k cells
        assert 5_000 < bone.num_cells_global < 60_000, (name, bone.num_cells_global)


def test_region_tags_cover_all_cells(defaults: dict[str, BoneMesh]) -> None:
    for bone in defaults.values():
        index = bone.cell_region_index()[: bone.num_cells_local]
        assert np.all(index >= 0)
        total = sum(bone.volume(r) for r in bone.region_names)
        assert total == pytest.approx(bone.volume(), rel=1e-12)


def test_cylinder_specimen_against_analytic_values() -> None:
    d, h, hmesh = 8.0, 16.0, 0.8
    bone = generate("specimen", MPI.COMM_WORLD, {"width": d, "mesh_size": hmesh})
    r = d / 2
    err = polygon_error(hmesh, r)
    assert bone.volume() == pytest.approx(math.pi * r**2 * h, rel=err)
    assert bone.volume() < math.pi * r**2 * h  # inscribed polygon
    assert bone.area("top") == pytest.approx(math.pi * r**2, rel=err)
    assert bone.area("bottom") == pytest.approx(math.pi * r**2, rel=err)
    assert bone.area("side") == pytest.approx(2 * math.pi * r * h, rel=err / 4)
    lo, hi = bone.bounding_box()
    assert lo[2] == pytest.approx(0.0, abs=1e-12) and hi[2] == pytest.approx(h)


def test_cylinder_error_shrinks_with_refinement() -> None:
    exact = math.pi * 4.0**2 * 16.0
    errs = []
    for refine in (1.0, 2.0):
        bone = generate("specimen", MPI.COMM_WORLD, {"mesh_size": 1.6, "refine": refine})
        errs.append(abs(bone.volume() - exact) / exact)
    assert errs[1] < errs[0] / 2.5  # second order in h


def test_cube_specimen_with_shell_is_exact() -> None:
    w, t = 10.0, 1.0
    bone = generate(
        "specimen",
        MPI.COMM_WORLD,
        {
            "shape": "cube",
            "width": w,
            "cortical_thickness": t,
            "mesh_size": 1.5,
            "cortical_mesh_size": 1.0,
        },
    )
    assert set(bone.regions) == {"cortical", "trabecular"}
    assert bone.volume() == pytest.approx(w**3, rel=1e-12)
    assert bone.volume("trabecular") == pytest.approx((w - 2 * t) ** 2 * w, rel=1e-12)
    assert bone.volume("cortical") == pytest.approx(w**3 - (w - 2 * t) ** 2 * w, rel=1e-12)
    assert bone.area("top") == pytest.approx(w**2, rel=1e-12)
    assert bone.area("side") == pytest.approx(4 * w * w, rel=1e-12)


def test_tube_against_analytic_values(defaults: dict[str, BoneMesh]) -> None:
    bone = defaults["diaphysis"]
    ro, ri, length = 14.0, 7.0, 60.0
    e_out, e_in = polygon_error(2.5, ro), polygon_error(2.5, ri)
    assert bone.volume("trabecular") == pytest.approx(math.pi * ri**2 * length, rel=e_in)
    annulus = math.pi * (ro**2 - ri**2) * length
    assert bone.volume("cortical") == pytest.approx(annulus, rel=e_in)
    assert bone.area("periosteal") == pytest.approx(2 * math.pi * ro * length, rel=e_out / 4)
    assert bone.area("distal") == pytest.approx(math.pi * ro**2, rel=e_out)
    assert bone.area("proximal") == pytest.approx(bone.area("distal"), rel=1e-12)


def test_hollow_tube_has_an_endosteal_surface() -> None:
    bone = generate("diaphysis", MPI.COMM_WORLD, {"core": "hollow", "length": 30.0})
    assert set(bone.regions) == {"cortical"}
    assert "endosteal" in bone.surfaces
    e = polygon_error(2.5, 7.0)
    assert bone.area("endosteal") == pytest.approx(2 * math.pi * 7.0 * 30.0, rel=e / 4)
    assert bone.volume() == pytest.approx(math.pi * (14.0**2 - 7.0**2) * 30.0, rel=e)


def test_vertebra_shell_has_cells_through_its_thickness(defaults: dict[str, BoneMesh]) -> None:
    """Points at mid-thickness of the 0.5-mm shell and endplates all lie in cortical cells."""
    bone = defaults["vertebra"]
    a, b, h, t, waist = 23.0, 17.0, 27.0, 0.5, 1.5
    theta = np.linspace(0.0, 2 * np.pi, 48, endpoint=False)
    pts = []
    for z in (2.0, h / 2, h - 2.0):
        inset = waist * math.sin(math.pi * z / h) + t / 2
        pts += [[(a - inset) * math.cos(s), (b - inset) * math.sin(s), z] for s in theta]
    for z in (t / 2, h - t / 2):  # endplates
        pts += [
            [r * 15 * math.cos(s), r * 10 * math.sin(s), z]
            for r in (0.0, 0.5, 1.0)
            for s in theta[::6]
        ]
    regions = region_at_points(bone, np.array(pts))
    assert all(r == "cortical" for r in regions), regions.count("cortical")
    inside = region_at_points(bone, [[0.0, 0.0, h / 2], [15.0, 0.0, 5.0]])
    assert inside == ["trabecular", "trabecular"]
    # about the analytic shell volume (elliptic wall with waist, two endplates)
    assert 0.85 < bone.volume("cortical") / 2750.0 < 1.15


def test_femur_landmarks_patches_and_cortex(defaults: dict[str, BoneMesh]) -> None:
    bone = defaults["femur"]
    p = FemurParameters()
    lm = bone.landmarks
    c = np.array(lm["head_centre"])
    assert c[0] == pytest.approx(p.offset)  # femoral offset from the shaft axis
    n = np.array(lm["neck_axis"])
    assert math.degrees(math.acos(n @ np.array(lm["shaft_axis"]))) == pytest.approx(
        180.0 - p.neck_shaft_angle
    )
    r = p.head_diameter / 2
    cap = 2 * math.pi * r**2 * (1 - math.cos(math.radians(p.head_contact_half_angle)))
    assert bone.area("head_contact") == pytest.approx(cap, rel=0.05)
    fall = 2 * math.pi * r**2 * (1 - math.cos(math.radians(p.head_fall_half_angle)))
    assert bone.area("head_fall") == pytest.approx(fall, rel=0.05)
    assert bone.area("distal") == pytest.approx(math.pi * 15.0**2, rel=polygon_error(2.5, 15.0))
    # stance patch is superior, fall patch medial, support lateral
    assert lm["stance_load_direction"][2] < -0.9
    assert lm["fall_load_direction"][0] < -0.9
    # the 1-mm head cortex is covered by cortical cells at mid-thickness
    grid = np.meshgrid(np.radians([0, 20, 40, 60]), np.radians(range(0, 360, 45)))
    polar, azim = grid[0].ravel(), grid[1].ravel()
    dirs = np.stack(
        [np.sin(polar) * np.cos(azim), np.sin(polar) * np.sin(azim), np.cos(polar)], axis=1
    )
    regions = region_at_points(bone, c + (r - 0.5) * dirs)
    assert all(x == "cortical" for x in regions)
    centres = np.array([c, lm["neck_centre"]], dtype=float)
    assert region_at_points(bone, centres) == ["trabecular", "trabecular"]


@pytest.mark.serial
def test_generation_is_deterministic(bone_mesh) -> None:
    # a: generated earlier in the session (or now) on COMM_WORLD, one rank in a serial run
    a = bone_mesh("vertebra", mesh_size=5.0, cortical_mesh_size=2.0)
    b = generate("vertebra", MPI.COMM_SELF, {"mesh_size": 5.0, "cortical_mesh_size": 2.0})
    assert np.array_equal(a.mesh.geometry.x, b.mesh.geometry.x)
    assert np.array_equal(a.mesh.geometry.dofmaps[0], b.mesh.geometry.dofmaps[0])
    assert np.array_equal(a.cell_tags.values, b.cell_tags.values)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("vertebra", {"hieght": 30.0}, "Did you mean 'height'"),
        ("vertebra", {"height": -1.0}, "greater than 0"),
        ("vertebra", {"cortical_mesh_size": 4.0}, "too flat"),
        ("diaphysis", {"inner_diameter": 30.0}, "less than outer_diameter"),
        ("specimen", {"shape": "sphere"}, "cylinder"),
        ("femur", {"head_contact_half_angle": 60.0}, "overlap"),
        ("femur", {"neck_diameter": 50.0}, "less than head_diameter"),
        ("skull", {}, "unknown geometry generator"),
    ],
)
def test_bad_parameters_raise_input_errors(name: str, params: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        generate(name, MPI.COMM_WORLD, params)


def test_parameter_fields_state_unit_range_and_default() -> None:
    for gen in GENERATORS.values():
        for pname, info in gen.parameters.model_fields.items():
            text = info.description or ""
            assert "Unit:" in text and "Range:" in text and "Default:" in text, pname


def test_missing_names_list_what_the_mesh_has(defaults: dict[str, BoneMesh]) -> None:
    with pytest.raises(InputError, match="cranial_endplate, periosteal"):
        defaults["vertebra"].require_surfaces(["cranial_endplat"])
    with pytest.raises(InputError, match="Did you mean 'cortical'"):
        defaults["femur"].require_regions(["cortcal"])


def test_slivers_are_removed_without_moving_the_surfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    """gmsh left a near-flat tetrahedron in the femur at refine 0.9 (and 1.2, 1.5, 2):
    Netgen's optimiser removes it, and every surface mesh and region volume stays as it was.
    """
    import gmsh

    from bonefem.mesh.generators import _gmsh
    from bonefem.mesh.quality import quality_stats, tetrahedron_quality

    def snapshot() -> tuple[dict[int, float], dict[int, list[int]]]:
        """Rank 0, inside gmsh: mesh volume of each volume entity (mm³), surface triangles."""
        tags, coords, _ = gmsh.model.mesh.getNodes()
        xyz = np.zeros((int(tags.max()) + 1, 3))
        xyz[tags.astype(int)] = coords.reshape(-1, 3)
        volumes = {}
        for _, v in gmsh.model.getEntities(3):
            _, _, nodes = gmsh.model.mesh.getElements(3, v)
            p = xyz[np.asarray(nodes[0], dtype=int).reshape(-1, 4)]
            volumes[v] = float(np.abs(tetrahedron_quality(p)["volume"]).sum())
        triangles = {}
        for _, s in gmsh.model.getEntities(2):
            _, _, nodes = gmsh.model.mesh.getElements(2, s)
            triangles[s] = sorted(int(n) for n in nodes[0]) if nodes else []
        return volumes, triangles

    seen: dict[str, Any] = {}
    remove = _gmsh.remove_slivers

    def recorded() -> tuple[int, int]:
        seen["before"] = snapshot()
        seen["counts"] = remove()
        seen["after"] = snapshot()
        counts: tuple[int, int] = seen["counts"]
        return counts

    monkeypatch.setattr(_gmsh, "remove_slivers", recorded)
    bone = generate("femur", MPI.COMM_SELF, {"refine": 0.9})
    before, after = seen["counts"]
    assert before >= 1 and after == 0  # there was one to remove (else the test proves nothing)
    vol0, tri0 = seen["before"]
    vol1, tri1 = seen["after"]
    assert tri1 == tri0  # the same surface triangles: named surfaces and interfaces kept
    for v, value in vol0.items():
        assert vol1[v] == pytest.approx(value, rel=1e-12)
    q = quality_stats(bone.mesh)
    assert q.min_quality >= _gmsh.SLIVER_RADIUS_RATIO
