"""Figure of a run's fields cut by a plane: a field at the first output, another at the last.

    .venv/bin/python scripts/figure_cut.py RUN_FOLDER OUT.png [--normal y] [--origin X Y Z]
        [--first "mineral_density [g/cm^3]"] [--last "density_change [%]"]

Reads the run's ``fields.pvd`` with PyVista (off screen), keeps the half of the mesh on the
negative side of the plane (normal through ``origin``, default the mesh's centre) and draws
the two fields side by side, the camera looking along the normal. Used for the figures of
docs/imaging.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyvista as pv


def _mesh(reader: pv.BaseReader, t: float) -> pv.UnstructuredGrid:
    reader.set_active_time_value(t)
    data = reader.read()
    return data.combine() if isinstance(data, pv.MultiBlock) else data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--normal", choices=["x", "y", "z"], default="y")
    parser.add_argument("--origin", type=float, nargs=3, default=None)
    parser.add_argument("--first", default="mineral_density [g/cm^3]")
    parser.add_argument("--last", default="density_change [%]")
    args = parser.parse_args(argv)
    reader = pv.get_reader(str(args.run / "fields.pvd"))
    times = reader.time_values
    normal = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[args.normal]
    plotter = pv.Plotter(off_screen=True, shape=(1, 2), window_size=(1400, 700))
    for col, (t, name) in enumerate(((times[0], args.first), (times[-1], args.last))):
        mesh = _mesh(reader, t)
        origin = args.origin if args.origin is not None else mesh.center
        half = mesh.clip(normal=normal, origin=origin, invert=True)
        plotter.subplot(0, col)
        kw = {}
        if col == 1:  # a change: diverging colours, white at zero
            top = float(abs(half[name]).max()) or 1.0
            kw = {"cmap": "RdBu", "clim": (-top, top)}
        plotter.add_mesh(half, scalars=name, show_edges=False, **kw,
                         scalar_bar_args={"title": f"{name}, t = {t / 365.25:.1f} y"})  # fmt: skip
        # the camera on the side of the normal, looking at the cut face
        plotter.view_vector(normal, viewup=(0, 0, 1) if args.normal != "z" else (0, 1, 0))
        plotter.add_text(f"t = {t / 365.25:.1f} years", font_size=10)
    plotter.screenshot(str(args.out))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
