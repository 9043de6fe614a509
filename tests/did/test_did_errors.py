"""Bad input raises clear ImpactErrors (never a bare KeyError or a silent NaN)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError, EstimationError, SpecError


@pytest.fixture(scope="module")
def mpdta(reference_data):
    return pd.read_csv(reference_data / "mpdta.csv")


KW = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


def test_unknown_method(mpdta):
    with pytest.raises(SpecError, match="'method' parameter of did must be one of"):
        impact.did(mpdta, method="synthetic", **KW)


@pytest.mark.parametrize(
    ("arg", "value", "name"),
    [
        ("control", "NotYet", "control"),
        ("est_method", "aipw", "est_method"),
        ("base_period", "long", "base_period"),
        ("inference", "jackknife", "inference"),
    ],
)
def test_bad_options(mpdta, arg, value, name):
    with pytest.raises(SpecError, match=f"'{name}' parameter of did"):
        impact.did(mpdta, **{arg: value}, **KW)


def test_bad_numbers(mpdta):
    with pytest.raises(SpecError, match="'alpha' parameter"):
        impact.did(mpdta, alpha=1.5, **KW)
    with pytest.raises(SpecError, match="'n_boot' parameter"):
        impact.did(mpdta, n_boot=0, **KW)
    with pytest.raises(SpecError, match="'anticipation' parameter"):
        impact.did(mpdta, anticipation=-1, **KW)


def test_unknown_keyword(mpdta):
    with pytest.raises(SpecError, match="unexpected keyword argument"):
        impact.did(mpdta, colour="red", **KW)


def test_missing_column(mpdta):
    with pytest.raises(DataError, match="not found in the data"):
        impact.did(
            mpdta,
            outcome="employment",
            unit="countyreal",
            time="year",
            cohort="first.treat",
        )


def test_covariate_missing_values(mpdta):
    df = mpdta.copy()
    df.loc[3, "lpop"] = np.nan
    with pytest.raises(DataError, match="'lpop' has 1 missing value"):
        impact.did(df, covariates=["lpop"], **KW)


def test_covariate_without_variation(mpdta):
    df = mpdta.assign(const=1.0)
    with pytest.raises(DataError, match="'const' has no variation"):
        impact.did(df, covariates=["const"], **KW)


def test_cohort_not_an_observed_period(mpdta):
    df = mpdta[mpdta["year"] != 2005]
    with pytest.raises(DataError, match="not one of the observed periods"):
        df2 = df.assign(**{"first.treat": df["first.treat"].replace(2006, 2005)})
        impact.did(df2, **KW)


def test_anticipation_leaves_no_pre_period(mpdta):
    with pytest.raises(EstimationError, match="no cohort has a pre-treatment period"):
        impact.did(mpdta, anticipation=4, **KW)
    res = impact.did(mpdta, anticipation=1, **KW)
    assert any("no pre-treatment period once anticipation=1" in w for w in res.warnings)
    assert 2004 not in set(res.att_gt["group"])
    # csdid 0.4.3 (= R did 2.5 on mpdta) ATTgt(..., anticipation=1), dr, never treated,
    # aggte("simple"): computed in /work/peers at full precision; closed form -> 1e-9
    assert res.estimate == pytest.approx(-0.045205540683737944, abs=1e-9)
    assert res.se == pytest.approx(0.01668313127214188, abs=1e-9)


def test_no_never_treated(mpdta):
    df = mpdta[mpdta["first.treat"] != 0]
    with pytest.raises(DataError, match="use control='notyet'"):
        impact.did(df, control="never", **KW)
    res = impact.did(df, control="notyet", **KW)
    # csdid 0.4.3 (= R did 2.5) on mpdta without never-treated counties, not-yet-treated
    # comparisons, dr, aggte("simple"); closed form -> 1e-9
    assert res.estimate == pytest.approx(-0.04179071494778574, abs=1e-9)
    assert res.se == pytest.approx(0.020454315072859136, abs=1e-9)
    assert any("last cohort (2007)" in w for w in res.warnings)
    assert any("No never-treated units" in w for w in res.warnings)
    sa = impact.did(df, method="sunab", **KW)
    # pyfixest 0.60.0 on the same rows (years < 2007, the 2007 cohort as comparison):
    # feols(lemp ~ cohort x relative-year dummies (2004: e = 0..2; 2006: e = -3, -2,
    # 0; e = -1 omitted) | countyreal + year, vcov={"CRV1": "countyreal"}), post cells
    # weighted by cohort size, SE by the delta method; closed form -> 1e-9
    assert sa.estimate == pytest.approx(-0.04403623598556491, abs=1e-9)
    assert sa.se == pytest.approx(0.019341606884255298, abs=1e-9)
    assert any("last cohort (2007)" in w for w in sa.warnings)


def test_2x2_needs_one_cohort(mpdta):
    with pytest.raises(SpecError, match="exactly one treated cohort"):
        impact.did(mpdta, method="2x2", **KW)


def test_2x2_no_covariates(mpdta):
    with pytest.raises(SpecError, match="takes no covariates"):
        impact.did(mpdta, method="2x2", covariates="lpop", **KW)


def test_bootstrap_only_for_cs(mpdta):
    with pytest.raises(SpecError, match="multiplier bootstrap"):
        impact.did(mpdta, method="twfe", inference="bootstrap", **KW)


def test_wild_needs_linear_estimator(mpdta):
    with pytest.raises(SpecError, match="linear in the outcome"):
        impact.did(mpdta, covariates="lpop", inference="wild", **KW)


def test_aggregate_errors(mpdta):
    res = impact.did(mpdta, **KW)
    with pytest.raises(SpecError, match=r"'kind' parameter of DiDResult\.aggregate"):
        res.aggregate("cohort")
    with pytest.raises(SpecError, match="No event time left"):
        res.aggregate("dynamic", min_e=10)
    tw = impact.did(mpdta, method="twfe", **KW)
    with pytest.raises(SpecError, match="single coefficient"):
        tw.aggregate("simple")
    with pytest.raises(SpecError, match="needs pre-treatment estimates"):
        tw.pretrend_test()
    es = impact.did(mpdta, method="event_study", **KW)
    with pytest.raises(SpecError, match="not defined for a TWFE event study"):
        es.aggregate("group")


def test_event_study_bad_reference(mpdta):
    with pytest.raises(SpecError, match="ref_period must be an int or a list"):
        impact.did(mpdta, method="event_study", ref_period="minus one", **KW)
    with pytest.raises(SpecError, match="lo < hi"):
        impact.did(mpdta, method="event_study", bins=(2, -2), **KW)


def test_event_study_unidentified_without_never_treated(mpdta):
    df = mpdta[mpdta["first.treat"] != 0]
    with pytest.raises(EstimationError, match="two excluded relative periods"):
        impact.did(df, method="event_study", **KW)
    res = impact.did(df, method="event_study", ref_period=[-1, -4], **KW)
    # pyfixest 0.60 feols(lemp ~ relative-time dummies (-3, -2, 0..3) | countyreal +
    # year, vcov=CRV1 by county): printed at full precision, 1e-9
    pyfixest = {
        -3: (0.015921393143316604, 0.016835890172569597),
        -2: (0.014628706153850545, 0.015337578419815314),
        0: (-0.006780068009975215, 0.014474576209386776),
        1: (-0.028622097258929433, 0.02761922617791073),
        2: (-0.1154407397671001, 0.03959225913533001),
        3: (-0.060768496660854536, 0.04996178222791636),
    }
    es = res.event_study.set_index("event_time")
    for e, (b, se) in pyfixest.items():
        assert es.loc[e, "estimate"] == pytest.approx(b, abs=1e-9)
        assert es.loc[e, "std_error"] == pytest.approx(se, abs=1e-9)
    # the headline is the average of the post-period coefficients
    post = np.mean([pyfixest[e][0] for e in range(4)])
    assert res.estimate == pytest.approx(post, abs=1e-9)


def test_bacon_rejects_weights(mpdta):
    with pytest.raises(SpecError, match="unweighted TWFE"):
        impact.bacon(mpdta, weights="lpop", **KW)


def test_panel_errors_pass_through(mpdta):
    dup = pd.concat([mpdta, mpdta.iloc[:1]])
    with pytest.raises(DataError, match="Duplicated"):
        impact.did(dup, **KW)
    with pytest.raises(SpecError, match="either cohort="):
        impact.did(mpdta, treated="treat", **KW)


def test_no_treated_units(mpdta):
    df = mpdta.assign(g=0)
    with pytest.raises(DataError, match="No unit is treated"):
        impact.did(df, outcome="lemp", unit="countyreal", time="year", cohort="g")


def test_sensitivity_needs_pre_and_post(mpdta):
    res = impact.did(mpdta, method="cs", **KW)
    with pytest.raises(
        SpecError, match=r"'method' parameter of DiDResult\.sensitivity"
    ):
        res.sensitivity(method="sign")
