"""Regression-based DiD: 2x2 cell means, static TWFE, TWFE event study, Sun-Abraham.

All work on the balanced (N, T) arrays of a :class:`~impact.panel.Panel`. Standard
errors are cluster-robust (CRV1) with the fixest / reghdfe small-sample convention
(see :mod:`impact.did._fe`), by unit unless ``cluster=`` names another column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact.did._fe import FEFit, fe_ols
from impact.errors import DataError, SpecError

__all__ = [
    "EventDesign",
    "cell_means",
    "event_design",
    "fit_2x2",
    "fit_event_study",
    "fit_sunab",
    "fit_twfe",
]

FloatArray = NDArray[np.float64]


def fit_twfe(
    Y: FloatArray,
    D: NDArray[np.bool_],
    *,
    W: FloatArray | None = None,
    clusters: NDArray[np.intp] | None = None,
) -> FEFit:
    """Static TWFE: ``Y_it = a_i + l_t + beta D_it + e_it``.

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcomes.
    D : ndarray of bool (N, T)
        Treatment indicator.
    W : ndarray (N, T), optional
        Weights.
    clusters : ndarray of int (N,), optional
        Cluster codes.

    Returns
    -------
    FEFit
        ``beta[0]`` is the TWFE coefficient.
    """
    return fe_ols(Y, D.astype(float)[:, :, None], W=W, clusters=clusters, names=["D"])


@dataclass
class EventDesign:
    """Event-time dummies of a TWFE or Sun-Abraham event study."""

    X: FloatArray  # (N, T, k)
    e: FloatArray  # (k,) event time of each column
    group: FloatArray  # (k,) cohort index (nan for pooled TWFE terms)
    refs: list[int]


def _as_refs(ref_period: int | Sequence[int]) -> list[int]:
    if isinstance(ref_period, (int, np.integer)):
        return [int(ref_period)]
    try:
        refs = [int(r) for r in ref_period]
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"ref_period must be an int or a list of ints (event times); got "
            f"{ref_period!r}."
        ) from exc
    if not refs:
        raise SpecError("ref_period must name at least one event time, e.g. -1.")
    return refs


def event_design(
    cohort_idx: FloatArray,
    n_periods: int,
    *,
    ref_period: int | Sequence[int] = -1,
    bins: tuple[int, int] | None = None,
    saturate: bool = False,
    observed: NDArray[np.bool_] | None = None,
) -> EventDesign:
    """Build event-time dummies ``1{t - g = e}`` for treated units.

    Parameters
    ----------
    cohort_idx : ndarray (N,)
        Cohort index (inf = never treated).
    n_periods : int
        T.
    ref_period : int or list of int, default -1
        Excluded event time(s).
    bins : (lo, hi), optional
        Bin event times below ``lo`` into ``lo`` and above ``hi`` into ``hi``.
    saturate : bool
        One set of dummies per cohort (Sun-Abraham) instead of pooled ones.
    observed : ndarray of bool (N, T), optional
        Unbalanced panel: which cells have a row; dummies without an observed cell
        (an event time at which every unit it covers is missing) are left out.

    Returns
    -------
    EventDesign
        The regressors and labels.
    """
    refs = _as_refs(ref_period)
    treated = np.isfinite(cohort_idx)
    rel = np.full((len(cohort_idx), n_periods), np.nan)
    rel[treated] = np.arange(n_periods)[None, :] - cohort_idx[treated][:, None]
    if bins is not None:
        lo, hi = int(bins[0]), int(bins[1])
        if lo >= hi:
            raise SpecError(f"bins=(lo, hi) needs lo < hi; got {bins!r}.")
        rel = np.clip(rel, lo, hi)
    cols: list[FloatArray] = []
    es: list[float] = []
    gs: list[float] = []
    if saturate:
        for g in np.unique(cohort_idx[treated]):
            unit = cohort_idx == g
            for ev in np.unique(rel[unit]):
                if int(ev) in refs:
                    continue
                cols.append(((rel == ev) & unit[:, None]).astype(float))
                es.append(float(ev))
                gs.append(float(g))
    else:
        for ev in np.unique(rel[treated]):
            if int(ev) in refs:
                continue
            cols.append((rel == ev).astype(float))
            es.append(float(ev))
            gs.append(np.nan)
    if observed is not None and cols:
        seen = [bool((c * observed).any()) for c in cols]
        cols = [c for c, ok in zip(cols, seen, strict=True) if ok]
        es = [e for e, ok in zip(es, seen, strict=True) if ok]
        gs = [g for g, ok in zip(gs, seen, strict=True) if ok]
    if not cols:
        raise SpecError(
            "No event-time dummy is left after excluding the reference period(s); "
            "check ref_period."
        )
    return EventDesign(np.stack(cols, axis=2), np.array(es), np.array(gs), refs)


def fit_event_study(
    Y: FloatArray,
    design: EventDesign,
    *,
    W: FloatArray | None = None,
    clusters: NDArray[np.intp] | None = None,
) -> FEFit:
    """TWFE regression of ``Y`` on event-time dummies with unit and period effects.

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcomes.
    design : EventDesign
        The dummies.
    W : ndarray (N, T), optional
        Weights.
    clusters : ndarray of int (N,), optional
        Cluster codes.

    Returns
    -------
    FEFit
        One coefficient per dummy.
    """
    names = [f"e={int(e)}" for e in design.e]
    return fe_ols(Y, design.X, W=W, clusters=clusters, names=names)


def fit_sunab(
    Y: FloatArray,
    cohort_idx: FloatArray,
    *,
    ref_period: int | Sequence[int] = -1,
    W: FloatArray | None = None,
    clusters: NDArray[np.intp] | None = None,
) -> tuple[FEFit, EventDesign]:
    """Sun and Abraham (2021) cohort-by-event-time interactions.

    The comparison cohort is the never treated (the caller drops periods and
    recodes the last cohort when there are none).

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcomes.
    cohort_idx : ndarray (N,)
        Cohort index (inf = never/comparison).
    ref_period : int or list of int, default -1
        Excluded event time(s) (fixest ``ref.p``).
    W : ndarray (N, T), optional
        Weights.
    clusters : ndarray of int (N,), optional
        Cluster codes.

    Returns
    -------
    fit : FEFit
        Coefficients of every (cohort, event time) dummy.
    design : EventDesign
        Their labels.
    """
    design = event_design(cohort_idx, Y.shape[1], ref_period=ref_period, saturate=True)
    names = [f"g={int(g)},e={int(e)}" for g, e in zip(design.group, design.e)]
    return fe_ols(Y, design.X, W=W, clusters=clusters, names=names), design


def fit_2x2(
    Y: FloatArray,
    cohort_idx: FloatArray,
    periods: NDArray[np.int64],
    *,
    weights: FloatArray | None = None,
    clusters: NDArray[np.intp] | None = None,
    observed: NDArray[np.bool_] | None = None,
    warns: list[str] | None = None,
) -> tuple[float, float, pd.DataFrame, pd.DataFrame]:
    """Two groups, before/after: difference of mean changes and the 4 cell means.

    With more than two periods the periods before adoption are averaged (pre) and
    the periods from adoption on are averaged (post), per unit.

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcomes.
    cohort_idx : ndarray (N,)
        Cohort index (one finite cohort, inf for the comparison group).
    periods : ndarray (T,)
        Period labels.
    weights : ndarray (N,), optional
        Unit weights.
    clusters : ndarray of int (N,), optional
        Cluster codes (default: units).
    observed : ndarray of bool (N, T), optional
        Unbalanced panel: which cells have a row. Each unit's pre and post means
        are over its observed periods; units observed only before or only after
        adoption carry no change and are left out (counted in ``warns``).
    warns : list of str, optional
        Receives the count of units left out.

    Returns
    -------
    estimate, se : float
        DiD and its standard error: ``sqrt(v1/n1 + v0/n0)`` (sample variances of the
        unit changes, the Card-Krueger convention) without clusters; CRV1 with
        clusters.
    cells : DataFrame
        Mean, standard error and count per group and period.
    changes : DataFrame
        Mean change per group and the DiD row.
    """
    treated = np.isfinite(cohort_idx)
    gvals = np.unique(cohort_idx[treated])
    if len(gvals) != 1:
        raise SpecError(
            f"method='2x2' needs exactly one treated cohort; found {len(gvals)} "
            f"(first treated periods {[int(periods[int(g)]) for g in gvals]}). Use "
            "method='cs' for staggered adoption."
        )
    g = int(gvals[0])
    w = np.ones(len(Y)) if weights is None else np.asarray(weights, dtype=float)
    if observed is None:
        pre = Y[:, :g].mean(axis=1)
        post = Y[:, g:].mean(axis=1)
    else:
        pre, post, usable = _observed_means(Y, observed, g)
        if not usable.all():
            if warns is not None:
                warns.append(
                    f"method='2x2': {int((~usable).sum())} unit(s) observed only before "
                    "or only after adoption have no change to compare and are left out."
                )
            keep = np.flatnonzero(usable)
            Y, cohort_idx, w = Y[keep], cohort_idx[keep], w[keep]
            pre, post, treated = pre[keep], post[keep], treated[keep]
            if clusters is not None:
                _, clusters = np.unique(clusters[keep], return_inverse=True)
    delta = post - pre
    groups = {"treated": treated, "control": ~treated}
    for role, sel in (("treated", treated), ("comparison (never treated)", ~treated)):
        if not sel.any():
            # only reachable with gaps: the Panel requires both groups, but a unit
            # observed on one side of adoption alone has no change to compare
            raise DataError(
                f"method='2x2' needs {role} units observed both before and from "
                f"adoption in {int(periods[g])}; every one has rows on one side only "
                "(gaps kept by balance='keep'), so none has a change to compare. Add "
                "the missing rows or check the time column."
            )

    def wmean_se(x: FloatArray, sel: NDArray[np.bool_]) -> tuple[float, float]:
        ww = w[sel]
        m = float(np.average(x[sel], weights=ww))
        n = int(sel.sum())
        if n < 2:
            return m, float("nan")
        var = float(np.sum(ww * (x[sel] - m) ** 2) / ww.sum() * n / (n - 1))
        neff = ww.sum() ** 2 / np.sum(ww**2)
        return m, float(np.sqrt(var / neff))

    cell_rows = []
    for name, sel in groups.items():
        for label, vals in (("pre", pre), ("post", post)):
            m, s = wmean_se(vals, sel)
            cell_rows.append(
                {
                    "group": name,
                    "period": label,
                    "mean": m,
                    "std_error": s,
                    "n_units": int(sel.sum()),
                }
            )
    cells = pd.DataFrame(cell_rows)
    m1, s1 = wmean_se(delta, treated)
    m0, s0 = wmean_se(delta, ~treated)
    est = m1 - m0
    if clusters is None:
        se = float(np.sqrt(s1**2 + s0**2))
    else:
        D = treated.astype(float)
        Xm = np.column_stack([np.ones(len(D)), D])
        xtx = (Xm * w[:, None]).T @ Xm
        bread = np.linalg.inv(xtx)
        beta = bread @ ((Xm * w[:, None]).T @ delta)
        resid = delta - Xm @ beta
        n_cl = int(clusters.max()) + 1
        sc = np.zeros((n_cl, 2))
        np.add.at(sc, clusters, Xm * (w * resid)[:, None])
        n = len(D)
        V = n_cl / (n_cl - 1) * (n - 1) / (n - 2) * bread @ (sc.T @ sc) @ bread
        se = float(np.sqrt(V[1, 1]))
    changes = pd.DataFrame(
        {
            "group": ["treated", "control", "difference"],
            "change": [m1, m0, est],
            "std_error": [s1, s0, se],
        }
    )
    return est, se, cells, changes


def _observed_means(
    Y: FloatArray, observed: NDArray[np.bool_], g: int
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Per-unit means of the observed pre (< g) and post (>= g) periods."""
    obs = observed.astype(float)
    y = np.where(observed, Y, 0.0)
    n_pre = obs[:, :g].sum(axis=1)
    n_post = obs[:, g:].sum(axis=1)
    usable = (n_pre > 0) & (n_post > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pre = y[:, :g].sum(axis=1) / n_pre
        post = y[:, g:].sum(axis=1) / n_post
    return pre, post, usable


def cell_means(
    data: pd.DataFrame, *, outcome: str, group: str, post: str
) -> pd.DataFrame:
    """Means of ``outcome`` by group and period on raw (possibly unbalanced) rows.

    Rows with a missing outcome are ignored, as in Card and Krueger (1994, Table 3),
    whose cells use every store observed in each wave.

    Parameters
    ----------
    data : DataFrame
        Long data.
    outcome : str
        Outcome column.
    group : str
        0/1 column: 1 for the treated group.
    post : str
        0/1 column: 1 for the after period.

    Returns
    -------
    DataFrame
        ``group, post, mean, std_error, n`` (four rows) plus the DiD of the means in
        ``.attrs["did"]``.
    """
    for col in (outcome, group, post):
        if col not in data.columns:
            raise DataError(f"Column {col!r} not found in the data.")
    df = data[[outcome, group, post]].dropna()
    rows = []
    means: dict[tuple[int, int], float] = {}
    for gval in (1, 0):
        for pval in (0, 1):
            x = df.loc[(df[group] == gval) & (df[post] == pval), outcome].to_numpy(
                float
            )
            if len(x) == 0:
                raise DataError(
                    f"No rows with {group}={gval} and {post}={pval} and a non-missing "
                    f"{outcome!r}."
                )
            se = float(x.std(ddof=1) / np.sqrt(len(x))) if len(x) > 1 else float("nan")
            means[(gval, pval)] = float(x.mean())
            rows.append(
                {
                    "group": gval,
                    "post": pval,
                    "mean": float(x.mean()),
                    "std_error": se,
                    "n": len(x),
                }
            )
    out = pd.DataFrame(rows)
    out.attrs["did"] = (means[(1, 1)] - means[(1, 0)]) - (means[(0, 1)] - means[(0, 0)])
    return out
