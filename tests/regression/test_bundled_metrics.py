"""The bundled cases (short versions) reproduce the metrics stored before issue 12's change.

References: ``tests/data/regression/<case>.csv``, written by
``python tests/regression/short_cases.py`` at commit 947b585. metrics.csv prints 10
significant digits, so "the same metrics" means every value within one unit of its 10th
significant digit (1e-10 to 1e-9 relative); solver counters (``mechanics_solves``,
``ksp_iterations``) exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.regression.short_cases import DATA, SHORT_CASES, read_rows, write_short_case


def last_digit(value: float) -> float:
    """One unit of the 10th significant digit of ``value`` (the CSV's resolution)."""
    return 10.0 ** (math.floor(math.log10(abs(value))) - 9) if value else 1e-300


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
    worst = (0.0, "", 0)  # (difference in units of the last printed digit, column, row)
    for i, (g, r) in enumerate(zip(got, ref, strict=True)):
        for key, text in r.items():
            a, b = float(g[key]), float(text)
            if math.isnan(b):
                assert math.isnan(a), f"{name} row {i} {key}: {a} (reference nan)"
                continue
            err = abs(a - b) / last_digit(b)
            if err > worst[0]:
                worst = (err, key, i)
    err, key, row = worst
    assert err <= 1.0 + 1e-6, f"{name}: {err:.3g} units of the 10th digit in {key} row {row}"
