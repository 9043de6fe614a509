"""Synthetic-control timings (issue 5), side by side with peer packages when installed.

Run: ``python benchmarks/bench_synth.py [--peers] [--jobs 2]``.

Targets (issue 5, two cores):
- one Abadie fit with nested V on Proposition 99 reproducing ADH (2010) Table 2 within
  0.02: under 2 s;
- the full placebo-in-space run over the 38 donors with nested V: under 60 s;
- 150 authorities x 15 years, 10 treated units, each with a full placebo run: under 5
  minutes.

Peers (optional, in their own environment): pysyncon (``Synth`` with nested V,
Nelder-Mead default). Reference timings measured for ``../shared/research/synth.md``
section 4.2-4.3: pysyncon 1.7 default fit 14.5 s (wrong weights), Powell 311 s; its
placebo run over 38 donors > 40 minutes.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

import impact

DATA = Path(
    os.environ.get(
        "IMPACT_REFERENCE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"
    )
)
ADH = {
    "outcome": "cigsale",
    "unit": "state",
    "time": "year",
    "treated_units": "California",
    "treatment_time": 1989,
    "predictors": ["lnincome", "age15to24", "retprice"],
    "predictor_period": list(range(1980, 1989)),
    "special_predictors": [
        ("beer", list(range(1984, 1989)), "mean"),
        ("cigsale", [1988], "mean"),
        ("cigsale", [1980], "mean"),
        ("cigsale", [1975], "mean"),
    ],
    "optimize_period": list(range(1970, 1989)),
}
PUBLISHED = {
    "Colorado": 0.164,
    "Connecticut": 0.069,
    "Montana": 0.199,
    "Nevada": 0.234,
    "Utah": 0.334,
}


def _timed(label: str, func):  # type: ignore[no-untyped-def]
    t0, c0 = time.perf_counter(), time.process_time()
    out = func()
    print(
        f"{label:<58} wall {time.perf_counter() - t0:7.2f} s   "
        f"cpu(main) {time.process_time() - c0:7.2f} s"
    )
    return out


def la_panel(seed: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """150 LAs x 15 years, factor model, 10 treated in year 11 (research note 4.6)."""
    rng = np.random.default_rng(seed)
    n, T = 150, 15
    mu = np.clip(rng.normal(70, 25, n), 15, 200)
    lam = rng.normal(1, 0.3, n)
    f = np.cumsum(rng.normal(0.5, 1.0, T))
    pop = np.exp(rng.normal(np.log(40000), 0.6, n))
    sd = 4 * np.sqrt(60000 / pop)
    Y = mu[:, None] + lam[:, None] * f[None, :] + rng.normal(size=(n, T)) * sd[:, None]
    treated = rng.choice(n, 10, replace=False)
    Y[treated, 10:] -= 4.0
    units = [f"LA{i:03d}" for i in range(n)]
    df = pd.DataFrame(
        {
            "la": np.repeat(units, T),
            "year": np.tile(np.arange(2010, 2025), n),
            "rate": Y.ravel(),
        }
    )
    return df, [units[i] for i in treated]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--peers", action="store_true")
    args = ap.parse_args()
    df = pd.read_csv(DATA / "smoking_prop99.csv")

    res = _timed(
        "impact: Prop 99 ADH fit, nested V (10 starts)",
        lambda: impact.synth(df, inference=None, **ADH),
    )
    err = max(
        abs(res.weights.get(k, 0.0) - PUBLISHED.get(k, 0.0)) for k in res.weights.index
    )
    print(f"    max |w - ADH Table 2| = {err:.4f}; pre-RMSPE {res.pre_rmspe:.4f}")
    test = _timed(
        f"impact: Prop 99 placebo run, 38 donors, nested V, n_jobs={args.jobs}",
        lambda: res.placebo(n_jobs=args.jobs),
    )
    print(
        f"    p = {test.pvalue:.4f} (ADH: 1/39 = {1 / 39:.4f}); "
        f"California rank {int(test.table.loc[test.table.treated, 'rank'].iloc[0])}"
    )

    la, treated = la_panel()
    spec = {"outcome": "rate", "unit": "la", "time": "year", "treatment_time": 2020}
    out = _timed(
        f"impact: 150 x 15, 10 treated, outcome-path SC + placebos, n_jobs={args.jobs}",
        lambda: impact.synth(la, treated_units=treated, n_jobs=args.jobs, **spec),
    )
    print(f"    ATT {out.estimate:.3f} (truth -4.0), pooled placebo p {out.pvalue:.4f}")
    pred = {
        "special_predictors": [
            ("rate", list(range(2010, 2020)), "mean"),
            ("rate", [2016], "mean"),
            ("rate", [2017], "mean"),
            ("rate", [2018], "mean"),
            ("rate", [2019], "mean"),
        ]
    }
    out2 = _timed(
        f"impact: 150 x 15, 10 treated, nested V (5 predictors) + placebos, "
        f"n_jobs={args.jobs}",
        lambda: impact.synth(
            la, treated_units=treated, n_jobs=args.jobs, **spec, **pred
        ),
    )
    print(f"    ATT {out2.estimate:.3f}, pooled placebo p {out2.pvalue:.4f}")

    if args.peers:
        try:
            from pysyncon import Dataprep, Synth  # type: ignore[import-not-found]
        except ImportError:
            print("pysyncon not installed here (install it in a separate environment)")
            return
        dp = Dataprep(
            foo=df.assign(age15to24=df["age15to24"] * 100),
            predictors=["lnincome", "age15to24", "retprice"],
            predictors_op="mean",
            time_predictors_prior=range(1980, 1989),
            special_predictors=[
                ("beer", range(1984, 1989), "mean"),
                ("cigsale", [1988], "mean"),
                ("cigsale", [1980], "mean"),
                ("cigsale", [1975], "mean"),
            ],
            dependent="cigsale",
            unit_variable="state",
            time_variable="year",
            treatment_identifier="California",
            controls_identifier=sorted(set(df["state"]) - {"California"}),
            time_optimize_ssr=range(1970, 1989),
        )
        s = Synth()
        _timed(
            "pysyncon: Synth.fit nested V (Nelder-Mead, equal start)",
            lambda: s.fit(dataprep=dp),
        )
        print(s.weights(round=3).loc[lambda w: w > 0])


if __name__ == "__main__":
    main()
