"""Every interval a DiD user sees, pinned to R ``did`` 2.5 or recomputed by brute force.

Pointwise bounds and p-values. R ``did`` with ``bstrap=FALSE`` reports
``att +/- qnorm(0.975) * se`` and ``2 * pnorm(-|att / se|)`` for each ATT(g,t), for each
row of ``aggte()`` and for the overall effect. The reference points and SEs are R's own
output (``reference/mpdta_r_did_*.csv``, see ``reference/README.md``), so the reference
bounds are built here from those numbers and the literal ``qnorm(0.975)`` below (never
from our ``alpha``). mpdta has 191 treated counties, so the package's ``inference="auto"``
is the analytic influence-function route that R uses. Tolerance 2e-7: the points and SEs
agree to ~1e-15 (test_did_cs_reference.py), and 1.96 x 1e-7 bounds the bound error if
they only agreed to the 1e-7 that file asserts. A 90% interval moves each bound by
``0.31 * se`` (>= 0.003 here), so a wrong level fails by four orders of magnitude.

Uniform (sup-t) bands. R ``did``'s ``cband`` critical value comes from random bootstrap
draws, so it cannot be pinned to a printed number. Instead the test regenerates the same
Rademacher multipliers (``numpy.random.default_rng(seed).choice([-1, 1], (B, N))``, the
documented seeding), builds each cell's influence function by hand (difference of two
means: ``n / n_g (dY_i - mean_g)`` for the cohort, ``-n / n_c (dY_i - mean_c)`` for the
never-treated), and recomputes R's band: bootstrap SE = IQR / (qnorm(.75) - qnorm(.25)),
critical value = the ``1 - alpha`` quantile of ``max_j |draw_j / se_j|``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import impact
from impact.panel import Panel

pytestmark = pytest.mark.reference

REF = __import__("pathlib").Path(__file__).parent / "reference"
QNORM_975 = 1.959963984540054  # R: qnorm(0.975)
IQR_NORM = 1.3489795003921634  # R: qnorm(0.75) - qnorm(0.25)
TOL = 2e-7
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


def _r_bounds(att, se):
    att, se = np.asarray(att, float), np.asarray(se, float)
    return att - QNORM_975 * se, att + QNORM_975 * se, 2 * stats.norm.sf(abs(att / se))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_att_gt_bounds_match_r_did(fits, scenario):
    ref = pd.read_csv(REF / "mpdta_r_did_attgt.csv")
    ref = ref[ref["scenario"] == scenario].sort_values(["group", "t"])
    ours = fits[scenario].att_gt.sort_values(["group", "time"])
    lo, hi, _ = _r_bounds(ref["att"], ref["se"])
    assert fits[scenario].inference == "analytic"
    np.testing.assert_allclose(ours["ci_low"], lo, atol=TOL, rtol=0)
    np.testing.assert_allclose(ours["ci_high"], hi, atol=TOL, rtol=0)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_aggregate_bounds_and_pvalues_match_r_did(fits, scenario, kind):
    ref = pd.read_csv(REF / "mpdta_r_did_aggte.csv")
    ref = ref[(ref["scenario"] == scenario) & (ref["type"] == kind)]
    agg = fits[scenario].aggregate(kind)
    lo, hi, p = _r_bounds(ref["overall_att"].iloc[0], ref["overall_se"].iloc[0])
    assert agg.ci == pytest.approx((float(lo), float(hi)), abs=TOL)
    assert agg.pvalue == pytest.approx(float(p), abs=1e-7)
    if kind == "simple":
        # the headline result is the simple aggregate and prints the same interval
        assert fits[scenario].ci == pytest.approx((float(lo), float(hi)), abs=TOL)
        assert fits[scenario].pvalue == pytest.approx(float(p), abs=1e-7)
        d = fits[scenario].to_dict()
        assert d["ci"] == pytest.approx([float(lo), float(hi)], abs=TOL)
        return
    rows = agg.to_frame()
    lo, hi, p = _r_bounds(ref["att_egt"], ref["se_egt"])
    np.testing.assert_allclose(rows["conf_low"], lo, atol=TOL, rtol=0)
    np.testing.assert_allclose(rows["conf_high"], hi, atol=TOL, rtol=0)
    np.testing.assert_allclose(rows["p_value"], p, atol=1e-7, rtol=0)


def test_level_follows_alpha(mpdta):
    # alpha=0.10 must give qnorm(0.95) intervals (R: aggte(..., alp = 0.1))
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        alpha=0.10,
    )
    ref = pd.read_csv(REF / "mpdta_r_did_aggte.csv")
    ref = ref[(ref["scenario"] == "mpdta_nev_dr") & (ref["type"] == "dynamic")]
    q95 = 1.6448536269514722  # R: qnorm(0.95)
    rows = res.aggregate("dynamic").to_frame()
    np.testing.assert_allclose(
        rows["conf_high"], ref["att_egt"] + q95 * ref["se_egt"], atol=TOL, rtol=0
    )
    g = res.att_gt
    np.testing.assert_allclose(g["ci_high"] - g["att"], q95 * g["se"], atol=1e-12)


# ---------------------------------------------------------------- uniform bands


def _cell_influence(Y, cohort, periods):
    """Hand-built influence functions of every ATT(g,t) (never-treated, no covariates).

    Columns in the order of R ``did``: cohorts ascending, then periods from the second;
    varying base period (t - 1 before adoption, g - 1 from adoption on).
    """
    n = len(Y)
    never = ~np.isfinite(cohort)
    cols, keys = [], []
    for g in np.unique(cohort[np.isfinite(cohort)]):
        gi = int(np.searchsorted(periods, g))
        for ti in range(1, len(periods)):
            b = ti - 1 if ti < gi else gi - 1
            dy = Y[:, ti] - Y[:, b]
            treat = cohort == g
            inf = np.zeros(n)
            inf[treat] = n / treat.sum() * (dy[treat] - dy[treat].mean())
            inf[never] = -n / never.sum() * (dy[never] - dy[never].mean())
            cols.append(inf)
            keys.append((int(g), int(periods[ti])))
    return np.column_stack(cols), keys


def _sup_t_band(draws, alpha):
    q75, q25 = np.quantile(draws, [0.75, 0.25], axis=0, method="inverted_cdf")
    se = (q75 - q25) / IQR_NORM
    tmax = np.abs(draws / se).max(axis=1)
    return se, float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))


def test_att_gt_uniform_band_recomputed_from_the_same_draws(mpdta):
    seed, B = 20240607, 999
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        inference="bootstrap",
        n_boot=B,
        seed=seed,
    )
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp").sort_index()
    cohort = (
        mpdta.groupby("countyreal")["first.treat"]
        .first()
        .reindex(wide.index)
        .to_numpy()
    )
    cohort = np.where(cohort == 0, np.inf, cohort).astype(float)
    periods = wide.columns.to_numpy()
    inf, keys = _cell_influence(wide.to_numpy(), cohort, periods)
    n = len(inf)
    # the hand-built influence functions reproduce R's analytic SEs
    ref = pd.read_csv(REF / "mpdta_r_did_attgt.csv")
    ref = ref[ref["scenario"] == "mpdta_nev_dr"].sort_values(["group", "t"])
    assert keys == list(zip(ref["group"], ref["t"], strict=True))
    np.testing.assert_allclose(
        np.sqrt((inf**2).sum(0)) / n, ref["se"], atol=1e-12, rtol=0
    )
    mult = np.random.default_rng(seed).choice(np.array([-1.0, 1.0]), size=(B, n))
    se_b, crit = _sup_t_band(mult @ inf / n, 0.05)
    ours = res.att_gt.sort_values(["group", "time"])
    np.testing.assert_allclose(ours["se"], se_b, atol=1e-12, rtol=0)
    np.testing.assert_allclose(ours["band_high"], ours["att"] + crit * se_b, atol=1e-12)
    np.testing.assert_allclose(ours["band_low"], ours["att"] - crit * se_b, atol=1e-12)
    np.testing.assert_allclose(
        ours["ci_high"], ours["att"] + QNORM_975 * se_b, atol=1e-12
    )
    # a 90% band (crit ~2.6 vs ~2.9 for 12 cells) would be off by > 0.1 se
    assert 2.5 < crit < 3.4


def test_event_time_uniform_band_recomputed_from_the_same_draws():
    # One cohort: each event-time row is one ATT(g,t) (R's weight-estimation term is
    # zero with a single cohort), so the hand-built influence functions give the rows'
    # bootstrap draws exactly.
    rng = np.random.default_rng(5)
    n, t, seed, B = 80, 7, 11, 1999
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(1, t)) + rng.normal(size=(n, t))
    cohort = np.full(n, np.inf)
    cohort[:25] = 4
    Y[:25, 4:] += 0.5
    res = impact.did(
        Panel.from_arrays(Y, cohort),
        method="cs",
        inference="bootstrap",
        n_boot=B,
        seed=seed,
    )
    inf, keys = _cell_influence(Y, cohort, np.arange(t))
    mult = np.random.default_rng(seed).choice(np.array([-1.0, 1.0]), size=(B, n))
    se_b, crit = _sup_t_band(mult @ inf / n, 0.05)
    rows = res.aggregate("dynamic").to_frame()
    assert rows["event_time"].tolist() == [g - 4 for _, g in keys]
    est = rows["estimate"].to_numpy()
    np.testing.assert_allclose(rows["std_error"], se_b, atol=1e-12)
    np.testing.assert_allclose(rows["band_high"], est + crit * se_b, atol=1e-12)
    np.testing.assert_allclose(rows["band_low"], est - crit * se_b, atol=1e-12)
    np.testing.assert_allclose(rows["conf_low"], est - QNORM_975 * se_b, atol=1e-12)
    # the overall event-time effect (mean of the post rows: one cohort, equal weights)
    # gets the bootstrap SE of its own draws and the 95% normal interval
    post = np.array([g >= 4 for _, g in keys])
    overall = mult @ inf[:, post].mean(axis=1) / n
    q75, q25 = np.quantile(overall, [0.75, 0.25], method="inverted_cdf")
    se_all = (q75 - q25) / IQR_NORM
    agg = res.aggregate("dynamic")
    assert agg.se == pytest.approx(se_all, abs=1e-12)
    assert agg.ci == pytest.approx(
        (agg.estimate - QNORM_975 * se_all, agg.estimate + QNORM_975 * se_all),
        abs=1e-12,
    )
    # the cell bands use the same draws
    g = res.att_gt.sort_values("time")
    np.testing.assert_allclose(g["band_high"], g["att"] + crit * se_b, atol=1e-12)


# ------------------------------------------------- regression-based estimators

# pyfixest 0.60 feols(lemp ~ relative-time dummies (-4..3 except -1) | countyreal +
# year, vcov = CRV1 by county) on mpdta, printed at full precision (as fixest).
PYFIXEST_EVENT_STUDY = {
    -4: (0.0035493269194320815, 0.0228285814462772),
    -3: (0.024623501986489986, 0.017679371172670735),
    -2: (0.0233548148864029, 0.013436699377246541),
    0: (-0.01814392696658099, 0.01098221828094819),
    1: (-0.043472372628554155, 0.01757694699444042),
    2: (-0.1317948577543188, 0.02883740739006748),
    3: (-0.09224679418188607, 0.03233619316312531),
}


def test_event_study_rows_bounds_from_fixest(mpdta):
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="event_study",
    )
    assert res.inference == "analytic"  # 191 treated counties
    for table in (res.event_study, res.aggregate("dynamic").to_frame()):
        rows = table.set_index("event_time")
        for e, (b, se) in PYFIXEST_EVENT_STUDY.items():
            lo, hi, p = _r_bounds(b, se)
            assert rows.loc[e, "estimate"] == pytest.approx(b, abs=1e-9)
            assert rows.loc[e, "std_error"] == pytest.approx(se, abs=1e-9)
            assert rows.loc[e, "conf_low"] == pytest.approx(float(lo), abs=TOL)
            assert rows.loc[e, "conf_high"] == pytest.approx(float(hi), abs=TOL)
            assert rows.loc[e, "p_value"] == pytest.approx(float(p), abs=1e-7)


def test_twfe_interval_from_fixest(mpdta):
    # feols(lemp ~ treat | countyreal + year, cluster = ~countyreal): -0.0365489 (SE
    # 0.0132652), 7 dp (test_did_twfe_reference.py): bounds to 1.96 x 1e-7 + 1e-7
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="twfe",
    )
    lo, hi, p = _r_bounds(-0.0365489, 0.0132652)
    assert res.ci == pytest.approx((float(lo), float(hi)), abs=3e-7)
    assert res.pvalue == pytest.approx(float(p), rel=1e-4)


@pytest.mark.parametrize("method", ["imputation", "did2s", "etwfe", "sunab", "stacked"])
def test_modern_event_time_rows_use_the_95_percent_normal_interval(mpdta, method):
    # Row estimates and SEs are pinned to diff-diff / R in test_did_modern_reference.py
    # and test_did_twfe_reference.py; here every row's bounds and p-value must be the
    # normal ones at 95% (a 90% row interval would be 16% narrower).
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method=method,
        inference="analytic",
    )
    rows = res.aggregate("dynamic").to_frame()
    rows = rows[rows["std_error"] > 0]
    assert len(rows) >= 1
    b, se = rows["estimate"].to_numpy(), rows["std_error"].to_numpy()
    lo, hi, p = _r_bounds(b, se)
    np.testing.assert_allclose(rows["conf_low"], lo, atol=1e-12)
    np.testing.assert_allclose(rows["conf_high"], hi, atol=1e-12)
    np.testing.assert_allclose(rows["p_value"], p, atol=1e-12)
    lo, hi, _ = _r_bounds(res.estimate, res.se)
    assert res.ci == pytest.approx((float(lo), float(hi)), abs=1e-12)
    if res.att_gt is not None and len(res.att_gt):
        cells = res.att_gt[res.att_gt["se"] > 0]
        lo, hi, _ = _r_bounds(cells["att"], cells["se"])
        np.testing.assert_allclose(cells["ci_low"], lo, atol=1e-12)
        np.testing.assert_allclose(cells["ci_high"], hi, atol=1e-12)
