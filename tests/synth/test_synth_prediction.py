"""Cattaneo-Feng-Titiunik prediction intervals (``inference="prediction"``).

Reference: scpi_pkg 4.0.0 on Proposition 99 (California, 38 donor states, cigsale,
pre-period 1970-1988, post 1989-2000), settings and seed in
``reference/generate_prop99_scpi.py``: e_method "all", u_alpha = e_alpha = 0.05,
sims = 200, numpy.random.seed(8894). scpi's in-sample bound is a quantile over
simulated draws; the test feeds our implementation the *same* standard normal draws
(``numpy.random.normal`` after the same seed, the order scpi uses), so the comparison is
deterministic and the tolerances are solver precision, not simulation error: scpi's
ECOS solver receives its constraint data in float32 and is accurate to a few 1e-3 per
draw; ours solves each draw exactly (a simplex QP per Lagrange multiplier).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError, SpecError
from impact.synth.prediction import _Extremes, prediction_intervals

REF = Path(__file__).parent / "reference"
SEED, SIMS = 8894, 200


@pytest.fixture(scope="module")
def prop99(reference_data):
    return pd.read_csv(reference_data / "smoking_prop99.csv")


@pytest.fixture(scope="module")
def matrices(prop99):
    Y = prop99.pivot(index="year", columns="state", values="cigsale")
    donors = sorted(c for c in Y.columns if c != "California")
    pre = Y.index < 1989
    return (
        Y.loc[pre, "California"].to_numpy(),
        Y.loc[pre, donors].to_numpy(),
        Y.loc[~pre, donors].to_numpy(),
        donors,
    )


def _scpi_normals(J: int) -> np.ndarray:
    state = np.random.RandomState(SEED)
    return state.normal(size=J * SIMS).reshape(J, SIMS)


@pytest.fixture(scope="module")
def ours(matrices):
    y, B, P, _ = matrices
    return prediction_intervals(
        y,
        B,
        P,
        u_alpha=0.05,
        e_alpha=0.05,
        e_method="gaussian",
        sims=SIMS,
        scores=_scpi_normals(B.shape[1]),
    )


def test_weights_match_scpi(matrices):
    """scpi's weights (cvxpy) agree with our exact simplex QP to 1e-4."""
    y, B, _, donors = matrices
    from impact.synth.weights import simplex_lsq

    w_ref = pd.read_csv(REF / "prop99_scpi_weights.csv").set_index("donor")["weight"]
    w = pd.Series(simplex_lsq(B, y), index=donors)
    np.testing.assert_allclose(w[w_ref.index], w_ref, atol=1e-4)
    ref = pd.read_csv(REF / "prop99_scpi_gaussian.csv")
    _, _, P, _ = matrices
    np.testing.assert_allclose(P @ w, ref["synthetic"], atol=1e-3)


def test_out_of_sample_matches_scpi(matrices):
    """e_mean, e_var and the Gaussian out-of-sample half-widths (no simulation)."""
    y, B, P, _ = matrices
    from impact.synth.prediction import _design, _out_of_sample, _rho
    from impact.synth.weights import simplex_lsq

    ref = pd.read_csv(REF / "prop99_scpi_gaussian.csv")
    draws = pd.read_csv(REF / "prop99_scpi_draws.csv").to_numpy()
    w = simplex_lsq(B, y)
    res = y - B @ w
    big = w > _rho(res, B, w, 0.2)
    X = _design(B[:, big], B.shape[0])
    Xp = np.column_stack([np.ones(P.shape[0]), P[:, big]])[:, : X.shape[1]]
    lo, hi, mean, var, _ = _out_of_sample(res, X, Xp, "gaussian", 0.05)
    np.testing.assert_allclose(mean, ref["e_mean"], atol=1e-3)
    np.testing.assert_allclose(var, ref["e_var"], rtol=2e-3)
    # scpi's full bound = its in-sample bound (quantile of its draws) + e bound
    in_lo = ref["synthetic"] + np.nanquantile(draws[:, :12], 0.025, axis=0)
    in_hi = ref["synthetic"] + np.nanquantile(draws[:, 12:], 0.975, axis=0)
    np.testing.assert_allclose(in_lo, ref["in_low"], atol=1e-5)
    np.testing.assert_allclose(in_hi, ref["in_high"], atol=1e-5)
    np.testing.assert_allclose(ref["in_low"] + lo, ref["low"], atol=5e-3)
    np.testing.assert_allclose(ref["in_high"] + hi, ref["high"], atol=5e-3)


