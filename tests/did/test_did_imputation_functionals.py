"""The factored imputation functionals equal the dense ``A = omega - v`` brute force.

``fit_imputation_result`` keeps each cell's ``A_k`` in factored form (unit and period
effects plus covariate slopes) for speed; here every estimate and per-unit score is
checked against the dense (K, N, T) weights built cell by cell, and ``sum(A * Y)``
against the imputed effects ``sum(omega * tau)`` it must reproduce (BJS 2024, eq. 5).
"""

from __future__ import annotations

import numpy as np
import pytest

from impact.did.imputation import (
    _cells,
    _Functionals,
    cluster_scores,
    first_stage_mask,
    impute,
    solve_two_way,
)


def dense_functionals(fit, omega):  # type: ignore[no-untyped-def]
    """``A = omega - v`` cell by cell with the batch normal-equation solver."""
    alpha, gamma = solve_two_way(
        np.broadcast_to(fit.m, omega.shape), omega.sum(axis=2), omega.sum(axis=1)
    )
    A = omega - fit.m[None] * (alpha[:, :, None] + gamma[:, None, :])
    if fit.Xr is not None:
        c = np.einsum("knt,ntp->kp", omega, fit.Xr)
        A = A - np.einsum("nt,ntp,pq,kq->knt", fit.m, fit.Xr, fit.xtx_inv, c)
    return A


@pytest.mark.parametrize("covariates", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_factored_functionals_match_dense(covariates: bool, weighted: bool) -> None:
    rng = np.random.default_rng(17)
    n, n_t = 60, 9
    cidx = rng.choice([3.0, 5.0, 7.0, np.inf], size=n)
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(1, n_t)) + rng.normal(size=(n, n_t))
    X = rng.normal(size=(n, n_t, 2)) if covariates else None
    W = rng.uniform(0.5, 2.0, size=(n, n_t)) if weighted else None
    w = np.ones((n, n_t)) if W is None else W
    fit = impute(Y, first_stage_mask(cidx, n_t, "notyet"), W, X)
    cells = _cells(cidx, fit, w, leads=True)
    omega = cells.omega(n_t)
    A_dense = dense_functionals(fit, omega)  # brute force, all cells at once
    F = _Functionals.of(fit, cells)
    np.testing.assert_allclose(F.dot(Y), np.einsum("knt,nt->k", A_dense, Y), atol=1e-12)
    np.testing.assert_allclose(
        F.dot(Y), np.nansum(omega * fit.tau[None], axis=(1, 2)), atol=1e-10
    )
    resid = rng.normal(size=(n, n_t))
    resid[0, 0] = np.nan
    codes = rng.integers(0, 7, size=n)
    np.testing.assert_allclose(
        cluster_scores(F, resid, codes),
        cluster_scores(A_dense, resid, codes),
        atol=1e-12,
    )
