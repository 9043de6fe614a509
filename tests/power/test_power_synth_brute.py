"""Synthetic-control power test (impact.power._synth) against an explicit computation.

For every unit as the treated one and every attainable level, the vectorised placebo
decisions must equal the ADH rank test computed unit by unit from the leave-one-out
weights: the treated unit's post-period gap shifted by its own effect, each placebo's
post-period gap shifted by minus its donor weight on the treated unit times that
effect, p = (1 + #{placebo statistic >= treated statistic}) / N, reject when p <= alpha.
The weights themselves are checked against an independent simplex least-squares fit
(scipy NNLS with a heavily weighted sum-to-one row).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from impact.power._synth import synth_placebo


def _simplex_ls(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    M = 1e4 * max(np.abs(X).max(), np.abs(y).max())
    w, _ = nnls(np.vstack([X, np.full(X.shape[1], M)]), np.append(y, M))
    return w


@pytest.mark.parametrize("statistic", ["ratio", "gap"])
def test_every_unit_and_level_matches_the_rank_test(statistic: str) -> None:
    rng = np.random.default_rng(5)
    N, T, t0 = 10, 9, 6
    Y = rng.normal(size=(N, T)).cumsum(axis=1) + 10
    sp = synth_placebo(Y, t0)
    for i in range(N):
        others = np.arange(N) != i
        w = _simplex_ls(Y[i, :t0], Y[others, :t0].T)
        np.testing.assert_allclose(sp.W[i, others], w, atol=1e-6)
        assert sp.W[i, i] == 0.0
    gaps = Y - sp.W @ Y
    E = rng.normal(-1.0, 0.7, size=(N, T - t0))  # a different effect path per unit
    levels = np.arange(1, 2 * N + 1) / (2 * N)  # the attainable p-values and midpoints
    p_by_hand = np.empty(N)
    for i in range(N):
        g = gaps.copy()
        g[:, t0:] -= sp.W[:, [i]] * E[i]  # the treated unit is a donor of placebo j
        g[i, t0:] = gaps[i, t0:] + E[i]
        if statistic == "ratio":
            score = np.sqrt((g[:, t0:] ** 2).mean(1) / (g[:, :t0] ** 2).mean(1))
        else:
            score = np.abs(g[:, t0:].mean(1))
        p_by_hand[i] = (1 + np.sum(np.delete(score, i) >= score[i])) / N
    for alpha in levels:
        est, reject = sp.test(E, alpha=alpha, statistic=statistic)
        np.testing.assert_array_equal(reject, p_by_hand <= alpha + 1e-12)
    np.testing.assert_allclose(est, gaps[:, t0:].mean(1) + E.mean(1), atol=1e-12)
    # the levels really separate: several distinct p-values occur
    assert np.unique(p_by_hand).size >= 3
