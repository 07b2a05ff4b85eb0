"""``bonefem report``: figures, plotted series and a Markdown summary of one or more runs.

Figures (PNG and SVG, matplotlib), runs overlaid with one colour each, on a common x axis
chosen with ``--align`` (:mod:`bonefem.report_align`: run time, age, years from menopause
or from the start of therapy), with the events of each case (menopause: dashed line;
therapy courses: shaded spans) and legend labels from the cases' ``run.description``:

* ``bmd_change``: areal BMD (DXA-like) and volumetric BMD per region, % change; the aBMD
  panel is left out when it repeats the volumetric one (a projected area that does not
  change, as for a vertebral body: aBMD, vBMD and BMC then change by the same %), and the
  summary says so;
* ``stiffness_change``: apparent stiffness of the virtual test, % change;
* ``fracture_risk``: fracture risk index (applied / failure load) and failure load;
* ``density_change_<run>.png``: off-screen pyvista render of the density change (%) at
  the last field output, cut through the middle of the bone; one colour range for all runs.

Every figure's plotted series are written next to it as ``<figure>.csv`` (one row per
point: panel, run label and folder, x, the plotted y, the run's own y, unit, anchoring
factor), so figures can be redrawn or checked without the run folders. The y ranges fit the
data. ``summary.md`` (and the same as a one-page ``summary.html`` with the figures) says how the
runs were aligned and anchored and lists their events, and tabulates, per run, the final
changes, the mean change per year and the wall time. Reads only the run folders
(metrics.csv, manifest.json, case_resolved.json, fields.pvd).
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bonefem import report_align as A
from bonefem.errors import InputError
from bonefem.metrics import columns as C
from bonefem.output.run_folder import read_metrics

logger = logging.getLogger(__name__)

#: Largest difference (percentage points) between the aBMD and vBMD changes of every row for
#: which the aBMD panel counts as a repeat of the volumetric one.
SAME_CHANGE_PP = 0.05


@dataclass
class RunData:
    """One run of a report: its columns, case, label and aligned axis."""

    folder: Path
    name: str
    cols: dict[str, np.ndarray]
    manifest: dict[str, Any]
    case: dict[str, Any]
    label: str = ""
    origin: float = 0.0
    x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    anchor: int | None = None  # index of the run it is chained onto


@dataclass(frozen=True)
class Series:
    """One plotted series: figure panel, metrics column, unit and how it is anchored."""

    panel: str
    column: str
    unit: str
    percent: bool  # a % change (anchored on 1 + y/100) or a positive quantity
    scale: float = 1.0


def _load(run: Path) -> RunData:
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
        manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    name = manifest.get("case") or run.name
    return RunData(run, str(name), cols, manifest, A.read_case(run))


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


def _prepare(data: list[RunData], align: str, anchor: bool, labels: list[str] | None) -> None:
    """Labels, aligned x axes (years) and the anchoring of later-starting runs."""
    names = labels or A.labels(
        [d.folder for d in data],
        [d.case for d in data],
        [d.name for d in data],
        [list(d.manifest.get("overrides") or []) for d in data],
    )
    if len(names) != len(data):
        raise InputError(f"give one label per run ({len(data)})", field="labels")
    for d, label in zip(data, names, strict=True):
        d.label = label
        d.origin = A.origin_years(d.case, align, d.folder)
        d.x = d.cols[C.TIME_YEARS] - d.origin
    if not anchor or len(data) < 2:
        return
    starts = [float(d.x[0]) for d in data]
    therapy = []
    for d in data:
        firsts = [e.start_days for e in A.events(d.case) if e.name in A.THERAPIES]
        therapy.append(min(firsts) / A.DAYS_PER_YEAR - d.origin if firsts else np.inf)
    ref = A.reference_run(starts, therapy)
    for i, d in enumerate(data):
        # only onto a history without therapy up to the run's start, of the same bone (a
        # vertebra's curve is not continued from a femur's)
        if (
            i != ref
            and starts[i] > starts[ref] + 1e-9
            and therapy[ref] >= starts[i] - 1e-9
            and _bone(d) == _bone(data[ref])
        ):
            d.anchor = ref


def _bone(d: RunData) -> str:
    """What bone a run is of: the manifest's mesh source, else the case's ``[mesh]`` table."""
    source = (d.manifest.get("mesh") or {}).get("source")
    if source:
        return str(source)
    return json.dumps(d.case.get("mesh") or {}, sort_keys=True, default=str)


def _values(d: RunData, s: Series, data: list[RunData]) -> tuple[np.ndarray, np.ndarray, float]:
    """(plotted y, the run's own y, anchoring factor) of a series."""
    own = d.cols.get(s.column, np.full_like(d.x, np.nan)) * s.scale
    if d.anchor is None:
        return own, own, 1.0
    ref = data[d.anchor]
    ref_y = ref.cols.get(s.column, np.full_like(ref.x, np.nan)) * s.scale
    level, ref_level = (1.0 + own / 100.0, 1.0 + ref_y / 100.0) if s.percent else (own, ref_y)
    factor = A.anchor_factor(d.x, level, ref.x, ref_level)
    plotted = (level * factor - 1.0) * 100.0 if s.percent else level * factor
    return plotted, own, factor


def _events(ax: Any, data: list[RunData], colors: list[str], xlim: tuple[float, float]) -> None:
    """Menopause lines and therapy spans of every run (drawn once where runs share them)."""
    from matplotlib.transforms import blended_transform_factory

    trans = blended_transform_factory(ax.transData, ax.transAxes)
    seen: set[tuple[str, float, float]] = set()
    for i, d in enumerate(data):
        for ev in A.events(d.case):
            x0 = ev.start_days / A.DAYS_PER_YEAR - d.origin
            x1 = (
                x0
                if ev.name == "menopause"
                else (ev.stop_days / A.DAYS_PER_YEAR - d.origin if ev.stop_days else xlim[1])
            )
            a, b = max(x0, xlim[0]), min(x1, xlim[1])
            key = (ev.name, round(x0, 3), round(x1, 3))
            if b < a or key in seen:
                continue
            seen.add(key)
            if ev.name == "menopause":
                ax.axvline(x0, color="0.35", ls="--", lw=0.9)
                ax.text(x0, 0.99, " menopause", transform=trans, fontsize=7, va="top", color="0.3")
                continue
            ax.axvspan(a, b, color=colors[i % len(colors)], alpha=0.10, lw=0)
            ax.text(
                a, 0.02, f" {ev.name}", transform=trans, fontsize=7, color=colors[i % len(colors)]
            )


def _fit_ylim(ax: Any, values: list[np.ndarray], percent: bool) -> None:
    """Y range of the plotted data with a margin (reference lines do not widen it)."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.zeros(0)
    if finite.size == 0:
        return
    lo, hi = float(finite.min()), float(finite.max())
    pad = max(0.08 * (hi - lo), 0.05 if percent else 0.01 * max(abs(hi), 1e-12))
    ax.set_ylim(lo - pad, hi + pad)


def _draw(
    data: list[RunData],
    panels: list[tuple[str, str, Series]],
    stem: str,
    out: Path,
    ctx: dict[str, Any],
) -> list[Path]:
    """One figure of ``panels`` (title, y label, series): PNG, SVG and the series CSV."""
    plt, colors, align = ctx["plt"], ctx["colors"], ctx["align"]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    xs = np.concatenate([d.x for d in data])
    xlim = (float(np.nanmin(xs)), float(np.nanmax(xs)))
    rows: list[dict[str, Any]] = []
    for ax, (title, ylabel, s) in zip(axes[0], panels, strict=True):
        plotted = []
        for i, d in enumerate(data):
            y, own, factor = _values(d, s, data)
            if not np.isfinite(y).any():
                continue
            label = d.label + (" (anchored)" if factor != 1.0 else "")
            _plot(ax, d.x, y, color=colors[i % len(colors)], label=label)
            plotted.append(y)
            keep = np.isfinite(d.x) & np.isfinite(y)
            rows += [
                {"figure": stem, "panel": title, "label": d.label, "folder": str(d.folder),
                 "align": align, "x_years": f"{xv:.10g}", "y": f"{yv:.10g}",
                 "y_run": f"{ov:.10g}", "unit": s.unit, "anchor_factor": f"{factor:.10g}"}
                for xv, yv, ov in zip(d.x[keep], y[keep], own[keep], strict=True)
            ]  # fmt: skip
        if s.percent:
            ax.axhline(0.0, color="0.6", lw=0.8)
        if s.column == C.RISK_INDEX:
            ax.axhline(1.0, color="tab:red", lw=0.8, ls="--")  # load = strength
        _events(ax, data, colors, xlim)
        _fit_ylim(ax, plotted, s.percent)
        if xlim[1] > xlim[0]:  # one row (a run stopped at t = 0): matplotlib's own range
            ax.set_xlim(*xlim)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(A.AXIS_LABELS[align])
        ax.grid(alpha=0.3)
    fig.tight_layout()
    for ax in axes[0]:  # below the panels, where it hides no data
        handles, names = ax.get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8)
            break
    paths = [out / f"{stem}.png", out / f"{stem}.svg", out / f"{stem}.csv"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    with open(paths[2], "w", newline="", encoding="utf-8") as fh:
        names = ["figure", "panel", "label", "folder", "align", "x_years", "y", "y_run", "unit"]
        writer = csv.DictWriter(fh, fieldnames=[*names, "anchor_factor"])
        writer.writeheader()
        writer.writerows(rows)
    return paths


def _abmd_repeats_vbmd(data: list[RunData]) -> bool:
    """True when every run's aBMD change equals its whole-bone vBMD change (fixed area)."""
    for d in data:
        a, v = d.cols.get(C.pct(C.ABMD)), d.cols.get(C.pct(C.BMD_VOL))
        if a is None or v is None:
            return False
        diff = np.abs(a - v)[np.isfinite(a) & np.isfinite(v)]
        if diff.size == 0 or float(diff.max()) > SAME_CHANGE_PP:
            return False
    return True


def _figures(data: list[RunData], out: Path, ctx: dict[str, Any]) -> list[Path]:
    pct = "change from baseline (%)"
    bmd: list[tuple[str, str, Series]] = []
    if not ctx["abmd_repeats"]:
        bmd.append(
            ("Areal BMD (DXA-like projection)", pct, Series("aBMD", C.pct(C.ABMD), "%", True))
        )
    for region in sorted({r for d in data for r in _regions(d.cols)}):
        key = C.pct(C.regional(C.BMD_VOL, region))
        bmd.append((f"Volumetric BMD, {region}", pct, Series(region, key, "%", True)))
    if not bmd:
        bmd.append(("Volumetric BMD", pct, Series("vBMD", C.pct(C.BMD_VOL), "%", True)))
    stiffness = Series("stiffness", C.pct(C.STIFFNESS), "%", True)
    risk = Series("fracture risk index", C.RISK_INDEX, "-", False)
    load = Series("failure load", C.FAILURE_LOAD, "kN", False, 1e-3)
    written = _draw(data, bmd, "bmd_change", out, ctx)
    written += _draw(
        data, [("Apparent stiffness (virtual mechanical test)", pct, stiffness)],
        "stiffness_change", out, ctx,
    )  # fmt: skip
    written += _draw(
        data,
        [
            ("Fracture risk index (applied / failure load)", "factor of risk (-)", risk),
            ("Estimated failure load (Pistoia criterion)", "failure load (kN)", load),
        ],
        "fracture_risk", out, ctx,
    )  # fmt: skip
    if any(C.pct(C.FORMATION_RATE) in d.cols for d in data):  # runs of the cell law
        formed = Series("formation", C.pct(C.FORMATION_RATE), "%", True)
        resorbed = Series("resorption", C.pct(C.RESORPTION_RATE), "%", True)
        written += _draw(
            data,
            [
                ("Bone formation (the model's P1NP)", pct, formed),
                ("Bone resorption (the model's CTX)", pct, resorbed),
            ],
            "turnover", out, ctx,
        )  # fmt: skip
    return written


def make_report(
    runs: list[Path],
    output: str | Path | None = None,
    render: bool = True,
    *,
    align: str = "time",
    anchor: bool | None = None,
    labels: list[str] | None = None,
) -> Path:
    """Write figures, their series (CSV) and summary.md for ``runs``; returns the folder.

    Args:
        runs: run folders.
        output: report folder (default ``<first run>/report``).
        render: also render the density change of each run (pyvista, off-screen).
        align: common x axis: ``time``, ``age``, ``menopause`` or ``therapy``
            (:mod:`bonefem.report_align`).
        anchor: chain later-starting runs onto the reference run at their start (default:
            when aligned by menopause, where the runs share the event at x = 0).
        labels: legend labels, one per run (default: descriptions, names or folders).

    Raises:
        InputError: not a run folder, an unknown alignment, a run without the event to align
            on, a wrong number of labels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = [_load(Path(r)) for r in runs]
    _prepare(data, align, align == "menopause" if anchor is None else anchor, labels)
    out = Path(output) if output else Path(runs[0]) / "report"
    out.mkdir(parents=True, exist_ok=True)
    ctx = {
        "plt": plt,
        "colors": plt.rcParams["axes.prop_cycle"].by_key()["color"],
        "align": align,
        "abmd_repeats": _abmd_repeats_vbmd(data),
    }
    written = _figures(data, out, ctx)
    if render:
        from bonefem.report_render import render_runs

        written += render_runs([d.folder for d in data], [d.label for d in data], out)
    summary = _summary(data, written, out, ctx)
    (out / "summary.md").write_text(summary, encoding="utf-8")
    (out / "summary.html").write_text(markdown_page(summary, "bonefem report"), encoding="utf-8")
    return out


def _notes(data: list[RunData], ctx: dict[str, Any]) -> list[str]:
    lines = [f"Runs aligned by **{ctx['align']}**: x = {A.AXIS_LABELS[ctx['align']]}.", ""]
    for d in data:
        if d.anchor is not None:
            ref = data[d.anchor]
            lines.append(
                f"- *{d.label}* starts at x = {d.x[0]:.2f} y and is anchored on *{ref.label}* "
                "there: its curves are scaled to start on that run's curve (it is assumed to "
                "have had the same history before; the series CSVs keep its own values)."
            )
    if ctx["abmd_repeats"]:
        lines.append(
            "- The aBMD panel is left out: in these runs the projected area does not change, so "
            "the aBMD change equals the volumetric BMD change (and the BMC change) in every row."
        )
    for d in data:
        evs = [
            f"{e.name} {e.start_days / A.DAYS_PER_YEAR - d.origin:+.2f} y"
            + (f" to {e.stop_days / A.DAYS_PER_YEAR - d.origin:+.2f} y" if e.stop_days else "")
            for e in A.events(d.case)
        ]
        if evs:
            lines.append(f"- events of *{d.label}* (x): " + ", ".join(evs))
    return [*lines, ""]


def _summary(data: list[RunData], written: list[Path], out: Path, ctx: dict[str, Any]) -> str:
    lines = ["# bonefem report", "", *_notes(data, ctx)]
    lines.append(
        "| run | folder | years | aBMD Δ (%) | aBMD Δ per year (%/y) | stiffness Δ (%) | "
        "fracture risk index (start → end) | wall time (s) |"
    )
    lines.append("|---|---|---|---|---|---|---|---|")
    for d in data:
        c = d.cols
        years = float(c[C.TIME_YEARS][-1])
        abmd = float(c.get(C.pct(C.ABMD), [np.nan])[-1])
        # the test columns may be NaN in some rows (metrics.tests_every_days): first and
        # last evaluated values
        stiff = _finite(c.get(C.pct(C.STIFFNESS)), -1)
        fri = c.get(C.RISK_INDEX)
        fri_text = f"{_finite(fri, 0):.3f} → {_finite(fri, -1):.3f}" if fri is not None else "–"
        wall = d.manifest.get("wall_time_s", float("nan"))
        per_year = f"{abmd / years:+.2f}" if years > 0 else "–"
        status = d.manifest.get("status")
        span = f"{years:.2f}" + (f" ({status})" if status and status != "finished" else "")
        lines.append(
            f"| {d.label} | {d.folder.name} | {span} | {abmd:+.2f} | {per_year} | "
            f"{f'{stiff:+.2f}' if np.isfinite(stiff) else '–'} | {fri_text} | {wall:.0f} |"
        )
    lines += ["", "## Figures", ""]
    for p in written:
        if p.suffix == ".png":
            lines.append(f"![{p.stem}]({p.relative_to(out)})")
    lines += ["", "Plotted series: " + ", ".join(p.name for p in written if p.suffix == ".csv")]
    return "\n".join(lines) + "\n"


def _inline(text: str) -> str:
    """HTML of one line of the summary's Markdown (escaping, *emphasis*, **strong**)."""
    import html
    import re

    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"\*(.+?)\*", r"<em>\1</em>", text)


