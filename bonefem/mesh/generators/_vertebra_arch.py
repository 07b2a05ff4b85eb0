"""Posterior elements of the idealised lumbar vertebra: pedicles, laminae and processes.

The neural arch is built from boxes (gmsh OpenCASCADE) fused into one solid and joined to
the posterior wall of the vertebral body. Frame as in :mod:`.vertebra`: x mediolateral,
y anteroposterior (+y anterior, the body's posterior wall at y = -depth/2), z axial
(caudal endplate at z = 0). All lengths in mm.

* two **pedicles** (width ``pedicle_width`` in x, height ``pedicle_height`` in z) on
  either side of the spinal canal (width ``canal_width`` between them at the laminae),
  running from the laminae forward over the canal depth ``canal_depth`` into the body's
  posterior wall, converging anteriorly at the transverse angle ``pedicle_angle`` (the
  pedicle and the pars interarticularis in one box);
* the **laminae**: one plate of thickness ``lamina_thickness`` (y) closing the canal
  behind, 1 mm wider than the pedicles on either side;
* the **spinous process**: a plate of thickness ``spinous_width`` (x) reaching
  ``spinous_length`` posteriorly from the laminae;
* two **transverse processes**: bars from the pedicle-lamina junction to a tip-to-tip
  span ``transverse_span`` (x).

The articular processes and facet joints are not modelled: the arch carries no load of its
own (the endplates are loaded), so it remodels under the small strains it takes from the
body. Every box stays clear of the endplate planes z = 0 and z = height (``margin``), so
the named endplate surfaces are exactly the body's endplates.

Default dimensions are rounded adult L3 values of the quantitative three-dimensional
anatomy of Panjabi et al. (1992, Spine 17:299-306): pedicle width about 10 mm and height
about 15 mm, converging anteriorly by about 10-15 deg (also Zindrick et al. 1987, Spine
12:160-166), spinal canal width about 23 mm
and depth about 17-18 mm, transverse processes about 75-80 mm tip to tip (L3 has the
widest), spinous process about 30 mm long; laminae about 6 mm thick. The prediction
equations of Kunkel et al. (2010, J Anat 216:320-328) give values of the same order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Clearance (mm) of every posterior box from the endplate planes z = 0 and z = height.
ENDPLATE_MARGIN = 2.0


@dataclass(frozen=True)
class ArchDimensions:
    """Dimensions of the neural arch (mm); see the module docstring for their sources."""

    pedicle_width: float
    pedicle_height: float
    pedicle_angle: float
    canal_width: float
    canal_depth: float
    lamina_thickness: float
    spinous_length: float
    spinous_width: float
    transverse_span: float


Box = tuple[float, float, float, float, float, float]


def arch_boxes(dims: ArchDimensions, depth: float, height: float) -> tuple[list[Box], list[Box]]:
    """The boxes (x0, y0, z0, dx, dy, dz) of the arch, mm: (pedicles, the other parts).

    Each pedicle box runs from 3 mm inside the laminae to the body's mid-depth (the part
    inside the body is cut away when the arch is joined to it); it is rotated about its
    axis point at the laminae by :func:`add_arch`. The pedicles are centred at 60 % of the
    body height (they spring from the upper half of the posterior wall); the laminae and
    the spinous process extend lower.
    """
    d = dims
    m = ENDPLATE_MARGIN
    y_wall = -depth / 2.0
    y_lam = y_wall - d.canal_depth  # anterior face of the laminae
    y_back = y_lam - d.lamina_thickness  # posterior face of the laminae
    x_in = d.canal_width / 2.0
    x_out = x_in + d.pedicle_width
    zc = 0.6 * height
    z0p = max(zc - d.pedicle_height / 2.0, m)
    z1p = min(zc + d.pedicle_height / 2.0, height - m)
    z0l = max(0.2 * height, m)
    pedicles: list[Box] = []
    others: list[Box] = []
    tp_height = min(10.0, z1p - z0p)
    for sign in (-1.0, 1.0):
        x0 = x_in if sign > 0 else -x_out
        pedicles.append((x0, y_lam - 3.0, z0p, d.pedicle_width, y_wall / 2.0 - y_lam + 3.0,
                         z1p - z0p))  # fmt: skip
        # transverse process: a bar from the pedicle axis at the pedicle-lamina junction
        x_axis = x_in + d.pedicle_width / 2.0
        xt0 = x_axis if sign > 0 else -d.transverse_span / 2.0
        width_tp = d.transverse_span / 2.0 - x_axis
        others.append((xt0, y_lam - 1.0, z1p - tp_height, width_tp, min(8.0, d.canal_depth),
                       tp_height))  # fmt: skip
    # laminae: one plate 1 mm beyond the (rotated) posterior corners of the pedicles
    theta = math.radians(d.pedicle_angle)
    x_lam = x_in + 0.5 * d.pedicle_width * (1.0 + math.cos(theta)) + 3.0 * math.sin(theta) + 1.0
    others.append((-x_lam, y_back, z0l, 2.0 * x_lam, d.lamina_thickness, z1p - z0l))
    # spinous process: from inside the laminae backwards
    hs = 0.6 * height
    zs0 = max(0.5 * (z0l + z1p) - hs / 2.0, m)
    others.append(
        (-d.spinous_width / 2.0, y_back - d.spinous_length, zs0, d.spinous_width,
         d.spinous_length + 1.0, min(hs, height - m - zs0))
    )  # fmt: skip
    return pedicles, others


def add_arch(dims: ArchDimensions, depth: float, height: float, body: int) -> list[int]:
    """Add the fused arch outside the body solid ``body`` (kept); return its volume tags."""
    import gmsh

    occ = gmsh.model.occ
    pedicles, others = arch_boxes(dims, depth, height)
    y_lam = -depth / 2.0 - dims.canal_depth
    tags = []
    for box in pedicles:
        tag = occ.addBox(*box)
        x_axis = box[0] + box[3] / 2.0
        # converge anteriorly: the +x pedicle turns counter-clockwise about +z (its
        # anterior end moves to -x), the -x pedicle clockwise
        angle = math.copysign(math.radians(dims.pedicle_angle), x_axis)
        occ.rotate([(3, tag)], x_axis, y_lam, 0.0, 0.0, 0.0, 1.0, angle)
        tags.append(tag)
    tags += [occ.addBox(*box) for box in others]
    fused, _ = occ.fuse([(3, tags[0])], [(3, t) for t in tags[1:]])
    cut, _ = occ.cut(fused, [(3, body)], removeObject=True, removeTool=False)
    return [t for dim, t in cut if dim == 3]


def fragment_body_and_arch(
    outer: int, inner: int, arch: list[int]
) -> tuple[list[int], list[int], list[int]]:
    """Fragment body, centrum and arch into conforming volumes: (shell, core, arch)."""
    import gmsh

    occ = gmsh.model.occ
    _, children = occ.fragment([(3, outer)], [(3, inner)] + [(3, a) for a in arch])
    occ.synchronize()
    core = sorted({t for _, t in children[1]})
    posterior = sorted({t for child in children[2:] for _, t in child})
    every = sorted({t for child in children for _, t in child})
    shell = [t for t in every if t not in core and t not in posterior]
    return shell, core, posterior
