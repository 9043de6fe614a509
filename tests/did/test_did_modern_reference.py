"""Imputation (BJS), two-stage (Gardner) and extended TWFE (Wooldridge) against peers.

Sources of the pinned numbers:
- mpdta (R ``did`` data, ../shared/data/mpdta.csv): overall ATT -0.0477099 for the
  imputation, two-stage and not-yet-treated ETWFE estimators (also fixest ``sunab``,
  research/did.md); ETWFE with never-treated comparisons -0.0399513 (= R ``did``'s
  simple ATT). Standard errors from diff-diff 3.13.0 (``ImputationDiD()``: BJS Theorem 3
  conservative variance, cohort x horizon auxiliary partition, no finite-sample factor,
  as R didimputation; ``TwoStageDiD()``: Gardner's GMM variance without finite-sample
  factor, as R did2s; ``WooldridgeDiD()``: CRV1 clustered by unit with
  ``G/(G-1) (n-1)/(n-K)``), computed in the benchmark peers venv.
- R etwfe with ``xvar = lpop`` on mpdta: -0.0506270 (SE 0.0124998; etwfe issue #33,
  quoted in SOURCES.md). Our SE uses unit fixed effects where etwfe uses cohort fixed
  effects (a different K in the small-sample factor): 0.2% apart.
- castle (../shared/data/castle.csv): R did2s README, ``did2s(castle, yname =
  "l_homicide", first_stage = ~ 0 | sid + year, second_stage = ~ i(post, ref = 0),
  treatment = "post", weights = "popwt", cluster_var = "state")``: 0.075142 (SE 0.03538).
  R didimputation README, ``did_imputation(castle, yname = "l_homicide", gname =
  "effyear", first_stage = ~ 0 | sid + year, ...)``: 0.0798 (SE 0.0609).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact

pytestmark = pytest.mark.reference

MPDTA = {
    "outcome": "lemp",
    "unit": "countyreal",
    "time": "year",
    "cohort": "first.treat",
}


@pytest.fixture(scope="module")
def mpdta(reference_data):
    return pd.read_csv(reference_data / "mpdta.csv")


@pytest.fixture(scope="module")
def castle(reference_data):
    return pd.read_csv(reference_data / "castle.csv")


def _fit(df, method, **kw):
    return impact.did(df, **MPDTA, method=method, inference="analytic", **kw)


@pytest.mark.parametrize(
    ("method", "kw", "se"),
    [
        ("imputation", {}, 0.01322248865001642),
        ("did2s", {}, 0.0134784088077592),
        ("etwfe", {"control": "notyet"}, 0.01326495778827869),
    ],
)
def test_mpdta_overall_att_equals_across_imputation_family(mpdta, method, kw, se):
    res = _fit(mpdta, method, **kw)
    assert res.estimate == pytest.approx(-0.0477099, abs=1e-7)
    assert res.se == pytest.approx(se, rel=1e-6)
    low, high = res.ci
    assert low == pytest.approx(res.estimate - 1.959963985 * se, rel=1e-6)
    assert high == pytest.approx(res.estimate + 1.959963985 * se, rel=1e-6)


def test_mpdta_etwfe_never_treated_matches_cs_and_diff_diff(mpdta):
    res = _fit(mpdta, "etwfe", control="never")
    assert res.estimate == pytest.approx(-0.0399513, abs=1e-7)
    assert res.se == pytest.approx(0.011796277441754276, rel=1e-6)
    dyn = res.aggregate("dynamic").to_frame().set_index("event_time")
    # diff-diff 3.13 WooldridgeDiD(control_group="never_treated").aggregate("event")
    assert dyn.loc[0, "estimate"] == pytest.approx(-0.019931816789259753, abs=1e-9)
    assert dyn.loc[0, "std_error"] == pytest.approx(0.011857538963453316, rel=1e-6)
    assert dyn.loc[-4, "estimate"] == pytest.approx(0.003306356692512053, abs=1e-9)
    assert dyn.loc[-4, "std_error"] == pytest.approx(0.02455509553186365, rel=1e-6)
    assert dyn.loc[3, "estimate"] == pytest.approx(-0.10081136308540499, abs=1e-9)


def test_mpdta_imputation_event_study_matches_diff_diff(mpdta):
    dyn = _fit(mpdta, "imputation").aggregate("dynamic").to_frame()
    dyn = dyn.set_index("event_time")
    # diff-diff 3.13 ImputationDiD(...).fit(..., aggregate="event_study")
    expected = {
        0: (-0.0310669, 0.0135772),
        1: (-0.0522349, 0.0188124),
        2: (-0.1360781, 0.035342),
        3: (-0.1047075, 0.0337659),
    }
    for e, (est, se) in expected.items():
        assert dyn.loc[e, "estimate"] == pytest.approx(est, abs=1e-7)
        assert dyn.loc[e, "std_error"] == pytest.approx(se, abs=1e-7)


def test_mpdta_did2s_event_study_matches_diff_diff(mpdta):
    dyn = _fit(mpdta, "did2s").aggregate("dynamic").to_frame().set_index("event_time")
    # diff-diff 3.13 TwoStageDiD(...).fit(..., aggregate="event_study")
    assert dyn.loc[0, "std_error"] == pytest.approx(0.0136431, abs=1e-7)
    assert dyn.loc[1, "std_error"] == pytest.approx(0.0189638, abs=1e-7)
    assert dyn.loc[2, "std_error"] == pytest.approx(0.035342, abs=1e-7)


def test_did2s_cell_ses_one_cohort_match_diff_diff(mpdta):
    """With one cohort (2006) each ATT(g,t) cell is its event time's only cell, so the
    cell SEs equal the two-stage event-study SEs (dynamic second stage).

    diff-diff 3.13 ``TwoStageDiD().fit(mpdta[first.treat in (0, 2006)], ...,
    aggregate="event_study")``: e = 0: -0.004255115 (SE 0.021108471); e = 1:
    -0.040884980 (SE 0.024190674).
    """
    one = mpdta.loc[mpdta["first.treat"].isin([0, 2006])]
    att = _fit(one, "did2s").att_gt.set_index("event_time")
    for e, (est, se) in {
        0: (-0.004255115, 0.021108471),
        1: (-0.04088498, 0.024190674),
    }.items():
        assert att.loc[e, "att"] == pytest.approx(est, abs=1e-8)
        assert att.loc[e, "se"] == pytest.approx(se, abs=1e-8)


def test_mpdta_etwfe_with_covariate_matches_r_etwfe(mpdta):
    res = _fit(mpdta, "etwfe", control="notyet", covariates="lpop")
    assert res.estimate == pytest.approx(-0.0506270, abs=1e-7)
    assert res.se == pytest.approx(0.0124998, rel=0.005)


def test_imputation_rejects_time_invariant_covariate(mpdta):
    with pytest.raises(impact.errors.SpecError, match="lpop"):
        _fit(mpdta, "imputation", covariates="lpop")


def test_castle_did2s_matches_r_did2s_readme(castle):
    res = impact.did(
        castle,
        outcome="l_homicide",
        unit="sid",
        time="year",
        treated="post",
        weights="popwt",
        cluster="state",
        method="did2s",
        inference="analytic",
    )
    assert res.estimate == pytest.approx(0.075142, abs=1e-6)
    assert res.se == pytest.approx(0.03538, abs=1e-5)


def test_castle_imputation_matches_r_didimputation_readme(castle):
    res = impact.did(
        castle,
        outcome="l_homicide",
        unit="sid",
        time="year",
        cohort="effyear",
        method="imputation",
        inference="analytic",
    )
    assert res.estimate == pytest.approx(0.0798, abs=5e-5)
    assert res.se == pytest.approx(0.0609, abs=5e-5)


def test_imputation_weights_reproduce_the_estimate(mpdta):
    """The weight matrix the wild bootstrap uses gives the estimate (sum(A * Y))."""
    from impact.did.api import _cohort_index
    from impact.did.modern import modern_batch, modern_weight_matrix
    from impact.panel import Panel

    panel = Panel(mpdta, **MPDTA)
    cidx = _cohort_index(panel)
    for method, control in [("imputation", "notyet"), ("etwfe", "never")]:
        call = {"control": control, "family": "linear"}
        A = modern_weight_matrix(method, panel, cidx, None, call)
        est = _fit(mpdta, method, control=control).estimate
        assert float(np.sum(A * panel.Y)) == pytest.approx(est, abs=1e-12)
        batch = modern_batch(method, panel, None, call)
        assert batch(panel.Y, panel.cohort[None, :])[0] == pytest.approx(est, abs=1e-12)


def test_imputation_batch_matches_brute_force_least_squares():
    """Batch over re-assignments = dense least squares on the untreated cells."""
    from impact.did.imputation import imputation_batch

    rng = np.random.default_rng(4)
    n, n_t = 12, 6
    Y = rng.normal(size=(n, n_t)) + rng.normal(size=(n, 1))
    cidx = np.array([[np.inf] * 8 + [2, 2, 4, 5], [3, 3] + [np.inf] * 9 + [1]])
    got = imputation_batch(Y, cidx)
    for b in range(2):
        t = np.arange(n_t)
        treated = t[None, :] >= cidx[b][:, None]
        rows = np.argwhere(~treated)
        Z = np.zeros((len(rows), n + n_t))
        Z[np.arange(len(rows)), rows[:, 0]] = 1
        Z[np.arange(len(rows)), n + rows[:, 1]] = 1
        coef = np.linalg.lstsq(Z, Y[~treated], rcond=None)[0]
        tr = np.argwhere(treated)
        fitted = coef[tr[:, 0]] + coef[n + tr[:, 1]]
        assert got[b] == pytest.approx(np.mean(Y[treated] - fitted), abs=1e-10)
