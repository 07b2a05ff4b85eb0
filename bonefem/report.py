"""``bonefem report``: figures and a Markdown summary of one or more runs.

Figures (PNG and SVG, matplotlib), runs overlaid with one colour each:

* ``bmd_change``: areal BMD (DXA-like) and volumetric BMD per region, % change vs years;
* ``stiffness_change``: apparent stiffness of the virtual test, % change vs years;
* ``fracture_risk``: fracture risk index (applied / failure load) and failure load vs years;
* ``density_change_<run>.png``: off-screen pyvista render of the density change (%) at
  the last field output, cut through the middle of the bone.

``summary.md`` tabulates, per run, the final changes, the mean change per year and the
wall time. Reads only the run folders (metrics.csv, manifest.json, fields.pvd).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from bonefem.errors import InputError
from bonefem.metrics import columns as C
from bonefem.output.run_folder import read_metrics

logger = logging.getLogger(__name__)


def _load(run: Path) -> dict[str, Any]:
    path = run / "metrics.csv"
    if not path.exists():
        raise InputError("not a bonefem run folder (no metrics.csv)", file=run)
    rows = read_metrics(path)
    if not rows:
        raise InputError("metrics.csv has no rows yet", file=path)
    cols: dict[str, np.ndarray] = {}
    for key in rows[0]:
        try:
            cols[key] = np.array([float(r[key]) if r[key] != "" else np.nan for r in rows])
        except ValueError:
            continue
    manifest = {}
    if (run / "manifest.json").exists():
        manifest = json.loads((run / "manifest.json").read_text())
    name = manifest.get("case") or run.name
    return {"folder": run, "name": str(name), "cols": cols, "manifest": manifest}


def _regions(cols: dict[str, np.ndarray]) -> list[str]:
    prefix, suffix = C.BMD_VOL + "_", C.PCT_SUFFIX
    return sorted(
        k[len(prefix) : -len(suffix)]
        for k in cols
        if k.startswith(prefix) and k.endswith(suffix) and k != prefix + "pct_change"
    )


def _plot(ax: Any, x: np.ndarray, y: np.ndarray, **kwargs: Any) -> None:
    """Plot y(x) without its NaN points, so the line stays continuous.

    Rows without a value (e.g. the virtual-test columns in rows where the tests did not
    run, ``metrics.tests_every_days``) would otherwise break the line into isolated points
    that matplotlib does not draw. A series with gaps gets small markers at its points, so
    the straight segments between them are recognisable as such.
    """
    keep = np.isfinite(x) & np.isfinite(y)
    if np.count_nonzero(keep) < np.count_nonzero(np.isfinite(x)):
        kwargs.setdefault("marker", "o")
        kwargs.setdefault("markersize", 3.0)
    ax.plot(x[keep], y[keep], **kwargs)


def _finite(values: np.ndarray | None, index: int) -> float:
    """The first (index 0) or last (index -1) finite value of a column, or NaN."""
    if values is None:
        return float("nan")
    finite = values[np.isfinite(values)]
    return float(finite[index]) if finite.size else float("nan")


def _save(fig: Any, out: Path, stem: str) -> list[Path]:
    paths = [out / f"{stem}.png", out / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    return paths


def _finish(fig: Any, axes: Any, out: Path, stem: str, plt: Any) -> list[Path]:
    """Common axis dressing, save PNG + SVG, close."""
    for ax in np.atleast_1d(axes):
        ax.set_xlabel("time (years)")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    written = _save(fig, out, stem)
    plt.close(fig)
    return written


def _bmd_figure(data: list[dict[str, Any]], out: Path, plt: Any, colors: list[str]) -> list[Path]:
    """ABMD and volumetric BMD per region, change from baseline (%)."""
    regions = sorted({r for d in data for r in _regions(d["cols"])})
    fig, axes = plt.subplots(1, 1 + len(regions), figsize=(5.0 * (1 + len(regions)), 4.0))
    axes = np.atleast_1d(axes)
    for i, d in enumerate(data):
        c, color = d["cols"], colors[i % len(colors)]
        years = c[C.TIME_YEARS]
        abmd = c.get(C.pct(C.ABMD), np.nan * years)
        _plot(axes[0], years, abmd, color=color, label=d["name"])
        for j, region in enumerate(regions, start=1):
            key = C.pct(C.regional(C.BMD_VOL, region))
            if key in c:
                _plot(axes[j], years, c[key], color=color, label=d["name"])
    axes[0].set_title("Areal BMD (DXA-like projection)")
    for j, region in enumerate(regions, start=1):
        axes[j].set_title(f"Volumetric BMD, {region}")
    for ax in axes:
        ax.set_ylabel("change from baseline (%)")
        ax.axhline(0.0, color="0.6", lw=0.8)
    return _finish(fig, axes, out, "bmd_change", plt)


def _stiffness_figure(
    data: list[dict[str, Any]], out: Path, plt: Any, colors: list[str]
) -> list[Path]:
    """Apparent stiffness change from baseline (%)."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    key = C.pct(C.STIFFNESS)
    for i, d in enumerate(data):
        c = d["cols"]
        if key in c:
            _plot(ax, c[C.TIME_YEARS], c[key], color=colors[i % len(colors)], label=d["name"])
    ax.set_title("Apparent stiffness (virtual mechanical test)")
    ax.set_ylabel("change from baseline (%)")
    ax.axhline(0.0, color="0.6", lw=0.8)
    return _finish(fig, ax, out, "stiffness_change", plt)


