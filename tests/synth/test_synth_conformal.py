"""Conformal inference (Chernozhukov, Wuthrich and Zhu 2021, JASA) for synthetic controls.

No published per-period interval for our reference data exists in ../shared/research, so
the checks are (i) coverage on a simulated factor model (reduced in the default run, the
full run is marked slow), (ii) exactness of the permutation test when the residuals are
exchangeable (DiD model with iid errors: size exactly floor(alpha (T0+1)) / (T0+1), CWZ
Theorem 1), (iii) the intervals really are the acceptance region of the test, and
(iv) consistency with the plain SC gap on Proposition 99.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError, ImpactWarning, SpecError
from impact.synth.conformal import (
    _joint_p,
    _predictor,
    _prepare,
    _pvalue_one,
    conformal_att_interval,
    conformal_intervals,
    conformal_pvalue,
)
from impact.synth.weights import simplex_weights


def _factor_panel(rng, T0=19, T1=5, J=15, effect=1.5):
    """Two-factor model; the treated unit's loadings are a convex mix of 3 donors."""
    T = T0 + T1
    f = np.column_stack([np.linspace(0, 2, T), rng.normal(0, 1, T)])
    lam = rng.uniform(0, 2, (J, 2))
    mix = rng.dirichlet(np.ones(3))
    lam1 = mix @ lam[:3]
    Y0 = f @ lam.T + rng.normal(0, 0.5, (T, J))
    y1 = f @ lam1 + rng.normal(0, 0.5, T)
    y1[T0:] += effect
    return y1, Y0, T0


def _coverage(n_sims, method, seed, alpha=0.05):
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(n_sims):
        y1, Y0, T0 = _factor_panel(rng)
        y, X, T0, state = _prepare(y1, Y0, T0, method, "test", None)
        f = _predictor(method, state)
        for t in range(T0, y.size):
            p = _pvalue_one(f, y[:T0], X[:T0], float(y[t]), X[t], 1.5)
            hits.append(p > alpha)
    return float(np.mean(hits))


@pytest.mark.montecarlo
def test_coverage_factor_model_reduced():
    # reduced run: 60 panels x 5 post-periods = 300 tests of the true effect. Nominal
    # coverage 0.95; two-sided band 0.95 +/- (2 MCSE + 1 point), MCSE = sqrt(0.95 *
    # 0.05 / 300) = 0.0126: [0.915, 0.985] (measured 0.967). A test that never rejects
    # fails the upper bound.
    cov = _coverage(60, "sc", seed=11)
    assert 0.915 <= cov <= 0.985, cov


@pytest.mark.slow
@pytest.mark.montecarlo
@pytest.mark.parametrize("method", ["sc", "did", "augmented"])
def test_coverage_factor_model_full(method):
    # 400 panels x 5 periods = 2000 tests; MCSE sqrt(0.95 * 0.05 / 2000) = 0.0049;
    # band 0.95 +/- (2 MCSE + 1 point) = [0.930, 0.970]. Measured (seed 12): sc
    # 0.9555, augmented 0.9555, did 0.9305 (the factor model violates DiD's parallel
    # trends mildly, so DiD sits at the lower edge).
    cov = _coverage(400, method, seed=12)
    assert 0.930 <= cov <= 0.970, cov


@pytest.mark.montecarlo
def test_exact_size_with_exchangeable_residuals():
    # DiD counterfactual + iid errors: the T0 + 1 residuals are exchangeable, so the
    # test of the true effect rejects with probability exactly 1/(T0 + 1) = 0.05 at
    # alpha = 0.05 (T0 = 19). 1500 draws: binomial SD 0.0056, band +-3.5 SD.
    rng = np.random.default_rng(5)
    T0, J = 19, 8
    rej = []
    for _ in range(1500):
        Y0 = (
            rng.normal(size=(T0 + 1, J))
            + rng.normal(size=J)
            + np.arange(T0 + 1)[:, None]
        )
        y1 = Y0.mean(axis=1) + 3.0 + rng.normal(size=T0 + 1)
        y1[T0] += 2.0
        f = _predictor("did", {})
        rej.append(_pvalue_one(f, y1[:T0], Y0[:T0], float(y1[T0]), Y0[T0], 2.0) <= 0.05)
    assert np.mean(rej) == pytest.approx(0.05, abs=0.02)


