"""Calibration of the synthetic generator against the real English CLA panel.

Reference: ``cla_la_panel_2010_2025.csv`` (DfE "Children looked after in England"
SFR/EES tables 2010-2025, harmonised; see ../shared/data/SOURCES.md). The statistics are
computed here from that file with the same function as for the synthetic panels, on the
145 "stable" authorities of ../shared/research/domain.md section 4 (City of London, Isles
of Scilly and the Dorset / Northamptonshire / Cumbria boundary-change groups excluded),
using the published rates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.data.synthetic import calibration_statistics, generate_la_panel

pytestmark = pytest.mark.reference

N_SEEDS = 10  # averaging over 10 panels keeps seed noise well inside the bands


@pytest.fixture(scope="module")
def real_stats(reference_data: Path) -> dict:
    raw = pd.read_csv(reference_data / "cla_la_panel_2010_2025.csv")
    stable = raw[
        ~raw["old_la_code"].isin([201, 420])
        & raw["harmonised_id"].astype(str).str.fullmatch(r"\d+")
    ]
    return calibration_statistics(
        stable,
        unit="old_la_code",
        time="year",
        rate="cla_rate_per_10000",
        population="child_pop_0_17",
    )


@pytest.fixture(scope="module")
def synthetic_stats() -> dict:
    runs = [
        calibration_statistics(
            generate_la_panel(seed=seed, n_treated=0),
            unit="la_code",
            time="year",
            rate="cla_rate",
            population="child_pop",
        )
        for seed in range(N_SEEDS)
    ]
    return {k: np.mean([r[k] for r in runs], axis=0) for k in runs[0]}


def test_real_statistics_match_domain_note(real_stats: dict) -> None:
    # domain.md 1.4/4.5: SD of log rate 0.38-0.43 by year, lag-1 corr 0.98, SD of the
    # annual change 0.078. A guard that the reference statistics are computed as there.
    assert real_stats["sd_log_rate"] == pytest.approx(0.40, abs=0.02)
    assert real_stats["corr_lag1"] == pytest.approx(0.98, abs=0.005)
    assert real_stats["sd_change"] == pytest.approx(0.078, abs=0.004)


def test_cross_sectional_sd_of_log_rate(
    real_stats: dict, synthetic_stats: dict
) -> None:
    # Band 0.04: the real SD itself moves 0.38-0.43 across 2010-2025.
    assert synthetic_stats["sd_log_rate"] == pytest.approx(
        real_stats["sd_log_rate"], abs=0.04
    )


def test_year_to_year_correlation(real_stats: dict, synthetic_stats: dict) -> None:
    # Lag 1 within 0.01, lag 5 within 0.03, lag 10 within 0.06: the seed-to-seed SD of
    # the synthetic values is 0.002, 0.009 and 0.022 for single panels.
    assert synthetic_stats["corr_lag1"] == pytest.approx(
        real_stats["corr_lag1"], abs=0.01
    )
    assert synthetic_stats["corr_lag5"] == pytest.approx(
        real_stats["corr_lag5"], abs=0.03
    )
    assert synthetic_stats["corr_lag10"] == pytest.approx(
        real_stats["corr_lag10"], abs=0.06
    )


def test_sd_of_annual_change_by_population_band(
    real_stats: dict, synthetic_stats: dict
) -> None:
    # Overall within 15% and every population quintile within 20% (relative): one
    # quintile holds ~29 authorities, so the real band SDs carry ~13% sampling error.
    assert synthetic_stats["sd_change"] == pytest.approx(
        real_stats["sd_change"], rel=0.15
    )
    np.testing.assert_allclose(
        synthetic_stats["sd_change_by_band"], real_stats["sd_change_by_band"], rtol=0.20
    )
    # Small authorities are noisier, as in the real data (ratio 1.66 there).
    for stats in (real_stats, synthetic_stats):
        bands = stats["sd_change_by_band"]
        assert bands[0] / bands[-1] > 1.4


def test_national_year_pattern(reference_data: Path) -> None:
    # Geometric-mean rate by year (domain.md section 4 item 4: flat 2011-2016, +3%/yr
    # to 2023, then falling). Within 4% in every year: one panel's geometric mean has a
    # seed SD of about 2.5%, averaged here over 10 panels.
    raw = pd.read_csv(reference_data / "cla_la_panel_2010_2025.csv")
    stable = raw[
        ~raw["old_la_code"].isin([201, 420])
        & raw["harmonised_id"].astype(str).str.fullmatch(r"\d+")
    ]
    real = np.exp(
        np.log(
            stable.pivot(
                index="old_la_code", columns="year", values="cla_rate_per_10000"
            )
        ).mean()
    )
    synth = np.mean(
        [
            np.exp(
                np.log(
                    generate_la_panel(seed=seed, n_treated=0)
                    .pivot(index="la_code", columns="year", values="cla_rate")
                    .clip(lower=0.5)
                ).mean()
            ).to_numpy()
            for seed in range(N_SEEDS)
        ],
        axis=0,
    )
    np.testing.assert_allclose(synth, real.to_numpy(), rtol=0.04)
