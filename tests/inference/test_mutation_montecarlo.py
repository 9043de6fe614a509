"""The Monte Carlo study's analytic method against statsmodels OLS with cluster SEs.

``impact.inference.montecarlo`` documents its ``analytic`` method as the TWFE
coefficient with a CRV1 standard error clustered by unit (factor ``G / (G - 1)``, no
``(N - 1) / (N - K)``) and a t critical value with ``G - 1`` degrees of freedom. The
reference fits OLS with unit and period dummies in statsmodels, clusters by unit with
statsmodels' correction ``G/(G-1) (N-1)/(N-K)``, removes the ``(N-1)/(N-K)`` part by
hand, and builds the p-value and interval from scipy's t(G-1). Tolerance 1e-8 relative.

With G = 8 clusters, a normal critical value (1.96 instead of t(7) = 2.36) moves the
interval bounds by ~17% of the standard error, and a normal p-value differs in the
second digit: both far outside the tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from impact.inference.montecarlo import _methods_on


def _reference(Y, D, null, alpha):
    n, t = Y.shape
    unit = np.repeat(np.arange(n), t)
    period = np.tile(np.arange(t), n)
    X = np.column_stack(
        [
            D.ravel().astype(float),
            np.ones(n * t),
            (unit[:, None] == np.arange(1, n)[None, :]).astype(float),
            (period[:, None] == np.arange(1, t)[None, :]).astype(float),
        ]
    )
    fit = sm.OLS(Y.ravel(), X).fit(cov_type="cluster", cov_kwds={"groups": unit})
    k = X.shape[1]
    se = float(fit.bse[0]) * np.sqrt((n * t - k) / (n * t - 1))
    theta = float(fit.params[0])
    q = stats.t.ppf(1 - alpha / 2, n - 1)
    p = 2 * stats.t.sf(abs(theta - null) / se, n - 1)
    return p, theta - q * se, theta + q * se


@pytest.mark.parametrize("seed", [0, 1])
def test_analytic_method_equals_ols_cluster_t(seed):
    rng = np.random.default_rng(seed)
    n, t, g = 8, 5, 3
    cohort = np.full(n, np.inf)
    cohort[:3] = g
    periods = np.arange(t, dtype=float)
    D = periods[None, :] >= cohort[:, None]
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, t)) + 0.7 * D
    null = 0.2
    out = _methods_on(
        Y, D, cohort, periods, ["analytic"], rng, 0, 0, alpha=0.05, null=null
    )
    p, lo, hi = out["analytic"]
    p_ref, lo_ref, hi_ref = _reference(Y, D, null, 0.05)
    assert p == pytest.approx(p_ref, rel=1e-8)
    assert lo == pytest.approx(lo_ref, rel=1e-8)
    assert hi == pytest.approx(hi_ref, rel=1e-8)


def test_study_table_mcse_is_binomial() -> None:
    # 40 replications of one small design: the Monte Carlo SEs are the binomial
    # sqrt(p (1 - p) / R) of the reported rates, R the replications
    from impact.inference.montecarlo import size_coverage

    tab = size_coverage(
        n_treated=[3],
        rhos=[0.5],
        n_reps=40,
        n_units=10,
        n_pre=4,
        n_post=2,
        methods=["analytic"],
        seed=1,
        progress=False,
    )
    row = tab.iloc[0]
    assert row["n_reps"] == 40
    assert row["size"] * 40 == pytest.approx(round(row["size"] * 40))
    assert row["size_mcse"] == pytest.approx(
        np.sqrt(row["size"] * (1 - row["size"]) / 40), rel=1e-12
    )
    assert row["coverage_mcse"] == pytest.approx(
        np.sqrt(row["coverage"] * (1 - row["coverage"]) / 40), rel=1e-12
    )
    # seed 1: 4 of 40 rejections, 35 of 40 covering intervals (not 0 or 1, where the
    # SE would be 0 with or without the division by R)
    assert (row["size"], row["coverage"]) == (0.1, 0.875)
