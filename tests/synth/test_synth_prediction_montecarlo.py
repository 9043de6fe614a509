"""Monte Carlo: CFT prediction intervals cover the effect (issue 18).

Panels: ``impact.data.generate_la_panel`` (150 authorities, 2010-2022, calibrated to
the real CLA panel: AR(1) 0.975 on the log rate, negative-binomial counts so small
authorities are noisier, authority trends), no effect; outcome the log CLA rate. One
authority drawn at random is treated from 2020 (10 pre-periods, 3 post-periods, 149
donors) and a known effect of -0.05 is added to its post-period log rate, so the effect
in every post-period is known exactly. ``impact.synth(method="abadie",
inference="prediction", alpha=0.05)``: every per-period interval should hold the effect.

What the theory gives: Cattaneo, Feng and Titiunik (2021) bound the in-sample and the
out-of-sample error each at level ``alpha/2`` and add the bounds, so coverage should be
*at least* ``1 - alpha`` (a union bound of two bounds). There is no exact target, so the
check is one-sided: pooled coverage >= 95% - (2 MCSE + 1 point), MCSE with replications
as clusters (the three periods of one replication are correlated).

Full form (``-m slow``, 200 replications, seed 2018, 60 draws; 29 min on a loaded
2-core machine): 17 of 200 fits reproduce the pre-period exactly and are refused
(DataError); on the other 183 the intervals cover the effect in **75.6%** of periods
(MCSE 2.5 points), far below the 95% the theory promises, with a median width of 0.42
log points (the effect is -0.05). The parts alone cover less: in-sample 68.9%,
out-of-sample 29.9%. The implementation reproduces scpi_pkg 4.0.0 draw by draw on
Proposition 99 (test_synth_prediction.py), so this is the method (with scpi's
defaults) in the regime J = 149 donors >> T0 = 10 pre-periods: the weights overfit the
pre-period, its residuals understate the post-period error and the score variance, and
the bounds built from them are too short. The full form is therefore an expected
failure (``xfail(strict=True)``: it reports if the method starts to reach its level);
the result warns users in that regime. The reduced form checks what 6 replications
can: finite, positive widths, and that the full interval covers whenever a part does.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import impact
from impact.data.synthetic import generate_la_panel
from impact.errors import DataError
from impact.parallel import spawn_generators

EFFECT = -0.05
START = 2020


def coverage_run(reps: int, seed: int, sims: int = 100) -> dict[str, list[np.ndarray]]:
    """Per replication: coverage of the full, in-sample-only and out-of-sample-only
    intervals in each post-period, and the full intervals' widths."""
    rec: dict[str, list[np.ndarray]] = {
        "full": [],
        "in": [],
        "out": [],
        "width": [],
        "refused": [],
    }
    for i, rng in enumerate(spawn_generators(seed, reps)):
        df = generate_la_panel(seed=rng, end=2022, assignment="random", n_treated=0)
        df = df.assign(y=np.log(df["cla_rate"]))[["la_code", "year", "y"]]
        codes = df["la_code"].unique()
        treated = codes[int(rng.integers(codes.size))]
        hit = (df["la_code"] == treated) & (df["year"] >= START)
        df.loc[hit, "y"] += EFFECT
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = impact.synth(
                    df,
                    outcome="y",
                    unit="la_code",
                    time="year",
                    treated_units=treated,
                    treatment_time=START,
                    inference="prediction",
                    sims=sims,
                    seed=i,
                )
        except DataError as err:
            # an exact pre-period fit (149 donors, 10 pre-periods) is refused
            assert "reproduces the treated unit's pre-period outcome exactly" in str(
                err
            )
            rec["refused"].append(np.array([True]))
            continue
        rec["refused"].append(np.array([False]))
        iv = res.intervals
        assert iv is not None
        rec["full"].append(_covers(iv["low"], iv["high"]))
        bands = res.extra["prediction"].table
        y_post = iv["gap"].to_numpy() + iv["synthetic"].to_numpy()
        # effect bounds implied by each part alone (counterfactual bounds mirrored)
        syn = iv["synthetic"].to_numpy()
        in_lo, in_hi = bands["in_low"].to_numpy(), bands["in_high"].to_numpy()
        out_lo = syn + bands["e_low"].to_numpy()
        out_hi = syn + bands["e_high"].to_numpy()
        rec["in"].append(_covers(y_post - in_hi, y_post - in_lo))
        rec["out"].append(_covers(y_post - out_hi, y_post - out_lo))
        rec["width"].append((iv["high"] - iv["low"]).to_numpy())
    return rec


def _covers(lo, hi) -> np.ndarray:
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return (lo <= EFFECT + 1e-12) & (EFFECT - 1e-12 <= hi)


def pooled(parts: list[np.ndarray]) -> tuple[float, float]:
    """Pooled coverage and its MCSE (replications as clusters, binomial floor)."""
    per = np.array([p.mean() for p in parts])
    rate = float(np.concatenate(parts).mean())
    floor = np.sqrt(0.95 * 0.05 / len(per) / parts[0].size)
    return rate, float(max(per.std(ddof=1) / np.sqrt(len(per)), floor))


def _check(
    rec: dict[str, list[np.ndarray]], broken: tuple[str, ...]
) -> dict[str, float]:
    rate, mcse = pooled(rec["full"])
    band = 2 * mcse + 0.01
    assert rate >= 0.95 - band, (rate, band)
    width = float(np.median(np.concatenate(rec["width"])))
    assert 0 < width < 1.0, width
    # the broken variants fail the same bound
    for part in broken:
        r, m = pooled(rec[part])
        assert r < 0.95 - (2 * m + 0.01), (part, r)
    return {
        "full": rate,
        "in": pooled(rec["in"])[0],
        "out": pooled(rec["out"])[0],
        "width": width,
    }


@pytest.mark.montecarlo
def test_prediction_intervals_reduced():
    rec = coverage_run(6, seed=18, sims=40)
    widths = np.concatenate(rec["width"])
    assert np.isfinite(widths).all() and (widths > 0).all()
    # the full interval adds both bounds, so it covers whenever a part alone does
    full = np.concatenate(rec["full"])
    for part in ("in", "out"):
        assert (full >= np.concatenate(rec[part])).all(), part


@pytest.mark.montecarlo
@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="CFT intervals cover 75.6% (MCSE 2.5) with 149 donors and 10 pre-periods",
)
def test_prediction_intervals_cover_full():
    rec = coverage_run(200, seed=2018, sims=60)
    _check(rec, broken=("in", "out"))
