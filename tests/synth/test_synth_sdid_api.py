"""method='sdid' in impact.synth: staggered adoption in the main call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.synth.sdid import sdid_estimate, sdid_staggered_se
from tests.synth.test_synth_sdid import _staggered_panel


def _long(Y):
    N, T = Y.shape
    return pd.DataFrame(
        {
            "unit": np.repeat([f"u{i:02d}" for i in range(N)], T),
            "year": np.tile(np.arange(2001, 2001 + T), N),
            "y": Y.ravel(),
        }
    )


def test_staggered_sdid_in_main_call_is_weighted_cohort_blocks():
    Y, adoption = _staggered_panel()
    df = _long(Y)
    tt = {f"u{i:02d}": 2001 + int(adoption[i]) for i in range(5)}
    res = impact.synth(
        df,
        outcome="y",
        unit="unit",
        time="year",
        method="sdid",
        treated_units=list(tt),
        treatment_time=tt,
    )
    # each cohort by the block estimator on never-treated + that cohort, then the
    # N1 x T1 weighted average (Arkhangelsky et al. 2021, Section 8)
    never = ~np.isfinite(adoption)
    att = {}
    for a in (7, 9):
        keep = never | (adoption == a)
        att[a] = sdid_estimate(Y[keep], (adoption == a)[keep], a).att
    w7, w9 = 3 * (12 - 7), 2 * (12 - 9)
    assert res.estimate == pytest.approx((w7 * att[7] + w9 * att[9]) / (w7 + w9))
    cohorts = res.extra["cohorts"]
    assert cohorts["cohort"].tolist() == [2008, 2010]
    assert cohorts["att"].to_numpy() == pytest.approx([att[7], att[9]])
    # donors come first, treated last: the same rows as the array-level call
    order = np.r_[np.flatnonzero(never), np.arange(5)]
    se = sdid_staggered_se(Y[order], adoption[order], seed=res._config["seed"])
    assert res.se == pytest.approx(se)
    lo, hi = res.ci
    assert lo < res.estimate < hi
    assert list(res.gaps.columns) == ["cohort 2008", "cohort 2010"]
    assert "Synthetic difference-in-differences" in res.summary()
