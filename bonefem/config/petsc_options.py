"""The PETSc options a case file may set (``[solver] petsc_options``), with their values.

Only options of the elasticity solver (Krylov method, preconditioner, multigrid levels)
are allowed; each has a value type (and a list of choices or a range). Viewers, monitors
and logging (``ksp_view``, ``*_monitor``, ``log_view``, ``options_left``, ...) are not
allowed: they write to files or flood the output of every rank. Names are given without
the leading ``-``. ``bonefem check`` reports an unknown option (with a did-you-mean) or a
bad value naming the option, before any run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bonefem.errors import did_you_mean

KSP_TYPES = ("cg", "gmres", "fgmres", "minres", "bcgs", "cr", "gcr", "richardson", "preonly")
PC_TYPES = (
    "gamg",
    "hypre",
    "jacobi",
    "pbjacobi",
    "bjacobi",
    "sor",
    "ilu",
    "icc",
    "asm",
    "lu",
    "cholesky",
    "none",
)
SMOOTHER_KSP = ("chebyshev", "richardson", "cg", "gmres", "preonly")
SMOOTHER_PC = ("jacobi", "pbjacobi", "sor", "bjacobi", "ilu", "icc", "asm", "none")


@dataclass(frozen=True)
class Option:
    """An allowed option: value kind ("int", "float", "bool", "choice"), range or choices."""

    kind: str
    lo: float = -math.inf
    hi: float = math.inf
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        """What values are allowed, for messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "bool":
            return "true or false"
        number = "an integer" if self.kind == "int" else "a finite number"
        return f"{number} in [{self.lo:g}, {self.hi:g}]"


ALLOWED: dict[str, Option] = {
    "ksp_type": Option("choice", choices=KSP_TYPES),
    "ksp_norm_type": Option(
        "choice", choices=("unpreconditioned", "preconditioned", "natural", "none")
    ),
    "ksp_rtol": Option("float", 1e-16, 0.1),
    "ksp_atol": Option("float", 0.0, 1e6),
    "ksp_divtol": Option("float", 1.0, 1e30),
    "ksp_max_it": Option("int", 1, 1e6),
    "ksp_gmres_restart": Option("int", 1, 1e4),
    "pc_type": Option("choice", choices=PC_TYPES),
    "pc_factor_mat_solver_type": Option(
        "choice", choices=("mumps", "superlu_dist", "superlu", "petsc")
    ),
    "pc_gamg_type": Option("choice", choices=("agg", "classical", "geo")),
    "pc_gamg_agg_nsmooths": Option("int", 0, 10),
    "pc_gamg_threshold": Option("float", -1.0, 1.0),
    "pc_gamg_coarse_eq_limit": Option("int", 1, 1e8),
    "pc_gamg_process_eq_limit": Option("int", 1, 1e8),
    "pc_gamg_square_graph": Option("int", 0, 100),
    "pc_gamg_aggressive_coarsening": Option("int", 0, 100),
    "pc_gamg_reuse_interpolation": Option("bool"),
    "pc_gamg_repartition": Option("bool"),
    "pc_mg_levels": Option("int", 1, 50),
    "pc_mg_cycle_type": Option("choice", choices=("v", "w")),
    "pc_hypre_type": Option("choice", choices=("boomeramg", "pilut", "euclid")),
    "pc_hypre_boomeramg_strong_threshold": Option("float", 0.0, 1.0),
    "pc_hypre_boomeramg_max_iter": Option("int", 1, 1000),
    "mg_levels_ksp_type": Option("choice", choices=SMOOTHER_KSP),
    "mg_levels_pc_type": Option("choice", choices=SMOOTHER_PC),
    "mg_levels_ksp_max_it": Option("int", 1, 1000),
    "mg_levels_ksp_chebyshev_esteig_steps": Option("int", 1, 1000),
    "mg_coarse_ksp_type": Option("choice", choices=SMOOTHER_KSP),
    "mg_coarse_pc_type": Option("choice", choices=(*SMOOTHER_PC, "lu", "cholesky", "redundant")),
}

_FILE_WRITERS = ("_view", "_monitor", "log_", "options_left", "history", "draw", "viewer")


def check_option(name: str, value: Any) -> str | None:
    """What is wrong with ``name = value`` (None: allowed)."""
    if name.startswith("-"):
        return f"give the option name without the leading '-' ('{name.lstrip('-')}')"
    spec = ALLOWED.get(name)
    if spec is None:
        if any(part in name for part in _FILE_WRITERS):
            why = "viewers, monitors and logging are not allowed (they write files or flood logs)"
        else:
            why = f"not an allowed PETSc option.{did_you_mean(name, ALLOWED)}"
        return f"{why}; allowed options: {', '.join(sorted(ALLOWED))}"
    ok = True
    if spec.kind == "bool":
        ok = isinstance(value, bool)
    elif spec.kind == "choice":
        ok = isinstance(value, str) and value in spec.choices
    elif spec.kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and spec.lo <= value <= spec.hi
    else:
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and spec.lo <= value <= spec.hi
        )
    return None if ok else f"PETSc option '{name}' must be {spec.describe()}"
