"""Every way of building a panel recodes adoption after the last period as never treated.

The constructor recodes units first treated after the panel's last period as never
treated, with a note in ``Panel.warnings`` (the R ``did`` rule, pinned in
``test_panel_rules.py``). ``Panel.from_arrays``, ``Panel.with_cohort`` and
``Panel.subset(periods=...)`` used to keep them as phantom cohorts: every estimator then
raised a DataError ("first treated in period ..., which is not one of the observed
periods"), or the units were missing from the never-treated comparison group.

Each route is checked on its cohort vector and warning, and by a Callaway-Sant'Anna
estimate recomputed here from cell means, with the late units in the never-treated
comparison group; the cohort at the last period itself stays a cohort.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.panel import Panel

PERIODS = np.arange(2010, 2016)  # last period 2015
#: units 0-2 adopt in 2012, 3-4 in 2015 (the last period), 5-6 in 2018 (after it)
COHORT = np.array([2012.0] * 3 + [2015.0] * 2 + [2018.0] * 2 + [np.inf] * 7)
NOTE = "2 unit(s) first treated after the last period (2015) are used as never treated."


def _outcomes(seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n, t = len(COHORT), len(PERIODS)
    Y = (
        rng.normal(size=(n, 1))
        + 0.2 * np.arange(t)
        + rng.normal(scale=0.5, size=(n, t))
    )
    treated = PERIODS[None, :] >= COHORT[:, None]
    return Y + 1.5 * treated


def _cs_simple_by_hand(Y: np.ndarray, periods: np.ndarray, cohort: np.ndarray) -> float:
    """CS simple ATT, never-treated comparison, varying base period, from cell means.

    ATT(g,t) = mean_g(Y_t - Y_{g-1}) - mean_never(Y_t - Y_{g-1}) for t >= g; the simple
    aggregate weights each post cell by its cohort's size.
    """
    never = ~np.isfinite(cohort)
    col = {int(p): j for j, p in enumerate(periods)}
    num = den = 0.0
    for g in np.unique(cohort[np.isfinite(cohort)]):
        grp = cohort == g
        base = col[int(g) - 1]
        for t in periods[periods >= g]:
            diff = Y[:, col[int(t)]] - Y[:, base]
            num += grp.sum() * (diff[grp].mean() - diff[never].mean())
            den += grp.sum()
    return num / den


def _cs(panel: Panel) -> float:
    return impact.did(panel, method="cs", inference="analytic").estimate


def _long(Y: np.ndarray, cohort: np.ndarray) -> pd.DataFrame:
    n, t = Y.shape
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), t),
            "time": np.tile(PERIODS, n),
            "y": Y.ravel(),
            "first": np.repeat(cohort, t),
        }
    )


def test_constructor_reference_note():
    """The constructor's note, which the other routes must repeat word for word."""
    Y = _outcomes()
    p = Panel(_long(Y, COHORT), unit="unit", time="time", outcome="y", cohort="first")
    assert p.warnings == [NOTE]


def test_from_arrays_recodes_late_cohorts_as_never_treated():
    Y = _outcomes()
    p = Panel.from_arrays(Y, COHORT.copy(), periods=PERIODS)
    expected = np.where(COHORT == 2018, np.inf, COHORT)
    np.testing.assert_array_equal(p.cohort, expected)
    assert p.cohorts.tolist() == [2012.0, 2015.0]
    assert (p.n_treated, p.n_never) == (5, 9)
    assert p.warnings == [NOTE]
    by_hand = _cs_simple_by_hand(Y, PERIODS, expected)
    assert _cs(p) == pytest.approx(by_hand, abs=1e-10)
    # the input array is not modified
    assert (COHORT == 2018).sum() == 2


def test_from_arrays_without_late_cohorts_has_no_note():
    p = Panel.from_arrays(
        _outcomes(), np.where(COHORT == 2018, 0, COHORT), periods=PERIODS
    )
    assert p.warnings == []


def test_with_cohort_recodes_late_cohorts_as_never_treated():
    Y = _outcomes()
    base = Panel.from_arrays(Y, periods=PERIODS)
    p = base.with_cohort(COHORT.copy())
    expected = np.where(COHORT == 2018, np.inf, COHORT)
    np.testing.assert_array_equal(p.cohort, expected)
    assert (p.n_treated, p.n_never) == (5, 9)
    assert p.warnings == [NOTE]
    assert base.warnings == []  # the original panel is not touched
    assert _cs(p) == pytest.approx(_cs_simple_by_hand(Y, PERIODS, expected), abs=1e-10)


def test_subset_periods_recodes_cohorts_after_the_new_last_period():
    Y = _outcomes()
    inside = np.where(COHORT == 2018, np.inf, COHORT)  # every cohort inside 2010-2015
    p = Panel.from_arrays(Y, inside, periods=PERIODS)
    assert p.warnings == []
    sub = p.subset(periods=PERIODS[:5])  # 2010-2014: the 2015 cohort adopts after it
    expected = np.where(inside == 2015, np.inf, inside)
    np.testing.assert_array_equal(sub.cohort, expected)
    assert sub.cohorts.tolist() == [2012.0]
    assert (sub.n_treated, sub.n_never) == (3, 11)
    assert sub.warnings == [
        "2 unit(s) first treated after the last period (2014) are used as never treated."
    ]
    assert p.warnings == []
    by_hand = _cs_simple_by_hand(Y[:, :5], PERIODS[:5], expected)
    assert _cs(sub) == pytest.approx(by_hand, abs=1e-10)


def test_subset_of_units_only_keeps_cohorts():
    p = Panel.from_arrays(
        _outcomes(), np.where(COHORT == 2018, np.inf, COHORT), periods=PERIODS
    )
    sub = p.subset(units=p.units[:8])
    np.testing.assert_array_equal(sub.cohort, p.cohort[:8])
    assert sub.warnings == []
