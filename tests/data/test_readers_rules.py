"""Validation rules of the data readers and helpers, one test each (issue 15).

Each test triggers one rule through the public function (``impact.data.*`` or the
``impact data synthetic`` command) and pins the error type and the words naming the file,
column, authority or year and the fix. The mutations in
``tools/mutations/validation_rules.json`` switch each rule off; these tests kill them.
Files are written to ``tmp_path``; the real ``la_reference.csv`` and CIN table are read
from the reference data folder (``IMPACT_REFERENCE_DATA``).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact import cli
from impact.data import (
    add_cin_cpp,
    calibration_statistics,
    check_la_names,
    generate_la_panel,
    load_synthetic,
    neighbour_pool,
    read_cin_cpp,
    read_cla,
    read_la_reference,
    reference_data_dir,
    statistical_neighbours,
    synthetic_path,
    treatment_cohorts,
)
from impact.errors import DataError, SpecError


@pytest.fixture(scope="module")
def reference(reference_data: Path) -> pd.DataFrame:
    return read_la_reference(reference_data / "la_reference.csv")


@pytest.fixture(scope="module")
def cin(reference_data: Path) -> pd.DataFrame:
    return read_cin_cpp(reference_data / "cin_cpp_la_2013_2025.csv")


# ---------------------------------------------------------------- authorities
@pytest.mark.parametrize("missing", ["la_name", "old_la_code"])
def test_check_la_names_names_the_missing_column(missing: str) -> None:
    frame = pd.DataFrame({"la_name": ["Dorset"], "old_la_code": ["835"]})
    with pytest.raises(
        DataError, match=rf"check_la_names: column '{missing}' not found"
    ):
        check_la_names(frame.drop(columns=missing))


def test_la_reference_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"la_reference file .*nope.csv not found; check the path"
    ):
        read_la_reference(tmp_path / "nope.csv")


def test_la_reference_without_neighbour_column(
    tmp_path: Path, reference_data: Path
) -> None:
    raw = pd.read_csv(reference_data / "la_reference.csv", dtype=str)
    path = tmp_path / "la_reference.csv"
    raw.drop(columns="stat_neighbours_2025").to_csv(path, index=False)
    with pytest.raises(
        DataError, match=r"la_reference.csv: column 'stat_neighbours_2025' not found"
    ):
        read_la_reference(path)


@pytest.mark.parametrize(("code", "name"), [("835", "Dorset"), ("909", "Cumbria")])
def test_abolished_authority_has_no_neighbours(
    reference: pd.DataFrame, code: str, name: str
) -> None:
    with pytest.raises(
        DataError,
        match=rf"statistical_neighbours: '{code}' \({name}\) has no published "
        r"statistical neighbours \(authority abolished before 2025\)",
    ):
        statistical_neighbours(code, reference=reference)


def test_neighbour_pool_needs_treated(reference: pd.DataFrame) -> None:
    with pytest.raises(
        DataError, match=r"neighbour_pool: no treated authorities given"
    ):
        neighbour_pool([], reference=reference)


def test_neighbour_pool_when_every_neighbour_is_treated() -> None:
    # two authorities that are each other's only neighbour
    ref = pd.DataFrame(
        {
            "old_la_code": ["101", "102"],
            "la_name": ["A", "B"],
            "stat_neighbours_2025": [["102"], ["101"]],
        }
    )
    assert list(neighbour_pool(["101"], reference=ref)["la_code"]) == ["102"]
    with pytest.raises(
        DataError,
        match=r"neighbour_pool: every statistical neighbour of the treated authorities "
        r"is itself treated; widen the pool",
    ):
        neighbour_pool(["101", "102"], reference=ref)


# ---------------------------------------------------------------- CIN / CPP
def test_cin_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(
        DataError, match=r"read_cin_cpp: file .*cin.csv not found; check the path"
    ):
        read_cin_cpp(tmp_path / "cin.csv")


def test_cin_file_lacking_a_column(tmp_path: Path, reference_data: Path) -> None:
    raw = pd.read_csv(reference_data / "cin_cpp_la_2013_2025.csv", dtype=str)
    path = tmp_path / "cin.csv"
    raw.drop(columns="cpp_31mar_marker").to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"read_cin_cpp: cin.csv lacks column\(s\) \['cpp_31mar_marker'\]",
    ):
        read_cin_cpp(path)


def test_cin_file_with_a_repeated_authority_year(
    tmp_path: Path, reference_data: Path
) -> None:
    raw = pd.read_csv(
        reference_data / "cin_cpp_la_2013_2025.csv", dtype=str, keep_default_na=False
    )
    first = raw.iloc[[0]]
    path = tmp_path / "cin.csv"
    pd.concat([raw, first]).to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=rf"read_cin_cpp: cin.csv lists authority {first['old_la_code'].iloc[0]} "
        rf"year {first['year'].iloc[0]} more than once",
    ):
        read_cin_cpp(path)


def test_add_cin_cpp_needs_the_code_column(cin: pd.DataFrame) -> None:
    panel = pd.DataFrame({"la": ["919"], "year": [2020]})
    with pytest.raises(
        DataError, match=r"add_cin_cpp: the panel has no column 'la_code'"
    ):
        add_cin_cpp(panel, cin)


# ---------------------------------------------------------------- DfE CLA files
def test_read_cla_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "cla.csv"
    path.write_bytes(b"")
    with pytest.raises(
        DataError,
        match=r"read_cla: cla.csv is not a readable CSV file \(.*\); pass the CSV file "
        r"as downloaded from DfE",
    ):
        read_cla(path)


def test_read_cla_undecodable_file(tmp_path: Path) -> None:
    # 0x81 is invalid UTF-8 and undefined in Windows-1252
    path = tmp_path / "cla.csv"
    path.write_bytes(b"time_period,la_name\n2025,Caf\x81\n")
    with pytest.raises(
        DataError, match=r"read_cla: cannot decode cla.csv as UTF-8 or Windows-1252"
    ):
        read_cla(path)


# ---------------------------------------------------------------- paths
@pytest.mark.parametrize("name", ["../innovation_panel.csv", "sub/x.csv", ""])
def test_synthetic_name_must_be_a_plain_file_name(name: str) -> None:
    with pytest.raises(
        DataError,
        match=rf"Synthetic panel name '{name}' must be a plain file name such as "
        r"'innovation_panel.csv', not a path",
    ):
        synthetic_path(name)


def test_synthetic_panel_not_found() -> None:
    with pytest.raises(
        DataError,
        match=r"Synthetic panel 'no_such_panel.csv' not found \(available: \[.*"
        r"'innovation_panel.csv'.*\]\); regenerate it with `impact data synthetic",
    ):
        load_synthetic("no_such_panel.csv")


def test_reference_data_folder_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPACT_REFERENCE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(
        DataError,
        match=r"Reference data folder .*nowhere not found; set IMPACT_REFERENCE_DATA",
    ):
        reference_data_dir()


# ---------------------------------------------------------------- synthetic panels
def test_generate_cohorts_must_be_numbers() -> None:
    with pytest.raises(
        SpecError,
        match=r"The 'cohorts' parameter of generate_la_panel must map years to numbers "
        r"of authorities. Got 2016: 'five'",
    ):
        generate_la_panel(n_units=20, cohorts={2016: "five"}, seed=1)


def test_calibration_statistics_names_missing_columns() -> None:
    frame = pd.DataFrame({"la": ["a"], "year": [2010], "rate": [50.0]})
    with pytest.raises(
        DataError,
        match=r"calibration_statistics: column\(s\) \['pop'\] not found; pass the names",
    ):
        calibration_statistics(
            frame, unit="la", time="year", rate="rate", population="pop"
        )


def test_calibration_statistics_needs_enough_units() -> None:
    panel = generate_la_panel(n_units=4, start=2010, end=2013, seed=2, n_treated=1)
    with pytest.raises(
        DataError,
        match=r"calibration_statistics: only 4 units with a positive 'cla_rate' in all 4 "
        r"periods; need at least 5 units and 2 periods",
    ):
        calibration_statistics(
            panel, unit="la_code", time="year", rate="cla_rate", population="child_pop"
        )


@pytest.mark.parametrize("bad", ["2016", "2016:", "2016:five", "x:5"])
def test_synthetic_command_cohorts_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    out = tmp_path / "panel.csv"
    code = cli.main(
        ["data", "synthetic", "--seed", "1", "--out", str(out), "--cohorts", bad]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert (
        f"--cohorts must look like '2016:5,2018:10' (year:count). Got {bad!r}." in err
    )
    assert not out.exists()


# ---------------------------------------------------------------- bugs found (issue 15)
def test_cin_file_with_a_text_year(tmp_path: Path, reference_data: Path) -> None:
    """Was a bare pandas ValueError ("Unable to parse string")."""
    raw = pd.read_csv(
        reference_data / "cin_cpp_la_2013_2025.csv", dtype=str, keep_default_na=False
    )
    raw.loc[3, "year"] = "2015-16"
    path = tmp_path / "cin.csv"
    raw.to_csv(path, index=False)
    with pytest.raises(
        DataError,
        match=r"read_cin_cpp: cin.csv row 5, column 'year': '2015-16' is not a year; "
        r"write the year ending 31 March as four digits",
    ):
        read_cin_cpp(path)


def test_add_cin_cpp_refuses_repeated_panel_rows(cin: pd.DataFrame) -> None:
    """Was a bare pandas MergeError."""
    panel = pd.DataFrame({"la_code": ["919", "919", "821"], "year": [2020, 2020, 2020]})
    with pytest.raises(
        DataError,
        match=r"add_cin_cpp: the panel has more than one row for authority '919' in "
        r"2020; pass one row per authority and year",
    ):
        add_cin_cpp(panel, cin)


def test_add_cin_cpp_refuses_a_text_year(cin: pd.DataFrame) -> None:
    panel = pd.DataFrame({"la_code": ["919"], "year": ["2019-20"]})
    with pytest.raises(
        DataError,
        match=r"add_cin_cpp: the panel's 'year' '2019-20' \(authority '919'\)",
    ):
        add_cin_cpp(panel, cin)


def test_add_cin_cpp_joins_codes_and_years_of_any_type(cin: pd.DataFrame) -> None:
    """Codes as numbers or years as text were a bare pandas ValueError (merge dtypes)."""
    text = pd.DataFrame({"la_code": ["919", "821"], "year": [2020, 2021], "y": [1, 2]})
    expected = add_cin_cpp(text, cin)
    hert = cin[(cin["la_code"] == "919") & (cin["year"] == 2020)].iloc[0]
    assert expected.loc[0, "cin"] == hert["cin"]
    assert expected.loc[0, "cin_rate"] == pytest.approx(
        hert["cin"] / hert["child_pop"] * 10_000, rel=1e-12
    )
    for panel in (
        text.assign(la_code=[919, 821]),
        text.assign(year=["2020", "2021"]),
    ):
        before = panel.copy()
        out = add_cin_cpp(panel, cin)
        pd.testing.assert_frame_equal(
            out.drop(columns=["la_code", "year"]),
            expected.drop(columns=["la_code", "year"]),
        )
        pd.testing.assert_frame_equal(
            out[["la_code", "year"]], before[["la_code", "year"]]
        )
        pd.testing.assert_frame_equal(panel, before)


def test_add_cin_cpp_twice_is_refused(cin: pd.DataFrame) -> None:
    """Was a bare KeyError ('cin' became 'cin_x' and 'cin_y')."""
    once = add_cin_cpp(pd.DataFrame({"la_code": ["919"], "year": [2020]}), cin)
    with pytest.raises(
        DataError, match=r"add_cin_cpp: the panel already has column 'cin'; drop the"
    ):
        add_cin_cpp(once, cin)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "3"])
def test_neighbour_count_must_be_a_positive_whole_number(
    reference: pd.DataFrame, k: object
) -> None:
    """k = -1 silently dropped the farthest neighbour (a slice); k = 0 gave none."""
    with pytest.raises(
        SpecError,
        match=rf"statistical_neighbours: k must be a whole number of neighbours >= 1 "
        rf"\(at most 10 are published\); got {re.escape(repr(k))}",
    ):
        statistical_neighbours("919", k=k, reference=reference)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match=r"neighbour_pool: k must be a whole number"):
        neighbour_pool(["919"], k=k, reference=reference)  # type: ignore[arg-type]
    full = statistical_neighbours("919", reference=reference)
    assert statistical_neighbours("919", k=np.int64(3), reference=reference) == full[:3]


def test_default_treated_count_too_large_says_so() -> None:
    """The message said "Got None" when the default of 20 treated was too many."""
    with pytest.raises(
        SpecError,
        match=r"The 'n_treated' parameter of generate_la_panel must be between 0 and "
        r"n_units - 1 = 3. Got the default 20 instead; pass n_treated= \(or cohorts=\)",
    ):
        generate_la_panel(n_units=4, seed=1)
    with pytest.raises(SpecError, match=r"n_units - 1 = 3. Got 4 instead"):
        generate_la_panel(n_units=4, n_treated=4, seed=1)


def _treatment() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("919", "Innovation Programme", "Family Safeguarding", "2015-06-01"),
            ("874", "SFPC", "Family Safeguarding", "2020-01-15"),
        ],
        columns=["la_code", "programme", "model", "start_date"],
    ).assign(scope="whole_system", source="test")


@pytest.mark.parametrize(
    ("key", "value", "listed"),
    [
        ("programme", "SPFC", r"\['Innovation Programme', 'SFPC'\]"),
        (
            "model",
            ["Family Safeguarding", "Family Safegaurding"],
            "Family Safeguarding",
        ),
        ("scope", "service", r"\['whole_system'\]"),
    ],
)
def test_treatment_filter_value_absent_from_the_table(
    key: str, value: object, listed: str
) -> None:
    """A misspelt programme left every unit never treated (cohort 0), silently."""
    panel = pd.DataFrame(
        [(u, y) for u in ("919", "874", "821") for y in range(2014, 2022)],
        columns=["la_code", "year"],
    )
    bad = value if isinstance(value, str) else value[1]
    with pytest.raises(
        DataError,
        match=rf"treatment_cohorts: {key} '{bad}' is not in the treatment table \(its "
        rf"{key} values: .*{listed}.*\); check its spelling",
    ):
        treatment_cohorts(panel, _treatment(), **{key: value})
    ok = treatment_cohorts(panel, _treatment(), programme="SFPC")
    assert ok.groupby("la_code")["cohort"].first().to_dict() == {
        "821": 0,
        "874": 2020,
        "919": 0,
    }


def test_treatment_cohorts_need_numeric_periods() -> None:
    """Text years made every cohort 'after the last period 0': all never treated."""
    panel = pd.DataFrame(
        [(u, f"{y}-{y + 1 - 2000}") for u in ("919", "874") for y in range(2014, 2022)],
        columns=["la_code", "year"],
    )
    with pytest.raises(
        DataError,
        match=r"treatment_cohorts: column 'year' of the panel holds no numeric periods "
        r"\(e.g. '2014-15'\); use the year ending 31 March as a number such as 2025",
    ):
        treatment_cohorts(panel, _treatment())
