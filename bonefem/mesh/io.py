"""Mesh import (gmsh ``.msh``, meshio formats) and the bonefem mesh file (save once, reload).

Import
------
:func:`read_mesh` picks the reader from the file:

* **bonefem mesh file** -- ``name.xdmf`` + ``name.h5`` + ``name.bonefem.json`` written by
  :func:`bonefem.mesh.meshfile.write_mesh`; read with DOLFINx on any number of ranks.
* **XDMF** ``.xdmf`` (without sidecar) -- read with DOLFINx (:func:`read_xdmf`): the
  tetrahedron/hexahedron grid is the mesh, cell attributes of volume grids give regions,
  attributes of triangle/quadrilateral grids give surfaces (DOLFINx ``write_meshtags``).
* **gmsh** ``.msh`` (v2 or v4) -- volume physical groups become regions, surface physical
  groups become surfaces, with their physical names (unnamed groups are called
  ``region_<tag>`` / ``surface_<tag>``; a mesh without volume groups gets one region
  ``bone``). Read with gmsh on rank 0 and distributed by ``model_to_mesh``.
* **any other meshio format** (``.vtu``, ``.vtk``, ``.inp``, ``.mesh``, ``.xdmf``, ``.med``
  ...). Cell tags are looked up in ``cell_data`` under ``cell_data_key`` or the first of
  :data:`TAG_KEYS` (``gmsh:physical``, ``medit:ref``, ``cell_tags`` (MED families), ...);
  volume cells (tetra/hexahedron blocks) give regions, facet cells (triangle/quad blocks)
  with a non-zero tag give surfaces. Names come from ``field_data`` (gmsh), the MED family
  names, or, without tag data, from ``cell_sets`` (e.g. Abaqus ``*ELSET``: element sets of
  volume elements are regions, sets of 2-D elements are surfaces). MED and HDF5-XDMF need
  the ``h5py`` package.

In every case a user mapping ``regions={"cortical": 1, ...}`` / ``surfaces={...}``
(name -> tag value) names or renames tag values. Only linear tetrahedra and trilinear
hexahedra are accepted; 2-D meshes, other cell types, unreadable files, inverted and
degenerate cells raise :class:`~bonefem.errors.InputError`.

The bonefem mesh file
---------------------
An XDMF 3 file with a grid ``mesh`` (geometry, topology and the cell attribute ``regions``
holding each cell's region tag, so ParaView shows the regions directly) and a grid
``surfaces`` (the tagged facets and their values, DOLFINx's meshtags layout); heavy data
in ``name.h5`` (written with PETSc's HDF5 viewer on rank 0); and a JSON sidecar
``name.bonefem.json`` with the region and surface names, the source and the landmarks.
Rows are in *original cell order*: row i is the cell whose
``mesh.topology.original_cell_index`` is i in the mesh that was saved (the gmsh order for
generated meshes, the file order for imported ones); nodes are in input-node order. So the
file is the same whichever number of ranks wrote it, and a mesh read from it on any number
of ranks has ``original_cell_index`` equal to that row -- per-cell data keyed by original
cell index (checkpoints) is valid across generation, saving, reloading and rank counts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, dolfinx
from bonefem.errors import InputError
from bonefem.mesh._util import _check_readable, _on_root
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.mesh.meshfile import (
    is_bonefem_file,
    read_bonefem,
)
from bonefem.mesh.quality import check_cells
from bonefem.mesh.validate import check_cell_array

logger = logging.getLogger(__name__)


#: cell_data keys searched (in this order) for region/surface tags in meshio files.
TAG_KEYS = (
    "gmsh:physical",
    "medit:ref",
    "cell_tags",
    "CellEntityIds",
    "regions",
    "region",
    "subdomains",
    "MaterialIds",
    "material",
    "tags",
    "tag",
)
_VOLUME = {"tetra": ("tetrahedron", 4, "triangle"), "hexahedron": ("hexahedron", 8, "quad")}
_FACET = {"triangle", "quad"}


# --------------------------------------------------------------------------- helpers
def _name_tags(
    present: set[int],
    stored: Mapping[int, str],
    mapping: Mapping[str, int] | None,
    *,
    kind: str,
) -> dict[str, int]:
    """Names of tag values: user mapping, then stored names, then ``<kind>_<tag>``."""
    names = {t: stored.get(t) or f"{kind}_{t}" for t in sorted(present)}
    for name, tag in (mapping or {}).items():
        if int(tag) not in present:
            raise InputError(
                f"the {kind} tag {tag} given for '{name}' is not in the mesh; its {kind} tags "
                f"are: {', '.join(map(str, sorted(present))) or '(none)'}",
                field=f"mesh.{kind}s",
                value=tag,
            )
        names[int(tag)] = name
    out: dict[str, int] = {}
    for tag, name in names.items():
        out[name if name not in out else f"{name}_{tag}"] = tag
    return out


def _cells_from_arrays(
    comm: MPI.Intracomm,
    data: tuple[Any, ...] | None,
    *,
    source: str,
) -> BoneMesh:
    """Create the distributed mesh from rank-0 arrays (see :func:`mesh_from_arrays`)."""
    import basix.ufl
    import ufl

    head, error = None, None
    if comm.rank == 0:
        assert data is not None
        points, cells, cell_values, facets, facet_values, cell_type, regions, surfaces = data
        head = (cell_type, cells.shape[1], 0 if facets is None else facets.shape[1], regions,
                surfaces)  # fmt: skip
        try:  # before DOLFINx sees the cells: a bad cell corrupts memory there
            check_cell_array(points, cells, source=source)
        except InputError as exc:
            error = exc
    head, error = comm.bcast((head, error), root=0)
    if error is not None:
        raise error
    cell_type, npc, npf, regions, surfaces = head
    ctype = dolfinx.mesh.CellType[cell_type]
    if comm.rank == 0:
        used, inverse = np.unique(cells, return_inverse=True)
        x = np.ascontiguousarray(points[used][:, :3], dtype=np.float64)
        c = inverse.reshape(cells.shape).astype(np.int64)
        if facets is not None and facets.size:
            pos = np.searchsorted(used, facets)
            pos = np.minimum(pos, used.size - 1)
            if not np.all(used[pos] == facets):
                raise RuntimeError("a tagged facet uses a node of no volume cell")
            f = pos.astype(np.int64)
            fv = np.asarray(facet_values, dtype=np.int32)
        else:
            f, fv = np.empty((0, max(npf, 3)), np.int64), np.empty(0, np.int32)
        cv = np.asarray(cell_values, dtype=np.int32)
    else:
        x = np.empty((0, 3), dtype=np.float64)
        c = np.empty((0, npc), dtype=np.int64)
        f, fv = np.empty((0, max(npf, 3)), np.int64), np.empty(0, np.int32)
        cv = np.empty(0, np.int32)
    if ctype == dolfinx.mesh.CellType.hexahedron:
        c_dolfinx = c[:, dolfinx.cpp.io.perm_vtk(ctype, 8)]
    else:
        c_dolfinx = c
    domain = ufl.Mesh(basix.ufl.element("Lagrange", cell_type, 1, shape=(3,)))
    mesh = dolfinx.mesh.create_mesh(comm, np.ascontiguousarray(c_dolfinx), domain, x)
    tdim = mesh.topology.dim
    ents, vals = dolfinx.io.utils.distribute_entity_data(mesh, tdim, c_dolfinx, cv)
    mesh.topology.create_connectivity(tdim, 0)
    cell_tags = dolfinx.mesh.meshtags_from_entities(
        mesh, tdim, dolfinx.graph.adjacencylist(ents), vals.astype(np.int32)
    )
    mesh.topology.create_connectivity(tdim - 1, tdim)
    if npf:
        ents, vals = dolfinx.io.utils.distribute_entity_data(mesh, tdim - 1, f, fv)
        facet_tags = dolfinx.mesh.meshtags_from_entities(
            mesh, tdim - 1, dolfinx.graph.adjacencylist(ents), vals.astype(np.int32)
        )
    else:
        facet_tags = dolfinx.mesh.meshtags(
            mesh, tdim - 1, np.empty(0, np.int32), np.empty(0, np.int32)
        )
    cell_tags.name, facet_tags.name = "regions", "surfaces"
    return BoneMesh(mesh, cell_tags, facet_tags, dict(regions), dict(surfaces), source=source)


def mesh_from_arrays(
    comm: MPI.Intracomm,
    points: npt.ArrayLike | None,
    cells: npt.ArrayLike | None,
    cell_values: npt.ArrayLike | None = None,
    facets: npt.ArrayLike | None = None,
    facet_values: npt.ArrayLike | None = None,
    *,
    cell_type: str = "tetrahedron",
    regions: Mapping[str, int] | None = None,
    surfaces: Mapping[str, int] | None = None,
    source: str = "arrays",
    check: bool = True,
) -> BoneMesh:
    """Build a :class:`BoneMesh` from node and cell arrays given on rank 0.

    Args:
        comm: communicator (other ranks pass None for the arrays).
        points: node coordinates, shape (n, 3), mm.
        cells: cell nodes, shape (m, 4) tetrahedra or (m, 8) hexahedra in VTK order.
        cell_values: region tag of each cell (default all 1).
        facets: tagged facet nodes, shape (k, 3) or (k, 4).
        facet_values: surface tag of each facet.
        cell_type: ``"tetrahedron"`` or ``"hexahedron"``.
        regions: region name -> tag (default ``{"bone": 1}``).
        surfaces: surface name -> tag.
        source: description for messages and :attr:`BoneMesh.source`.
        check: reject inverted and degenerate cells.

    Returns:
        The distributed mesh; ``original_cell_index`` is the row in ``cells``.
    """

    def prepare() -> tuple[Any, ...]:
        pts = np.asarray(points, dtype=np.float64)
        cel = np.asarray(cells, dtype=np.int64)
        cv = np.ones(cel.shape[0], np.int32) if cell_values is None else np.asarray(cell_values)
        fac = None if facets is None else np.asarray(facets, dtype=np.int64)
        fv = None if facet_values is None else np.asarray(facet_values)
        reg = dict(regions or {"bone": 1})
        return (pts, cel, cv, fac, fv, cell_type, reg, dict(surfaces or {}))

    data = _on_root(comm, prepare, source=source)
    bone = _cells_from_arrays(comm, data, source=source)
    if check:
        check_cells(bone.mesh, source=source)
    return bone


# --------------------------------------------------------------------------- gmsh .msh
def _start_gmsh(comm: MPI.Intracomm) -> tuple[Any, bool]:
    """Rank 0: the gmsh module with an empty model ``bonefem-import``; whether we own gmsh."""
    if comm.rank != 0:
        return None, False
    import gmsh

    owns = not gmsh.isInitialized()
    if owns:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("bonefem-import")
    return gmsh, owns


def _msh_volume_cells(gmsh: Any, path: Path) -> tuple[int, npt.NDArray[Any]]:
    """Merge the file; check its cell type; return the facet element type and cell tags."""
    _check_readable(path)
    try:
        gmsh.merge(str(path))
    except Exception as exc:
        raise InputError(f"gmsh cannot read the file: {exc}") from None
    types3, etags3, _ = gmsh.model.mesh.getElements(3)
    if not len(types3):
        if len(gmsh.model.mesh.getElements(2)[0]):
            raise InputError("this is a 2-D (surface) mesh; a 3-D volume mesh is needed")
        raise InputError("the file has no volume cells")
    kinds = [gmsh.model.mesh.getElementProperties(t)[0] for t in types3]
    if len(types3) != 1 or int(types3[0]) not in (4, 5):
        raise InputError(
            f"unsupported cell type(s): {', '.join(kinds)}; supported: linear tetrahedra "
            "(4 nodes) or trilinear hexahedra (8 nodes), one type per mesh"
        )
    facet_type = 2 if int(types3[0]) == 4 else 3
    return facet_type, np.sort(np.asarray(etags3[0]))


def _msh_groups(
    gmsh: Any, dim: int, kind: str, mapping: Mapping[str, int] | None, facet_type: int
) -> tuple[dict[str, int], npt.NDArray[Any]]:
    """Name the physical groups of one dimension (set in the model); return names, elements."""
    stored: dict[int, str] = {}
    elems: list[npt.NDArray[Any]] = []
    for _, tag in gmsh.model.getPhysicalGroups(dim):
        stored[tag] = gmsh.model.getPhysicalName(dim, tag)
        for ent in gmsh.model.getEntitiesForPhysicalGroup(dim, tag):
            et, el, _ = gmsh.model.mesh.getElements(dim, ent)
            if dim == 2 and any(int(t) != facet_type for t in et):
                raise InputError(
                    f"surface group '{stored[tag] or tag}' has elements that are not "
                    "faces of the volume cells"
                )
            elems.extend(np.asarray(e) for e in el)
    allel = np.concatenate(elems) if elems else np.empty(0, np.uint64)
    if allel.size != np.unique(allel).size:
        raise InputError(f"some cells belong to two {kind} groups; each may have one")
    names = _name_tags(set(stored), stored, mapping, kind=kind)
    for name, tag in names.items():
        gmsh.model.setPhysicalName(dim, tag, name)
    return names, allel


def _inspect_msh(
    gmsh: Any,
    path: Path,
    regions: Mapping[str, int] | None,
    surfaces: Mapping[str, int] | None,
) -> tuple[dict[str, int], dict[str, int]]:
    """Rank 0: read and validate the file, name its groups; region and surface names."""
    facet_type, every = _msh_volume_cells(gmsh, path)
    low = [(d, t) for d, t in gmsh.model.getPhysicalGroups() if d < 2]
    if low:
        gmsh.model.removePhysicalGroups(low)
    if not gmsh.model.getPhysicalGroups(3):
        vols = [t for _, t in gmsh.model.getEntities(3)]
        gmsh.model.addPhysicalGroup(3, vols, 1, name="bone")
    region_names, in_groups = _msh_groups(gmsh, 3, "region", regions, facet_type)
    surface_names, _ = _msh_groups(gmsh, 2, "surface", surfaces, facet_type)
    missing = every.size - np.intersect1d(every, in_groups).size
    if missing:
        raise InputError(
            f"{missing} volume cell(s) are in no volume physical group; every cell must "
            "belong to exactly one region"
        )
    return region_names, surface_names


def _bone_from_gmsh_data(
    data: Any, names: tuple[dict[str, int], dict[str, int]], source: str
) -> BoneMesh:
    """The BoneMesh of DOLFINx's ``model_to_mesh`` result (empty surfaces if untagged)."""
    mesh = data.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    facet_tags = data.facet_tags
    if facet_tags is None:
        facet_tags = dolfinx.mesh.meshtags(
            mesh, tdim - 1, np.empty(0, np.int32), np.empty(0, np.int32)
        )
    assert data.cell_tags is not None
    data.cell_tags.name, facet_tags.name = "regions", "surfaces"
    return BoneMesh(mesh, data.cell_tags, facet_tags, names[0], names[1], source=source)


