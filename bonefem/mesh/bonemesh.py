"""The :class:`BoneMesh`: a distributed DOLFINx mesh with named regions and surfaces.

Every geometry generator and importer in :mod:`bonefem.mesh` returns a ``BoneMesh``. Cases
refer to regions (cell groups, e.g. ``"cortical"``, ``"trabecular"``) and surfaces (facet
groups, e.g. ``"cranial_endplate"``) by *name*; the integer tags are an implementation
detail. Coordinates are in mm.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from bonefem._dolfinx import MPI, dolfinx
from bonefem.errors import InputError, raise_on_every_rank, require_names


@dataclass
class BoneMesh:
    """A bone mesh with named cell regions and named boundary surfaces.

    Attributes:
        mesh: the distributed DOLFINx mesh (tetrahedra or hexahedra), coordinates in mm.
        cell_tags: integer tag per cell; each region is one tag value.
        facet_tags: integer tag per boundary facet; each surface is one tag value.
        regions: region name -> cell tag value.
        surfaces: surface name -> facet tag value.
        source: where the mesh came from (generator and parameters, or a file path).
        landmarks: optional named reference points of the geometry
            (e.g. the femoral head centre, mm), for building load cases.
        cell_data: named per-cell arrays (local cells, DOLFINx local order, like the cell
            tags), e.g. ``initial_mineral_density`` (g/cm³) or ``initial_bvtv`` (-) from a
            CT image; written into and read back from the bonefem mesh file.
    """

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    regions: dict[str, int]
    surfaces: dict[str, int]
    source: str = ""
    landmarks: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    cell_data: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)

    @property
    def comm(self) -> MPI.Intracomm:
        """The mesh communicator."""
        return self.mesh.comm

    @property
    def num_cells_local(self) -> int:
        """Number of cells owned by this rank."""
        return int(self.mesh.topology.index_map(self.mesh.topology.dim).size_local)

    @property
    def num_cells_global(self) -> int:
        """Number of cells in the whole mesh."""
        return int(self.mesh.topology.index_map(self.mesh.topology.dim).size_global)

    def region_cells(self, name: str) -> npt.NDArray[np.int32]:
        """Local indices of the cells (owned and ghost) of region ``name``."""
        self.require_regions([name])
        return self.cell_tags.find(self.regions[name])

    def surface_facets(self, name: str) -> npt.NDArray[np.int32]:
        """Local indices of the facets of surface ``name``."""
        self.require_surfaces([name])
        return self.facet_tags.find(self.surfaces[name])

    def cell_region_index(self) -> npt.NDArray[np.int32]:
        """Per local cell (owned then ghost): index into ``sorted(regions)``, -1 if untagged."""
        tdim = self.mesh.topology.dim
        imap = self.mesh.topology.index_map(tdim)
        n = imap.size_local + imap.num_ghosts
        out = np.full(n, -1, dtype=np.int32)
        for i, name in enumerate(self.region_names):
            out[self.cell_tags.find(self.regions[name])] = i
        return out

    def owned_region_index(self) -> npt.NDArray[np.int32]:
        """Per owned cell: index into ``sorted(regions)`` (collective).

        Raises:
            InputError: on every rank, if a cell of any rank has no region tag.
        """
        index = self.cell_region_index()[: self.num_cells_local]
        untagged = None
        if np.any(index < 0):  # each rank checks its own cells; all raise alike
            untagged = InputError("every cell needs a region tag", file=self.source, field="mesh")
        raise_on_every_rank(self.comm, untagged)
        return index

    @property
    def region_names(self) -> list[str]:
        """Region names in a fixed (sorted) order."""
        return sorted(self.regions)

    @property
    def surface_names(self) -> list[str]:
        """Surface names in a fixed (sorted) order."""
        return sorted(self.surfaces)

    def require_regions(
        self, names: Iterable[str], *, file: str | None = None, field: str | None = None
    ) -> None:
        """Raise :class:`~bonefem.errors.InputError` naming the regions the mesh has."""
        require_names(names, self.regions, kind="region", file=file or self.source, field=field)

    def require_surfaces(
        self, names: Iterable[str], *, file: str | None = None, field: str | None = None
    ) -> None:
        """Raise :class:`~bonefem.errors.InputError` naming the surfaces the mesh has."""
        require_names(names, self.surfaces, kind="surface", file=file or self.source, field=field)

    def dx(self, region: str | None = None) -> object:
        """UFL volume measure, over the whole mesh or over one region."""
        import ufl

        dx = ufl.Measure("dx", domain=self.mesh, subdomain_data=self.cell_tags)
        return dx if region is None else dx(self.regions[region])

    def ds(self, surface: str | None = None) -> object:
        """UFL surface measure, over the whole boundary or over one named surface."""
        import ufl

        ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=self.facet_tags)
        return ds if surface is None else ds(self.surfaces[surface])

    def volume(self, region: str | None = None) -> float:
        """Volume (mm³) of the mesh or of one region, summed over ranks."""
        return self._integrate_one(self.dx(region))

    def area(self, surface: str) -> float:
        """Area (mm²) of a named surface, summed over ranks."""
        self.require_surfaces([surface])
        return self._integrate_one(self.ds(surface))

    def _integrate_one(self, measure: object) -> float:
        form = dolfinx.fem.form(dolfinx.fem.Constant(self.mesh, 1.0) * measure)
        local = dolfinx.fem.assemble_scalar(form)
        return float(self.comm.allreduce(local, op=MPI.SUM))

    def bounding_box(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Global (min, max) corners of the mesh, mm."""
        x = self.mesh.geometry.x
        lo = np.min(x, axis=0) if x.size else np.full(3, np.inf)
        hi = np.max(x, axis=0) if x.size else np.full(3, -np.inf)
        lo = np.ascontiguousarray(lo, dtype=np.float64)
        hi = np.ascontiguousarray(hi, dtype=np.float64)
        self.comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)
        self.comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
        return lo, hi
