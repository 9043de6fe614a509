"""Estimator cases shared by the contract tests (imported via tests/contract/conftest.py)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd

import impact
from impact.data import load_synthetic

SYN: dict[str, Any] = {
    "outcome": "cla_rate",
    "unit": "la_code",
    "time": "year",
    "cohort": "cohort",
}
SMOKING: dict[str, Any] = {
    "outcome": "cigsale",
    "unit": "state",
    "time": "year",
    "treated_units": ["California"],
    "treatment_time": 1989,
}
LALONDE_COVS = ["age", "educ", "married", "nodegree", "re74", "re75"]

DID_METHODS = [
    "2x2",
    "twfe",
    "event_study",
    "cs",
    "sunab",
    "imputation",
    "did2s",
    "etwfe",
]
SYNTH_METHODS = ["abadie", "augmented", "sdid"]
CASES = [
    *(f"did-{m}" for m in DID_METHODS),
    "bacon",
    *(f"synth-{m}" for m in SYNTH_METHODS),
    "match",
    "matched_did",
    "power-simulate",
]


def _small_synthetic() -> pd.DataFrame:
    """The committed Innovation Programme panel: all 20 treated LAs + 30 never treated."""
    df = load_synthetic()
    treated = sorted(df.loc[df["cohort"] > 0, "la_code"].unique())
    never = sorted(df.loc[df["cohort"] == 0, "la_code"].unique())[:30]
    keep = df["la_code"].isin([*treated, *never])
    return df.loc[keep].reset_index(drop=True)


def case_call(
    case: str, data: dict[str, pd.DataFrame]
) -> tuple[pd.DataFrame, Callable]:
    """The dataset and a ``fit(df, **extra)`` closure for one estimator case."""
    if case.startswith("did-"):
        method = case.removeprefix("did-")
        df = data["syn_one_cohort"] if method == "2x2" else data["syn"]
        # Seeded so permutation/bootstrap draws (the 2x2 fit has 5 treated LAs, so
        # "auto" picks permutation) are the same on every run; callers may override.
        return df, lambda d, **kw: impact.did(
            d, **{**SYN, "method": method, "seed": 20260401, **kw}
        )
    if case == "bacon":
        return data["syn"], lambda d, **kw: impact.bacon(d, **SYN, **kw)
    if case.startswith("synth-"):
        method = case.removeprefix("synth-")
        return data["smoking"], lambda d, **kw: impact.synth(
            d, **{**SMOKING, "method": method, "seed": 1, **kw}
        )
    if case == "match":
        return data["lalonde"], lambda d, **kw: impact.match(
            d, treatment="treat", covariates=LALONDE_COVS, outcome="re78", **kw
        )
    if case == "matched_did":
        return data["syn"], lambda d, **kw: impact.matched_did(
            d, **{**SYN, "seed": 20260401, **kw}
        )
    if case == "power-simulate":
        never = data["syn"].loc[data["syn"]["cohort"] == 0]
        return never, lambda d, **kw: impact.power.simulate(
            d,
            **{
                "outcome": "cla_rate",
                "unit": "la_code",
                "time": "year",
                "treatment_time": 2020,
                "n_treated": [3, 6],
                "effect": [0.0, 0.2],
                "n_sims": 20,
                "seed": 3,
                **kw,
            },
        )
    raise AssertionError(case)


def fit_case(case: str, data: dict[str, pd.DataFrame], **kw: Any) -> Any:
    df, fit = case_call(case, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(df, **kw)
