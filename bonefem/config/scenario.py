"""Scenario schema: the person, hormone history, conditions and therapies of a run.

The ``[biology]`` table of a case file and the ``[scenario]`` table of a 0-D case
(``cases/biology/*.toml``) are validated into :class:`ScenarioConfig` (pydantic v2, every
field with unit, range and default; unknown keys rejected). Schema only: this module
imports pydantic and the standard library, nothing of the runtime; the runtime signals are
built from it by :func:`bonefem.biology.signals.build_signals`, one module per hormone or
drug (:mod:`bonefem.biology.agents`).

Hormone levels are dimensionless, relative to the young-adult reference of the person's
sex (1 = reference). All times are days from the start of the simulation.

Adding a hormone or drug: declare its settings here as a field of :class:`ScenarioConfig`
(a course is ``list[<a Window subclass>]``: overlap checks and milestones then follow from
the type) and write its module in :mod:`bonefem.biology.agents` (see ``docs/architecture.md``).
"""

from __future__ import annotations

import itertools
import math
import typing
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BisphosphonateConfig",
    "DenosumabConfig",
    "EstrogenConfig",
    "GlucocorticoidConfig",
    "HRTConfig",
    "InflammationConfig",
    "MetabolicConfig",
    "PTHConfig",
    "ScenarioConfig",
    "SympatheticConfig",
    "TRTConfig",
    "TeriparatideConfig",
    "TestosteroneConfig",
    "Window",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Model):
    """A time window [start_days, stop_days) of a condition or therapy."""

    start_days: float = Field(
        default=0.0, ge=0.0, description="start, days from the start of the simulation (days)"
    )
    stop_days: float = Field(
        default=math.inf,
        gt=0.0,
        description="end (exclusive), days from the start (days); inf = never",
    )

    @model_validator(mode="after")
    def _check_order(self) -> Window:
        if self.stop_days <= self.start_days:
            raise ValueError(
                f"stop_days ({self.stop_days}) must be after start_days ({self.start_days})"
            )
        return self

    def active(self, t: float) -> bool:
        """True if t (days) is inside the window."""
        return self.start_days <= t < self.stop_days


class EstrogenConfig(_Model):
    """Ovarian estrogen (women)."""

    menopause: Literal["none", "natural", "surgical"] = Field(
        default="none", description="menopause type: none (premenopausal), natural, surgical (-)"
    )
    menopause_time_days: float = Field(
        default=0.0,
        ge=-36500.0,
        le=36500.0,
        description="final menstrual period (natural) or oophorectomy (surgical), days from "
        "the start; negative = before the simulation (days)",
    )
    postmenopausal_level: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="postmenopausal estradiol relative to premenopausal (dimensionless; "
        "ASSUMPTION 0.15, about 15 vs 100 pg/mL)",
    )
    transition_days: float = Field(
        default=200.0,
        gt=0.0,
        le=3650.0,
        description="logistic width of the natural transition around the FMP (days; "
        "default 200: SWAN's mean E2 did not change until 2.03 y before the FMP and was "
        "stable from 2.17 y after it, Randolph et al. 2011, J Clin Endocrinol Metab 96:746; "
        "read as 1-2.5 % of the fall at each change point, 167-216 d)",
    )
    surgical_time_constant_days: float = Field(
        default=1.0, gt=0.0, le=365.0, description="time constant of the fall after surgery (days)"
    )


class TestosteroneConfig(_Model):
    """Testosterone (men): age-related decline (andropause) or hypogonadism."""

    andropause: bool = Field(default=False, description="whether testosterone declines (-)")
    onset_days: float = Field(default=0.0, ge=0.0, description="start of the decline (days)")
    decline_per_year: float = Field(
        default=0.02,
        ge=0.0,
        le=1.0,
        description="fractional decline per year (1/year; free T about 2 %/y, Harman et al. "
        "2001 JCEM 86:724)",
    )
    floor: float = Field(
        default=0.3, ge=0.0, le=1.0, description="lowest level reached (dimensionless)"
    )


class PTHConfig(Window):
    """Endogenous PTH: baseline, or continuous excess (hyperparathyroidism) while active."""

    continuous_excess_fold: float = Field(
        default=1.0,
        ge=1.0,
        le=50.0,
        description="PTH production relative to baseline (dimensionless)",
    )


class GlucocorticoidConfig(Window):
    """Glucocorticoid therapy (or endogenous excess) in prednisolone equivalents."""

    dose_mg_per_day: float = Field(
        default=0.0, ge=0.0, le=200.0, description="prednisolone-equivalent dose (mg/day)"
    )


class InflammationConfig(Window):
    """Systemic inflammation (e.g. rheumatoid arthritis): raised TNF-alpha / IL-1."""

    cytokine_increase: float = Field(
        default=0.0,
        ge=0.0,
        le=50.0,
        description="TNF-alpha/IL-1 fold increase minus 1 (dimensionless)",
    )


