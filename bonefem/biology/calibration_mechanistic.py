"""Calibration of terms on mechanistic (not BMD-endpoint) data.

Trial BMD endpoints of drugs stay out of sample; a term whose size no calibration-data
point fixes is fitted here to a mechanistic measurement instead, in 0-D.

* ``pth_modelling_formation`` (k_mod, mm/(day*pM)), the modelling-based formation of
  intermittent PTH (:mod:`bonefem.biology.agents.teriparatide`). Target: cancellous bone
  formation rate per bone surface (BFR/BS) 100 % higher with teriparatide 20 µg/day than
  with placebo after a mean 40 days of treatment, femoral-neck biopsies of 40 women and
  men aged about 70 (Cosman et al. 2016, J Clin Endocrinol Metab 101:1498). Model: the 0-D
  trabecular point of a woman 20 years past her final menstrual period (the calibration
  cohort of :mod:`bonefem.biology.calibration`), BFR/BS = k_form OBa + F_mod (mm/day),
  treated over placebo on day 40. The ratio is linear in k_mod up to the slow change of
  BV/TV in 40 days, so a bracketing root finder converges in a few 0-D runs.

Run: ``python -m bonefem.biology.calibration_mechanistic``.
"""

from __future__ import annotations

import dataclasses
import sys

from scipy.optimize import brentq

from bonefem.biology.calibrated import CALIBRATED, CalibratedConstants
from bonefem.biology.calibration import FMP, YEAR, _menopause
from bonefem.biology.cells import BoneCellModel
from bonefem.biology.parameters import calibrated_parameters
from bonefem.biology.signals import build_signals
from bonefem.biology.zerod import RunConfig, run_zero_d
from bonefem.config.scenario import ScenarioConfig, TeriparatideConfig

__all__ = ["COSMAN_BFR_RATIO", "COSMAN_DAYS", "fit_mbf", "teriparatide_bfr_ratio"]

TPTD_START = FMP + 20.0 * YEAR
COSMAN_DAYS = 40.0
"""Mean treatment time at biopsy (days), Cosman et al. 2016."""
COSMAN_BFR_RATIO = 2.0
"""Cancellous BFR/BS, teriparatide over placebo (dimensionless), Cosman et al. 2016."""


def _scenario(treated: bool) -> ScenarioConfig:
    """The calibration cohort (FMP at 51), with teriparatide from 20 years after it."""
    courses = [TeriparatideConfig(start_days=TPTD_START, stop_days=TPTD_START + 2 * YEAR)]
    return _menopause(teriparatide=courses if treated else [])


def teriparatide_bfr_ratio(k: CalibratedConstants = CALIBRATED) -> float:
    """Cancellous BFR/BS on teriparatide over placebo after :data:`COSMAN_DAYS` days."""
    model = BoneCellModel(calibrated_parameters(k.mechano_lambda, k.mechano_rankl_max))
    t1 = TPTD_START + COSMAN_DAYS
    bfr = []
    for treated in (True, False):
        sc = _scenario(treated)
        r = run_zero_d(sc, t1, run=RunConfig(step_days=10.0), constants=k, model=model)
        f_mod = build_signals(sc, k, model.params).effects(t1 - 1e-6).modelling_formation
        bfr.append(model.remodeling.k_form * r.at("OBa_pM_trab", t1) + f_mod)
    return bfr[0] / bfr[1]


def fit_mbf(k: CalibratedConstants = CALIBRATED) -> CalibratedConstants:
    """Return ``k`` with ``pth_modelling_formation`` fitted to :data:`COSMAN_BFR_RATIO`."""

    def gap(x: float) -> float:
        kk = dataclasses.replace(k, pth_modelling_formation=x)
        return teriparatide_bfr_ratio(kk) - COSMAN_BFR_RATIO

    x = brentq(gap, 0.0, 1.0e-3, xtol=1e-9, rtol=1e-6)
    return dataclasses.replace(k, pth_modelling_formation=float(x))


def main() -> int:
    """Fit and print the constant and the ratio reached."""
    k = fit_mbf()
    print(f"pth_modelling_formation = {k.pth_modelling_formation!r}  # mm/(day*pM)")
    print(f"BFR/BS ratio at day {COSMAN_DAYS:g}: {teriparatide_bfr_ratio(k):.4f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
