"""Case files: the TOML schema of a bonefem run, validated into typed settings.

A case file names a bone mesh, the habitual load cases, the material laws per region, the
remodelling law, the hormone/drug scenario, the metrics to track and the outputs. Every
field has a type, a unit, an allowed range, a default and a description (see
``docs/case-reference.md``, generated from this schema by ``python -m bonefem.config.case``).

:func:`load_case` reads and validates a file; every problem is reported as an
:class:`~bonefem.errors.InputError` that names the file, the field, the value and what is
allowed (with a did-you-mean suggestion for unknown keys). Checks that need the mesh
(region and surface names) happen when the run sets up its mesh.

Units: mm, N, MPa, days, g/cm³, pM.
"""

from __future__ import annotations

import itertools
import json
import math
import tomllib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bonefem.config.defaults import DEFAULT_RTOL_BONE, DEFAULT_RTOL_CELLS
from bonefem.config.loading import LoadCase
from bonefem.config.overrides import apply_overrides, override_of
from bonefem.config.scenario import ScenarioConfig
from bonefem.errors import FieldValueError, InputError, on_rank_0, validation_to_input_error
from bonefem.material import DEFAULT_LAWS, ModulusLaw
from bonefem.mesh.config_schema import MeshConfig
from bonefem.output.fields import DEFAULT_FIELDS, FIELD_NAMES

__all__ = ["Case", "case_reference_markdown", "load_case", "parse_case"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSettings(_Section):
    """What to simulate and for how long."""

    name: str = Field(
        default="bonefem-run",
        min_length=1,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Run name (letters, digits, '.', '_', '-'); the default output folder "
        "is runs/<name>.",
    )
    description: str = Field(default="", description="Free text describing the case.")
    duration_days: float = Field(
        gt=0.0, le=36525.0, description="Simulated time in days (365.25 days = 1 year)."
    )
    biology_step_days: float = Field(
        default=7.0,
        gt=0.0,
        le=366.0,
        description="Largest step of the coupled loop in days (at most a year); the cell "
        "model subdivides it with error control, and therapy starts/stops and output times "
        "are never skipped.",
    )

    @model_validator(mode="after")
    def _safe_name(self) -> RunSettings:
        """The name becomes a folder name: short, not hidden, not an option, not '..'."""
        if len(self.name) > 100:
            raise FieldValueError(
                f"is {len(self.name)} characters long; at most 100 are allowed (it names "
                "the run folder)",
                field="name",
                value=self.name[:40] + "...",
            )
        if self.name[0] in ".-":
            raise FieldValueError(
                "must not start with '.' or '-' (it names the run folder: no hidden folders, "
                "no '..', nothing that reads as a command-line option)",
                field="name",
                value=self.name,
            )
        return self


class ActivityPeriod(_Section):
    """A period of changed physical activity: the habitual loads scaled by a factor."""

    start_days: float = Field(ge=0.0, description="Start, days from the start of the run.")
    stop_days: float = Field(
        default=math.inf, gt=0.0, description="End (exclusive), days; inf = until the end."
    )
    load_scale: float = Field(
        ge=0.0,
        le=5.0,
        description="Factor on every habitual load (dimensionless): e.g. 0.5 for reduced "
        "activity, 0.0 for complete unloading. The strain energy density scales with its "
        "square (linear elasticity).",
    )

    @model_validator(mode="after")
    def _order(self) -> ActivityPeriod:
        if self.stop_days <= self.start_days:
            raise ValueError(
                f"stop_days ({self.stop_days}) must be after start_days ({self.start_days})"
            )
        return self


def load_scale_at(activity: Sequence[ActivityPeriod], t: float) -> float:
    """Habitual load factor at time t (days): the first period containing t, else 1."""
    for p in activity:
        if p.start_days <= t < p.stop_days:
            return p.load_scale
    return 1.0


class RegionMaterial(_Section):
    """Initial bone volume fraction and density–modulus law of one region."""

    bvtv: float = Field(
        gt=0.02,
        lt=0.98,
        description="Initial (healthy) bone volume fraction BV/TV (dimensionless): about 0.15 "
        "for vertebral trabecular bone (Martínez-Reina 2019), 0.95 for cortical bone. Not "
        "used where the mesh carries a per-cell initial state ([mesh.image.density], or "
        "[mesh] initial_bvtv / initial_mineral_density).",
    )
    modulus: ModulusLaw = Field(description="Density–modulus law E(ρ_app) of the region.")


def _default_regions() -> dict[str, RegionMaterial]:
    return {
        "trabecular": RegionMaterial(bvtv=0.15, modulus=DEFAULT_LAWS["trabecular"]),
        "cortical": RegionMaterial(bvtv=0.95, modulus=DEFAULT_LAWS["cortical"]),
    }


class MaterialSettings(_Section):
    """Material of every region of the mesh."""

    regions: dict[str, RegionMaterial] = Field(
        default_factory=_default_regions,
        description="Region name -> material. Every region of the mesh needs an entry; "
        "defaults: trabecular (BV/TV 0.15, Morgan 2003 vertebral law) and cortical "
        "(BV/TV 0.95, Carter & Hayes 1977).",
    )


class HuiskesSettings(_Section):
    """Phenomenological remodelling (Huiskes et al. 1987, J Biomech 20:1135)."""

    rate: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0e4,
        description="Remodelling rate B in (g/cm³)²/(MPa·day): dρ/dt = B·(S − (1±s)·K) "
        "outside the lazy zone, S = Ψ/ρ the strain energy per unit mass (MPa·cm³/g). The "
        "default 0.2 gives a total-hip aBMD loss of about 1.1 %/month at 30 % load in the "
        "bundled femur, as in spaceflight (LeBlanc et al. 2000: 1.15-1.56 %/month at the hip).",
    )
    lazy_zone: float = Field(
        default=0.35,
        ge=0.0,
        lt=1.0,
        description="Half-width s of the lazy zone relative to the reference stimulus K "
        "(dimensionless; 0.35 in Weinans, Huiskes & Grootenboer 1992).",
    )


