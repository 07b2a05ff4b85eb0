"""Peak memory per rank of a coupled run, estimated before it starts (``bonefem check``).

The estimate is a sum of phases, each a measured number of bytes per cell or per
displacement unknown (dof) divided by the ranks, plus a fixed baseline per rank; the
coefficients are fitted to ``benchmarks/bench_memory.py`` (resident set size per rank
after each phase) on the femur at 127k and 1.0M dofs on 1 and 2 ranks
(docs/performance.md, "Issue 19: memory per rank"):

* ``baseline``: Python, NumPy, DOLFINx, PETSc, MPI and bonefem imported (per rank);
* ``mesh``: the distributed mesh, its connectivity, tags and the reading transients;
* ``operators``: per operator (one per support set of the load cases: habitual, stiffness
  test, fall), the unit-modulus element matrices are shared, the assembled AIJ matrix is
  not;
* ``preconditioner``: the GAMG hierarchy of each operator;
* ``load cases``: per load case, the solution, right-hand side and past solutions;
* ``cell state``: the cell model's and the run's per-cell arrays, metrics, output buffers.

The run records its measured peak (max over ranks) next to this estimate in the
manifest (``memory``), so every run checks it. It is a rough estimate (x1.5): the largest
rank holds a few per cent more cells than the mean, and allocators keep freed memory.
"""

from __future__ import annotations

import math
import re
import resource
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MemoryEstimate",
    "estimate_memory",
    "format_bytes",
    "parse_bytes",
    "peak_rss_bytes",
    "suggested_ranks",
]

#: Bytes per rank of a coupled run with nothing allocated yet: Python, NumPy, DOLFINx,
#: PETSc, MPI, the form compiler and bonefem imported (measured 240-250 MB; the plain
#: mechanics benchmark imports less: ``MECHANICS_BASELINE_BYTES``, 145-150 MB).
BASELINE_BYTES = 240e6
MECHANICS_BASELINE_BYTES = 150e6
#: Mesh (bytes per cell): coordinates, topology and connectivity, tags (the femur from
#: the mesh cache: 638 MB for 1.65M cells on 1 rank, 256 MB for 207k cells, i.e. about
#: 200 MB of modules and reading, counted in the baseline of a coupled run, + 264 B/cell).
MESH_BYTES_PER_CELL = 264.0
#: Unit-modulus element matrices, their scatter maps and PETSc's COO maps (bytes per
#: cell, shared by all operators) and the temporaries of their set-up and assembly.
UNIT_BYTES_PER_CELL = 1700.0
#: One assembled operator (bytes per dof): AIJ values and column indices (~81 per row).
OPERATOR_BYTES_PER_DOF = 1000.0
#: GAMG hierarchy of one operator (bytes per dof): 565 B/dof measured on 1 rank at 923k
#: dofs; on several ranks the parallel Galerkin products cost more per dof, by the factor
#: of ``PARALLEL_PC_FACTOR`` for ``solver.galerkin_product``: 2.67 kB/dof on 2 ranks with
#: "scalable" (1.23 GB per rank), 780 B/dof with "allatonce" (0.35 GB per rank).
PRECONDITIONER_BYTES_PER_DOF = 600.0
PARALLEL_PC_FACTOR = {"scalable": 4.5, "allatonce": 1.4}
#: One load case (bytes per dof): solution, right-hand side, the 8 past solutions of the
#: initial guess (``ElasticityProblem.guess_history``, 8 float64 each), work.
LOAD_CASE_BYTES_PER_DOF = 100.0
#: Per-cell state of a coupled run (bytes per cell): cell model and its integrator,
#: densities, stimulus, metrics sample points, output buffers, post-processing peaks
#: (the femur menopause case at 207k cells on 1 rank: 1.57 GB measured, 1.28 GB for the
#: other phases, i.e. ~1.4 kB per cell); + 500 B per cell for the four stages of the
#: ROS34PW2 integrator held at once (the 1.0M-dof femur on 2 ranks: peak 8.38 -> 8.79 GB on
#: the larger rank, 0.84M cells, when it replaced ROS2; docs/performance.md).
STATE_BYTES_PER_CELL = 1700.0
#: The largest rank over the mean (cells per rank are balanced to a few per cent).
IMBALANCE = 1.05

