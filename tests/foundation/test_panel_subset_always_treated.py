"""``Panel.subset(periods=...)`` drops units already treated in the first kept period.

The constructor drops units treated in the panel's first period (no pre-period to
compare), with an ``ImpactWarning`` and a note in ``Panel.warnings``. ``subset`` used to
keep such units when the cut moved the first period past their adoption, so they sat in
the panel treated throughout. It now applies the same rule with the same words; the
reference is the hand-written note and the raw outcome rows of the kept units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError, ImpactWarning
from impact.panel import Panel

PERIODS = np.arange(2010, 2017)
UNITS = np.array([f"E0{k}" for k in range(10)])
#: E00-E01 adopt in 2012, E02 in 2013, E03-E04 in 2015; E05-E09 never
COHORT = np.array([2012.0, 2012.0, 2013.0, 2015.0, 2015.0] + [np.inf] * 5)


def _long() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    Y = rng.normal(size=(len(UNITS), len(PERIODS)))
    n, t = Y.shape
    df = pd.DataFrame(
        {
            "unit": np.repeat(UNITS, t),
            "time": np.tile(PERIODS, n),
            "y": Y.ravel(),
            "first": np.repeat(COHORT, t),
        }
    )
    return df, Y


def _panel(df: pd.DataFrame) -> Panel:
    return Panel(df, unit="unit", time="time", outcome="y", cohort="first")


NOTE = (
    "Dropped 3 unit(s) already treated in the first period 2013 (no pre-period to "
    "compare): 'E00', 'E01', 'E02'."
)


def test_subset_periods_drops_units_treated_in_the_first_kept_period():
    df, Y = _long()
    panel = _panel(df)
    assert panel.warnings == []
    keep = PERIODS[PERIODS >= 2013]
    with pytest.warns(ImpactWarning) as record:
        sub = panel.subset(periods=keep)
    assert [str(w.message) for w in record] == [NOTE]
    assert sub.warnings == [NOTE]
    assert list(sub.units) == list(UNITS[3:])
    np.testing.assert_array_equal(sub.cohort, COHORT[3:])
    np.testing.assert_array_equal(sub.Y, Y[3:, 3:])
    assert sub.observed.shape == sub.Y.shape
    assert len(sub.clusters) == 7
    assert not sub.D[:, 0].any()


def test_subset_note_is_the_constructors_word_for_word():
    df, _ = _long()
    with pytest.warns(ImpactWarning):
        direct = _panel(df.loc[df["time"] >= 2013])
    assert direct.warnings == [NOTE]
    with pytest.warns(ImpactWarning):
        sub = _panel(df).subset(periods=PERIODS[PERIODS >= 2013])
    assert sub.warnings == direct.warnings
    assert list(sub.units) == list(direct.units)
    np.testing.assert_array_equal(sub.cohort, direct.cohort)


def test_subset_keeping_the_first_period_drops_nobody():
    df, Y = _long()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ImpactWarning)
        sub = _panel(df).subset(periods=PERIODS[:6])
    assert list(sub.units) == list(UNITS)
    assert sub.warnings == []
    np.testing.assert_array_equal(sub.Y, Y[:, :6])


def test_subset_dropping_every_unit_raises():
    df, _ = _long()
    df = df.assign(first=np.where(df["first"] == np.inf, 2014.0, df["first"]))
    panel = _panel(df)
    with pytest.warns(ImpactWarning), pytest.raises(DataError, match="No units"):
        panel.subset(periods=[2015, 2016])
