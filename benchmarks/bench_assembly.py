"""Operator assembly: PETSc AIJ (what GAMG needs) vs blocked BAIJ insertion, the
unit-modulus operator (K = Σ E_c K̂_c, :mod:`bonefem.mechanics.assembly`), and MatMult.

DOLFINx inserts every element matrix into the PETSc matrix; with AIJ every scalar entry
is looked up in its row, with BAIJ (block size 3) one 3×3 block at a time. GAMG only
accepts AIJ ("No method creategraph for Mat of type seqbaij"), so the BAIJ route needs a
conversion: timed as BAIJ assembly + MatConvert to a new AIJ matrix. Wall and CPU time of
each variant, median of ``--repeat`` runs, on one rank; ``csr_assemble`` (DOLFINx's native
CSR matrix, same kernel, no PETSc) separates the element kernel from the insertion.
``unit_*``: the one-off set-up of the unit-modulus operator (element matrices and the
pair map; then one COO preallocation per group) and one re-assembly from E (a sparse
product and ``MatSetValuesCOO``), with its largest difference from the AIJ assembly
(‖ΔA‖_∞/‖A‖_∞) and the memory of its map P. On N ranks: times are max over ranks::

    .venv/bin/python benchmarks/bench_assembly.py --refine 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_mechanics import LOAD_CASES, modulus_fields
from benchmarks.common import RESULTS, load_mesh, machine, rank0_print, write_json
from bonefem._dolfinx import MPI, dolfinx
from bonefem.config.loading import LoadCase
from bonefem.mechanics import ElasticityProblem
from bonefem.mechanics.assembly import (
    _A,
    _B,
    UnitModulusOperator,
    relative_difference,
    unique_inverse,
)


def timed(fn: Any, repeat: int) -> dict[str, float]:
    walls, cpus = [], []
    comm = MPI.COMM_WORLD
    for _ in range(repeat):
        comm.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(comm.allreduce(time.perf_counter() - t0, op=MPI.MAX))
        cpus.append(comm.allreduce(time.process_time() - c0, op=MPI.MAX))
    return {"wall_s": statistics.median(walls), "cpu_s": statistics.median(cpus)}


def unit_modulus(prob: ElasticityProblem, A: Any, bcs: Any, repeat: int) -> dict[str, Any]:
    """Set-up, one re-assembly and the difference from the AIJ matrix ``A`` (assembled)."""
    res: dict[str, Any] = {}
    box: dict[str, Any] = {}
    res["unit_setup"] = timed(
        lambda: box.update(op=UnitModulusOperator(prob.V, prob.nu, prob.E)), 1
    )
    res["unit_group_setup"] = timed(lambda: box.update(g=box["op"].group(bcs)), 1)
    res["unit_assemble"] = timed(box["g"].assemble, repeat)
    res["unit_vs_aij_rel_diff"] = relative_difference(box["g"].A, A)
    # the pair keys of the set-up: numpy's unique against the argsort + prefix sum it uses
    n_cells = prob.V.mesh.topology.index_map(3).size_local
    dofs = prob.V.dofmap.list[:n_cells].astype(np.int64)
    n_nodes = prob.V.dofmap.index_map.size_local + prob.V.dofmap.index_map.num_ghosts
    da, db = dofs[:, _A], dofs[:, _B]
    keys = np.minimum(da, db) * n_nodes + np.maximum(da, db)
    res["pair_keys_np_unique"] = timed(
        lambda: box.update(u=np.unique(keys, return_inverse=True)), 1
    )
    res["pair_keys_unique_inverse"] = timed(lambda: box.update(v=unique_inverse(keys)), 1)
    (p0, i0), (p1, i1) = box["u"], box["v"]
    res["pair_keys_identical"] = bool(np.array_equal(p0, p1) and np.array_equal(i0, i1))
    P = box["op"].P
    res["unit_map_mb"] = MPI.COMM_WORLD.allreduce(
        (P.data.nbytes + P.indices.nbytes + P.indptr.nbytes) / 2**20, op=MPI.SUM
    )
    return res


def baij(A: Any, B: Any, assemble: Any, x: Any, y: Any, repeat: int) -> dict[str, Any]:
    """BAIJ insertion, BAIJ + conversion to AIJ, BAIJ MatMult (one rank)."""
    res: dict[str, Any] = {"baij_assemble": timed(lambda: assemble(B), repeat)}
    conv: dict[str, Any] = {}

    def assemble_convert() -> None:
        assemble(B)
        conv["C"] = B.convert("aij")  # a new AIJ matrix each time (MAT_INITIAL_MATRIX)

    res["baij_assemble_convert"] = timed(assemble_convert, repeat)
    res["baij_matmult"] = timed(lambda: B.mult(x, y), 20 * repeat)
    y2 = A.createVecLeft()
    conv["C"].mult(x, y2)
    A.mult(x, y)
    y2.axpy(-1.0, y)
    res["converted_equals_aij"] = bool(y2.norm() <= 1e-12 * y.norm())
    return res


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--generator", default="femur")
    ap.add_argument("--refine", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    bone = load_mesh(args.generator, args.refine)
    lc = LoadCase(name="habitual", **LOAD_CASES[args.generator])
    prob = ElasticityProblem(bone, [lc], options_prefix="asm_", assembly="dolfinx")
    E0, _, _ = modulus_fields(bone)
    prob.set_modulus(E0)
    a, bcs = prob.a, prob.cases["habitual"].bcs
    res: dict[str, Any] = {"cells": bone.num_cells_global, "dofs": prob.num_dofs_global}

    A = dolfinx.fem.petsc.create_matrix(a)
    B = dolfinx.fem.petsc.create_matrix(a, kind="baij") if MPI.COMM_WORLD.size == 1 else None

    def assemble(M: Any) -> None:
        M.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(M, a, bcs=bcs)
        M.assemble()

    res["aij_assemble"] = timed(lambda: assemble(A), args.repeat)
    res.update(unit_modulus(prob, A, bcs, args.repeat))
    csr = dolfinx.fem.assemble_matrix(a, bcs=bcs)  # DOLFINx's own CSR: kernel + cheap insert

    def assemble_csr() -> None:
        csr.data[:] = 0.0
        dolfinx.fem.assemble_matrix(csr, a, bcs=bcs)

    res["csr_assemble"] = timed(assemble_csr, args.repeat)
    x = A.createVecRight()
    x.set(1.0)
    y = A.createVecLeft()
    res["aij_matmult"] = timed(lambda: A.mult(x, y), 20 * args.repeat)
    if MPI.COMM_WORLD.size == 1:  # the BAIJ variants: one rank only
        res.update(baij(A, B, assemble, x, y, args.repeat))
    for k, v in res.items():
        if isinstance(v, dict):
            rank0_print(f"{k:<22s} wall {v['wall_s']:.4f} s  cpu {v['cpu_s']:.4f} s")
        else:
            rank0_print(f"{k:<22s} {v}")
    out = {"benchmark": "assembly", "machine": machine(), "settings": vars(args), "results": res}
    tag = f"{args.generator}_r{args.refine:g}_np{MPI.COMM_WORLD.size}"
    path = args.json or RESULTS / f"assembly_{tag}.json"
    write_json(path, out)
    return out


if __name__ == "__main__":
    main()
