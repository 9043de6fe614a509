"""CS with covariates under randomization inference: the batched path, pinned by refits.

Reference: the public ``impact.did(method="cs", covariates=..., inference="analytic")``
refitted on every re-labelled data frame (exact enumeration: 2 treated of 12 units, 66
assignments), written here; the p-value is the share of assignments whose |estimate|
is at least the observed one, and the interval bounds are where that p-value, with the
constant effect removed from the treated cells, crosses alpha.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import impact


def _frame(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, years = 12, np.arange(2010, 2016)
    x = rng.normal(size=n)
    cohort = np.full(n, np.nan)
    cohort[:2] = 2013
    unit_fe = rng.normal(size=n)
    rows = []
    for i in range(n):
        for j, yr in enumerate(years):
            y = unit_fe[i] + 0.3 * x[i] * j + rng.normal(scale=0.4)
            y += 0.5 * (np.isfinite(cohort[i]) and yr >= cohort[i])
            rows.append((f"u{i:02d}", yr, y, x[i], cohort[i]))
    return pd.DataFrame(rows, columns=["unit", "year", "y", "x", "first"])


KW = {
    "outcome": "y",
    "unit": "unit",
    "time": "year",
    "cohort": "first",
    "covariates": "x",
    "method": "cs",
}


def _refits(df: pd.DataFrame, shift: float = 0.0) -> tuple[np.ndarray, int]:
    units = sorted(df["unit"].unique())
    treated = sorted(df.loc[df["first"].notna(), "unit"].unique())
    d = df.copy()
    on = d["first"].notna() & (d["year"] >= d["first"])
    d.loc[on, "y"] -= shift
    est, obs = [], -1
    for pair in itertools.combinations(units, 2):
        if list(pair) == treated:
            obs = len(est)
        lab = d.assign(first=np.where(d["unit"].isin(pair), 2013.0, np.nan))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.append(impact.did(lab, **KW, inference="analytic").estimate)
    return np.array(est), obs


def _p(est: np.ndarray, obs: int) -> float:
    tol = 1e-9 * (1 + abs(est[obs]))
    return float(np.mean(np.abs(est) >= abs(est[obs]) - tol))


def test_cs_covariates_permutation_equals_refits() -> None:
    df = _frame()
    res = impact.did(df, **KW, inference="permutation")
    assert res.inference == "permutation"
    assert res.inference_details["exact"] and res.inference_details["n_draws"] == 66
    assert res.inference_details["linear"]  # DR ATT is linear in Y given the labels
    est, obs = _refits(df)
    assert res.estimate == pytest.approx(est[obs], abs=1e-10)
    assert res.pvalue == pytest.approx(_p(est, obs), abs=1e-12)
    lo, hi = res.ci
    eps = 1e-5
    assert _p(*_refits(df, lo - eps)) <= 0.05 < _p(*_refits(df, lo + eps))
    assert _p(*_refits(df, hi + eps)) <= 0.05 < _p(*_refits(df, hi - eps))
