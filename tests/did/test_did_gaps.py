"""DiD rules that looked unreachable behind the Panel checks, reached here.

Each test builds data that gets past every earlier check and pins the rule's outcome:
an error naming the unit, role or period, or a count computed by a loop in the test.
The mutations they kill are in ``tools/mutations/didgaps.json``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError

KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}


def _rows(spec: dict[str, tuple[range, float]], seed: int = 3) -> pd.DataFrame:
    """Long data: unit -> (years observed, cohort), outcome standard normal."""
    rng = np.random.default_rng(seed)
    rows = [(u, t, rng.normal(), c) for u, (years, c) in spec.items() for t in years]
    return pd.DataFrame(rows, columns=["unit", "year", "y", "cohort"])


@pytest.mark.parametrize(
    ("treated_years", "control_years", "role"),
    [
        (range(2000, 2006), range(2000, 2003), "comparison (never treated)"),
        (range(2003, 2006), range(2000, 2006), "treated"),
    ],
)
def test_2x2_needs_each_group_observed_on_both_sides_of_adoption(
    treated_years: range, control_years: range, role: str
) -> None:
    """balance='keep' lets every comparison (or every treated) unit have rows on one
    side of the 2003 adoption only. The 2x2 leaves such units out (no change of their
    own), so one group is empty: a DataError naming the group and the adoption year,
    not a bare ZeroDivisionError from an average over no unit (the treated case
    raised exactly that) and not an estimate from one group."""
    spec = {f"T{i}": (treated_years, 2003.0) for i in range(4)}
    spec |= {f"C{i}": (control_years, np.nan) for i in range(4)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=re.escape(f"needs {role} units")) as err:
            impact.did(
                _rows(spec), **KW, method="2x2", balance="keep", inference="analytic"
            )
    assert "adoption in 2003" in str(err.value)


def test_panel_drops_units_treated_from_the_first_period_left_after_a_drop() -> None:
    """balance='keep': unit A, treated from 2000, is the only unit seen in 2000. Once
    the constructor drops it (no pre-period), the panel starts in 2001, where B and C
    adopt: they are treated in every period of the panel and have no pre-period
    either, so the same rule drops them (the note names them and 2001). Before the
    fix they stayed: TWFE counted them as treated (4 treated units) and the
    imputation and ETWFE estimators refused the data."""
    spec = {"A": (range(2000, 2006), 2000.0)}
    spec |= {u: (range(2001, 2006), 2001.0) for u in "BC"}
    spec |= {u: (range(2001, 2006), 2003.0) for u in "DE"}
    spec |= {u: (range(2001, 2006), np.nan) for u in "FGHI"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        panel = impact.Panel(_rows(spec), **KW, balance="keep")
    assert any("'B', 'C'" in str(w.message) for w in caught)
    assert list(panel.periods) == list(range(2001, 2006))
    assert list(panel.units) == list("DEFGHI")
    assert (panel.cohort[np.isfinite(panel.cohort)] > panel.periods[0]).all()
    assert any("first period 2001" in w and "'B', 'C'" in w for w in panel.warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("twfe", "imputation", "etwfe"):
            res = impact.did(
                _rows(spec), **KW, method=method, balance="keep", control="notyet"
            )
            assert res.n_treated == 2, method


def test_panel_late_cohort_rule_follows_a_last_period_lost_to_the_drop() -> None:
    """balance='keep': A, treated from 2000, is the only unit seen in 2005; dropping it
    ends the panel in 2004, after which B's 2005 adoption is never observed: B is
    never treated in this panel (noted), not a cohort with no period of treatment."""
    spec = {"A": (range(2000, 2006), 2000.0), "B": (range(2000, 2005), 2005.0)}
    spec |= {u: (range(2000, 2005), 2002.0) for u in "CD"}
    spec |= {u: (range(2000, 2005), np.nan) for u in "EFG"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = impact.Panel(_rows(spec), **KW, balance="keep")
    assert panel.periods[-1] == 2004
    assert list(panel.cohort) == [np.inf, 2002.0, 2002.0, np.inf, np.inf, np.inf]
    assert any("after the last period (2004)" in w for w in panel.warnings)


def _one_cluster_data() -> pd.DataFrame:
    """12 units x 6 years, 4 adopting in 2003 (4 more in 2004 with ``late``), all in
    cluster 'all'."""
    spec = {f"T{i}": (range(2000, 2006), 2003.0) for i in range(4)}
    spec |= {f"C{i}": (range(2000, 2006), np.nan) for i in range(8)}
    df = _rows(spec)
    df["region"] = "all"
    return df


@pytest.mark.parametrize("method", ["2x2", "twfe", "cs", "imputation"])
def test_did_refuses_a_single_cluster(method: str) -> None:
    """With every unit in one cluster the cluster scores sum to zero (the normal
    equations): CS and imputation reported a standard error of about 1e-16 with no
    warning, 2x2 raised a bare ZeroDivisionError (G / (G - 1)). Every method now
    refuses it, naming the column and its one value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            DataError, match=r"cluster='region' takes one value \('all'\)"
        ):
            impact.did(
                _one_cluster_data(),
                **KW,
                method=method,
                cluster="region",
                inference="analytic",
            )


