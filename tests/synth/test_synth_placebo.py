"""Placebo inference for synthetic control: in space, in time, leave-one-out."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import impact
from impact.synth.placebo import placebo_pvalue


def factor_panel(
    n_units: int = 16,
    n_periods: int = 14,
    t0: int = 10,
    effect: float = -5.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Unit 'T' = a convex mix of three donors + small noise; effect from period t0."""
    rng = np.random.default_rng(seed)
    f = np.cumsum(rng.normal(size=(n_periods, 2)), axis=0)
    load = rng.normal(1, 0.5, size=(n_units, 2))
    Y = 50 + load @ f.T + rng.normal(scale=0.3, size=(n_units, n_periods))
    y1 = 0.5 * Y[0] + 0.3 * Y[1] + 0.2 * Y[2] + rng.normal(scale=0.2, size=n_periods)
    y1[t0:] += effect
    units = [f"d{i:02d}" for i in range(n_units)] + ["T"]
    Y = np.vstack([Y, y1])
    return pd.DataFrame(
        {
            "unit": np.repeat(units, n_periods),
            "year": np.tile(np.arange(2000, 2000 + n_periods), len(units)),
            "y": Y.ravel(),
        }
    )


# ADH (2010) specification of the Proposition 99 study (as in test_synth_abadie.py).
ADH_SPEC = {
    "outcome": "cigsale",
    "unit": "state",
    "time": "year",
    "treated_units": "California",
    "treatment_time": 1989,
    "predictors": ["lnincome", "age15to24", "retprice"],
    "predictor_period": list(range(1980, 1989)),
    "special_predictors": [
        ("beer", list(range(1984, 1989)), "mean"),
        ("cigsale", [1988], "mean"),
        ("cigsale", [1980], "mean"),
        ("cigsale", [1975], "mean"),
    ],
    "optimize_period": list(range(1970, 1989)),
}

SIM = {
    "outcome": "y",
    "unit": "unit",
    "time": "year",
    "treated_units": "T",
    "treatment_time": 2010,
}


def test_placebo_pvalue_rank_formula():
    # treated ratio largest of 1 + 9 -> 1/10; tied with one placebo -> 2/10
    assert placebo_pvalue(np.array([10.0]), np.arange(9.0)) == pytest.approx(0.1)
    assert placebo_pvalue(np.array([8.0]), np.arange(9.0)) == pytest.approx(0.2)
    assert placebo_pvalue(np.array([-1.0]), np.arange(9.0)) == pytest.approx(1.0)


def test_pooled_placebo_pvalue_several_treated():
    rng = np.random.default_rng(0)
    # 30 placebos, 2 treated: all C(30, 2) = 435 sets are enumerated -> 1 / 436
    p_big = placebo_pvalue(np.array([50.0, 60.0]), rng.uniform(0, 5, 30), rng=rng)
    assert p_big == pytest.approx(1 / 436)
    # 200 placebos, 3 treated: too many sets, 10,000 random ones are drawn
    p_mc = placebo_pvalue(np.array([50.0, 60.0, 70.0]), rng.uniform(0, 5, 200), rng=rng)
    assert p_mc == pytest.approx(1 / 10_001)
    placebo = rng.uniform(0, 5, 30)
    p_null = placebo_pvalue(np.array([2.5, 2.5]), placebo, rng=rng)
    # brute force: every pair of placebos, share whose mean reaches the treated mean
    means = [(a + b) / 2 for a, b in itertools.combinations(placebo, 2)]
    assert p_null == pytest.approx((1 + sum(m >= 2.5 for m in means)) / 436, abs=1e-12)


def test_placebo_in_space_simulated():
    df = factor_panel()
    res = impact.synth(df, **SIM)
    table, p = res.placebo()
    assert len(table) == 17 and table["treated"].sum() == 1
    assert p == pytest.approx(1 / 17)  # a -5 effect with noise 0.3 ranks first
    assert res.pvalue == pytest.approx(p)
    assert abs(res.estimate - (-5.0)) < 1.0
    # the estimate is the mean post-period gap of the reported weights; the SE is the
    # SD (ddof 1) of the placebo units' ATTs and the CI the normal 95% interval
    wide = df.pivot(index="unit", columns="year", values="y")
    w = res.weights.reindex(wide.index.drop("T")).fillna(0.0).to_numpy()
    gap = wide.loc["T"].to_numpy() - w @ wide.drop(index="T").to_numpy()
    assert res.estimate == pytest.approx(gap[10:].mean(), abs=1e-9)
    att = table.loc[~table["treated"], "att"].to_numpy()
    assert res.se == pytest.approx(att.std(ddof=1), rel=1e-9)
    half = 1.959963984540054 * res.se  # qnorm(0.975)
    assert res.ci == pytest.approx((res.estimate - half, res.estimate + half))
    d = res.to_dict()
    assert d["placebo_pvalue"] == pytest.approx(p)