def test_in_sample_draws_match_scpi(matrices):
    """Per draw, our exact extremes equal scpi's ECOS solutions to its precision."""
    y, B, P, _ = matrices
    draws = pd.read_csv(REF / "prop99_scpi_draws.csv").to_numpy()[:25]
    from scipy.linalg import sqrtm

    from impact.synth.prediction import _rho
    from impact.synth.weights import simplex_lsq

    w = simplex_lsq(B, y)
    res = y - B @ w
    rho = _rho(res, B, w, 0.2)
    assert rho == pytest.approx(0.2)  # scpi: type-2 rule capped at rho_max
    lb = np.where(w < rho, w, 0.0)
    big = w > rho
    T0 = B.shape[0]
    X = np.column_stack([np.ones(T0), B[:, big]])
    u_mean = X @ np.linalg.lstsq(X, res, rcond=None)[0]
    df = int(np.sum(w >= 1e-6)) - 1
    omega = (res - u_mean) ** 2 * T0 / (T0 - df)
    Sigma = (B.T * omega) @ B / T0**2
    G = (np.real(sqrtm(Sigma)) @ _scpi_normals(38)).T
    Q = B.T @ B / T0
    for i in range(draws.shape[0]):
        solver = _Extremes(Q, 1 - lb.sum(), lb - w, G[i])
        for h in range(P.shape[0]):
            assert -solver.maximum(P[h]) == pytest.approx(draws[i, h], abs=1e-2)
            assert solver.maximum(-P[h]) == pytest.approx(draws[i, 12 + h], abs=1e-2)


def test_gaussian_bounds_match_scpi(ours):
    """Same draws: in-sample bounds to 1e-3, full bounds to half of scpi's 0.01."""
    ref = pd.read_csv(REF / "prop99_scpi_gaussian.csv")
    t = ours.table
    assert ours.failed == 0
    np.testing.assert_allclose(t["in_low"], ref["in_low"], atol=1e-3)
    np.testing.assert_allclose(t["in_high"], ref["in_high"], atol=1e-3)
    # out-of-sample: deterministic given the residuals (OLS mean, log-variance OLS)
    np.testing.assert_allclose(t["e_mean"], ref["e_mean"], atol=1e-3)
    np.testing.assert_allclose(t["e_var"], ref["e_var"], rtol=2e-3)
    e_ref_low = ref["low"] - ref["in_low"]
    e_ref_high = ref["high"] - ref["in_high"]
    np.testing.assert_allclose(t["e_low"], e_ref_low, atol=5e-3)
    np.testing.assert_allclose(t["e_high"], e_ref_high, atol=5e-3)
    np.testing.assert_allclose(t["low"], ref["low"], atol=5e-3)
    np.testing.assert_allclose(t["high"], ref["high"], atol=5e-3)
    # 1989: scpi [80.0749, 102.1806]; ours [80.0752, 102.1812]


@pytest.mark.parametrize("e_method", ["ls", "qreg"])
def test_other_out_of_sample_methods_match_scpi(matrices, ours, e_method):
    """Location-scale and quantile-regression bounds on top of the same in-sample part."""
    y, B, P, _ = matrices
    ref = pd.read_csv(REF / "prop99_scpi_other.csv")
    from impact.synth.prediction import _design, _out_of_sample
    from impact.synth.weights import simplex_lsq

    w = simplex_lsq(B, y)
    res = y - B @ w
    big = w > ours.rho
    X = _design(B[:, big], B.shape[0])
    Xp = np.column_stack([np.ones(P.shape[0]), P[:, big]])[:, : X.shape[1]]
    lo, hi, *_ = _out_of_sample(res, X, Xp, e_method, 0.05)
    t = ours.table
    # scpi's printed precision (0.01): both bounds go through quantiles of 19
    # residuals (quantile regression, empirical quantiles of standardised residuals),
    # which move by up to 8e-3 with the 5e-5 differences between cvxpy's weights and
    # our exact ones
    np.testing.assert_allclose(t["in_low"] + lo, ref[f"{e_method}_low"], atol=1e-2)
    np.testing.assert_allclose(t["in_high"] + hi, ref[f"{e_method}_high"], atol=1e-2)