class RemodelingSettings(_Section):
    """Which law turns the mechanical stimulus and the biology into density change."""

    law: Literal["cells", "huiskes"] = Field(
        default="cells",
        description="'cells': bone cell population model with mechanical regulation "
        "(Pivonka 2008 / Scheiner 2013) driven by hormones and drugs; 'huiskes': "
        "phenomenological strain-energy-per-mass law with a lazy zone (no biology), for "
        "comparison.",
    )
    parameters: Literal["scheiner2013", "pivonka2008"] = Field(
        default="scheiner2013",
        description="Cell parameter set: 'scheiner2013' (with mechanical regulation, "
        "calibrated) or 'pivonka2008' (no mechanical regulation).",
    )
    huiskes: HuiskesSettings = Field(
        default_factory=HuiskesSettings, description="Parameters of the 'huiskes' law."
    )
    cell_rtol: float = Field(
        default=DEFAULT_RTOL_CELLS,
        gt=0.0,
        le=1.0,
        description="Local error tolerance of the cell-model integrator per substep "
        "on ln OBp, ln OBa, ln OCa (dimensionless, i.e. a relative error of the cell "
        "concentrations in pM). The default keeps the metrics of the 10-year femur "
        "menopause run within 0.04 % of a 300x tighter run (docs/performance.md).",
    )
    integrator: Literal["ros34pw2", "ros2"] = Field(
        default="ros34pw2",
        description="Rosenbrock-W method of the cell model: 'ros34pw2' (Rang & Angermann "
        "2005, third order, four stages) or 'ros2' (Verwer et al. 1999, second order, two "
        "stages; the method until December 2026, to reproduce older runs).",
    )
    bone_rtol: float = Field(
        default=DEFAULT_RTOL_BONE,
        gt=0.0,
        le=0.1,
        description="Local error tolerance of the cell-model integrator per substep on "
        "the bone volume fraction f and the mineral content m, relative "
        "(dimensionless).",
    )


