"""The Huiskes law (remodeling/huiskes.py): lazy zone, exact rate, integration, stop event."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from bonefem.remodeling.bone import RemodelingParameters, tissue_density
from bonefem.remodeling.huiskes import HuiskesLaw
from bonefem.remodeling.law import Drive

PARAMS = RemodelingParameters()
B, S_LAZY = 0.5, 0.35


def law() -> HuiskesLaw:
    def initial(f0: np.ndarray) -> np.ndarray:
        n = np.size(f0)
        return np.vstack([np.full((3, n), 1e-3), np.asarray(f0), np.full(n, 0.4)])

    return HuiskesLaw(B, S_LAZY, PARAMS, initial)


def test_zero_rate_inside_the_lazy_zone() -> None:
    K = np.full(5, 2e-3)
    rho = np.full(5, 0.4)
    S = K * np.array([1 - S_LAZY + 1e-9, 0.8, 1.0, 1.2, 1 + S_LAZY - 1e-9])
    np.testing.assert_array_equal(law().density_rate(rho, S * rho, K), 0.0)


def test_exact_rate_outside_the_lazy_zone() -> None:
    K = np.array([2e-3, 2e-3])
    rho = np.array([0.4, 0.5])
    S = np.array([2.0, 0.3]) * K  # above and below
    expected = B * np.array([S[0] - 1.35 * K[0], S[1] - 0.65 * K[1]])
    np.testing.assert_allclose(law().density_rate(rho, S * rho, K), expected, rtol=1e-14)


def _drive(psi: float, K: float) -> Drive:
    return Drive(
        ratio=lambda f: np.ones_like(f),
        apparent_sed=lambda f: np.full_like(f, psi),
        reference_sed_per_mass=np.array([K]),
    )


def _max(x: float) -> float:
    """The max-allreduce of the loop, on one rank."""
    return x


def never(f: np.ndarray, m: np.ndarray) -> bool:
    return False


def test_integration_matches_a_tight_ode_solve() -> None:
    """Disuse at a fixed Ψ: dρ/dt = B (Ψ/ρ − 0.65 K) over 200 days (midpoint, 1-day steps)."""
    hl = law()
    cells = hl.initial_state(np.array([0.25]))
    rho_t = float(tissue_density(cells[4], PARAMS)[0])
    K = 2e-3
    psi = 0.2 * K * 0.25 * rho_t  # 20 % of the homeostatic S
    step = hl.advance(cells, 0.0, 200.0, _drive(psi, K), reduce_max=_max, h_init=None, stop=never)

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        return B * (psi / y - (1 - S_LAZY) * K) if psi / y[0] < (1 - S_LAZY) * K else 0 * y

    ref = solve_ivp(rhs, (0, 200), [0.25 * rho_t], rtol=1e-11, atol=1e-14).y[0, -1] / rho_t
    assert step.t_end == 200.0 and not step.stopped
    assert step.cells[3, 0] < 0.25 * 0.9  # lost more than 10 %
    assert step.cells[3, 0] == pytest.approx(ref, rel=1e-6)
    np.testing.assert_array_equal(step.cells[[0, 1, 2, 4]], cells[[0, 1, 2, 4]])


def test_stop_event_ends_the_advance_at_the_substep_where_it_fires() -> None:
    hl = law()
    cells = hl.initial_state(np.array([0.25]))
    K = 2e-3
    drive = _drive(0.1 * K * 0.25 * 2.0, K)
    full = hl.advance(cells, 0.0, 30.0, drive, reduce_max=_max, h_init=None, stop=never)
    loss_per_day = (0.25 - full.cells[3, 0]) / 30.0
    threshold = 0.25 - 4.5 * loss_per_day  # crossed during the 5th day

    def stop(f: np.ndarray, m: np.ndarray) -> bool:
        return bool(f[0] < threshold)

    part = hl.advance(cells, 0.0, 30.0, drive, reduce_max=_max, h_init=None, stop=stop)
    assert part.stopped and part.t_end == pytest.approx(5.0)
    rest = hl.advance(part.cells, part.t_end, 30.0, drive, reduce_max=_max, h_init=None, stop=never)
    assert rest.cells[3, 0] == pytest.approx(full.cells[3, 0], rel=1e-12)
