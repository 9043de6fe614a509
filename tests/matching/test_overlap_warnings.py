"""Overlap warnings of impact.match at their thresholds, with user-given scores.

- IPW (ATT) weights are 1 for treated and e / (1 - e) for comparison units; the
  "one unit carries X% of the total weight" warning appears above 10%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact


@pytest.mark.parametrize("top, warned", [(0.8, True), (0.6, False)])
def test_ipw_large_weight_warning_above_ten_percent(top, warned):
    rng = np.random.default_rng(0)
    n1, n0 = 10, 30
    ps = np.r_[np.full(n1, 0.5), rng.uniform(0.1, 0.4, n0)]
    ps[n1] = top
    d = np.r_[np.ones(n1, int), np.zeros(n0, int)]
    df = pd.DataFrame(
        {"d": d, "ps": ps, "x": rng.normal(size=d.size), "y": rng.normal(size=d.size)}
    )
    w = np.where(d == 1, 1.0, ps / (1 - ps))
    share = w.max() / w.sum()
    assert bool(share > 0.1) is warned and 0.05 < share < 0.2
    res = impact.match(
        df, treatment="d", covariates=["x"], outcome="y", method="ipw", distance="ps"
    )
    text = [m for m in res.warnings if "of the total weight" in m]
    assert len(text) == int(warned)
    if warned:
        assert f"one unit carries {share:.0%} of the total weight" in text[0]
