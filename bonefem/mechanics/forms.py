"""Weak form of small-strain linear elasticity: material, bilinear and linear forms, BCs.

Equations (isotropic Hooke's law, small strain; e.g. Zienkiewicz & Taylor, *The Finite
Element Method* vol. 1, ch. 6):

    ε(u) = ½(∇u + ∇uᵀ),    σ = 2μ ε + λ tr(ε) I,
    μ = E / (2(1 + ν)),    λ = E ν / ((1 + ν)(1 − 2ν)),

    a(u, v) = ∫_Ω σ(u) : ε(v) dx,
    L(v)    = ∫_Ω f · v dx + Σ_Γ ∫_Γ t · v ds,

with ``E`` (MPa) a DG0 field (one value per cell, from the density–modulus law of
:mod:`bonefem.material`), ``ν`` (-) a DG0 field set per region, displacements in mm, body
forces ``f`` in N/mm³ and tractions ``t`` in MPa. The loads of a
:class:`~bonefem.config.loading.LoadCase` map to ``t`` as: ``traction`` t (MPa) as given;
``pressure`` p (MPa) t = −p n (against the outward normal n); ``force`` F (N) spread
uniformly, t = F / area(Γ). Supports are Dirichlet conditions on the dofs of a named
surface: ``fixed`` (zero), ``displacement`` (a vector, one component, or a linear field
u(x) = value + G·(x − x₀), mm); or ``elastic``, an elastic foundation (Winkler layer, a
Robin condition) whose traction t = −(k_n (u·n) n + k_t (u − (u·n) n)) adds

    a_Γ(u, v) = ∫_Γ k_t u·v + (k_n − k_t)(u·n)(v·n) ds      (k in N/mm³)

to the operator of the load cases that have it (:func:`operator_form`), e.g. the
intervertebral disc under an endplate (see :class:`~bonefem.config.loading.Elastic`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import ufl

from bonefem._dolfinx import MPI, PETSc, dolfinx, fem
from bonefem.config.loading import (
    COMPONENTS,
    Displacement,
    Elastic,
    Force,
    LoadCase,
    Pressure,
    Traction,
)
from bonefem.errors import InputError
from bonefem.mesh.bonemesh import BoneMesh

#: Poisson's ratio (-) of cells in no region named by a per-region mapping.
DEFAULT_POISSON_RATIO = 0.3

#: Support signature of a load case: (surface, constrained components "xyz"/"x"/...) pairs.
Signature = tuple[tuple[str, str], ...]

#: Dofs of each support of a signature and the constrained component (None: all three).
SupportDofs = list[tuple[npt.NDArray[np.int32], int | None]]


def lame(E: Any, nu: Any) -> tuple[Any, Any]:
    """Lamé parameters (MPa) from Young's modulus E (MPa) and Poisson's ratio ν (-)."""
    mu = E / (2.0 * (1.0 + nu))
    lmbda = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    return mu, lmbda


def strain(u: Any) -> Any:
    """Small-strain tensor ε(u) = sym(∇u) (dimensionless)."""
    return ufl.sym(ufl.grad(u))


def stress(u: Any, E: Any, nu: Any) -> Any:
    """Cauchy stress σ = 2μ ε + λ tr(ε) I (MPa)."""
    mu, lmbda = lame(E, nu)
    eps = strain(u)
    return 2.0 * mu * eps + lmbda * ufl.tr(eps) * ufl.Identity(len(u))


def bilinear_form(V: fem.FunctionSpace, E: fem.Function, nu: fem.Function) -> Any:
    """The UFL stiffness form a(u, v) = ∫ σ(u):ε(v) dx (N·mm per mm² of u·v)."""
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    return ufl.inner(stress(u, E, nu), strain(v)) * ufl.dx


def elastic_support_form(bone: BoneMesh, V: fem.FunctionSpace, supports: list[Elastic]) -> Any:
    """The Robin terms ∫_Γ k_t u·v + (k_n − k_t)(u·n)(v·n) ds of elastic supports (N·mm)."""
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    n = ufl.FacetNormal(V.mesh)
    form: Any = None
    for s in supports:
        kn, kt = float(s.stiffness_N_per_mm3), float(s.shear)
        ds = bone.ds(s.surface)
        term = (kt * ufl.inner(u, v) + (kn - kt) * ufl.inner(u, n) * ufl.inner(v, n)) * ds
        form = term if form is None else form + term
    return form


def robin_matrix(
    bone: BoneMesh, V: fem.FunctionSpace, lc: LoadCase, bcs: list[fem.DirichletBC]
) -> PETSc.Mat:
    """The assembled Robin term of the load case's elastic supports (N/mm), assembled once.

    Rows and columns of Dirichlet dofs are zero, their diagonal too (the unit-modulus
    operator sets it to 1), so K(E) + this matrix is DOLFINx's assembly of
    :func:`operator_form` with ``bcs``.
    """
    form = fem.form(elastic_support_form(bone, V, lc.elastic_supports()))
    R = dolfinx.fem.petsc.assemble_matrix(form, bcs=bcs, diag=0.0)
    R.assemble()
    return R


def operator_form(
    bone: BoneMesh, V: fem.FunctionSpace, E: fem.Function, nu: fem.Function, lc: LoadCase
) -> Any:
    """The UFL operator of a load case: :func:`bilinear_form` plus its elastic supports."""
    a = bilinear_form(V, E, nu)
    elastic = lc.elastic_supports()
    if elastic:
        a = a + elastic_support_form(bone, V, elastic)
    return a


# --------------------------------------------------------------------------- material
def check_poisson_ratio(value: float, name: str) -> None:
    """Reject a Poisson's ratio outside (-1, 0.5) (the admissible isotropic range)."""
    if not -1.0 < float(value) < 0.5:
        raise InputError("Poisson's ratio must lie in (-1, 0.5)", field=name, value=value)


