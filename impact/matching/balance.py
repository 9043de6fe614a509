"""Balance diagnostics (MatchIt / cobalt definitions) and their figures.

Definitions, as MatchIt 4.7.2 ``summary()`` computes them:

* Standardised mean difference: ``(mean_T - mean_C) / s`` with weighted means in the
  sample at hand and ``s`` computed **once, in the unmatched sample**: the treated SD
  for the ATT, the control SD for the ATC, ``sqrt((s_T^2 + s_C^2) / 2)`` for the ATE
  (and the overlap estimand). Binary variables use ``p (1 - p)`` as their variance.
* ``binary="raw"`` (default, cobalt's convention) reports the raw difference in
  proportions for 0/1 covariates; ``binary="std"`` standardises them too, which is
  what MatchIt's ``summary()`` prints.
* Variance ratio ``var_T / var_C`` with reliability-weighted variances (continuous
  covariates only).
* eCDF mean and max: mean and maximum absolute difference between the weighted
  empirical CDFs (for binary covariates, the absolute difference in proportions).
* Effective sample size ``(sum w)^2 / sum w^2`` per group.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from impact.plots import axes_or_new

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["balance_table", "ess", "love_plot", "overlap_plot"]

_EPS = float(np.sqrt(np.finfo(float).eps))


def ess(w: np.ndarray) -> float:
    """Effective sample size ``(sum w)^2 / sum w^2`` of nonzero weights.

    Parameters
    ----------
    w : ndarray
        Weights.

    Returns
    -------
    float
        The effective sample size (0 when all weights are 0).
    """
    w = np.asarray(w, dtype=float)
    s2 = float(np.sum(w**2))
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def _wvar(x: np.ndarray, w: np.ndarray, binary: bool) -> float:
    if len(x) == 0 or w.sum() <= 0:
        return float("nan")
    wn = w / w.sum()
    mx = float(np.sum(wn * x))
    if binary:
        return mx * (1 - mx)
    denom = 1 - float(np.sum(wn**2))
    if denom <= 0:
        return float("nan")
    return float(np.sum(wn * (x - mx) ** 2) / denom)


def _ecdf_stats(x: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    keep = w > 0
    x, d, w = x[keep], d[keep], w[keep]
    w = w.astype(float).copy()
    for g in (True, False):
        s = w[d == g].sum()
        if s > 0:
            w[d == g] /= s
    o = np.argsort(x, kind="stable")
    xs, ws, ds = x[o], w[o], d[o]
    signed = np.where(ds == ds[0], -ws, ws)
    cum = np.abs(np.cumsum(signed))
    last = np.append(np.diff(xs) != 0, True)
    diffs = cum[last]
    return float(np.mean(diffs)), float(np.max(diffs))


def balance_table(
    X: np.ndarray,
    names: list[str],
    d: np.ndarray,
    weights: np.ndarray,
    *,
    estimand: str = "ATT",
    binary: str = "raw",
    threshold: float = 0.1,
) -> pd.DataFrame:
    """Balance of each covariate before and after matching or weighting.

    Parameters
    ----------
    X : ndarray (n, q)
        Covariates (one indicator per level for categorical ones).
    names : list of str
        Row labels.
    d : ndarray (n,) of bool
        Treatment.
    weights : ndarray (n,)
        Matching or balancing weights (0 = not in the matched sample).
    estimand : {"ATT", "ATC", "ATE", "ATO"}
        Chooses the SMD denominator.
    binary : {"raw", "std"}
        Raw difference in proportions or standardised difference for 0/1 variables.
    threshold : float
        |SMD| above which a covariate is flagged as imbalanced.

    Returns
    -------
    DataFrame
        One row per covariate: ``type``, ``mean_treated_before``,
        ``mean_control_before``, ``smd_before``, ``var_ratio_before``,
        ``ecdf_mean_before``, ``ecdf_max_before`` and the same ``*_after`` columns,
        plus ``balanced_after`` (|SMD| below ``threshold``).
    """
    d = np.asarray(d, dtype=bool)
    ones = np.ones(len(d))
    rows = []
    for j, name in enumerate(names):
        x = X[:, j].astype(float)
        is_bin = _is_binary(x)
        s1 = _wvar(x[d], ones[d], is_bin)
        s0 = _wvar(x[~d], ones[~d], is_bin)
        if estimand == "ATT":
            denom = np.sqrt(s1)
        elif estimand == "ATC":
            denom = np.sqrt(s0)
        else:
            denom = np.sqrt((s1 + s0) / 2)
        if not np.isfinite(denom) or denom < _EPS:
            denom = np.sqrt(_wvar(x, ones, is_bin))
        row: dict[str, object] = {
            "covariate": name,
            "type": "binary" if is_bin else "continuous",
        }
        for tag, w in (("before", ones), ("after", np.asarray(weights, float))):
            w1, w0 = w[d], w[~d]
            m1 = float(np.sum(w1 * x[d]) / w1.sum()) if w1.sum() > 0 else np.nan
            m0 = float(np.sum(w0 * x[~d]) / w0.sum()) if w0.sum() > 0 else np.nan
            diff = m1 - m0
            if is_bin and binary == "raw":
                smd = diff
            elif abs(diff) > _EPS and denom > 0:
                smd = diff / denom
            else:
                smd = diff
            if is_bin:
                vr = np.nan
                e_mean = e_max = abs(diff)
            else:
                v1 = _wvar(x[d][w1 > 0], w1[w1 > 0], False)
                v0 = _wvar(x[~d][w0 > 0], w0[w0 > 0], False)
                vr = v1 / v0 if v0 and v0 > 0 else np.nan
                e_mean, e_max = _ecdf_stats(x, d, w)
            row[f"mean_treated_{tag}"] = m1
            row[f"mean_control_{tag}"] = m0
            row[f"smd_{tag}"] = smd
            row[f"var_ratio_{tag}"] = vr
            row[f"ecdf_mean_{tag}"] = e_mean
            row[f"ecdf_max_{tag}"] = e_max
        row["balanced_after"] = bool(abs(float(row["smd_after"])) < threshold)  # type: ignore[arg-type]
        rows.append(row)
    return pd.DataFrame(rows)


def love_plot(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    threshold: float = 0.1,
    title: str = "Covariate balance",
    xlabel: str = "Absolute standardised mean difference (SD units)",
    ylabel: str = "Covariate",
) -> Axes:
    """Love plot: absolute SMD of each covariate before and after.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`balance_table`.
    ax : matplotlib Axes, optional
        Where to draw.
    threshold : float
        Reference line.
    title : str
        Axes title.
    xlabel : str
        x-axis label.
    ylabel : str
        y-axis label.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = axes_or_new(ax, figsize=(7, 0.35 * len(table) + 2.0))
    pos = np.arange(len(table))[::-1]
    ax.scatter(
        np.abs(table["smd_before"]),
        pos,
        marker="o",
        facecolors="none",
        edgecolors="C3",
        label="Before matching",
    )
    ax.scatter(
        np.abs(table["smd_after"]), pos, marker="o", color="C0", label="After matching"
    )
    ax.axvline(
        threshold,
        color="grey",
        ls="--",
        lw=0.8,
        label=f"balance threshold ({threshold:g})",
    )
    ax.set_yticks(pos, list(table["covariate"]))
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best", frameon=True, framealpha=0.85, fontsize="small")
    return ax


