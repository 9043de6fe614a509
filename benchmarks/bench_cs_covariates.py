"""Timing of randomization inference for Callaway-Sant'Anna with covariates.

Usage::

    python benchmarks/bench_cs_covariates.py [--n-perm 999] [--threads 1] [--seed 1]

On a 150 x 16 panel calibrated to the CLA panel (``impact.data.generate_la_panel``,
10 treated authorities in 4 yearly cohorts, one covariate: deprivation), for each
``est_method`` ("dr", "ipw", "reg") it times

- one analytic fit, ``impact.did(method="cs", covariates=..., inference="analytic")``;
- a refit per re-assigned cohort vector with ``compute_att_gt`` (timed on 20
  assignments and scaled to ``--n-perm``): what the permutation path costs without
  the batch;
- :func:`impact.did._cs_cov_batch.cs_covariate_att_batch` on ``--n-perm`` assignments,

checks that the batch and the refits agree on the 20 timed assignments, and prints the
batch cost in analytic-fit equivalents (the issue's target: a few hundred at most).
This is a script, never a timed test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import median_time, set_blas_threads  # noqa: E402


def main() -> None:
    """Run the timings and print one line per estimation method."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-perm", type=int, default=999)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    set_blas_threads(args.threads)
    os.environ.setdefault("TQDM_DISABLE", "1")

    import numpy as np

    import impact
    import impact.data
    from impact.did._cs_cov_batch import cs_covariate_att_batch, simple_att_batch
    from impact.did.cs import compute_att_gt
    from impact.panel import as_panel

    warnings.simplefilter("ignore")
    df = impact.data.generate_la_panel(
        seed=args.seed, assignment="staggered", n_treated=10
    )
    kw = {
        "outcome": "cla_rate",
        "unit": "la_code",
        "time": "year",
        "cohort": "cohort",
        "covariates": ["deprivation"],
    }
    panel = as_panel(df, **kw)
    periods = panel.periods
    cidx = np.full(panel.Y.shape[0], np.inf)
    fin = np.isfinite(panel.cohort)
    cidx[fin] = np.searchsorted(periods, panel.cohort[fin])
    X = np.stack([panel.X[c] for c in kw["covariates"]], axis=2)
    rng = np.random.default_rng(args.seed)
    C = np.stack([cidx] + [rng.permutation(cidx) for _ in range(args.n_perm - 1)])
    n_loop = min(20, args.n_perm)
    print(
        f"panel {panel.Y.shape[0]} x {panel.Y.shape[1]}, {int(fin.sum())} treated, "
        f"{args.n_perm} assignments, BLAS threads {args.threads}"
    )
    print(
        f"{'method':6} {'analytic fit':>13} {'refit x n_perm':>15} {'batch':>9} "
        f"{'batch / fit':>12} {'max |diff|':>11}"
    )
    for est in ("dr", "ipw", "reg"):
        t_fit, _ = median_time(
            lambda est=est: impact.did(
                df, **kw, method="cs", est_method=est, inference="analytic"
            ),
            repeats=5,
        )
        t0 = time.perf_counter()
        ref = [
            compute_att_gt(panel.Y, c, periods, X=X, est_method=est, with_inf=False).att
            for c in C[:n_loop]
        ]
        t_loop = (time.perf_counter() - t0) / n_loop * args.n_perm
        t0 = time.perf_counter()
        batch = cs_covariate_att_batch(panel.Y, C, periods, X, est_method=est)
        simple_att_batch(batch, C)
        t_batch = time.perf_counter() - t0
        diff = max(
            float(np.max(np.abs(batch.att[b][np.isfinite(batch.att[b])] - r)))
            for b, r in enumerate(ref)
        )
        print(
            f"{est:6} {t_fit:12.3f}s {t_loop:14.1f}s {t_batch:8.2f}s "
            f"{t_batch / t_fit:11.0f}x {diff:11.1e}"
        )


if __name__ == "__main__":
    main()
