"""Fixed-length confidence intervals (FLCI) under the smoothness restriction.

Rambachan and Roth (2023, Review of Economic Studies) bound the change in slope of the
differential trend, Delta^SD(M) = {delta : |delta_{t+1} - 2 delta_t + delta_{t-1}| <= M},
with delta_0 = 0 at the reference period. For an affine estimator
``a' beta_pre + l' beta_post`` that is unbiased under linear trends, the worst-case bias
over Delta^SD(M) is ``M * (c_post + sum_k |P_k|)`` where ``P_k`` are the partial sums of
the cumulated pre-period weights. The FLCI of Armstrong and Kolesar (2018) picks the
weights that minimise the half-length ``h * cv_alpha(bias / h)``, where ``h`` is the
estimator's standard deviation and ``cv_alpha(t)`` the 1 - alpha quantile of ``|N(t, 1)|``.

That objective is convex in the free partial sums ``P`` (a perspective of the convex
``cv_alpha`` composed with convex, non-decreasing arguments), so it is minimised directly
with a bounded quasi-Newton method after splitting ``P = P+ - P-``. HonestDiD reaches the
same optimum through a bisection over ``h`` with an inner conic programme, and draws the
folded-normal quantile by simulation; here it is computed exactly.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from impact.errors import EstimationError

FloatArray = NDArray[np.float64]

__all__ = ["flci", "folded_normal_quantile", "post_bias_constant", "worst_case_bias"]


def folded_normal_quantile(t: FloatArray | float, alpha: float) -> FloatArray:
    """The 1 - alpha quantile of ``|N(t, 1)|`` and its derivative in ``t``.

    Parameters
    ----------
    t : float or ndarray
        Mean(s) of the normal, >= 0.
    alpha : float
        One minus the coverage.

    Returns
    -------
    ndarray
        Shape ``(2,) + shape(t)``: the quantile and d quantile / d t.
    """
    t = np.abs(np.asarray(t, dtype=float))
    q = np.where(
        t < 8.0,
        stats.foldnorm.ppf(1 - alpha, np.maximum(t, 1e-300)),
        t + stats.norm.ppf(1 - alpha),
    )
    # Two Newton polishing steps on Phi(q - t) - Phi(-q - t) = 1 - alpha.
    for _ in range(2):
        g = stats.norm.cdf(q - t) - stats.norm.cdf(-q - t) - (1 - alpha)
        q = q - g / (stats.norm.pdf(q - t) + stats.norm.pdf(q + t))
    fa, fb = stats.norm.pdf(q - t), stats.norm.pdf(q + t)
    return np.stack([q, (fa - fb) / (fa + fb)])


def post_bias_constant(l_vec: FloatArray) -> float:
    """Worst-case bias (per unit of M) coming from the post-period second differences.

    Parameters
    ----------
    l_vec : ndarray
        Weights on the post-period coefficients.

    Returns
    -------
    float
        ``sum_s |sum_{j<=s} j * l[T - s + j]|``.
    """
    n = len(l_vec)
    total = 0.0
    for s in range(1, n + 1):
        total += abs(float(np.arange(1, s + 1) @ l_vec[n - s :]))
    return total


def _weights_from_partial_sums(p_free: FloatArray, w_total: float) -> FloatArray:
    """Pre-period weights ``a`` (ordered -K..-1) from the free partial sums."""
    p_full = np.append(p_free, w_total)
    w = np.diff(p_full, prepend=0.0)
    return np.diff(w, prepend=0.0)


def worst_case_bias(pre_weights: FloatArray, l_vec: FloatArray, M: float) -> float:
    """Worst-case bias over Delta^SD(M) of ``a' beta_pre + l' beta_post``.

    Parameters
    ----------
    pre_weights : ndarray
        Weights ``a`` on the pre-period coefficients, ordered earliest first.
    l_vec : ndarray
        Weights on the post-period coefficients.
    M : float
        Bound on the second differences.

    Returns
    -------
    float
        ``inf`` when the estimator is biased under a linear trend.
    """
    k = len(pre_weights)
    t_pre = np.arange(-k, 0)
    t_post = np.arange(1, len(l_vec) + 1)
    if abs(pre_weights @ t_pre + l_vec @ t_post) > 1e-9 * (1 + np.abs(l_vec).sum()):
        return float("inf")
    w = np.cumsum(pre_weights)
    p = np.cumsum(w)[:-1]
    return float(M * (post_bias_constant(l_vec) + np.abs(p).sum()))


def flci(
    betahat: FloatArray,
    sigma: FloatArray,
    num_pre: int,
    l_vec: FloatArray,
    M_values: FloatArray,
    alpha: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Optimal FLCI for ``l' tau_post`` under Delta^SD(M), for each M.

    Parameters
    ----------
    betahat : ndarray
        Event-study coefficients, pre then post (reference period excluded).
    sigma : ndarray
        Their covariance.
    num_pre : int
        Number of pre-period coefficients.
    l_vec : ndarray
        Weights on the post-period coefficients.
    M_values : ndarray
        Values of M (>= 0).
    alpha : float
        One minus the coverage.

    Returns
    -------
    tuple of ndarray
        Lower ends, upper ends, and the optimal pre-period weights (one row per M).
    """
    k = num_pre
    n_post = len(l_vec)
    beta_pre, beta_post = betahat[:k], betahat[k:]
    s_pre = sigma[:k, :k]
    s_cross = sigma[:k, k:] @ l_vec
    var_post = float(l_vec @ sigma[k:, k:] @ l_vec)
    scale = np.sqrt(var_post) if var_post > 0 else np.sqrt(np.trace(sigma) / len(sigma))
    w_total = float(np.arange(1, n_post + 1) @ l_vec)
    c_post = post_bias_constant(l_vec)
    n_free = k - 1

    # a = B p + a0 : the pre weights are affine in the free partial sums.
    a0 = _weights_from_partial_sums(np.zeros(n_free), w_total)
    B = (
        np.column_stack(
            [_weights_from_partial_sums(np.eye(n_free)[i], 0.0) for i in range(n_free)]
        )
        if n_free
        else np.zeros((k, 0))
    )
    # Variance in scaled units: p' Q p + 2 g' p + c.
    Q = B.T @ s_pre @ B / scale**2
    g = B.T @ (s_pre @ a0 + s_cross) / scale**2
    c0 = (a0 @ s_pre @ a0 + 2 * a0 @ s_cross + var_post) / scale**2

    def variance(p: FloatArray) -> float:
        return float(p @ Q @ p + 2 * g @ p + c0)

    # Minimum-variance weights (the M = 0 solution, closed form).
    if n_free:
        try:
            p_minvar = -np.linalg.solve(Q, g)
        except np.linalg.LinAlgError:
            p_minvar = -np.linalg.lstsq(Q, g, rcond=None)[0]
    else:
        p_minvar = np.zeros(0)

    lows, highs, weights = [], [], []
    z = stats.norm.ppf(1 - alpha / 2)
    for M in np.asarray(M_values, dtype=float):
        m = M / scale
        if m == 0 or n_free == 0:
            p_opt = p_minvar
        else:
            p_opt = _minimise_halflength(Q, g, c0, m, c_post, alpha, p_minvar)
        v = variance(p_opt)
        if not np.isfinite(v) or v <= 0:
            raise EstimationError(
                "The FLCI variance is not positive; check that sigma is a valid "
                "covariance matrix of the event-study coefficients."
            )
        h = np.sqrt(v)
        bias = m * (c_post + np.abs(p_opt).sum())
        half = h * z if bias == 0 else h * folded_normal_quantile(bias / h, alpha)[0]
        half = float(half) * scale
        a = B @ p_opt + a0
        centre = float(a @ beta_pre + l_vec @ beta_post)
        lows.append(centre - half)
        highs.append(centre + half)
        weights.append(a)
    return np.array(lows), np.array(highs), np.array(weights)


