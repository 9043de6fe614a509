"""The permutation pre-trend test enumerates when n_perm equals the assignment count.

``permutation_pretest`` enumerates every re-assignment when there are at most
``min(max enumeration, n_perm)`` of them. At the boundary (8 units, 2 treated in one
cohort: C(8, 2) = 28 assignments, ``n_perm=28``) the p-value must be the exact share of
the 28 assignments, the observed one included, whose Wald statistic is at least the
observed one. The reference loops over all 28 assignments here, refitting each with the
analytic pre-test statistic. With ``<`` instead of ``<=`` in the rule the test samples
28 assignments and returns ``(1 + hits) / 29`` instead (mutation
``lead-pretest-exact-boundary`` in tools/mutations/lead_checks.json).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import impact


def _long(Y: np.ndarray, treated: np.ndarray, start: int = 2000) -> pd.DataFrame:
    n, n_t = Y.shape
    cohort = np.where(treated, start + 4, 0)
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(start + np.arange(n_t), n),
            "y": Y.ravel(),
            "cohort": np.repeat(cohort, n_t),
        }
    )


KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}


def _fit(Y: np.ndarray, treated: np.ndarray) -> impact.DiDResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.did(_long(Y, treated), **KW, method="cs", inference="analytic")


def test_permutation_pretest_enumerates_at_exactly_n_perm_assignments() -> None:
    rng = np.random.default_rng(11)
    n, n_t = 8, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    treated = np.zeros(n, dtype=bool)
    treated[:2] = True
    res = _fit(Y, treated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        test = res.pretrend_test(inference="permutation", n_perm=28, seed=3)
    observed = res.pretrend_test(inference="analytic").statistic

    stats = []
    for idx in itertools.combinations(range(n), 2):
        tr = np.zeros(n, dtype=bool)
        tr[list(idx)] = True
        stats.append(_fit(Y, tr).pretrend_test(inference="analytic").statistic)
    assert len(stats) == 28
    hits = sum(s >= observed - 1e-9 * (1 + abs(observed)) for s in stats)
    assert test.pvalue == pytest.approx(hits / 28, abs=1e-12)
