"""``bonefem image``: inspect CT images, make phantoms, build voxel meshes, morphometry.

Examples::

    bonefem image inspect scan.nii.gz                    # size, spacing, orientation, values
    bonefem image inspect dicom_folder/ --histogram hist.png --json
    bonefem image inspect slices/ --spacing 0.02 0.02 0.02   # a TIFF stack
    bonefem image phantom qct -o phantom.nii.gz          # QCT phantom (HU) + labels
    bonefem image phantom rods -o rods.mha               # micro-CT rod lattice
    bonefem image components hip.nii.gz --threshold 450 --separate 2   # bones: size, box, seed
    bonefem image voxelmesh core.mha --threshold 500 --coarsen 1 -o core.xdmf
    bonefem image voxelmesh phantom.nii.gz --labels phantom-labels.nii.gz \
        --region cortical=1 --region trabecular=2 --coarsen 2 -o femur.xdmf
    bonefem image voxelmesh phantom.nii.gz --threshold 125 --fill-holes \
        --tetrahedra --max-size 2 -o femur-tet.xdmf       # smooth tetrahedra instead
    bonefem image morphometry core.mha --threshold 500 --json core.json \
        --thickness-image core-th.nii.gz                  # BV/TV, BS/BV, Tb.Th, Tb.Sp, Tb.N

A voxel mesh written as ``.xdmf`` is a bonefem mesh file: a case loads it with
``[mesh] file = "femur.xdmf"``. Exit codes: 0 success, 2 bad input (message on stderr).

Wiring into ``bonefem`` (bonefem/cli.py)::

    from bonefem.imaging.command import add_arguments as add_image_arguments
    add_image_arguments(sub.add_parser("image", help="inspect CT images, phantoms, voxel meshes"))
    ...
    if args.command == "image":
        from bonefem.imaging.command import run as run_image
        return run_image(args)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bonefem.errors import InputError

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bonefem image`` sub-commands to ``parser``."""
    parser.description = __doc__.split("\n\n")[0] if __doc__ else None
    sub = parser.add_subparsers(dest="image_command", required=True, metavar="ACTION")

    p = sub.add_parser("inspect", help="size, spacing, orientation, value range, histogram")
    p.add_argument("image", nargs="+", help="image file, DICOM/TIFF folder, or slice files")
    p.add_argument("--histogram", metavar="PNG", help="write the histogram figure here")
    p.add_argument("--spacing", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="voxel size in mm (TIFF stacks have none)")  # fmt: skip
    p.add_argument("--max-gib", type=float, default=None, help="memory limit (GiB)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser("phantom", help="write a test phantom made by the code")
    p.add_argument("kind", choices=["qct", "joint", "rods", "core"],
                   help="qct: femur-like shaft with calibration rods (HU); joint: hip-like "
                   "scan, a femur in a pelvis-like cup joined by a bridge, blurred, with rods "
                   "(HU); rods: micro-CT rod lattice; core: thresholded smoothed random "
                   "field")  # fmt: skip
    p.add_argument("--output", "-o", required=True,
                   help="image file (.nii.gz, .mha, .nrrd); the labels go to "
                   "<name>-labels.<ext>")  # fmt: skip

    _add_components(sub)
    _add_voxelmesh(sub)

    p = sub.add_parser("morphometry", help="BV/TV, BS/BV, Tb.Th, Tb.Sp, Tb.N of a micro-CT VOI")
    p.add_argument("image", nargs="+", help="image file, DICOM/TIFF folder, or slice files")
    p.add_argument("--threshold", type=float, nargs="+", metavar="VALUE",
                   help="bone = lower [upper] (image units)")  # fmt: skip
    p.add_argument("--labels", help="label image: bone = the --bone-label values (default: > 0)")
    p.add_argument("--bone-label", type=int, action="append", metavar="VALUE",
                   help="label value of bone (repeat)")  # fmt: skip
    p.add_argument("--largest", action="store_true",
                   help="threshold: keep the largest 26-connected component only")  # fmt: skip
    p.add_argument("--envelope", metavar="MASK",
                   help="mask (> 0) of where marrow can be; default the whole box")  # fmt: skip
    p.add_argument("--boundary", choices=["background", "replicate", "periodic"],
                   default="background",
                   help="beyond the box faces: nothing (background, default), the structure "
                   "goes straight on (replicate), or the volume repeats (periodic)")  # fmt: skip
    p.add_argument("--levels", type=int, default=None, metavar="N",
                   help="distance-transform radius levels for the spheres too large to "
                   "paint (default DEFAULT_LEVELS = 32; 0 = all, exact)")  # fmt: skip
    p.add_argument("--plate-only", action="store_true",
                   help="plate model only (no local thickness; anisotropic voxels ok)")  # fmt: skip
    p.add_argument("--spacing", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="voxel size in mm (TIFF stacks)")  # fmt: skip
    p.add_argument("--json", metavar="FILE", help="write the indices and histograms as JSON")
    p.add_argument("--thickness-image", metavar="FILE",
                   help="write the local thickness of bone (mm; .nii.gz, .mha, .nrrd)")  # fmt: skip
    p.add_argument("--separation-image", metavar="FILE",
                   help="write the local thickness of marrow (mm)")  # fmt: skip


_CROP = ("I0", "I1", "J0", "J1", "K0", "K1")


def _add_components(sub: Any) -> None:
    """The ``components`` sub-command's arguments."""
    p = sub.add_parser("components", help="the bones above a threshold: size, box, a seed")
    p.add_argument("image", nargs="+", help="image file, DICOM/TIFF folder, or slice files")
    p.add_argument("--threshold", type=float, nargs="+", metavar="VALUE", required=True,
                   help="bone = lower [upper] (image units)")  # fmt: skip
    p.add_argument("--crop", type=int, nargs=6, metavar=_CROP,
                   help="keep voxels I0 <= i < I1, J0 <= j < J1, K0 <= k < K1")  # fmt: skip
    p.add_argument("--separate", type=int, default=0, metavar="LAYERS",
                   help="the parts that --separate LAYERS cuts apart (default: connected "
                   "components)")  # fmt: skip
    p.add_argument("--top", type=int, default=10, help="list the N largest (default 10)")
    p.add_argument("--spacing", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="voxel size in mm (TIFF stacks)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the list as JSON")


def _add_voxelmesh(sub: Any) -> None:
    """The ``voxelmesh`` sub-command's arguments."""
    p = sub.add_parser("voxelmesh", help="voxel hexahedral mesh of a segmented image")
    p.add_argument("image", nargs="+", help="image file, DICOM/TIFF folder, or slice files")
    p.add_argument("--labels", help="label image (0 = background) instead of a threshold")
    p.add_argument("--region", action="append", metavar="NAME=VALUE",
                   help="name of a label value (repeat)")  # fmt: skip
    p.add_argument("--threshold", type=float, nargs="+", metavar="VALUE",
                   help="bone = lower [upper] (image units); largest component kept")  # fmt: skip
    p.add_argument("--fill-holes", action="store_true", help="fill enclosed cavities")
    p.add_argument("--crop", type=int, nargs=6, metavar=_CROP,
                   help="keep voxels I0 <= i < I1, J0 <= j < J1, K0 <= k < K1")  # fmt: skip
    p.add_argument("--seed", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="threshold: keep the bone holding this point (mm, the image's "
                   "physical frame) instead of the largest")  # fmt: skip
    p.add_argument("--separate", type=int, default=0, metavar="LAYERS",
                   help="threshold: erode LAYERS voxels to cut bridges to a neighbouring "
                   "bone (joints); docs/imaging.md")  # fmt: skip
    p.add_argument("--coarsen", type=int, default=1, help="voxels per element edge k")
    p.add_argument("--min-fraction", type=float, default=0.5,
                   help="keep a k³ block with at least this bone fraction")  # fmt: skip
    p.add_argument("--spacing", type=float, nargs=3, metavar=("X", "Y", "Z"),
                   help="voxel size in mm (TIFF stacks)")  # fmt: skip
    p.add_argument("--tetrahedra", action="store_true",
                   help="smooth tetrahedra (marching cubes + gmsh) instead of voxels")  # fmt: skip
    p.add_argument("--max-size", type=float, default=None,
                   help="tetrahedra: largest element size inside (mm)")  # fmt: skip
    p.add_argument("--output", "-o", help="bonefem mesh file (.xdmf)")


def _crop_arg(args: argparse.Namespace) -> list[list[int]] | None:
    """``--crop I0 I1 J0 J1 K0 K1`` as [[i0, i1], [j0, j1], [k0, k1]] (None if not given)."""
    c = args.crop
    return None if c is None else [c[0:2], c[2:4], c[4:6]]


def _source(items: list[str]) -> Any:
    return items[0] if len(items) == 1 else items


def _inspect(args: argparse.Namespace) -> int:
    from bonefem.imaging.image import inspect_image

    limit = None if args.max_gib is None else int(args.max_gib * 1024**3)
    info = inspect_image(_source(args.image), figure=args.histogram, spacing=args.spacing,
                         max_bytes=limit)  # fmt: skip
    if args.json:
        d = asdict(info)
        d.pop("histogram_counts")
        d.pop("histogram_edges")
        print(json.dumps(d, indent=1))
    else:
        print("\n".join(info.lines()))
    return 0


def _labels_path(out: Path) -> Path:
    name = out.name
    for ext in (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd"):
        if name.endswith(ext):
            return out.with_name(name[: -len(ext)] + "-labels" + ext)
    return out.with_name(out.stem + "-labels" + out.suffix)


def _phantom(args: argparse.Namespace) -> int:
    import numpy as np

    from bonefem.imaging.image import write_image
    from bonefem.imaging.phantoms import joint_phantom, qct_phantom, random_core, rod_lattice

    out = Path(args.output)
    if args.kind == "qct":
        ph = qct_phantom()
        write_image(ph.image, out)
        lab = write_image(ph.image.with_array(ph.segmentation.labels.astype(np.uint8)),
                          _labels_path(out))  # fmt: skip
        print(f"written: {out} (HU) and {lab} (1 cortical, 2 trabecular)")
        print(f"true densities (g/cm³ K2HPO4): {ph.densities}")
        rods = ", ".join(
            f"({x:.2f}, {y:.2f}) mm: {r} g/cm³"
            for (x, y), r in zip(ph.rod_centers, ph.rod_densities, strict=True)
        )
        print(f"calibration rods, radius {ph.rod_radius} mm along z: {rods}")
        return 0
    if args.kind == "joint":
        jp = joint_phantom()
        write_image(jp.image, out)
        lab = write_image(jp.image.with_array(jp.truth.astype(np.uint8)), _labels_path(out))
        print(f"written: {out} (HU) and {lab} (truth: 1 femoral cortex, 2 femoral "
              "trabecular bone, 3 pelvis, 4 bridge)")  # fmt: skip
        print(f"true densities (g/cm³ K2HPO4): {jp.densities}; blur σ {jp.blur_mm} mm, "
              f"noise σ {jp.noise_hu} HU")  # fmt: skip
        rods = ", ".join(
            f"({x:.2f}, {y:.2f}) mm: {r} g/cm³"
            for (x, y), r in zip(jp.rod_centers, jp.rod_densities, strict=True)
        )
        print(f"calibration rods, radius {jp.rod_radius} mm along z: {rods}")
        print(f"a point in the femur (mm): {list(jp.femur_seed)}; a crop without the rods: "
              f"{jp.femur_box}")  # fmt: skip
        return 0
    if args.kind == "rods":
        img, mask, bvtv = rod_lattice()
    else:
        img, mask = random_core()
        bvtv = float(mask.mean())
    write_image(img, out)
    lab = write_image(img.with_array(mask.astype(np.uint8)), _labels_path(out))
    print(f"written: {out} and {lab} (mask); BV/TV = {bvtv:.4f}")
    return 0


def _pairs(items: list[str] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        try:
            out[key.strip()] = int(val)
        except ValueError:
            sep = ""
        if not sep or not key.strip():
            raise InputError("expected NAME=INTEGER", field="--region", value=item)
    return out


def _voxelmesh(args: argparse.Namespace) -> int:
    from bonefem._dolfinx import MPI
    from bonefem.imaging.image import read_image
    from bonefem.imaging.segment import from_labels
    from bonefem.imaging.source import ImageMeshSource, threshold_segmentation
    from bonefem.imaging.voxelmesh import voxel_mesh
    from bonefem.mesh.meshfile import write_mesh
    from bonefem.mesh.quality import summarize

    comm = MPI.COMM_WORLD
    if (args.labels is None) == (args.threshold is None):
        raise InputError("give exactly one of --labels or --threshold", field="--threshold")
    if args.labels is not None and (args.seed is not None or args.separate):
        raise InputError("--seed and --separate work on a --threshold segmentation",
                         field="--seed" if args.seed is not None else "--separate")  # fmt: skip
    crop = _crop_arg(args)
    seg = None
    image = None
    error = None
    if comm.rank == 0:
        try:
            image = read_image(_source(args.image), spacing=args.spacing, crop=crop,
                               crop_field="--crop")  # fmt: skip
            if args.labels is not None:
                lab = read_image(args.labels, spacing=args.spacing, crop=crop, crop_field="--crop")
                seg = from_labels(lab.array, _pairs(args.region) or None, source=args.labels)
            else:
                options = ImageMeshSource(
                    file=image.source, threshold=args.threshold, fill_holes=args.fill_holes,
                    seed=args.seed, separate=args.separate,
                )  # fmt: skip
                seg = threshold_segmentation(options, image, None, prefix="--")
        except InputError as exc:
            error = exc
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
    grid = comm.bcast(_grid_only(image) if image is not None else None, root=0)
    if comm.rank != 0:
        image = grid  # only rank 0 builds the mesh arrays; the others need the grid only
    assert image is not None
    if args.tetrahedra:
        from bonefem.imaging.tetmesh import tet_mesh

        bone, _ = tet_mesh(comm, image, seg, max_size=args.max_size)
    else:
        bone, _ = voxel_mesh(comm, image, seg, coarsen=args.coarsen,
                             min_fraction=args.min_fraction)  # fmt: skip
    if args.output:
        write_mesh(bone, args.output)
    summary = summarize(bone)
    if comm.rank == 0:
        print(summary.format())
        if args.output:
            print(f"written: {args.output}")
    return 0


def _morphometry(args: argparse.Namespace) -> int:
    import numpy as np

    from bonefem.imaging.image import read_image, write_image
    from bonefem.imaging.morphometry import DEFAULT_LEVELS, morphometry
    from bonefem.imaging.segment import threshold_bounds, threshold_mask

    if (args.labels is None) == (args.threshold is None):
        raise InputError("give exactly one of --labels or --threshold", field="--threshold")
    if args.plate_only and (args.thickness_image or args.separation_image):
        raise InputError("--plate-only computes no local thickness image", field="--plate-only")
    image = read_image(_source(args.image), spacing=args.spacing)
    if args.labels is not None:
        lab = np.asarray(read_image(args.labels, spacing=args.spacing).array)
        if lab.shape != image.array.shape:
            raise InputError("the label image and the image differ in size", field="--labels",
                             value=args.labels)  # fmt: skip
        mask = np.isin(lab, args.bone_label) if args.bone_label else lab > 0
        if not np.any(mask):
            raise InputError("the label image has no bone voxels", field="--labels",
                             value=args.labels)  # fmt: skip
    else:
        lo, hi = threshold_bounds(args.threshold)
        mask = threshold_mask(image.array, lo, hi, keep_largest=args.largest,
                              source=image.source)  # fmt: skip
    envelope = None
    if args.envelope is not None:
        env = read_image(args.envelope, spacing=args.spacing)
        if env.array.shape != mask.shape:
            raise InputError("the envelope and the image differ in size", field="--envelope",
                             value=args.envelope)  # fmt: skip
        envelope = np.asarray(env.array) > 0
    levels = DEFAULT_LEVELS if args.levels is None else (args.levels or None)
    sp = tuple(float(v) for v in image.spacing)
    r = morphometry(mask, (sp[0], sp[1], sp[2]), direct=not args.plate_only,
                    envelope=envelope, boundary=args.boundary, max_levels=levels,
                    keep_maps=bool(args.thickness_image or args.separation_image))  # fmt: skip
    print(f"image {image.source}: {mask.shape[2]} x {mask.shape[1]} x {mask.shape[0]} voxels "
          f"of {' x '.join(f'{v:g}' for v in sp)} mm")  # fmt: skip
    print(f"TV     {r.tv:.6g} mm³   BV {r.bv:.6g} mm³   BS {r.bs:.6g} mm²")
    print(f"BV/TV  {r.bv_tv:.4f}")
    print(f"BS/BV  {r.bs_bv:.4f} 1/mm")
    if r.thickness is not None and r.separation is not None:
        for name, st, plate in (("Tb.Th", r.thickness, r.tb_th_plate),
                                ("Tb.Sp", r.separation, r.tb_sp_plate)):  # fmt: skip
            note = "" if st.exact else f", large radii rounded down to {st.levels} levels"
            print(f"{name}  {st.mean:.4f} mm  (SD {st.sd:.4f}, max {st.max:.4f}{note}; "
                  f"plate model {plate:.4f})")  # fmt: skip
        print(f"Tb.N   {r.tb_n:.4f} 1/mm  (1/(Tb.Th + Tb.Sp); plate model {r.tb_n_plate:.4f})")
    else:
        print(f"Tb.Th  {r.tb_th_plate:.4f} mm   (plate model 2 BV/BS)")
        print(f"Tb.Sp  {r.tb_sp_plate:.4f} mm   (plate model 2 (TV - BV)/BS)")
        print(f"Tb.N   {r.tb_n_plate:.4f} 1/mm (plate model (BV/TV)/Tb.Th)")
    if args.json:
        d: dict[str, Any] = {
            "source": str(image.source),
            "units": {"length": "mm", "area": "mm2", "volume": "mm3", "Tb.N": "1/mm"},
            "spacing": sp,
            "shape_zyx": list(mask.shape),
            "boundary": args.boundary,
            "indices": r.summary(),
        }
        for key, stats in (("thickness", r.thickness), ("separation", r.separation)):
            if stats is not None:
                d[key] = asdict(stats)
        Path(args.json).write_text(json.dumps(d, indent=1) + "\n", encoding="utf-8")
        print(f"written: {args.json}")
    for path, arr in ((args.thickness_image, r.thickness_map),
                      (args.separation_image, r.separation_map)):  # fmt: skip
        if path and arr is not None:
            write_image(image.with_array(arr.astype(np.float32)), path)
            print(f"written: {path} (local thickness, mm)")
    return 0


def _components(args: argparse.Namespace) -> int:
    """List the bones above the threshold with what a case needs to pick one (rank 0)."""
    import numpy as np
    from scipy import ndimage

    from bonefem.imaging.image import read_image
    from bonefem.imaging.segment import bone_labels, threshold_bounds, threshold_mask

    crop = _crop_arg(args)
    image = read_image(_source(args.image), spacing=args.spacing, crop=crop, crop_field="--crop")
    lo, hi = threshold_bounds(args.threshold)
    mask = threshold_mask(image.array, lo, hi, keep_largest=False, source=image.source)
    try:
        labels, n = bone_labels(mask, args.separate, spacing=image.spacing)
    except ValueError as exc:
        raise InputError(str(exc), file=image.source, field="--separate",
                         value=args.separate) from None  # fmt: skip
    ids = np.arange(1, min(n, args.top) + 1)
    # the deepest voxel of each part (farthest from the background: a seed well inside)
    depth = ndimage.distance_transform_edt(
        labels > 0, sampling=(image.spacing[2], image.spacing[1], image.spacing[0])
    )
    deepest = ndimage.maximum_position(depth, labels, ids) if ids.size else []
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    boxes = ndimage.find_objects(labels, max_label=int(ids.size))
    offset = [0, 0, 0] if crop is None else [a for a, _ in crop]
    rows = []
    for i, (box, (k, j, ii)) in enumerate(zip(boxes, deepest, strict=True), start=1):
        assert box is not None
        sk, sj, si = box
        part_crop = [[s.start + o, s.stop + o] for s, o in zip((si, sj, sk), offset, strict=True)]
        lo_mm = image.index_to_physical([[si.start, sj.start, sk.start]])[0]
        hi_mm = image.index_to_physical([[si.stop - 1, sj.stop - 1, sk.stop - 1]])[0]
        seed = image.index_to_physical([[ii, j, k]])[0]
        axis, length = _principal_axis(image, labels[box] == i, (si.start, sj.start, sk.start))
        rows.append({
            "part": i,
            "voxels": int(counts[i]),
            "volume_mm3": float(counts[i] * image.voxel_volume),
            "crop": part_crop,
            "box_mm": [np.round(lo_mm, 3).tolist(), np.round(hi_mm, 3).tolist()],
            "seed_mm": np.round(seed, 3).tolist(),
            "seed_depth_mm": float(depth[k, j, ii]),
            "axis": np.round(axis, 4).tolist(),
            "length_mm": round(length, 3),
        })  # fmt: skip
    if args.json:
        print(json.dumps({"threshold": args.threshold, "separate": args.separate,
                          "parts": n, "listed": rows}, indent=1))  # fmt: skip
        return 0
    how = f"cut apart by --separate {args.separate}" if args.separate else "26-connected"
    print(f"{image.source}: {n} part(s) within the threshold ({how}); the largest {len(rows)}:")
    for r in rows:
        print(f"  {r['part']:>3}: {r['voxels']} voxels, {r['volume_mm3']:.1f} mm³; crop "
              f"{r['crop']} (voxel ranges i, j, k of the whole image); box {r['box_mm'][0]} "
              f"to {r['box_mm'][1]} mm; seed {r['seed_mm']} mm ({r['seed_depth_mm']:.2f} mm "
              f"deep); long axis {r['axis']} ({r['length_mm']:.1f} mm long)")  # fmt: skip
    return 0


def _principal_axis(image: Any, part: Any, start: tuple[int, int, int]) -> tuple[Any, float]:
    """Unit vector of a part's longest principal axis (physical frame) and its extent (mm).

    The eigenvector of the largest eigenvalue of the covariance of the voxel centres (the
    shaft of a long bone; its sign points from the lower to the higher image index k), and
    the extent of the centres along it plus one voxel.
    """
    import numpy as np

    k, j, i = np.nonzero(part)
    pts = image.index_to_physical(np.stack([i + start[0], j + start[1], k + start[2]], axis=1))
    centred = pts - pts.mean(axis=0)
    _, vecs = np.linalg.eigh(centred.T @ centred)
    axis = vecs[:, -1]
    if axis @ image.direction[:, 2] < 0:
        axis = -axis
    along = centred @ axis
    return axis, float(np.ptp(along) + min(image.spacing))


def _grid_only(image: Any) -> Any:
    """The image grid with a 1-voxel array, for broadcasting to the other ranks."""
    import numpy as np

    from bonefem.imaging.image import Image

    return Image(np.zeros((1, 1, 1)), image.spacing, image.origin, image.direction, image.source)


def run(args: argparse.Namespace) -> int:
    """Run ``bonefem image``; returns the exit code (2 for bad input, message on stderr)."""
    from mpi4py import MPI

    rank = MPI.COMM_WORLD.rank
    try:
        if args.image_command == "inspect":
            return _inspect(args) if rank == 0 else 0
        if args.image_command == "phantom":
            return _phantom(args) if rank == 0 else 0
        if args.image_command == "morphometry":
            return _morphometry(args) if rank == 0 else 0
        if args.image_command == "components":
            return _components(args) if rank == 0 else 0
        return _voxelmesh(args)
    except InputError as exc:
        if rank == 0:
            print(f"bonefem image: error: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (``python -m bonefem.imaging.command``)."""
    parser = argparse.ArgumentParser(prog="bonefem image")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
