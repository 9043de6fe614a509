"""impact.synth: API, bad input, result protocol, plots, several treated units."""

from __future__ import annotations

import itertools
import json

import matplotlib.axes
import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError, SpecError


def panel(n_donors: int = 12, n_periods: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = np.cumsum(rng.normal(size=(n_periods, 2)), axis=0)
    load = rng.normal(1, 0.5, size=(n_donors + 2, 2))
    Y = 40 + load @ f.T + rng.normal(scale=0.3, size=(n_donors + 2, n_periods))
    Y[-2] = 0.6 * Y[0] + 0.4 * Y[1]
    Y[-1] = 0.5 * Y[2] + 0.5 * Y[3]
    Y[-2, 8:] -= 3.0  # A treated from 2008
    Y[-1, 10:] -= 3.0  # B treated from 2010
    units = [f"d{i:02d}" for i in range(n_donors)] + ["A", "B"]
    return pd.DataFrame(
        {
            "la": np.repeat(units, n_periods),
            "year": np.tile(np.arange(2000, 2000 + n_periods), len(units)),
            "rate": Y.ravel(),
            "x": rng.normal(size=len(units) * n_periods),
        }
    )


BASE = {"outcome": "rate", "unit": "la", "time": "year"}


def _ridge_simplex(A, b, eta):
    """Exact argmin ``eta |x|^2 + |A x - b|^2`` on the simplex (enumerated supports)."""
    n = A.shape[1]
    H, g = A.T @ A, A.T @ b
    best, best_x = np.inf, None
    for k in range(1, n + 1):
        for S in itertools.combinations(range(n), k):
            idx = list(S)
            kkt = np.zeros((k + 1, k + 1))
            kkt[:k, :k] = 2 * (H[np.ix_(idx, idx)] + eta * np.eye(k))
            kkt[:k, k] = kkt[k, :k] = 1.0
            z = np.linalg.solve(kkt, np.append(2 * g[idx], 1.0))[:k]
            if z.min() < -1e-12:
                continue
            x = np.zeros(n)
            x[idx] = np.clip(z, 0.0, None)
            loss = eta * x @ x + np.sum((A @ x - b) ** 2)
            if loss < best - 1e-14:
                best, best_x = loss, x
    return best_x


def _sdid_by_hand(Y, n_tr, T0):
    """SDID (Arkhangelsky et al. 2021, Algorithm 1) with exactly solved weights.

    Controls are the first rows, the ``n_tr`` treated the last. sigma = SD (ddof 1)
    of the controls' pre-period first differences; zeta_omega = (N1 T1)^(1/4) sigma,
    zeta_lambda = 1e-6 sigma; both weight problems have an intercept (centring).
    """
    Yco, ytr = Y[:-n_tr], Y[-n_tr:].mean(axis=0)
    N0, T = Yco.shape
    sigma = np.std(np.diff(Yco[:, :T0], axis=1), ddof=1)
    zeta = (n_tr * (T - T0)) ** 0.25 * sigma
    A = Yco[:, :T0].T - Yco[:, :T0].T.mean(axis=0)
    omega = _ridge_simplex(A, ytr[:T0] - ytr[:T0].mean(), zeta**2 * T0)
    Al = Yco[:, :T0] - Yco[:, :T0].mean(axis=0)
    bl = Yco[:, T0:].mean(axis=1) - Yco[:, T0:].mean()
    lam = _ridge_simplex(Al, bl, (1e-6 * sigma) ** 2 * N0)
    d_co = Yco[:, T0:].mean(axis=1) - Yco[:, :T0] @ lam
    tau = ytr[T0:].mean() - lam @ ytr[:T0] - omega @ d_co
    return tau, omega, lam, zeta


def _by_hand(df, unit, t0, weights):
    """Gap of ``unit`` against its donors with the reported weights (brute force)."""
    wide = df.pivot(index="la", columns="year", values="rate")
    w = weights.reindex(wide.index).fillna(0.0).to_numpy()
    gap = wide.loc[unit].to_numpy() - w @ wide.to_numpy()
    post = wide.columns.to_numpy() >= t0
    return gap[post].mean(), float(np.sqrt(np.mean(gap[~post] ** 2)))


@pytest.fixture(scope="module")
def df():
    return panel()


@pytest.fixture(scope="module")
def fitted(df):
    data = df[df["la"] != "B"]
    return impact.synth(data, treated_units="A", treatment_time=2008, **BASE)


def test_result_protocol(fitted, df):
    d = fitted.to_dict()
    json.dumps(d)
    for key in (
        "estimator",
        "estimate",
        "se",
        "ci",
        "pvalue",
        "n_treated",
        "n_control",
        "warnings",
        "weights",
        "pre_rmspe",
        "placebo_pvalue",
    ):
        assert key in d
    assert abs(sum(d["weights"].values()) - 1) < 1e-9
    assert d["n_control"] == 12 and d["n_treated"] == 1
    assert "Donor weights" in fitted.summary()
    assert "<pre" in fitted._repr_html_()
    frame = fitted.to_frame()
    assert {"estimate", "pre_rmspe", "placebo_pvalue"} <= set(frame.columns)
    assert fitted.gaps.index.name == "year"
    assert abs(fitted.estimate - (-3.0)) < 0.5
    att, rmspe = _by_hand(df, "A", 2008, fitted.weights)
    assert fitted.estimate == pytest.approx(att, abs=1e-9)
    assert fitted.pre_rmspe == pytest.approx(rmspe, rel=1e-9)


@pytest.mark.parametrize("kind", ["trajectory", "gap", "placebo", "loo", "weights"])
def test_plots_return_axes(fitted, kind):
    ax = fitted.plot(kind=kind)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_xlabel() or kind == "weights"
    assert ax.get_title()


def test_trajectory_and_gap_plots_draw_the_data(fitted, df):
    """The trajectory figure draws A's observed series and its donors weighted by the
    reported weights; the gap figure draws their difference (treated minus synthetic),
    both computed here from the data frame (1e-9)."""
    wide = df[df["la"] != "B"].pivot(index="la", columns="year", values="rate")
    w = fitted.weights.reindex(wide.index).fillna(0.0).to_numpy()
    years = wide.columns.to_numpy(float)
    actual, synthetic = wide.loc["A"].to_numpy(), w @ wide.to_numpy()
    lines = {ln.get_label(): ln.get_xydata() for ln in fitted.plot().lines}
    np.testing.assert_allclose(lines["A (actual)"], np.c_[years, actual], atol=1e-9)
    np.testing.assert_allclose(lines["synthetic A"], np.c_[years, synthetic], atol=1e-9)
    lines = {ln.get_label(): ln.get_xydata() for ln in fitted.plot(kind="gap").lines}
    np.testing.assert_allclose(lines["A"], np.c_[years, actual - synthetic], atol=1e-9)


def test_plot_bad_kind(fitted):
    with pytest.raises(SpecError, match=r"'kind' parameter of SynthResult\.plot"):
        fitted.plot(kind="pie")


def test_several_treated_staggered(df):
    res = impact.synth(
        df,
        treated_units=["A", "B"],
        treatment_time={"A": 2008, "B": 2010},
        inference=None,
        **BASE,
    )
    assert list(res.gaps.columns) == ["A", "B"]
    assert abs(res.estimate - (-3.0)) < 0.5
    # the estimate is the mean of the units' ATTs, each from its own weights
    atts = [
        _by_hand(df, u, t, res.weights[u])[0] for u, t in (("A", 2008), ("B", 2010))
    ]
    assert res.att_by_unit.to_numpy() == pytest.approx(atts, abs=1e-9)
    assert res.estimate == pytest.approx(np.mean(atts), abs=1e-9)
    assert res.att_by_unit.shape == (2,)
    assert isinstance(res.weights, pd.DataFrame) and res.weights.shape[1] == 2
    np.testing.assert_allclose(res.weights.sum().to_numpy(), 1.0)
    assert "A" not in res.weights.index and "B" not in res.weights.index
    json.dumps(res.to_dict())


def test_panel_input(df):
    data = df[df["la"] != "B"].copy()
    data["cohort"] = np.where(data["la"] == "A", 2008, np.nan)
    p = impact.Panel(data, unit="la", time="year", outcome="rate", cohort="cohort")
    res = impact.synth(p, treated_units="A", treatment_time=2008, inference=None)
    assert abs(res.estimate - (-3.0)) < 0.5
    assert res.estimate == pytest.approx(
        _by_hand(data, "A", 2008, res.weights)[0], abs=1e-9
    )


def test_predictors_with_missing_years(df):
    data = df[df["la"] != "B"].copy()
    data.loc[data["year"] < 2003, "x"] = np.nan  # covariate missing in early years
    res = impact.synth(
        data,
        treated_units="A",
        treatment_time=2008,
        predictors=["x"],
        special_predictors=[("rate", [2001, 2007], "mean")],
        inference=None,
        **BASE,
    )
    assert list(res.balance.index) == ["x (2000-2007)", "rate (2001,2007)"]
    # balance by hand: x averaged over the years it is observed (2003-2007), the
    # rate over 2001 and 2007; synthetic = weighted donor value, donor_mean unweighted
    wide_x = data.pivot(index="la", columns="year", values="x").loc[:, 2003:2007]
    wide_r = data.pivot(index="la", columns="year", values="rate").loc[:, [2001, 2007]]
    vals = pd.DataFrame({"x": wide_x.mean(axis=1), "r": wide_r.mean(axis=1)})
    donors = vals.drop(index="A")
    w = res.weights.reindex(donors.index).fillna(0.0).to_numpy()
    bal = res.balance
    assert bal["treated"].to_numpy() == pytest.approx(vals.loc["A"].to_numpy())
    assert bal["synthetic"].to_numpy() == pytest.approx(w @ donors.to_numpy())
    assert bal["donor_mean"].to_numpy() == pytest.approx(donors.mean().to_numpy())


def test_augmented_and_sdid_methods(df):
    data = df[df["la"] != "B"]
    aug = impact.synth(
        data,
        treated_units="A",
        treatment_time=2008,
        method="augmented",
        inference=None,
        **BASE,
    )
    assert abs(aug.weights.sum() - 1) < 1e-8
    sd = impact.synth(
        data,
        treated_units="A",
        treatment_time=2008,
        method="sdid",
        inference=None,
        **BASE,
    )
    # pinned to the exact optimum of the SDID weight problems (Arkhangelsky et al.
    # 2021, Algorithm 1), solved in the test by enumerating supports: synthdid's
    # Frank-Wolfe stops within about 5e-5 of it on this panel
    wide = data.pivot(index="la", columns="year", values="rate")
    order = [u for u in wide.index if u != "A"] + ["A"]
    tau, omega, lam, zeta = _sdid_by_hand(wide.loc[order].to_numpy(), 1, 8)
    assert sd.estimate == pytest.approx(tau, abs=5e-4)
    assert sd.weights.reindex(order[:-1]).to_numpy() == pytest.approx(omega, abs=2e-3)
    assert list(sd.extra["time_weights"].values()) == pytest.approx(lam, abs=2e-3)
    assert sd.extra["zeta"] == pytest.approx(zeta, rel=1e-12)
    with pytest.raises(SpecError, match="not available for method='sdid'"):
        sd.placebo()


def test_conformal_inference(df):
    data = df[df["la"] != "B"]
    res = impact.synth(
        data,
        treated_units="A",
        treatment_time=2008,
        inference="conformal",
        alpha=0.2,
        **BASE,
    )
    assert {"gap", "ci_low", "ci_high", "pvalue"} <= set(res.conformal.columns)
    # Brute force from Chernozhukov, Wuthrich and Zhu (2021): outcome-path SC refitted
    # under the null (simplex least squares by NNLS with a heavy sum-to-one row), the
    # joint statistic mean_t |u_t| over the post-periods against all T cyclic shifts;
    # the interval is the set of constant effects with p > alpha, read off a grid.
    from scipy.optimize import nnls

    wide = data.pivot(index="la", columns="year", values="rate")
    y1, Y0 = wide.loc["A"].to_numpy(), wide.drop(index="A").to_numpy().T
    T, T0 = y1.size, 8

    def sc_fit(y, X):
        M = 1e4 * max(np.abs(X).max(), np.abs(y).max())
        w, _ = nnls(np.vstack([X, np.full(X.shape[1], M)]), np.append(y, M))
        return w

    def joint_p(theta):
        yf = y1 - theta * (np.arange(T) >= T0)
        u = np.abs(yf - Y0 @ sc_fit(yf, Y0))
        stats = [u[(s + np.arange(T0, T)) % T].mean() for s in range(T)]
        return np.mean(np.array(stats) >= stats[0] * (1 - 1e-9))

    def period_p(t, theta):
        yf = np.append(y1[:T0], y1[t] - theta)
        Xf = np.vstack([Y0[:T0], Y0[t]])
        u = np.abs(yf - Xf @ sc_fit(yf, Xf))
        return np.mean(u >= u[-1] * (1 - 1e-9))

    assert res.pvalue == pytest.approx(joint_p(0.0), abs=1e-12)
    assert res.conformal["pvalue"].to_numpy() == pytest.approx(
        [period_p(t, 0.0) for t in range(T0, T)], abs=1e-12
    )
    grid = res.estimate + np.linspace(-6.0, 6.0, 481)
    step = grid[1] - grid[0]
    acc = grid[np.array([joint_p(g) > 0.2 for g in grid])]
    assert grid[0] < acc.min() and acc.max() < grid[-1]
    assert res.ci == pytest.approx((acc.min(), acc.max()), abs=step)
    t = T0 + 1  # one per-period interval the same way
    acc_t = grid[np.array([period_p(t, g) > 0.2 for g in grid])]
    row = res.conformal.iloc[1]
    assert grid[0] < acc_t.min() and acc_t.max() < grid[-1]
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (acc_t.min(), acc_t.max()), abs=step
    )


