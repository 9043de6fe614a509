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

__all__ = [
    "PlaceboSensitivity",
    "calibrated_near_optimal_range",
    "near_optimal_range",
    "placebo_sensitivity",
    "worst_case_pvalue",
]


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
    A: np.ndarray, b: np.ndarray, p: np.ndarray, bound: float, c_star: float, top: bool
) -> float:
    """Largest (``top``) or smallest ``p'w`` over simplex ``w`` with SSR ``<= bound``.

    The smallest pre-period SSR of weights with ``p'w = c`` (:func:`pinned_ssr`) is
    convex in ``c`` and at most ``bound`` at ``c_star`` (the optimum's value), so
    ``{c : pinned_ssr(c) <= bound}`` is an interval around ``c_star`` whose end is
    found by bisection between ``c_star`` and the extreme donor value.
    """
    end = float(p.max() if top else p.min())
    if pinned_ssr(A, b, p, end) <= bound:
        return end
    inner, outer = c_star, end
    tol = 1e-10 * max(abs(end - c_star), 1e-300)
    for _ in range(200):
        if abs(outer - inner) <= tol:
            break
        mid = 0.5 * (inner + outer)
        if pinned_ssr(A, b, p, mid) <= bound:
            inner = mid
        else:
            outer = mid
    return inner


