"""``bonefem test``: virtual mechanical tests of a mesh or an image, without biology.

Mechanics only: the mesh of a test file (:mod:`bonefem.config.mechtest`) or a voxel mesh
of a segmented image, a tissue-modulus material (constant E per region, or E from a
density), and for each test **one operator assembly and one CG + GAMG solve** (zero
initial guess) with :class:`~bonefem.mechanics.ElasticityProblem`: on voxel meshes the
operator is built from one element matrix for all voxels (:mod:`bonefem.mechanics.voxel`,
exact), otherwise by DOLFINx (a single solve does not repay the tetrahedral unit-modulus
set-up). No habitual load case, no cell model, no metrics loop. For each test:

* the reaction force (N) on **every** named or selected surface
  (:mod:`bonefem.mechanics.reactions`: a partition of the consistent nodal reaction, so
  that the reactions plus the applied loads sum to zero);
* for a test with one prescribed displacement along one axis a (δ mm on surface S): the
  reaction F = |R_S · e_a| (N), the stiffness F/δ (N/mm) and the apparent modulus
  E_app = (F/A) / (δ/L) (MPa) of a box-shaped specimen of length L along a and
  cross-section A (default: the image box of an image mesh, else the mesh's bounding
  box; or ``length_mm``/``area_mm2`` of the test);
* the solver statistics: KSP iterations, reason, final residual norm, and the times (s,
  wall clock, slowest rank) of set-up (spaces, forms), operator assembly, right-hand side,
  preconditioner set-up, CG, and reactions.

Written to ``results.json``, ``tests.csv`` and ``reactions.csv`` in the output folder,
with a short table on stdout (rank 0). Units: mm, N, MPa, s.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bonefem.config.mechtest import MechTestFile, VirtualTest, load_test_file, parse_test_file
from bonefem.errors import InputError

logger = logging.getLogger(__name__)

__all__ = [
    "TestResult",
    "image_test_file",
    "run_test_target",
    "run_tests",
    "specimen_box",
    "table",
    "write_results",
]

FloatArray = npt.NDArray[np.float64]
_AXES = "xyz"


@dataclass
class TestResult:
    """Results of one virtual test (units in the field names; forces N, times s)."""

    __test__ = False  # not a pytest class

    name: str
    reactions_N: dict[str, list[float]]
    applied_N: dict[str, list[float]]
    iterations: int
    reason: str
    residual_norm: float
    assemble_seconds: float
    rhs_seconds: float
    pc_setup_seconds: float
    solve_seconds: float
    reaction_seconds: float
    axis: str | None = None
    displacement_mm: float | None = None
    length_mm: float | None = None
    area_mm2: float | None = None
    force_N: float | None = None
    stiffness_N_per_mm: float | None = None
    apparent_modulus_MPa: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """Assembly, right-hand side, preconditioner set-up, CG and reactions (s)."""
        return (self.assemble_seconds + self.rhs_seconds + self.pc_setup_seconds
                + self.solve_seconds + self.reaction_seconds)  # fmt: skip


# ---------------------------------------------------------------------- specimen
def specimen_box(spec: MechTestFile, bone: Any, base_dir: Path | None) -> FloatArray:
    """Extents (mm) of the specimen box along x, y, z.

    A voxel mesh of an image (axis-aligned direction matrix): the image box, padded to a
    multiple of the coarsening (the total volume of a core, pores included); otherwise the
    bounding box of the mesh.
    """
    src = spec.mesh.image
    if src is not None and src.element == "hexahedron":
        box = None
        if bone.comm.rank == 0:
            box = _image_box(src, base_dir)
        box = bone.comm.bcast(box, root=0)
        if box is not None:
            return np.asarray(box, dtype=np.float64)
    lo, hi = bone.bounding_box()
    return np.asarray(hi - lo, dtype=np.float64)


def _image_box(src: Any, base_dir: Path | None) -> list[float] | None:
    from bonefem.imaging.image import read_header

    path = Path(src.file).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        head = read_header(path)
    except InputError:
        return None
    direction = np.abs(np.asarray(head.direction, dtype=np.float64).reshape(3, 3))
    if not np.allclose(direction, np.eye(3)):
        return None
    spacing = np.asarray(src.spacing or head.spacing, dtype=np.float64)
    k = src.coarsen
    n = np.ceil(np.asarray(head.size[:3], dtype=np.float64) / k) * k
    return [float(v) for v in n * spacing]


def _axial(test: VirtualTest) -> tuple[int, float, str] | None:
    """(axis, |δ| mm, surface) of a test with one displacement along one axis, else None."""
    disp = [d for d in test.displacement_supports() if any(v != 0.0 for v in d.vector())]
    if len(disp) != 1 or disp[0].gradient is not None:
        return None
    vec = np.asarray(disp[0].vector())
    nz = np.flatnonzero(vec)
    if nz.size != 1:
        return None
    a = int(nz[0])
    return a, float(abs(vec[a])), disp[0].surface


def _apparent(result: TestResult, test: VirtualTest, box: FloatArray) -> None:
    """Fill force, stiffness and E_app = (F/A)/(δ/L) of an axial test (module doc)."""
    ax = _axial(test)
    if ax is None:
        return
    a, delta, surface = ax
    length = test.length_mm or float(box[a])
    area = test.area_mm2 or float(np.prod(np.delete(box, a)))
    force = abs(result.reactions_N[surface][a])
    result.axis, result.displacement_mm = _AXES[a], delta
    result.length_mm, result.area_mm2, result.force_N = length, area, force
    result.stiffness_N_per_mm = force / delta
    if length > 0 and area > 0:
        result.apparent_modulus_MPa = (force / area) / (delta / length)


# -------------------------------------------------------------------------- mesh
def load_test_mesh(
    spec: MechTestFile, comm: Any, base_dir: Path | None, file: str | None
) -> tuple[Any, int]:
    """The mesh of a test file, and the bone voxels the face-connectivity filter removed.

    A voxel mesh of an image at coarsen 1 with ``test.connectivity = "face"`` is built here
    from the largest face-connected part (:func:`face_connected`, on rank 0, so the count
    can be reported); any other mesh by :func:`bonefem.mesh.load_bone_mesh`, whose voxel
    meshes apply the same filter to their elements (``[mesh.image] connectivity``, set
    here from ``test.connectivity``). Selectors apply in both cases.
    """
    from bonefem.mesh import load_bone_mesh

    src = spec.mesh.image
    mesh = spec.mesh
    if src is not None and src.connectivity != spec.test.connectivity:
        source = src.model_copy(update={"connectivity": spec.test.connectivity})
        mesh = mesh.model_copy(update={"image": source})
    if src is None or src.element != "hexahedron" or src.coarsen != 1:
        return load_bone_mesh(mesh, comm, base_dir=base_dir, file=file), 0
    if spec.test.connectivity == "none":
        return load_bone_mesh(mesh, comm, base_dir=base_dir, file=file), 0
    from bonefem.imaging.segment import Segmentation, face_connected
    from bonefem.imaging.selector_schema import apply_selections
    from bonefem.imaging.source import segmentation_on_root
    from bonefem.imaging.voxelmesh import voxel_mesh

    image, seg = segmentation_on_root(src, base_dir, comm)
    removed = 0
    if seg is not None:  # rank 0
        labels, removed = face_connected(seg.labels)
        seg = Segmentation(labels, dict(seg.regions), source=seg.source)
    bone, _ = voxel_mesh(comm, image, seg)
    if spec.mesh.select:
        apply_selections(bone, spec.mesh.select, file=file, prefix="mesh.select")
    return bone, int(comm.bcast(removed, root=0))


# ------------------------------------------------------------------------- solve
def _moduli(spec: MechTestFile, bone: Any) -> tuple[FloatArray, dict[str, float]]:
    """E per owned cell (MPa) and ν per region from the test material."""
    unknown = sorted(set(spec.material.regions) - set(bone.regions))
    if unknown:
        raise InputError(
            f"the mesh has no region {unknown[0]}; its regions are {', '.join(bone.region_names)}",
            field="material.regions",
            value=unknown[0],
        )
    names = bone.region_names
    E_region = np.array([spec.material.of(r).modulus() for r in names], dtype=np.float64)
    index = bone.owned_region_index()
    nu = {r: spec.material.of(r).poisson_ratio for r in names}
    return E_region[index], nu


def _applied(problem: Any, test: VirtualTest) -> dict[str, list[float]]:
    """Total Neumann load (N) on each loaded surface: force, traction·area, −p∫n ds."""
    import ufl

    from bonefem._dolfinx import MPI, dolfinx

    out: dict[str, FloatArray] = {}
    for load in test.loads:
        if load.type == "force":
            f = np.asarray(load.force, dtype=np.float64)
        elif load.type == "traction":
            f = np.asarray(load.traction, dtype=np.float64) * problem.bone.area(load.surface)
        else:
            n = ufl.FacetNormal(problem.mesh)
            ds = problem.bone.ds(load.surface)
            forms = [dolfinx.fem.form(n[i] * ds) for i in range(3)]
            local = [dolfinx.fem.assemble_scalar(f_) for f_ in forms]
            f = -load.pressure * np.array([problem.comm.allreduce(v, op=MPI.SUM) for v in local])
        out[load.surface] = out.get(load.surface, np.zeros(3)) + f
    return {k: v.tolist() for k, v in out.items()}


def run_tests(
    spec: MechTestFile,
    bone: Any,
    *,
    box: FloatArray | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[TestResult], dict[str, Any]]:
    """Run every test of ``spec`` on ``bone`` (collective): one assembly and solve each.

    Returns:
        (the results, run information: dofs, cells, set-up seconds, specimen box).
    """
    from bonefem._dolfinx import MPI
    from bonefem.mechanics import ElasticityProblem
    from bonefem.mechanics.reactions import SurfaceReactions

    t0 = clock()
    E, nu = _moduli(spec, bone)
    options: dict[str, Any] = {"ksp_rtol": spec.solver_rtol, **spec.petsc_options}
    hexes = bone.mesh.topology.cell_type.name == "hexahedron"
    problem = ElasticityProblem(bone, spec.tests, poisson_ratio=nu, petsc_options=options,
                                initial_guess="zero", assembly="auto" if hexes else "dolfinx",
                                clock=clock, options_prefix="bonefem_test_")  # fmt: skip
    problem.set_modulus(E)
    voxel = problem.voxel_operator
    internal = voxel.internal_forces if voxel is not None else None
    reactions = SurfaceReactions(bone, problem.V, problem.E, problem.nu, internal)
    setup = clock() - t0
    box = np.asarray(box if box is not None else specimen_box(spec, bone, None))
    slowest = lambda t: float(bone.comm.allreduce(t, op=MPI.MAX))  # noqa: E731
    results = []
    for test in spec.tests:
        problem.solve(test.name)
        st = problem.last_stats(test.name)
        t1 = clock()
        case = problem.cases[test.name]
        reac = reactions.compute(test, case.u, case.L)
        t_reac = clock() - t1
        res = TestResult(
            test.name, {k: v.tolist() for k, v in reac.items()}, _applied(problem, test),
            st.iterations, st.reason, st.residual_norm, slowest(st.assemble_seconds),
            slowest(st.rhs_seconds), slowest(st.setup_seconds), slowest(st.solve_seconds),
            slowest(t_reac),
        )  # fmt: skip
        _apparent(res, test, box)
        results.append(res)
    info = {
        "dofs": problem.num_dofs_global,
        "cells": bone.num_cells_global,
        "setup_seconds": slowest(setup),
        "ranks": bone.comm.size,
        "box_mm": box.tolist(),
        "surfaces": bone.surface_names,
        "regions": bone.region_names,
    }
    problem.destroy()
    return results, info


# ------------------------------------------------------------------------ output
_COLUMNS = ["test", "iterations", "reason", "residual_norm", "axis", "displacement_mm",
            "length_mm", "area_mm2", "force_N", "stiffness_N_per_mm", "apparent_modulus_MPa",
            "assemble_seconds", "rhs_seconds", "pc_setup_seconds", "solve_seconds",
            "reaction_seconds"]  # fmt: skip


def write_results(
    folder: Path, results: Sequence[TestResult], info: dict[str, Any], comm: Any
) -> None:
    """``results.json``, ``tests.csv``, ``reactions.csv`` in ``folder`` (rank 0 writes)."""
    error = None
    if comm.rank == 0:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            doc = {"info": info, "tests": [asdict(r) for r in results]}
            (folder / "results.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            with (folder / "tests.csv").open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(_COLUMNS)
                for r in results:
                    row = asdict(r) | {"test": r.name}
                    w.writerow(["" if row[c] is None else row[c] for c in _COLUMNS])
            with (folder / "reactions.csv").open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["test", "surface", "Rx_N", "Ry_N", "Rz_N", "applied_x_N",
                            "applied_y_N", "applied_z_N"])  # fmt: skip
                for r in results:
                    for s, v in r.reactions_N.items():
                        w.writerow([r.name, s, *v, *r.applied_N.get(s, [0.0, 0.0, 0.0])])
        except OSError as exc:
            error = f"cannot write the results: {exc}"
    error = comm.bcast(error, root=0)
    if error is not None:
        raise InputError(error, file=folder)


def table(results: Sequence[TestResult], info: dict[str, Any]) -> str:
    """A short text table of the tests and their reactions."""

    def num(v: float | None, fmt: str = ".4g") -> str:
        return "-" if v is None or not math.isfinite(v) else format(v, fmt)

    lines = [f"{info['cells']} cells, {info['dofs']} dofs, {info['ranks']} rank(s); "
             f"set-up {info['setup_seconds']:.2f} s",
             f"{'test':20s} {'its':>5s} {'residual':>10s} {'F (N)':>11s} {'K (N/mm)':>11s} "
             f"{'E_app (MPa)':>12s} {'asm s':>7s} {'pc s':>7s} {'cg s':>7s}"]  # fmt: skip
    for r in results:
        lines.append(
            f"{r.name[:20]:20s} {r.iterations:5d} {r.residual_norm:10.3e} {num(r.force_N):>11s} "
            f"{num(r.stiffness_N_per_mm):>11s} {num(r.apparent_modulus_MPa):>12s} "
            f"{r.assemble_seconds:7.2f} {r.pc_setup_seconds:7.2f} {r.solve_seconds:7.2f}"
        )
    lines.append("reactions (N):")
    for r in results:
        for s, v in r.reactions_N.items():
            lines.append(f"  {r.name[:20]:20s} {s:16s} " + " ".join(f"{c:12.5g}" for c in v))
    return "\n".join(lines)


# -------------------------------------------------------------------------- entry
def image_test_file(
    image: str | Path,
    *,
    threshold: Sequence[float] | None = None,
    labels: str | None = None,
    coarsen: int = 1,
    spacing: Sequence[float] | None = None,
    modulus_MPa: float | None = None,
    poisson_ratio: float = 0.3,
    strain: float = 0.001,
    axes: Sequence[str] = ("z",),
    ends: str = "clamped",
    connectivity: str = "face",
    comm: Any = None,
) -> MechTestFile:
    """The test file of ``bonefem test IMAGE``: compression along each axis of the image box.

    Args:
        image: the image file (absolute, or relative to the working folder).
        threshold: bone = lower [, upper] (image units).
        labels: a label image instead (every label is bone).
        coarsen: voxels per element edge.
        spacing: voxel size (mm) replacing the header's.
        modulus_MPa: tissue modulus (default 18000 MPa, Bayraktar 2004).
        poisson_ratio: ν.
        strain: apparent compressive strain δ/L (dimensionless, > 0).
        axes: the loading axes ('x', 'y', 'z'), one test each.
        ends: 'clamped' (both loaded faces held in all components: the displaced face moves
            along the axis only) or 'rollers' (the three min faces held normal to
            themselves, the max face moved along the axis: uniaxial stress for a full box).
        connectivity: 'face' (largest face-connected part) or 'none' (module
            :func:`face_connected`).
        comm: communicator (the image header is read on rank 0).
    """
    from bonefem._dolfinx import MPI

    comm = comm or MPI.COMM_WORLD
    if not 0.0 < strain < 0.5:
        raise InputError("must be in (0, 0.5)", field="--strain", value=strain)
    bad = [a for a in axes if a not in _AXES]
    if bad or not axes:
        raise InputError("axes are x, y or z", field="--axis", value=list(axes))
    if (threshold is None) == (labels is None):
        raise InputError(
            "give the segmentation of the image: --threshold LOWER [UPPER] or --labels FILE "
            "(one of them)",
            file=image,
            field="--threshold",
        )
    if ends not in ("clamped", "rollers"):
        raise InputError("must be 'clamped' or 'rollers'", field="--ends", value=ends)
    src: dict[str, Any] = {"file": str(Path(image).resolve()), "coarsen": int(coarsen)}
    if labels is not None:
        src["labels"] = str(Path(labels).resolve())
    if threshold is not None:
        src["threshold"] = [float(v) for v in threshold]
    if spacing is not None:
        src["spacing"] = [float(v) for v in spacing]
    name = Path(image).name.split(".")[0] or "image"
    data: dict[str, Any] = {"test": {"name": name, "connectivity": connectivity},
                            "mesh": {"image": src}}  # fmt: skip
    spec = parse_test_file(data | {"tests": [_dummy()]})
    assert spec.mesh.image is not None
    box = comm.bcast(_image_box(spec.mesh.image, None) if comm.rank == 0 else None, root=0)
    if box is None:
        raise InputError("cannot read the image box (or its direction is not axis-aligned)",
                         file=image)  # fmt: skip
    modulus = {"poisson_ratio": float(poisson_ratio)}
    if modulus_MPa is not None:
        modulus["constant_MPa"] = float(modulus_MPa)
    data["material"] = {"modulus": modulus}
    data["tests"] = [_compression(a, strain * box[_AXES.index(a)], ends) for a in axes]
    return parse_test_file(data, file=str(image))


def _dummy() -> dict[str, Any]:
    return {"name": "_", "supports": [{"type": "fixed", "surface": "zmin"}]}


def _compression(axis: str, delta: float, ends: str) -> dict[str, Any]:
    """A compression test along ``axis`` by δ mm on the image-box faces."""
    a = _AXES.index(axis)
    top: dict[str, Any] = {"type": "displacement", "surface": f"{axis}max"}
    if ends == "clamped":
        value = [0.0, 0.0, 0.0]
        value[a] = -delta
        supports = [{"type": "fixed", "surface": f"{axis}min"}, top | {"value": value}]
    else:
        supports = [{"type": "fixed", "surface": f"{c}min", "component": c} for c in _AXES]
        supports.append(top | {"value": -delta, "component": axis})
    return {"name": f"compression_{axis}", "supports": supports}


def run_test_target(
    target: str | Path,
    output: str | Path | None = None,
    *,
    image_options: dict[str, Any] | None = None,
    comm: Any = None,
) -> tuple[Path, list[TestResult], dict[str, Any]]:
    """``bonefem test TARGET``: a test file (``.toml``) or an image; returns the folder."""
    from bonefem._dolfinx import MPI

    comm = comm or MPI.COMM_WORLD
    path = Path(target)
    if path.suffix == ".toml":
        spec, base, file = load_test_file(path, comm), path.parent, str(path)
    else:
        spec = image_test_file(path, comm=comm, **(image_options or {}))
        base, file = None, str(path)
    bone, removed = load_test_mesh(spec, comm, base, file)
    box = specimen_box(spec, bone, base)
    results, info = run_tests(spec, bone, box=box)
    info["removed_voxels"] = removed
    folder = Path(output) if output is not None else Path("runs") / spec.test.name
    write_results(folder, results, info, comm)
    return folder, results, info


# ---------------------------------------------------------------------- command
def add_arguments(p: Any) -> None:
    """The options of ``bonefem test`` (an argparse parser)."""
    p.add_argument("target", help="test file (.toml: [mesh], [material], [[tests]]) or an image")
    p.add_argument("--output", "-o", help="results folder (default runs/<test.name>)")
    g = p.add_argument_group("image input (compression tests on the faces of the image box)")
    g.add_argument("--threshold", type=float, nargs="+", metavar="V",
                   help="bone = LOWER [UPPER] in image units")  # fmt: skip
    g.add_argument("--labels", help="label image instead of a threshold (every label bone)")
    g.add_argument("--coarsen", type=int, default=1, help="voxels per element edge (default 1)")
    g.add_argument("--spacing", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="voxel size in mm (TIFF stacks)")  # fmt: skip
    g.add_argument("--modulus", type=float, default=None,
                   help="tissue modulus in MPa (default 18000, Bayraktar et al. 2004)")  # fmt: skip
    g.add_argument("--poisson", type=float, default=0.3, help="Poisson's ratio (default 0.3)")
    g.add_argument("--strain", type=float, default=0.001,
                   help="apparent compressive strain δ/L (default 0.001)")  # fmt: skip
    g.add_argument("--axis", action="append", choices=list(_AXES),
                   help="loading axis, repeatable (default z)")  # fmt: skip
    g.add_argument("--connectivity", choices=["face", "none"], default="face",
                   help="largest face-connected part (default) or every voxel")  # fmt: skip
    g.add_argument("--ends", choices=["clamped", "rollers"], default="clamped",
                   help="'clamped' loaded faces (default) or 'rollers'")  # fmt: skip


def command(args: Any) -> int:
    """Run ``bonefem test`` from parsed arguments; prints the table on rank 0."""
    from bonefem._dolfinx import MPI

    opts = {
        "threshold": args.threshold,
        "labels": args.labels,
        "coarsen": args.coarsen,
        "spacing": args.spacing,
        "modulus_MPa": args.modulus,
        "poisson_ratio": args.poisson,
        "strain": args.strain,
        "axes": tuple(args.axis or ("z",)),
        "ends": args.ends,
        "connectivity": args.connectivity,
    }
    if not Path(args.target).exists():
        raise InputError("file not found", file=args.target)
    folder, results, info = run_test_target(args.target, args.output, image_options=opts)
    if MPI.COMM_WORLD.rank == 0:
        print(table(results, info))
        if info.get("removed_voxels"):
            print(f"{info['removed_voxels']} bone voxels not face-connected to the largest "
                  "part were left out (--connectivity none keeps them)")  # fmt: skip
        print(f"results: {folder}/results.json, tests.csv, reactions.csv")
    return 0
