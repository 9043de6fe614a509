"""Timing of propensity-score matching: impact vs causalml and psmpy.

Usage::

    python benchmarks/bench_matching.py                 # impact only
    .bench-venv/bin/python benchmarks/bench_matching.py --peers
        # causalml / psmpy, installed in a separate virtual environment (they pull in
        # scikit-learn and friends, which impact does not depend on); run.py creates
        # .bench-venv and puts these rows in its one table of ratios
    python benchmarks/bench_matching.py --quick     # 2k vs 20k, one repeat

Data: ``n1`` treated and ``n0`` comparison units with a known propensity score (Beta
draws, seed 20240501) and one covariate; every tool matches on the same score column,
1:1 nearest neighbour, caliper 0.2 SD of the score, with replacement (and without,
where the tool supports it). Wall-clock seconds, best of ``--repeat`` runs.

Measured on the 2-core development box while other jobs were running (single runs,
so read them as orders of magnitude; causalml 0.18.0, psmpy 0.3.16, scikit-learn
1.9.1 in a separate venv):

=================================================  ===========  =============
run                                                2k vs 20k    10k vs 100k
=================================================  ===========  =============
impact.match, score, caliper, replace (full fit*)  0.11 s       0.55 s
impact.match, score, caliper, no replace (full*)   0.18 s       0.69 s
impact.match, logit fit + caliper + replace        0.19 s       1.17 s
impact greedy engine alone, replace / no replace   --           0.07 / 0.22 s
causalml NearestNeighborMatch, replace             0.28 s       0.15 s
causalml NearestNeighborMatch, no replace          6.9 s        102 s
psmpy logit + kdtree_matched, replace (no caliper) 19.2 s       not run**
=================================================  ===========  =============

(*) impact's full fit includes the balance table (eCDF statistics over all rows, about
60% of the time at 110k rows) and the standard error; the engines alone are the
"greedy engine" row. causalml's caliper is also 0.2 SD of the score; psmpy has no
SD-scaled caliper and fits an L2-penalised scikit-learn logit.
(**) psmpy 0.3.16 queries all n0 neighbours of every treated unit (two dense n1 x n0
arrays: 2 x 8 GB at 10k x 100k), so it is only run at 2k x 20k.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd


def make_data(n1: int, n0: int, seed: int = 20240501) -> pd.DataFrame:
    """Treated/comparison cross-section with a propensity score column ``ps``."""
    rng = np.random.default_rng(seed)
    ps = np.r_[rng.beta(3, 5, n1), rng.beta(2, 6, n0)]
    return pd.DataFrame(
        {
            "id": np.arange(n1 + n0),
            "treat": np.r_[np.ones(n1), np.zeros(n0)].astype(int),
            "ps": ps,
            "x": rng.normal(size=n1 + n0) + ps,
            "y": rng.normal(size=n1 + n0) + 2 * ps,
        }
    )


def best_of(func: Callable[[], object], repeat: int, label: str = "") -> float:
    """Minimum wall-clock time of ``repeat`` calls (printed as soon as known)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    if label:
        print(f"  {label:<45s} {min(times):8.3f} s", flush=True)
    return min(times)


def bench_impact(df: pd.DataFrame, repeat: int) -> dict[str, float]:
    """impact.match on the score column and with its own logit."""
    from impact.matching import match

    kw: dict[str, Any] = {"treatment": "treat", "covariates": ["x"], "outcome": "y"}
    runs = {
        "impact: score, caliper, replace": lambda: match(
            df, distance="ps", caliper=0.2, replace=True, se="hc3", **kw
        ),
        "impact: score, caliper, no replace": lambda: match(
            df, distance="ps", caliper=0.2, **kw
        ),
        "impact: logit fit + caliper + replace": lambda: match(
            df, caliper=0.2, replace=True, se="hc3", **kw
        ),
    }
    return {k: best_of(f, repeat, k) for k, f in runs.items()}


def bench_peers(df: pd.DataFrame, repeat: int) -> dict[str, float]:
    """causalml and psmpy, when importable."""
    out: dict[str, float] = {}
    try:
        import causalml
        from causalml.match import NearestNeighborMatch

        for rep in (True, False):
            m = NearestNeighborMatch(caliper=0.2, replace=rep, ratio=1, random_state=1)
            how = "replace" if rep else "no replace"
            key = f"causalml {causalml.__version__}: score, caliper, {how}"
            out[key] = best_of(
                functools.partial(
                    m.match, data=df, treatment_col="treat", score_cols=["ps"]
                ),
                repeat,
                key,
            )
    except ImportError as exc:  # pragma: no cover - optional
        print(f"causalml not available: {exc}")
    try:
        from psmpy import PsmPy

        def run_psmpy(replacement: bool) -> None:
            psm = PsmPy(df[["id", "treat", "x"]], treatment="treat", indx="id")
            psm.logistic_ps(balance=False)
            psm.kdtree_matched(
                matcher="propensity_score", replacement=replacement, caliper=None
            )

        from importlib.metadata import version

        key = f"psmpy {version('psmpy')}: logit fit + knn, replace"
        out[key] = best_of(lambda: run_psmpy(True), repeat, key)
    except ImportError as exc:  # pragma: no cover - optional
        print(f"psmpy not available: {exc}")
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n1", type=int, default=10_000)
    p.add_argument("--n0", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--peers", action="store_true", help="time causalml/psmpy only")
    p.add_argument("--quick", action="store_true", help="2k vs 20k, one repeat")
    args = p.parse_args(argv)
    if args.quick:
        args.n1, args.n0, args.repeat = 2_000, 20_000, 1
    df = make_data(args.n1, args.n0)
    print(f"{args.n1:,} treated vs {args.n0:,} comparison units", flush=True)
    if args.peers:
        bench_peers(df, args.repeat)
    else:
        bench_impact(df, args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
