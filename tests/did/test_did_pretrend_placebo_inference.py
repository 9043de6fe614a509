"""Pre-trend test and placebo in time use the headline's few-treated inference.

References: the package's own analytic estimator refitted once per re-assignment
(brute force written here) for the randomization p-values and the placebo batch; Monte
Carlo size on panels calibrated to the CLA panel (``generate_la_panel``: AR(1) 0.975 on
the log rate, count noise larger for small authorities) under random adoption of 5
authorities in 2 cohorts, two-sided bounds 5% +/- (2 MCSE + 1 point).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.data.synthetic import generate_la_panel
from impact.did.aggregate import aggregate_cs
from impact.did.cs import compute_att_gt
from impact.did.placebo import cs_placebo_batch

KW = {"outcome": "y", "unit": "la_code", "time": "year", "cohort": "cohort"}


def _cla(seed: int, cohorts: dict[int, int] | None = None) -> pd.DataFrame:
    df = generate_la_panel(
        seed=seed, cohorts=cohorts or {2016: 2, 2019: 3}, assignment="random"
    )
    # log(1 + rate): a small authority can have no child in care in a year
    return df.assign(y=np.log1p(df["cla_rate"]))


def _band(reps: int) -> float:
    return 2 * np.sqrt(0.05 * 0.95 / reps) + 0.01


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_cs_placebo_batch_equals_refits(control: str) -> None:
    rng = np.random.default_rng(0)
    n, n_t, k = 40, 9, 1
    Y = rng.normal(size=(n, n_t)).cumsum(axis=1)
    w = rng.uniform(0.5, 2.0, n)
    cidx = np.full(n, np.inf)
    cidx[:4], cidx[4:9], cidx[9:12] = 4, 6, 7
    fake = cidx - k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs = compute_att_gt(
            Y, fake, np.arange(n_t), weights=w, control=control, real_idx=cidx
        )
        batch = cs_placebo_batch(obs, k, weights=w, control=control, anticipation=0)
        C = np.stack([fake] + [rng.permutation(fake) for _ in range(6)])
        got = batch(Y, C)
        for c, value in zip(C, got, strict=True):
            fit = compute_att_gt(
                Y, c, np.arange(n_t), weights=w, control=control, real_idx=c + k
            )
            ref = aggregate_cs(fit, c, w, "simple").overall
            assert value == pytest.approx(ref, abs=1e-12)


def test_placebo_and_pretest_follow_the_headline() -> None:
    df = _cla(seed=2)
    few = impact.did(df, **KW, method="cs", seed=1, n_boot=99)
    assert few.inference == "permutation"
    plc = few.placebo_in_time(1)
    assert plc.inference == "permutation"
    analytic = impact.did(df, **KW, method="cs", inference="analytic")
    plc_a = analytic.placebo_in_time(1)
    assert plc_a.inference == "analytic"
    assert plc.estimate == pytest.approx(plc_a.estimate, rel=1e-12)
    assert plc.pvalue != plc_a.pvalue
    assert not any("SEs over-reject" in w for w in plc.warnings)
    pre = few.pretrend_test()
    assert "permutation p-value" in pre.method
    pre_a = analytic.pretrend_test()
    assert pre_a.pvalue < 1e-10  # the chi-square reference on 5 treated units
    assert any("over-rejects badly" in w for w in pre_a.warnings)
    assert pre.statistic == pytest.approx(pre_a.statistic, rel=1e-12)
    many = _cla(seed=2, cohorts={2016: 20, 2019: 20})
    res = impact.did(many, **KW, method="cs", seed=1)
    assert res.inference == "analytic"
    assert "permutation" not in res.pretrend_test().method
    assert res.placebo_in_time(1).inference == "analytic"
    tw = impact.did(df, **KW, method="twfe", seed=1, n_boot=99)
    assert tw.placebo_in_time(1).inference == "permutation"


def test_permutation_pretest_exact_enumeration_matches_refits() -> None:
    rng = np.random.default_rng(5)
    n, years = 10, np.arange(2010, 2017)
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, len(years))).cumsum(axis=1)
    cohort = np.full(n, np.nan)
    cohort[:2] = 2014
    df = pd.DataFrame(
        {
            "la_code": np.repeat([f"u{i}" for i in range(n)], len(years)),
            "year": np.tile(years, n),
            "y": Y.ravel(),
            "cohort": np.repeat(cohort, len(years)),
        }
    )
    res = impact.did(df, **KW, method="cs", inference="permutation", n_boot=99)
    test = res.pretrend_test(n_perm=199)
    assert "45 all" not in test.method and "44 all re-assignments" in test.method
    stats = []
    obs = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for pair in itertools.combinations(range(n), 2):
            lab = np.full(n, np.nan)
            lab[list(pair)] = 2014
            d = df.assign(cohort=np.repeat(lab, len(years)))
            fit = impact.did(d, **KW, method="cs", inference="analytic")
            s = fit.pretrend_test(inference="analytic").statistic
            stats.append(s)
            if pair == (0, 1):
                obs = s
    arr = np.array(stats)
    assert obs is not None and test.statistic == pytest.approx(obs, rel=1e-10)
    expect = np.mean(arr >= obs - 1e-9 * (1 + obs))
    assert test.pvalue == pytest.approx(expect, abs=1e-12)


def _sizes(reps: int) -> tuple[float, float]:
    pre = plc = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(reps):
            res = impact.did(
                _cla(seed=3000 + r),
                **KW,
                method="cs",
                inference="permutation",
                n_boot=19,
                seed=r,
            )
            pre += res.pretrend_test(n_perm=19).pvalue <= 0.05
            plc += res.placebo_in_time(1).pvalue <= 0.05
    return pre / reps, plc / reps


def test_pretrend_and_placebo_size_random_adoption_reduced() -> None:
    """5 of 150 calibrated authorities in 2 cohorts: 5% +/- (2 MCSE + 1 point)."""
    reps = 120
    pre, plc = _sizes(reps)
    assert abs(pre - 0.05) <= _band(reps)
    assert abs(plc - 0.05) <= _band(reps)


@pytest.mark.slow
def test_pretrend_and_placebo_size_random_adoption_full() -> None:
    reps = 1000
    pre, plc = _sizes(reps)
    assert abs(pre - 0.05) <= _band(reps)
    assert abs(plc - 0.05) <= _band(reps)


def test_placebo_in_time_drops_fake_cohorts_without_a_pre_period() -> None:
    """Cohorts adopt in periods 3 and 5 (0-based) of 8; ``k = 3`` moves them to 0 and 2
    on the pre-treatment periods 0-2. A fake adoption in period 0 has no earlier period
    to compare with, so those units leave the placebo sample; the other cohort is
    compared with the never treated. TWFE with one post period of three is the DiD of
    period 2 against the mean of periods 0-1 (brute force below)."""
    rng = np.random.default_rng(21)
    n, T = 18, 8
    cohort = np.array([3] * 4 + [5] * 4 + [0] * 10)
    Y = rng.normal(size=(n, 1)) + rng.normal(scale=0.5, size=(n, T))
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), T),
            "year": np.tile(2010 + np.arange(T), n),
            "y": Y.ravel(),
            "cohort": np.repeat(np.where(cohort > 0, 2010 + cohort, 0), T),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            df,
            outcome="y",
            unit="unit",
            time="year",
            cohort="cohort",
            method="twfe",
            inference="analytic",
        )
        placebo = res.placebo_in_time(k=3)
    d = Y[:, 2] - Y[:, :2].mean(axis=1)
    want = d[cohort == 5].mean() - d[cohort == 0].mean()
    assert placebo.estimate == pytest.approx(want, abs=1e-10)
    assert placebo.n_treated == 4


def test_placebo_in_time_needs_two_pre_periods(reference_data) -> None:
    """mpdta's first cohort adopts in 2004, one period after the panel starts."""
    from impact.errors import DataError

    df = pd.read_csv(reference_data / "mpdta.csv")
    res = impact.did(
        df,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="twfe",
        inference="analytic",
    )
    with pytest.raises(DataError, match="at least two periods before the first"):
        res.placebo_in_time(k=1)


def test_placebo_in_time_permutation_interval_uses_the_fits_alpha() -> None:
    """The placebo's randomization interval is built at the fit's ``alpha``: with the
    same seeded re-assignments, the 90% interval lies strictly inside the 95% one, and
    each interval excludes zero exactly when the placebo p-value is below its alpha
    (test inversion: an interval at a level fixed in the code fails both)."""
    df = _cla(seed=2)
    plc = {
        a: impact.did(
            df, **KW, method="cs", seed=1, n_boot=199, alpha=a
        ).placebo_in_time(1)
        for a in (0.05, 0.10)
    }
    assert plc[0.05].inference == plc[0.10].inference == "permutation"
    assert plc[0.05].pvalue == plc[0.10].pvalue
    assert plc[0.05].estimate == plc[0.10].estimate
    lo95, hi95 = plc[0.05].ci
    lo90, hi90 = plc[0.10].ci
    assert lo95 < lo90 < plc[0.10].estimate < hi90 < hi95
    for a, res in plc.items():
        assert (res.ci[0] <= 0 <= res.ci[1]) == (res.pvalue > a), (
            a,
            res.ci,
            res.pvalue,
        )
