"""Issue 13: on a panel with gaps the few-treated re-assignment covers the headline
only, so the event-time and aggregate rows (analytic) must say so in ``.warnings``."""

from __future__ import annotations

import numpy as np
import pytest

import impact
from impact import Panel
from impact.data import generate_la_panel

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _gappy_panel() -> Panel:
    df = generate_la_panel(
        n_units=40, seed=1, assignment="staggered", n_treated=5, effect=0.0
    )
    rng = np.random.default_rng(0)
    df = df.drop(index=rng.choice(len(df), 30, replace=False))
    return Panel(
        df,
        unit="la_code",
        time="year",
        outcome="cla_rate",
        cohort="cohort",
        balance="keep",
    )


def test_gappy_cs_rows_warn_they_are_analytic() -> None:
    res = impact.did(_gappy_panel(), method="cs")
    assert res.inference == "permutation"
    note = "Only the headline uses inference='permutation'"
    assert any(note in w for w in res.warnings)
    agg = res.aggregate("dynamic")
    assert any(note in w for w in agg.warnings)
    assert note in str(res.summary())


@pytest.mark.parametrize("method", ["imputation", "did2s", "stacked"])
def test_gappy_modern_rows_warn_they_are_analytic(method: str) -> None:
    res = impact.did(_gappy_panel(), method=method)
    if res.inference == "analytic":
        pytest.skip(f"{method} headline is analytic here")
    note = f"Only the headline uses inference={res.inference!r}"
    assert any(note in w for w in res.warnings)
