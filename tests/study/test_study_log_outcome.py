"""A study with ``[data] log_outcome = true`` reads the power verdict in log points."""

from __future__ import annotations

import json
from pathlib import Path

from study_helpers import write_panel

from impact.study.runner import run_study

SPEC = """
[study]
title = "Log outcome"
source = "made up for the tests"
seed = 3
design = true

[data]
path = "panel.csv"
unit = "la"
time = "year"
outcome = "rate"
cohort = "cohort"
log_outcome = true

[[analysis]]
name = "twfe"
estimator = "did"
method = "twfe"
inference = "analytic"
"""


def test_log_outcome_reaches_the_power_verdict(tmp_path: Path) -> None:
    write_panel(tmp_path)
    spec = tmp_path / "study.toml"
    spec.write_text(SPEC)
    run = run_study(spec, out=tmp_path / "out")
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert run.exit_code == 0, results["analyses"]
    summary = (tmp_path / "out" / "report.md").read_text()
    assert "log points" in summary


def test_log_outcome_is_passed_to_the_estimators(tmp_path: Path) -> None:
    # the estimators receive log_outcome=True (stored, no "looks like a log" guess);
    # a power simulation with relative effects on the log is run with a warning that
    # it multiplies the log, not refused
    write_panel(tmp_path)
    spec = tmp_path / "study.toml"
    spec.write_text(
        SPEC
        + """
[[analysis]]
name = "power"
estimator = "power"
treatment_time = 2013
n_treated = 3
effect = [0.0, -0.1]
n_sims = 20
"""
    )
    run = run_study(spec, out=tmp_path / "out")
    assert run.exit_code == 0
    twfe = run.results["analyses"]["twfe"]
    assert twfe["log_outcome"] is True
    assert not any("looks like a natural log" in w for w in twfe["warnings"])
    power = run.results["analyses"]["power"]
    assert any("multiplies it" in w for w in power["warnings"])
