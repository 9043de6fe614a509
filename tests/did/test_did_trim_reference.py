"""Propensity-score trimming of CS with covariates, against DRDID's formulas by hand.

R ``did`` 2.5 calls ``DRDID::std_ipw_did_panel`` (``est_method="ipw"``) and
``DRDID::drdid_panel`` (``"dr"``) with ``trim.level = 0.995``: the logit score is capped
at ``1 - 1e-6``, comparison units with a score of 0.995 or more get weight zero, treated
units are never trimmed. The estimators are (DRDID source, panel case)::

    w1 = D,  w0 = ps (1 - D) / (1 - ps) * 1{ps < 0.995}
    ipw = mean(w1 dY) / mean(w1) - mean(w0 dY) / mean(w0)
    dr  = same with dY - X b, b the OLS of dY on X among comparisons

This test rebuilds both with statsmodels' logit on a two-period panel where one
comparison unit has a score in (0.990, 0.995) and another in (0.995, 0.999), so moving
the threshold either way (to 0.99 or 0.999) or dropping it changes the estimate by more
than 0.01 (asserted below), far outside the 1e-8 tolerance (Newton logit converged to
~1e-10 against statsmodels' IRLS).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import impact

pytestmark = pytest.mark.reference
TRIM = 0.995  # DRDID trim.level default used by R did


def _data():
    rng = np.random.default_rng(1)
    n1, n0 = 25, 45
    x = np.r_[rng.normal(3.0, 1.2, n1), rng.normal(-0.5, 1, n0)]
    x[n1], x[n1 + 1] = 6.1, 6.8  # comparison units with scores ~0.9916 and ~0.9961
    d = np.r_[np.ones(n1), np.zeros(n0)]
    y0 = rng.normal(size=n1 + n0) + x
    dy = 0.5 * x + 0.3 * x**2 / 4 + rng.normal(scale=0.5, size=n1 + n0) + 1.0 * d
    dy[n1 : n1 + 2] += 3.0  # the high-score comparisons have unusual changes
    return x, d, y0, dy


def _drdid(x, d, dy, trim, kind):
    X = sm.add_constant(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ps = sm.GLM(d, X, family=sm.families.Binomial()).fit(tol=1e-14).predict(X)
    ps = np.minimum(ps, 1 - 1e-6)
    keep = np.where(d == 1, 1.0, (ps < trim).astype(float))
    w1 = keep * d
    w0 = keep * ps * (1 - d) / (1 - ps)
    resid = dy
    if kind == "dr":
        ctrl = d == 0
        b = np.linalg.lstsq(X[ctrl], dy[ctrl], rcond=None)[0]
        resid = dy - X @ b
    return np.mean(w1 * resid) / np.mean(w1) - np.mean(w0 * resid) / np.mean(w0), ps


@pytest.mark.parametrize("kind", ["ipw", "dr"])
def test_trimming_at_0995_matches_drdid_by_hand(kind):
    x, d, y0, dy = _data()
    n = len(x)
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), 2),
            "year": np.tile([2010, 2011], n),
            "y": np.column_stack([y0, y0 + dy]).ravel(),
            "x": np.repeat(x, 2),
            "first": np.repeat(np.where(d == 1, 2011, 0), 2),
        }
    )
    res = impact.did(
        df,
        outcome="y",
        unit="unit",
        time="year",
        cohort="first",
        covariates="x",
        est_method=kind,
        inference="analytic",
    )
    expect, ps = _drdid(x, d, dy, TRIM, kind)
    # preconditions: one comparison unit on each side of the threshold
    assert 0.990 < ps[25] < 0.995 < ps[26] < 0.999
    assert np.sum((d == 0) & (ps >= 0.99)) == 2
    for other in (0.99, 0.999, 1.01):
        assert abs(_drdid(x, d, dy, other, kind)[0] - expect) > 0.01
    assert res.att_gt["att"].iloc[0] == pytest.approx(expect, abs=1e-8)
    assert res.estimate == pytest.approx(expect, abs=1e-8)


@pytest.mark.parametrize("kind", ["ipw", "dr"])
def test_batched_route_trims_at_0995(kind):
    # the batched fit used by permutation inference with covariates follows the same
    # DRDID rule (the original assignment is row 0 of the batch)
    from impact.did._cs_cov_batch import cs_covariate_att_batch

    x, d, y0, dy = _data()
    Y = np.column_stack([y0, y0 + dy])
    X = np.repeat(x[:, None, None], 2, axis=1)
    cohort = np.where(d == 1, 1.0, np.inf)
    rng = np.random.default_rng(0)
    C = np.stack([cohort, rng.permutation(cohort)])
    batch = cs_covariate_att_batch(Y, C, np.array([2010, 2011]), X, est_method=kind)
    expect, _ = _drdid(x, d, dy, TRIM, kind)
    assert batch.att[0, 0] == pytest.approx(expect, abs=1e-8)
