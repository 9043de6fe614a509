"""Randomization inference: enumeration, exact p-values, intervals, errors."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
import statsmodels.api as sm

from impact.errors import DataError, EstimationError, SpecError
from impact.inference import (
    count_assignments,
    enumerate_assignments,
    make_twfe_batch,
    permutation_inference,
    sample_assignments,
    treatment_matrix,
    twfe_estimate_batch,
    twfe_weights,
)
from tests.did import perm_reference as pr


def test_enumeration_is_complete_and_distinct():
    cohort = np.array([2, 2, 3, np.inf, np.inf, np.inf, 3, np.inf])
    every = enumerate_assignments(cohort)
    brute = {tuple(p) for p in permutations(cohort.tolist())}
    assert count_assignments(cohort) == len(brute) == 420
    assert {tuple(r) for r in every.tolist()} == brute
    eligible = np.ones(8, bool)
    eligible[6] = False
    some = enumerate_assignments(cohort, eligible)
    assert some.shape == (count_assignments(cohort, eligible), 8) == (105, 8)
    assert np.all(some[:, 6] == 3)


def test_sampled_assignments_keep_cohort_sizes():
    cohort = np.array([5.0] * 3 + [7.0] * 2 + [np.inf] * 20)
    draws = sample_assignments(cohort, 50, np.random.default_rng(0))
    assert draws.shape == (50, 25)
    assert np.all(np.sort(draws, axis=1) == np.sort(cohort))


def test_twfe_batch_equals_ols_with_dummies():
    rng = np.random.default_rng(2)
    n, t = 15, 6
    y = rng.normal(size=(n, t))
    periods = np.arange(2010, 2016)
    cohorts = rng.choice([2012.0, 2014.0, np.inf], size=(4, n))
    ours = twfe_estimate_batch(y, cohorts, periods)
    ui, ti = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    for b in range(4):
        d = treatment_matrix(cohorts[b], periods).ravel().astype(float)
        x = np.column_stack([d, np.eye(n)[ui], np.eye(t)[ti][:, 1:]])
        coef = sm.OLS(y.ravel(), x).fit().params[0]
        assert ours[b] == pytest.approx(coef, rel=1e-9)
        a = twfe_weights(treatment_matrix(cohorts[b], periods))
        assert np.sum(a * y) == pytest.approx(coef, rel=1e-9)


def _small_design(seed=0, effect=0.0):
    rng = np.random.default_rng(seed)
    n, t = 9, 5
    y = rng.normal(size=(n, t)) + rng.normal(size=(n, 1))
    cohort = np.array([3.0, 3.0] + [np.inf] * 7)
    d = treatment_matrix(cohort, np.arange(t))
    return y + effect * d, cohort, d


def test_exact_pvalue_matches_brute_force():
    y, cohort, _ = _small_design(seed=3)
    est = make_twfe_batch(np.arange(5))
    out = permutation_inference(y, cohort, est, periods=np.arange(5))
    assert out.exact and out.n_draws == 36  # C(9, 2)
    every = {tuple(p) for p in permutations(cohort.tolist())}
    values = np.array([est(y, np.array([p]))[0] for p in every])
    obs = est(y, cohort[None, :])[0]
    assert out.details["estimate"] == pytest.approx(obs)
    assert out.pvalue == pytest.approx(np.mean(np.abs(values) >= abs(obs) - 1e-12))


def test_sampled_pvalue_counts_the_observed_assignment():
    rng = np.random.default_rng(4)
    y = rng.normal(size=(80, 6))
    cohort = np.full(80, np.inf)
    cohort[:6] = 3.0
    y[:6, 3:] += 5.0  # a huge effect: nothing beats the observed assignment
    out = permutation_inference(
        y,
        cohort,
        make_twfe_batch(np.arange(6)),
        periods=np.arange(6),
        n_perm=199,
        seed=1,
    )
    assert not out.exact and out.n_draws == 200
    assert out.pvalue == pytest.approx(1 / 200)


def test_interval_inverts_the_test_and_linear_detection():
    y, cohort, d = _small_design(seed=5, effect=1.0)
    y = np.vstack([y, np.random.default_rng(5).normal(size=(21, 5))])
    cohort = np.concatenate([cohort, np.full(21, np.inf)])
    d = treatment_matrix(cohort, np.arange(5))
    est = make_twfe_batch(np.arange(5))
    out = permutation_inference(y, cohort, est, D=d, seed=3)
    assert out.details["linear"] is True
    lo, hi = out.ci
    assert lo < out.details["estimate"] < hi
    slow = permutation_inference(y, cohort, est, D=d, seed=3, linear=False)
    assert slow.ci == pytest.approx(out.ci, rel=1e-8)
    assert slow.pvalue == out.pvalue
    width = hi - lo
    for bound, sign in ((lo, -1), (hi, 1)):
        inside = permutation_inference(
            y, cohort, est, D=d, ci=False, null=bound - sign * 1e-3 * width
        )
        outside = permutation_inference(
            y, cohort, est, D=d, ci=False, null=bound + sign * 1e-3 * width
        )
        assert inside.pvalue > 0.05 >= outside.pvalue


def test_nonlinear_estimator_uses_refits():
    rng = np.random.default_rng(6)
    y = rng.normal(size=(30, 6))
    cohort = np.full(30, np.inf)
    cohort[:3] = 3.0

    def median_did(yy, cohorts):
        d = treatment_matrix(cohorts, np.arange(6))
        change = yy[:, 3:].mean(axis=1) - yy[:, :3].mean(axis=1)
        treated = d.any(axis=2)
        big = np.where(treated, change, np.nan)
        small = np.where(~treated, change, np.nan)
        return np.nanmedian(big, axis=1) - np.nanmedian(small, axis=1)

    out = permutation_inference(
        y, cohort, median_did, periods=np.arange(6), seed=2, n_perm=99, max_enumerate=50
    )
    assert out.details["linear"] is False
    # Brute force: the same 99 seeded re-assignments (observed first, then
    # default_rng(2).permuted rows; tests/did/perm_reference.py), the median DiD
    # recomputed on Y - tau D for each; p(tau) = (1 + #{|s*| >= |s|}) / 100. The
    # reported p is p(0); the interval ends are where p crosses 0.05.
    C = pr.sampled_assignments(cohort, 99, seed=2)
    D = (np.arange(6)[None, :] >= cohort[:, None]).astype(float)

    def pvalue(tau: float) -> float:
        return pr.sampled_pvalue(median_did(y - tau * D, C))

    assert out.pvalue == pytest.approx(pvalue(0.0), abs=1e-12)
    lo, hi = out.ci
    eps = 1e-6 * (hi - lo)
    assert pvalue(lo - eps) <= 0.05 < pvalue(lo + eps)
    assert pvalue(hi + eps) <= 0.05 < pvalue(hi - eps)


def test_se_is_sd_of_null_distribution_and_seed_reproducible():
    rng = np.random.default_rng(7)
    y = rng.normal(size=(50, 6))
    cohort = np.full(50, np.inf)
    cohort[:4] = 3.0
    est = make_twfe_batch(np.arange(6))
    one = permutation_inference(y, cohort, est, periods=np.arange(6), seed=9)
    two = permutation_inference(
        y, cohort, est, periods=np.arange(6), seed=np.random.default_rng(9)
    )
    assert one.pvalue == two.pvalue and one.ci == two.ci
    # Brute force: SE = SD (ddof 1) of the TWFE estimate over the 999 seeded
    # re-assignments (observed one excluded) of Y - estimate * D, with the TWFE
    # weights D~ / sum(D~ D) written out (tests/did/perm_reference.py).
    C = pr.sampled_assignments(cohort, 999, seed=9)
    D = (np.arange(6)[None, :] >= cohort[:, None]).astype(float)
    theta = float(np.sum(pr.twfe_weights(cohort, 6) * y))
    assert one.details["estimate"] == pytest.approx(theta, abs=1e-12)
    null = [np.sum(pr.twfe_weights(c, 6) * (y - theta * D)) for c in C[1:]]
    assert one.se == pytest.approx(np.std(null, ddof=1), rel=1e-10)


def test_few_assignments_warn():
    rng = np.random.default_rng(8)
    y = rng.normal(size=(6, 4))
    cohort = np.array([2.0] + [np.inf] * 5)
    out = permutation_inference(
        y, cohort, make_twfe_batch(np.arange(4)), periods=np.arange(4)
    )
    assert out.exact and out.n_draws == 6
    assert any("Only 6 distinct assignments" in w for w in out.warnings)


def test_bad_inputs_raise():
    y, cohort, d = _small_design()
    est = make_twfe_batch(np.arange(5))
    with pytest.raises(DataError, match="one value per unit"):
        permutation_inference(y, cohort[:4], est, D=d)
    with pytest.raises(EstimationError, match="nothing to re-assign"):
        permutation_inference(y, np.full(9, np.inf), est, D=d)
    with pytest.raises(SpecError, match="pass periods="):
        permutation_inference(y, np.where(np.isfinite(cohort), 2012.0, np.inf), est)
    with pytest.raises(SpecError, match="one per row"):
        permutation_inference(y, cohort, lambda yy, cc: np.zeros(2), D=d)
    with pytest.raises(EstimationError, match="missing estimates"):
        permutation_inference(y, cohort, lambda yy, cc: np.full(len(cc), np.nan), D=d)
    with pytest.raises(SpecError, match="callable"):
        permutation_inference(y, cohort, "twfe", D=d)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="boolean mask"):
        permutation_inference(y, cohort, est, D=d, eligible=np.ones(3, bool))


def test_plot_null_distribution(tmp_path):
    from impact.inference import plot_null_distribution, wild_cluster_bootstrap

    rng = np.random.default_rng(10)
    y = rng.normal(size=(60, 8))
    cohort = np.full(60, np.inf)
    cohort[:4] = 5.0
    d = treatment_matrix(cohort, np.arange(8))
    y = y + 1.0 * d
    perm = permutation_inference(y, cohort, make_twfe_batch(np.arange(8)), D=d, seed=1)
    ax = plot_null_distribution(perm, units="per 10,000 children")
    assert "Randomization distribution" in ax.get_title()
    assert ax.get_xlabel() == "Placebo estimate (per 10,000 children)"
    ax.figure.savefig(tmp_path / "perm.png")
    wild = wild_cluster_bootstrap(y, twfe_weights(d), d, seed=1)
    ax = plot_null_distribution(wild)
    assert ax.get_ylabel() == "Number of draws"
    bad = type(wild)("analytic", 1.0, (0.0, 1.0), 0.5, 0, False)
    with pytest.raises(SpecError, match="needs a 'wild' or 'permutation' output"):
        plot_null_distribution(bad)


def _trimmed_did(yy, cohorts):
    """A non-linear estimator (10% trimmed means of unit changes), module level so
    joblib can pickle it."""
    from scipy import stats as st

    d = treatment_matrix(cohorts, np.arange(6))
    change = yy[:, 3:].mean(axis=1) - yy[:, :3].mean(axis=1)
    treated = d.any(axis=2)
    out = np.empty(len(cohorts))
    for b in range(len(cohorts)):  # test-only reference estimator
        out[b] = st.trim_mean(change[treated[b]], 0.1) - st.trim_mean(
            change[~treated[b]], 0.1
        )
    return out


def test_parallel_batches_give_identical_results():
    rng = np.random.default_rng(11)
    y = rng.normal(size=(40, 6))
    cohort = np.full(40, np.inf)
    cohort[:5] = 3.0
    # ci=False: each step of the interval search would dispatch to the workers again.
    kw = dict(periods=np.arange(6), seed=4, n_perm=59, max_enumerate=10, ci=False)
    serial = permutation_inference(y, cohort, _trimmed_did, **kw)
    parallel = permutation_inference(
        y, cohort, _trimmed_did, n_jobs=2, backend="joblib", **kw
    )
    assert serial.details["linear"] is False
    assert serial.pvalue == parallel.pvalue and serial.se == parallel.se
    np.testing.assert_array_equal(
        serial.details["distribution"], parallel.details["distribution"]
    )
