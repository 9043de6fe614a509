"""Monte Carlo checks with two-sided bounds, sized so that the broken variant fails.

Bounds follow the charter: nominal rate +/- (2 Monte Carlo SEs + 1 point). Each test's
docstring states what a broken procedure would give and why it falls outside.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import impact
from impact.panel import Panel

pytestmark = pytest.mark.montecarlo


def _bounds(rate: float, reps: int) -> tuple[float, float]:
    half = 2 * np.sqrt(rate * (1 - rate) / reps) + 0.01
    return rate - half, rate + half


def test_cs_analytic_coverage_many_treated():
    """95% CS intervals cover the true ATT 95% of the time (not less, not more).

    400 panels, 120 units (two cohorts of 30, 60 never treated), 4 periods, unit and
    period effects, constant effect 0.3. Bounds 0.95 +/- 3.2 points (MC SE 1.09; the
    correct procedure covers 0.941 in 800 panels of a similar design). A 90% interval
    (the planted ``1 - alpha`` bug) covers ~0.89 and a 99% interval ~0.99; both fall
    outside. The pointwise ATT(g,t) coverage is pooled over the 400 x 6 cells (clustered
    by panel, so the bound uses the panel count): same bounds.
    """
    rng = np.random.default_rng(20261203)
    n, t, tau, reps = 120, 4, 0.3, 400
    cover, cell_cover = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(reps):
            Y = (
                rng.normal(size=(n, 1))
                + rng.normal(size=(1, t))
                + rng.normal(size=(n, t))
            )
            cohort = np.full(n, np.inf)
            cohort[:30], cohort[30:60] = 2, 3
            Y += tau * (np.arange(t)[None, :] >= cohort[:, None])
            res = impact.did(
                Panel.from_arrays(Y, cohort), method="cs", inference="analytic"
            )
            cover.append(res.ci[0] <= tau <= res.ci[1])
            g = res.att_gt
            truth = np.where(g["post"], tau, 0.0)
            cell_cover.append(np.mean((g["ci_low"] <= truth) & (truth <= g["ci_high"])))
    lo, hi = _bounds(0.95, reps)
    assert lo <= np.mean(cover) <= hi, np.mean(cover)
    assert lo <= np.mean(cell_cover) <= hi, np.mean(cell_cover)


def test_2x2_permutation_size_and_power_few_treated():
    """Exact randomization test: size 5% two-sided, and it rejects a real effect.

    200 null panels with 3 treated of 30 (all C(30, 3) = 4,060 assignments enumerated):
    rejection rate at 5% within 0.05 +/- 4.1 points. A test that never rejects (0%) or
    an analytic CRV1 test (over-rejects heavily with 3 treated) falls outside. Size alone
    cannot detect a reversed tail (p -> 1 - p is also uniform under the null), so 60
    panels with an effect of 2 noise SDs must be rejected at least 80% of the time
    (the correct test rejects ~100%; a reversed tail rejects ~0%).
    """
    rng = np.random.default_rng(7)
    n, t = 30, 6
    cohort = np.full(n, np.inf)
    cohort[:3] = 3

    def pvalue(effect: float, seed: int) -> float:
        Y = rng.normal(size=(n, 1)) + rng.normal(size=(1, t)) + rng.normal(size=(n, t))
        Y[:3, 3:] += effect
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = impact.did(
                Panel.from_arrays(Y, cohort),
                method="2x2",
                inference="permutation",
                seed=seed,
            )
        assert res.inference_details["exact"]
        return res.pvalue

    null = np.array([pvalue(0.0, s) for s in range(200)])
    lo, hi = _bounds(0.05, 200)
    assert lo <= np.mean(null <= 0.05) <= hi, np.mean(null <= 0.05)
    alt = np.array([pvalue(2.0, s) for s in range(60)])
    assert np.mean(alt <= 0.05) >= 0.8, np.mean(alt <= 0.05)
