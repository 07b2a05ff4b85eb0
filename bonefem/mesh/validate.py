"""Checks of a mesh's raw arrays before DOLFINx sees them (rank 0, vectorised).

DOLFINx trusts its input: a tetrahedron that repeats a vertex corrupts memory while the
topology is built (a glibc assertion or a PETSc SEGV, differently from run to run), and
NaN coordinates poison every later number. :func:`check_cell_array` rejects such input
with an :class:`~bonefem.errors.InputError` naming the file, the first bad cell and the
count: coordinates that are not finite, vertex indices out of range, a cell that repeats
a vertex, and tetrahedra of zero volume or of the opposite orientation to the rest.
:func:`check_mesh_file` applies it to an imported mesh file (read with meshio) before the
import builds the mesh; the run and ``bonefem check`` call it on rank 0.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError

logger = logging.getLogger(__name__)

#: |6V| below this fraction of (bounding-box diagonal)³ counts as zero volume.
ZERO_VOLUME = 1e-14

_VOLUME_BLOCKS = {"tetra": 4, "tetra10": 4, "hexahedron": 8, "hexahedron20": 8, "hexahedron27": 8}


def _first(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def check_cell_array(
    points: npt.ArrayLike,
    cells: npt.ArrayLike,
    *,
    source: str | None = None,
) -> None:
    """Raise InputError for unusable raw mesh arrays (see the module docstring).

    Args:
        points: node coordinates (n, 3) in mm (2-D points are padded with z = 0).
        cells: volume cells (m, 4) tetrahedra or (m, 8) hexahedra, 0-based node indices.
        source: file name for the message.
    """
    x = np.asarray(points, dtype=np.float64)
    c = np.asarray(cells)
    if x.ndim != 2 or x.shape[0] == 0 or c.ndim != 2 or c.shape[0] == 0:
        raise InputError("the mesh has no nodes or no volume cells", file=source)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise InputError(
            f"{int(bad.sum())} node(s) have coordinates that are not finite (NaN or inf), the "
            f"first is node {_first(bad)}: {x[_first(bad)].tolist()}",
            file=source,
        )
    if not np.issubdtype(c.dtype, np.integer):
        raise InputError("cell vertex indices must be integers", file=source)
    c = c.astype(np.int64)
    out = (c < 0) | (c >= x.shape[0])
    if out.any():
        row = _first(out.any(axis=1))
        raise InputError(
            f"{int(out.any(axis=1).sum())} cell(s) refer to nodes that do not exist (the mesh "
            f"has {x.shape[0]} nodes), the first is cell {row}: {c[row].tolist()}",
            file=source,
        )
    s = np.sort(c, axis=1)
    repeated = (s[:, 1:] == s[:, :-1]).any(axis=1)
    if repeated.any():
        row = _first(repeated)
        raise InputError(
            f"{int(repeated.sum())} cell(s) repeat a vertex (collapsed cells), the first is "
            f"cell {row}: {c[row].tolist()}; repair or remesh the geometry",
            file=source,
        )
    if c.shape[1] == 4:
        _check_tetra_volumes(x, c, source)


def _check_tetra_volumes(x: npt.NDArray[np.float64], c: npt.NDArray[np.int64], src: Any) -> None:
    if x.shape[1] < 3:
        x = np.hstack([x, np.zeros((x.shape[0], 3 - x.shape[1]))])
    p0, p1, p2, p3 = (x[c[:, k], :3] for k in range(4))
    six_v = np.einsum("ij,ij->i", np.cross(p1 - p0, p2 - p0), p3 - p0)
    scale = float(np.linalg.norm(x[:, :3].max(axis=0) - x[:, :3].min(axis=0))) ** 3
    zero = np.abs(six_v) <= ZERO_VOLUME * max(scale, 1e-300)
    if zero.any():
        row = _first(zero)
        raise InputError(
            f"{int(zero.sum())} tetrahedra have zero volume (flat or collapsed), the first "
            f"is cell {row}: {c[row].tolist()}; repair or remesh the geometry",
            file=src,
        )
    positive = six_v > 0
    minority = positive if positive.sum() * 2 < positive.size else ~positive
    if minority.any():
        row = _first(minority)
        raise InputError(
            f"{int(minority.sum())} of {c.shape[0]} tetrahedra are inverted (orientation "
            f"opposite to the rest), the first is cell {row}: {c[row].tolist()}; repair or "
            "remesh the geometry",
            file=src,
        )


def check_mesh_file(path: str | Path, *, file_format: str | None = None) -> None:
    """Read a mesh file with meshio and check its volume cells (call on rank 0).

    bonefem's own mesh files (written by the run) and files meshio cannot read are left
    to the importer, which reports its own errors.
    """
    from bonefem.mesh.meshfile import is_bonefem_file

    path = Path(path)
    if is_bonefem_file(path):
        return  # a bonefem mesh file (checked when it was written, read by DOLFINx's XDMF)
    try:
        import meshio

        m = meshio.read(str(path), file_format=file_format)
    except Exception as exc:  # meshio raises many kinds; the importer reports them
        logger.debug("mesh pre-check skipped for %s: %s", path, exc)
        return
    blocks = [b.data[:, : _VOLUME_BLOCKS[b.type]] for b in m.cells if b.type in _VOLUME_BLOCKS]
    if not blocks:
        return  # the importer says that there are no volume cells
    if len({blk.shape[1] for blk in blocks}) > 1:
        raise InputError(
            "the mesh mixes tetrahedra and hexahedra; bonefem needs one cell type", file=path
        )
    check_cell_array(m.points, np.vstack(blocks), source=str(path))


#: The repository's meshes/ folder (settings files are also looked up there).
MESHES_DIR = Path(__file__).resolve().parents[2] / "meshes"


def _resolve(path: str, base: Path, settings: bool) -> Path:
    p = Path(path).expanduser()
    if p.is_absolute():
        return p
    candidates = [base / p, Path.cwd() / p]
    if settings:
        candidates += [MESHES_DIR / p, MESHES_DIR / p.name]
    return next((c for c in candidates if c.exists()), candidates[0])


def final_mesh_table(mesh: Any, base_dir: str | Path) -> dict[str, Any] | None:
    """The ``[mesh]`` table a case ends up with, following ``settings`` files.

    Returns ``{"file": Path}`` for an imported file (resolved as the importer does),
    ``{"generator": name, "parameters": {...}}`` for a generated mesh, or None when a
    settings file cannot be read (the mesh loader reports that).
    """
    import tomllib

    table: dict[str, Any] = {
        "file": getattr(mesh, "file", None),
        "settings": getattr(mesh, "settings", None),
        "generator": getattr(mesh, "generator", None),
        "parameters": dict(getattr(mesh, "parameters", {}) or {}),
    }
    base = Path(base_dir)
    for _ in range(5):
        if table.get("file"):
            return {"file": _resolve(str(table["file"]), base, settings=False)}
        if table.get("generator"):
            params = table.get("parameters")
            return {
                "generator": str(table["generator"]),
                "parameters": params if isinstance(params, dict) else {},
            }
        if not table.get("settings"):
            return None
        path = _resolve(str(table["settings"]), base, settings=True)
        try:
            new = tomllib.loads(path.read_text(encoding="utf-8")).get("mesh")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None
        if not isinstance(new, dict):
            return None
        table, base = new, path.parent
    return None


def precheck_case_mesh(mesh: Any, base_dir: str | Path, comm: Any) -> None:
    """Check the file a case's ``[mesh]`` table imports, on rank 0 (collective).

    Args:
        mesh: the case's :class:`~bonefem.mesh.config_schema.MeshConfig`.
        base_dir: the case file's folder (relative paths are resolved against it, then
            against the working folder, as the importer does; settings files are
            followed).
        comm: communicator; every rank raises the same InputError.

    Generated meshes are not pre-checked (gmsh output is valid; the importer's own checks
    apply after the mesh is built).
    """
    error: InputError | None = None
    if comm.rank == 0:
        try:
            table = final_mesh_table(mesh, base_dir)
            path = None if table is None else table.get("file")
            if path is not None and path.is_file():
                check_mesh_file(path)
        except InputError as exc:
            error = exc
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