class CouplingSettings(_Section):
    """How mechanics and biology exchange information."""

    modulus_tolerance: float = Field(
        default=0.02,
        gt=0.0,
        le=0.5,
        description="Re-solve the elasticity problem when Young's modulus of any cell has "
        "changed by more than this fraction since the last solve (dimensionless). Checked "
        "after every cell-model substep, so re-solves happen inside a biology step when "
        "needed; a very small value re-solves at almost every substep (slow).",
    )
    stimulus_exponent: float = Field(
        default=2.0,
        ge=1.0,
        le=8.0,
        description="Exponent k of the daily stimulus Ψ = (Σ nᵢ ψᵢᵏ / Σ nᵢ)^(1/k) over the "
        "load cases (ψᵢ strain energy density in MPa, nᵢ cycles/day); k = 2 is Beaupré et al. "
        "1990's stress exponent m = 4 written for strain energy density.",
    )
    stimulus: Literal["tissue", "apparent"] = Field(
        default="tissue",
        description="Mechanical stimulus the cells sense: 'tissue' = strain energy density "
        "per unit bone volume, Ψ/f (the bone matrix carries the energy; Scheiner et al. 2013 "
        "regulate on the matrix SED, Huiskes et al. 1987 on SED per unit mass), or "
        "'apparent' = the continuum SED Ψ (MPa).",
    )
    stimulus_filter_mm: float = Field(
        default=1.0,
        ge=0.0,
        le=50.0,
        description="Length ℓ (mm) of the Helmholtz filter smoothing the relative stimulus "
        "Ψ/Ψ_ss between neighbouring cells (Lazarov & Sigmund 2011; sensing neighbourhood "
        "of bone cells, Mullender et al. 1994); 0 switches it off. Smoothing radius ≈ 3.5 ℓ.",
    )
    local_update: Literal["stress", "none"] = Field(
        default="stress",
        description="Between elasticity solves, update each cell's stimulus as load-"
        "controlled (Ψ ∝ 1/E, 'stress') or keep it frozen ('none').",
    )


class DXASettings(_Section):
    """DXA-like areal BMD: projection direction, pixel size and region of interest."""

    axis: Literal["x", "y", "z"] = Field(
        default="y",
        description="Beam direction (the projection axis) in mesh coordinates; 'y' is "
        "antero-posterior for the bundled vertebra and femur.",
    )
    pixel_mm: float = Field(
        default=0.5, gt=0.05, le=5.0, description="Pixel edge length in mm (DXA: about 0.5–1)."
    )
    roi_lower: list[float] | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="Lower corner (mm) of the region of interest; default: the whole bone.",
    )
    roi_upper: list[float] | None = Field(
        default=None,
        min_length=3,
        max_length=3,
        description="Upper corner (mm) of the region of interest; default: the whole bone.",
    )


class FractureSettings(_Section):
    """Failure-load estimate and fracture risk index (Pistoia et al. 2002 criterion)."""

    load_case: LoadCase = Field(
        description="Force-controlled load case with the applied load (N) of the event, e.g. "
        "a sideways fall or a compressive spine load."
    )
    critical_fraction: float = Field(
        default=0.02,
        gt=0.0,
        lt=0.5,
        description="Fraction of bone tissue that must exceed its yield strain at failure "
        "(dimensionless; 2 % in Pistoia et al. 2002).",
    )


class MetricsSettings(_Section):
    """Clinical metrics tracked over time (written to metrics.csv)."""

    dxa: DXASettings = Field(default_factory=DXASettings, description="Areal BMD projection.")
    stiffness_test: LoadCase | None = Field(
        default=None,
        description="Displacement-controlled virtual test for the apparent stiffness (N/mm), "
        "e.g. axial compression between the endplates; default: none.",
    )
    fracture: FractureSettings | None = Field(
        default=None, description="Failure load and fracture risk index; default: none."
    )
    tests_every_days: float | None = Field(
        default=None,
        gt=0.0,
        description="Interval in days of the virtual mechanical tests (stiffness test and "
        "fracture load case, two elasticity solves per evaluation); a multiple of "
        "output.metrics_every_days. The tests always run at t = 0 and at the last row (end "
        "of the run); in the rows between, the columns apparent_stiffness, failure_load, "
        "fracture_risk_index and their _pct_change are left empty (NaN, written as nan in "
        "metrics.csv), and the column tests_evaluated (1 or 0) tells which rows have them. "
        "Default: none = at every metrics row. A --restart may change it.",
    )
    qct_fe: bool = Field(
        default=False,
        description="Also run the virtual tests the way a QCT-based finite-element study "
        "would (columns qct_fe_stiffness in N/mm and qct_fe_failure_load in N, with their "
        "_pct_change): each cell's modulus from its mineral density alone, through the "
        "region's density-modulus law at an apparent density of mineral density / "
        "qct_ash_to_apparent (the QCT-FE convention, e.g. Keyak 1998, Schileo 2008, "
        "Keaveny 2010), so a loss of tissue mineral counts like a loss of bone volume. Two "
        "more elasticity solves in every row with tests. Default: false.",
    )
    qct_ash_to_apparent: float = Field(
        default=0.6,
        gt=0.3,
        lt=1.0,
        description="Ash (mineral) density over apparent wet density assumed by the QCT-FE "
        "tests (dimensionless; 0.6, Schileo et al. 2008, J Biomech 41:356, after Keller "
        "1994 and Morgan et al. 2003).",
    )


