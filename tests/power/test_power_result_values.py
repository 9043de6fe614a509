"""PowerResult.power_at and the verdict's thresholds, on a power table written by hand.

``power_at`` is documented as linear interpolation of the power curve over effect
magnitudes, with power ``alpha`` at effect 0 when 0 is not simulated and NaN beyond
the grid; the verdict says "detected only about x% of the time" when the effect is
below the MDE but its power is at least 50%, and "cannot be distinguished from
noise" below 50%. Each value below is worked out in the comment beside it.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from impact.power import PowerResult

CURVES = {5: [0.05, 0.10, 0.30, 0.60, 0.85], 15: [0.05, 0.30, 0.80, 0.99, 1.0]}
EFFECTS = [0.0, -0.05, -0.10, -0.15, -0.20]


def _result(curves=CURVES, effects=EFFECTS, alpha: float = 0.05) -> PowerResult:
    rows = [
        {
            "n_treated": n,
            "effect": e,
            "power": pw,
            "bias": 0.0,
            "rmse": 0.01,
            "coverage": 0.95,
            "sd": 0.01,
            "n_sims": 1000,
            "n_failed": 0,
            "inference": "placebo",
        }
        for n, powers in curves.items()
        for e, pw in zip(effects, powers, strict=True)
    ]
    return PowerResult(
        table=pd.DataFrame(rows),
        estimator_label="2x2",
        effect_type="relative",
        n_units=150,
        alpha=alpha,
        treatment_time=[2019],
    )


def test_power_at_interpolates_magnitudes() -> None:
    res = _result()
    # 17.5% lies halfway between 15% (0.60) and 20% (0.85): 0.725, either sign
    assert res.power_at(-0.175) == pytest.approx(0.725)
    assert res.power_at(0.175) == pytest.approx(0.725)
    # 2.5%: halfway between 0 (0.05) and 5% (0.10)
    assert res.power_at(-0.025) == pytest.approx(0.075)
    # 15 treated, 12%: 0.80 + 0.4 * (0.99 - 0.80)
    assert res.power_at(-0.12, n_treated=15) == pytest.approx(0.876)
    assert math.isnan(res.power_at(-0.25))  # beyond the simulated grid


def test_power_at_zero_is_alpha_when_not_simulated() -> None:
    res = _result({4: [0.5, 0.9]}, [-0.1, -0.2], alpha=0.1)
    # 5%: halfway between (0, alpha = 0.1) and (10%, 0.5)
    assert res.power_at(-0.05) == pytest.approx(0.3)
    # MDE at 80%: 10% + 10% * (0.8 - 0.5) / (0.9 - 0.5) = 17.5%
    assert res.mde(0.8).loc[4] == pytest.approx(0.175)
    # MDE at 20%: (0.2 - 0.1) / (0.5 - 0.1) * 10% = 2.5%
    assert res.mde(0.2).loc[4] == pytest.approx(0.025)


def test_verdict_on_each_side_of_its_thresholds() -> None:
    res = _result()  # 5 treated: MDE 19% at 80% power
    # 17%: below the MDE, power 0.60 + 0.4 * 0.25 = 0.70 >= 0.5
    assert res.verdict(-0.17) == (
        "With 5 treated units this design can only detect effects of about 19% or "
        "more at 80% power; an effect of 17% would be detected only about 70% of the "
        "time."
    )
    # 12%: power 0.30 + 0.4 * 0.30 = 0.42 < 0.5
    assert res.verdict(-0.12).endswith(
        "an effect of 12% cannot be distinguished from noise."
    )
    # 19.5%: above the MDE, power 0.60 + 0.9 * 0.25 = 0.825
    assert res.verdict(-0.195) == (
        "With 5 treated units this design can detect effects of about 19% or more at "
        "80% power, so an effect of 20% is within reach (power about 82%)."
    )
    # power=0.5: MDE 10% + 5% * (0.5 - 0.3) / (0.6 - 0.3) = 13.3%
    assert "about 13% or more at 50% power" in res.verdict(-0.05, power=0.5)


def test_mde_is_nan_when_the_test_rejects_without_an_effect() -> None:
    # a selection rule that makes the placebo test reject 85% of the time at effect
    # 0: no effect size is "detectable" (documented), not an MDE of 0
    res = _result({5: [0.85, 0.9, 0.95, 0.97, 0.99]})
    assert math.isnan(res.mde(0.8).loc[5])
    assert math.isnan(res.estimate)
    # without 0 in the grid, power alpha is assumed there: 10% x 0.75 / 0.80
    res = _result({4: [0.85, 0.9]}, [-0.1, -0.2])
    assert res.mde(0.8).loc[4] == pytest.approx(0.09375)
