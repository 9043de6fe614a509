"""Poisson extended TWFE (Wooldridge 2023, Econometrics Journal 26(3)).

The conditional mean of the count is ``E[y_it] = E_it * exp(eta_it)`` with exposure
``E_it`` (the denominator, e.g. the child population, when the outcome is given as
``numerator=``/``denominator=``; 1 otherwise) and

    eta_it = a + b_g(i) + c_t + tau_gt * 1[(g, t) is a saturated cell],

cohort effects ``b_g``, period effects ``c_t`` and one coefficient per saturated cell:
the treated cells ``t >= g`` (``control="notyet"``), or every cell of a treated cohort
but ``t = g - 1`` (``control="never"``: only never-treated units and the reference
cells identify the period effects; the pre-adoption cells are placebos). The
coefficients are the Poisson quasi-maximum-likelihood estimates (consistent for any
non-negative outcome whose conditional mean has this form; Wooldridge 2023). As every
regressor is a function of the (cohort, period) cell, the likelihood depends on the
data only through the cell totals of counts and exposure, so the fit is a Poisson
regression on that small table; unit-level scores give the sandwich.

The effect of cell (g, t) is on the outcome's scale, as Stata ``jwdid`` / R
``etwfe::emfx`` / diff-diff's average structural function: the mean over the cell's
units of ``mu_it - mu_it(0)``, with ``mu_it(0) = E_it exp(eta_it - tau_gt)``. With a
denominator it is a difference in rates (times the panel's ``rate_scale``, e.g. per
10,000) and cells are averaged by exposure; otherwise a difference in counts and cells
are averaged by their number of units. Standard errors: delta method on the
cluster-robust sandwich (clusters = units unless ``cluster=``) with the small-sample
factor ``G/(G-1) * (n-1)/(n-k)`` (diff-diff 3.13's convention for this estimator).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from impact._scale import log_like_name
from impact.did.etwfe import etwfe_cells
from impact.did.results import DiDResult, _Linear
from impact.errors import DataError, EstimationError, SpecError

__all__ = ["fit_etwfe_poisson", "poisson_batch_att", "poisson_counts"]

FloatArray = NDArray[np.float64]


def poisson_counts(panel: Any, call: dict[str, Any]) -> tuple[FloatArray, FloatArray]:
    """Counts and exposure for the Poisson model, validated.

    Parameters
    ----------
    panel : Panel
        The data (``numerator``/``denominator`` when the outcome is a rate).
    call : dict
        Options of the call (``log_outcome``).

    Returns
    -------
    counts, exposure : ndarray (N, T)
        The counts and their exposure (ones without a denominator).
    """
    log_outcome = call.get("log_outcome")
    if log_outcome or (log_outcome is None and log_like_name(panel.outcome)):
        raise SpecError(
            f"family='poisson' models counts (or rates through numerator= and "
            f"denominator=) on their own scale, but outcome {panel.outcome!r} is a log. "
            "Give the counts (and the population as denominator=), or use "
            "family='linear' for a log outcome."
        )
    if panel.numerator is not None and panel.denominator is not None:
        counts = np.asarray(panel.numerator, dtype=float)
        exposure = np.asarray(panel.denominator, dtype=float)
        what = f"numerator {panel.numerator_col!r}"
    else:
        counts = np.asarray(panel.Y, dtype=float)
        exposure = np.ones_like(counts)
        what = f"outcome {panel.outcome!r}"
    obs = np.isfinite(counts) & np.asarray(panel.observed, dtype=bool)
    if not obs.all():  # gaps (balance="keep"): no count and no exposure there
        counts = np.where(obs, counts, 0.0)
        exposure = np.where(obs, exposure, 0.0)
    if (counts[obs] < 0).any():
        i, t = np.argwhere(obs & (counts < 0))[0]
        raise DataError(
            f"family='poisson' needs non-negative counts; {what} is "
            f"{counts[i, t]:g} for {panel.unit}={panel.units[i]}, "
            f"{panel.time}={panel.periods[t]}. Check the data, or use "
            "family='linear' for an outcome that can be negative."
        )
    frac = obs & (np.abs(counts - np.round(counts)) > 1e-8)
    if frac.any():
        i, t = np.argwhere(frac)[0]
        raise DataError(
            f"family='poisson' models counts, but {what} is {counts[i, t]:g} (not a "
            f"whole number) for {panel.unit}={panel.units[i]}, "
            f"{panel.time}={panel.periods[t]}. For a rate, give the count and its "
            "population as numerator= and denominator= (the population becomes the "
            "exposure); for a continuous outcome use family='linear' (with "
            "log_outcome=True for a log)."
        )
    if (exposure[obs] <= 0).any():
        raise DataError(
            f"The denominator {panel.denominator_col!r} must be positive to serve as "
            "the Poisson exposure."
        )
    return counts, exposure


def _design(
    cidx: FloatArray, n_t: int, control: str
) -> tuple[FloatArray, NDArray[np.intp], NDArray[np.intp], FloatArray]:
    """Table design: rows = (cohort level, period); returns X (R, k), the cell's
    coefficient column per cell, and each row's cohort level."""
    gvals = np.unique(cidx[np.isfinite(cidx)]).astype(int)
    levels = np.concatenate([[np.inf], gvals.astype(float)])
    gidx, tidx = etwfe_cells(cidx, n_t, control)
    n_g = len(levels)
    k = 1 + (n_g - 1) + (n_t - 1) + len(gidx)
    X = np.zeros((n_g * n_t, k))
    X[:, 0] = 1.0
    for r in range(n_g * n_t):
        gl, t = divmod(r, n_t)
        if gl > 0:
            X[r, gl] = 1.0
        if t > 0:
            X[r, n_g - 1 + t] = 1.0
    base = n_g + n_t - 1
    for j, (g, t) in enumerate(zip(gidx, tidx, strict=True)):
        gl = int(np.searchsorted(gvals, g)) + 1
        X[gl * n_t + t, base + j] = 1.0
    return X, gidx, tidx, levels


