"""Render the default bone geometries for docs/meshes.md (off-screen, pyvista).

Run from the repository root:  .venv/bin/python docs/figures/meshes/render.py
Each figure: left, the periosteal surface coloured by named surface; right, a cut through
the frontal plane (y = 0) coloured by region (cortical / trabecular) with the cell edges;
the vertebra with posterior elements is cut through the pedicles (z = 16.2 mm) instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import meshio
import numpy as np
import pyvista as pv

from bonefem._dolfinx import MPI
from bonefem.mesh import generate

HERE = Path(__file__).resolve().parent
COLOURS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#e8e3d3", "#17becf"]
# camera eye points (mm) of the two surface views and the focal point of every view
VIEWS = {
    "specimen": ((40.0, 50.0, 35.0), (-40.0, 50.0, -25.0), (0.0, 0.0, 8.0)),
    "diaphysis": ((110.0, 130.0, 90.0), (-110.0, 130.0, -70.0), (0.0, 0.0, 30.0)),
    "vertebra": ((80.0, 90.0, 80.0), (-80.0, 90.0, -60.0), (0.0, 0.0, 13.5)),
    "femur": ((230.0, 200.0, 260.0), (-280.0, 120.0, 170.0), (10.0, 0.0, 90.0)),
    "vertebra_posterior": ((140.0, -190.0, 140.0), (-170.0, 90.0, 110.0), (0.0, -20.0, 13.5)),
}
PARAMS: dict[str, dict[str, float | bool]] = {
    "specimen": {"cortical_thickness": 0.5},
    "vertebra_posterior": {"posterior_elements": True},
}
#: figure name -> generator (default: the same name)
GENERATOR = {"vertebra_posterior": "vertebra"}
#: figure name -> (normal, origin, label) of the cut (default: the frontal plane y = 0)
CUTS = {"vertebra_posterior": ((0.0, 0.0, 1.0), (0.0, 0.0, 16.2), "z = 16.2 mm")}


def grids(
    name: str,
) -> tuple[pv.UnstructuredGrid, pv.UnstructuredGrid, dict[int, str], dict[int, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.msh"
        generate(GENERATOR.get(name, name), MPI.COMM_SELF, PARAMS.get(name, {}), msh_file=path)
        m = meshio.read(path)
    names3 = {int(v[0]): k for k, v in m.field_data.items() if int(v[1]) == 3}
    names2 = {int(v[0]): k for k, v in m.field_data.items() if int(v[1]) == 2}

    def grid(kind: str, ctype: pv.CellType) -> pv.UnstructuredGrid:
        idx = [i for i, c in enumerate(m.cells) if c.type == kind]
        cells = np.concatenate([m.cells[i].data for i in idx])
        tags = np.concatenate([m.cell_data["gmsh:physical"][i] for i in idx])
        g = pv.UnstructuredGrid({ctype: cells}, m.points)
        g.cell_data["tag"] = tags
        return g

    return grid("triangle", pv.CellType.TRIANGLE), grid("tetra", pv.CellType.TETRA), names2, names3


def render(name: str) -> Path:
    surf, vol, names2, names3 = grids(name)
    plotter = pv.Plotter(off_screen=True, window_size=(1800, 700), shape=(1, 3), border=False)
    eye_a, eye_b, focus = VIEWS[name]
    for col, eye in enumerate((eye_a, eye_b)):
        plotter.subplot(0, col)
        for k, (tag, label) in enumerate(sorted(names2.items())):
            part = surf.extract_cells(np.flatnonzero(surf.cell_data["tag"] == tag))
            plain = label in ("periosteal", "side")
            colour = "#e8e3d3" if plain else COLOURS[k % len(COLOURS)]
            plotter.add_mesh(part, color=colour, label=label)
        if col == 0:
            plotter.add_legend(
                bcolor="white", face="rectangle", loc="lower left", size=(0.42, 0.06 * len(names2))
            )
            plotter.add_text(f"{name}: named surfaces", font_size=10)
        plotter.camera_position = [eye, focus, (0.0, 0.0, 1.0)]
    plotter.subplot(0, 2)
    normal, origin, where = CUTS.get(name, ((0.0, 1.0, 0.0), (0.0, 0.0, 0.0), "y = 0"))
    cut = vol.clip(normal=normal, origin=origin, crinkle=True)  # keeps the side below
    region_colours = {"cortical": "#f0e6c8", "trabecular": "#b5651d", "posterior": "#8c9fb5"}
    for tag, label in sorted(names3.items()):
        part = cut.extract_cells(np.flatnonzero(cut.cell_data["tag"] == tag))
        plotter.add_mesh(
            part,
            color=region_colours.get(label, "grey"),
            label=label,
            show_edges=True,
            edge_color="#555555",
            line_width=0.3,
        )
    plotter.add_legend(bcolor="white", face="rectangle", loc="lower left", size=(0.3, 0.1))
    plotter.add_text(f"regions: {vol.n_cells} tetrahedra, cut at {where}", font_size=10)
    d = float(np.linalg.norm(np.subtract(eye_a, focus)))
    cut_eye = np.add(focus, d * np.asarray(normal))
    up = (0.0, 0.0, 1.0) if normal[2] == 0.0 else (0.0, 1.0, 0.0)
    plotter.camera_position = [tuple(float(x) for x in cut_eye), focus, up]
    out = HERE / f"{name}.png"
    plotter.screenshot(out)
    plotter.close()
    return out


if __name__ == "__main__":
    import sys

    for geometry in sys.argv[1:] or VIEWS:
        print(render(geometry))
