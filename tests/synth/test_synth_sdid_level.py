"""SDID through synth(): the interval follows alpha (normal, placebo SE).

The interval is ``estimate +- z_(1 - alpha/2) * se`` with z from R: qnorm(0.95) =
1.6448536269514722 at alpha = 0.1, and the p-value ``2 * (1 - pnorm(|estimate / se|))``
(scipy.stats.norm as the reference). An interval left at 95% would be 19% wider than the 90% one asked for.
"""

from __future__ import annotations

import pytest
from scipy import stats

import impact
from tests.synth.test_synth_placebo import SIM, factor_panel

Z95 = 1.6448536269514722  # R qnorm(0.95)


def test_sdid_interval_at_alpha_10():
    df = factor_panel(n_units=7, n_periods=12, seed=4)
    res = impact.synth(df, **SIM, method="sdid", alpha=0.1, seed=3)
    est, se = res.estimate, res.se
    assert se > 0
    assert res.ci == pytest.approx((est - Z95 * se, est + Z95 * se), rel=1e-12)
    assert res.pvalue == pytest.approx(2 * stats.norm.sf(abs(est / se)), rel=1e-10)
