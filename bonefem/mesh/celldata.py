"""Per-cell initial state from a named cell array of an imported mesh file.

``[mesh] file = "bone.vtu"`` with ``initial_bvtv = "BVTV"`` (or
``initial_mineral_density = "vBMD"``, g/cm³) reads that ``cell_data`` array (meshio) and
puts it on the mesh as :data:`bonefem.coupling.initial.INITIAL_BVTV` (or
``INITIAL_MINERAL_DENSITY``), in the file's order of the volume cells (the meshes'
``original_cell_index``). A bonefem mesh file (``.xdmf`` with its sidecar) carries its
arrays already (:attr:`bonefem.mesh.BoneMesh.cell_data`, by name). Checked: the array
exists, has one finite value per volume cell (a scalar), and lies in (0, 1] for BV/TV
or > 0 for a density; gmsh ``.msh`` files are refused (convert to ``.vtu``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem.errors import InputError
from bonefem.mesh.initial_arrays import INITIAL_BVTV, INITIAL_MINERAL_DENSITY

__all__ = ["attach_initial_array", "read_cell_array"]

FloatArray = npt.NDArray[np.float64]


def read_cell_array(path: Path, name: str, field: str) -> FloatArray:
    """The cell data array ``name`` of a meshio file on its volume cells, in file order.

    Raises:
        InputError: no such array (the message lists the file's arrays), or not one
            scalar per volume cell.
    """
    from bonefem.mesh.io import _meshio_blocks, _meshio_load

    m = _meshio_load(path, None)
    if name not in m.cell_data:
        raise InputError(
            f"no cell data '{name}'; the file has: {', '.join(m.cell_data) or '(none)'}",
            file=path,
            field=field,
            value=name,
        )
    vol, _, _ = _meshio_blocks([b.type for b in m.cells])
    blocks = [np.asarray(m.cell_data[name][i]) for i in vol]
    if any(b.ndim > 1 and b.shape[1] != 1 for b in blocks):
        raise InputError(f"cell data '{name}' must be a scalar per cell", file=path, field=field)
    return np.concatenate([b.ravel() for b in blocks]).astype(np.float64)


def _checked(values: FloatArray, path: Path, field: str, bvtv: bool) -> FloatArray:
    bad = ~np.isfinite(values) | (values <= 0.0)
    if bvtv:
        bad |= values > 1.0
    if np.any(bad):
        allowed = "in (0, 1] (BV/TV)" if bvtv else "finite and > 0 (g/cm³)"
        raise InputError(
            f"{int(bad.sum())} of {values.size} cells have a value that is not {allowed}",
            file=path,
            field=field,
            value=float(values[bad][0]),
        )
    return values


def attach_initial_array(bone: Any, path: Path, cfg: Any, comm: Any) -> None:
    """Put the case's named initial array of ``path`` on ``bone.cell_data`` (collective).

    Args:
        bone: the imported :class:`~bonefem.mesh.BoneMesh`.
        path: the mesh file.
        cfg: the validated ``[mesh]`` table (``initial_bvtv`` / ``initial_mineral_density``).
        comm: the mesh communicator.
    """
    from bonefem.mesh.meshfile import is_bonefem_file

    bvtv = cfg.initial_bvtv is not None
    name = cfg.initial_bvtv if bvtv else cfg.initial_mineral_density
    if name is None:
        return
    field = "mesh.initial_bvtv" if bvtv else "mesh.initial_mineral_density"
    target = INITIAL_BVTV if bvtv else INITIAL_MINERAL_DENSITY
    n_local = bone.mesh.topology.index_map(bone.mesh.topology.dim).size_local
    orig = np.asarray(bone.mesh.topology.original_cell_index[:n_local])
    if is_bonefem_file(path):
        if name not in bone.cell_data:
            raise InputError(f"no cell data '{name}'; the file has: "
                             f"{', '.join(bone.cell_data) or '(none)'}", file=path,
                             field=field, value=name)  # fmt: skip
        values = _checked(np.asarray(bone.cell_data[name][:n_local]), path, field, bvtv)
        bone.cell_data = {k: v for k, v in bone.cell_data.items() if k not in (INITIAL_BVTV,
                          INITIAL_MINERAL_DENSITY)}  # fmt: skip
        bone.cell_data[target] = values
        return
    payload: Any = None
    if comm.rank == 0:
        try:
            if path.suffix == ".msh":
                raise InputError("a per-cell initial array is read from meshio files (.vtu, "
                                 ".xdmf, ...), not gmsh .msh: convert it (meshio convert)",
                                 file=path, field=field)  # fmt: skip
            payload = _checked(read_cell_array(path, name, field), path, field, bvtv)
        except InputError as exc:
            payload = exc
    payload = comm.bcast(payload, root=0)
    if isinstance(payload, InputError):
        raise payload
    if payload.size != bone.num_cells_global:
        raise InputError(f"cell data '{name}' has {payload.size} values for "
                         f"{bone.num_cells_global} cells", file=path, field=field)  # fmt: skip
    bone.cell_data[target] = np.ascontiguousarray(payload[orig])
