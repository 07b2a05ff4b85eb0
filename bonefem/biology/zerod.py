"""0-D mode: the cell model at a trabecular and a cortical point, without a mesh.

``run_zero_d(config, t_end_days)`` integrates two points (trabecular and cortical bone of
one site) for decades in seconds and returns a :class:`ZeroDResult` table; ``write_outputs``
writes it as CSV and as a figure. :func:`load_zero_d_case` reads ``cases/biology/*.toml``;
:func:`cli_main` is the ``bonefem biology SCENARIO [--output DIR]`` command.

Mechanical feedback without a mesh (ASSUMPTION, ``run.mechanical_feedback = "stress"``):
the habitual stress is constant, so the strain energy density scales as 1/E, and with the
Hernandez et al. (2001) law E ~ f^2.58 * ash^2.74 (used by Martínez-Reina et al. 2019)
Psi/Psi_ss = (f0/f)^2.58 * (ash0/ash)^2.74 per point
(:func:`bonefem.biology.history.stress_feedback`). With ``history_from_age_years`` the run
starts from the state a 0-D history reached at t = 0 (:mod:`bonefem.biology.history`);
with ``baseline_t_score`` both points' young-adult BV/TV are first scaled so that the
site's T-score at t = 0 is the given one (:mod:`bonefem.biology.densitometry`); changes are
relative to t = 0, T-scores to the mean young adult. Periods of changed activity
(``[[activity]]`` tables, as in the FE case files) scale the habitual stress by their
``load_scale`` s, so the stimulus by s^2: Psi/Psi_ss = s^2 (f0/f)^2.58 (ash0/ash)^2.74
(disuse in 0-D; the output steps are split at every activity change).

Areal BMD (DXA) change of a site is the change of mineral mass f * m, weighted between the
trabecular and cortical compartment by their share of the site's mineral at baseline
(ASSUMPTION, see :data:`SITE_TRABECULAR_SHARE`).
"""

from __future__ import annotations

import argparse
import csv
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.biology.cells import BoneCellModel, formation_activity
from bonefem.biology.densitometry import (
    SITE_TRABECULAR_SHARE,
    peak_scale_for_t_score,
    t_score,
)
from bonefem.biology.history import CohortHistory, stress_feedback
from bonefem.biology.parameters import (
    PIVONKA_2008,
    cell_parameters,
    remodeling_parameters,
)
from bonefem.biology.signals import build_signals
from bonefem.config.case import ActivityPeriod, load_scale_at
from bonefem.config.scenario import ScenarioConfig
from bonefem.errors import InputError, validation_to_input_error
from bonefem.remodeling import ash_fraction
from bonefem.remodeling.bone import per_bone_volume_pct_per_year

__all__ = [
    "SITE_TRABECULAR_SHARE",
    "SKELETAL_TRABECULAR_SHARE",
    "RunConfig",
    "ZeroDCase",
    "ZeroDResult",
    "cli_main",
    "load_zero_d_case",
    "run_zero_d",
    "write_outputs",
]

FloatArray = npt.NDArray[np.float64]


class RunConfig(BaseModel):
    """How a 0-D scenario is run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duration_years: float = Field(
        default=10.0, gt=0.0, le=100.0, description="simulated time (years)"
    )
    step_days: float = Field(default=7.0, gt=0.0, le=365.0, description="output/outer step (days)")
    f_trabecular: float = Field(
        default=0.15, ge=0.03, le=0.6, description="BV/TV of the trabecular point (dimensionless)"
    )
    f_cortical: float = Field(
        default=0.95, ge=0.6, le=0.97, description="BV/TV of the cortical point (dimensionless)"
    )
    mechanical_feedback: Literal["stress", "none"] = Field(
        default="stress", description="local mechanical feedback without a mesh (-)"
    )
    parameters: Literal["scheiner2013", "pivonka2008"] = Field(
        default="scheiner2013", description="cell parameter set (-)"
    )


class ZeroDCase(BaseModel):
    """A 0-D case file: ``[scenario]`` and ``[run]`` tables."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: ScenarioConfig = Field(
        default_factory=lambda: ScenarioConfig(), description="scenario"
    )
    run: RunConfig = Field(default_factory=lambda: RunConfig(), description="run settings")
    activity: list[ActivityPeriod] = Field(
        default_factory=list,
        description="periods of changed activity: habitual stress x load_scale (-), days",
    )


