"""Mesh import (gmsh .msh, meshio formats), the bonefem mesh file, and bad-mesh errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.errors import InputError
from bonefem.mesh import generate, mesh_from_arrays, read_mesh, write_mesh
from bonefem.mesh.io import TAG_KEYS

pytestmark = pytest.mark.mpi

# Kuhn split of a hexahedron (vertices in tensor order) into six tetrahedra
_KUHN = np.array(
    [[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7], [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]]
)
_VTK_HEX = [0, 1, 3, 2, 4, 5, 7, 6]  # tensor order -> VTK order


def cube(n: int = 4, kind: str = "tetra") -> dict:
    """Unit cube: regions 1 (z < 0.5) and 2, surfaces 3 (z = 0) and 4 (z = 1)."""
    g = np.linspace(0.0, 1.0, n + 1)
    z, y, x = np.meshgrid(g, g, g, indexing="ij")
    points = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    idx = np.arange((n + 1) ** 3).reshape(n + 1, n + 1, n + 1)  # [k, j, i]
    corners = [
        idx[dk : n + dk, dj : n + dj, di : n + di].ravel()
        for dk in (0, 1)
        for dj in (0, 1)
        for di in (0, 1)
    ]
    hexes = np.stack(corners, axis=1)  # tensor order: bit 0 = x, bit 1 = y, bit 2 = z
    zc = points[hexes].mean(axis=1)[:, 2]
    if kind == "tetra":
        cells = hexes[:, _KUHN].reshape(-1, 4)
        d = points[cells]
        vol = np.einsum(
            "ij,ij->i", d[:, 1] - d[:, 0], np.cross(d[:, 2] - d[:, 0], d[:, 3] - d[:, 0])
        )
        cells[vol < 0] = cells[vol < 0][:, [0, 2, 1, 3]]
        zc = np.repeat(zc, 6)
        quad_split = [[0, 1, 3], [0, 2, 3]]
    else:
        cells = hexes[:, _VTK_HEX]
        quad_split = None
    bottom = hexes[points[hexes[:, 0], 2] == 0.0][:, [0, 1, 2, 3]]
    top = hexes[points[hexes[:, 7], 2] == 1.0][:, [4, 5, 6, 7]]
    if quad_split is not None:
        bottom = bottom[:, quad_split].reshape(-1, 3)
        top = top[:, quad_split].reshape(-1, 3)
    else:
        bottom, top = bottom[:, [0, 1, 3, 2]], top[:, [0, 1, 3, 2]]
    facets = np.concatenate([bottom, top])
    fvals = np.concatenate([np.full(len(bottom), 3), np.full(len(top), 4)])
    cvals = np.where(zc < 0.5, 1, 2)
    return {
        "points": points,
        "cells": cells,
        "cvals": cvals,
        "facets": facets,
        "fvals": fvals,
        "kind": kind,
        "ftype": "triangle" if kind == "tetra" else "quad",
    }


def write_on_root(path: Path, writer) -> Path:
    comm = MPI.COMM_WORLD
    if comm.rank == 0:
        writer(path)
    comm.Barrier()
    return path


def meshio_mesh(c: dict, key: str = "regions", **extra):
    import meshio

    cell_data = {key: [c["cvals"], c["fvals"]]}
    return meshio.Mesh(
        c["points"],
        [(c["kind"], c["cells"]), (c["ftype"], c["facets"])],
        cell_data=cell_data,
        **extra,
    )


def assert_cube(bone, regions=("region_1", "region_2"), surfaces=("surface_3", "surface_4")):
    assert sorted(bone.regions) == sorted(regions)
    assert sorted(bone.surfaces) == sorted(surfaces)
    for r in sorted(regions):
        assert bone.volume(r) == pytest.approx(0.5, rel=1e-12)
    for s in sorted(surfaces):
        assert bone.area(s) == pytest.approx(1.0, rel=1e-12)


# --------------------------------------------------------------------------- gmsh .msh
def test_generated_msh_round_trip(mpi_tmp_path: Path) -> None:
    path = mpi_tmp_path / "spec.msh"
    params = {
        "shape": "cube",
        "width": 6.0,
        "cortical_thickness": 1.0,
        "mesh_size": 1.5,
        "cortical_mesh_size": 1.0,
    }
    bone = generate("specimen", MPI.COMM_WORLD, params, msh_file=path)
    back = read_mesh(path, MPI.COMM_WORLD)
    assert back.regions == bone.regions and back.surfaces == bone.surfaces
    for r in bone.region_names:
        assert back.volume(r) == pytest.approx(bone.volume(r), rel=1e-12)
    for s in bone.surface_names:
        assert back.area(s) == pytest.approx(bone.area(s), rel=1e-12)
    assert back.num_cells_global == bone.num_cells_global


def test_femur_msh_keeps_patch_groups(mpi_tmp_path: Path) -> None:
    path = mpi_tmp_path / "femur.msh"
    params = {"mesh_size": 12.0, "cortical_mesh_size": 4.0}
    bone = generate("femur", MPI.COMM_WORLD, params, msh_file=path)
    back = read_mesh(path, MPI.COMM_WORLD)
    assert back.surfaces == bone.surfaces
    for s in bone.surface_names:
        assert back.area(s) == pytest.approx(bone.area(s), rel=1e-12)


def test_msh_unnamed_groups_get_names_and_user_mapping(mpi_tmp_path: Path) -> None:
    import meshio

    c = cube()
    m = meshio_mesh(c, key="gmsh:physical")
    m.cell_data["gmsh:geometrical"] = m.cell_data["gmsh:physical"]
    path = write_on_root(
        mpi_tmp_path / "cube.msh", lambda p: meshio.write(p, m, file_format="gmsh22", binary=False)
    )
    assert_cube(read_mesh(path, MPI.COMM_WORLD))
    named = read_mesh(
        path, MPI.COMM_WORLD, regions={"cortical": 1, "trabecular": 2}, surfaces={"bottom": 3}
    )
    assert_cube(named, ("cortical", "trabecular"), ("bottom", "surface_4"))


# --------------------------------------------------------------------------- meshio
@pytest.mark.parametrize(
    ("suffix", "key", "fmt"),
    [
        (".vtu", "regions", None),
        (".vtk", "CellEntityIds", None),
        (".mesh", "medit:ref", None),
        (".msh", "gmsh:physical", "gmsh22"),
    ],
)
def test_meshio_formats_keep_tags(mpi_tmp_path: Path, suffix: str, key: str, fmt: str) -> None:
    import meshio

    c = cube()
    m = meshio_mesh(c, key=key)
    if key == "gmsh:physical":
        m.cell_data["gmsh:geometrical"] = m.cell_data[key]
        m.field_data = {
            "cortical": np.array([1, 3]),
            "trabecular": np.array([2, 3]),
            "bottom": np.array([3, 2]),
            "top": np.array([4, 2]),
        }
    path = write_on_root(
        mpi_tmp_path / f"cube{suffix}", lambda p: meshio.write(p, m, file_format=fmt)
    )
    bone = read_mesh(path, MPI.COMM_WORLD)
    if key == "gmsh:physical":
        assert_cube(bone, ("cortical", "trabecular"), ("bottom", "top"))
    else:
        assert_cube(bone)


def test_abaqus_element_sets_are_regions_and_surfaces(mpi_tmp_path: Path) -> None:
    import meshio

    c = cube()
    nv, nf = len(c["cells"]), len(c["facets"])
    sets = {
        "ALL": [np.arange(nv), np.array([], int)],
        "CORTEX": [np.flatnonzero(c["cvals"] == 1), np.array([], int)],
        "CORE": [np.flatnonzero(c["cvals"] == 2), np.array([], int)],
        "BASE": [np.array([], int), np.flatnonzero(c["fvals"] == 3)],
        "LID": [np.array([], int), np.flatnonzero(c["fvals"] == 4)],
    }
    assert nf == len(c["fvals"])
    m = meshio.Mesh(c["points"], [("tetra", c["cells"]), ("triangle", c["facets"])], cell_sets=sets)
    path = write_on_root(mpi_tmp_path / "cube.inp", lambda p: meshio.write(p, m))
    assert_cube(read_mesh(path, MPI.COMM_WORLD), ("CORE", "CORTEX"), ("BASE", "LID"))


def test_dolfinx_xdmf_with_meshtags(mpi_tmp_path: Path) -> None:
    """An XDMF file written by DOLFINx (write_mesh + write_meshtags) imports with its tags."""
    from bonefem._dolfinx import dolfinx

    c = cube()
    src = mesh_from_arrays(
        MPI.COMM_WORLD,
        c["points"],
        c["cells"],
        c["cvals"],
        c["facets"],
        c["fvals"],
        regions={"a": 1, "b": 2},
        surfaces={"c": 3, "d": 4},
    )
    path = mpi_tmp_path / "dolfinx.xdmf"
    src.cell_tags.name, src.facet_tags.name = "cell_tags", "facet_tags"
    with dolfinx.io.XDMFFile(MPI.COMM_WORLD, str(path), "w") as f:
        f.write_mesh(src.mesh)
        f.write_meshtags(src.cell_tags, src.mesh.geometry)
        f.write_meshtags(src.facet_tags, src.mesh.geometry)
    bone = read_mesh(path, MPI.COMM_WORLD, regions={"cortical": 1, "trabecular": 2})
    assert_cube(bone, ("cortical", "trabecular"))


def test_med_via_meshio(mpi_tmp_path: Path) -> None:
    """A MED file (Salome, Code_Aster) through meshio; h5py is a dependency (in the lock)."""
    import meshio

    c = cube()
    m = meshio_mesh(c, key="cell_tags")
    path = write_on_root(mpi_tmp_path / "cube.med", lambda p: meshio.write(p, m))
    bone = read_mesh(path, MPI.COMM_WORLD)
    assert bone.volume() == pytest.approx(1.0)


def test_hexahedra_round_trip(mpi_tmp_path: Path) -> None:
    import meshio

    c = cube(2, "hexahedron")
    path = write_on_root(mpi_tmp_path / "hex.vtu", lambda p: meshio.write(p, meshio_mesh(c)))
    bone = read_mesh(path, MPI.COMM_WORLD)
    assert bone.mesh.topology.cell_type.name == "hexahedron"
    assert_cube(bone)
    out = write_mesh(bone, mpi_tmp_path / "hex.xdmf")
    assert_cube(read_mesh(out, MPI.COMM_WORLD))


# --------------------------------------------------------------------------- bonefem file
def test_bonefem_file_round_trip(mpi_tmp_path: Path, bone_mesh) -> None:
    comm = MPI.COMM_WORLD
    bone = bone_mesh("femur", mesh_size=10.0, cortical_mesh_size=4.0)
    path = write_mesh(bone, mpi_tmp_path / "femur.xdmf")
    meta = json.loads((mpi_tmp_path / "femur.bonefem.json").read_text())
    assert meta["format"] == "bonefem-mesh" and meta["num_cells"] == bone.num_cells_global
    back = read_mesh(path, comm)
    assert back.regions == bone.regions and back.surfaces == bone.surfaces
    assert back.landmarks.keys() == bone.landmarks.keys()
    for k, v in bone.landmarks.items():
        assert back.landmarks[k] == pytest.approx(v)
    for r in bone.region_names:
        assert back.volume(r) == pytest.approx(bone.volume(r), rel=1e-12)
    for s in bone.surface_names:
        assert back.area(s) == pytest.approx(bone.area(s), rel=1e-12)
    # the original cell index survives: same cell centroids for the same index
    a, b = cell_centroids_by_original_index(bone), cell_centroids_by_original_index(back)
    if comm.rank == 0:
        assert a is not None and b is not None and np.array_equal(a, b)
    renamed = read_mesh(path, comm, regions={"cortex": 1})
    assert sorted(renamed.regions) == ["cortex", "trabecular"]


def cell_centroids_by_original_index(bone) -> np.ndarray | None:
    """Cell centroids (mm) ordered by original cell index, on rank 0."""
    m = bone.mesh
    n = bone.num_cells_local
    x = m.geometry.x[m.geometry.dofmaps[0][:n]].mean(axis=1)
    parts = bone.comm.gather((np.asarray(m.topology.original_cell_index[:n]), x), root=0)
    if bone.comm.rank != 0:
        return None
    idx = np.concatenate([p[0] for p in parts])
    out = np.empty((idx.size, 3))
    out[idx] = np.concatenate([p[1] for p in parts])
    return out


def test_bonefem_file_errors(mpi_tmp_path: Path, bone_mesh) -> None:
    bone = bone_mesh("specimen", mesh_size=2.0)
    path = write_mesh(bone, mpi_tmp_path / "s.xdmf")
    write_on_root(mpi_tmp_path / "s.bonefem.json", lambda p: p.write_text("{not json"))
    with pytest.raises(InputError, match="unreadable sidecar"):
        read_mesh(path, MPI.COMM_WORLD)
    with pytest.raises(InputError, match=r"must end in \.xdmf"):
        write_mesh(bone, mpi_tmp_path / "s.vtu")


# --------------------------------------------------------------------------- bad meshes
def test_missing_and_unreadable_files(mpi_tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such mesh file"):
        read_mesh(mpi_tmp_path / "nothing.vtu", MPI.COMM_WORLD)
    junk = write_on_root(mpi_tmp_path / "junk.vtu", lambda p: p.write_text("this is no mesh"))
    with pytest.raises(InputError, match="meshio cannot read"):
        read_mesh(junk, MPI.COMM_WORLD)
    junk_msh = write_on_root(mpi_tmp_path / "junk.msh", lambda p: p.write_text("$Nonsense"))
    with pytest.raises(InputError, match=r"junk.msh"):
        read_mesh(junk_msh, MPI.COMM_WORLD)


def test_two_dimensional_meshes_are_refused(mpi_tmp_path: Path) -> None:
    import meshio

    c = cube(2)
    m = meshio.Mesh(c["points"], [("triangle", c["facets"])])
    path = write_on_root(mpi_tmp_path / "flat.vtu", lambda p: meshio.write(p, m))
    with pytest.raises(InputError, match="2-D"):
        read_mesh(path, MPI.COMM_WORLD)
    msh = write_on_root(
        mpi_tmp_path / "flat.msh", lambda p: meshio.write(p, m, file_format="gmsh22")
    )
    with pytest.raises(InputError, match="2-D"):
        read_mesh(msh, MPI.COMM_WORLD)


def test_unsupported_cell_types_are_refused(mpi_tmp_path: Path) -> None:
    import meshio

    p = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1], [1, 0, 1.0]])
    wedge = meshio.Mesh(p, [("wedge", np.array([[0, 1, 2, 3, 5, 4]]))])
    path = write_on_root(mpi_tmp_path / "wedge.vtu", lambda q: meshio.write(q, wedge))
    with pytest.raises(InputError, match=r"unsupported cell type.*wedge"):
        read_mesh(path, MPI.COMM_WORLD)
    c, h = cube(1), cube(1, "hexahedron")
    mixed = meshio.Mesh(c["points"], [("tetra", c["cells"]), ("hexahedron", h["cells"])])
    path = write_on_root(mpi_tmp_path / "mixed.vtu", lambda q: meshio.write(q, mixed))
    with pytest.raises(InputError, match="one type per mesh"):
        read_mesh(path, MPI.COMM_WORLD)


def test_inverted_and_degenerate_cells(mpi_tmp_path: Path) -> None:
    c = cube(2)
    cells = c["cells"].copy()
    cells[5] = cells[5][[1, 0, 2, 3]]  # one cell turned inside out
    with pytest.raises(InputError, match=r"1 of 48 tetrahedra are inverted"):
        mesh_from_arrays(MPI.COMM_WORLD, c["points"], cells, source="inverted")
    points = np.vstack(
        [c["points"], [[0.5, 0.5, 2.0], [1.0, 1.0, 2.0], [1.5, 1.5, 2.0], [0.0, 1.0, 2.0]]]
    )
    flat = np.vstack(
        [c["cells"], [len(points) - 4, len(points) - 3, len(points) - 2, len(points) - 1]]
    )
    with pytest.raises(InputError, match=r"1 tetrahedra have zero volume"):
        mesh_from_arrays(MPI.COMM_WORLD, points, flat, source="flat")


def test_tag_lookup_errors(mpi_tmp_path: Path) -> None:
    import meshio

    path = write_on_root(mpi_tmp_path / "c.vtu", lambda p: meshio.write(p, meshio_mesh(cube(2))))
    with pytest.raises(InputError, match=r"no cell data 'material'.*regions"):
        read_mesh(path, MPI.COMM_WORLD, cell_data_key="material")
    with pytest.raises(InputError, match=r"region tag 7 .*tags are: 1, 2"):
        read_mesh(path, MPI.COMM_WORLD, regions={"cortical": 7})
    assert "regions" in TAG_KEYS


def test_copied_mesh_file_reads_as_the_written_one(mpi_tmp_path: Path, bone_mesh) -> None:
    """A run folder's copy of a cached mesh (``copy_mesh_file``) is what reading the cache
    and writing it again gives: the same datasets, XDMF text and sidecar, the same cells."""
    h5py = pytest.importorskip("h5py")
    from bonefem.mesh.meshfile import copy_mesh_file

    comm = MPI.COMM_WORLD
    bone = bone_mesh("femur", mesh_size=10.0, cortical_mesh_size=4.0)
    cached = write_mesh(bone, mpi_tmp_path / "cache" / "femur-0123.xdmf")
    copied = copy_mesh_file(cached, mpi_tmp_path / "run" / "mesh.xdmf", comm)
    rewritten = write_mesh(read_mesh(cached, comm), mpi_tmp_path / "again" / "mesh.xdmf")
    if comm.rank == 0:
        assert copied.read_text() == rewritten.read_text()
        assert "mesh.h5:/Mesh/topology" in copied.read_text()
        side = [p.with_name("mesh.bonefem.json").read_text() for p in (copied, rewritten)]
        assert side[0] == side[1]
        names = ["Mesh/geometry", "Mesh/topology", "Mesh/regions", "Surfaces/topology"]
        h5 = [p.with_suffix(".h5") for p in (copied, rewritten)]
        with h5py.File(h5[0]) as x, h5py.File(h5[1]) as y:
            for name in [*names, "Surfaces/values"]:
                assert np.array_equal(x[name][()], y[name][()]), name
    back = read_mesh(copied, comm)
    assert back.regions == bone.regions and back.surfaces == bone.surfaces
    a, b = cell_centroids_by_original_index(bone), cell_centroids_by_original_index(back)
    if comm.rank == 0:
        assert a is not None and b is not None and np.array_equal(a, b)
    # an incomplete source is refused on every rank, naming it
    write_on_root(cached.with_suffix(".h5"), lambda p: p.unlink())
    with pytest.raises(InputError, match="not a complete bonefem mesh file"):
        copy_mesh_file(cached, mpi_tmp_path / "run2" / "mesh.xdmf", comm)
