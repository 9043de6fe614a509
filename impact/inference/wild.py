"""Restricted wild cluster bootstrap (WCR) for estimators linear in the outcome.

The estimator is ``theta(Y) = sum(A * Y)`` on a balanced N x T panel. For a null value
``theta0`` the bootstrap data are ``Y* = fit0 + u0 * v_g`` where ``fit0``/``u0`` are
the fitted values and residuals of the null model
``Y = a_i + g_t + Z b + theta0 * Dn`` (``Dn = D / sum(A * D)``, so that shifting the
treated cells by ``theta0 * Dn`` moves the estimate by ``theta0``) and ``v_g`` is one
weight per cluster (Rademacher or Webb six-point). Each draw is studentised with the
cluster-robust SE of ``sum(A * Y*)`` computed from the residuals of the unrestricted
model (the null model plus ``Dn``), exactly as the original statistic is.

Everything is linear in ``theta0`` and in the weights, so with the cluster-level
matrices ``K`` of Roodman, MacKinnon, Nielsen and Webb (2019, Stata Journal 19(1),
"fast and wild") all draws come from two G x G times G x B matrix products, and the
test can be inverted for a confidence interval without re-drawing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

from impact._validation import (
    check_alpha,
    check_draws,
    check_option,
)
from impact.errors import DataError, EstimationError, SpecError
from impact.inference._core import FEW_TREATED_THRESHOLD, InferenceOutput, invert_test
from impact.inference.linear import (
    _fe_projection_parts,
    as_cluster_index,
    as_matrix,
    two_way_demean,
)
from impact.limits import check_memory
from impact.parallel import as_generator

__all__ = [
    "FEW_CLUSTERS_WEBB",
    "FEW_TREATED_WILD",
    "draw_weights",
    "webb_values",
    "wild_cluster_bootstrap",
]

FloatArray = NDArray[np.float64]

#: With fewer clusters than this, ``weights="auto"`` uses Webb's six-point weights:
#: Rademacher weights give only 2^G distinct bootstrap statistics (Webb 2023, Canadian
#: Journal of Economics 56(3), "Reworking wild bootstrap-based inference for clustered
#: errors").
FEW_CLUSTERS_WEBB: int = 13

#: With fewer treated clusters than this the WCR bootstrap is very conservative: in
#: docs/statistical_validity.md it rejects a true null in 0% (1 treated of 150) and
#: under 1% (3 treated) of replications at a nominal 5%, against ~5% from 5 treated on.
FEW_TREATED_WILD: int = 5

_CALLER = "wild_cluster_bootstrap"


def webb_values() -> FloatArray:
    """The six support points of Webb's weights, each with probability 1/6.

    Returns
    -------
    ndarray of shape (6,)
        ``+-sqrt(1/2), +-1, +-sqrt(3/2)``; mean 0, variance 1.
    """
    r = np.sqrt([0.5, 1.0, 1.5])
    return np.concatenate([-r[::-1], r])


def draw_weights(
    kind: str, n_clusters: int, n_boot: int, rng: np.random.Generator | None = None
) -> tuple[FloatArray, bool]:
    """Bootstrap weights, one column per draw; full enumeration when it fits.

    Parameters
    ----------
    kind : {"rademacher", "webb"}
        Weight distribution.
    n_clusters : int
        G.
    n_boot : int
        Requested draws. When the number of distinct weight vectors (2^G or 6^G) is
        at most ``n_boot``, all of them are returned instead (exact enumeration).
    rng : numpy Generator, optional
        Source of random draws.

    Returns
    -------
    V : ndarray of shape (G, B)
        The weights.
    exact : bool
        True when every weight vector was enumerated.
    """
    base = 2 if kind == "rademacher" else 6
    support = np.array([-1.0, 1.0]) if kind == "rademacher" else webb_values()
    if n_clusters * np.log(base) <= np.log(n_boot) + 1e-9:
        total = base**n_clusters
        idx = np.arange(total)[None, :] // (base ** np.arange(n_clusters))[:, None]
        return support[idx % base], True
    check_memory("n_boot", 8.0 * n_clusters * n_boot, "wild_cluster_bootstrap")
    gen = as_generator(rng)
    return support[gen.integers(0, base, size=(n_clusters, n_boot))], False


def _cluster_k(
    A: FloatArray,
    U: FloatArray,
    codes: NDArray[np.intp],
    g: int,
    zt: FloatArray,
    inv: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``K[g, h] = (A 1_g)' M (U 1_h)`` as ``diag(dg) - L R'`` (low rank, no G x G).

    ``K[g, h]`` is cluster g's score from cluster h's residuals. ``M`` annihilates unit
    and period effects and the extra regressors ``zt`` (already two-way demeaned,
    shape (N, T, k)). The two-way projection of a balanced panel is unit mean + period
    mean - grand mean, so ``K`` is diagonal plus a rank ``T + 1 + k`` term and
    ``K V`` costs O(G (T + k) B) instead of O(G^2 B).
    """
    n, t = A.shape
    a_row, u_row = A.sum(axis=1), U.sum(axis=1)
    dg = np.bincount(
        codes, weights=np.sum(A * U, axis=1) - a_row * u_row / t, minlength=g
    )

    def by_cluster(x: FloatArray) -> FloatArray:  # (N, m) -> (G, m) cluster sums
        out = np.zeros((g, x.shape[1]))
        np.add.at(out, codes, x)
        return out

    a_col, u_col = by_cluster(A), by_cluster(U)  # (G, T): cluster sums per period
    a_tot, u_tot = a_col.sum(axis=1), u_col.sum(axis=1)
    la = by_cluster(np.einsum("nt,ntk->nk", A, zt))  # (G, k)
    ru = by_cluster(np.einsum("nt,ntk->nk", U, zt))  # (G, k)
    left = np.column_stack([a_col / n, -a_tot / (n * t), la @ inv])
    right = np.column_stack([u_col, u_tot, ru])
    return np.asarray(dg, dtype=float), left, right


