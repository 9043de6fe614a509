"""Firpo-Possebom sensitivity of the placebo p-value, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import impact
from impact.errors import SpecError
from tests.synth.test_synth_placebo import SIM, factor_panel


def _brute_pvalues(stat: np.ndarray, treated: int, phi: float) -> tuple[float, float]:
    """Largest and smallest p-value over every v in {0,1}^N (no closed form used)."""
    extreme = stat >= stat[treated]
    v = np.array(list(itertools.product([0, 1], repeat=stat.size)), dtype=float)
    w = np.exp(phi * v)
    p = w[:, extreme].sum(axis=1) / w.sum(axis=1)
    return float(p.max()), float(p.min())


def _brute_phi(stat: np.ndarray, treated: int, alpha: float, rejects: bool) -> float:
    """Crossing phi by bisection on the brute-force p-values."""
    lo, hi = 0.0, 20.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        worst, best = _brute_pvalues(stat, treated, mid)
        flipped = worst >= alpha if rejects else best <= alpha
        lo, hi = (lo, mid) if flipped else (mid, hi)
    return 0.5 * (lo + hi)


@pytest.fixture(scope="module")
def fitted():
    df = factor_panel(n_units=11, effect=-8.0, seed=3)
    return impact.synth(df, **SIM, alpha=0.2)


def test_sensitivity_matches_brute_force_when_rejecting(fitted):
    sens = fitted.placebo_sensitivity()
    tab = fitted.placebo().table
    stat = tab["statistic"].to_numpy(float)
    treated = int(np.flatnonzero(tab["treated"].to_numpy(bool))[0])
    assert sens.pvalue == pytest.approx(fitted.placebo().pvalue)
    assert sens.rejects
    phi = _brute_phi(stat, treated, 0.2, rejects=True)
    assert sens.phi == pytest.approx(phi, abs=1e-9)
    worst, _ = _brute_pvalues(stat, treated, sens.phi)
    assert worst == pytest.approx(0.2, abs=1e-12)
    assert sens.odds == pytest.approx(np.exp(phi))


def test_sensitivity_matches_brute_force_when_not_rejecting(fitted):
    # at alpha = 0.05 with 11 donors the test cannot reject (min p = 1/12)
    sens = fitted.placebo_sensitivity(alpha=0.05)
    tab = fitted.placebo().table
    stat = tab["statistic"].to_numpy(float)
    treated = int(np.flatnonzero(tab["treated"].to_numpy(bool))[0])
    assert not sens.rejects
    phi = _brute_phi(stat, treated, 0.05, rejects=False)
    assert sens.phi == pytest.approx(phi, abs=1e-9)
    _, best = _brute_pvalues(stat, treated, sens.phi)
    assert best == pytest.approx(0.05, abs=1e-12)
    # the table traces the same curves
    row = sens.table.iloc[50]
    w, b = _brute_pvalues(stat, treated, float(row["phi"]))
    assert (row["pvalue_worst"], row["pvalue_best"]) == pytest.approx((w, b))
    assert sens.plot() is not None


def test_sensitivity_refuses_several_treated_units():
    df = factor_panel(n_units=11, seed=3)
    res = impact.synth(
        df,
        outcome="y",
        unit="unit",
        time="year",
        treated_units=["T", "d00"],
        treatment_time=2010,
    )
    with pytest.raises(SpecError, match="one treated unit"):
        res.placebo_sensitivity()


# ------------------------------------------------------------------ near-optimal range
def _slsqp_extreme(A, b, p, bound, sign, starts):
    """min sign * p'w on the simplex with ||b - A w||^2 <= bound, from many starts."""
    from scipy.optimize import minimize

    best = np.inf
    for w0 in starts:
        r = minimize(
            lambda w: sign * (p @ w),
            w0,
            jac=lambda w: sign * p,
            method="SLSQP",
            bounds=[(0, 1)] * A.shape[1],
            constraints=[
                {"type": "eq", "fun": lambda w: w.sum() - 1},
                {"type": "ineq", "fun": lambda w: bound - np.sum((b - A @ w) ** 2)},
            ],
            options={"ftol": 1e-13, "maxiter": 1000},
        )
        ok = (
            np.sum((b - A @ r.x) ** 2) <= bound * (1 + 1e-7)
            and abs(r.x.sum() - 1) < 1e-8
        )
        if ok and r.x.min() > -1e-9:
            best = min(best, r.fun)
    return sign * best