@dataclass
class ZeroDResult:
    """Table of a 0-D run; every column an array over output times.

    Attributes:
        columns: name -> values; names carry units (``_pM``, ``_days``, ``_pct``...).
        name: scenario name.
    """

    columns: dict[str, FloatArray]
    name: str = "scenario"

    def __getitem__(self, key: str) -> FloatArray:
        return self.columns[key]

    def at(self, key: str, t_days: float) -> float:
        """Value of a column at time t (days), linear interpolation."""
        return float(np.interp(t_days, self.columns["time_days"], self.columns[key]))


def make_model(run: RunConfig, constants: CalibratedConstants = CALIBRATED) -> BoneCellModel:
    """Cell model for a run: Scheiner 2013 with the calibrated lambda, or Pivonka 2008."""
    if run.parameters == "scheiner2013":
        return BoneCellModel(
            cell_parameters(constants),
            remodeling_parameters(constants),
        )
    return BoneCellModel(PIVONKA_2008, remodeling_parameters(constants))


def run_zero_d(
    scenario: ScenarioConfig,
    t_end_days: float,
    *,
    run: RunConfig | None = None,
    constants: CalibratedConstants = CALIBRATED,
    model: BoneCellModel | None = None,
    activity: Sequence[ActivityPeriod] = (),
) -> ZeroDResult:
    """Run a scenario at one trabecular and one cortical point (no mesh).

    Args:
        scenario: validated scenario.
        t_end_days: simulated time (days).
        run: run settings (points, step, feedback); default :class:`RunConfig`.
        constants: calibrated constants to use.
        model: cell model to use (default from ``run.parameters``).
        activity: periods of changed activity (habitual stress x ``load_scale``; disuse).

    Returns:
        :class:`ZeroDResult` with columns ``time_days``, ``time_years``, per point
        (suffix ``_trab``/``_cort``) ``OBp_pM``, ``OBa_pM``, ``OCa_pM``,
        ``OBa_formation_pM`` (the delayed formation activity), ``RANKL_pM``,
        ``OPG_pM``, ``bvtv``, ``mineral``, ``bvtv_change_pct``, ``bfr_bv_pct_per_year``
        and ``resorption_pct_per_year`` (%/year); the skeleton's
        ``formation_marker_change_pct`` and ``resorption_marker_change_pct`` (%, the
        model's P1NP and CTX: :func:`_turnover_columns`); per site
        ``abmd_change_pct_<site>`` and ``t_score_<site>`` (SD, against the young-adult
        reference of :mod:`bonefem.biology.densitometry`, the mean young adult of the run's
        BV/TV at T = 0); and the signal levels.
    """
    run = run or RunConfig()
    mdl = model or make_model(run, constants)
    sig = build_signals(scenario, constants, mdl.params)
    f0 = np.array([run.f_trabecular, run.f_cortical])
    years = scenario.history_years
    if scenario.baseline_t_score is not None:
        peak = peak_scale_for_t_score(
            mdl,
            sig,
            (run.f_trabecular, run.f_cortical),
            years,
            scenario.baseline_t_score,
            scenario.baseline_site,
            field="scenario.baseline_t_score",
        )
        f0 = f0 * peak.k
    young = mdl.healthy_state(np.array([run.f_trabecular, run.f_cortical]))
    reference_fm = young[3] * young[4]
    state = mdl.healthy_state(f0)
    ash0 = ash_fraction(state[4])
    if years > 0.0:
        state = CohortHistory.run(mdl, sig, f0, years).state(f0)

    times = _output_times(t_end_days, run.step_days, activity)
    states = np.empty((times.size, *state.shape))
    states[0] = state
    for k in range(times.size - 1):
        t, t1 = float(times[k]), float(times[k + 1])
        if run.mechanical_feedback == "stress":
            m_now, scale = state[4].copy(), load_scale_at(activity, t)

            def stim(f: FloatArray, m_now: FloatArray = m_now, s: float = scale) -> FloatArray:
                return stress_feedback(f0, ash0, f, m_now, s)

            res = mdl.advance(state, t, t1 - t, sig, stim)
        else:
            res = mdl.advance(state, t, t1 - t, sig)
        state = res.state
        states[k + 1] = state
    ratios = None
    if run.mechanical_feedback == "stress":
        ratios = np.array(
            [
                stress_feedback(f0, ash0, s[3], s[4], load_scale_at(activity, float(t)))
                for t, s in zip(times, states, strict=True)
            ]
        )
    return _tabulate(mdl, sig, times, states, reference_fm, scenario.name, ratios)


