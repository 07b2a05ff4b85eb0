"""Meshes on 1 and 2 ranks: identical totals, and a bonefem file reloaded on other rank counts.

Run as a module (``python -m tests.mpi.test_mesh_parallel ...``) it prints, as JSON, the
volumes and areas of a generated geometry, or writes/reads a bonefem mesh file; the serial
tests launch it under ``mpiexec -n 2`` and compare with a 1-rank run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from tests.conftest import ROOT, run_mpi

PARAMS = {
    "vertebra": {"mesh_size": 5.0, "cortical_mesh_size": 2.0},
    "femur": {"mesh_size": 10.0, "cortical_mesh_size": 4.0},
}


def measures(bone) -> dict:
    from bonefem.mesh import summarize

    s = summarize(bone)
    return {
        "cells": s.num_cells,
        "vertices": s.num_vertices,
        "volume": s.volume,
        "regions": {k: v["volume"] for k, v in s.regions.items()},
        "surfaces": {k: v["area"] for k, v in s.surfaces.items()},
        "min_quality": s.quality.min_quality,
    }


def centroids(bone) -> list | None:
    m, n = bone.mesh, bone.num_cells_local
    x = m.geometry.x[m.geometry.dofmaps[0][:n]].mean(axis=1)
    parts = bone.comm.gather((np.asarray(m.topology.original_cell_index[:n]), x), root=0)
    if bone.comm.rank != 0:
        return None
    idx = np.concatenate([p[0] for p in parts])
    out = np.empty((idx.size, 3))
    out[idx] = np.concatenate([p[1] for p in parts])
    return out.tolist()


def main(argv: list[str]) -> None:
    from bonefem.mesh import generate, read_mesh, write_mesh

    comm = MPI.COMM_WORLD
    action, arg = argv[0], argv[1]
    if action == "generate":
        bone = generate(arg, comm, PARAMS[arg])
        result = measures(bone)
    elif action == "write":
        bone = generate("femur", comm, PARAMS["femur"])
        write_mesh(bone, arg)
        result = {"centroids": centroids(bone), **measures(bone)}
    else:
        bone = read_mesh(arg, comm)
        result = {"centroids": centroids(bone), **measures(bone)}
    if comm.rank == 0:
        print(json.dumps(result))


def run_here(argv: list[str]) -> dict:
    """Run :func:`main` in this process and return its result."""
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(argv)
    return json.loads(buf.getvalue())


def run_two(argv: list[str]) -> dict:
    return json.loads(run_mpi(2, ["-m", "tests.mpi.test_mesh_parallel", *argv], cwd=ROOT))


def approx_equal(a: dict, b: dict) -> None:
    assert a["cells"] == b["cells"] and a["vertices"] == b["vertices"]
    assert a["volume"] == pytest.approx(b["volume"], rel=1e-12)
    for key in ("regions", "surfaces"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert a[key][name] == pytest.approx(b[key][name], rel=1e-12), name
    assert a["min_quality"] == pytest.approx(b["min_quality"], rel=1e-12)


@pytest.mark.serial
@pytest.mark.parametrize("name", ["vertebra", "femur"])
def test_same_mesh_on_one_and_two_ranks(name: str, bone_mesh) -> None:
    # the 1-rank mesh from the session's cache (serial test: COMM_WORLD is one rank)
    approx_equal(measures(bone_mesh(name, **PARAMS[name])), run_two(["generate", name]))


@pytest.mark.serial
def test_bonefem_file_written_on_two_ranks_reads_on_one(tmp_path: Path) -> None:
    path = str(tmp_path / "femur.xdmf")
    written = run_two(["write", path])
    read = run_here(["read", path])
    approx_equal(written, read)
    assert np.array_equal(np.array(written["centroids"]), np.array(read["centroids"]))
    # and back on two ranks: the original cell order is stable on any number of ranks
    again = run_two(["read", path])
    assert np.array_equal(np.array(again["centroids"]), np.array(read["centroids"]))


@pytest.mark.mpi
def test_file_round_trip_under_mpi(mpi_tmp_path: Path, bone_mesh) -> None:
    """Under ``mpiexec -n 2`` this writes and reads on two ranks; serially on one."""
    from bonefem.mesh import read_mesh, write_mesh

    bone = bone_mesh("vertebra", **PARAMS["vertebra"])
    back = read_mesh(write_mesh(bone, mpi_tmp_path / "v.xdmf"), MPI.COMM_WORLD)
    approx_equal(measures(bone), measures(back))
    a, b = centroids(bone), centroids(back)
    if MPI.COMM_WORLD.rank == 0:
        assert np.array_equal(np.array(a), np.array(b))


if __name__ == "__main__":
    main(sys.argv[1:])
