"""``Panel.from_arrays`` and ``Panel.with_cohort`` drop units treated in the first period.

The constructor drops units already treated in the panel's first period (no pre-period
to compare) with an ``ImpactWarning`` and a note in ``Panel.warnings``, and
``subset(periods=...)`` does the same. ``from_arrays`` and ``with_cohort`` used to keep
such units, treated throughout. They now apply the same rule with the same words; the
references are the hand-written note, the constructor on the same data in long form,
and the raw rows of the kept units.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError, ImpactWarning
from impact.panel import Panel

PERIODS = np.arange(2010, 2016)
UNITS = np.array([f"E0{k}" for k in range(8)])
#: E01 and E04 adopt in 2010 (the first period), E02 in 2012, E03 in 2014; rest never
COHORT = np.array([np.inf, 2010.0, 2012.0, 2014.0, 2010.0, np.inf, np.inf, np.inf])
KEPT = [0, 2, 3, 5, 6, 7]
NOTE = (
    "Dropped 2 unit(s) already treated in the first period 2010 (no pre-period to "
    "compare): 'E01', 'E04'."
)


def _arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    shape = (len(UNITS), len(PERIODS))
    return rng.normal(size=shape), rng.normal(size=shape), rng.uniform(1, 2, shape)


def _from_arrays(cohort: np.ndarray) -> Panel:
    Y, X, W = _arrays()
    return Panel.from_arrays(
        Y,
        cohort,
        units=UNITS,
        periods=PERIODS,
        covariates={"x": X},
        weights=W,
        clusters=np.array(list("aabbccdd")),
    )


def test_from_arrays_drops_units_treated_in_the_first_period():
    Y, X, W = _arrays()
    cohort = COHORT.copy()
    with pytest.warns(ImpactWarning) as record:
        p = _from_arrays(cohort)
    assert [str(w.message) for w in record] == [NOTE]
    assert p.warnings == [NOTE]
    assert list(p.units) == list(UNITS[KEPT])
    np.testing.assert_array_equal(p.cohort, COHORT[KEPT])
    np.testing.assert_array_equal(p.Y, Y[KEPT])
    np.testing.assert_array_equal(p.X["x"], X[KEPT])
    np.testing.assert_array_equal(p.W, W[KEPT])
    assert list(p.clusters) == [list("aabbccdd")[k] for k in KEPT]
    assert p.observed.shape == p.Y.shape
    assert not p.D[:, 0].any()
    np.testing.assert_array_equal(cohort, COHORT)  # input untouched


def test_from_arrays_matches_the_constructor_word_for_word():
    Y, _, _ = _arrays()
    n, t = Y.shape
    df = pd.DataFrame(
        {
            "unit": np.repeat(UNITS, t),
            "time": np.tile(PERIODS, n),
            "y": Y.ravel(),
            "first": np.repeat(COHORT, t),
        }
    )
    with pytest.warns(ImpactWarning):
        direct = Panel(df, unit="unit", time="time", outcome="y", cohort="first")
    with pytest.warns(ImpactWarning):
        p = Panel.from_arrays(Y, COHORT.copy(), units=UNITS, periods=PERIODS)
    assert p.warnings == direct.warnings == [NOTE]
    assert list(p.units) == list(direct.units)
    np.testing.assert_array_equal(p.cohort, direct.cohort)
    np.testing.assert_array_equal(p.Y, direct.Y)


def test_with_cohort_drops_units_treated_in_the_first_period():
    Y, X, _ = _arrays()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImpactWarning)
        base = _from_arrays(np.full(len(UNITS), np.inf))
    with pytest.warns(ImpactWarning) as record:
        p = base.with_cohort(COHORT.copy())
    assert [str(w.message) for w in record] == [NOTE]
    assert p.warnings == [NOTE]
    assert base.warnings == [] and base.n_units == len(UNITS)  # original untouched
    assert list(p.units) == list(UNITS[KEPT])
    np.testing.assert_array_equal(p.cohort, COHORT[KEPT])
    np.testing.assert_array_equal(p.Y, Y[KEPT])
    np.testing.assert_array_equal(p.X["x"], X[KEPT])
    assert len(p.clusters) == len(KEPT) and p.W.shape == p.Y.shape


def test_adoption_in_the_second_period_drops_nobody():
    cohort = np.where(COHORT == 2010, 2011.0, COHORT)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ImpactWarning)
        p = _from_arrays(cohort)
        q = _from_arrays(np.full(len(UNITS), np.inf)).with_cohort(cohort)
    assert p.n_units == q.n_units == len(UNITS)
    assert p.warnings == q.warnings == []


def test_dropping_every_unit_raises():
    every = np.full(len(UNITS), 2010.0)
    with pytest.warns(ImpactWarning), pytest.raises(DataError, match="No units"):
        _from_arrays(every)
    base = _from_arrays(np.full(len(UNITS), np.inf))
    with pytest.warns(ImpactWarning), pytest.raises(DataError, match="No units"):
        base.with_cohort(every)