def test_placebo_independent_of_n_jobs():
    df = factor_panel(seed=3)
    spec = dict(
        SIM, predictors=None, special_predictors=[("y", [2001, 2005, 2009], "mean")]
    )
    a = impact.synth(df, n_jobs=1, seed=5, **spec).placebo().table
    b = impact.synth(df, n_jobs=2, seed=5, **spec).placebo().table
    pd.testing.assert_frame_equal(a, b)


def test_placebo_mspe_threshold_drops_poor_fits():
    # ADH (2010) rule by hand: keep placebos whose pre-MSPE is at most `threshold`
    # times the treated unit's, then p = (1 + #{kept ratio >= treated ratio}) /
    # (1 + #kept). The threshold is chosen so that some placebos are dropped and the
    # p-value differs from the unfiltered one, so ignoring the threshold fails.
    df = factor_panel(seed=1)
    res = impact.synth(df, inference=None, **SIM)
    full = res.placebo()
    table = full.table
    treated = table["treated"].to_numpy(bool)
    t_mspe = float(table.loc[treated, "pre_mspe"].iloc[0])
    t_ratio = float(table.loc[treated, "ratio"].iloc[0])
    placebo = table.loc[~treated]

    def by_hand(threshold):
        kept = placebo[placebo["pre_mspe"] <= threshold * t_mspe]
        return kept, (1 + np.sum(kept["ratio"] >= t_ratio)) / (1 + len(kept))

    assert full.pvalue == pytest.approx(by_hand(np.inf)[1], abs=1e-12)
    threshold = float(np.quantile(placebo["pre_mspe"] / t_mspe, 0.5))
    kept, p = by_hand(threshold)
    assert 0 < len(kept) < len(placebo)
    assert p != pytest.approx(full.pvalue, abs=1e-9)
    pruned = res.placebo(mspe_threshold=threshold)
    assert pruned.pvalue == pytest.approx(p, abs=1e-12)
    kept_units = set(pruned.table.loc[pruned.table["kept"] & ~treated, "unit"])
    assert kept_units == set(kept["unit"])
    # the threshold given to synth() itself sets the headline p-value and the placebo SE
    direct = impact.synth(df, mspe_threshold=threshold, **SIM)
    assert direct.pvalue == pytest.approx(p, abs=1e-12)
    assert direct.se == pytest.approx(kept["att"].std(ddof=1), rel=1e-9)
    half = 1.959963984540054 * direct.se  # qnorm(0.975): the 95% normal interval
    assert direct.ci == pytest.approx(
        (direct.estimate - half, direct.estimate + half), rel=1e-12
    )
    with pytest.raises(impact.errors.SpecError, match="mspe_threshold"):
        res.placebo(mspe_threshold=-1)


def test_placebo_in_time_shows_no_effect():
    df = factor_panel(effect=-5.0, seed=2)
    res = impact.synth(df, inference=None, **SIM)
    fake = res.placebo_in_time(2007)
    assert abs(fake.estimate) < 1.5  # no treatment before 2010
    assert fake.gaps.index.max() == 2009
    with pytest.raises(impact.errors.SpecError, match="must be before"):
        res.placebo_in_time(2012)


def test_leave_one_out_band():
    df = factor_panel(seed=4)
    res = impact.synth(df, inference=None, **SIM)
    loo = res.leave_one_out()
    positive = res.weights[res.weights > 1e-6].index
    assert set(loo.columns) == set(positive)
    assert loo.shape[0] == 14


@pytest.mark.reference
def test_prop99_placebo_pvalue_reduced(reference_data):
    # ADH (2010): California's post/pre MSPE ratio is the largest of the 39 states,
    # p = 1/39 = 0.026. Reduced form for the default run: 3 starts of the nested V
    # search per placebo (the full form below uses the default 10).
    df = pd.read_csv(reference_data / "smoking_prop99.csv")
    res = impact.synth(df, n_starts=3, n_jobs=2, **ADH_SPEC)
    table, p = res.placebo()
    assert p == pytest.approx(1 / 39)
    assert table.iloc[0]["unit"] == "California"
    assert len(table) == 39


@pytest.mark.slow
@pytest.mark.reference
def test_prop99_placebo_pvalue_full(reference_data):
    df = pd.read_csv(reference_data / "smoking_prop99.csv")
    res = impact.synth(df, n_jobs=2, **ADH_SPEC)
    assert res.pvalue == pytest.approx(1 / 39)
    # ratio with the published weights 128.4; multi-start reference 129.0 (synth.md)
    ratio = res.placebo().table.iloc[0]["ratio"]
    assert 110 < ratio < 140