class MetabolicConfig(Window):
    """Insulin resistance / adipokine imbalance."""

    insulin_resistance: float = Field(
        default=0.0, ge=0.0, le=1.0, description="insulin-resistance index, 0 none .. 1 severe (-)"
    )


class SympatheticConfig(Window):
    """Sympathetic (beta-adrenergic) tone."""

    tone: float = Field(
        default=1.0,
        ge=0.0,
        le=10.0,
        description="sympathetic tone relative to reference (dimensionless)",
    )


class HRTConfig(Window):
    """Menopausal hormone therapy: estrogen with or without a progestin."""

    estrogen_level: float | None = Field(
        default=None,
        ge=0.0,
        le=2.0,
        description="estrogen-equivalent level restored, relative to premenopausal "
        "(dimensionless); default: calibrated to WHI CEE 0.625 mg + MPA",
    )
    progestin: bool = Field(
        default=True, description="progestin added (no direct bone effect assumed) (-)"
    )


class TRTConfig(Window):
    """Testosterone replacement therapy."""

    testosterone_level: float = Field(
        default=1.0, ge=0.0, le=3.0, description="testosterone level on therapy (dimensionless)"
    )


class Course(Window):
    """A course of doses from ``start_days`` until ``stop_days``: the end must be given."""

    stop_days: float = Field(
        gt=0.0,
        description="end of the course, exclusive (days from the start); required and finite: "
        "the last dose is the last one before it",
    )

    @model_validator(mode="after")
    def _finite(self) -> Course:
        if not math.isfinite(self.stop_days):
            raise ValueError(
                "stop_days must be finite: the end of the course (the last dose is the last "
                "one before it); e.g. the run's duration_days for a course that lasts the run"
            )
        return self


class DenosumabConfig(Course):
    """Denosumab s.c. injections every interval_days from start_days until stop_days."""

    dose_mg: float = Field(default=60.0, gt=0.0, le=240.0, description="dose per injection (mg)")
    interval_days: float = Field(
        default=183.0, gt=0.0, le=3650.0, description="dosing interval (days)"
    )
    body_mass_kg: float = Field(default=60.0, gt=20.0, le=250.0, description="body mass (kg)")


#: Default dose (mg) and dosing interval (days) of each bisphosphonate: oral alendronate
#: 70 mg weekly (FIT, Black et al. 1996), intravenous zoledronate 5 mg yearly (HORIZON-PFT,
#: Black et al. 2007).
BISPHOSPHONATE_DEFAULTS = {"alendronate": (70.0, 7.0), "zoledronate": (5.0, 365.25)}


class BisphosphonateConfig(Course):
    """Oral alendronate or intravenous zoledronate."""

    drug: Literal["alendronate", "zoledronate"] = Field(
        default="alendronate",
        description="bisphosphonate: alendronate (oral) or zoledronate (intravenous) (-)",
    )
    dose_mg: float | None = Field(
        default=None,
        gt=0.0,
        le=700.0,
        description="dose per intake (mg); default 70 (alendronate, oral) or 5 (zoledronate, "
        "intravenous)",
    )
    interval_days: float | None = Field(
        default=None,
        gt=0.0,
        le=730.5,
        description="dosing interval (days); default 7 (alendronate) or 365.25 (zoledronate)",
    )

    @property
    def dose(self) -> float:
        """Dose per intake (mg), the drug's default if not given."""
        return self.dose_mg if self.dose_mg is not None else BISPHOSPHONATE_DEFAULTS[self.drug][0]

    @property
    def interval(self) -> float:
        """Dosing interval (days), the drug's default if not given."""
        if self.interval_days is not None:
            return self.interval_days
        return BISPHOSPHONATE_DEFAULTS[self.drug][1]


class TeriparatideConfig(Window):
    """Teriparatide (PTH 1-34) s.c. injections (intermittent PTH)."""

    dose_ug: float = Field(default=20.0, gt=0.0, le=200.0, description="dose per injection (µg)")
    interval_days: float = Field(default=1.0, ge=0.5, le=7.0, description="dosing interval (days)")