# ------------------------------------------------------------------- warnings
def test_warning_few_donors(df):
    data = df[df["la"].isin(["d00", "d01", "d02", "d03", "A"])]
    res = impact.synth(data, treated_units="A", treatment_time=2008, **BASE)
    assert any("smallest attainable placebo p-value is 1/5" in w for w in res.warnings)


def test_warning_outside_hull(df):
    data = df[df["la"] != "B"].copy()
    data.loc[data["la"] == "A", "rate"] += 100.0
    res = impact.synth(
        data, treated_units="A", treatment_time=2008, inference=None, **BASE
    )
    assert any("outside the convex hull" in w for w in res.warnings)
    assert any("Poor pre-period fit" in w for w in res.warnings)


# ------------------------------------------------------------------ bad input
def test_bad_treated_unit(df):
    with pytest.raises(DataError, match="Unit 'Z' is not in the data"):
        impact.synth(df, treated_units="Z", treatment_time=2008, **BASE)


def test_treated_not_observed_at_treatment_time(df):
    data = df[~((df["la"] == "A") & (df["year"] == 2008))]
    with pytest.raises(DataError, match="'A' is not observed at treatment_time 2008"):
        impact.synth(data, treated_units="A", treatment_time=2008, **BASE)
    with pytest.raises(DataError, match="not observed at treatment_time 1990"):
        impact.synth(df, treated_units="A", treatment_time=1990, **BASE)


