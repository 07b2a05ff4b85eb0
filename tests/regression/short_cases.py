"""Short versions of bundled cases for the metrics regression test.

Each is the bundled case file with a shorter duration and its event times compressed;
mesh, materials, loads, metrics and solver settings stay as bundled. The reference
metrics in ``tests/data/regression/`` are written by :func:`main` (see
``test_bundled_metrics.py`` for when and why they were last rewritten).
"""

from __future__ import annotations

import csv
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "regression"


Q = 91.3125  # days, a quarter


def _menopause_vertebra(d: dict[str, Any]) -> None:
    # one year, the FMP at the first quarter: the premenopausal steady state, then the
    # estrogen decline (three quarters of it)
    d["run"]["duration_days"] = 4 * Q
    d["biology"]["estrogen"]["menopause_time_days"] = Q


def _denosumab_femur(d: dict[str, Any]) -> None:
    # one year: an injection at half a quarter (stopped after two quarters, so only one),
    # its suppression, and the rebound as the dose wears off
    d["run"]["duration_days"] = 4 * Q
    d["biology"]["denosumab"][0].update(start_days=Q / 2, stop_days=2 * Q)


def _disuse_femur(d: dict[str, Any]) -> None:
    # one year: a quarter of disuse at 30 % load, then the reloading (rows every 59.5 days)
    d["run"]["duration_days"] = 4 * Q
    d["activity"][0].update(start_days=0.0, stop_days=Q)


def _half_year(d: dict[str, Any]) -> None:
    d["run"]["duration_days"] = 2 * Q


def _andropause_trt_femur(d: dict[str, Any]) -> None:
    _half_year(d)
    d["biology"]["trt"][0]["start_days"] = Q


def _denosumab_vertebra(d: dict[str, Any]) -> None:
    _half_year(d)
    d["biology"]["denosumab"][0].update(start_days=Q, stop_days=2 * Q)  # one injection, at Q


def _disuse_femur_huiskes(d: dict[str, Any]) -> None:
    # one quarter: in disuse the Huiskes law re-solves at almost every substep (about
    # 320 solves per year of disuse on the femur; docs/performance.md)
    d["run"]["duration_days"] = Q
    d["activity"][0].update(start_days=0.0, stop_days=Q / 2)


def _glucocorticoid_vertebra(d: dict[str, Any]) -> None:
    _half_year(d)
    d["biology"]["glucocorticoid"][0]["stop_days"] = Q


def _menopause_at_first_quarter(d: dict[str, Any]) -> None:
    _half_year(d)
    d["biology"]["estrogen"]["menopause_time_days"] = Q


def _hrt_vertebra(d: dict[str, Any]) -> None:
    _menopause_at_first_quarter(d)
    d["biology"]["hrt"][0]["start_days"] = Q


def _teriparatide_vertebra(d: dict[str, Any]) -> None:
    _half_year(d)
    d["biology"]["teriparatide"][0].update(start_days=Q, stop_days=2 * Q)


def _teriparatide_femur(d: dict[str, Any]) -> None:
    # half a year of the cohort (66 y, from its 0-D history), teriparatide from the first quarter
    _half_year(d)
    d["biology"]["teriparatide"][0].update(start_days=Q, stop_days=2 * Q)


SHORT_CASES = {
    "menopause_vertebra": _menopause_vertebra,
    "denosumab_femur": _denosumab_femur,
    "disuse_femur": _disuse_femur,
    # every other bundled case, half a year with its event at the first quarter (issue 18)
    "andropause_femur": _half_year,
    "andropause_trt_femur": _andropause_trt_femur,
    "denosumab_vertebra": _denosumab_vertebra,
    "disuse_femur_huiskes": _disuse_femur_huiskes,
    "glucocorticoid_vertebra": _glucocorticoid_vertebra,
    "healthy_vertebra": _half_year,
    "hrt_vertebra": _hrt_vertebra,
    "menopause_femur": _menopause_at_first_quarter,
    "teriparatide_vertebra": _teriparatide_vertebra,
    "teriparatide_femur": _teriparatide_femur,
}


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return "inf" if v == float("inf") else repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def to_toml(d: dict[str, Any]) -> str:
    """A TOML text of a case dict (tables and arrays of tables as inline values)."""
    lines: list[str] = []
    for section, body in d.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
            continue
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


def write_short_case(name: str, folder: Path) -> Path:
    """Write the short version of bundled case ``name`` into ``folder``; returns the path."""
    with open(ROOT / "cases" / f"{name}.toml", "rb") as fh:
        d = tomllib.load(fh)
    SHORT_CASES[name](d)
    d["run"]["name"] = f"{name}_short"
    d["mesh"]["settings"] = str(ROOT / "meshes" / d["mesh"]["settings"])
    path = folder / f"{name}_short.toml"
    path.write_text(to_toml(d), encoding="utf-8")
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a metrics CSV."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def main(out: Path = DATA, names: list[str] | None = None) -> None:
    """Run every short case (or those named) and store its metrics.csv as the reference."""
    import tempfile

    from bonefem.driver import run_case

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in names or list(SHORT_CASES):
            case = write_short_case(name, Path(tmp))
            folder = run_case(case, output=Path(tmp) / name, progress=False)
            (out / f"{name}.csv").write_bytes((folder / "metrics.csv").read_bytes())
            print(name, "->", out / f"{name}.csv")


if __name__ == "__main__":
    # python -m tests.regression.short_cases [FOLDER [NAME ...]]
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DATA, sys.argv[2:] or None)
