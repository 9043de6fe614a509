"""Ridge-augmented SCM (impact.synth.augmented).

No published augsynth number exists for Proposition 99 in ../shared/research/synth.md
(augsynth's own examples use the Kansas tax cuts, data not shipped here), so these tests
pin the defining properties of Ben-Michael, Feller and Rothstein (2021, JASA), eq. (6)
and Section 4: lambda -> inf returns the SCM weights, lambda -> 0 interpolates the
pre-period when there are more donors than pre-periods, the weights sum to one, the
closed form agrees with a direct solve, the one-standard-error CV rule, and a recovery
check where the treated unit lies outside the donors' convex hull.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError, SpecError
from impact.synth.augmented import augmented_weights_fixed, ridge_augmented_weights
from impact.synth.weights import simplex_weights


def _hull_panel(seed=0, T0=15, T1=5, J=30, outside=True, effect=0.0):
    """Factor model; the treated loading exceeds every donor's when ``outside``."""
    rng = np.random.default_rng(seed)
    T = T0 + T1
    f1 = np.linspace(0, 3, T) + rng.normal(0, 0.2, T).cumsum()
    f2 = rng.normal(0, 1, T)
    load1 = rng.uniform(0.5, 1.5, J)
    load2 = rng.normal(0, 1, J)
    Y0 = load1[None, :] * f1[:, None] + load2[None, :] * f2[:, None]
    Y0 = Y0 + rng.normal(0, 0.1, (T, J))
    l1 = 2.0 if outside else 1.0
    y1 = l1 * f1 + 0.3 * f2 + rng.normal(0, 0.1, T)
    y0_true = y1.copy()
    y1 = y1.copy()
    y1[T0:] += effect
    return y1, Y0, T0, y0_true


def test_large_lambda_returns_scm_weights():
    y1, Y0, T0, _ = _hull_panel(seed=1)
    w = simplex_weights(y1[:T0], Y0[:T0])
    fit = ridge_augmented_weights(y1[:T0], Y0[:T0], w, lambda_=1e14)
    # the ridge correction is O(1/lambda): 1e-14 x |X||imbalance| is far below 1e-8
    assert fit.weights == pytest.approx(w, abs=1e-8)
    assert augmented_weights_fixed(y1[:T0], Y0[:T0], w, np.inf) == pytest.approx(w)
    assert fit.cv_table.empty and fit.lambda_ == 1e14


def test_small_lambda_interpolates_pre_period():
    y1, Y0, T0, _ = _hull_panel(seed=2)  # J = 30 donors > T0 = 15 pre-periods
    w = simplex_weights(y1[:T0], Y0[:T0])
    fit = ridge_augmented_weights(y1[:T0], Y0[:T0], w, lambda_=1e-10)
    assert fit.pre_rmspe_scm > 0.1  # the treated unit is outside the hull
    assert fit.pre_rmspe < 1e-6
    assert fit.weights.sum() == pytest.approx(1.0, abs=1e-10)
    assert fit.weights.min() < 0  # extrapolation needs negative weights


def test_closed_form_matches_direct_solve():
    y1, Y0, T0, _ = _hull_panel(seed=3)
    w = simplex_weights(y1[:T0], Y0[:T0])
    lam = 3.7
    Xc = (Y0[:T0] - Y0[:T0].mean(axis=1, keepdims=True)).T
    direct = w + Xc @ np.linalg.solve(
        Xc.T @ Xc + lam * np.eye(T0), y1[:T0] - Y0[:T0] @ w
    )
    got = augmented_weights_fixed(y1[:T0], Y0[:T0], w, lam)
    assert got == pytest.approx(direct, rel=1e-9, abs=1e-12)


def test_cross_validation_table_and_one_se_rule():
    y1, Y0, T0, _ = _hull_panel(seed=4)
    w = simplex_weights(y1[:T0], Y0[:T0])
    fit = ridge_augmented_weights(y1[:T0], Y0[:T0], w)
    tab = fit.cv_table
    assert isinstance(tab, pd.DataFrame) and len(tab) == 21
    assert list(tab.columns) == ["lambda", "cv_mse", "cv_se", "selected"]
    assert tab["selected"].sum() == 1
    # grid: geometric from sigma_max^2 down to 1e-8 of it
    Xc = (Y0[:T0] - Y0[:T0].mean(axis=1, keepdims=True)).T
    assert tab["lambda"].iloc[0] == pytest.approx(np.linalg.norm(Xc, 2) ** 2)
    assert tab["lambda"].iloc[-1] / tab["lambda"].iloc[0] == pytest.approx(1e-8)
    best = tab["cv_mse"].idxmin()
    within = tab["cv_mse"] <= tab["cv_mse"][best] + tab["cv_se"][best]
    assert fit.lambda_ == tab.loc[within, "lambda"].max()
    assert fit.lambda_ == tab.loc[tab["selected"], "lambda"].item()
    # fewer folds: only the last origins
    fit3 = ridge_augmented_weights(y1[:T0], Y0[:T0], w, n_folds=3)
    assert len(fit3.cv_table) == 21 and np.isfinite(fit3.lambda_)


