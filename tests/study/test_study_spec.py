"""Study-file validation: unknown keys, wrong types, names, paths (issue 9)."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_fakes import fake_did
from study_helpers import BASE_SPEC, write_study

from impact.errors import DataError, SpecError
from impact.study import runner
from impact.study.data import load_data
from impact.study.runner import get_quantity, validate_study
from impact.study.spec import load_spec, resolve_data_path


@pytest.fixture(autouse=True)
def _fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runner.ESTIMATORS, "fake", fake_did)


def test_valid_spec_parses(tmp_path: Path) -> None:
    spec, raw = load_spec(write_study(tmp_path))
    assert spec.study.seed == 7
    assert [a.name for a in spec.analysis] == ["main", "placebo"]
    assert spec.analysis[0].kwargs == {"noise": 0.1}
    assert spec.analysis[1].sample is not None
    assert spec.analysis[1].sample.placebo_shift == 2
    assert raw.startswith(b"\n[study]")


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        (
            'outcome = "rate"',
            'outcome = "rate"\npth = "x"',
            r"table \[data\], key 'pth': unknown key",
        ),
        (
            "seed = 7",
            'seed = 7\ntitel = "x"',
            r"table \[study\], key 'titel': unknown key",
        ),
        (
            "tolerance = 0.5",
            "tolerance = 0.5\ntol = 1",
            r"\[\[check\]\] #1 \('main'\), key 'tol'",
        ),
        (
            'base = "main"',
            'base = "main"\nbsae = 1',
            r"\[\[robustness\]\] #1 \('main'\), key 'bsae'",
        ),
        ("seed = 7", 'seed = "seven"', r"table \[study\], key 'seed'.*got 'seven'"),
        ("tolerance = 0.5", 'tolerance = "0.5"', r"key 'tolerance'.*got '0.5'"),
        (
            'title = "Fake study"\n',
            "",
            r"table \[study\], key 'title': required key is missing",
        ),
        (
            "placebo_shift = 2",
            "placebo_shift = 2, window = 3",
            r"key 'sample.window': unknown",
        ),
    ],
)
def test_bad_keys_and_types_name_file_table_and_key(
    tmp_path: Path, old: str, new: str, pattern: str
) -> None:
    assert old in BASE_SPEC
    path = write_study(tmp_path, BASE_SPEC.replace(old, new, 1))
    with pytest.raises(SpecError, match=pattern) as info:
        load_spec(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_estimator_kwarg_is_refused(tmp_path: Path) -> None:
    path = write_study(
        tmp_path, BASE_SPEC.replace("noise = 0.1", "noise = 0.1\nnosie = 1")
    )
    spec, _ = load_spec(path)
    with pytest.raises(
        SpecError, match=r"\[\[analysis\]\] #1 \('main'\): unknown key 'nosie'"
    ):
        validate_study(spec, str(path))


def test_unknown_estimator_name_is_refused(tmp_path: Path) -> None:
    path = write_study(
        tmp_path, BASE_SPEC.replace('"fake"\nnoise', '"os.system"\nnoise')
    )
    spec, _ = load_spec(path)
    with pytest.raises(
        SpecError, match=r"key 'estimator' must be one of .*Got 'os.system'"
    ):
        validate_study(spec, str(path))


def test_robustness_variant_keys_are_checked(tmp_path: Path) -> None:
    path = write_study(tmp_path, BASE_SPEC.replace("vary = { shift", "vary = { shfit"))
    spec, _ = load_spec(path)
    with pytest.raises(SpecError, match=r"\[\[robustness\]\] #1 .*unknown key 'shfit'"):
        validate_study(spec, str(path))


def test_malformed_toml(tmp_path: Path) -> None:
    path = write_study(tmp_path, BASE_SPEC.replace('title = "Fake study"', "title = "))
    with pytest.raises(SpecError, match=r"malformed TOML.*line 3"):
        load_spec(path)


def test_missing_spec_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="study file not found"):
        load_spec(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "bad", ["../escape", "a/../../b", "..", "/etc/passwd", "..\\\\x", ""]
)
def test_analysis_names_that_could_escape_are_refused(tmp_path: Path, bad: str) -> None:
    path = write_study(
        tmp_path, BASE_SPEC.replace('name = "placebo"', f'name = "{bad}"')
    )
    with pytest.raises(SpecError, match=r"\[\[analysis\]\] #2.*key 'name'"):
        load_spec(path)


def test_duplicate_names_and_dangling_references(tmp_path: Path) -> None:
    path = write_study(tmp_path, BASE_SPEC.replace('name = "placebo"', 'name = "main"'))
    with pytest.raises(SpecError, match="analysis name 'main' is used more than once"):
        load_spec(path)
    path = write_study(
        tmp_path, BASE_SPEC.replace('analysis = "main"', 'analysis = "mian"')
    )
    with pytest.raises(
        SpecError, match=r"\[\[check\]\] #1, key 'analysis': no analysis named 'mian'"
    ):
        load_spec(path)


def test_data_path_is_relative_to_spec_and_expands_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = tmp_path / "studies"
    sub.mkdir()
    spec, _ = load_spec(write_study(sub))
    assert resolve_data_path(spec, sub / "study.toml") == (sub / "panel.csv").resolve()
    monkeypatch.setenv("IMPACT_TEST_DATA", str(sub))
    text = BASE_SPEC.replace(
        'path = "panel.csv"', 'path = "${IMPACT_TEST_DATA}/panel.csv"'
    )
    spec, _ = load_spec(write_study(tmp_path, text))
    assert resolve_data_path(spec, tmp_path / "study.toml") == sub / "panel.csv"
    monkeypatch.delenv("IMPACT_TEST_DATA")
    with pytest.raises(
        SpecError, match="environment variable 'IMPACT_TEST_DATA' is not set"
    ):
        resolve_data_path(spec, tmp_path / "study.toml")


def test_data_problems_are_data_errors(tmp_path: Path) -> None:
    spec, _ = load_spec(write_study(tmp_path, BASE_SPEC.replace('"rate"', '"ratee"')))
    with pytest.raises(
        DataError, match=r"column 'ratee' named in \[data\] outcome is not in panel.csv"
    ):
        load_data(spec.data, resolve_data_path(spec, tmp_path / "study.toml"))
    with pytest.raises(DataError, match=r"data file .*missing\.csv' not found"):
        load_data(spec.data, tmp_path / "missing.csv")


def test_data_preparation_steps(tmp_path: Path) -> None:
    text = BASE_SPEC.replace(
        'cohort = "cohort"',
        "cohorts = { u3 = 2014 }\nlog_outcome = true\nperiods = [2011, 2015]\n"
        'drop = { la = ["u7"] }',
    )
    spec, _ = load_spec(write_study(tmp_path, text))
    prep = load_data(spec.data, resolve_data_path(spec, tmp_path / "study.toml"))
    frame = prep.frame
    assert prep.columns.outcome == "log_rate"
    assert prep.columns.cohort == "cohort"
    assert set(frame["year"]) == set(range(2011, 2016))
    assert "u7" not in set(frame["la"])
    treated = frame.loc[frame["cohort"].notna(), "la"].unique().tolist()
    assert treated == ["u3"]
    bad = text.replace("u3 = 2014", "u99 = 2014")
    spec, _ = load_spec(write_study(tmp_path, bad))
    with pytest.raises(
        DataError, match="unit 'u99' listed in \\[data\\] cohorts is not in column 'la'"
    ):
        load_data(spec.data, resolve_data_path(spec, tmp_path / "study.toml"))


def test_get_quantity_paths() -> None:
    d = {"weights": {"St. Louis": 0.5, "Utah": 0.25}, "rows": [{"a": 1}, {"a": 2}]}
    assert get_quantity(d, "weights.St. Louis") == 0.5
    assert get_quantity(d, "weights.Utah") == 0.25
    assert get_quantity(d, "rows.1.a") == 2
    rows = {"t": [{"e": -1, "v": 3}, {"e": 0, "v": 4}, {"k": "x.y", "v": 5}]}
    assert get_quantity(rows, "t.e=0.v") == 4
    assert get_quantity(rows, "t.e=-1.v") == 3
    assert get_quantity(rows, "t.k=x.y.v") == 5
    with pytest.raises(KeyError, match="no row with 'e=7'"):
        get_quantity(rows, "t.e=7.v")
    with pytest.raises(KeyError, match="'Ohio' not found"):
        get_quantity(d, "weights.Ohio")
    with pytest.raises(KeyError, match="not an index"):
        get_quantity(d, "rows.x")
