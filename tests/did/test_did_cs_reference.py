"""Callaway-Sant'Anna against R did 2.5 (mpdta) and Stata csdid (castle).

Tolerance 1e-7 (absolute) for the mpdta points and analytic SEs: both are closed-form
(difference of means / one WLS fit per cell plus the influence function), and the
reference CSV holds R's output at 15 significant digits, so only floating-point
rounding separates the two (observed agreement ~1e-15). The R pre-test p-value is
rounded to 5 decimals by R, hence 1e-5 there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact

pytestmark = pytest.mark.reference

REF = __import__("pathlib").Path(__file__).parent / "reference"
SCENARIOS = {
    "mpdta_nev_dr": {"control": "never", "est_method": "dr", "covariates": None},
    "mpdta_nyt_dr": {"control": "notyet", "est_method": "dr", "covariates": None},
    "mpdta_nev_reg_cov": {
        "control": "never",
        "est_method": "reg",
        "covariates": ["lpop"],
    },
    "mpdta_nev_ipw": {"control": "never", "est_method": "ipw", "covariates": None},
}
TOL = 1e-7


@pytest.fixture(scope="module")
def mpdta(reference_data):
    return pd.read_csv(reference_data / "mpdta.csv")


@pytest.fixture(scope="module")
def fits(mpdta):
    return {
        name: impact.did(
            mpdta,
            outcome="lemp",
            unit="countyreal",
            time="year",
            cohort="first.treat",
            method="cs",
            **opts,
        )
        for name, opts in SCENARIOS.items()
    }


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_att_gt_matches_r_did(fits, scenario):
    ref = pd.read_csv(REF / "mpdta_r_did_attgt.csv")
    ref = ref[ref["scenario"] == scenario].sort_values(["group", "t"])
    ours = fits[scenario].att_gt.sort_values(["group", "time"])
    assert len(ours) == len(ref) == 12
    np.testing.assert_array_equal(ours["group"].to_numpy(), ref["group"].to_numpy())
    np.testing.assert_array_equal(ours["time"].to_numpy(), ref["t"].to_numpy())
    np.testing.assert_allclose(ours["att"], ref["att"], atol=TOL, rtol=0)
    np.testing.assert_allclose(ours["se"], ref["se"], atol=TOL, rtol=0)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_aggregations_match_r_did(fits, scenario, kind):
    ref = pd.read_csv(REF / "mpdta_r_did_aggte.csv")
    ref = ref[(ref["scenario"] == scenario) & (ref["type"] == kind)]
    agg = fits[scenario].aggregate(kind)
    assert agg.estimate == pytest.approx(ref["overall_att"].iloc[0], abs=TOL)
    assert agg.se == pytest.approx(ref["overall_se"].iloc[0], abs=TOL)
    if kind == "simple":
        # the main result's estimate/se are the simple aggregate (DESIGN)
        assert fits[scenario].estimate == pytest.approx(agg.estimate, abs=1e-15)
        assert fits[scenario].se == pytest.approx(agg.se, abs=1e-15)
        return
    rows = agg.to_frame()
    col = {"group": "group", "dynamic": "event_time", "calendar": "time"}[kind]
    np.testing.assert_array_equal(
        rows[col].to_numpy(), ref["egt"].astype(float).astype(int)
    )
    np.testing.assert_allclose(rows["estimate"], ref["att_egt"], atol=TOL, rtol=0)
    np.testing.assert_allclose(rows["std_error"], ref["se_egt"], atol=TOL, rtol=0)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_pretest_matches_r_did(fits, scenario):
    ref = pd.read_csv(REF / "mpdta_r_did_pretest.csv").set_index("scenario")
    test = fits[scenario].pretrend_test()
    assert test.statistic == pytest.approx(ref.loc[scenario, "W"], abs=1e-7)
    assert test.df == 5
    assert test.pvalue == pytest.approx(ref.loc[scenario, "Wpval"], abs=1e-5)


def test_balance_e_matches_csdid(mpdta):
    # csdid 0.4.3 (= R did to 1e-15 on mpdta, research/did.md 4.1) balance_e=1:
    # -0.0287608 (analytic SE 0.0136856); printed to 7 dp, hence 1e-7.
    res = impact.did(
        mpdta, outcome="lemp", unit="countyreal", time="year", cohort="first.treat"
    )
    agg = res.aggregate("dynamic", balance_e=1)
    assert agg.estimate == pytest.approx(-0.0287608, abs=1e-7)
    assert agg.se == pytest.approx(0.0136856, abs=1e-7)
    assert agg.to_frame()["event_time"].tolist() == [-2, -1, 0, 1]


def test_castle_event_study_matches_stata_csdid(reference_data):
    # Stata csdid l_homicide, ivar(sid) time(year) gvar(effyear) agg(event):
    # Mixtape-Sessions/Causal-Inference-2, Lab/Cheng-Hoekstra/Solutions/
    # Solutions-Stata.md (printed to 7 significant digits, hence 1e-6).
    stata = {
        -8: (0.5276058, 0.0414008),
        -7: (-0.2750778, 0.2076307),
        -6: (0.2581694, 0.0908255),
        -5: (-0.0149105, 0.050696),
        -4: (-0.0393112, 0.0541868),
        -3: (0.0644989, 0.0444428),
        -2: (0.0011024, 0.0453654),
        -1: (-0.057916, 0.0437708),
        0: (0.0972154, 0.0396431),
        1: (0.1115491, 0.0493212),
        2: (0.1115662, 0.0593121),
        3: (0.1368254, 0.0572429),
        4: (0.0925866, 0.0537054),
        5: (0.1119418, 0.050854),
    }
    castle = pd.read_csv(reference_data / "castle.csv")
    res = impact.did(
        castle,
        outcome="l_homicide",
        unit="sid",
        time="year",
        cohort="effyear",
        method="cs",
    )
    dyn = res.aggregate("dynamic").to_frame().set_index("event_time")
    for e, (att, se) in stata.items():
        assert dyn.loc[e, "estimate"] == pytest.approx(att, abs=1e-6)
        assert dyn.loc[e, "std_error"] == pytest.approx(se, abs=1e-6)
    # aggregates computed with csdid 0.4.3 (research/did.md 3b), 7 dp
    assert res.estimate == pytest.approx(0.1103830, abs=1e-6)
    assert res.se == pytest.approx(0.0387242, abs=1e-6)
    assert res.aggregate("group").estimate == pytest.approx(0.1084475, abs=1e-6)
    assert res.aggregate("calendar").se == pytest.approx(0.0314891, abs=1e-6)
    notyet = impact.did(
        castle,
        outcome="l_homicide",
        unit="sid",
        time="year",
        cohort="effyear",
        method="cs",
        control="notyet",
    )
    assert notyet.estimate == pytest.approx(0.1093550, abs=1e-6)
    assert notyet.se == pytest.approx(0.0391654, abs=1e-6)
    # small cohorts (2005, 2008, 2009: 1-2 states) are flagged, as R did does
    assert any("Cohort 2005 has 1 unit" in w for w in res.warnings)


COV_SCENARIOS = {
    "nev_dr_lpop": ("dr", "never"),
    "nev_ipw_lpop": ("ipw", "never"),
    "nyt_dr_lpop": ("dr", "notyet"),
    "nyt_reg_lpop": ("reg", "notyet"),
}


@pytest.mark.parametrize("scenario", list(COV_SCENARIOS))
def test_covariate_estimators_match_csdid(mpdta, scenario):
    # csdid 0.4.3 (generator: reference/make_csdid_reference.py; csdid = R did 2.5 to
    # ~1e-15 on mpdta, research/did.md 4.1): DR, IPW (with the logit propensity score)
    # and not-yet-treated comparisons with the covariate lpop, which the R reference
    # file does not cover. Closed forms up to a Newton logit converged to 1e-10, so
    # 1e-9 absolute.
    est_method, control = COV_SCENARIOS[scenario]
    ref = pd.read_csv(REF / "mpdta_csdid_cov.csv")
    ref = ref[ref["scenario"] == scenario]
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        covariates="lpop",
        est_method=est_method,
        control=control,
    )
    cells = ref[ref["kind"] == "attgt"]
    np.testing.assert_allclose(res.att_gt["att"], cells["att"], atol=1e-9, rtol=0)
    np.testing.assert_allclose(res.att_gt["se"], cells["se"], atol=1e-9, rtol=0)
    for kind in ("simple", "group", "dynamic", "calendar"):
        rows = ref[ref["kind"] == kind]
        agg = res.aggregate(kind)
        assert agg.estimate == pytest.approx(rows["att"].iloc[0], abs=1e-9)
        assert agg.se == pytest.approx(rows["se"].iloc[0], abs=1e-9)
        if kind != "simple":
            np.testing.assert_allclose(
                agg.to_frame()["estimate"], rows["att"].iloc[1:], atol=1e-9, rtol=0
            )
            np.testing.assert_allclose(
                agg.to_frame()["std_error"], rows["se"].iloc[1:], atol=1e-9, rtol=0
            )


def test_universal_base_period_cells_brute_force(mpdta):
    """base_period="universal": every ATT(g,t) compares period t with g - 1 (cohort
    minus never treated, differences of means written out below); the reference cell
    t = g - 1 is 0 with no standard error, as R ``did::att_gt(base_period =
    "universal")`` prints (ATT 0, SE NA)."""
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="cs",
        base_period="universal",
        inference="analytic",
    )
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    first = mpdta.groupby("countyreal")["first.treat"].first().reindex(wide.index)
    never = wide[first == 0]
    for row in res.att_gt.itertuples():
        g, t = int(row.group), int(row.time)
        tr = wide[first == g]
        want = (tr[t] - tr[g - 1]).mean() - (never[t] - never[g - 1]).mean()
        assert row.att == pytest.approx(want, abs=1e-10)
        if t == g - 1:
            assert np.isnan(row.se) and np.isnan(row.ci_low)
        else:
            assert row.se > 0


def test_max_e_caps_the_simple_and_group_aggregates(fits):
    """R ``did::aggte(..., max_e = 1)``: only post cells with event time <= 1 enter;
    the simple ATT weights them by cohort size (the shares of R did), each group row
    averages its own kept cells. Written out from the ATT(g,t) table."""
    res = fits["mpdta_nev_dr"]
    att = res.att_gt
    keep = att.loc[att["post"] & (att["event_time"] <= 1)]
    w = keep["n_treated"].to_numpy(dtype=float)
    simple = res.aggregate("simple", max_e=1)
    assert simple.estimate == pytest.approx(w @ keep["att"] / w.sum(), abs=1e-12)
    group = res.aggregate("group", max_e=1).to_frame().set_index("group")
    for g, cells in keep.groupby("group"):
        assert group.loc[g, "estimate"] == pytest.approx(cells["att"].mean(), abs=1e-12)
