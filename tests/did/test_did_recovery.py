"""Recovery on synthetic staggered panels with heterogeneous, dynamic effects.

DGP (numpy): N units, T periods, unit and period effects, N(0, 1) noise; cohorts
adopt at periods 3, 5 and 7 (30% never treated); the effect of cohort g at event time
e >= 0 is ``(1 + e) * delta_g`` with delta = (1.0, 0.5, 0.25): effects grow with
exposure and differ by cohort, the case where static TWFE is biased (Goodman-Bacon
2021; Sun and Abraham 2021). The target is the cohort-size-weighted average of the
post-treatment cell effects (the CS "simple" estimand); Sun-Abraham's ATT targets
the same cells with the same weights.

Kind: recovery (a smoke test of unbiasedness beside the reference tests). The
default run uses 60 replications; the slow run 600. Bias is judged against the Monte
Carlo standard error of the mean: |bias| < 4 MCSE for CS/SA (false-failure chance
~6e-5 per check) while TWFE must miss by more than 10 MCSE.
"""

from __future__ import annotations

import numpy as np
import pytest

import impact
from impact.panel import Panel

pytestmark = pytest.mark.montecarlo

N, T = 200, 10
COHORTS = (3, 5, 7)
DELTA = {3: 1.0, 5: 0.5, 7: 0.25}


def _simulate(rng: np.random.Generator) -> tuple[Panel, float]:
    cohort = rng.choice([3.0, 5.0, 7.0, np.inf], size=N, p=[0.25, 0.25, 0.2, 0.3])
    t = np.arange(T)
    Y = (
        rng.normal(size=(N, 1))
        + np.cumsum(rng.normal(size=T))[None, :]
        + rng.normal(size=(N, T))
    )
    e = np.where(
        np.isfinite(cohort)[:, None],
        t[None, :] - np.nan_to_num(cohort, posinf=0.0)[:, None],
        -1.0,
    )
    delta = np.array([DELTA.get(c, 0.0) for c in cohort])[:, None]
    effect = np.where(e >= 0, (1 + e) * delta, 0.0)
    Y = Y + effect
    # target: average over treated units' post cells, each cell weighted by cohort size
    sizes = {g: (cohort == g).sum() for g in COHORTS}
    num = sum(sizes[g] * ((1 + np.arange(T - g)) * DELTA[g]).sum() for g in COHORTS)
    den = sum(sizes[g] * (T - g) for g in COHORTS)
    return Panel.from_arrays(Y, cohort), float(num / den)


def _run(n_rep: int, seed: int) -> dict[str, np.ndarray]:
    from impact.parallel import spawn_generators

    gens = spawn_generators(seed, n_rep)
    out: dict[str, list[float]] = {
        "cs": [],
        "sunab": [],
        "twfe": [],
        "truth": [],
        "cs_se": [],
    }
    for rng in gens:
        panel, truth = _simulate(rng)
        cs = impact.did(panel, method="cs")
        out["cs"].append(cs.estimate)
        out["cs_se"].append(cs.se)
        out["sunab"].append(impact.did(panel, method="sunab").estimate)
        out["twfe"].append(impact.did(panel, method="twfe").estimate)
        out["truth"].append(truth)
    return {k: np.asarray(v) for k, v in out.items()}


def _check(res: dict[str, np.ndarray]) -> None:
    for m in ("cs", "sunab"):
        err = res[m] - res["truth"]
        mcse = err.std(ddof=1) / np.sqrt(len(err))
        assert abs(err.mean()) < 4 * mcse, (m, err.mean(), mcse)
    err_tw = res["twfe"] - res["truth"]
    mcse_tw = err_tw.std(ddof=1) / np.sqrt(len(err_tw))
    assert abs(err_tw.mean()) > 10 * mcse_tw, (err_tw.mean(), mcse_tw)
    # analytic SEs (which include the estimated cohort shares, as R did) track the
    # sampling spread of the estimate (ratio within 25% at these sizes)
    ratio = res["cs_se"].mean() / res["cs"].std(ddof=1)
    assert 0.75 < ratio < 1.25


def test_recovery_reduced():
    _check(_run(60, seed=20240501))


@pytest.mark.slow
def test_recovery_full():
    _check(_run(600, seed=7))
