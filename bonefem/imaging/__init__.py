"""Patient- and specimen-specific bones from CT (issue 14).

Images, segmentation, QCT density mapping, voxel meshes, geometric selectors, phantoms:

* :mod:`bonefem.imaging.image` -- :class:`Image`, :func:`read_image` (NIfTI, MetaImage,
  NRRD, DICOM series, TIFF stacks through SimpleITK), :func:`write_image`,
  :func:`inspect_image` (``bonefem image inspect``);
* :mod:`bonefem.imaging.segment` -- threshold, largest component, hole filling, labels,
  cortical/trabecular split, face-connected part (micro-FE);
* :mod:`bonefem.imaging.density` -- phantom calibration, ρ_QCT → ρ_ash → ρ_app → BV/TV,
  per-element integration;
* :mod:`bonefem.imaging.voxelmesh` -- voxel hexahedral BoneMesh with coarsening;
* :mod:`bonefem.imaging.tetmesh` -- smooth tetrahedral BoneMesh (marching cubes + gmsh);
* :mod:`bonefem.imaging.morphometry` -- BV/TV, BS/BV, Tb.Th / Tb.Sp / Tb.N by local
  thickness (direct, model-independent) and by the plate model;
* :mod:`bonefem.imaging.source` -- the ``[mesh.image]`` table of a case file;
* :mod:`bonefem.imaging.initial` -- ``[mesh.image.density]``: the scan's density as the
  initial state;
* :mod:`bonefem.imaging.selector_schema` -- ``[[mesh.select]]`` selectors in case files;
* :mod:`bonefem.imaging.selectors` -- plane, box, sphere, patch, extreme facet selectors;
* :mod:`bonefem.imaging.phantoms` -- QCT phantom, rod lattice, random core;
* :mod:`bonefem.imaging.command` -- ``bonefem image ...`` command line.

Units: mm, g/cm³, HU, MPa. Image arrays are indexed (z, y, x); spacing and origin are
(x, y, z). See docs/imaging.md. The modules that need DOLFINx (voxelmesh distribution,
selectors, element_values) import it lazily or are imported on demand.
"""
