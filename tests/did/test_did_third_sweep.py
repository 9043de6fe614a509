"""Rules and numbers that the third DiD mutation sweep found unguarded.

Each test pins one documented rule or number to the rule as written (DESIGN,
docstrings) or to a loop computed here; the mutation it kills is named in
``tools/mutations/did_third_sweep.json``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact


def _long(Y: np.ndarray, cidx: np.ndarray, start: int = 2000) -> pd.DataFrame:
    n, n_t = Y.shape
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(start + np.arange(n_t), n),
            "y": Y.ravel(),
            "cohort": np.repeat(
                np.where(np.isfinite(cidx), start + np.nan_to_num(cidx), 0), n_t
            ),
        }
    )


KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}


def _did_quiet(Y: np.ndarray, cidx: np.ndarray, **options: object) -> impact.DiDResult:
    """impact.did on the long form of (Y, cidx), its warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.did(_long(Y, cidx), **KW, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("anticipation", "expected"), [(0, "permutation"), (1, "wild")]
)
def test_auto_inference_counts_pre_periods_net_of_anticipation(
    anticipation: int, expected: str
) -> None:
    """inference='auto' with few treated: randomization inference is studentized with
    each unit's noise from the changes before the first adoption *minus anticipation*;
    with fewer than two such changes (three periods) it falls back to the wild
    bootstrap when there are at least 5 treated clusters. First cohort at period 3:
    three clean periods without anticipation, two with anticipation=1."""
    rng = np.random.default_rng(12)
    n, n_t = 30, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:6] = 3
    res = _did_quiet(Y, cidx, method="cs", anticipation=anticipation, n_boot=99, seed=1)
    assert res.inference == expected


def test_cs_covariate_batch_with_anticipation_equals_regression_loop() -> None:
    """Outcome-regression CS ATT(g,t) with anticipation=1, not-yet controls, for several
    assignments: per cell, OLS of the change on [1, X_base] in the comparison group
    (never treated, or adopting after max(t, b) + anticipation), then the treated mean
    of the change minus its prediction (Sant'Anna and Zhao 2020, the "reg" estimator;
    numpy lstsq here). Post cells compare with base g - 1 - anticipation, pre cells
    with t - 1 (varying base). Tolerance 1e-8."""
    from impact.did._cs_cov_batch import cs_covariate_att_batch

    rng = np.random.default_rng(21)
    n, n_t, a = 36, 7, 1
    x = rng.normal(size=n)
    X = np.repeat(x[:, None, None], n_t, axis=1)
    Y = rng.normal(size=(n, 1)) + 0.5 * x[:, None] * np.arange(n_t)
    Y = Y + rng.normal(scale=0.5, size=(n, n_t))
    cohort = np.full(n, np.inf)
    cohort[:6], cohort[6:12], cohort[12:16] = 3, 4, 6
    C = np.stack([cohort] + [rng.permutation(cohort) for _ in range(3)])
    batch = cs_covariate_att_batch(
        Y, C, np.arange(n_t), X, control="notyet", est_method="reg", anticipation=a
    )
    cells = []
    for g in (3, 4, 6):
        for t in range(1, n_t):
            cells.append((g, t, g - 1 - a if t >= g else t - 1))
    np.testing.assert_array_equal(
        np.c_[batch.gidx, batch.tidx, batch.bidx], np.array(cells)
    )
    for row, c in zip(batch.att, C, strict=True):
        for j, (g, t, b) in enumerate(cells):
            tr = c == g
            co = ~np.isfinite(c) | ((c > max(t, b) + a) & ~tr)
            d = Y[:, t] - Y[:, b]
            Z = np.c_[np.ones(n), X[:, 0, 0]]
            coef = np.linalg.lstsq(Z[co], d[co], rcond=None)[0]
            want = float(np.mean(d[tr] - Z[tr] @ coef))
            assert row[j] == pytest.approx(want, abs=1e-8)


