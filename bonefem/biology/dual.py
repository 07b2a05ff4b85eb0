"""Forward-mode derivatives over the three log cell populations (vectorised over points).

A :class:`LogDual` is a per-point value ``v`` (array of N points) together with its
derivatives ``d[j] = dv/du_j`` with respect to the log populations
u = (ln OBp, ln OBa, ln OCa). The arithmetic operators (+, -, *, /, with numbers, arrays
and other duals) propagate the derivatives by the chain rule, so a formula written once for
plain arrays, like :func:`bonefem.biology.pivonka.signalling_chain`, gives both its values
and its 3 x N Jacobian when it is fed duals instead (forward-mode automatic
differentiation, e.g. Griewank & Walther 2008, *Evaluating Derivatives*, Ch. 3).

Derivatives that are structurally zero are stored as ``None`` and never computed (TGF-beta
depends on OCa only, OPG on the osteoblasts only, ...), which keeps the cost of the
Jacobian close to that of hand-written derivatives. The value ``v`` of every operation is
computed with exactly the floating-point operations of the plain-array formula, so the
values of a dual evaluation equal those of a plain one bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["LogDual", "log_variables", "value"]

FloatArray = npt.NDArray[np.float64]
Deriv = tuple[Any, Any, Any]
"""Derivatives (d/du_0, d/du_1, d/du_2): each an array over points or None (zero)."""

_NONE: Deriv = (None, None, None)


def _scale(d: Deriv, c: Any) -> Deriv:
    return (
        None if d[0] is None else d[0] * c,
        None if d[1] is None else d[1] * c,
        None if d[2] is None else d[2] * c,
    )


def _plus(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _minus(a: Any, b: Any) -> Any:
    if b is None:
        return a
    if a is None:
        return -b
    return a - b


class LogDual:
    """A per-point value with its derivatives with respect to u = ln(OBp, OBa, OCa).

    Args:
        v: values (array over points, or a number).
        d: derivatives dv/du_j, j = 0, 1, 2 (arrays, or None where identically zero).
    """

    __slots__ = ("d", "v")
    __array_ufunc__ = None  # numpy defers to our reflected operators (array * dual)

    def __init__(self, v: Any, d: Deriv = _NONE) -> None:
        self.v = v
        self.d = d

    # ---- addition and subtraction
    def __add__(self, o: Any) -> LogDual:
        if isinstance(o, LogDual):
            return LogDual(self.v + o.v, tuple(map(_plus, self.d, o.d)))
        return LogDual(self.v + o, self.d)

    def __radd__(self, o: Any) -> LogDual:
        return LogDual(o + self.v, self.d)

    def __sub__(self, o: Any) -> LogDual:
        if isinstance(o, LogDual):
            return LogDual(self.v - o.v, tuple(map(_minus, self.d, o.d)))
        return LogDual(self.v - o, self.d)

    def __rsub__(self, o: Any) -> LogDual:
        return LogDual(o - self.v, _scale(self.d, -1.0))

    def __neg__(self) -> LogDual:
        return LogDual(-self.v, _scale(self.d, -1.0))

    # ---- multiplication and division
    def __mul__(self, o: Any) -> LogDual:
        if isinstance(o, LogDual):
            sv, ov = self.v, o.v
            a, b = self.d, o.d
            return LogDual(
                sv * ov,
                (_prod(a[0], ov, sv, b[0]), _prod(a[1], ov, sv, b[1]), _prod(a[2], ov, sv, b[2])),
            )
        return LogDual(self.v * o, _scale(self.d, o))

    def __rmul__(self, o: Any) -> LogDual:
        return LogDual(o * self.v, _scale(self.d, o))

    def __truediv__(self, o: Any) -> LogDual:
        if not isinstance(o, LogDual):
            return LogDual(self.v / o, _scale(self.d, 1.0 / o))
        q = self.v / o.v
        inv = 1.0 / o.v
        a, b = self.d, o.d
        return LogDual(
            q, (_quot(a[0], b[0], q, inv), _quot(a[1], b[1], q, inv), _quot(a[2], b[2], q, inv))
        )

    def __rtruediv__(self, o: Any) -> LogDual:
        q = o / self.v
        # d(c/b) = -q db / b
        return LogDual(q, _scale(self.d, -q / self.v))


def _prod(da: Any, vb: Any, va: Any, db: Any) -> Any:
    """d(a b) = da b + a db (None = 0)."""
    if da is None:
        return None if db is None else va * db
    if db is None:
        return da * vb
    return da * vb + va * db


def _quot(da: Any, db: Any, q: Any, inv: Any) -> Any:
    """d(a/b) = (da - q db) / b with q = a/b, inv = 1/b (None = 0)."""
    if db is None:
        return None if da is None else da * inv
    if da is None:
        return -(q * db) * inv
    return (da - q * db) * inv


def log_variables(x: FloatArray) -> tuple[LogDual, LogDual, LogDual]:
    """The populations x (3, N) as duals seeded in log variables: dx_i/du_j = x_i delta_ij."""
    return (
        LogDual(x[0], (x[0], None, None)),
        LogDual(x[1], (None, x[1], None)),
        LogDual(x[2], (None, None, x[2])),
    )


def value(a: Any) -> Any:
    """The value of a dual, or ``a`` itself for a plain array or number."""
    return a.v if isinstance(a, LogDual) else a