def test_no_pre_period(df):
    with pytest.raises(DataError, match="no pre-treatment period before 2000"):
        impact.synth(df, treated_units="A", treatment_time=2000, **BASE)


def test_empty_donor_pool(df):
    with pytest.raises(DataError, match="donor pool is empty"):
        impact.synth(df, treated_units="A", treatment_time=2008, donors=["A"], **BASE)


def test_missing_outcome(df):
    data = df.copy()
    data.loc[(data["la"] == "d03") & (data["year"] == 2004), "rate"] = np.nan
    with pytest.raises(DataError, match=r"missing for unit\(s\) 'd03' \(2004\)"):
        impact.synth(data, treated_units="A", treatment_time=2008, **BASE)


def test_predictor_missing_for_unit(df):
    data = df.copy()
    data.loc[data["la"] == "d05", "x"] = np.nan
    with pytest.raises(DataError, match="'x' is missing for unit 'd05'"):
        impact.synth(
            data, treated_units="A", treatment_time=2008, predictors=["x"], **BASE
        )


def test_predictor_zero_variance(df):
    data = df.assign(c=1.0)
    with pytest.raises(
        DataError, match="Predictor 'c \\(2000-2007\\)' has zero variance"
    ):
        impact.synth(
            data, treated_units="A", treatment_time=2008, predictors=["c"], **BASE
        )


