"""Stacked difference-in-differences (Cengiz et al. 2019; Wing, Freedman and
Hollingsworth 2024).

One sub-experiment per adoption cohort ``a``: the cohort's units and its clean
comparison units (``control="notyet"``: units not treated by ``a + post``, never-treated
included; ``control="never"``: never-treated units only), observed over the event
window ``a - pre .. a + post``. Cohorts whose window does not fit in the panel, or
that have no clean comparison unit, are left out (the "trimmed" set; a warning names
them).

Wing, Freedman and Hollingsworth's weighted stacked regression (their eq. 3: the
outcome on treated x event-time dummies, weights ``Q = 1`` for treated rows and
``Q_ae = (N^D_ae / N^D_e) / (N^C_ae / N^C_e)`` for the comparison rows of
sub-experiment ``a`` at event time ``e``) identifies the "trimmed aggregate ATT"
``delta_e = sum_a (N^D_a / N^D) delta_ae``, where ``delta_ae`` is the 2x2 DiD of
cohort ``a`` against its clean comparisons between ``e`` and the reference ``e = -1``.
This module computes the cells ``delta_ae`` directly (so every aggregation in
:meth:`DiDResult.aggregate` is available) and weights them by ``N^D_ae``; without
weights, or with weights that are constant within units, the event-time averages are
exactly the stacked regression's coefficients. The headline ATT is the mean of the
post-adoption ``delta_e`` (as diff-diff's ``StackedDiD``).

Standard errors follow the stacked regression's cluster-robust (CR1S) sandwich,
clustered by the original unit (a unit's copies in several sub-experiments form one
cluster): residuals are the outcome minus its pooled (treated or comparison,
event-time) weighted mean, and the small-sample factor is
``G/(G-1) * (n-1)/(n-p)`` with ``n`` stacked rows and ``p = 2 + 2 * (#event times)``
regressors (diff-diff 3.13's ``StackedDiD`` convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from impact.did._cohorts import parse_window
from impact.did.results import DiDResult, _Linear
from impact.errors import DataError

__all__ = [
    "fit_stacked",
    "resolve_window",
    "stacked_batch",
    "stacked_weight_matrix",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass
class _Plan:
    """Which cohorts enter the stack, over which event window."""

    pre: int
    post: int
    cohorts: list[int]  # cohort indices kept
    dropped: dict[int, str]  # cohort index -> reason


def _clean_controls(cidx: FloatArray, a: int, post: int, control: str) -> BoolArray:
    if control == "never":
        return np.asarray(~np.isfinite(cidx))
    return np.asarray(cidx > a + post)


def _plan(cidx: FloatArray, n_t: int, control: str, pre: int, post: int) -> _Plan:
    kept: list[int] = []
    dropped: dict[int, str] = {}
    for a in np.unique(cidx[np.isfinite(cidx)]).astype(int):
        if a - pre < 0:
            dropped[a] = f"fewer than {pre} period(s) before adoption"
        elif a + post > n_t - 1:
            dropped[a] = f"fewer than {post} period(s) after adoption"
        elif not _clean_controls(cidx, a, post, control).any():
            dropped[a] = "no clean comparison unit"
        else:
            kept.append(int(a))
    return _Plan(pre, post, kept, dropped)


def resolve_window(
    window: Any, cidx: FloatArray, n_t: int, control: str, w: FloatArray
) -> tuple[int, int]:
    """The event window ``(pre, post)``.

    Parameters
    ----------
    window : None, int or (int, int)
        ``(pre, post)`` periods before and after adoption; an int ``k`` means
        ``(k, k)``. None chooses the window that keeps the most treated
        unit-periods after adoption (treated units x (post + 1), over the cohorts
        that fit), then the longest pre-period those cohorts allow.
    cidx : ndarray (N,)
        Cohort index per unit.
    n_t : int
        Number of periods.
    control : {"never", "notyet"}
        Clean comparisons.
    w : ndarray (N, T)
        Weights (for the default rule, weighted unit counts).

    Returns
    -------
    tuple of int
        ``(pre, post)`` with ``pre >= 1`` and ``post >= 0``.
    """
    if window is not None:
        return parse_window(window, "stacked")
    size = w[:, 0]
    best: tuple[float, int, int] | None = None
    for post in range(n_t - 1):
        plan = _plan(cidx, n_t, control, 1, post)
        if not plan.cohorts:
            continue
        score = sum(size[cidx == a].sum() for a in plan.cohorts) * (post + 1)
        pre = min(plan.cohorts)  # longest pre-period every kept cohort has
        if best is None or score > best[0] + 1e-12:
            best = (score, pre, post)
    if best is None:
        raise DataError(
            "Stacked DiD: no cohort has a period before adoption and a clean "
            "comparison unit; check the cohorts or use control='notyet'."
        )
    return best[1], best[2]


@dataclass
class _Stack:
    """Cells of the stacked estimator and their linear weights."""

    a: NDArray[np.intp]  # (K,) cohort index of each cell
    e: NDArray[np.intp]  # (K,) event time
    A: FloatArray  # (K, N, T) cell = sum(A * Y)
    size: FloatArray  # (K,) weighted treated units in the cell
    scores: FloatArray  # (N, K) per-unit sums of A * stacked residual
    n_rows: int  # stacked rows with positive weight
    n_par: int  # regressors of the stacked regression
    treated: BoolArray  # (N,) units treated in some sub-experiment
    controls: BoolArray  # (N,) units used as a comparison somewhere


def _stack(
    Y: FloatArray, w: FloatArray, cidx: FloatArray, control: str, plan: _Plan
) -> _Stack:
    n, n_t = Y.shape
    ev = np.arange(-plan.pre, plan.post + 1)
    est_e = ev[ev != -1]
    ref = int(np.flatnonzero(ev == -1)[0])
    subs = []
    for a in plan.cohorts:
        cols = a + ev
        tr = cidx == a
        co = _clean_controls(cidx, a, plan.post, control)
        wd = w[np.ix_(tr, cols)].sum(axis=0)  # (E,)
        wc = w[np.ix_(co, cols)].sum(axis=0)
        sd = (w * Y)[np.ix_(tr, cols)].sum(axis=0)
        sc = (w * Y)[np.ix_(co, cols)].sum(axis=0)
        subs.append((a, cols, tr, co, wd, wc, sd, sc))
    WD = np.sum([s[4] for s in subs], axis=0)
    WC = np.sum([s[5] for s in subs], axis=0)
    # Q-weighted pooled comparison mean: sum_a Q_ae * sc_ae / sum_a Q_ae * wc_ae
    q = [(s[4] / WD) / (s[5] / WC) for s in subs]
    mD = np.sum([s[6] for s in subs], axis=0) / WD
    qw = np.sum([qa * s[5] for qa, s in zip(q, subs, strict=True)], axis=0)
    mC = np.sum([qa * s[7] for qa, s in zip(q, subs, strict=True)], axis=0) / qw
    K = len(subs) * len(est_e)
    A = np.zeros((K, n, n_t))
    scores = np.zeros((n, K))
    size = np.zeros(K)
    a_lab = np.zeros(K, dtype=np.intp)
    e_lab = np.zeros(K, dtype=np.intp)
    n_rows = 0
    treated = np.zeros(n, dtype=bool)
    controls = np.zeros(n, dtype=bool)
    k = 0
    for (a, cols, tr, co, wd, wc, _, _), qa in zip(subs, q, strict=True):
        treated |= tr
        controls |= co
        rows_w = np.where(tr[:, None], w[:, cols], 0.0) + np.where(
            co[:, None], w[:, cols] * qa[None, :], 0.0
        )
        n_rows += int((rows_w > 0).sum())
        # residual of the stacked regression (pooled cell means)
        R = np.zeros((n, n_t))
        R[np.ix_(tr, cols)] = Y[np.ix_(tr, cols)] - mD[None, :]
        R[np.ix_(co, cols)] = Y[np.ix_(co, cols)] - mC[None, :]
        for j in np.flatnonzero(ev != -1):
            t, t0 = cols[j], cols[ref]
            Ak = A[k]
            Ak[tr, t] += w[tr, t] / wd[j]
            Ak[tr, t0] -= w[tr, t0] / wd[ref]
            Ak[co, t] -= w[co, t] / wc[j]
            Ak[co, t0] += w[co, t0] / wc[ref]
            # A_k is zero outside columns t and t0 (R is finite: Y has no gaps here)
            scores[:, k] = Ak[:, t] * R[:, t] + Ak[:, t0] * R[:, t0]
            size[k] = wd[j]
            a_lab[k] = a
            e_lab[k] = ev[j]
            k += 1
    return _Stack(
        a_lab,
        e_lab,
        A,
        size,
        scores,
        n_rows,
        2 + 2 * len(est_e),
        treated,
        controls,
    )


def _weights(panel: Any) -> FloatArray:
    W = panel.W
    return np.ones(panel.Y.shape) if W is None else np.asarray(W, dtype=float)


def fit_stacked(
    panel: Any,
    cidx: FloatArray,
    codes: NDArray[np.intp] | None,
    *,
    control: str,
    window: Any,
    alpha: float,
    warns: list[str],
) -> DiDResult:
    """Stacked DiD (see the module docstring).

    Parameters
    ----------
    panel : Panel
        The data.
    cidx : ndarray (N,)
        Cohort index per unit (inf = never treated).
    codes : ndarray of int, optional
        Cluster codes (default: units).
    control : {"never", "notyet"}
        Clean comparisons: never-treated units, or units not treated by the end of
        the cohort's window.
    window : None, int or (int, int)
        Event window ``(pre, post)`` (see :func:`resolve_window`).
    alpha : float
        One minus the confidence level.
    warns : list of str
        Warnings so far (extended in place).

    Returns
    -------
    DiDResult
        Headline = mean of the post-adoption event-time effects; ``att_gt`` holds
        the (cohort, period) cells; options hold the window.
    """
    Y = panel.Y
    n, n_t = Y.shape
    w = _weights(panel)
    pre, post = resolve_window(window, cidx, n_t, control, w)
    plan = _plan(cidx, n_t, control, pre, post)
    if plan.dropped:
        shown = "; ".join(
            f"{int(panel.periods[a])} ({why})" for a, why in plan.dropped.items()
        )
        warns.append(
            f"Stacked DiD with window (pre={pre}, post={post}) leaves out cohort(s) "
            f"{shown}; shorten window= to keep them."
        )
    if not plan.cohorts:
        raise DataError(
            f"Stacked DiD: no cohort fits the window (pre={pre}, post={post}) with a "
            "clean comparison unit; shorten window= or use control='notyet'."
        )
    if np.ptp(w, axis=1).max() > 0:
        warns.append(
            "Weights vary over time within units: the stacked cells use each "
            "period's weights, so the event-time averages differ slightly from the "
            "weighted stacked regression."
        )
    st = _stack(Y, w, cidx, control, plan)
    theta = np.einsum("knt,nt->k", st.A, Y)
    unit_codes = np.arange(n) if codes is None else np.asarray(codes)
    used = st.treated | st.controls
    G = len(np.unique(unit_codes[used]))
    S = np.zeros((int(unit_codes.max()) + 1, len(theta)))
    np.add.at(S, unit_codes, st.scores)
    factor = G / (G - 1) * (st.n_rows - 1) / (st.n_rows - st.n_par) if G > 1 else 0.0
    V = factor * S.T @ S
    group_lab = panel.periods[st.a].astype(float)
    time_lab = panel.periods[st.a + st.e].astype(float)
    e = st.e.astype(float)
    lin = _Linear(theta, V, group_lab, time_lab, e, st.size, [-1])
    se_k = np.sqrt(np.diag(V))
    z = special.ndtri(1 - alpha / 2)
    counts = np.array([int((cidx == a).sum()) for a in st.a])
    att_gt = pd.DataFrame(
        {
            "group": group_lab.astype(int),
            "time": time_lab.astype(int),
            "event_time": st.e.astype(int),
            "att": theta,
            "se": se_k,
            "ci_low": theta - z * se_k,
            "ci_high": theta + z * se_k,
            "post": st.e >= 0,
            "n_treated": counts,
        }
    )
    n_treated = int(st.treated.sum())
    n_control = int((st.controls & ~st.treated).sum())
    common: dict[str, Any] = {
        "method": "stacked",
        "n_treated": n_treated,
        "n_control": n_control,
        "alpha": alpha,
        "warnings": warns,
        "att_gt": att_gt,
        "linear_state": lin,
        "panel": panel,
    }
    draft = DiDResult(estimate=0.0, se=1.0, options={}, **common)
    simple = draft.aggregate("simple")
    table = draft.aggregate("dynamic").to_frame().assign(reference=False)
    ref_row = pd.DataFrame(
        {
            "term": ["event_time=-1"],
            "event_time": [-1],
            "estimate": [0.0],
            "std_error": [np.nan],
            "statistic": [np.nan],
            "p_value": [np.nan],
            "conf_low": [np.nan],
            "conf_high": [np.nan],
            "reference": [True],
        }
    )
    table = pd.concat([table, ref_row]).sort_values("event_time").reset_index(drop=True)
    result = DiDResult(
        estimate=simple.estimate,
        se=simple.se,
        options={"window": (pre, post)},
        event_study=table,
        **common,
    )
    return result


def stacked_weight_matrix(
    panel: Any, cidx: FloatArray, control: str, window: Any
) -> FloatArray:
    """``A`` (N, T) with the headline stacked ATT ``= sum(A * Y)`` (wild bootstrap)."""
    w = _weights(panel)
    n_t = panel.Y.shape[1]
    pre, post = resolve_window(window, cidx, n_t, control, w)
    st = _stack(panel.Y, w, cidx, control, _plan(cidx, n_t, control, pre, post))
    post_k = st.e >= 0
    share = np.where(post_k, st.size, 0.0) / st.size[post_k].sum()
    return np.asarray(np.einsum("k,knt->nt", share, st.A), dtype=float)


def stacked_batch(
    Y: FloatArray,
    cidx: FloatArray,
    w: FloatArray,
    control: str,
    pre: int,
    post: int,
) -> FloatArray:
    """Headline stacked ATT for B cohort assignments at once.

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcome.
    cidx : ndarray (B, N)
        Cohort index per assignment and unit (inf = never treated).
    w : ndarray (N, T)
        Weights.
    control : {"never", "notyet"}
        Clean comparisons.
    pre, post : int
        Event window.

    Returns
    -------
    ndarray (B,)
        The size-weighted mean of the post-adoption cells.
    """
    c = np.atleast_2d(cidx)
    n_t = Y.shape[1]
    ev = np.arange(-pre, post + 1)
    ref = int(np.flatnonzero(ev == -1)[0])
    post_j = ev >= 0
    num = np.zeros(c.shape[0])
    den = np.zeros(c.shape[0])
    wy = w * Y
    labels = np.unique(c[np.isfinite(c)]).astype(int)
    for a in labels:
        if a - pre < 0 or a + post > n_t - 1:
            continue
        cols = a + ev
        tr = (c == a).astype(float)
        co = (~np.isfinite(c) if control == "never" else c > a + post).astype(float)
        wd, sd = tr @ w[:, cols], tr @ wy[:, cols]
        wc, sc = co @ w[:, cols], co @ wy[:, cols]
        ok = (wd[:, 0] > 0) & (wc[:, 0] > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            md, mc = sd / wd, sc / wc
        delta = (md - md[:, [ref]]) - (mc - mc[:, [ref]])
        size = np.where(ok[:, None], wd, 0.0)[:, post_j]
        num += np.where(ok, (size * np.nan_to_num(delta[:, post_j])).sum(axis=1), 0.0)
        den += size.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(num / den)
