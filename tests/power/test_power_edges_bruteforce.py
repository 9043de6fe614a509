"""Power simulation at its edges, pinned to brute force written here.

* The re-fitted path counts a p-value equal to alpha as a rejection (the rank
  convention of exact placebo tests, p = k / N).
* The synthetic-control note on pre-period fits much tighter than post-period gaps
  fires at a median pre-RMSPE below 0.25 of the median post gap, with leave-one-out
  fits recomputed here by scipy SLSQP.
* ``assignment="high_rate"`` ranks units by their mean over the last three
  pre-periods and favours the top third.
"""

from __future__ import annotations

import math
import re
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from impact.panel import Panel
from impact.power import simulate


def _rank_p_estimator(
    frame: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str
) -> Any:
    """Exact placebo test: rank of the treated unit's pre-to-post change among all N.

    ``p = (1 + #{controls with change >= treated change}) / N``, so a treated unit
    whose change is the largest of 20 has p = 1/20 = 0.05 exactly.
    """
    wide = frame.pivot(index=unit, columns=time, values=outcome)
    first = frame.groupby(unit)[cohort].first().reindex(wide.index)
    treated = np.isfinite(first.to_numpy(float))
    g = float(first[treated].min())
    post = wide.columns.to_numpy(float) >= g
    change = wide.loc[:, post].mean(axis=1) - wide.loc[:, ~post].mean(axis=1)
    c = change.to_numpy(float)
    stat = float(c[treated].mean())
    p = (1 + int(np.sum(c[~treated] >= stat))) / len(c)
    return SimpleNamespace(estimate=stat, pvalue=p, ci=None)


def test_refitted_power_counts_p_equal_to_alpha_as_rejection() -> None:
    # 20 units, one treated, an effect far above the noise: in every draw the
    # treated unit has the largest change, so p = 1/20 = alpha exactly and an exact
    # rank test at 5% rejects (p <= alpha): power 1. Counting only p < alpha would
    # give power 0 although every draw sits at the most extreme rank.
    rng = np.random.default_rng(0)
    Y = 50 + rng.normal(size=(20, 6))
    p = Panel.from_arrays(Y, periods=np.arange(2010, 2016))
    assert 1 / 20 == 0.05
    res = simulate(
        p,
        treatment_time=2013,
        n_treated=1,
        effect=[0.0, 100.0],
        effect_type="absolute",
        estimator=_rank_p_estimator,
        n_sims=12,
        seed=1,
        alpha=0.05,
    )
    tab = res.table.set_index("effect")
    assert tab.loc[100.0, "power"] == 1.0