class _WildProblem:
    """Precomputed pieces of the WCR test for one (Y, A, D, clusters, weights)."""

    def __init__(
        self,
        Y: FloatArray,
        A: FloatArray,
        Dn: FloatArray,
        Z: FloatArray | None,
        codes: NDArray[np.intp],
        g: int,
        V: FloatArray,
    ) -> None:
        n, t = Y.shape
        self.g = g
        self.ssc = g / (g - 1)
        # Null model: unit + period effects + Z. Full model: null model + Dn.
        zt_null, inv_null = _fe_projection_parts(Z, n, t)
        full = (
            Dn[..., None] if Z is None else np.concatenate([Z, Dn[..., None]], axis=-1)
        )
        zt_full, inv_full = _fe_projection_parts(full, n, t)
        assert zt_full is not None and inv_full is not None

        def resid_null(x: FloatArray) -> FloatArray:
            xt = two_way_demean(x)
            if zt_null is None or inv_null is None:
                return xt
            return xt - zt_null @ (inv_null @ np.einsum("ntk,nt->k", zt_null, xt))

        def resid_full(x: FloatArray) -> FloatArray:
            xt = two_way_demean(x)
            return xt - zt_full @ (inv_full @ np.einsum("ntk,nt->k", zt_full, xt))

        self.theta = float(np.sum(A * Y))
        # Unrestricted residuals and the CRV1 standard error of the estimate.
        scores = np.bincount(
            codes, weights=np.sum(A * resid_full(Y), axis=1), minlength=g
        )
        self.se = float(np.sqrt(self.ssc * np.sum(scores**2)))
        # Restricted residuals u0(theta0) = ua - theta0 * ub.
        ua, ub = resid_null(Y), resid_null(Dn)
        # Centre of the bootstrap distribution: A . fit0(theta0) = theta0 + ca - theta0 cb
        # with ca = A . P Y and cb = A . P Dn (P projects on the null model's effects);
        # both are zero when A removes unit and period effects (and the controls).
        self.ca = float(np.sum(A * (Y - ua)))
        self.cb = float(np.sum(A * (Dn - ub)))
        sa = np.bincount(codes, weights=np.sum(A * ua, axis=1), minlength=g)
        sb = np.bincount(codes, weights=np.sum(A * ub, axis=1), minlength=g)
        self.alpha_b = sa @ V  # numerator of draw b: alpha_b - theta0 * beta_b
        self.beta_b = sb @ V
        # Bootstrap scores of draw b for cluster g: p - theta0 * q, shape (G, B).
        dga, la, ra = _cluster_k(A, ua, codes, g, zt_full, inv_full)
        dgb, lb, rb = _cluster_k(A, ub, codes, g, zt_full, inv_full)
        p = dga[:, None] * V - la @ (ra.T @ V)
        q = dgb[:, None] * V - lb @ (rb.T @ V)
        self.pp = np.einsum("gb,gb->b", p, p)
        self.pq = np.einsum("gb,gb->b", p, q)
        self.qq = np.einsum("gb,gb->b", q, q)
        self.n_draws = V.shape[1]

    def t_stat(self, theta0: float) -> float:
        return (self.theta - theta0) / self.se

    def t_boot(self, theta0: float) -> FloatArray:
        num = self.alpha_b - theta0 * self.beta_b
        var = self.ssc * (self.pp - 2.0 * theta0 * self.pq + theta0**2 * self.qq)
        var = np.maximum(var, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            tb = num / np.sqrt(var)
        # 0/0 (a draw that reproduces the fitted null exactly) counts as t* = 0.
        return np.where(var > 0, tb, np.where(np.abs(num) > 0, np.inf, 0.0))

    def pvalue(self, theta0: float) -> float:
        t = abs(self.t_stat(theta0))
        tb = np.abs(self.t_boot(theta0))
        return float(np.mean(tb >= t * (1.0 - 1e-10) - 1e-14))


def wild_cluster_bootstrap(
    Y: ArrayLike,
    A: ArrayLike,
    D: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    weights: str = "auto",
    n_boot: int = 999,
    alpha: float = 0.05,
    seed: Any = None,
    null: float = 0.0,
    controls: ArrayLike | None = None,
    ci: bool = True,
) -> InferenceOutput:
    """Restricted wild cluster bootstrap test and interval for ``theta = sum(A * Y)``.

    Parameters
    ----------
    Y : array_like of shape (N, T)
        Outcome of a balanced panel (no missing values).
    A : array_like of shape (N, T)
        Weights of the linear estimator, e.g. :func:`impact.inference.twfe_weights`.
    D : array_like of bool, shape (N, T)
        The cells the effect shifts: the treatment indicator for an overall ATT, or
        the cells of one event time for an event-study coefficient. The null model
        adds ``theta0 * D / sum(A * D)``; ``sum(A * D)`` must not be zero.
    clusters : array_like of shape (N,), optional
        Cluster label per unit (default: every unit is a cluster).
    weights : {"auto", "webb", "rademacher"}, default "auto"
        Bootstrap weights. "auto" uses Webb's six-point weights when there are fewer
        than 13 clusters or fewer than ``FEW_TREATED_THRESHOLD`` treated clusters,
        Rademacher otherwise. When 2^G (6^G for Webb) is at most ``n_boot`` every
        weight vector is enumerated and the p-value is exact.
    n_boot : int, default 999
        Bootstrap draws.
    alpha : float, default 0.05
        One minus the confidence level of the interval.
    seed : int, numpy Generator or None
        Seed of the weight draws.
    null : float, default 0.0
        Null value for the reported p-value.
    controls : array_like of shape (N, T, k), optional
        Extra regressors kept in both the null and the unrestricted model (e.g. the
        other event-time dummies of an event study).
    ci : bool, default True
        Invert the test for a confidence interval.

    Returns
    -------
    InferenceOutput
        ``method="wild"``; ``se`` is the interval-implied standard error
        (width / (2 z); ``inf`` for an unbounded interval, NaN with ``ci=False``);
        the cluster-robust one is ``details["crve_se"]``.

    Notes
    -----
    Bootstrap p-value: the share of draws with ``|t*| >= |t|`` (symmetric test). With
    one treated cluster the restricted bootstrap essentially never rejects and its
    interval is very wide or unbounded: the bootstrap statistic then mirrors the
    observed one (MacKinnon and Webb 2017, JAE 32(2)); use randomization inference.
    """
    y = as_matrix(Y, "Y", _CALLER)
    a = as_matrix(A, "A", _CALLER, y.shape)
    d_raw = np.asarray(D)
    if d_raw.shape != y.shape:
        raise DataError(
            f"D passed to {_CALLER} has shape {d_raw.shape}; expected {y.shape}."
        )
    d = d_raw.astype(float)
    check_option("weights", weights, ["auto", "webb", "rademacher"], _CALLER)
    n_boot = check_draws("n_boot", n_boot, _CALLER, minimum=9)
    alpha = check_alpha(alpha, _CALLER)
    n, t = y.shape
    codes, labels = as_cluster_index(clusters, n, _CALLER)
    g = len(labels)
    if g < 2:
        raise EstimationError(f"{_CALLER} needs at least 2 clusters; got {g}.")
    z = None
    if controls is not None:
        z = np.asarray(controls, dtype=float).reshape(n, t, -1)
        if not np.all(np.isfinite(z)):
            raise DataError(f"controls passed to {_CALLER} have missing values.")
    ad = float(np.sum(a * d))
    if not abs(ad) > 1e-10 * max(1.0, float(np.abs(a).sum())):
        raise SpecError(
            "sum(A * D) is zero: shifting the cells in D does not move the estimate, so "
            "the null cannot be imposed. Pass as D the cells whose effect the estimate "
            "measures (e.g. the event-time dummy of the coefficient)."
        )
    dn = d / ad
    treated_cl = np.unique(codes[d.any(axis=1)])
    n_treated_cl = len(treated_cl)
    warnings: list[str] = []
    if weights == "auto":
        few = g < FEW_CLUSTERS_WEBB or n_treated_cl < FEW_TREATED_THRESHOLD
        kind = "webb" if few else "rademacher"
    else:
        kind = weights
    V, exact = draw_weights(kind, g, n_boot, as_generator(seed))
    prob = _WildProblem(y, a, dn, z, codes, g, V)
    if not np.isfinite(prob.se) or prob.se <= 0:
        raise EstimationError(
            "The cluster-robust standard error is zero: the residuals are all zero or "
            "A puts no weight on any residual variation; inference is impossible."
        )
    centre_gap = abs(prob.ca - null * prob.cb)
    if centre_gap > 1e-6 * (abs(prob.theta) + prob.se) or abs(prob.cb) > 1e-6:
        warnings.append(
            "The estimator weights A do not remove unit and period effects (or the "
            "controls), so the bootstrap is centred on A . fit0 rather than the null; "
            "check the weights."
        )
    pval = prob.pvalue(null)
    if n_treated_cl < FEW_TREATED_WILD:
        warnings.append(
            f"{n_treated_cl} treated cluster(s): with fewer than {FEW_TREATED_WILD} the "
            "restricted wild bootstrap is very conservative (it almost never rejects a "
            "true null, and rarely a false one); prefer inference='permutation'."
        )
    if exact and kind == "rademacher" and 2**g < 1 / alpha * 2:
        warnings.append(
            f"Only {2**g} distinct Rademacher draws with {g} clusters: p-values below "
            f"{2 / 2**g:.3g} are impossible."
        )
    interval: tuple[float, float] = (float("nan"), float("nan"))
    se_out = float("nan")
    if ci:
        interval, w = invert_test(prob.pvalue, prob.theta, prob.se, alpha)
        warnings.extend(w)
        zq = float(stats.norm.ppf(1 - alpha / 2))
        se_out = (interval[1] - interval[0]) / (2 * zq)
    t_obs = prob.t_stat(null)
    details: dict[str, Any] = {
        "estimate": prob.theta,
        "t_stat": t_obs,
        "null": null,
        "bootstrap_type": "WCR",
        "weights": kind,
        "n_clusters": g,
        "n_treated_clusters": n_treated_cl,
        "crve_se": prob.se,
        "crve_pvalue": float(2 * stats.t.sf(abs(t_obs), df=g - 1)),
        "t_boot": prob.t_boot(null),
    }
    return InferenceOutput(
        method="wild",
        se=float(se_out),
        ci=interval,
        pvalue=pval,
        n_draws=prob.n_draws,
        exact=exact,
        details=details,
        warnings=warnings,
    )
