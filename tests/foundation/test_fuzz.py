"""Fuzzing: malformed panels and study files end in an ImpactError or a sane result.

Hypothesis draws small panels and corrupts them the ways real files are corrupted
(missing, infinite and enormous values, duplicated rows, nullable and text dtypes, mixed
ids, cohorts after the last period or varying within a unit, weights of zero) and study
files with hostile values. Every call must end, within a time bound, in an
:class:`~impact.errors.ImpactError` or in a result whose printed numbers are finite, must
leave its input unchanged, and must not write outside ``--out``. The default suite runs a
reduced number of examples; ``-m slow`` runs many more.
"""

from __future__ import annotations

import math
import signal
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import impact
from impact.errors import ImpactError

#: Seconds one call may take before it counts as a hang (generous: CI is a loaded 2-core box).
TIME_BOUND = 120
FAST = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SLOW = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Hang(Exception):
    """A call ran past the time bound."""


@contextmanager
def time_bound(seconds: int = TIME_BOUND) -> Iterator[None]:
    def _raise(signum: int, frame: Any) -> None:
        raise Hang(f"call did not finish within {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


CORRUPTIONS = [
    "none",
    "nan_outcome",
    "inf_outcome",
    "huge_outcome",
    "tiny_outcome",
    "negative_outcome",
    "duplicate_row",
    "drop_row",
    "nullable_cohort",
    "string_time",
    "mixed_ids",
    "late_cohort",
    "varying_cohort",
    "zero_weights",
    "constant_outcome",
    "all_treated",
    "none_treated",
    "object_outcome",
]


@st.composite
def corrupted_panels(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, Any]]:
    n_units = draw(st.integers(3, 12))
    n_periods = draw(st.integers(2, 6))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    units = [f"u{i:02d}" for i in range(n_units)]
    periods = list(range(2010, 2010 + n_periods))
    n_treated = draw(st.integers(1, max(1, n_units - 1)))
    cohorts = np.full(n_units, np.nan)
    cohorts[:n_treated] = rng.choice(periods[1:], n_treated) if n_periods > 1 else 2010
    frame = pd.DataFrame(
        {
            "unit": np.repeat(units, n_periods),
            "time": np.tile(periods, n_units),
            "cohort": np.repeat(cohorts, n_periods),
        }
    )
    frame["y"] = rng.normal(50, 5, len(frame)) + np.repeat(
        rng.normal(0, 5, n_units), n_periods
    )
    frame["w"] = rng.uniform(0.5, 2.0, len(frame))
    kind = draw(st.sampled_from(CORRUPTIONS))
    row = draw(st.integers(0, len(frame) - 1))
    if kind == "nan_outcome":
        frame.loc[row, "y"] = np.nan
    elif kind == "inf_outcome":
        frame.loc[row, "y"] = np.inf
    elif kind == "huge_outcome":
        frame["y"] *= 1e300
    elif kind == "tiny_outcome":
        frame["y"] *= 1e-300
    elif kind == "negative_outcome":
        frame["y"] -= 1e6
    elif kind == "duplicate_row":
        frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
    elif kind == "drop_row":
        frame = frame.drop(index=row).reset_index(drop=True)
    elif kind == "nullable_cohort":
        frame["cohort"] = frame["cohort"].astype("Int64")
    elif kind == "string_time":
        frame["time"] = frame["time"].astype(str)
    elif kind == "mixed_ids":
        frame["unit"] = frame["unit"].astype(object)
        frame.loc[frame["unit"] == units[0], "unit"] = 0
    elif kind == "late_cohort":
        frame.loc[frame["unit"] == units[0], "cohort"] = periods[-1] + 5
    elif kind == "varying_cohort":
        frame.loc[row, "cohort"] = 1999
    elif kind == "zero_weights":
        frame["w"] = 0.0
    elif kind == "constant_outcome":
        frame["y"] = 3.0
    elif kind == "all_treated":
        frame["cohort"] = periods[-1]
    elif kind == "none_treated":
        frame["cohort"] = np.nan
    elif kind == "object_outcome":
        frame["y"] = frame["y"].astype(object)
        frame.loc[row, "y"] = "n/a"
    options = {
        "method": draw(st.sampled_from(["2x2", "twfe", "event_study", "cs", "sunab"])),
        "inference": draw(st.sampled_from(["auto", "analytic", "permutation", "wild"])),
        "weights": draw(st.sampled_from([None, "w"])),
    }
    return frame, options


def _finite_or_none(x: Any) -> bool:
    if x is None:
        return True
    if isinstance(x, (tuple, list)):
        return all(_finite_or_none(v) for v in x)
    return math.isfinite(float(x))


