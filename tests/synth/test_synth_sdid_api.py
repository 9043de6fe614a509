"""method='sdid' in impact.synth: staggered adoption in the main call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import impact
from impact.synth.sdid import sdid_estimate, sdid_staggered_se
from tests.synth.test_synth_sdid import _staggered_panel


def _long(Y):
    N, T = Y.shape
    return pd.DataFrame(
        {
            "unit": np.repeat([f"u{i:02d}" for i in range(N)], T),
            "year": np.tile(np.arange(2001, 2001 + T), N),
            "y": Y.ravel(),
        }
    )


def test_staggered_sdid_in_main_call_is_weighted_cohort_blocks():
    Y, adoption = _staggered_panel()
    df = _long(Y)
    tt = {f"u{i:02d}": 2001 + int(adoption[i]) for i in range(5)}
    res = impact.synth(
        df,
        outcome="y",
        unit="unit",
        time="year",
        method="sdid",
        treated_units=list(tt),
        treatment_time=tt,
    )
    # each cohort by the block estimator on never-treated + that cohort, then the
    # N1 x T1 weighted average (Arkhangelsky et al. 2021, Section 8)
    never = ~np.isfinite(adoption)
    att = {}
    for a in (7, 9):
        keep = never | (adoption == a)
        att[a] = sdid_estimate(Y[keep], (adoption == a)[keep], a).att
    w7, w9 = 3 * (12 - 7), 2 * (12 - 9)
    assert res.estimate == pytest.approx((w7 * att[7] + w9 * att[9]) / (w7 + w9))
    cohorts = res.extra["cohorts"]
    assert cohorts["cohort"].tolist() == [2008, 2010]
    assert cohorts["att"].to_numpy() == pytest.approx([att[7], att[9]])
    # donors come first, treated last: the same rows as the array-level call
    order = np.r_[np.flatnonzero(never), np.arange(5)]
    se = sdid_staggered_se(Y[order], adoption[order], seed=res._config["seed"])
    assert res.se == pytest.approx(se)
    # normal 95% interval and two-sided p-value from the placebo SE
    # (qnorm(0.975) = 1.959963984540054; p = 2 pnorm(-|est / se|))
    half = 1.959963984540054 * se
    assert res.ci == pytest.approx((res.estimate - half, res.estimate + half))
    assert res.pvalue == pytest.approx(2 * norm.sf(abs(res.estimate / se)), rel=1e-9)
    assert list(res.gaps.columns) == ["cohort 2008", "cohort 2010"]
    assert "Synthetic difference-in-differences" in res.summary()


def test_sdid_covariates_projected_match_fixed_effects_regression(reference_data):
    import statsmodels.formula.api as smf

    from impact.errors import DataError

    df = pd.read_csv(reference_data / "smoking_prop99.csv")
    kw = {
        "outcome": "cigsale",
        "unit": "state",
        "time": "year",
        "treated_units": "California",
        "treatment_time": 1989,
        "method": "sdid",
        "inference": None,
    }
    res = impact.synth(df, **kw, predictors=["retprice"])
    # Kranz (2022) projection by hand: two-way FE regression on untreated rows only
    untreated = ~((df["state"] == "California") & (df["year"] >= 1989))
    ols = smf.ols("cigsale ~ retprice + C(state) + C(year)", data=df[untreated]).fit()
    beta = ols.params["retprice"]
    assert res.extra["covariate_coefficients"]["retprice"] == pytest.approx(beta)
    adj = df.assign(y=df["cigsale"] - beta * df["retprice"])
    wide = adj.pivot(index="state", columns="year", values="y")
    donors = [s for s in wide.index if s != "California"]
    Y = wide.loc[[*donors, "California"]].to_numpy()
    is_t = np.r_[np.zeros(len(donors), bool), True]
    expected = sdid_estimate(Y, is_t, 19).att
    assert res.estimate == pytest.approx(expected, abs=1e-8)
    with pytest.raises(DataError, match=r"lnincome.*missing for unit"):
        impact.synth(df, **kw, predictors=["lnincome"])
    with pytest.raises(impact.errors.SpecError, match="optimize_period"):
        impact.synth(df, **kw, optimize_period=list(range(1970, 1989)))


def test_staggered_sdid_refuses_placebo_in_time():
    Y, adoption = _staggered_panel()
    tt = {f"u{i:02d}": 2001 + int(adoption[i]) for i in range(5)}
    res = impact.synth(
        _long(Y),
        outcome="y",
        unit="unit",
        time="year",
        method="sdid",
        treated_units=list(tt),
        treatment_time=tt,
        inference=None,
    )
    with pytest.raises(impact.errors.SpecError, match="staggered SDID"):
        res.placebo_in_time(2004)


@pytest.mark.parametrize("n_treated", [1, 2])
def test_sdid_placebo_in_time_refits_sdid(n_treated):
    # reference: synthdid's estimator on the panel cut before the real date (2011),
    # adopting at the placebo date 2006 (T0 = 5 of the 10 kept years), as an array
    # call; before the fix the refit used Abadie weights (and failed with 2 treated)
    from tests.synth.test_synth_sdid import _panel

    Y, treated, _ = _panel(seed=4, N=20, T=14, T0=10, n_treated=n_treated)
    res = impact.synth(
        _long(Y),
        outcome="y",
        unit="unit",
        time="year",
        method="sdid",
        treated_units=[f"u{i:02d}" for i in range(n_treated)],
        treatment_time=2011,
        inference=None,
    )
    p = res.placebo_in_time(2006)
    ref = sdid_estimate(Y[:, :10], treated, 5)
    assert p.method == "sdid"
    assert p.estimate == pytest.approx(ref.att, abs=1e-10)
    assert "synthetic DiD refitted" in p.warnings[0]
    with pytest.raises(impact.errors.DataError, match="Fewer than 2 periods"):
        res.placebo_in_time(2002)


@pytest.mark.parametrize(
    ("donors", "alpha", "warned"),
    [(19, 0.05, False), (18, 0.05, True), (9, 0.1, False), (8, 0.1, True)],
)
def test_sdid_few_donor_warning_follows_the_smallest_placebo_p(donors, alpha, warned):
    """The placebo p-value's floor is 1 / (J + 1): J donors warn when it exceeds
    alpha (19 donors suffice at 5%, 9 at 10%)."""
    rng = np.random.default_rng(2)
    Y = 10 + np.cumsum(rng.normal(size=(donors + 1, 8)), axis=1)
    res = impact.synth(
        _long(Y),
        outcome="y",
        unit="unit",
        time="year",
        method="sdid",
        treated_units="u00",
        treatment_time=2006,
        alpha=alpha,
        inference=None,
    )
    msg = f"Only {donors} donors: placebo inference is unreliable."
    assert (msg in res.warnings) is warned
