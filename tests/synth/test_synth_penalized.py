"""Penalised (Abadie-L'Hour) and de-meaned synthetic control."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

import impact
from impact.errors import SpecError
from impact.synth.penalized import PENALTY_GRID
from tests.synth.test_synth_abadie import ADH_SPEC
from tests.synth.test_synth_placebo import SIM, factor_panel

# pysyncon 1.7.0 PenalizedSynth on Proposition 99, ADH (2010) predictors (Dataprep as
# in ADH_SPEC), custom_V=None (identity V on SD-standardised predictors), printed to 6
# decimals. pysyncon solves the QP with SLSQP, so its weights are accurate to a few
# 1e-4; ours are the exact optimum, which the test also checks directly.
PYSYNCON = {
    0.01: {
        "Colorado": 0.630056,
        "Connecticut": 0.275623,
        "Texas": 0.067249,
        "Utah": 0.027072,
    },
    0.1: {"Colorado": 0.653251, "Connecticut": 0.202647, "Minnesota": 0.144103},
    1.0: {"Colorado": 0.23188, "Illinois": 0.70463, "Minnesota": 0.063489},
}


@pytest.fixture(scope="module")
def prop99(reference_data):
    return pd.read_csv(reference_data / "smoking_prop99.csv")


def _qp_objective(res, lam):
    f = res.fits[0]
    X = np.column_stack([f.x1, f.X0])
    sd = X.std(axis=1, ddof=1)
    x1, X0 = f.x1 / sd, f.X0 / sd[:, None]

    def obj(w):
        d = x1 - X0 @ w
        return d @ d + lam * (((X0 - x1[:, None]) ** 2).sum(axis=0) @ w)

    return obj


@pytest.mark.parametrize("lam", sorted(PYSYNCON))
def test_penalized_weights_match_pysyncon(prop99, lam):
    res = impact.synth(
        prop99, **ADH_SPEC, method="penalized", penalty=lam, v="equal", inference=None
    )
    ref = pd.Series(PYSYNCON[lam]).reindex(res.weights.index, fill_value=0.0)
    np.testing.assert_allclose(res.weights.to_numpy(), ref.to_numpy(), atol=5e-4)
    obj = _qp_objective(res, lam)
    # ours is the exact optimum: no worse than pysyncon's SLSQP point
    assert obj(res.weights.to_numpy()) <= obj(ref.to_numpy() / ref.sum()) + 1e-10
    assert res.extra["penalty"] == lam


def _brute_weights(y1, Y0, lam):
    """Penalised simplex weights by SLSQP from many starts (independent solver)."""
    J = Y0.shape[1]
    d2 = ((Y0 - y1[:, None]) ** 2).sum(axis=0)

    def f(w):
        r = y1 - Y0 @ w
        return r @ r + lam * d2 @ w

    best = None
    for j in range(J):
        w0 = np.full(J, 0.2 / (J - 1))
        w0[j] = 0.8
        r = minimize(
            f,
            w0,
            method="SLSQP",
            bounds=[(0, 1)] * J,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        if best is None or r.fun < best.fun:
            best = r
    return best.x


def test_penalty_chosen_by_cross_validation_matches_brute_force():
    df = factor_panel(n_units=8, n_periods=16, t0=12, seed=5)
    res = impact.synth(df, **SIM | {"treatment_time": 2012}, method="penalized")
    wide = df.pivot(index="unit", columns="year", values="y")
    y1 = wide.loc["T"].to_numpy()
    Y0 = wide.drop(index="T").to_numpy().T
    # pre-period 2000-2011: train on 2000-2005, validate on 2006-2011
    train, valid = slice(0, 6), slice(6, 12)
    mspe = []
    for lam in PENALTY_GRID:
        w = _brute_weights(y1[train], Y0[train], lam)
        mspe.append(np.mean((y1[valid] - Y0[valid] @ w) ** 2))
    cv = res.extra["penalty_cv"]
    np.testing.assert_allclose(cv["mspe"], mspe, rtol=1e-5)
    assert res.extra["penalty"] == PENALTY_GRID[int(np.argmin(mspe))]
    w = _brute_weights(y1[:12], Y0[:12], res.extra["penalty"])
    np.testing.assert_allclose(res.weights.to_numpy(), w, atol=1e-5)


def test_demeaned_matches_direct_computation():
    df = factor_panel(n_units=8, seed=2)
    df.loc[df.unit == "T", "y"] += 25.0  # a level shift no convex mix can match
    res = impact.synth(df, **SIM, demean=True, inference=None)
    wide = df.pivot(index="unit", columns="year", values="y")
    y1 = wide.loc["T"].to_numpy()
    Y0 = wide.drop(index="T").to_numpy().T
    pre = slice(0, 10)
    m1, m0 = y1[pre].mean(), Y0[pre].mean(axis=0)
    w = _brute_weights(y1[pre] - m1, Y0[pre] - m0, 0.0)
    np.testing.assert_allclose(res.weights.to_numpy(), w, atol=1e-6)
    synthetic = m1 + (Y0 - m0) @ w
    np.testing.assert_allclose(res.gaps["T"].to_numpy(), y1 - synthetic, atol=1e-5)
    assert res.estimate == pytest.approx(np.mean((y1 - synthetic)[10:]), abs=1e-5)


def test_options_that_would_be_ignored_are_refused(prop99):
    with pytest.raises(SpecError, match="predictors"):
        impact.synth(prop99, **ADH_SPEC, method="sdid")
    base = {k: ADH_SPEC[k] for k in ("outcome", "unit", "time")}
    base |= {"treated_units": "California", "treatment_time": 1989}
    with pytest.raises(SpecError, match="conformal"):
        impact.synth(prop99, **base, method="penalized", inference="conformal")
    with pytest.raises(SpecError, match="penalty"):
        impact.synth(prop99, **base, method="penalized", penalty=-1)
    with pytest.raises(SpecError, match="demean"):
        impact.synth(prop99, **base, method="sdid", demean=True)


def test_cross_validation_ties_go_to_the_smallest_penalty():
    # the treated unit copies donor d00 before treatment: every penalty gives w = e_0
    # and a validation MSPE of exactly 0, so the documented tie rule (smallest
    # penalty) picks 0, the unpenalised synthetic control
    df = factor_panel(n_units=8, n_periods=16, t0=12, seed=5)
    y = df.loc[df["unit"] == "d00", "y"].to_numpy().copy()
    y[12:] -= 3.0
    df.loc[df["unit"] == "T", "y"] = y
    res = impact.synth(df, **SIM | {"treatment_time": 2012}, method="penalized")
    assert np.all(res.extra["penalty_cv"]["mspe"].to_numpy() == 0.0)
    assert res.extra["penalty"] == 0.0
    assert res.weights["d00"] == pytest.approx(1.0, abs=1e-12)
