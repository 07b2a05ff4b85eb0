"""Calibration: target tests and regression pins (issue 18).

* Target tests: every calibration point against its published value, within the misfit
  docs/calibration.md states for it ("Fit error at every data point"), rounded up to 0.1
  pp (the first fit is one least squares of eight points in six constants, so no point is
  met exactly; the SWAN rates and the 10-year total are not mutually consistent, docs say
  why). Issue 13 asks for every point within 1 pp and the SWAN stage rates within 0.7
  %/y; one bound is outside those: the SWAN post-FMP rate (0.89 %/y), docs/calibration.md
  says why. Since December 2026 the untreated course is fitted as one (SWAN, the WHI and
  FREEDOM placebo arms, the acceleration of hip loss in old age of Ensrud et al. 1995, and
  the WHI HRT difference): WHI's placebo arm, 1.24 pp off before, is at 0.58 and FREEDOM's
  12-month gain, 1.06 pp off, at 0.75.
* SWAN's own stage split (Greendale 2012: LS transmenopause FMP-1..FMP+2, femoral neck
  total and transmenopause), evaluated and fitted by no constant, within 1 pp; the stage
  rates come from another cohort (Sowers 2010, Michigan) and, chained, cannot meet SWAN's
  total at the same time (a check on the target values).
* The SWAN 10-year total is Greendale et al.'s window, 5 years before to 5 years after the
  FMP (it was taken as FMP-3..FMP+7 before: -10.82 there, -10.45 over the published window,
  same constants).
* Regression pins: today's model values (the ``--evaluate`` table in docs/calibration.md)
  within 0.05 pp, so that any drift of the biology shows even where the target band is wide.
* One mechanism check: without denosumab's RANKL binding there is no FREEDOM gain.
* The fits' error path: a target outside a fitted constant's bracket raises a
  CalibrationError naming the constant, the target and the misfit at both ends, and the
  command exits with 2 (issue 13's refits hit scipy's bare "f(a) and f(b) must have
  different signs").
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest

from bonefem.biology import calibration as cal
from bonefem.biology import calibration_mechanistic as mech
from bonefem.biology.calibrated import CALIBRATED
from bonefem.errors import CalibrationError

#: key -> (published value, documented misfit bound, today's model value)
POINTS = {
    "swan_rate_pre": (-1.7, 0.25, -1.49),
    "swan_rate_post": (-3.3, 0.5, -2.87),
    "swan_rate_late": (-1.1, 0.6, -0.55),
    "swan_total_10y": (-10.6, 0.3, -10.78),
    "whi_th_3y_diff": (3.7 - 0.14, 0.1, 3.50),
    "freedom_th_12_diff": (3.2, 0.8, 3.96),
    "freedom_th_24_diff": (4.4 + 0.7, 0.35, 5.40),
    "freedom_th_36_diff": (5.0 + 1.4, 0.1, 6.43),
    "freedom_ls_36_diff": (8.8, 0.6, 8.22),
    "freedom_th_36_placebo": (-1.4, 0.2, -1.25),
    "whi_th_3y_placebo": (0.14, 0.6, -0.43),
    "sof_th_rate_ratio": (10.4 / 2.5, 0.1, 4.21),
}
#: SWAN's own stage split (Greendale 2012), fitted by no constant: within issue 13's 1 pp
CHECKS = {
    "swan_transmenopause": (-7.38, 1.0, -7.97),
    "swan_fn_total_10y": (-9.1, 1.0, -8.20),
    "swan_fn_transmenopause": (-5.8, 1.0, -5.47),
}
PIN = 0.05  # pp (or %/y for the rates)
ALL = POINTS | CHECKS


@pytest.fixture(scope="module")
def values() -> dict[str, float]:
    return {**cal.untreated(CALIBRATED), **cal.whi(CALIBRATED), **cal.freedom(CALIBRATED)}


def test_targets_name_the_published_values() -> None:
    """The fit uses the calibration data: each target equals the published value above."""
    for key, (published, _, _) in POINTS.items():
        assert cal.TARGETS[key][0] == pytest.approx(published, abs=1e-12), key
    for key, (published, _, _) in CHECKS.items():
        assert cal.CHECKS[key][0] == pytest.approx(published, abs=1e-12), key
    assert not set(cal.CHECKS) & set(cal.TARGETS)


@pytest.mark.parametrize("key", sorted(ALL))
def test_calibration_target(key: str, values: dict[str, float]) -> None:
    published, bound, _ = ALL[key]
    assert values[key] == pytest.approx(published, abs=bound)


@pytest.mark.parametrize("key", sorted(ALL))
def test_calibration_pin(key: str, values: dict[str, float]) -> None:
    assert values[key] == pytest.approx(ALL[key][2], abs=PIN)


def test_stage_rates_and_swan_total_cannot_both_be_met() -> None:
    """The stage rates (Sowers 2010, Michigan cohort) chained over FMP-2..FMP+5 lose more
    than SWAN's 10-year total over FMP-5..FMP+5, a window that contains it (docs/
    calibration.md, "The stage rates are another cohort's"): 12.6 % against 10.6 %, so the
    least squares must miss the rates (it keeps post-FMP and late at about 0.87 and 0.5 of
    the data, each inside issue 13's 0.7 %/y band)."""
    t = cal.TARGETS
    kept = (
        (1 + t["swan_rate_pre"][0] / 100) ** 2
        * (1 + t["swan_rate_post"][0] / 100) ** 2
        * (1 + t["swan_rate_late"][0] / 100) ** 3
    )
    assert 100 * (kept - 1) == pytest.approx(-12.59, abs=0.01)
    assert 100 * (kept - 1) < t["swan_total_10y"][0] - 1.5
    # SWAN's own transmenopause (3 of its 10 years) is 70 % of its total (the model's: 74 %)
    assert cal.CHECKS["swan_transmenopause"][0] / t["swan_total_10y"][0] == pytest.approx(
        0.696, abs=1e-3
    )


def test_denosumab_gain_needs_its_rankl_binding() -> None:
    no_dmab = cal.freedom(dataclasses.replace(CALIBRATED, denosumab_accessibility=0.0))
    assert abs(no_dmab["freedom_th_36_diff"]) < 0.01


def test_calibration_point_error() -> None:
    p = cal.CalibrationPoint("k", "d", target=-3.3, model=-2.5, source="s")
    assert p.error == pytest.approx(0.8)


def test_bracketed_root_finds_the_root_and_evaluates_each_end_once() -> None:
    calls: list[float] = []

    def gap(x: float) -> float:
        calls.append(x)
        return x**3 - 2.0

    root = cal.bracketed_root(gap, 0.0, 3.0, constant="c", target="t", xtol=1e-12)
    assert root == pytest.approx(2.0 ** (1.0 / 3.0), abs=1e-10)
    assert calls.count(0.0) == 1
    assert calls.count(3.0) == 1


@pytest.mark.parametrize(
    ("gap", "misfits"),
    [(lambda x: x + 1.0, ("+1", "+3")), (lambda x: x - 5.0, ("-5", "-3"))],
)
def test_bracketed_root_names_what_it_cannot_reach(gap: object, misfits: tuple[str, str]) -> None:
    """A target outside the bracket: the constant, the target, the bracket and both misfits."""
    with pytest.raises(CalibrationError) as info:
        cal.bracketed_root(gap, 0.0, 2.0, constant="age_oba_apoptosis", target="TH placebo")  # type: ignore[arg-type]
    msg = str(info.value)
    assert "age_oba_apoptosis" in msg
    assert "TH placebo" in msg
    assert "[0, 2]" in msg
    assert f"{misfits[0]} at 0" in msg
    assert f"{misfits[1]} at 2" in msg


def test_bracketed_root_refuses_a_non_finite_end() -> None:
    with pytest.raises(CalibrationError, match="nan at 0"):
        cal.bracketed_root(
            lambda x: math.nan if x == 0.0 else 1.0, 0.0, 1.0, constant="c", target="t"
        )


def test_calibration_command_reports_an_unreachable_target(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m bonefem.biology.calibration``: one line on stderr and exit code 2."""

    def fail(*_: object, **__: object) -> None:
        raise CalibrationError("hrt_estrogen_level: no value in [0.05, 1.5] reaches the target")

    monkeypatch.setattr(cal, "fit", fail)
    assert cal.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "calibration failed: hrt_estrogen_level: no value in [0.05, 1.5] reaches the target"
    )


def test_mineral_slow_share_below_the_reference_bmdd_is_named() -> None:
    """Shares whose slow phase cannot hold the reference BMDD's deficit (Roschger 2003)."""
    with pytest.raises(CalibrationError, match=r"mineral_slow_share 0\.3: .*only \(0, 0\.3\)"):
        mech.slow_rate_for_share(0.3)
    # the bracket of fit_mineralisation starts where a solution exists: the closed-form
    # bound, k_slow -> 0 just above it
    s0 = mech.smallest_slow_share()
    with pytest.raises(CalibrationError):
        mech.slow_rate_for_share(s0 * (1.0 - 1e-6))
    assert 0.0 < mech.slow_rate_for_share(s0 * (1.0 + 1e-6)) < 1e-8
    assert mech.slow_rate_for_share(0.47) > 0.0


def test_trabecular_bone_does_not_rebound_after_menopause() -> None:
    """Natural menopause, 0-D calibration cohort: trabecular BV/TV may level off after the
    FMP but not recover under a deficiency drive still at most of its size.

    Spinal QCT shows trabecular vBMD falling through the early postmenopausal years. The
    recorded constants bottom out 3 years after the FMP and regain 0.5 % of BV/TV by FMP+8
    years (mineralisation and the mechanostat); a recalibration that reached SWAN's
    post-FMP peak by a resorption burst refilled under a doubled mechanostat slope regained
    4.4 % (2.4 % with the slope held at 2.0; docs/calibration.md, "The whole chain with
    it"). Bound: 1 % of the minimum.
    """
    r = cal._run(cal._menopause(), cal.FMP + 8.0 * cal.YEAR + 1.0, CALIBRATED)
    years = np.arange(-2.0, 8.01, 0.25)
    bvtv = np.array([r.at("bvtv_trab", cal.FMP + y * cal.YEAR) for y in years])
    assert np.all(np.diff(bvtv[years <= 2.0]) < 0.0)  # the loss phase around the FMP
    low = int(np.argmin(bvtv))
    assert years[low] >= 2.0
    assert np.max(bvtv[low:]) / bvtv[low] - 1.0 < 0.01


def test_fit_chain_repeats_the_fits_until_no_constant_moves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``calibration_mechanistic --chain``: the four mechanistic fits, then the clinical
    ones, per round, until a round moves no constant by more than 0.5 %. A stand-in E_max
    fit that closes 90 % of its distance to 200 per round: 267.5 -> 206.75 (22.7 %) ->
    200.675 (2.9 %) -> 200.0675 (0.34 %), converged in round 3."""
    calls: list[str] = []

    def step(name: str, update: Any) -> Any:
        def fake(k: Any) -> Any:
            calls.append(name)
            return update(k)

        return fake

    def toward_200(k: Any) -> Any:
        e = k.bisphosphonate_oca_apoptosis_max
        return dataclasses.replace(k, bisphosphonate_oca_apoptosis_max=200.0 + (e - 200.0) / 10.0)

    monkeypatch.setattr(mech, "fit_bisphosphonate", step("aln", toward_200))
    monkeypatch.setattr(mech, "fit_zoledronate", step("zol", lambda k: k))
    monkeypatch.setattr(mech, "fit_mineralisation", step("mineral", lambda k: k))
    monkeypatch.setattr(mech, "fit_mbf", step("mbf", lambda k: k))
    monkeypatch.setattr(cal, "fit", step("clinical", lambda k: k))
    start = dataclasses.replace(CALIBRATED, bisphosphonate_oca_apoptosis_max=267.5)
    k, rounds, converged = mech.fit_chain(start, rounds=5)
    assert (rounds, converged) == (3, True)
    assert k.bisphosphonate_oca_apoptosis_max == pytest.approx(200.0675)
    assert calls == ["aln", "zol", "mineral", "mbf", "clinical"] * 3
    _, rounds, converged = mech.fit_chain(start, rounds=2)
    assert (rounds, converged) == (2, False)


#: (constant, relative step): the recorded constants against neighbours along each constant
#: of the first fit; the steps move the sum of squares by 0.03-0.6 (measured)
COURSE_STEPS = [
    ("rankl_estrogen", 0.03),
    ("estrogen_adaptation_days", 0.1),
    ("mechano_lambda", 0.05),
    ("age_oba_apoptosis", 0.1),
    ("age_onset_years", 0.02),
]


@pytest.mark.slow
def test_recorded_constants_minimise_the_course_fit() -> None:
    """The recorded constants are the least squares of the first fit (``fit_course``): along
    each fitted constant both neighbours have a larger sum of squares of the eight course
    residuals (a constant edited by hand, or a refit left half-done, fails). The HRT level
    sits where HRT restores the premenopausal level in full (postmenopausal 0.15 + e_HRT
    >= 1, so the deficiency is 0): more of it changes nothing, less lowers the WHI gain.
    The course's WHI placebo arm, taken from the untreated run, equals the one of its own
    run to 1e-4 pp (the end of a run does not move earlier rows)."""

    def sum_sq(k: Any) -> float:
        return float(np.sum(cal._residuals(cal.course(k), cal.COURSE_KEYS) ** 2))

    best = sum_sq(CALIBRATED)
    for name, rel in COURSE_STEPS:
        value = getattr(CALIBRATED, name)
        for sign in (-1.0, 1.0):
            moved = dataclasses.replace(CALIBRATED, **{name: value * (1.0 + sign * rel)})
            assert sum_sq(moved) > best + 1e-3, (name, sign)
    e = CALIBRATED.hrt_estrogen_level
    assert e >= 0.85
    assert sum_sq(dataclasses.replace(CALIBRATED, hrt_estrogen_level=1.05 * e)) == pytest.approx(
        best, abs=1e-9
    )
    assert sum_sq(dataclasses.replace(CALIBRATED, hrt_estrogen_level=0.8)) > best + 1e-3
    own = cal.whi(CALIBRATED)["whi_th_3y_placebo"]
    assert cal.course(CALIBRATED)["whi_th_3y_placebo"] == pytest.approx(own, abs=1e-4)
