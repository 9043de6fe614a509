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


# ---------------------------------------------------------------- near-optimal range
def _extreme_on_level_set(
    A: np.ndarray, b: np.ndarray, a: np.ndarray, bound: float, w_opt: np.ndarray
) -> np.ndarray:
    """Minimise ``a'w`` over the simplex subject to ``||b - A w||^2 <= bound``.

    Lagrangian duality: for a multiplier ``mu > 0`` the minimiser of
    ``a'w + mu ||b - A w||^2`` on the simplex is an exact simplex QP; its loss falls
    as ``mu`` grows, so ``mu`` is bisected (on a log scale) until the loss meets the
    bound, and the last step interpolates between the two sides of the crossing.
    """
    from impact.synth.weights import simplex_qp

    H = A.T @ A
    c0 = A.T @ b
    scale = max(float(np.abs(A).max()), 1e-300)
    thr = 1e-12 * scale * (scale + float(np.abs(b).max()))

    def loss(w: np.ndarray) -> float:
        r = b - A @ w
        return float(r @ r)

    # the unconstrained minimum of a'w on the simplex is the best vertex
    j = int(np.argmin(a))
    vertex = np.zeros(a.size)
    vertex[j] = 1.0
    if loss(vertex) <= bound:
        return vertex

    def solve(mu: float) -> np.ndarray:
        start = [int(i) for i in np.flatnonzero(w_opt > 0)] or [j]
        w = simplex_qp(H, c0 - a / (2.0 * mu), start, thr * (1.0 + 1.0 / mu))
        if w is None:
            from impact.synth.abadie import _penalized_polish

            w = _penalized_polish(H, c0 - a / (2.0 * mu), j)
        return w

    lo, hi = -12.0, 12.0  # log10 mu: small mu follows a, large mu follows the fit
    w_hi = solve(10.0**hi)
    if loss(w_hi) > bound:
        return w_opt
    w_lo = vertex
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        w = solve(10.0**mid)
        if loss(w) <= bound:
            hi, w_hi = mid, w
        else:
            lo, w_lo = mid, w
        if hi - lo < 1e-10:
            break
    # move from the feasible side towards the infeasible one up to the boundary
    d = w_lo - w_hi
    if a @ d < 0:
        r = b - A @ w_hi
        Ad = A @ d
        qa, qb, qc = float(Ad @ Ad), -2.0 * float(r @ Ad), loss(w_hi) - bound
        if qa > 0:
            theta = (-qb + np.sqrt(max(qb * qb - 4 * qa * qc, 0.0))) / (2 * qa)
            w_hi = w_hi + float(np.clip(theta, 0.0, 1.0)) * d
    return w_hi


def near_optimal_range(
    y_pre: Any,
    Y0_pre: Any,
    y_post: Any,
    Y0_post: Any,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, tuple[float, float], float]:
    """Range of post-period gaps over near-optimal simplex weights.

    Parameters
    ----------
    y_pre : array_like (T0,)
        Treated unit's pre-period outcome.
    Y0_pre : array_like (T0, J)
        Donors' pre-period outcomes.
    y_post : array_like (T1,)
        Treated unit's post-period outcome.
    Y0_post : array_like (T1, J)
        Donors' post-period outcomes.
    tolerance : float
        Relative slack: weights qualify when their pre-period MSPE is at most
        ``(1 + tolerance)`` times the smallest MSPE any simplex weights reach.

    Returns
    -------
    tuple
        Per-period lowest and highest gap (T1,), the lowest and highest average
        post-period gap, and the optimal pre-period MSPE.
    """
    from impact.synth.weights import simplex_lsq

    A = np.asarray(Y0_pre, dtype=float)
    b = np.asarray(y_pre, dtype=float)
    yp = np.asarray(y_post, dtype=float)
    P = np.asarray(Y0_post, dtype=float)
    w_opt = simplex_lsq(A, b)
    r = b - A @ w_opt
    best = float(r @ r)
    # a little absolute slack too, so that an exact pre-fit still has a (tiny) set
    bound = best * (1.0 + tolerance) + 1e-12 * float(b @ b)
    lowest, highest = [], []
    for p in [*P, P.mean(axis=0)]:
        # synthetic value p'w at its smallest and largest over the level set
        lowest.append(float(p @ _extreme_on_level_set(A, b, p, bound, w_opt)))
        highest.append(float(p @ _extreme_on_level_set(A, b, -p, bound, w_opt)))
    lo_s, hi_s = np.array(lowest), np.array(highest)
    # gap = y - p'w: the lowest gap comes with the highest synthetic value
    low = yp - hi_s[:-1]
    high = yp - lo_s[:-1]
    att = (float(yp.mean() - hi_s[-1]), float(yp.mean() - lo_s[-1]))
    return low, high, att, best / b.size
