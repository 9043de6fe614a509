"""Sensitivity of synthetic-control conclusions: assignment probabilities, near-optima.

Firpo and Possebom (2018, *J. Causal Inference* 6(2)) relax the equal assignment
probabilities behind the placebo-in-space p-value. Unit ``j`` is treated with
probability ``pi_j = exp(phi v_j) / sum_k exp(phi v_k)`` with ``v_j`` in {0, 1} and
``phi >= 0``; ``exp(phi)`` is how many times more likely a unit with ``v = 1`` is to be
the treated one. The p-value becomes ``sum_j pi_j 1[R_j >= R_treated]`` over the units
in the test (the treated unit included). For a given ``phi`` the largest p-value over
``v`` puts ``v = 1`` exactly on the units whose statistic reaches the treated unit's
(and the smallest puts it on the others), which gives the crossing point in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact.errors import SpecError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["PlaceboSensitivity", "placebo_sensitivity", "worst_case_pvalue"]


@dataclass
class PlaceboSensitivity:
    """Firpo-Possebom sensitivity of the placebo p-value.

    Attributes
    ----------
    pvalue : float
        The placebo p-value under equal assignment probabilities (``phi = 0``).
    alpha : float
        The significance level the crossing refers to.
    rejects : bool
        Whether ``pvalue <= alpha``.
    phi : float
        The smallest ``phi`` at which the conclusion flips: if the test rejects, the
        worst-case p-value reaches ``alpha`` at ``phi``; if it does not, the
        best-case p-value falls to ``alpha`` at ``phi`` (``inf`` when no ``phi`` can).
    odds : float
        ``exp(phi)``: how many times more likely to be treated the favoured units must
        be for the conclusion to flip.
    n_units : int
        Units in the test (treated plus retained placebos).
    n_extreme : int
        Units whose statistic reaches the treated unit's (the treated unit included).
    table : DataFrame
        ``phi, odds, pvalue_worst, pvalue_best`` on a grid up to beyond ``phi``.
    """

    pvalue: float
    alpha: float
    rejects: bool
    phi: float
    odds: float
    n_units: int
    n_extreme: int
    table: pd.DataFrame

    def __repr__(self) -> str:
        verb = "rejects" if self.rejects else "does not reject"
        flip = (
            "never flips"
            if not np.isfinite(self.phi)
            else f"flips at phi = {self.phi:.4g} (odds {self.odds:.3g})"
        )
        return (
            f"PlaceboSensitivity(p = {self.pvalue:.4g} {verb} at alpha = "
            f"{self.alpha}; {flip})"
        )

    def plot(self, ax: Axes | None = None) -> Axes:
        """Worst- and best-case p-value against ``phi``, with ``alpha`` marked.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t = self.table
        ax.plot(t["phi"], t["pvalue_worst"], label="largest p-value over v")
        ax.plot(t["phi"], t["pvalue_best"], label="smallest p-value over v")
        ax.axhline(
            self.alpha, color="grey", linestyle="--", label=f"alpha={self.alpha}"
        )
        if np.isfinite(self.phi):
            ax.axvline(self.phi, color="black", linestyle=":")
        ax.set_xlabel("phi (log odds of treatment)")
        ax.set_ylabel("placebo p-value")
        ax.set_title("Firpo-Possebom sensitivity")
        ax.legend()
        return ax


def worst_case_pvalue(
    m: int, n: int, phi: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Largest and smallest p-value over ``v`` at ``phi``.

    Parameters
    ----------
    m : int
        Units whose statistic reaches the treated unit's (treated included).
    n : int
        Units in the test.
    phi : float or ndarray
        Sensitivity parameter(s), ``>= 0``.

    Returns
    -------
    tuple of ndarray
        ``(largest, smallest)`` p-values.
    """
    e = np.exp(np.asarray(phi, dtype=float))
    worst = m * e / (m * e + (n - m))
    best = m / (m + (n - m) * e)
    return worst, best


def placebo_sensitivity(
    stat: Any, treated_stat: float, alpha: float
) -> PlaceboSensitivity:
    """Firpo-Possebom sensitivity from the test statistics.

    Parameters
    ----------
    stat : array_like
        The statistic of every unit in the test (treated and retained placebos).
    treated_stat : float
        The treated unit's statistic.
    alpha : float
        Significance level.

    Returns
    -------
    PlaceboSensitivity
    """
    s = np.asarray(stat, dtype=float)
    n = int(s.size)
    if n < 2:
        raise SpecError(
            "placebo_sensitivity needs at least one placebo unit besides the treated "
            "unit."
        )
    # same tie rule as the placebo p-value
    m = int(np.sum(s >= treated_stat * (1 - 1e-12)))
    p = m / n
    rejects = p <= alpha
    if rejects:
        # worst case reaches alpha: m e / (m e + n - m) = alpha
        phi = float(np.log(alpha * (n - m) / (m * (1 - alpha)))) if m < n else 0.0
    elif m == n:
        phi = float("inf")
    else:
        # best case falls to alpha: m / (m + (n - m) e) = alpha
        phi = float(np.log(m * (1 - alpha) / (alpha * (n - m))))
    phi = max(phi, 0.0)
    top = 2.0 * phi if np.isfinite(phi) and phi > 0 else 5.0
    grid = np.linspace(0.0, top, 101)
    worst, best = worst_case_pvalue(m, n, grid)
    table = pd.DataFrame(
        {"phi": grid, "odds": np.exp(grid), "pvalue_worst": worst, "pvalue_best": best}
    )
    return PlaceboSensitivity(
        pvalue=float(p),
        alpha=float(alpha),
        rejects=bool(rejects),
        phi=phi,
        odds=float(np.exp(phi)),
        n_units=n,
        n_extreme=m,
        table=table,
    )