class SolverSettings(_Section):
    """Linear solver of the elasticity problem (PETSc)."""

    rtol: float = Field(
        default=1.0e-6,
        gt=0.0,
        lt=1.0e-2,
        description="Relative residual tolerance ‖b − Au‖ ≤ rtol·‖b‖ of the habitual solves "
        "(dimensionless; 1e-6: quick-start metrics within 1.2e-6 of 1e-10, docs/performance.md).",
    )
    test_rtol: float = Field(
        default=1.0e-6,
        gt=0.0,
        lt=1.0e-2,
        description="Relative residual tolerance of the virtual tests' solves (stiffness "
        "test, fracture load case; dimensionless). Their results need less than the "
        "habitual solves' `rtol`: the stiffness comes from the strain energy (error "
        "quadratic in the solver's), the failure load from a volume quantile of the strain "
        "energy density; at 1e-6 both were within 1e-7 of a 1e-10 solve on the quick-start "
        "case (docs/performance.md).",
    )
    refresh_factor: float = Field(
        default=1.5,
        ge=1.0,
        le=10.0,
        description="Rebuild the kept multigrid preconditioner when a solve needs more than "
        "this factor times the iterations right after its last set-up (dimensionless).",
    )
    galerkin_product: Literal["scalable", "allatonce"] = Field(
        default="scalable",
        description="Algorithm of the multigrid set-up's Galerkin products on more than one "
        "rank: 'scalable' (PETSc's default, fastest set-up) or 'allatonce' (about a third "
        "of the set-up's memory per rank: peak per rank on 2 ranks 55 % of the 1-rank peak "
        "instead of 72 % at 1M dofs; same iterations, but 4-8x the set-up time). No effect on "
        "one rank.",
    )
    petsc_options: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="Extra PETSc options without the leading '-', e.g. "
        "{ pc_gamg_threshold = 0.02 } (see docs/model-mechanics.md for the defaults).",
    )

    @model_validator(mode="after")
    def _allowed_petsc_options(self) -> SolverSettings:
        """Only the solver options of bonefem.config.petsc_options, with valid values."""
        from bonefem.config.petsc_options import check_option

        for name, value in self.petsc_options.items():
            problem = check_option(name, value)
            if problem is not None:
                raise FieldValueError(problem, field=f"petsc_options.{name}", value=value)
        return self


if TYPE_CHECKING:
    FieldName = str
else:  # the names of the output-field registry (bonefem/output/fields.py)
    FieldName = Literal[FIELD_NAMES]


class OutputSettings(_Section):
    """What is written, and how often."""

    fields_every_days: float = Field(
        default=365.25,
        gt=0.0,
        description="Interval of the ParaView field outputs in days (plus t = 0 and the end).",
    )
    metrics_every_days: float = Field(
        default=91.3125,
        gt=0.0,
        description="Interval of the metrics.csv rows in days (plus t = 0 and the end).",
    )
    checkpoint_every_days: float = Field(
        default=365.25,
        gt=0.0,
        description="Interval of restart checkpoints in days (the last one is kept with "
        "one older one).",
    )
    fields: list[FieldName] = Field(
        default_factory=lambda: list(DEFAULT_FIELDS),
        description="Fields written for ParaView (units in the array names); list fewer "
        'to write less (e.g. ["density", "stimulus"]).',
    )
    field_precision: Literal["float64", "float32"] = Field(
        default="float64",
        description="Precision of the ParaView field arrays and points: 'float32' halves "
        "the bytes per value before compression (7 significant digits, enough for viewing "
        "big runs); the connectivity is then Int32 too. Checkpoints stay float64.",
    )
    field_files: Literal["per_rank", "single"] = Field(
        default="per_rank",
        description="Files of a field write: 'per_rank' (a .vtu piece per rank and a .pvtu "
        "index, the default) or 'single' (one .vtu per write holding a piece per rank, "
        "written by all ranks into their own byte ranges: no thousands of files per step "
        "on a cluster). ParaView reads both through fields.pvd.",
    )


