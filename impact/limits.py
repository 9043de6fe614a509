"""Limits on the work one call may start, and how to raise them.

A typo such as ``n_boot=10**9`` or a robustness grid of ten keys with ten values each
would otherwise run until killed or try to allocate hundreds of gigabytes. Every count of
draws (bootstrap, permutation, simulation replications), every robustness grid and the
largest arrays are checked against these limits before anything is allocated; the error
says how to go beyond them for a user who means it::

    import impact.limits
    with impact.limits.raised(draws=10**8, memory_gb=64):
        res = impact.did(panel, ..., n_boot=10**8)

Setting the environment variable ``IMPACT_NO_LIMITS=1`` turns the checks off.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator

from impact.errors import SpecError

__all__ = ["check_draws", "check_grid", "check_memory", "current", "raised"]

_DEFAULTS = {"draws": 1_000_000, "grid": 10_000, "memory_gb": 4.0}
_limits = dict(_DEFAULTS)

_HOW = (
    "If you mean it, raise the limit (`with impact.limits.raised({arg}): ...`) or set "
    "IMPACT_NO_LIMITS=1."
)


def _off() -> bool:
    return os.environ.get("IMPACT_NO_LIMITS", "").strip().lower() in {
        "1",
        "true",
        "yes",
    }


def current() -> dict[str, float]:
    """Return the limits in force.

    Returns
    -------
    dict
        ``draws`` (bootstrap/permutation/simulation draws per call), ``grid``
        (robustness variants per grid) and ``memory_gb`` (largest single array).
    """
    return dict(_limits)


@contextlib.contextmanager
def raised(
    *, draws: int | None = None, grid: int | None = None, memory_gb: float | None = None
) -> Iterator[None]:
    """Raise (or lower) the limits inside a ``with`` block.

    Parameters
    ----------
    draws : int, optional
        Largest number of draws per call.
    grid : int, optional
        Largest number of robustness variants per grid.
    memory_gb : float, optional
        Largest single array, in GiB.

    Yields
    ------
    None
    """
    old = dict(_limits)
    for key, value in (("draws", draws), ("grid", grid), ("memory_gb", memory_gb)):
        if value is not None:
            if not (
                isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            ):
                raise SpecError(
                    f"limits.raised({key}=...) needs a positive finite number."
                )
            _limits[key] = value
    try:
        yield
    finally:
        _limits.clear()
        _limits.update(old)


def check_draws(name: str, value: int, caller: str) -> int:
    """Refuse a draw count above the limit.

    Parameters
    ----------
    name : str
        The parameter, e.g. ``"n_boot"``.
    value : int
        Its (already validated, positive integer) value.
    caller : str
        The public function.

    Returns
    -------
    int
        ``value``.
    """
    limit = int(_limits["draws"])
    if value > limit and not _off():
        raise SpecError(
            f"{caller}: {name}={value:,} is more than the limit of {limit:,} draws per "
            f"call. {_HOW.format(arg=f'draws={value}')}"
        )
    return value


def check_memory(name: str, n_bytes: float, caller: str) -> None:
    """Refuse an allocation larger than the memory limit, before it is attempted.

    Parameters
    ----------
    name : str
        What drives the size (e.g. ``"n_boot"``), for the message.
    n_bytes : float
        The size the call would allocate.
    caller : str
        The public function.
    """
    limit = float(_limits["memory_gb"])
    gib = n_bytes / 2**30
    if gib > limit and not _off():
        raise SpecError(
            f"{caller}: this {name} would need about {gib:,.1f} GiB of memory for one "
            f"array (limit {limit:g} GiB). Lower {name}, or "
            + _HOW.format(arg=f"memory_gb={math.ceil(gib)}")[len("If you mean it, ") :]
        )


def check_grid(n_variants: int, where: str) -> None:
    """Refuse a robustness grid with more variants than the limit (before expanding it).

    Parameters
    ----------
    n_variants : int
        The product of the numbers of values of every varied key.
    where : str
        Context for the message.
    """
    limit = int(_limits["grid"])
    if n_variants > limit and not _off():
        raise SpecError(
            f"{where}: the grid has {n_variants:,} variants, more than the limit of "
            f"{limit:,}. Vary fewer keys or values. "
            + _HOW.format(arg=f"grid={n_variants}")
        )