def test_bad_options(df):
    kw = dict(BASE, treated_units="A", treatment_time=2008)
    with pytest.raises(SpecError, match="'method' parameter of synth must be one of"):
        impact.synth(df, method="magic", **kw)
    with pytest.raises(SpecError, match="'inference' parameter of synth"):
        impact.synth(df, inference="bayes", **kw)
    with pytest.raises(SpecError, match="'v' parameter of synth must be one of"):
        impact.synth(df, v="best", predictors=["x"], **kw)
    with pytest.raises(SpecError, match="'v' parameter of synth has 2 entries"):
        impact.synth(df, v=[1, 1], predictors=["x"], **kw)
    with pytest.raises(SpecError, match="special predictor must be"):
        impact.synth(df, special_predictors=[5], **kw)
    with pytest.raises(SpecError, match="mspe_threshold"):
        impact.synth(df, mspe_threshold=0, **kw)
    with pytest.raises(DataError, match="column 'nope' is not in the data"):
        impact.synth(
            df,
            treated_units="A",
            treatment_time=2008,
            outcome="nope",
            unit="la",
            time="year",
        )
    with pytest.raises(SpecError, match="treatment_time has no date"):
        impact.synth(df, treated_units=["A", "B"], treatment_time={"A": 2008}, **BASE)