class Case(_Section):
    """A bonefem case: everything a run needs."""

    run: RunSettings = Field(description="Run name and duration.")
    mesh: MeshConfig = Field(description="The bone mesh: a generator, a file or a settings file.")
    material: MaterialSettings = Field(
        default_factory=MaterialSettings, description="Material per region."
    )
    load_cases: list[LoadCase] = Field(
        min_length=1,
        description="Habitual daily load cases driving remodelling; their stimulus at t = 0 "
        "defines each cell's homeostatic reference.",
    )
    activity: list[ActivityPeriod] = Field(
        default_factory=list,
        description="Periods of changed activity (disuse, bed rest, exercise) scaling the "
        "habitual loads; outside them the scale is 1.",
    )
    remodeling: RemodelingSettings = Field(
        default_factory=RemodelingSettings, description="Remodelling law."
    )
    coupling: CouplingSettings = Field(
        default_factory=CouplingSettings, description="Mechanics–biology coupling."
    )
    biology: ScenarioConfig = Field(
        default_factory=ScenarioConfig,
        description="Hormones, conditions and therapies over time (the systemic scenario).",
    )
    metrics: MetricsSettings = Field(default_factory=MetricsSettings, description="Metrics.")
    solver: SolverSettings = Field(default_factory=SolverSettings, description="Linear solver.")
    output: OutputSettings = Field(default_factory=OutputSettings, description="Outputs.")

    @model_validator(mode="before")
    @classmethod
    def _no_nan(cls, data: Any) -> Any:
        """NaN is never a valid setting (TOML allows it): reject it wherever it is."""
        found = _find_nan(data, ())
        if found is not None:
            raise FieldValueError(
                "nan (not a number) is not allowed here; give a finite number",
                field=".".join(str(p) for p in found),
                value=math.nan,
            )
        return data

    @model_validator(mode="after")
    def _consistency(self) -> Case:
        names = [lc.name for lc in self.load_cases]
        if len(set(names)) != len(names):
            raise ValueError(f"load case names must be unique, got {names}")
        periods = sorted(self.activity, key=lambda p: p.start_days)
        for a, b in itertools.pairwise(periods):
            if b.start_days < a.stop_days:
                raise ValueError(
                    f"activity periods overlap ([{a.start_days}, {a.stop_days}) and "
                    f"[{b.start_days}, {b.stop_days}) days)"
                )
        for lc in self.test_load_cases():
            if lc.name in names:
                raise ValueError(f"test load case '{lc.name}' has the name of a habitual load case")
        if (
            self.metrics.stiffness_test is not None
            and not self.metrics.stiffness_test.displacement_supports()
        ):
            raise ValueError(
                "metrics.stiffness_test needs a 'displacement' support (a virtual test)"
            )
        self._check_stiffness_test_moves()
        if self.metrics.fracture is not None and not any(
            load.type == "force" for load in self.metrics.fracture.load_case.loads
        ):
            raise ValueError(
                "metrics.fracture.load_case needs a 'force' load (the applied load in N)"
            )
        self._check_tests_every()
        for key in ("history_from_age_years", "baseline_t_score"):
            if getattr(self.biology, key) is not None and self.remodeling.law != "cells":
                raise ValueError(
                    f"biology.{key} needs remodeling.law = 'cells' (it runs the cell "
                    f"model's history), got '{self.remodeling.law}'"
                )
        return self

    def _check_stiffness_test_moves(self) -> None:
        """A stiffness test whose imposed displacements are all zero measures nothing."""
        test = self.metrics.stiffness_test
        if test is None:
            return
        moves = [
            d
            for d in test.displacement_supports()
            if any(v != 0.0 for v in d.vector()) or any(any(r) for r in d.gradient or [])
        ]
        if not moves:
            raise FieldValueError(
                "the virtual test imposes zero displacement everywhere, so its apparent "
                "stiffness would be 0/0; give a non-zero displacement value (mm), e.g. "
                "[0.0, 0.0, -0.05]",
                field="metrics.stiffness_test.supports",
                value=[list(d.vector()) for d in test.displacement_supports()],
            )

    def _check_tests_every(self) -> None:
        """``metrics.tests_every_days`` must be a multiple of ``output.metrics_every_days``."""
        every = self.metrics.tests_every_days
        if every is None:
            return
        rows = self.output.metrics_every_days
        k = round(every / rows)
        if k < 1 or abs(every - k * rows) > 1e-9 * every:
            examples = ", ".join(f"{j * rows:g}" for j in (1, 2, 4))
            raise FieldValueError(
                f"must be a multiple of output.metrics_every_days ({rows:g} days), e.g. "
                f"{examples} days, so that the tests fall on metrics rows; or leave it out to "
                "run the tests at every metrics row",
                field="metrics.tests_every_days",
                value=every,
            )

    def surfaces(self) -> set[str]:
        """Every surface name the case refers to."""
        out: set[str] = set()
        for lc in self.test_load_cases() + list(self.load_cases):
            out |= lc.surfaces()
        return out

    def load_scale(self, t: float) -> float:
        """Factor on the habitual loads at time t (days)."""
        return load_scale_at(self.activity, t)

    def activity_changes(self) -> list[float]:
        """Times (days) at which the activity changes (finite starts and stops)."""
        times = {p.start_days for p in self.activity} | {p.stop_days for p in self.activity}
        return sorted(t for t in times if math.isfinite(t))

    def test_load_cases(self) -> list[LoadCase]:
        """The virtual-test load cases (stiffness test, fracture load)."""
        out = []
        if self.metrics.stiffness_test is not None:
            out.append(self.metrics.stiffness_test)
        if self.metrics.fracture is not None:
            out.append(self.metrics.fracture.load_case)
        return out


