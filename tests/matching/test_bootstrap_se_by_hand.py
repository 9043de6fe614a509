"""The matching bootstrap SE equals a bootstrap written out in the test, draw for draw.

Reference: impact's seeding scheme (DESIGN.md: one child Generator per replication;
``match`` spawns two children of ``SeedSequence(seed)``, the second spawns the
replications' Generators, each resampling the treated then the comparison rows), and per draw the ATT of 1:1 nearest-neighbour
matching with replacement on one covariate computed by brute force: each treated unit's
nearest comparison unit by |x_i - x_j|, the mean of the pair differences. (Resampled
duplicates tie exactly but carry the same outcome, so tie-breaking cannot matter.) The
SE is the SD of the draws with ddof 1 (Efron and Tibshirani 1993, ch. 6: divisor B - 1). With 10
draws ddof 0 would be sqrt(9/10) = 0.949 times as large; the tolerance is 1e-9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.matching import match


def test_bootstrap_se_is_ddof1_sd_of_hand_draws() -> None:
    rng = np.random.default_rng(3)
    n1, n0 = 12, 30
    x = rng.normal(size=n1 + n0)
    d = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
    x[d] += 0.4
    y = 1.0 + 2.0 * x + 1.5 * d + rng.normal(size=n1 + n0)
    df = pd.DataFrame({"d": d.astype(int), "x": x, "y": y})
    seed, n_boot = 17, 10

    res = match(
        df,
        treatment="d",
        covariates=["x"],
        outcome="y",
        distance="mahalanobis",
        replace=True,
        se="bootstrap",
        n_boot=n_boot,
        seed=seed,
    )

    def att(idx: np.ndarray) -> float:
        xs, ds, ys = x[idx], d[idx], y[idx]
        xt, yt, xc, yc = xs[ds], ys[ds], xs[~ds], ys[~ds]
        nearest = np.abs(xt[:, None] - xc[None, :]).argmin(axis=1)
        return float(np.mean(yt - yc[nearest]))

    # the point estimate on the original sample, by the same brute force
    assert res.estimate == pytest.approx(att(np.arange(n1 + n0)), rel=1e-12)

    boot_parent = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    i1, i0 = np.flatnonzero(d), np.flatnonzero(~d)
    draws = []
    for g in boot_parent.spawn(n_boot):
        idx = np.r_[g.choice(i1, n1, replace=True), g.choice(i0, n0, replace=True)]
        draws.append(att(idx))
    assert res.se == pytest.approx(float(np.std(draws, ddof=1)), rel=1e-9)
    assert res.se_method.startswith(f"bootstrap ({n_boot} replications")
