"""Micro-FE: a voxel core of ≥ 1M dofs, ``bonefem test`` vs a plain solve vs tetrahedra.

In one process, side by side (issue 14, "Must show"):

1. ``plain``: a plain assembled CG + GAMG solve of the voxel model written directly with
   DOLFINx/PETSc (Q1 space, the elasticity form, Dirichlet data, ``assemble_matrix``,
   lifting, rigid-body near-nullspace, the same KSP options and tolerance as bonefem) --
   the cost floor of one virtual test; ``plain_q2`` the same with the form's quadrature
   degree set to 2 (exact on boxes; UFL's estimate is higher);
2. ``test``: the same test through :func:`bonefem.mechtest.run_tests` (set-up of the
   problem, one assembly, one solve, reactions on every surface, apparent modulus);
3. ``tet``: the same plain cold solve on a tetrahedral box mesh (P1, ``create_box``) with
   about the same number of dofs and the same compression.

Test: the core (``random_core``: smoothed noise thresholded at BV/TV, largest
face-connected component as in ``bonefem test``; 20 µm voxels) clamped at zmin,
displaced by 0.1 % of its height at zmax, E = 18 GPa, ν = 0.3. Phase times in CPU
seconds of each rank (``time.process_time``, max over ranks:
the machine is shared, see docs/performance.md) with the wall time beside; peak RSS per
rank (``ru_maxrss``) after the voxel phase and at the end. ``--order`` alternates the
variants so that neither always runs first; a warm-up on a tiny core compiles the forms::

    mpiexec -n 2 .venv/bin/python benchmarks/bench_microfe.py --n 96 --bvtv 0.25
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import ufl

from benchmarks.common import RESULTS, machine, maxrss_bytes, rank0_print, write_json
from bonefem._dolfinx import MPI, PETSc, dolfinx, fem
from bonefem.config.mechtest import parse_test_file
from bonefem.imaging.phantoms import random_core
from bonefem.imaging.segment import face_connected
from bonefem.imaging.voxelmesh import voxel_mesh
from bonefem.mechanics.forms import strain, stress
from bonefem.mechanics.solver import DEFAULT_PETSC_OPTIONS, rigid_body_modes
from bonefem.mechtest import run_tests

E_TISSUE, NU, RTOL, STRAIN = 18000.0, 0.3, 1e-8, 0.001


def cmax(v: float) -> float:
    return float(MPI.COMM_WORLD.allreduce(float(v), op=MPI.MAX))


class Clock:
    """CPU and wall seconds of consecutive phases (max over ranks)."""

    def __init__(self) -> None:
        self.out: dict[str, float] = {}
        self.c, self.w = time.process_time(), time.perf_counter()

    def lap(self, key: str) -> None:
        c, w = time.process_time(), time.perf_counter()
        self.out[key] = cmax(c - self.c)
        self.out[key + "_wall"] = cmax(w - self.w)
        self.c, self.w = c, w


def plain_solve(
    mesh: Any, bottom: Any, top: Any, height: float, degree: int | None = None
) -> dict[str, Any]:
    """A plain DOLFINx/PETSc compression test: clamp ``bottom``, move ``top`` by -δ in z.

    ``degree``: quadrature degree of the form (None: UFL's estimate, what a plain script
    gets; 2: exact on boxes, the cheapest exact DOLFINx kernel for voxels).
    """
    comm = mesh.comm
    comm.Barrier()
    clk = Clock()
    V = fem.functionspace(mesh, ("Lagrange", 1, (3,)))
    Q = fem.functionspace(mesh, ("DG", 0))
    E, nu = fem.Function(Q), fem.Function(Q)
    E.x.array[:] = E_TISSUE
    nu.x.array[:] = NU
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dx = ufl.dx if degree is None else ufl.dx(metadata={"quadrature_degree": degree})
    a = fem.form(ufl.inner(stress(u, E, nu), strain(v)) * dx)
    L = fem.form(ufl.inner(fem.Constant(mesh, np.zeros(3)), v) * ufl.dx)
    fdim = mesh.topology.dim - 1
    zero = fem.Constant(mesh, np.zeros(3))
    moved = fem.Constant(mesh, np.array([0.0, 0.0, -STRAIN * height]))
    bcs = [fem.dirichletbc(zero, fem.locate_dofs_topological(V, fdim, bottom), V),
           fem.dirichletbc(moved, fem.locate_dofs_topological(V, fdim, top), V)]  # fmt: skip
    ns = rigid_body_modes(V)
    clk.lap("setup")
    A = dolfinx.fem.petsc.assemble_matrix(a, bcs=bcs)
    A.assemble()
    A.setNearNullSpace(ns)
    clk.lap("assemble")
    b = dolfinx.fem.petsc.assemble_vector(L)
    dolfinx.fem.petsc.apply_lifting(b, [a], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    dolfinx.fem.petsc.set_bc(b, bcs)
    bnorm = b.norm()
    clk.lap("rhs")
    ksp = PETSc.KSP().create(comm)
    opts = PETSc.Options()
    for key, value in DEFAULT_PETSC_OPTIONS.items():
        opts[f"plain_{key}"] = value
    ksp.setOptionsPrefix("plain_")
    ksp.setFromOptions()
    ksp.setOperators(A)
    ksp.setTolerances(rtol=RTOL, atol=RTOL * bnorm)
    uh = fem.Function(V)
    ksp.setUp()
    clk.lap("pc_setup")
    ksp.solve(b, uh.x.petsc_vec)
    clk.lap("solve")
    out = dict(clk.out)
    out["iterations"] = ksp.getIterationNumber()
    out["reason"] = ksp.getConvergedReason()
    out["dofs"] = V.dofmap.index_map.size_global * 3
    out["total"] = sum(out[k] for k in ("setup", "assemble", "rhs", "pc_setup", "solve"))
    out["total_wall"] = sum(out[k + "_wall"] for k in ("setup", "assemble", "rhs", "pc_setup",
                                                        "solve"))  # fmt: skip
    for key in list(opts.getAll()):
        if key.startswith("plain_"):
            del opts[key]
    ksp.destroy()
    A.destroy()
    b.destroy()
    return out


def test_spec(height: float) -> Any:
    return parse_test_file({
        "mesh": {"file": "unused"},
        "material": {"modulus": {"constant_MPa": E_TISSUE, "poisson_ratio": NU}},
        "tests": [{"name": "compression_z", "supports": [
            {"type": "fixed", "surface": "zmin"},
            {"type": "displacement", "surface": "zmax", "value": [0.0, 0.0, -STRAIN * height]},
        ]}],
        "solver_rtol": RTOL,
    })  # fmt: skip


def bonefem_test(bone: Any, box: Any) -> dict[str, Any]:
    bone.comm.Barrier()
    c0, w0 = time.process_time(), time.perf_counter()
    results, info = run_tests(test_spec(float(box[2])), bone, box=box, clock=time.process_time)
    r = results[0]
    return {
        "total": cmax(time.process_time() - c0),
        "total_wall": cmax(time.perf_counter() - w0),
        "setup": info["setup_seconds"],
        "assemble": r.assemble_seconds,
        "rhs": r.rhs_seconds,
        "pc_setup": r.pc_setup_seconds,
        "solve": r.solve_seconds,
        "reactions": r.reaction_seconds,
        "iterations": r.iterations,
        "apparent_modulus_MPa": r.apparent_modulus_MPa,
        "dofs": info["dofs"],
    }


def core(n: int, bvtv: float) -> tuple[Any, Any]:
    img, mask = random_core(shape=(n, n, n), bvtv=bvtv, smoothing=2.0, spacing=0.02)
    face, _ = face_connected(mask)  # as bonefem test does: no edge/corner hinges
    bone, _ = voxel_mesh(MPI.COMM_WORLD, img, face)
    return bone, np.asarray(img.shape[::-1], float) * 0.02


def voxel_phase(args: argparse.Namespace, res: dict[str, Any]) -> int:
    clk = Clock()
    bone, box = core(args.n, args.bvtv)
    clk.lap("mesh")
    res["mesh_seconds"] = clk.out["mesh"]
    res["cells"] = bone.num_cells_global
    bot, top = bone.surface_facets("zmin"), bone.surface_facets("zmax")
    for k in range(args.repeat):
        order = ("plain", "plain_q2", "test")
        for name in order if k % 2 == 0 else order[::-1]:
            if name == "test":
                r = bonefem_test(bone, box)
            else:
                degree = 2 if name == "plain_q2" else None
                r = plain_solve(bone.mesh, bot, top, float(box[2]), degree)
            res.setdefault(name, []).append(r)
            rank0_print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()})
    res["peak_rss_per_rank_mb_after_voxel"] = MPI.COMM_WORLD.allgather(maxrss_bytes() / 2**20)
    return int(res["plain"][0]["dofs"])


def tet_phase(dofs: int, res: dict[str, Any]) -> None:
    m = round((dofs / 3) ** (1 / 3)) - 1
    mesh = dolfinx.mesh.create_box(MPI.COMM_WORLD, [[0, 0, 0], [1.92, 1.92, 1.92]], [m, m, m],
                                   dolfinx.mesh.CellType.tetrahedron)  # fmt: skip
    fdim = mesh.topology.dim - 1
    bot = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.isclose(x[2], 0.0))
    top = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.isclose(x[2], 1.92))
    r = plain_solve(mesh, bot, top, 1.92)
    res["tet"] = r
    rank0_print("tet", {k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=96, help="voxels per edge of the core")
    p.add_argument("--bvtv", type=float, default=0.25)
    p.add_argument("--repeat", type=int, default=2, help="rounds of (plain, test)")
    p.add_argument("--no-tet", action="store_true")
    p.add_argument("--tag", default="")
    args = p.parse_args()
    res: dict[str, Any] = {"machine": machine(), "command": " ".join(sys.argv),
                           "ranks": MPI.COMM_WORLD.size}  # fmt: skip
    warm, wbox = core(8, 0.4)
    for degree in (None, 2):
        plain_solve(warm.mesh, warm.surface_facets("zmin"), warm.surface_facets("zmax"),
                    wbox[2], degree)  # fmt: skip
    bonefem_test(warm, wbox)
    dofs = voxel_phase(args, res)
    res["dofs"] = dofs
    if not args.no_tet:
        tet_phase(dofs, res)
    res["peak_rss_per_rank_mb_end"] = MPI.COMM_WORLD.allgather(maxrss_bytes() / 2**20)
    best = {k: min(r["total"] for r in res[k]) for k in ("plain", "plain_q2", "test")}
    res["test_over_plain"] = best["test"] / best["plain"]
    res["test_over_plain_q2"] = best["test"] / best["plain_q2"]
    if "tet" in res:
        res["voxel_plain_over_tet"] = best["plain"] / res["tet"]["total"]
        res["voxel_test_over_tet"] = best["test"] / res["tet"]["total"]
    rss = max(res["peak_rss_per_rank_mb_after_voxel"])
    res["peak_rss_bytes_per_dof_max_rank"] = rss * 2**20 / (dofs / MPI.COMM_WORLD.size)
    rank0_print({k: v for k, v in res.items() if not isinstance(v, list | dict)})
    write_json(RESULTS / f"microfe_n{args.n}_np{MPI.COMM_WORLD.size}{args.tag}.json", res)


if __name__ == "__main__":
    main()
