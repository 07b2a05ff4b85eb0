"""The state of a coupled run: named per-cell arrays and the loop's scalars.

One home for what a run carries from step to step and what a checkpoint stores:
:class:`RunState` (per owned cell) with :class:`LoopState` (scalars), a snapshot for the
roll-back after a failed step, and the checkpoint arrays. :class:`RunView` is the
read-only picture of a run that metrics and output writers receive: they never see, or
change, the loop.

Units: f, m dimensionless; E in MPa; Ψ (daily strain energy density) in MPa; cell
concentrations in pM; times in days.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Rows of :attr:`RunState.cells` (the cell-model state, :data:`bonefem.biology.STATE_NAMES`).
CELL_ROWS = ("OBp", "OBa", "OCa", "f", "m", "Ds", "z1", "z2")


#: Loop scalars renamed since older checkpoints: old key -> :class:`LoopState` field.
RENAMED_LOOP_KEYS = {"h_last": "h_next"}


@dataclass
class LoopState:
    """Scalar state of the loop (saved in checkpoints under ``meta["state"]["loop"]``).

    Attributes:
        t: simulated time (days).
        step: completed steps.
        h_next: the first substep of the cell-model integrator at the next advance (days):
            the step-size controller's proposal at the end of the last one, or None.
            Checkpoints of bonefem ≤ 0.2 stored the last accepted substep as ``h_last``;
            they restart with it.
        mechanics_solves: habitual re-solves so far.
        ksp_iterations: Krylov iterations of the habitual solves so far.
        next_metrics, next_fields, next_checkpoint: index of the next scheduled output.
        baseline: the first metrics row (reference of the ``*_pct_change`` columns).
    """

    t: float = 0.0
    step: int = 0
    h_next: float | None = None
    mechanics_solves: int = 0
    ksp_iterations: int = 0
    next_metrics: int = 1
    next_fields: int = 1
    next_checkpoint: int = 1
    baseline: dict[str, float] = field(default_factory=dict)

    def copy(self) -> LoopState:
        """An independent copy."""
        return LoopState(**{**asdict(self), "baseline": dict(self.baseline)})


@dataclass
class RunState:
    """Per-cell state of a run (owned cells of this rank) and the loop scalars.

    Attributes:
        cells: cell-model state, shape (8, n): OBp, OBa, OCa (pM), f (BV/TV, -), m (mineral
            volume fraction of the matrix, -), Ds (slow mineral deficit, -), z1, z2 (delayed
            formation activity, pM); see :data:`CELL_ROWS`.
        E: Young's modulus now (MPa).
        E_solved: Young's modulus at the last habitual solve (MPa).
        psi_solved: daily strain energy density Ψ at the last solve (MPa).
        ratio_solved: relative stimulus at the last solve (filtered, -).
        f_solved: BV/TV at the last solve (-).
        psi_ss: homeostatic Ψ of each cell (MPa): the initial healthy state's.
        rho0: initial apparent density (g/cm³).
        loop: the scalars.
    """

    cells: FloatArray
    E: FloatArray
    E_solved: FloatArray
    psi_solved: FloatArray
    ratio_solved: FloatArray
    f_solved: FloatArray
    psi_ss: FloatArray
    rho0: FloatArray
    loop: LoopState = field(default_factory=LoopState)

    #: the cell-model state's checkpoint name (stored cell-major, (n, 8); (n, 5) in 0.1)
    CELLS_KEY = "state"
    #: the other per-cell arrays of a checkpoint (same names as the attributes)
    CHECKPOINT = (
        "E_solved",
        "psi_solved",
        "ratio_solved",
        "f_solved",
        "psi_ss",
        "rho0",
    )

    @property
    def f(self) -> FloatArray:
        """Bone volume fraction BV/TV per cell (-)."""
        return self.cells[3]

    @property
    def m(self) -> FloatArray:
        """Mineral volume fraction of the bone matrix per cell (-)."""
        return self.cells[4]

    def snapshot(self) -> RunState:
        """A deep copy (the roll-back point of a failed step)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        arrays = {k: v.copy() for k, v in values.items() if isinstance(v, np.ndarray)}
        return RunState(**arrays, loop=self.loop.copy())

    def checkpoint_arrays(self) -> dict[str, FloatArray]:
        """The per-cell arrays a restart needs (names as in bonefem 0.1 checkpoints)."""
        out = {name: getattr(self, name) for name in self.CHECKPOINT}
        return {self.CELLS_KEY: self.cells.T, **out}

    def checkpoint_meta(self) -> dict[str, Any]:
        """The scalars a restart needs."""
        return {"loop": asdict(self.loop)}

    @classmethod
    def from_checkpoint(
        cls,
        meta: Mapping[str, Any],
        arrays: Mapping[str, FloatArray],
        modulus: Callable[[FloatArray, FloatArray], FloatArray],
        complete: Callable[[FloatArray], FloatArray] | None = None,
    ) -> RunState:
        """Rebuild the state from a checkpoint (``meta`` and arrays of the store).

        Args:
            meta: the checkpoint's metadata (``meta["state"]["loop"]``: the loop scalars).
            arrays: per-cell arrays by name (:attr:`CELLS_KEY` and :attr:`CHECKPOINT`).
            modulus: E(f, m) in MPa, to recompute the current modulus.
            complete: completes a state of an older layout (bonefem 0.1: 5 rows) to the
                law's rows (:func:`bonefem.biology.cells.complete_state`).
        """
        cells = np.ascontiguousarray(arrays[cls.CELLS_KEY].T)
        if complete is not None:
            cells = np.ascontiguousarray(complete(cells))
        rest = {name: arrays[name] for name in cls.CHECKPOINT}
        scalars = {RENAMED_LOOP_KEYS.get(k, k): v for k, v in meta["state"]["loop"].items()}
        loop = LoopState(**scalars)
        return cls(cells=cells, E=modulus(cells[3], cells[4]), loop=loop, **rest)


