"""Monte Carlo: the uniform (sup-t) bands of the TWFE event study and of Sun-Abraham cover
the whole true event-time path jointly ~95%.

What is shipped by default: ``impact.did(method="event_study")`` and
``impact.did(method="sunab")`` with ``inference="auto"`` on a panel with fewer than 20
treated authorities use studentized randomization inference, and their ``event_study``
table carries ``band_low``/``band_high`` (``estimate -/+ q se``, ``q`` the 95% quantile
of ``max_j |t_j|`` over the re-assignments). One value per replication: does the band
contain every true coefficient (pre-period rows 0, post rows the known effects)?

Panels: ``impact.data.synthetic.generate_la_panel`` (calibrated to the real CLA panel:
AR(1) 0.975 on the log rate, negative-binomial counts so small authorities are noisier,
authority trends), 60 authorities, 2013-2022, outcome the log CLA rate; 8 treated
authorities drawn at random in cohorts 2016/2018/2020 (3/3/2).

Truth, written here without the estimator:

- event study: effects ``-0.03 - 0.01 e`` at event time ``e >= 0``, the same in every
  cohort. With every relative-time dummy but ``e = -1`` and never-treated units, the
  TWFE coefficients are unbiased for this path (no cross-cohort contamination when
  effects do not vary by cohort; Sun and Abraham 2021, Prop. 3), so the truth is the
  path itself, 0 before adoption.
- Sun-Abraham: the first cohort's effects are 0.02 larger (heterogeneous by cohort).
  Its event-time coefficient is the cohort-size-weighted mean of the cohort x event-time
  effects over the cohorts observed at that event time (Sun and Abraham 2021, eq. 14
  with never-treated controls; fixest ``aggregate``), computed below by a loop.

Bounds: 95% +/- (2 MCSE + 1 point), two-sided, MCSE binomial sqrt(.95 .05 / R).

- Reduced (default suite, ~35 s for both under light load): R = 300 per method, 99
  re-assignments, seeds 11 (event study) and 12 (Sun-Abraham). Each method alone:
  bounds [0.915, 0.985]; the two pooled (R = 600): [0.922, 0.978]. Observed joint
  coverage: event study 0.957, Sun-Abraham 0.947, pooled 0.952. With the band's
  quantile at 90% (``_sup_crit`` in impact/inference/studentized.py with
  ``1 - 2 * alpha``; tools/mutations/ ids ``did2-mc-es-band-90``,
  ``did2-mc-sunab-band-90`` and ``did2-mc-pooled-band-90``) the same runs cover 0.917
  (event study: inside its own bounds, 300 replications cannot separate 90% from 95%
  reliably), 0.907 (Sun-Abraham: fails) and 0.912 pooled (fails). The same mutation
  also fails the Callaway-Sant'Anna band test (test_band_coverage_montecarlo.py).
- Full (``-m slow``): R = 1,000 per method, 199 re-assignments; bounds [0.926, 0.974].
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.data.synthetic import generate_la_panel
from impact.parallel import spawn_generators

KW = {"outcome": "y", "unit": "la_code", "time": "year", "cohort": "cohort"}
YEARS = np.arange(2013, 2023)
COHORTS = (2016, 2018, 2020)
N_TREATED = 8


def _replication(rng: np.random.Generator, bump: float) -> tuple[pd.DataFrame, dict]:
    """A calibrated panel with 8 random adopters and known effects; per-unit cohorts."""
    df = generate_la_panel(
        n_units=60,
        start=int(YEARS[0]),
        end=int(YEARS[-1]),
        seed=rng,
        assignment="random",
        n_treated=1,
    )
    df = df.sort_values(["la_code", "year"]).reset_index(drop=True)
    units = df["la_code"].unique()
    chosen = rng.choice(units, N_TREATED, replace=False)
    first = {
        u: y
        for y, us in zip(COHORTS, np.array_split(chosen, len(COHORTS)), strict=True)
        for u in us
    }
    cohort = np.array([first.get(u, 0) for u in units])
    e = YEARS[None, :] - cohort[:, None]
    on = (cohort[:, None] > 0) & (e >= 0)
    extra = np.where(cohort == COHORTS[0], bump, 0.0)[:, None]
    effect = np.where(on, -0.03 - 0.01 * e + extra, 0.0)
    df["cohort"] = np.repeat(cohort, len(YEARS))
    df["y"] = np.log(df["cla_rate"].to_numpy()) + effect.ravel()
    sizes = {g: int((cohort == g).sum()) for g in COHORTS}
    return df, sizes


def _truth(event_times: np.ndarray, sizes: dict, bump: float) -> np.ndarray:
    """Cohort-size-weighted mean effect at each event time (0 before adoption)."""
    out = np.zeros(len(event_times))
    for j, e in enumerate(event_times):
        if e < 0:
            continue
        num = den = 0.0
        for g, n_g in sizes.items():
            if g + e <= YEARS[-1]:  # cohort g is observed at event time e
                num += n_g * (-0.03 - 0.01 * e + (bump if g == COHORTS[0] else 0.0))
                den += n_g
        out[j] = num / den
    return out


def band_coverage(method: str, reps: int, seed: int, n_boot: int) -> np.ndarray:
    """Per replication: whether the event-study band covers the whole true path."""
    bump = -0.02 if method == "sunab" else 0.0
    out = np.zeros(reps, dtype=bool)
    for i, rng in enumerate(spawn_generators(seed, reps)):
        df, sizes = _replication(rng, bump)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = impact.did(df, **KW, method=method, n_boot=n_boot, seed=i)
        assert res.inference == "permutation"  # the default with 8 treated
        es = res.event_study.loc[~res.event_study["reference"]]
        truth = _truth(es["event_time"].to_numpy(), sizes, bump)
        lo, hi = es["band_low"].to_numpy(), es["band_high"].to_numpy()
        out[i] = bool(((lo <= truth + 1e-12) & (truth - 1e-12 <= hi)).all())
    return out


def _check(covered: np.ndarray) -> None:
    rate = float(covered.mean())
    band = 2 * np.sqrt(0.95 * 0.05 / len(covered)) + 0.01
    assert abs(rate - 0.95) <= band, (rate, band)


def test_truth_is_what_the_estimators_recover_without_noise() -> None:
    """The noise-free panel (effects only) gives the truth exactly, for both methods."""
    rng = np.random.default_rng(0)
    for method, bump in (("event_study", 0.0), ("sunab", -0.02)):
        df, sizes = _replication(rng, bump)
        base = df.groupby("la_code")["y"].transform("first")  # keep cohorts, drop noise
        e = df["year"] - df["cohort"]
        on = (df["cohort"] > 0) & (e >= 0)
        extra = np.where(df["cohort"] == COHORTS[0], bump, 0.0)
        df["y"] = np.where(on, -0.03 - 0.01 * e + extra, 0.0) + 0 * base
        res = impact.did(df, **KW, method=method, inference="analytic")
        es = res.event_study.loc[~res.event_study["reference"]]
        truth = _truth(es["event_time"].to_numpy(), sizes, bump)
        np.testing.assert_allclose(es["estimate"], truth, atol=1e-10)


@pytest.fixture(scope="module")
def reduced() -> dict[str, np.ndarray]:
    """The reduced runs, shared by the per-method and pooled checks."""
    return {
        "event_study": band_coverage("event_study", 300, seed=11, n_boot=99),
        "sunab": band_coverage("sunab", 300, seed=12, n_boot=99),
    }


@pytest.mark.montecarlo
def test_event_study_uniform_band_covers_reduced(reduced: dict) -> None:
    _check(reduced["event_study"])


@pytest.mark.montecarlo
def test_sunab_uniform_band_covers_reduced(reduced: dict) -> None:
    _check(reduced["sunab"])


@pytest.mark.montecarlo
def test_pooled_uniform_band_covers_reduced(reduced: dict) -> None:
    """Both designs pooled (600 replications): separates a 90% band from 95%."""
    _check(np.concatenate([reduced["event_study"], reduced["sunab"]]))


@pytest.mark.slow
@pytest.mark.montecarlo
@pytest.mark.parametrize(("method", "seed"), [("event_study", 2026), ("sunab", 2027)])
def test_event_study_uniform_band_covers_full(method: str, seed: int) -> None:
    _check(band_coverage(method, 1000, seed=seed, n_boot=199))