def set_poisson_ratio(
    bone: BoneMesh, nu: fem.Function, poisson_ratio: float | Mapping[str, float]
) -> None:
    """Fill the DG0 field ν (-): one number, or region name -> ν (others 0.3)."""
    if isinstance(poisson_ratio, Mapping):
        bone.require_regions(poisson_ratio, field="poisson_ratio")
        nu.x.array[:] = DEFAULT_POISSON_RATIO
        for name, value in poisson_ratio.items():
            check_poisson_ratio(value, f"poisson_ratio.{name}")
            nu.x.array[bone.region_cells(name)] = value
    else:
        check_poisson_ratio(poisson_ratio, "poisson_ratio")
        nu.x.array[:] = float(poisson_ratio)
    nu.x.scatter_forward()


def set_modulus_values(E_field: fem.Function, E: npt.ArrayLike, comm: MPI.Comm) -> bool:
    """Set the DG0 Young's modulus (MPa) from per-owned (or owned + ghost) cell values.

    Returns:
        Whether any owned value on any rank changed (collective).

    Raises:
        InputError: wrong length, or a value that is not positive and finite (collective).
    """
    values = np.asarray(E, dtype=np.float64)
    n_owned = E_field.function_space.dofmap.index_map.size_local
    old = E_field.x.array[:n_owned].copy()
    if values.ndim == 0:
        E_field.x.array[:] = float(values)
    elif values.shape[0] in (n_owned, E_field.x.array.size):
        E_field.x.array[: values.shape[0]] = values
    else:
        raise InputError(
            f"expected {n_owned} values (owned cells), got {values.shape[0]}", field="E"
        )
    owned = E_field.x.array[:n_owned]
    bad = int(np.count_nonzero(~(owned > 0)))
    changed = int(not np.array_equal(owned, old))
    bad, changed = comm.allreduce(np.array([bad, changed]), MPI.SUM)
    if bad:
        raise InputError(f"Young's modulus must be positive and finite ({bad} cells are not)")
    E_field.x.scatter_forward()
    return bool(changed)


