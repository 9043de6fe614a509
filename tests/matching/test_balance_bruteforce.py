"""Balance tables against the definitions written out in ``balance_by_hand.py``.

The MatchIt reference test (test_match_reference.py) pins SMDs of 1:1 matches on
Lalonde, where every weight is 0 or 1. Here the weights are uneven (matching with
replacement, 2:1) and every estimand's SMD denominator, the reliability-weighted
variance ratio, the eCDF statistics with ties, the binary conventions and the
effective sample sizes are recomputed by hand. Exact agreement (rel 1e-10).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from balance_by_hand import balance_row, ess

import impact
from impact.matching.balance import balance_table

COVS = ["age", "educ", "married", "nodegree", "re74", "re75"]
COLS = [
    "mean_treated_before",
    "mean_control_before",
    "smd_before",
    "var_ratio_before",
    "ecdf_mean_before",
    "ecdf_max_before",
    "mean_treated_after",
    "mean_control_after",
    "smd_after",
    "var_ratio_after",
    "ecdf_mean_after",
    "ecdf_max_after",
]


def _check(table: pd.DataFrame, X: np.ndarray, names: list[str], d, w, **kw) -> None:
    for j, name in enumerate(names):
        want = balance_row(X[:, j], d, w, **kw)
        row = table.set_index("covariate").loc[name]
        for col in COLS:
            if np.isnan(want[col]):
                assert np.isnan(row[col]), (name, col)
            else:
                assert row[col] == pytest.approx(want[col], rel=1e-10, abs=1e-12), (
                    name,
                    col,
                )


@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
@pytest.mark.parametrize("binary", ["raw", "std"])
def test_balance_table_by_hand(estimand: str, binary: str) -> None:
    rng = np.random.default_rng(3)
    n = 40
    d = rng.random(n) < 0.4
    X = np.column_stack(
        [
            rng.normal(size=n) * np.where(d, 2.0, 1.0) + d,  # unequal variances
            rng.integers(0, 4, size=n).astype(float),  # many ties for the eCDF
            (rng.random(n) < np.where(d, 0.7, 0.3)).astype(float),  # binary
        ]
    )
    w = rng.choice([0.0, 0.5, 1.0, 2.0, 3.0], size=n)
    names = ["x", "k", "b"]
    tab = balance_table(X, names, d, w, estimand=estimand, binary=binary)
    _check(tab, X, names, d, w, estimand=estimand, binary=binary)
    smd = tab.set_index("covariate")["smd_after"].abs()
    assert list(tab["balanced_after"]) == list(smd.to_numpy() < 0.1)
    tab = balance_table(X, names, d, w, estimand=estimand, binary=binary, threshold=1)
    assert list(tab["balanced_after"]) == list(smd.to_numpy() < 1.0)


def test_match_with_replacement_balance_and_ess(reference_data: Path) -> None:
    df = pd.read_csv(reference_data / "lalonde_matchit.csv")
    res = impact.match(
        df,
        treatment="treat",
        covariates=COVS,
        outcome="re78",
        replace=True,
        ratio=2,
    )
    d = df["treat"].to_numpy() == 1
    w = res.weights.to_numpy(dtype=float)
    assert len(set(np.round(w[~d & (w > 0)], 9))) > 1  # uneven control weights
    X = df[COVS].to_numpy(dtype=float)
    _check(res.balance(), X, COVS, d, w)
    _check(res.balance(binary="std"), X, COVS, d, w, binary="std")
    assert res.ess_treated == pytest.approx(ess(w[d]), rel=1e-12)
    assert res.ess_control == pytest.approx(ess(w[~d & (w > 0)]), rel=1e-12)
    assert res.n_matched == int(d.sum())
    smd = res.balance().set_index("covariate")["smd_after"].abs()
    for thr in (0.05, 0.5):
        flags = res.balance(threshold=thr).set_index("covariate")["balanced_after"]
        assert list(flags) == list(smd < thr)
