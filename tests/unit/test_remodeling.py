"""Cell-driven bone volume and mineralisation law."""

from __future__ import annotations

import numpy as np
import pytest

from bonefem.remodeling import (
    CellDrivenRemodeling,
    RemodelingParameters,
    apparent_density,
    ash_fraction,
    mineral_density,
    specific_surface,
)


def test_specific_surface_lerebours() -> None:
    # Lerebours 2016 Eq. (12) evaluated by hand
    assert specific_surface(0.15) == pytest.approx(
        32.2 * 0.15 - 93.9 * 0.15**2 + 134 * 0.15**3 - 101 * 0.15**4 + 28.8 * 0.15**5
    )
    assert specific_surface(0.0) == 0.0
    assert float(specific_surface(0.15)) > 4 * float(specific_surface(0.95))


def test_balance_and_bounds() -> None:
    law = CellDrivenRemodeling(RemodelingParameters(), k_form=0.33 * 1e-4 / 5e-4)
    f = np.array([0.005, 0.015, 0.3, 0.985, 0.995])
    oba = np.full(5, 5e-4)
    oca = np.full(5, 1e-4)
    df, _, _ = law.volume_rates(f, np.full(5, 0.4), oba, oca)
    assert df[2] == pytest.approx(0.0, abs=1e-18)
    form, res = law.formation_resorption(f, oba, 10 * oca)
    assert res[0] == 0.0 and form[-1] == 0.0  # switched off beyond the bounds
    assert res[1] > 0.0


def test_mineral_steady_state_and_densities() -> None:
    law = CellDrivenRemodeling(RemodelingParameters(), k_form=0.066)
    f = np.array([0.15, 0.95])
    m = law.mineral_steady_state(f, np.full(2, 5e-4))
    _, dm, _ = law.volume_rates(f, m, np.full(2, 5e-4), np.full(2, 1e-4))
    np.testing.assert_allclose(dm, 0.0, atol=1e-15)
    assert 0.121 < m[0] < m[1] < 0.442  # slow turnover -> more mineralised (cortical)
    a = ash_fraction(0.442)
    assert 0.6 < a < 0.8
    assert apparent_density(1.0, 0.442) == pytest.approx(1 + 2.2 * 0.442 + 0.1 * 3 / 7)
    assert mineral_density(0.5, 0.4) == pytest.approx(0.5 * 3.2 * 0.4)