def near_optimal_range(
    y_pre: Any,
    Y0_pre: Any,
    y_post: Any,
    Y0_post: Any,
    tolerance: float,
    *,
    bounds: Any = None,
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
    bounds : array_like (T1 + 1,), optional
        Absolute bounds on the pre-period sum of squared residuals, one per
        post-period and a last one for the average gap; replaces ``tolerance``.
        ``inf`` allows every simplex weighting.

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
    rows = [*P, P.mean(axis=0)]
    if bounds is None:
        # a little absolute slack too, so that an exact pre-fit still has a (tiny) set
        bound = best * (1.0 + tolerance) + 1e-12 * float(b @ b)
        bnd = np.full(len(rows), bound)
    else:
        bnd = np.maximum(np.asarray(bounds, dtype=float), best + 1e-12 * float(b @ b))
    lowest, highest = [], []
    for p, bound in zip(rows, bnd, strict=True):
        # synthetic value p'w at its smallest and largest over the level set
        c_star = float(p @ w_opt)
        lowest.append(_extreme_on_level_set(A, b, p, bound, c_star, top=False))
        highest.append(_extreme_on_level_set(A, b, p, bound, c_star, top=True))
    lo_s, hi_s = np.array(lowest), np.array(highest)
    # gap = y - p'w: the lowest gap comes with the highest synthetic value
    low = yp - hi_s[:-1]
    high = yp - lo_s[:-1]
    att = (float(yp.mean() - hi_s[-1]), float(yp.mean() - lo_s[-1]))
    return low, high, att, best / b.size


# ------------------------------------------------ placebo-calibrated near-optimal range
def pinned_ssr(A: np.ndarray, b: np.ndarray, p: np.ndarray, c: float) -> float:
    """Smallest ``||b - A w||^2`` over simplex weights with synthetic value ``p'w = c``.

    ``inf`` when ``c`` lies outside ``[min p, max p]`` (no simplex weights reach it).
    Both equality constraints enter as heavily weighted rows of a non-negative least
    squares problem (the weighting method for equality-constrained least squares; the
    constraint is met to about ``1e-7`` of the data scale).
    """
    from scipy.optimize import nnls

    if c < p.min() or c > p.max():
        return float("inf")
    span = float(np.abs(p - c).max())
    if span == 0.0:  # every donor has the value c: no constraint
        return _simplex_ssr(A, b)
    s = max(float(np.abs(A).max()), float(np.abs(b).max()), 1e-300)
    M = 1e4 * s
    Aa = np.vstack([A, (M / span) * (p - c), np.full(A.shape[1], M)])
    ba = np.append(b, [0.0, M])
    w, _ = nnls(Aa, ba, maxiter=50 * A.shape[1])
    r = b - A @ w
    return float(r @ r)


def _simplex_ssr(A: np.ndarray, b: np.ndarray) -> float:
    from impact.synth.weights import simplex_lsq

    r = b - A @ simplex_lsq(A, b)
    return float(r @ r)


def _noise_scale(b: np.ndarray, A: np.ndarray) -> float:
    """Mean squared year-on-year change of a unit's pre-period gap to the donor mean.

    A unit's own volatility (small authorities are noisier): the slack a unit needs
    is measured in these units so that placebos of different sizes are comparable.
    """
    d = np.diff(b - A.mean(axis=1))
    return max(float(np.mean(d * d)) if d.size else 0.0, 1e-12 * float(b @ b) + 1e-300)


def _required_slack(
    A: np.ndarray, b: np.ndarray, rows: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """Pre-period SSR above the optimum needed to reach each value, in noise units."""
    best = _simplex_ssr(A, b)
    scale = _noise_scale(b, A)
    need = np.array(
        [pinned_ssr(A, b, p, float(c)) for p, c in zip(rows, values, strict=True)]
    )
    return np.maximum(need - best, 0.0) / scale


def placebo_slack(Y0_pre: Any, Y0_post: Any) -> np.ndarray:
    """Slack each donor needs for its near-optimal range to contain its own outcome.

    Every donor in turn is the pseudo-treated unit, fitted on the other donors; its
    true effect is zero, so its range contains the truth exactly when the pre-period
    SSR bound reaches the smallest SSR of weights that reproduce its observed
    post-period outcome.

    Parameters
    ----------
    Y0_pre : array_like (T0, J)
        Donors' pre-period outcomes.
    Y0_post : array_like (T1, J)
        Donors' post-period outcomes.

    Returns
    -------
    ndarray (J, T1 + 1)
        Required slack (SSR above the optimum over :func:`_noise_scale`), per donor,
        per post-period and (last column) for the average post-period outcome.
    """
    A = np.asarray(Y0_pre, dtype=float)
    P = np.asarray(Y0_post, dtype=float)
    J = A.shape[1]
    rows = np.vstack([P, P.mean(axis=0)[None, :]])  # (T1 + 1, J)
    out = np.empty((J, rows.shape[0]))
    for j in range(J):
        keep = np.arange(J) != j
        out[j] = _required_slack(A[:, keep], A[:, j], rows[:, keep], rows[:, j])
    return out


def calibrated_near_optimal_range(
    y_pre: Any,
    Y0_pre: Any,
    y_post: Any,
    Y0_post: Any,
    level: float,
) -> dict[str, Any]:
    """Near-optimal range whose slack is calibrated by donor placebos to ``level``.

    For each post-period (and the average) the slack of the pre-period SSR bound is
    the ``ceil(level (J + 1))``-th smallest slack the ``J`` donor placebos need to
    contain their own (zero) effect (:func:`placebo_slack`), in units of each unit's
    own noise scale. If the treated unit is exchangeable with the donors, its slack
    ranks anywhere among the ``J + 1`` with equal chance, so the range contains its
    true effect with probability at least ``level`` (split-conformal argument).

    Parameters
    ----------
    y_pre, Y0_pre, y_post, Y0_post : array_like
        As in :func:`near_optimal_range`.
    level : float
        Nominal coverage, in (0, 1).

    Returns
    -------
    dict
        ``low``, ``high`` (T1,), ``att`` (low, high), ``pre_mspe_optimal``,
        ``pre_mspe_bound`` (T1 + 1,: the bound per period, the average last),
        ``slack`` (T1 + 1,) and ``n_placebos``.
    """
    A = np.asarray(Y0_pre, dtype=float)
    b = np.asarray(y_pre, dtype=float)
    need = placebo_slack(A, Y0_post)
    J = need.shape[0]
    k = int(np.ceil(level * (J + 1)))
    slack = np.sort(need, axis=0)[k - 1] if k <= J else np.full(need.shape[1], np.inf)
    best = _simplex_ssr(A, b)
    bounds = best + slack * _noise_scale(b, A)
    low, high, att, mspe = near_optimal_range(b, A, y_post, Y0_post, 0.0, bounds=bounds)
    return {
        "low": low,
        "high": high,
        "att": att,
        "pre_mspe_optimal": mspe,
        "pre_mspe_bound": bounds / b.size,
        "slack": slack,
        "n_placebos": J,
    }
