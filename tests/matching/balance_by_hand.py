"""Balance statistics written out from their definitions (MatchIt 4.7 / cobalt 4.5).

Used by the matching and contract tests as a brute-force reference for
``impact.matching.balance.balance_table``; nothing here calls the package.

* SMD: weighted mean difference over an SD computed once in the unmatched sample:
  treated SD (ATT), control SD (ATC), ``sqrt((s_T^2 + s_C^2) / 2)`` (ATE, ATO); 0/1
  variables use ``p (1 - p)`` as the variance and, with ``binary="raw"``, report the
  raw difference in proportions.
* Variance ratio: ``var_T / var_C`` with reliability weights,
  ``sum w (x - m)^2 / (sum w - sum w^2 / sum w)`` (continuous only).
* eCDF mean / max: mean and maximum of ``|F_T(v) - F_C(v)|`` over the distinct
  values ``v`` of the units with positive weight, ``F`` the weighted eCDFs; for 0/1
  variables the absolute difference in proportions.
* ESS: ``(sum w)^2 / sum w^2``.
"""

from __future__ import annotations

import math

import numpy as np


def wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(sum(wi * xi for wi, xi in zip(w, x, strict=True)) / sum(w))


def rel_var(x: np.ndarray, w: np.ndarray) -> float:
    """Reliability-weighted variance (equals ``np.var(ddof=1)`` for unit weights)."""
    m = wmean(x, w)
    sw = float(sum(w))
    return float(sum(wi * (xi - m) ** 2 for wi, xi in zip(w, x, strict=True))) / (
        sw - float(sum(wi * wi for wi in w)) / sw
    )


def ess(w: np.ndarray) -> float:
    return float(sum(w) ** 2 / sum(wi * wi for wi in w))


def ecdf_stats(x: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    keep = w > 0
    x, d, w = x[keep], d[keep], w[keep]
    gaps = []
    for v in sorted(set(x.tolist())):
        ft = w[d & (x <= v)].sum() / w[d].sum()
        fc = w[~d & (x <= v)].sum() / w[~d].sum()
        gaps.append(abs(ft - fc))
    return float(np.mean(gaps)), float(max(gaps))


def balance_row(
    x: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    *,
    estimand: str = "ATT",
    binary: str = "raw",
) -> dict[str, float]:
    """One covariate's row: smd, var_ratio, ecdf_mean, ecdf_max before and after."""
    x = np.asarray(x, dtype=float)
    is_bin = bool(np.all((x == 0) | (x == 1)))
    ones = np.ones(len(x))

    def var0(v: np.ndarray) -> float:
        if is_bin:
            p = float(v.mean())
            return p * (1 - p)
        return float(np.var(v, ddof=1))

    s1, s0 = var0(x[d]), var0(x[~d])
    sd = {
        "ATT": math.sqrt(s1),
        "ATC": math.sqrt(s0),
    }.get(estimand, math.sqrt((s1 + s0) / 2))
    out: dict[str, float] = {}
    for tag, ww in (("before", ones), ("after", np.asarray(w, dtype=float))):
        wt, wc = ww[d], ww[~d]
        m1, m0 = wmean(x[d], wt), wmean(x[~d], wc)
        out[f"mean_treated_{tag}"] = m1
        out[f"mean_control_{tag}"] = m0
        diff = m1 - m0
        out[f"smd_{tag}"] = diff if (is_bin and binary == "raw") else diff / sd
        if is_bin:
            out[f"var_ratio_{tag}"] = math.nan
            out[f"ecdf_mean_{tag}"] = out[f"ecdf_max_{tag}"] = abs(diff)
        else:
            out[f"var_ratio_{tag}"] = rel_var(x[d][wt > 0], wt[wt > 0]) / rel_var(
                x[~d][wc > 0], wc[wc > 0]
            )
            e_mean, e_max = ecdf_stats(x, d, ww)
            out[f"ecdf_mean_{tag}"] = e_mean
            out[f"ecdf_max_{tag}"] = e_max
    return out
