"""impact.inference._core.invert_test against closed-form intervals.

For the p-value of a two-sided z-test, ``p(theta) = 2 Phi(-|theta - est| / se)``, the
set ``{theta: p(theta) > alpha}`` is ``est -/+ z_{1-alpha/2} se`` exactly; the
documented bisection tolerance is ``1e-10`` of the scale, so the bounds must agree to
that (tested at 1e-8 of the SE). A step-function p-value (as from a permutation test)
has its crossing at a known jump.
"""

from __future__ import annotations

import math

import pytest
from scipy import stats

from impact.inference._core import invert_test


@pytest.mark.parametrize(("est", "se", "alpha"), [(1.3, 0.7, 0.05), (-4.0, 2.5, 0.1)])
def test_inverted_z_test_is_the_wald_interval(
    est: float, se: float, alpha: float
) -> None:
    def pfun(theta: float) -> float:
        return float(2 * stats.norm.sf(abs(theta - est) / se))

    (lo, hi), warnings = invert_test(pfun, est, se, alpha)
    z = stats.norm.ppf(1 - alpha / 2)
    assert lo == pytest.approx(est - z * se, abs=1e-8 * se)
    assert hi == pytest.approx(est + z * se, abs=1e-8 * se)
    assert warnings == []


def test_step_p_value_crossing_and_unbounded_side() -> None:
    # p jumps from 0.2 to exactly alpha = 0.05 at theta = 2.5 (p <= alpha rejects,
    # as for a permutation p of 1/20); it never rejects below
    def pfun(theta: float) -> float:
        return 0.05 if theta >= 2.5 else 0.2

    (lo, hi), warnings = invert_test(pfun, 1.0, 1.0, 0.05)
    assert hi == pytest.approx(2.5, abs=1e-8)
    assert lo == -math.inf
    assert len(warnings) == 1 and "unbounded" in warnings[0]