@dataclass(frozen=True)
class CellGeometry:
    """The owned cells of this rank: regions and volumes.

    Attributes:
        n: number of owned cells.
        region_index: region index per owned cell (into ``region_names``).
        region_names: names of the regions.
        volumes: cell volumes (mm³).
        tags: the mesh's region tag per owned cell.
    """

    n: int
    region_index: npt.NDArray[np.int32]
    region_names: list[str]
    volumes: FloatArray
    tags: npt.NDArray[np.int32]


@dataclass(frozen=True)
class RunView:
    """A read-only picture of a run at one time, for metrics and output writers.

    Attributes:
        t: time (days).
        step: completed steps.
        state: the run state (do not modify).
        geometry: regions and volumes of the owned cells.
        density: apparent density per cell (g/cm³).
        mineral_density: mineral mass per total volume per cell (g/cm³).
        stimulus: relative stimulus Ψ/Ψ_ss per cell now (-).
        sed: daily strain energy density per cell now (MPa).
        signals: systemic signal levels at t (``signal_*`` columns; units in their names).
        derived: cell-model derived fields (RANKL, OPG, ... in pM) at t, computed on demand
            (once per view: the metrics and every output field share it).
        turnover: bone volume formed and resorbed per total volume and day (1/day) per
            owned cell at t, computed on demand (once per view); None for a law without
            them (Huiskes).
        displacement: displacement (mm) of the first habitual load case at the last
            solve, per point of the output mesh, computed on demand.
    """

    t: float
    step: int
    state: RunState
    geometry: CellGeometry
    density: FloatArray
    mineral_density: FloatArray
    stimulus: FloatArray
    sed: FloatArray
    signals: Mapping[str, float]
    derived: Callable[[], Mapping[str, FloatArray]]
    displacement: Callable[[], FloatArray]
    turnover: Callable[[], tuple[FloatArray, FloatArray] | None] = lambda: None