_UNITS = {
    "": 1.0,
    "b": 1.0,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 2.0**10,
    "mib": 2.0**20,
    "gib": 2.0**30,
    "tib": 2.0**40,
    "k": 1e3,
    "m": 1e6,
    "g": 1e9,
    "t": 1e12,
}


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak resident memory of the largest rank, by phase (bytes).

    Attributes:
        ranks: MPI ranks the estimate is for.
        phases: bytes per rank of each phase (module doc), in the order they are held.
    """

    ranks: int
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def per_rank(self) -> float:
        """Estimated peak of the largest rank (bytes)."""
        return float(sum(self.phases.values()))

    def describe(self) -> str:
        """One line for the log."""
        parts = ", ".join(f"{k} {format_bytes(v)}" for k, v in self.phases.items())
        return (
            f"about {format_bytes(self.per_rank)} per rank on {self.ranks} rank(s) "
            f"(rough, x1.5): {parts}"
        )

    def as_dict(self) -> dict[str, Any]:
        """The manifest entry (bytes)."""
        return {
            "ranks": self.ranks,
            "per_rank_bytes": round(self.per_rank),
            "phases_bytes": {k: round(v) for k, v in self.phases.items()},
        }


def estimate_memory(
    dofs: float,
    cells: float,
    ranks: int,
    *,
    operators: int = 1,
    load_cases: int = 1,
    coupled: bool = True,
    galerkin_product: str = "scalable",
) -> MemoryEstimate:
    """Peak memory per rank (bytes) of a run on a mesh of ``cells`` cells and ``dofs`` dofs.

    Args:
        dofs: displacement unknowns (3 per node for P1).
        cells: cells of the mesh.
        ranks: MPI ranks (>= 1).
        operators: distinct operators (support sets of all load cases, virtual tests
            included).
        load_cases: load cases solved (habitual and virtual tests).
        coupled: whether the per-cell state of a coupled run is held (False: mechanics only).
        galerkin_product: ``solver.galerkin_product`` (the GAMG set-up's memory on > 1 rank).
    """
    ranks = max(int(ranks), 1)
    share = IMBALANCE / ranks if ranks > 1 else 1.0
    n_op = max(int(operators), 1)
    pc_factor = PARALLEL_PC_FACTOR[galerkin_product] if ranks > 1 else 1.0
    phases = {
        "baseline": BASELINE_BYTES if coupled else MECHANICS_BASELINE_BYTES,
        "mesh": MESH_BYTES_PER_CELL * cells * share,
        "operators": (UNIT_BYTES_PER_CELL * cells + n_op * OPERATOR_BYTES_PER_DOF * dofs) * share,
        "preconditioners": n_op * PRECONDITIONER_BYTES_PER_DOF * dofs * share * pc_factor,
        "load cases": max(int(load_cases), 1) * LOAD_CASE_BYTES_PER_DOF * dofs * share,
    }
    if coupled:
        phases["cell state"] = STATE_BYTES_PER_CELL * cells * share
    return MemoryEstimate(ranks, phases)


def suggested_ranks(limit_bytes: float, estimate: Any, max_ranks: int = 100_000) -> int | None:
    """The fewest ranks whose estimate fits ``limit_bytes`` (None: not even ``max_ranks``).

    ``estimate``: a function ranks -> :class:`MemoryEstimate`.
    """
    if estimate(max_ranks).per_rank > limit_bytes:
        return None
    lo, hi = 1, max_ranks
    while lo < hi:
        mid = (lo + hi) // 2
        if estimate(mid).per_rank <= limit_bytes:
            hi = mid
        else:
            lo = mid + 1
    return lo


def parse_bytes(text: str | float) -> float:
    """``"4GB"``, ``"500 MB"``, ``"2GiB"`` or a number of bytes -> bytes (ValueError if bad).

    Decimal units (kB, MB, GB, TB = 10^3 ...) and binary units (KiB, MiB, GiB, TiB).
    """
    if isinstance(text, int | float):
        value = float(text)
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", text)
        if m is None or m.group(2).lower() not in _UNITS:
            raise ValueError(f"not an amount of memory: {text!r} (e.g. 4GB, 500MB, 2GiB)")
        value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"not a positive amount of memory: {text!r}")
    return value


def format_bytes(n: float) -> str:
    """Bytes as text (decimal units: MB, GB)."""
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    return f"{n / 1e6:.0f} MB"


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (bytes; Linux reports KiB)."""
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def case_counts(case: Any) -> tuple[int, int]:
    """(operators, load cases) a coupled run of ``case`` holds (virtual tests included).

    One operator per distinct support set (``LoadCase.support_signature``).
    """
    cases = list(case.load_cases) + list(case.test_load_cases())
    return len({lc.support_signature() for lc in cases}), len(cases)


def estimate_case(case: Any, dofs: float, cells: float, ranks: int) -> MemoryEstimate:
    """:func:`estimate_memory` of a coupled run of ``case`` (a validated Case)."""
    operators, load_cases = case_counts(case)
    return estimate_memory(
        dofs,
        cells,
        ranks,
        operators=operators,
        load_cases=load_cases,
        galerkin_product=case.solver.galerkin_product,
    )


def require_memory(
    case: Any,
    dofs: float,
    cells: float,
    ranks: int,
    limit_bytes: float | None,
    *,
    file: str | None = None,
) -> MemoryEstimate:
    """The estimate of ``case`` on ``ranks`` ranks; InputError (exit 2) above ``limit_bytes``.

    The message names the estimate, the limit and the fewest ranks that fit.
    """
    from bonefem.errors import InputError

    est = estimate_case(case, dofs, cells, ranks)
    if limit_bytes is None or est.per_rank <= limit_bytes:
        return est
    need = suggested_ranks(limit_bytes, lambda n: estimate_case(case, dofs, cells, n))
    hint = (
        f"run on at least {need} ranks"
        if need is not None
        else "no rank count fits (the baseline per rank alone is above it)"
    )
    raise InputError(
        f"estimated peak memory {format_bytes(est.per_rank)} per rank on {ranks} rank(s) "
        f"({cells:,.0f} cells, {dofs:,.0f} displacement unknowns) is above the limit "
        f"--max-memory-per-rank {format_bytes(limit_bytes)}; {hint}, or raise the limit",
        file=file,
        field="--max-memory-per-rank",
        value=format_bytes(limit_bytes),
    )