@pytest.mark.parametrize("bad", ["cohort", "X"])
def test_cs_covariate_batch_names_mismatched_shapes(bad: str) -> None:
    from impact.did._cs_cov_batch import cs_covariate_att_batch
    from impact.errors import SpecError

    rng = np.random.default_rng(0)
    n, n_t = 12, 5
    Y = rng.normal(size=(n, n_t))
    X = rng.normal(size=(n, n_t, 1))
    cohort = np.full(n, np.inf)
    cohort[:3] = 2
    if bad == "cohort":
        cohort = cohort[:-1]
    else:
        X = X[:, :-1]
    with pytest.raises(SpecError, match=r"need N=12 units and T=5 periods"):
        cs_covariate_att_batch(Y, cohort, np.arange(n_t), X)


def test_romano_wolf_multiplier_draws_for_analytic_cs_equal_the_loop() -> None:
    """inference='analytic' CS: Romano-Wolf draws ``|sum_i m_bi psi_i / n| / se`` with
    Rademacher ``m`` from ``default_rng(seed)`` (``n_boot`` x units, as documented for
    ``fit_outcomes``: one integer seed shared by every outcome) and the influence
    function of a difference in mean changes, written here: ``psi_i = n (D_i (d_i -
    m_1) / n_1 - (1 - D_i) (d_i - m_0) / n_0)``; ``se = sqrt(sum psi_i^2) / n``. With one
    outcome the Romano-Wolf p-value is the share of draws at least ``|estimate| / se``."""
    rng = np.random.default_rng(17)
    n, n1 = 20, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, 2))
    cidx = np.full(n, np.inf)
    cidx[:n1] = 1
    Y[:n1, 1] += 0.6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        multi = impact.did(
            _long(Y, cidx),
            outcome=["y"],
            unit="unit",
            time="year",
            cohort="cohort",
            method="cs",
            inference="analytic",
            n_boot=499,
            seed=7,
        )
    row = multi.to_frame().iloc[0]
    d = Y[:, 1] - Y[:, 0]
    tr = np.isfinite(cidx)
    m1, m0 = d[tr].mean(), d[~tr].mean()
    psi = n * np.where(tr, (d - m1) / n1, -(d - m0) / (n - n1))
    se = np.sqrt((psi**2).sum()) / n
    assert row["estimate"] == pytest.approx(m1 - m0, rel=1e-12)
    assert row["se"] == pytest.approx(se, rel=1e-10)
    mult = np.random.default_rng(7).choice(np.array([-1.0, 1.0]), size=(499, n))
    t_obs = abs(m1 - m0) / se
    hits = sum(abs(mult[b] @ psi / n) / se >= t_obs * (1 - 1e-10) for b in range(499))
    assert row["pvalue_romano_wolf"] == pytest.approx(hits / 499, abs=1e-12)


def test_romano_wolf_counts_the_tied_wild_draws() -> None:
    """Wild cluster bootstrap with 4 clusters (Webb's six-point weights): all 6^4 = 1296
    weight vectors are enumerated, and the constant vectors reproduce |t| exactly (the
    null-imposed fit plus a multiple of its own residuals: a linear estimator scales
    with its SE). The p-value counts draws at least the observed |t|, ties
    included, so with one outcome the Romano-Wolf p-value equals the single p-value
    and the share computed here from the draws."""
    rng = np.random.default_rng(23)
    n, n1 = 4, 2
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, 4))
    cidx = np.full(n, np.inf)
    cidx[:n1] = 2
    kw = dict(unit="unit", time="year", cohort="cohort", method="cs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = impact.did(
            _long(Y, cidx), outcome="y", inference="wild", n_boot=1999, seed=3, **kw
        )
        multi = impact.did(
            _long(Y, cidx), outcome=["y"], inference="wild", n_boot=1999, seed=3, **kw
        )
    t_boot = np.abs(np.asarray(single.inference_details["t_boot"], dtype=float))
    t_obs = abs(float(single.inference_details["t_stat"]))
    assert len(t_boot) == 6**n
    ties = np.isclose(t_boot, t_obs, rtol=1e-9, atol=0)
    assert ties.sum() >= 2
    share = float(np.mean(t_boot >= t_obs * (1 - 1e-9)))
    row = multi.to_frame().iloc[0]
    assert single.pvalue == pytest.approx(share, abs=1e-12)
    assert row["pvalue_romano_wolf"] == pytest.approx(share, abs=1e-12)


