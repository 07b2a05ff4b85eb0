"""The bundled cases (short versions) reproduce the metrics stored before issue 12's change.

References: ``tests/data/regression/<case>.csv``, written by
``python tests/regression/short_cases.py`` at commit 947b585. Every numeric column must
agree to 1e-10 relative (absolute 1e-12 for values at zero, e.g. percent changes in the
first row); solver counters (``mechanics_solves``, ``ksp_iterations``) exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.regression.short_cases import DATA, SHORT_CASES, read_rows, write_short_case

RTOL = 1e-10
ATOL = 1e-12


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("name", sorted(SHORT_CASES))
def test_bundled_case_metrics_unchanged(name: str, tmp_path: Path) -> None:
    from bonefem.driver import run_case

    case = write_short_case(name, tmp_path)
    folder = run_case(case, output=tmp_path / "run", progress=False)
    got = read_rows(folder / "metrics.csv")
    ref = read_rows(DATA / f"{name}.csv")
    assert len(got) == len(ref)
    assert set(got[0]) >= set(ref[0]), f"columns lost: {set(ref[0]) - set(got[0])}"
    worst = (0.0, "", 0)
    for i, (g, r) in enumerate(zip(got, ref, strict=True)):
        for key, text in r.items():
            a, b = float(g[key]), float(text)
            if math.isnan(b):
                assert math.isnan(a), f"{name} row {i} {key}: {a} (reference nan)"
                continue
            err = abs(a - b) / max(abs(b), ATOL / RTOL)
            if err > worst[0]:
                worst = (err, key, i)
    err, key, row = worst
    assert err <= RTOL, f"{name}: worst relative difference {err:.3g} in {key} row {row}"
