"""The bonefem mesh file: XDMF + HDF5 with region and surface tags, plus a JSON of names.

Written once (``bonefem mesh ... -o x.xdmf``, the mesh cache, every run folder) and read
back on any number of ranks without re-meshing; row *i* of the file is the cell with
original cell index *i*, so per-cell data keyed by that index (checkpoints) carries over.
See ``docs/meshes.md`` for the layout.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, PETSc, dolfinx
from bonefem.errors import InputError
from bonefem.mesh._util import _check_readable, _on_root
from bonefem.mesh.bonemesh import BoneMesh

FORMAT = "bonefem-mesh"
FORMAT_VERSION = 1
SIDECAR_SUFFIX = ".bonefem.json"


CELL_DATA_SUFFIX = ".cell_data.npz"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.stem + SIDECAR_SUFFIX)


def _cell_data_file(path: Path) -> Path:
    """``x.cell_data.npz``: the per-cell arrays of ``x.xdmf``, row i = original cell i."""
    return path.with_name(path.stem + CELL_DATA_SUFFIX)


def is_bonefem_file(path: str | Path) -> bool:
    """Whether ``path`` is (the XDMF part of) a bonefem mesh file."""
    p = Path(path)
    return p.suffix == ".xdmf" and _sidecar(p).is_file()


def _h5_write(path: Path, datasets: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write named datasets (float64 or integer, 1-D or 2-D) to an HDF5 file via PETSc."""
    viewer = PETSc.ViewerHDF5().create(str(path), mode="w", comm=MPI.COMM_SELF)
    try:
        for name, array in datasets.items():
            group, leaf = name.rsplit("/", 1)
            viewer.pushGroup(group)
            a = np.ascontiguousarray(array)
            bs = a.shape[1] if a.ndim == 2 else 1
            if np.issubdtype(a.dtype, np.floating):
                obj: Any = PETSc.Vec().createWithArray(a.ravel().astype(np.float64), bsize=bs,
                                                       comm=MPI.COMM_SELF)  # fmt: skip
            else:
                obj = PETSc.IS().createGeneral(a.ravel().astype(PETSc.IntType), comm=MPI.COMM_SELF)
                obj.setBlockSize(bs)
            obj.setName(leaf)
            obj.view(viewer)
            obj.destroy()
            viewer.popGroup()
    finally:
        viewer.destroy()


def _xdmf_text(h5: str, info: Mapping[str, Any]) -> str:
    it = "Int" if np.dtype(PETSc.IntType).kind == "i" else "UInt"
    ip = np.dtype(PETSc.IntType).itemsize
    m, n, npc = info["num_cells"], info["num_nodes"], info["nodes_per_cell"]
    ctype = "Tetrahedron" if npc == 4 else "Hexahedron"

    def item(dims: str, path: str, integer: bool) -> str:
        kind = (
            f'NumberType="{it}" Precision="{ip}"' if integer else 'NumberType="Float" Precision="8"'
        )
        return f'<DataItem Dimensions="{dims}" {kind} Format="HDF">{h5}:{path}</DataItem>'

    topo = (f'<Topology TopologyType="{ctype}" NumberOfElements="{m}" NodesPerElement="{npc}">'
            f'{item(f"{m} {npc}", "/Mesh/topology", True)}</Topology>')  # fmt: skip
    geom_ref = "<xi:include xpointer=\"xpointer(/Xdmf/Domain/Grid[@Name='mesh']/Geometry)\" />"
    grids = [
        f'<Grid Name="mesh" GridType="Uniform">{topo}'
        f'<Geometry GeometryType="XYZ">{item(f"{n} 3", "/Mesh/geometry", False)}</Geometry>'
        f'<Attribute Name="regions" AttributeType="Scalar" Center="Cell">'
        f"{item(f'{m} 1', '/Mesh/regions', True)}</Attribute></Grid>",
    ]
    k, npf = info["num_facets"], info["nodes_per_facet"]
    if k:
        ftype = "Triangle" if npf == 3 else "Quadrilateral"
        grids.append(
            f'<Grid Name="surfaces" GridType="Uniform">{geom_ref}'
            f'<Topology TopologyType="{ftype}" NumberOfElements="{k}" NodesPerElement="{npf}">'
            f"{item(f'{k} {npf}', '/Surfaces/topology', True)}</Topology>"
            f'<Attribute Name="surfaces" AttributeType="Scalar" Center="Cell">'
            f"{item(f'{k} 1', '/Surfaces/values', True)}</Attribute></Grid>"
        )
    body = "\n    ".join(grids)
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE Xdmf SYSTEM "Xdmf.dtd" []>\n'
        '<Xdmf Version="3.0" xmlns:xi="https://www.w3.org/2001/XInclude">\n'
        f"  <Domain>\n    {body}\n  </Domain>\n</Xdmf>\n"
    )


