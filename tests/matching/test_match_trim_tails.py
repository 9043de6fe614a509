"""Weighting with ``trim`` drops both tails of the propensity score, ends included.

Crump, Hotz, Imbens and Mitnik (2009): keep units with ``trim <= e(x) <= 1 - trim``.
The score is given (``distance="ps"``) and puts units of both arms in both tails and on
both cut points, so the reference is a hand computation in the test: the ATT with
weights 1 (treated) and ``e / (1 - e)`` (controls) over the kept units only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.matching import match


def _scored() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    # treated: 2 below 0.1, one at 0.1, 3 above 0.9, one at 0.9, 13 inside
    e1 = np.r_[0.04, 0.07, 0.1, 0.93, 0.96, 0.99, 0.9, rng.uniform(0.2, 0.8, 13)]
    # controls: 1 below 0.1, one at 0.1, 2 above 0.9, one at 0.9, 35 inside
    e0 = np.r_[0.05, 0.1, 0.92, 0.97, 0.9, rng.uniform(0.15, 0.85, 35)]
    e = np.r_[e1, e0]
    d = np.r_[np.ones(e1.size), np.zeros(e0.size)].astype(int)
    y = 10 * e + 2.0 * d + rng.normal(size=e.size)
    df = pd.DataFrame({"d": d, "x1": rng.normal(size=e.size), "y": y, "ps": e})
    return df, e


def test_trim_drops_both_tails_and_keeps_the_cut_points() -> None:
    df, e = _scored()
    d = df["d"].to_numpy(bool)
    y = df["y"].to_numpy()
    assert 1 - 0.1 == 0.9  # the upper cut point is exactly representable here
    keep = (e >= 0.1) & (e <= 0.9)
    t, c = keep & d, keep & ~d
    w0 = e[c] / (1 - e[c])
    hand = y[t].mean() - np.sum(w0 * y[c]) / w0.sum()
    res = match(
        df,
        treatment="d",
        covariates=["x1"],
        outcome="y",
        method="ipw",
        distance="ps",
        trim=0.1,
    )
    assert res.estimate == pytest.approx(hand, rel=1e-12)
    # 2 + 3 treated and 1 + 2 controls fall outside [0.1, 0.9]
    assert any(
        "Trimming at 0.1 dropped 5 treated and 3 comparison units" in w
        for w in res.warnings
    )