def test_intervals_are_acceptance_regions():
    rng = np.random.default_rng(3)
    y1, Y0, T0 = _factor_panel(rng)
    out = conformal_intervals(y1, Y0, T0, method="sc", alpha=0.1)
    assert list(out.columns) == ["gap", "ci_low", "ci_high", "pvalue"]
    assert list(out.index) == list(range(T0, y1.size)) and out.index.name == "t"
    y, X, T0, state = _prepare(y1, Y0, T0, "sc", "test", None)
    f = _predictor("sc", state)
    for t, row in out.iterrows():
        p = lambda th, t=t: _pvalue_one(f, y[:T0], X[:T0], float(y[t]), X[t], th)  # noqa: E731
        width = row.ci_high - row.ci_low
        assert row.ci_low <= row.gap <= row.ci_high
        assert p(row.ci_low) > 0.1 and p(row.ci_high) > 0.1
        eps = 1e-3 * width
        assert p(row.ci_low - eps) <= 0.1 and p(row.ci_high + eps) <= 0.1
        assert row.pvalue == pytest.approx(p(0.0))
    # a user grid gives the accepted grid range, within the grid spacing
    grid = np.linspace(out.ci_low.min() - 1, out.ci_high.max() + 1, 401)
    g = conformal_intervals(y1, Y0, T0, method="sc", alpha=0.1, grid=grid)
    step = grid[1] - grid[0]
    assert np.all(np.abs(g.ci_low - out.ci_low) <= step)
    assert np.all(np.abs(g.ci_high - out.ci_high) <= step)


def test_prop99_gap_matches_sc(reference_data):
    df = pd.read_csv(reference_data / "smoking_prop99.csv")
    wide = df.pivot(index="state", columns="year", values="cigsale")
    is_ca = np.asarray(wide.index == "California")
    y1, Y0, T0 = wide.to_numpy()[is_ca][0], wide.to_numpy()[~is_ca].T, 19
    out = conformal_intervals(y1, Y0, T0, method="did", alpha=0.05)
    expected = y1 - Y0.mean(axis=1) - np.mean(y1[:T0] - Y0[:T0].mean(axis=1))
    assert out.gap.to_numpy() == pytest.approx(expected[T0:], abs=1e-10)
    w = simplex_weights(y1[:T0], Y0[:T0])
    grid = np.linspace(-70.0, 30.0, 101)
    sc = conformal_intervals(y1, Y0, T0, method="sc", alpha=0.05, grid=grid)
    assert sc.gap.to_numpy() == pytest.approx((y1 - Y0 @ w)[T0:], abs=1e-8)
    # p-values live on the 1/(T0+1) lattice
    assert np.allclose(sc.pvalue * (T0 + 1), np.round(sc.pvalue * (T0 + 1)))
    assert np.all((sc.ci_low > -70.0) & (sc.ci_high < 30.0))


def _brute_predictor(method, lam, zeta):
    """Counterfactual models written from their definitions (no impact solver).

    Simplex-constrained least squares by scipy's NNLS with a heavily weighted
    sum-to-one row; ``lam`` and ``zeta`` are the tuning values the module chose.
    """
    from scipy.optimize import nnls

    def simplex_ls(A, b):
        M = 1e4 * max(np.abs(A).max(), np.abs(b).max())
        w, _ = nnls(np.vstack([A, np.full(A.shape[1], M)]), np.append(b, M))
        return w

    def fit(y, Y0, Y0_all):
        if method == "did":
            return Y0_all.mean(axis=1) + np.mean(y - Y0.mean(axis=1))
        if method == "sdid":
            S, J = Y0.shape
            A = np.vstack([Y0 - Y0.mean(axis=0), np.sqrt(S) * zeta * np.eye(J)])
            w = simplex_ls(A, np.append(y - y.mean(), np.zeros(J)))
            return Y0_all @ w + np.mean(y - Y0 @ w)
        # ridge-augmented SCM: w_scm + Xc (Xc'Xc + lam I)^-1 (y - Y0 w_scm)
        w = simplex_ls(Y0, y)
        Xc = (Y0 - Y0.mean(axis=1, keepdims=True)).T
        w = w + Xc @ np.linalg.solve(Xc.T @ Xc + lam * np.eye(Xc.shape[1]), y - Y0 @ w)
        return Y0_all @ w

    return fit