def test_bacon_refuses_a_single_cluster() -> None:
    """impact.bacon's clustered regression reaches the fixed-effects OLS with one
    cluster: CRV1's G / (G - 1) is undefined, so it stops with an EstimationError
    (not a ZeroDivisionError)."""
    df = _one_cluster_data()
    df.loc[df["unit"].isin(["C0", "C1", "C2", "C3"]), "cohort"] = 2004.0
    with pytest.raises(impact.errors.EstimationError, match="at least 2 clusters"):
        impact.bacon(df, **KW, cluster="region")


def _staggered_no_never(seed: int = 3) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """12 units x 7 years (2000-2006), cohorts 2003 and 2005, no never-treated."""
    rng = np.random.default_rng(seed)
    n, n_t = 12, 7
    g = np.array([3] * 6 + [5] * 6)
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t))
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2000 + np.arange(n_t), n),
            "y": Y.ravel(),
            "cohort": np.repeat(2000 + g, n_t),
        }
    )
    return Y, g, df


@pytest.mark.parametrize("method", ["imputation", "did2s"])
def test_imputation_counts_only_cohorts_with_an_imputed_cell(method: str) -> None:
    """No never-treated units: from 2005 on every unit is treated, so no treated cell
    of the 2005 cohort has an untreated cell in its period to impute from. Only
    the 2003 cohort contributes, so n_treated counts its 6 units, not all 12.
    Brute force: unit + period effects by least squares on the untreated cells
    (t < g), each identified treated cell's tau = y - fit, the headline their mean
    (BJS 2024 with equal weights)."""
    Y, g, df = _staggered_no_never()
    n, n_t = Y.shape
    untreated = np.arange(n_t)[None, :] < g[:, None]
    seen = untreated.any(axis=0)
    rows, cols = np.nonzero(untreated)
    X = np.zeros((len(rows), n + n_t))
    X[np.arange(len(rows)), rows] = 1.0
    X[np.arange(len(rows)), n + cols] = 1.0
    coef = np.linalg.lstsq(X, Y[rows, cols], rcond=None)[0]
    taus = [
        Y[i, t] - coef[i] - coef[n + t]
        for i in range(n)
        for t in range(n_t)
        if t >= g[i] and seen[t]
    ]
    contributing = {int(g[i]) for i in range(n) for t in range(g[i], n_t) if seen[t]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(df, **KW, method=method, inference="analytic")
    assert res.n_treated == int(np.isin(g, list(contributing)).sum()) == 6
    assert res.n_control == n - 6
    assert res.estimate == pytest.approx(np.mean(taus), abs=1e-10)


def test_etwfe_notyet_without_never_treated_names_the_periods_lost() -> None:
    """ETWFE with control='notyet' and no never-treated units: from the last
    cohort's adoption (2005) on no unit is untreated, so those period effects are
    not identified; the error names the periods 2005..2006."""
    _, _, df = _staggered_no_never()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=r"periods 2005\.\.2006 have no untreated"):
            impact.did(df, **KW, method="etwfe", control="notyet", inference="analytic")


