"""Linear-estimator helpers: TWFE weights and cluster-robust SEs against fixest values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from impact.errors import EstimationError, SpecError
from impact.inference import (
    cluster_robust_se,
    did2x2_weights,
    fe_residuals,
    twfe_weights,
)


def _wide(df: pd.DataFrame, unit: str, time: str, y: str, cohort: str):
    wide = df.pivot(index=unit, columns=time, values=y).to_numpy()
    coh = df.groupby(unit)[cohort].first().replace(0, np.inf).fillna(np.inf).to_numpy()
    periods = np.sort(df[time].unique())
    return wide, periods[None, :] >= coh[:, None]


@pytest.mark.reference
def test_mpdta_twfe_and_crv1(reference_data):
    # SOURCES.md: mpdta static TWFE lemp ~ treat_post | countyreal + year = -0.0365489,
    # CRV1 SE 0.0132652 (fixest default small-sample correction). Published to 7
    # significant digits, so the tolerance is half a unit in the last digit.
    df = pd.read_csv(reference_data / "mpdta.csv")
    y, d = _wide(df, "countyreal", "year", "lemp", "first.treat")
    a = twfe_weights(d)
    assert np.sum(a * y) == pytest.approx(-0.0365489, abs=5e-8)
    resid = fe_residuals(y, d[..., None].astype(float))
    se, g = cluster_robust_se(a, resid, n_params=y.shape[1] + 1)
    assert g == 500
    assert se == pytest.approx(0.0132652, abs=5e-8)


@pytest.mark.reference
def test_castle_twfe_crv1(reference_data):
    # research/did.md 4.3: castle TWFE (D = year >= effyear) clustered SE 0.0588742
    # (fixest / reghdfe / pyfixest); coefficient 0.0818116169306475 (bacondecomp).
    df = pd.read_csv(reference_data / "castle.csv")
    y, d = _wide(df, "sid", "year", "l_homicide", "effyear")
    a = twfe_weights(d)
    assert np.sum(a * y) == pytest.approx(0.0818116169306475, abs=1e-12)
    resid = fe_residuals(y, d[..., None].astype(float))
    se, _ = cluster_robust_se(a, resid, n_params=y.shape[1] + 1)
    assert se == pytest.approx(0.0588742, abs=5e-8)


def test_crv_matches_statsmodels_with_dummies():
    # statsmodels' cluster SE uses G/(G-1) (n-1)/(n-k) with k = every column of the
    # dummy design; with n_params = k the two must agree to rounding error.
    rng = np.random.default_rng(0)
    n, t = 30, 6
    y = rng.normal(size=(n, t)) + rng.normal(size=(n, 1))
    d = np.zeros((n, t), bool)
    d[:8, 3:] = True
    z = rng.normal(size=(n, t, 1))
    ui, ti = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    x = np.column_stack(
        [d.ravel().astype(float), z.reshape(-1), np.eye(n)[ui], np.eye(t)[ti][:, 1:]]
    )
    fit = sm.OLS(y.ravel(), x).fit(cov_type="cluster", cov_kwds={"groups": ui})
    a = np.linalg.pinv(x)[0].reshape(n, t)
    full = np.concatenate([z, d[..., None].astype(float)], axis=-1)
    se, _ = cluster_robust_se(a, fe_residuals(y, full), n_params=x.shape[1])
    assert np.sum(a * y) == pytest.approx(fit.params[0], rel=1e-10)
    assert se == pytest.approx(fit.bse[0], rel=1e-9)


def test_did2x2_weights_equal_difference_of_means():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(10, 5))
    d = np.zeros((10, 5), bool)
    d[:3, 3:] = True  # 3 treated of 10 units, 3 pre and 2 post periods
    a = did2x2_weights(d)
    manual = (y[:3, 3:].mean() - y[:3, :3].mean()) - (
        y[3:, 3:].mean() - y[3:, :3].mean()
    )
    assert np.sum(a * y) == pytest.approx(manual, rel=1e-12)
    assert np.sum(a * y) == pytest.approx(np.sum(twfe_weights(d) * y), rel=1e-10)


def test_linear_helpers_raise():
    d = np.zeros((5, 4), bool)
    with pytest.raises(EstimationError, match="not identified"):
        twfe_weights(d)
    with pytest.raises(EstimationError, match="treated and untreated units"):
        did2x2_weights(d)
    d[0, 2:] = True
    d[1, 3:] = True
    with pytest.raises(SpecError, match="single common adoption date"):
        did2x2_weights(d)
    with pytest.raises(EstimationError, match="at least 2 clusters"):
        cluster_robust_se(np.ones((5, 4)), np.ones((5, 4)), np.zeros(5))
    with pytest.raises(SpecError, match="n_params"):
        cluster_robust_se(np.ones((5, 4)), np.ones((5, 4)), n_params=40)
    with pytest.raises(EstimationError, match="collinear"):
        fe_residuals(np.ones((5, 4)), np.ones((5, 4, 1)))