# --------------------------------------------------------------------------- loads
def linear_form(
    bone: BoneMesh,
    V: fem.FunctionSpace,
    lc: LoadCase,
    body_force: Any,
    area: Callable[[str], float],
) -> Any:
    """The UFL load form L(v) (N·mm per mm of v) of a load case.

    Args:
        bone: the mesh with its named surfaces.
        V: the displacement space.
        lc: the load case.
        body_force: body force f (UFL vector expression or 3-vector, N/mm³).
        area: area of a named surface (mm²), for force loads.
    """
    mesh = V.mesh
    v = ufl.TestFunction(V)
    n = ufl.FacetNormal(mesh)
    f = body_force
    if isinstance(f, (list, tuple, np.ndarray)):
        f = fem.Constant(mesh, np.asarray(f, dtype=float))
    L: Any = ufl.inner(f, v) * ufl.dx
    for load in lc.loads:
        ds = bone.ds(load.surface)
        if isinstance(load, Traction):
            L += ufl.inner(fem.Constant(mesh, np.asarray(load.traction, float)), v) * ds
        elif isinstance(load, Pressure):
            L += -load.pressure * ufl.inner(n, v) * ds
        elif isinstance(load, Force):
            surface_area = area(load.surface)
            if surface_area <= 0.0:
                raise InputError(
                    "surface has zero area", field=f"load_cases.{lc.name}", value=load.surface
                )
            t = np.asarray(load.force, float) / surface_area
            L += ufl.inner(fem.Constant(mesh, t), v) * ds
    return L


# ------------------------------------------------------------------------ supports
def surface_dofs(
    bone: BoneMesh, V: fem.FunctionSpace, surface: str, component: int | None
) -> npt.NDArray[np.int32]:
    """Dofs (local, owned and ghost) of V (or of its component) on a named surface."""
    facets = bone.surface_facets(surface)
    fdim = V.mesh.topology.dim - 1
    space = V if component is None else V.sub(component)
    return fem.locate_dofs_topological(space, fdim, facets)


def support_dofs(bone: BoneMesh, V: fem.FunctionSpace, signature: Signature) -> SupportDofs:
    """The constrained dofs of every support of a signature, in its order.

    Elastic supports constrain no dof: their entry is an empty array.
    """
    out: SupportDofs = []
    for surface, comps in signature:
        if is_elastic(comps):
            out.append((np.empty(0, dtype=np.int32), None))
        elif comps == "xyz":
            out.append((surface_dofs(bone, V, surface, None), None))
        else:
            c = COMPONENTS[comps]
            out.append((surface_dofs(bone, V, surface, c), c))
    return out


def is_elastic(comps: str) -> bool:
    """Whether a signature entry's component text is that of an elastic support."""
    return comps.startswith("elastic:")


def linear_field(V: fem.FunctionSpace, s: Displacement) -> fem.Function:
    """Interpolate u(x) = value + G·(x − x0) (mm) for a linear displacement support."""
    c = np.asarray(s.value, dtype=float)
    G = np.asarray(s.gradient, dtype=float)
    x0 = np.asarray(s.origin, dtype=float)
    g = fem.Function(V)
    g.interpolate(lambda x: c[:, None] + G @ (x - x0[:, None]))
    return g


def support_values(V: fem.FunctionSpace, lc: LoadCase) -> dict[tuple[str, str], Any]:
    """Prescribed values (mm) per (surface, components) of a load case's supports."""
    values: dict[tuple[str, str], Any] = {}
    for s in lc.supports:
        if isinstance(s, Elastic):
            continue
        key = (s.surface, s.component or "xyz")
        if isinstance(s, Displacement) and s.gradient is not None:
            values[key] = linear_field(V, s)
        elif isinstance(s, Displacement):
            vec = np.asarray(s.vector())
            values[key] = vec if s.component is None else vec[COMPONENTS[s.component]]
        else:
            values[key] = np.zeros(3) if s.component is None else 0.0
    return values


def dirichlet_bcs(
    V: fem.FunctionSpace, lc: LoadCase, signature: Signature, dofs: SupportDofs
) -> list[fem.DirichletBC]:
    """Dirichlet conditions of a load case on the support dofs of its operator group."""
    values = support_values(V, lc)
    bcs = []
    for (surface, comps), (sdofs, c) in zip(signature, dofs, strict=True):
        if is_elastic(comps):
            continue
        val = values[(surface, comps)]
        if isinstance(val, fem.Function):
            bcs.append(fem.dirichletbc(val, sdofs))
        elif c is None:
            bcs.append(fem.dirichletbc(np.asarray(val, dtype=float), sdofs, V))
        else:
            bcs.append(fem.dirichletbc(PETSc.ScalarType(val), sdofs, V.sub(c)))
    return bcs
