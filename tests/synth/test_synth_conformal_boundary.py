"""Conformal confidence sets at p = alpha exactly (a value with p = alpha is rejected).

The set is ``{theta: p(theta) > alpha}``: a value whose p-value equals alpha is
rejected. Panel: 18 pre-periods (noise SD 1), then 2 post-periods with effects +2 and
-2 around the pre-period gap. At the estimate (the mean post gap) both post residuals
are about 2 and the observed statistic is the largest of the T = 20 cyclic blocks, so
p = 1/20 = alpha: the estimate itself is rejected, while values on both sides of it are
accepted. The moving-block test (DiD counterfactual, q = 1) is written out as in
test_synth_conformal_brute.py. The confidence set is then not an interval: the reported
interval must be its hull (every accepted value on a fine grid lies inside it, and its
ends are accepted), with a warning that the estimate itself is rejected. One piece of
the set would drop accepted values and so lose coverage.

Per-period intervals on a grid: with T0 = 19 the p-values are multiples of 1/20 =
alpha; the interval is the smallest and largest grid value with p > alpha by the
per-period test written out (T0 + 1 residuals of the DiD fit).
"""

from __future__ import annotations

import numpy as np
import pytest

from impact.errors import ImpactWarning
from impact.synth.conformal import conformal_att_interval, conformal_intervals

T0, T1 = 18, 2


def _joint_p_by_hand(y1: np.ndarray, Y0: np.ndarray, theta: float) -> float:
    T = y1.size
    yf = y1.astype(float).copy()
    yf[T0:] -= theta
    fitted = Y0.mean(axis=1) + np.mean(yf - Y0.mean(axis=1))
    u = np.abs(yf - fitted)
    stats = np.array([np.mean(u[(s + np.arange(T0, T)) % T]) for s in range(T)])
    return float(np.mean(stats >= stats[0] * (1 - 1e-9)))


def test_att_interval_is_the_hull_when_the_estimate_is_rejected_at_p_equal_alpha():
    rng = np.random.default_rng(14)
    T = T0 + T1
    Y0 = rng.normal(size=(T, 5)) + np.linspace(0, 3, T)[:, None]
    y1 = Y0.mean(axis=1) + 1.0 + rng.normal(size=T)
    y1[T0:] += [2.0, -2.0]
    g = y1 - Y0.mean(axis=1)
    center = float(np.mean(g[T0:] - g[:T0].mean()))  # DiD estimate of the mean gap
    assert _joint_p_by_hand(y1, Y0, center) == pytest.approx(1 / 20, abs=1e-12)
    with pytest.warns(ImpactWarning, match="itself rejected.*hull"):
        lo, hi, p0 = conformal_att_interval(y1, Y0, T0, method="did", alpha=0.05)
    assert np.isfinite(lo) and np.isfinite(hi) and lo < center < hi
    grid = center + np.linspace(-12.0, 12.0, 961)
    accepted = grid[[_joint_p_by_hand(y1, Y0, float(g)) > 0.05 for g in grid]]
    assert accepted.min() < center < accepted.max()  # accepted on both sides
    step = grid[1] - grid[0]
    assert lo <= accepted.min() + 1e-9 and hi >= accepted.max() - 1e-9
    assert lo > accepted.min() - step and hi < accepted.max() + step
    assert _joint_p_by_hand(y1, Y0, lo + 1e-6) > 0.05
    assert _joint_p_by_hand(y1, Y0, hi - 1e-6) > 0.05
    assert p0 == pytest.approx(_joint_p_by_hand(y1, Y0, 0.0), abs=1e-12)


def _period_p_by_hand(y1: np.ndarray, Y0: np.ndarray, T0: int, t: int, theta: float):
    """Per-period test: T0 + 1 residuals of the DiD fit with y_t - theta appended."""
    yf = np.append(y1[:T0], y1[t] - theta)
    Xf = np.vstack([Y0[:T0], Y0[t]])
    fitted = Xf.mean(axis=1) + np.mean(yf - Xf.mean(axis=1))
    u = np.abs(yf - fitted)
    return float(np.mean(u >= u[-1] * (1 - 1e-9)))


def test_grid_interval_holds_values_with_p_above_alpha_only():
    # T0 = 19 pre-periods: p-values are multiples of 1/20 = alpha. A grid value whose
    # post residual is the largest of the 20 has p = alpha exactly and is rejected.
    rng = np.random.default_rng(21)
    T0, T = 19, 21
    Y0 = rng.normal(size=(T, 4)) + np.linspace(0, 2, T)[:, None]
    y1 = Y0.mean(axis=1) + 0.5 + rng.normal(size=T)
    y1[T0:] += 1.5
    grid = np.linspace(-6.0, 9.0, 61)
    out = conformal_intervals(y1, Y0, T0, method="did", alpha=0.05, grid=grid)
    for k, t in enumerate(range(T0, T)):
        p = np.array([_period_p_by_hand(y1, Y0, T0, t, g) for g in grid])
        assert p.min() == pytest.approx(1 / 20)  # the grid reaches p = alpha
        acc = grid[p > 0.05]
        assert 0 < acc.size < grid.size
        assert out["ci_low"].iloc[k] == acc.min()
        assert out["ci_high"].iloc[k] == acc.max()
        assert out["pvalue"].iloc[k] == pytest.approx(
            _period_p_by_hand(y1, Y0, T0, t, 0.0), abs=1e-12
        )