def _loo_gaps(Y: np.ndarray, t0: int) -> np.ndarray:
    """Leave-one-out synthetic-control gaps: simplex weights on the pre-period path.

    Independent solver (scipy SLSQP, ftol 1e-14); with fewer donors (9) than
    pre-periods (20) the weights are unique.
    """
    n = Y.shape[0]
    gaps = np.zeros_like(Y)
    for i in range(n):
        X0 = np.delete(Y, i, axis=0)
        r = minimize(
            lambda w, i=i, X0=X0: float(np.sum((Y[i, :t0] - w @ X0[:, :t0]) ** 2)),
            np.full(n - 1, 1 / (n - 1)),
            method="SLSQP",
            bounds=[(0, 1)] * (n - 1),
            constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        gaps[i] = Y[i] - r.x @ X0
    return gaps


def test_sc_tighter_fit_note_threshold() -> None:
    # Post-period noise scaled by s: the pre-period fit is unchanged and the post
    # gaps scale by s, so the ratio median pre-RMSPE / median post gap is r1 / s.
    # Here r1 = 1.504: s = 5 puts the ratio at 0.30 (above the 0.25 threshold, no
    # note), s = 8 at 0.19 (below, note). A threshold moved tenfold either way
    # (0.025 or 2.5) flips one of the two.
    rng = np.random.default_rng(5)
    n, T, t0 = 10, 24, 20
    base = rng.normal(size=(n, T))
    seen = {}
    for s in (5.0, 8.0):
        Y = base.copy()
        Y[:, t0:] *= s
        Y += 100.0
        gaps = _loo_gaps(Y, t0)
        pre = float(np.median(np.sqrt((gaps[:, :t0] ** 2).mean(axis=1))))
        post = float(np.median(np.abs(gaps[:, t0:]).mean(axis=1)))
        res = simulate(
            Panel.from_arrays(Y, periods=np.arange(2000, 2000 + T)),
            treatment_time=2000 + t0,
            n_treated=1,
            effect=0.0,
            estimator="sc",
            n_sims=10,
            seed=1,
        )
        notes = [w for w in res.warnings if "much tighter" in w]
        seen[s] = (pre / post, notes)
        assert bool(notes) == (pre < 0.25 * post), (s, pre / post)
        if notes:
            m = re.search(r"pre-RMSPE ([\d.]+) vs median post gap ([\d.]+)", notes[0])
            assert m is not None
            assert float(m.group(1)) == pytest.approx(pre, rel=2e-3)
            assert float(m.group(2)) == pytest.approx(post, rel=2e-3)
            # 9 donors, 20 pre-periods: the note must not blame donors outnumbering
            # pre-periods
            assert "donors outnumber" not in notes[0]
    assert 0.25 < seen[5.0][0] < 0.35 and 0.15 < seen[8.0][0] < 0.25
    assert not seen[5.0][1] and seen[8.0][1]
    # 39 donors and 4 pre-periods: near-perfect pre fits, and the note says why
    Y = 100.0 + np.random.default_rng(6).normal(size=(40, 10))
    res = simulate(
        Panel.from_arrays(Y, periods=np.arange(2000, 2010)),
        treatment_time=2004,
        n_treated=1,
        effect=0.0,
        estimator="sc",
        n_sims=10,
        seed=1,
    )
    notes = [w for w in res.warnings if "much tighter" in w]
    assert len(notes) == 1 and "donors outnumber pre-periods" in notes[0]


def _treated_set_estimator(
    frame: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str
) -> Any:
    """Estimate = sum of 2**unit over the placebo-treated units (identifies the set)."""
    first = frame.groupby(unit)[cohort].first()
    units = first.index[np.isfinite(first.to_numpy(float))].to_numpy(int)
    return SimpleNamespace(estimate=float(np.sum(2.0**units)), pvalue=0.5, ci=None)


def test_high_rate_favours_top_third_by_last_three_pre_periods() -> None:
    # 9 units, pre-periods 2010-2014, treatment 2015. Unit levels are built so that
    # the mean over the last three pre-periods (2012-2014) and the mean over any
    # other window rank units differently. With n_treated = 3 = ceil(9 / 3) every
    # draw treats exactly the top third, computed here by brute force.
    rng = np.random.default_rng(2)
    T = 7
    Y = 50 + 0.2 * rng.normal(size=(9, T))
    Y[[0, 1, 2], 1] += 60.0  # high in 2011: the top third on a 4-year window
    Y[[3, 4, 5], 3:5] += 12.0  # high in 2013-2014: the top third on 2 years
    Y[[6, 7, 8], 2:5] += 9.0  # high in 2012-2014: the top third on 3 years
    periods = np.arange(2010, 2010 + T)
    pre = Y[:, periods < 2015]
    top = np.argsort(-pre[:, -3:].mean(axis=1), kind="stable")[:3]
    top4 = np.argsort(-pre[:, -4:].mean(axis=1), kind="stable")[:3]
    top2 = np.argsort(-pre[:, -2:].mean(axis=1), kind="stable")[:3]
    assert set(top) == {6, 7, 8}
    assert set(top4) != set(top) and set(top2) != set(top)
    res = simulate(
        Panel.from_arrays(Y, periods=periods),
        treatment_time=2015,
        n_treated=3,
        effect=0.0,
        effect_type="absolute",
        estimator=_treated_set_estimator,
        n_sims=5,
        seed=1,
        assignment="high_rate",
    )
    # bias = mean estimate - 0: every draw treats units 6, 7, 8
    assert res.table["bias"].iloc[0] == float(2**6 + 2**7 + 2**8)
    assert math.isclose(res.table["sd"].iloc[0], 0.0, abs_tol=1e-12)


def test_rising_rate_favours_top_third_by_growth_over_three_years() -> None:
    # rising_rate: log growth from the fourth-last to the last pre-period (three
    # yearly steps), top third. Seeded data where 2- and 4-step growth pick other
    # sets than 3-step growth; n_treated = 4 = ceil(12 / 3).
    rng = np.random.default_rng(11)
    periods = np.arange(2010, 2018)
    Y = 50 * np.exp(np.cumsum(0.1 * rng.normal(size=(12, 8)), axis=1))
    pre = Y[:, periods < 2016]

    def top(k: int) -> set[int]:
        score = np.log(pre[:, -1] / pre[:, -1 - k])
        return {int(u) for u in np.argsort(-score, kind="stable")[:4]}

    want = top(3)
    assert want != top(2) and want != top(4)
    res = simulate(
        Panel.from_arrays(Y, periods=periods),
        treatment_time=2016,
        n_treated=4,
        effect=0.0,
        effect_type="absolute",
        estimator=_treated_set_estimator,
        n_sims=5,
        seed=1,
        assignment="rising_rate",
    )
    assert res.table["bias"].iloc[0] == float(sum(2.0**u for u in want))
