"""Meshes on 1 and 2 ranks: identical totals, and a bonefem file reloaded on other rank counts.

The 1-rank side is made on ``MPI.COMM_SELF`` inside the ``mpiexec -n 2`` job (tests marked
``mpi_only``, tests/conftest.py), so no process is started for either side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bonefem._dolfinx import MPI
from tests.conftest import rank_0_result

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


def approx_equal(a: dict, b: dict) -> None:
    assert a["cells"] == b["cells"] and a["vertices"] == b["vertices"]
    assert a["volume"] == pytest.approx(b["volume"], rel=1e-12)
    for key in ("regions", "surfaces"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert a[key][name] == pytest.approx(b[key][name], rel=1e-12), name
    assert a["min_quality"] == pytest.approx(b["min_quality"], rel=1e-12)


@pytest.mark.mpi
@pytest.mark.mpi_only
@pytest.mark.parametrize("name", ["vertebra", "femur"])
def test_same_mesh_on_one_and_two_ranks(name: str, bone_mesh) -> None:
    from bonefem.mesh import generate

    every = measures(bone_mesh(name, **PARAMS[name]))  # distributed over the job's ranks
    # the same geometry on one rank: each rank makes its own (the same gmsh mesh)
    approx_equal(measures(generate(name, MPI.COMM_SELF, PARAMS[name])), every)


@pytest.mark.mpi
@pytest.mark.mpi_only
def test_bonefem_file_written_on_two_ranks_reads_on_one(mpi_tmp_path: Path, bone_mesh) -> None:
    from bonefem.mesh import read_mesh, write_mesh

    comm = MPI.COMM_WORLD
    bone = bone_mesh("femur", **PARAMS["femur"])
    path = write_mesh(bone, mpi_tmp_path / "femur.xdmf")
    written = {"centroids": centroids(bone), **measures(bone)}  # centroids on rank 0 only

    def on_one_rank() -> dict:
        one = read_mesh(path, MPI.COMM_SELF)
        return {"centroids": centroids(one), **measures(one)}

    read = rank_0_result(on_one_rank)
    approx_equal(written, read)
    # and back on two ranks: the original cell order is stable on any number of ranks
    again = centroids(read_mesh(path, comm))
    same = None
    if comm.rank == 0:
        ref = np.array(read["centroids"])
        same = [np.array_equal(np.array(written["centroids"]), ref),
                np.array_equal(np.array(again), ref)]  # fmt: skip
    assert comm.bcast(same, root=0) == [True, True]


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
