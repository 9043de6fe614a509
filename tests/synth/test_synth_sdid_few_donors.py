"""Staggered SDID with as many donors as treated units.

The placebo standard error (Clarke et al. 2023; R synthdid ``placebo_se``) re-assigns
the N1 treated adoption dates to N1 of the N0 donors and fits the rest: it needs at
least one donor left over, N0 > N1. At N0 = N1 the fit without inference says so and
the placebo SE is refused; at N0 = N1 + 1 neither. Counts of units are set in the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact

T = 12


def _panel(n_donors: int) -> tuple[pd.DataFrame, dict[str, int]]:
    rng = np.random.default_rng(4)
    n_tr = 3
    N = n_donors + n_tr
    Y = 10 + np.cumsum(rng.normal(size=(N, T)), axis=1) + rng.normal(size=(N, 1))
    units = [f"d{i}" for i in range(n_donors)] + [f"t{i}" for i in range(n_tr)]
    tt = {"t0": 2008, "t1": 2008, "t2": 2010}
    df = pd.DataFrame(
        {
            "unit": np.repeat(units, T),
            "year": np.tile(np.arange(2001, 2001 + T), N),
            "y": Y.ravel(),
        }
    )
    return df, tt


SPEC = {"outcome": "y", "unit": "unit", "time": "year", "method": "sdid"}


@pytest.mark.parametrize("n_donors, warned", [(3, True), (4, False)])
def test_staggered_sdid_warns_when_donors_do_not_exceed_treated(n_donors, warned):
    df, tt = _panel(n_donors)
    res = impact.synth(
        df, treated_units=list(tt), treatment_time=tt, inference=None, **SPEC
    )
    assert res.n_treated == 3 and res.n_control == n_donors
    text = [w for w in res.warnings if "needs more donors than treated" in w]
    assert len(text) == int(warned)
    if warned:
        assert text[0].startswith("Only 3 donors for 3 treated units")
        with pytest.raises(impact.errors.ImpactError, match="than treated units"):
            impact.synth(df, treated_units=list(tt), treatment_time=tt, **SPEC)
    else:
        res = impact.synth(df, treated_units=list(tt), treatment_time=tt, **SPEC)
        assert np.isfinite(res.se) and res.se > 0


def test_staggered_sdid_interval_at_the_fits_alpha():
    # alpha = 0.1: estimate +- qnorm(0.95) x placebo SE (R: qnorm(0.95) =
    # 1.6448536269514722); the p-value 2 pnorm(-|est / se|) does not depend on alpha
    from scipy.stats import norm

    df, tt = _panel(4)
    res = impact.synth(df, treated_units=list(tt), treatment_time=tt, alpha=0.1, **SPEC)
    half = 1.6448536269514722 * res.se
    assert res.alpha == 0.1
    assert res.ci == pytest.approx((res.estimate - half, res.estimate + half))
    assert res.pvalue == pytest.approx(2 * norm.sf(abs(res.estimate / res.se)))
