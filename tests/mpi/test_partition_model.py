"""bench_partition.py's counts against a real 2-rank DOLFINx mesh.

The serial model of ``benchmarks/bench_partition.py`` (cells, owned vertices, ghost vertices
of the vector index map, off-process columns of the matrix) is given the cell partition and
the vertex owners that DOLFINx chose on 2 ranks for a small box; every count must equal
DOLFINx's own (its vertex index map, and the column index map of the P1 vector sparsity
pattern, whose ghosts are what PETSc's matrix-vector product receives). Runs in the
``mpiexec -n 2`` job (marker ``mpi_only``): DOLFINx's side on the job's ranks, the model on
rank 0.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bonefem._dolfinx import MPI, dolfinx
from tests.conftest import ROOT, rank_0_result

N = 6  # box of N x N x 2N cubes, 6 tetrahedra each (2592 cells)


def _box(comm: MPI.Intracomm) -> dolfinx.mesh.Mesh:
    return dolfinx.mesh.create_box(
        comm,
        [np.zeros(3), np.array([1.0, 1.0, 2.0])],
        [N, N, 2 * N],
        dolfinx.mesh.CellType.tetrahedron,
        ghost_mode=dolfinx.mesh.GhostMode.none,
    )


def _vertex_input_index(mesh: dolfinx.mesh.Mesh) -> np.ndarray:
    """The input (global) node index of every local vertex (P1 geometry: node = vertex)."""
    topo = mesh.topology
    nv = topo.index_map(0).size_local + topo.index_map(0).num_ghosts
    c2v = topo.connectivity(3, 0).array.reshape(-1, 4)
    nodes = mesh.geometry.dofmaps[0]
    out = np.empty(nv, dtype=np.int64)
    out[c2v.ravel()] = np.asarray(mesh.geometry.input_global_indices)[nodes.ravel()]
    return out


def dolfinx_side() -> dict:
    """Per rank: original cell indices, owned vertices' input indices, ghost counts."""
    from dolfinx.fem import form, functionspace
    from ufl import TestFunction, TrialFunction, dx, inner

    comm = MPI.COMM_WORLD
    mesh = _box(comm)
    mesh.topology.create_connectivity(3, 0)
    ncells = mesh.topology.index_map(3).size_local
    vmap = mesh.topology.index_map(0)
    V = functionspace(mesh, ("Lagrange", 1, (3,)))
    u, v = TrialFunction(V), TestFunction(V)
    pattern = dolfinx.fem.create_sparsity_pattern(form(inner(u, v) * dx))
    pattern.finalize()
    # owned block rows -> local block columns (owned first, then the off-process ones)
    cols = np.unique(np.asarray(max(pattern.graph, key=len)))
    mine = {
        "cells": np.asarray(mesh.topology.original_cell_index[:ncells]).tolist(),
        "owned_inputs": _vertex_input_index(mesh)[: vmap.size_local].tolist(),
        "vertex_ghosts": int(vmap.num_ghosts),
        "matrix_ghost_columns": int(np.count_nonzero(cols >= pattern.index_map(1).size_local)),
        "dofmap_ghosts": int(V.dofmap.index_map.num_ghosts),
    }
    return {"ranks": comm.gather(mine, root=0)}


@pytest.mark.mpi
@pytest.mark.mpi_only
def test_partition_counts_equal_dolfinx_on_two_ranks() -> None:
    ranks = dolfinx_side()["ranks"]  # gathered on rank 0 (None on the others)
    rank_0_result(lambda: _model_equals_dolfinx(ranks))


def _model_equals_dolfinx(ranks: list[dict]) -> None:
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_partition import partition_stats

    size = len(ranks)
    mesh = _box(MPI.COMM_SELF)
    mesh.topology.create_connectivity(3, 0)
    c2v = mesh.topology.connectivity(3, 0).array.reshape(-1, 4)
    cells = np.empty_like(c2v)
    cells[np.asarray(mesh.topology.original_cell_index)] = c2v  # in original cell order
    part = np.empty(len(cells), dtype=np.int32)
    by_input = {}
    for r, d in enumerate(ranks):
        part[d["cells"]] = r
        by_input.update(dict.fromkeys(d["owned_inputs"], r))
    owner = np.array([by_input[i] for i in _vertex_input_index(mesh)], dtype=np.int32)
    st = partition_stats(cells.astype(np.int64), part, size, owner=owner)
    per = st["per_rank"]
    assert per["cells"] == [len(d["cells"]) for d in ranks]
    assert per["owned_vertices"] == [len(d["owned_inputs"]) for d in ranks]
    assert per["indexmap_ghost_vertices"] == [d["vertex_ghosts"] for d in ranks]
    assert per["indexmap_ghost_vertices"] == [d["dofmap_ghosts"] for d in ranks]
    # the matrix-vector product's ghosts (blocks of 3 dofs) are more than the index map's
    assert per["matvec_ghost_vertices"] == [d["matrix_ghost_columns"] for d in ranks]
    assert sum(per["matvec_ghost_vertices"]) > sum(per["indexmap_ghost_vertices"])
    # and without DOLFINx's owners, the rule-independent total: the interface vertices
    free = partition_stats(cells.astype(np.int64), part, size)
    assert free["indexmap_ghost_vertices_total"] == sum(d["vertex_ghosts"] for d in ranks)