def _rows_panel() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    n, n_t = 8, 4
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:3] = 2
    Y[:3, 2:] += np.array([2.0, 3.0])
    return Y, cidx


def test_randomization_rows_follow_the_fits_alpha() -> None:
    """alpha=0.10: the headline interval is the estimate -/+ the ceil(0.90 * 56)-th
    smallest |estimate| over the 56 assignments of the effects-removed outcome (raw
    permutation: two pre-periods), and the printed SE is its half-width over
    z_{0.95} (loop as in test_did_permutation_rows_loop.py)."""
    import itertools
    import math

    from scipy import special

    Y, cidx = _rows_panel()
    tr_obs = np.isfinite(cidx)

    def simple(Ya: np.ndarray, tr: np.ndarray) -> float:
        d = [(Ya[:, t] - Ya[:, 1]) for t in (2, 3)]
        return float(np.mean([x[tr].mean() - x[~tr].mean() for x in d]))

    Y0 = Y.copy()
    for t in (2, 3):
        d = Y[:, t] - Y[:, 1]
        Y0[tr_obs, t] -= d[tr_obs].mean() - d[~tr_obs].mean()
    null = []
    for idx in itertools.combinations(range(8), 3):
        tr = np.zeros(8, dtype=bool)
        tr[list(idx)] = True
        null.append(abs(simple(Y0, tr)))
    half = np.sort(null)[math.ceil(0.90 * 56) - 1]
    est = simple(Y, tr_obs)
    res = _did_quiet(
        Y, cidx, method="cs", inference="permutation", alpha=0.10, n_boot=99, seed=1
    )
    assert res.ci[0] == pytest.approx(est - half, abs=1e-10)
    assert res.ci[1] == pytest.approx(est + half, abs=1e-10)
    assert res.se == pytest.approx(half / special.ndtri(0.95), rel=1e-10)
    # aggregations print the same implied SE: half-width over z_{1 - alpha/2}
    agg = res.aggregate("dynamic")
    assert agg.se == pytest.approx((agg.ci[1] - agg.ci[0]) / 2 / special.ndtri(0.95))
    tab = agg.to_frame()
    np.testing.assert_allclose(
        tab["std_error"],
        (tab["conf_high"] - tab["conf_low"]) / 2 / special.ndtri(0.95),
        rtol=1e-10,
    )


def test_randomization_rows_use_at_least_19_reassignments() -> None:
    """n_boot below 19 is raised to 19 re-assignments (with the observed one, 20: the
    smallest p-value 1/20 can reach alpha = 0.05)."""
    rng = np.random.default_rng(2)
    n, n_t = 40, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:4] = 3
    res = _did_quiet(Y, cidx, method="cs", inference="permutation", n_boot=5, seed=1)
    assert not res.inference_details["exact"]
    assert res.inference_details["n_draws"] == 20
    assert np.isfinite(res.ci[0]) and np.isfinite(res.ci[1])


def test_sensitivity_permutation_covariance_needs_two_draws() -> None:
    """A covariance needs at least two re-assignments; with n_perm=1 sensitivity()
    raises an ImpactError pointing to covariance='analytic' (no NaN covariance)."""
    from impact.errors import ImpactError

    rng = np.random.default_rng(4)
    n, n_t = 30, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:4] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            _long(Y, cidx), **KW, method="event_study", inference="analytic"
        )
        with pytest.raises(ImpactError, match="covariance='analytic'"):
            res.sensitivity(M=[0.0], covariance="permutation", n_perm=1, seed=1)


def _fit_warnings(df: pd.DataFrame, **kw: object) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(df, **KW, inference="analytic", **kw)
    return list(res.warnings)


