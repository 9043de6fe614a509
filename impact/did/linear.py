"""DiD estimators written as ``theta = sum(A * Y)``, for few-treated inference.

Every estimator here is linear in the outcome for a fixed cohort assignment: the
2x2, the static TWFE coefficient, the average post-treatment event-study coefficient,
Callaway-Sant'Anna's simple ATT without covariates, and Sun-Abraham's ATT. This module
gives

- :func:`weight_matrix`: the (N, T) matrix ``A`` for the observed assignment (used by
  the wild cluster bootstrap), and
- :func:`make_estimate_batch`: a function ``(Y, cohorts (B, N)) -> (B,)`` evaluating
  the estimator for B cohort assignments at once (used by randomization inference).
  The 2x2, TWFE and Callaway-Sant'Anna batches are matrix products over the
  assignments (no loop over units or assignments); event studies with an arbitrary
  design loop over assignments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from impact.did._fe import demean
from impact.errors import SpecError
from impact.panel import Panel

__all__ = [
    "coefficient_weights",
    "cs_simple_batch",
    "make_estimate_batch",
    "twfe_batch",
    "weight_matrix",
]

FloatArray = NDArray[np.float64]
Batch = Callable[[FloatArray, FloatArray], FloatArray]


def _regression_contrast(
    Xd: FloatArray, W: FloatArray | None, c: FloatArray
) -> FloatArray:
    """``A`` with ``c' beta = sum(A * Y)`` for FE regression with demeaned ``Xd``."""
    w = np.ones(Xd.shape[:2]) if W is None else W
    k = Xd.shape[2]
    Xw = Xd * w[:, :, None]
    xtx = Xw.reshape(-1, k).T @ Xd.reshape(-1, k)
    try:
        return np.asarray(Xw @ np.linalg.solve(xtx, c), dtype=float)
    except np.linalg.LinAlgError:
        # a re-assigned design whose regressors are collinear (e.g. on an unbalanced
        # panel): not estimable, reported as NaN (randomization inference then says so)
        return np.full(Xd.shape[:2], np.nan)


def _cs_simple_A(
    cidx: FloatArray,
    n_t: int,
    w: FloatArray,
    control: str,
    anticipation: int,
    cell_weights: FloatArray | None = None,
) -> FloatArray:
    n = len(cidx)
    A = np.zeros((n, n_t))
    never = ~np.isfinite(cidx)
    gvals = np.unique(cidx[~never]).astype(int)
    sizes = {g: float(w[cidx == g].sum()) for g in gvals}
    cells = []
    for g in gvals:
        b = g - 1 - anticipation
        if b < 0:
            continue
        for t in range(g, n_t):
            cells.append((g, t, b))
    total = sum(sizes[g] for g, _, _ in cells)
    for g, t, b in cells:
        treat = cidx == g
        ctrl = (
            never
            if control == "never"
            else (never | ((cidx > max(t, b) + anticipation) & ~treat))
        )
        omega = sizes[g] / total
        if cell_weights is not None:  # unbalanced: the rows that exist per period
            for col, sign in ((t, 1.0), (b, -1.0)):
                wt = np.where(treat, cell_weights[:, col], 0.0)
                wc = np.where(ctrl, cell_weights[:, col], 0.0)
                a = wt / max(wt.sum(), 1e-300) - wc / max(wc.sum(), 1e-300)
                A[:, col] += sign * omega * a
            continue
        a = np.where(treat, w / sizes[g], 0.0)
        if ctrl.any():
            a = a - np.where(ctrl, w / w[ctrl].sum(), 0.0)
        A[:, t] += omega * a
        A[:, b] -= omega * a
    return A


