"""Unbalanced panels (``balance="keep"``): estimators on the rows that exist.

References (mpdta with 120 of its 2,500 rows removed; the removed rows are listed in
``reference/mpdta_gaps_dropped_rows.csv``):

- Callaway-Sant'Anna: csdid 0.4.3 (Python port of R ``did``) with
  ``allow_unbalanced_panel=True``, ``est_method="reg"`` (no covariates, so every
  estimator is the same difference of cell means), analytic SEs
  (``reference/generate_mpdta_gaps_csdid.py``). R ``did`` is not installable here
  (not packaged by Debian). Tolerance 1e-8 absolute: closed-form on both sides, the
  CSV holds 15 significant digits (observed agreement ~1e-15).
- TWFE, event study, 2x2 point estimate: pyfixest 0.60.0 ``feols`` with unit and year
  fixed effects and CRV1 by county on the rows that exist
  (``reference/generate_mpdta_gaps_pyfixest.py``). Tolerance 1e-8.
- Imputation (BJS): brute force in this file (least squares with unit and year
  dummies on the untreated rows that exist, imputed treated rows averaged).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.did.cs import compute_att_gt
from impact.did.linear import make_estimate_batch, weight_matrix
from impact.errors import DataError, ImpactWarning, SpecError
from tests.did import perm_reference as pr

REF = __import__("pathlib").Path(__file__).parent / "reference"
TOL = 1e-8
KW = {
    "outcome": "lemp",
    "unit": "countyreal",
    "time": "year",
    "cohort": "first.treat",
    "balance": "keep",
    "inference": "analytic",
}


@pytest.fixture(scope="module")
def gappy(reference_data):
    d = pd.read_csv(reference_data / "mpdta.csv")
    dropped = pd.read_csv(REF / "mpdta_gaps_dropped_rows.csv")
    key = pd.MultiIndex.from_frame(d[["countyreal", "year"]])
    keep = ~key.isin(pd.MultiIndex.from_frame(dropped))
    assert int((~keep).sum()) == 120
    return d[keep].reset_index(drop=True)


def _quiet(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        return impact.did(**kw)


@pytest.fixture(scope="module")
def cs_fits(gappy):
    return {
        c: _quiet(data=gappy, method="cs", control=c, **KW) for c in ("never", "notyet")
    }


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_cs_att_gt_matches_csdid_unbalanced(cs_fits, control):
    ref = pd.read_csv(REF / "mpdta_gaps_csdid_attgt.csv")
    ref = ref[ref["control"] == control].sort_values(["group", "t"])
    ours = cs_fits[control].att_gt.sort_values(["group", "time"])
    assert len(ours) == len(ref) == 12
    np.testing.assert_array_equal(ours["time"].to_numpy(), ref["t"].to_numpy())
    np.testing.assert_allclose(ours["att"], ref["att"], atol=TOL, rtol=0)
    np.testing.assert_allclose(ours["se"], ref["se"], atol=TOL, rtol=0)


@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_cs_aggregates_match_csdid_unbalanced(cs_fits, control, kind):
    ref = pd.read_csv(REF / "mpdta_gaps_csdid_aggte.csv", dtype={"egt": str})
    ref = ref[(ref["control"] == control) & (ref["type"] == kind)]
    agg = cs_fits[control].aggregate(kind)
    overall = ref[ref["egt"] == "overall"].iloc[0]
    assert agg.estimate == pytest.approx(overall["att"], abs=TOL)
    assert agg.se == pytest.approx(overall["se"], abs=TOL)
    if kind == "simple":
        assert cs_fits[control].estimate == pytest.approx(overall["att"], abs=TOL)
        return
    rows = ref[ref["egt"] != "overall"]
    frame = agg.to_frame()
    np.testing.assert_allclose(frame["estimate"], rows["att"], atol=TOL, rtol=0)
    np.testing.assert_allclose(frame["std_error"], rows["se"], atol=TOL, rtol=0)


def test_unbalanced_cs_cells_equal_panel_cells_when_nothing_is_missing(reference_data):
    # the row-wise estimator with every row present is the panel estimator
    d = pd.read_csv(reference_data / "mpdta.csv")
    p = impact.Panel(
        d, unit="countyreal", time="year", outcome="lemp", cohort="first.treat"
    )
    cidx = np.searchsorted(p.periods, np.where(np.isfinite(p.cohort), p.cohort, 0))
    cidx = np.where(np.isfinite(p.cohort), cidx, np.inf).astype(float)
    a = compute_att_gt(p.Y, cidx, p.periods, control="notyet")
    b = compute_att_gt(
        p.Y, cidx, p.periods, control="notyet", cell_weights=np.ones(p.Y.shape)
    )
    np.testing.assert_allclose(a.att, b.att, atol=1e-13)
    np.testing.assert_allclose(a.inf, b.inf, atol=1e-10)


def test_twfe_and_event_study_match_pyfixest_on_rows_that_exist(gappy):
    ref = pd.read_csv(REF / "mpdta_gaps_pyfixest.csv", dtype={"term": str})
    twfe = _quiet(data=gappy, method="twfe", **KW)
    row = ref[ref["model"] == "twfe"].iloc[0]
    assert twfe.estimate == pytest.approx(row["estimate"], abs=TOL)
    assert twfe.se == pytest.approx(row["se"], abs=TOL)
    es = _quiet(data=gappy, method="event_study", **KW).event_study
    es = es[~es["reference"]].sort_values("event_time")
    rows = ref[ref["model"] == "event_study"]
    rows = rows.assign(e=rows["term"].astype(int)).sort_values("e")
    np.testing.assert_array_equal(es["event_time"].to_numpy(), rows["e"].to_numpy())
    np.testing.assert_allclose(es["estimate"], rows["estimate"], atol=TOL, rtol=0)
    np.testing.assert_allclose(es["std_error"], rows["se"], atol=TOL, rtol=0)


def test_2x2_on_rows_that_exist(gappy):
    two = gappy[gappy["year"].isin([2003, 2004])]
    res = _quiet(data=two, method="2x2", **KW)
    ref = pd.read_csv(REF / "mpdta_gaps_pyfixest.csv")
    assert res.estimate == pytest.approx(
        ref.loc[ref["model"] == "2x2", "estimate"].iloc[0], abs=TOL
    )
    # brute force: units seen in both years, Card-Krueger SE sqrt(v1/n1 + v0/n0)
    wide = two.pivot(index="countyreal", columns="year", values="lemp").dropna()
    change = wide[2004] - wide[2003]
    treated = two.groupby("countyreal")["first.treat"].first().reindex(wide.index)
    t, c = change[treated == 2004], change[treated != 2004]
    assert res.estimate == pytest.approx(t.mean() - c.mean(), abs=1e-12)
    se = np.sqrt(t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c))
    assert res.se == pytest.approx(se, abs=1e-12)
    n_left = two["countyreal"].nunique() - len(wide)
    assert any(f"{n_left} unit(s) observed only" in w for w in res.warnings)


def test_imputation_on_rows_that_exist_brute_force(gappy):
    res = _quiet(data=gappy, method="imputation", **KW)
    d = gappy.copy()
    g = d["first.treat"]
    treated = (g > 0) & (d["year"] >= g)
    units = pd.get_dummies(d["countyreal"], dtype=float).to_numpy()
    years = pd.get_dummies(d["year"], dtype=float).to_numpy()[:, 1:]
    Z = np.column_stack([units, years])
    y = d["lemp"].to_numpy()
    # a unit without an untreated row (its pre-adoption rows are all missing) has
    # no unit effect to impute from: its treated rows are left out
    has_untreated = d.loc[~treated, "countyreal"].unique()
    ok = treated & d["countyreal"].isin(has_untreated)
    beta = np.linalg.lstsq(Z[~treated], y[~treated], rcond=None)[0]
    tau = y[ok] - Z[ok] @ beta
    assert res.estimate == pytest.approx(tau.mean(), abs=1e-9)
    n_lost = int((treated & ~ok).sum())
    assert n_lost > 0
    assert any(f"{n_lost} treated cells of" in w for w in res.warnings)


def test_linear_forms_reproduce_the_estimates_with_gaps(gappy):
    # sum(A * Y) and the permutation batch at the observed assignment equal the fit
    for method in ("cs", "twfe", "event_study"):
        res = _quiet(data=gappy, method=method, **KW)
        panel = res._panel
        view = panel.rows_view()
        cidx = np.where(
            np.isfinite(panel.cohort), np.searchsorted(panel.periods, panel.cohort), 0
        )
        cidx = np.where(np.isfinite(panel.cohort), cidx, np.inf).astype(float)
        A = weight_matrix(method, view, cidx)
        assert float(np.sum(A * view.Y)) == pytest.approx(res.estimate, abs=1e-10)
        batch = make_estimate_batch(method, view)
        assert float(batch(view.Y, panel.cohort[None, :])[0]) == pytest.approx(
            res.estimate, abs=1e-10
        )


def test_permutation_inference_runs_on_gaps_and_wild_refuses(gappy):
    res = _quiet(
        data=gappy,
        method="cs",
        **{**KW, "inference": "permutation"},
        n_boot=99,
        seed=3,
    )
    assert res.inference == "permutation"
    assert res.ci[0] < res.estimate < res.ci[1]
    # Brute force (tests/did/perm_reference.py): the same 99 seeded re-assignments
    # plus the observed one (a panel with gaps permutes raw estimates), each refitted
    # with impact.did(inference="analytic") on the relabelled rows (that estimate is
    # pinned to csdid in this file), p = (1 + #{|est*| >= |est|}) / 100; same draws on
    # both sides, so equal to rounding (1e-12).
    units = np.sort(gappy["countyreal"].unique())
    first = gappy.groupby("countyreal")["first.treat"].first().reindex(units)
    cohort = np.where(first > 0, first, np.inf).astype(float)
    est = []
    for c in pr.sampled_assignments(cohort, 99, seed=3):
        relabel = dict(zip(units, np.where(np.isfinite(c), c, 0), strict=True))
        lab = gappy.assign(**{"first.treat": gappy["countyreal"].map(relabel)})
        est.append(_quiet(data=lab, method="cs", **KW).estimate)
    assert res.estimate == pytest.approx(est[0], abs=1e-12)
    assert res.pvalue == pytest.approx(pr.sampled_pvalue(np.array(est)), abs=1e-12)
    assert res.pvalue == pytest.approx(0.38, abs=1e-12)  # the value, stated
    with pytest.raises(SpecError, match="inference='wild' needs a balanced panel"):
        _quiet(data=gappy, method="twfe", **{**KW, "inference": "wild"})
    with pytest.raises(SpecError, match="covariates needs a balanced panel"):
        _quiet(data=gappy, method="cs", covariates="lpop", **KW)


def _small(gaps=((3, 2002), (3, 2003), (5, 2008)), nan_rows=()):
    rng = np.random.default_rng(0)
    rows = []
    for u in range(8):
        for t in range(2000, 2010):
            if (u, t) in gaps:
                continue
            y = np.nan if (u, t) in nan_rows else rng.normal() + u
            rows.append(
                {"la": f"LA{u}", "year": t, "y": y, "c": 2006 if u == 0 else np.nan}
            )
    return pd.DataFrame(rows)


def test_keep_warns_with_counts_and_missing_outcomes_become_gaps():
    df = _small(nan_rows=((6, 2004),))
    with pytest.warns(ImpactWarning) as record:
        p = impact.Panel(
            df, unit="la", time="year", outcome="y", cohort="c", balance="keep"
        )
    text = " | ".join(str(r.message) for r in record)
    assert "Kept 3 of 8 unit(s) with gaps" in text
    assert "4 unit-period cell(s) missing" in text
    assert "Dropped 1 row(s) with a missing outcome 'y'" in text
    assert p.gaps() == {"LA3": [2002, 2003], "LA5": [2008], "LA6": [2004]}
    assert p.n_units == 8 and int(p.observed.sum()) == 76
    assert len(p.frame) == 76  # the rows that exist
    with pytest.raises(DataError, match="balance='keep'"):
        impact.Panel(df, unit="la", time="year", outcome="y", cohort="c")
    dropped = impact.Panel(
        _small(), unit="la", time="year", outcome="y", cohort="c", balance="drop"
    )
    assert dropped.n_units == 6


def test_estimators_needing_complete_series_name_units_and_years():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        p = impact.Panel(
            _small(), unit="la", time="year", outcome="y", cohort="c", balance="keep"
        )
    for call in (
        lambda: impact.synth(p, treated_units="LA0", treatment_time=2006),
        lambda: impact.synth(
            p, treated_units="LA0", treatment_time=2006, method="sdid"
        ),
    ):
        with pytest.raises(DataError, match=r"'LA3' \(2002-2003\), 'LA5' \(2008\)"):
            call()
    with pytest.raises(
        DataError, match=r"'LA3' \(missing 2002, 2003\); 'LA5' \(missing 2008\)"
    ):
        impact.matched_did(p)
    with pytest.raises(DataError, match="balance='drop'"):
        impact.bacon(p)


def test_diagnostics_run_on_rows_that_exist(gappy):
    # CS placebo in time: the randomization batch reproduces the placebo estimate
    res = _quiet(
        data=gappy, method="cs", **{**KW, "inference": "permutation"}, n_boot=99, seed=1
    )
    placebo = res.placebo_in_time(1)
    assert placebo.inference == "permutation"
    assert placebo.inference_details["estimate"] == pytest.approx(
        placebo.estimate, abs=1e-12
    )
    pre = res.pretrend_test("event_time", inference="permutation", n_perm=19, seed=1)
    es = _quiet(
        data=gappy,
        method="event_study",
        **{**KW, "inference": "permutation"},
        n_boot=19,
        seed=2,
    )
    assert es.inference_details["estimate"] == pytest.approx(es.estimate, abs=1e-10)
    # Brute force: the same seeded re-assignments (tests/did/perm_reference.py; the
    # pre-test draws 19 without prepending the observed one), each refitted through
    # impact.did(inference="analytic") on the relabelled rows. Pre-test: the analytic
    # event-time Wald statistic of each refit, p = (1 + #{W* >= W}) / 20. Event study:
    # raw estimates (a panel with gaps), p = (1 + #{|est*| >= |est|}) / 20.
    units = np.sort(gappy["countyreal"].unique())
    first = gappy.groupby("countyreal")["first.treat"].first().reindex(units)
    cohort = np.where(first > 0, first, np.inf).astype(float)

    def refit(c, method):
        relabel = dict(zip(units, np.where(np.isfinite(c), c, 0), strict=True))
        lab = gappy.assign(**{"first.treat": gappy["countyreal"].map(relabel)})
        return _quiet(data=lab, method=method, **KW)

    wald = _quiet(data=gappy, method="cs", **KW).pretrend_test("event_time").statistic
    draws = pr.sampled_assignments(cohort, 19, seed=1)[1:]
    w_star = np.array(
        [refit(c, "cs").pretrend_test("event_time").statistic for c in draws]
    )
    hits = np.sum(w_star >= wald - 1e-9 * (1 + wald))
    assert pre.pvalue == pytest.approx((1 + hits) / 20, abs=1e-12)
    est = [
        refit(c, "event_study").estimate for c in pr.sampled_assignments(cohort, 19, 2)
    ]
    assert es.estimate == pytest.approx(est[0], abs=1e-10)
    assert es.pvalue == pytest.approx(pr.sampled_pvalue(np.array(est)), abs=1e-12)


def test_poisson_etwfe_uses_the_rows_that_exist():
    # The Poisson ETWFE fit sees the data only through cohort-by-period totals of counts
    # and exposure (Wooldridge 2023 with cohort effects). So the panel with a missing
    # row must give exactly the estimate of a balanced panel with the same totals: put
    # the missing row back with part of another same-cohort unit's count and exposure.
    from impact.data.synthetic import generate_la_panel

    df = generate_la_panel(n_units=30, start=2014, end=2021, seed=4, cohorts={2018: 6})
    df = df[["la_code", "year", "cohort", "cla_count", "child_pop"]].astype(
        {"cla_count": float, "child_pop": float}
    )
    never = df.loc[df["cohort"].fillna(0) == 0, "la_code"].unique()
    i_unit, j_unit = never[0], never[1]
    row_i = (df["la_code"] == i_unit) & (df["year"] == 2016)
    row_j = (df["la_code"] == j_unit) & (df["year"] == 2016)
    gappy = df[~row_i].copy()
    gappy.loc[row_j[~row_i], ["cla_count", "child_pop"]] += df.loc[
        row_i, ["cla_count", "child_pop"]
    ].to_numpy()
    shifted = gappy.copy()
    moved = {"cla_count": 3.0, "child_pop": 1000.0}
    back = df.loc[row_i].assign(**moved)
    for col, v in moved.items():
        shifted.loc[row_j[~row_i], col] -= v
    balanced = pd.concat([shifted, back], ignore_index=True)
    kw = {
        "outcome": "rate",
        "numerator": "cla_count",
        "denominator": "child_pop",
        "unit": "la_code",
        "time": "year",
        "cohort": "cohort",
        "method": "etwfe",
        "family": "poisson",
        "inference": "analytic",
    }
    a = _quiet(data=gappy, balance="keep", **kw)
    b = _quiet(data=balanced, **kw)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-9, abs=1e-9)
    assert any("Kept 1 of 30 unit(s) with gaps" in w for w in a.warnings)


def test_2x2_linear_form_with_gaps_and_unequal_periods(gappy):
    # three years: each unit's pre/post means are over its observed years
    three = gappy[gappy["year"].isin([2003, 2004, 2005])]
    three = three.assign(c=np.where(three["first.treat"] == 2004, 2004, np.nan))
    kw = {**KW, "cohort": "c"}
    res = _quiet(data=three, method="2x2", **kw)
    wide = three.pivot(index="countyreal", columns="year", values="lemp")
    pre = wide[2003]
    post = wide[[2004, 2005]].mean(axis=1)  # mean of the observed post years
    change = (post - pre).dropna()
    treated = three.groupby("countyreal")["c"].first().reindex(change.index).notna()
    assert res.estimate == pytest.approx(
        change[treated].mean() - change[~treated].mean(), abs=1e-12
    )
    panel = res._panel
    view = panel.rows_view()
    cidx = np.where(np.isfinite(panel.cohort), 1.0, np.inf)
    A = weight_matrix("2x2", view, cidx)
    assert float(np.sum(A * view.Y)) == pytest.approx(res.estimate, abs=1e-12)
