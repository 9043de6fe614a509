"""Callaway-Sant'Anna ATT(g,t) with covariates for many cohort assignments at once.

Randomization inference for ``impact.did(method="cs", covariates=...)`` re-estimates
every ATT(g,t) under hundreds of re-assigned cohorts. Refitting
:func:`impact.did.cs.compute_att_gt` once per assignment runs one Newton logit and one
weighted regression per cell and assignment in Python; here the same fits are run for
all assignments together:

* the outcome regression of each cell (``"reg"``, ``"dr"``) is one stacked weighted
  least-squares solve over the assignments, ``(B, p, p)`` normal equations built with
  ``einsum``;
* the propensity logit (``"ipw"``, ``"dr"``) is a batched Newton-Raphson with the same
  start, steps and stopping rule as :func:`impact.did.cs.logit_fit`, and it is fitted
  once per distinct (cohort, comparison group, covariate period) and reused by every
  cell that shares them (with time-invariant covariates and never-treated comparisons,
  one logit per cohort and assignment).

The estimators are those of :mod:`impact.did.cs` (Sant'Anna and Zhao 2020 outcome
regression, normalised IPW and doubly robust, comparison units with a propensity score
of 0.995 or more trimmed as R ``did`` does), so every returned ATT(g,t) equals the one
:func:`~impact.did.cs.compute_att_gt` gives for that assignment to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from impact._validation import check_option
from impact.errors import EstimationError, SpecError
from impact.parallel import progress_enabled

__all__ = ["CSCovariateBatch", "cs_covariate_att_batch", "simple_att_batch"]

FloatArray = NDArray[np.float64]
_TRIM = 0.995  # as impact.did.cs: comparison units with a score above this are trimmed
_CHUNK = 128  # assignments fitted together (bounds memory at about 10 MB per array)


@dataclass(frozen=True)
class CSCovariateBatch:
    """ATT(g,t) of every cell under every assignment.

    Attributes
    ----------
    att : ndarray (B, K)
        ATT(g,t) per assignment and cell; NaN where
        :func:`~impact.did.cs.compute_att_gt` leaves the cell out (no comparison
        units), 0 for the reference cells of ``base_period="universal"``.
    gidx, tidx, bidx : ndarray of int (K,)
        Index (0..T-1) of each cell's cohort, period and base period, in the order of
        the rows of :func:`~impact.did.cs.compute_att_gt` before it drops cells.
    post, reference : ndarray of bool (K,)
        Whether ``t >= g``; whether the cell is the universal base period.
    """

    att: FloatArray
    gidx: NDArray[np.intp]
    tidx: NDArray[np.intp]
    bidx: NDArray[np.intp]
    post: NDArray[np.bool_]
    reference: NDArray[np.bool_]


def _cells(
    gvals: NDArray[np.intp], n_t: int, anticipation: int, base_period: str
) -> list[tuple[int, int, int, bool, bool]]:
    """The (g, t, base, post, reference) rows, exactly as compute_att_gt builds them."""
    rows: list[tuple[int, int, int, bool, bool]] = []
    for g in gvals:
        base_post = int(g) - 1 - anticipation
        if base_post < 0:
            continue
        for t in range(1 if base_period == "varying" else 0, n_t):
            if t >= g:
                b, ref = base_post, False
            elif base_period == "varying":
                b, ref = t - 1, False
            else:
                b, ref = base_post, t == base_post
            rows.append((int(g), t, b, t >= g, ref))
    return rows


def _solve(A: FloatArray, r: FloatArray, what: str) -> FloatArray:
    try:
        return np.asarray(np.linalg.solve(A, r[..., None])[..., 0], dtype=float)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(what) from exc


_SINGULAR_OLS = (
    "The outcome regression on the covariates is singular in a comparison group of a "
    "re-assigned cohort (a covariate has no variation there); drop it."
)
_SINGULAR_LOGIT = (
    "The propensity-score logit is singular (covariates collinear within a "
    "cohort/comparison pair); drop a covariate or use est_method='reg'."
)


def _wls_batch(Xs: FloatArray, y: FloatArray, W: FloatArray) -> FloatArray:
    """Weighted least squares of ``y`` (N,) on ``Xs`` (N, p), one fit per row of W."""
    A = np.einsum("bn,ni,nj->bij", W, Xs, Xs)
    r = (W * y) @ Xs
    return _solve(A, r, _SINGULAR_OLS)


def _logit_batch(
    Xs: FloatArray, D: FloatArray, W: FloatArray, max_iter: int = 100
) -> FloatArray:
    """Weighted logits of D (B, N) on Xs (N, p) with weights W (B, N).

    The start value, Newton steps and stopping rule are those of
    :func:`impact.did.cs.logit_fit`, problem by problem.
    """
    n_b, p = W.shape[0], Xs.shape[1]
    beta = np.zeros((n_b, p))
    share = (W * D).sum(axis=1) / W.sum(axis=1)
    beta[:, 0] = np.log(share / (1 - share))
    old = np.full(n_b, -np.inf)
    active = np.ones(n_b, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if len(idx) == 0:
            break
        Wa, Da = W[idx], D[idx]
        eta = np.clip(beta[idx] @ Xs.T, -35, 35)
        prob = 1 / (1 + np.exp(-eta))
        loglik = np.sum(Wa * (Da * eta - np.logaddexp(0, eta)), axis=1)
        grad = (Wa * (Da - prob)) @ Xs
        hess = np.einsum("bn,ni,nj->bij", Wa * prob * (1 - prob), Xs, Xs)
        step = _solve(hess, grad, _SINGULAR_LOGIT)
        beta[idx] += step
        done = (np.abs(loglik - old[idx]) < 1e-12 * (np.abs(loglik) + 1)) & (
            np.abs(step).max(axis=1) < 1e-10
        )
        old[idx] = loglik
        active[idx[done]] = False
    return beta


def cs_covariate_att_batch(
    Y: FloatArray,
    cohort_idx: FloatArray,
    periods: NDArray[np.int64],
    X: FloatArray,
    *,
    weights: FloatArray | None = None,
    control: str = "never",
    est_method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
    progress: bool | None = None,
) -> CSCovariateBatch:
    """ATT(g,t) with covariates for B cohort assignments, fitted together.

    Parameters
    ----------
    Y : ndarray (N, T)
        Balanced outcomes.
    cohort_idx : ndarray (B, N) or (N,)
        Index (0..T-1) of each unit's first treated period under each assignment
        (``np.inf`` = never treated). Every assignment must have the same set of
        cohorts (a permutation of the observed cohorts has).
    periods : ndarray (T,)
        Period labels.
    X : ndarray (N, T, p)
        Covariates (their base-period values are used, as in ``compute_att_gt``).
    weights : ndarray (N,), optional
        Unit weights; they stay with the units.
    control : {"never", "notyet"}
        Comparison group.
    est_method : {"dr", "ipw", "reg"}
        Doubly robust, normalised IPW or outcome regression (Sant'Anna and Zhao 2020).
    anticipation : int
        Periods of anticipation.
    base_period : {"varying", "universal"}
        Base period of pre-treatment cells.
    progress : bool or None
        Show a tqdm bar (default: on a terminal, outside CI, for long runs).

    Returns
    -------
    CSCovariateBatch
        ``att`` (B, K) with the cell keys.

    Raises
    ------
    EstimationError
        When an outcome regression or a propensity logit is singular under some
        assignment (as ``compute_att_gt`` would raise for it).
    """
    check_option("control", control, ("never", "notyet"), "cs_covariate_att_batch")
    check_option(
        "est_method", est_method, ("dr", "ipw", "reg"), "cs_covariate_att_batch"
    )
    check_option(
        "base_period", base_period, ("varying", "universal"), "cs_covariate_att_batch"
    )
    Y = np.asarray(Y, dtype=float)
    C = np.atleast_2d(np.asarray(cohort_idx, dtype=float))
    X = np.asarray(X, dtype=float)
    n, n_t = Y.shape
    if C.shape[1] != n or X.shape[:2] != (n, n_t):
        raise SpecError(
            f"cs_covariate_att_batch: Y is {Y.shape}, cohort_idx {C.shape} and X "
            f"{X.shape}; they need N={n} units and T={n_t} periods."
        )
    gvals = np.unique(C[0][np.isfinite(C[0])]).astype(np.intp)
    same = np.sort(np.where(np.isfinite(C), C, -1.0), axis=1)
    if not (same == same[0]).all():
        raise SpecError(
            "cs_covariate_att_batch: the assignments must re-assign the same cohorts "
            "(every row of cohort_idx a permutation of the first)."
        )
    rows = _cells(gvals, n_t, anticipation, base_period)
    if not rows:
        raise EstimationError(
            "No ATT(g,t) can be estimated: no cohort has a pre-treatment period "
            f"(anticipation={anticipation}). Reduce anticipation or check the cohorts."
        )
    arr = np.array(rows, dtype=np.intp)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    time_invariant = bool(np.all(X == X[:, :1, :]))
    n_b = C.shape[0]
    att = np.full((n_b, len(rows)), np.nan)
    chunks = range(0, n_b, _CHUNK)
    bar = None
    if progress_enabled(progress) and n_b * len(rows) > 2_000:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_b, desc="CS with covariates, re-assigned cohorts")
    for start in chunks:
        stop = min(start + _CHUNK, n_b)
        att[start:stop] = _chunk(
            Y,
            C[start:stop],
            X,
            w,
            rows,
            control,
            est_method,
            anticipation,
            time_invariant,
        )
        if bar is not None:
            bar.update(stop - start)
    if bar is not None:
        bar.close()
    return CSCovariateBatch(
        att=att,
        gidx=arr[:, 0],
        tidx=arr[:, 1],
        bidx=arr[:, 2],
        post=arr[:, 3].astype(bool),
        reference=arr[:, 4].astype(bool),
    )


def _chunk(
    Y: FloatArray,
    C: FloatArray,
    X: FloatArray,
    w: FloatArray,
    rows: list[tuple[int, int, int, bool, bool]],
    control: str,
    est_method: str,
    anticipation: int,
    time_invariant: bool,
) -> FloatArray:
    """ATT(g,t) of every cell for the assignments in ``C`` (b, N)."""
    n_b, n = C.shape
    never = ~np.isfinite(C)
    att = np.full((n_b, len(rows)), np.nan)
    ones = np.ones((n, 1))
    logits: dict[tuple[int, int, int], FloatArray] = {}
    for j, (g, t, b, _post, ref) in enumerate(rows):
        treat = C == g
        if control == "never":
            ctrl, cut = never, -1
        else:
            cut = max(t, b) + anticipation
            ctrl = never | ((C > cut) & ~treat)
        if ref:
            att[:, j] = 0.0
            continue
        has_ctrl = ctrl.any(axis=1)
        if not has_ctrl.any():
            continue
        s = 0 if time_invariant else min(t, b)
        Xs = np.column_stack([ones, X[:, s, :]])
        delta = Y[:, t] - Y[:, b]
        D = treat.astype(float)
        W1 = w * D
        fitted = None
        if est_method in ("reg", "dr"):
            W0 = w * ctrl
            W0[~has_ctrl] = 1.0  # placeholder fit, discarded below
            fitted = _wls_batch(Xs, delta, W0) @ Xs.T
        if est_method == "reg":
            assert fitted is not None
            est = (W1 * (delta - fitted)).sum(axis=1) / W1.sum(axis=1)
        else:
            key = (g, cut, s)
            if key not in logits:
                sub = (treat | ctrl).astype(float)
                sub[~has_ctrl] = 1.0  # placeholder fit, discarded below
                gamma = _logit_batch(Xs, D, w * sub)
                ps = 1 / (1 + np.exp(-np.clip(gamma @ Xs.T, -35, 35)))
                logits[key] = np.minimum(ps, 1 - 1e-6)
            ps = logits[key]
            W0 = w * ctrl * ps / (1 - ps) * (ps < _TRIM)
            target = delta if fitted is None else delta - fitted
            with np.errstate(invalid="ignore", divide="ignore"):
                est = (W1 * target).sum(axis=1) / W1.sum(axis=1) - (W0 * target).sum(
                    axis=1
                ) / W0.sum(axis=1)
        att[:, j] = np.where(has_ctrl, est, np.nan)
    return att


def simple_att_batch(
    batch: CSCovariateBatch,
    cohort_idx: FloatArray,
    weights: FloatArray | None = None,
) -> FloatArray:
    """The ``"simple"`` aggregate of R ``did::aggte`` for every assignment.

    The share-weighted mean of the post-treatment ATT(g,t), each cell weighted by its
    cohort's (unit-weighted) share of the sample under that assignment, as
    :func:`impact.did.aggregate.aggregate_cs` with ``kind="simple"``. Cells left out
    (NaN) are skipped, as ``compute_att_gt`` drops them.

    Parameters
    ----------
    batch : CSCovariateBatch
        Output of :func:`cs_covariate_att_batch`.
    cohort_idx : ndarray (B, N)
        The assignments it was computed for.
    weights : ndarray (N,), optional
        Unit weights.

    Returns
    -------
    ndarray (B,)
        Overall ATT per assignment.
    """
    C = np.atleast_2d(np.asarray(cohort_idx, dtype=float))
    n = C.shape[1]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.mean()
    # share of cell k's cohort under assignment b: (B, K)
    share = np.stack([(C == g) @ w / n for g in batch.gidx], axis=1)
    keep = batch.post[None, :] & np.isfinite(batch.att)
    pg = np.where(keep, share, 0.0)
    return np.asarray(
        (np.where(keep, batch.att, 0.0) * pg).sum(axis=1) / pg.sum(axis=1),
        dtype=float,
    )
