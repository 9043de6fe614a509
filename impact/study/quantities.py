"""Study checks: quantities read out of results by dotted path, compared with
published values (the ``[[check]]`` tables)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from impact.study.spec import CheckSpec
from impact.study.tasks import _one_line

__all__ = ["evaluate_check", "get_quantity"]


def get_quantity(obj: Any, path: str) -> Any:
    """Follow a dotted path into nested dicts and lists (``"weights.Utah"``).

    Keys that themselves contain dots are matched greedily; list items are addressed by
    integer index or by a ``column=value`` selector (the first row whose column equals
    the value), e.g. ``"aggregates.dynamic.table.event_time=0.estimate"``.

    Parameters
    ----------
    obj : Any
        A to_dict() result.
    path : str
        The dotted path.

    Returns
    -------
    Any
        The value.

    Raises
    ------
    KeyError
        The path does not exist (the message names the first missing part).
    """
    parts = path.split(".")
    cur = obj
    i = 0
    while i < len(parts):
        if isinstance(cur, Mapping):
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                if key in cur:
                    cur = cur[key]
                    i = j
                    break
            else:
                keys = ", ".join(list(map(str, cur))[:15])
                raise KeyError(f"{parts[i]!r} not found (available: {keys})")
        elif isinstance(cur, list) and "=" in parts[i]:
            for j in range(len(parts), i, -1):
                col, _, want = ".".join(parts[i:j]).partition("=")
                hits = [
                    r for r in cur if isinstance(r, Mapping) and _same(r.get(col), want)
                ]
                if hits:
                    cur = hits[0]
                    i = j
                    break
            else:
                raise KeyError(f"no row with {parts[i]!r} in a list of {len(cur)}")
        elif isinstance(cur, list):
            try:
                cur = cur[int(parts[i])]
            except (ValueError, IndexError):
                raise KeyError(
                    f"{parts[i]!r} is not an index of a list of {len(cur)}"
                ) from None
            i += 1
        else:
            raise KeyError(f"{parts[i]!r}: {'.'.join(parts[:i])} is not a table")
    return cur


def _same(value: Any, text: str) -> bool:
    """Whether a row value equals the text of a ``column=value`` selector."""
    if value is None:
        return False
    if str(value) == text:
        return True
    try:
        return float(value) == float(text)
    except (TypeError, ValueError):
        return False


def evaluate_check(check: CheckSpec, analyses: Mapping[str, Any]) -> dict[str, Any]:
    """Compare one analysis quantity with its published value.

    Parameters
    ----------
    check : CheckSpec
        The check.
    analyses : mapping
        Analysis name -> to_dict().

    Returns
    -------
    dict
        ``analysis, quantity, expected, actual, tolerance, compare, passed, source, note``.
    """
    rec: dict[str, Any] = {
        "analysis": check.analysis,
        "quantity": check.quantity,
        "expected": check.expected,
        "actual": None,
        "tolerance": check.tolerance,
        "compare": check.compare,
        "passed": False,
        "source": check.source,
        "note": None,
    }
    try:
        value = get_quantity(analyses[check.analysis], check.quantity)
    except KeyError as exc:
        rec["note"] = f"quantity not found: {exc.args[0]}"
        return rec
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        rec["note"] = f"quantity is not a number: {_one_line(repr(value))[:80]}"
        return rec
    actual = float(value)
    rec["actual"] = actual
    if not np.isfinite(actual):
        rec["note"] = "quantity is not finite"
        return rec
    if check.compare == "close":
        rec["passed"] = bool(abs(actual - check.expected) <= check.tolerance + 1e-12)
    elif check.compare == "less":
        rec["passed"] = bool(actual < check.expected + check.tolerance)
    else:
        rec["passed"] = bool(actual > check.expected - check.tolerance)
    return rec
