"""Small-strain linear elasticity of bone with a per-cell Young's modulus (DOLFINx + PETSc).

Equations (isotropic Hooke's law, small strain; e.g. Zienkiewicz & Taylor, *The Finite
Element Method* vol. 1, ch. 6):

    ε(u) = ½(∇u + ∇uᵀ),    σ = 2μ ε + λ tr(ε) I,
    μ = E / (2(1 + ν)),    λ = E ν / ((1 + ν)(1 − 2ν)),

    ∫_Ω σ(u) : ε(v) dx = ∫_Γ_N t · v ds    for all admissible v,

with ``E`` (MPa) a DG0 field (one value per cell, from the density–modulus law of
:mod:`bonefem.material`), ``ν`` per region, displacements in mm, tractions in MPa.
The strain energy density per cell is the cell average of ψ = ½ σ:ε (MPa = mJ/mm³).

Solver: CG + GAMG with the rigid-body near-nullspace (Adams et al. 2004, SC'04), kept
preconditioner and extrapolated initial guess between remodelling steps.

Modules (one job each):

* :mod:`~bonefem.mechanics.forms` -- Lamé parameters, ε, σ, the bilinear and linear forms,
  material fields E and ν, Dirichlet data of the load cases;
* :mod:`~bonefem.mechanics.assembly` -- operator re-assembly K = Σ_c E_c K̂_c from
  unit-modulus element matrices computed once (P1 on affine tetrahedra), PETSc COO;
* :mod:`~bonefem.mechanics.solver` -- PETSc KSP (CG + GAMG + rigid-body modes), options,
  preconditioner reuse and refresh, initial guess (projection), :class:`SolveStats`;
* :mod:`~bonefem.mechanics.problem` -- :class:`ElasticityProblem`, the orchestration of
  the load cases;
* :mod:`~bonefem.mechanics.postprocess` -- strain, stress, strain energy density per cell,
  reactions, apparent stiffness.
"""

from __future__ import annotations

from bonefem.mechanics.forms import lame, strain, stress
from bonefem.mechanics.postprocess import PostProcessor
from bonefem.mechanics.problem import ElasticityProblem
from bonefem.mechanics.solver import (
    DEFAULT_PETSC_OPTIONS,
    INITIAL_GUESSES,
    SolveStats,
    cold_equivalent_iterations,
    ksp_reason_name,
    projection_coefficients,
    rigid_body_modes,
)

__all__ = [
    "DEFAULT_PETSC_OPTIONS",
    "INITIAL_GUESSES",
    "ElasticityProblem",
    "PostProcessor",
    "SolveStats",
    "cold_equivalent_iterations",
    "ksp_reason_name",
    "lame",
    "projection_coefficients",
    "rigid_body_modes",
    "strain",
    "stress",
]
