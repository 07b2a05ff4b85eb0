"""From a validated case and its mesh to the coupled model.

The one place where option strings of the case file become objects.
:func:`build` reads ``remodeling.law``, ``remodeling.parameters``, ``coupling.stimulus``,
``coupling.local_update``, the metrics and the output fields, and returns a
:class:`CoupledModel` -- the loop (:mod:`bonefem.coupling.loop`) runs it without looking
at the case again. Registries live with their concepts: remodelling laws in
:mod:`bonefem.remodeling.law`, metrics in :mod:`bonefem.metrics.evaluator`, output fields
in :mod:`bonefem.output.fields`; the small tables of strategies are here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants, fe_constants
from bonefem.biology.cells import BoneCellModel
from bonefem.biology.densitometry import (
    YOUNG_ADULT_REFERENCE,
    peak_scale_for_t_score,
    relative_abmd,
)
from bonefem.biology.history import CohortHistory
from bonefem.biology.parameters import (
    PIVONKA_2008,
    CellParameters,
    cell_parameters,
    remodeling_parameters,
)
from bonefem.biology.signals import ScenarioSignals, build_signals
from bonefem.config.case import Case
from bonefem.coupling.initial import INITIAL_BVTV, INITIAL_MINERAL_DENSITY, initial_bvtv
from bonefem.coupling.material import BoneMaterial
from bonefem.coupling.schedule import Schedule, output_times
from bonefem.coupling.stimulus import (
    ApparentStimulus,
    FrozenUpdate,
    LocalUpdate,
    StimulusDefinition,
    StimulusModel,
    StressUpdate,
    TissueStimulus,
)
from bonefem.errors import InputError
from bonefem.filtering import HelmholtzFilter
from bonefem.mechanics import ElasticityProblem
from bonefem.mesh.bonemesh import BoneMesh
from bonefem.metrics.evaluator import MetricContext, MetricsEvaluator
from bonefem.remodeling.law import LawContext, RemodelingLaw, make_law
from bonefem.state import CellGeometry

FloatArray = npt.NDArray[np.float64]
logger = logging.getLogger("bonefem")

#: ``remodeling.parameters`` -> the cell parameter set, given the calibrated constants
PARAMETER_SETS: dict[str, Callable[[CalibratedConstants], CellParameters]] = {
    "scheiner2013": cell_parameters,
    "pivonka2008": lambda c: PIVONKA_2008,
}
#: ``coupling.stimulus`` -> what the cells sense
STIMULI: dict[str, Callable[[], StimulusDefinition]] = {
    "tissue": TissueStimulus,
    "apparent": ApparentStimulus,
}
#: ``coupling.local_update`` -> the stimulus update between elasticity solves
LOCAL_UPDATES: dict[str, Callable[[], LocalUpdate]] = {
    "stress": StressUpdate,
    "none": FrozenUpdate,
}


@dataclass
class CoupledModel:
    """Everything the coupled loop runs, built once from the case and the mesh.

    Attributes:
        bone: the mesh (cell order = mesh file order).
        geometry: regions and volumes of the owned cells.
        material: densities and moduli from the bone state.
        law: the remodelling law.
        signals: hormones and drugs over time.
        stimulus: the mechanical stimulus model.
        mechanics: the elasticity problem (habitual and virtual-test load cases).
        habitual: names of the habitual load cases.
        metrics: the metrics evaluator.
        fields: names of the output fields (registry :mod:`bonefem.output.fields`).
        schedule: step limits and output times.
        f0: initial BV/TV per owned cell (-): the region's, or the mesh's per-cell initial
            state (:mod:`bonefem.coupling.initial`).
        t_score_anchor: with ``biology.baseline_t_score``, the aBMD at t = 0 relative to
            the young-adult mean (-) and the site's young-adult mean / SD (-), from which
            the loop reports the ``t_score`` column, T = (ratio aBMD/aBMD₀ − 1) mean/SD;
            None otherwise.
    """

    bone: BoneMesh
    geometry: CellGeometry
    material: BoneMaterial
    law: RemodelingLaw
    signals: ScenarioSignals
    stimulus: StimulusModel
    mechanics: ElasticityProblem
    habitual: list[str]
    metrics: MetricsEvaluator
    fields: tuple[str, ...]
    schedule: Schedule
    f0: FloatArray
    t_score_anchor: tuple[float, float] | None = None


def check_case_against_mesh(case: Case, bone: BoneMesh, file: str | None = None) -> None:
    """Raise :class:`InputError` if the case names surfaces or regions the mesh lacks.

    Every surface of a load case must exist; every region of the mesh needs a material;
    material entries the case sets explicitly must name regions of the mesh; a cohort
    history and a baseline T-score need per-region initial BV/TV (not a mesh's per-cell
    initial state).
    """
    bone.require_surfaces(sorted(case.surfaces()), file=file, field="load_cases")
    materials = case.material.regions
    if "regions" in case.material.model_fields_set:
        bone.require_regions(materials, file=file, field="material.regions")
    missing = [r for r in bone.region_names if r not in materials]
    if missing:
        raise InputError(
            f"the mesh has regions {', '.join(missing)} without material; add "
            f"[material.regions.{missing[0]}] (bvtv and modulus)",
            file=file,
            field="material.regions",
        )
    per_cell = [k for k in (INITIAL_BVTV, INITIAL_MINERAL_DENSITY) if k in bone.cell_data]
    if per_cell and case.biology.baseline_t_score is not None:
        raise InputError(
            f"the mesh carries a per-cell initial state ('{per_cell[0]}', e.g. from "
            "[mesh.image.density]): its density is measured, so a baseline T-score cannot "
            "rescale it; remove baseline_t_score or the density mapping",
            file=file,
            field="biology.baseline_t_score",
            value=case.biology.baseline_t_score,
        )
    if per_cell and case.biology.history_from_age_years is not None:
        raise InputError(
            f"the mesh carries a per-cell initial state ('{per_cell[0]}', e.g. from "
            "[mesh.image.density]): it is the bone at t = 0, so a cohort history from a "
            "younger age cannot start from it; remove history_from_age_years (the scan is "
            "the state at age_at_start_years) or the density mapping",
            file=file,
            field="biology.history_from_age_years",
            value=case.biology.history_from_age_years,
        )


def _geometry(case: Case, bone: BoneMesh, volumes: FloatArray) -> CellGeometry:
    n = bone.num_cells_local
    index = bone.owned_region_index()
    tags = bone.cell_tags.values[:n].astype(np.int32)
    return CellGeometry(n, index, list(bone.region_names), volumes, tags)


def cell_model_and_signals(
    case: Case, constants: CalibratedConstants | None = None
) -> tuple[BoneCellModel, ScenarioSignals]:
    """The case's cell model and signals (no mesh needed); finite-element constants."""
    c = constants or CALIBRATED
    rc = case.remodeling
    params = PARAMETER_SETS[rc.parameters](c)
    model = BoneCellModel(
        params,
        remodeling_parameters(c),
        rtol_cells=rc.cell_rtol,
        rtol_bone=rc.bone_rtol,
        integrator=rc.integrator,
    )
    return model, build_signals(case.biology, fe_constants(c), params)


