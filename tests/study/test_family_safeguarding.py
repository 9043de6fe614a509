"""studies/family_safeguarding.toml and the ``[[data.join]]`` table it uses.

The study's adopters must be the Family Safeguarding rows of
``impact.data.programmes()`` (the package's sourced participation table), so the
cohorts in the TOML file cannot drift from it. The join is checked against a
pandas merge written here; the run itself is CI's job (.ci/run runs every study).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

import impact
from impact.errors import DataError
from impact.study.data import load_data
from impact.study.spec import load_spec, resolve_data_path

STUDY = Path(__file__).resolve().parents[2] / "studies" / "family_safeguarding.toml"


def test_cohorts_are_the_programmes_table(reference_data: Path) -> None:
    cohorts = tomllib.loads(STUDY.read_text())["data"]["cohorts"]
    prog = impact.data.programmes()
    fs = prog[prog["model"] == "Family Safeguarding"]
    expect = dict(zip(fs["la_name"], fs["cohort_year"].astype(int), strict=True))
    assert cohorts == expect
    assert sorted(set(expect.values())) == [2016, 2018, 2020, 2021]


def test_study_data_joins_cin_cpp_and_keeps_gappy_authorities(
    reference_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPACT_REFERENCE_DATA", str(reference_data))
    spec, _ = load_spec(STUDY)
    prep = load_data(spec.data, resolve_data_path(spec, STUDY), base=STUDY.parent)
    frame = prep.frame
    cla = pd.read_csv(reference_data / "cla_la_panel_2010_2025.csv")
    cin = pd.read_csv(reference_data / "cin_cpp_la_2013_2025.csv")
    expect = cla.merge(
        cin[["old_la_code", "year", "cin_rate_per_10000", "cpp_rate_per_10000"]],
        on=["old_la_code", "year"],
        how="left",
    )
    expect = expect[expect["la_name"].isin(frame["la_name"].unique())]
    expect = expect[expect["year"].between(2013, 2025)]
    got = frame.set_index(["la_name", "year"]).sort_index()
    want = expect.set_index(["la_name", "year"]).sort_index()
    pd.testing.assert_series_equal(
        got["cpp_rate_per_10000"], want["cpp_rate_per_10000"], check_dtype=False
    )
    assert frame["la_name"].nunique() == 132
    # an authority with missing CIN/CPP years is kept, not dropped
    hackney = frame[frame["la_name"] == "Hackney"].set_index("year")
    assert len(hackney) == 13
    assert hackney.loc[[2021, 2022], "cpp_rate_per_10000"].isna().all()
    treated = frame.loc[frame["fs_cohort"].notna(), "la_name"].nunique()
    assert treated == 11


def test_join_errors_name_the_problem(tmp_path: Path) -> None:
    main = pd.DataFrame({"la": ["a", "a", "b", "b"], "year": [1, 2, 1, 2], "y": 1.0})
    main.to_csv(tmp_path / "main.csv", index=False)
    other = pd.DataFrame({"la": ["a", "a", "b"], "year": [1, 1, 2], "z": [1.0, 2, 3]})
    other.to_csv(tmp_path / "other.csv", index=False)
    text = (
        '[study]\ntitle = "t"\n[data]\npath = "main.csv"\nunit = "la"\ntime = "year"\n'
        'outcome = "y"\n[[data.join]]\npath = "other.csv"\non = ["la", "year"]\n'
        'columns = ["z"]\n[[analysis]]\nname = "a"\nestimator = "did"\n'
    )
    (tmp_path / "s.toml").write_text(text)
    spec, _ = load_spec(tmp_path / "s.toml")
    with pytest.raises(DataError, match=r"more than one row for la='a', year=1"):
        load_data(spec.data, tmp_path / "main.csv")
    other.drop_duplicates(["la", "year"]).to_csv(tmp_path / "other.csv", index=False)
    prep = load_data(spec.data, tmp_path / "main.csv")
    assert prep.frame["z"].tolist()[:1] == [1.0]
    assert prep.frame["z"].isna().sum() == 2
    assert any("2 rows without a match" in n for n in prep.notes)
    (tmp_path / "s.toml").write_text(text.replace('columns = ["z"]', 'columns = ["w"]'))
    spec, _ = load_spec(tmp_path / "s.toml")
    with pytest.raises(DataError, match=r"column 'w' named in \[\[data.join\]\] #1"):
        load_data(spec.data, tmp_path / "main.csv")
