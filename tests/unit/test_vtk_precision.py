"""Reduced-precision, subset and single-file field output (issue 19, I/O at scale).

``output.field_precision = "float32"`` writes the same arrays as float64 to float32
precision, with Float32 declared in the pieces and the .pvtu; ``output.fields`` writes
exactly the named fields; ``output.field_files = "single"`` writes one .vtu per write with
a piece per rank holding the same arrays as the per-rank pieces. Run serially and under
``mpiexec -n 2``.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from bonefem.config.case import load_case
from bonefem.errors import InputError
from bonefem.mesh import box
from bonefem.output.vtk import ParaViewSeries
from tests.helpers.cases import write_case

pytestmark = pytest.mark.mpi

_GEOMETRY = {"Points", "connectivity", "offsets", "types"}

_DTYPES = {
    "Float64": np.float64,
    "Float32": np.float32,
    "Int32": np.int32,
    "Int64": np.int64,
    "UInt8": np.uint8,
}


def _decode(text: str, dtype: Any) -> np.ndarray:
    """A zlib-compressed base64 VTK array (UInt64 header, one block)."""
    header = np.frombuffer(base64.b64decode(text[:44]), dtype=np.uint64)
    assert header[0] == 1  # one block
    raw = zlib.decompress(base64.b64decode(text[44:]))
    return np.frombuffer(raw, dtype=dtype)


def read_piece(path: Path) -> dict[str, tuple[str, np.ndarray]]:
    """Name -> (VTK type, values) of every DataArray of a .vtu piece."""
    out = {}
    for e in ET.parse(path).iter("DataArray"):
        out[e.get("Name", "")] = (
            e.get("type", ""),
            _decode(e.text or "", _DTYPES[e.get("type", "")]),
        )
    return out


def read_single(path: Path) -> list[dict[str, tuple[str, np.ndarray]]]:
    """Per piece: name -> (VTK type, values) of a single .vtu with appended raw data."""
    data = path.read_bytes()
    start = data.index(b'<AppendedData encoding="raw">')
    base = data.index(b"_", start) + 1
    xml = data[:start].decode() + "</VTKFile>"
    pieces = []
    for piece in ET.fromstring(xml).iter("Piece"):
        out = {}
        for e in piece.iter("DataArray"):
            off = base + int(e.get("offset", "0"))
            header = np.frombuffer(data[off : off + 32], dtype=np.uint64)
            raw = zlib.decompress(data[off + 32 : off + 32 + int(header[3])])
            out[e.get("Name", "")] = (
                e.get("type", ""),
                np.frombuffer(raw, _DTYPES[e.get("type", "")]),
            )
        pieces.append(out)
    return pieces


def _series(folder: Path, precision: str, files: str = "per_rank") -> tuple[Path, int]:
    comm = MPI.COMM_WORLD
    bone = box(comm, (3.0, 2.0, 2.0), (3, 2, 2))
    series = ParaViewSeries(bone, folder, "fields", precision=precision, files=files)
    n = series.n_cells
    orig = bone.mesh.topology.original_cell_index[:n].astype(np.float64)
    x = series._points
    pvtu = series.write(
        0.0,
        point_data={"displacement [mm]": np.column_stack([np.pi * x[:, 0], x[:, 1], x[:, 2]])},
        cell_data={
            "density [g/cm^3]": 1.0 + np.exp(-orig / 7.0) / 3.0,
            "region": np.ones(n, dtype=np.int32),
        },
    )
    return pvtu, comm.rank


def test_float32_fields_are_the_float64_fields_to_single_precision(mpi_tmp_path: Path) -> None:
    pvtu64, rank = _series(mpi_tmp_path / "f64", "float64")
    pvtu32, _ = _series(mpi_tmp_path / "f32", "float32")
    piece = f"fields_000000_p{rank}.vtu"
    a64 = read_piece(mpi_tmp_path / "f64" / piece)
    a32 = read_piece(mpi_tmp_path / "f32" / piece)
    assert set(a64) == set(a32)
    for name, (kind, values) in a64.items():
        kind32, values32 = a32[name]
        if kind == "Float64":
            assert kind32 == "Float32", name
            np.testing.assert_allclose(values32, values, rtol=2.0**-23, err_msg=name)
        elif name in ("connectivity", "offsets"):
            assert kind32 == "Int32"
            np.testing.assert_array_equal(values32, values)
        else:
            assert kind32 == kind and np.array_equal(values32, values), name
    if rank == 0:
        decl = {e.get("Name"): e.get("type") for e in ET.parse(pvtu32).iter("PDataArray")}
        assert decl["density [g/cm^3]"] == "Float32" and decl["region"] == "Int32"
        assert decl[None] == "Float32"  # the points
        assert pvtu32.stat().st_size > 0
        assert (pvtu64.parent / piece).stat().st_size > (pvtu32.parent / piece).stat().st_size


@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_a_single_file_holds_the_pieces_of_every_rank(mpi_tmp_path: Path, precision: str) -> None:
    comm = MPI.COMM_WORLD
    _series(mpi_tmp_path / "per_rank", precision)
    vtu, rank = _series(mpi_tmp_path / "single", precision, files="single")
    assert vtu.name == "fields_000000.vtu"
    mine = read_piece(mpi_tmp_path / "per_rank" / f"fields_000000_p{rank}.vtu")
    comm.Barrier()
    pieces = read_single(vtu)
    assert len(pieces) == comm.size
    for name, (kind, values) in mine.items():
        assert pieces[rank][name][0] == kind, name
        np.testing.assert_array_equal(pieces[rank][name][1], values, err_msg=name)
    if rank == 0:
        assert not list((mpi_tmp_path / "single").glob("*.pvtu"))
        assert not list((mpi_tmp_path / "single").glob("*.part"))
        assert 'file="fields_000000.vtu"' in (mpi_tmp_path / "single" / "fields.pvd").read_text()


def test_a_bad_field_precision_is_an_input_error(tmp_path: Path) -> None:
    if MPI.COMM_WORLD.rank == 0:
        text = write_case(tmp_path, "p", duration=14.0).read_text()
        bad = tmp_path / "bad.toml"
        bad.write_text(text.replace("[output]", '[output]\nfield_precision = "float16"', 1))
        with pytest.raises(InputError, match="field_precision"):
            load_case(bad)


@pytest.mark.parametrize("precision", ["float32"])
def test_a_run_writes_exactly_the_named_fields_in_float32(
    mpi_tmp_path: Path, precision: str
) -> None:
    comm = MPI.COMM_WORLD
    case_path = mpi_tmp_path / "subset.toml"
    if comm.rank == 0:
        text = write_case(mpi_tmp_path, "subset", duration=14.0).read_text()
        extra = (
            f'[output]\nfields = ["density", "displacement"]\nfield_precision = "{precision}"'
            '\nfield_files = "single"'
        )
        case_path.write_text(text.replace("[output]", extra, 1))
    comm.Barrier()
    from bonefem.driver import run_case

    folder = run_case(case_path, output=mpi_tmp_path / "run", progress=False)
    if comm.rank == 0:
        files = sorted(folder.glob("fields_*.vtu"))
        assert files and not list(folder.glob("fields_*.pvtu"))
        for vtu in files:
            pieces = read_single(vtu)
            assert len(pieces) == comm.size
            for piece in pieces:
                fields = {k: t for k, (t, _) in piece.items()}
                assert {k: t for k, t in fields.items() if k not in _GEOMETRY} == {
                    "density [g/cm^3]": "Float32",
                    "displacement [mm]": "Float32",
                }
