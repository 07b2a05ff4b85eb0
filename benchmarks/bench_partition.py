"""Communication volume from the partition: P parts of a femur mesh, computed on ONE process.

For P = 2, 4, ..., 1024 the cell graph of a bundled femur mesh (face neighbours) is cut
into P parts with DOLFINx's serial-capable graph partitioner (``partitioner_scotch``, the
one DOLFINx uses by default when built without ParMETIS; ``--partitioner kahip`` for
KaHIP), exactly as a P-rank run would partition the cells, but without P processes.
Per part it counts what a P-rank run of bonefem would hold and exchange:

* cells and P1 vertices (3 dofs each) per rank -> load imbalance (max / mean);
* ghost vertices of the vector index map (vertices of the rank's cells owned by another
  rank: the DOLFINx scatter of assembly and field updates);
* ghost vertices of the matrix-vector product (columns of PETSc's off-diagonal block:
  vertices joined by a mesh edge to an owned vertex but owned elsewhere; a P1 row couples
  to every vertex of every cell around it, also cells on other ranks) -> bytes per matvec
  (3 float64 per ghost vertex received, and the same number of values sent by the owners);
* neighbouring ranks (the ranks a rank receives from or sends to) -> messages per matvec.

Vertex ownership: a shared vertex is owned by one of the ranks whose cells touch it, chosen
by a seeded random draw (``--owner random``, balancing the owned counts; DOLFINx's own
rule also spreads shared vertices over the sharing ranks) or the lowest rank
(``--owner lowest``). The sum of the index-map ghosts over the ranks does not depend on
the rule; ``tests/mpi/test_partition_model.py`` checks it against a real 2-rank DOLFINx
mesh.

Bigger femurs on the same P ranks follow by geometric similarity (``extrapolate()``): the
bone refined by k in dofs and cut into the same P parts keeps their shapes, so the owned
dofs grow by k and the ghosts by k^(2/3) (checked between the two measured meshes in
docs/scaling.md); the fit of ghosts = c * n^alpha along the P series of one mesh is
reported too (``fit``: alpha is far below 2/3 at these sizes). ``--model`` turns the
partition files into the predictions of docs/scaling.md (``MODEL_CONSTANTS``, ``predict()``).
Results: ``benchmarks/results/partition_femur_*.json`` and ``partition_model_femur.json``::

    .venv/bin/python benchmarks/bench_partition.py --refine 2
    .venv/bin/python benchmarks/bench_partition.py --refine 2 --mesh-param uniform_refinements=1
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, load_mesh, machine, maxrss_bytes, write_json
from bonefem._dolfinx import MPI, dolfinx

IntArray = npt.NDArray[np.int64]

#: Bytes per value exchanged in a matvec (float64) and values per P1 vertex (3-D elasticity).
BYTES_PER_VALUE = 8
BS = 3


def dual_graph(cells: IntArray) -> tuple[IntArray, IntArray]:
    """Face-neighbour graph of tetrahedra as CSR (offsets, neighbours)."""
    n = cells.shape[0]
    faces = np.concatenate([np.delete(cells, k, axis=1) for k in range(4)])
    faces.sort(axis=1)
    owner = np.tile(np.arange(n, dtype=np.int64), 4)
    order = np.lexsort((faces[:, 2], faces[:, 1], faces[:, 0]))
    f = faces[order]
    same = np.all(f[1:] == f[:-1], axis=1)
    a, b = owner[order][:-1][same], owner[order][1:][same]
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    o = np.argsort(src, kind="stable")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.add.at(offsets, src + 1, 1)
    return np.cumsum(offsets), dst[o]


def partition(
    cells: IntArray, nparts: int, method: str = "scotch", seed: int = 0
) -> npt.NDArray[np.int32]:
    """Part of every cell: DOLFINx's graph partitioner run on one process for nparts parts."""
    import dolfinx.graph

    offsets, nbrs = dual_graph(cells)
    graph = dolfinx.graph.adjacencylist(nbrs.astype(np.int64), offsets.astype(np.int32))
    if method == "scotch":
        part_fn = dolfinx.graph.partitioner_scotch(seed=seed)
    elif method == "kahip":
        part_fn = dolfinx.graph.partitioner_kahip()
    else:
        raise ValueError(f"unknown partitioner {method!r}")
    dest = part_fn(MPI.COMM_SELF, nparts, graph._cpp_object, False)
    return np.asarray(dest.array, dtype=np.int32)


