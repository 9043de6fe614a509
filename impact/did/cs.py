"""Callaway and Sant'Anna (2021) group-time average treatment effects ATT(g,t).

Each ATT(g,t) is a 2x2 comparison of cohort ``g`` with a comparison group (never
treated, or not yet treated at ``max(t, base) + anticipation``) between period ``t``
and a base period (``g - 1 - anticipation`` for post periods; ``t - 1`` before
treatment when ``base_period="varying"``). Without covariates it is a difference of
(weighted) mean changes. With covariates it is the outcome-regression (``"reg"``),
normalised inverse-probability-weighting (``"ipw"``) or doubly robust (``"dr"``)
estimator of Sant'Anna and Zhao (2020), covariates taken in the base period.

Every ATT(g,t) comes with its influence function over all N units, scaled so that
``se = sqrt(sum_c (sum_{i in c} psi_i)^2) / N`` (the convention of R ``did``), so
aggregations and the multiplier bootstrap are matrix products (no N x N matrices).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from impact.errors import EstimationError, ImpactWarning

__all__ = ["CSFit", "cluster_se", "compute_att_gt", "logit_fit"]

FloatArray = NDArray[np.float64]
_TRIM = 0.995  # comparison units with a propensity score above this are trimmed


@dataclass
class CSFit:
    """ATT(g,t) estimates and their influence functions.

    Attributes
    ----------
    group, time : ndarray (K,)
        Cohort and period of each cell (period labels).
    gidx, tidx, bidx : ndarray of int (K,)
        Index (0..T-1) of the cohort, the period and the base period.
    att : ndarray (K,)
        ATT(g,t).
    inf : ndarray (N, K)
        Influence functions (R ``did`` scale).
    post : ndarray of bool (K,)
        Whether ``t >= g``.
    n_treated, n_control : ndarray of int (K,)
        Units in the cohort and in the comparison group of each cell.
    reference : ndarray of bool (K,)
        Cells that are the universal base period (ATT fixed at 0, no SE).
    """

    group: FloatArray
    time: FloatArray
    gidx: NDArray[np.intp]
    tidx: NDArray[np.intp]
    bidx: NDArray[np.intp]
    att: FloatArray
    inf: FloatArray
    post: NDArray[np.bool_]
    n_treated: NDArray[np.intp]
    n_control: NDArray[np.intp]
    reference: NDArray[np.bool_]
    warnings: list[str] = field(default_factory=list)


def cluster_se(inf: FloatArray, codes: NDArray[np.intp] | None, n: int) -> FloatArray:
    """Standard errors of estimates with influence functions ``inf`` (N, K).

    Parameters
    ----------
    inf : ndarray (N, K)
        Influence functions (R ``did`` scale).
    codes : ndarray of int (N,) or None
        Cluster codes; None means one cluster per unit.
    n : int
        Number of units.

    Returns
    -------
    ndarray (K,)
        ``sqrt(sum_c (sum_{i in c} psi_i)^2) / n``.
    """
    summed = inf if codes is None else _cluster_sum(inf, codes)
    return np.sqrt((summed**2).sum(axis=0)) / n


def _cluster_sum(inf: FloatArray, codes: NDArray[np.intp] | None) -> FloatArray:
    if codes is None:
        return inf
    out = np.zeros((int(codes.max()) + 1, inf.shape[1]))
    np.add.at(out, codes, inf)
    return out


def logit_fit(
    X: FloatArray, d: FloatArray, w: FloatArray, *, max_iter: int = 100
) -> FloatArray:
    """Weighted logit by Newton-Raphson; returns the coefficients.

    Parameters
    ----------
    X : ndarray (n, p)
        Design with intercept.
    d : ndarray (n,)
        0/1 outcome.
    w : ndarray (n,)
        Weights.
    max_iter : int
        Newton iterations.

    Returns
    -------
    ndarray (p,)
        Maximum-likelihood coefficients.
    """
    p = X.shape[1]
    beta = np.zeros(p)
    share = float(np.average(d, weights=w))
    beta[0] = np.log(share / (1 - share))
    old = -np.inf
    for _ in range(max_iter):
        eta = np.clip(X @ beta, -35, 35)
        prob = 1 / (1 + np.exp(-eta))
        loglik = float(np.sum(w * (d * eta - np.logaddexp(0, eta))))
        grad = X.T @ (w * (d - prob))
        hess = (X * (w * prob * (1 - prob))[:, None]).T @ X
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(
                "The propensity-score logit is singular (covariates collinear within "
                "a cohort/comparison pair); drop a covariate or use est_method='reg'."
            ) from exc
        beta = beta + step
        if abs(loglik - old) < 1e-12 * (abs(loglik) + 1) and np.abs(step).max() < 1e-10:
            break
        old = loglik
    return beta


def _wls(X: FloatArray, y: FloatArray, w: FloatArray) -> FloatArray:
    xtx = (X * w[:, None]).T @ X
    try:
        return np.asarray(np.linalg.solve(xtx, (X * w[:, None]).T @ y), dtype=float)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            "The outcome regression on the covariates is singular in a comparison "
            "group (a covariate has no variation there); drop it."
        ) from exc


def _cell_covariates(
    delta: FloatArray,
    X: FloatArray,
    treat: NDArray[np.bool_],
    w: FloatArray,
    method: str,
) -> tuple[float, FloatArray]:
    """ATT and influence function (subsample scale, mean-one weights) with covariates."""
    n1 = len(delta)
    w = w / w.mean()
    D = treat.astype(float)
    ctrl = 1.0 - D
    w1 = w * D
    if method in ("reg", "dr"):
        beta = _wls(X[ctrl > 0], delta[ctrl > 0], w[ctrl > 0])
        fitted = X @ beta
        xtx0 = (X * (w * ctrl)[:, None]).T @ X / n1
        lin_beta = np.linalg.solve(
            xtx0, (X * (w * ctrl * (delta - fitted))[:, None]).T
        ).T
    if method == "reg":
        p1 = w1.mean()
        att = float(np.mean(w1 * (delta - fitted)) / p1)
        m1 = (w1[:, None] * X).mean(axis=0)
        inf = (w1 * (delta - fitted - att) - lin_beta @ m1) / p1
        return att, inf
    gamma = logit_fit(X, D, w)
    ps = 1 / (1 + np.exp(-np.clip(X @ gamma, -35, 35)))
    ps = np.minimum(ps, 1 - 1e-6)
    keep = np.where(D > 0, 1.0, (ps < _TRIM).astype(float))
    w1 = w1 * keep
    w0 = w * ctrl * ps / (1 - ps) * keep
    hess = (X * (w * ps * (1 - ps))[:, None]).T @ X / n1
    lin_ps = np.linalg.solve(hess, (X * (w * (D - ps))[:, None]).T).T
    if method == "ipw":
        eta1 = np.mean(w1 * delta) / np.mean(w1)
        eta0 = np.mean(w0 * delta) / np.mean(w0)
        att = float(eta1 - eta0)
        inf_t = (w1 * (delta - eta1)) / np.mean(w1)
        m2 = ((w0 * (delta - eta0))[:, None] * X).mean(axis=0)
        inf_c = (w0 * (delta - eta0) + lin_ps @ m2) / np.mean(w0)
        return att, inf_t - inf_c
    resid = delta - fitted
    eta1 = np.mean(w1 * resid) / np.mean(w1)
    eta0 = np.mean(w0 * resid) / np.mean(w0)
    att = float(eta1 - eta0)
    m1 = (w1[:, None] * X).mean(axis=0)
    inf_t = (w1 * (resid - eta1) - lin_beta @ m1) / np.mean(w1)
    m2 = ((w0 * (resid - eta0))[:, None] * X).mean(axis=0)
    m3 = (w0[:, None] * X).mean(axis=0)
    inf_c = (w0 * (resid - eta0) + lin_ps @ m2 - lin_beta @ m3) / np.mean(w0)
    return att, inf_t - inf_c


def compute_att_gt(
    Y: FloatArray,
    cohort_idx: FloatArray,
    periods: NDArray[np.int64],
    *,
    weights: FloatArray | None = None,
    X: FloatArray | None = None,
    control: str = "never",
    est_method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
    real_idx: FloatArray | None = None,
    with_inf: bool = True,
    cell_weights: FloatArray | None = None,
) -> CSFit:
    """Estimate every ATT(g,t) with its influence function.

    Parameters
    ----------
    Y : ndarray (N, T)
        Balanced outcomes.
    cohort_idx : ndarray (N,)
        Index of the first treated period (``np.inf`` for never treated).
    periods : ndarray (T,)
        Period labels.
    weights : ndarray (N,), optional
        Unit weights (time-invariant).
    X : ndarray (N, T, p), optional
        Covariates (their base-period values are used).
    control : {"never", "notyet"}
        Comparison group.
    est_method : {"dr", "ipw", "reg"}
        Estimator used with covariates (identical without covariates).
    anticipation : int
        Periods of anticipation.
    base_period : {"varying", "universal"}
        Base period of pre-treatment cells.
    real_idx : ndarray (N,), optional
        For placebo-in-time runs: the true first treated period index. Cells are kept
        only when both periods precede the cohort's true adoption, and not-yet-treated
        comparisons use the true adoption.
    with_inf : bool
        Compute influence functions (False for point estimates only).
    cell_weights : ndarray (N, T), optional
        Unbalanced panel: the weight of each unit-period cell, 0 where the row is
        missing (``Y`` must then be finite everywhere, e.g. 0 in missing cells).
        Each ATT(g,t) compares the weighted means of the rows that exist in each
        period (R ``did``'s ``allow_unbalanced_panel=TRUE``: the repeated
        cross-section estimator with influence functions summed by unit). No
        covariates.

    Returns
    -------
    CSFit
        Cells, estimates and influence functions.
    """
    n, n_t = Y.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    true_idx = cohort_idx if real_idx is None else real_idx
    gvals = np.unique(cohort_idx[np.isfinite(cohort_idx)]).astype(int)
    rows: list[tuple[int, int, int, bool, bool]] = []
    notes: list[str] = []
    for g in gvals:
        base_post = g - 1 - anticipation
        if base_post < 0:
            notes.append(
                f"Cohort {periods[min(g, n_t - 1)]} has no pre-treatment period once "
                f"anticipation={anticipation} is allowed; it is left out."
            )
            continue
        t_start = 1 if base_period == "varying" else 0
        for t in range(t_start, n_t):
            if t >= g:
                b, ref = base_post, False
            elif base_period == "varying":
                b, ref = t - 1, False
            else:
                b, ref = base_post, t == base_post
            rows.append((int(g), t, b, t >= g, ref))
    if real_idx is not None:
        true_g = {int(g): np.unique(true_idx[cohort_idx == g]) for g in gvals}
        rows = [r for r in rows if max(r[1], r[2]) < float(true_g[r[0]].min())]
    if not rows:
        raise EstimationError(
            "No ATT(g,t) can be estimated: no cohort has a pre-treatment period "
            f"(anticipation={anticipation}). Reduce anticipation or check the cohorts."
        )
    k = len(rows)
    if cell_weights is not None:
        if X is not None:
            raise EstimationError(
                "Callaway-Sant'Anna with covariates on an unbalanced panel is not "
                "available; drop the units with gaps (balance='drop') or the covariates."
            )
        return _finish(
            *_cells_unbalanced(
                Y,
                cohort_idx,
                true_idx,
                np.asarray(cell_weights, dtype=float),
                rows,
                control,
                anticipation,
                with_inf,
            ),
            rows,
            periods,
            notes,
        )
    if X is None:
        return _finish(
            *_cells_no_covariates(
                Y, cohort_idx, true_idx, w, rows, control, anticipation, with_inf
            ),
            rows,
            periods,
            notes,
        )
    att = np.full(k, np.nan)
    inf = np.zeros((n, k)) if with_inf else np.zeros((n, 0))
    n_tr = np.zeros(k, dtype=np.intp)
    n_co = np.zeros(k, dtype=np.intp)
    never = ~np.isfinite(true_idx)
    for j, (g, t, b, _post, ref) in enumerate(rows):
        treat = cohort_idx == g
        if control == "never":
            ctrl = never.copy()
        else:
            ctrl = never | ((true_idx > max(t, b) + anticipation) & ~treat)
        n_tr[j] = int(treat.sum())
        n_co[j] = int(ctrl.sum())
        if ref:
            att[j] = 0.0
            continue
        if n_co[j] == 0:
            continue
        delta = Y[:, t] - Y[:, b]
        sub = treat | ctrl
        Xb = X[sub][:, min(t, b), :]
        design = np.column_stack([np.ones(int(sub.sum())), Xb])
        a, psi = _cell_covariates(delta[sub], design, treat[sub], w[sub], est_method)
        att[j] = a
        if with_inf:
            inf[sub, j] = n / sub.sum() * psi
    return _finish(att, inf, n_tr, n_co, rows, periods, notes)


def _cells_no_covariates(
    Y: FloatArray,
    cohort_idx: FloatArray,
    true_idx: FloatArray,
    w: FloatArray,
    rows: list[tuple[int, int, int, bool, bool]],
    control: str,
    anticipation: int,
    with_inf: bool,
) -> tuple[FloatArray, FloatArray, NDArray[np.intp], NDArray[np.intp]]:
    """Weighted differences of mean changes, one cell at a time (O(N) per cell)."""
    n = len(w)
    k = len(rows)
    att = np.full(k, np.nan)
    inf = np.zeros((n, k)) if with_inf else np.zeros((n, 0))
    n_tr = np.zeros(k, dtype=np.intp)
    n_co = np.zeros(k, dtype=np.intp)
    never = ~np.isfinite(true_idx)
    w_never = np.where(never, w, 0.0)
    Yt = np.ascontiguousarray(Y.T)  # rows are periods: contiguous column access
    for j, (g, t, b, _post, ref) in enumerate(rows):
        treat = cohort_idx == g
        w1 = np.where(treat, w, 0.0)
        if control == "never":
            w0 = w_never
        else:
            ctrl = never | ((true_idx > max(t, b) + anticipation) & ~treat)
            w0 = np.where(ctrl, w, 0.0)
        n_tr[j] = int(treat.sum())
        n_co[j] = int(never.sum()) if control == "never" else int(ctrl.sum())
        if ref:
            att[j] = 0.0
            continue
        s1, s0 = w1.sum(), w0.sum()
        if s1 <= 0 or s0 <= 0:
            continue
        delta = Yt[t] - Yt[b]
        m1 = float(w1 @ delta) / s1
        m0 = float(w0 @ delta) / s0
        att[j] = m1 - m0
        if with_inf:
            inf[:, j] = n * (w1 * (delta - m1) / s1 - w0 * (delta - m0) / s0)
    return att, inf, n_tr, n_co


def _cells_unbalanced(
    Y: FloatArray,
    cohort_idx: FloatArray,
    true_idx: FloatArray,
    Wc: FloatArray,
    rows: list[tuple[int, int, int, bool, bool]],
    control: str,
    anticipation: int,
    with_inf: bool,
) -> tuple[FloatArray, FloatArray, NDArray[np.intp], NDArray[np.intp]]:
    """Differences of the four weighted cell means over the rows that exist.

    The influence function of each mean is ``w_it (y_it - m) / sum(w)`` per row,
    summed within units; on a balanced panel this is the panel estimator exactly.
    """
    n = Y.shape[0]
    k = len(rows)
    att = np.full(k, np.nan)
    inf = np.zeros((n, k)) if with_inf else np.zeros((n, 0))
    n_tr = np.zeros(k, dtype=np.intp)
    n_co = np.zeros(k, dtype=np.intp)
    never = ~np.isfinite(true_idx)
    for j, (g, t, b, _post, ref) in enumerate(rows):
        treat = cohort_idx == g
        if control == "never":
            ctrl = never
        else:
            ctrl = never | ((true_idx > max(t, b) + anticipation) & ~treat)
        n_tr[j] = int(treat.sum())
        n_co[j] = int(ctrl.sum())
        if ref:
            att[j] = 0.0
            continue
        value = 0.0
        psi = np.zeros(n)
        for col, group, sign in (
            (t, treat, 1.0),
            (b, treat, -1.0),
            (t, ctrl, -1.0),
            (b, ctrl, 1.0),
        ):
            ww = np.where(group, Wc[:, col], 0.0)
            total = float(ww.sum())
            if total <= 0:
                value = np.nan
                break
            m = float(ww @ Y[:, col]) / total
            value += sign * m
            psi += sign * ww * (Y[:, col] - m) / total
        att[j] = value
        if with_inf and np.isfinite(value):
            inf[:, j] = n * psi
    return att, inf, n_tr, n_co


def _finish(
    att: FloatArray,
    inf: FloatArray,
    n_tr: NDArray[np.intp],
    n_co: NDArray[np.intp],
    rows: list[tuple[int, int, int, bool, bool]],
    periods: NDArray[np.int64],
    notes: list[str],
) -> CSFit:
    """Drop cells that could not be estimated (with a note) and build the CSFit."""
    arr = np.array(rows, dtype=np.intp)
    ok = np.isfinite(att)
    for j in np.flatnonzero(~ok):
        notes.append(
            f"ATT({periods[arr[j, 0]]},{periods[arr[j, 1]]}) has no comparison units "
            "and is left out."
        )
    if not ok.all():
        arr, att, n_tr, n_co = arr[ok], att[ok], n_tr[ok], n_co[ok]
        inf = inf[:, ok] if inf.shape[1] else inf
    if len(att) == 0:
        raise EstimationError(
            "No ATT(g,t) could be estimated: every cohort lacks a comparison group. "
            "Try control='notyet' or check the cohorts."
        )
    for msg in notes:
        warnings.warn(msg, ImpactWarning, stacklevel=3)
    gidx, tidx, bidx = arr[:, 0], arr[:, 1], arr[:, 2]
    return CSFit(
        group=periods[gidx].astype(float),
        time=periods[tidx].astype(float),
        gidx=gidx,
        tidx=tidx,
        bidx=bidx,
        att=att,
        inf=inf,
        post=arr[:, 3].astype(bool),
        n_treated=n_tr,
        n_control=n_co,
        reference=arr[:, 4].astype(bool),
        warnings=notes,
    )
