"""Study-file validation rules, one test each, through the public entry points.

Every rule here is triggered through :func:`impact.study.run_study` (or ``load_spec`` /
the ``impact`` command) with a small fake estimator, and the test pins the error type
and the words of the message that name the key, column, unit or period and the fix. Each
rule has a mutation in ``tools/mutations/validation_rules.json`` that switches it off;
these tests are what kill it (issue 15).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from study_fakes import fake_did
from study_helpers import write_panel

from impact import cli
from impact.errors import DataError, SpecError
from impact.results import EstimateResult
from impact.study import ESTIMATORS, load_spec, run_study
from impact.study import output as study_output
from impact.study.spec import resolve_spec_path

HEAD = """
[study]
title = "Rules"
seed = 3
{study}

[data]
path = "panel.csv"
{data}

[[analysis]]
name = "main"
estimator = "{estimator}"
{analysis}
{tail}
"""

ROLES = 'unit = "la"\ntime = "year"\noutcome = "rate"\ncohort = "cohort"'


def fake_tt(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treatment_time: int | None = None,
    covariates: list[str] | None = None,
    seed: Any = None,
) -> EstimateResult:
    """A fake taking ``treatment_time`` and ``covariates`` (like synth / matching)."""
    return EstimateResult(
        estimator="fake_tt", estimate=0.0, se=1.0, n_treated=1, n_control=1
    )


@pytest.fixture(autouse=True)
def _fakes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ESTIMATORS, "fake", fake_did)
    monkeypatch.setitem(ESTIMATORS, "fake_tt", fake_tt)


def study(
    folder: Path,
    *,
    data: str = ROLES,
    analysis: str = "",
    study_keys: str = "",
    tail: str = "",
    estimator: str = "fake",
    panel: pd.DataFrame | None = None,
) -> Path:
    """Write the eight-unit panel (or ``panel``) and a one-analysis study file."""
    if panel is None:
        write_panel(folder)
    else:
        panel.to_csv(folder / "panel.csv", index=False)
    path = folder / "study.toml"
    path.write_text(
        HEAD.format(
            study=study_keys,
            data=data,
            analysis=analysis,
            tail=tail,
            estimator=estimator,
        ),
        encoding="utf-8",
    )
    return path


def run(path: Path, tmp_path: Path) -> Any:
    return run_study(path, out=tmp_path / "out", progress=False)


def panel_frame(tmp_path: Path) -> pd.DataFrame:
    return pd.read_csv(write_panel(tmp_path, "base.csv"))


# ---------------------------------------------------------------- spec (TOML keys)
@pytest.mark.parametrize(
    ("keys", "pattern"),
    [
        (
            "effect_of_interest = true",
            r"table \[study\], key 'effect_of_interest'.*must be a number such as "
            r"-0.05 \(a 5% fall\)",
        ),
        (
            "effect_of_interest = 0",
            r"key 'effect_of_interest'.*must be a finite, non-zero number such as -0.05 \(a 5% fall\); got 0",
        ),
        (
            "effect_of_interest = nan",
            r"key 'effect_of_interest'.*must be a finite, non-zero number such as -0.05 \(a 5% fall\); got nan",
        ),
        (
            "effect_of_interest = -1.5",
            r"table \[study\]: .*effect_of_interest = -1.5 with effect_scale = "
            r"'relative' is a fall of 150%.*set effect_scale = 'absolute'",
        ),
    ],
)
def test_effect_of_interest_rules(tmp_path: Path, keys: str, pattern: str) -> None:
    path = study(tmp_path, study_keys=keys)
    with pytest.raises(SpecError, match=pattern) as info:
        run(path, tmp_path)
    assert str(path) in str(info.value)
    assert not (tmp_path / "out").exists()


def test_effect_of_interest_absolute_may_exceed_one(tmp_path: Path) -> None:
    """The -1 floor is for proportions only: -1.5 outcome units is a fine effect."""
    spec, _ = load_spec(
        study(
            tmp_path,
            study_keys='effect_of_interest = -1.5\neffect_scale = "absolute"',
        )
    )
    assert spec.study.effect_of_interest == -1.5


@pytest.mark.parametrize(
    ("data", "analysis", "pattern"),
    [
        (
            ROLES + "\nperiods = [2015, 2011]",
            "",
            r"table \[data\], key 'periods': .*must be \[first, last\] with first <= "
            r"last; got \[2015, 2011\]",
        ),
        (
            ROLES,
            "sample = { periods = [2014, 2012] }",
            r"\[\[analysis\]\] #1 \('main'\), key 'sample.periods': .*must be "
            r"\[first, last\] with first <= last; got \[2014, 2012\]",
        ),
    ],
)
def test_period_windows_must_be_ordered(
    tmp_path: Path, data: str, analysis: str, pattern: str
) -> None:
    with pytest.raises(SpecError, match=pattern):
        run(study(tmp_path, data=data, analysis=analysis), tmp_path)


@pytest.mark.parametrize(
    ("vary", "pattern"),
    [
        (
            "{}",
            r"\[\[robustness\]\] #1 \('main'\), key 'vary': .*needs at least one key",
        ),
        (
            "{ shift = [] }",
            r"key 'vary': .*key 'shift' has an empty list of values",
        ),
        (
            '{ name = ["other"] }',
            r"key 'vary': .*key 'name' cannot be varied",
        ),
    ],
)
def test_robustness_vary_rules(tmp_path: Path, vary: str, pattern: str) -> None:
    tail = f'[[robustness]]\nbase = "main"\nvary = {vary}\n'
    with pytest.raises(SpecError, match=pattern):
        run(study(tmp_path, tail=tail), tmp_path)


def test_robustness_base_must_name_an_analysis(tmp_path: Path) -> None:
    tail = '[[robustness]]\nbase = "mian"\nvary = { shift = [0.0, 1.0] }\n'
    with pytest.raises(
        SpecError,
        match=r"\[\[robustness\]\] #1, key 'base': no analysis named 'mian'; choose "
        r"one of \['main'\]",
    ):
        run(study(tmp_path, tail=tail), tmp_path)


@pytest.mark.parametrize(
    ("vary", "pattern"),
    [
        (
            '{ label = ["a", "b"] }',
            r"\[\[robustness\]\] #1 \(base 'main'\): key 'label' cannot be varied",
        ),
        (
            '{ "sample.placebo_shift" = [0] }',
            r"\[\[robustness\]\] #1 \(base 'main'\), variant 'sample.placebo_shift=0':"
            r" key 'sample.placebo_shift': Input should be greater than or equal to 1",
        ),
    ],
)
def test_robustness_variants_are_validated(
    tmp_path: Path, vary: str, pattern: str
) -> None:
    tail = f'[[robustness]]\nbase = "main"\nvary = {vary}\n'
    with pytest.raises(SpecError, match=pattern):
        run(study(tmp_path, tail=tail), tmp_path)


def test_study_file_that_is_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "study.toml"
    folder.mkdir()
    with pytest.raises(SpecError, match=r"study.toml: cannot read the study file \("):
        run_study(folder, out=tmp_path / "out", progress=False)


def test_study_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = study(tmp_path)
    path.write_bytes(path.read_bytes().replace(b"Rules", b"R\xe8gles"))
    with pytest.raises(
        SpecError, match=r"study.toml: the study file is not UTF-8 text"
    ):
        run(path, tmp_path)


def test_unknown_study_name_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        SpecError,
        match=r"study file 'no_such_study' not found, and it is not the name of a "
        r"shipped example study \(examples: \[.*'innovation_synthetic'.*\]\); give the "
        r"path of a .toml file",
    ):
        resolve_spec_path("no_such_study")
    assert cli.main(["run", "no_such_study"]) == 2
    err = capsys.readouterr().err
    assert "not the name of a shipped example study" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------- [data] preparation
def test_data_path_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "panels").mkdir()
    path = study(tmp_path)
    path.write_text(
        path.read_text().replace('path = "panel.csv"', 'path = "panels"'),
        encoding="utf-8",
    )
    with pytest.raises(
        DataError,
        match=r"data path '.*panels' is a folder; point \[data\] path at a file",
    ):
        run(path, tmp_path)


def test_data_file_pandas_cannot_read(tmp_path: Path) -> None:
    path = study(tmp_path)
    (tmp_path / "panel.csv").write_text("", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"cannot read data file '.*panel.csv': No columns to parse"
    ):
        run(path, tmp_path)


def test_data_file_of_an_unsupported_type(tmp_path: Path) -> None:
    path = study(tmp_path)
    (tmp_path / "panel.csv").rename(tmp_path / "panel.json")
    path.write_text(path.read_text().replace("panel.csv", "panel.json"), "utf-8")
    with pytest.raises(
        DataError,
        match=r"data file '.*panel.json' has an unsupported type; use .csv, .tsv or "
        r"\.parquet",
    ):
        run(path, tmp_path)


def test_join_file_not_found(tmp_path: Path) -> None:
    data = ROLES + '\n[[data.join]]\npath = "extra.csv"\non = ["la"]\ncolumns = ["x"]'
    with pytest.raises(
        DataError, match=r"\[\[data.join\]\] #1: data file '.*extra.csv' not found"
    ):
        run(study(tmp_path, data=data), tmp_path)


def test_join_column_already_in_the_main_file(tmp_path: Path) -> None:
    path = study(
        tmp_path,
        data=ROLES + '\n[[data.join]]\npath = "extra.csv"\non = ["la", "year"]\n'
        'columns = ["rate"]',
    )
    panel_frame(tmp_path).to_csv(tmp_path / "extra.csv", index=False)
    with pytest.raises(
        DataError,
        match=r"\[\[data.join\]\] #1: column 'rate' is already in the main data file; "
        r"join each column once",
    ):
        run(path, tmp_path)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (
            'outcome = "rate"\nperiods = [2011, 2014]',
            r"\[data\] periods needs \[data\] time to name the period column",
        ),
        (
            'time = "year"\noutcome = "rate"\ncohorts = { u1 = 2013 }',
            r"\[data\] cohorts needs \[data\] unit to name the unit column",
        ),
        (
            'time = "year"\noutcome = "rate"\nbalance = true',
            r"\[data\] balance needs \[data\] unit and time",
        ),
        (
            'unit = "la"\noutcome = "rate"\nbalance = true',
            r"\[data\] balance needs \[data\] unit and time",
        ),
    ],
)
def test_preparation_steps_need_their_roles(
    tmp_path: Path, data: str, pattern: str
) -> None:
    with pytest.raises(SpecError, match=pattern):
        run(study(tmp_path, data=data), tmp_path)


def test_log_outcome_refuses_non_positive_values(tmp_path: Path) -> None:
    panel = panel_frame(tmp_path)
    panel.loc[(panel["la"] == "u4") & (panel["year"] == 2012), "rate"] = 0.0
    before = panel.copy()
    path = study(tmp_path, data=ROLES + "\nlog_outcome = true", panel=panel)
    with pytest.raises(
        DataError,
        match=r"\[data\] log_outcome: 'rate' has 1 missing or non-positive values "
        r"\(unit 'u4', period 2012\); drop them with dropna = true or a filter",
    ):
        run(path, tmp_path)
    pd.testing.assert_frame_equal(panel, before)


def test_filters_that_leave_no_rows(tmp_path: Path) -> None:
    data = ROLES + '\nkeep = { la = ["u1"] }\ndrop = { la = ["u1"] }'
    with pytest.raises(
        DataError,
        match=r"no rows of panel.csv remain after the \[data\] filters; loosen them",
    ):
        run(study(tmp_path, data=data), tmp_path)


# ---------------------------------------------------------------- analysis samples
def test_placebo_shift_needs_a_treatment(tmp_path: Path) -> None:
    data = 'unit = "la"\ntime = "year"\noutcome = "rate"'
    with pytest.raises(
        SpecError,
        match=r"sample.placebo_shift needs a treatment: set \[data\] cohort, cohorts "
        r"or treated",
    ):
        run(
            study(tmp_path, data=data, analysis="sample = { placebo_shift = 1 }"),
            tmp_path,
        )


@pytest.mark.parametrize(
    ("data", "sample", "pattern"),
    [
        (
            'unit = "la"\noutcome = "rate"',
            "sample = { periods = [2011, 2014] }",
            r"analysis 'main': sample restrictions need \[data\] time",
        ),
        (
            'unit = "la"\noutcome = "rate"',
            "sample = { placebo_shift = 1 }",
            r"analysis 'main': sample restrictions need \[data\] time",
        ),
        (
            'time = "year"\noutcome = "rate"',
            'sample = { exclude_units = ["u1"] }',
            r"analysis 'main': sample.exclude_units needs \[data\] unit",
        ),
        (
            ROLES,
            "sample = { periods = [1990, 1995] }",
            r"analysis 'main': no rows remain after the sample restrictions",
        ),
    ],
)
def test_sample_restrictions_need_their_roles(
    tmp_path: Path, data: str, sample: str, pattern: str
) -> None:
    with pytest.raises((SpecError, DataError), match=pattern) as info:
        run(study(tmp_path, data=data, analysis=sample), tmp_path)
    want = DataError if "no rows" in pattern else SpecError
    assert type(info.value) is want


def test_placebo_shift_with_treatment_time_needs_a_pre_period(tmp_path: Path) -> None:
    data = 'unit = "la"\ntime = "year"\noutcome = "rate"'
    analysis = "treatment_time = 2011\nsample = { placebo_shift = 1 }"
    with pytest.raises(
        DataError,
        match=r"analysis 'main': sample.placebo_shift = 1 leaves no pre-period before "
        r"the fake date 2010; use a smaller shift",
    ):
        run(
            study(tmp_path, data=data, analysis=analysis, estimator="fake_tt"),
            tmp_path,
        )


def test_placebo_shift_needs_treated_units(tmp_path: Path) -> None:
    data = ROLES + '\nkeep = { la = ["u3", "u4", "u5", "u6"] }'
    with pytest.raises(
        DataError,
        match=r"analysis 'main': sample.placebo_shift needs treated units; none found",
    ):
        run(
            study(tmp_path, data=data, analysis="sample = { placebo_shift = 1 }"),
            tmp_path,
        )


def test_placebo_shift_too_far_back(tmp_path: Path) -> None:
    # adoption 2013, data from 2010: a shift of 3 puts the fake date at 2010, the first
    # period, which has no pre-period of its own
    with pytest.raises(
        DataError,
        match=r"analysis 'main': sample.placebo_shift = 3 puts no fake adoption inside "
        r"the pre-period before 2013; use a larger shift",
    ):
        run(study(tmp_path, analysis="sample = { placebo_shift = 3 }"), tmp_path)


# ---------------------------------------------------------------- analysis columns
def test_covariate_column_absent_from_the_data(tmp_path: Path) -> None:
    data = 'unit = "la"\ntime = "year"\noutcome = "rate"'
    analysis = 'treatment_time = 2013\ncovariates = ["rate", "income"]'
    with pytest.raises(
        DataError,
        match=r"table \[\[analysis\]\] #1 \('main'\), key 'covariates': column "
        r"'income' is not in panel.csv",
    ):
        run(
            study(tmp_path, data=data, analysis=analysis, estimator="fake_tt"),
            tmp_path,
        )


# ---------------------------------------------------------------- estimator registry
@pytest.mark.parametrize(
    ("target", "pattern"),
    [
        (
            "impact_no_such_module:fit",
            r"\[\[analysis\]\] #1 \('main'\): estimator 'mine' is not available in this "
            r"installation of impact",
        ),
        (
            "math:pi",
            r"\[\[analysis\]\] #1 \('main'\): estimator 'mine' is not callable",
        ),
    ],
)
def test_registered_estimator_that_cannot_be_called(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, pattern: str
) -> None:
    monkeypatch.setitem(ESTIMATORS, "mine", target)
    with pytest.raises(SpecError, match=pattern):
        run(study(tmp_path, estimator="mine"), tmp_path)


# ---------------------------------------------------------------- output folder
def test_output_folder_that_cannot_be_created(tmp_path: Path) -> None:
    path = study(tmp_path)
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    with pytest.raises(
        SpecError,
        match=r"cannot create the output folder '.*afile/sub' \(.*\); choose a folder "
        r"you can write to",
    ):
        run_study(path, out=tmp_path / "afile" / "sub", progress=False)


def test_output_folder_that_is_not_writable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a read-only folder cannot be made as root, so the probe file is refused instead
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied")

    path = study(tmp_path)
    monkeypatch.setattr(study_output.tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(
        SpecError,
        match=r"the output folder '.*out' is not writable \(Permission denied\); "
        r"choose a folder you can write to",
    ):
        run(path, tmp_path)


def test_results_file_that_is_a_folder_is_not_replaced(tmp_path: Path) -> None:
    path = study(tmp_path)
    (tmp_path / "out" / "results.json").mkdir(parents=True)
    with pytest.raises(
        SpecError, match=r"refusing to replace the folder 'results.json' with a file"
    ):
        run(path, tmp_path)
    assert (tmp_path / "out" / "results.json").is_dir()


# ---------------------------------------------------------------- checks
def test_check_path_through_a_number_is_not_found(tmp_path: Path) -> None:
    tail = (
        '[[check]]\nanalysis = "main"\nquantity = "estimate.value"\n'
        "expected = 2.0\ntolerance = 100.0\n"
    )
    res = run(study(tmp_path, tail=tail), tmp_path)
    assert res.exit_code == 1
    (chk,) = res.results["checks"]
    assert chk["passed"] is False
    assert chk["actual"] is None
    assert chk["note"] == "quantity not found: 'value': estimate is not a table"


def test_join_keys_of_different_types(tmp_path: Path) -> None:
    """Was a bare pandas ValueError ("You are trying to merge on int64 and str")."""
    path = study(
        tmp_path,
        data=ROLES + '\n[[data.join]]\npath = "extra.csv"\non = ["la", "year"]\n'
        'columns = ["x"]',
    )
    extra = panel_frame(tmp_path)[["la", "year"]]
    extra.assign(year=extra["year"].astype(str) + "-01", x=1.0).to_csv(
        tmp_path / "extra.csv", index=False
    )
    with pytest.raises(
        DataError,
        match=r"\[\[data.join\]\] #1: cannot join extra.csv on \['la', 'year'\]: .*"
        r"'year'.*; write each key column the same way \(numbers or text\) in both files",
    ):
        run(path, tmp_path)


@pytest.mark.parametrize("seed", [-1, 2.5, True])
def test_seed_override_must_be_a_whole_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], seed: object
) -> None:
    """A negative --seed was a bare numpy ValueError ("expected non-negative integer")."""
    path = study(tmp_path)
    with pytest.raises(
        SpecError,
        match=rf"seed \(impact run --seed\) must be a whole number >= 0; got {seed!r}",
    ):
        run_study(path, out=tmp_path / "out", progress=False, seed=seed)  # type: ignore[arg-type]
    assert not (tmp_path / "out").exists()
    assert (
        cli.main(["run", str(path), "--out", str(tmp_path / "o2"), "--seed", "-1"]) == 2
    )
    assert "must be a whole number >= 0; got -1" in capsys.readouterr().err


@pytest.mark.parametrize("table", ["keep", "drop"])
def test_filter_value_absent_from_the_data(tmp_path: Path, table: str) -> None:
    """A misspelt value filtered nothing, silently (drop) or shrank the sample (keep)."""
    data = ROLES + f'\n{table} = {{ la = ["u1", "u9"] }}'
    with pytest.raises(
        DataError,
        match=rf"value 'u9' listed in \[data\] {table} for column 'la' is not in "
        r"panel.csv; check its spelling",
    ):
        run(study(tmp_path, data=data), tmp_path)


def test_excluded_unit_absent_from_the_data(tmp_path: Path) -> None:
    """A misspelt unit in sample.exclude_units excluded nothing, silently."""
    # u7 is in the data but not in the sample's periods: it is checked on the whole data
    analysis = 'sample = { periods = [2010, 2015], exclude_units = ["u7", "u77"] }'
    with pytest.raises(
        DataError,
        match=r"analysis 'main': unit 'u77' in sample.exclude_units is not in column "
        r"'la'; check its spelling",
    ):
        run(study(tmp_path, analysis=analysis), tmp_path)


@pytest.mark.parametrize(
    "body",
    ['{"analyses": {"main": 1}, "study": {}}', '{"analyses": [], "study": {}}'],
)
def test_report_of_an_edited_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str
) -> None:
    """Was "unexpected AttributeError: 'int' object has no attribute 'get'"."""
    (tmp_path / "results.json").write_text(body, encoding="utf-8")
    assert cli.main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "results.json does not have the layout `impact run` writes (" in err
    assert "run the study again to rewrite it" in err
    assert "unexpected" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]
