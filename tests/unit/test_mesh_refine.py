"""Parallel uniform refinement of the generated femur (``uniform_refinements``).

A coarse gmsh femur refined once in DOLFINx must keep its regions and surfaces (every
child cell in its parent's region; patch areas of the same size), converge to the exact
CAD geometry faster than the coarse mesh (projection of the new boundary and interface
nodes), agree with a directly generated gmsh femur of the same fineness, and give the same
volumes and areas on 1 and 2 ranks (the 1-rank mesh made on ``MPI.COMM_SELF`` inside the
2-rank job).
"""

from __future__ import annotations

import pytest

from bonefem._dolfinx import MPI

#: A small coarse femur (about 11k cells); refined once: about 90k cells.
COARSE = {"mesh_size": 10.0, "cortical_mesh_size": 4.0}
REFINED = {**COARSE, "uniform_refinements": 1}


def measures(bone) -> dict:
    return {
        "cells": bone.num_cells_global,
        "regions": {r: bone.volume(r) for r in bone.region_names},
        "surfaces": {s: bone.area(s) for s in bone.surface_names},
    }


def region_cells(bone) -> dict[str, int]:
    n = bone.num_cells_local
    return {
        r: int(bone.comm.allreduce(int((bone.region_cells(r) < n).sum()), op=MPI.SUM))
        for r in bone.region_names
    }


def exact_femur(params: dict) -> dict:
    """Volumes of the CAD regions and the CAD outer and distal areas (OpenCASCADE)."""
    import gmsh

    from bonefem.mesh.generators import _gmsh as g
    from bonefem.mesh.generators.femur import FemurParameters, _Geometry, _union

    p = FemurParameters(**params)
    geo = _Geometry(p)
    owns = not gmsh.isInitialized()
    if owns:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("exact")
    try:
        outer = _union(geo, 0.0, 0.0, 0.0, 0.0)
        t = (p.shaft_cortical_thickness, p.trochanter_cortical_thickness)
        inner = _union(geo, *t, p.neck_cortical_thickness, p.head_cortical_thickness)
        shell, core = g.fragment_shell(outer, inner)
        occ = gmsh.model.occ
        surfaces = g.boundary_surfaces(shell + core)
        distal = [s for s in surfaces if abs(gmsh.model.getBoundingBox(2, s)[5]) < 1e-6]
        return {
            "cortical": sum(occ.getMass(3, v) for v in shell),
            "trabecular": sum(occ.getMass(3, v) for v in core),
            "boundary": sum(occ.getMass(2, s) for s in surfaces),
            "distal": sum(occ.getMass(2, s) for s in distal),
        }
    finally:
        gmsh.model.remove()
        if owns:
            gmsh.finalize()


@pytest.mark.mpi
def test_tags_are_carried_to_the_children(bone_mesh) -> None:
    """Without projection the children tile their parents: exact volumes, areas and counts."""
    from bonefem.mesh.generators._refine import Geometry, refine_bone

    coarse = bone_mesh("femur", **COARSE)
    fine, report = refine_bone(coarse, 1, Geometry(outer=()))
    assert report.cells == [8 * coarse.num_cells_global]
    assert fine.regions == coarse.regions and fine.surfaces == coarse.surfaces
    # every parent's 8 children are in its region
    assert region_cells(fine) == {k: 8 * v for k, v in region_cells(coarse).items()}
    a, b = measures(coarse), measures(fine)
    for kind in ("regions", "surfaces"):
        for name, value in a[kind].items():
            assert b[kind][name] == pytest.approx(value, rel=1e-12), name
    assert fine.landmarks == coarse.landmarks


