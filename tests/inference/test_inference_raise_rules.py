"""Input rules of the inference primitives that no other default test triggered (line
coverage of the default suite, /work/cov, December 2026). Without each rule the call
would run on misaligned or missing data (NaN clusters become a cluster of their own,
cohorts are read as column numbers) or fail later with a bare numpy error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError, EstimationError, SpecError
from impact.inference import (
    cluster_robust_se,
    did2x2_weights,
    permutation_inference,
    wild_cluster_bootstrap,
)

N, T = 8, 4


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    Y = rng.normal(size=(N, T))
    D = np.zeros((N, T))
    D[:3, 2:] = 1
    A = did2x2_weights(D)
    return Y, np.asarray(A, dtype=float), D


def test_matrix_and_cluster_rules() -> None:
    Y, A, D = _data()
    with pytest.raises(DataError, match=r"Y passed to .* must be numeric"):
        wild_cluster_bootstrap([["a"] * T] * N, A, D)
    with pytest.raises(DataError, match=r"Y passed to .* must be a 2-D .* got 1 dim"):
        wild_cluster_bootstrap(Y[:, 0], A, D)
    with pytest.raises(DataError, match=r"A passed to .* has shape \(8, 3\); expected"):
        wild_cluster_bootstrap(Y, A[:, :3], D)
    bad = Y.copy()
    bad[5, 1] = np.nan
    with pytest.raises(
        DataError, match=r"missing or infinite value \(unit row 5, period"
    ):
        wild_cluster_bootstrap(bad, A, D)
    with pytest.raises(DataError, match=r"D passed to .* has shape \(8, 3\)"):
        wild_cluster_bootstrap(Y, A, D[:, :3])
    ctrl = np.ones((N, T, 1))
    ctrl[0, 0, 0] = np.nan
    with pytest.raises(DataError, match=r"controls passed to .* have missing values"):
        wild_cluster_bootstrap(Y, A, D, controls=ctrl)
    resid = Y - Y.mean()
    with pytest.raises(DataError, match=r"one label per unit \(8\); got shape \(7,\)"):
        cluster_robust_se(A, resid, np.arange(7))
    for labels in (
        np.r_[np.arange(7.0), np.nan],
        np.array(["a"] * 7 + [None], dtype=object),
    ):
        with pytest.raises(DataError, match="has missing labels"):
            cluster_robust_se(A, resid, labels)


def test_permutation_rules() -> None:
    Y, A, D = _data()
    cohort = np.r_[np.full(3, 2012.0), np.full(N - 3, np.inf)]

    def batch(Yb: np.ndarray, Db: np.ndarray) -> np.ndarray:
        return np.zeros(Db.shape[0])

    # cohorts given as years with no periods= or D=: which column is 2012?
    with pytest.raises(SpecError, match="cannot tell which periods the cohorts"):
        permutation_inference(Y, cohort, batch)
    with pytest.raises(DataError, match=r"D passed to .* has shape \(8, 3\)"):
        permutation_inference(Y, cohort, batch, D=D[:, :3])


def test_multi_outcome_list_rules() -> None:
    df = pd.DataFrame(
        {
            "u": np.repeat(np.arange(6), 4),
            "t": np.tile(np.arange(2010, 2014), 6),
            "y": np.arange(24.0),
            "g": np.repeat([2012.0, 2012.0, 0, 0, 0, 0], 4),
        }
    )
    kw = {"unit": "u", "time": "t", "cohort": "g"}
    with pytest.raises(SpecError, match="outcome= is an empty list"):
        impact.did(df, outcome=[], **kw)
    with pytest.raises(
        SpecError, match=r"must list column names \(strings\); got \[3\]"
    ):
        impact.did(df, outcome=["y", 3], **kw)


@pytest.mark.parametrize("effect", [0.0, 2.0], ids=["no-effect", "effect-2"])
def test_wild_bootstrap_refuses_zero_standard_error(effect: float) -> None:
    """Y = unit effect + period effect (+ effect on the treated cells) is fitted exactly
    by the 2x2 DiD model, so every residual and the CRVE are zero by construction (no
    sampling variation to bootstrap). Without the rule the t statistic is 0/0 or x/0 and
    the p-value and interval come out NaN or degenerate instead of an error."""
    _, A, D = _data()
    Y = np.arange(N)[:, None] * 1.0 + np.arange(T)[None, :] * 0.5 + effect * D
    with pytest.raises(
        EstimationError, match="The cluster-robust standard error is zero"
    ):
        wild_cluster_bootstrap(Y, A, D, seed=1)


def test_row_inference_refuses_a_null_outcome_of_another_shape() -> None:
    """Y0 (the outcomes with the effects removed) must line up with Y cell by cell;
    a Y0 missing the last period would otherwise be broadcast or misread."""
    from impact.inference.studentized import draw_assignments, row_inference

    Y, _, _ = _data()
    cohort = np.r_[np.full(3, 2.0), np.full(N - 3, np.inf)]
    asg = draw_assignments(cohort, max_enumerate=5000)

    def role_weights(totals: np.ndarray) -> np.ndarray:
        return np.zeros((1, 1, 2, T))

    with pytest.raises(DataError, match=r"Y0 has shape \(8, 3\); expected \(8, 4\)"):
        row_inference(Y, Y[:, :3], role_weights, asg, None)
