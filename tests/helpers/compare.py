"""Comparison of two runs' metrics columns to a stated relative accuracy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import numpy.typing as npt


def assert_columns_close(
    got: Mapping[str, npt.ArrayLike],
    ref: Mapping[str, npt.ArrayLike],
    keys: Iterable[str],
    rtol: float = 1e-6,
    atol: float = 1e-12,
    where: str = "",
) -> None:
    """Every column of ``keys`` within ``rtol`` (relative) of the reference.

    A ``*_pct_change`` column p = 100 (Q/Q₀ − 1) of quantities Q, Q₀ each known to ``rtol``
    is known to 100 (Q/Q₀)(2 rtol), i.e. 200·rtol percentage points for changes below
    100 %; it is compared with that absolute tolerance (a relative one on p would ask
    more of a small change than of the quantity itself).
    """
    for key in keys:
        a, b = np.asarray(got[key], dtype=float), np.asarray(ref[key], dtype=float)
        msg = f"{where}: {key}" if where else key
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=msg)
        if key.endswith("_pct_change"):
            np.testing.assert_allclose(a, b, rtol=0, atol=200 * rtol, err_msg=msg)
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=msg)
