"""Insulin resistance / adipokine imbalance: mainly bone quality, little density.

Level ``insulin_resistance`` x (0 none .. 1 severe, dimensionless), summed over the active
periods. Type 2 diabetes goes with normal-to-higher areal BMD and yet more fractures at a
given BMD (Schwartz et al. 2011, JAMA 305:2184); the bone material strength index measured
in vivo is about 10 % lower (Farr et al. 2014, J Bone Miner Res 29:787), attributed to
advanced glycation end-products in the collagen (Saito & Marumo 2010, Osteoporos Int
21:195). So the main effect is on the tissue, not on the cells:

* ``tissue_yield_factor`` = 1 - ``INSULIN_RESISTANCE_YIELD`` x multiplies the yield strain of
  every cell in the failure-load virtual test (:mod:`bonefem.metrics.virtual_tests`);
  ASSUMPTION: the yield strain falls like the material strength index (10 % at x = 1);
* small cell effects (ASSUMPTIONS): low-grade inflammation, a cytokine-index term
  ``INSULIN_RESISTANCE_CYTOKINE`` x (:mod:`~bonefem.biology.agents.inflammation`), and lower
  osteoblastogenesis, D_OBu times 1 - ``INSULIN_RESISTANCE_OBU`` x (low bone formation
  markers in T2D, Hygum et al. 2017, Eur J Endocrinol 176:R137), sized so that density
  changes little (issue 13: 0.8 gave -5.9 % LS in 3 years with the former 0.5 and 0.2).
"""

from __future__ import annotations

from collections.abc import Mapping

from bonefem.biology.agents._base import Agent, EffectTerms, LevelFunction, Levels, register

__all__ = [
    "INSULIN_RESISTANCE_CYTOKINE",
    "INSULIN_RESISTANCE_OBU",
    "INSULIN_RESISTANCE_YIELD",
    "MetabolicAgent",
]

INSULIN_RESISTANCE_CYTOKINE = 0.1
"""Cytokine index at full insulin resistance (dimensionless, ASSUMPTION)."""
INSULIN_RESISTANCE_OBU = 0.05
"""Relative D_OBu reduction at full insulin resistance (dimensionless, ASSUMPTION)."""
INSULIN_RESISTANCE_YIELD = 0.1
"""Relative yield-strain reduction at full insulin resistance (dimensionless; Farr 2014)."""


@register
class MetabolicAgent(Agent):
    """Insulin-resistance periods (scenario field ``metabolic``)."""

    key = "metabolic"
    order = 60.0

    def levels(self) -> Mapping[str, LevelFunction]:
        """``insulin_resistance``."""
        return {
            "insulin_resistance": lambda lv: sum(
                w.insulin_resistance for w in self.scenario.metabolic if w.active(lv.t)
            )
        }

    def level_terms(self) -> Mapping[str, LevelFunction]:
        """Cytokine-index term of insulin resistance."""
        return {"cytokine_index": lambda lv: INSULIN_RESISTANCE_CYTOKINE * lv["insulin_resistance"]}

    def contribute(self, lv: Levels, terms: EffectTerms) -> None:
        """Fewer osteoblast precursors recruited."""
        terms.scale("obu_factor", 1.0 - INSULIN_RESISTANCE_OBU * lv["insulin_resistance"])

    def outputs(self) -> Mapping[str, LevelFunction]:
        """Columns ``insulin_resistance`` and ``tissue_yield_factor`` (dimensionless)."""
        return {
            "insulin_resistance": lambda lv: lv["insulin_resistance"],
            "tissue_yield_factor": lambda lv: (
                1.0 - INSULIN_RESISTANCE_YIELD * lv["insulin_resistance"]
            ),
        }
