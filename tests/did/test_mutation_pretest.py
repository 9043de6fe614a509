"""Permutation pre-trend test: exact p-value and the attainable-p warning, by enumeration.

When every re-assignment of the adoption dates can be listed, the permutation
pre-trend p-value of ``DiDResult.pretrend_test(inference="permutation")`` is the share
of *all* assignments (the observed one included) whose Wald statistic reaches the
observed one. The reference here enumerates the assignments with
``itertools.combinations`` and refits each with the public analytic
``pretrend_test()``: no code of the permutation routine is shared. Tolerance 1e-12
(both are ratios of the same integers).

A p-value without the observed assignment (``#{T_b >= T} / B``) or one counting the
wrong tail moves by at least 1/21 here, far outside the tolerance. With 6 units and 2
treated there are only 15 assignments, so the smallest attainable p-value, 1/15, is
above 0.05: the test must say it cannot reject.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import impact
from impact.panel import Panel


def _panel_y(n: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = 5
    Y = rng.normal(size=(n, 1)) + rng.normal(scale=0.3, size=(n, t))
    Y[:2] += 0.8 * np.arange(t)  # units 0 and 1 trend away before adopting
    return Y


def _wald(Y: np.ndarray, c: np.ndarray) -> float:
    res = impact.did(Panel.from_arrays(Y, c), method="cs", inference="analytic")
    return float(res.pretrend_test().statistic)


def _enumerated_share(Y: np.ndarray, g: int, n_treated: int) -> tuple[float, int]:
    n = Y.shape[0]
    cohort = np.full(n, np.inf)
    cohort[:n_treated] = g
    obs = _wald(Y, cohort)
    stats_all = []
    for treat in itertools.combinations(range(n), n_treated):
        c = np.full(n, np.inf)
        c[list(treat)] = g
        stats_all.append(_wald(Y, c))
    arr = np.array(stats_all)
    return float(np.mean(arr >= obs * (1 - 1e-10))), len(arr)


def test_exact_pretrend_pvalue_is_the_enumerated_share():
    n, g = 7, 3
    Y = _panel_y(n)
    cohort = np.full(n, np.inf)
    cohort[:2] = g
    share, total = _enumerated_share(Y, g, 2)
    assert total == 21
    res = impact.did(Panel.from_arrays(Y, cohort), method="cs", inference="analytic")
    test = res.pretrend_test(inference="permutation", n_perm=199, seed=1)
    assert test.pvalue == pytest.approx(share, abs=1e-12)
    assert not any("smallest attainable" in w for w in test.warnings)


def test_pretrend_permutation_warns_when_it_cannot_reject():
    n, g = 6, 3
    Y = _panel_y(n)
    cohort = np.full(n, np.inf)
    cohort[:2] = g
    share, total = _enumerated_share(Y, g, 2)
    assert total == 15 and 1 / total > 0.05
    res = impact.did(Panel.from_arrays(Y, cohort), method="cs", inference="analytic")
    test = res.pretrend_test(inference="permutation", n_perm=199, seed=1)
    assert test.pvalue == pytest.approx(share, abs=1e-12)
    assert any("smallest attainable" in w for w in test.warnings)
