"""One ``.vtu`` file per write, written by all ranks (``output.field_files = "single"``).

VTK's XML unstructured-grid format allows several ``<Piece>`` elements in one file and
the array data *appended* after the XML (``<AppendedData encoding="raw">``), each array
addressed by its byte offset. So every rank keeps its own piece (the cells it owns) and
writes its encoded arrays into its own byte range of one shared file:

1. each rank encodes its arrays (raw binary with the VTK UInt64 header, zlib-compressed
   like the per-rank pieces) and the sizes are gathered on rank 0 (a few numbers per array);
2. rank 0 writes the XML header with every piece's offsets, sets the file to its final
   size and writes the closing tags;
3. every rank writes its bytes at its offset (an exclusive scan of the sizes), with plain
   positioned writes into disjoint ranges (no MPI-IO needed, no gather of the data).

The file is written under a temporary name and renamed by rank 0 when every rank is done,
so a run killed during a write leaves no half file in the series. ParaView (5.x and later)
reads such a file like any ``.vtu``; the ``.pvd`` lists one file per time step.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

#: VTK XML type names of the array dtypes written
VTK_TYPES = {
    np.dtype(np.float64): "Float64",
    np.dtype(np.float32): "Float32",
    np.dtype(np.int32): "Int32",
    np.dtype(np.int64): "Int64",
    np.dtype(np.uint8): "UInt8",
}


#: zlib level of the field output. Level 1 against the usual 6, measured on a field write of
#: the quick-start case (38k cells, 10 cell fields and the displacement, float64): 4.0x less
#: time (0.12 vs 0.48 s) for 1 % more bytes (63.3 vs 62.6 % of the raw size):
#: docs/performance.md, "Size and time per write".
ZLIB_LEVEL = 1


def encode_blocks(array: npt.NDArray[Any], compress: bool) -> tuple[bytes, bytes]:
    """(header, payload) bytes of one VTK XML binary array with a UInt64 header.

    One zlib block if ``compress`` (header [1, size, size, packed size]), else the raw
    bytes (header [size]).
    """
    raw = np.ascontiguousarray(array).tobytes()
    if not compress:
        return np.array([len(raw)], dtype=np.uint64).tobytes(), raw
    packed = zlib.compress(raw, ZLIB_LEVEL)
    return np.array([1, len(raw), len(raw), len(packed)], dtype=np.uint64).tobytes(), packed


def encode_appended(array: npt.NDArray[Any], compress: bool) -> bytes:
    """Raw appended-data bytes of one array (:func:`encode_blocks`, header then payload)."""
    header, payload = encode_blocks(array, compress)
    return header + payload


def _declare(name: str, dtype: np.dtype[Any], shape: tuple[int, ...], offset: int) -> str:
    ncomp = 1 if len(shape) == 1 else int(np.prod(shape[1:]))
    return (
        f'<DataArray type="{VTK_TYPES[dtype]}" Name="{name}" '
        f'NumberOfComponents="{ncomp}" format="appended" offset="{offset}"/>'
    )


def grid_open(compress: bool) -> str:
    """Opening ``<VTKFile>`` tag of an UnstructuredGrid file (UInt64 headers).

    zlib compression if ``compress``; shared by the per-rank and the single-file writers.
    """
    c = ' compressor="vtkZLibDataCompressor"' if compress else ""
    return (
        '<VTKFile type="UnstructuredGrid" version="1.0" byte_order="LittleEndian" '
        f'header_type="UInt64"{c}>'
    )


def piece_lines(
    n_points: int,
    n_cells: int,
    points: Sequence[str],
    cells: Sequence[str],
    point_data: Iterable[str],
    cell_data: Iterable[str],
) -> list[str]:
    """The lines of one ``<Piece>`` element from its ``<DataArray>`` elements."""
    return [
        f'<Piece NumberOfPoints="{n_points}" NumberOfCells="{n_cells}">',
        "<Points>",
        *points,
        "</Points>",
        "<Cells>",
        *cells,
        "</Cells>",
        "<PointData>",
        *point_data,
        "</PointData>",
        "<CellData>",
        *cell_data,
        "</CellData>",
        "</Piece>",
    ]


def _piece_xml(layout: dict[str, Any], start: int) -> tuple[str, int]:
    """The ``<Piece>`` element of one rank's layout; its arrays begin at ``start``."""
    off = start
    groups: dict[str, list[str]] = {"points": [], "cells": [], "point": [], "cell": []}
    for group, name, meta, size in layout["arrays"]:
        groups[group].append(_declare(name, meta[0], meta[1], off))
        off += size
    lines = piece_lines(
        layout["points"],
        layout["cells"],
        groups["points"],
        groups["cells"],
        groups["point"],
        groups["cell"],
    )
    return "\n".join(lines), off