def _block(body: list[str], kind: str) -> None:
    """Open or close the ``<table>``/``<ul>`` around rows and list items as ``kind`` needs."""
    current = {"<tr>": "table", "<li>": "ul"}.get(body[-1][:4], "") if body else ""
    if current and current != kind:
        body.append(f"</{current}>")
    if kind and current != kind:
        body.append(f"<{kind}>")


def markdown_page(markdown: str, title: str) -> str:
    """A one-page HTML document of the summary (headings, lists, the table, the figures)."""
    import html
    import re

    body: list[str] = []
    for line in markdown.splitlines():
        if line.startswith("|---"):
            continue
        figure = re.fullmatch(r"!\[(.*)\]\((.*)\)", line)
        kind = "table" if line.startswith("|") else "ul" if line.startswith("- ") else ""
        header = kind == "table" and not (body and body[-1].startswith("<tr>"))
        _block(body, kind)
        if figure:
            alt, src = (html.escape(g, quote=True) for g in figure.groups())
            caption = f"<figcaption>{alt}</figcaption>"
            body.append(f'<figure><img src="{src}" alt="{alt}">{caption}</figure>')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{_inline(line.lstrip('#').strip())}</h{level}>")
        elif kind == "table":
            tag = "th" if header else "td"
            cells = [_inline(c.strip()) for c in line.strip("|").split("|")]
            body.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
        elif kind == "ul":
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    _block(body, "")
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 6px}"
        "img{max-width:100%}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
