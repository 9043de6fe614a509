"""impact.data.dfe edge rules on small files in the published EES / SFR layouts.

References written here from the layouts documented in ../shared/data/SOURCES.md:
a harmonised area's count is the sum of its members only when every member is
published (a suppressed member makes the area missing, with the member's reason); a
rate derived from a count needs a positive child population (count / pop * 10,000).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.data.dfe import cla_panel, read_cla

EES25 = (
    "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
    "region_name,old_la_code,la_name,new_la_code,population_type,population_estimate,"
    "children_count,rate_per_10000\n"
)
ON = "Children looked after on 31 March each year"


def _row(
    year: int, code: str, name: str, pop: object, count: object, rate: object
) -> str:
    return (
        f"{year},Reporting year,Local authority,E92000001,England,,,{code},{name},,"
        f"{ON},{pop},{count},{rate}\n"
    )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_harmonised_area_with_a_suppressed_member_is_missing(tmp_path: Path) -> None:
    # Cumbria's successors 942 (Cumberland, suppressed 'c') and 943 (Westmorland and
    # Furness, 300): the area total is unknown, not 300.
    text = (
        EES25
        + _row(2025, "942", "Cumberland", 50000, "c", "c")
        + _row(2025, "943", "Westmorland and Furness", 40000, 300, 75)
    )
    panel = cla_panel(read_cla(_write(tmp_path, "cla_2025.csv", text)), exclude=[])
    area = panel.set_index("la_code").loc["CUMBRIA_AREA"]
    assert np.isnan(area["count"]) and np.isnan(area["rate"])
    assert area["count_marker"] == "c"
    assert area["count_reason"] == "member 942: suppressed (small numbers)"
    assert area["rate_basis"] == ""
    # both published: 400 + 300 over 50,000 + 40,000 children, per 10,000
    text = (
        EES25
        + _row(2025, "942", "Cumberland", 50000, 400, 80)
        + _row(2025, "943", "Westmorland and Furness", 40000, 300, 75)
    )
    panel = cla_panel(read_cla(_write(tmp_path, "cla_2025.csv", text)), exclude=[])
    area = panel.set_index("la_code").loc["CUMBRIA_AREA"]
    assert area["count"] == 700
    assert area["rate"] == pytest.approx(700 / 90000 * 1e4, rel=1e-12)


SFR2016 = (
    "New_geog_code,geog_l,geog_c,geog_n,CLA_Mar2016\n"
    "E06000009,LA,890,Blackpool,480\n"
    "E06000008,LA,889,Blackburn with Darwen,350\n"
)


def test_derived_rate_needs_a_positive_population(tmp_path: Path) -> None:
    frame = read_cla(_write(tmp_path, "SFR41_CLA2016.csv", SFR2016))
    pop = pd.DataFrame(
        {"la_code": ["890", "889"], "year": [2016, 2016], "child_pop": [32000, 0]}
    )
    panel = cla_panel(frame, population=pop, exclude=[]).set_index("la_code")
    assert panel.loc["890", "rate"] == pytest.approx(480 / 32000 * 1e4, rel=1e-12)
    assert panel.loc["890", "rate_basis"] == "derived"
    assert np.isnan(panel.loc["889", "rate"]) and panel.loc["889", "rate_basis"] == ""


@pytest.mark.parametrize("year", ["202425", "25", "2025.0", "1850"])
def test_year_must_be_a_four_digit_reporting_year(tmp_path: Path, year: str) -> None:
    from impact.errors import DataError

    text = EES25 + _row(2025, "890", "Blackpool", 30000, 552, 184).replace(
        "2025,", f"{year},", 1
    )
    with pytest.raises(DataError, match=rf"year '{year}' is not a four-digit year"):
        read_cla(_write(tmp_path, "x.csv", text))


def test_blank_cell_is_missing_with_a_reason(tmp_path: Path) -> None:
    from impact.data.dfe import BLANK_REASON

    text = EES25 + _row(2025, "890", "Blackpool", 30000, "", "")
    frame = read_cla(_write(tmp_path, "x.csv", text))
    row = frame.iloc[0]
    assert np.isnan(row["count"]) and np.isnan(row["rate"])
    assert row["count_marker"] == "" and row["count_reason"] == BLANK_REASON
    assert row["child_pop"] == 30000