@pytest.mark.slow
def test_projection_converges_to_the_geometry(bone_mesh) -> None:
    """Refined + projected: closer to the exact CAD and to a direct gmsh mesh as fine."""
    from bonefem.mesh.quality import quality_stats

    coarse = measures(bone_mesh("femur", **COARSE))
    fine_bone = bone_mesh("femur", **REFINED)
    fine = measures(fine_bone)
    direct = measures(bone_mesh("femur", **COARSE, refine=2.0))
    exact = exact_femur(COARSE)
    assert fine["cells"] == 8 * coarse["cells"]
    # the faceted boundary and interface lose volume and area as h^2; the projected
    # refinement must gain at least half of it back (without projection it gains nothing)
    total = {k: sum(m["regions"].values()) for k, m in (("c", coarse), ("f", fine))}
    v_exact = exact["cortical"] + exact["trabecular"]
    boundary = {k: sum(m["surfaces"].values()) for k, m in (("c", coarse), ("f", fine))}
    for name, c, f, ex in (
        ("trabecular", coarse["regions"]["trabecular"], fine["regions"]["trabecular"],
         exact["trabecular"]),
        ("volume", total["c"], total["f"], v_exact),
        ("boundary", boundary["c"], boundary["f"], exact["boundary"]),
        ("distal", coarse["surfaces"]["distal"], fine["surfaces"]["distal"], exact["distal"]),
    ):  # fmt: skip
        assert abs(f / ex - 1) < 0.5 * abs(c / ex - 1), name
    # the cortex is the difference of two such volumes (errors cancel): close to both
    assert fine["regions"]["cortical"] == pytest.approx(exact["cortical"], rel=1.5e-3)
    for region in ("cortical", "trabecular"):
        assert fine["regions"][region] == pytest.approx(direct["regions"][region], rel=2e-3)
    # the load patches are re-drawn on the refined boundary with the generator's own rule
    for name, area in direct["surfaces"].items():
        tol = 1e-2 if name == "periosteal" else 0.06  # patch edges follow the triangles
        assert fine["surfaces"][name] == pytest.approx(area, rel=tol), name
    stats = quality_stats(fine_bone.mesh)
    assert stats.num_inverted == 0 and stats.num_degenerate == 0
    # Plaza's children of a tetrahedron are at worst a bounded factor poorer than it
    assert stats.min_quality > 0.1 * quality_stats(bone_mesh("femur", **COARSE).mesh).min_quality


@pytest.mark.mpi
def test_refined_mesh_file_round_trip(bone_mesh, mpi_tmp_path) -> None:
    """The refined mesh saves and reloads (as every run does) with no inverted cell."""
    from bonefem.mesh import read_mesh, write_mesh
    from bonefem.mesh.quality import check_cells

    bone = bone_mesh("femur", **REFINED)
    back = read_mesh(write_mesh(bone, mpi_tmp_path / "f.xdmf"), MPI.COMM_WORLD)
    check_cells(back.mesh)
    a, b = measures(bone), measures(back)
    assert a["cells"] == b["cells"]
    for kind in ("regions", "surfaces"):
        for name, value in a[kind].items():
            assert b[kind][name] == pytest.approx(value, rel=1e-12), name
    assert "uniform_refinements=1" in back.source


def test_estimate_counts_eight_cells_per_level() -> None:
    from bonefem.mesh.estimate import estimate_generated

    one = estimate_generated("femur", dict(COARSE))
    two = estimate_generated("femur", dict(REFINED, uniform_refinements=2))
    assert one is not None and two is not None
    assert two.cells == pytest.approx(64 * one.cells)


def test_cache_key_names_the_refinement_and_the_ranks() -> None:
    from bonefem.mesh.generators.config import cache_key

    assert cache_key("femur", COARSE) == cache_key("femur", COARSE, ranks=2)
    assert cache_key("femur", REFINED) != cache_key("femur", COARSE)
    assert cache_key("femur", REFINED) != cache_key("femur", REFINED, ranks=2)


@pytest.mark.mpi
@pytest.mark.mpi_only
def test_same_volumes_and_areas_on_one_and_two_ranks(bone_mesh) -> None:
    from bonefem.mesh import generate

    two = measures(bone_mesh("femur", **REFINED))  # refined after distribution over 2 ranks
    one = measures(generate("femur", MPI.COMM_SELF, REFINED))  # each rank its own, alone
    assert one["cells"] == two["cells"]
    for kind in ("regions", "surfaces"):
        assert one[kind].keys() == two[kind].keys()
        for name, value in one[kind].items():
            assert two[kind][name] == pytest.approx(value, rel=1e-10), name
