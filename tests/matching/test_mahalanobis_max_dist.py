"""Mahalanobis matching with a cap on the distance itself, against a brute-force loop.

R MatchIt 4.5.1 (the version on the reference machine) ignores a caliper on the
Mahalanobis distance, so the reference is a loop written here: treated units in the
given order, each taking the alive control nearest in Euclidean distance on the
whitened covariates among those within ``max_dist`` (not its square).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.matching import matched_did
from impact.matching.nearest import greedy_mahalanobis


def _brute(
    Z: np.ndarray, focal: np.ndarray, max_dist: float, replace: bool
) -> dict[int, int]:
    alive = ~focal.copy()
    out = {}
    for t in np.flatnonzero(focal):
        cand = np.flatnonzero(alive if not replace else ~focal)
        dist = np.sqrt(((Z[cand] - Z[t]) ** 2).sum(axis=1))
        cand, dist = cand[dist <= max_dist], dist[dist <= max_dist]
        if len(cand):
            c = int(cand[np.argmin(dist)])
            out[int(t)] = c
            if not replace:
                alive[c] = False
    return out


@pytest.mark.parametrize("max_dist", [0.3, 0.6, 1.6, 2.5])
@pytest.mark.parametrize("replace", [False, True])
def test_greedy_mahalanobis_max_dist_matches_loop(
    max_dist: float, replace: bool
) -> None:
    # 2-d whitened covariates, 15 treated spread wider than 40 controls so that
    # nearest distances straddle both max_dist and max_dist**2.
    rng = np.random.default_rng(4)
    Z = np.vstack([rng.normal(scale=2.0, size=(15, 2)), rng.normal(size=(40, 2))])
    focal = np.r_[np.ones(15, bool), np.zeros(40, bool)]
    ref = _brute(Z, focal, max_dist, replace)
    pairs = greedy_mahalanobis(
        Z,
        focal,
        np.ones(len(Z), bool),
        np.flatnonzero(focal),
        replace=replace,
        max_dist=max_dist,
    )
    got = dict(zip(pairs.focal.tolist(), pairs.match.tolist(), strict=True))
    assert got == ref
    # the cap binds: some treated unit lost, some kept
    assert 0 < len(ref) < 15


def test_matched_did_caliper_is_on_the_distance_not_its_square() -> None:
    # One matching feature (the pre-period mean), so the Mahalanobis distance is
    # |level_i - level_j| / s, s**2 the pooled within-group variance of the level
    # (divisor n - 2). Treated units in row order each take the alive
    # never-treated unit nearest in that distance among those within the caliper.
    rng = np.random.default_rng(7)
    n1, n0, T = 8, 30, 6
    lev = np.r_[rng.normal(1.0, 1.5, n1), rng.normal(0.0, 1.0, n0)]
    Y = lev[:, None] + 0.3 * rng.normal(size=(n1 + n0, T))
    Y[:n1, 3:] += 0.5
    cohort = np.r_[np.full(n1, 2013.0), np.full(n0, np.inf)]
    df = pd.DataFrame(
        {
            "u": np.repeat(np.arange(n1 + n0), T),
            "t": np.tile(np.arange(2010, 2010 + T), n1 + n0),
            "y": Y.ravel(),
            "g": np.repeat(cohort, T),
        }
    )
    level = Y[:, :3].mean(axis=1)
    d = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
    c = level.copy()
    for g in (True, False):
        c[d == g] -= level[d == g].mean()
    s = np.sqrt(np.sum(c**2) / (len(c) - 2))
    for cal in (0.4, 1.5):
        ref = _brute((level / s)[:, None], d, cal, replace=False)
        assert 0 < len(ref) < n1
        res = matched_did(
            df,
            outcome="y",
            unit="u",
            time="t",
            cohort="g",
            match_on="level",
            caliper=cal,
        )
        m = res.matched
        pairs = dict(zip(m["treated"], m["control"], strict=True))
        assert pairs == ref, cal
        want = np.abs(level[m["treated"]] - level[m["control"]]) / s
        np.testing.assert_allclose(m["distance"], want, rtol=1e-9)
