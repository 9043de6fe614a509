"""The ``impact`` command: exit codes 0/1/2 and one-line errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from study_fakes import fake_did
from study_helpers import BASE_SPEC, write_study

from impact.cli import main
from impact.study import runner


@pytest.fixture(autouse=True)
def _fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runner.ESTIMATORS, "fake", fake_did)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_run_ok_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(
        ["run", str(write_study(tmp_path)), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 0, err
    assert "1/1 checks passed" in out
    assert (tmp_path / "o" / "report.html").exists()


def test_run_prints_the_verdict_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    code, out, err = _run(
        ["run", str(write_study(tmp_path)), "--out", str(tmp_path / "o")], capsys
    )
    assert code == 0, err
    verdict = json.loads((tmp_path / "o" / "results.json").read_text())["verdict"]
    first = out.splitlines()[0]
    # the fake estimator is not an effect estimator the verdict knows
    assert verdict["conclusion"] == "inconclusive"
    assert first.startswith("Verdict: Inconclusive. No analysis")
    assert first.endswith(verdict["headline"].removeprefix("Inconclusive: ")[1:])


def test_failed_check_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_study(tmp_path, BASE_SPEC.replace("expected = 2.0", "expected = 9.0"))
    code, _, err = _run(
        ["run", str(spec), "--out", str(tmp_path / "o"), "--quiet"], capsys
    )
    assert code == 1
    assert "check failed: main estimate" in err


@pytest.mark.parametrize(
    ("old", "new", "pattern"),
    [
        ('title = "Fake study"', "title = ", "malformed TOML"),
        ('outcome = "rate"', 'outcome = "rate"\noops = 1', "key 'oops': unknown key"),
        ("seed = 7", "seed = 1.5", "key 'seed'"),
        ('path = "panel.csv"', 'path = "absent.csv"', "absent.csv' not found"),
        (
            'outcome = "rate"',
            'outcome = "nope"',
            "column 'nope' named in \\[data\\] outcome",
        ),
        (
            "noise = 0.1",
            "fail = true",
            "analysis 'main' \\(fake\\) failed: EstimationError",
        ),
        ('estimator = "fake"\nnoise', 'estimator = "nope"\nnoise', "must be one of"),
    ],
)
def test_bad_spec_or_data_exit_2_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, pattern: str
) -> None:
    spec = write_study(tmp_path, BASE_SPEC.replace(old, new, 1))
    code, out, err = _run(["run", str(spec), "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("impact: error: ")
    assert "Traceback" not in err
    import re

    assert re.search(pattern, err), err


def test_validate_many(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_study(tmp_path, name="good.toml")
    bad = write_study(
        tmp_path, BASE_SPEC.replace("seed = 7", "sed = 7"), name="bad.toml"
    )
    code, out, err = _run(["validate", str(good)], capsys)
    assert code == 0 and "good.toml: ok (2 analyses, 1 checks)" in out
    code, out, err = _run(["validate", str(good), str(bad)], capsys)
    assert code == 2
    assert "good.toml: ok" in out
    assert "bad.toml: table [study], key 'sed': unknown key" in err


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    with pytest.raises(SystemExit, match="2"):
        main(["run"])
    code, _, err = _run(["run", "x.toml", "--jobs", "0"], capsys)
    assert code == 2 and "--jobs" in err
    code, _, err = _run(["run", "x.toml", "--scheduler", "tcp://127.0.0.1:1"], capsys)
    assert code == 2 and "--scheduler needs --backend dask" in err


def test_python_m_impact_has_no_traceback(tmp_path: Path) -> None:
    spec = write_study(tmp_path, BASE_SPEC.replace("[[check]]", "[[check]"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "impact",
            "run",
            str(spec),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "malformed TOML" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_report_rerenders_from_results_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert main(["run", str(write_study(tmp_path)), "--out", str(out), "--quiet"]) == 0
    first = (out / "report.html").read_text()
    (out / "report.html").unlink()
    (out / "report.md").unlink()
    code, _, err = _run(["report", str(out)], capsys)
    assert code == 0, err
    assert (out / "report.html").read_text() == first
    assert (out / "report.md").exists()
    code, _, err = _run(["report", str(tmp_path / "nowhere")], capsys)
    assert code == 2 and "results.json not found" in err
