"""Small checks shared by every public function (option names, alpha, counts)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from impact.errors import SpecError

__all__ = [
    "as_list",
    "check_alpha",
    "check_draws",
    "check_option",
    "check_positive_int",
]


def check_option(name: str, value: Any, allowed: Iterable[Any], caller: str) -> Any:
    """Return ``value`` if it is one of ``allowed``; raise :class:`SpecError` otherwise.

    Parameters
    ----------
    name : str
        Parameter name, e.g. ``"control"``.
    value : Any
        The value passed by the user.
    allowed : Iterable
        The accepted values (matched exactly, case-sensitive).
    caller : str
        The public function or class the parameter belongs to.

    Returns
    -------
    Any
        ``value`` unchanged.
    """
    options = list(allowed)
    if value not in options:
        shown = "{" + ", ".join(repr(o) for o in options) + "}"
        raise SpecError(
            f"The {name!r} parameter of {caller} must be one of {shown}. "
            f"Got {value!r} instead."
        )
    return value


def check_positive_int(name: str, value: Any, caller: str, *, minimum: int = 1) -> int:
    """Return ``value`` as int if it is an integer >= ``minimum``; raise otherwise.

    Parameters
    ----------
    name, value, caller
        As in :func:`check_option`.
    minimum : int, default 1
        Smallest accepted value.

    Returns
    -------
    int
        The validated value.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise SpecError(
            f"The {name!r} parameter of {caller} must be an integer >= {minimum}. "
            f"Got {value!r} instead."
        )
    if value < minimum:
        raise SpecError(
            f"The {name!r} parameter of {caller} must be an integer >= {minimum}. "
            f"Got {value!r} instead."
        )
    return int(value)


def check_draws(name: str, value: Any, caller: str, *, minimum: int = 1) -> int:
    """Validate a count of draws (bootstrap, permutation, simulation) and its limit.

    Parameters
    ----------
    name, value, caller, minimum
        As in :func:`check_positive_int`.

    Returns
    -------
    int
        The validated value.

    Raises
    ------
    SpecError
        Not an integer >= ``minimum``, or above :mod:`impact.limits`' draw limit.
    """
    from impact.limits import check_draws as _limit

    return _limit(
        name, check_positive_int(name, value, caller, minimum=minimum), caller
    )


def check_alpha(alpha: Any, caller: str) -> float:
    """Return ``alpha`` as float if 0 < alpha < 1; raise :class:`SpecError` otherwise.

    Parameters
    ----------
    alpha : float
        Significance level.
    caller : str
        The public function the parameter belongs to.

    Returns
    -------
    float
        The validated level.
    """
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise SpecError(
            f"The 'alpha' parameter of {caller} must be a number strictly between 0 "
            f"and 1. Got {alpha!r} instead."
        )
    return value


def as_list(x: str | Sequence[str] | None) -> list[str]:
    """Return ``x`` as a list of column names (``None`` -> ``[]``, ``"a"`` -> ``["a"]``).

    Parameters
    ----------
    x : str, sequence of str or None
        One or several names.

    Returns
    -------
    list of str
        The names.
    """
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    return list(x)