def test_synth_prediction_api(prop99):
    res = impact.synth(
        prop99,
        outcome="cigsale",
        unit="state",
        time="year",
        treated_units="California",
        treatment_time=1989,
        inference="prediction",
        e_method="gaussian",
        sims=10,
        seed=3,
    )
    iv = res.intervals
    assert list(iv.columns) == [
        "time",
        "gap",
        "low",
        "high",
        "synthetic",
        "synthetic_low",
        "synthetic_high",
    ]
    assert iv["time"].tolist() == list(range(1989, 2001))
    f = res.fits[0]
    np.testing.assert_allclose(iv["gap"], f.gap[f.post])
    # effect bounds mirror the counterfactual bounds
    np.testing.assert_allclose(iv["low"], f.y1[f.post] - iv["synthetic_high"])
    assert (iv["low"] < iv["high"]).all()
    lo, hi = res.ci
    assert lo < res.estimate < hi
    assert np.isnan(res.pvalue) and np.isnan(res.se)
    assert any("Cattaneo, Feng and Titiunik" in w for w in res.warnings)
    assert "Prediction intervals" in res.summary()
    again = impact.synth(
        prop99,
        outcome="cigsale",
        unit="state",
        time="year",
        treated_units="California",
        treatment_time=1989,
        inference="prediction",
        e_method="gaussian",
        sims=10,
        seed=3,
    )
    pd.testing.assert_frame_equal(iv, again.intervals)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "sdid"}, "not defined for method='sdid'"),
        ({"method": "augmented"}, "not defined for method='augmented'"),
        ({"method": "penalized", "penalty": 0.1}, "not defined for method='penalized'"),
        ({"predictors": ["retprice"]}, "drop predictors"),
        ({"demean": True}, "drop demean"),
        ({"v": [1.0] * 19}, "drop v"),
        ({"optimize_period": (1970, 1980)}, "drop optimize_period"),
        ({"treated_units": ["California", "Utah"]}, "one treated unit"),
        ({"e_method": "normal"}, "e_method"),
        ({"sims": 0}, "sims"),
    ],
)
def test_prediction_refused_where_undefined(prop99, kwargs, match):
    args = {
        "outcome": "cigsale",
        "unit": "state",
        "time": "year",
        "treated_units": "California",
        "treatment_time": 1989,
        "inference": "prediction",
    }
    args.update(kwargs)
    with pytest.raises(SpecError, match=match):
        impact.synth(prop99, **args)


def test_too_few_pre_periods(prop99):
    with pytest.raises(DataError, match="at least 5 pre-treatment periods"):
        impact.synth(
            prop99,
            outcome="cigsale",
            unit="state",
            time="year",
            treated_units="California",
            treatment_time=1974,
            inference="prediction",
        )


def test_plots_show_the_intervals(prop99):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = impact.synth(
        prop99,
        outcome="cigsale",
        unit="state",
        time="year",
        treated_units="California",
        treatment_time=1989,
        inference="prediction",
        sims=10,
        seed=1,
    )
    iv = res.intervals
    for kind, lo, hi in (
        ("trajectory", "synthetic_low", "synthetic_high"),
        ("gap", "low", "high"),
    ):
        _, ax = plt.subplots()
        out = res.plot(kind=kind, ax=ax)
        assert out is ax
        bands = ax.collections
        assert len(bands) == 1
        verts = bands[0].get_paths()[0].vertices
        # the band spans exactly the interval ends over the post-period
        assert verts[:, 1].min() == pytest.approx(iv[lo].min())
        assert verts[:, 1].max() == pytest.approx(iv[hi].max())
        assert verts[:, 0].min() == 1989 and verts[:, 0].max() == 2000
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any("prediction interval" in t for t in labels)
        plt.close("all")
    # without prediction inference no band is drawn
    plain = impact.synth(
        prop99,
        outcome="cigsale",
        unit="state",
        time="year",
        treated_units="California",
        treatment_time=1989,
        inference=None,
    )
    _, ax = plt.subplots()
    plain.plot(kind="gap", ax=ax)
    assert len(ax.collections) == 0
    plt.close("all")


def test_exact_pre_fit_is_refused():
    """Zero pre-period residuals carry no error variance: refused, not zero width."""
    rng = np.random.default_rng(4)
    T, J = 14, 12
    Y0 = 50 + np.cumsum(rng.normal(size=(T, J)), axis=0)
    y1 = Y0[:, :3] @ np.array([0.5, 0.3, 0.2])
    units = [f"d{j:02d}" for j in range(J)] + ["T"]
    df = pd.DataFrame(
        {
            "unit": np.repeat(units, T),
            "year": np.tile(np.arange(2000, 2000 + T), J + 1),
            "y": np.concatenate([Y0.T.ravel(), y1]),
        }
    )
    args = {
        "outcome": "y",
        "unit": "unit",
        "time": "year",
        "treated_units": "T",
        "treatment_time": 2010,
        "inference": "prediction",
    }
    with pytest.raises(DataError, match="reproduces the treated unit's pre-period"):
        impact.synth(df, e_method="gaussian", **args)
    # the donor placebos measure the error of such fits directly: not refused
    # (12 donors bound the error at 80%, not at 95%)
    res = impact.synth(df, alpha=0.2, **args)
    assert (res.intervals["high"] > res.intervals["low"]).all()


