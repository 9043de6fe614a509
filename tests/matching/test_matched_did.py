"""impact.matched_did: recovery, permutation inference, balance and bad input."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from impact.errors import DataError, EstimationError, SpecError
from impact.matching import MatchedDiDResult, matched_did


def _panel(
    tau: float = 3.0,
    noise: float = 0.0,
    twins: bool = True,
    seed: int = 0,
    n_ctrl: int = 30,
    cohorts: tuple[float, ...] = (2016.0, 2016.0, 2016.0, 2016.0),
) -> pd.DataFrame:
    """Units with level a_i and trend b_i; each treated unit has a twin control."""
    rng = np.random.default_rng(seed)
    n_t = len(cohorts)
    a = rng.normal(50, 10, n_t + n_ctrl)
    b = rng.normal(0, 1, n_t + n_ctrl)
    if twins:
        a[n_t : 2 * n_t] = a[:n_t]
        b[n_t : 2 * n_t] = b[:n_t]
    coh = np.r_[np.asarray(cohorts), np.full(n_ctrl, np.nan)]
    rows = []
    for i in range(n_t + n_ctrl):
        for t, yr in enumerate(range(2010, 2020)):
            on = np.isfinite(coh[i]) and yr >= coh[i]
            y = a[i] + b[i] * t + tau * on + noise * rng.normal()
            rows.append((f"LA{i:03d}", yr, y, coh[i]))
    return pd.DataFrame(rows, columns=["la", "year", "rate", "first"])


KW = {"outcome": "rate", "unit": "la", "time": "year", "cohort": "first"}


def test_exact_recovery_with_twins() -> None:
    res = matched_did(_panel(tau=3.0), **KW)
    assert isinstance(res, MatchedDiDResult)
    assert res.estimate == pytest.approx(3.0, abs=1e-9)
    assert set(res.matched["control"]) == {"LA004", "LA005", "LA006", "LA007"}
    tab = res.balance().set_index("covariate")
    assert np.abs(tab["smd_after"]).max() < 1e-9


def test_staggered_cohorts_recovery() -> None:
    res = matched_did(_panel(tau=2.0, cohorts=(2014.0, 2015.0, 2017.0)), **KW)
    assert res.estimate == pytest.approx(2.0, abs=1e-9)
    assert sorted(res.unit_effects["cohort"].unique()) == [2014.0, 2015.0, 2017.0]


def test_cluster_inference_formula() -> None:
    res = matched_did(_panel(tau=1.0, noise=1.0, twins=False, seed=2), **KW)
    tau = res.unit_effects["effect"].to_numpy()
    assert res.estimate == pytest.approx(tau.mean(), rel=1e-12)
    assert res.se == pytest.approx(tau.std(ddof=1) / np.sqrt(len(tau)), rel=1e-12)
    assert any("fragile" in w for w in res.warnings)
    # the interval and p-value are the one-sample t-test on the matched-set DiDs,
    # t(N - 1) (scipy.stats.ttest_1samp as the reference); with N = 4 the normal
    # interval would be 35% narrower, and alpha must set the level
    ref = stats.ttest_1samp(tau, 0.0)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)
    lo, hi = ref.confidence_interval(0.95)
    assert res.ci == pytest.approx((lo, hi), rel=1e-10)
    res90 = matched_did(
        _panel(tau=1.0, noise=1.0, twins=False, seed=2), **KW, alpha=0.1
    )
    lo, hi = ref.confidence_interval(0.90)
    assert res90.ci == pytest.approx((lo, hi), rel=1e-10)


def test_permutation_pvalue_exact_enumeration() -> None:
    res = matched_did(
        _panel(tau=1.0, noise=1.0, twins=False, seed=3), **KW, inference="permutation"
    )
    tau = res.unit_effects["effect"].to_numpy()
    signs = np.array(list(itertools.product([-1, 1], repeat=len(tau))))
    stat = np.abs((signs * tau).mean(axis=1))
    expect = np.mean(stat >= abs(tau.mean()) - 1e-12)
    assert res.pvalue == pytest.approx(expect, abs=1e-12)


def test_permutation_monte_carlo_seeded() -> None:
    df = _panel(tau=1.0, noise=1.0, twins=False, seed=4, cohorts=(2016.0,) * 8)
    kw = dict(KW, inference="permutation", ratio=3, n_perm=999, seed=5)
    a = matched_did(df, **kw)
    b = matched_did(df, **kw)
    assert a.pvalue == b.pvalue
    # brute force: each set is the treated unit and its 3 matches; re-drawing which
    # member is treated gives 4^8 = 65,536 arrangements, enumerated here with each
    # member's own (mean post - mean pre) change from the data. Statistic: |mean| /
    # (sd / sqrt(N)) of the set effects (member minus the others' mean). The sampled
    # p-value (999 draws) must be within 4 MC SEs of the exact one.
    wide = df.pivot(index="la", columns="year", values="rate")
    post = wide.columns >= 2016
    change = wide.loc[:, post].mean(axis=1) - wide.loc[:, ~post].mean(axis=1)
    sets = [
        np.r_[change[t], change[list(g["control"])].to_numpy()]
        for t, g in a.matched.groupby("treated", sort=True)
    ]
    assert len(sets) == 8 and all(len(m) == 4 for m in sets)
    alt = np.array([[m[j] - np.delete(m, j).mean() for j in range(4)] for m in sets])
    idx = np.array(list(itertools.product(range(4), repeat=8)))
    vals = alt[np.arange(8)[None, :], idx]
    stat = np.abs(vals.mean(axis=1)) / (vals.std(axis=1, ddof=1) / np.sqrt(8))
    exact = float(np.mean(stat >= stat[0] * (1 - 1e-9)))
    assert stat[0] == pytest.approx(abs(a.estimate) / a.se, rel=1e-9)
    assert abs(a.pvalue - exact) < 4 * np.sqrt(exact * (1 - exact) / 999) + 1e-3


def test_caliper_drops_and_warns() -> None:
    df = _panel()
    far = df["la"].isin(["LA000", "LA001"])
    df.loc[far, "rate"] += 500.0  # these two treated areas have no close comparison
    res = matched_did(df, **KW, caliper=0.5)
    assert res.n_matched == 2
    assert res.estimate == pytest.approx(3.0, abs=1e-9)
    assert any("2 treated unit(s) had no comparison" in w for w in res.warnings)
    df.loc[df["la"].isin(["LA002", "LA003"]), "rate"] += 500.0
    with pytest.raises(EstimationError, match="no treated unit found a comparison"):
        matched_did(df, **KW, caliper=0.5)


def test_protocol_json_and_plot() -> None:
    res = matched_did(_panel(noise=0.5, seed=7), **KW, ratio=2)
    out = res.to_dict()
    assert out["n_matched"] == 4
    assert "rate (t=-1)" in out["balance"]
    json.dumps(out)
    ax = res.plot()
    assert ax.get_title() == "Balance before and after matching"
    assert "Balance on pre-period outcomes" in res.summary()


def test_bad_input() -> None:
    df = _panel()
    with pytest.raises(SpecError, match="match_on entry 'slope'"):
        matched_did(df, **KW, match_on=["slope"])
    with pytest.raises(SpecError, match="The 'inference' parameter of matched_did"):
        matched_did(df, **KW, inference="wild")
    with pytest.raises(DataError, match="no never-treated units"):
        all_treated = df.assign(
            first=np.where(df["la"] < "LA010", 2016.0, 2018.0)
        )  # staggered, nobody never treated
        matched_did(all_treated, **KW)
    one_pre = df[df["year"] >= 2015]
    with pytest.raises(DataError, match="one pre-period, so no pre-trend"):
        matched_did(one_pre, **KW)


def test_covariate_feature() -> None:
    df = _panel(tau=1.5)
    df["pop"] = df["la"].str[2:].astype(int) % 7 + 0.0  # time-invariant covariate
    res = matched_did(df, **KW, match_on=["level", "trend", "pop"], covariates=["pop"])
    assert "pop (pre-period)" in set(res.balance()["covariate"])
    # a time-invariant covariate drops out of each pair's DiD: the estimate is the mean
    # over matched pairs of (treated change - control change), computed here by hand
    wide = df.pivot(index="la", columns="year", values="rate")
    post = wide.columns >= 2016
    change = wide.loc[:, post].mean(axis=1) - wide.loc[:, ~post].mean(axis=1)
    pairs = res.matched
    expect = np.mean(
        change[pairs["treated"]].to_numpy() - change[pairs["control"]].to_numpy()
    )
    assert len(pairs) == 4
    assert res.estimate == pytest.approx(expect, rel=1e-10)
