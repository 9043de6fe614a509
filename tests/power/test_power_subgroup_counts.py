"""Subgroup power: counts re-drawn per 10,000 of the subgroup population, MDE at the
requested power, share rules.

References written here: the documented count model
``count ~ Poisson(share * pop * rate / 10,000)`` (negative binomial: variance
``mu + dispersion * mu**2``) gives E[(rate* - rate)**2] = rate * 10,000 / (share * pop)
* (1 + dispersion * mu); the MDE is the linear interpolation of the simulated power
curve at the requested power, ratio to the share-1 MDE.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from impact.errors import SpecError
from impact.power import simulate, subgroup_mde

N, T = 40, 8
_rng = np.random.default_rng(3)
RATE = 40.0 + 20.0 * _rng.random((N, T))  # per 10,000
POP = np.full((N, T), 20_000.0)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "la": np.repeat(np.arange(N), T),
            "year": np.tile(np.arange(2010, 2010 + T), N),
            "rate": RATE.ravel(),
            "pop": POP.ravel(),
        }
    )


def _noise_estimator(share: float) -> Any:
    """Estimate = mean over cells of (rate* - rate)**2 / (rate * 10,000 / denom)."""

    def fit(frame: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str):
        y = frame.sort_values([unit, time])[outcome].to_numpy(float).reshape(N, T)
        denom = share * POP
        counts = y * denom / 1e4
        # rates are counts of the subgroup per 10,000 of its population (the
        # up-front probe fit sees the observed rates: flagged, not part of the table)
        if not np.allclose(counts, np.round(counts), atol=1e-9):
            return SimpleNamespace(estimate=1e6, pvalue=0.5, ci=None)
        ratio = (y - RATE) ** 2 / (RATE * 1e4 / denom)
        return SimpleNamespace(estimate=float(ratio.mean()), pvalue=0.5, ci=None)

    return fit


@pytest.mark.parametrize("dispersion", [0.0, 0.2])
def test_subgroup_rates_follow_the_count_model(dispersion: float) -> None:
    share = 0.05  # 1,000 children per cell, mu = 4-6 events
    res = simulate(
        _frame(),
        outcome="rate",
        unit="la",
        time="year",
        treatment_time=2015,
        n_treated=2,
        effect=0.0,
        effect_type="absolute",
        estimator=_noise_estimator(share),
        n_sims=20,
        seed=1,
        subgroup_share=share,
        denominator="pop",
        count_model="negbin" if dispersion else "poisson",
        dispersion=dispersion,
    )
    mu = RATE * share * POP / 1e4
    want = float(np.mean(1.0 + dispersion * mu))
    got = float(res.table["bias"].iloc[0])  # mean estimate (tau = 0)
    # 6,400 cells; per-cell sd of the ratio is at most ~2.3 (Poisson: sqrt(2 + 1/mu),
    # more with overdispersion): 2 MC SEs + 0.02 is about 0.1 at dispersion 0.2
    se = (2.3 if not dispersion else 6.0) / np.sqrt(20 * N * T)
    assert abs(got - want) <= 2 * se + 0.02, (got, want)


def _interp_mde(effects: np.ndarray, power: np.ndarray, target: float) -> float:
    """First grid magnitude whose power reaches target, interpolated from the one below."""
    order = np.argsort(np.abs(effects))
    mag, pw = np.abs(effects)[order], power[order]
    k = int(np.flatnonzero(pw >= target)[0])
    assert k > 0
    return float(
        mag[k - 1] + (target - pw[k - 1]) * (mag[k] - mag[k - 1]) / (pw[k] - pw[k - 1])
    )


def test_subgroup_mde_at_requested_power_and_ratio() -> None:
    kw: dict[str, Any] = {
        "outcome": "rate",
        "unit": "la",
        "time": "year",
        "treatment_time": 2015,
        "n_treated": 8,
        "effect": [0.0, -0.1, -0.2, -0.3, -0.5, -0.8],
        "estimator": "2x2",
        "n_sims": 150,
        "denominator": "pop",
    }
    table = subgroup_mde(_frame(), shares=[1.0, 0.1], power=0.5, seed=4, **kw)
    assert table.attrs["power"] == 0.5
    mdes = {}
    for share in (1.0, 0.1):
        sim = simulate(_frame(), subgroup_share=share, seed=4, **kw).table
        p = sim["power"].to_numpy(float)
        assert p.min() < 0.5 < p.max()
        mdes[share] = _interp_mde(sim["effect"].to_numpy(float), p, 0.5)
    got = table.set_index("share")
    for share in (1.0, 0.1):
        assert got.loc[share, "mde"] == pytest.approx(mdes[share], rel=1e-9)
        assert got.loc[share, "mde_ratio"] == pytest.approx(
            mdes[share] / mdes[1.0], rel=1e-9
        )
    assert mdes[0.1] > mdes[1.0]


@pytest.mark.parametrize("shares", [[1.0, 1.5], [0.0, 0.5], []])
def test_subgroup_shares_must_lie_in_zero_one(shares: list[float]) -> None:
    with pytest.raises(SpecError, match=r"must hold numbers in \(0, 1\]"):
        subgroup_mde(
            _frame(),
            shares=shares,
            outcome="rate",
            unit="la",
            time="year",
            treatment_time=2015,
            n_treated=2,
            effect=[0.0, -0.5],
            estimator="2x2",
            n_sims=5,
            denominator="pop",
        )


def test_subgroup_plot_label_states_the_table_power() -> None:
    # the y label names the power the MDEs were computed at, not a fixed 80%
    import matplotlib.pyplot as plt

    from impact.power import plot_subgroup_mde

    table = pd.DataFrame(
        {
            "share": [1.0, 0.1],
            "n_treated": [5, 5],
            "mde": [0.1, 0.3],
            "mde_ratio": [1, 3],
        }
    )
    table.attrs["power"] = 0.9
    ax = plot_subgroup_mde(table)
    assert ax.get_ylabel() == "MDE at 90% power (% of the rate)"
    table.attrs["power"] = 0.8
    ax2 = plot_subgroup_mde(table, relative=False)
    assert ax2.get_ylabel() == "MDE at 80% power (units of the rate)"
    plt.close("all")
