"""Tables and budget ratios from benchmarks/results/*.json (markdown).

``python benchmarks/report.py`` prints them; ``--write`` replaces the block between
``<!-- BEGIN RESULTS -->`` and ``<!-- END RESULTS -->`` in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "performance.md"
BEGIN, END = "<!-- BEGIN RESULTS -->", "<!-- END RESULTS -->"
#: the metrics a clinician reads (aBMD, volumetric BMD, stiffness, failure load)
CLINICAL: tuple[str, ...] = (
    "abmd",
    "bmd_vol_mean",
    "bmd_vol_mean_trabecular",
    "apparent_stiffness",
    "failure_load",
)


def load(pattern: str) -> list[dict[str, Any]]:
    out = []
    for p in sorted(RESULTS.glob(pattern)):
        data = json.loads(p.read_text(encoding="utf-8"))
        data["_file"] = p.name
        out.append(data)
    return out


def f(x: Any, nd: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, float):
        return f"{x:.{nd}f}"
    return str(x)


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def mechanics_rows() -> list[dict[str, Any]]:
    rows = []
    for data in load("mechanics_femur_r*_np*.json"):
        for m in data["meshes"]:
            v = m["variants"][0]
            ups = v["updates"]
            rows.append(
                {
                    "refine": m["refine"],
                    "cells": m["cells"],
                    "dofs": m["dofs"],
                    "ranks": m["ranks"],
                    "cold": v["cold"],
                    "stimulus": v["stimulus_s"],
                    "previous": ups.get("previous", {}),
                    "extrapolate": ups.get("extrapolate", {}),
                    "fresh": ups.get("fresh", {}),
                    "random": v.get("random_3pct_update", {}),
                    "rss_mb": v["memory_after_cold"]["peak_rss_total_mb"],
                    "bytes_per_dof": m["bytes_per_dof"],
                    "file": data["_file"],
                }
            )
    rows.sort(key=lambda r: (r["ranks"], r["dofs"]))
    return rows


def mechanics_table(rows: list[dict[str, Any]]) -> str:
    head = [
        "ranks",
        "refine",
        "cells",
        "dofs",
        "assemble s",
        "PC setup s",
        "solve s (its)",
        "cold s",
        "stimulus s",
        "update, previous s (its)",
        "update, extrapolated s (its)",
        "update / cold",
        "peak RSS MB",
        "bytes/dof",
    ]
    out = []
    for r in rows:
        c, p, e = r["cold"], r["previous"], r["extrapolate"]
        out.append(
            [
                str(r["ranks"]),
                f"{r['refine']:g}",
                f"{r['cells']:,}",
                f"{r['dofs']:,}",
                f(c["assemble"]),
                f(c["setup"]),
                f"{f(c['solve'])} ({c['iterations']})",
                f(c["total"]),
                f(r["stimulus"]),
                f"{f(p.get('mean_total_s'))} ({f(p.get('mean_iterations'), 1)})",
                f"{f(e.get('mean_total_s'))} ({f(e.get('mean_iterations'), 1)})",
                f(e.get("ratio_to_cold"), 3),
                f(r["rss_mb"], 0),
                f(r["bytes_per_dof"], 0),
            ]
        )
    return table(head, out)


def update_split_table(rows: list[dict[str, Any]]) -> str:
    head = ["ranks", "dofs", "mode", "assemble", "rhs", "guess", "setup", "solve", "total", "its"]
    out = []
    for r in rows:
        for mode in ("fresh", "previous", "extrapolate"):
            u = r[mode]
            if not u:
                continue
            out.append(
                [str(r["ranks"]), f"{r['dofs']:,}", mode]
                + [f(u.get(f"mean_{ph}_s")) for ph in ("assemble", "rhs", "guess", "setup")]
                + [f(u.get("mean_solve_s")), f(u.get("mean_total_s")), f(u["mean_iterations"], 1)]
            )
    return table(head, out)


def efficiency_table(rows: list[dict[str, Any]]) -> str:
    by = {(r["refine"], r["ranks"]): r for r in rows}
    head = ["dofs", "cold 1 rank s", "cold 2 ranks s", "efficiency", "update 1 rank s"]
    head += ["update 2 ranks s", "efficiency"]
    out = []
    for (refine, ranks), r1 in sorted(by.items(), key=lambda kv: kv[1]["dofs"]):
        if ranks != 1 or (refine, 2) not in by:
            continue
        r2 = by[(refine, 2)]
        c1, c2 = r1["cold"]["total"], r2["cold"]["total"]
        u1 = r1["extrapolate"].get("mean_total_s", math.nan)
        u2 = r2["extrapolate"].get("mean_total_s", math.nan)
        out.append(
            [
                f"{r1['dofs']:,}",
                f(c1),
                f(c2),
                f"{100 * c1 / (2 * c2):.0f} %",
                f(u1),
                f(u2),
                f"{100 * u1 / (2 * u2):.0f} %",
            ]
        )
    return table(head, out)


def coupled_table() -> str:
    head = [
        "run",
        "cells",
        "dofs",
        "ranks",
        "steps",
        "solves",
        "substeps/step",
        "run wall s",
        "run CPU s",
        "mechanics",
        "biology",
        "density",
        "metrics",
        "output",
        "checkpoint",
        "bio+density share",
        "MB/field step",
        "checkpoint MB",
    ]
    out = []
    for data in load("coupled_*.json") + load("accuracy_*.json"):
        s = data["summary"]
        ph = s["phases_s"]
        io = s.get("io", {})
        out.append(
            [
                data["_file"].removesuffix(".json"),
                f"{s['cells']:,}",
                f"{s['dofs']:,}",
                str(s["ranks"]),
                str(s["steps"]),
                str(s["mechanics_solves"]),
                f(s["substeps_per_step"], 1),
                f(s["run_s"], 0),
                f(s.get("run_cpu_s", math.nan), 0),
            ]
            + [
                f(ph.get(k, 0.0), 1)
                for k in ("mechanics", "biology", "density", "metrics", "output", "checkpoint")
            ]
            + [
                f"{100 * s['biology_density_share_of_run']:.1f} %",
                f(io.get("bytes_per_field_step", math.nan) / 2**20, 1),
                f(io.get("checkpoint_bytes", math.nan) / 2**20, 1),
            ]
        )
    return table(head, out)


def sweep_table() -> str:
    head = ["file (clock)", "dofs", "variant", "PETSc options", "assemble s", "PC setup s"]
    head += ["cold its", "solve s", "s/it", "update its (extrap.)", "update s (extrap.)"]
    out = []
    for data in load("sweep_*.json"):
        clock = data["settings"].get("clock", "wall")
        for m in data["meshes"]:
            for v in m["variants"]:
                c = v["cold"]
                e = v["updates"].get("extrapolate", {})
                opts = ", ".join(f"{k}={x}" for k, x in v["petsc_options"].items()) or "(defaults)"
                out.append(
                    [
                        f"{data['_file'].removesuffix('.json')} ({clock})",
                        f"{m['dofs']:,}",
                        v["variant"],
                        opts,
                        f(c["assemble"]),
                        f(c["setup"]),
                        str(c["iterations"]),
                        f(c["solve"]),
                        f(c["solve"] / max(c["iterations"], 1), 3),
                        f(e.get("mean_iterations"), 1),
                        f(e.get("mean_total_s")),
                    ]
                )
    return table(head, out)


def biology_table() -> str:
    data = load("biology.json")
    if not data:
        return "(no biology results)"
    rows = [
        [
            f"{r['points']:,}",
            r["regime"],
            f(r["substeps_per_step"], 1),
            f(r["wall_s"] / r["steps"], 3),
            f"{r['point_steps_per_s']:.3g}",
        ]
        for r in data[0]["results"]
    ]
    head = ["points", "regime", "substeps per 7-day step", "s per step", "point-steps/s"]
    return table(head, rows)


def streams_line() -> str:
    rows = sorted(load("streams_np*.json"), key=lambda d: d["ranks"])
    if not rows:
        return ""
    parts = [f"{d['ranks']} rank(s) {d['best_gb_s']:.1f} GB/s" for d in rows]
    text = "Memory bandwidth (numpy triad, benchmarks/bench_streams.py, best of 15): "
    text += ", ".join(parts)
    if len(rows) > 1:
        text += f" — {rows[-1]['best_gb_s'] / rows[0]['best_gb_s']:.2f}x for {rows[-1]['ranks']}x"
        text += " the cores, the ceiling of a bandwidth-bound speed-up."
    return text


def machine_line() -> str:
    for pat in ("mechanics_*.json", "coupled_*.json"):
        data = load(pat)
        if data:
            m = data[0]["machine"]
            return (
                f"{m.get('cpu_model', m.get('processor', '?'))}, {m.get('cpus')} cores, "
                f"{m.get('mem_total_gb', '?')} GB; {m.get('platform')}; Python {m['python']}, "
                f"DOLFINx {m['dolfinx']}, PETSc {m['petsc']}, {m['mpi']}; "
                f"git {m.get('git_revision', '?')}"
            )
    return "(no results)"


def build() -> str:
    rows = mechanics_rows()
    parts = [
        f"Machine: {machine_line()}.",
        "",
        "### Elasticity solver vs mesh size (femur, P1, CG + GAMG, rtol 1e-8)",
        "",
        mechanics_table(rows),
        "",
        "Update = one remodelling re-solve after E changed by up to 2 % per cell (kept "
        "preconditioner), mean over the updates after the first; cold = assemble + PC set-up "
        "+ solve from a zero guess. Peak RSS summed over ranks after the cold solve.",
        "",
        "### Split of an update (s, mean)",
        "",
        update_split_table(rows),
        "",
        "### Parallel efficiency, 2 ranks vs 1 (T1 / (2 T2))",
        "",
        efficiency_table(rows),
        "",
        streams_line(),
        "",
        "### GAMG option sweeps (femur, 1 rank; variants side by side in one process each)",
        "",
        sweep_table(),
        "",
        "### Cell model alone (benchmarks/bench_biology.py, 1 core)",
        "",
        biology_table(),
        "",
        "### Coupled runs (benchmarks/bench_coupled.py), time per phase (s, CPU time of the "
        "slowest rank unless the file says clock = wall)",
        "",
        coupled_table(),
    ]
    cmp = [d for d in load("coupled_*.json") + load("accuracy_*.json") if "comparison" in d]
    for d in cmp:
        c = d["comparison"]
        parts += [
            "",
            f"{d['_file']}: largest relative difference of any metric to the reference "
            f"({c['reference'].rsplit('/', 1)[-1]}) over all rows: "
            f"{100 * c['max_rel_diff']:.3f} % ({c['worst_metric']}); clinical metrics "
            + ", ".join(
                f"{k} {100 * c['per_metric_max'].get(k, math.nan):.3f} %"
                for k in CLINICAL
                if k in c["per_metric_max"]
            )
            + ".",
        ]
    return "\n".join(parts) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    text = build()
    print(text)
    if args.write:
        doc = DOC.read_text(encoding="utf-8")
        block = f"{BEGIN}\n{text}{END}"
        doc = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, doc, flags=re.S)
        DOC.write_text(doc, encoding="utf-8")
        print(f"updated {DOC}")


if __name__ == "__main__":
    main()
