"""benchmarks/bench_partition.py: counts on a hand-checked mesh, the interface law between the
two committed femur partitions, and the model's bookkeeping (docs/scaling.md)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT))
from benchmarks import bench_partition as bp

RESULTS = ROOT / "benchmarks" / "results"


def test_two_tetrahedra_on_two_ranks() -> None:
    # vertices 0-4; the cells share the face (1, 2, 3)
    cells = np.array([[0, 1, 2, 3], [1, 2, 3, 4]], dtype=np.int64)
    offsets, nbrs = bp.dual_graph(cells)
    assert offsets.tolist() == [0, 1, 2] and nbrs.tolist() == [1, 0]
    part = np.array([0, 1], dtype=np.int32)
    owner = np.array([0, 0, 1, 1, 1], dtype=np.int32)
    st = bp.partition_stats(cells, part, 2, owner=owner)
    per = st["per_rank"]
    assert per["owned_vertices"] == [2, 3]
    # rank 0's cell touches 2, 3 (owned by 1); rank 1's touches 1 (owned by 0)
    assert per["indexmap_ghost_vertices"] == [2, 1]
    # rows 0, 1 (rank 0) couple to 2, 3 and, row 1 through cell 1, to 4; rows 2, 3, 4
    # (rank 1) to 0 (through cell 0) and 1: the matrix needs more than the index map
    assert per["matvec_ghost_vertices"] == [3, 2]
    assert st["neighbour_ranks"]["max"] == 1
    assert st["matvec_bytes_per_rank"]["max"] == 24 * (3 + 2)  # received + sent
    assert st["interface_vertices_total"] == 3


def test_interface_law_between_the_committed_meshes() -> None:
    small = json.loads((RESULTS / "partition_femur_r2_scotch.json").read_text())
    big = json.loads((RESULTS / "partition_femur_r2_uniform_refinements1_scotch.json").read_text())
    law = (big["vertices"] / small["vertices"]) ** (2.0 / 3.0)
    for a, b in zip(small["rows"], big["rows"], strict=True):
        assert a["parts"] == b["parts"]
        ratio = b["matvec_ghost_vertices"]["mean"] / a["matvec_ghost_vertices"]["mean"]
        assert ratio == pytest.approx(law, rel=0.12), a["parts"]
    for p in (64, 256, 1024):  # both meshes extrapolate to the same 20M-dof ghosts
        ea = bp.extrapolate(small["rows"], small["dofs"], [p], [20e6])[0]
        eb = bp.extrapolate(big["rows"], big["dofs"], [p], [20e6])[0]
        assert ea["ghost_vertices_mean"] == pytest.approx(eb["ghost_vertices_mean"], rel=0.1)


def test_model_scales_and_back_predicts() -> None:
    part = {
        "dofs_imbalance": 1.05,
        "cells_imbalance": 1.025,
        "ghost_vertices_max": 5000.0,
        "neighbour_ranks_max": 40,
    }
    t256 = bp.predict(20e6, 256, part, 5.0)
    t512 = bp.predict(20e6, 512, part, 5.0)
    assert 1.7 < t256["total_s"] / t512["total_s"] < 2.0  # near-linear, latency the rest
    assert bp.predict(20e6, 256, part, 10.0)["total_s"] < t256["total_s"]
    assert bp.predict(20e6, 256, part, 5.0, "allatonce")["total_s"] > t256["total_s"]
    back = bp.back_predict()["total_s"]
    assert 100.0 < back < 158.5  # the measured run: 158.5 s, the rest is fixed per-call cost