def _fracture_figure(
    data: list[dict[str, Any]], out: Path, plt: Any, colors: list[str]
) -> list[Path]:
    """Fracture risk index (-) and failure load (kN)."""
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.0))
    for i, d in enumerate(data):
        c, color = d["cols"], colors[i % len(colors)]
        if C.RISK_INDEX in c:
            years = c[C.TIME_YEARS]
            _plot(axes[0], years, c[C.RISK_INDEX], color=color, label=d["name"])
            _plot(axes[1], years, c[C.FAILURE_LOAD] / 1000.0, color=color, label=d["name"])
    axes[0].set_title("Fracture risk index (applied / failure load)")
    axes[0].set_ylabel("factor of risk (-)")
    axes[0].axhline(1.0, color="tab:red", lw=0.8, ls="--")
    axes[1].set_title("Estimated failure load (Pistoia criterion)")
    axes[1].set_ylabel("failure load (kN)")
    return _finish(fig, axes, out, "fracture_risk", plt)


def make_report(runs: list[Path], output: str | Path | None = None, render: bool = True) -> Path:
    """Write figures and summary.md for ``runs``; returns the report folder."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [_load(Path(r)) for r in runs]
    out = Path(output) if output else Path(runs[0]) / "report"
    out.mkdir(parents=True, exist_ok=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    written: list[Path] = []
    for figure in (_bmd_figure, _stiffness_figure, _fracture_figure):
        written += figure(data, out, plt, colors)
    if render:
        for d in data:
            path = render_density_change(
                d["folder"], out / f"density_change_{d['folder'].name}.png"
            )
            if path is not None:
                written.append(path)
    summary = _summary(data, written, out)
    (out / "summary.md").write_text(summary)
    return out


def _summary(data: list[dict[str, Any]], written: list[Path], out: Path) -> str:
    lines = ["# bonefem report", ""]
    lines.append(
        "| run | years | aBMD Δ (%) | aBMD Δ per year (%/y) | stiffness Δ (%) | "
        "fracture risk index (start → end) | wall time (s) |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    for d in data:
        c = d["cols"]
        years = float(c[C.TIME_YEARS][-1])
        abmd = float(c.get(C.pct(C.ABMD), [np.nan])[-1])
        # the test columns may be NaN in some rows (metrics.tests_every_days): first and
        # last evaluated values
        stiff = _finite(c.get(C.pct(C.STIFFNESS)), -1)
        fri = c.get(C.RISK_INDEX)
        fri_text = f"{_finite(fri, 0):.3f} → {_finite(fri, -1):.3f}" if fri is not None else "–"
        wall = d["manifest"].get("wall_time_s", float("nan"))
        per_year = abmd / years if years > 0 else float("nan")
        lines.append(
            f"| {d['name']} | {years:.2f} | {abmd:+.2f} | {per_year:+.2f} | {stiff:+.2f} | "
            f"{fri_text} | {wall:.0f} |"
        )
    lines += ["", "## Figures", ""]
    for p in written:
        if p.suffix == ".png":
            lines.append(f"![{p.stem}]({p.relative_to(out)})")
    return "\n".join(lines) + "\n"


def render_density_change(run: Path, png: Path) -> Path | None:
    """Off-screen render of ``density_change [%]`` at the last field step, cut in half."""
    pvd = run / "fields.pvd"
    if not pvd.exists():
        return None
    try:
        import pyvista as pv
    except ImportError:  # pragma: no cover
        return None
    pv.OFF_SCREEN = True
    reader = pv.get_reader(str(pvd))
    times = reader.time_values
    reader.set_active_time_value(times[-1])
    data = reader.read()
    mesh = data.combine() if isinstance(data, pv.MultiBlock) else data
    name = "density_change [%]"
    if name not in mesh.cell_data:
        return None
    values = mesh.cell_data[name]
    lim = float(np.nanpercentile(np.abs(values), 99)) or 1.0
    half = mesh.clip(normal="x", origin=mesh.center, invert=True)
    plotter = pv.Plotter(off_screen=True, window_size=(900, 700))
    plotter.add_mesh(
        half,
        scalars=name,
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
    plotter.add_text(f"{run.name}: density change at {times[-1] / 365.25:.1f} years", font_size=10)
    # look at the cut face (normal +x) from the front-right, slightly above
    plotter.view_yz()
    plotter.camera.azimuth = 35
    plotter.camera.elevation = 20
    plotter.screenshot(str(png))
    plotter.close()
    return png
