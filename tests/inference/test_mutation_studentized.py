"""Studentized randomization rows, intervals and bands against a loop over assignments.

``row_inference`` documents: ``t = estimate / se`` recomputed for every re-assignment
of the cohort labels; the row interval is ``estimate -/+ q se`` with ``q`` the
``1 - alpha`` quantile of ``|t|`` under the effects-removed null (the
``ceil((1 - alpha) B)``-th smallest of the B enumerated assignments; with sampled
assignments the observed one is counted, ``ceil((1 - alpha)(B + 1))``-th of the B
draws); the band uses the same quantile of ``max_j |t_j|``; the p-value is the share
of assignments with ``|t|`` (zero-effect null) at least the observed one; with fewer
than ``1 / alpha`` assignments nothing can be rejected and the intervals are infinite.

The reference below loops over ``itertools.combinations`` of the treated units, computes
each difference-in-means contrast and its standard error (unit noise 1, independent
periods: ``se^2 = sum_i ||h_i||^2``) by hand. Tolerance 1e-10.

A 90% quantile instead of 95% picks the 51st instead of the 54th of 56 ordered draws
here (the draws are distinct), so the critical values differ by far more than the
tolerance; the same for the band and for the sampled quantile without the +1.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from impact.inference.studentized import draw_assignments, row_inference

N, T, G = 8, 4, 2  # units, periods, adoption column
POST = np.arange(T) >= G
# row 0: mean(post) - mean(pre); row 1: last period - mean(pre)
CONTRASTS = np.array(
    [
        np.where(POST, 1 / POST.sum(), -1 / (~POST).sum()),
        np.where(np.arange(T) == T - 1, 1.0, np.where(POST, 0.0, -1 / (~POST).sum())),
    ]
)


def _role_weights(totals):
    # roles: [G (treated), inf (never)]; a_i = H[role] per unit, shares 1/n_role
    tot = np.asarray(totals, dtype=float)
    H = np.empty((tot.shape[0], CONTRASTS.shape[0], 2, T))
    H[:, :, 0, :] = CONTRASTS[None, :, :] / tot[:, 0, None, None]
    H[:, :, 1, :] = -CONTRASTS[None, :, :] / tot[:, 1, None, None]
    return H


def _t_stats(Y, labels):
    """Estimates and studentized statistics of both rows for one labelling (a loop)."""
    tr = np.isfinite(labels)
    est, var = [], []
    for h in CONTRASTS:
        e = (Y[tr] @ h).mean() - (Y[~tr] @ h).mean()
        v = (
            tr.sum() * (h @ h) / tr.sum() ** 2
            + (~tr).sum() * (h @ h) / (~tr).sum() ** 2
        )
        est.append(e)
        var.append(v)
    est, se = np.array(est), np.sqrt(var)
    return est, se, est / se


def _panel(seed, n_treated):
    rng = np.random.default_rng(seed)
    Y = rng.normal(size=(N, 1)) + rng.normal(size=(N, T))
    cohort = np.full(N, np.inf)
    cohort[:n_treated] = G
    Y[:n_treated, G:] += 0.8
    effect = 0.8 * (np.arange(T)[None, :] >= G) * np.isfinite(cohort)[:, None]
    return Y, Y - effect, cohort


def test_exact_rows_band_and_pvalue_equal_the_loop():
    Y, Y0, cohort = _panel(11, 3)
    asg = draw_assignments(cohort, max_enumerate=5000)
    assert asg.exact and asg.labels.shape[0] == math.comb(N, 3) == 56
    out = row_inference(Y, Y0, _role_weights, asg, None, alpha=0.05)
    t_null, t_zero = [], []
    for treat in itertools.combinations(range(N), 3):
        lab = np.full(N, np.inf)
        lab[list(treat)] = G
        t_null.append(np.abs(_t_stats(Y0, lab)[2]))
        t_zero.append(np.abs(_t_stats(Y, lab)[2]))
    t_null, t_zero = np.array(t_null), np.array(t_zero)
    est, se, t_obs = _t_stats(Y, cohort)
    k = math.ceil(0.95 * 56) - 1  # 54th smallest
    crit = np.sort(t_null, axis=0)[k]
    band = np.sort(t_null.max(axis=1))[k]
    pval = (t_zero >= np.abs(t_obs)[None, :] * (1 - 1e-12)).mean(axis=0)
    np.testing.assert_allclose(out.estimate, est, rtol=1e-10)
    np.testing.assert_allclose(out.crit, crit, rtol=1e-10)
    np.testing.assert_allclose(out.ci_low, est - crit * se, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.ci_high, est + crit * se, rtol=1e-10, atol=1e-12)
    assert out.band_crit == pytest.approx(band, rel=1e-10)
    np.testing.assert_allclose(out.pvalue, pval, rtol=1e-12)
    # the order statistics next to the 95% one differ: a 90% quantile would show
    assert np.all(np.abs(np.sort(t_null, axis=0)[k - 3] - crit) > 1e-6)


def test_sampled_quantile_counts_the_observed_draw():
    Y, Y0, cohort = _panel(12, 3)
    n_perm = 100  # ceil(0.95 * 101) = 96 but ceil(0.95 * 100) = 95: the +1 shows
    asg = draw_assignments(cohort, n_perm=n_perm, seed=5, max_enumerate=10)
    assert not asg.exact and asg.observed == 0
    out = row_inference(Y, Y0, _role_weights, asg, None, alpha=0.05)
    t_null = np.array([np.abs(_t_stats(Y0, lab)[2]) for lab in asg.labels[1:]])
    k = math.ceil(0.95 * (n_perm + 1)) - 1  # 96th of the 100 draws
    ordered = np.sort(t_null, axis=0)
    np.testing.assert_allclose(out.crit, ordered[k], rtol=1e-10)
    # resampled assignments repeat, so some columns tie; where they do not, the 95th differs
    assert np.any(ordered[k] - ordered[k - 1] > 1e-9)
    band = np.sort(t_null.max(axis=1))[k]
    assert out.band_crit == pytest.approx(band, rel=1e-10)


def test_too_few_assignments_give_unbounded_rows_and_band():
    Y, Y0, cohort = _panel(13, 1)
    cohort_small = cohort[:6]
    asg = draw_assignments(cohort_small)
    assert asg.exact and asg.total == 6  # min p = 1/6 > 0.05
    out = row_inference(Y[:6], Y0[:6], _role_weights, asg, None, alpha=0.05)
    assert np.all(np.isneginf(out.ci_low)) and np.all(np.isposinf(out.ci_high))
    assert np.isinf(out.band_crit)
    assert out.min_pvalue == pytest.approx(1 / 6)