def write_mesh(bone: BoneMesh, path: str | Path) -> Path:
    """Save a mesh with its tags, names and landmarks as a bonefem mesh file (collective).

    Args:
        bone: the mesh.
        path: the ``.xdmf`` file to write (``.h5`` and ``.bonefem.json`` go beside it).

    Returns:
        The path of the XDMF file.
    """
    path = Path(path)
    if path.suffix != ".xdmf":
        raise InputError("a bonefem mesh file must end in .xdmf", file=path)
    mesh, comm = bone.mesh, bone.comm
    tdim = mesh.topology.dim
    n = bone.num_cells_local
    gidx = np.asarray(mesh.geometry.input_global_indices, dtype=np.int64)
    nn = mesh.geometry.index_map().size_local + mesh.geometry.index_map().num_ghosts
    region = np.zeros(n, dtype=np.int32)
    own = bone.cell_tags.indices < n
    region[bone.cell_tags.indices[own]] = bone.cell_tags.values[own]
    fidx = bone.facet_tags.indices
    fnodes = (
        gidx[dolfinx.mesh.entities_to_geometry(mesh, tdim - 1, fidx)]
        if fidx.size
        else np.empty((0, 4 if mesh.topology.cell_type.name == "hexahedron" else 3), np.int64)
    )
    local = (
        gidx[:nn],
        np.asarray(mesh.geometry.x[:nn], dtype=np.float64),
        np.asarray(mesh.topology.original_cell_index[:n], dtype=np.int64),
        gidx[mesh.geometry.dofmaps[0][:n]],
        region,
        fnodes,
        np.asarray(bone.facet_tags.values, dtype=np.int32),
        {k: np.asarray(v[:n], dtype=np.float64) for k, v in bone.cell_data.items()},
    )
    parts = comm.gather(local, root=0)
    error = None
    if comm.rank == 0:
        assert parts is not None
        try:
            _write_root(bone, path, parts)
        except Exception as exc:
            error = f"cannot write the mesh file: {exc}"
    error = comm.bcast(error, root=0)
    if error:
        raise InputError(error, file=path)
    return path


