"""impact.data.programmes: the shipped participation table against the DfE panel.

References: the authorities and dates named in ../shared/research/domain.md sections
2.2-2.5 and the pages quoted in each row's ``source``; the DfE local-authority panel
../shared/data/cla_la_panel_2010_2025.csv (DfE codes and names as published, OGL v3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.data import programmes
from impact.data.programmes import PROGRAMME_COLUMNS, cohort_year
from impact.data.treatment import treatment_cohorts
from impact.errors import DataError

SFPC = "Strengthening Families, Protecting Children"


@pytest.fixture(scope="module")
def dfe_panel(reference_data: Path) -> pd.DataFrame:
    return pd.read_csv(
        reference_data / "cla_la_panel_2010_2025.csv", dtype={"old_la_code": str}
    )


def test_columns_and_a_source_for_every_row() -> None:
    table = programmes()
    assert list(table.columns[: len(PROGRAMME_COLUMNS)]) == PROGRAMME_COLUMNS
    assert (table["source"].str.len() > 20).all()
    assert not table.duplicated(["programme", "model", "la_code"]).any()
    assert table["la_code"].str.fullmatch(r"\d{3}").all()


def test_every_authority_is_in_the_dfe_panel_under_that_code_and_name(
    dfe_panel: pd.DataFrame,
) -> None:
    table = programmes()
    pairs = set(zip(dfe_panel["old_la_code"], dfe_panel["la_name"], strict=True))
    missing = [
        (c, n)
        for c, n in zip(table["la_code"], table["la_name"], strict=True)
        if (c, n) not in pairs
    ]
    assert missing == []
    # ... and the authority existed (has a DfE row) in the year before its cohort year
    rows = set(zip(dfe_panel["old_la_code"], dfe_panel["year"], strict=True))
    absent = [
        (c, y - 1)
        for c, y in zip(table["la_code"], table["cohort_year"], strict=True)
        if (c, y - 1) not in rows
    ]
    assert absent == []


def test_counts_named_in_the_sources() -> None:
    sfpc = programmes(programme=SFPC)
    # domain.md 2.4: "The names below add up to 17 adopters" (+ 3 innovators earlier)
    assert len(sfpc) == 17
    assert sfpc.groupby("model").size().to_dict() == {
        "Family Safeguarding": 6,
        "Family Valued": 6,
        "No Wrong Door": 5,
    }
    fs2 = programmes(programme="Innovation Programme round 2")
    assert sorted(fs2["la_name"]) == [
        "Bracknell Forest",
        "Luton",
        "Peterborough",
        "West Berkshire",
    ]
    mock = programmes(programme="Supporting Families: Investing in Practice")
    assert len(mock) == 10  # seven sites, one of them four authorities (Rees Centre)


def test_cohort_years_of_the_family_safeguarding_waves() -> None:
    fs = programmes(model="Family Safeguarding")
    by = dict(
        zip(fs["la_name"] + "|" + fs["programme"], fs["cohort_year"], strict=True)
    )
    assert by["Hertfordshire|Innovation Programme round 1"] == 2016  # "in 2015"
    assert by["Luton|Innovation Programme round 2"] == 2018  # May 2017
    assert by["Cambridgeshire|" + SFPC] == 2020  # February 2020
    assert by["Walsall|" + SFPC] == 2021  # from April 2020
    nwd = programmes(model="No Wrong Door").set_index("la_name")
    assert nwd.loc["Warrington", "cohort_year"] == 2022  # 1 April 2021


def test_cohort_year_rule_brute_force() -> None:
    # every day of 2014-2022 as a start: the reporting year ending 31 March that
    # contains the last day consistent with the precision
    days = pd.Series(pd.date_range("2014-01-01", "2016-12-31", freq="D"))
    for precision in ("day", "month", "year"):
        got = cohort_year(days, pd.Series([precision] * len(days)))
        expected = []
        for d in days:
            if precision == "month":
                d = d + pd.offsets.MonthEnd(0)
            elif precision == "year":
                d = pd.Timestamp(d.year, 12, 31)
            expected.append(d.year if d.month <= 3 else d.year + 1)
        np.testing.assert_array_equal(got, expected)
    with pytest.raises(DataError, match="'week' is not one of"):
        cohort_year(days[:1], pd.Series(["week"]))


def test_filters_and_unknown_names() -> None:
    assert set(programmes(model=["Pause"])["model"]) == {"Pause"}
    with pytest.raises(DataError, match="model \\['Family Safegarding'\\]"):
        programmes(model="Family Safegarding")


def test_usable_as_a_treatment_table(dfe_panel: pd.DataFrame) -> None:
    panel = dfe_panel.rename(columns={"old_la_code": "la_code"})
    panel = panel[~panel["la_code"].isin(["835", "836", "837", "838", "839"])]
    fs = programmes(model="Family Safeguarding")
    out = treatment_cohorts(panel, fs, harmonise=False)
    cohorts = out.groupby("la_code")["cohort"].first()
    assert cohorts["919"] == 2016  # start_precision "year": counts from 2016
    assert cohorts["821"] == 2018
    assert (cohorts != 0).sum() == 11