def read_msh(
    path: str | Path,
    comm: MPI.Intracomm | None = None,
    *,
    regions: Mapping[str, int] | None = None,
    surfaces: Mapping[str, int] | None = None,
    check: bool = True,
) -> BoneMesh:
    """Read a gmsh ``.msh`` file with its physical groups (names kept).

    Read and validated by gmsh on rank 0 (:func:`_inspect_msh`), distributed by DOLFINx's
    ``model_to_mesh``.

    Args:
        path: the ``.msh`` file.
        comm: communicator (default ``MPI.COMM_WORLD``).
        regions: optional name -> volume physical tag (names or renames groups).
        surfaces: optional name -> surface physical tag.
        check: reject inverted and degenerate cells.

    Returns:
        The distributed mesh; ``original_cell_index`` follows the file's element order
        within each volume group.
    """
    comm = comm or MPI.COMM_WORLD
    path = Path(path)
    gmsh, owns = _start_gmsh(comm)
    try:
        names = _on_root(
            comm, lambda: _inspect_msh(gmsh, path, regions, surfaces), source=str(path)
        )
        names = comm.bcast(names, root=0)
        assert names is not None
        data = dolfinx.io.gmsh.model_to_mesh(
            gmsh.model if comm.rank == 0 else None, comm, rank=0, gdim=3
        )
    finally:
        if gmsh is not None:
            gmsh.model.remove()
            if owns:
                gmsh.finalize()
    bone = _bone_from_gmsh_data(data, names, str(path))
    if check:
        check_cells(bone.mesh, source=str(path))
    return bone


