"""DXA sites, young-adult reference densities and a cohort's baseline T-score.

**Site mapping** (ASSUMPTION, shared by the 0-D runs, the calibration and the baseline
below): the areal-BMD change of a site is the change of mineral mass f·m, weighted between
a trabecular and a cortical compartment by their share of the site's mineral at baseline,
:data:`SITE_TRABECULAR_SHARE`.

**T-score.** T = (aBMD − young-adult mean) / young-adult SD of the site, against one
reference for women and men (the International Society for Clinical Densitometry's
official positions, 2019: a uniform white female normative database for both sexes and
all ethnic groups). :data:`YOUNG_ADULT_REFERENCE` holds the means and SDs (g/cm²), of which
only the ratio SD/mean is used: T maps to an aBMD relative to the young-adult mean,
1 + T·SD/mean.

**Baseline T-score of a run** (``scenario.baseline_t_score`` at ``baseline_site``). The
case's region BV/TV describe the young-adult *mean* skeleton (T = 0 at peak). A person's
T-score at t = 0 then differs from the mean person's by her peak bone mass and by the loss
of her history (:mod:`bonefem.biology.history`). ASSUMPTION: the deviation is carried by
the peak — every region's young-adult BV/TV is scaled by one factor k, and the person then
lives the cohort's history from that peak, adapted to it (the mechanostat's set point is
her own). Peak bone mass explains most of the spread of BMD in old age (Hui et al. 1990,
J Clin Invest 86:57; the modelling analysis of Hernandez, Beaupré & Carter 2003,
Osteoporos Int 14:843: 10 % more peak BMD delays osteoporosis by 13 years). k solves

    R(k) = w (f m)_trab(t0; k) / (f m)_trab,young + (1 − w) (f m)_cort(t0; k) / (f m)_cort,young
         = 1 + T·SD/mean

at the site's trabecular share w, (f m)_young the mean young adult's healthy state and
(f m)(t0; k) the state at t = 0 from the peak k·f (the history's end, or the healthy
state without a history), by the secant method on R(k) = target (R grows about in
proportion to k; secant steps from k = target / R(1), converged to 1e-9 relative in a
few history runs). Exact in the 0-D
model; a finite-element run applies the same k to every region, so its own DXA
projection (which weighs the regions by the geometry, not by w) matches the T-score only
as far as the 0-D site mapping describes that projection. Units: BV/TV and m
dimensionless, aBMD g/cm², T in SD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from bonefem.biology.cells import BoneCellModel
from bonefem.biology.effects import SystemicSignals
from bonefem.biology.history import CohortHistory
from bonefem.errors import InputError

__all__ = [
    "BVTV_RANGE",
    "SITES",
    "SITE_TRABECULAR_SHARE",
    "YOUNG_ADULT_REFERENCE",
    "PeakScale",
    "peak_scale_for_t_score",
    "relative_abmd",
    "t_score",
]

FloatArray = npt.NDArray[np.float64]
Site = Literal["lumbar_spine", "total_hip", "femoral_neck"]
SITES: tuple[Site, ...] = ("lumbar_spine", "total_hip", "femoral_neck")

SITE_TRABECULAR_SHARE: dict[str, float] = {
    "lumbar_spine": 0.5,
    "total_hip": 0.3,
    "femoral_neck": 0.25,
}
"""Share of the site's baseline mineral in trabecular bone, for the DXA mapping
(ASSUMPTION; vertebral body trabecular bone plus cortical shell and posterior elements
for the lumbar spine; cortex-dominated proximal femur)."""

YOUNG_ADULT_REFERENCE: dict[str, tuple[float, float, str]] = {
    "total_hip": (
        0.942,
        0.122,
        "NHANES III, non-Hispanic white women 20-29 y (Looker et al. 1998, Osteoporos Int "
        "8:468), the reference the ISCD adopted for the hip",
    ),
    "femoral_neck": (
        0.858,
        0.120,
        "NHANES III, non-Hispanic white women 20-29 y (Looker et al. 1998), the WHO "
        "reference standard (Kanis et al. 2008, Bone 42:467)",
    ),
    "lumbar_spine": (
        1.064,
        0.106,
        "NHANES 2005-2008, women 21-30 y (Looker et al. 2012, Osteoporos Int 23:1351; as "
        "tabulated in Front Endocrinol 2026, doi:10.3389/fendo.2026.1748490, Table 3); "
        "NHANES III measured no spine",
    ),
}
"""Young-adult mean and SD of areal BMD per site (g/cm², g/cm², source)."""

MAX_ITERATIONS = 30
"""Secant steps for k before giving up (each is one history run)."""
BVTV_RANGE = (0.02, 0.98)
"""BV/TV range of the cell model's healthy states (dimensionless), which k f must keep."""


