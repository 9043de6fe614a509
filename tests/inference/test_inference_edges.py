"""Inference primitives at their boundaries, against enumeration written here."""

from __future__ import annotations

import itertools

import numpy as np

from impact.inference import draw_weights, treatment_matrix


def test_treatment_matrix_switches_on_at_the_cohort_period() -> None:
    got = treatment_matrix(np.array([2012.0, np.inf, 2010.0]), np.arange(2010, 2014))
    want = np.array(
        [[p >= c for p in range(2010, 2014)] for c in (2012.0, np.inf, 2010.0)]
    )
    assert got.dtype == bool
    np.testing.assert_array_equal(got, want)


def test_rademacher_weights_enumerated_when_n_boot_covers_them() -> None:
    # 2**10 = 1024 sign vectors: n_boot = 1024 enumerates every one exactly once
    # (the bootstrap p-value is then exact); 1023 draws at random.
    V, exact = draw_weights("rademacher", 10, 1024, np.random.default_rng(0))
    assert exact and V.shape == (10, 1024)
    every = {tuple(s) for s in itertools.product((-1.0, 1.0), repeat=10)}
    assert {tuple(col) for col in V.T} == every
    V, exact = draw_weights("rademacher", 10, 1023, np.random.default_rng(0))
    assert not exact and V.shape == (10, 1023)
    # Webb's six-point weights: 6**3 = 216 vectors for 3 clusters
    V, exact = draw_weights("webb", 3, 216, np.random.default_rng(0))
    assert exact and len({tuple(col) for col in V.T}) == 216
