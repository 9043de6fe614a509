"""Timing of simulation-based power (issue 7 speed targets).

Run: ``python benchmarks/bench_power.py [--quick]``. Prints a table of wall-clock times:

* ``impact.power.simulate`` vectorised draws of the 2x2, TWFE and Callaway-Sant'Anna
  estimates on a 150 x 16 panel (targets: 1,000 draws < 1 s; 10,000 draws < 10 s);
* the same placebo loop done the usual way, re-fitting a peer estimator per draw:
  linearmodels ``PanelOLS`` (two-way effects, clustered SEs) — the fastest peer
  installed here — and ``impact.did`` itself; timed on a few draws and extrapolated to
  1,000;
* synthetic-control power, 200 draws x 5 effects (target < 2 minutes): the vectorised
  ``estimator="sc"`` engine, and re-fitting ``impact.synth`` on two workers when it
  is available.

Never run by the test suite (timings are machine-dependent). ``benchmarks/run.py``
puts the 1,000-draw rows side by side with looped peers (pyfixest, diff-diff) in its
one table of ratios.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from impact.data.synthetic import ar1_panel
from impact.panel import Panel
from impact.power import simulate


def _panel(n: int = 150, t: int = 16, seed: int = 0) -> Panel:
    Y = ar1_panel(n, t, 0.8, seed=seed, unit_sd=1.0, time_sd=0.5) + 60.0
    return Panel.from_arrays(Y, periods=np.arange(2010, 2010 + t))


def _time(func: Callable[[], Any], repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return float(best)


def _peer_linearmodels(panel: Panel, n_draws: int, n_treated: int, g: int) -> float:
    from linearmodels.panel import PanelOLS

    rng = np.random.default_rng(1)
    frame = panel.frame.set_index([panel.unit, panel.time])
    start = time.perf_counter()
    for _ in range(n_draws):
        treated = rng.choice(panel.units, n_treated, replace=False)
        d = (
            frame.index.get_level_values(0).isin(treated)
            & (frame.index.get_level_values(1) >= g)
        ).astype(float)
        mod = PanelOLS(
            frame[panel.outcome],
            pd.DataFrame({"d": d}, index=frame.index),
            entity_effects=True,
            time_effects=True,
        )
        mod.fit(cov_type="clustered", cluster_entity=True)
    return (time.perf_counter() - start) / n_draws


def _peer_impact_did(
    panel: Panel, n_draws: int, n_treated: int, g: int, method: str
) -> float:
    import impact

    rng = np.random.default_rng(1)
    start = time.perf_counter()
    for _ in range(n_draws):
        cohort = np.full(panel.n_units, np.inf)
        cohort[rng.choice(panel.n_units, n_treated, replace=False)] = g
        impact.did(panel.with_cohort(cohort), method=method, inference="analytic")
    return (time.perf_counter() - start) / n_draws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer peer draws")
    args = parser.parse_args(argv)
    panel = _panel()
    rows = []
    designs: dict[str, int | list[int]] = {
        "2x2": 2020,
        "twfe": [2016, 2019, 2022],
        "cs": [2016, 2019, 2022],
    }
    for est, times in designs.items():
        for n_sims in (1_000, 10_000):
            sec = _time(
                functools.partial(
                    simulate,
                    panel,
                    treatment_time=times,
                    n_treated=10,
                    effect=[0.0, -0.05, -0.1],
                    estimator=est,
                    n_sims=n_sims,
                    seed=1,
                ),
                repeat=1 if n_sims > 1000 else 3,
            )
            rows.append(
                {
                    "what": f"impact.power.simulate {est} (vectorised)",
                    "draws": n_sims,
                    "seconds": sec,
                }
            )
    k = 10 if args.quick else 40
    per = _peer_linearmodels(panel, k, 10, 2020)
    rows.append(
        {
            "what": "loop: linearmodels PanelOLS TWFE (extrapolated)",
            "draws": 1000,
            "seconds": per * 1000,
        }
    )
    for method in ("2x2", "twfe", "cs"):
        per = _peer_impact_did(panel, k, 10, 2020, method)
        rows.append(
            {
                "what": f"loop: impact.did {method} (extrapolated)",
                "draws": 1000,
                "seconds": per * 1000,
            }
        )
    sec = _time(
        lambda: simulate(
            panel,
            treatment_time=2020,
            n_treated=1,
            effect=[0.0, -0.05, -0.1, -0.2, -0.3],
            estimator="sc",
            n_sims=200,
            seed=1,
            test="gap",
        ),
        repeat=1,
    )
    rows.append(
        {
            "what": "impact.power.simulate sc (vectorised), 5 effects",
            "draws": 200,
            "seconds": sec,
        }
    )
    try:
        from impact.synth.api import synth  # noqa: F401

        small = _panel(150, 16)
        sec = _time(
            lambda: simulate(
                small,
                treatment_time=2020,
                n_treated=1,
                effect=[0.0, -0.05, -0.1, -0.2, -0.3],
                estimator="synth",
                n_sims=200,
                seed=1,
                n_jobs=2,
                inference=None,
            ),
            repeat=1,
        )
        rows.append(
            {
                "what": "impact.power.simulate synth, 5 effects, 2 jobs",
                "draws": 200,
                "seconds": sec,
            }
        )
    except ImportError:
        rows.append(
            {
                "what": "synth power (impact.synth not available)",
                "draws": 200,
                "seconds": float("nan"),
            }
        )
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
