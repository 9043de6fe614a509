"""Running studies: results.json contract, checks, reproducibility, backends (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from study_fakes import fake_did, fake_noplot
from study_helpers import BASE_SPEC, EVIL, write_study

from impact.errors import DataError
from impact.study import runner
from impact.study.runner import run_study


@pytest.fixture(autouse=True)
def _fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runner.ESTIMATORS, "fake", fake_did)
    monkeypatch.setitem(runner.ESTIMATORS, "noplot", fake_noplot)


def test_results_json_contract(tmp_path: Path) -> None:
    run = run_study(write_study(tmp_path), out=tmp_path / "out")
    assert run.exit_code == 0
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    for key in (
        "study",
        "analyses",
        "robustness",
        "checks",
        "versions",
        "seed",
        "spec_sha256",
        "data",
    ):
        assert key in res
    assert res["seed"] == 7
    assert len(res["spec_sha256"]) == 64 and len(res["data"]["sha256"]) == 64
    main = res["analyses"]["main"]
    for key in (
        "estimator",
        "estimate",
        "se",
        "ci",
        "pvalue",
        "n_treated",
        "n_control",
        "warnings",
    ):
        assert key in main
    assert main["n_treated"] == 3 and main["n_control"] == 5
    check = res["checks"][0]
    assert set(check) >= {
        "analysis",
        "quantity",
        "expected",
        "actual",
        "tolerance",
        "passed",
    }
    assert check["passed"] is True
    assert res["versions"]["impact"]
    rob = res["robustness"][0]
    assert rob["base"] == "main" and len(rob["variants"]) == 4
    # shift=0.5 moves the estimate by 0.5 for the same window (+ N(0, 0.1) noise each)
    v = {r["label"]: r["estimate"] for r in rob["variants"]}
    assert v["shift=0.5, sample.periods=[2010, 2015]"] - v[
        "shift=0.0, sample.periods=[2010, 2015]"
    ] == pytest.approx(0.5, abs=0.6)
    files = sorted(
        p.relative_to(tmp_path / "out").as_posix()
        for p in (tmp_path / "out").rglob("*")
        if p.is_file()
    )
    assert files == [
        "figures/main.png",
        "figures/placebo.png",
        "figures/spec_curve_main.png",
        "report.html",
        "report.md",
        "results.json",
    ]


def test_placebo_in_time_moves_the_cohort_and_truncates(tmp_path: Path) -> None:
    run = run_study(write_study(tmp_path), out=tmp_path / "out")
    placebo = run.results["analyses"]["placebo"]
    # real adoption 2013, shift 2: fake date 2011 on 2010-2012 only; no true effect
    assert placebo["first"] == 2011
    assert abs(placebo["estimate"]) < 0.3
    # brute force from the written panel.csv: the 2x2 of the fake estimator (treated
    # minus never-treated change, 2011-2012 mean minus 2010) on years before 2013
    df = pd.read_csv(tmp_path / "panel.csv")
    df = df[df["year"] < 2013]
    tr, post = df["cohort"].notna(), df["year"] >= 2011
    y = df["rate"]
    want = (y[tr & post].mean() - y[tr & ~post].mean()) - (
        y[~tr & post].mean() - y[~tr & ~post].mean()
    )
    assert placebo["estimate"] == pytest.approx(want, abs=1e-12)
    assert run.results["analyses"]["main"]["first"] == 2013


def test_failed_check_gives_exit_1(tmp_path: Path) -> None:
    text = BASE_SPEC.replace("expected = 2.0", "expected = 5.0") + (
        '\n[[check]]\nanalysis = "main"\nquantity = "no.such"\nexpected = 1.0\n'
    )
    run = run_study(write_study(tmp_path, text), out=tmp_path / "out")
    assert run.exit_code == 1
    first, second = run.results["checks"]
    assert first["passed"] is False and first["actual"] == pytest.approx(2.0, abs=0.5)
    assert second["passed"] is False and "not found" in second["note"]


def test_check_comparisons(tmp_path: Path) -> None:
    text = BASE_SPEC + (
        '\n[[check]]\nanalysis = "placebo"\nquantity = "pvalue"\nexpected = 0.05\n'
        'compare = "greater"\n'
        '\n[[check]]\nanalysis = "main"\nquantity = "weights.' + EVIL + '"\n'
        "expected = 0.3333\ntolerance = 0.001\n"
    )
    run = run_study(write_study(tmp_path, text), out=tmp_path / "out")
    assert [c["passed"] for c in run.results["checks"]] == [True, True, True]
    assert run.exit_code == 0


def test_same_spec_and_seed_give_identical_results(tmp_path: Path) -> None:
    spec = write_study(tmp_path)
    run_study(spec, out=tmp_path / "a")
    run_study(spec, out=tmp_path / "b")
    a = (tmp_path / "a" / "results.json").read_bytes()
    assert a == (tmp_path / "b" / "results.json").read_bytes()
    assert (tmp_path / "a" / "report.md").read_bytes() == (
        tmp_path / "b" / "report.md"
    ).read_bytes()
    run_study(spec, out=tmp_path / "c", seed=8)
    assert a != (tmp_path / "c" / "results.json").read_bytes()


def test_dask_backend_gives_the_serial_results(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="dask.distributed is a test dependency")
    spec = write_study(tmp_path)
    run_study(spec, out=tmp_path / "serial", backend="serial")
    run_study(spec, out=tmp_path / "dask", backend="dask", n_jobs=2)
    assert (tmp_path / "serial" / "results.json").read_bytes() == (
        tmp_path / "dask" / "results.json"
    ).read_bytes()


@pytest.mark.slow
def test_joblib_backend_gives_the_serial_results(tmp_path: Path) -> None:
    spec = write_study(tmp_path)
    run_study(spec, out=tmp_path / "serial", backend="serial")
    run_study(spec, out=tmp_path / "joblib", backend="joblib", n_jobs=2)
    assert (tmp_path / "serial" / "results.json").read_bytes() == (
        tmp_path / "joblib" / "results.json"
    ).read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["joblib", "dask"])
def test_real_study_same_results_on_every_backend(
    tmp_path: Path, reference_data: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    # a real estimator exercises BLAS and pandas block layouts, which a fake does not
    monkeypatch.setenv("IMPACT_REFERENCE_DATA", str(reference_data))
    spec = Path(__file__).resolve().parents[2] / "studies" / "castle.toml"
    run_study(spec, out=tmp_path / "serial", backend="serial")
    run_study(spec, out=tmp_path / backend, backend=backend, n_jobs=2)
    assert (tmp_path / "serial" / "results.json").read_bytes() == (
        tmp_path / backend / "results.json"
    ).read_bytes()


def test_single_blas_thread_restores_the_count() -> None:
    from impact.study._threads import _openblas_libs, single_blas_thread

    before = [get() for get, _ in _openblas_libs()]
    with single_blas_thread():
        inside = [get() for get, _ in _openblas_libs()]
    assert all(n == 1 for n in inside)
    assert [get() for get, _ in _openblas_libs()] == before


def test_canonical_frame_keeps_values_and_dtypes() -> None:
    import pandas as pd

    from impact.study.runner import _canonical

    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5]}, index=[5, 7])
    out = _canonical(frame)
    pd.testing.assert_frame_equal(out, frame.reset_index(drop=True))


def test_failing_analysis_is_a_data_error(tmp_path: Path) -> None:
    text = BASE_SPEC.replace("noise = 0.1", "fail = true")
    with pytest.raises(
        DataError, match=r"analysis 'main' \(fake\) failed: EstimationError"
    ):
        run_study(write_study(tmp_path, text), out=tmp_path / "out")


def test_failing_variant_is_recorded_not_fatal(tmp_path: Path) -> None:
    text = BASE_SPEC.replace(
        'vary = { shift = [0.0, 0.5], "sample.periods" = '
        "[[2010, 2015], [2011, 2015]] }",
        "vary = { fail = [false, true] }",
    )
    run = run_study(write_study(tmp_path, text), out=tmp_path / "out")
    rows = run.results["robustness"][0]["variants"]
    assert rows[0]["error"] is None and rows[1]["error"].startswith("EstimationError")
    assert run.results["robustness"][0]["summary"]["n_failed"] == 1


def test_plot_failure_keeps_the_study_going(tmp_path: Path) -> None:
    text = BASE_SPEC + '\n[[analysis]]\nname = "no figure"\nestimator = "noplot"\n'
    run = run_study(write_study(tmp_path, text), out=tmp_path / "out")
    assert "no figure" not in run.results["figures"]
    assert "RuntimeError" in run.results["notes"]["no figure"]["plot_error"]
    assert "No figure" in (tmp_path / "out" / "report.html").read_text()


def test_names_are_sanitised_into_the_output_folder(tmp_path: Path) -> None:
    text = BASE_SPEC.replace('name = "placebo"', 'name = "place bo: <x> *?"')
    out = tmp_path / "deep" / "out"
    run = run_study(write_study(tmp_path, text), out=out)
    assert run.results["figures"]["place bo: <x> *?"] == "figures/place_bo_x.png"
    for path in run.files:
        assert out.resolve() in path.resolve().parents
    outside = {p.name for p in tmp_path.iterdir()}
    assert outside == {"panel.csv", "study.toml", "deep"}


def test_column_named_in_analysis_must_exist(tmp_path: Path) -> None:
    text = BASE_SPEC.replace("noise = 0.1", 'outcome = "nope"')
    with pytest.raises(
        DataError, match=r"key 'outcome': column 'nope' is not in panel.csv"
    ):
        run_study(write_study(tmp_path, text), out=tmp_path / "out")


def test_exclusion_grid_and_filters(tmp_path: Path) -> None:
    text = BASE_SPEC.replace(
        'vary = { shift = [0.0, 0.5], "sample.periods" = [[2010, 2015], [2011, 2015]] }',
        'vary = { "sample.exclude_units" = [[], ["u1"], ["u1", "u2"]] }',
    ).replace(
        'cohort = "cohort"',
        'cohort = "cohort"\nkeep = { la = ["u1", "u2", "u3", "u4"] }',
    )
    run = run_study(write_study(tmp_path, text), out=tmp_path / "out")
    assert run.results["analyses"]["main"]["n_control"] == 2
    rows = run.results["robustness"][0]["variants"]
    assert [r["n_treated"] for r in rows] == [2, 1, 0]
    # no treated unit left: the fake returns NaN, recorded as a missing estimate
    assert rows[2]["estimate"] is None
    assert run.results["robustness"][0]["summary"]["n_variants"] == 3