def test_small_cohort_warning_threshold_is_two_units() -> None:
    """Cohorts of one or two units get the 'barely estimable' warning, three do not."""
    rng = np.random.default_rng(1)
    n, n_t = 20, 6
    Y = rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:2], cidx[2:5] = 3, 4
    text = " ".join(_fit_warnings(_long(Y, cidx), method="cs"))
    assert "Cohort 2003 has 2 units" in text
    assert "Cohort 2004 has 3 units" not in text


def test_single_pre_period_warning_counts_anticipation() -> None:
    """With anticipation=1 a cohort adopting in the third period has one clean
    pre-period (the first), so its pre-trend cannot be checked."""
    rng = np.random.default_rng(2)
    n, n_t = 20, 6
    Y = rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:4], cidx[4:8] = 2, 4
    text = " ".join(_fit_warnings(_long(Y, cidx), method="cs", anticipation=1))
    assert "Cohort 2002 has a single pre-treatment period" in text
    assert "Cohort 2004 has a single" not in text


def test_covariate_missing_from_a_panel_is_named() -> None:
    from impact.errors import DataError

    rng = np.random.default_rng(3)
    n, n_t = 12, 5
    Y = rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:3] = 2
    df = _long(Y, cidx).assign(x=rng.normal(size=n * n_t))
    panel = impact.Panel(df, **KW)  # built without the covariate
    with pytest.raises(DataError, match=r"\['x'\] are not in the panel"):
        impact.did(panel, covariates=["x"], method="cs")


@pytest.mark.parametrize("method", ["2x2", "twfe", "event_study", "sunab"])
def test_anticipation_with_a_regression_method_is_refused(method: str) -> None:
    from impact.errors import SpecError

    rng = np.random.default_rng(4)
    Y = rng.normal(size=(12, 5))
    cidx = np.full(12, np.inf)
    cidx[:3] = 3
    with pytest.raises(SpecError, match="anticipation= is supported by method='cs'"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            impact.did(_long(Y, cidx), **KW, method=method, anticipation=1)


def test_last_cohort_as_control_needs_two_earlier_periods() -> None:
    from impact.errors import DataError

    rng = np.random.default_rng(5)
    Y = rng.normal(size=(12, 5))
    cidx = np.full(12, 2.0)  # last cohort 2002, anticipation 1: only 2000 before it
    cidx[:4] = 1
    with pytest.raises(DataError, match="fewer than two periods before the last"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            impact.did(
                _long(Y, cidx), **KW, method="cs", control="notyet", anticipation=1
            )


def test_last_cohort_as_control_window_ends_before_anticipation() -> None:
    """No never-treated units: the last cohort (2005) is the comparison group and, with
    anticipation=1, only periods before 2004 are kept (its anticipation period is
    treated too)."""
    rng = np.random.default_rng(6)
    n, n_t = 16, 7
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, 5.0)
    cidx[:6] = 3
    res = _did_quiet(
        Y, cidx, method="cs", control="notyet", anticipation=1, inference="analytic"
    )
    assert int(res.att_gt["time"].max()) == 2003
    assert set(res.att_gt["group"]) == {2003}


def test_cs_bootstrap_cell_intervals_use_the_bootstrap_se() -> None:
    """inference='bootstrap': each ATT(g,t) interval is att -/+ z_{0.975} se with se
    the printed (bootstrap) standard error of that row."""
    from scipy import special

    rng = np.random.default_rng(7)
    n, n_t = 40, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:8], cidx[8:16] = 3, 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            _long(Y, cidx), **KW, method="cs", inference="bootstrap", n_boot=199, seed=3
        )
    tab = res.att_gt
    z = special.ndtri(0.975)
    np.testing.assert_allclose(tab["ci_low"], tab["att"] - z * tab["se"], rtol=1e-12)
    np.testing.assert_allclose(tab["ci_high"], tab["att"] + z * tab["se"], rtol=1e-12)
    # and it is not the analytic SE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ana = impact.did(_long(Y, cidx), **KW, method="cs", inference="analytic")
    assert np.abs(tab["se"].to_numpy() - ana.att_gt["se"].to_numpy()).max() > 1e-6


