"""Timings of impact's DiD estimators, side by side with peer packages when available.

Usage::

    python benchmarks/bench_did.py [--peers-python /path/to/venv/bin/python] [--reps 5]
                                   [--quick] [--threads 1]

(``benchmarks/run.py`` runs the same CS comparison, with the other families, in one
table; it creates the peers' venv ``.bench-venv`` that this script uses by default.)

Tasks (CS = Callaway-Sant'Anna with never-treated comparisons, analytic SEs and all four
aggregations: simple, group, dynamic, calendar):

- mpdta (500 x 5, ``shared/data/mpdta.csv``)
- a synthetic 150 x 15 panel (the project's LA scale) and a 3,000 x 20 panel:
  4 cohorts at 1/5..4/5 of the window, 40% never treated, unit effects, a random-walk
  period effect, heterogeneous dynamic effects, N(0, 1) noise.

Peers (csdid, differences, diff-diff, pyfixest) are not dependencies of impact: they are
timed in a separate interpreter given by ``--peers-python`` (a venv where they are
installed); peers that are missing there are skipped. Each timing is the median of
``--reps`` runs after one warm-up. Ratios peer / impact are printed (> 1: impact
faster).

Note: on a machine whose cores are oversubscribed, multi-threaded BLAS can be much
slower than single-threaded; ``--threads 1`` sets ``OPENBLAS_NUM_THREADS`` /
``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` to 1 for both sides before numpy loads.
This is a script, never a timed test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("IMPACT_REFERENCE_DATA", REPO.parent / "shared" / "data"))

_PEER_CODE = r"""
import json, sys, time, statistics, warnings
warnings.filterwarnings("ignore")
import pandas as pd
path, reps = sys.argv[1], int(sys.argv[2])
df = pd.read_csv(path)
out = {}

def timeit(fn):
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

try:
    from csdid.att_gt import ATTgt
    def run_csdid():
        d = df.copy()
        att = ATTgt(yname="y", gname="g", idname="id", tname="t", data=d).fit(
            est_method="dr", bstrap=False)
        for k in ("simple", "group", "dynamic", "calendar"):
            att.aggte(typec=k, bstrap=False)
    out["csdid"] = timeit(run_csdid)
except Exception as exc:  # noqa: BLE001
    out["csdid"] = f"skipped: {type(exc).__name__}: {exc}"[:120]

try:
    from diff_diff import CallawaySantAnna
    def run_dd():
        cs = CallawaySantAnna(control_group="never_treated", n_bootstrap=0)
        cs.fit(df, outcome="y", unit="id", time="t", first_treat="g",
               aggregate="all")
    out["diff-diff"] = timeit(run_dd)
except Exception as exc:  # noqa: BLE001
    out["diff-diff"] = f"skipped: {type(exc).__name__}: {exc}"[:120]

try:
    from differences import ATTgt as DATTgt
    def run_differences():
        d = df.assign(g2=df["g"].where(df["g"] > 0)).set_index(["id", "t"])
        att = DATTgt(data=d, cohort_column="g2")
        att.fit(formula="y", est_method="dr", control_group="never_treated")
        for k in ("simple", "cohort", "event", "time"):
            att.aggregate(k)
    out["differences"] = timeit(run_differences)
except Exception as exc:  # noqa: BLE001
    out["differences"] = f"skipped: {type(exc).__name__}: {exc}"[:120]

print(json.dumps(out))
"""


def _synthetic(n: int, t: int, seed: int = 1):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    starts = [round(t * k / 5) for k in (1, 2, 3, 4)]
    cohort = rng.choice([*starts, 0], size=n, p=[0.15, 0.15, 0.15, 0.15, 0.4])
    periods = np.arange(1, t + 1)
    y = (
        rng.normal(size=(n, 1))
        + np.cumsum(rng.normal(size=t))[None, :]
        + rng.normal(size=(n, t))
    )
    e = periods[None, :] - cohort[:, None]
    treated = (cohort[:, None] > 0) & (e >= 0)
    y = y + np.where(treated, 1.0 + 0.1 * e + 0.2 * (cohort[:, None] % 3), 0.0)
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), t),
            "t": np.tile(periods, n),
            "y": y.ravel(),
            "g": np.repeat(cohort, t),
        }
    )


def _time_impact(df, reps: int) -> float:
    import statistics

    import impact

    def run() -> None:
        res = impact.did(df, outcome="y", unit="id", time="t", cohort="g", method="cs")
        for kind in ("simple", "group", "dynamic", "calendar"):
            res.aggregate(kind)

    run()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_peers = REPO / ".bench-venv" / "bin" / "python"
    parser.add_argument(
        "--peers-python",
        default=str(default_peers) if default_peers.exists() else None,
        help="interpreter of a venv with the peer packages (default: .bench-venv)",
    )
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="1 rep, small panels")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS threads for both sides (e.g. 1 on a busy machine)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.reps = 1
    if args.threads:
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    import pandas as pd

    mpdta = pd.read_csv(DATA / "mpdta.csv").rename(
        columns={"countyreal": "id", "year": "t", "lemp": "y", "first.treat": "g"}
    )
    tasks = {
        "mpdta 500x5": mpdta[["id", "t", "y", "g"]],
        "synthetic 150x15": _synthetic(150, 15),
        "synthetic 3000x20": _synthetic(3000, 20),
    }
    if args.quick:
        del tasks["synthetic 3000x20"]
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, df in tasks.items():
            ours = _time_impact(df, args.reps)
            row: dict[str, Any] = {"task": name, "impact": ours}
            if args.peers_python:
                path = Path(tmp) / "data.csv"
                df.to_csv(path, index=False)
                proc = subprocess.run(
                    [args.peers_python, "-c", _PEER_CODE, str(path), str(args.reps)],
                    capture_output=True,
                    text=True,
                    check=False,
                    env=os.environ.copy(),
                )
                try:
                    row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
                except (IndexError, json.JSONDecodeError):
                    row["peers"] = f"failed: {proc.stderr.strip()[-200:]}"
            rows.append(row)
    for row in rows:
        print(f"\n{row['task']}: impact {row['impact']:.4f} s")
        for peer, value in row.items():
            if peer in ("task", "impact"):
                continue
            base = row["impact"]
            if isinstance(value, float) and isinstance(base, float):
                print(
                    f"  {peer:<12} {value:.4f} s   ratio peer/impact {value / base:.2f}"
                )
            else:
                print(f"  {peer:<12} {value}")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
