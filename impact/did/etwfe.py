"""Extended two-way fixed effects (Wooldridge 2021, 2023).

The linear model saturates the treated cohorts' cells: one coefficient per
(cohort g, period t) with unit and period effects,

- ``control="notyet"``: a dummy for every treated cell ``t >= g`` (the not-yet-treated
  and never-treated cells identify the period effects). The coefficients equal the
  imputation estimates (Wooldridge 2021, Theorem 7.1; BJS 2024).
- ``control="never"``: a dummy for every cell of a treated cohort except ``t = g - 1``,
  so only never-treated units identify the period effects; the post-adoption
  coefficients equal Callaway and Sant'Anna's ATT(g,t) with never-treated comparisons
  and the pre-adoption ones are placebo effects relative to ``g - 1``.

Covariates enter as in R ``etwfe``: the covariate with period-specific slopes, and
interacted with every cell dummy after centring it within the cohort (so the cell
coefficient stays the cohort's average effect). Aggregates average the cells weighted
by their number of (weighted) units, as ``etwfe::emfx``; their variances are the delta
method on the CRV1 covariance (fixest's small-sample convention).

The Poisson model (``family="poisson"``) is in :mod:`impact.did.etwfe_poisson`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from impact.did._fe import fe_ols
from impact.did.results import DiDResult, _Linear
from impact.errors import DataError

__all__ = ["etwfe_cells", "fit_etwfe"]

FloatArray = NDArray[np.float64]


def etwfe_cells(
    cidx: FloatArray, n_t: int, control: str
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """(cohort index, period index) of every saturated cell."""
    gs, ts = [], []
    for g in np.unique(cidx[np.isfinite(cidx)]).astype(int):
        for t in range(n_t):
            if (control == "notyet" and t >= g) or (control == "never" and t != g - 1):
                gs.append(g)
                ts.append(t)
    return np.array(gs, dtype=np.intp), np.array(ts, dtype=np.intp)


def _design(
    cidx: FloatArray,
    n_t: int,
    control: str,
    X: FloatArray | None,
    w: FloatArray,
) -> tuple[FloatArray, NDArray[np.intp], NDArray[np.intp], list[str]]:
    """Regressors (N, T, k): cell dummies, then covariate terms."""
    gidx, tidx = etwfe_cells(cidx, n_t, control)
    n = len(cidx)
    k = len(gidx)
    D = np.zeros((n, n_t, k))
    for j, (g, t) in enumerate(zip(gidx, tidx, strict=True)):
        D[cidx == g, t, j] = 1.0
    names = [f"cell{j}" for j in range(k)]
    blocks = [D]
    if X is not None and X.shape[2]:
        for p in range(X.shape[2]):
            x = X[:, :, p]
            if np.ptp(x, axis=1).max() > 0:  # time-varying: main effect
                blocks.append(x[:, :, None])
                names.append(f"x{p}")
            slopes = np.zeros((n, n_t, n_t - 1))
            for s in range(1, n_t):
                slopes[:, s, s - 1] = x[:, s]
            blocks.append(slopes)
            names += [f"x{p}:t{s}" for s in range(1, n_t)]
            centred = x.copy()
            for g in np.unique(cidx[np.isfinite(cidx)]):
                sel = cidx == g
                centred[sel] = x[sel] - np.average(x[sel], weights=w[sel])
            blocks.append(D * centred[:, :, None])
            names += [f"cell{j}:x{p}" for j in range(k)]
    return np.concatenate(blocks, axis=2), gidx, tidx, names


def fit_etwfe(
    panel: Any,
    cidx: FloatArray,
    X: FloatArray | None,
    codes: NDArray[np.intp] | None,
    *,
    control: str,
    alpha: float,
    warns: list[str],
) -> DiDResult:
    """Linear ETWFE (see the module docstring).

    Parameters
    ----------
    panel : Panel
        The data.
    cidx : ndarray (N,)
        Cohort index per unit (inf = never treated).
    X : ndarray (N, T, p), optional
        Covariates.
    codes : ndarray of int, optional
        Cluster codes (default: units).
    control : {"notyet", "never"}
        Comparison cells.
    alpha : float
        One minus the confidence level.
    warns : list of str
        Warnings so far.

    Returns
    -------
    DiDResult
        Headline = average effect over the treated cells; ``att_gt`` holds the cells.
    """
    n, n_t = panel.Y.shape
    if control == "never" and np.isfinite(cidx).all():
        raise DataError(
            "method='etwfe' with control='never' needs never-treated units; there are "
            "none. Use control='notyet'."
        )
    if np.isfinite(cidx).any() and (cidx[np.isfinite(cidx)] <= 0).any():
        first = panel.units[np.flatnonzero(np.isfinite(cidx) & (cidx <= 0))[0]]
        if isinstance(first, np.generic):  # name it as the user wrote it
            first = first.item()
        raise DataError(
            f"Unit {first!r} is treated from the first observed period "
            f"({panel.periods[0]}): ETWFE has no untreated period for it. Drop the "
            "always-treated units or add earlier periods."
        )
    W = panel.W
    w = np.ones((n, n_t)) if W is None else W
    if control == "notyet" and np.isfinite(cidx).all():
        last = int(cidx.max())
        if last < n_t:
            drop = panel.periods[last:]
            raise DataError(
                "method='etwfe' with control='notyet' and no never-treated units: "
                f"periods {int(drop[0])}..{int(drop[-1])} have no untreated unit. "
                "Restrict the panel to periods before the last cohort adopts."
            )
    Xm, gidx, tidx, names = _design(cidx, n_t, control, X, w)
    fit = fe_ols(panel.Y, Xm, W=W, clusters=codes, names=names)
    k = len(gidx)
    theta, V = fit.beta[:k], fit.vcov[:k, :k]
    if np.abs(fit.resid).max() <= 1e-10 * (1 + np.abs(panel.Y).max()):
        V = np.zeros_like(V)  # fitted exactly: the caller explains the zero SE
    sizes = np.array([w[cidx == g, t].sum() for g, t in zip(gidx, tidx, strict=True)])
    counts = np.array([int((cidx == g).sum()) for g in gidx])
    group_lab = panel.periods[gidx].astype(float)
    time_lab = panel.periods[tidx].astype(float)
    e = (tidx - gidx).astype(float)
    refs = [-1] if control == "never" else []
    lin = _Linear(theta, V, group_lab, time_lab, e, sizes, refs)
    se_k = np.sqrt(np.diag(V))
    z = special.ndtri(1 - alpha / 2)
    att_gt = pd.DataFrame(
        {
            "group": group_lab.astype(int),
            "time": time_lab.astype(int),
            "event_time": e.astype(int),
            "att": theta,
            "se": se_k,
            "ci_low": theta - z * se_k,
            "ci_high": theta + z * se_k,
            "post": e >= 0,
            "n_treated": counts,
        }
    )
    n_treated = int(np.isfinite(cidx).sum())
    draft = DiDResult(
        method="etwfe",
        estimate=0.0,
        se=1.0,
        n_treated=n_treated,
        n_control=n - n_treated,
        alpha=alpha,
        warnings=warns,
        options={},
        att_gt=att_gt,
        linear_state=lin,
        panel=panel,
    )
    simple = draft.aggregate("simple")
    table = draft.aggregate("dynamic").to_frame().assign(reference=False)
    if refs:
        ref_rows = pd.DataFrame(
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
        table = pd.concat([table, ref_rows]).sort_values("event_time")
        table = table.reset_index(drop=True)
    result = DiDResult(
        method="etwfe",
        estimate=simple.estimate,
        se=simple.se,
        n_treated=n_treated,
        n_control=n - n_treated,
        alpha=alpha,
        warnings=warns,
        options={"family": "linear"},
        att_gt=att_gt,
        event_study=table,
        linear_state=lin,
        panel=panel,
    )
    result.regression = fit
    return result


def etwfe_weight_matrix(
    panel: Any, cidx: FloatArray, X: FloatArray | None, control: str
) -> FloatArray:
    """``A`` (N, T) with the overall ETWFE ATT ``= sum(A * Y)`` (any covariates)."""
    from impact.did._fe import demean
    from impact.did.linear import _regression_contrast

    n, n_t = panel.Y.shape
    W = panel.W
    w = np.ones((n, n_t)) if W is None else W
    Xm, gidx, tidx, _ = _design(cidx, n_t, control, X, w)
    sizes = np.array([w[cidx == g, t].sum() for g, t in zip(gidx, tidx, strict=True)])
    post = tidx >= gidx
    c = np.zeros(Xm.shape[2])
    c[: len(gidx)] = np.where(post, sizes, 0.0) / sizes[post].sum()
    return _regression_contrast(demean(Xm, W), W, c)