def _find_nan(data: Any, path: tuple[str | int, ...]) -> tuple[str | int, ...] | None:
    """The location of the first NaN in nested dicts/lists, or None."""
    if isinstance(data, float) and math.isnan(data):
        return path
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list | tuple):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        found = _find_nan(value, (*path, key))
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------------------- loading
#: Discriminator tags pydantic puts into error locations of support/load unions.
_UNION_TAGS: tuple[str, ...] = ("fixed", "displacement", "elastic", "traction", "pressure", "force")
_UNION_TAGS += ("plane", "box", "sphere", "patch", "extreme")  # [[mesh.select]] types


def load_case(path: str | Path, overrides: Sequence[str] = (), comm: Any = None) -> Case:
    """Read and validate a case file.

    Args:
        path: the TOML case file.
        overrides: ``key=value`` changes applied before validation (``bonefem run --set``;
            :mod:`bonefem.config.overrides`).
        comm: an MPI communicator (collective): rank 0 reads the file and broadcasts its
            text, so every rank validates the same bytes and fails alike
            (:func:`bonefem.errors.on_rank_0`); None: this process reads it.

    Returns:
        The validated :class:`Case`.

    Raises:
        InputError: unreadable file, TOML syntax error, unknown key, wrong type, value out
            of range, inconsistent settings (the message names file, field and value).
    """
    path = Path(path)
    text = on_rank_0(comm, lambda: _read_case_text(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"TOML syntax error: {exc}", file=path) from None
    if overrides:
        try:
            apply_overrides(data, overrides)
        except InputError as exc:
            raise InputError(exc.reason, file=path, field=exc.field, value=exc.value) from None
    try:
        return parse_case(data, file=path)
    except InputError as exc:
        key = override_of(exc.field, overrides)
        if key is None:
            raise
        # the bad value came from the command line, not from the file
        source = f"{path} with --set {key}"
        raise InputError(exc.reason, file=source, field=exc.field, value=exc.value) from None


def _read_case_text(path: Path) -> str:
    """The case file's text, or an InputError that names the file and what is wrong."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("case file not found", file=path) from None
    except IsADirectoryError:
        raise InputError("the case file is a folder; give a TOML file", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the case file: {exc.strerror}", file=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(
            f"the case file is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
            f"{exc.start}); save it as UTF-8",
            file=path,
        ) from None


def parse_case(data: dict[str, Any], *, file: str | Path | None = None) -> Case:
    """Validate a case given as a dictionary (as read from TOML)."""
    try:
        # strict: "14" is not taken as 14 (TOML has numbers; a quoted one is a mistake)
        return Case.model_validate(data, strict=True)
    except ValidationError as exc:
        raise validation_to_input_error(exc, file, Case, drop=_UNION_TAGS) from None


def case_to_toml_dict(case: Case) -> dict[str, Any]:
    """The case as plain data (JSON-compatible), e.g. for the run folder's case_as_run.json."""
    data: dict[str, Any] = json.loads(case.model_dump_json())
    return data


# ------------------------------------------------------------------------ reference
def _type_text(annotation: Any) -> str:
    """A short readable rendering of a field's type for the reference."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args)
    if origin is typing.Literal:
        return " / ".join(repr(a) for a in args)
    if origin is list:
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict:
        return f"table of {_type_text(args[1])}" if len(args) == 2 else "table"
    if annotation is type(None):
        return "none"
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(info: Any) -> str:
    parts = []
    for meta in info.metadata:
        for attr, sym in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            v = getattr(meta, attr, None)
            if v is not None:
                parts.append(f"{sym} {v}")
        for attr in ("min_length", "max_length"):
            v = getattr(meta, attr, None)
            if v is not None:
                parts.append(f"{attr.replace('_', ' ')} {v}")
    return ", ".join(parts)


def _default_text(info: Any) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        try:
            value = info.default_factory()
        except TypeError:
            return "(see below)"
        if isinstance(value, BaseModel):
            return "(see section)"
        if isinstance(value, dict) and value and isinstance(next(iter(value.values())), BaseModel):
            value = {k: v.model_dump(exclude_defaults=True) for k, v in value.items()}
        return f"`{json.dumps(value)}`"
    value = info.default
    if isinstance(value, float) and math.isinf(value):
        return "`inf`"
    return f"`{json.dumps(value) if not isinstance(value, BaseModel) else '…'}`"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    out: list[type[BaseModel]] = []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    for arg in getattr(annotation, "__args__", ()) or ():
        out += _models_in(arg)
    return out


def case_reference_markdown() -> str:
    """The case-file reference (Markdown), generated from the schema."""
    lines = [
        "# Case-file reference",
        "",
        "<!-- Generated by `python -m bonefem.config.case > docs/case-reference.md`; "
        "do not edit. -->",
        "",
        "A case file is TOML. Units: mm, N, MPa, days, g/cm³, pM (stated per field). Unknown",
        "keys are errors. Tables below follow the nesting of the file; `[[load_cases]]` and",
        "other lists of tables are written as arrays of tables.",
        "",
    ]
    seen: set[type[BaseModel]] = set()

    def section(model: type[BaseModel], path: str) -> None:
        if model in seen:
            shown = f"[[{path[:-2]}]]" if path.endswith("[]") else f"[{path}]"
            lines.extend([f"## `{shown}`", "", f"Same fields as `{model.__name__}` above.", ""])
            return
        seen.add(model)
        doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
        title = (
            (f"`[[{path[:-2]}]]`" if path.endswith("[]") else f"`[{path}]`")
            if path
            else "Top level"
        )
        lines.extend([f"## {title} — {model.__name__}", "", doc, ""])
        lines.append("| key | type | default | allowed | description |")
        lines.append("|---|---|---|---|---|")
        children: list[tuple[str, type[BaseModel]]] = []
        for name, info in model.model_fields.items():
            desc = (info.description or "").replace("|", "\\|").replace("\n", " ")
            tname = _type_text(info.annotation).replace("|", "\\|")
            allowed = _constraints(info).replace("|", "\\|")
            lines.append(f"| `{name}` | {tname} | {_default_text(info)} | {allowed} | {desc} |")
            child = f"{path.removesuffix('[]')}.{name}" if path else name
            origin = getattr(info.annotation, "__origin__", None)
            if origin is list:
                child += "[]"
            elif origin is dict:
                child += ".<name>"
            for sub in _models_in(info.annotation):
                children.append((child, sub))
        lines.append("")
        for child_path, sub in children:
            section(sub, child_path)

    section(Case, "")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(case_reference_markdown(), end="")
