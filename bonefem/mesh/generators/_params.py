"""Parameter models of the geometry generators: typed, bounded, with units and sources.

Every generator takes a pydantic v2 model derived from :class:`GeneratorParameters`
(``extra="forbid"``: a mistyped key is an error, not silently ignored). Each field is made
with :func:`quantity`, which writes the unit, the allowed range and the default into the
field description, so ``bonefem mesh --list`` and the docs show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bonefem.errors import InputError, did_you_mean

#: Largest ratio of cortical mesh size to cortical thickness the generators accept. A thin
#: shell is always meshed as its own volume (so it has at least one layer of cells
#: everywhere); this bound keeps those cells from becoming needle- or sliver-shaped.
MAX_SHELL_ASPECT = 5.0


def _range_text(gt: float | None, ge: float | None, lt: float | None, le: float | None) -> str:
    lo = f"({gt:g}" if gt is not None else (f"[{ge:g}" if ge is not None else "(-inf")
    hi = f"{lt:g})" if lt is not None else (f"{le:g}]" if le is not None else "inf)")
    return f"{lo}, {hi}"


def quantity(
    default: Any,
    unit: str,
    description: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
) -> Any:
    """A pydantic ``Field`` whose description states unit, range and default.

    Args:
        default: default value.
        unit: unit of the value (``"mm"``, ``"deg"``, ``"-"``).
        description: what the value is, with its source.
        gt: exclusive lower bound.
        ge: inclusive lower bound.
        lt: exclusive upper bound.
        le: inclusive upper bound.

    Returns:
        The pydantic field (a ``FieldInfo``).
    """
    allowed = "true or false" if isinstance(default, bool) else _range_text(gt, ge, lt, le)
    text = f"{description} Unit: {unit}. Range: {allowed}. Default: {default}."
    return Field(
        default,
        gt=gt,
        ge=ge,
        lt=lt,
        le=le,
        description=text,
        json_schema_extra={"unit": unit},
    )


class GeneratorParameters(BaseModel):
    """Base of every generator's parameter model (frozen; unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    refine: float = quantity(
        1.0,
        "-",
        "Refinement factor: every mesh size is divided by it, so the number of cells grows "
        "about as refine³ (the bundled femur: 41k cells at refine = 1, 1.8M at 4.5).",
        gt=0.0,
        le=50.0,
    )

    def size(self, value: float) -> float:
        """A mesh size (mm) divided by :attr:`refine`."""
        return float(value) / self.refine


P = TypeVar("P", bound=GeneratorParameters)


def check_shell(thickness: float, mesh_size: float, *, name: str) -> None:
    """Refuse a cortical mesh size much larger than the shell it must resolve.

    Raises ``ValueError`` (turned into an :class:`InputError` by pydantic validation).
    """
    if thickness > 0.0 and mesh_size > MAX_SHELL_ASPECT * thickness:
        raise ValueError(
            f"cortical_mesh_size {mesh_size:g} mm is more than {MAX_SHELL_ASPECT:g} times the "
            f"{name} of {thickness:g} mm; the shell cells would be too flat. Use "
            f"cortical_mesh_size <= {MAX_SHELL_ASPECT * thickness:g} mm."
        )


def validate_parameters[P: GeneratorParameters](
    model: type[P],
    values: Mapping[str, Any] | P | None,
    *,
    file: str | None = None,
    field: str = "mesh.parameters",
) -> P:
    """Validate generator parameters, turning pydantic errors into one :class:`InputError`.

    Args:
        model: the parameter model class.
        values: a mapping (e.g. a TOML table), an instance of ``model``, or None (defaults).
        file: the file the values came from, for the message.
        field: dotted prefix of the parameters in that file.

    Returns:
        The validated parameters.
    """
    if isinstance(values, model):
        return values
    try:
        return model.model_validate(dict(values or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = (
                f"unknown parameter.{did_you_mean(str(err['loc'][-1]), model.model_fields)} "
                f"Parameters: {', '.join(model.model_fields)}."
            )
        else:
            info = model.model_fields.get(str(err["loc"][0])) if err["loc"] else None
            if info is not None and info.description:
                msg = f"{msg}. ({info.description})"
        more = f" ({len(exc.errors()) - 1} more error(s))" if len(exc.errors()) > 1 else ""
        raise InputError(
            msg + more,
            file=file,
            field=f"{field}.{loc}" if loc else field,
            value=err.get("input") if loc else None,
        ) from None


def describe_parameters(model: type[GeneratorParameters]) -> list[tuple[str, str, str]]:
    """(name, default, description) of every parameter of ``model``, for listings."""
    rows = []
    for name, info in model.model_fields.items():
        rows.append((name, repr(info.default), info.description or ""))
    return rows
