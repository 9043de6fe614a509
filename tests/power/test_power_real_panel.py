"""Placebo power on the real DfE looked-after-children panel (reference_data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.panel import Panel
from impact.power import panel_did_mde, simulate, subgroup_mde


def _cla_panel(reference_data: Path) -> Panel:
    """Harmonised LA x year CLA rates 2013-2025 (population available from 2013)."""
    raw = pd.read_csv(reference_data / "cla_la_panel_2010_2025.csv")
    raw = raw[
        (raw["year"] >= 2013)
        & ~raw["la_name"].isin(["City of London", "Isles of Scilly"])
    ]
    agg = raw.groupby(["harmonised_id", "year"], as_index=False)[
        ["cla_31mar", "child_pop_0_17"]
    ].sum(min_count=1)
    agg["rate"] = agg["cla_31mar"] / agg["child_pop_0_17"] * 10_000
    agg = agg.dropna()
    return Panel(
        agg,
        unit="harmonised_id",
        time="year",
        outcome="rate",
        weights="child_pop_0_17",
        balance="drop",
    )


@pytest.mark.reference
def test_simulation_agrees_with_pilot_bpw_on_real_panel(reference_data: Path) -> None:
    # Two routes to the MDE of a 2x2 DiD (2013-2018 pre, 2019-2025 post) on the real
    # panel: the BPW formula with residual covariances estimated from the panel
    # itself (pilot_covariance, windows of 6 + 7 = the whole panel) and placebo
    # simulation with absolute effects. For the 2x2 DiD the placebo variance is the
    # randomisation variance of the same unit contrasts, so the two agree up to MC
    # error (1,000 draws: ~2.5% on an SD) and the t vs placebo-quantile difference;
    # tolerance 12%.
    panel = _cla_panel(reference_data)
    assert panel.n_units >= 140
    for n in (5, 15):
        analytic = panel_did_mde(panel, n_treated=n, pre=6, post=7)
        grid = np.linspace(0, 2.5 * analytic, 26)
        sim = simulate(
            panel,
            treatment_time=2019,
            n_treated=n,
            effect=grid,
            effect_type="absolute",
            estimator="2x2",
            n_sims=1000,
            seed=7,
        )
        assert sim.mde().loc[n] == pytest.approx(analytic, rel=0.12)


@pytest.mark.reference
def test_real_panel_mde_grid_and_subgroups(reference_data: Path) -> None:
    # Relative MDEs shrink as more authorities are treated; realistic 5-15% effects
    # are at or below what 5-10 authorities can detect (research/domain.md 5.3).
    panel = _cla_panel(reference_data)
    effects = [0.0, -0.025, -0.05, -0.1, -0.15, -0.2, -0.3, -0.4]
    res = simulate(
        panel,
        treatment_time=2019,
        n_treated=[3, 5, 10, 15],
        effect=effects,
        estimator="2x2",
        n_sims=1000,
        seed=11,
    )
    mde = res.mde()
    assert mde.is_monotonic_decreasing
    assert 0.05 < mde.loc[10] and mde.loc[5] > 0.1
    assert "can only detect effects of about" in res.verdict(-0.05, n_treated=5)
    sub = subgroup_mde(
        panel,
        shares=[1.0, 0.05],
        treatment_time=2019,
        n_treated=10,
        effect=effects,
        estimator="2x2",
        n_sims=300,
        seed=2,
    )
    by_share = sub.set_index("share")["mde"]
    assert by_share.loc[0.05] > by_share.loc[1.0]
