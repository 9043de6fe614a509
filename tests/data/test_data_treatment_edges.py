"""treatment_cohorts at its boundaries, against the rule as DfE defines the reporting
year (SOURCES.md: CLA figures are at 31 March; the year ending 31 March Y is year Y):
a start on or before 31 March Y is cohort Y, from 1 April it is Y + 1; a cohort after
the panel's last year is never treated within the panel (with a note), a cohort in
the last year is kept."""

from __future__ import annotations

import pandas as pd
import pytest

from impact.data import treatment_cohorts


def _panel(units: list[str], years: range) -> pd.DataFrame:
    return pd.DataFrame(
        [(u, y, 50.0) for u in units for y in years],
        columns=["la_code", "year", "rate"],
    )


def _table(starts: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            (code, "Programme", "Model", start, "whole_system", "test")
            for code, start in starts.items()
        ],
        columns=["la_code", "programme", "model", "start_date", "scope", "source"],
    )


@pytest.mark.parametrize(
    ("start", "cohort"),
    [
        ("2018-03-01", 2018),
        ("2018-03-31", 2018),
        ("2018-04-01", 2019),
        ("2018-12-31", 2019),
        ("2019-01-01", 2019),
    ],
)
def test_reporting_year_ending_31_march(start: str, cohort: int) -> None:
    out = treatment_cohorts(_panel(["890"], range(2015, 2024)), _table({"890": start}))
    assert out.groupby("la_code")["cohort"].first()["890"] == cohort


def test_cohort_in_the_last_year_kept_after_it_never_treated() -> None:
    panel = _panel(["890", "919", "874"], range(2015, 2021))  # last year 2020
    table = _table({"890": "2020-02-01", "919": "2020-05-01", "874": "2021-05-01"})
    out = treatment_cohorts(panel, table)
    cohort = out.groupby("la_code")["cohort"].first().to_dict()
    # 890: year ending Mar 2020 (the last year) is treated; 919: 2021, one year
    # after the panel; 874: 2022
    assert cohort == {"890": 2020, "919": 0, "874": 0}
    assert out.attrs["treatment_notes"] == [
        "2 unit(s) start after the last period 2020; coded as never treated within "
        "the panel."
    ]


def test_latest_start_of_an_imprecise_date() -> None:
    # a start known to the month is at the latest that month's last day (29 Feb in a
    # leap year); to the year, 31 December; to the day, itself
    from impact.data.programmes import latest_start

    start = pd.Series(pd.to_datetime(["2020-02-01", "2021-01-01", "2019-05-17"]))
    got = latest_start(start, pd.Series(["month", "year", "day"]))
    assert got.dt.strftime("%Y-%m-%d").tolist() == [
        "2020-02-29",
        "2021-12-31",
        "2019-05-17",
    ]
