"""Bone turnover of the cell model: the bone volume formed and resorbed per day.

Columns (cell law only; a case with another law has none):

* ``bone_formation_rate`` and ``bone_resorption_rate`` (mm³/day): the bone volume formed
  and resorbed per day, Σ_c F_c V_c and Σ_c R_c V_c over the owned cells of every rank,
  with F, R the cell model's formation and resorption per total volume (1/day; formation
  S (k_form OBa_F + F_mod (1 − w)) g_form, resorption S k_res OCa g_res:
  :meth:`bonefem.remodeling.bone.CellDrivenRemodeling.formation_resorption`) and V the
  cell volume (mm³); over the bone and per region (suffix: the region name). Their
  difference is the rate of change of the bone volume Σ f V (mm³/day): the model's mass
  balance. Their ``_pct_change`` columns are the model's counterpart of the change of the
  bone turnover markers from baseline — serum P1NP for formation, serum CTX for
  resorption (Vasikaran et al. 2011, Osteoporos Int 22:391, the IOF-IFCC reference
  markers) — for this bone, not the whole skeleton the serum sees.
* ``bfr_bv`` (%/year): bone formation rate per bone volume, 100 × 365.25 × Σ F V / Σ f V,
  over the bone and per region: the histomorphometric turnover BFR/BV (Dempster et al.
  2013, J Bone Miner Res 28:2, the ASBMR nomenclature), e.g. about 10-40 %/year in iliac
  cancellous bone of women (Recker et al. 2004, J Bone Miner Res 19:1628).
"""

from __future__ import annotations

import numpy as np

from bonefem.metrics import columns as C
from bonefem.metrics.evaluator import MetricContext, Row, register_metric
from bonefem.metrics.reduce import weighted_sums_of_fields
from bonefem.remodeling.bone import per_bone_volume_pct_per_year
from bonefem.state import RunView


class TurnoverMetric:
    """Bone formation and resorption rates and BFR/BV (module docstring)."""

    def __init__(self, context: MetricContext) -> None:
        self.comm = context.bone.comm

    def evaluate(self, view: RunView, row: Row) -> None:
        """Add the turnover columns (nothing if the law has no formation and resorption)."""
        rates = view.turnover()
        if rates is None:
            return
        form, res = rates
        g = view.geometry
        sums = weighted_sums_of_fields(
            self.comm,
            np.array([form, res, view.state.f]),
            g.volumes,
            g.region_index,
            g.region_names,
        )
        formed, resorbed, bone = sums
        for region in formed:
            bv = bone[region]
            values = {
                C.FORMATION_RATE: formed[region],
                C.RESORPTION_RATE: resorbed[region],
                C.BFR_BV: float(per_bone_volume_pct_per_year(formed[region], bv))
                if bv > 0
                else np.nan,
            }
            for key, value in values.items():
                row[C.regional(key, region) if region else key] = value


def _turnover(context: MetricContext) -> TurnoverMetric | None:
    # the columns of a run are fixed by its law: none without cells that form and resorb
    return TurnoverMetric(context) if context.case.remodeling.law == "cells" else None


register_metric("turnover", 12)(_turnover)
