"""DfE readers on real files: folders of releases, ambiguous names, CIN/CPP, neighbours.

References: the verbatim EES releases in ../shared/data/raw_dfe/; the England totals of
the DfE children-in-need census printed in ../shared/research/domain.md 1.8 (CIN at 31
March 2025: 402,400; CPP at 31 March 2018: 53,790; national figures rounded to the
nearest 10); la_reference.csv (DfE 2025 statistical-neighbour model, SOURCES.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.data import (
    add_cin_cpp,
    check_la_names,
    cla_panel,
    neighbour_pool,
    read_cin_cpp,
    read_la_reference,
    statistical_neighbours,
)
from impact.errors import DataError, ImpactWarning

RELEASES = [2022, 2023, 2024, 2025]


def _files(reference_data: Path) -> list[Path]:
    return [
        reference_data
        / "raw_dfe"
        / f"ees_{r}_release_cla_number_and_rate_per_10k_children.csv"
        for r in RELEASES
    ]


@pytest.fixture(scope="module")
def panel(reference_data: Path) -> pd.DataFrame:
    return cla_panel(reference_data / "raw_dfe")


def test_folder_equals_the_list_of_its_files(
    reference_data: Path, panel: pd.DataFrame
) -> None:
    listed = cla_panel(_files(reference_data))
    pd.testing.assert_frame_equal(panel, listed)
    assert panel.attrs["vintage"] == listed.attrs["vintage"]


def test_folder_skips_other_csv_files_with_a_count(
    reference_data: Path, tmp_path: Path
) -> None:
    shutil.copy(_files(reference_data)[-1], tmp_path / "cla_2025.csv")
    sub = tmp_path / "other"
    sub.mkdir()
    shutil.copy(reference_data / "cin_cpp_la_2013_2025.csv", sub / "cin.csv")
    with pytest.warns(ImpactWarning, match=r"1 of 2 \.csv file\(s\).*cin\.csv.*1 read"):
        out = cla_panel(tmp_path)
    assert set(out["year"]) == {2021, 2022, 2023, 2024, 2025}
    (tmp_path / "cla_2025.csv").unlink()
    with pytest.raises(DataError, match=r"none of the 1 \.csv files"):
        cla_panel(tmp_path)
    (sub / "nothing").mkdir()
    with pytest.raises(DataError, match=r"holds no \.csv files"):
        cla_panel(sub / "nothing")


def test_one_name_two_codes_never_merged(reference_data: Path) -> None:
    raw = cla_panel(reference_data / "raw_dfe", harmonise=False)
    dorset = raw[raw["la_name"].str.startswith("Dorset")]
    assert dorset.groupby("la_name")["la_code"].unique().map(list).to_dict() == {
        "Dorset (DfE 835)": ["835"],
        "Dorset (DfE 838)": ["838"],
    }
    assert not raw.duplicated(["la_name", "year"]).any()
    check_la_names(raw, code="la_code")  # names are unambiguous now
    shared = pd.read_csv(
        reference_data / "cla_la_panel_2010_2025.csv", dtype={"old_la_code": str}
    )
    with pytest.raises(
        DataError, match=r"'Dorset': codes 835, 838.*unit='old_la_code'"
    ):
        check_la_names(shared)


def test_cin_cpp_totals_match_dfe_england_figures(reference_data: Path) -> None:
    cin = read_cin_cpp(reference_data / "cin_cpp_la_2013_2025.csv")
    totals = cin.groupby("year")[["cin", "cpp"]].sum()
    assert round(totals.loc[2025, "cin"], -1) == 402_400
    assert round(totals.loc[2018, "cpp"], -1) == 53_790
    # suppressed cells are missing, never zero
    assert cin["cpp"].isna().sum() == (cin["cpp_marker"] != "").sum()


def test_cin_cpp_join_sums_reorganised_areas(
    reference_data: Path, panel: pd.DataFrame
) -> None:
    cin = read_cin_cpp(reference_data / "cin_cpp_la_2013_2025.csv")
    out = add_cin_cpp(panel, cin)
    assert len(out) == len(panel)
    assert list(out.columns[: len(panel.columns)]) == list(panel.columns)
    herts = out.set_index(["la_code", "year"]).loc[("919", 2019)]
    raw = cin.set_index(["la_code", "year"]).loc[("919", 2019)]
    assert herts["cpp"] == raw["cpp"]
    assert herts["cpp_rate"] == pytest.approx(raw["cpp"] / raw["child_pop"] * 1e4)
    # DORSET_AREA 2020 = BCP (839) + new Dorset (838), counted by hand
    rows = cin[(cin["year"] == 2020) & cin["la_code"].isin(["838", "839"])]
    area = out.set_index(["la_code", "year"]).loc[("DORSET_AREA", 2020)]
    assert area["cin"] == rows["cin"].sum()
    assert area["cin_rate"] == pytest.approx(
        rows["cin"].sum() / rows["child_pop"].sum() * 1e4
    )
    # 2019: old Dorset-area populations are 'x' in the ONS file -> rate missing
    assert np.isnan(
        out.set_index(["la_code", "year"]).loc[("DORSET_AREA", 2019), "cin_rate"]
    )
    with pytest.raises(DataError, match="no column 'year'"):
        add_cin_cpp(panel.drop(columns="year"), cin)


def test_neighbour_pool(reference_data: Path) -> None:
    ref = read_la_reference(reference_data / "la_reference.csv")
    herts = statistical_neighbours("919", reference=ref)
    assert len(herts) == 10 and len(set(herts)) == 10
    treated = ["919", "821", "874", "867", "869"]
    pool = neighbour_pool(treated, reference=ref)
    assert not set(pool["la_code"]) & set(treated)
    # brute force: the union of the neighbour lists minus the treated
    union = set().union(*(statistical_neighbours(c, reference=ref) for c in treated))
    assert set(pool["la_code"]) == union - set(treated)
    counts = {
        c: sum(c in statistical_neighbours(t, reference=ref) for t in treated)
        for c in pool["la_code"]
    }
    assert dict(zip(pool["la_code"], pool["n_treated"], strict=True)) == counts
    harm = neighbour_pool(["839"], harmonise=True, reference=ref)
    assert "DORSET_AREA" not in set(harm["la_code"])
    with pytest.raises(DataError, match="'999' is not in la_reference"):
        statistical_neighbours("999", reference=ref)