def _output_times(t_end: float, step: float, activity: Sequence[ActivityPeriod]) -> FloatArray:
    """Output times 0, step, ... t_end (days) with every activity change inserted."""
    n_out = math.ceil(t_end / step - 1e-9)
    times = np.minimum(np.arange(n_out + 1) * step, t_end)
    changes = [
        c
        for p in activity
        for c in (p.start_days, p.stop_days)
        if 0.0 < c < t_end and np.min(np.abs(times - c)) > 1e-9
    ]
    return np.unique(np.concatenate([times, np.asarray(changes, dtype=float)]))


SKELETAL_TRABECULAR_SHARE = 0.2
"""Share of the adult skeleton's bone that is trabecular (dimensionless; the rest,
cortical): "80 % cortical and 20 % trabecular bone overall" (Clarke 2008, Clin J Am Soc
Nephrol 3:S131). Weights the two points in the 0-D turnover markers (ASSUMPTION: the
serum markers see the skeleton's formation and resorption, each compartment turning over
as its point)."""


def _turnover_columns(
    mdl: BoneCellModel, sig: object, times: FloatArray, states: FloatArray
) -> dict[str, FloatArray]:
    """Turnover per point and the skeleton's turnover markers (:func:`run_zero_d`).

    Per point: ``bfr_bv_pct_per_year`` and ``resorption_pct_per_year`` (bone volume formed
    and resorbed per bone volume, %/year: BFR/BV and its resorption counterpart); the
    skeleton's ``formation_marker_change_pct`` and ``resorption_marker_change_pct`` (%):
    the change from t = 0 of the formation and resorption of a skeleton whose bone is
    :data:`SKELETAL_TRABECULAR_SHARE` trabecular at t = 0, each compartment forming and
    resorbing per volume as its point -- the model's counterpart of serum P1NP and CTX.
    """
    from bonefem.biology.signals import ScenarioSignals

    assert isinstance(sig, ScenarioSignals)
    rates = np.array([mdl.turnover_at(states[k], sig, float(t)) for k, t in enumerate(times)])
    f = states[:, 3, :]  # (n_times, 2): rates[:, 0] formation, rates[:, 1] resorption
    cols: dict[str, FloatArray] = {}
    for j, suffix in enumerate(("trab", "cort")):
        cols[f"bfr_bv_pct_per_year_{suffix}"] = per_bone_volume_pct_per_year(
            rates[:, 0, j], f[:, j]
        )
        cols[f"resorption_pct_per_year_{suffix}"] = per_bone_volume_pct_per_year(
            rates[:, 1, j], f[:, j]
        )
    share = np.array([SKELETAL_TRABECULAR_SHARE, 1.0 - SKELETAL_TRABECULAR_SHARE])
    for i, name in enumerate(("formation", "resorption")):
        skeleton = (rates[:, i, :] / f[0] * share).sum(axis=1)
        cols[f"{name}_marker_change_pct"] = 100.0 * (skeleton / skeleton[0] - 1.0)
    return cols


