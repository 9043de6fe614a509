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


def _two_by_two(n: int, n_treated: int, seed: int = 0):
    from impact.inference import did2x2_weights

    rng = np.random.default_rng(seed)
    Y = rng.normal(size=(n, 4))
    D = np.zeros((n, 4))
    D[:n_treated, 2:] = 1
    return Y, did2x2_weights(D), D


def test_wild_bootstrap_warnings_at_their_thresholds() -> None:
    from impact.inference import wild_cluster_bootstrap

    # fewer than 5 treated clusters: the restricted bootstrap is very conservative
    for n_treated, warned in ((4, True), (5, False)):
        Y, A, D = _two_by_two(30, n_treated)
        out = wild_cluster_bootstrap(Y, A, D, n_boot=99, seed=1, ci=False)
        assert any("4 treated cluster(s)" in w for w in out.warnings) is warned
        assert any(
            "treated cluster(s): with fewer than 5" in w for w in out.warnings
        ) is (warned)
    # Rademacher with G clusters has 2**G distinct draws: at alpha 0.05 a warning
    # below 2 / alpha = 40 (G = 5: 32 draws), none at G = 6 (64 draws)
    for g, warned in ((5, True), (6, False)):
        Y, A, D = _two_by_two(g, 2)
        out = wild_cluster_bootstrap(
            Y, A, D, weights="rademacher", n_boot=999, seed=1, ci=False
        )
        assert out.exact
        hit = [w for w in out.warnings if "distinct Rademacher draws" in w]
        assert bool(hit) is warned
        if warned:
            assert hit[0].startswith(
                "Only 32 distinct Rademacher draws with 5 clusters"
            )


def test_permutation_enumerates_when_assignments_equal_the_cap() -> None:
    from impact.inference import count_assignments, permutation_inference

    rng = np.random.default_rng(4)
    Y = rng.normal(size=(8, 4))
    cohort = np.r_[np.full(3, 2.0), np.full(5, np.inf)]
    total = count_assignments(cohort)
    assert total == 56  # C(8, 3)

    def batch(Yb: np.ndarray, cohorts: np.ndarray) -> np.ndarray:
        # difference in post-minus-pre change, treated minus others (cohort 2)
        change = Yb[:, 2:].mean(axis=1) - Yb[:, :2].mean(axis=1)
        treated = np.isfinite(cohorts)
        return (treated * change).sum(1) / treated.sum(1) - (~treated * change).sum(
            1
        ) / (~treated).sum(1)

    out = permutation_inference(Y, cohort, batch, max_enumerate=56, n_perm=99, seed=1)
    assert out.exact and out.n_draws == 56
    # exact p-value: share of the 56 assignments at least as extreme
    import itertools as it

    est = []
    for idx in it.combinations(range(8), 3):
        c = np.full(8, np.inf)
        c[list(idx)] = 2.0
        est.append(batch(Y, c[None])[0])
    obs = batch(Y, cohort[None])[0]
    want = np.mean(np.abs(est) >= abs(obs) - 1e-12)
    assert out.pvalue == want
    out = permutation_inference(Y, cohort, batch, max_enumerate=55, n_perm=99, seed=1)
    assert not out.exact


def test_unit_noise_needs_two_pre_period_changes() -> None:
    # first adoption at column 3: columns 0-2 are untreated, 2 changes per unit, the
    # minimum; at column 2 only 1 change: no noise model. With 2 changes the
    # per-unit variance is the sum of squared demeaned changes over k - k/N
    # (k = 2, N = 6), floored at 1% of the median, scaled by (1 + rho) / 2.
    from impact.inference.studentized import unit_noise

    rng = np.random.default_rng(3)
    Y = rng.normal(size=(6, 5)).cumsum(axis=1)
    assert unit_noise(Y, 2) is None
    model = unit_noise(Y, 3)
    assert model is not None and model.n_changes == 2
    d = np.diff(Y[:, :3], axis=1)
    r = d - d.mean(axis=0)
    v = (r**2).sum(axis=1) / (2 - 2 / 6)
    v = np.maximum(v, 0.01 * np.median(v))
    scale = 1.0 if model.rho >= 0.99 else (1 + model.rho) / 2
    np.testing.assert_allclose(model.v, v * scale, rtol=1e-12)


def test_studentized_assignments_enumerated_at_exactly_the_cap() -> None:
    import itertools as it

    from impact.inference.studentized import draw_assignments

    cohort = np.r_[np.full(2, 2.0), np.full(4, np.inf)]  # C(6, 2) = 15 assignments
    a = draw_assignments(cohort, max_enumerate=15, n_perm=99, seed=1)
    assert a.exact and a.total == 15 and a.labels.shape == (15, 6)
    every = set()
    for idx in it.combinations(range(6), 2):
        c = np.full(6, np.inf)
        c[list(idx)] = 2.0
        every.add(tuple(c))
    assert {tuple(row) for row in a.labels} == every
    np.testing.assert_array_equal(a.labels[a.observed], cohort)
    b = draw_assignments(cohort, max_enumerate=14, n_perm=99, seed=1)
    assert not b.exact
