"""ParaView time series as PVD + parallel VTU (binary, zlib-compressed), written by all ranks.

Why this format: a ``.pvd`` collection of ``.pvtu`` files opens in every ParaView release
users have (5.x back to 4.x, and 6.x), unlike DOLFINx 0.11's XDMF time series (empty in
ParaView 5.11) or VTX/ADIOS2 (needs ParaView >= 5.12 built with ADIOS2). DOLFINx's own
``VTKFile`` writes the same layout in ASCII; this writer emits base64 binary with zlib
compression (VTK XML ``header_type="UInt64"``, ``vtkZLibDataCompressor``), several times
smaller and faster to read, and mixes point data (P1/Q1 vector fields, e.g. displacement)
with cell data (DG0 fields, e.g. density) in one file.

Each rank writes one ``.vtu`` piece with the cells it owns; rank 0 writes the ``.pvtu``
and rewrites the ``.pvd`` atomically (temporary file + ``os.replace``) after every step,
so a run killed at any moment leaves a readable series of the steps already written.
Array names carry their units in brackets, e.g. ``"density [g/cm^3]"``.

``precision="float32"`` writes floating-point arrays (points and fields) as Float32 and the
connectivity as Int32 (when the piece allows it): about half the bytes before compression,
for big runs where 7 significant digits are plenty for viewing (docs/performance.md,
"Output volume").
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import dolfinx, fem
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.output.atomic import write_text_atomic
from bonefem.output.collective import collective_write
from bonefem.output.vtu_single import VTK_TYPES, encode_blocks, grid_open, piece_lines

_VTK_CELL = {"tetrahedron": 10, "hexahedron": 12, "triangle": 5, "quadrilateral": 9}
_VTK_TYPE = VTK_TYPES


def _encode(array: npt.NDArray[Any], compress: bool) -> str:
    """Base64 VTK XML inline binary encoding (UInt64 header), optionally zlib-compressed.

    Compressed: header and data are encoded separately, as VTK's reader expects.
    """
    header, payload = encode_blocks(array, compress)
    if not compress:
        return base64.b64encode(header + payload).decode("ascii")
    return base64.b64encode(header).decode("ascii") + base64.b64encode(payload).decode("ascii")


def _string_array(name: str, values: list[str]) -> str:
    """A VTK XML field-data string array (ascii: character codes, each string 0-ended)."""
    codes = " ".join(" ".join([*(str(b) for b in v.encode("utf-8")), "0"]) for v in values)
    return (
        f'<Array type="String" Name="{name}" NumberOfTuples="{len(values)}" format="ascii">'
        f"{codes}</Array>"
    )


def names_field_data(regions: Mapping[str, int], surfaces: Mapping[str, int]) -> str:
    """``<FieldData>`` naming the mesh's tags: the categories of the ``region`` cell array.

    ``region_names`` / ``region_tags`` (and ``surface_names`` / ``surface_tags``) pair each
    name with its tag value, so ParaView shows the names (spreadsheet view, information
    panel) and ``open_fields.py`` colours ``region`` by category with these labels.
    """
    parts = ["<FieldData>"]
    for kind, table in (("region", regions), ("surface", surfaces)):
        names = sorted(table, key=lambda n: table[n])
        tags = np.array([table[n] for n in names], dtype=np.int32)
        parts.append(_string_array(f"{kind}_names", names))
        parts.append(
            f'<Array type="Int32" Name="{kind}_tags" NumberOfTuples="{tags.size}" '
            f'format="ascii">{" ".join(str(int(t)) for t in tags)}</Array>'
        )
    parts.append("</FieldData>")
    return "\n".join(parts)


#: Field precisions of :class:`ParaViewSeries` (``output.field_precision``).
PRECISIONS = ("float64", "float32")
#: File layouts of :class:`ParaViewSeries` (``output.field_files``): a ``.vtu`` piece per
#: rank and a ``.pvtu`` per write, or one ``.vtu`` per write (:mod:`bonefem.output.vtu_single`).
FILE_LAYOUTS = ("per_rank", "single")


def _convert(array: npt.NDArray[Any], precision: str) -> npt.NDArray[Any]:
    """The array as written: unknown dtypes as float64, float64 as float32 if asked."""
    array = np.asarray(array)
    if array.dtype not in _VTK_TYPE:
        array = array.astype(np.float64)
    if precision == "float32" and array.dtype == np.float64:
        array = array.astype(np.float32)
    return array


def _data_array(
    name: str, array: npt.NDArray[Any], compress: bool, precision: str = "float64"
) -> str:
    array = np.asarray(array)
    if array.dtype not in _VTK_TYPE:
        array = array.astype(np.float64)
    if precision == "float32" and array.dtype == np.float64:
        array = array.astype(np.float32)
    ncomp = 1 if array.ndim == 1 else int(np.prod(array.shape[1:]))
    return (
        f'<DataArray type="{_VTK_TYPE[array.dtype]}" Name="{name}" '
        f'NumberOfComponents="{ncomp}" format="binary">{_encode(array, compress)}</DataArray>'
    )


class ParaViewSeries:
    """A time series of point and cell fields on a bone mesh (PVD + PVTU + VTU).

    Args:
        bone: the mesh (coordinates in mm).
        folder: output folder (created by rank 0).
        name: base name of the files (``<name>.pvd``).
        compress: zlib-compress the arrays.
        restart_time: when resuming a run, keep the steps written up to this time (days)
            and drop later ones; ``None`` starts a new series.
        precision: ``"float64"`` or ``"float32"`` (points and fields in single precision,
            connectivity as Int32), see :data:`PRECISIONS`.
        files: ``"per_rank"`` (a ``.vtu`` piece per rank and a ``.pvtu``) or ``"single"``
            (one ``.vtu`` per write with a piece per rank, written by all ranks), see
            :data:`FILE_LAYOUTS`.
    """

    def __init__(
        self,
        bone: BoneMesh,
        folder: str | Path,
        name: str = "fields",
        *,
        compress: bool = True,
        restart_time: float | None = None,
        precision: str = "float64",
        files: str = "per_rank",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if files not in FILE_LAYOUTS:
            raise ValueError(f"files must be one of {FILE_LAYOUTS}, not {files!r}")
        self.precision = precision
        self.files = files
        self.bone = bone
        self.comm = bone.comm
        self.folder = Path(folder)
        self.name = name
        self.compress = compress
        self._collective(
            self.folder,
            lambda: self.folder.mkdir(parents=True, exist_ok=True) if self.comm.rank == 0 else None,
        )
        self.entries: list[tuple[float, str]] = []
        if restart_time is not None:
            self.entries = [e for e in self._read_pvd() if e[0] <= restart_time + 1e-9]
        self.pvd = self.folder / f"{name}.pvd"

        mesh = bone.mesh
        tdim = mesh.topology.dim
        self.n_cells = mesh.topology.index_map(tdim).size_local
        cell_name = mesh.topology.cell_name()
        if cell_name not in _VTK_CELL:
            raise ValueError(f"cannot write cells of type {cell_name}")
        x_dofmap = mesh.geometry.dofmaps[0][: self.n_cells]
        perm = dolfinx.cpp.io.perm_vtk(mesh.topology.cell_type, x_dofmap.shape[1])
        nodes, local = np.unique(x_dofmap, return_inverse=True)
        self._nodes = nodes
        self._node_of_cell_node = x_dofmap  # (cells, nodes per cell) geometry node indices
        self._points = mesh.geometry.x[nodes]
        npc = x_dofmap.shape[1]
        small = precision == "float32" and npc * (self.n_cells + 1) < 2**31
        itype = np.int32 if small else np.int64
        self._connectivity = local.reshape(x_dofmap.shape)[:, perm].astype(itype)
        self._offsets = np.arange(npc, npc * (self.n_cells + 1), npc, dtype=itype)
        self._types = np.full(self.n_cells, _VTK_CELL[cell_name], dtype=np.uint8)
        self._field_data = names_field_data(bone.regions, bone.surfaces)
        self._node_lookup = np.full(mesh.geometry.x.shape[0], -1, dtype=np.int64)
        self._node_lookup[nodes] = np.arange(nodes.size)
        #: the encoded mesh of a piece (points; connectivity, offsets, types), built at the
        #: first write: the mesh never changes, its encoding was a third of every write
        self._piece_mesh: tuple[list[str], list[str]] | None = None

    # ----------------------------------------------------------------- helpers
    def point_values(self, u: fem.Function) -> npt.NDArray[np.float64]:
        """Values of a P1/Q1 (scalar or vector) Function at the points of this piece."""
        V = u.function_space
        bs = V.dofmap.index_map_bs
        dofs = V.dofmap.list[: self.n_cells]
        if dofs.shape != self._node_of_cell_node.shape:
            raise ValueError("point data must be a degree-1 Lagrange field on the mesh geometry")
        values = u.x.array.reshape(-1, bs)
        out = np.empty((self._nodes.size, bs), dtype=np.float64)
        out[self._node_lookup[self._node_of_cell_node.ravel()]] = values[dofs.ravel()]
        return out if bs > 1 else out[:, 0]

    def _read_pvd(self) -> list[tuple[float, str]]:
        entries: list[tuple[float, str]] = []
        if self.comm.rank == 0:
            pvd = self.folder / f"{self.name}.pvd"
            if pvd.exists():
                root = ET.parse(pvd).getroot()
                for ds in root.iter("DataSet"):
                    entries.append((float(ds.attrib["timestep"]), ds.attrib["file"]))
        result: list[tuple[float, str]] = self.comm.bcast(entries, root=0)
        return result

    # ------------------------------------------------------------------- write
    def write(
        self,
        time: float,
        *,
        point_data: Mapping[str, fem.Function | npt.NDArray[Any]] | None = None,
        cell_data: Mapping[str, npt.NDArray[Any]] | None = None,
    ) -> Path:
        """Write one time step (collective).

        Args:
            time: simulated time (days), the PVD ``timestep``.
            point_data: name -> P1/Q1 Function or array of values per point of this piece.
            cell_data: name -> array with one value (or row) per owned cell.

        Returns:
            Path of the ``.pvtu`` (or, with ``files="single"``, the ``.vtu``) written.
        """
        index = len(self.entries)
        stem = f"{self.name}_{index:06d}"
        point_arrays: dict[str, npt.NDArray[Any]] = {}
        for key, value in (point_data or {}).items():
            point_arrays[key] = (
                self.point_values(value) if isinstance(value, fem.Function) else np.asarray(value)
            )
        cell_arrays = {k: np.asarray(v)[: self.n_cells] for k, v in (cell_data or {}).items()}
        for key, arr in cell_arrays.items():
            if arr.shape[0] != self.n_cells:
                raise ValueError(f"cell array '{key}' has {arr.shape[0]} rows, need {self.n_cells}")
        if self.files == "single":
            pvtu = self.folder / f"{stem}.vtu"
            self._write_single(pvtu, point_arrays, cell_arrays)
        else:
            piece = self.folder / f"{stem}_p{self.comm.rank}.vtu"
            self._collective(piece, lambda: self._write_piece(piece, point_arrays, cell_arrays))
            pvtu = self.folder / f"{stem}.pvtu"

        def index_files() -> None:
            if self.comm.rank == 0:
                if self.files != "single":
                    self._write_pvtu(pvtu, stem, point_arrays, cell_arrays)
                self._write_pvd()

        self.entries.append((float(time), pvtu.name))
        try:
            self._collective(pvtu, index_files)
        except OSError:
            self.entries.pop()  # the step is not in the series: a retry writes it again
            raise
        return pvtu

    def _collective(self, path: Path, fn: Callable[[], None]) -> None:
        """Run the write ``fn``; a failure on any rank raises OSError on every rank."""
        collective_write(self.comm, path, fn)

    def _write_single(
        self,
        path: Path,
        point_arrays: Mapping[str, npt.NDArray[Any]],
        cell_arrays: Mapping[str, npt.NDArray[Any]],
    ) -> None:
        """One ``.vtu`` with a piece per rank (:mod:`bonefem.output.vtu_single`)."""
        from bonefem.output.vtu_single import cell_and_point_arrays, write_single_vtu

        p = self.precision
        arrays = [
            ("points", "Points", _convert(self._points.astype(np.float64), p)),
            ("cells", "connectivity", self._connectivity.ravel()),
            ("cells", "offsets", self._offsets),
            ("cells", "types", self._types),
            *cell_and_point_arrays(point_arrays, cell_arrays, lambda a: _convert(a, p)),
        ]
        write_single_vtu(
            self.comm,
            path,
            arrays,
            (self._nodes.size, self.n_cells),
            field_data=self._field_data,
            compress=self.compress,
            collective=self._collective,
        )

    def _write_piece(
        self,
        path: Path,
        point_arrays: Mapping[str, npt.NDArray[Any]],
        cell_arrays: Mapping[str, npt.NDArray[Any]],
    ) -> None:
        c, p = self.compress, self.precision
        if self._piece_mesh is None:
            self._piece_mesh = (
                [_data_array("Points", self._points.astype(np.float64), c, p)],
                [
                    _data_array("connectivity", self._connectivity.ravel(), c),
                    _data_array("offsets", self._offsets, c),
                    _data_array("types", self._types, c),
                ],
            )
        points, cells = self._piece_mesh
        parts = [
            '<?xml version="1.0"?>',
            grid_open(c),
            "<UnstructuredGrid>",
            self._field_data,
            *piece_lines(
                self._nodes.size,
                self.n_cells,
                points,
                cells,
                (_data_array(k, v, c, p) for k, v in point_arrays.items()),
                (_data_array(k, v, c, p) for k, v in cell_arrays.items()),
            ),
            "</UnstructuredGrid>",
            "</VTKFile>",
        ]
        write_text_atomic(path, "\n".join(parts))

    def _write_pvtu(
        self,
        path: Path,
        stem: str,
        point_arrays: Mapping[str, npt.NDArray[Any]],
        cell_arrays: Mapping[str, npt.NDArray[Any]],
    ) -> None:
        def decl(name: str, arr: npt.NDArray[Any]) -> str:
            dtype = arr.dtype if arr.dtype in _VTK_TYPE else np.dtype(np.float64)
            if self.precision == "float32" and dtype == np.float64:
                dtype = np.dtype(np.float32)
            ncomp = 1 if arr.ndim == 1 else int(np.prod(arr.shape[1:]))
            return (
                f'<PDataArray type="{_VTK_TYPE[dtype]}" Name="{name}" '
                f'NumberOfComponents="{ncomp}"/>'
            )

        ptype = "Float32" if self.precision == "float32" else "Float64"
        pieces = "\n".join(f'<Piece Source="{stem}_p{r}.vtu"/>' for r in range(self.comm.size))
        text = "\n".join(
            [
                '<?xml version="1.0"?>',
                '<VTKFile type="PUnstructuredGrid" version="1.0" byte_order="LittleEndian" '
                'header_type="UInt64">',
                '<PUnstructuredGrid GhostLevel="0">',
                f'<PPoints><PDataArray type="{ptype}" NumberOfComponents="3"/></PPoints>',
                "<PPointData>",
                *(decl(k, v) for k, v in point_arrays.items()),
                "</PPointData>",
                "<PCellData>",
                *(decl(k, v) for k, v in cell_arrays.items()),
                "</PCellData>",
                pieces,
                "</PUnstructuredGrid>",
                "</VTKFile>",
            ]
        )
        write_text_atomic(path, text)

    def _write_pvd(self) -> None:
        rows = "\n".join(
            f'    <DataSet timestep="{t:.10g}" group="" part="0" file="{f}"/>'
            for t, f in self.entries
        )
        text = (
            '<?xml version="1.0"?>\n<VTKFile type="Collection" version="1.0">\n  <Collection>\n'
            f"{rows}\n  </Collection>\n</VTKFile>\n"
        )
        write_text_atomic(self.pvd, text)
