"""Treatment tables and impact.data.treatment_cohorts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.data import treatment_cohorts
from impact.data.treatment import read_treatment_table, validate_treatment_table
from impact.errors import DataError, ImpactWarning, SpecError


def _panel(units: list[str], years: range = range(2015, 2026)) -> pd.DataFrame:
    return pd.DataFrame(
        [(u, y, 50.0) for u in units for y in years],
        columns=["la_code", "year", "rate"],
    )


def _table(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        rows, columns=["la_code", "programme", "model", "start_date", "scope", "source"]
    )


TABLE = _table(
    [
        (
            "919",
            "Innovation Programme",
            "Family Safeguarding",
            "2015-01-05",
            "whole_system",
            "Forrester et al. 2017",
        ),
        (
            "874",
            "Innovation Programme",
            "Family Safeguarding",
            "2017-05-01",
            "whole_system",
            "innovationcsc.co.uk",
        ),
        ("877", "SFPC", "No Wrong Door", "2021-04-01", "service", "Warrington Council"),
        ("877", "SFIP", "Mockingbird", "2020-09", "cohort", "Rees Centre"),
        ("839", "Families First", "Pathfinder", "2023-07-01", "whole_system", "DfE"),
    ]
)


def test_cohorts_follow_the_year_ending_31_march() -> None:
    panel = _panel(["919", "874", "877", "890", "DORSET_AREA"])
    before = panel.copy()
    out = treatment_cohorts(panel, TABLE)
    pd.testing.assert_frame_equal(panel, before)  # input untouched
    cohort = out.groupby("la_code")["cohort"].first().to_dict()
    # 5 Jan 2015 falls in the year ending 31 Mar 2015; 1 May 2017 -> 2018; Warrington's
    # earliest start (Sep 2020, Mockingbird) -> 2021; BCP (839) maps to DORSET_AREA.
    assert cohort == {
        "919": 2015,
        "874": 2018,
        "877": 2021,
        "890": 0,
        "DORSET_AREA": 2024,
    }
    info = {row["unit"]: row for row in out.attrs["treatment"]}
    assert info["877"]["model"] == "Mockingbird"
    assert info["DORSET_AREA"]["start_date"] == "2023-07-01"
    assert out["cohort"].dtype == np.int64


def test_filters_exposure_and_calendar_years() -> None:
    panel = _panel(["919", "874", "877", "890", "DORSET_AREA"])
    only_sfpc = treatment_cohorts(panel, TABLE, programme="SFPC", name="sfpc")
    assert only_sfpc.groupby("la_code")["sfpc"].first()["877"] == 2022
    assert only_sfpc.groupby("la_code")["sfpc"].first()["919"] == 0
    # six months of operation before a year counts: 1 May 2017 + 6m -> year ending Mar 2018
    exposed = treatment_cohorts(panel, TABLE, min_exposure_months=6)
    assert exposed.groupby("la_code")["cohort"].first()["874"] == 2018
    assert exposed.groupby("la_code")["cohort"].first()["919"] == 2016
    calendar = treatment_cohorts(
        panel, TABLE, year_end_month=12, model=["Family Safeguarding"]
    )
    assert calendar.groupby("la_code")["cohort"].first()["874"] == 2017
    whole = treatment_cohorts(panel, TABLE, scope="cohort")
    assert set(whole.loc[whole["cohort"] > 0, "la_code"]) == {"877"}


def test_start_after_last_period_is_never_treated_with_note() -> None:
    with pytest.warns(ImpactWarning, match=r"not in the panel"):
        out = treatment_cohorts(
            _panel(["919", "890"], range(2010, 2014)), TABLE, unknown="drop"
        )
    assert (out["cohort"] == 0).all()
    assert "start after the last period 2013" in out.attrs["treatment_notes"][0]


def test_unknown_codes() -> None:
    panel = _panel(["919", "890"])
    with pytest.raises(
        DataError,
        match=r"treatment table row 3, column 'la_code': authority '874' is not a unit",
    ):
        treatment_cohorts(panel, TABLE)
    with pytest.warns(
        ImpactWarning, match=r"4 treatment row\(s\) name authorities not in the panel"
    ):
        out = treatment_cohorts(panel, TABLE, unknown="drop")
    assert out.groupby("la_code")["cohort"].first().to_dict() == {"890": 0, "919": 2015}
    # without harmonisation BCP (839) is not a unit of a harmonised panel
    with pytest.raises(DataError, match=r"authority '839' is not a unit"):
        treatment_cohorts(
            _panel(["919", "874", "877", "DORSET_AREA"]), TABLE, harmonise=False
        )


def test_integer_unit_codes_are_matched_as_text() -> None:
    panel = _panel(["919", "890"]).assign(la_code=lambda d: d["la_code"].astype(int))
    out = treatment_cohorts(panel, TABLE.iloc[:1])
    assert out.groupby("la_code")["cohort"].first().to_dict() == {890: 0, 919: 2015}


@pytest.mark.parametrize(
    ("table", "match"),
    [
        (TABLE.drop(columns="scope"), r"missing column\(s\) \['scope'\]"),
        (
            TABLE.assign(start_date=["2015-13-01", *TABLE["start_date"][1:]]),
            r"row 2, column 'start_date': '2015-13-01' is not a date",
        ),
        (
            TABLE.assign(scope=["whole_system", "everything", *TABLE["scope"][2:]]),
            r"row 3, column 'scope': 'everything' is not one of",
        ),
        (
            TABLE.assign(la_code=["919", "", *TABLE["la_code"][2:]]),
            r"row 3, column 'la_code': blank value",
        ),
        (
            pd.concat([TABLE, TABLE.iloc[:1]]),
            r"rows 2 and 7 list authority 919 with the same programme and model twice",
        ),
    ],
)
def test_bad_tables(table: pd.DataFrame, match: str) -> None:
    with pytest.raises(DataError, match=match):
        validate_treatment_table(table)


def test_bad_options_and_panels() -> None:
    panel = _panel(["919"])
    with pytest.raises(
        SpecError, match=r"The 'unknown' parameter of treatment_cohorts"
    ):
        treatment_cohorts(panel, TABLE, unknown="ignore")
    with pytest.raises(SpecError, match=r"'year_end_month' parameter"):
        treatment_cohorts(panel, TABLE, year_end_month=13)
    with pytest.raises(SpecError, match=r"'min_exposure_months' parameter"):
        treatment_cohorts(panel, TABLE, min_exposure_months=-1)
    with pytest.raises(DataError, match=r"column 'unit_id' not found in the panel"):
        treatment_cohorts(panel, TABLE, unit="unit_id")
    with pytest.raises(DataError, match=r"already has a column 'rate'"):
        treatment_cohorts(panel, TABLE, name="rate")


def test_csv_round_trip_and_panel(tmp_path: Path) -> None:
    from impact.panel import Panel

    path = tmp_path / "treatment.csv"
    TABLE.to_csv(path, index=False)
    table = read_treatment_table(path)
    assert table["start_date"].dt.year.tolist() == [2015, 2017, 2021, 2020, 2023]
    panel = _panel(["919", "874", "877", "890", "DORSET_AREA"], range(2012, 2026))
    out = treatment_cohorts(panel, path)
    p = Panel(out, unit="la_code", time="year", outcome="rate", cohort="cohort")
    assert p.n_treated == 4
    with pytest.raises(
        DataError, match=r"read_treatment_table: file .*missing.csv not found"
    ):
        read_treatment_table(tmp_path / "missing.csv")
