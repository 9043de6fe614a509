"""Study files from a hostile or careless author: each case found by fuzzing.

``impact validate`` must refuse what ``impact run`` refuses (the estimator's own
argument checks run without data), before any work and without echoing secrets.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from study_helpers import write_panel

import impact.limits
from impact.cli import main
from impact.errors import SpecError
from impact.study.spec import load_spec

SPEC = """
[study]
title = "hardening"

[data]
path = "panel.csv"
unit = "la"
time = "year"
outcome = "rate"
cohort = "cohort"

[[analysis]]
name = "main"
estimator = "did"
method = "twfe"
{extra}
"""


def _write(tmp_path: Path, extra: str = "", tail: str = "") -> Path:
    write_panel(tmp_path)
    path = tmp_path / "study.toml"
    path.write_text(SPEC.format(extra=extra) + tail, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('inference = "magic"', "'inference' parameter of did must be one of"),
        ('control = "sometimes"', "'control' parameter of did must be one of"),
        ('n_boot = "many"', "'n_boot' parameter of did must be an integer"),
        ("alpha = 2.0", "'alpha' parameter of did must be a number"),
        ("not_an_option = 1", "unexpected keyword argument"),
        ("n_boot = 1000000000", "more than the limit of"),
    ],
)
def test_validate_runs_the_estimators_own_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, message: str
) -> None:
    spec = _write(tmp_path, extra)
    assert main(["validate", "--no-data", str(spec)]) == 2
    err = capsys.readouterr().err
    assert message in err and "[[analysis]] #1 ('main')" in err
    # and run refuses the same file, before writing anything
    assert main(["run", str(spec), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert not (tmp_path / "out" / "results.json").exists()


def test_validate_accepts_a_good_file(tmp_path: Path) -> None:
    assert main(["validate", str(_write(tmp_path, 'inference = "wild"'))]) == 0


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_non_finite_expected_or_tolerance_is_refused(
    tmp_path: Path, value: str
) -> None:
    for key in ("expected", "tolerance"):
        other = "tolerance = 0.1" if key == "expected" else "expected = 1.0"
        tail = (
            f'\n[[check]]\nanalysis = "main"\nquantity = "estimate"\n{key} = {value}\n'
            f"{other}\n"
        )
        with pytest.raises(
            SpecError, match=f"'{key}': Input should be a finite number"
        ):
            load_spec(_write(tmp_path, tail=tail))


def test_deeply_nested_toml_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(SpecError, match="nests tables or arrays too deeply"):
        load_spec(path)


def test_a_huge_robustness_grid_is_refused_before_expansion(tmp_path: Path) -> None:
    values = "[" + ", ".join(str(v / 10) for v in range(1, 11)) + "]"
    keys = ", ".join(f'"opt{i}" = {values}' for i in range(10))
    tail = f'\n[[robustness]]\nbase = "main"\nvary = {{ {keys} }}\n'
    spec = _write(tmp_path, tail=tail)
    start = time.perf_counter()
    with pytest.raises(SpecError, match="10,000,000,000 variants, more than the limit"):
        load_and_validate(spec)
    assert time.perf_counter() - start < 5
    small = '\n[[robustness]]\nbase = "main"\nvary = { n_boot = [99, 199] }\n'
    with impact.limits.raised(grid=1), pytest.raises(SpecError, match="limit of 1\\."):
        load_and_validate(_write(tmp_path, tail=small))
    load_and_validate(_write(tmp_path, tail=small))


def load_and_validate(path: Path) -> None:
    from impact.study.runner import validate_study

    spec, _ = load_spec(path)
    validate_study(spec, str(path))


def test_messages_do_not_echo_expanded_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SECRET_ROOT", "/mnt/token-abc123")
    spec = _write(tmp_path)
    spec.write_text(
        spec.read_text().replace('path = "panel.csv"', 'path = "${SECRET_ROOT}/p.csv"')
    )
    assert main(["run", str(spec), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "${SECRET_ROOT}/p.csv" in err
    assert "token-abc123" not in err
