"""A size and memory estimate of a generated mesh, before gmsh builds it.

``refine`` (and smaller mesh sizes) grow the cell count as their cube: ``refine = 50`` on
the femur asks for ~5·10⁹ cells, and gmsh would fill the memory of the node before saying
anything. :func:`estimate_generated` scales the cell count of each generator's default
mesh (measured with gmsh 4.15, meshes/README.md) by r³, r = ``refine`` times the largest
ratio default/given of ``mesh_size`` and ``cortical_mesh_size``; changed dimensions are
not taken into account (the estimate is rough: a factor of about 2). The femur grows more
slowly than r³ (its thin cortical shells are meshed at a size of their own): its count is
the default's times s r³ + (1 − s) r², s = :data:`VOLUME_SHARE` = 0.343, least squares on
the logarithm over the measured meshes at refine 1, 1.25, 2, 4.5 and 6 (41.1k, 66.7k, 207k,
1.81M, 3.9M cells; docs/performance.md): within 7 % of each, where r³ was 2.3× high at
refine 6.
``uniform_refinements`` (the femur's parallel refinement after gmsh) multiplies the count
by exactly 8 per level.
Memory: about 5 kB per cell for a run (measured: 4.2 kB on the vertebra, 4.8 kB on the
femur, serial peak RSS above the 160 MB of the imported stack, per rank). ``bonefem check``
and ``bonefem run`` refuse meshes above ``--max-cells`` (default
:data:`DEFAULT_MAX_CELLS`) unless ``--force``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bonefem.errors import InputError

#: Cells of each generator's default mesh (gmsh 4.15; meshes/README.md).
DEFAULT_CELLS = {"specimen": 7_600, "diaphysis": 11_200, "vertebra": 30_900, "femur": 41_100}
#: Further cells of the vertebra's posterior elements at the default posterior_mesh_size
#: (38,220 cells in all with ``posterior_elements = true``).
POSTERIOR_CELLS = 7_300
#: Share of the r³ term in a generator's cell count (the rest grows as r²; module doc);
#: 1 where only the default mesh was measured.
VOLUME_SHARE = {"femur": 0.343}
#: Peak memory of a run per cell (bytes), and of the imported stack per rank.
BYTES_PER_CELL = 5_000
BYTES_PER_RANK = 160e6
#: Displacement unknowns per cell of a P1 tetrahedral mesh (3 per node, ~5.3 cells/node).
DOFS_PER_CELL = 0.57
#: Default limit of ``--max-cells``.
DEFAULT_MAX_CELLS = 5_000_000

_SIZES = ("mesh_size", "cortical_mesh_size")


@dataclass(frozen=True)
class MeshEstimate:
    """Estimated cells, displacement unknowns and peak memory (all ranks) of a run."""

    cells: float
    dofs: float
    memory_bytes: float

    def describe(self) -> str:
        """One line for the log."""
        return (
            f"about {self.cells:,.0f} cells, {self.dofs:,.0f} displacement unknowns, "
            f"{self.memory_bytes / 1e9:,.1f} GB of memory in all ranks (rough, x2; from the "
            "cell count alone, before the mesh exists)"
        )


def estimate_generated(generator: str, parameters: dict[str, Any]) -> MeshEstimate | None:
    """Estimate of the mesh a generator will build (None: unknown generator or values)."""
    from bonefem.mesh import (
        DiaphysisParameters,
        FemurParameters,
        SpecimenParameters,
        VertebraParameters,
    )

    classes = {
        "specimen": SpecimenParameters,
        "diaphysis": DiaphysisParameters,
        "vertebra": VertebraParameters,
        "femur": FemurParameters,
    }
    if generator not in classes:
        return None
    defaults = classes[generator]()
    given = [k for k in _SIZES if k in parameters and hasattr(defaults, k)]
    try:
        refine = float(parameters.get("refine", getattr(defaults, "refine", 1.0)))
        levels = int(parameters.get("uniform_refinements", 0))
        ratios = [float(getattr(defaults, k)) / float(parameters[k]) for k in given]
    except (TypeError, ValueError, ZeroDivisionError):
        return None  # the generator's own checks report bad values
    scale = max(ratios) if ratios else 1.0
    if refine <= 0 or scale <= 0 or not 0 <= levels <= 10:
        return None
    r = refine * scale
    share = VOLUME_SHARE.get(generator, 1.0)
    cells = DEFAULT_CELLS[generator] * (share * r**3 + (1.0 - share) * r**2)
    if generator == "vertebra" and parameters.get("posterior_elements") is True:
        try:
            h = float(parameters.get("posterior_mesh_size", defaults.posterior_mesh_size))
            cells += POSTERIOR_CELLS * (refine * defaults.posterior_mesh_size / h) ** 3
        except (TypeError, ValueError, ZeroDivisionError):
            return None
    cells *= 8**levels
    return MeshEstimate(cells, DOFS_PER_CELL * cells, BYTES_PER_CELL * cells)


def require_affordable(
    mesh: Any, base_dir: str | Path, max_cells: float | None, *, file: str | None = None
) -> MeshEstimate | None:
    """Raise InputError if the case's generated mesh is estimated above ``max_cells``.

    Args:
        mesh: the case's ``[mesh]`` table (a MeshConfig); settings files are followed;
            only generated meshes are estimated.
        base_dir: the case file's folder.
        max_cells: the limit (None: no limit, ``--force``).
        file: the case file, for the message.
    """
    from bonefem.mesh.validate import final_mesh_table

    table = final_mesh_table(mesh, base_dir)
    if table is None or "generator" not in table:
        return None
    generator = table["generator"]
    est = estimate_generated(generator, table["parameters"])
    if est is None or max_cells is None or est.cells <= max_cells:
        return est
    raise InputError(
        f"the '{generator}' mesh of these parameters is estimated at {est.describe()}, above "
        f"the limit of {max_cells:,.0f} cells; lower refine or raise the mesh sizes, or run "
        "with --max-cells N or --force if the machine can take it",
        file=file,
        field="mesh.parameters",
    )
