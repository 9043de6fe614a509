"""Roth (2022) pre-trend power against the R ``pretrends`` README and brute force.

Reference: the README of R ``pretrends`` (github.com/jonathandroth/pretrends, commit
122731d, "Application to He and Wang (2017)", Figure 2C): ``beta``, ``sigma`` and
``tVec`` of ``pretrends::HeAndWangResults`` (data/HeAndWangResults.rda, copied below),
reference period -1. Printed values: ``slope_for_power(sigma, 0.5, tVec, -1)`` =
0.05205871; ``pretrends(..., deltatrue = slope50 * (tVec + 1))$df_power``: power
0.4999776, Bayes factor 0.56901, likelihood ratio 0.1057627; with ``deltatrue = 0.024 *
(tVec + 1)^2``: 0.6624282, 0.3841516, 0.4332635. R uses a critical value of 1.96 and
``mvtnorm::pmvnorm`` (randomised, default absolute error 1e-3), so powers and slopes
agree to about 5e-4; the likelihood ratio is exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import impact
from impact.did.pretrend_power import pretest_power, pretrend_power
from impact.errors import SpecError

BETA = np.array(
    [
        0.066703148,
        -0.007701792,
        -0.030769054,
        0.084030658,
        0.242441818,
        0.219878986,
        0.191092536,
    ]
)
TVEC = np.array([-4.0, -3.0, -2.0, 0.0, 1.0, 2.0, 3.0])
SIGMA = np.array(
    [
        [
            0.008906571194529533,
            0.0044883135706186295,
            0.0014587024925276637,
            0.0012157688615843654,
            0.0020327644888311625,
            0.0013225014554336667,
            0.001961772795766592,
        ],
        [
            0.0044883135706186295,
            0.005936916917562485,
            0.002750079147517681,
            0.001350585836917162,
            0.0014315459411591291,
            0.0012067791540175676,
            0.0013847157824784517,
        ],
        [
            0.0014587024925276637,
            0.002750079147517681,
            0.00303862476721406,
            0.0009056166163645685,
            0.0006791298510506749,
            0.0010167636210098863,
            0.000709014420863241,
        ],
        [
            0.0012157688615843654,
            0.001350585836917162,
            0.0009056166163645685,
            0.003924740944057703,
            0.0025961180217564106,
            0.0017326149391010404,
            0.0022345525212585926,
        ],
        [
            0.0020327644888311625,
            0.0014315459411591291,
            0.0006791298510506749,
            0.0025961180217564106,
            0.008065897040069103,
            0.005875375121831894,
            0.0037414359394460917,
        ],
        [
            0.0013225014554336667,
            0.0012067791540175676,
            0.0010167636210098863,
            0.0017326149391010404,
            0.005875375121831894,
            0.007881578989326954,
            0.0036507095210254192,
        ],
        [
            0.001961772795766592,
            0.0013847157824784517,
            0.000709014420863241,
            0.0022345525212585926,
            0.0037414359394460917,
            0.0036507095210254192,
            0.00978842657059431,
        ],
    ]
)


@pytest.mark.reference
def test_he_wang_linear_trend_matches_r_pretrends_readme():
    res = pretrend_power(TVEC, BETA, SIGMA, slope=0.05205871)
    assert res.slope_50 == pytest.approx(0.05205871, rel=5e-4)
    assert res.power == pytest.approx(0.4999776, abs=5e-4)
    assert res.bayes_factor == pytest.approx(0.56901, abs=5e-4)
    assert res.likelihood_ratio == pytest.approx(0.1057627, rel=1e-5)
    assert res.event_times == [-4, -3, -2]
    assert res.slope_80 > res.slope_50


@pytest.mark.reference
def test_he_wang_quadratic_trend_matches_r_pretrends_readme():
    pre = slice(0, 3)
    delta = 0.024 * (TVEC[pre] + 1) ** 2
    S = SIGMA[pre, pre]
    power = pretest_power(delta, S, 1.96)
    size = pretest_power(0 * delta, S, 1.96)
    assert power == pytest.approx(0.6624282, abs=5e-4)
    assert (1 - power) / (1 - size) == pytest.approx(0.3841516, abs=5e-4)
    lr = np.exp(
        stats.multivariate_normal.logpdf(BETA[pre], delta, S)
        - stats.multivariate_normal.logpdf(BETA[pre], 0 * delta, S)
    )
    assert lr == pytest.approx(0.4332635, rel=1e-6)


def test_power_equals_simulated_rejection_rate():
    """Brute force: draw the pre-period coefficients under the trend and apply the
    pre-test (any |t| > z) directly."""
    rng = np.random.default_rng(5)
    pre = slice(0, 3)
    S = SIGMA[pre, pre]
    slope = 0.07
    delta = slope * (TVEC[pre] + 1)
    draws = rng.multivariate_normal(delta, S, size=400_000)
    t = np.abs(draws) / np.sqrt(np.diag(S))
    simulated = (t > stats.norm.ppf(0.975)).any(axis=1).mean()
    res = pretrend_power(TVEC, BETA, SIGMA, slope=slope)
    mcse = np.sqrt(simulated * (1 - simulated) / 400_000)
    assert abs(res.power - simulated) < 4 * mcse + 2e-5


def test_did_result_pretrend_power_and_summary(reference_data):
    df = pd.read_csv(reference_data / "mpdta.csv")
    kw = {
        "outcome": "lemp",
        "unit": "countyreal",
        "time": "year",
        "cohort": "first.treat",
        "inference": "analytic",
    }
    es = impact.did(df, method="event_study", **kw)
    pw = es.pretrend_power(slope=0.01)
    e, b, V = es._event_coefficients()
    pre = e < -1
    assert pw.event_times == [int(v) for v in e[pre]]
    assert pretest_power(pw.slope_50 * (e[pre] + 1), V[np.ix_(pre, pre)]) == (
        pytest.approx(0.5, abs=2e-4)
    )
    assert "Pre-trend power (Roth 2022)" in es.summary()
    assert pw.to_dict()["slope_50"] == pytest.approx(pw.slope_50)
    imp = impact.did(df, method="imputation", **kw)
    with pytest.raises(SpecError, match="not relative to a reference period"):
        imp.pretrend_power()


@pytest.mark.reference
def test_reference_row_in_the_input_is_left_out():
    """The He-Wang arrays with the reference period (-1: coefficient 0, no variance)
    inserted give the R pretrends README figures unchanged."""
    pos = int(np.searchsorted(TVEC, -1))
    e = np.insert(TVEC, pos, -1)
    beta = np.insert(BETA, pos, 0.0)
    sigma = np.insert(np.insert(SIGMA, pos, 0.0, axis=0), pos, 0.0, axis=1)
    res = pretrend_power(e, beta, sigma, slope=0.05205871)
    assert res.event_times == [-4, -3, -2]
    assert res.slope_50 == pytest.approx(0.05205871, rel=5e-4)
    assert res.likelihood_ratio == pytest.approx(0.1057627, rel=1e-5)


def test_many_independent_pre_tests_warn_about_their_size():
    """14 independent pre-period coefficients: the pre-test (any |t| > 1.96) rejects
    with probability 1 - 0.95**14 = 0.512 under parallel trends, which is stated."""
    k = 14
    e = np.r_[np.arange(-k - 1, -1), 0.0]
    res = pretrend_power(e, np.zeros(k + 1), np.eye(k + 1))
    assert res.size == pytest.approx(1 - 0.95**k, abs=2e-3)
    assert any("rejects 51% of the time" in w for w in res.warnings)
    few = pretrend_power(e[-4:], np.zeros(4), np.eye(4))  # 3 tests: size 0.143
    assert few.size == pytest.approx(1 - 0.95**3, abs=2e-3)
    assert not any("rejects" in w for w in few.warnings)


def test_one_pre_coefficient_power_is_two_sided():
    """One pre-period coefficient N(mu, s^2): the pre-test rejects when |b| > 1.96 s,
    with probability 1 - (Phi(1.96 - mu/s) - Phi(-1.96 - mu/s))."""
    s = 0.02
    res = pretrend_power(np.array([-2.0, 0.0]), np.zeros(2), np.diag([s**2, s**2]))
    z = stats.norm.ppf(0.975)
    for slope in (0.01, 0.03):
        mu = -slope  # the violation at e = -2 is slope * (e + 1)
        got = pretrend_power(
            np.array([-2.0, 0.0]), np.zeros(2), np.diag([s**2, s**2]), slope=slope
        ).power
        want = 1 - (stats.norm.cdf(z - mu / s) - stats.norm.cdf(-z - mu / s))
        assert got == pytest.approx(want, abs=1e-10)
    assert res.size == pytest.approx(0.05, abs=1e-10)


def test_few_treated_units_warning_threshold():
    e = np.array([-3.0, -2.0, 0.0])
    few = pretrend_power(e, np.zeros(3), np.eye(3) * 1e-4, n_treated=5)
    many = pretrend_power(e, np.zeros(3), np.eye(3) * 1e-4, n_treated=20)
    assert any("With 5 treated units" in w for w in few.warnings)
    assert not any("treated units" in w for w in many.warnings)