def _check_call(call: Callable[[], Any], frame: pd.DataFrame) -> None:
    before = frame.copy(deep=True)
    with time_bound(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = call()
        except ImpactError:
            result = None
    pd.testing.assert_frame_equal(frame, before)  # the input is never mutated
    if result is not None:
        # what is printed is finite (a p-value may be absent, never NaN beside a CI)
        assert _finite_or_none(result.estimate)
        # an interval may be unbounded (test inversion with too few assignments: the
        # summary says the method cannot bound the effect) but never NaN
        assert result.ci is None or not any(math.isnan(float(v)) for v in result.ci)
        if result.ci is not None and not _finite_or_none(result.ci):
            assert "cannot bound" in result.summary() or result.warnings
        assert _finite_or_none(result.pvalue), result.pvalue
        assert result.pvalue is None or 0.0 <= result.pvalue <= 1.0
        result.summary()
        result.to_dict()


def _did(frame: pd.DataFrame, options: dict[str, Any]) -> Callable[[], Any]:
    def call() -> Any:
        if options["method"] == "2x2":
            # 2x2 needs one cohort: keep the first cohort only
            first = pd.to_numeric(frame["cohort"], errors="coerce").min()
            data = frame.assign(
                cohort=pd.to_numeric(frame["cohort"], errors="coerce").where(
                    lambda c: c == first
                )
            )
        else:
            data = frame
        return impact.did(
            data,
            outcome="y",
            unit="unit",
            time="time",
            cohort="cohort",
            seed=1,
            n_boot=99,
            **options,
        )

    return call


@FAST
@given(corrupted_panels())
def test_did_on_corrupted_panels(case: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    frame, options = case
    _check_call(_did(frame, options), frame)


@pytest.mark.slow
@SLOW
@given(corrupted_panels())
def test_did_on_corrupted_panels_full(
    case: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, options = case
    _check_call(_did(frame, options), frame)


@FAST
@given(corrupted_panels())
def test_bacon_on_corrupted_panels(case: tuple[pd.DataFrame, dict[str, Any]]) -> None:
    frame, _ = case
    _check_call(
        lambda: impact.bacon(
            frame, outcome="y", unit="unit", time="time", cohort="cohort"
        ),
        frame,
    )


HOSTILE_VALUES = [
    "1e309",
    "-1",
    "0",
    '"../../etc/passwd"',
    '"<script>alert(1)</script>"',
    "inf",
    "nan",
    "true",
    "[1, 2, 3]",
    "{ a = 1 }",
    '"${HOME}"',
    "99999999999999999999",
    '"' + "x" * 500 + '"',
]
HOSTILE_KEYS = [
    "method",
    "inference",
    "n_boot",
    "alpha",
    "control",
    "seed",
    "weights",
    "anticipation",
    "bogus_key",
    "sample",
    "label",
]


@st.composite
def hostile_studies(draw: st.DrawFn) -> str:
    title = draw(st.sampled_from(['"t"', '"<b>x</b>"', "1"]))
    name = draw(st.sampled_from(['"a"', '"../a"', '"/abs"', '"a/b"', '""']))
    lines = [
        "[study]",
        f"title = {title}",
        "[data]",
        'path = "panel.csv"',
        'unit = "la"',
        'time = "year"',
        'outcome = "rate"',
        'cohort = "cohort"',
        "[[analysis]]",
        f"name = {name}",
        'estimator = "did"',
    ]
    for key in draw(st.lists(st.sampled_from(HOSTILE_KEYS), max_size=3, unique=True)):
        lines.append(f"{key} = {draw(st.sampled_from(HOSTILE_VALUES))}")
    return "\n".join(lines) + "\n"


@FAST
@given(hostile_studies())
def test_hostile_study_files(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "study"))
    from study_helpers import write_panel

    from impact.cli import main

    root = tmp_path_factory.mktemp("fuzz")
    write_panel(root)
    spec = root / "study.toml"
    spec.write_text(text, encoding="utf-8")
    out = root / "out"
    before = {p for p in root.parent.rglob("*") if not p.is_relative_to(root)}
    with time_bound(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code_validate = main(["validate", str(spec)])
        code_run = main(["run", str(spec), "--out", str(out), "--quiet"])
    assert code_validate in (0, 2)
    assert code_run in (0, 1, 2)
    if code_validate == 2:
        assert code_run == 2, "validate refused a file that run accepted"
    # nothing written outside --out (the study's folder holds only what we wrote)
    assert {p.name for p in root.iterdir()} <= {"panel.csv", "study.toml", "out"}
    after = {p for p in root.parent.rglob("*") if not p.is_relative_to(root)}
    assert after == before
    if out.exists():
        assert not [p for p in out.iterdir() if p.name.startswith(".impact-")]