def test_duplicated_rows(df):
    data = pd.concat([df, df.iloc[:1]])
    with pytest.raises(DataError, match="Duplicated rows for unit 'd00'"):
        impact.synth(data, treated_units="A", treatment_time=2008, **BASE)


def test_input_not_mutated(df):
    before = df.copy()
    impact.synth(df, treated_units="A", treatment_time=2008, inference=None, **BASE)
    pd.testing.assert_frame_equal(df, before)


def test_period_spans_as_in_study_files(df):
    # study files (TOML) cannot write range(): "2000-2007" and {"start", "end"} spans
    data = df[df["la"] != "B"]
    kw = dict(BASE, treated_units="A", treatment_time=2008, inference=None)
    a = impact.synth(
        data,
        predictors=["x"],
        predictor_period="2000-2007",
        special_predictors=[["rate", {"start": 2001, "end": 2003}, "mean"]],
        **kw,
    )
    b = impact.synth(
        data,
        predictors=["x"],
        predictor_period=list(range(2000, 2008)),
        special_predictors=[("rate", [2001, 2002, 2003], "mean")],
        **kw,
    )
    pd.testing.assert_frame_equal(a.balance, b.balance)
    assert "rate (2001-2003)" in a.balance.index


def _conformal_by_hand(y1, Y0, T0, alpha, center):
    """Joint CWZ p-value of no effect and the constant-effect interval (grid inversion).

    Outcome-path SC refitted on all periods under each null by NNLS with a heavy
    sum-to-one row; statistic mean |u_t| over the post-periods, all T cyclic shifts.
    """
    from scipy.optimize import nnls

    T = y1.size

    def joint_p(theta):
        yf = y1 - theta * (np.arange(T) >= T0)
        M = 1e4 * max(np.abs(Y0).max(), np.abs(yf).max())
        w, _ = nnls(np.vstack([Y0, np.full(Y0.shape[1], M)]), np.append(yf, M))
        u = np.abs(yf - Y0 @ w)
        stats = np.array([u[(s + np.arange(T0, T)) % T].mean() for s in range(T)])
        return np.mean(stats >= stats[0] * (1 - 1e-9))

    grid = center + np.linspace(-6.0, 6.0, 481)
    acc = grid[np.array([joint_p(g) > alpha for g in grid])]
    assert grid[0] < acc.min() and acc.max() < grid[-1]
    return joint_p(0.0), (acc.min(), acc.max()), grid[1] - grid[0]


def test_conformal_several_treated(df):
    # several treated units: Bonferroni p = min(1, n x smallest unit p-value) and the
    # mean of the unit intervals, each unit against the never-treated donors
    res = impact.synth(
        df,
        treated_units=["A", "B"],
        treatment_time={"A": 2008, "B": 2010},
        inference="conformal",
        alpha=0.2,
        **BASE,
    )
    wide = df.pivot(index="la", columns="year", values="rate")
    Y0 = wide.drop(index=["A", "B"]).to_numpy().T
    parts = [
        _conformal_by_hand(wide.loc[u].to_numpy(), Y0, t0, 0.2, res.att_by_unit[u])
        for u, t0 in (("A", 8), ("B", 10))
    ]
    ps = [p for p, _, _ in parts]
    assert min(ps) < 0.5  # the Bonferroni factor matters
    assert res.pvalue == pytest.approx(min(1.0, 2 * min(ps)), abs=1e-12)
    step = max(s for _, _, s in parts)
    lo = np.mean([ci[0] for _, ci, _ in parts])
    hi = np.mean([ci[1] for _, ci, _ in parts])
    assert res.ci == pytest.approx((lo, hi), abs=step)


def test_several_treated_estimate_is_the_mean_of_unequal_unit_effects(df):
    data = df.copy()
    data.loc[(data["la"] == "B") & (data["year"] >= 2010), "rate"] += 2.0  # B: -1
    res = impact.synth(
        data,
        treated_units=["A", "B"],
        treatment_time={"A": 2008, "B": 2010},
        inference=None,
        **BASE,
    )
    atts = [
        _by_hand(data, u, t, res.weights[u])[0] for u, t in (("A", 2008), ("B", 2010))
    ]
    assert atts == pytest.approx([-3.0, -1.0], abs=0.3)
    assert res.estimate == pytest.approx(np.mean(atts), abs=1e-9)