def peak_scale(case: Case, model: BoneCellModel, signals: ScenarioSignals) -> float:
    """The factor on every region's young-adult BV/TV for ``biology.baseline_t_score``.

    1 without a T-score. The two compartments of the site mapping are the regions named
    ``trabecular`` and ``cortical`` (else the 0-D points 0.15 and 0.95);
    :mod:`bonefem.biology.densitometry`. Raises :class:`InputError` when a scaled region
    (any of the case's) leaves the cell model's BV/TV range.
    """
    b = case.biology
    if b.baseline_t_score is None:
        return 1.0
    regions = case.material.regions
    trabecular, cortical = (
        regions[name].bvtv if name in regions else default
        for name, default in (("trabecular", 0.15), ("cortical", 0.95))
    )
    scale = peak_scale_for_t_score(
        model,
        signals,
        (trabecular, cortical),
        b.history_years,
        b.baseline_t_score,
        b.baseline_site,
        field="biology.baseline_t_score",
        scaled=tuple(region.bvtv for region in regions.values()),
    )
    logger.info(
        "baseline T-score %+.2f at %s: young-adult BV/TV x %.4f (the cohort's mean person: "
        "T = %+.2f at t = 0)",
        b.baseline_t_score,
        b.baseline_site,
        scale.k,
        scale.mean_person_t_score,
    )
    return scale.k


