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


# ---------------------------------------------------------------- issue 13: items 1, 2, 5
SLOW = RemodelingParameters(slow_share=0.6, k_slow=4e-4)


def _age_structured_mineral(t: float, r_of_t, p: RemodelingParameters) -> float:
    """Mean mineral of a bone volume at constant f whose turnover r(t) (1/day) changes.

    Direct evaluation over the distribution of tissue ages: at constant f, packets are
    formed at rate r(s) f and every packet is resorbed at rate r, so the volume of age a at
    time t is r(t - a) f exp(-int_{t-a}^t r) (and the packets present at t = 0 are from the
    steady state of r(0)); m(a) is the biexponential law of bonefem.remodeling.bone.
    """
    gap = p.m_max - p.m_primary

    def law(a: np.ndarray) -> np.ndarray:
        return p.m_max - gap * (
            (1 - p.slow_share) * np.exp(-p.k_sec * a) + p.slow_share * np.exp(-p.k_slow * a)
        )

    s = np.linspace(0.0, t, 40001)
    r = r_of_t(s)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (r[1:] + r[:-1]) * np.diff(s))])
    surv = np.exp(-(cum[-1] - cum))  # exp(-int_s^t r)
    born = r * surv  # density (per day of birth) of the packets born after 0
    m_new = np.trapezoid(born * law(t - s), s)
    # packets older than t: the steady-state age density r0 exp(-r0 a') at t = 0, aged by t
    r0 = float(r[0])
    a0 = np.linspace(0.0, 60.0 / r0, 200001)
    old = r0 * np.exp(-r0 * a0) * np.exp(-cum[-1])
    m_old = np.trapezoid(old * law(a0 + t), a0)
    return float(m_new + m_old) / float(np.trapezoid(born, s) + np.trapezoid(old, a0))


def test_slow_mineralisation_is_the_exact_mean_over_tissue_ages() -> None:
    """The two mineral ODEs equal the mean of m(age) over the age distribution (issue 13.1)."""
    from scipy.integrate import solve_ivp

    law = CellDrivenRemodeling(SLOW, k_form=1.0)
    f = np.array([0.5])
    r0, r1 = 6.85e-4, 1.0e-4  # 25 %/y, then turnover suppressed to 3.7 %/y (antiresorptive)

    def r_of_t(t):
        return r1 + (r0 - r1) * np.exp(-np.asarray(t) / 30.0)

    oba0 = np.array([r0 * 0.5 / float(law_surface(law, f)[0])])
    m0 = law.mineral_steady_state(f, oba0)
    d0 = law.slow_deficit_steady_state(f, oba0)

    def rhs(t, y):
        form_rel = r_of_t(t)
        dm = form_rel * (SLOW.m_primary - y[0]) + SLOW.k_sec * (SLOW.m_max - y[0])
        dm += (SLOW.k_slow - SLOW.k_sec) * y[1]
        return [dm, law.slow_deficit_rate(np.array([form_rel]), np.array([y[1]]))[0]]

    assert float(m0[0]) == pytest.approx(
        _age_structured_mineral(1e-9, lambda t: r0 + 0 * t, SLOW), rel=1e-6
    )
    for years in (1.0, 3.0, 10.0):
        t = years * 365.25
        sol = solve_ivp(rhs, (0, t), [m0[0], d0[0]], rtol=1e-10, atol=1e-13)
        assert sol.y[0, -1] == pytest.approx(_age_structured_mineral(t, r_of_t, SLOW), rel=2e-5)
    # the single-phase law of bonefem 0.1 saturates: its suppressed-turnover gain is capped
    one = RemodelingParameters()
    gain_one = one.m_max / float(CellDrivenRemodeling(one, 1.0).mineral_steady_state(f, oba0)[0])
    assert sol.y[0, -1] / m0[0] > gain_one


def law_surface(law: CellDrivenRemodeling, f: np.ndarray) -> np.ndarray:
    form, _ = law.formation_resorption(f, np.ones_like(f), np.zeros_like(f))
    return form / law.k_form


def test_haversian_surface_and_blend() -> None:
    """S(f): Lerebours below the blend, canal network above it, continuous (issue 13.5)."""
    from bonefem.remodeling.bone import bone_surface, haversian_surface

    p = RemodelingParameters(canal_density=9.0)
    # N canals per mm^2 of radius r with N pi r^2 = porosity: surface N 2 pi r
    r = np.sqrt(0.05 / (np.pi * 9.0))
    assert float(haversian_surface(0.95, 9.0)) == pytest.approx(9.0 * 2 * np.pi * r, rel=1e-12)
    f = np.array([0.15, 0.5, 0.7, 0.9, 0.95, 0.99])
    s = bone_surface(f, p)
    np.testing.assert_allclose(s[:3], specific_surface(f[:3]), rtol=1e-12)
    np.testing.assert_allclose(s[3:], haversian_surface(f[3:], 9.0), rtol=1e-12)
    fine = np.linspace(0.6, 0.99, 3901)
    assert np.max(np.abs(np.diff(bone_surface(fine, p)))) < 0.01  # no jump
    np.testing.assert_allclose(bone_surface(f, RemodelingParameters()), specific_surface(f))