@pytest.mark.montecarlo
def test_recovery_outside_convex_hull():
    # recovery (smoke): the treated loading is outside the donors' range, so SCM is
    # biased; the ridge augmentation must cut the mean absolute post-period error.
    err_scm, err_aug = [], []
    for seed in range(8):
        y1, Y0, T0, y0 = _hull_panel(seed=10 + seed, effect=1.0)
        w = simplex_weights(y1[:T0], Y0[:T0])
        fit = ridge_augmented_weights(y1[:T0], Y0[:T0], w)
        est_scm = np.mean(y1[T0:] - Y0[T0:] @ w)
        est_aug = np.mean(y1[T0:] - Y0[T0:] @ fit.weights)
        err_scm.append(abs(est_scm - 1.0))
        err_aug.append(abs(est_aug - 1.0))
    assert np.mean(err_aug) < 0.5 * np.mean(err_scm)


def test_duplicated_donors_do_not_blow_up():
    # identical donors make the centred donor matrix zero up to rounding; the ridge
    # correction must ignore those directions instead of dividing by ~1e-16
    rng = np.random.default_rng(6)
    y1 = rng.normal(size=20)
    Y0 = np.repeat(rng.normal(size=(20, 1)), 3, axis=1)
    w = np.full(3, 1 / 3)
    fit = ridge_augmented_weights(y1, Y0, w)
    assert np.all(np.isfinite(fit.weights))
    assert fit.weights == pytest.approx(w, abs=1e-12)


def test_bad_input():
    y1, Y0, T0, _ = _hull_panel(seed=5)
    w = simplex_weights(y1[:T0], Y0[:T0])
    with pytest.raises(DataError, match="must be \\(pre-periods, donors\\)"):
        ridge_augmented_weights(y1[:T0], Y0[: T0 - 1], w)
    with pytest.raises(DataError, match="scm_weights has 29 entries for 30 donors"):
        ridge_augmented_weights(y1[:T0], Y0[:T0], w[:-1])
    Yn = Y0[:T0].copy()
    Yn[3, 4] = np.nan
    with pytest.raises(DataError, match="missing or infinite"):
        ridge_augmented_weights(y1[:T0], Yn, w)
    with pytest.raises(SpecError, match="lambda_ must be positive"):
        ridge_augmented_weights(y1[:T0], Y0[:T0], w, lambda_=0.0)
    with pytest.raises(SpecError, match="at least 3 pre-periods"):
        ridge_augmented_weights(y1[:2], Y0[:2], simplex_weights(y1[:2], Y0[:2]))
    with pytest.raises(SpecError, match="n_folds must be between 2"):
        ridge_augmented_weights(y1[:T0], Y0[:T0], w, n_folds=T0)
    with pytest.raises(DataError, match="donor pool is empty"):
        ridge_augmented_weights(y1[:T0], Y0[:T0, :0], w[:0])


def test_cross_validation_errors_by_hand():
    # augsynth's leave-one-period-out CV written out: every pre-period but the last is
    # held out in turn; SCM weights (NNLS with a heavy sum-to-one row) and the ridge
    # correction Xc (Xc'Xc + lam I)^-1 (imbalance) are fitted on the other periods;
    # cv_mse = mean squared error of the held-out prediction, cv_se = SD (ddof 1) of
    # the errors over sqrt(number of folds)
    from scipy.optimize import nnls

    y1, Y0, T0, _ = _hull_panel(seed=4)
    w = simplex_weights(y1[:T0], Y0[:T0])
    tab = ridge_augmented_weights(y1[:T0], Y0[:T0], w).cv_table
    J = Y0.shape[1]
    errs = []
    for i in range(T0 - 1):
        tr = np.flatnonzero(np.arange(T0) != i)
        A, b = Y0[tr], y1[tr]
        M = 1e4 * max(np.abs(A).max(), np.abs(b).max())
        wi, _ = nnls(np.vstack([A, np.full(J, M)]), np.append(b, M))
        Xc = (A - A.mean(axis=1, keepdims=True)).T
        row = []
        for lam in tab["lambda"]:
            corr = Xc @ np.linalg.solve(Xc.T @ Xc + lam * np.eye(tr.size), b - A @ wi)
            row.append((y1[i] - (wi + corr) @ Y0[i]) ** 2)
        errs.append(row)
    errs = np.array(errs)
    np.testing.assert_allclose(tab["cv_mse"], errs.mean(axis=0), rtol=1e-4)
    se = errs.std(axis=0, ddof=1) / np.sqrt(T0 - 1)
    np.testing.assert_allclose(tab["cv_se"], se, rtol=1e-4)