def _newton(
    X: FloatArray, y: FloatArray, off: FloatArray, keep: NDArray[np.bool_]
) -> FloatArray:
    """Poisson MLE on table rows ``keep`` (y = count totals, off = log exposure)."""
    Xk, yk, ok = X[keep], y[keep], off[keep]
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(max(yk.sum(), 1e-300) / np.exp(ok).sum())
    for _ in range(100):
        mu = np.exp(np.clip(Xk @ beta + ok, -700, 700))
        grad = Xk.T @ (yk - mu)
        H = (Xk * mu[:, None]).T @ Xk
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(
                "The Poisson ETWFE design is singular (a cohort or period without "
                "comparison cells); check the cohorts and periods."
            ) from exc
        beta += step
        if np.abs(step).max() < 1e-11:
            break
    else:  # pragma: no cover - Newton on a concave likelihood
        raise EstimationError("The Poisson ETWFE fit did not converge.")
    return beta


def _table(
    counts: FloatArray, exposure: FloatArray, cidx: FloatArray, levels: FloatArray
) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    lev = np.searchsorted(levels[1:], cidx) + 1
    lev = np.where(np.isfinite(cidx), lev, 0)
    n_t = counts.shape[1]
    Ysum = np.zeros((len(levels), n_t))
    Esum = np.zeros((len(levels), n_t))
    np.add.at(Ysum, lev, counts)
    np.add.at(Esum, lev, exposure)
    return Ysum.ravel(), Esum.ravel(), lev