# --------------------------------------------------------------------------- meshio
def _tags_from_sets(
    sets: Mapping[str, list[Any]], blocks: list[int], sizes: list[int]
) -> tuple[npt.NDArray[np.int32], dict[int, str]]:
    """Tag values (0 = none) of the cells of ``blocks`` from meshio cell sets."""
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    members = {}
    for name, per_block in sorted(sets.items()):
        idx = [
            np.asarray(per_block[b], dtype=np.int64) + offsets[k]
            for k, b in enumerate(blocks)
            if b < len(per_block) and per_block[b] is not None and len(per_block[b])
        ]
        if idx:
            members[name] = np.unique(np.concatenate(idx))
    total = int(offsets[-1])
    if len(members) > 1:  # drop catch-all sets such as Abaqus "ALL"
        members = {n: m for n, m in members.items() if m.size < total} or members
    values = np.zeros(total, dtype=np.int32)
    names = {}
    for tag, (name, m) in enumerate(members.items(), start=1):
        if np.any(values[m]):
            raise InputError(
                f"cell set '{name}' overlaps another set; give the tags through a cell data "
                "array or keep one set per cell"
            )
        values[m] = tag
        names[tag] = name
    return values, names


def _meshio_load(path: Path, file_format: str | None) -> Any:
    """Read a file with meshio (InputError for unreadable files and missing packages)."""
    import meshio

    _check_readable(path)
    try:
        return meshio.read(path, file_format=file_format)
    except ModuleNotFoundError as exc:
        raise InputError(
            f"reading this format needs the '{exc.name}' package (pip install {exc.name})"
        ) from None
    except (Exception, SystemExit) as exc:  # meshio calls sys.exit on some failures
        raise InputError(f"meshio cannot read the file: {type(exc).__name__}: {exc}") from None


