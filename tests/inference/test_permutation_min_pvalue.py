"""permutation_inference says when its smallest attainable p-value exceeds alpha.

Reference: brute-force enumeration written here of every assignment of a 2x2 DiD; the
smallest attainable p-value is the share of assignments tied at the largest |estimate|
(mirror-image assignments of equal-sized groups tie), not simply 1 / #assignments.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from impact.inference import permutation_inference


def _did(Y: np.ndarray, C: np.ndarray) -> np.ndarray:
    change = Y[:, 2:].mean(axis=1) - Y[:, :2].mean(axis=1)
    tr = np.isfinite(C)
    return (tr @ change) / tr.sum(axis=1) - ((~tr) @ change) / (~tr).sum(axis=1)


@pytest.mark.parametrize(("n", "n_t", "warns"), [(6, 3, True), (8, 2, False)])
def test_min_pvalue_counts_mirror_ties(n: int, n_t: int, warns: bool) -> None:
    rng = np.random.default_rng(3)
    Y = rng.normal(size=(n, 4))
    cohort = np.full(n, np.inf)
    cohort[:n_t] = 2
    out = permutation_inference(Y, cohort, _did, periods=np.arange(4), seed=1)
    est = []
    for treat in itertools.combinations(range(n), n_t):
        c = np.full(n, np.inf)
        c[list(treat)] = 2
        est.append(_did(Y, c[None, :])[0])
    a = np.abs(np.array(est))
    expect = np.mean(a >= a.max() * (1 - 1e-12))
    assert out.exact and out.details["min_pvalue"] == pytest.approx(expect)
    assert bool(expect > 0.05) is warns
    said = any("smallest attainable p-value" in w for w in out.warnings)
    assert said is warns