def weight_matrix(
    method: str,
    panel: Panel,
    cohort_idx: FloatArray,
    *,
    X: FloatArray | None = None,
    control: str = "never",
    anticipation: int = 0,
    base_period: str = "varying",
    ref_period: Any = -1,
    bins: Any = None,
) -> FloatArray:
    """Weight matrix ``A`` (N, T) with ``estimate = sum(A * Y)``.

    Parameters
    ----------
    method : {"2x2", "twfe", "event_study", "cs", "sunab"}
        Estimator (``"cs"`` without covariates).
    panel : Panel
        The data (weights, periods).
    cohort_idx : ndarray (N,)
        Cohort index per unit (inf = never treated).
    X : ndarray (N, T, p), optional
        Extra regressors of the regression methods.
    control, anticipation, base_period : as in :func:`impact.did`
        Callaway-Sant'Anna options (the simple ATT uses only post periods, so the
        base period option does not change it).
    ref_period, bins : as in :func:`impact.did`
        Event-study options.

    Returns
    -------
    ndarray (N, T)
        The weights.
    """
    from impact.did.regression import event_design

    n, n_t = panel.Y.shape
    _ = base_period
    uw = np.ones(n) if panel.unit_weights is None else panel.unit_weights
    if method == "cs":
        if X is not None:
            raise SpecError("method='cs' with covariates is not linear in the outcome.")
        cw = panel.W if panel.has_gaps else None
        return _cs_simple_A(cohort_idx, n_t, uw, control, anticipation, cw)
    if method == "2x2":
        treated = np.isfinite(cohort_idx)
        g = int(np.unique(cohort_idx[treated])[0])
        if panel.has_gaps:
            obs = panel.observed.astype(float)
            n_pre = obs[:, :g].sum(axis=1)
            n_post = obs[:, g:].sum(axis=1)
            usable = (n_pre > 0) & (n_post > 0)
            uw = np.where(usable, uw, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                time_w = np.where(
                    np.arange(n_t)[None, :] >= g,
                    obs / n_post[:, None],
                    -obs / n_pre[:, None],
                )
            time_w = np.where(usable[:, None], time_w, 0.0)
        else:
            time_w = np.broadcast_to(
                np.where(np.arange(n_t) >= g, 1.0 / (n_t - g), -1.0 / g), (n, n_t)
            )
        a = np.where(treated, uw / uw[treated].sum(), -uw / uw[~treated].sum())
        return np.asarray(a[:, None] * time_w, dtype=float)
    extra = X if X is not None else np.zeros((n, n_t, 0))
    W = panel.W
    if method == "twfe":
        D = (np.arange(n_t)[None, :] >= cohort_idx[:, None]).astype(float)
        Xm = np.concatenate([D[:, :, None], extra], axis=2)
        c = np.zeros(Xm.shape[2])
        c[0] = 1.0
        return _regression_contrast(demean(Xm, W), W, c)
    saturate = method == "sunab"
    design = event_design(
        cohort_idx,
        n_t,
        ref_period=ref_period,
        bins=bins,
        saturate=saturate,
        observed=panel.observed if panel.has_gaps else None,
    )
    k = design.X.shape[2]
    Xm = np.concatenate([design.X, extra], axis=2)
    c = np.zeros(Xm.shape[2])
    post = design.e >= 0
    if not post.any():
        raise SpecError("No post-treatment event time to aggregate.")
    if saturate:
        sizes = np.array([uw[cohort_idx == g].sum() for g in design.group])
        c[:k] = np.where(post, sizes, 0.0) / sizes[post].sum()
    else:
        c[:k] = np.where(post, 1.0 / post.sum(), 0.0)
    return _regression_contrast(demean(Xm, W), W, c)


def twfe_batch(Y: FloatArray, cidx: FloatArray) -> FloatArray:
    """Unweighted TWFE coefficients for B cohort assignments (vectorised).

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcomes (balanced).
    cidx : ndarray (B, N)
        Cohort index per unit and assignment (inf = never treated).

    Returns
    -------
    ndarray (B,)
        ``sum(D Y~) / sum(D D~)`` for each assignment.
    """
    n, n_t = Y.shape
    Yd = demean(Y)
    tail = np.concatenate(
        [np.cumsum(Yd[:, ::-1], axis=1)[:, ::-1], np.zeros((n, 1))], axis=1
    )
    idx = np.where(np.isfinite(cidx), cidx, n_t).astype(np.intp)
    num = tail[np.arange(n)[None, :], idx].sum(axis=1)
    r = (n_t - idx).astype(float)
    total = r.sum(axis=1)
    b = idx.shape[0]
    counts = np.bincount(
        (idx + (n_t + 1) * np.arange(b)[:, None]).ravel(), minlength=b * (n_t + 1)
    ).reshape(b, n_t + 1)
    col = np.cumsum(counts[:, :n_t], axis=1).astype(float)
    den = (
        total
        - (r**2).sum(axis=1) / n_t
        - (col**2).sum(axis=1) / n
        + total**2 / (n * n_t)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 1e-12, num / den, np.nan)


def cs_simple_batch(
    Y: FloatArray,
    cidx: FloatArray,
    *,
    weights: FloatArray | None = None,
    control: str = "never",
    anticipation: int = 0,
    cell_weights: FloatArray | None = None,
) -> FloatArray:
    """Callaway-Sant'Anna simple ATT (no covariates) for B assignments (vectorised).

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcomes.
    cidx : ndarray (B, N)
        Cohort index per unit and assignment (inf = never treated).
    weights : ndarray (N,), optional
        Unit weights.
    control : {"never", "notyet"}
        Comparison group.
    anticipation : int
        Periods of anticipation.
    cell_weights : ndarray (N, T), optional
        Unbalanced panel: weight of each cell, 0 where the row is missing.

    Returns
    -------
    ndarray (B,)
        Cohort-size-weighted average of the post-treatment ATT(g,t).
    """
    n, n_t = Y.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if cell_weights is not None:
        return _cs_simple_batch_rows(
            Y, cidx, w, np.asarray(cell_weights, float), control, anticipation
        )
    Yw = Y * w[:, None]
    never = (~np.isfinite(cidx)).astype(float)
    s_never = never @ Yw  # (B, T)
    c_never = never @ w  # (B,)
    gvals = np.unique(cidx[np.isfinite(cidx)]).astype(int)
    sums = {}
    counts = {}
    for g in gvals:
        m = (cidx == g).astype(float)
        sums[g] = m @ Yw
        counts[g] = m @ w
    num = np.zeros(cidx.shape[0])
    den = np.zeros(cidx.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        for g in gvals:
            b = g - 1 - anticipation
            if b < 0:
                continue
            cg = counts[g]
            for t in range(g, n_t):
                s_c, c_c = s_never, c_never
                if control == "notyet":
                    later = [
                        h for h in gvals if h > max(t, b) + anticipation and h != g
                    ]
                    if later:
                        s_c = s_c + sum(sums[h] for h in later)
                        c_c = c_c + sum(counts[h] for h in later)
                att = (sums[g][:, t] - sums[g][:, b]) / cg - (
                    s_c[:, t] - s_c[:, b]
                ) / c_c
                att = np.where(cg > 0, att, 0.0)
                num += cg * att
                den += cg
        return num / den


def _cs_simple_batch_rows(
    Y: FloatArray,
    cidx: FloatArray,
    w: FloatArray,
    Wc: FloatArray,
    control: str,
    anticipation: int,
) -> FloatArray:
    """:func:`cs_simple_batch` on the rows that exist (cell weights, 0 = missing)."""
    n_t = Y.shape[1]
    Yw = Y * Wc
    never = (~np.isfinite(cidx)).astype(float)
    s_never, c_never = never @ Yw, never @ Wc  # (B, T)
    gvals = np.unique(cidx[np.isfinite(cidx)]).astype(int)
    sums, counts, sizes = {}, {}, {}
    for g in gvals:
        m = (cidx == g).astype(float)
        sums[g], counts[g], sizes[g] = m @ Yw, m @ Wc, m @ w
    num = np.zeros(cidx.shape[0])
    den = np.zeros(cidx.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        for g in gvals:
            b = g - 1 - anticipation
            if b < 0:
                continue
            for t in range(g, n_t):
                s_c, c_c = s_never, c_never
                if control == "notyet":
                    later = [
                        h for h in gvals if h > max(t, b) + anticipation and h != g
                    ]
                    if later:
                        s_c = s_c + sum(sums[h] for h in later)
                        c_c = c_c + sum(counts[h] for h in later)
                att = (
                    sums[g][:, t] / counts[g][:, t]
                    - sums[g][:, b] / counts[g][:, b]
                    - s_c[:, t] / c_c[:, t]
                    + s_c[:, b] / c_c[:, b]
                )
                ok = np.isfinite(att) & (sizes[g] > 0)
                num += np.where(ok, sizes[g] * att, 0.0)
                den += np.where(ok, sizes[g], 0.0)
        return num / den


def make_estimate_batch(
    method: str,
    panel: Panel,
    *,
    X: FloatArray | None = None,
    call: dict[str, Any] | None = None,
    control: str = "never",
    anticipation: int = 0,
    base_period: str = "varying",
    ref_period: Any = -1,
    bins: Any = None,
) -> Batch:
    """Return ``estimate_batch(Y, cohorts)`` for randomization inference.

    Parameters
    ----------
    method : str
        Estimator.
    panel : Panel
        The data; ``cohorts`` passed to the batch are period labels (inf = never).
    X : ndarray (N, T, p), optional
        Covariates.
    call : dict, optional
        The full options of the original call (for the non-linear fallback).
    control, anticipation, base_period, ref_period, bins
        As in :func:`impact.did`.

    Returns
    -------
    callable
        ``(Y (N, T), cohorts (B, N)) -> (B,)``.
    """
    periods = panel.periods

    def to_idx(cohorts: FloatArray) -> FloatArray:
        c = np.atleast_2d(np.asarray(cohorts, dtype=float))
        out = np.full(c.shape, np.inf)
        fin = np.isfinite(c)
        out[fin] = np.searchsorted(periods, c[fin])
        return out

    uw = panel.unit_weights
    if method == "cs" and X is None:
        cw = panel.W if panel.has_gaps else None

        def batch_cs(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
            return cs_simple_batch(
                Y,
                to_idx(cohorts),
                weights=uw,
                control=control,
                anticipation=anticipation,
                cell_weights=cw,
            )

        return batch_cs
    if (
        method == "sunab"
        and not panel.has_gaps
        and X is None
        and ref_period in (-1, [-1])
        and (~np.isfinite(panel.cohort)).any()
    ):
        # with only e = -1 excluded, Sun-Abraham's ATT equals the CS simple ATT with
        # never-treated comparisons (each cohort compared with g - 1)
        def batch_sunab(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
            return cs_simple_batch(Y, to_idx(cohorts), weights=uw, control="never")

        return batch_sunab
    if method == "twfe" and X is None and panel.W is None:

        def batch_twfe(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
            return twfe_batch(Y, to_idx(cohorts))

        return batch_twfe
    if method == "2x2" and not panel.has_gaps:

        def batch_2x2(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
            c = to_idx(cohorts)
            w = np.ones(Y.shape[0]) if uw is None else uw
            g = int(np.unique(panel_cidx[np.isfinite(panel_cidx)])[0])
            delta = (Y[:, g:].mean(axis=1) - Y[:, :g].mean(axis=1)) * w
            tr = np.isfinite(c).astype(float)
            co = 1.0 - tr
            return (tr @ delta) / (tr @ w) - (co @ delta) / (co @ w)

        from impact.did._cohorts import cohort_index as _cohort_index

        panel_cidx = _cohort_index(panel)
        return batch_2x2

    if method == "cs":
        from impact.did._cs_cov_batch import cs_covariate_att_batch, simple_att_batch

        opts = call or {}
        assert X is not None

        def batch_cs_cov(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
            # every assignment's cells fitted together (stacked WLS, batched logit);
            # linear in Y for a fixed assignment: the logit does not involve Y
            c = to_idx(cohorts)
            fits = cs_covariate_att_batch(
                Y,
                c,
                periods,
                X,
                weights=uw,
                control=control,
                est_method=opts.get("est_method", "dr"),
                anticipation=anticipation,
                base_period=base_period,
            )
            return simple_att_batch(fits, c, uw)

        return batch_cs_cov

    def batch_generic(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
        c = to_idx(cohorts)
        out = np.empty(c.shape[0])
        for j in range(c.shape[0]):  # design changes with each assignment
            A = weight_matrix(
                method,
                panel,
                c[j],
                X=X,
                control=control,
                anticipation=anticipation,
                ref_period=ref_period,
                bins=bins,
            )
            out[j] = float(np.sum(A * Y))
        return out

    return batch_generic


def coefficient_weights(
    method: str,
    panel: Panel,
    cohort_idx: FloatArray,
    *,
    ref_period: Any = -1,
    bins: Any = None,
) -> tuple[FloatArray, FloatArray]:
    """Weights of every treatment coefficient of a regression without covariates.

    Parameters
    ----------
    method : {"twfe", "event_study", "sunab"}
        Estimator.
    panel : Panel
        The data (its time-varying weights, if any, are used).
    cohort_idx : ndarray (N,)
        Cohort index per unit.
    ref_period, bins : as in :func:`impact.did`
        Event-study options.

    Returns
    -------
    A : ndarray (N, T, K)
        ``beta_k = sum(A[:, :, k] * Y)``.
    X : ndarray (N, T, K)
        The treatment regressors (to remove estimated effects: ``sum_k beta_k X_k``).
    """
    from impact.did.regression import event_design

    n, n_t = panel.Y.shape
    W = panel.W
    if method == "twfe":
        Xm = (np.arange(n_t)[None, :] >= cohort_idx[:, None]).astype(float)[:, :, None]
    else:
        design = event_design(
            cohort_idx,
            n_t,
            ref_period=ref_period,
            bins=bins,
            saturate=method == "sunab",
        )
        Xm = np.asarray(design.X, dtype=float)
    k = Xm.shape[2]
    return _regression_contrast(demean(Xm, W), W, np.eye(k)), Xm