def _fit_always(name: str, panel: impact.Panel, cidx: np.ndarray) -> object:
    """Call one estimator's module-level fit with a hand-made cohort index."""
    if name == "imputation":
        from impact.did.imputation import fit_imputation_result

        return fit_imputation_result(
            panel, cidx, None, None, method="imputation", alpha=0.05, warns=[]
        )
    if name == "etwfe":
        from impact.did.etwfe import fit_etwfe

        return fit_etwfe(
            panel, cidx, None, None, control="notyet", alpha=0.05, warns=[]
        )
    from impact.did.etwfe_poisson import fit_etwfe_poisson

    return fit_etwfe_poisson(
        panel,
        cidx,
        None,
        control="notyet",
        alpha=0.05,
        warns=[],
        call={"log_outcome": False},
    )


@pytest.mark.parametrize("name", ["imputation", "etwfe", "poisson"])
def test_estimators_refuse_a_cohort_index_at_the_first_period(name: str) -> None:
    """Defence in depth behind the Panel rule (every Panel route drops units treated
    from its first period, see the cascade test above, which these rules caught
    before the Panel was fixed): the module-level fits of the imputation, linear
    ETWFE and Poisson ETWFE estimators, exported in their modules' ``__all__``,
    refuse a cohort index of 0 (treated from the first period, nothing to impute
    or compare from), naming the unit as the user wrote it and the period."""
    rng = np.random.default_rng(5)
    n, n_t = 10, 5
    Y = rng.poisson(20.0, size=(n, n_t)).astype(float)
    cohort = np.array([2002.0] * 3 + [2003.0] * 3 + [np.inf] * 4)
    units = [f"la{i}" for i in range(n)]
    panel = impact.Panel.from_arrays(
        Y, cohort, units=units, periods=list(range(2000, 2000 + n_t))
    )
    cidx = np.where(np.isfinite(cohort), cohort - 2000.0, np.inf)
    cidx[4] = 0.0
    with pytest.raises(DataError, match=r"Unit 'la4' is treated from the first "):
        _fit_always(name, panel, cidx)
    with pytest.raises(DataError, match=r"observed period \(2000\)"):
        _fit_always(name, panel, cidx)


def _placebo(k: int) -> tuple[np.ndarray, np.ndarray, object, list[str]]:
    """TWFE on 18 units x 8 years (cohorts at positions 3 and 5, 10 never treated),
    then its placebo in time with ``k``; returns Y, cohorts, the placebo and the
    messages of the Python warnings issued by the placebo."""
    rng = np.random.default_rng(21)
    n, n_t = 18, 8
    g = np.array([3] * 4 + [5] * 4 + [0] * 10)
    Y = rng.normal(size=(n, 1)) + rng.normal(scale=0.5, size=(n, n_t))
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2010 + np.arange(n_t), n),
            "y": Y.ravel(),
            "cohort": np.repeat(np.where(g > 0, 2010 + g, 0), n_t),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(df, **KW, method="twfe", inference="analytic")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        placebo = res.placebo_in_time(k=k)
    return Y, g, placebo, [str(w.message) for w in caught]


def test_placebo_in_time_leaves_fake_cohorts_at_the_first_adoption_untreated() -> None:
    """k = 2 moves the 2013 and 2015 cohorts to 2011 and 2013 on the window before
    the first real adoption (2010-2012). The fake 2013 cohort falls on the first
    adoption itself, outside the window: those units are plain comparisons, not a
    cohort 'first treated after the last period' (no such note). TWFE with one
    cohort on a balanced panel is the DiD of the post mean (2011-2012) minus 2010,
    treated minus the other 14 units (brute force below)."""
    Y, g, placebo, caught = _placebo(2)
    d = Y[:, 1:3].mean(axis=1) - Y[:, 0]
    want = d[g == 3].mean() - d[g != 3].mean()
    assert placebo.estimate == pytest.approx(want, abs=1e-10)
    assert placebo.n_treated == 4
    notes = [*placebo.warnings, *caught]
    assert not [w for w in notes if "after the last period" in w]


def test_placebo_in_time_drops_fake_cohorts_at_period_zero_silently() -> None:
    """k = 3 moves the 2013 cohort to 2010, the first period: those units have no
    pre-period and leave the placebo sample. They are not always-treated units of
    the user's data, so neither a warning nor a note says 'already treated in the
    first period' (the estimate itself is pinned in
    test_placebo_in_time_drops_fake_cohorts_without_a_pre_period)."""
    _, _, placebo, caught = _placebo(3)
    assert placebo.n_treated == 4
    notes = [*placebo.warnings, *caught]
    assert not [w for w in notes if "already treated" in w]