def _minimise_halflength(
    Q: FloatArray,
    g: FloatArray,
    c0: float,
    m: float,
    c_post: float,
    alpha: float,
    p_start: FloatArray,
) -> FloatArray:
    """Minimise ``h(p) cv(m (c_post + |p|_1) / h(p))`` over the free partial sums."""
    n = len(g)

    def fun(x: FloatArray) -> tuple[float, FloatArray]:
        p = x[:n] - x[n:]
        var = p @ Q @ p + 2 * g @ p + c0
        h = math.sqrt(max(float(var), 1e-300))
        b = m * (c_post + x.sum())
        cv, dcv = folded_normal_quantile(b / h, alpha)
        f = h * cv
        dh = (Q @ p + g) / h
        df_dh = cv - dcv * b / h
        grad_p = df_dh * dh
        grad = np.concatenate([grad_p, -grad_p]) + dcv * m
        return float(f), grad

    x0 = np.concatenate([np.maximum(p_start, 0), np.maximum(-p_start, 0)])
    best: FloatArray | None = None
    best_f = np.inf
    for start in (x0, np.zeros(2 * n)):
        res = optimize.minimize(
            fun,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, None)] * (2 * n),
            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
        )
        if res.fun < best_f:
            best, best_f = res.x, float(res.fun)
    if best is None or not np.isfinite(best_f):
        raise EstimationError(
            "The FLCI optimisation failed; check that sigma is a valid covariance "
            "matrix of the event-study coefficients."
        )
    return np.asarray(best[:n] - best[n:], dtype=float)
