"""Conformal inference for synthetic controls (Chernozhukov, Wuthrich and Zhu 2021, JASA).

"An Exact and Robust Conformal Inference Method for Counterfactual and Synthetic
Controls". To test ``H0: effect in post-period t = theta`` the treated outcome in period
``t`` is set to ``y1_t - theta``, the counterfactual model is re-fitted on the
pre-periods plus period ``t`` (so the null is imposed in the fit), and the residual of
period ``t`` is compared with the pre-period residuals through moving-block (cyclic)
permutations: the p-value is the share of the ``T0 + 1`` residuals at least as large in
absolute value. ``theta`` is rejected when ``p <= alpha`` (CWZ's rule, exact size
under exchangeable residuals; augsynth accepts ``p == alpha``, one lattice step wider).
Inverting the test over ``theta`` gives a per-period confidence set; here its end
points are located by an expanding search and bisection (to 1e-4 of the residual
scale), or read off a user grid. The joint test of a whole post-period effect
path uses the statistic ``(sum_t |u_t|^q / T1)^(1/q)`` and all ``T`` cyclic shifts.

Counterfactual models (``method``): ``"sc"`` outcome-path synthetic control (simplex
weights, no intercept); ``"augmented"`` ridge-augmented SCM with the penalty chosen once
by cross-validation on the pre-period and then held fixed under every null; ``"did"``
donor mean plus a unit intercept; ``"sdid"`` the synthetic-DiD unit weights (simplex,
intercept, ridge ``zeta = T1^(1/4) sigma``) solved exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from impact._validation import check_alpha, check_option
from impact.errors import DataError, EstimationError, ImpactWarning, SpecError
from impact.synth.augmented import augmented_weights_fixed, ridge_augmented_weights
from impact.synth.weights import simplex_lsq, simplex_weights

__all__ = ["conformal_att_interval", "conformal_intervals", "conformal_pvalue"]

FloatArray = NDArray[np.float64]
_METHODS = ("sc", "augmented", "did", "sdid")
_TIE = 1e-9  # relative tolerance when comparing absolute residuals


# --------------------------------------------------------------------------------------
# Counterfactual models: fit on some rows, predict every row
# --------------------------------------------------------------------------------------


def _predictor(
    method: str, state: dict[str, float]
) -> Callable[[FloatArray, FloatArray, FloatArray], FloatArray]:
    """Return ``f(y_fit, Y0_fit, Y0_all) -> yhat_all`` for the chosen model."""

    def sc(y: FloatArray, Y0: FloatArray, Y0_all: FloatArray) -> FloatArray:
        return Y0_all @ simplex_weights(y, Y0)

    def augmented(y: FloatArray, Y0: FloatArray, Y0_all: FloatArray) -> FloatArray:
        w_scm = simplex_weights(y, Y0)
        return Y0_all @ augmented_weights_fixed(y, Y0, w_scm, state["lambda"])

    def did(y: FloatArray, Y0: FloatArray, Y0_all: FloatArray) -> FloatArray:
        return Y0_all.mean(axis=1) + float(np.mean(y - Y0.mean(axis=1)))

    def sdid(y: FloatArray, Y0: FloatArray, Y0_all: FloatArray) -> FloatArray:
        S, J = Y0.shape
        Yc = Y0 - Y0.mean(axis=0)
        yc = y - y.mean()
        pen = np.sqrt(S) * state["zeta"] * np.eye(J)
        w = simplex_lsq(np.vstack([Yc, pen]), np.concatenate([yc, np.zeros(J)]))
        intercept = float(np.mean(y - Y0 @ w))
        return Y0_all @ w + intercept

    return {"sc": sc, "augmented": augmented, "did": did, "sdid": sdid}[method]


def _prepare(
    y1: ArrayLike,
    Y0: ArrayLike,
    T0: int,
    method: str,
    caller: str,
    lambda_: float | None,
) -> tuple[FloatArray, FloatArray, int, dict[str, float]]:
    check_option("method", method, _METHODS, caller)
    y = np.asarray(y1, dtype=float).ravel()
    X = np.asarray(Y0, dtype=float)
    if X.ndim != 2 or X.shape[0] != y.size:
        raise DataError(
            f"{caller}: Y0 must be (periods, donors) with {y.size} rows to match y1; "
            f"got shape {X.shape}."
        )
    if X.shape[1] == 0:
        raise DataError(f"{caller}: the donor pool is empty.")
    if isinstance(T0, bool) or not isinstance(T0, (int, np.integer)):
        raise SpecError(f"{caller}: T0 must be an integer number of pre-periods.")
    T0 = int(T0)
    if T0 < 2:
        raise DataError(
            f"{caller}: need at least 2 pre-treatment periods (T0 = {T0}) for "
            "permutation inference."
        )
    if T0 >= y.size:
        raise DataError(
            f"{caller}: no post-treatment period (T0 = {T0} of {y.size} periods)."
        )
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise DataError(
            f"{caller}: outcomes contain missing or infinite values; conformal "
            "inference needs complete outcomes for the treated unit and donors."
        )
    state: dict[str, float] = {}
    if method == "augmented":
        if lambda_ is None:
            w_scm = simplex_weights(y[:T0], X[:T0])
            state["lambda"] = ridge_augmented_weights(y[:T0], X[:T0], w_scm).lambda_
        else:
            state["lambda"] = float(lambda_)
            if not state["lambda"] > 0:
                raise SpecError(f"{caller}: lambda_ must be positive; got {lambda_!r}.")
    elif method == "sdid":
        diffs = np.diff(X[:T0], axis=0)
        sigma = float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0
        state["zeta"] = float(y.size - T0) ** 0.25 * sigma
    return y, X, T0, state


def _pvalue_one(
    f: Callable[[FloatArray, FloatArray, FloatArray], FloatArray],
    y_pre: FloatArray,
    X_pre: FloatArray,
    y_t: float,
    x_t: FloatArray,
    theta: float,
) -> float:
    """p-value of ``effect_t = theta`` from the T0 + 1 residuals (all cyclic shifts)."""
    yf = np.append(y_pre, y_t - theta)
    Xf = np.vstack([X_pre, x_t])
    u = np.abs(yf - f(yf, Xf, Xf))
    last = u[-1]
    return float(np.mean(u >= last - _TIE * max(last, 1e-300) - 1e-14 * u.max()))


def conformal_intervals(
    y1: ArrayLike,
    Y0: ArrayLike,
    T0: int,
    *,
    method: str = "sc",
    alpha: float = 0.05,
    grid: ArrayLike | None = None,
    lambda_: float | None = None,
) -> pd.DataFrame:
    """Per-period conformal confidence intervals for a synthetic-control effect.

    Parameters
    ----------
    y1 : array_like, shape (T,)
        Treated unit's outcomes (pre- then post-periods).
    Y0 : array_like, shape (T, J)
        Donors' outcomes, one column per donor.
    T0 : int
        Number of pre-treatment periods (at least 2).
    method : {"sc", "augmented", "did", "sdid"}, default "sc"
        Counterfactual model re-fitted under each null (see the module docstring).
    alpha : float, default 0.05
        Level; the interval holds the effects not rejected at ``alpha``. The smallest
        attainable p-value is ``1 / (T0 + 1)``.
    grid : array_like, optional
        Candidate effect values to test. None searches the end points automatically
        (expanding steps, then bisection); with a grid the interval is the smallest
        and largest accepted grid value.
    lambda_ : float, optional
        Ridge penalty for ``method="augmented"`` (default: cross-validated once on the
        pre-period).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``t`` (column positions ``T0 .. T-1``) with ``gap`` (the effect
        estimated from the pre-period fit), ``ci_low``, ``ci_high`` and ``pvalue`` (of
        no effect in that period). ``attrs`` holds ``method`` and ``alpha``.

    Raises
    ------
    DataError
        Shape mismatch, missing values, fewer than 2 pre-periods or no post-period.
    SpecError
        Unknown method, invalid alpha or grid.

    Warns
    -----
    ImpactWarning
        When ``1 / (T0 + 1) > alpha`` (intervals are unbounded), when an interval
        reaches the end of the grid or is empty.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(3)
    >>> Y0 = rng.normal(size=(25, 10)) + np.linspace(0, 3, 25)[:, None]
    >>> y1 = Y0[:, :4].mean(axis=1) + rng.normal(scale=0.3, size=25)
    >>> y1[20:] += 2.0
    >>> out = conformal_intervals(y1, Y0, 20, method="sc")
    >>> list(out.columns)
    ['gap', 'ci_low', 'ci_high', 'pvalue']
    """
    caller = "conformal_intervals"
    alpha = check_alpha(alpha, caller)
    y, X, T0, state = _prepare(y1, Y0, T0, method, caller, lambda_)
    f = _predictor(method, state)
    T = y.size
    y_pre, X_pre = y[:T0], X[:T0]
    yhat = f(y_pre, X_pre, X)
    gap = y - yhat
    scale = max(float(np.sqrt(np.mean(gap[:T0] ** 2))), 1e-3 * float(np.std(y)), 1e-12)
    grid_arr: FloatArray | None = None
    if grid is not None:
        grid_arr = np.sort(np.asarray(grid, dtype=float).ravel())
        if grid_arr.size < 2 or not np.all(np.isfinite(grid_arr)):
            raise SpecError(
                f"{caller}: grid must hold at least 2 finite effect values to test."
            )
    unbounded = 1.0 / (T0 + 1) > alpha
    if unbounded:
        warnings.warn(
            f"{caller}: with T0 = {T0} pre-periods the smallest attainable p-value is "
            f"1/{T0 + 1} = {1 / (T0 + 1):.3f} > alpha = {alpha}; every effect is "
            "accepted and the intervals are unbounded. Use a longer pre-period.",
            ImpactWarning,
            stacklevel=2,
        )
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    for t in range(T0, T):

        def p_of(theta: float, t: int = t) -> float:
            return _pvalue_one(f, y_pre, X_pre, float(y[t]), X[t], theta)

        p0 = p_of(0.0)
        if unbounded:
            lo, hi = -np.inf, np.inf
        elif grid_arr is not None:
            acc = np.array([p_of(float(g)) > alpha for g in grid_arr])
            if not acc.any():
                lo = hi = np.nan
                notes.append(f"period {t}: no grid value accepted (empty set)")
            else:
                lo = float(grid_arr[acc].min())
                hi = float(grid_arr[acc].max())
                if acc[0] or acc[-1]:
                    notes.append(
                        f"period {t}: the interval reaches the end of the grid"
                    )
        else:
            lo, hi = _invert(p_of, float(gap[t]), scale, alpha)
            if np.isnan(lo):
                notes.append(f"period {t}: every value tested was rejected (empty set)")
            elif np.isinf(lo) or np.isinf(hi):
                notes.append(f"period {t}: the interval is unbounded")
        rows.append(
            {"t": t, "gap": float(gap[t]), "ci_low": lo, "ci_high": hi, "pvalue": p0}
        )
    if notes:
        warnings.warn(
            f"{caller}: " + "; ".join(notes) + ". Widen the grid or check the "
            "pre-period fit.",
            ImpactWarning,
            stacklevel=2,
        )
    out = pd.DataFrame(rows).set_index("t")
    out.attrs["method"] = method
    out.attrs["alpha"] = alpha
    return out


def _invert(
    p_of: Callable[[float], float], center: float, scale: float, alpha: float
) -> tuple[float, float]:
    """End points of ``{theta: p(theta) > alpha}`` around ``center``.

    When ``center`` itself is rejected the accepted values can lie on both sides of
    it; the interval is then the hull from the smallest to the largest accepted value
    found on a scan of ``center +/- 4 scale`` (a superset of the confidence set keeps
    its coverage; one piece of it would not), as the grid route reports.
    """
    starts = (center, center)
    if not p_of(center) > alpha:
        cand = center + scale * np.linspace(-4.0, 4.0, 33)
        ok = [float(c) for c in cand if p_of(float(c)) > alpha]
        if not ok:
            return np.nan, np.nan
        starts = (min(ok), max(ok))
    tol = 1e-4 * scale
    ends = []
    for sign, start in zip((-1.0, 1.0), starts):
        inner, h = start, scale
        outer = start + sign * h
        n_double = 0
        while p_of(outer) > alpha:
            inner = outer
            h *= 2.0
            outer = start + sign * h
            n_double += 1
            if n_double > 40:
                inner = sign * np.inf
                break
        if np.isfinite(inner):
            while abs(outer - inner) > tol:
                mid = 0.5 * (inner + outer)
                if p_of(mid) > alpha:
                    inner = mid
                else:
                    outer = mid
        ends.append(inner)
    return float(ends[0]), float(ends[1])


def conformal_pvalue(
    y1: ArrayLike,
    Y0: ArrayLike,
    T0: int,
    *,
    theta: ArrayLike | float = 0.0,
    method: str = "sc",
    q: float = 1.0,
    lambda_: float | None = None,
) -> float:
    """Joint conformal test of an effect path over all post-periods.

    Parameters
    ----------
    y1 : array_like, shape (T,)
        Treated unit's outcomes.
    Y0 : array_like, shape (T, J)
        Donors' outcomes.
    T0 : int
        Number of pre-treatment periods.
    theta : float or array_like, shape (T - T0,), default 0
        Effect path under the null (a scalar means the same effect every period).
    method : {"sc", "augmented", "did", "sdid"}, default "sc"
        Counterfactual model.
    q : float, default 1
        Exponent of the test statistic ``(mean_t |u_t|^q)^(1/q)`` over the post-periods
        (``np.inf`` for the maximum).
    lambda_ : float, optional
        Ridge penalty for ``method="augmented"``.

    Returns
    -------
    float
        The moving-block permutation p-value (share of the ``T`` cyclic shifts whose
        statistic is at least the observed one).
    """
    caller = "conformal_pvalue"
    y, X, T0, state = _prepare(y1, Y0, T0, method, caller, lambda_)
    T = y.size
    T1 = T - T0
    th = (
        np.broadcast_to(np.asarray(theta, dtype=float), (T1,))
        if np.ndim(theta) == 0
        else np.asarray(theta, dtype=float).ravel()
    )
    if th.size != T1 or not np.all(np.isfinite(th)):
        raise SpecError(
            f"{caller}: theta must be a finite scalar or hold one value per "
            f"post-period ({T1}); got {th.size} values."
        )
    qf = float(q)
    if not qf > 0:
        raise SpecError(f"{caller}: q must be positive; got {q!r}.")
    return _joint_p(_predictor(method, state), y, X, T0, th, qf, caller)


def _joint_p(
    f: Callable[[FloatArray, FloatArray, FloatArray], FloatArray],
    y: FloatArray,
    X: FloatArray,
    T0: int,
    th: FloatArray,
    qf: float,
    caller: str,
) -> float:
    """Moving-block p-value of the effect path ``th`` (fit on all periods)."""
    T = y.size
    yf = y.copy()
    yf[T0:] -= th
    u = np.abs(yf - f(yf, X, X))
    shifts = (np.arange(T)[:, None] + np.arange(T0, T)[None, :]) % T  # (T, T1)
    blocks = u[shifts]
    if np.isinf(qf):
        stats = blocks.max(axis=1)
    else:
        stats = np.mean(blocks**qf, axis=1) ** (1.0 / qf)
    obs = stats[0]
    if not np.all(np.isfinite(stats)):
        raise EstimationError(f"{caller}: the test statistic is not finite.")
    return float(np.mean(stats >= obs - _TIE * max(obs, 1e-300) - 1e-14 * stats.max()))


def conformal_att_interval(
    y1: ArrayLike,
    Y0: ArrayLike,
    T0: int,
    *,
    method: str = "sc",
    alpha: float = 0.05,
    q: float = 1.0,
    lambda_: float | None = None,
) -> tuple[float, float, float]:
    """Conformal confidence interval for a constant post-period effect.

    Inverts the joint test of :func:`conformal_pvalue` over constant effect paths
    ``theta_t = theta`` (the sharp null of a constant effect): the interval holds every
    ``theta`` with p-value above ``alpha``. It is the interval to report next to the
    average post-period gap when inference is conformal. When that set is not an
    interval (the estimate itself rejected, accepted values on both sides), the
    reported interval is its hull, which keeps the coverage, and a warning says so.

    Parameters
    ----------
    y1 : array_like, shape (T,)
        Treated unit's outcomes.
    Y0 : array_like, shape (T, J)
        Donors' outcomes.
    T0 : int
        Number of pre-treatment periods.
    method : {"sc", "augmented", "did", "sdid"}, default "sc"
        Counterfactual model.
    alpha : float, default 0.05
        Level; the smallest attainable p-value is ``1 / T``.
    q : float, default 1
        Exponent of the test statistic.
    lambda_ : float, optional
        Ridge penalty for ``method="augmented"``.

    Returns
    -------
    tuple of float
        ``(ci_low, ci_high, pvalue)``, the p-value being that of no effect. The end
        points are infinite when the set is unbounded (``1 / T > alpha``), NaN when it
        is empty (a warning is issued in both cases).

    Notes
    -----
    Every cyclic shift of ``T`` residuals overlaps the post-period when it is long
    relative to the pre-period, so the test then has little power and the interval is
    wide (Proposition 99: 12 post years of 31).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(2)
    >>> Y0 = rng.normal(size=(30, 8)) + np.linspace(0, 2, 30)[:, None]
    >>> y1 = Y0[:, :3].mean(axis=1) + rng.normal(scale=0.2, size=30)
    >>> y1[22:] += 1.0
    >>> lo, hi, p = conformal_att_interval(y1, Y0, 22, method="did")
    >>> bool(lo < 1.0 < hi)
    True
    """
    caller = "conformal_att_interval"
    alpha = check_alpha(alpha, caller)
    y, X, T0, state = _prepare(y1, Y0, T0, method, caller, lambda_)
    qf = float(q)
    if not qf > 0:
        raise SpecError(f"{caller}: q must be positive; got {q!r}.")
    f = _predictor(method, state)
    T1 = y.size - T0
    p0 = _joint_p(f, y, X, T0, np.zeros(T1), qf, caller)
    if 1.0 / y.size > alpha:
        warnings.warn(
            f"{caller}: with {y.size} periods the smallest attainable p-value is "
            f"1/{y.size} > alpha = {alpha}; the interval is unbounded.",
            ImpactWarning,
            stacklevel=2,
        )
        return -np.inf, np.inf, p0
    yhat = f(y[:T0], X[:T0], X)
    gap = y - yhat
    center = float(np.mean(gap[T0:]))
    scale = max(float(np.sqrt(np.mean(gap[:T0] ** 2))), 1e-3 * float(np.std(y)), 1e-12)

    def p_of(theta: float) -> float:
        return _joint_p(f, y, X, T0, np.full(T1, theta), qf, caller)

    lo, hi = _invert(p_of, center, scale, alpha)
    if np.isfinite(lo) and np.isfinite(hi) and not p_of(center) > alpha:
        warnings.warn(
            f"{caller}: the estimate {center:.4g} is itself rejected at alpha = "
            f"{alpha}, so the confidence set is not an interval around it; the interval "
            f"reported ({lo:.4g}, {hi:.4g}) is the hull of the accepted values.",
            ImpactWarning,
            stacklevel=2,
        )
    if np.isnan(lo) or np.isinf(lo) or np.isinf(hi):
        kind = "empty" if np.isnan(lo) else "unbounded"
        warnings.warn(
            f"{caller}: the confidence set for a constant effect is {kind}; check the "
            "pre-period fit.",
            ImpactWarning,
            stacklevel=2,
        )
    return lo, hi, p0
