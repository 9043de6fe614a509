"""impact.synth on bad input: one donor, a constant outcome, gaps in a donor's series.

Each must raise an ImpactError subclass that names the unit and periods at fault (never a
bare numpy error, a hang or a silent NaN estimate).
"""

from __future__ import annotations

import numpy as np
import pytest

import impact
from impact.errors import DataError, ImpactError
from tests.synth.test_synth_api import BASE, panel


@pytest.fixture(scope="module")
def df():
    data = panel()
    return data[data["la"] != "B"].reset_index(drop=True)


def fit(data, **kw):
    return impact.synth(data, treated_units="A", treatment_time=2008, **BASE, **kw)


@pytest.mark.parametrize("method", ["abadie", "augmented", "sdid"])
def test_one_donor_is_refused_by_name(df, method):
    data = df[df["la"].isin(["A", "d04"])]
    with pytest.raises(DataError, match=r"Only one donor \('d04'\)") as err:
        fit(data, method=method)
    assert isinstance(err.value, ImpactError)
    assert "at least two" in str(err.value)


def test_one_donor_via_donors_argument(df):
    with pytest.raises(DataError, match=r"Only one donor \('d07'\)"):
        fit(df, donors=["d07"])


def test_two_donors_still_fit(df):
    res = fit(df[df["la"].isin(["A", "d00", "d01"])])
    # by construction (test_synth_api.panel) A = 0.6 d00 + 0.4 d01 before 2008 and
    # 3.0 lower after: exact weights (0.6, 0.4) and effect -3.0
    assert res.weights.loc[["d00", "d01"]].tolist() == pytest.approx(
        [0.6, 0.4], abs=1e-6
    )
    assert res.estimate == pytest.approx(-3.0, abs=1e-6)
    assert res.pvalue == pytest.approx(1 / 3)


@pytest.mark.parametrize("method", ["abadie", "sdid"])
def test_constant_outcome_is_refused(df, method):
    data = df.assign(rate=7.5)
    with pytest.raises(DataError, match=r"'rate' is constant \(7.5\).*2000-2007"):
        fit(data, method=method)


def test_constant_treated_unit_alone_still_fits(df):
    data = df.copy()
    data.loc[data["la"] == "A", "rate"] = 40.0
    res = fit(data, inference=None)
    # brute force: the simplex-constrained least-squares fit of the pre-2008 levels
    # by scipy SLSQP (ftol 1e-14), then the mean post-period gap; agrees to ~1e-6
    from scipy.optimize import minimize

    wide = data.pivot(index="la", columns="year", values="rate")
    y0 = wide.drop("A").to_numpy()
    pre = np.asarray(wide.columns < 2008)
    n = y0.shape[0]
    opt = minimize(
        lambda w: np.sum((40.0 - w @ y0[:, pre]) ** 2),
        np.full(n, 1 / n),
        method="SLSQP",
        bounds=[(0, 1)] * n,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    expect = float(np.mean(40.0 - opt.x @ y0[:, ~pre]))
    assert res.estimate == pytest.approx(expect, abs=1e-4)


@pytest.mark.parametrize("method", ["abadie", "augmented", "sdid"])
def test_gap_rows_in_a_donor_named_with_years(df, method):
    data = df[~((df["la"] == "d03") & df["year"].isin([2002, 2003]))]
    with pytest.raises(DataError, match=r"'d03' \(2002-2003\)") as err:
        fit(data, method=method)
    assert "donors=" in str(err.value)


def test_gaps_in_several_donors_all_named(df):
    data = df.copy()
    data.loc[(data["la"] == "d03") & (data["year"] == 2005), "rate"] = np.nan
    data = data[~((data["la"] == "d09") & (data["year"] == 2010))]
    with pytest.raises(DataError, match=r"'d03' \(2005\), 'd09' \(2010\)"):
        fit(data)


def test_input_not_mutated(df):
    data = df.copy()
    before = data.copy()
    with pytest.raises(DataError):
        fit(data, donors=["d01"])
    assert data.equals(before)