# ------------------------------------------------------------ donor placebos
def _simplex_fit_scipy(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Simplex least squares by scipy's SLSQP (a convex problem: one start)."""
    from scipy.optimize import minimize

    J = A.shape[1]
    fit = minimize(
        lambda w: float(np.sum((A @ w - b) ** 2)),
        np.full(J, 1.0 / J),
        jac=lambda w: 2 * A.T @ (A @ w - b),
        bounds=[(0, 1)] * J,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        method="SLSQP",
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    return np.asarray(fit.x)


def _panel(seed: int, J: int, T0: int, T1: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    T = T0 + T1
    level = rng.normal(0, 1, size=(1, J + 1))
    noise = rng.uniform(0.1, 0.6, size=J + 1)
    Y = level + np.cumsum(rng.normal(size=(T, J + 1)) * noise, axis=0)
    return Y[:T0, 0], Y[:T0, 1:], Y[T0:, 1:]


@pytest.mark.parametrize(("alpha", "J"), [(0.05, 24), (0.10, 14), (0.20, 11)])
def test_placebo_bounds_brute_force(alpha, J):
    """Conformal p-value definition, rebuilt with scipy's SLSQP weights.

    Every donor is fitted on the others (SLSQP on the simplex), its post-period errors
    are divided by its noise scale sqrt(var(diff(pre)) / 2); the interval's
    half-width c is the largest value at which the treated unit's conformal p-value
    (1 + #{donor scores >= c / s_treated}) / (J + 1) still exceeds alpha.
    """
    # more pre-periods than donors: each placebo's weights are unique, so SLSQP and
    # our exact solver must agree (with T0 < J several weightings fit equally well)
    y, B, P = _panel(J, J, T0=30, T1=3)
    bands = prediction_intervals(y, B, P, u_alpha=alpha / 2, e_alpha=alpha / 2)
    assert bands.e_method == "placebo"
    w = _simplex_fit_scipy(B, y)
    err = np.empty((J, P.shape[0]))
    for j in range(J):
        others = [i for i in range(J) if i != j]
        wj = _simplex_fit_scipy(B[:, others], B[:, j])
        err[j] = P[:, j] - P[:, others] @ wj
    err = np.column_stack([err, err.mean(axis=1)])

    def scale(x):
        return np.sqrt(np.var(np.diff(x), ddof=1) / 2)

    s_t = scale(y)
    scores = np.abs(err) / np.array([scale(B[:, j]) for j in range(J)])[:, None]

    def pvalue(c, col):
        return (1 + np.sum(scores[:, col] >= c / s_t)) / (J + 1)

    rows = np.vstack([P, P.mean(axis=0)])
    syn = rows @ w
    t = bands.table
    half = np.r_[t["high"] - t["synthetic"], bands.average["high"] - syn[-1]]
    np.testing.assert_allclose(t["synthetic"], syn[:-1], atol=1e-6)
    np.testing.assert_allclose(t["synthetic"] - t["low"], half[:-1], atol=1e-12)
    np.testing.assert_allclose(
        bands.average["synthetic"] - bands.average["low"], half[-1], atol=1e-12
    )
    np.testing.assert_allclose(bands.placebo.iloc[:, 1:].to_numpy(), err, atol=1e-5)
    # SLSQP's weights are accurate to ~1e-6, hence the relative margin 1e-4
    for col, c in enumerate(half):
        assert pvalue(c * (1 - 1e-4), col) > alpha
        assert pvalue(c * (1 + 1e-4), col) <= alpha


def test_placebo_needs_enough_donors():
    """With J donors the treated error's rank is one of J + 1: 95% needs 19 donors."""
    y, B, P = _panel(1, 18, T0=8, T1=2)
    with pytest.raises(DataError, match="at least 19 donors"):
        prediction_intervals(y, B, P)
    # at 90% (10 donors needed) the same donors suffice
    prediction_intervals(y, B, P, u_alpha=0.05, e_alpha=0.05)
    # CFT's simulation draws have no meaning for the placebo bound
    with pytest.raises(SpecError, match="scores="):
        prediction_intervals(y, B, P, sims=3, scores=np.zeros((18, 3)))


def test_placebo_is_the_default_and_warns_about_cft(prop99):
    args = {
        "outcome": "cigsale",
        "unit": "state",
        "time": "year",
        "treated_units": "California",
        "treatment_time": 1989,
        "inference": "prediction",
    }
    res = impact.synth(prop99, **args)
    assert res.intervals.attrs["e_method"] == "placebo"
    assert any("donor placebos" in w for w in res.warnings)
    assert not any("overfit" in w for w in res.warnings)
    assert "donor placebos, split conformal" in res.summary()
    # CFT with more donors (38) than pre-periods (19): the warning names the fix
    cft = impact.synth(prop99, e_method="gaussian", sims=5, seed=1, **args)
    note = [w for w in cft.warnings if "overfit" in w]
    assert len(note) == 1 and "e_method='placebo'" in note[0]
