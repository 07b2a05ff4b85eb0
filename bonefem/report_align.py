"""Aligning runs for ``bonefem report``: time axes, events of the case, labels, anchoring.

Runs are compared on a common x axis (years), chosen with ``--align``:

* ``time``: years from each run's start (t = 0);
* ``age``: the woman's or man's age, ``biology.age_at_start_years`` + t;
* ``menopause``: years from the final menstrual period or oophorectomy,
  ``biology.estrogen.menopause_time_days`` (a run without menopause cannot be aligned so);
* ``therapy``: years from the start of the first therapy course (HRT, TRT, denosumab,
  bisphosphonate, teriparatide).

**Anchoring.** Runs aligned on an event may start at different points of the common axis
(``menopause_vertebra`` 2 years before the FMP, ``denosumab_vertebra`` at the FMP). Every
run starts from the same healthy steady state, so a run that starts later would start at
0 % while the run that started earlier has already lost bone by then; plotted as they are,
the later run seems to lose bone faster. With anchoring (the default when aligned by
menopause, where every run has its menopause at x = 0) a later-starting run is chained onto
the reference run (the one that starts first; of those, the one whose first therapy starts
last, i.e. untreated longest) at its first time, provided the reference is untreated until
then: each of its series is multiplied by the factor that puts its first point on the
reference curve (for a % change, on 1 + change/100). This assumes the later run's subject
had the reference's history until its start, which holds for runs of one scenario family
(same bone, same loads, same event at x = 0) that differ after that point; the report says
which runs were anchored, and the series CSV keeps the values of the run next to the
plotted ones.

Events: the menopause (vertical line) and every course of ``[[biology.<name>]]``
(shaded span), read from the run's ``case_resolved.json``. Labels: ``run.description`` of
the case when the runs' descriptions differ, else the run name, else the folder name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bonefem.config.overrides import override_key
from bonefem.errors import InputError

ALIGNMENTS = ("time", "age", "menopause", "therapy")
THERAPIES = ("hrt", "trt", "denosumab", "bisphosphonate", "teriparatide")
AXIS_LABELS = {
    "time": "time from the start of the run (years)",
    "age": "age (years)",
    "menopause": "years from menopause (final menstrual period)",
    "therapy": "years from the start of therapy",
}
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Event:
    """An event of a run's case.

    Attributes:
        name: ``menopause`` or the course's list name (``denosumab``, ``hrt``, ...).
        start_days: start (days from the run's start).
        stop_days: end (days), None for an instant or a course without end.
    """

    name: str
    start_days: float
    stop_days: float | None


def read_case(folder: Path) -> dict[str, Any]:
    """The resolved case of a run folder (``{}`` for folders of old versions without it)."""
    path = folder / "case_resolved.json"
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def events(case: dict[str, Any]) -> list[Event]:
    """The menopause and every course of the case's biology, in time order."""
    bio = case.get("biology") or {}
    out: list[Event] = []
    estrogen = bio.get("estrogen") or {}
    if estrogen.get("menopause", "none") != "none":
        out.append(Event("menopause", float(estrogen.get("menopause_time_days", 0.0)), None))
    for key, value in bio.items():
        if isinstance(value, list):
            for course in value:
                if isinstance(course, dict) and "start_days" in course:
                    raw = course.get("stop_days")
                    stop = None if raw is None else float(raw)
                    finite = stop is not None and bool(np.isfinite(stop))
                    out.append(Event(key, float(course["start_days"]), stop if finite else None))
    return sorted(out, key=lambda e: e.start_days)


def origin_years(case: dict[str, Any], align: str, folder: Path) -> float:
    """The run's time (years) that is 0 on the common axis (``age``: minus the start age).

    Raises:
        InputError: an unknown alignment, or a run without the event to align on.
    """
    if align not in ALIGNMENTS:
        raise InputError(
            f"unknown alignment; use one of {', '.join(ALIGNMENTS)}", field="--align", value=align
        )
    bio = case.get("biology") or {}
    if align == "time":
        return 0.0
    if align == "age":
        return -float(bio.get("age_at_start_years", 0.0))
    found = [e for e in events(case) if e.name == "menopause"]
    if align == "therapy":
        found = [e for e in events(case) if e.name in THERAPIES]
    if not found:
        what = (
            "no menopause (biology.estrogen.menopause)"
            if align == "menopause"
            else (f"no therapy course ({', '.join(THERAPIES)})")
        )
        raise InputError(f"--align {align}: the run's case has {what}", file=folder)
    return found[0].start_days / DAYS_PER_YEAR


def labels(
    folders: list[Path],
    cases: list[dict[str, Any]],
    names: list[str],
    overrides: list[list[str]] | None = None,
) -> list[str]:
    """Legend labels: descriptions when they tell the runs apart, else names, else folders.

    A description is the case file's; a run whose case was changed on the command line
    (``overrides``: the manifest's ``--set`` items) gets the changed keys after it, so that
    a 5-year run of a 10-year case, or a case given a therapy by ``--set``, is not labelled
    as the file describes it. Output settings are left out.
    """
    descriptions = [str((c.get("run") or {}).get("description") or "") for c in cases]
    for i, items in enumerate(overrides or []):
        keys = [override_key(k) for k in items]
        keys = [k for k in dict.fromkeys(keys) if k and not k.startswith("output.")]
        if descriptions[i] and keys:
            shown = ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
            descriptions[i] += f" (--set {shown})"
    for candidate in (descriptions, names):
        if all(candidate) and len(set(candidate)) == len(candidate):
            return candidate
    return [f.name for f in folders]


def reference_run(starts: list[float], therapy_starts: list[float]) -> int:
    """The index of the reference run: earliest start, then untreated longest, then first."""
    order = sorted(range(len(starts)), key=lambda i: (starts[i], -therapy_starts[i], i))
    return order[0]


def anchor_factor(
    x: np.ndarray, level: np.ndarray, ref_x: np.ndarray, ref_level: np.ndarray
) -> float:
    """The factor that puts the first finite point of ``level`` on the reference curve.

    ``level`` is a positive quantity (1 + change/100, a load, an index); the reference is
    interpolated linearly at the run's first time. 1.0 if the run starts outside the
    reference's range or either has no finite value there.
    """
    keep = np.isfinite(x) & np.isfinite(level)
    ref_keep = np.isfinite(ref_x) & np.isfinite(ref_level)
    if not keep.any() or np.count_nonzero(ref_keep) < 2:
        return 1.0
    x0, own = float(x[keep][0]), float(level[keep][0])
    rx, rl = ref_x[ref_keep], ref_level[ref_keep]
    if not rx[0] <= x0 <= rx[-1] or own == 0.0:
        return 1.0
    return float(np.interp(x0, rx, rl)) / own
