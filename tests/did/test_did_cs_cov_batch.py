"""The batched CS-with-covariates ATT(g,t) against a brute-force refit per assignment.

The reference is the estimator itself run once per re-assigned cohort vector: the
internal ``compute_att_gt`` (every cell, every option) and the public
``impact.did(method="cs", covariates=...)`` on the re-labelled data frame (cells and the
headline simple ATT). Tolerance 1e-8 (absolute): both sides are the same closed-form
regression / Newton logit with the same stopping rule, so only summation order differs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.did._cs_cov_batch import cs_covariate_att_batch, simple_att_batch
from impact.did.cs import compute_att_gt
from impact.errors import SpecError

TOL = 1e-8


def _data(
    seed: int = 0, n: int = 40, n_t: int = 6, varying: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    X = np.repeat(x[:, None, None], n_t, axis=1)
    if varying:
        X = X + 0.3 * rng.normal(size=(n, n_t, 1))
    X = np.concatenate([X, rng.normal(size=(n, 1, 1)).repeat(n_t, axis=1)], axis=2)
    cohort = np.full(n, np.inf)
    cohort[:6] = 2
    cohort[6:12] = 4
    cohort[12:16] = 5
    trend = 0.4 * x[:, None] * np.arange(n_t)
    Y = rng.normal(size=(n, 1)) + trend + rng.normal(scale=0.5, size=(n, n_t))
    return Y, cohort, X, rng.uniform(0.5, 2.0, n)


def _assignments(cohort: np.ndarray, n_b: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([cohort] + [rng.permutation(cohort) for _ in range(n_b - 1)])


def test_trimming_of_high_propensity_comparisons_matches_refit() -> None:
    # a covariate that nearly separates cohort 2 from the rest: some comparison units
    # get a score above 0.995 and are trimmed (R did's rule) on both sides
    Y, cohort, X, _ = _data(seed=9)
    cohort[16:28] = 2
    X[:, :, 0] += 3.0 * (cohort == 2)[:, None]
    X[30, :, 0] = 8.0  # a comparison unit beyond the treated: score 0.998
    periods = np.arange(Y.shape[1])
    C = cohort[None, :]
    for est_method in ("dr", "ipw"):
        batch = cs_covariate_att_batch(Y, C, periods, X, est_method=est_method)
        ((_, _, att),) = _brute(Y, C, X, periods, est_method=est_method)
        np.testing.assert_allclose(batch.att[0], att, atol=TOL, rtol=0)


def _brute(Y, C, X, periods, **kw) -> list[np.ndarray]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in C:
            fit = compute_att_gt(Y, c, periods, X=X, with_inf=False, **kw)
            out.append((fit.gidx, fit.tidx, fit.att))
    return out


@pytest.mark.parametrize("est_method", ["dr", "ipw", "reg"])
@pytest.mark.parametrize(
    ("control", "base_period", "varying", "weighted"),
    [
        ("never", "varying", False, False),
        ("notyet", "varying", True, True),
        ("never", "universal", True, False),
        ("notyet", "universal", False, True),
    ],
)
def test_batch_equals_refit_per_assignment(
    est_method: str, control: str, base_period: str, varying: bool, weighted: bool
) -> None:
    Y, cohort, X, w = _data(seed=1, varying=varying)
    periods = np.arange(2010, 2010 + Y.shape[1])
    C = _assignments(cohort, 12, seed=2)
    kw = {
        "control": control,
        "est_method": est_method,
        "base_period": base_period,
        "weights": w if weighted else None,
    }
    batch = cs_covariate_att_batch(Y, C, periods, X, **kw)
    for b, (gidx, tidx, att) in enumerate(_brute(Y, C, X, periods, **kw)):
        kept = np.isfinite(batch.att[b])
        np.testing.assert_array_equal(batch.gidx[kept], gidx)
        np.testing.assert_array_equal(batch.tidx[kept], tidx)
        np.testing.assert_allclose(batch.att[b, kept], att, atol=TOL, rtol=0)


def test_notyet_without_never_treated_leaves_cells_out_as_refit_does() -> None:
    Y, cohort, X, _ = _data(seed=3)
    cohort[16:] = 5  # everyone treated by the last period: late cells lack controls
    periods = np.arange(Y.shape[1])
    C = _assignments(cohort, 6, seed=4)
    batch = cs_covariate_att_batch(Y, C, periods, X, control="notyet", est_method="dr")
    assert np.isnan(batch.att).any()
    for b, (gidx, tidx, att) in enumerate(
        _brute(Y, C, X, periods, control="notyet", est_method="dr")
    ):
        kept = np.isfinite(batch.att[b])
        np.testing.assert_array_equal(batch.gidx[kept], gidx)
        np.testing.assert_array_equal(batch.tidx[kept], tidx)
        np.testing.assert_allclose(batch.att[b, kept], att, atol=TOL, rtol=0)


@pytest.mark.parametrize("est_method", ["dr", "ipw", "reg"])
def test_batch_equals_public_did_on_relabelled_data(est_method: str) -> None:
    Y, cohort, X, _ = _data(seed=5, n=36, n_t=5)
    periods = np.arange(2015, 2020)
    C = _assignments(cohort, 4, seed=6)
    C[C == 5] = 4  # T = 5 periods: cohorts at index 2 and 4
    batch = cs_covariate_att_batch(Y, C, periods, X, est_method=est_method)
    simple = simple_att_batch(batch, C)
    for b in range(len(C)):
        first = np.where(np.isfinite(C[b]), periods[np.minimum(C[b], 4).astype(int)], 0)
        df = pd.DataFrame(
            {
                "unit": np.repeat(np.arange(len(Y)), len(periods)),
                "year": np.tile(periods, len(Y)),
                "y": Y.ravel(),
                "x": X[:, :, 0].ravel(),
                "z": X[:, :, 1].ravel(),
                "first": np.repeat(first, len(periods)),
            }
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = impact.did(
                df,
                outcome="y",
                unit="unit",
                time="year",
                cohort="first",
                method="cs",
                covariates=["x", "z"],
                est_method=est_method,
                inference="analytic",
            )
        cells = res.att_gt.sort_values(["group", "time"])
        ours = pd.DataFrame(
            {
                "group": periods[batch.gidx],
                "time": periods[batch.tidx],
                "att": batch.att[b],
            }
        ).sort_values(["group", "time"])
        np.testing.assert_array_equal(cells["group"], ours["group"])
        np.testing.assert_array_equal(cells["time"], ours["time"])
        np.testing.assert_allclose(cells["att"], ours["att"], atol=TOL, rtol=0)
        assert simple[b] == pytest.approx(res.estimate, abs=TOL)


def test_assignments_must_permute_the_same_cohorts() -> None:
    Y, cohort, X, _ = _data(seed=7)
    C = _assignments(cohort, 3, seed=8)
    C[1, np.flatnonzero(~np.isfinite(C[1]))[0]] = 3
    with pytest.raises(SpecError, match="same cohorts"):
        cs_covariate_att_batch(Y, C, np.arange(Y.shape[1]), X)