def _tabulate(
    mdl: BoneCellModel,
    sig: object,
    times: FloatArray,
    states: FloatArray,
    reference_fm: FloatArray,
    name: str,
    ratios: FloatArray | None = None,
) -> ZeroDResult:
    """The result table.

    ``reference_fm`` (2,) is f·m of the mean young adult's healthy state, the reference of
    the T-score columns; ``ratios`` (n_times, 2) is Ψ/Ψ_ss at each output (None: no
    mechanical feedback), so the RANKL column includes the disuse production.
    """
    from bonefem.biology.signals import ScenarioSignals

    assert isinstance(sig, ScenarioSignals)
    cols: dict[str, FloatArray] = {"time_days": times, "time_years": times / 365.25}
    rankl = np.empty((times.size, 2))
    opg = np.empty((times.size, 2))
    for k, t in enumerate(times):
        psi = None if ratios is None else ratios[k]
        d = mdl.signalling(states[k, 0], states[k, 1], states[k, 2], sig.effects(float(t)), psi)
        rankl[k], opg[k] = d["RANKL"], d["OPG"]
    mineral = states[:, 3, :] * states[:, 4, :]
    mineral_change = mineral / mineral[0] - 1.0
    for j, suffix in enumerate(("trab", "cort")):
        cols[f"OBp_pM_{suffix}"] = states[:, 0, j]
        cols[f"OBa_pM_{suffix}"] = states[:, 1, j]
        cols[f"OCa_pM_{suffix}"] = states[:, 2, j]
        cols[f"OBa_formation_pM_{suffix}"] = formation_activity(mdl.remodeling, states[:, :, j].T)
        cols[f"RANKL_pM_{suffix}"] = rankl[:, j]
        cols[f"OPG_pM_{suffix}"] = opg[:, j]
        cols[f"bvtv_{suffix}"] = states[:, 3, j]
        cols[f"mineral_{suffix}"] = states[:, 4, j]
        cols[f"bvtv_change_pct_{suffix}"] = 100.0 * (states[:, 3, j] / states[0, 3, j] - 1.0)
        cols[f"mineral_mass_change_pct_{suffix}"] = 100.0 * mineral_change[:, j]
    young = mineral / reference_fm
    for site, w in SITE_TRABECULAR_SHARE.items():
        cols[f"abmd_change_pct_{site}"] = 100.0 * (
            w * mineral_change[:, 0] + (1.0 - w) * mineral_change[:, 1]
        )
        cols[f"t_score_{site}"] = t_score(w * young[:, 0] + (1.0 - w) * young[:, 1], site)
    cols.update(_turnover_columns(mdl, sig, times, states))
    vals = [sig.values(float(t)) for t in times]
    for key in vals[0]:
        cols[key] = np.array([v[key] for v in vals])
    return ZeroDResult(cols, name)


