"""Panel validation rules that no other default test triggered (line coverage of the
default suite, /work/cov, December 2026): each case must raise DataError/SpecError
naming the column, unit or period at fault. Removing a rule makes its case pass
silently (or fail later with a bare numpy error), so each case fails.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError, SpecError
from impact.panel import Panel


def _long(n: int = 4, t: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "u": np.repeat([f"u{i}" for i in range(n)], t),
            "t": np.tile(np.arange(2010, 2010 + t), n),
            "y": rng.normal(size=n * t) + 10,
            "g": np.repeat([2012.0, np.nan] + [np.nan] * (n - 2), t),
        }
    )


KW = {"unit": "u", "time": "t", "outcome": "y"}


def _raises(exc: type[Exception], match: str, df: pd.DataFrame, **kw: object) -> None:
    with pytest.raises(exc, match=match):
        Panel(df, **{**KW, **kw})  # type: ignore[arg-type]


def test_constructor_rules() -> None:
    df = _long()
    _raises(
        SpecError,
        "numerator= and denominator= must be given together",
        df,
        numerator="y",
    )
    _raises(DataError, "The data have no rows", df.iloc[:0])
    bad = df.copy()
    bad.loc[5, "u"] = None
    _raises(
        DataError, r"Column 'u' \(unit=\) has missing values \(first at row 5\)", bad
    )
    bad = df.astype({"t": float})
    bad.loc[6, "t"] = np.nan
    _raises(
        DataError, r"Column 't' \(time=\) has missing values \(first for u='u1'\)", bad
    )
    bad = df.copy()
    bad["g"] = bad["g"].astype(object)
    bad.loc[0, "g"] = "soon"
    _raises(
        DataError,
        r"Column 'g' \(cohort=\) must be numeric .*found 'soon' at u='u0'",
        bad,
        cohort="g",
    )
    bad = df.copy()
    bad.loc[bad["u"] == "u0", "g"] = 2012.5
    _raises(
        DataError,
        r"Column 'g' \(cohort=\) must hold integer periods; found 2012.5",
        bad,
        cohort="g",
    )


def test_rate_cluster_and_missing_rules() -> None:
    df = _long().assign(num=5.0, den=100.0, cl="a")
    bad = df.copy()
    bad.loc[3, "den"] = 0.0
    _raises(
        DataError,
        r"Column 'den' \(denominator=\) is zero at u='u0', t=2013",
        bad,
        numerator="num",
        denominator="den",
        outcome="rate",
    )
    bad = df.copy()
    bad.loc[2, "cl"] = None
    _raises(
        DataError,
        r"Column 'cl' \(cluster=\) is missing for u='u0', t=2012",
        bad,
        cluster="cl",
    )
    bad = df.copy()
    bad.loc[bad["u"] == "u1", "cl"] = ["a", "a", "b", "b"]
    _raises(
        DataError,
        r"Column 'cl' \(cluster=\) changes over time within u='u1'",
        bad,
        cluster="cl",
    )
    bad = df.assign(y=np.nan)
    _raises(DataError, r"Every row has a missing value in \['y'\]", bad, balance="keep")
    # balance='drop' with every unit missing a period: nothing left
    gappy = df.drop(index=[0, 5, 10, 15])
    _raises(DataError, "No unit is observed in every period", gappy, balance="drop")
    # every unit treated from the first period: dropped as always treated
    always = df.assign(g=2010.0)
    with pytest.warns(Warning):
        _raises(
            DataError,
            "No units are left after dropping always-treated units",
            always,
            cohort="g",
        )


def test_array_constructor_and_copies() -> None:
    with pytest.raises(DataError, match=r"Y must be a 2-D \(units x periods\) array"):
        Panel.from_arrays(np.ones((3, 1)))
    Y = np.arange(12.0).reshape(3, 4)
    Y[1, 2] = np.nan
    with pytest.raises(
        DataError, match="missing or infinite value at unit 1, period 2"
    ):
        Panel.from_arrays(Y)
    p = Panel.from_arrays(np.arange(12.0).reshape(3, 4) + 1, periods=[1, 2, 3, 4])
    with pytest.raises(DataError, match=r"New outcome has values as large as 1e\+300"):
        p.with_outcome(np.full((3, 4), 1e300))
    with pytest.raises(
        DataError, match=r"New cohort has shape \(2,\); expected \(3,\)"
    ):
        p.with_cohort(np.array([np.inf, 2.0]))
    with pytest.raises(DataError, match=r"Unit\(s\) \[7\] not in the panel"):
        p.subset(units=[0, 7])
    with pytest.raises(DataError, match=r"Period\(s\) \[9\] not in the panel"):
        p.subset(periods=[1, 9])
    with pytest.raises(DataError, match="A panel needs at least two periods"):
        p.subset(periods=[2])


def test_treatment_rules_on_the_whole_panel() -> None:
    df = _long()
    _raises(
        DataError,
        "Every unit is treated in the same period",
        df.assign(g=2012.0),
        cohort="g",
    )
    p = Panel(df.assign(g=2030.0), **KW, cohort="g")  # adopts after the last period
    assert "No unit is treated in the observed periods." in p.warnings
    p = Panel(df.assign(g=np.nan), **KW, cohort="g")
    assert "No unit is treated in the observed periods." in p.warnings