def _t_score_anchor(case: Case) -> tuple[float, float] | None:
    b = case.biology
    if b.baseline_t_score is None:
        return None
    mean, sd, _ = YOUNG_ADULT_REFERENCE[b.baseline_site]
    return relative_abmd(b.baseline_t_score, b.baseline_site), mean / sd


def _history(
    case: Case, model: BoneCellModel, signals: ScenarioSignals, scale: float
) -> CohortHistory | None:
    """The cohort history of the case (at each region's BV/TV), or None (healthy start)."""
    if case.biology.history_from_age_years is None:
        return None
    f0 = scale * np.array([r.bvtv for r in case.material.regions.values()], dtype=float)
    return CohortHistory.run(model, signals, f0, case.biology.history_years)


def _mechanics(case: Case, bone: BoneMesh, clock: Callable[[], float]) -> ElasticityProblem:
    materials = case.material.regions
    poisson = {name: materials[name].modulus.poisson_ratio for name in bone.region_names}
    options: dict[str, str | int | float | bool] = {"ksp_rtol": case.solver.rtol}
    options.update(case.solver.petsc_options)
    return ElasticityProblem(
        bone,
        list(case.load_cases) + case.test_load_cases(),
        poisson_ratio=poisson,
        petsc_options=options,
        refresh_factor=case.solver.refresh_factor,
        clock=clock,
        galerkin_product=case.solver.galerkin_product,
        case_rtol={lc.name: case.solver.test_rtol for lc in case.test_load_cases()},
    )


def _schedule(case: Case) -> Schedule:
    run, out = case.run, case.output
    return Schedule(
        duration=run.duration_days,
        max_step=run.biology_step_days,
        metrics=output_times(run.duration_days, out.metrics_every_days),
        fields=output_times(run.duration_days, out.fields_every_days),
        checkpoints=output_times(run.duration_days, out.checkpoint_every_days),
        activity_changes=case.activity_changes(),
        load_scale=case.load_scale,
        modulus_tolerance=case.coupling.modulus_tolerance,
    )


def build(
    case: Case,
    bone: BoneMesh,
    *,
    constants: CalibratedConstants | None = None,
    case_file: str | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> CoupledModel:
    """Build the coupled model of ``case`` on ``bone`` (collective).

    Args:
        case: the validated case.
        bone: the mesh, read from the run folder (cell order = mesh file order).
        constants: calibrated constants (default: the shipped calibration); finite-element
            runs apply :func:`~bonefem.biology.calibrated.fe_constants` to them.
        case_file: path of the case file, for messages.
        clock: clock of the solver statistics (s), e.g. ``time.process_time`` in benchmarks.

    Raises:
        InputError: the case does not fit the mesh.
    """
    check_case_against_mesh(case, bone, case_file)
    rc = case.remodeling
    model, signals = cell_model_and_signals(case, constants)
    scale = peak_scale(case, model, signals)
    law = make_law(LawContext(rc, model, signals, _history(case, model, signals, scale)))
    mech = _mechanics(case, bone, clock)
    geometry = _geometry(case, bone, mech.cell_volumes)
    materials = case.material.regions
    names = geometry.region_names
    material = BoneMaterial(
        law.params, geometry.region_index, [materials[name].modulus for name in names]
    )
    f0, _ = initial_bvtv(
        geometry.n,
        bone.cell_data,
        scale
        * np.array([materials[name].bvtv for name in names], dtype=float)[geometry.region_index],
        lambda f: np.asarray(law.initial_state(f)[4]),
        law.params,
        source=bone.source,
        comm=bone.comm,
    )
    cp = case.coupling
    ell = cp.stimulus_filter_mm
    stimulus = StimulusModel(
        STIMULI[cp.stimulus](),
        LOCAL_UPDATES[cp.local_update](),
        material,
        np.array([lc.cycles_per_day for lc in case.load_cases]),
        cp.stimulus_exponent,
        f0,
        HelmholtzFilter(bone, ell) if ell > 0 else None,
    )
    metrics = MetricsEvaluator(MetricContext(case, bone, geometry, material, mech))
    return CoupledModel(
        bone=bone,
        geometry=geometry,
        material=material,
        law=law,
        signals=signals,
        stimulus=stimulus,
        mechanics=mech,
        habitual=[lc.name for lc in case.load_cases],
        metrics=metrics,
        fields=tuple(case.output.fields),
        schedule=_schedule(case),
        f0=f0,
        t_score_anchor=_t_score_anchor(case),
    )
