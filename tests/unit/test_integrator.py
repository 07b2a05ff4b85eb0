"""Generic Rosenbrock-W integrator (ROS2, ROS34PW2) on a stiff problem with a known
solution (Prothero-Robinson) and on a slow drift."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bonefem.biology.integrator import RA34PW2, ROS2_TABLEAU, RosenbrockTableau, integrate_ros2
from bonefem.errors import SolverError

LAM = 1.0e4  # stiffness of the Prothero-Robinson component (1/time)


class ProtheroRobinson:
    """y' = -lam (y - g(t)) + g'(t) with g = sin (stiff), z' = cos(t) z (non-stiff).

    Exact solution from y(0) = g(0), z(0) = 1: y = sin t, z = exp(sin t). State (2, 1).
    Jacobian diag(-lam, cos t) (exact, or frozen to diag(-lam, 0) with ``w_exact=False``:
    a W-method keeps its order with any matrix). F_t exact, or omitted (``with_ft=False``).
    """

    def __init__(
        self, *, tol: float = math.inf, with_ft: bool = True, w_exact: bool = True
    ) -> None:
        self.tol, self.with_ft, self.w_exact = tol, with_ft, w_exact
        self.linearised_at: list[float] = []

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        return np.array([-LAM * (y[0] - math.sin(t)) + math.cos(t), math.cos(t) * y[1]])

    def linearise(self, t: float, y: np.ndarray, gh: float):
        self.linearised_at.append(t)
        diag = np.array([[-LAM], [math.cos(t) if self.w_exact else 0.0]])
        return self.rhs(t, y), lambda b: b / (1.0 - gh * diag)

    def time_derivative(self, t: float, y: np.ndarray, f0: np.ndarray, h: float):
        if not self.with_ft:
            return None
        return np.array([[LAM * math.cos(t) - math.sin(t)], -math.sin(t) * y[1]])

    def update(self, y: np.ndarray, h: float, k: np.ndarray, final: bool) -> np.ndarray:
        return y + h * k

    def error_norm(self, y: np.ndarray, k_sum: np.ndarray, half_h: float) -> float:
        return float(np.max(np.abs(k_sum))) * half_h / self.tol


def exact(t: float) -> np.ndarray:
    return np.array([[math.sin(t)], [math.exp(math.sin(t))]])


def fixed_step_errors(
    problem: ProtheroRobinson,
    t_end: float,
    ns: list[int],
    tableau: RosenbrockTableau | None = None,
) -> np.ndarray:
    """Max error of (y, z) at t_end for n fixed steps (one substep per call; ROS2 default)."""
    errs = []
    for n in ns:
        h, y = t_end / n, exact(0.0)
        for k in range(n):
            res = integrate_ros2(problem, y, k * h, h, tableau=tableau)
            assert res.n_accepted == 1 and res.n_rejected == 0
            y = res.y
        errs.append(np.abs(y - exact(t_end))[:, 0])
    return np.array(errs)


NS = [40, 80, 160, 320]


@pytest.mark.parametrize("w_exact", [True, False])
def test_measured_order_two_on_prothero_robinson(w_exact: bool) -> None:
    """Fixed steps h = 2/40 ... 2/320 (lam h = 500 ... 62, stiff): both components order 2.

    Measured: stiff y 2.02, 2.02, 2.02; non-stiff z 2.13, 2.06, 2.03 with the exact W and
    1.92, 1.96, 1.98 with the frozen one.
    """
    errs = fixed_step_errors(ProtheroRobinson(w_exact=w_exact), 2.0, NS)
    orders = np.log2(errs[:-1] / errs[1:])
    assert np.all(np.abs(orders - 2.0) < 0.15), orders
    assert np.all(np.abs(orders[-1] - 2.0) < 0.05), orders
    assert errs[-1, 0] < 2e-5 and errs[-1, 1] < 1e-4, errs[-1]


def test_time_derivative_term_matters_for_the_stiff_component() -> None:
    """Without F_t (Verwer et al. 1999, Eq. 2.2) the stiff component lags g(t) by O(h).

    Measured order of y without F_t: 0.96, 0.98, 0.99 (with it: 2.02).
    """
    with_ft = fixed_step_errors(ProtheroRobinson(), 2.0, NS)
    without = fixed_step_errors(ProtheroRobinson(with_ft=False), 2.0, NS)
    orders = np.log2(without[:-1, 0] / without[1:, 0])
    assert np.all(np.abs(orders - 1.0) < 0.1), orders
    assert np.all(without[:, 0] > 10.0 * with_ft[:, 0])


@pytest.mark.parametrize("w_exact", [True, False])
def test_ros34pw2_is_third_order_as_a_w_method(w_exact: bool) -> None:
    """ROS34PW2 (Rang & Angermann 2005), fixed steps h = 2/10 ... 2/160: the non-stiff z is
    third order with the exact and with the frozen W (a W-method); the stiff y (lam h =
    2000 ... 125) second order (order reduction on Prothero-Robinson). At 40 steps the
    errors are 1.4e5 x (y) and 770 x / 74 x (z, exact / frozen W) below ROS2's.

    Measured: z 3.59, 3.36, 3.21, 3.11 (exact W) and 2.86, 2.93, 2.97, 2.98 (frozen); y 1.89,
    1.95, 1.99, 2.01 with y errors 8.3e-8 ... 3.6e-10.
    """
    ns = [10, 20, 40, 80, 160]
    errs = fixed_step_errors(ProtheroRobinson(w_exact=w_exact), 2.0, ns, RA34PW2)
    orders = np.log2(errs[:-1] / errs[1:])
    assert np.all(orders[-2:, 1] > 2.9), orders
    assert np.all(np.abs(orders[-2:, 0] - 2.0) < 0.1), orders
    ros2 = fixed_step_errors(ProtheroRobinson(w_exact=w_exact), 2.0, [40], None)
    assert errs[2, 0] < 1e-4 * ros2[0, 0] and errs[2, 1] < 0.02 * ros2[0, 1], (errs[2], ros2)


def test_ros2_as_a_tableau_is_the_ros2_path() -> None:
    """The general stage loop with ROS2's coefficients gives the dedicated ROS2 path's
    results (to rounding): the transformed form of the tableau is right."""
    tab = fixed_step_errors(ProtheroRobinson(), 2.0, [40, 80], ROS2_TABLEAU)
    path = fixed_step_errors(ProtheroRobinson(), 2.0, [40, 80], None)
    np.testing.assert_allclose(tab, path, rtol=1e-9)
    assert ROS2_TABLEAU.gamma_sum == pytest.approx((ROS2_TABLEAU.gamma, -ROS2_TABLEAU.gamma))


def test_ros34pw2_adaptive_takes_far_fewer_substeps() -> None:
    """Error control with the same tolerance: ROS34PW2 takes 22 / 96 / 439 substeps where
    ROS2 takes 282 / 2803 / 27941 (tol 1e-4 / 1e-6 / 1e-8 over t in [0, 2]), each at least
    as accurate."""
    for tol, most in ((1e-4, 40), (1e-6, 150)):
        new = integrate_ros2(ProtheroRobinson(tol=tol), exact(0.0), 0.0, 2.0, tableau=RA34PW2)
        old = integrate_ros2(ProtheroRobinson(tol=tol), exact(0.0), 0.0, 2.0)
        assert new.n_accepted + new.n_rejected < most < old.n_accepted
        assert np.max(np.abs(new.y - exact(2.0))) < np.max(np.abs(old.y - exact(2.0)))


@pytest.mark.parametrize("tableau", [None, RA34PW2], ids=["ros2", "ros34pw2"])
def test_adaptive_meets_tolerance_and_respects_milestones(
    tableau: RosenbrockTableau | None,
) -> None:
    pr = ProtheroRobinson(tol=1e-6)
    res = integrate_ros2(pr, exact(0.0), 0.0, 3.0, milestones=[0.7, 2.5, 7.0], tableau=tableau)
    assert not res.stopped and res.t_end == 3.0
    assert res.n_accepted > 5
    np.testing.assert_allclose(res.y, exact(3.0), atol=1e-4)
    # substeps start exactly at the milestones inside (0, 3), never step across them
    assert 0.7 in pr.linearised_at and 2.5 in pr.linearised_at


@pytest.mark.parametrize("tableau", [None, RA34PW2], ids=["ros2", "ros34pw2"])
def test_stop_event_located_at_the_first_accepted_substep_past_it(
    tableau: RosenbrockTableau | None,
) -> None:
    """Event z > 2 (exact crossing at sin t = ln 2, t* = 0.76548...)."""
    t_star = math.asin(math.log(2.0))
    pr = ProtheroRobinson(tol=1e-6)
    res = integrate_ros2(
        pr, exact(0.0), 0.0, 3.0, stop=lambda y: bool(y[1, 0] > 2.0), tableau=tableau
    )
    assert res.stopped
    assert res.t_end - res.h_last < t_star <= res.t_end
    np.testing.assert_allclose(res.y, exact(res.t_end), atol=1e-4)
    # resuming from the event reaches the end like an uninterrupted call
    rest = integrate_ros2(pr, res.y, res.t_end, 3.0 - res.t_end, h_init=res.h_last, tableau=tableau)
    np.testing.assert_allclose(rest.y, exact(3.0), atol=1e-4)


class SlowDecay:
    """y' = -y / 1000 (time constant 1000): a smooth drift that allows long substeps."""

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        return -y / 1000.0

    def linearise(self, t: float, y: np.ndarray, gh: float):
        return self.rhs(t, y), lambda b: b / (1.0 + gh / 1000.0)

    def time_derivative(self, t: float, y: np.ndarray, f0: np.ndarray, h: float):
        return None

    def update(self, y: np.ndarray, h: float, k: np.ndarray, final: bool) -> np.ndarray:
        return y + h * k

    def error_norm(self, y: np.ndarray, k_sum: np.ndarray, half_h: float) -> float:
        return float(np.max(np.abs(k_sum))) * half_h / 1e-3


