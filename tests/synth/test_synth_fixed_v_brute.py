"""Abadie synthetic control with a given V, recomputed from the definitions.

Predictors are built by hand (means of a covariate over the pre-period, outcome in
chosen years), divided by their standard deviation (ddof 1) across the treated unit and
the donors as R ``Synth`` does, and W minimises ``(x1 - X0 w)' V (x1 - X0 w)`` over the
simplex, solved here by scipy NNLS with a heavily weighted sum-to-one row. The balance
table, the reported V (normalised to sum to one) and the regression V (R ``Synth``'s
start: sum over periods of squared OLS slopes of the outcome on the standardised
predictors, statsmodels) are checked the same way.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import nnls

import impact

YEARS = np.arange(2000, 2012)
T0 = 8


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(21)
    n = 9  # 8 donors + treated
    f = np.cumsum(rng.normal(size=(YEARS.size, 2)), axis=0)
    load = rng.normal(1, 0.5, size=(n, 2))
    Y = 30 + load @ f.T + rng.normal(scale=0.5, size=(n, YEARS.size))
    X = rng.normal(5, 2, size=(n, YEARS.size))  # a time-varying covariate
    Y[-1, T0:] -= 2.0
    units = [f"d{i}" for i in range(n - 1)] + ["T"]
    df = pd.DataFrame(
        {
            "unit": np.repeat(units, YEARS.size),
            "year": np.tile(YEARS, n),
            "y": Y.ravel(),
            "x": X.ravel(),
        }
    )
    # predictors by hand: mean of x over the pre-period, outcome in 2001, 2004, 2007
    P = np.column_stack([X[:, :T0].mean(axis=1), Y[:, 1], Y[:, 4], Y[:, 7]]).T
    return df, Y, P


SPEC = {
    "outcome": "y",
    "unit": "unit",
    "time": "year",
    "treated_units": "T",
    "treatment_time": 2008,
    "predictors": ["x"],
    "special_predictors": [("y", [2001], "mean"), ("y", [2004], "mean"), ("y", [2007])],
    "inference": None,
}


def _weights_by_hand(P: np.ndarray, v: np.ndarray) -> np.ndarray:
    sd = P.std(axis=1, ddof=1)
    Ps = P / sd[:, None]
    x1, X0 = Ps[:, -1], Ps[:, :-1]
    s = np.sqrt(v / v.sum())
    A, b = s[:, None] * X0, s * x1
    M = 1e4 * max(np.abs(A).max(), np.abs(b).max())
    w, _ = nnls(np.vstack([A, np.full(A.shape[1], M)]), np.append(b, M))
    return w


@pytest.mark.parametrize("v", ["equal", [3.0, 1.0, 0.5, 2.0]])
def test_fixed_v_weights_balance_and_gap(panel, v):
    df, Y, P = panel
    res = impact.synth(df, v=v, **SPEC)
    vv = np.full(4, 0.25) if v == "equal" else np.asarray(v) / np.sum(v)
    w = _weights_by_hand(P, vv)
    np.testing.assert_allclose(res.weights.to_numpy(), w, atol=1e-6)
    np.testing.assert_allclose(res.v.to_numpy(), vv, rtol=1e-12)
    b = res.balance
    np.testing.assert_allclose(b["treated"], P[:, -1], rtol=1e-12)
    np.testing.assert_allclose(b["synthetic"], P[:, :-1] @ w, rtol=1e-6)
    np.testing.assert_allclose(b["donor_mean"], P[:, :-1].mean(axis=1), rtol=1e-12)
    gap = Y[-1] - w @ Y[:-1]
    assert res.estimate == pytest.approx(gap[T0:].mean(), abs=1e-5)
    assert res.pre_rmspe == pytest.approx(np.sqrt(np.mean(gap[:T0] ** 2)), rel=1e-5)


def test_regression_v_by_ols(panel):
    import statsmodels.api as sm

    df, Y, P = panel
    res = impact.synth(df, v="regression", **SPEC)
    Ps = P / P.std(axis=1, ddof=1)[:, None]
    design = sm.add_constant(Ps.T)
    slopes = np.array([sm.OLS(Y[:, t], design).fit().params[1:] for t in range(T0)])
    ref = (slopes**2).sum(axis=0)
    np.testing.assert_allclose(res.v.to_numpy(), ref / ref.sum(), rtol=1e-8)
    w = _weights_by_hand(P, ref)
    np.testing.assert_allclose(res.weights.to_numpy(), w, atol=1e-6)


def test_augmented_balance_is_that_of_the_scm_weights(panel):
    # method="augmented": the balance table reports the predictor fit of the SCM
    # weights that V and W matched (the ridge correction acts on the outcome path)
    df, Y, P = panel
    res = impact.synth(df, v="equal", method="augmented", **SPEC)
    w_scm = _weights_by_hand(P, np.full(4, 0.25))
    np.testing.assert_allclose(res.balance["synthetic"], P[:, :-1] @ w_scm, rtol=1e-6)
    assert np.abs(res.weights.to_numpy() - w_scm).max() > 1e-3  # really augmented


def test_simplex_weights_with_v_by_nnls():
    from impact.synth.weights import simplex_weights

    rng = np.random.default_rng(4)
    x1, X0 = rng.normal(size=5), rng.normal(size=(5, 7))
    v = np.array([4.0, 1.0, 0.25, 2.0, 0.5])
    s = np.sqrt(v)
    M = 1e4 * max(np.abs(X0).max(), np.abs(x1).max()) * s.max()
    ref, _ = nnls(np.vstack([s[:, None] * X0, np.full(7, M)]), np.append(s * x1, M))
    np.testing.assert_allclose(simplex_weights(x1, X0, v), ref, atol=1e-6)
    flat = simplex_weights(x1, X0)
    assert np.abs(flat - ref).max() > 1e-3  # v matters here