def t_score(ratio: FloatArray, site: str) -> FloatArray:
    """T-score (SD) of an aBMD ``ratio`` to the young-adult mean (dimensionless)."""
    mean, sd, _ = YOUNG_ADULT_REFERENCE[site]
    return np.asarray((np.asarray(ratio) - 1.0) * mean / sd)


def relative_abmd(t_score: float, site: str) -> float:
    """The aBMD relative to the young-adult mean at a T-score (dimensionless): 1 + T·SD/mean."""
    mean, sd, _ = YOUNG_ADULT_REFERENCE[site]
    return 1.0 + t_score * sd / mean


@dataclass(frozen=True)
class PeakScale:
    """The peak-bone-mass factor of a baseline T-score.

    Attributes:
        k: factor on every young-adult BV/TV (dimensionless).
        target: aBMD at t = 0 relative to the young-adult mean, 1 + T·SD/mean (-).
        mean_person: the same ratio for the mean young adult after the history (-).
        mean_person_t_score: the mean young adult's T-score at t = 0 (SD).
        iterations: history runs taken by the secant method.
    """

    k: float
    target: float
    mean_person: float
    mean_person_t_score: float
    iterations: int


def _site_ratio(
    model: BoneCellModel,
    signals: SystemicSignals,
    points: FloatArray,
    years: float,
    reference_fm: FloatArray,
    share: float,
) -> float:
    """R: the site's aBMD at t = 0 over the mean young adult's (-), for peak BV/TV ``points``."""
    if years > 0.0:
        state = CohortHistory.run(model, signals, points, years).state(points)
    else:
        state = model.healthy_state(points)
    ratio = state[3] * state[4] / reference_fm
    return float(share * ratio[0] + (1.0 - share) * ratio[1])


def peak_scale_for_t_score(
    model: BoneCellModel,
    signals: SystemicSignals,
    f_young: tuple[float, float],
    years: float,
    t_score: float,
    site: str,
    rtol: float = 1e-9,
    field: str = "baseline_t_score",
    scaled: tuple[float, ...] = (),
) -> PeakScale:
    """The peak-bone-mass factor k that puts the site's aBMD at t = 0 at the T-score.

    Args:
        model: the cell model.
        signals: the scenario's signals (the history's hormones and ageing).
        f_young: young-adult BV/TV of the trabecular and the cortical compartment (-).
        years: length of the history before t = 0 (years; 0: no history).
        t_score: the T-score at t = 0 (SD).
        site: one of :data:`SITES`.
        rtol: relative tolerance on R(k) (dimensionless).
        field: the dotted name of the T-score in the case, for messages.
        scaled: further young-adult BV/TV that k scales too (-; a finite-element case's
            other regions), held to the same range.

    Raises:
        InputError: k times ``f_young`` or ``scaled`` leaves :data:`BVTV_RANGE` (names
            the factors allowed).
        ValueError: the secant method did not converge (names the last k and R).
    """
    share = SITE_TRABECULAR_SHARE[site]
    mean, sd, _ = YOUNG_ADULT_REFERENCE[site]
    f = np.asarray(f_young, dtype=float)
    every = np.concatenate([f, np.asarray(scaled, dtype=float)])
    young = model.healthy_state(f)
    reference_fm = young[3] * young[4]
    target = relative_abmd(t_score, site)
    mean_person = _site_ratio(model, signals, f, years, reference_fm, share)
    t_mean = (mean_person - 1.0) * mean / sd
    k_prev, r_prev = 1.0, mean_person
    k, ratio = target / mean_person, mean_person
    for it in range(1, MAX_ITERATIONS + 1):
        _check_range(k, every, t_score, site, t_mean, field)
        ratio = _site_ratio(model, signals, k * f, years, reference_fm, share)
        if abs(ratio / target - 1.0) <= rtol:
            return PeakScale(k, target, mean_person, t_mean, it)
        slope = (ratio - r_prev) / (k - k_prev) if k != k_prev else ratio / k
        k_prev, r_prev = k, ratio
        k += (target - ratio) / slope
    raise ValueError(
        f"no peak-bone-mass factor reaches the T-score {t_score} at {site}: last k = {k:.6g}, "
        f"aBMD ratio {ratio:.6g} against {target:.6g}"
    )


def _check_range(
    k: float, f: FloatArray, t_score: float, site: str, t_mean: float, field: str
) -> None:
    """Raise if any scaled young-adult BV/TV k f leaves the cell model's range."""
    lo, hi = BVTV_RANGE
    if lo <= k * f.min() and k * f.max() <= hi:
        return
    raise InputError(
        f"a T-score of {t_score:g} at {site} needs the young-adult BV/TV scaled by about "
        f"{k:.4g} (to {k * f.min():.4g} and {k * f.max():.4g}), outside the cell model's "
        f"range [{lo}, {hi}]; the factor may lie between {lo / f.min():.4g} and "
        f"{hi / f.max():.4g} (this cohort's mean person has T = {t_mean:+.2f} at t = 0)",
        field=field,
        value=t_score,
    )
