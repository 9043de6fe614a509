"""Selection-on-the-outcome diagnostic on the real DfE looked-after-children panel.

The reference is the design itself: adopters drawn from the top decile of 3-year
risers (the regression-to-the-mean trap of issue 14) must be flagged in at least 80%
of draws; adopters drawn at random must be flagged at the test's nominal 5%, within
2 Monte Carlo SEs + 1 point on either side (the randomization test is exact under
random assignment, so it can and does fire at about that rate).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import impact
from impact.diagnostics import selection_diagnostic
from impact.panel import Panel


def _cla_rates(reference_data: Path) -> pd.DataFrame:
    """Harmonised LA x year CLA rate per 10,000, 2013-2025, balanced."""
    raw = pd.read_csv(reference_data / "cla_la_panel_2010_2025.csv")
    raw = raw[
        (raw["year"] >= 2013)
        & ~raw["la_name"].isin(["City of London", "Isles of Scilly"])
    ]
    agg = raw.groupby(["harmonised_id", "year"], as_index=False)[
        ["cla_31mar", "child_pop_0_17"]
    ].sum(min_count=1)
    agg["rate"] = agg["cla_31mar"] / agg["child_pop_0_17"] * 10_000
    wide = agg.pivot(index="harmonised_id", columns="year", values="rate").dropna()
    return wide


def _flag_rates(
    wide: pd.DataFrame, n_rep: int, seed: int, *, log: bool
) -> tuple[float, float]:
    """Flag rates (selected, random) over n_rep draws of 5 adopters."""
    Y = wide.to_numpy(dtype=float)
    if log:
        Y = np.log(Y)
    years = wide.columns.to_numpy()
    n = Y.shape[0]
    rng = np.random.default_rng(seed)
    flags_sel, flags_rand = [], []
    for _ in range(n_rep):
        g = int(rng.integers(2017, 2022))  # adoption year; >= 4 pre-years
        j = int(np.searchsorted(years, g))
        rise = Y[:, j - 1] - Y[:, j - 4]  # 3-year rise before adoption
        top = np.argsort(-rise)[: math.ceil(n / 10)]
        for pool, out in ((top, flags_sel), (np.arange(n), flags_rand)):
            cidx = np.full(n, np.inf)
            cidx[rng.choice(pool, 5, replace=False)] = j
            out.append(selection_diagnostic(Y, cidx).flagged)
    return float(np.mean(flags_sel)), float(np.mean(flags_rand))


def _check(sel: float, rand: float, n_rep: int) -> None:
    mcse = math.sqrt(0.05 * 0.95 / n_rep)
    assert sel >= 0.80, sel
    assert 0.05 - 2 * mcse - 0.01 <= rand <= 0.05 + 2 * mcse + 0.01, rand


@pytest.mark.reference
def test_selection_flag_rates_reduced(reference_data: Path) -> None:
    # 200 draws: selected flagged in all (observed 1.00), random ~5% (observed
    # 0.06); bounds 0.05 +/- (2 x 0.0154 + 0.01). The full form (1,000 draws) saw
    # 1.00 / 0.054 on the rate and 1.00 / 0.046 on the log rate.
    wide = _cla_rates(reference_data)
    sel, rand = _flag_rates(wide, 200, seed=14, log=False)
    _check(sel, rand, 200)


@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.parametrize("log", [False, True])
def test_selection_flag_rates_full(reference_data: Path, log: bool) -> None:
    wide = _cla_rates(reference_data)
    sel, rand = _flag_rates(wide, 1000, seed=140, log=log)
    _check(sel, rand, 1000)


@pytest.mark.reference
def test_selection_reaches_did_and_matched_did(reference_data: Path) -> None:
    # The top-5 risers of 2016-2019 adopt in 2019, no effect: every DiD method and
    # matched DiD carry the warning and to_dict()["diagnostics"]["selection"].
    wide = _cla_rates(reference_data)
    rise = wide[2018] - wide[2015]
    chosen = rise.sort_values(ascending=False).index[:5]
    long = wide.stack().rename("rate").reset_index()
    long["cohort"] = np.where(long["harmonised_id"].isin(chosen), 2019, np.inf)
    kw = {
        "outcome": "rate",
        "unit": "harmonised_id",
        "time": "year",
        "cohort": "cohort",
    }
    for method in ("2x2", "twfe", "cs"):
        res = impact.did(long, method=method, inference="analytic", **kw)
        sel = res.to_dict()["diagnostics"]["selection"]
        assert sel["flagged"] is True and sel["pvalue"] < 0.01
        assert sel["direction"] == "rising" and sel["trend_percentile"] > 0.9
        text = [w for w in res.warnings if w.startswith("Selection on the outcome")]
        assert len(text) == 1
        assert "rose faster than" in text[0]
        assert "regression to the mean" in text[0] and "placebo_in_time()" in text[0]
    md = impact.matched_did(long, **kw)
    assert md.to_dict()["diagnostics"]["selection"]["flagged"] is True
    assert any("regression to the mean" in w for w in md.warnings)
    # a random draw of adopters carries the diagnostic but (here) no warning
    rng = np.random.default_rng(5)
    long["cohort"] = np.where(
        long["harmonised_id"].isin(rng.choice(wide.index, 5, replace=False)),
        2019,
        np.inf,
    )
    res = impact.did(long, method="2x2", inference="analytic", **kw)
    sel = res.to_dict()["diagnostics"]["selection"]
    assert sel["available"] is True and sel["flagged"] is False
    assert not any("regression to the mean" in w for w in res.warnings)


def test_selection_brute_force_pvalue() -> None:
    # The randomization p-value equals a brute-force enumeration of the adopter set
    # (14 units, 3 adopters: all 364 sets), up to the Monte Carlo error of 1999
    # draws (SE <= 0.011; tolerance 0.035).
    from itertools import combinations

    rng = np.random.default_rng(0)
    Y = rng.normal(size=(14, 6)).cumsum(axis=1)
    Y[:3, 3:5] += np.array([[0.5, 1.2], [0.4, 1.0], [0.2, 0.9]])  # a rise before t=5
    cidx = np.full(14, np.inf)
    cidx[:3] = 5
    d = selection_diagnostic(Y, cidx)

    def ranks(x: np.ndarray) -> np.ndarray:
        return (x.argsort().argsort() + 0.5) / len(x) - 0.5

    lvl = ranks(Y[:, 2:5].mean(axis=1))
    trd = ranks((Y[:, 4] - Y[:, 2]) / 2)
    sets = [list(s) for s in combinations(range(14), 3)]
    stats = np.array([[lvl[s].mean(), trd[s].mean()] for s in sets])
    sd = stats.std(axis=0)
    joint = np.abs(stats / sd).max(axis=1)
    obs = np.abs(np.array([lvl[:3].mean(), trd[:3].mean()]) / sd).max()
    exact = float(np.mean(joint >= obs - 1e-9))
    trend_exact = float(np.mean(np.abs(stats[:, 1]) >= abs(trd[:3].mean()) - 1e-9))
    assert d.trend_statistic == pytest.approx(trd[:3].mean())
    assert d.level_statistic == pytest.approx(lvl[:3].mean())
    assert d.trend_pvalue == pytest.approx(trend_exact, abs=0.035)
    assert d.pvalue == pytest.approx(exact, abs=0.035)
    assert d.available and d.window == 3
    # the statistic is standardised by the exact randomization SD (over all 364
    # sets), so it equals the enumeration's, not only in its p-value
    assert d.statistic == pytest.approx(obs, rel=1e-9)


def test_selection_unavailable_without_pre_periods() -> None:
    Y = np.arange(12.0).reshape(4, 3) + np.random.default_rng(1).normal(size=(4, 3))
    cidx = np.array([1.0, np.inf, np.inf, np.inf])
    d = selection_diagnostic(Y, cidx)
    assert not d.available and "two pre-adoption periods" in d.reason
    assert d.warning() is None


def test_panel_without_rates_gets_selection_key() -> None:
    # impact.did on a Panel hands the diagnostic the adoption period as a column index
    # (2015 -> 5): the level and trend over 2012-2014 must be those enumerated here over
    # all C(30, 3) = 4,060 adopter sets, as in test_selection_brute_force_pvalue
    # (statistics exact; p-value within 0.035 of the enumeration, 1999 draws).
    from itertools import combinations

    rng = np.random.default_rng(2)
    Y = 50 + rng.normal(size=(30, 8)).cumsum(axis=1)
    cohort = np.full(30, np.inf)
    cohort[:3] = 2015
    p = Panel.from_arrays(Y, cohort, periods=np.arange(2010, 2018))
    out = impact.did(p, method="twfe", inference="analytic").to_dict()
    sel = out["diagnostics"]["selection"]
    assert set(sel) >= {"statistic", "pvalue", "flagged"}

    def ranks(x: np.ndarray) -> np.ndarray:
        return (x.argsort().argsort() + 0.5) / len(x) - 0.5

    lvl = ranks(Y[:, 2:5].mean(axis=1))
    trd = ranks((Y[:, 4] - Y[:, 2]) / 2)
    sets = [list(s) for s in combinations(range(30), 3)]
    stats = np.array([[lvl[s].mean(), trd[s].mean()] for s in sets])
    sd = stats.std(axis=0)
    obs = np.array([lvl[:3].mean(), trd[:3].mean()])
    joint = np.abs(stats / sd).max(axis=1)
    exact = float(np.mean(joint >= np.abs(obs / sd).max() - 1e-9))
    assert (sel["window"], sel["n_treated"], sel["n_comparison"]) == (3, 3, 27)
    assert sel["level_statistic"] == pytest.approx(obs[0], abs=1e-12)
    assert sel["trend_statistic"] == pytest.approx(obs[1], abs=1e-12)
    assert sel["statistic"] == pytest.approx(np.abs(obs / sd).max(), rel=1e-9)
    assert sel["pvalue"] == pytest.approx(exact, abs=0.035)
    assert sel["flagged"] is False


def test_selection_with_gaps_and_no_python_warnings() -> None:
    # balance="keep": a unit missing its whole pre-adoption window is ranked in the
    # middle; nothing is emitted as a Python warning. Reference: full enumeration of
    # the C(30, 3) = 4,060 adopter sets, ranks computed here (a unit with no level,
    # or no trend, gets centred rank 0; the others rank among themselves), the
    # component SDs from the enumeration; tolerance 0.035 for the 1999-draw Monte
    # Carlo p-value (SE <= 0.011).
    import warnings
    from itertools import combinations

    rng = np.random.default_rng(3)
    Y = 50 + rng.normal(size=(30, 8)).cumsum(axis=1)
    Y[:3, 3:5] += np.array([[1.0, 2.5], [0.8, 2.0], [0.5, 1.8]])  # rise before t=5
    Y[5, 2:5] = np.nan
    Y[7, 4] = np.nan
    cidx = np.full(30, np.inf)
    cidx[:3] = 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = selection_diagnostic(Y, cidx)

    def ranks(x: np.ndarray) -> np.ndarray:
        out = np.zeros(len(x))
        ok = np.isfinite(x)
        out[ok] = (x[ok].argsort().argsort() + 0.5) / ok.sum() - 0.5
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN row 5
        lvl = ranks(np.nanmean(Y[:, 2:5], axis=1))
    trd = ranks((Y[:, 4] - Y[:, 2]) / 2)
    assert lvl[5] == trd[5] == trd[7] == 0.0
    sets = [list(c) for c in combinations(range(30), 3)]
    stats = np.array([[lvl[c].mean(), trd[c].mean()] for c in sets])
    sd = stats.std(axis=0)
    obs = np.array([lvl[:3].mean(), trd[:3].mean()])
    joint = np.abs(stats / sd).max(axis=1)
    exact = float(np.mean(joint >= np.abs(obs / sd).max() - 1e-9))
    trend_exact = float(np.mean(np.abs(stats[:, 1]) >= abs(obs[1]) - 1e-9))
    assert d.available and d.window == 3
    assert d.level_statistic == pytest.approx(obs[0], abs=1e-12)
    assert d.trend_statistic == pytest.approx(obs[1], abs=1e-12)
    assert d.pvalue == pytest.approx(exact, abs=0.035)
    assert d.trend_pvalue == pytest.approx(trend_exact, abs=0.035)
    assert 0.0 < exact < 0.5  # an informative p-value, not a degenerate 0 or 1


def test_selection_pvalue_counts_the_observed_assignment() -> None:
    # Adopters far above every other unit on both level and trend: with 19 random
    # adopter sets (seed 0, none of them as extreme), the randomization p-values are
    # (1 + 0) / (19 + 1) = 0.05 exactly: the observed set counts once in the
    # numerator and the denominator (Phipson and Smyth 2010), so p never reaches 0.
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(14, 6)).cumsum(axis=1)
    Y[:3, 2:5] += np.array([[5.0, 6.0, 8.0], [5.2, 6.5, 8.4], [5.1, 6.2, 8.8]])
    cidx = np.full(14, np.inf)
    cidx[:3] = 5
    d = selection_diagnostic(Y, cidx, n_perm=19, seed=0)
    assert d.pvalue == pytest.approx(0.05, abs=1e-12)
    assert d.level_pvalue == pytest.approx(0.05, abs=1e-12)
    assert d.trend_pvalue == pytest.approx(0.05, abs=1e-12)
    assert d.flagged is False  # p < alpha is strict: 0.05 does not flag at 5%
    assert selection_diagnostic(Y, cidx, n_perm=19, seed=0, alpha=0.06).flagged


def test_selection_text_for_low_and_falling_adopters() -> None:
    # the same adopters mirrored: below every comparison unit on level and trend,
    # so "fell faster than" and "was lower than" 100% of comparison units
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(14, 6)).cumsum(axis=1)
    Y[:3, 2:5] -= np.array([[5.0, 6.0, 8.0], [5.2, 6.5, 8.4], [5.1, 6.2, 8.8]])
    cidx = np.full(14, np.inf)
    cidx[:3] = 5
    d = selection_diagnostic(Y, cidx)
    assert d.flagged and d.direction == "falling"
    assert d.trend_percentile == 0.0 and d.level_percentile == 0.0
    text = d.warning("rate")
    assert "fell faster than 100% and was lower than 100% of comparison" in text
    assert "a rise afterwards may be regression to the mean" in text
