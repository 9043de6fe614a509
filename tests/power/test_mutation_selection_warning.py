"""The selection-rule warning fires on under-coverage beyond Monte Carlo error.

``selection_warning`` reports a row whose ``1 - alpha`` intervals cover the true effect
less often than ``1 - alpha`` minus three Monte Carlo standard errors,
``3 sqrt(alpha (1 - alpha) / n_sims)`` (0.029 at alpha = 0.05 and 500 draws). The
thresholds are worked out by hand here: coverage 0.80 is 0.15 below nominal (warn);
0.93 is 0.02 below, inside the Monte Carlo band (silent).
"""

from __future__ import annotations

import pandas as pd

from impact.power._selection import selection_warning


def _row(coverage: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "n_sims": 500,
                "effect": 0.1,
                "power": 0.6,
                "coverage": coverage,
                "bias": 0.02,
                "n_treated": 5,
            }
        ]
    )


def test_under_coverage_is_reported():
    text = selection_warning(_row(0.80), "top", 0.05, "absolute")
    assert "intervals cover the true effect in only 80%" in text


def test_coverage_within_monte_carlo_error_is_silent():
    assert selection_warning(_row(0.93), "top", 0.05, "absolute") == ""