def _vertex_ranks(cells: IntArray, part: npt.NDArray[np.int32]) -> IntArray:
    """Unique (vertex, rank) pairs: rank r has a cell at vertex v; sorted by vertex."""
    nparts = int(part.max()) + 1
    keys = cells.astype(np.int64) * nparts + part[:, None]
    uniq = np.unique(keys.ravel())
    return np.stack([uniq // nparts, uniq % nparts], axis=1)


def _edges(cells: IntArray) -> IntArray:
    """Unique undirected vertex edges of the tetrahedra (both directions)."""
    pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    e = np.concatenate([cells[:, [i, j]] for i, j in pairs]).astype(np.int64)
    e.sort(axis=1)
    nv = int(cells.max()) + 1
    u = np.unique(e[:, 0] * nv + e[:, 1])
    a, b = u // nv, u % nv
    return np.stack([np.concatenate([a, b]), np.concatenate([b, a])], axis=1)


def owners(
    vr: IntArray, num_vertices: int, rule: str = "random", seed: int = 0
) -> npt.NDArray[np.int32]:
    """Owner rank of every vertex from its sharing ranks (``vr`` sorted by vertex)."""
    counts = np.bincount(vr[:, 0], minlength=num_vertices)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    if rule == "lowest":
        pick = np.zeros(num_vertices, dtype=np.int64)
    elif rule == "random":
        pick = np.random.default_rng(seed).integers(0, 1 << 30, num_vertices) % counts
    else:
        raise ValueError(f"unknown owner rule {rule!r}")
    return vr[start + pick, 1].astype(np.int32)


def partition_stats(
    cells: IntArray,
    part: npt.NDArray[np.int32],
    nparts: int,
    *,
    owner_rule: str = "random",
    seed: int = 0,
    edges: IntArray | None = None,
    owner: npt.NDArray[np.int32] | None = None,
) -> dict[str, Any]:
    """Per-rank cells, vertices, ghosts, neighbours and bytes per matvec of a partition.

    ``owner`` (the owning rank of every vertex) replaces the ownership rule when given.
    """
    nv = int(cells.max()) + 1
    vr = _vertex_ranks(cells, part)
    own = owners(vr, nv, owner_rule, seed) if owner is None else owner
    cells_per = np.bincount(part, minlength=nparts)
    owned = np.bincount(own, minlength=nparts)
    # index-map ghosts: (vertex, rank) with rank != owner
    ghost_mask = vr[:, 1] != own[vr[:, 0]]
    im_ghost = np.bincount(vr[ghost_mask, 1], minlength=nparts)
    local_vertices = np.bincount(vr[:, 1], minlength=nparts)
    shared = np.bincount(vr[:, 0], minlength=nv) > 1
    # matvec ghosts: columns u of rows v owned by r with owner(u) != r
    if edges is None:
        edges = _edges(cells)
    r_row = own[edges[:, 0]]
    r_col = own[edges[:, 1]]
    off = r_row != r_col
    need = np.unique(edges[off, 1] * nparts + r_row[off])  # (ghost vertex, needing rank)
    g_vert, g_rank = need // nparts, need % nparts
    mv_recv = np.bincount(g_rank, minlength=nparts)
    g_owner = own[g_vert]
    mv_send = np.bincount(g_owner, minlength=nparts)
    pairs = np.unique(np.concatenate([g_rank * nparts + g_owner, g_owner * nparts + g_rank]))
    nbr = np.bincount(pairs // nparts, minlength=nparts)
    bytes_per = BS * BYTES_PER_VALUE * (mv_recv + mv_send)

    def mm(a: npt.NDArray[Any]) -> dict[str, float]:
        a = np.asarray(a, dtype=float)
        return {"max": float(a.max()), "mean": float(a.mean()), "min": float(a.min())}

    return {
        "parts": nparts,
        "per_rank": {
            "cells": cells_per.tolist(),
            "owned_vertices": owned.tolist(),
            "indexmap_ghost_vertices": im_ghost.tolist(),
            "matvec_ghost_vertices": mv_recv.tolist(),
        }
        if nparts <= 8
        else {},
        "cells": mm(cells_per),
        "cells_imbalance": float(cells_per.max() / cells_per.mean()),
        "owned_vertices": mm(owned),
        "owned_dofs": mm(BS * owned),
        "dofs_imbalance": float(owned.max() / owned.mean()),
        "local_vertices": mm(local_vertices),
        "interface_vertices_total": int(shared.sum()),
        "indexmap_ghost_vertices": mm(im_ghost),
        "indexmap_ghost_vertices_total": int(im_ghost.sum()),
        "matvec_ghost_vertices": mm(mv_recv),
        "matvec_ghost_vertices_total": int(mv_recv.sum()),
        "matvec_ghost_over_owned": mm(mv_recv / np.maximum(owned, 1)),
        "matvec_bytes_per_rank": mm(bytes_per),
        "matvec_bytes_total": int(BS * BYTES_PER_VALUE * mv_recv.sum()),
        "neighbour_ranks": mm(nbr),
    }


def fit_power(n: npt.NDArray[Any], g: npt.NDArray[Any]) -> dict[str, float]:
    """Least-squares fit g = c * n^alpha in log-log, and c for alpha fixed at 2/3."""
    ln, lg = np.log(n), np.log(g)
    alpha, logc = np.polyfit(ln, lg, 1)
    c23 = float(np.exp(np.mean(lg - 2.0 / 3.0 * ln)))
    resid = lg - (2.0 / 3.0 * ln + np.log(c23))
    return {
        "alpha": float(alpha),
        "c": float(np.exp(logc)),
        "c_at_alpha_2_3": c23,
        "max_rel_error_alpha_2_3": float(np.max(np.abs(np.expm1(resid)))),
    }


def extrapolate(
    rows: list[dict[str, Any]], mesh_dofs: int, ranks: list[int], dofs: list[float]
) -> list[dict[str, float]]:
    """Bigger femurs on P ranks by geometric similarity with the measured P-part partition.

    The same bone cut into the same P parts, refined by k = N / N_mesh in dofs: the parts
    keep their shapes, their volumes (owned dofs) grow by k and their interfaces (ghost
    vertices) by k^(2/3); the neighbour counts stay.
    """
    by_p = {int(r["parts"]): r for r in rows}
    out = []
    for n_dofs in dofs:
        k = n_dofs / mesh_dofs
        for p in ranks:
            if p not in by_p:
                continue
            r = by_p[p]
            g_mean = r["matvec_ghost_vertices"]["mean"] * k ** (2.0 / 3.0)
            g_max = r["matvec_ghost_vertices"]["max"] * k ** (2.0 / 3.0)
            out.append(
                {
                    "dofs": n_dofs,
                    "ranks": p,
                    "refinement_factor_dofs": k,
                    "dofs_per_rank": n_dofs / p,
                    "ghost_vertices_mean": g_mean,
                    "ghost_vertices_max": g_max,
                    "ghost_over_owned_mean": g_mean / (n_dofs / BS / p),
                    "matvec_bytes_per_rank_max": 2 * BS * BYTES_PER_VALUE * g_max,
                    "neighbour_ranks_max": r["neighbour_ranks"]["max"],
                }
            )
    return out


# --------------------------------------------------------------------------------------
# The performance model of docs/scaling.md: the 10-year menopause femur on P ranks.
# Every constant: (value, source). Per-unit costs are this VM's (1-2 ranks, 27.4 GB/s of
# triad bandwidth per busy core); bandwidth-bound terms are scaled by B_REF / B_core.
# --------------------------------------------------------------------------------------

MODEL_CONSTANTS: dict[str, tuple[float, str]] = {
    # case counts of the 10-year menopause femur (cases/menopause_femur.toml)
    "steps": (280, "manifest of the 10-year femur run, 27k dofs, 1 rank (validation run)"),
    "habitual_solves": (12, "same manifest: mechanics_solves"),
    "its_per_habitual_solve": (18, "same manifest: 217 ksp_iterations / 12 solves"),
    "test_rows": (41, "quarterly metrics rows over 10 years incl. t = 0 (metrics.csv)"),
    "its_per_test_row": (23, "stiffness test 6 + sideways fall 17 (performance.md, Issue 15)"),
    "gamg_setups": (5, "3 first set-ups (habitual, 2 tests) + 2 refreshes (manifest pc_setup)"),
    "substeps": (500, "280 steps + 12 re-solves x ~18 substeps (performance.md, Issue 15)"),
    "field_writes": (3, "docker/slurm/femur20M.toml: every 5 years incl. t = 0"),
    "checkpoints": (20, "docker/slurm/femur20M.toml: every half year"),
    # per-unit costs measured here (s), at B_REF per core
    "b_ref_gb_s": (27.4, "streams_np2.json: 54.7 GB/s triad over 2 busy cores"),
    "cg_it_per_dof": (0.46e-6, "mechanics_femur_r4.5_np2.json: 8.14 s / 35 its / 502k dofs"),
    "gamg_setup_per_dof": (32e-6, "mechanics_femur_r4.5_np2.json: PC set-up 15.98 s / 502k"),
    "gamg_setup_per_dof_allatonce": (
        405e-6,
        "mechanics_femur_r2_uniform_refinements1_cold_np2_allatonce.json: 187 s / 461k dofs",
    ),
    "assembly_per_dof": (0.50e-6, "assembly_femur_r2_np1.json: 0.063 s / 127k dofs"),
    "rhs_per_dof": (0.16e-6, "performance.md split of an update: 0.02 s / 127k dofs"),
    "test_post_per_dof_row": (
        14.5e-6,
        "10-year manifest: virtual_tests assemble+rhs+guess+postprocess 12.2 s / 41 / 27k",
    ),
    "stimulus_per_cell": (1.2e-6, "SED 0.19 us (performance.md) + filter 1.0 us (manifest)"),
    "biology_per_cell_step": (6.1e-6, "10-year manifest: biology 70.5 s / 280 / 41090 cells"),
    "density_per_cell_step": (0.22e-6, "10-year manifest: density 2.55 s / 280 / 41090"),
    "metrics_per_cell_row": (1.2e-6, "10-year manifest: metrics minus tests 2.0 s / 41 / 41k"),
    "field_write_per_cell": (2.0e-6, "performance.md field output: 3.7 us float32 single x 6/11"),
    "field_bytes_per_cell": (23.0, "performance.md: 41.7 B/cell float32 single x 6/11 arrays"),
    "checkpoint_per_cell": (0.94e-6, "coupled_production_r4.5_1y_np2.json: 1.7 s / 2 / 906k"),
    "checkpoint_bytes_per_cell": (88.0, "performance.md: checkpoint 88 B per cell"),
    "refine_per_cell": (24e-6, "mesh_femur_refine1.25_uniform_refinements2_np2.json"),
    "gmsh_coarse_s": (15.0, "same: gmsh 9-18 s for the 67k-cell coarse femur, rank 0"),
    "operator_setup_per_cell": (12.5e-6, "assembly_femur_r2_np1.json: 2.1 + 0.48 s / 207k"),
    "cells_per_dof": (1.8, "performance.md: femur 1.8 cells per dof"),
    # fixed costs per call (Python, PETSc object set-up; CPU-bound, not scaled by beta): the
    # 10-year 27k-dof run minus this model's per-dof terms for it (back_predict())
    "fixed_per_habitual_solve_s": (0.68, "manifest mechanics 11.7 s vs 3.5 s per-dof, / 12"),
    "fixed_per_test_row_s": (0.40, "manifest virtual_tests 44.2 s vs 27.8 s per-dof, / 41"),
    "fixed_per_gamg_setup_s": (0.76, "manifest pc_setup 8.1 s vs 4.3 s per-dof, / 5"),
    "fixed_per_field_write_s": (1.36, "manifest output 18.1 s vs 3.1 s per-cell, / 11 writes"),
    # cluster assumptions
    "latency_s": (1.5e-6, "assumed: InfiniBand/Slingshot point-to-point latency 1-2 us"),
    "per_message_s": (0.5e-6, "assumed: overhead of each further neighbour message"),
    "net_bytes_per_s_per_rank": (0.4e9, "assumed: 25 GB/s node link / 64 ranks, all off-node"),
    "fs_bytes_per_s": (2e9, "assumed: parallel file system share of one job, 2 GB/s"),
    "gamg_levels": (5, "assumed: 20M dofs / ~20 per level to < 1000 (PCGAMG)"),
    "exchanges_per_level": (6, "Chebyshev(2) pre + post, residual, CG matvec"),
    "coarse_halo_factor": (1.5, "assumed: coarse levels add half the fine halo bytes"),
    "setup_collectives": (300, "assumed: collectives of one GAMG set-up"),
}


def _c(name: str) -> float:
    return float(MODEL_CONSTANTS[name][0])


def allreduce_s(p: int) -> float:
    """Latency of one small MPI_Allreduce on p ranks (recursive doubling)."""
    return 2.0 * _c("latency_s") * math.log2(max(p, 2))


def predict(
    dofs: float,
    p: int,
    part: dict[str, float],
    b_core_gb_s: float,
    galerkin_product: str = "scalable",
    *,
    fixed: float = 1.0,
) -> dict[str, Any]:
    """Wall time per phase (s) of the 10-year femur on p ranks; ``part`` from extrapolate().

    ``fixed = 0`` leaves out the fixed costs per call (as back_predict() needs).
    """
    beta = _c("b_ref_gb_s") / b_core_gb_s
    cells = _c("cells_per_dof") * dofs
    imb_d, imb_c = part["dofs_imbalance"], part["cells_imbalance"]
    n, c = dofs / p * imb_d, cells / p * imb_c  # the largest rank's share
    ar = allreduce_s(p)
    halo = 2 * BS * BYTES_PER_VALUE * part["ghost_vertices_max"]  # both directions, bytes
    exch = _c("latency_s") + part["neighbour_ranks_max"] * _c("per_message_s")
    levels, per_level = _c("gamg_levels"), _c("exchanges_per_level")
    t_it_work = _c("cg_it_per_dof") * n * beta
    t_it_comm = (
        4 * ar  # 2 CG dot products + coarse-grid gather/scatter
        + levels * per_level * exch
        + per_level * _c("coarse_halo_factor") * halo / _c("net_bytes_per_s_per_rank")
    )
    t_it = t_it_work + t_it_comm
    setup_key = "gamg_setup_per_dof" + ("_allatonce" if galerkin_product == "allatonce" else "")
    phases = {
        "habitual re-solves": _c("habitual_solves")
        * (
            fixed * _c("fixed_per_habitual_solve_s")
            + _c("its_per_habitual_solve") * t_it
            + (_c("assembly_per_dof") + _c("rhs_per_dof")) * n * beta
            + _c("stimulus_per_cell") * c * beta
        ),
        "virtual tests": _c("test_rows")
        * (
            fixed * _c("fixed_per_test_row_s")
            + _c("its_per_test_row") * t_it
            + _c("test_post_per_dof_row") * n * beta
        ),
        "GAMG set-ups": _c("gamg_setups")
        * (
            fixed * _c("fixed_per_gamg_setup_s")
            + _c(setup_key) * n * beta
            + _c("setup_collectives") * ar
        ),
        "cell model": _c("steps") * _c("biology_per_cell_step") * c * beta + _c("substeps") * ar,
        "density update": _c("steps") * _c("density_per_cell_step") * c * beta,
        "metrics reductions": _c("test_rows") * (_c("metrics_per_cell_row") * c * beta + 3 * ar),
        "field writes": _c("field_writes")
        * (
            fixed * _c("fixed_per_field_write_s")
            + _c("field_write_per_cell") * c
            + _c("field_bytes_per_cell") * cells / _c("fs_bytes_per_s")
        ),
        "checkpoints": _c("checkpoints")
        * (
            _c("checkpoint_per_cell") * c
            + _c("checkpoint_bytes_per_cell") * cells / _c("fs_bytes_per_s")
        ),
        "mesh + set-up": _c("gmsh_coarse_s")
        + (_c("refine_per_cell") * 1.14 + _c("operator_setup_per_cell")) * c * beta
        + 2 * 45.0 * cells / _c("fs_bytes_per_s"),  # mesh.xdmf written and read back
    }
    total = sum(phases.values())
    return {
        "dofs": dofs,
        "ranks": p,
        "b_core_gb_s": b_core_gb_s,
        "galerkin_product": galerkin_product,
        "dofs_per_rank": dofs / p,
        "cg_iteration_s": t_it,
        "cg_iteration_comm_share": t_it_comm / t_it,
        "phases_s": phases,
        "total_s": total,
        "memory_per_rank_planning_gb": 15e3 * dofs / p / 1e9,
    }


def back_predict() -> dict[str, Any]:
    """The model (without its fixed per-call costs) for the measured 10-year femur run.

    27k dofs, 41 090 cells, 1 rank, this VM (beta = 1), 11 field writes of all 11 arrays
    (float64 per rank: 6.9 us per cell), 10 checkpoints: what the per-dof and per-cell
    constants alone predict for the run they partly come from (158.5 s measured).
    """
    saved = dict(MODEL_CONSTANTS)
    try:
        MODEL_CONSTANTS["cells_per_dof"] = (41090 / 26988, "")
        MODEL_CONSTANTS["field_writes"] = (11, "")
        MODEL_CONSTANTS["checkpoints"] = (10, "")
        MODEL_CONSTANTS["field_write_per_cell"] = (6.9e-6, "")
        part = {
            "dofs_imbalance": 1.0,
            "cells_imbalance": 1.0,
            "ghost_vertices_max": 0.0,
            "neighbour_ranks_max": 0,
        }
        return predict(26988, 1, part, _c("b_ref_gb_s"), fixed=0.0)
    finally:
        MODEL_CONSTANTS.clear()
        MODEL_CONSTANTS.update(saved)


def memory_check_estimate(dofs: float, cells: float, p: int, galerkin_product: str) -> float:
    """Bytes per rank of ``bonefem check``'s estimate (3 operators, 3 load cases: the femur)."""
    from bonefem.coupling.memory import estimate_memory

    est = estimate_memory(
        dofs, cells, p, operators=3, load_cases=3, galerkin_product=galerkin_product
    )
    return est.per_rank


def model_main(files: list[Path], out_path: Path) -> dict[str, Any]:
    """Predictions for 20M and 100M dofs on 64-1024 ranks from the finest partition per P."""
    runs = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    ranks = [64, 128, 256, 512, 1024]
    rows = []
    for dofs in (20e6, 100e6):
        for p in ranks:
            have = [r for r in runs if any(int(x["parts"]) == p for x in r["rows"])]
            src = max(have, key=lambda r: r["cells"])
            part: dict[str, Any] = dict(extrapolate(src["rows"], src["dofs"], [p], [dofs])[0])
            # imbalance at this many dofs per rank: the measured row nearest in dofs per rank
            near = min(
                (x for r in runs for x in r["rows"]),
                key=lambda x: abs(math.log(x["owned_dofs"]["mean"] / (dofs / p))),
            )
            part["dofs_imbalance"] = near["dofs_imbalance"]
            part["cells_imbalance"] = near["cells_imbalance"]
            part["source"] = (
                f"ghosts: {p} parts of the {src['cells']}-cell femur scaled by k^(2/3);"
                f" imbalance: the row of {near['parts']} parts nearest in dofs per rank"
            )
            for b in (5.0, 10.0):
                for gp in ("scalable", "allatonce"):
                    pr = predict(dofs, p, part, b, gp)
                    cells = _c("cells_per_dof") * dofs
                    pr["memory_per_rank_check_gb"] = memory_check_estimate(dofs, cells, p, gp) / 1e9
                    pr["partition"] = part
                    rows.append(pr)
    back = back_predict()
    print("back-prediction of the 27k-dof run without fixed costs:", round(back["total_s"]), "s")
    out = {
        "benchmark": "partition_model",
        "back_prediction_27k_dofs_1_rank_without_fixed_costs": back,
        "command": "python benchmarks/bench_partition.py --model " + " ".join(map(str, files)),
        "machine": machine(),
        "constants": {k: {"value": v, "source": s} for k, (v, s) in MODEL_CONSTANTS.items()},
        "predictions": rows,
    }
    for pr in rows:
        if pr["galerkin_product"] == "scalable":
            ph = pr["phases_s"]
            print(
                f"{pr['dofs'] / 1e6:4.0f}M P={pr['ranks']:5d} B={pr['b_core_gb_s']:4.1f}:"
                f" total {pr['total_s'] / 60:6.1f} min, it {pr['cg_iteration_s'] * 1e3:6.1f} ms"
                f" (comm {pr['cg_iteration_comm_share']:.0%}),"
                + ", ".join(f" {k} {v:.0f}" for k, v in ph.items())
                + f"; mem {pr['memory_per_rank_check_gb']:.2f} GB"
            )
    write_json(out_path, out)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--generator", default="femur")
    ap.add_argument("--refine", type=float, default=2.0)
    ap.add_argument("--mesh-param", action="append", default=[], help="key=value (generator)")
    ap.add_argument("--parts", default="2,4,8,16,32,64,128,256,512,1024")
    ap.add_argument("--partitioner", choices=["scotch", "kahip"], default="scotch")
    ap.add_argument("--owner", choices=["random", "lowest"], default="random")
    ap.add_argument("--json", default=None)
    ap.add_argument(
        "--merge", action="store_true", help="keep the other parts of an existing results file"
    )
    ap.add_argument(
        "--model",
        nargs="+",
        type=Path,
        default=None,
        help="partition_*.json files: predict the 10-year femur on 64-1024 ranks (scaling.md)",
    )
    args = ap.parse_args(argv)
    if args.model:
        return model_main(args.model, Path(args.json or RESULTS / "partition_model_femur.json"))
    if MPI.COMM_WORLD.size != 1:
        raise SystemExit("bench_partition.py runs on one process (it models P ranks itself)")
    params: dict[str, Any] = {}
    for item in args.mesh_param:
        key, _, value = item.partition("=")
        params[key] = int(value) if value.isdigit() else float(value)
    t0 = time.perf_counter()
    bone = load_mesh(args.generator, args.refine, params)
    mesh = bone.mesh
    cells = np.asarray(mesh.topology.connectivity(3, 0).array, dtype=np.int64).reshape(-1, 4)
    t_mesh = time.perf_counter() - t0
    nv = int(cells.max()) + 1
    print(f"{args.generator} refine {args.refine} {params}: {len(cells)} cells, {nv} vertices")
    edges = _edges(cells)
    rows = []
    for p in [int(s) for s in args.parts.split(",")]:
        t = time.perf_counter()
        part = partition(cells, p, args.partitioner)
        t_part = time.perf_counter() - t
        st = partition_stats(cells, part, p, owner_rule=args.owner, edges=edges)
        st["partition_s"] = t_part
        st["stats_s"] = time.perf_counter() - t - t_part
        rows.append(st)
        print(
            f"P={p:5d} cells/rank max {st['cells']['max']:.0f} mean {st['cells']['mean']:.0f}"
            f" dofs imb {st['dofs_imbalance']:.3f} matvec ghosts max"
            f" {st['matvec_ghost_vertices']['max']:.0f}"
            f" mean {st['matvec_ghost_vertices']['mean']:.0f}"
            f" ghost/owned {st['matvec_ghost_over_owned']['mean']:.3f}"
            f" nbrs max {st['neighbour_ranks']['max']:.0f}"
            f" KB/matvec max {st['matvec_bytes_per_rank']['max'] / 1e3:.1f}"
            f" ({t_part:.1f} s)",
            flush=True,
        )
    suffix = "".join(f"_{k}{v}" for k, v in params.items())
    name = f"partition_{args.generator}_r{args.refine:g}{suffix}_{args.partitioner}.json"
    path = Path(args.json) if args.json else RESULTS / name
    commands = []
    if args.merge and path.exists():  # parts computed by an earlier invocation (same mesh)
        old = json.loads(path.read_text(encoding="utf-8"))
        if old["cells"] == len(cells) and old["owner_rule"] == args.owner:
            new_p = {r["parts"] for r in rows}
            rows = [r for r in old["rows"] if r["parts"] not in new_p] + rows
            commands = old.get("commands", [old.get("command")])
    rows.sort(key=lambda r: int(r["parts"]))
    n = np.array([r["owned_vertices"]["mean"] for r in rows])
    g = np.array([r["matvec_ghost_vertices"]["mean"] for r in rows])
    # the n^(2/3) law holds for compact parts: small against the bone (P >= 8), large
    # against a cell layer (>= 1000 owned vertices)
    keep = (n >= 1000) & (np.array([r["parts"] for r in rows]) >= 8)
    fit: dict[str, Any] = fit_power(n[keep], g[keep]) if keep.sum() >= 2 else {}
    fit["points_used"] = [int(r["parts"]) for r, k in zip(rows, keep, strict=True) if k]
    if "alpha" in fit:
        print(
            f"fit ghosts = c n^alpha over P={fit['points_used']}: alpha {fit['alpha']:.3f},"
            f" c {fit['c']:.2f}; alpha 2/3: c {fit['c_at_alpha_2_3']:.2f}"
            f" (max error {fit['max_rel_error_alpha_2_3']:.1%})"
        )
    ranks = [64, 128, 256, 512, 1024]
    extra = extrapolate(rows, BS * nv, ranks, [20e6, 100e6])
    for e in extra:
        print(
            f"{e['dofs'] / 1e6:.0f}M dofs on {e['ranks']}: {e['dofs_per_rank']:.0f} dofs/rank,"
            f" ghosts mean {e['ghost_vertices_mean']:.0f} ({e['ghost_over_owned_mean']:.1%}),"
            f" max {e['ghost_vertices_max']:.0f},"
            f" {e['matvec_bytes_per_rank_max'] / 1e3:.0f} KB/matvec"
        )
    cmd = "python benchmarks/bench_partition.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    out: dict[str, Any] = {
        "benchmark": "partition",
        "command": cmd.strip(),
        "commands": [c for c in commands if c] + [cmd.strip()],
        "machine": machine(),
        "generator": args.generator,
        "refine": args.refine,
        "mesh_parameters": params,
        "cells": len(cells),
        "vertices": nv,
        "dofs": BS * nv,
        "partitioner": args.partitioner,
        "owner_rule": args.owner,
        "mesh_s": t_mesh,
        "peak_rss_mb": maxrss_bytes() / 2**20,
        "dolfinx": dolfinx.__version__,
        "notes": (
            "computed on one process: DOLFINx's graph partitioner cuts the face-neighbour "
            "cell graph into P parts; bytes per matvec = 3 float64 per matvec ghost vertex "
            "received plus the same per vertex sent; ghosts per rank fitted as c*n^alpha over "
            "the parts with >= 200 owned vertices and P >= 8, extrapolated with alpha = 2/3"
        ),
        "rows": rows,
        "fit": fit,
        "extrapolation": extra,
    }
    write_json(path, out)
    return out


if __name__ == "__main__":
    main()
