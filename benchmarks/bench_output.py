"""Size and time of one ParaView field write per cell: float64 vs float32, a piece per
rank vs one file per write (issue 19).

Writes the default output of a coupled run — 10 cell fields (DG0) and the displacement
(P1 vector) — on a femur from the bonefem mesh cache with :class:`ParaViewSeries`, a few
times per precision, and reports the bytes on disk per write (all pieces and the .pvtu)
and the wall time per write (max over ranks), per cell. The values are smooth fields of
the cell midpoints (compression ratios of real fields are similar: a real 1.8M-cell
write was 51 B per cell in float64). Run::

    .venv/bin/python benchmarks/bench_output.py --refine 2
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/bench_output.py --refine 2
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    RESULTS,
    load_mesh,
    machine,
    parse_options,
    rank0_print,
    result_tag,
    write_json,
)
from bonefem._dolfinx import MPI, dolfinx
from bonefem.output.vtk import ParaViewSeries

#: (precision, file layout) of the writes compared
LAYOUTS = (
    ("float64", "per_rank"),
    ("float32", "per_rank"),
    ("float64", "single"),
    ("float32", "single"),
)

#: cell fields of the default output (names as written, without units)
CELL_FIELDS = (
    "bvtv",
    "density",
    "density_change",
    "OBa",
    "OCa",
    "RANKL",
    "region",
    "stimulus",
    "strain_energy_density",
    "youngs_modulus",
)


def fields(bone: Any, series: ParaViewSeries) -> tuple[dict[str, Any], dict[str, Any]]:
    n = series.n_cells
    mid = dolfinx.mesh.compute_midpoints(bone.mesh, 3, np.arange(n, dtype=np.int32))
    cell = {}
    for k, name in enumerate(CELL_FIELDS):
        if name == "region":
            cell[name] = bone.cell_region_index()[:n].astype(np.int32)
            continue
        cell[name] = 1.0 + 0.3 * np.sin(mid[:, 0] / (7.0 + k)) * np.cos(mid[:, 2] / 13.0)
    x = series._points
    point = {"displacement": 1e-3 * np.column_stack([x[:, 2], -x[:, 0], 0.1 * x[:, 1]])}
    return point, cell


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--refine", type=float, default=2.0)
    ap.add_argument("--mesh-param", action="append", default=[])
    ap.add_argument("--writes", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    comm = MPI.COMM_WORLD
    bone = load_mesh("femur", args.refine, parse_options(args.mesh_param))
    tmp = Path(comm.bcast(tempfile.mkdtemp(prefix="bench_output_") if comm.rank == 0 else None))
    out: dict[str, Any] = {
        "benchmark": "output",
        "machine": machine(),
        "command": "bench_output.py " + " ".join(sys.argv[1:]),
        "ranks": comm.size,
        "cells": bone.num_cells_global,
        "precisions": {},
    }
    for precision, files in LAYOUTS:
        folder = tmp / f"{precision}_{files}"
        series = ParaViewSeries(bone, folder, "fields", precision=precision, files=files)
        point, cell = fields(bone, series)
        times = []
        for k in range(args.writes):
            comm.Barrier()
            t0 = time.perf_counter()
            series.write(float(k), point_data=point, cell_data=cell)
            comm.Barrier()
            times.append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
        size = sum(p.stat().st_size for p in folder.glob("fields_000000*")) if comm.rank == 0 else 0
        rec = {
            "bytes_per_write": size,
            "bytes_per_cell": size / bone.num_cells_global,
            "seconds_per_write": float(np.median(times)),
            "us_per_cell": 1e6 * float(np.median(times)) / bone.num_cells_global,
        }
        out["precisions"][f"{precision}_{files}"] = rec
        rank0_print(
            f"{precision} {files}: {size / 1e6:.1f} MB per write "
            f"({rec['bytes_per_cell']:.1f} B/cell), "
            f"{rec['seconds_per_write']:.2f} s ({rec['us_per_cell']:.2f} us/cell)"
        )
    comm.Barrier()
    if comm.rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    tag = result_tag(args.refine, args.mesh_param, comm.size)
    write_json(args.json or RESULTS / f"output_femur_{tag}.json", out)
    return out


if __name__ == "__main__":
    main()
