"""Nested-V search: the exact-match shortcut and its constrained least-squares solver.

References are brute force written here: SLSQP on the same constrained problem, and the
inner simplex solution for many random V.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from impact.synth.abadie import fit_scm, standardise
from impact.synth.weights import simplex_lsq_eq, simplex_weights


def _slsqp(A, b, C, d, w0):
    res = minimize(
        lambda w: (float(np.sum((A @ w - b) ** 2)), 2 * A.T @ (A @ w - b)),
        w0,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * w0.size,
        constraints=[{"type": "eq", "fun": lambda w: C @ w - d, "jac": lambda w: C}],
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    return res.x


@pytest.mark.parametrize("seed", range(3))
def test_simplex_lsq_eq_matches_slsqp(seed):
    rng = np.random.default_rng(seed)
    K, J, T = 3, 25, 8
    X0 = rng.normal(size=(K, J))
    w_true = rng.dirichlet(np.ones(J))
    x1 = X0 @ w_true
    A, b = rng.normal(size=(T, J)), rng.normal(size=T)
    C, d = np.vstack([X0, np.ones(J)]), np.append(x1, 1.0)
    w = simplex_lsq_eq(A, b, C, d, w_true)
    assert w is not None
    assert w.min() >= 0 and abs(w.sum() - 1) < 1e-12
    np.testing.assert_allclose(C @ w, d, atol=1e-10)
    ref = _slsqp(A, b, C, d, w_true)
    f = lambda x: float(np.sum((A @ x - b) ** 2))  # noqa: E731
    assert f(w) <= f(ref) + 1e-9
    assert f(w) >= f(ref) - 1e-6  # SLSQP is a local solver of a convex problem


@pytest.mark.parametrize("seed", range(3))
def test_nested_v_exact_match_is_best_over_all_v(seed):
    # Treated predictors inside the donors' hull: every V gives predictor distance 0,
    # so the nested optimum is the best outcome fit among exact matches; no V may do
    # better, and SLSQP on that set agrees.
    rng = np.random.default_rng(seed)
    K, J, T = 3, 20, 10
    X0 = rng.normal(size=(K, J)) * [[1.0], [5.0], [50.0]]
    x1 = X0 @ rng.dirichlet(np.ones(J))
    Z0 = rng.normal(size=(T, J)).cumsum(axis=0) + 10
    z1 = Z0 @ rng.dirichlet(np.ones(J)) + rng.normal(size=T)
    fit = fit_scm(x1, X0, z1, Z0, rng=np.random.default_rng(0))
    assert fit.loss_w < 1e-18
    x1s, X0s = standardise(x1, X0)
    A, b = Z0 / np.sqrt(T), z1 / np.sqrt(T)
    C, d = np.vstack([X0s, np.ones(J)]), np.append(x1s, 1.0)
    w0 = simplex_weights(x1s, X0s)
    ref = _slsqp(A, b, C, d, w0)
    assert fit.loss_v <= float(np.mean((z1 - Z0 @ ref) ** 2)) + 1e-9
    for _ in range(100):
        v = rng.dirichlet(np.full(K, 0.5)) + 1e-6
        w = simplex_weights(x1s, X0s, v)
        assert fit.loss_v <= float(np.mean((z1 - Z0 @ w) ** 2)) + 1e-9