def test_permutation_pretest_counts_ties_and_leaves_out_failed_draws() -> None:
    """Permutation pre-trend test on 8 units, 2 treated in 2004, all C(8, 2) = 28
    assignments enumerated (n_perm=28). Two things are pinned against a loop that
    refits every assignment with the analytic pre-test statistic:

    - unit 3 (a comparison) has exactly the outcomes of treated unit 0, so the
      assignment {1, 3} is the observed data again: its statistic ties the observed
      one and counts as 'at least as large' (p = share of assignments with
      T_b >= T, ties included; the tolerance only absorbs rounding);
    - units 6 and 7 miss 2000-2002 (balance='keep'): the assignment {6, 7} has no
      estimable pre-period and is left out of numerator and denominator alike, so
      the p-value is a share of the 27 assignments with a statistic, not of 28.
    """
    import itertools

    rng = np.random.default_rng(11)
    n, n_t = 8, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    Y[3] = Y[0]

    def fit(treated: tuple[int, ...]) -> impact.DiDResult:
        df = pd.DataFrame(
            {
                "unit": np.repeat(np.arange(n), n_t),
                "year": np.tile(2000 + np.arange(n_t), n),
                "y": Y.ravel(),
                "cohort": np.repeat(
                    np.where(np.isin(np.arange(n), treated), 2004, 0), n_t
                ),
            }
        )
        df = df[~((df["unit"] >= 6) & (df["year"] <= 2002))]
        return impact.did(df, **KW, method="cs", balance="keep", inference="analytic")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit((0, 1))
        test = res.pretrend_test(inference="permutation", n_perm=28, seed=3)
        observed = res.pretrend_test(inference="analytic").statistic
        stats = []
        for pair in itertools.combinations(range(n), 2):
            try:
                stats.append(fit(pair).pretrend_test(inference="analytic").statistic)
            except impact.errors.ImpactError:
                assert pair == (6, 7)
        tie = fit((1, 3)).pretrend_test(inference="analytic").statistic
    assert len(stats) == 27
    assert tie == pytest.approx(observed, rel=1e-12)
    hits = sum(s >= observed - 1e-9 * (1 + abs(observed)) for s in stats)
    assert test.pvalue == pytest.approx(hits / 27, abs=1e-12)


def test_poisson_etwfe_refuses_a_treated_cell_without_events() -> None:
    """Poisson ETWFE: the 2002 cohort has no events in 2003, so that cell's
    log-rate effect is minus infinity (the QMLE does not exist); the error names
    the cohort and the period instead of returning a diverged Newton fit."""
    rng = np.random.default_rng(2)
    n, n_t = 10, 5
    Y = rng.poisson(3.0, size=(n, n_t)).astype(float)
    Y[:3, 3] = 0.0
    cohort = np.array([2002.0] * 3 + [np.nan] * 7)
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2000 + np.arange(n_t), n),
            "y": Y.ravel(),
            "cohort": np.repeat(cohort, n_t),
        }
    )
    assert Y[:3, 3].sum() == 0 and (Y[:3, 2:].sum(axis=0) > 0).sum() == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            impact.errors.EstimationError,
            match="Cohort 2002 has no events in period 2003",
        ):
            impact.did(
                df,
                **KW,
                method="etwfe",
                family="poisson",
                log_outcome=False,
                inference="analytic",
            )


def test_sensitivity_needs_pre_period_coefficients() -> None:
    """ETWFE with control='notyet' saturates only the cells from adoption on, so its
    event study has no pre-period coefficient (event times 0, 1, 2 here): the
    Rambachan-Roth bounds extrapolate from the pre-period and cannot be computed.
    sensitivity() says so with the counts (0 pre, 3 post)."""
    rng = np.random.default_rng(3)
    n, n_t = 16, 6
    g = np.array([3] * 4 + [4] * 4 + [0] * 8)
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t))
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2000 + np.arange(n_t), n),
            "y": Y.ravel(),
            "cohort": np.repeat(np.where(g > 0, 2000 + g, 0), n_t),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            df, **KW, method="etwfe", control="notyet", inference="analytic"
        )
        with pytest.raises(
            impact.errors.SpecError,
            match="one post-treatment event-study coefficient; got 0 and 3",
        ):
            res.sensitivity(covariance="analytic")


