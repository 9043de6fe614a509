"""Aggregations of ATT(g,t) (simple, group, dynamic, calendar) with influence functions.

Weights follow Callaway and Sant'Anna (2021, section 3): cohort shares P(G = g) among
the cells kept. When the weights are estimated shares, their own influence function
is added (delta method), as R ``did::aggte`` does, so the standard errors match it.
All operations are matrix products over the N x K influence-function matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from impact.did.cs import CSFit
from impact.errors import EstimationError, SpecError

__all__ = ["Aggregation", "aggregate_cs", "multiplier_draws", "pretest_wald"]

FloatArray = NDArray[np.float64]


@dataclass
class Aggregation:
    """An aggregate of ATT(g,t): the overall effect and its rows.

    Attributes
    ----------
    kind : str
        ``"simple"``, ``"group"``, ``"dynamic"`` or ``"calendar"``.
    key : ndarray (J,)
        Event time, cohort or period of each row (empty for ``"simple"``).
    est : ndarray (J,)
        Row estimates.
    inf : ndarray (N, J)
        Row influence functions.
    overall : float
        The overall aggregate.
    overall_inf : ndarray (N,)
        Its influence function.
    """

    kind: str
    key: FloatArray
    est: FloatArray
    inf: FloatArray
    overall: float
    overall_inf: FloatArray


def _share_combine(
    vals: FloatArray,
    infs: FloatArray,
    cohorts: NDArray[np.intp],
    p: FloatArray,
    cohort_idx: FloatArray,
    w: FloatArray,
) -> tuple[float, FloatArray]:
    """Share-weighted average ``sum_k p_k v_k / sum_k p_k`` and its influence function.

    ``p_k`` is the share of cohort ``cohorts[k]`` (mean of ``w * 1{G = g}``); since the
    shares are estimated, the delta-method term of ``p_k / sum(p)`` is added. It is
    computed per cohort (O(N) work), never as an N x K membership matrix.
    """
    total = p.sum()
    pa = float(p @ vals)
    est = pa / total
    psi = infs @ (p / total)
    unit_a = np.zeros(len(cohort_idx))
    unit_m = np.zeros(len(cohort_idx))
    for g in np.unique(cohorts):
        sel = cohort_idx == g
        on = cohorts == g
        unit_a[sel] = w[sel] * vals[on].sum()
        unit_m[sel] = w[sel] * on.sum()
    psi = psi + (unit_a - pa) / total - (unit_m - total) * pa / total**2
    return float(est), psi


def _combine(
    fit: CSFit,
    keep: NDArray[np.bool_],
    pg: FloatArray,
    cohort_idx: FloatArray,
    w: FloatArray,
) -> tuple[float, FloatArray]:
    """Share-weighted average of the kept cells, with the weight influence added."""
    idx = np.flatnonzero(keep)
    return _share_combine(
        fit.att[idx], fit.inf[:, idx], fit.gidx[idx], pg[idx], cohort_idx, w
    )


def aggregate_cs(
    fit: CSFit,
    cohort_idx: FloatArray,
    unit_weights: FloatArray | None,
    kind: str,
    *,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
) -> Aggregation:
    """Aggregate ATT(g,t) as R ``did::aggte`` does.

    Parameters
    ----------
    fit : CSFit
        The ATT(g,t).
    cohort_idx : ndarray (N,)
        Cohort index per unit (inf = never treated).
    unit_weights : ndarray (N,), optional
        Unit weights used for the cohort shares.
    kind : {"simple", "group", "dynamic", "calendar"}
        Aggregation.
    min_e, max_e : float
        Event-time window (``max_e`` also caps the post periods of the other kinds).
    balance_e : int, optional
        Keep only cohorts observed for at least ``balance_e`` periods after adoption
        (dynamic only).

    Returns
    -------
    Aggregation
        Rows and overall estimate with influence functions.
    """
    n = len(cohort_idx)
    w = np.ones(n) if unit_weights is None else np.asarray(unit_weights, dtype=float)
    w = w / w.mean()
    ok = ~fit.reference | (kind == "dynamic")
    gidx = fit.gidx
    tidx = fit.tidx
    e = (tidx - gidx).astype(float)
    # share of each cell's cohort in the whole sample
    share = {int(g): float(w[cohort_idx == g].sum()) / n for g in np.unique(gidx)}
    pg = np.array([share[int(g)] for g in gidx])
    post = fit.post & (e <= max_e) & ok
    empty = np.zeros((n, 0))
    if kind == "simple":
        if not post.any():
            raise SpecError("No post-treatment ATT(g,t) to aggregate (check max_e).")
        est, psi = _combine(fit, post, pg, cohort_idx, w)
        return Aggregation(kind, np.zeros(0), np.zeros(0), empty, est, psi)
    if kind == "group":
        groups = np.unique(gidx[post])
        ests = np.zeros(len(groups))
        infs = np.zeros((n, len(groups)))
        for j, g in enumerate(groups):
            sel = post & (gidx == g)
            ests[j] = fit.att[sel].mean()
            infs[:, j] = fit.inf[:, sel].mean(axis=1)
        gp = np.array([share[int(g)] for g in groups])
        overall, psi = _share_combine(ests, infs, groups, gp, cohort_idx, w)
        key = fit.group[[int(np.flatnonzero(gidx == g)[0]) for g in groups]]
        return Aggregation(kind, key, ests, infs, overall, psi)
    if kind == "dynamic":
        include = np.ones(len(e), dtype=bool)
        if balance_e is not None:
            n_t = int(max(tidx.max(), gidx.max())) + 1
            last = n_t - 1
            include = (last - gidx) >= balance_e
            eseq = np.unique(e[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - last)]
        else:
            eseq = np.unique(e)
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if len(eseq) == 0:
            raise SpecError(
                f"No event time left between min_e={min_e} and max_e={max_e}"
                + (f" with balance_e={balance_e}" if balance_e is not None else "")
                + "; widen the window."
            )
        ests = np.zeros(len(eseq))
        infs = np.zeros((n, len(eseq)))
        for j, ev in enumerate(eseq):
            sel = (e == ev) & include
            ests[j], infs[:, j] = _combine(fit, sel, pg, cohort_idx, w)
        pos = eseq >= 0
        if not pos.any():
            overall, psi = float("nan"), np.full(n, np.nan)
        else:
            overall = float(ests[pos].mean())
            psi = infs[:, pos].mean(axis=1)
        return Aggregation(kind, eseq, ests, infs, overall, psi)
    if kind == "calendar":
        tlist = np.unique(tidx[post])
        ests = np.zeros(len(tlist))
        infs = np.zeros((n, len(tlist)))
        for j, t in enumerate(tlist):
            sel = post & (tidx == t)
            ests[j], infs[:, j] = _combine(fit, sel, pg, cohort_idx, w)
        overall = float(ests.mean())
        psi = infs.mean(axis=1)
        key = fit.time[[int(np.flatnonzero(tidx == t)[0]) for t in tlist]]
        return Aggregation(kind, key, ests, infs, overall, psi)
    raise SpecError(
        "The 'kind' parameter of aggregate must be one of {'simple', 'group', "
        f"'dynamic', 'calendar'}}. Got {kind!r} instead."
    )


def pretest_wald(
    fit: CSFit, summed_inf: FloatArray, n: int
) -> tuple[float, int, float]:
    """Wald test that every pre-treatment ATT(g,t) is zero (as R ``did`` prints).

    Parameters
    ----------
    fit : CSFit
        The ATT(g,t).
    summed_inf : ndarray (G, K)
        Influence functions summed within clusters (units when unclustered).
    n : int
        Number of units.

    Returns
    -------
    statistic : float
    df : int
    pvalue : float
    """
    from scipy import stats

    pre = ~fit.post & ~fit.reference
    V = summed_inf.T @ summed_inf / n**2
    se = np.sqrt(np.diag(V))
    pre &= se > np.sqrt(np.finfo(float).eps) * 10
    idx = np.flatnonzero(pre)
    if len(idx) == 0:
        return float("nan"), 0, float("nan")
    a = fit.att[idx]
    Vp = V[np.ix_(idx, idx)]
    if not (np.isfinite(Vp).all() and np.isfinite(a).all()):
        # LAPACK can spin on infinities rather than fail: refuse before calling it
        raise EstimationError(
            "The pre-period ATT(g,t) or their covariance are not finite (the outcome's "
            "scale overflowed); the pre-trend test cannot be computed. Rescale the "
            "outcome."
        )
    sol, *_ = np.linalg.lstsq(Vp, a, rcond=None)
    rank = int(np.linalg.matrix_rank(Vp))
    stat = float(a @ sol)
    return stat, rank, float(stats.chi2.sf(stat, rank))


def multiplier_draws(
    summed_inf: FloatArray, n: int, multipliers: FloatArray
) -> FloatArray:
    """Multiplier-bootstrap draws of estimates with influence functions.

    Parameters
    ----------
    summed_inf : ndarray (G, J)
        Influence functions summed within clusters.
    n : int
        Number of units.
    multipliers : ndarray (B, G)
        Rademacher multipliers.

    Returns
    -------
    ndarray (B, J)
        Draws of ``estimate* - estimate``.
    """
    return multipliers @ summed_inf / n


def bootstrap_se_crit(draws: FloatArray, alpha: float) -> tuple[FloatArray, float]:
    """Bootstrap standard errors (normalised IQR) and the uniform-band critical value.

    Parameters
    ----------
    draws : ndarray (B, J)
        Bootstrap draws.
    alpha : float
        One minus the band's coverage.

    Returns
    -------
    se : ndarray (J,)
    crit : float
        Critical value of ``max_j |draw_j / se_j|`` (simultaneous band).
    """
    from scipy import stats

    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0, method="inverted_cdf")
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    good = se > np.sqrt(np.finfo(float).eps) * 10
    if not good.any():
        return se, float("nan")
    tmax = np.abs(draws[:, good] / se[good]).max(axis=1)
    crit = float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))
    return se, crit
