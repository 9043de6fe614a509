"""Validation rules of limits and multi-outcome calls, one test each (issue 15).

Each test triggers the rule through the public entry point and pins the error type and
message; the mutations in ``tools/mutations/validation_rules.json`` switch each off.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest

import impact
from impact import limits
from impact.errors import DataError, SpecError
from impact.multiplicity import MultiOutcomeResult
from impact.results import EstimateResult


@pytest.mark.parametrize("value", [0, -5, float("inf"), float("nan"), "100"])
def test_raised_limits_must_be_positive_finite_numbers(value: object) -> None:
    before = limits.current()
    with pytest.raises(
        SpecError, match=r"limits.raised\(grid=...\) needs a positive finite number"
    ):
        with limits.raised(grid=value):  # type: ignore[arg-type]
            pass  # pragma: no cover - the rule refuses before the block runs
    assert limits.current() == before


def _long() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [
        {
            "u": u,
            "t": t,
            "g": 2004 if u < 3 else 0,
            "y": rng.normal(),
            "z": rng.normal(),
        }
        for u in range(8)
        for t in range(2000, 2008)
    ]
    return pd.DataFrame(rows)


def test_outcome_list_must_not_be_empty() -> None:
    with pytest.raises(
        SpecError,
        match=r"outcome= is an empty list; name at least one outcome column",
    ):
        impact.did(_long(), outcome=[], unit="u", time="t", cohort="g")


def test_outcome_list_must_hold_column_names() -> None:
    with pytest.raises(
        SpecError, match=r"outcome= must list column names \(strings\); got \[3\]"
    ) as info:
        impact.did(_long(), outcome=["y", 3], unit="u", time="t", cohort="g")
    assert not isinstance(info.value, DataError)


def _multi() -> MultiOutcomeResult:
    fits = {
        name: EstimateResult(
            estimator="fake", estimate=est, se=1.0, n_treated=2, n_control=5
        )
        for name, est in (("y", 1.0), ("z", 2.0))
    }
    return MultiOutcomeResult(
        fits, pd.DataFrame({"outcome": ["y", "z"]}), warnings=[], draws="none"
    )


def test_multi_outcome_result_copies_and_pickles() -> None:
    """Dunder lookups are not forwarded to the primary fit (copy/pickle would recurse)."""
    multi = _multi()
    assert not hasattr(multi, "__array_interface__")
    for clone in (copy.deepcopy(multi), pickle.loads(pickle.dumps(multi))):
        assert clone.outcomes == ["y", "z"]
        assert clone["z"].estimate == 2.0
        assert clone.primary.estimate == 1.0