def _write_root(bone: BoneMesh, path: Path, parts: list[tuple[Any, ...]]) -> None:
    gid = np.concatenate([p[0] for p in parts])
    xs = np.concatenate([p[1] for p in parts])
    nodes, first = np.unique(gid, return_index=True)
    x = xs[first][:, :3]
    orig = np.concatenate([p[2] for p in parts])
    cells = np.searchsorted(nodes, np.concatenate([p[3] for p in parts]))
    region = np.concatenate([p[4] for p in parts])
    order = np.argsort(orig, kind="stable")
    cells, region = cells[order], region[order]
    ctype = bone.mesh.topology.cell_type
    if ctype == dolfinx.mesh.CellType.hexahedron:  # DOLFINx -> VTK/XDMF node order
        perm = dolfinx.cpp.io.perm_vtk(ctype, 8)
        vtk = np.empty_like(cells)
        vtk[:, perm] = cells
        cells = vtk
    fac = np.searchsorted(nodes, np.concatenate([p[5] for p in parts]))
    fval = np.concatenate([p[6] for p in parts])
    if fac.shape[0]:
        key = np.sort(fac, axis=1)
        _, uniq = np.unique(key, axis=0, return_index=True)  # facets shared by ranks
        fac, fval = fac[uniq], fval[uniq]
        if fac.shape[1] == 4:
            perm = dolfinx.cpp.io.perm_vtk(dolfinx.mesh.CellType.quadrilateral, 4)
            vtk = np.empty_like(fac)
            vtk[:, perm] = fac
            fac = vtk
    info = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "cell_type": ctype.name,
        "num_cells": int(cells.shape[0]),
        "num_nodes": int(x.shape[0]),
        "nodes_per_cell": int(cells.shape[1]),
        "num_facets": int(fac.shape[0]),
        "nodes_per_facet": int(fac.shape[1]) if fac.ndim == 2 else 0,
        "cell_order": "original cell index (row i = original_cell_index i)",
        "regions": dict(bone.regions),
        "surfaces": dict(bone.surfaces),
        "source": bone.source,
        "landmarks": {k: list(v) for k, v in bone.landmarks.items()},
        "cell_data": sorted(bone.cell_data),
    }
    cell_data = {k: np.concatenate([p[7][k] for p in parts])[order] for k in bone.cell_data}
    datasets = {"/Mesh/geometry": x, "/Mesh/topology": cells, "/Mesh/regions": region}
    if fac.shape[0]:
        datasets["/Surfaces/topology"] = fac
        datasets["/Surfaces/values"] = fval
    path.parent.mkdir(parents=True, exist_ok=True)
    h5 = path.with_suffix(".h5")
    tmp = f".tmp{os.getpid()}"
    _h5_write(Path(str(h5) + tmp), datasets)
    Path(str(path) + tmp).write_text(_xdmf_text(h5.name, info), encoding="utf-8")
    Path(str(_sidecar(path)) + tmp).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    finals = [h5, path, _sidecar(path)]
    if cell_data:
        with open(str(_cell_data_file(path)) + tmp, "wb") as fh:
            np.savez_compressed(fh, allow_pickle=False, **cell_data)
        finals.insert(0, _cell_data_file(path))
    for final in finals:  # the sidecar last: it marks a complete file
        os.replace(str(final) + tmp, final)


def _read_meta(path: Path) -> dict[str, Any]:
    """Rank 0: the sidecar of a bonefem mesh file, checked (format, version, data file)."""
    _check_readable(path)
    try:
        meta = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable sidecar {_sidecar(path).name}: {exc}") from None
    if meta.get("format") != FORMAT or int(meta.get("version", 0)) > FORMAT_VERSION:
        raise InputError(f"{_sidecar(path).name} is not a bonefem mesh file v{FORMAT_VERSION}")
    if not path.with_suffix(".h5").is_file():
        raise InputError(f"the data file {path.with_suffix('.h5').name} is missing")
    return dict(meta)


def copy_mesh_file(source: str | Path, path: str | Path, comm: MPI.Intracomm) -> Path:
    """Copy a bonefem mesh file (collective; rank 0 copies the bytes).

    The data file and the per-cell arrays are copied as they are, the XDMF text is written
    again for the new data file's name and the sidecar goes last (it marks a complete
    file), each through a temporary name and ``os.replace`` as in :func:`write_mesh`. The
    copy holds the same cells, nodes and tags in the same rows as the source, so it reads
    back as the same mesh; what a read of the source then a :func:`write_mesh` would give,
    without reading it (the run folder of a cached mesh).

    Args:
        source: the ``.xdmf`` file of a bonefem mesh file.
        path: the ``.xdmf`` file to write (``.h5`` and ``.bonefem.json`` go beside it).
        comm: the communicator of the run (every rank calls).

    Returns:
        The path of the XDMF file.

    Raises:
        InputError: the source is not a complete bonefem mesh file, or the copy failed
            (every rank raises).
    """
    source, path = Path(source), Path(path)

    def copy() -> None:
        if not is_bonefem_file(source) or not source.with_suffix(".h5").is_file():
            raise InputError(f"{source} is not a complete bonefem mesh file")
        info = _read_meta(source)
        path.parent.mkdir(parents=True, exist_ok=True)
        h5 = path.with_suffix(".h5")
        tmp = f".tmp{os.getpid()}"
        pairs = [(source.with_suffix(".h5"), h5)]
        if info.get("cell_data"):
            pairs.append((_cell_data_file(source), _cell_data_file(path)))
        try:
            for src, dst in pairs:
                shutil.copyfile(src, str(dst) + tmp)
            Path(str(path) + tmp).write_text(_xdmf_text(h5.name, info), encoding="utf-8")
            Path(str(_sidecar(path)) + tmp).write_text(
                json.dumps(info, indent=1) + "\n", encoding="utf-8"
            )
            for final in [*(dst for _, dst in pairs), path, _sidecar(path)]:
                os.replace(str(final) + tmp, final)
        except OSError as exc:
            raise InputError(f"cannot copy the mesh file to {path}: {exc}") from None

    _on_root(comm, copy, source=str(source))
    return path


