"""Penalised synthetic control (Abadie and L'Hour 2021): choosing the penalty.

The penalised inner problem itself lives in :mod:`impact.synth.abadie` (it only adds a
linear term to the simplex QP). This module chooses the penalty by cross-validation
over the pre-periods and builds the time-truncated designs that cross-validation and
the placebo-in-time check share.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact.errors import DataError
from impact.parallel import spawn_generators
from impact.synth._prep import Design, fit_unit

__all__ = ["PENALTY_GRID", "choose_penalty", "truncated_design"]

#: Penalties tried by cross-validation: 0 (the classic synthetic control) and a log
#: grid from near-classic (1e-3) to near nearest-neighbour matching (100).
PENALTY_GRID = np.concatenate([[0.0], np.geomspace(1e-3, 100.0, 26)])


def truncated_design(
    design: Design, first: Any, when: Any, *, drop_empty: bool = False
) -> Design:
    """The design restricted to periods before ``first``, refitted as of ``when``.

    Predictor windows and special predictors keep only periods before ``when``.

    Parameters
    ----------
    design : Design
        The full design.
    first : period
        The real (first) treatment date: later periods are dropped.
    when : period
        The pseudo treatment date.
    drop_empty : bool, default False
        Leave out special predictors with no period before ``when`` (and fall back to
        every period before ``when`` for an empty predictor window) instead of
        raising.

    Returns
    -------
    Design

    Raises
    ------
    DataError
        A special predictor has no period before ``when`` (unless ``drop_empty``).
    """
    keep = design.periods < first
    special = [(c, [p for p in ps if p < when], op) for c, ps, op in design.special]
    if drop_empty:
        special = [s for s in special if s[1]]
    for c, ps, _ in special:
        if not ps:
            raise DataError(
                f"Special predictor {c!r} has no period before the placebo date "
                f"{when!r}; choose a later placebo date."
            )
    window = (
        [p for p in design.predictor_period if p < when]
        if design.predictor_period is not None
        else None
    )
    if drop_empty and window is not None and not window:
        window = None
    sub = Design(
        units=design.units,
        periods=design.periods[keep],
        Y=design.Y[:, keep],
        columns={k: m[:, keep] for k, m in design.columns.items()},
        outcome=design.outcome,
        predictors=design.predictors,
        predictor_period=window,
        special=special,
        optimize_period=(
            [p for p in design.optimize_period if p < when]
            if design.optimize_period is not None
            else None
        ),
        v=design.v,
        method=design.method if design.method != "sdid" else "abadie",
        n_starts=design.n_starts,
        time_name=design.time_name,
        penalty=design.penalty,
        demean=design.demean,
    )
    return sub


def choose_penalty(
    design: Design,
    rows_t: NDArray[np.intp],
    donors: NDArray[np.intp],
    t0s: dict[Any, Any],
    treated: list[Any],
    seed: Any,
    grid: NDArray[np.float64] | None = None,
) -> tuple[float, pd.DataFrame]:
    """Cross-validate the Abadie-L'Hour penalty over the pre-periods.

    For each treated unit the pre-period is split at its midpoint: the model is
    fitted on the first half as if treatment began at the midpoint, and scored by
    the outcome MSPE over the second half. V is chosen once per unit on the training
    window (as ``design.v`` says, without penalty) and held fixed across the grid,
    so each penalty costs one exact QP. The score of a penalty is the sum over
    treated units; the smallest score wins (the smallest penalty among ties).

    Parameters
    ----------
    design : Design
        The full design.
    rows_t : ndarray of int
        Rows of the treated units.
    donors : ndarray of int
        Donor rows.
    t0s : dict
        Treatment date per treated unit.
    treated : list
        Treated unit labels (order of ``rows_t``).
    seed : int, Generator or None
        Seeds the nested-V search (the same draws for every penalty).
    grid : ndarray, optional
        Penalties to try (default :data:`PENALTY_GRID`).

    Returns
    -------
    tuple
        The chosen penalty and a table ``penalty, mspe`` (validation MSPE).

    Raises
    ------
    DataError
        A treated unit has fewer than two pre-periods (nothing to validate on).
    """
    grid = PENALTY_GRID if grid is None else np.asarray(grid, dtype=float)
    rngs = spawn_generators(seed, len(treated))
    subs = []
    for u, i in zip(treated, rows_t, strict=True):
        t0 = t0s[u]
        pre = design.periods[design.periods < t0]
        if pre.size < 2:
            raise DataError(
                f"Treated unit {u!r} has {pre.size} pre-period(s): too few to choose "
                "the penalty by cross-validation; give penalty= a number."
            )
        tv = pre[pre.size // 2]
        subs.append((int(i), tv, truncated_design(design, t0, tv, drop_empty=True)))
    scores = np.zeros(grid.size)
    for k, (i, tv, sub) in enumerate(subs):
        # V is chosen once on the training window (unpenalised); the penalty then
        # varies in the inner problem only, one exact QP per grid value
        sub.penalty = 0.0
        base = fit_unit(sub, i, donors, tv, rngs[k])
        if base.v.size == len(base.predictors):
            sub.v = base.v
        for g, lam in enumerate(grid):
            sub.penalty = float(lam)
            scores[g] += fit_unit(sub, i, donors, tv, None).post_mspe
    best = int(np.flatnonzero(scores <= scores.min() * (1 + 1e-12))[0])
    table = pd.DataFrame({"penalty": grid, "mspe": scores})
    return float(grid[best]), table
