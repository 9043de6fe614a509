"""2x2 and TWFE on random small panels against statsmodels OLS with cluster SEs.

References (nothing here calls the package's regression code):

- 2x2: OLS of each unit's change (mean after - mean before) on a constant and the
  treated dummy. Without clusters the package uses the Card-Krueger SE
  ``sqrt(s1^2/n1 + s0^2/n0)``, which for a binary regressor is exactly statsmodels'
  HC2; with ``cluster=`` it is CRV1, statsmodels' ``cov_type="cluster"`` with its
  default small-sample factor ``G/(G-1) (N-1)/(N-K)``, K = 2.
- TWFE: OLS of y on D plus unit and period dummies. The package follows fixest's
  "nested" convention (unit effects nested in the clusters are not counted in K), so the
  reference is statsmodels' cluster sandwich without correction times
  ``G/(G-1) (N-1)/(N-K)`` with K = 1 slope + (T - 1) period dummies + 1 intercept (fixest
  ``ssc(fixef.K = "nested")``; the mpdta value is pinned in test_did_twfe_reference.py).

Dropping the small-sample factor changes the SE by ``sqrt(G/(G-1) ...)`` >= 3% with at
most 30 clusters, against a tolerance of 1e-8 relative. Intervals are the normal ones
(``estimate +/- qnorm(0.975) se``, statsmodels ``use_t=False``).
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import impact
from impact.panel import Panel

SETTINGS = settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def panels(draw, staggered: bool):
    n = draw(st.integers(8, 24))
    t = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_treated = draw(st.integers(2, n - 2))
    cohort = np.full(n, np.inf)
    if staggered and t > 2:
        cohort[:n_treated] = rng.integers(1, t, size=n_treated)
    else:
        cohort[:n_treated] = draw(st.integers(1, t - 1))
    rng.shuffle(cohort)
    noise = rng.gamma(2.0, 0.5, size=(n, 1))  # heteroskedastic units
    Y = (
        rng.normal(size=(n, 1))
        + rng.normal(size=(1, t))
        + noise * rng.normal(size=(n, t))
    )
    Y += 0.7 * (np.arange(t)[None, :] >= cohort[:, None])
    n_clusters = draw(st.sampled_from([0, 3, 5]))  # 0 = no cluster= argument
    clusters = None if n_clusters == 0 else rng.integers(0, n_clusters, size=n)
    if clusters is not None and len(np.unique(clusters)) < 2:
        clusters[:2] = [0, 1]
    return Y, cohort, clusters


def _fit(Y, cohort, clusters, method):
    return impact.did(
        Panel.from_arrays(Y, cohort, clusters=clusters),
        method=method,
        inference="analytic",
    )


def _check_interval(res, est, se):
    z = 1.959963984540054
    assert res.ci == pytest.approx((est - z * se, est + z * se), rel=1e-8, abs=1e-10)


@SETTINGS
@given(panels(staggered=False))
def test_2x2_matches_statsmodels(panel):
    Y, cohort, clusters = panel
    g = int(cohort[np.isfinite(cohort)][0])
    dy = Y[:, g:].mean(axis=1) - Y[:, :g].mean(axis=1)
    X = sm.add_constant(np.isfinite(cohort).astype(float))
    if clusters is None:
        ols = sm.OLS(dy, X).fit(cov_type="HC2")
    else:
        ols = sm.OLS(dy, X).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    res = _fit(Y, cohort, clusters, "2x2")
    assert res.estimate == pytest.approx(ols.params[1], rel=1e-10, abs=1e-12)
    assert res.se == pytest.approx(ols.bse[1], rel=1e-8)
    _check_interval(res, ols.params[1], ols.bse[1])


@SETTINGS
@given(panels(staggered=True))
def test_twfe_matches_statsmodels(panel):
    Y, cohort, clusters = panel
    n, t = Y.shape
    D = (np.arange(t)[None, :] >= cohort[:, None]).astype(float)
    unit = np.repeat(np.arange(n), t)
    period = np.tile(np.arange(t), n)
    X = np.column_stack(
        [
            D.ravel(),
            np.ones(n * t),
            (unit[:, None] == np.arange(1, n)[None, :]).astype(float),
            (period[:, None] == np.arange(1, t)[None, :]).astype(float),
        ]
    )
    groups = unit if clusters is None else np.repeat(clusters, t)
    ols = sm.OLS(Y.ravel(), X).fit(
        cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False}
    )
    G, N, K = len(np.unique(groups)), n * t, 1 + (t - 1) + 1
    se = ols.bse[0] * np.sqrt(G / (G - 1) * (N - 1) / (N - K))
    res = _fit(Y, cohort, clusters, "twfe")
    assert res.estimate == pytest.approx(ols.params[0], rel=1e-9, abs=1e-11)
    assert res.se == pytest.approx(se, rel=1e-8)
    _check_interval(res, ols.params[0], se)
