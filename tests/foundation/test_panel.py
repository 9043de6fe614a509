"""Panel validation: every rule raises a DataError naming the column, unit and period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impact import Panel, as_panel
from impact.errors import DataError, ImpactError, ImpactWarning, SpecError


def make_frame(n_units: int = 6, periods: range = range(2010, 2016)) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n_units):
        cohort = 2013 if i < 2 else (2014 if i < 3 else 0)
        for t in periods:
            rows.append(
                {
                    "la": f"LA{i:02d}",
                    "year": t,
                    "rate": 60 + rng.normal(),
                    "first": cohort,
                    "d": int(cohort and t >= cohort),
                    "pop": 1000.0 + 10 * i,
                    "count": 6 + i,
                    "x": rng.normal(),
                }
            )
    return pd.DataFrame(rows)


COLS = dict(unit="la", time="year", outcome="rate")


def test_arrays_and_cohorts():
    df = make_frame()
    p = Panel(df, **COLS, cohort="first", covariates="x", weights="pop")
    assert p.Y.shape == (6, 6)
    assert list(p.units) == [f"LA{i:02d}" for i in range(6)]
    assert list(p.periods) == list(range(2010, 2016))
    assert p.cohort[:3].tolist() == [2013, 2013, 2014]
    assert np.isinf(p.cohort[3:]).all()
    assert p.D.sum() == 3 + 3 + 2
    assert p.n_treated == 3 and p.n_never == 3
    assert p.X["x"].shape == (6, 6) and p.W is not None
    np.testing.assert_allclose(p.Y[0], df.loc[df.la == "LA00", "rate"].to_numpy())


def test_treated_indicator_gives_same_cohorts_as_cohort_column():
    df = make_frame()
    a = Panel(df, **COLS, cohort="first")
    b = Panel(df, **COLS, treated="d")
    np.testing.assert_array_equal(a.cohort, b.cohort)


def test_rate_from_counts():
    df = make_frame().drop(columns="rate")
    p = Panel(
        df, unit="la", time="year", outcome="rate", numerator="count", denominator="pop"
    )
    np.testing.assert_allclose(p.Y[0, 0], 6 / 1000 * 10_000)


def test_missing_column():
    with pytest.raises(DataError, match=r"Column 'rates' \(outcome=\) not found"):
        Panel(make_frame(), unit="la", time="year", outcome="rates")


def test_duplicated_rows_name_the_first():
    df = make_frame()
    df = pd.concat([df, df.iloc[[7]]])
    with pytest.raises(
        DataError, match=r"Duplicated \(unit, time\).*la='LA01', year=2011"
    ):
        Panel(df, **COLS)


def test_non_numeric_outcome():
    df = make_frame()
    df["rate"] = df["rate"].astype(object)
    df.loc[3, "rate"] = "c"
    with pytest.raises(
        DataError,
        match=r"'rate' \(outcome=\) must be numeric; found 'c' at la='LA00', year=2013",
    ):
        Panel(df, **COLS)


def test_missing_outcome():
    df = make_frame()
    df.loc[8, "rate"] = np.nan
    with pytest.raises(
        DataError,
        match=r"'rate' has 1 missing value\(s\), the first at la='LA01', year=2012",
    ):
        Panel(df, **COLS)


def test_infinite_outcome():
    df = make_frame()
    df.loc[2, "rate"] = np.inf
    with pytest.raises(DataError, match=r"infinite value at la='LA00', year=2012"):
        Panel(df, **COLS)


def test_non_integer_time():
    df = make_frame()
    df["year"] = df["year"] + 0.5
    with pytest.raises(
        DataError, match=r"'year' \(time=\) must hold integer periods; found 2010.5"
    ):
        Panel(df, **COLS)


def test_non_numeric_time():
    df = make_frame()
    df["year"] = df["year"].astype(str)
    with pytest.raises(DataError, match=r"'year' \(time=\) must hold integer periods"):
        Panel(df, **COLS)


def test_treatment_switching_off():
    df = make_frame()
    df.loc[(df.la == "LA00") & (df.year == 2015), "d"] = 0
    with pytest.raises(DataError, match=r"switches off for la='LA00' in year=2015"):
        Panel(df, **COLS, treated="d")


def test_cohort_varying_within_unit():
    df = make_frame()
    df.loc[(df.la == "LA01") & (df.year == 2012), "first"] = 2014
    with pytest.raises(DataError, match=r"varies within la='LA01'"):
        Panel(df, **COLS, cohort="first")


def test_units_treated_in_first_period_are_dropped_with_warning():
    df = make_frame()
    df.loc[df.la == "LA00", "first"] = 2010
    with pytest.warns(ImpactWarning, match="already treated in the first period"):
        p = Panel(df, **COLS, cohort="first")
    assert "LA00" not in p.units and p.n_units == 5
    assert any("first period" in w for w in p.warnings)


def test_unbalanced_refused_then_dropped():
    df = make_frame().drop(index=[9])
    with pytest.raises(
        DataError, match=r"unbalanced: 1 unit\(s\).*la='LA01' year=2013.*balance='drop'"
    ):
        Panel(df, **COLS)
    p = Panel(df, **COLS, balance="drop")
    assert p.n_units == 5 and any("Dropped 1 unit" in w for w in p.warnings)


def test_no_comparison_units():
    df = make_frame()
    df["first"] = 2013
    with pytest.raises(DataError, match="no untreated comparison unit"):
        Panel(df, **COLS, cohort="first")


def test_fewer_than_two_periods():
    df = make_frame(periods=range(2010, 2011))
    with pytest.raises(DataError, match="single period"):
        Panel(df, **COLS)


def test_negative_counts():
    df = make_frame()
    df.loc[4, "count"] = -1
    with pytest.raises(
        DataError, match=r"'count' has a negative count -1 at la='LA00', year=2014"
    ):
        Panel(
            df,
            unit="la",
            time="year",
            outcome="r",
            numerator="count",
            denominator="pop",
        )


@pytest.mark.parametrize("bad", [-5.0, -0.5, -1e-9])
def test_negative_weights(bad):
    # the rule is w >= 0: any negative weight, however small, is refused
    df = make_frame()
    df.loc[4, "pop"] = bad
    with pytest.raises(DataError, match=r"'pop' \(weights=\) is negative at la='LA00'"):
        Panel(df, **COLS, weights="pop")


def test_a_zero_weight_is_allowed():
    # w >= 0 includes 0: a row with weight 0 is accepted and kept as given
    df = make_frame()
    df.loc[4, "pop"] = 0.0
    panel = Panel(df, **COLS, weights="pop")
    assert (panel.frame["pop"] == 0).sum() == 1


def test_cohort_and_treated_both_given():
    with pytest.raises(SpecError, match="either cohort="):
        Panel(make_frame(), **COLS, cohort="first", treated="d")


def test_ambiguous_zero_cohort():
    df = make_frame(periods=range(0, 5))
    with pytest.raises(DataError, match="0 is also a period"):
        Panel(df, **COLS, cohort="first")


def test_balance_option_checked():
    with pytest.raises(SpecError, match=r"'balance' parameter of Panel must be one of"):
        Panel(make_frame(), **COLS, balance="fill")  # type: ignore[arg-type]


def test_errors_are_value_errors():
    assert issubclass(DataError, ImpactError) and issubclass(ImpactError, ValueError)


def test_not_a_dataframe():
    with pytest.raises(DataError, match="needs a pandas DataFrame"):
        Panel([1, 2, 3], **COLS)  # type: ignore[arg-type]


def test_as_panel_passthrough_and_required_columns():
    p = Panel(make_frame(), **COLS)
    assert as_panel(p) is p
    with pytest.raises(SpecError, match="outcome= is required"):
        as_panel(make_frame(), unit="la", time="year")


def test_subset_with_outcome_with_cohort():
    p = Panel(make_frame(), **COLS, cohort="first")
    s = p.subset(units=["LA00", "LA05"], periods=[2011, 2012, 2013])
    assert s.Y.shape == (2, 3) and s.cohort[0] == 2013
    q = p.with_outcome(p.Y + 1)
    np.testing.assert_allclose(q.Y - p.Y, 1)
    r = p.with_cohort(np.full(p.n_units, np.inf))
    assert r.n_treated == 0 and p.n_treated == 3
    assert len(r.frame) == 36 and r.frame["_treated"].sum() == 0


def test_from_arrays():
    Y = np.arange(12.0).reshape(3, 4)
    p = Panel.from_arrays(Y, np.array([2, np.nan, 0]))
    assert p.n_treated == 1 and p.D.sum() == 2


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), shuffle_columns=st.booleans())
def test_row_and_column_order_do_not_matter_and_input_untouched(seed, shuffle_columns):
    df = make_frame()
    rng = np.random.default_rng(seed)
    shuffled = df.sample(frac=1.0, random_state=rng.integers(1 << 31)).reset_index(
        drop=True
    )
    if shuffle_columns:
        shuffled = shuffled[list(rng.permutation(shuffled.columns))]
    before = shuffled.copy(deep=True)
    a = Panel(df, **COLS, cohort="first", covariates=["x"])
    b = Panel(shuffled, **COLS, cohort="first", covariates=["x"])
    np.testing.assert_array_equal(a.Y, b.Y)
    np.testing.assert_array_equal(a.cohort, b.cohort)
    np.testing.assert_array_equal(a.X["x"], b.X["x"])
    pd.testing.assert_frame_equal(shuffled, before)


def test_one_column_in_two_roles():
    with pytest.raises(SpecError, match=r"'year' is given as both time= and outcome="):
        Panel(make_frame(), unit="la", time="year", outcome="year")