def overlap_plot(
    score: np.ndarray,
    d: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    ax: Axes | None = None,
    title: str = "Propensity score overlap",
    xlabel: str = "Propensity score (probability)",
    ylabel: str = "Density (share of units per unit of score)",
) -> Axes:
    """Histograms of the propensity score by group, before and after matching.

    Parameters
    ----------
    score : ndarray
        Propensity score (or other distance).
    d : ndarray of bool
        Treatment.
    weights : ndarray, optional
        Matching weights; the matched distribution is drawn as a step outline.
    ax : matplotlib Axes, optional
        Where to draw.
    title, xlabel, ylabel : str
        Labels.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = axes_or_new(ax)
    bins = np.histogram_bin_edges(score, bins=30).tolist()
    ax.hist(score[d], bins=bins, density=True, alpha=0.4, color="C0", label="Treated")
    ax.hist(
        score[~d],
        bins=bins,
        density=True,
        alpha=0.4,
        color="C3",
        label="Comparison, all",
    )
    if weights is not None:
        w1, w0 = weights[d], weights[~d]
        if w1.sum() > 0 and np.any(w1 == 0):
            ax.hist(
                score[d], bins=bins, weights=w1, density=True, histtype="step",
                color="C0", lw=1.5, label="Treated, matched",
            )  # fmt: skip
        if w0.sum() > 0:
            ax.hist(
                score[~d],
                bins=bins,
                weights=w0,
                density=True,
                histtype="step",
                color="C3",
                lw=1.5,
                label="Comparison, matched",
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize="small", loc="best")
    return ax
