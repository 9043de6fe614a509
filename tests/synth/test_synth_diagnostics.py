"""Synth fit diagnostics at their documented thresholds, on either side of each.

Rules (impact.synth docstring and warnings): a poor pre-period fit is a pre-RMSPE above
half the SD (ddof 1) of the treated unit's pre-period outcome; a treated unit outside
the donors' convex hull is above (or below) every donor in more than half of the
pre-periods, or has one donor with more than 95% of the weight; placebo inference
cannot reach alpha when ``1 / (C(J, n_treated) + 1) > alpha``. Each case is built so
that the quantity sits just above or just below its threshold.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from impact.synth._prep import UnitFit
from impact.synth.api import _diagnostics

T0, T = 8, 10
PRE = np.arange(T) < T0
Y1 = np.arange(T, dtype=float)  # pre-period SD (ddof 1) = sqrt(6)


def _fit(y1, synthetic, weights, unit="T"):
    J = len(weights)
    return UnitFit(
        unit=unit,
        treatment_time=T0,
        donors=np.array([f"d{j}" for j in range(J)]),
        weights=np.asarray(weights, dtype=float),
        v=np.empty(0),
        predictors=[],
        x1=np.empty(0),
        X0=np.empty((0, J)),
        y1=y1,
        synthetic=synthetic,
        pre=PRE,
        post=~PRE,
    )


def _warnings(fits, donors_Y, alpha=0.05):
    design = SimpleNamespace(Y=np.asarray(donors_Y, dtype=float))
    return _diagnostics(design, fits, np.arange(len(donors_Y)), alpha)


def _inside():
    # donors well below and above the treated path every period: inside the hull
    return [Y1 - 10, Y1 + 10, Y1 - 5, Y1 + 5]


@pytest.mark.parametrize("share, warned", [(0.51, True), (0.49, False)])
def test_poor_fit_at_half_the_sd(share, warned):
    sd = np.std(Y1[PRE], ddof=1)
    fit = _fit(Y1, Y1 - share * sd, [0.25] * 4)  # constant gap: pre-RMSPE = share * sd
    out = _warnings([fit], _inside() * 3)  # 12 donors: no few-donor warning
    assert any("Poor pre-period fit" in w for w in out) is warned
    assert not any("convex hull" in w for w in out)


@pytest.mark.parametrize("k, warned", [(5, True), (4, False)])
def test_outside_hull_in_more_than_half_the_pre_periods(k, warned):
    # the treated unit is above every donor in the first k of 8 pre-periods
    high = np.where(np.arange(T) < k, Y1 - 1, Y1 + 1)
    donors = [Y1 - 2, high] * 6
    fit = _fit(Y1, Y1.copy(), [1 / 12] * 12)
    out = _warnings([fit], donors)
    assert any("outside the convex hull" in w for w in out) is warned
    below = np.where(np.arange(T) < k, Y1 + 1, Y1 - 1)
    out = _warnings([fit], [Y1 + 2, below] * 6)
    assert any("outside the convex hull" in w for w in out) is warned


@pytest.mark.parametrize("top, warned", [(0.96, True), (0.94, False)])
def test_dominant_donor_above_95_percent(top, warned):
    w = np.r_[top, np.full(11, (1 - top) / 11)]
    out = _warnings([_fit(Y1, Y1.copy(), w)], _inside() * 3)
    assert any("outside the convex hull" in w for w in out) is warned


def test_smallest_placebo_pvalue_counts_donor_sets():
    # 2 treated units, 5 donors: C(5, 2) = 10 placebo sets, smallest p = 1/11 = 0.091
    fits = [_fit(Y1, Y1.copy(), [0.2] * 5, unit=u) for u in ("A", "B")]
    donors = [Y1 - 10, Y1 + 10, Y1 - 5, Y1 + 5, Y1 - 7]
    assert not any("smallest attainable" in w for w in _warnings(fits, donors, 0.1))
    out = _warnings(fits, donors, 0.05)
    assert any("1/11 = 0.091" in w for w in out)
