"""Metrics of a run: small metric objects, each owning its columns, and their evaluator.

A metric is built once per run from a :class:`MetricContext` (case, mesh, cells,
material, the mechanics for virtual tests) and adds its columns to each metrics row from
a read-only :class:`~bonefem.state.RunView`. Metrics register themselves with
:func:`register_metric`; the evaluator calls them in the order of their ``order`` and
adds the ``<metric>_pct_change`` columns from the run's first row. See
docs/architecture.md, "How to add a metric".
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from bonefem.metrics.columns import PCT_CHANGE_KEYS, pct
from bonefem.metrics.reduce import percent_change
from bonefem.state import CellGeometry, RunView

if TYPE_CHECKING:
    from bonefem.config.case import Case
    from bonefem.coupling.material import BoneMaterial
    from bonefem.mechanics import ElasticityProblem
    from bonefem.mesh.bonemesh import BoneMesh

Row = dict[str, float]


class Metric(Protocol):
    """One group of metrics.csv columns."""

    def evaluate(self, view: RunView, row: Row) -> None:
        """Add this metric's columns at the view's time to ``row``."""
        ...


@dataclass(frozen=True)
class MetricContext:
    """What a metric factory may use (built once per run).

    Attributes:
        case: the case.
        bone: the mesh.
        geometry: regions and volumes of the owned cells.
        material: densities and moduli of the cells.
        mechanics: the elasticity problem (virtual tests solve on it).
    """

    case: Case
    bone: BoneMesh
    geometry: CellGeometry
    material: BoneMaterial
    mechanics: ElasticityProblem


MetricFactory = Callable[[MetricContext], "Metric | None"]
_METRICS: dict[str, tuple[float, MetricFactory]] = {}


def register_metric(name: str, order: float) -> Callable[[MetricFactory], MetricFactory]:
    """Register a metric factory; ``order`` places its columns (smaller first)."""

    def deco(factory: MetricFactory) -> MetricFactory:
        _METRICS[name] = (order, factory)
        return factory

    return deco


def registered_metrics() -> dict[str, tuple[float, MetricFactory]]:
    """Every registered metric (imports the modules of this package once)."""
    package = importlib.import_module("bonefem.metrics")
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"bonefem.metrics.{info.name}")
    return dict(_METRICS)


def add_percent_changes(row: Row, baseline: Mapping[str, float]) -> Row:
    """``row`` with a ``<key>_pct_change`` column (%) for every percent-change metric.

    A key qualifies if it is one of :data:`PCT_CHANGE_KEYS` or one of them with a region
    suffix; the change is from the same key in ``baseline`` (NaN where it is missing).
    """
    out = dict(row)
    for key in list(row):
        base = key if key in PCT_CHANGE_KEYS else None
        if base is None and "_" in key:
            stem = next((p for p in PCT_CHANGE_KEYS if key.startswith(p + "_")), None)
            base = key if stem is not None and not key.endswith("_pct_change") else None
        if base is not None:
            out[pct(key)] = percent_change(row[key], baseline.get(key, np.nan))
    return out


class MetricsEvaluator:
    """The metrics of a run, in column order.

    Args:
        context: what the metrics are built from.
        names: metrics to use (default: every registered metric that is configured).
    """

    def __init__(self, context: MetricContext, names: list[str] | None = None) -> None:
        registry = registered_metrics()
        chosen = sorted(registry.items(), key=lambda kv: kv[1][0])
        self.metrics: list[Metric] = []
        for name, (_, factory) in chosen:
            if names is not None and name not in names:
                continue
            metric = factory(context)
            if metric is not None:
                self.metrics.append(metric)

    def evaluate(self, view: RunView) -> Row:
        """One metrics row (without the percent changes) at the view's time."""
        row: Row = {}
        for metric in self.metrics:
            metric.evaluate(view, row)
        return row
