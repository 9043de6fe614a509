"""Estimators never mutate their input, are deterministic for a fixed seed, and give the
same answer for n_jobs=1 and n_jobs=2 (DESIGN.md, Internals: seeds)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pandas as pd
import pytest
from contract_cases import CASES, case_call, fit_case

D = dict[str, pd.DataFrame]


def _canonical(res: Any) -> str:
    return json.dumps(res.to_dict(), sort_keys=True, allow_nan=False)


@pytest.mark.parametrize("case", CASES)
def test_input_dataframe_not_mutated(case: str, datasets: D) -> None:
    df, fit = case_call(case, datasets)
    df = df.copy(deep=True)
    # Use an unsorted, non-default index: estimators must not sort or reindex in place.
    df = df.sample(frac=1.0, random_state=0)
    df.index = df.index + 1000
    before = df.copy(deep=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit(df)
    pd.testing.assert_frame_equal(df, before, check_exact=True)
    assert list(df.columns) == list(before.columns)


def test_row_order_does_not_change_the_answer(datasets: D) -> None:
    df, fit = case_call("did-cs", datasets)
    shuffled = df.sample(frac=1.0, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = fit(df), fit(shuffled)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-10)
    assert a.se == pytest.approx(b.se, rel=1e-10)


# Seeded randomness per estimator: (case, extra options that draw random numbers).
SEEDED = [
    ("did-cs", {"inference": "bootstrap", "n_boot": 99, "seed": 7}),
    ("did-twfe", {"inference": "wild", "n_boot": 99, "seed": 7}),
    ("did-event_study", {"inference": "permutation", "n_boot": 49, "seed": 7}),
    ("synth-abadie", {"seed": 7}),
    ("synth-sdid", {"seed": 7}),
    ("match", {"se": "bootstrap", "n_boot": 49, "seed": 7}),
    ("matched_did", {"inference": "permutation", "n_perm": 99, "seed": 7}),
    ("power-simulate", {"seed": 7, "n_sims": 10}),
]


@pytest.mark.parametrize(("case", "opts"), SEEDED, ids=[c for c, _ in SEEDED])
def test_deterministic_for_fixed_seed(case: str, opts: dict, datasets: D) -> None:
    first = _canonical(fit_case(case, datasets, **opts))
    second = _canonical(fit_case(case, datasets, **opts))
    assert first == second


def test_generator_seed_accepted(datasets: D) -> None:
    import numpy as np

    opts = {"inference": "wild", "n_boot": 99}
    a = fit_case("did-twfe", datasets, seed=np.random.default_rng(11), **opts)
    b = fit_case("did-twfe", datasets, seed=np.random.default_rng(11), **opts)
    assert _canonical(a) == _canonical(b)


# n_jobs exists on synth (placebo refits), match (bootstrap) and power.simulate.
NJOBS = [
    ("synth-abadie", {"seed": 5}),
    ("match", {"se": "bootstrap", "n_boot": 49, "seed": 5}),
    ("power-simulate", {"seed": 5, "n_sims": 10}),
]


@pytest.mark.parametrize(("case", "opts"), NJOBS, ids=[c for c, _ in NJOBS])
def test_same_result_for_one_and_two_jobs(case: str, opts: dict, datasets: D) -> None:
    one = fit_case(case, datasets, n_jobs=1, **opts)
    two = fit_case(case, datasets, n_jobs=2, backend="joblib", **opts)
    a, b = one.to_dict(), two.to_dict()
    a.pop("engine", None), b.pop("engine", None)  # execution metadata, not results
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
