"""Matched DiD permutation interval at alpha = 0.1, inverted by brute force.

With pairs (ratio 1) the randomization flips which member of each pair is treated, so
under a constant effect ``theta`` the pair differences ``e_i = dY_treated - dY_control
- theta`` change sign independently. The statistic is the studentized mean
``|mean(s e)| / (sd(s e) / sqrt(N))`` over all 2^N sign vectors ``s``; the p-value is
the share of sign vectors with a statistic at least the observed one, and the interval
is ``{theta: p(theta) > alpha}``. Here every sign vector is enumerated (N = 6: 64) and
the interval end points are located on a grid of theta in the test; the reported
interval must match them to the grid step. At alpha = 0.1 the interval is narrower
than at 0.05 (the smallest p-value, 2/64, is below both).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from impact.matching import matched_did


def _panel(seed: int = 3, n_t: int = 6, n_c: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_t + n_c):
        a, b = rng.normal(50, 10), rng.normal(0, 1)
        first = 2016.0 if i < n_t else np.nan
        for t, yr in enumerate(range(2010, 2020)):
            y = a + b * t + 1.0 * (i < n_t and yr >= first) + rng.normal()
            rows.append((f"LA{i:03d}", yr, y, first))
    return pd.DataFrame(rows, columns=["la", "year", "rate", "first"])


KW = {"outcome": "rate", "unit": "la", "time": "year", "cohort": "first"}


def _brute_pvalues(diff: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    """p(theta) for each theta: all 2^N sign vectors, the observed one first."""
    s = np.array(list(itertools.product([1.0, -1.0], repeat=diff.size)))
    v = s[None, :, :] * (diff[None, :] - thetas[:, None])[:, None, :]
    t = np.abs(v.mean(axis=2)) / (v.std(axis=2, ddof=1) / np.sqrt(diff.size))
    return np.mean(t >= t[:, :1] * (1 - 1e-9), axis=1)


@pytest.mark.parametrize("alpha", [0.1, 0.05])
def test_permutation_interval_is_the_brute_force_inversion(alpha):
    df = _panel()
    res = matched_did(df, **KW, inference="permutation", alpha=alpha)
    wide = df.pivot(index="la", columns="year", values="rate")
    post = wide.columns >= 2016
    change = wide.loc[:, post].mean(axis=1) - wide.loc[:, ~post].mean(axis=1)
    m = res.matched
    diff = np.array(
        [change[t] - change[c] for t, c in zip(m["treated"], m["control"], strict=True)]
    )
    assert diff.size == 6
    assert res.estimate == pytest.approx(diff.mean(), abs=1e-9)
    step = 1e-3 * res.se
    grid = diff.mean() + res.se * np.arange(-8.0, 8.0 + 1e-12, 1e-3)
    accepted = grid[_brute_pvalues(diff, grid) > alpha]
    lo, hi = accepted.min(), accepted.max()
    assert res.ci[0] == pytest.approx(lo, abs=1.01 * step)
    assert res.ci[1] == pytest.approx(hi, abs=1.01 * step)
