"""Joint conformal test (Chernozhukov, Wuthrich and Zhu 2021) written out by hand.

DiD counterfactual (donor mean plus the treated unit's mean gap over all periods, fitted
with the null imposed), statistic ``(mean_t |u_t|^q)^(1/q)`` over the post-periods, or
the maximum for ``q = inf``, against all ``T`` cyclic shifts of the residuals; the
p-value is the share of shifts whose statistic reaches the observed one.
"""

from __future__ import annotations

import numpy as np
import pytest

from impact.synth.conformal import conformal_pvalue


def _joint_p_by_hand(y1, Y0, T0, theta, q):
    T = y1.size
    yf = y1.astype(float).copy()
    yf[T0:] -= theta
    fitted = Y0.mean(axis=1) + np.mean(yf - Y0.mean(axis=1))
    u = np.abs(yf - fitted)
    stats = []
    for s in range(T):
        block = u[(s + np.arange(T0, T)) % T]
        stats.append(block.max() if np.isinf(q) else np.mean(block**q) ** (1 / q))
    stats = np.array(stats)
    return np.mean(stats >= stats[0] * (1 - 1e-9))


@pytest.mark.parametrize("q", [1.0, 2.0, 0.5, np.inf])
def test_joint_pvalue_by_hand(q):
    rng = np.random.default_rng(19)
    T0, T1, J = 14, 4, 5
    Y0 = rng.normal(size=(T0 + T1, J)) + np.arange(T0 + T1)[:, None] * 0.3
    y1 = Y0.mean(axis=1) + 1.0 + rng.standard_t(3, size=T0 + T1)
    y1[T0:] += np.array([0.2, 1.5, -0.3, 0.8])
    thetas = [0.0, 1.0, np.array([0.2, 1.5, 0.0, 1.0])]
    ps = []
    for theta in thetas:
        p = conformal_pvalue(y1, Y0, T0, theta=theta, method="did", q=q)
        expected = _joint_p_by_hand(y1, Y0, T0, np.broadcast_to(theta, (T1,)), q)
        assert p == pytest.approx(expected, abs=1e-12)
        ps.append(p)
    assert len(set(ps)) > 1  # the null value matters on this panel
    # q changes the statistic, hence the p-values, on this panel
    ref_q1 = [
        _joint_p_by_hand(y1, Y0, T0, np.broadcast_to(th, (T1,)), 1.0) for th in thetas
    ]
    assert (ps != ref_q1) if q != 1.0 else (ps == ref_q1)
