"""Levels a synth fit states: summary and plot band labels, the few-donor warning.

Each interval holds the effect of its period with probability 1 - alpha (placebo
split conformal: the treated error is one of J + 1 exchangeable errors; CFT: at least
1 - alpha under the model), so at alpha = 0.1 and 0.2 the summary must say 90% and
80%, not the one-tail level 1 - alpha / 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    J, T = 12, 14
    Y = 10 + np.cumsum(rng.normal(size=(J + 1, T)), axis=1)
    units = [f"d{i}" for i in range(J)] + ["T"]
    return pd.DataFrame(
        {
            "unit": np.repeat(units, T),
            "year": np.tile(np.arange(2000, 2000 + T), J + 1),
            "y": Y.ravel(),
        }
    )


SPEC = {
    "outcome": "y",
    "unit": "unit",
    "time": "year",
    "treated_units": "T",
    "treatment_time": 2010,
    "inference": "prediction",
}


@pytest.mark.parametrize("alpha, level", [(0.1, "90%"), (0.2, "80%")])
def test_summary_states_the_per_period_level(panel, alpha, level):
    res = impact.synth(panel, alpha=alpha, **SPEC)
    line = [
        s for s in res.summary().splitlines() if s.startswith("Prediction intervals")
    ]
    assert len(line) == 1
    assert f"coverage {level} per period if the treated unit is exchangeable" in line[0]
    cft = impact.synth(panel, alpha=alpha, e_method="gaussian", sims=20, seed=1, **SPEC)
    line = [
        s for s in cft.summary().splitlines() if s.startswith("Prediction intervals")
    ]
    assert f"coverage at least {level} per period under the model" in line[0]


@pytest.mark.parametrize("kind", ["trajectory", "gap"])
def test_band_label_states_the_per_period_level(panel, kind):
    import matplotlib.pyplot as plt

    res = impact.synth(panel, alpha=0.1, **SPEC)
    ax = res.plot(kind=kind)
    labels = ax.get_legend_handles_labels()[1]
    assert "prediction interval (donor placebos, 90%)" in labels
    cft = impact.synth(panel, alpha=0.2, e_method="gaussian", sims=20, seed=1, **SPEC)
    labels = cft.plot(kind=kind).get_legend_handles_labels()[1]
    assert "prediction interval (CFT, \u226580%)" in labels
    plt.close("all")


@pytest.mark.parametrize("alpha, warned", [(0.05, True), (0.1, False)])
def test_few_donor_warning_uses_the_fits_alpha(panel, alpha, warned):
    # 12 donors: the smallest placebo p-value is 1/13 = 0.077, above 0.05, below 0.1
    spec = {**SPEC, "inference": "placebo"}
    res = impact.synth(panel, alpha=alpha, seed=0, **spec)
    text = [w for w in res.warnings if "smallest attainable placebo p-value" in w]
    assert len(text) == int(warned)
    if warned:
        assert "1/13 = 0.077 > alpha = 0.05" in text[0]