def test_notyet_n_control_counts_units_ever_used_as_comparisons() -> None:
    """control='notyet': n_control counts the never treated plus every unit that is a
    comparison in some cell (adopting after max(t, b)); a cohort adopting in the second
    period is never one (no cell ends before period 1)."""
    rng = np.random.default_rng(8)
    n, n_t = 20, 6
    Y = rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:3], cidx[3:7], cidx[7:10] = 1, 3, 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            _long(Y, cidx), **KW, method="cs", control="notyet", inference="analytic"
        )
    used = ~np.isfinite(cidx)
    for g, t in zip(res.att_gt["group"] - 2000, res.att_gt["time"] - 2000, strict=True):
        b = g - 1 if t >= g else t - 1
        used |= (cidx > max(t, b)) & (cidx != g)
    assert res.n_control == int(used.sum()) == n - 3


def test_n_treated_leaves_out_cohorts_without_a_pre_period() -> None:
    """anticipation=1: the 2001 cohort has no clean pre-period and is left out, so its
    3 units are not counted as treated."""
    rng = np.random.default_rng(9)
    n, n_t = 20, 6
    Y = rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:3], cidx[3:7] = 1, 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            _long(Y, cidx), **KW, method="cs", anticipation=1, inference="analytic"
        )
    assert set(res.att_gt["group"]) == {2003}
    assert res.n_treated == 4


def test_wild_refuses_a_nonlinear_estimator() -> None:
    from impact.errors import SpecError

    rng = np.random.default_rng(10)
    n, n_t = 20, 5
    Y = rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:5] = 2
    df = _long(Y, cidx).assign(x=np.repeat(rng.normal(size=n), n_t))
    with pytest.raises(SpecError, match="linear in the outcome"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            impact.did(df, **KW, method="cs", covariates=["x"], inference="wild")


def test_raw_permutation_uses_at_least_19_reassignments() -> None:
    """method='2x2' permutes the raw estimate; n_boot below 19 is raised to 19."""
    rng = np.random.default_rng(11)
    n, n_t = 40, 4
    Y = rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:4] = 2
    res = _did_quiet(Y, cidx, method="2x2", inference="permutation", n_boot=5, seed=2)
    assert not res.inference_details["exact"]
    assert res.inference_details["n_draws"] in (19, 20)
    assert np.isfinite(res.ci[0]) and np.isfinite(res.ci[1])


def _two_cohorts() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(12)
    n, n_t = 30, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:5], cidx[5:12] = 3, 4
    return Y, cidx, _long(Y, cidx)


def test_linear_aggregations_respect_the_event_window_and_balance() -> None:
    """Sun-Abraham: aggregate('simple', max_e=0) averages only the e = 0 cells (cohort
    shares); aggregate('dynamic', min_e=1) starts at 1; balance_e=1 keeps the cohorts
    observed at least one period after adoption, including 2004 (last period 2005)."""
    Y, cidx, df = _two_cohorts()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(df, **KW, method="sunab", inference="analytic")
    cells = res.att_gt.set_index(["group", "event_time"])["att"]
    e0 = (5 * cells[(2003, 0)] + 7 * cells[(2004, 0)]) / 12
    assert res.aggregate("simple", max_e=0).estimate == pytest.approx(e0, rel=1e-10)
    dyn = res.aggregate("dynamic", min_e=1).to_frame()
    assert list(dyn["event_time"]) == [1, 2]
    bal = res.aggregate("dynamic", balance_e=1).to_frame().set_index("event_time")
    assert bal.loc[0, "estimate"] == pytest.approx(e0, rel=1e-10)
    assert int(bal.index.max()) == 1  # event times up to balance_e are kept


