"""impact.data.dfe on small fixture files written in the published layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from impact.data.dfe import cla_panel, harmonised_id, read_cla
from impact.errors import DataError, SpecError

EES25 = (
    "time_period,time_identifier,geographic_level,country_code,country_name,region_code,"
    "region_name,old_la_code,la_name,new_la_code,population_type,population_estimate,"
    "children_count,rate_per_10000\n"
)
EES22 = EES25.replace("population_type", "population_count").replace(
    "children_count", "number"
)
AT = "Children looked after at 31 March each year"
ON = "Children looked after on 31 March each year"


def _ees_row(year, level, code, name, measure, pop, count, rate, region=("", "")):
    return (
        f"{year},Reporting year,{level},E92000001,England,{region[0]},{region[1]},"
        f"{code},{name},,{measure},{pop},{count},{rate}\n"
    )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def ees2025(tmp_path: Path) -> Path:
    rows = [
        _ees_row(2025, "National", "", "", ON, 1000000, 6700, 67),
        _ees_row(2025, "Local authority", "890", "Blackpool", ON, 30000, 552, 184),
        _ees_row(2025, "Local authority", "420", "Isles of Scilly", ON, "x", "z", "z"),
        _ees_row(2025, "Local authority", "857", "Rutland", ON, 8000, "c", "c"),
        _ees_row(2025, "Local authority", "942", "Cumberland", ON, 50000, 400, 80),
        _ees_row(
            2025,
            "Local authority",
            "943",
            "Westmorland and Furness",
            ON,
            40000,
            300,
            75,
        ),
        _ees_row(
            2025,
            "Local authority",
            "890",
            "Blackpool",
            "Children starting to be looked after each year",
            30000,
            200,
            67,
        ),
    ]
    return _write(tmp_path, "cla_2025.csv", "\ufeff" + EES25 + "".join(rows))


@pytest.fixture
def ees2022(tmp_path: Path) -> Path:
    rows = [
        _ees_row(2022, "Local authority", "890", "Blackpool", AT, 30500, 549, 180),
        _ees_row(2021, "Local authority", "890", "Blackpool", AT, 30400, 540, 178),
        _ees_row(2021, "Local authority", "909", "Cumbria", AT, 91000, 700, 77),
        _ees_row(2022, "Local authority", "909", "Cumbria", AT, 90500, 720, 80),
        _ees_row(2022, "Local authority", "942", "Cumberland", AT, "z", "z", "z"),
    ]
    return _write(tmp_path, "cla_2022.csv", EES22 + "".join(rows))


def test_reads_both_ees_layouts(ees2025: Path, ees2022: Path) -> None:
    new, old = read_cla(ees2025), read_cla(ees2022)
    assert new.attrs["vintage"]["layout"] == "ees_2025"
    assert old.attrs["vintage"]["layout"] == "ees_2022_2024"
    assert old.attrs["vintage"]["release"] == "EES 2022"
    assert set(new["measure"]) == {"at_31_march", "started"}
    assert set(old["measure"]) == {"at_31_march"}
    blackpool = new[(new["la_code"] == "890") & (new["measure"] == "at_31_march")].iloc[
        0
    ]
    assert (blackpool["count"], blackpool["child_pop"], blackpool["rate"]) == (
        552,
        30000,
        184,
    )
    assert blackpool["source_row"] == 3
    rutland = new[new["la_code"] == "857"].iloc[0]
    assert np.isnan(rutland["count"]) and rutland["count_marker"] == "c"
    assert rutland["count_reason"] == "suppressed (small numbers)"


def test_panel_prefers_latest_release_and_harmonises(
    ees2025: Path, ees2022: Path
) -> None:
    panel = cla_panel([ees2022, ees2025])
    assert "420" not in set(panel["la_code"])  # excluded by default, with a reason
    assert "Isles of Scilly" in panel.attrs["excluded"]["420"]
    # Rutland: suppressed in its only release -> missing count, reason kept, not zero
    rutland = panel[panel["la_code"] == "857"].iloc[0]
    assert (
        np.isnan(rutland["count"])
        and rutland["count_reason"] == "suppressed (small numbers)"
    )
    cumbria = panel[panel["la_code"] == "CUMBRIA_AREA"].set_index("year")
    assert cumbria.loc[2025, "count"] == 700
    assert cumbria.loc[2025, "child_pop"] == 90000
    assert cumbria.loc[2025, "rate"] == pytest.approx(700 / 90000 * 1e4)
    assert cumbria.loc[2025, "members"] == "942+943"
    assert cumbria.loc[2021, "members"] == "909"
    assert panel.attrs["vintage"][2025] == ["EES 2025"]
    assert panel.attrs["measure"] == "at_31_march"
    started = cla_panel([ees2025], measure="started", exclude=[])
    assert started["count"].tolist() == [200]
    raw = cla_panel([ees2022, ees2025], harmonise=False, exclude=["857"])
    assert {"909", "942", "943"} <= set(raw["la_code"])
    assert "857" not in set(raw["la_code"])
    assert harmonised_id("839") == "DORSET_AREA" and harmonised_id("890") == "890"


SFR2010 = (
    "geog_l,geog_c,geog_n,MarTotal_2010,Mid2009Pop0-17,MarPlace_Q1_2010\n"
    "National,921,England,64400,11012300,x\n"
    "GOR,A,North East ,3650,524900,0\n"
    "LA,890,Blackpool,374,29300,0\n"
    "LA,857,Rutland,x,9200,0\n"
    "LA,420,Isles of Scilly,..,410,0\n"
    "LA,805,Hartlepool,#VALUE!,20600,0\n"
)
SFR2016 = (
    "New_geog_code,geog_l,geog_c,geog_n,CLA_Mar2016,CLA_2016,CLA_NetGain \n"
    "E92000001,NATIONAL,999,ENGLAND,70440,100810,-880\n"
    "E12000001,REGION,A,NORTH EAST,4400,6310,-80\n"
    "E06000009,LA,890,Blackpool,480,700,x\n"
    "E06000053,,420,Isles of Scilly,0,0,0\n"
    "\n"
)


def test_reads_sfr_2010_with_markers_and_population(tmp_path: Path) -> None:
    frame = read_cla(_write(tmp_path, "SFR27_2010_March.csv", SFR2010))
    assert frame.attrs["vintage"]["release"] == "SFR27/2010"
    assert frame.attrs["vintage"]["layout"] == "sfr_2010"
    assert (frame["year"] == 2010).all()
    la = frame[frame["geographic_level"] == "local_authority"].set_index("la_code")
    assert la.loc["890", "count"] == 374 and la.loc["890", "child_pop"] == 29300
    # older SFR meaning of x: suppressed 1 to 5 (never zero)
    assert np.isnan(la.loc["857", "count"])
    assert la.loc["857", "count_reason"].startswith("suppressed (1 to 5")
    assert la.loc["420", "count_reason"] == "not available"
    assert la.loc["805", "count_reason"] == "spreadsheet error in the published file"
    assert (
        frame.loc[frame["geographic_level"] == "regional", "region_name"].iloc[0]
        == "North East"
    )
    panel = cla_panel(frame, exclude=[])
    blackpool = panel[panel["la_code"] == "890"].iloc[0]
    assert blackpool["rate"] == pytest.approx(374 / 29300 * 1e4)
    assert blackpool["rate_basis"] == "derived"


def test_reads_sfr_2011_2017_layout(tmp_path: Path) -> None:
    frame = read_cla(_write(tmp_path, "SFR41_CLA2016.csv", SFR2016))
    assert frame.attrs["vintage"]["release"] == "SFR41/2016"
    la = frame[frame["geographic_level"] == "local_authority"].set_index("la_code")
    assert la.loc["890", "count"] == 480 and la.loc["890", "new_la_code"] == "E06000009"
    # SFR50/2017 leaves geog_l blank for the Isles of Scilly: kept as an LA row, noted
    assert la.loc["420", "count"] == 0
    assert "geog_l is blank" in frame.attrs["notes"][0]
    assert la["rate"].isna().all()
    assert (la["rate_reason"] == "not published in this file").all()


def test_sfr_year_from_name_header_or_argument(tmp_path: Path) -> None:
    adm = (
        "New_geog_code,geog_l,geog_c,geog_n,CLA_started2014\nE1,LA,890,Blackpool,200\n"
    )
    # SFR34_ADM2015.csv is headed CLA_started2014: the file name wins, with a note
    frame = read_cla(_write(tmp_path, "SFR34_ADM2015.csv", adm))
    assert frame["year"].tolist() == [2015] and frame["measure"].tolist() == ["started"]
    assert "header says 2014" in frame.attrs["notes"][0]
    cea = "New_geog_code,geog_l,geog_c,geog_n,CLA_cease\nE1,LA,890,Blackpool,150\n"
    path = _write(tmp_path, "SFR21_CEA.csv", cea)
    with pytest.raises(
        DataError, match=r"cannot tell the year of SFR21_CEA.csv.*year=YYYY"
    ):
        read_cla(path)
    frame = read_cla(path, year=2011)
    assert frame["year"].tolist() == [2011] and frame["measure"].tolist() == ["ceased"]
    assert frame.attrs["vintage"]["release"] == "SFR21/2011"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,b,c\n1,2,3\n", r"x.csv is not a known DfE CLA layout"),
        (
            EES25 + _ees_row("2024/25", "National", "", "", ON, 1, 1, 1),
            r"x.csv row 2, column 'time_period': year '2024/25' is not a four-digit year",
        ),
        (
            EES25
            + _ees_row(2025, "National", "", "", ON, 1, 1, 1)
            + _ees_row(2025, "Local authority", "890", "B", ON, 1, "q", 1),
            r"x.csv row 3, column 'children_count': value 'q' is neither a number nor a known marker",
        ),
        (
            EES25 + _ees_row(2025, "Local authority", "999", "Nowhere", ON, 1, 1, 1),
            r"x.csv row 2, column 'old_la_code': unknown DfE local-authority code '999'",
        ),
        (
            EES25 + _ees_row(2025, "Local authority", "E06000009", "B", ON, 1, 1, 1),
            r"row 2, column 'old_la_code': local-authority code 'E06000009' is not a DfE",
        ),
        (
            EES25 + _ees_row(2025, "Local authority", "890", "B", ON, 1, 1, 1) * 2,
            r"x.csv rows 2 and 3 duplicate 890 at_31_march 2025",
        ),
        (
            EES25 + _ees_row(2025, "Ward", "890", "B", ON, 1, 1, 1),
            r"row 2, column 'geographic_level': unknown level 'Ward'",
        ),
        (
            EES25 + _ees_row(2025, "Local authority", "890", "B", "Adopted", 1, 1, 1),
            r"row 2, column 'population_type': unknown measure 'Adopted'",
        ),
        (
            "geog_l,geog_c,geog_n,CLA_Mar2016,CLA_started2016\nLA,890,B,1,1\n",
            r"expected exactly one total column",
        ),
        (
            "geog_l,geog_c,geog_n,CLA_Mar2016\nWARD,890,B,1\n",
            r"row 2, column 'geog_l': unknown level 'WARD'",
        ),
    ],
)
def test_bad_files_raise_data_error(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_cla(_write(tmp_path, "x.csv", text))


def test_unknown_code_allowed_when_checks_off(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "x.csv",
        EES25 + _ees_row(2026, "Local authority", "944", "New", ON, 10, 1, 1000),
    )
    assert read_cla(path, check_codes=False)["la_code"].tolist() == ["944"]


def test_missing_file_and_duplicate_release(tmp_path: Path, ees2025: Path) -> None:
    with pytest.raises(DataError, match=r"read_cla: file .*nope.csv not found"):
        read_cla(tmp_path / "nope.csv")
    copy = _write(tmp_path, "copy.csv", ees2025.read_text(encoding="utf-8"))
    with pytest.raises(
        DataError,
        match=r"duplicated rows across releases: LA 420 year 2025 release 'EES 2025' appears in cla_2025.csv row 4 and copy.csv row 4",
    ):
        cla_panel([ees2025, copy])
    # distinct labels resolve the ambiguity
    frames = [read_cla(ees2025), read_cla(copy, release="EES 2025 (revised)")]
    assert len(cla_panel(frames)) == 3


def test_panel_option_errors(ees2025: Path) -> None:
    with pytest.raises(
        SpecError, match=r"The 'measure' parameter of cla_panel must be one of"
    ):
        cla_panel(ees2025, measure="adopted")
    with pytest.raises(
        DataError, match=r"no local-authority rows for measure 'ceased'"
    ):
        cla_panel(ees2025, measure="ceased")
    with pytest.raises(DataError, match=r"a frame is missing column"):
        import pandas as pd

        cla_panel(pd.DataFrame({"year": [2020]}))
    with pytest.raises(DataError, match=r"no sources given"):
        cla_panel([])


def test_population_table_fills_sfr_rates(tmp_path: Path) -> None:
    import pandas as pd

    frame = read_cla(_write(tmp_path, "SFR41_CLA2016.csv", SFR2016))
    pop = pd.DataFrame(
        {"la_code": ["890", "420"], "year": [2016, 2016], "child_pop": [32000, 400]}
    )
    panel = cla_panel(frame, population=pop, exclude=[]).set_index("la_code")
    assert panel.loc["890", "rate"] == pytest.approx(480 / 32000 * 1e4)
    assert panel.loc["890", "rate_basis"] == "derived"
    assert panel.loc["420", "rate"] == 0.0
    without = cla_panel(frame, exclude=[]).set_index("la_code")
    assert (
        np.isnan(without.loc["890", "rate"]) and without.loc["890", "rate_basis"] == ""
    )
    with pytest.raises(
        DataError, match=r"population table lacks column\(s\) \['child_pop'\]"
    ):
        cla_panel(frame, population=pop.drop(columns="child_pop"))
    with pytest.raises(DataError, match=r"lists LA 890 year 2016 more than once"):
        cla_panel(frame, population=pd.concat([pop, pop]))
