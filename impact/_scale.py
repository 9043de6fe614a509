"""The scale of an outcome (level or natural log) and the one MDE-percentage convention.

Every estimator takes ``log_outcome: bool | None``; :func:`resolve_log_outcome` turns
it into the scale stored on the result (``result.log_outcome``) and the warnings to
attach when the outcome looks like a log but the caller did not say.

The convention used by every verdict, summary and study table
(:func:`mde_fall_fraction`): a minimum detectable effect ``mde`` is stated in the
outcome's units and as the relative size of a detectable *fall* of the outcome's
level,

* log outcome: ``1 - exp(-mde)`` (``mde`` log points; the signed change is
  ``exp(-mde) - 1``), never ``mde`` divided by a mean of logs;
* level outcome with a positive baseline: ``mde / baseline`` (the treated units'
  pre-period mean).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from impact.errors import SpecError

__all__ = [
    "log_like_name",
    "log_like_values",
    "mde_fall_fraction",
    "resolve_log_outcome",
    "signed_log_change",
]

_LOG_TOKEN = re.compile(r"(^|[^a-z])(log|ln)([^a-z]|$)|^(log|ln)(?=[a-z])")


def log_like_name(name: Any) -> bool:
    """Whether a column name says it holds a logarithm (``log_rate``, ``ln_y``, ``logy``).

    Parameters
    ----------
    name : Any
        Column name (anything else is read as not a log).

    Returns
    -------
    bool
        True when ``log`` or ``ln`` is a word of the name or its prefix.
    """
    if not isinstance(name, str):
        return False
    return bool(_LOG_TOKEN.search(name.lower()))


def log_like_values(Y: Any) -> bool:
    """Whether outcome values sit in the range a natural log of a count or rate takes.

    The values are non-integer, between -3 and 12 with a spread under 10, and exceed
    1 somewhere (so proportions are not flagged). Rates per 10,000 or counts are not.

    Parameters
    ----------
    Y : array-like
        Outcome values (NaN ignored).

    Returns
    -------
    bool
        True when the values look like a log.
    """
    y = np.asarray(Y, dtype=float).ravel()
    y = y[np.isfinite(y)]
    if y.size < 2:
        return False
    lo, hi = float(y.min()), float(y.max())
    if np.all(y == np.round(y)):
        return False
    return lo >= -3.0 and hi <= 12.0 and hi > 1.0 and (hi - lo) < 10.0


def resolve_log_outcome(
    log_outcome: bool | None, name: Any, Y: Any, caller: str
) -> tuple[bool | None, list[str]]:
    """The scale stored on a result, and the warnings when it was guessed.

    Parameters
    ----------
    log_outcome : bool or None
        What the caller said: True (a natural log), False (a level) or None (not
        given).
    name : Any
        Outcome column name.
    Y : array-like
        Outcome values.
    caller : str
        Function name for error messages.

    Returns
    -------
    (bool or None, list of str)
        True when given or when the name says log (with a warning); False when
        given; None when not given (with a warning when the values look like a log:
        verdicts then give the MDE in outcome units only).
    """
    if log_outcome is not None and not isinstance(log_outcome, (bool, np.bool_)):
        raise SpecError(
            f"The 'log_outcome' parameter of {caller} must be True, False or None. "
            f"Got {log_outcome!r} instead."
        )
    if log_outcome is not None:
        return bool(log_outcome), []
    if log_like_name(name):
        return True, [
            f"Outcome {name!r} looks like a natural log (its name), so effects and "
            "the minimum detectable effect are read in log points (a fall of m log "
            "points is a fall of 1 - exp(-m) in the level); pass log_outcome=True to "
            "confirm or log_outcome=False if it is a level."
        ]
    if log_like_values(Y):
        y = np.asarray(Y, dtype=float)
        lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
        return None, [
            f"Outcome {name!r} takes values between {lo:.3g} and {hi:.3g}, the range "
            "of a natural log of a rate or count: if it is a log, pass "
            "log_outcome=True (the MDE is then in log points, a fall of 1 - exp(-m)); "
            "if it is a level, pass log_outcome=False. Until then the design verdict "
            "gives the MDE in outcome units only."
        ]
    return None, []


def mde_fall_fraction(
    mde: float, *, log_outcome: bool | None, baseline: float | None = None
) -> float | None:
    """The MDE as the relative size of a detectable fall of the outcome's level.

    Parameters
    ----------
    mde : float
        Minimum detectable effect in outcome units (log points for a log outcome).
    log_outcome : bool or None
        Scale of the outcome.
    baseline : float, optional
        Positive pre-period mean of a level outcome.

    Returns
    -------
    float or None
        ``1 - exp(-mde)`` for a log outcome, ``mde / baseline`` for a level with a
        positive baseline, else None.

    Examples
    --------
    >>> round(mde_fall_fraction(0.205, log_outcome=True), 3)
    0.185
    >>> mde_fall_fraction(6.5, log_outcome=False, baseline=65.0)
    0.1
    """
    if not math.isfinite(mde):
        return None
    if log_outcome:
        return -math.expm1(-abs(mde))
    if baseline is not None and math.isfinite(baseline) and baseline > 0:
        return abs(mde) / baseline
    return None


def signed_log_change(effect: float) -> float:
    """Relative change of the level for a change of ``effect`` log points.

    Parameters
    ----------
    effect : float
        Effect in log points.

    Returns
    -------
    float
        ``exp(effect) - 1`` (negative for a fall).
    """
    return math.expm1(effect) if math.isfinite(effect) else effect