def _meshio_blocks(types: list[str]) -> tuple[list[int], list[int], str]:
    """Volume and facet cell blocks of a meshio mesh and the DOLFINx cell type."""
    vol = [i for i, t in enumerate(types) if t in _VOLUME]
    solid = ("tetra", "hexahedron", "wedge", "pyramid")
    other3d = sorted({t for t in types if t.startswith(solid) and t not in _VOLUME})
    if other3d or len({types[i] for i in vol}) > 1:
        raise InputError(
            f"unsupported cell type(s): {', '.join(other3d + sorted({types[i] for i in vol}))}"
            "; supported: linear tetrahedra ('tetra') or trilinear hexahedra ('hexahedron'), "
            "one type per mesh"
        )
    if not vol:
        if any(t in _FACET or t.startswith(("triangle", "quad", "polygon")) for t in types):
            raise InputError("this is a 2-D (surface) mesh; a 3-D volume mesh is needed")
        raise InputError("the file has no volume cells")
    cell_type, _, facet_kind = _VOLUME[types[vol[0]]]
    fac = [i for i, t in enumerate(types) if t == facet_kind]
    return vol, fac, cell_type


#: Tags of volume and facet cells (0: untagged) and the names stored for tag values.
_MeshioTags = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], dict[int, str], dict[int, str]]


