"""Coverage of every interval a DiD result prints, and size with noisy or quiet treated.

Runs the Monte Carlo of ``tests/inference/test_inference_rows_montecarlo.py`` (its
full form; the reduced form runs in the default suite) for studentized randomization
inference and the analytic path, and writes the section of
``docs/statistical_validity.md`` below the row-coverage marker (the tables above it
belong to ``benchmarks/size_coverage.py``, which keeps this section when it rewrites
the page).

Usage (from the repository root; about 25 minutes on one core)::

    python benchmarks/row_coverage.py [--reps 1000] [--out docs/statistical_validity.md]
        [--jsonl PATH] [--from-jsonl PATH ...]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "tests" / "inference" / "test_inference_rows_montecarlo.py"
MARKER = "<!-- row-coverage: benchmarks/row_coverage.py -->"
SEED = 2026
DESIGNS = [(8, (2016, 2018, 2020)), (5, (2017, 2020))]
ROWS = {
    "cells": "ATT(g,t)",
    "pre": "event time < 0",
    "post": "event time >= 0",
    "group": "group rows",
    "calendar": "calendar rows",
    "overall": "overall aggregates (simple, group, dynamic, calendar)",
    "band": "uniform band of the event study (joint)",
}
LABELS = {
    "permutation": "Studentized permutation",
    "analytic": "Analytic (old path)",
    "raw permutation": "Raw permutation (unstudentized)",
}


def _harness() -> Any:
    spec = importlib.util.spec_from_file_location("rows_mc", HARNESS)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(reps: int, inference: str) -> list[dict[str, Any]]:
    """Every design for one inference method; one record per design."""
    mc = _harness()
    out = []
    for n_treated, cohorts in DESIGNS:
        start = time.time()
        rec = mc.coverage_run(
            reps, SEED, inference=inference, n_treated=n_treated, cohorts=cohorts
        )
        out.append(
            {
                "design": f"{n_treated} treated in cohorts {', '.join(map(str, cohorts))}",
                "inference": inference,
                "reps": reps,
                **{k: mc.pooled(v) for k, v in rec.items() if v},
                "sec": round(time.time() - start),
            }
        )
    for pool in ("small", "large"):
        start = time.time()
        rej = mc.size_run(reps, SEED, pool, inference=inference)
        out.append(
            {
                "design": f"size {pool}",
                "inference": inference,
                "reps": reps,
                "size": float(rej.mean()),
                "sec": round(time.time() - start),
            }
        )
    return out


def run_raw(reps: int) -> list[dict[str, Any]]:
    """Size designs with unstudentized permutation (the unit noise switched off)."""
    import impact.inference.studentized as st

    mc = _harness()
    saved = st.unit_noise
    st.unit_noise = lambda Y, first: None  # type: ignore[assignment]
    try:
        out = []
        for pool in ("small", "large"):
            rej = mc.size_run(reps, SEED, pool, inference="permutation")
            out.append(
                {
                    "design": f"size {pool}",
                    "inference": "raw permutation",
                    "reps": reps,
                    "size": float(rej.mean()),
                }
            )
    finally:
        st.unit_noise = saved
    return out


def render(records: list[dict[str, Any]]) -> str:
    """The markdown section."""
    reps = max(r["reps"] for r in records)
    by = {(r["design"], r["inference"]): r for r in records}
    methods = [
        m
        for m in LABELS
        if m != "raw permutation" and any(r["inference"] == m for r in records)
    ]
    size_methods = [m for m in LABELS if any(r["inference"] == m for r in records)]
    lines = [
        MARKER,
        "",
        "## Every interval a DiD result prints, on CLA-calibrated panels",
        "",
        f"Written by `benchmarks/row_coverage.py` (seed {SEED}, {reps} replications per "
        "design, 199 re-assignments; the reduced form runs in the default suite and the "
        "full form under `-m slow` in `tests/inference/test_inference_rows_montecarlo.py`). "
        "Panels from `impact.data.generate_la_panel` (150 authorities, 2010-2025, AR(1) "
        "0.975 on the log CLA rate, negative-binomial counts so small authorities are "
        "noisier); outcome the log rate; `impact.did(method='cs')`. Known effects "
        "(-0.03 - 0.01 e at event time e, 0.02 more in the first cohort) are added to "
        "treated cells; the estimands are the estimator on the noise-free effects. "
        "Coverage of 95% intervals pooled over the rows of each kind (Monte Carlo SE in "
        "brackets, replications as clusters); the bound in the tests is 95% +/- (2 MCSE "
        "+ 1 point).",
        "",
    ]
    for n_treated, cohorts in DESIGNS:
        design = f"{n_treated} treated in cohorts {', '.join(map(str, cohorts))}"
        if not any((design, m) in by for m in methods):
            continue
        lines += [
            f"**{design}** (treated drawn at random):",
            "",
            "| rows | " + " | ".join(LABELS[m] for m in methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        for key, label in ROWS.items():
            cells = []
            for m in methods:
                r = by.get((design, m), {})
                cells.append(
                    f"{r[key][0]:.3f} ({r[key][1]:.3f})" if key in r else "n/a"
                )
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += [
        "**Size with noisy or quiet treated** (5 treated in cohorts 2017, 2020, drawn "
        "from the smallest or the largest third of authorities by child population; "
        "no effect; rejection rate of the headline at 5%):",
        "",
        "| treated drawn from | " + " | ".join(LABELS[m] for m in size_methods) + " |",
        "|---|" + "---|" * len(size_methods),
    ]
    for pool, label in (
        ("small", "smallest third (noisy)"),
        ("large", "largest third (quiet)"),
    ):
        cells = []
        for m in size_methods:
            r = by.get((f"size {pool}", m))
            if r is None:
                cells.append("n/a")
                continue
            se = (r["size"] * (1 - r["size"]) / r["reps"]) ** 0.5
            cells.append(f"{r['size']:.3f} ({se:.3f})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Raw permutation re-assigns the raw estimates (every unit assumed equally "
        "noisy): it over-rejects when the treated are the noisy "
        "authorities and under-rejects when they are the quiet ones; studentizing "
        "brings both to the nominal level.",
        "",
    ]
    return "\n".join(lines) + "\n"


def write(path: Path, section: str) -> None:
    """Replace the section below the marker (or append it)."""
    old = path.read_text() if path.exists() else ""
    head = old[: old.index(MARKER)] if MARKER in old else old
    path.write_text(head.rstrip("\n") + "\n\n" + section)


def main(argv: list[str] | None = None) -> int:
    """Run (or read) the study and write the section."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--out", default=str(REPO / "docs" / "statistical_validity.md"))
    parser.add_argument("--jsonl", help="also save the records here")
    parser.add_argument("--from-jsonl", nargs="+", help="render saved records only")
    args = parser.parse_args(argv)
    if args.from_jsonl:
        records = [
            json.loads(line)
            for name in args.from_jsonl
            for line in Path(name).read_text().splitlines()
            if line.strip()
        ]
    else:
        records = run(args.reps, "permutation") + run(args.reps, "analytic")
        records += run_raw(args.reps)
        if args.jsonl:
            Path(args.jsonl).write_text(
                "\n".join(json.dumps(r) for r in records) + "\n"
            )
    write(Path(args.out), render(records))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