def test_cs_event_time_pretest_with_one_pre_period_is_the_squared_t() -> None:
    """CS event-time pre-test with a single pre-treatment event time (-1, varying base):
    the Wald statistic is (b / se)^2 of that row, df = 1, p = chi2_1 tail = the row's
    two-sided normal p-value (scipy.stats)."""
    from scipy import stats

    rng = np.random.default_rng(13)
    n, n_t = 30, 4
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:10] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(_long(Y, cidx), **KW, method="cs", inference="analytic")
        test = res.pretrend_test(kind="event_time", inference="analytic")
    row = res.aggregate("dynamic").to_frame().set_index("event_time").loc[-1]
    t = row["estimate"] / row["std_error"]
    assert test.df == 1
    assert test.statistic == pytest.approx(t**2, rel=1e-10)
    assert test.pvalue == pytest.approx(2 * stats.norm.sf(abs(t)), rel=1e-8)
    assert test.pvalue == pytest.approx(stats.chi2.sf(t**2, 1), rel=1e-10)


def test_folded_normal_quantile_equals_scipy_across_the_switch() -> None:
    """The 95% quantile of |N(t, 1)| against scipy.stats.foldnorm.ppf (scipy's own
    routine), for means below and above the internal switch to the normal tail."""
    from scipy import stats

    from impact.did._honest_flci import folded_normal_quantile

    for t in (0.0, 0.3, 1.0, 2.5, 5.0, 7.5):
        got = float(np.asarray(folded_normal_quantile(t, 0.05)[0]).ravel()[0])
        assert got == pytest.approx(stats.foldnorm.ppf(0.95, t), abs=1e-8)


def test_thin_cohort_warning_when_units_equal_pre_cells() -> None:
    """A cohort of 2 units with 2 pre-period ATT(g,t) (no more units than cells) gets
    the near-singular covariance warning on the joint pre-test."""
    rng = np.random.default_rng(14)
    n, n_t = 24, 5
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:2] = 3  # pre cells t = 1, 2 (varying base): k = 2 = n
    cidx[2:6] = 4  # pre cells t = 1, 2, 3: k = 3 < 4 units
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(_long(Y, cidx), **KW, method="cs", inference="analytic")
        test = res.pretrend_test(kind="att_gt", inference="analytic")
    text = " ".join(test.warnings)
    assert "2003 (2 units, 2 pre-period estimates)" in text
    assert "2004 (" not in text


def test_poisson_etwfe_flags_event_time_zero_as_post() -> None:
    rng = np.random.default_rng(15)
    n, n_t = 30, 6
    Y = rng.poisson(30.0, size=(n, n_t)).astype(float)
    cidx = np.full(n, np.inf)
    cidx[:6], cidx[6:12] = 3, 4
    res = _did_quiet(
        Y,
        cidx,
        method="etwfe",
        family="poisson",
        control="notyet",
        inference="analytic",
    )
    assert res.n_treated == 12 and res.n_control == 18
    tab = res.att_gt
    assert (tab["event_time"] == 0).any()
    np.testing.assert_array_equal(tab["post"], tab["event_time"] >= 0)


def test_poisson_never_control_needs_never_treated() -> None:
    from impact.errors import DataError

    rng = np.random.default_rng(16)
    Y = rng.poisson(30.0, size=(12, 5)).astype(float)
    cidx = np.full(12, 4.0)
    cidx[:6] = 2
    with pytest.raises(DataError, match="needs never-treated units"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            impact.did(
                _long(Y, cidx),
                **KW,
                method="etwfe",
                family="poisson",
                control="never",
                inference="analytic",
            )


def test_relative_magnitude_default_grid_is_ten_values_from_0_to_2() -> None:
    from impact.did.honest import honest_sensitivity

    beta = np.array([0.01, -0.02, 0.3])
    sigma = np.diag([0.01, 0.01, 0.02])
    res = honest_sensitivity(
        beta, sigma, num_pre=2, num_post=1, method="relative_magnitude", seed=1
    )
    np.testing.assert_allclose(res.table["Mbar"].iloc[1:], np.linspace(0.0, 2.0, 10))