@pytest.mark.parametrize("alpha", [0.05, 0.2])
def test_folded_normal_quantile_between_the_branches(alpha: float) -> None:
    """The 1 - alpha quantile of |N(t, 1)| solves Phi(q - t) - Phi(-q - t) = 1 - alpha;
    the reference root is found here by brentq to 1e-14, at means from 0.5 to 7.9,
    where the code uses scipy's foldnorm (the shortcut t + z_{1-alpha} is only exact
    enough from t = 8 on: at t = 0.5 it misses by about 1e-6 after polishing)."""
    from scipy import optimize, stats

    from impact.did._honest_flci import folded_normal_quantile

    for t in (0.5, 0.6, 0.8, 1.0, 3.0, 7.9):

        def gap(q: float, t: float = t) -> float:
            return float(stats.norm.cdf(q - t) - stats.norm.cdf(-q - t) - (1 - alpha))

        want = optimize.brentq(gap, t, t + 10.0, xtol=1e-14, rtol=1e-15)
        got = float(folded_normal_quantile(t, alpha)[0])
        assert got == pytest.approx(want, abs=1e-11), t


def test_flci_refuses_a_target_with_zero_variance() -> None:
    """One pre- and one post-period coefficient: the only affine estimator unbiased
    under a linear trend through the reference period is beta_pre + beta_post (the
    linear extrapolation). With sigma = [[1, -1], [-1, 1]] (positive semi-definite,
    both variances 1) its variance is 1 + 1 - 2 = 0, so there is no FLCI (a
    zero-length interval at M = 0, NaN above): an EstimationError, not a silent
    point interval."""
    from impact.did import honest_sensitivity

    sigma = np.array([[1.0, -1.0], [-1.0, 1.0]])
    assert np.array([1.0, 1.0]) @ sigma @ np.array([1.0, 1.0]) == 0.0
    with pytest.raises(
        impact.errors.EstimationError, match="FLCI variance is not positive"
    ):
        honest_sensitivity(
            np.array([0.2, 0.5]), sigma, num_pre=1, num_post=1, M=[0.0, 0.1]
        )


def _poly(
    VY: list[float], Va: list[float], VSV: list[list[float]], lf_cv: float
) -> object:
    """The pieces of one relative-magnitude polyhedron that the ARP test reads."""
    from types import SimpleNamespace

    S = np.array(VSV, dtype=float)
    return SimpleNamespace(
        VY=np.array(VY), Va=np.array(Va), VSV=S, var_v=np.diag(S).copy(), lf_cv=lf_cv
    )


def test_rm_test_with_a_zero_variance_vertex_is_the_moment_inequality() -> None:
    """When the maximising dual vertex has zero variance, its statistic
    eta(theta) = v'Y - v'a theta is not random: the hypothesis holds exactly when
    eta <= 0 (the moment inequality itself), whatever the level. One vertex with
    v'Y = 0.5 and v'a = 1: theta is accepted exactly when theta >= 0.5."""
    from impact.did._honest_rm import _accept

    theta = np.array([-1.0, 0.0, 0.2, 0.49, 0.5, 0.51, 2.0])
    got = _accept(_poly([0.5], [1.0], [[0.0]], lf_cv=3.0), theta, 0.05, 0.005)
    np.testing.assert_array_equal(got, 0.5 - theta <= 0)


def test_rm_test_rejects_a_statistic_at_the_top_of_its_truncation_interval() -> None:
    """ARP conditional test with two dual vertices that tie for every theta (same
    v'Y = 1 and v'a = 0), covariance [[1, 2], [2, 5]]. Conditioning on the first
    (the argmax) gives the second a truncation bound vup = eta (its
    1 - cov / var = -1 < 0), so the statistic (eta = 1, variance 1) sits at the top
    of its interval (-inf, 1]: the conditional p-value, the upper tail of the
    truncated normal above the statistic, is 0 (scipy below), so the test rejects
    at any level; leaving the end point out of the interval would accept."""
    from scipy import stats

    from impact.did._honest_rm import _accept

    poly = _poly([1.0, 1.0], [0.0, 0.0], [[1.0, 2.0], [2.0, 5.0]], lf_cv=3.0)
    assert stats.truncnorm.sf(1.0, -np.inf, 1.0) == 0.0
    got = _accept(poly, np.array([0.0, 1.0, -3.0]), 0.05, 0.005)
    np.testing.assert_array_equal(got, [False, False, False])