def write_outputs(result: ZeroDResult, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``<name>.csv`` and ``<name>.png`` into ``out_dir``; return their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{result.name}.csv"
    keys = list(result.columns)
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(keys)
        for row in zip(*(result.columns[k] for k in keys), strict=True):
            w.writerow([f"{v:.9g}" for v in row])
    c = result.columns
    yr = c["time_years"]
    fig, ax = plt.subplots(3, 2, figsize=(12, 11), sharex=True)
    _panel_bone(ax[0, 0], yr, c)
    _panel_cells(ax[0, 1], yr, c)
    _panel_rankl(ax[1, 0], yr, c)
    _panel_signals(ax[1, 1], yr, c)
    _panel_turnover(ax[2, 0], ax[2, 1], yr, c)
    fig.suptitle(f"0-D scenario: {result.name}")
    fig.tight_layout()
    png_path = out / f"{result.name}.png"
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
    return csv_path, png_path


def _panel_bone(a: Any, yr: FloatArray, c: dict[str, FloatArray]) -> None:
    a.plot(yr, c["bvtv_change_pct_trab"], label="BV/TV trabecular")
    a.plot(yr, c["bvtv_change_pct_cort"], label="BV/TV cortical")
    a.plot(yr, c["abmd_change_pct_lumbar_spine"], "--", label="aBMD lumbar spine")
    a.plot(yr, c["abmd_change_pct_total_hip"], "--", label="aBMD total hip")
    a.set_ylabel("change from baseline (%)")
    a.set_title("Bone volume fraction and areal BMD")
    a.legend(fontsize=8)


def _panel_cells(a: Any, yr: FloatArray, c: dict[str, FloatArray]) -> None:
    for key in ("OBp", "OBa", "OCa"):
        a.plot(yr, c[f"{key}_pM_trab"], label=key)
    a.set_yscale("log")
    a.set_ylabel("concentration (pM)")
    a.set_title("Bone cells (trabecular point)")
    a.legend(fontsize=8)


def _panel_rankl(a: Any, yr: FloatArray, c: dict[str, FloatArray]) -> None:
    a.plot(yr, c["RANKL_pM_trab"], label="RANKL")
    a.set_ylabel("RANKL (pM)")
    a2 = a.twinx()
    a2.plot(yr, c["OPG_pM_trab"], color="C1", label="OPG")
    a2.set_ylabel("OPG (pM)", color="C1")
    a.set_title("RANKL and OPG (trabecular point)")


def _panel_signals(a: Any, yr: FloatArray, c: dict[str, FloatArray]) -> None:
    for key, lab in (
        ("estrogen", "estrogen (rel.)"),
        ("testosterone", "testosterone (rel.)"),
        ("cytokine_index", "TNF-α/IL-1 index"),
        ("glucocorticoid_strength", "glucocorticoid strength"),
    ):
        a.plot(yr, c[key], label=lab)
    a.set_ylabel("level (dimensionless)")
    a.set_title("Systemic signals")
    drugs = [
        (k, lab)
        for k, lab in (
            ("denosumab_ng_per_mL", "denosumab (ng/mL)"),
            ("alendronate_bound_mg", "bound alendronate (mg)"),
            ("pth_pM", "PTH, pulse-averaged (pM)"),
        )
        if np.ptp(c[k]) > 0
    ]
    if drugs:
        a2 = a.twinx()
        for i, (k, lab) in enumerate(drugs):
            a2.plot(yr, c[k], ":", color=f"C{5 + i}", label=lab)
        a2.set_ylabel("drug / PTH level (units in legend)")
        a2.legend(fontsize=8, loc="lower right")
    a.legend(fontsize=8, loc="upper right")


def _panel_turnover(a: Any, b: Any, yr: FloatArray, c: dict[str, FloatArray]) -> None:
    """The skeleton's markers (% from t = 0) and each point's BFR/BV (%/year)."""
    a.plot(yr, c["formation_marker_change_pct"], label="formation (the model's P1NP)")
    a.plot(yr, c["resorption_marker_change_pct"], label="resorption (the model's CTX)")
    a.axhline(0.0, color="0.6", lw=0.8)
    a.set_ylabel("change from baseline (%)")
    a.set_title("Turnover markers (skeleton: 20 % trabecular)")
    a.set_xlabel("time (years)")
    a.legend(fontsize=8)
    for suffix, lab in (("trab", "trabecular"), ("cort", "cortical")):
        b.plot(yr, c[f"bfr_bv_pct_per_year_{suffix}"], label=f"BFR/BV {lab}")
    b.set_yscale("log")
    b.set_ylabel("bone formed per bone volume (%/year)")
    b.set_title("Turnover per point")
    b.set_xlabel("time (years)")
    b.legend(fontsize=8)


def load_zero_d_case(path: str | Path) -> ZeroDCase:
    """Read and validate a 0-D case TOML file.

    Raises:
        InputError: unreadable TOML, or a field with an invalid value (names file, field,
            value and what is allowed).
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError("file not found", file=p) from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"invalid TOML: {exc}", file=p) from exc
    try:
        return ZeroDCase.model_validate(data)
    except ValidationError as exc:
        raise validation_to_input_error(exc, p, ZeroDCase) from None


def cli_main(argv: Sequence[str] | None = None) -> int:
    """``bonefem biology SCENARIO [--output DIR] [--years Y]``; returns the exit code.

    SCENARIO is a TOML path or the name of a file in ``cases/biology/``.
    """
    parser = argparse.ArgumentParser(
        prog="bonefem biology", description="Run a 0-D bone-biology scenario."
    )
    parser.add_argument("scenario", help="TOML file or name in cases/biology/")
    parser.add_argument("--output", default="runs/biology", help="output folder")
    parser.add_argument("--years", type=float, default=None, help="override run.duration_years")
    args = parser.parse_args(argv)
    path = Path(args.scenario)
    if not path.exists():
        cand = Path(__file__).resolve().parents[2] / "cases" / "biology" / f"{args.scenario}.toml"
        if cand.exists():
            path = cand
    try:
        case = load_zero_d_case(path)
        if args.years is not None:  # the override obeys the field's bounds
            run = {**case.run.model_dump(), "duration_years": args.years}
            try:
                case = case.model_copy(update={"run": RunConfig.model_validate(run)})
            except ValidationError as exc:
                raise validation_to_input_error(exc, "--years", RunConfig, prefix="run") from None
    except InputError as exc:
        print(f"error: {exc}")
        return 2
    years = case.run.duration_years
    result = run_zero_d(case.scenario, years * 365.25, run=case.run, activity=case.activity)
    csv_path, png_path = write_outputs(result, args.output)
    c = result.columns
    print(f"{case.scenario.name}: {years:g} years")
    for site in SITE_TRABECULAR_SHARE:
        t = c[f"t_score_{site}"]
        print(
            f"  aBMD change {site}: {c[f'abmd_change_pct_{site}'][-1]:+.2f} %"
            f" (T-score {t[0]:+.2f} -> {t[-1]:+.2f})"
        )
    print(f"  BV/TV trabecular: {c['bvtv_trab'][0]:.4f} -> {c['bvtv_trab'][-1]:.4f}")
    print(f"wrote {csv_path} and {png_path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(cli_main())
