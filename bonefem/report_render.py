"""Density-change renders of ``bonefem report`` (pyvista, off-screen).

One PNG per run, ``density_change_<folder>.png``: the density change (%) at the last field
output, the bone cut in half through its centre (normal x), seen from the front-right and
slightly above, with an orientation triad (x, y, z). Overlaid runs share one symmetric colour
range (the 99th percentile of |change| over all of them), so equal colours mean equal
changes in every image.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

FIELD = "density_change [%]"


def _last_mesh(run: Path) -> tuple[Any, float] | None:
    """The mesh with the fields of the last output of a run and its time (days), or None."""
    pvd = run / "fields.pvd"
    if not pvd.exists():
        return None
    try:
        import pyvista as pv
    except ImportError:  # pragma: no cover
        return None
    reader = pv.get_reader(str(pvd))
    times = reader.time_values
    reader.set_active_time_value(times[-1])
    data = reader.read()
    mesh = data.combine() if isinstance(data, pv.MultiBlock) else data
    if FIELD not in mesh.cell_data:
        return None
    return mesh, float(times[-1])


def shared_limit(meshes: list[Any]) -> float:
    """The symmetric colour limit (%) of all runs: 99th percentile of |density change|."""
    values = [np.abs(np.asarray(m.cell_data[FIELD])) for m in meshes]
    if not values:
        return 1.0
    return float(np.nanpercentile(np.concatenate(values), 99)) or 1.0


def render(mesh: Any, title: str, lim: float, png: Path) -> Path:
    """Render one mesh's density change with the colour range ``(-lim, lim)`` into ``png``."""
    import pyvista as pv

    pv.OFF_SCREEN = True
    half = mesh.clip(normal="x", origin=mesh.center, invert=True)
    plotter = pv.Plotter(off_screen=True, window_size=(900, 700))
    plotter.add_mesh(
        half,
        scalars=FIELD,
        cmap="RdBu",
        clim=(-lim, lim),
        scalar_bar_args={
            "title": "density change (%)",
            "vertical": True,
            "position_x": 0.86,
            "position_y": 0.15,
            "height": 0.7,
            "width": 0.06,
        },
    )
    plotter.add_text(title, font_size=10)
    try:
        plotter.add_axes(line_width=2, labels_off=False)  # orientation triad
    except Exception as exc:  # pragma: no cover - no interactor in some VTK builds
        logger.debug("no orientation triad: %s", exc)
    # look at the cut face (normal +x) from the front-right, slightly above
    plotter.view_yz()
    plotter.camera.azimuth = 35
    plotter.camera.elevation = 20
    plotter.screenshot(str(png))
    plotter.close()
    return png


def render_runs(runs: list[Path], labels: list[str], out: Path) -> list[Path]:
    """Render every run that has fields, with one colour range for all; the PNGs written."""
    found = [(run, label, _last_mesh(run)) for run, label in zip(runs, labels, strict=True)]
    have = [(run, label, m) for run, label, m in found if m is not None]
    lim = shared_limit([m[0] for _, _, m in have])
    written = []
    for run, label, (mesh, t) in have:
        title = f"{label}: density change at {t / 365.25:.1f} years (range ±{lim:.2g} %)"
        written.append(render(mesh, title, lim, out / f"density_change_{run.name}.png"))
    return written


def render_density_change(run: Path, png: Path) -> Path | None:
    """Off-screen render of one run's density change with its own colour range (or None)."""
    found = _last_mesh(run)
    if found is None:
        return None
    mesh, t = found
    title = f"{run.name}: density change at {t / 365.25:.1f} years"
    return render(mesh, title, shared_limit([mesh]), png)