def test_other_methods_match_grid_inversion():
    # The per-period interval is {theta: p(theta) > alpha}. Brute force: the p-value of
    # every theta on a fine grid from the definition (refit with y_t - theta appended,
    # share of the T0 + 1 absolute residuals at least the last one), the interval read
    # off the accepted grid points; the module's end points (bisection to 1e-4 of the
    # residual scale) must lie within one grid step of the grid's.
    rng = np.random.default_rng(4)
    y1, Y0, T0 = _factor_panel(rng, T1=2)
    for method in ("augmented", "did", "sdid"):
        out = conformal_intervals(y1, Y0, T0, method=method, alpha=0.1)
        _, _, _, state = _prepare(y1, Y0, T0, method, "test", None)
        diffs = np.diff(Y0[:T0], axis=0)
        zeta = (y1.size - T0) ** 0.25 * np.std(diffs, ddof=1)
        if method == "sdid":
            assert state["zeta"] == pytest.approx(zeta, rel=1e-12)
        f = _brute_predictor(method, state.get("lambda", np.nan), zeta)
        for t in range(T0, y1.size):

            def p(theta, t=t, f=f):
                yf = np.append(y1[:T0], y1[t] - theta)
                Xf = np.vstack([Y0[:T0], Y0[t]])
                u = np.abs(yf - f(yf, Xf, Xf))
                return np.mean(u >= u[-1] * (1 - 1e-9))

            gap = y1[t] - f(y1[:T0], Y0[:T0], Y0[t][None, :])[0]
            assert out.loc[t, "gap"] == pytest.approx(gap, abs=1e-6)
            assert out.loc[t, "pvalue"] == pytest.approx(p(0.0))
            grid = gap + np.linspace(-6.0, 6.0, 601)
            step = grid[1] - grid[0]
            acc = grid[np.array([p(g) > 0.1 for g in grid])]
            assert grid[0] < acc.min() and acc.max() < grid[-1]
            assert out.loc[t, "ci_low"] == pytest.approx(acc.min(), abs=step)
            assert out.loc[t, "ci_high"] == pytest.approx(acc.max(), abs=step)


@pytest.mark.montecarlo
def test_joint_pvalue_size_and_power():
    rng = np.random.default_rng(8)
    T0, T1, J = 20, 5, 6
    pv = []
    for _ in range(400):
        Y0 = rng.normal(size=(T0 + T1, J)) + np.arange(T0 + T1)[:, None] * 0.2
        y1 = Y0.mean(axis=1) + rng.normal(size=T0 + T1)
        pv.append(conformal_pvalue(y1, Y0, T0, method="did"))
    # exchangeable residuals: P(p <= 0.1) <= 0.1 (exact up to the lattice 1/25);
    # 400 draws, binomial SD 0.015
    assert np.mean(np.array(pv) <= 0.1) == pytest.approx(0.08, abs=0.05)
    y1 = Y0.mean(axis=1) + rng.normal(size=T0 + T1)
    y1[T0:] += 50.0
    assert conformal_pvalue(y1, Y0, T0, method="did") == pytest.approx(1 / (T0 + T1))
    assert conformal_pvalue(y1, Y0, T0, method="did", theta=50.0) > 0.1
    assert (
        conformal_pvalue(y1, Y0, T0, method="did", theta=np.full(T1, 50.0), q=np.inf)
        > 0.1
    )