def read_bonefem(path: str | Path, comm: MPI.Intracomm | None = None) -> BoneMesh:
    """Read a bonefem mesh file written by :func:`write_mesh`, on any number of ranks."""
    comm = comm or MPI.COMM_WORLD
    path = Path(path)

    meta = comm.bcast(_on_root(comm, lambda: _read_meta(path), source=str(path)), root=0)
    try:
        with dolfinx.io.XDMFFile(comm, str(path), "r") as f:
            mesh = f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.none, name="mesh")
            tdim = mesh.topology.dim
            mesh.topology.create_connectivity(tdim, 0)
            cell_tags = f.read_meshtags(mesh, name="mesh", attribute_name="regions")
            mesh.topology.create_connectivity(tdim - 1, tdim)
            if meta["num_facets"]:
                facet_tags = f.read_meshtags(mesh, name="surfaces")
            else:
                facet_tags = dolfinx.mesh.meshtags(
                    mesh, tdim - 1, np.empty(0, np.int32), np.empty(0, np.int32)
                )
    except RuntimeError as exc:
        raise InputError(f"cannot read the bonefem mesh file: {exc}", file=path) from None
    cell_tags.name, facet_tags.name = "regions", "surfaces"
    cell_data = _read_cell_data(path, meta, mesh, comm)
    landmarks = {k: (float(v[0]), float(v[1]), float(v[2])) for k, v in meta["landmarks"].items()}
    return BoneMesh(
        mesh,
        cell_tags,
        facet_tags,
        {k: int(v) for k, v in meta["regions"].items()},
        {k: int(v) for k, v in meta["surfaces"].items()},
        source=str(meta.get("source") or path),
        landmarks=landmarks,
        cell_data=cell_data,
    )


def _read_cell_data(
    path: Path, meta: Mapping[str, Any], mesh: Any, comm: MPI.Intracomm
) -> dict[str, npt.NDArray[np.float64]]:
    """The per-cell arrays of the file, on the local cells (row = original cell index)."""
    names = list(meta.get("cell_data") or [])
    if not names:
        return {}

    def load() -> dict[str, npt.NDArray[np.float64]]:
        try:
            with np.load(_cell_data_file(path)) as z:
                data = {k: np.asarray(z[k], dtype=np.float64) for k in names}
        except (OSError, KeyError, ValueError) as exc:
            raise InputError(f"unreadable cell data {_cell_data_file(path).name}: {exc}",
                             file=path) from None  # fmt: skip
        bad = [k for k, v in data.items() if v.shape != (int(meta["num_cells"]),)]
        if bad:
            raise InputError(f"cell data {bad[0]} does not have one value per cell", file=path)
        return data

    data = comm.bcast(_on_root(comm, load, source=str(path)), root=0)
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    orig = np.asarray(mesh.topology.original_cell_index[: imap.size_local + imap.num_ghosts])
    return {k: np.ascontiguousarray(v[orig]) for k, v in data.items()}