def write_single_vtu(
    comm: Any,
    path: Path,
    arrays: list[tuple[str, str, npt.NDArray[Any]]],
    counts: tuple[int, int],
    *,
    field_data: str,
    compress: bool,
    collective: Callable[[Path, Callable[[], None]], None],
) -> None:
    """Write one ``.vtu`` with a piece per rank (collective; module doc).

    Args:
        comm: communicator.
        path: the ``.vtu`` file.
        arrays: this rank's (group, name, array); group is "points", "cells", "point"
            (point data) or "cell" (cell data), in the order they are to appear.
        counts: (points, cells) of this rank's piece.
        field_data: the ``<FieldData>`` element (names of the tags), written once.
        compress: zlib-compress the arrays.
        collective: runs a write on every rank and raises on all if it failed on one.
    """
    blobs = [encode_appended(a, compress) for _, _, a in arrays]
    layout = {
        "points": counts[0],
        "cells": counts[1],
        "arrays": [
            (g, n, (a.dtype, a.shape), len(b)) for (g, n, a), b in zip(arrays, blobs, strict=True)
        ],
    }
    layouts = comm.gather(layout, root=0)
    mine = sum(len(b) for b in blobs)
    start = comm.exscan(mine) or 0
    total = comm.allreduce(mine)
    tmp = path.with_name(path.name + ".part")
    header_len = 0
    if comm.rank == 0:
        pieces, off = [], 0
        for lay in layouts:
            text, off = _piece_xml(lay, off)
            pieces.append(text)
        header = "\n".join(
            [
                '<?xml version="1.0"?>',
                grid_open(compress),
                "<UnstructuredGrid>",
                field_data,
                *pieces,
                "</UnstructuredGrid>",
                '<AppendedData encoding="raw">',
                "_",
            ]
        ).encode()
        header_len = len(header)
    header_len = comm.bcast(header_len, root=0)
    tail = b"\n</AppendedData>\n</VTKFile>\n"

    def create() -> None:
        if comm.rank == 0:
            with open(tmp, "wb") as fh:
                fh.write(header)
                fh.truncate(header_len + total)
                fh.seek(header_len + total)
                fh.write(tail)

    collective(tmp, create)

    def fill() -> None:
        with open(tmp, "r+b") as fh:
            fh.seek(header_len + start)
            for b in blobs:
                fh.write(b)
            fh.flush()
            os.fsync(fh.fileno())

    collective(tmp, fill)
    collective(path, lambda: os.replace(tmp, path) if comm.rank == 0 else None)


def cell_and_point_arrays(
    point_arrays: Mapping[str, npt.NDArray[Any]],
    cell_arrays: Mapping[str, npt.NDArray[Any]],
    convert: Callable[[npt.NDArray[Any]], npt.NDArray[Any]],
) -> list[tuple[str, str, npt.NDArray[Any]]]:
    """(group, name, array) of the data arrays, converted for writing."""
    out = [("point", k, convert(v)) for k, v in point_arrays.items()]
    out += [("cell", k, convert(v)) for k, v in cell_arrays.items()]
    return out
