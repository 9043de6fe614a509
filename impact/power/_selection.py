"""Placebo assignment rules and the check that selection keeps a test honest.

Selection rules (``"high_rate"``, ``"rising_rate"``) choose which units receive the
placebo treatment; the critical values of the placebo test are computed from random
assignments (see :func:`impact.power.simulate`), so any bias selection causes shows
as over-rejection and under-coverage, which :func:`selection_warning` reports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact.errors import SpecError

__all__ = ["draw_order", "eligible_units", "selection_warning"]

FloatArray = NDArray[np.float64]


def eligible_units(
    Y: FloatArray, periods: NDArray[np.int64], first_time: int, assignment: str
) -> NDArray[np.bool_]:
    """Units that a selection rule favours: the top third by level or by growth."""
    n = Y.shape[0]
    if assignment == "random":
        return np.ones(n, dtype=bool)
    pre = Y[:, periods < first_time]
    window = pre[:, -3:]
    if assignment == "high_rate":
        score = window.mean(axis=1)
    else:  # rising_rate: growth over the last (up to) three pre-periods
        if pre.shape[1] < 2:
            raise SpecError(
                "assignment='rising_rate' needs at least two periods before "
                f"treatment_time={first_time}."
            )
        first = pre[:, max(0, pre.shape[1] - 4)]
        last = pre[:, -1]
        positive = bool((first > 0).all() and (last > 0).all())
        score = np.log(last / first) if positive else last - first
    k = max(1, math.ceil(n / 3))
    top = np.argsort(-score, kind="stable")[:k]
    mask = np.zeros(n, dtype=bool)
    mask[top] = True
    return mask


def draw_order(
    gens: Sequence[np.random.Generator], eligible: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Priority order of units per draw: eligible units first, random within."""
    keys = np.stack([g.random(len(eligible)) for g in gens])
    keys = keys + eligible[None, :]
    return np.argsort(-keys, axis=1, kind="stable")


def selection_warning(
    table: pd.DataFrame, assignment: str, alpha: float, effect_type: str
) -> str:
    """Say when a selection rule makes the test over-reject or the CIs under-cover.

    Departures smaller than three Monte Carlo standard errors are not reported.
    """
    worst: tuple[float, str] | None = None
    for _, row in table.iterrows():
        n_sims = max(int(row["n_sims"]), 1)
        mc = 3.0 * math.sqrt(alpha * (1.0 - alpha) / n_sims)
        parts = []
        excess = 0.0
        if float(row["effect"]) == 0.0 and float(row["power"]) > alpha + mc:
            excess = float(row["power"]) - alpha
            parts.append(
                f"rejects in {row['power']:.0%} of draws with no effect (nominal "
                f"{alpha:.0%})"
            )
        cov = float(row["coverage"])
        if math.isfinite(cov) and cov < 1.0 - alpha - mc:
            excess = max(excess, 1.0 - alpha - cov)
            parts.append(
                f"its {1 - alpha:.0%} intervals cover the true effect in only "
                f"{cov:.0%} of draws"
            )
        if parts and (worst is None or excess > worst[0]):
            bias = float(row["bias"])
            shift = (
                f"{100 * bias:+.1f}% of the outcome"
                if effect_type == "relative"
                else f"{bias:+.3g} outcome units"
            )
            text = (
                f"assignment={assignment!r}: with {int(row['n_treated'])} treated "
                f"units the test {' and '.join(parts)}; selection on the outcome "
                f"biases the estimate by {shift} on average. "
                "Rejections here are not evidence of an effect, and power and MDE "
                "under this rule mix the effect with that bias."
            )
            worst = (excess, text)
    return worst[1] if worst else ""