@pytest.mark.montecarlo
def test_constant_effect_interval():
    # DiD model with iid errors and a constant effect 1.0: the joint test of the true
    # constant is exact (exchangeable residuals), so the interval covers it with
    # probability >= 0.95; 150 draws, binomial SD 0.018 -> accept >= 0.90.
    rng = np.random.default_rng(21)
    T0, T1, J = 30, 3, 6
    cover = []
    for _ in range(150):
        Y0 = rng.normal(size=(T0 + T1, J)) + np.arange(T0 + T1)[:, None] * 0.1
        y1 = Y0.mean(axis=1) + 2.0 + rng.normal(size=T0 + T1)
        y1[T0:] += 1.0
        f = _predictor("did", {})
        cover.append(_joint_p(f, y1, Y0, T0, np.full(T1, 1.0), 1.0, "t") > 0.05)
    assert np.mean(cover) >= 0.90
    lo, hi, p0 = conformal_att_interval(y1, Y0, T0, method="did", alpha=0.1)
    assert lo < hi and 0 < p0 <= 1
    # end points are the edges of the acceptance region
    pj = lambda th: _joint_p(f, y1, Y0, T0, np.full(T1, th), 1.0, "t")  # noqa: E731
    eps = 1e-3 * (hi - lo)
    assert pj(lo) > 0.1 and pj(hi) > 0.1
    assert pj(lo - eps) <= 0.1 and pj(hi + eps) <= 0.1
    assert p0 == pytest.approx(conformal_pvalue(y1, Y0, T0, method="did"))
    with pytest.warns(ImpactWarning, match="interval is unbounded"):
        lo, hi, _ = conformal_att_interval(y1[:12], Y0[:12], 9, method="did")
    assert np.isinf(lo) and np.isinf(hi)


def test_warnings_and_errors():
    rng = np.random.default_rng(9)
    y1, Y0, _ = _factor_panel(rng, T0=10)
    with pytest.warns(ImpactWarning, match="smallest attainable p-value"):
        out = conformal_intervals(y1, Y0, 10, method="did", alpha=0.05)
    assert np.all(np.isinf(out.ci_low)) and np.all(np.isinf(out.ci_high))
    y1, Y0, T0 = _factor_panel(rng)
    with pytest.warns(ImpactWarning, match="reaches the end of the grid"):
        conformal_intervals(y1, Y0, T0, method="did", grid=[1.4, 1.6])
    with pytest.raises(SpecError, match="'method' parameter of conformal_intervals"):
        conformal_intervals(y1, Y0, T0, method="lasso")
    with pytest.raises(SpecError, match="'alpha' parameter of conformal_intervals"):
        conformal_intervals(y1, Y0, T0, alpha=1.5)
    with pytest.raises(SpecError, match="grid must hold at least 2"):
        conformal_intervals(y1, Y0, T0, grid=[0.0])
    with pytest.raises(DataError, match="at least 2 pre-treatment periods"):
        conformal_intervals(y1, Y0, 1)
    with pytest.raises(DataError, match="no post-treatment period"):
        conformal_intervals(y1, Y0, y1.size)
    with pytest.raises(DataError, match="must be \\(periods, donors\\)"):
        conformal_intervals(y1, Y0[:-1], T0)
    Yn = Y0.copy()
    Yn[0, 0] = np.nan
    with pytest.raises(DataError, match="missing or infinite"):
        conformal_intervals(y1, Yn, T0)
    with pytest.raises(SpecError, match="one value per post-period"):
        conformal_pvalue(y1, Y0, T0, theta=[1.0, 2.0])
    with pytest.raises(SpecError, match="lambda_ must be positive"):
        conformal_intervals(y1, Y0, T0, method="augmented", lambda_=-1.0)
    with pytest.raises(SpecError, match="q must be positive"):
        conformal_pvalue(y1, Y0, T0, q=0)