class ScenarioConfig(_Model):
    """A 0-D / systemic scenario: person, hormone history, conditions and therapies.

    All times are days from the start of the simulation.
    """

    name: str = Field(default="scenario", min_length=1, description="scenario name (-)")
    description: str = Field(default="", description="free text (-)")
    sex: Literal["female", "male"] = Field(default="female", description="sex (-)")
    age_at_start_years: float = Field(
        default=45.0,
        ge=0.0,
        le=120.0,
        description="age at t = 0 (years); the age-related, non-hormonal loss acts from the "
        "calibrated onset, about 60 years (bonefem.biology.agents.aging)",
    )
    history_from_age_years: float | None = Field(
        default=None,
        ge=0.0,
        le=120.0,
        description="start the run from a 0-D history of this scenario's signals (menopause "
        "before t = 0, ageing) that begins at this age at the healthy steady state, instead "
        "of from the healthy state at t = 0 (years; cohorts at any age, "
        "bonefem.biology.history); the region BV/TV are then the young-adult values",
    )
    baseline_t_score: float | None = Field(
        default=None,
        ge=-6.0,
        le=3.0,
        description="DXA T-score at t = 0 at baseline_site (SD, against the young-adult "
        "reference of bonefem.biology.densitometry): every region's young-adult BV/TV is "
        "scaled by one factor (the person's peak bone mass, ASSUMPTION) so that the site's "
        "aBMD at t = 0, after the history if history_from_age_years is set, matches it; "
        "needs per-region initial BV/TV",
    )
    baseline_site: Literal["lumbar_spine", "total_hip", "femoral_neck"] = Field(
        default="total_hip",
        description="DXA site of baseline_t_score (-)",
    )
    estrogen: EstrogenConfig = Field(
        default_factory=lambda: EstrogenConfig(), description="estrogen"
    )
    testosterone: TestosteroneConfig = Field(
        default_factory=lambda: TestosteroneConfig(), description="testosterone"
    )
    pth: PTHConfig = Field(default_factory=lambda: PTHConfig(), description="PTH")
    glucocorticoid: list[GlucocorticoidConfig] = Field(
        default_factory=list, description="glucocorticoid courses"
    )
    inflammation: list[InflammationConfig] = Field(
        default_factory=list, description="inflammatory episodes"
    )
    metabolic: list[MetabolicConfig] = Field(
        default_factory=list, description="insulin resistance periods"
    )
    sympathetic: list[SympatheticConfig] = Field(
        default_factory=list, description="periods of altered sympathetic tone"
    )
    hrt: list[HRTConfig] = Field(default_factory=list, description="HRT courses")
    trt: list[TRTConfig] = Field(default_factory=list, description="TRT courses")
    denosumab: list[DenosumabConfig] = Field(default_factory=list, description="denosumab courses")
    bisphosphonate: list[BisphosphonateConfig] = Field(
        default_factory=list, description="bisphosphonate courses"
    )
    teriparatide: list[TeriparatideConfig] = Field(
        default_factory=list, description="teriparatide courses"
    )

    @property
    def history_years(self) -> float:
        """Length of the cohort history before t = 0 (years; 0 without one)."""
        h = self.history_from_age_years
        return 0.0 if h is None else self.age_at_start_years - h

    @classmethod
    def course_keys(cls) -> tuple[str, ...]:
        """Names of the fields that are lists of time windows (courses), in schema order.

        Derived from the field types, so a new condition or therapy declared as
        ``list[<a _Window subclass>]`` is checked for overlaps and contributes its starts
        and stops to the signal milestones without being listed anywhere else.
        """
        return tuple(
            name
            for name, info in cls.model_fields.items()
            if _window_item_type(info.annotation) is not None
        )

    def courses(self) -> list[Window]:
        """Every course (time window) of the scenario, key by key in schema order."""
        return [w for key in self.course_keys() for w in getattr(self, key)]

    @model_validator(mode="after")
    def _consistency(self) -> ScenarioConfig:
        for key in self.course_keys():
            courses = sorted(getattr(self, key), key=lambda c: c.start_days)
            for a, b in itertools.pairwise(courses):
                if b.start_days < a.stop_days:
                    raise ValueError(
                        f"{key}: courses overlap ([{a.start_days}, {a.stop_days}) and "
                        f"[{b.start_days}, {b.stop_days}) days); merge them or make them "
                        "consecutive"
                    )
        h = self.history_from_age_years
        if h is not None and h >= self.age_at_start_years:
            raise ValueError(
                f"history_from_age_years ({h}) must be below age_at_start_years "
                f"({self.age_at_start_years})"
            )
        if self.sex == "male":
            if self.estrogen.menopause != "none":
                raise ValueError("estrogen.menopause must be 'none' for sex = 'male'")
            if self.hrt:
                raise ValueError("hrt (estrogen therapy) is for sex = 'female'; use trt")
        else:
            if self.testosterone.andropause:
                raise ValueError("testosterone.andropause is for sex = 'male'")
            if self.trt:
                raise ValueError("trt is for sex = 'male'")
        return self


def _window_item_type(annotation: object) -> type[Window] | None:
    """The item type if ``annotation`` is ``list[W]`` with W a :class:`Window` subclass."""
    if typing.get_origin(annotation) is not list:
        return None
    (item,) = typing.get_args(annotation) or (None,)
    if isinstance(item, type) and issubclass(item, Window):
        return item
    return None
