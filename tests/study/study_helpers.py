"""Builders shared by the study tests: a small panel and a study file around it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

EVIL = "<script>alert(1)</script>"

BASE_SPEC = """
[study]
title = "Fake study"
source = "made up for the tests"
seed = 7

[data]
path = "panel.csv"
unit = "la"
time = "year"
outcome = "rate"
cohort = "cohort"

[[analysis]]
name = "main"
estimator = "fake"
noise = 0.1

[[analysis]]
name = "placebo"
estimator = "fake"
sample = { placebo_shift = 2 }

[[robustness]]
base = "main"
vary = { shift = [0.0, 0.5], "sample.periods" = [[2010, 2015], [2011, 2015]] }

[[check]]
analysis = "main"
quantity = "estimate"
expected = 2.0
tolerance = 0.5
source = "the simulated effect"
"""


def write_panel(folder: Path, name: str = "panel.csv") -> Path:
    """Eight units x 2010-2015; three (one named like a script tag) treated from 2013."""
    rng = np.random.default_rng(1)
    units = [f"u{i}" for i in range(1, 8)] + [EVIL]
    rows = []
    for i, u in enumerate(units):
        cohort = 2013.0 if (i < 2 or u == EVIL) else np.nan
        for t in range(2010, 2016):
            effect = 2.0 if cohort == cohort and t >= cohort else 0.0
            rows.append(
                {
                    "la": u,
                    "year": t,
                    "rate": 50 + i + 0.5 * (t - 2010) + effect + rng.normal(0, 0.1),
                    "cohort": cohort,
                }
            )
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_study(folder: Path, text: str = BASE_SPEC, name: str = "study.toml") -> Path:
    """Write the panel and a study file into ``folder``; return the study file."""
    write_panel(folder)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