def _ipf_batch(
    y: FloatArray, E: FloatArray, untreated: NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    """Cohort and period rate factors of the Poisson main-effects model fitted on the
    untreated cells of B tables, by iterative proportional fitting (the Poisson MLE
    matches the cohort and period totals of the untreated cells).

    Parameters
    ----------
    y, E : ndarray (B, L, T)
        Count and exposure totals per cohort level and period.
    untreated : ndarray of bool (L, T)
        Cells without their own coefficient.

    Returns
    -------
    r : ndarray (B, L)
        Cohort factors.
    c : ndarray (B, T)
        Period factors (fitted untreated rate of cell (l, t) = ``r_l * c_t``; NaN
        when a fit does not exist).
    """
    M = untreated.astype(float)[None]
    ym, Em = y * M, E * M
    row_y, col_y = ym.sum(axis=2), ym.sum(axis=1)
    B, L, T = y.shape
    r = np.ones((B, L))
    c = np.ones((B, T))
    fitted = np.ones((B, L, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(20000):
            r = row_y / np.einsum("blt,bt->bl", Em, c)
            c = col_y / np.einsum("blt,bl->bt", Em, r)
            new = r[:, :, None] * c[:, None, :]
            change = np.nanmax(np.abs(new - fitted) / np.maximum(np.abs(new), 1e-300))
            fitted = new
            if not np.isfinite(change) or change < 1e-13:
                break
    bad = ~(np.isfinite(r).all(axis=1) & np.isfinite(c).all(axis=1))
    bad |= (r < 0).any(axis=1) | (c < 0).any(axis=1)
    r[bad] = np.nan
    return r, c


def poisson_batch_att(
    counts: FloatArray,
    exposure: FloatArray,
    cidx: FloatArray,
    control: str,
    rate: float | None,
) -> FloatArray:
    """Overall Poisson ETWFE ATT for B cohort assignments (randomization inference).

    Parameters
    ----------
    counts, exposure : ndarray (N, T)
        Counts and exposure.
    cidx : ndarray (B, N)
        Cohort index per assignment and unit (the same cohorts and sizes in each).
    control : {"notyet", "never"}
        Saturated cells.
    rate : float or None
        Rate multiplier when the exposure is a population (None: counts).

    Returns
    -------
    ndarray (B,)
        The overall ATT on the outcome's scale (NaN where the fit does not exist).
    """
    c = np.atleast_2d(cidx)
    n_t = counts.shape[1]
    gvals = np.unique(c[0][np.isfinite(c[0])]).astype(int)
    L = len(gvals) + 1
    gidx, tidx = etwfe_cells(c[0], n_t, control)
    lev = np.where(np.isfinite(c), np.searchsorted(gvals, c) + 1, 0)
    onehot = (lev[:, None, :] == np.arange(L)[None, :, None]).astype(float)
    y = onehot @ counts  # (B, L, T)
    E = onehot @ exposure
    untreated = np.ones((L, n_t), dtype=bool)
    lg = np.searchsorted(gvals, gidx) + 1
    untreated[lg, tidx] = False
    r, cf = _ipf_batch(y, E, untreated)
    post = tidx >= gidx
    lp, tp = lg[post], tidx[post]
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = y[:, lp, tp] / E[:, lp, tp]
    untreated_rate = r[:, lp] * cf[:, tp]
    m = np.array([(c[0] == g).sum() for g in gidx[post]], dtype=float)
    scale = rate if rate is not None else E[:, lp, tp] / m
    att = scale * (observed - untreated_rate)
    size = E[:, lp, tp] if rate is not None else np.broadcast_to(m, att.shape)
    return np.asarray((att * size).sum(axis=1) / size.sum(axis=1))


def fit_etwfe_poisson(
    panel: Any,
    cidx: FloatArray,
    codes: NDArray[np.intp] | None,
    *,
    control: str,
    alpha: float,
    warns: list[str],
    call: dict[str, Any],
) -> DiDResult:
    """Poisson ETWFE (see the module docstring).

    Parameters
    ----------
    panel : Panel
        The data.
    cidx : ndarray (N,)
        Cohort index per unit (inf = never treated).
    codes : ndarray of int, optional
        Cluster codes (default: units).
    control : {"notyet", "never"}
        Saturated cells (see the module docstring).
    alpha : float
        One minus the confidence level.
    warns : list of str
        Warnings so far.
    call : dict
        Options of the call.

    Returns
    -------
    DiDResult
        Headline = average effect over the treated cells, on the outcome's scale.
    """
    counts, exposure = poisson_counts(panel, call)
    if not np.isfinite(counts).all():
        raise DataError(
            "family='poisson' needs a balanced panel without missing counts; fill the "
            "gaps or use balance='drop'."
        )
    n, n_t = counts.shape
    if control == "never" and np.isfinite(cidx).all():
        raise DataError(
            "family='poisson' with control='never' needs never-treated units; there "
            "are none. Use control='notyet'."
        )
    if np.isfinite(cidx).any() and (cidx[np.isfinite(cidx)] <= 0).any():
        first = panel.units[np.flatnonzero(np.isfinite(cidx) & (cidx <= 0))[0]]
        if isinstance(first, np.generic):  # name it as the user wrote it
            first = first.item()
        raise DataError(
            f"Unit {first!r} is treated from the first observed period "
            f"({panel.periods[0]}): Poisson ETWFE has no untreated period for it. "
            "Drop the always-treated units or add earlier periods."
        )
    rate = panel.rate_scale if panel.denominator is not None else None
    X, gidx, tidx, levels = _design(cidx, n_t, control)
    y, E, lev = _table(counts, exposure, cidx, levels)
    keep = E > 0
    zero = [
        (g, t)
        for g, t in zip(gidx, tidx, strict=True)
        if y[(int(np.searchsorted(levels[1:], g)) + 1) * n_t + t] <= 0
    ]
    if zero:
        g, t = zero[0]
        raise EstimationError(
            f"Cohort {int(panel.periods[g])} has no events in period "
            f"{int(panel.periods[t])}: its Poisson effect is not identified (minus "
            "infinity on the log scale). Pool periods or use family='linear'."
        )
    beta = _newton(X, y, np.log(np.where(keep, E, 1.0)), keep)
    # unit-level scores and the Hessian of the QMLE (X depends on the cohort only)
    XL = X.reshape(len(levels), n_t, -1)  # (levels, T, k)
    mu = exposure * np.exp(np.einsum("ltk,k->lt", XL, beta)[lev])
    resid = counts - mu
    scores_u = np.zeros((n, X.shape[1]))
    for lv in range(len(levels)):
        rows = lev == lv
        scores_u[rows] = resid[rows] @ XL[lv]
    mu_table = np.zeros((len(levels), n_t))
    np.add.at(mu_table, lev, mu)
    H = (X.T * mu_table.ravel()) @ X
    bread = np.linalg.inv(H)
    unit_codes = np.arange(n) if codes is None else np.asarray(codes)
    S = np.zeros((int(unit_codes.max()) + 1, X.shape[1]))
    np.add.at(S, unit_codes, scores_u)
    G = S.shape[0]
    n_obs, k = counts.size, X.shape[1]
    factor = G / (G - 1) * (n_obs - 1) / (n_obs - k)
    V = factor * bread @ (S.T @ S) @ bread
    base = len(levels) + n_t - 1
    theta, J, sizes, n_units = [], [], [], []
    for j, (g, t) in enumerate(zip(gidx, tidx, strict=True)):
        members = cidx == g
        m = int(members.sum())
        x = X[(int(np.searchsorted(levels[1:], g)) + 1) * n_t + t]
        eta = float(x @ beta)
        e1, e0 = np.exp(eta), np.exp(eta - beta[base + j])
        c = rate if rate is not None else float(exposure[members, t].mean())
        theta.append(c * (e1 - e0))
        grad = c * (e1 - e0) * x
        grad[base + j] = c * e1
        J.append(grad)
        sizes.append(float(exposure[members, t].sum()) if rate is not None else m)
        n_units.append(m)
    th = np.array(theta)
    Jm = np.array(J)
    Vc = Jm @ V @ Jm.T
    group_lab = panel.periods[gidx].astype(float)
    time_lab = panel.periods[tidx].astype(float)
    e = (tidx - gidx).astype(float)
    refs = [-1] if control == "never" else []
    lin = _Linear(th, Vc, group_lab, time_lab, e, np.array(sizes), refs)
    se_k = np.sqrt(np.diag(Vc))
    z = special.ndtri(1 - alpha / 2)
    att_gt = pd.DataFrame(
        {
            "group": group_lab.astype(int),
            "time": time_lab.astype(int),
            "event_time": e.astype(int),
            "att": th,
            "se": se_k,
            "ci_low": th - z * se_k,
            "ci_high": th + z * se_k,
            "post": e >= 0,
            "n_treated": n_units,
            "ratio": np.exp(beta[base : base + len(gidx)]),
        }
    )
    n_treated = int(np.isfinite(cidx).sum())
    common: dict[str, Any] = {
        "method": "etwfe",
        "n_treated": n_treated,
        "n_control": n - n_treated,
        "alpha": alpha,
        "warnings": warns,
        "att_gt": att_gt,
        "linear_state": lin,
        "panel": panel,
    }
    draft = DiDResult(estimate=0.0, se=1.0, options={}, **common)
    simple = draft.aggregate("simple")
    table = draft.aggregate("dynamic").to_frame().assign(reference=False)
    if refs:
        ref_row = pd.DataFrame(
            {"term": ["event_time=-1"], "event_time": [-1], "estimate": [0.0]}
        ).assign(reference=True)
        table = pd.concat([table, ref_row]).sort_values("event_time")
        table = table.reset_index(drop=True)
    return DiDResult(
        estimate=simple.estimate,
        se=simple.se,
        options={
            "family": "poisson",
            "exposure": panel.denominator_col if rate is not None else None,
        },
        event_study=table,
        **common,
    )
