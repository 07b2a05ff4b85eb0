"""Clinical and mechanical metrics of a run, reduced over MPI ranks.

* :mod:`~bonefem.metrics.columns` -- the column names (shared with report and progress).
* :mod:`~bonefem.metrics.reduce` -- weighted means per region, weighted quantiles.
* :mod:`~bonefem.metrics.dxa` -- DXA-like projection: BMC, projected area, aBMD.
* :mod:`~bonefem.metrics.failure` -- Pistoia failure load and factor of risk.
* :mod:`~bonefem.metrics.evaluator` -- the metric seam and registry, the evaluator.
* metric objects: :mod:`~bonefem.metrics.bone` (time, regional means, DXA),
  :mod:`~bonefem.metrics.turnover` (bone formation and resorption rates, BFR/BV),
  :mod:`~bonefem.metrics.virtual_tests` (stiffness, failure load),
  :mod:`~bonefem.metrics.run_info` (signal levels, solver counters).
"""

from bonefem.metrics.columns import PCT_CHANGE_KEYS, TEST_KEYS
from bonefem.metrics.dxa import (
    Projection,
    bone_mineral_content,
    facet_points,
    lattice_points,
    make_projection,
    projected_area,
)
from bonefem.metrics.evaluator import (
    MetricContext,
    MetricsEvaluator,
    add_percent_changes,
    register_metric,
)
from bonefem.metrics.failure import FailureEstimate, failure_estimate
from bonefem.metrics.reduce import (
    percent_change,
    weighted_means,
    weighted_means_of_fields,
    weighted_upper_quantile,
)
from bonefem.metrics.virtual_tests import virtual_tests_due

__all__ = [
    "PCT_CHANGE_KEYS",
    "TEST_KEYS",
    "FailureEstimate",
    "MetricContext",
    "MetricsEvaluator",
    "Projection",
    "add_percent_changes",
    "bone_mineral_content",
    "facet_points",
    "failure_estimate",
    "lattice_points",
    "make_projection",
    "percent_change",
    "projected_area",
    "register_metric",
    "virtual_tests_due",
    "weighted_means",
    "weighted_means_of_fields",
    "weighted_upper_quantile",
]