def test_next_step_is_the_controllers_proposal_not_the_shortened_last_substep() -> None:
    """A call whose last substep was cut short by a milestone hands over the step it would
    have taken: the next 14-day call then takes one substep, where restarting from the
    short substep takes two (the coupled loop's outer steps, issue 15)."""
    pr = SlowDecay()
    y0 = np.ones((1, 1))
    first = integrate_ros2(pr, y0, 0.0, 7.3, h_init=14.0)
    assert first.n_accepted == 1 and first.h_last == pytest.approx(7.3)
    assert first.h_next > 14.0  # the error at 7.3 days asks for a longer substep
    nxt = integrate_ros2(pr, first.y, 7.3, 14.0, h_init=first.h_next)
    short = integrate_ros2(pr, first.y, 7.3, 14.0, h_init=first.h_last)
    assert (nxt.n_accepted, short.n_accepted) == (1, 2)
    np.testing.assert_allclose(nxt.y, np.exp(-21.3 / 1000.0), rtol=1e-4)


def test_a_call_shorter_than_the_proposal_hands_the_proposal_on() -> None:
    """A call over an interval shorter than ``h_init`` (the coupled loop's remainder up to
    an output time, e.g. 0.31 days after a 91-day step) takes that one short substep and
    hands ``h_init`` on: the following call starts from the long substep, not from five
    times the short one (which cost three extra substeps to grow back, issue 15)."""
    pr = SlowDecay()
    y0 = np.ones((1, 1))
    short = integrate_ros2(pr, y0, 0.0, 0.3125, h_init=30.0)
    assert short.n_accepted == 1 and short.h_last == pytest.approx(0.3125)
    assert short.h_next >= 30.0
    nxt = integrate_ros2(pr, short.y, 0.3125, 30.0, h_init=short.h_next)
    assert nxt.n_accepted == 1
    np.testing.assert_allclose(nxt.y, np.exp(-30.3125 / 1000.0), rtol=1e-4)


def test_reduce_max_drives_the_decisions_and_failures_raise() -> None:
    # a global error always 10x the local one: more substeps than alone
    alone = integrate_ros2(ProtheroRobinson(tol=1e-6), exact(0.0), 0.0, 1.0)
    shared = integrate_ros2(
        ProtheroRobinson(tol=1e-6), exact(0.0), 0.0, 1.0, reduce_max=lambda e: 10.0 * e
    )
    assert shared.n_accepted > alone.n_accepted
    with pytest.raises(SolverError, match="more than 3 substeps"):
        integrate_ros2(ProtheroRobinson(tol=1e-9), exact(0.0), 0.0, 1.0, max_substeps=3)