def _tags_from_cell_data(m: Any, key: str, vol: list[int], fac: list[int]) -> _MeshioTags:
    """Tags from the ``cell_data`` array ``key``; names from gmsh field data or MED families."""
    data = m.cell_data[key]
    rnames: dict[int, str] = {}
    snames: dict[int, str] = {}
    cv = np.concatenate([np.asarray(data[i]).ravel() for i in vol]).astype(np.int64)
    fv = (
        np.concatenate([np.asarray(data[i]).ravel() for i in fac]).astype(np.int64)
        if fac
        else np.empty(0, np.int64)
    )
    for name, val in (m.field_data or {}).items():
        val = np.asarray(val).ravel()
        if val.size >= 2 and int(val[1]) == 3:
            rnames[int(val[0])] = name
        elif val.size >= 2 and int(val[1]) == 2:
            snames[int(val[0])] = name
    for tag, groups in (getattr(m, "cell_tags", None) or {}).items():
        if groups:
            rnames.setdefault(int(tag), str(groups[0]))
            snames.setdefault(int(tag), str(groups[0]))
    return cv, fv, rnames, snames


def _meshio_tags(
    m: Any, cell_data_key: str | None, vol: list[int], fac: list[int], n_cells: int
) -> _MeshioTags:
    """Region and surface tags: a cell data array, else cell sets, else one region."""
    key = cell_data_key or next((k for k in TAG_KEYS if k in m.cell_data), None)
    if cell_data_key is not None and cell_data_key not in m.cell_data:
        raise InputError(
            f"no cell data '{cell_data_key}'; the file has: {', '.join(m.cell_data) or '(none)'}",
            field="mesh.cell_data_key",
        )
    if key is not None:
        return _tags_from_cell_data(m, key, vol, fac)
    if m.cell_sets:
        cv32, rnames = _tags_from_sets(m.cell_sets, vol, [len(m.cells[i]) for i in vol])
        cv = cv32.astype(np.int64)
        if not np.any(cv):
            cv = np.ones(n_cells, np.int64)
            rnames = {1: "bone"}
        fv32, snames = _tags_from_sets(m.cell_sets, fac, [len(m.cells[i]) for i in fac])
        return cv, fv32.astype(np.int64), rnames, snames
    return np.ones(n_cells, np.int64), np.empty(0, np.int64), {1: "bone"}, {}


