"""Permutation p-values against full enumeration written in the test.

``permutation_inference`` documents its p-value as the share of re-assignments of the
cohort labels whose ``|estimate|`` is at least the observed one (observed included).
Here the assignments are enumerated with ``itertools.combinations`` and the estimator is a
plain difference in mean changes, so the reference shares no code with the package.

The pre-trend permutation test (``DiDResult.pretrend_test(inference="permutation")``)
samples random re-assignments; its p-value must agree with the enumeration of every
assignment (the Wald statistic of each re-assigned panel from the public analytic
``pretrend_test()``) within Monte Carlo error. Counting the wrong tail turns an extreme
statistic's p of ~2/21 into ~0.95, so it fails by ~40 Monte Carlo SEs.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import impact
from impact.inference import permutation_inference
from impact.panel import Panel


def _did_batch(Y, cohorts):
    """Difference in mean (post - pre) changes, one treated cohort at period g."""
    out = np.empty(len(cohorts))
    for b, c in enumerate(cohorts):
        tr = np.isfinite(c)
        g = int(c[tr][0])
        dy = Y[:, g:].mean(axis=1) - Y[:, :g].mean(axis=1)
        out[b] = dy[tr].mean() - dy[~tr].mean()
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(5, 9),
    n_treated=st.integers(1, 3),
    t=st.integers(3, 5),
    seed=st.integers(0, 2**16),
    effect=st.floats(-2, 2),
)
def test_pvalue_equals_full_enumeration(n, n_treated, t, seed, effect):
    rng = np.random.default_rng(seed)
    g = t - 1
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, t))
    cohort = np.full(n, np.inf)
    cohort[:n_treated] = g
    Y[:n_treated, g:] += effect
    out = permutation_inference(Y, cohort, _did_batch, periods=np.arange(t))
    assert out.exact
    stats_all = []
    for treat in itertools.combinations(range(n), n_treated):
        c = np.full(n, np.inf)
        c[list(treat)] = g
        stats_all.append(abs(_did_batch(Y, [c])[0]))
    stats_all = np.array(stats_all)
    obs = abs(_did_batch(Y, [cohort])[0])
    expect = np.mean(stats_all >= obs - 1e-12 * (1 + obs))
    assert out.pvalue == pytest.approx(expect, abs=1e-12)
    assert out.n_draws == len(stats_all)


def _pretrend_panel(cohort, seed=3):
    rng = np.random.default_rng(seed)
    n, t = len(cohort), 5
    Y = rng.normal(size=(n, 1)) + rng.normal(scale=0.3, size=(n, t))
    Y[:2] += 0.8 * np.arange(t)  # units 0 and 1 trend away before adopting
    return Y


def test_pretrend_permutation_pvalue_matches_enumeration():
    n, g = 7, 3
    cohort = np.full(n, np.inf)
    cohort[:2] = g
    Y = _pretrend_panel(cohort)

    def wald(c):
        res = impact.did(Panel.from_arrays(Y, c), method="cs", inference="analytic")
        return res.pretrend_test().statistic

    enum = []
    for treat in itertools.combinations(range(n), 2):
        c = np.full(n, np.inf)
        c[list(treat)] = g
        enum.append(wald(c))
    enum = np.array(enum)
    obs = wald(cohort)
    exact = float(np.mean(enum >= obs * (1 - 1e-10)))
    assert exact <= 2 / 21  # the trending pair is among the most extreme
    n_perm = 199
    res = impact.did(Panel.from_arrays(Y, cohort), method="cs", inference="analytic")
    test = res.pretrend_test(inference="permutation", n_perm=n_perm, seed=1)
    assert test.statistic == pytest.approx(obs, rel=1e-12)
    # (1 + #{draw >= obs}) / (1 + B) with B draws from the 21 assignments
    mc_se = np.sqrt(exact * (1 - exact) / n_perm)
    assert abs(test.pvalue - exact) < 4 * mc_se + 1 / (n_perm + 1)


def test_sampled_pvalue_agrees_with_full_enumeration():
    # too many assignments to enumerate (max_enumerate forced low): 1,999 random ones
    # must give the enumerated p-value within 4 Monte Carlo SEs; the reversed tail
    # (p ~ 1 - 0.03) or a missing +1 would not.
    rng = np.random.default_rng(4)
    n, t, g = 12, 4, 2
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, t))
    cohort = np.full(n, np.inf)
    cohort[:3] = g
    Y[:3, g:] += 1.3
    out = permutation_inference(
        Y,
        cohort,
        _did_batch,
        periods=np.arange(t),
        n_perm=1999,
        seed=3,
        max_enumerate=19,
        ci=False,
    )
    assert not out.exact and out.n_draws == 2000
    stats_all = []
    for treat in itertools.combinations(range(n), 3):
        c = np.full(n, np.inf)
        c[list(treat)] = g
        stats_all.append(abs(_did_batch(Y, [c])[0]))
    obs = abs(_did_batch(Y, [cohort])[0])
    exact = float(np.mean(np.array(stats_all) >= obs - 1e-12))
    assert 0.005 < exact < 0.2
    assert abs(out.pvalue - exact) < 4 * np.sqrt(exact * (1 - exact) / 1999) + 1 / 2000
    # sampled p-values are (1 + #{draws >= observed}) / (B + 1): on that grid and never 0
    Y[:3, g:] += 50.0
    far = permutation_inference(
        Y,
        cohort,
        _did_batch,
        periods=np.arange(t),
        n_perm=1999,
        seed=3,
        max_enumerate=19,
        ci=False,
    )
    k = far.pvalue * 2000
    assert k >= 1 and k == pytest.approx(round(k), abs=1e-9)
