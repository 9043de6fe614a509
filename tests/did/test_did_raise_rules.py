"""Input rules of the DiD estimators that no default test reached (line coverage of
tests/did, tests/inference, tests/diagnostics and tests/contract, December 2026).

Each test calls a public entry point (``impact.did``, ``impact.bacon``, result methods,
``honest_sensitivity``, ``cell_means``) with one bad input and checks the error class
and that the message names the offending option, column, unit or period. The expected
messages are the rule as stated in the code; each rule is switched off by an entry in
tools/mutations/did_raise_rules.json, under which the call runs on (with the option
ignored, or a bare numpy/pandas error, or a silent NaN) and the test fails.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError

KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}
SW = {"outcome": "y", "unit": "unit", "time": "year", "treated": "tr"}


def _panel(cohorts: list[int] | None = None, n_t: int = 6) -> pd.DataFrame:
    """12 units x 6 years (2000-2005): cohorts 2003, 2004 and never treated (0)."""
    rng = np.random.default_rng(5)
    cohort = np.array(
        cohorts if cohorts is not None else [2003] * 4 + [2004] * 4 + [0] * 4
    )
    n = len(cohort)
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2000 + np.arange(n_t), n),
            "y": rng.normal(size=n * n_t),
            "x": rng.normal(size=n * n_t),
            "cohort": np.repeat(cohort, n_t),
        }
    )


def _switching() -> pd.DataFrame:
    """The default panel with its absorbing 0/1 indicator as treated= column tr."""
    df = _panel()
    return df.assign(tr=((df["cohort"] > 0) & (df["year"] >= df["cohort"])).astype(int))


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- method="dcdh": the treated= column ---------------------------------------------


def test_dcdh_treated_column_must_exist() -> None:
    with pytest.raises(DataError, match=r"Column 'nope' \(treated=\) not found"):
        impact.did(_switching(), **{**SW, "treated": "nope"}, method="dcdh")


def test_dcdh_treated_must_be_0_or_1_naming_value_unit_and_period() -> None:
    """Row 5 is unit 'u0' in 2005. The values are shown as plain Python values
    (``0.5``, ``'u0'``, ``2005``), not numpy reprs such as ``np.float64(0.5)``."""
    df = _switching().astype({"tr": float})
    df["unit"] = "u" + df["unit"].astype(str)
    df.loc[5, "tr"] = 0.5
    with pytest.raises(
        DataError,
        match=r"Column 'tr' \(treated=\) must be 0 or 1; found 0\.5 at unit='u0', "
        r"year=2005\.$",
    ):
        impact.did(df, **SW, method="dcdh")


def test_dcdh_gap_in_treated_names_unit_and_period() -> None:
    """Dropping row 7 (unit 1, 2001) with balance='keep' leaves no treatment value
    there; without the rule the NaN would enter the switcher design."""
    df = _switching().drop(index=[7]).reset_index(drop=True)
    with pytest.raises(
        DataError,
        match=r"Column 'tr' \(treated=\) is missing for unit=1, year=2001; fill it in",
    ):
        impact.did(df, **SW, method="dcdh", balance="keep")


def test_dcdh_treatment_that_never_changes_is_refused() -> None:
    """Units 0-3 treated in every year, the rest never: nobody switches."""
    df = _switching().assign(tr=lambda d: (d["unit"] < 4).astype(int))
    with pytest.raises(DataError, match="The treatment never changes: method='dcdh'"):
        impact.did(df, **SW, method="dcdh")


def test_dcdh_every_unit_switching_at_once_has_no_comparison() -> None:
    """Every unit switches on in 2003: no not-yet-switched unit to compare with."""
    df = _switching().assign(tr=lambda d: (d["year"] >= 2003).astype(int))
    with pytest.raises(DataError, match="No switcher has a comparison unit"):
        impact.did(df, **SW, method="dcdh")


def test_dcdh_units_switching_more_than_once_are_refused() -> None:
    """tr alternates 0/1 every year in every unit."""
    df = _switching().assign(tr=lambda d: (d["year"] % 2 == d["unit"] % 2).astype(int))
    with pytest.raises(
        DataError, match="Every unit's treatment changes more than once"
    ):
        impact.did(df, **SW, method="dcdh")