def _meshio_arrays(
    path: Path,
    file_format: str | None,
    cell_data_key: str | None,
    regions: Mapping[str, int] | None,
    surfaces: Mapping[str, int] | None,
) -> tuple[Any, ...]:
    """Rank 0: read a meshio file into the arrays of :func:`_cells_from_arrays`."""
    m = _meshio_load(path, file_format)
    vol, fac, cell_type = _meshio_blocks([b.type for b in m.cells])
    cells = np.concatenate([m.cells[i].data for i in vol])
    cv, fv, rnames, snames = _meshio_tags(m, cell_data_key, vol, fac, cells.shape[0])
    facets = np.concatenate([m.cells[i].data for i in fac]) if fac else None
    keep = fv != 0
    if facets is not None:
        facets, fv = facets[keep], fv[keep]
    if facets is not None and facets.shape[0] == 0:
        facets = None
    reg = _name_tags(set(np.unique(cv).tolist()), rnames, regions, kind="region")
    srf = _name_tags(set(np.unique(fv).tolist()), snames, surfaces, kind="surface")
    return (m.points, cells, cv, facets, fv, cell_type, reg, srf)


def read_meshio(
    path: str | Path,
    comm: MPI.Intracomm | None = None,
    *,
    regions: Mapping[str, int] | None = None,
    surfaces: Mapping[str, int] | None = None,
    cell_data_key: str | None = None,
    file_format: str | None = None,
    check: bool = True,
) -> BoneMesh:
    """Read a volume mesh in any meshio format with its region and surface tags.

    Args:
        path: the mesh file.
        comm: communicator (default ``MPI.COMM_WORLD``).
        regions: optional name -> region tag value (names or renames tags).
        surfaces: optional name -> surface tag value.
        cell_data_key: the ``cell_data`` array holding the tags (default: the first of
            :data:`TAG_KEYS` present; without one, ``cell_sets`` are used).
        file_format: meshio format name, if the extension does not tell.
        check: reject inverted and degenerate cells.

    Returns:
        The distributed mesh; ``original_cell_index`` is the order of the volume cells in
        the file.
    """
    comm = comm or MPI.COMM_WORLD
    path = Path(path)

    def load() -> tuple[Any, ...]:
        return _meshio_arrays(path, file_format, cell_data_key, regions, surfaces)

    data = _on_root(comm, load, source=str(path))
    bone = _cells_from_arrays(comm, data, source=str(path))
    if check:
        check_cells(bone.mesh, source=str(path))
    return bone