def test_near_optimal_range_matches_brute_force():
    from scipy.optimize import minimize

    df = factor_panel(n_units=6, seed=1)
    res = impact.synth(df, **SIM, inference=None)
    no = res.near_optimal(0.2)
    wide = df.pivot(index="unit", columns="year", values="y")
    y = wide.loc["T"].to_numpy()
    Y0 = wide.drop(index="T").to_numpy().T
    A, b = Y0[:10], y[:10]
    # the optimal pre-period SSR, by SLSQP from every vertex-biased start
    J = A.shape[1]
    starts = [np.full(J, 1 / J)] + [np.eye(J)[j] * 0.7 + 0.3 / J for j in range(J)]
    ssr = min(
        minimize(
            lambda w: np.sum((b - A @ w) ** 2),
            w0,
            method="SLSQP",
            bounds=[(0, 1)] * J,
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
            options={"ftol": 1e-15, "maxiter": 1000},
        ).fun
        for w0 in starts
    )
    assert no.attrs["pre_mspe_optimal"] == pytest.approx(ssr / 10, rel=1e-6)
    bound = 1.2 * ssr
    for k, t in enumerate(range(10, 14)):
        p = Y0[t]
        hi_syn = _slsqp_extreme(A, b, p, bound, -1.0, starts)
        lo_syn = _slsqp_extreme(A, b, p, bound, 1.0, starts)
        assert no["low"].iloc[k] == pytest.approx(y[t] - hi_syn, abs=1e-5)
        assert no["high"].iloc[k] == pytest.approx(y[t] - lo_syn, abs=1e-5)
    # every sampled weighting inside the level set lies inside the range
    rng = np.random.default_rng(0)
    W = rng.dirichlet(np.full(J, 0.3), size=60_000)
    inside = np.sum((b[None, :] - W @ A.T) ** 2, axis=1) <= bound
    assert inside.sum() > 20
    gaps = y[10:14][None, :] - W[inside] @ Y0[10:14].T
    assert np.all(gaps >= no["low"].to_numpy() - 1e-9)
    assert np.all(gaps <= no["high"].to_numpy() + 1e-9)
    att = gaps.mean(axis=1)
    assert no.attrs["att_low"] <= att.min() + 1e-9
    assert no.attrs["att_high"] >= att.max() - 1e-9
    assert att.min() - no.attrs["att_low"] < 0.25 * (att.max() - att.min())
    # the average-gap range is its own program (the mean post-period donor row), not
    # the average of the per-period extremes; and the default slack is 10%
    pbar = Y0[10:14].mean(axis=0)
    for tol, table in ((0.2, no), (0.1, res.near_optimal())):
        hi_syn = _slsqp_extreme(A, b, pbar, (1 + tol) * ssr, -1.0, starts)
        lo_syn = _slsqp_extreme(A, b, pbar, (1 + tol) * ssr, 1.0, starts)
        assert table.attrs["att_low"] == pytest.approx(
            y[10:14].mean() - hi_syn, abs=1e-5
        )
        assert table.attrs["att_high"] == pytest.approx(
            y[10:14].mean() - lo_syn, abs=1e-5
        )


def test_near_optimal_range_in_summary_when_wide():
    # a null effect: near-optimal weights give effects of both signs
    df = factor_panel(n_units=8, effect=0.0, seed=5)
    res = impact.synth(df, **SIM, inference=None)
    no = res.near_optimal(0.1)
    assert no.attrs["att_low"] < 0 < no.attrs["att_high"]
    assert "Near-optimal range" in res.summary()
    # a clear effect: the range is narrow and the summary stays quiet
    df = factor_panel(n_units=8, effect=-8.0, seed=4)
    res = impact.synth(df, **SIM, inference=None)
    assert "Near-optimal range" not in res.summary()
    with pytest.raises(SpecError, match="tolerance"):
        res.near_optimal(-1)


def test_sensitivity_uses_the_placebos_kept_by_the_mspe_filter(fitted):
    tab = fitted.placebo().table
    treated = tab["treated"].to_numpy(bool)
    ratio = tab.loc[~treated, "pre_mspe"] / float(tab.loc[treated, "pre_mspe"].iloc[0])
    threshold = float(np.median(ratio))
    sens = fitted.placebo_sensitivity(alpha=0.2, mspe_threshold=threshold)
    keep = treated | (tab["pre_mspe"] <= threshold * tab.loc[treated, "pre_mspe"].max())
    assert 2 < keep.sum() < len(tab)
    stat = tab.loc[keep, "ratio"].to_numpy(float)
    t = int(np.flatnonzero(treated[keep.to_numpy()])[0])
    assert sens.n_units == keep.sum()
    assert sens.pvalue == pytest.approx(np.mean(stat >= stat[t]), abs=1e-12)
    phi = _brute_phi(stat, t, 0.2, rejects=sens.rejects)
    assert sens.phi == pytest.approx(phi, abs=1e-9)
