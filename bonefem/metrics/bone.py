"""Bone metrics of a state: time, volumetric BMD and composition per region, DXA aBMD.

* ``time_days``, ``time_years``, ``step``.
* Volumetric BMD (QCT-like mineral density, g/cm³), BV/TV, apparent density (g/cm³),
  Young's modulus (MPa), OBa and OCa (pM): volume-weighted means over the bone and per
  region (suffix: the region name).
* Areal BMD (DXA-like, g/cm²), BMC (g), projected area (cm²): :mod:`bonefem.metrics.dxa`.
"""

from __future__ import annotations

import numpy as np

from bonefem.metrics import columns as C
from bonefem.metrics.dxa import (
    bone_mineral_content,
    exterior_facets,
    lattice_points,
    make_projection,
    projected_area,
)
from bonefem.metrics.evaluator import MetricContext, Row, register_metric
from bonefem.metrics.reduce import weighted_means_of_fields
from bonefem.state import RunView

MM3_PER_CM3 = 1000.0
DAYS_PER_YEAR = 365.25


class TimeMetric:
    """``time_days`` (days), ``time_years`` (years), ``step``."""

    def evaluate(self, view: RunView, row: Row) -> None:
        """Add the time columns."""
        row[C.TIME_DAYS] = view.t
        row[C.TIME_YEARS] = view.t / DAYS_PER_YEAR
        row[C.STEP] = view.step


class RegionalMeans:
    """Volume-weighted means over the bone and per region (see the module docstring)."""

    def __init__(self, context: MetricContext) -> None:
        self.comm = context.bone.comm

    def evaluate(self, view: RunView, row: Row) -> None:
        """Add the mean columns."""
        s, g = view.state, view.geometry
        fields = {
            C.BMD_VOL: view.mineral_density,
            C.BVTV: s.f,
            C.DENSITY_APP: view.density,
            C.MODULUS: s.E,
            C.OBA: s.cells[1],
            C.OCA: s.cells[2],
        }
        all_means = weighted_means_of_fields(
            self.comm, np.array(list(fields.values())), g.volumes, g.region_index, g.region_names
        )
        for key, means in zip(fields, all_means, strict=True):
            for region, mean in means.items():
                row[C.regional(key, region) if region else key] = mean


class DXAMetric:
    """DXA-like BMC (g), projected area (cm²) and aBMD (g/cm²) of ``[metrics.dxa]``."""

    def __init__(self, context: MetricContext) -> None:
        bone = context.bone
        mesh = bone.mesh
        n = bone.num_cells_local
        self.comm = bone.comm
        lo, hi = bone.bounding_box()
        dxa = context.case.metrics.dxa
        self.projection = make_projection(
            lo, hi, "xyz".index(dxa.axis), dxa.pixel_mm, dxa.roi_lower, dxa.roi_upper
        )
        vertices = mesh.geometry.x[mesh.geometry.dofmaps[0][:n]]
        self.area = projected_area(self.comm, exterior_facets(mesh), self.projection)
        self.points, self.samples = lattice_points(vertices, 2)

    def evaluate(self, view: RunView, row: Row) -> None:
        """Add ``bmc``, ``projected_area``, ``abmd``."""
        mass = view.mineral_density * view.geometry.volumes / MM3_PER_CM3
        bmc = bone_mineral_content(self.comm, self.points, self.samples, mass, self.projection)
        row[C.BMC] = bmc
        row[C.PROJECTED_AREA] = self.area
        row[C.ABMD] = bmc / self.area if self.area > 0 else float("nan")


register_metric("time", 0)(lambda context: TimeMetric())
register_metric("regional_means", 10)(RegionalMeans)
register_metric("dxa", 20)(DXAMetric)
