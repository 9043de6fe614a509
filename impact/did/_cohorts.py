"""Cohort positions in a panel's periods (shared low-level helper of the DiD family)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from impact.errors import DataError, SpecError
from impact.panel import Panel

__all__ = ["cohort_index", "parse_window"]

FloatArray = NDArray[np.float64]


def cohort_index(panel: Panel) -> FloatArray:
    """Index of each unit's first treated period in ``panel.periods`` (inf = never).

    Parameters
    ----------
    panel : Panel
        The data.

    Returns
    -------
    ndarray (N,)
        Position of each unit's cohort among the periods; ``inf`` for never treated.
    """
    c = panel.cohort
    finite = np.isfinite(c)
    idx = np.full(len(c), np.inf)
    pos = np.searchsorted(panel.periods, c[finite])
    pos_c = np.clip(pos, 0, len(panel.periods) - 1)
    bad = panel.periods[pos_c] != c[finite]
    if bad.any():
        unit = panel.units[np.flatnonzero(finite)[int(np.flatnonzero(bad)[0])]]
        value = c[finite][bad][0]
        raise DataError(
            f"Unit {unit!r} is first treated in period {value:g}, which is not one of "
            f"the observed periods ({panel.periods[0]}..{panel.periods[-1]}); code the "
            "cohort as the first observed period with treatment."
        )
    idx[finite] = pos
    return idx


def parse_window(window: object, method: str) -> tuple[int, int]:
    """Read ``window=`` (an int k, or a pair ``(pre, post)``) of an event-time method.

    Parameters
    ----------
    window : int or pair of int
        The user's value (not None).
    method : str
        The method, for messages.

    Returns
    -------
    tuple of int
        ``(pre, post)`` with ``pre >= 1`` and ``post >= 0``.
    """
    if isinstance(window, (int, np.integer)) and not isinstance(window, bool):
        pre, post = int(window), int(window)
    else:
        try:
            pre, post = (int(v) for v in window)  # type: ignore[attr-defined]
        except (TypeError, ValueError) as exc:
            raise SpecError(
                f"window= must be an int k (k periods before and after adoption) "
                f"or a pair (pre, post); got {window!r}."
            ) from exc
    if pre < 1 or post < 0:
        raise SpecError(
            f"window=({pre}, {post}) needs pre >= 1 (the reference period a - 1 "
            f"is inside the window) and post >= 0 for method={method!r}."
        )
    return pre, post