# --------------------------------------------------------------------------- XDMF
def read_xdmf(
    path: str | Path,
    comm: MPI.Intracomm | None = None,
    *,
    regions: Mapping[str, int] | None = None,
    surfaces: Mapping[str, int] | None = None,
    cell_data_key: str | None = None,
) -> BoneMesh:
    """Read an XDMF mesh the DOLFINx way (``write_mesh`` + ``write_meshtags`` files).

    The grid with tetrahedra or hexahedra is the mesh; a cell attribute (``cell_data_key``,
    else the first of :data:`TAG_KEYS`, else the first one) of that grid or of another
    volume grid gives the regions; an attribute of a triangle/quadrilateral grid gives the
    surfaces. Without region data every cell is in region ``bone``.
    """
    import xml.etree.ElementTree as ET

    comm = comm or MPI.COMM_WORLD
    path = Path(path)

    def scan() -> tuple[str, tuple[str, str] | None, tuple[str, str] | None]:
        _check_readable(path)
        grids = []
        for grid in ET.parse(path).iter("Grid"):
            topo = grid.find("Topology")
            kind = topo.get("TopologyType", topo.get("Type", "")) if topo is not None else ""
            attrs = [a.get("Name", "") for a in grid.findall("Attribute")
                     if a.get("Center", "Node") == "Cell"]  # fmt: skip
            grids.append((grid.get("Name", ""), kind.lower(), attrs))
        volume = [g for g in grids if g[1] in ("tetrahedron", "hexahedron")]
        if not volume:
            raise InputError("no grid of tetrahedra or hexahedra in the XDMF file")

        def pick(cands: list[tuple[str, str, list[str]]]) -> tuple[str, str] | None:
            keys = [cell_data_key] if cell_data_key else [*TAG_KEYS, None]
            for key in keys:
                for name, _, attrs in cands:
                    if attrs and (key is None or key in attrs):
                        return name, key or attrs[0]
            return None

        facet = [g for g in grids if g[1] in ("triangle", "quadrilateral")]
        return volume[0][0], pick(volume), pick(facet)

    found = comm.bcast(_on_root(comm, scan, source=str(path)), root=0)
    assert found is not None
    grid, rgrid, sgrid = found
    try:
        with dolfinx.io.XDMFFile(comm, str(path), "r") as f:
            mesh = f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.none, name=grid)
            tdim = mesh.topology.dim
            mesh.topology.create_connectivity(tdim, 0)
            mesh.topology.create_connectivity(tdim - 1, tdim)
            n = mesh.topology.index_map(tdim).size_local
            if rgrid is not None:
                ct = f.read_meshtags(mesh, name=rgrid[0], attribute_name=rgrid[1])
            else:
                cells = np.arange(n, dtype=np.int32)
                ct = dolfinx.mesh.meshtags(mesh, tdim, cells, np.ones(n, np.int32))
            if sgrid is not None:
                ft = f.read_meshtags(mesh, name=sgrid[0], attribute_name=sgrid[1])
            else:
                ft = dolfinx.mesh.meshtags(
                    mesh, tdim - 1, np.empty(0, np.int32), np.empty(0, np.int32)
                )
    except RuntimeError as exc:
        raise InputError(f"DOLFINx cannot read the XDMF file: {exc}", file=path) from None
    present = [set().union(*comm.allgather(set(np.unique(t.values).tolist()))) for t in (ct, ft)]
    stored = {} if rgrid is not None else {1: "bone"}
    ct.name, ft.name = "regions", "surfaces"
    bone = BoneMesh(
        mesh,
        ct,
        ft,
        _name_tags(present[0], stored, regions, kind="region"),
        _name_tags(present[1], {}, surfaces, kind="surface"),
        source=str(path),
    )
    check_cells(mesh, source=str(path))
    return bone


# --------------------------------------------------------------------------- bonefem file
def read_mesh(
    path: str | Path,
    comm: MPI.Intracomm | None = None,
    *,
    regions: Mapping[str, int] | None = None,
    surfaces: Mapping[str, int] | None = None,
    cell_data_key: str | None = None,
    file_format: str | None = None,
    check: bool = True,
) -> BoneMesh:
    """Read a mesh file of any supported kind (see the module docstring).

    Args:
        path: bonefem mesh file (``.xdmf`` with sidecar), gmsh ``.msh``, or a meshio file.
        comm: communicator (default ``MPI.COMM_WORLD``).
        regions: optional name -> region tag value (names or renames tags).
        surfaces: optional name -> surface tag value.
        cell_data_key: meshio only: the cell data array with the tags.
        file_format: meshio only: format name if the extension does not tell.
        check: reject inverted and degenerate cells.

    Returns:
        The distributed mesh.
    """
    comm = comm or MPI.COMM_WORLD
    p = Path(path)
    if is_bonefem_file(p):
        bone = read_bonefem(p, comm)
        if regions or surfaces:
            bone.regions = _name_tags(set(bone.regions.values()),
                                      {t: n for n, t in bone.regions.items()}, regions,
                                      kind="region")  # fmt: skip
            bone.surfaces = _name_tags(set(bone.surfaces.values()),
                                       {t: n for n, t in bone.surfaces.items()}, surfaces,
                                       kind="surface")  # fmt: skip
        if check:
            check_cells(bone.mesh, source=str(p))
        return bone
    if p.suffix == ".msh" and file_format in (None, "gmsh"):
        return read_msh(p, comm, regions=regions, surfaces=surfaces, check=check)
    if p.suffix == ".xdmf" and file_format is None:
        return read_xdmf(p, comm, regions=regions, surfaces=surfaces, cell_data_key=cell_data_key)
    return read_meshio(
        p,
        comm,
        regions=regions,
        surfaces=surfaces,
        cell_data_key=cell_data_key,
        file_format=file_format,
        check=check,
    )
