"""The design verdict's baseline: the treated units' mean outcome before their
adoption (periods strictly before the cohort), and none when some outcome is not
positive (a percentage of such a level is meaningless). Brute force: numpy means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact


def _fit(Y: np.ndarray) -> object:
    n, t = Y.shape
    g = np.r_[np.full(4, 2013.0), np.full(n - 4, np.nan)]
    df = pd.DataFrame(
        {
            "u": np.repeat(np.arange(n), t),
            "t": np.tile(np.arange(2010, 2010 + t), n),
            "y": Y.ravel(),
            "g": np.repeat(g, t),
        }
    )
    return impact.did(
        df,
        outcome="y",
        unit="u",
        time="t",
        cohort="g",
        method="2x2",
        inference="analytic",
        log_outcome=False,
    )


def test_baseline_is_treated_pre_period_mean() -> None:
    rng = np.random.default_rng(1)
    Y = 50 + 5 * rng.normal(size=(20, 6))
    d = _fit(Y).design()  # type: ignore[attr-defined]
    # treated units 0-3, adoption 2013: pre-periods 2010-2012 (columns 0-2)
    assert d.baseline == pytest.approx(Y[:4, :3].mean(), rel=1e-12)
    Y[10, 5] = -1.0  # one non-positive value anywhere: no percentage baseline
    assert _fit(Y).design().baseline is None  # type: ignore[attr-defined]
