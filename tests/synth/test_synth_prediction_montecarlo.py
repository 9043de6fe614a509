"""Monte Carlo: synthetic-control prediction intervals cover the effect (issue 18).

Panels: ``impact.data.generate_la_panel`` (2010-2022, calibrated to the real CLA
panel: AR(1) 0.975 on the log rate, negative-binomial counts so small authorities are
noisier, authority trends), no effect; outcome the log CLA rate. One authority drawn at
random is treated from 2020 (10 pre-periods, 3 post-periods, every other authority a
donor) and a known effect of -0.05 is added to its post-period log rate, so the effect
in every post-period is known exactly. ``impact.synth(method="abadie",
inference="prediction")``: every per-period interval should hold the effect. Coverage
is pooled over the post-periods with its MCSE from replications as clusters (the
periods of one replication are correlated), floored at the binomial value.

Donor placebos (``e_method="placebo"``, the default): split conformal with the donors
as calibration units, so with the treated authority drawn at random the level is
exact, between ``1 - alpha`` and ``1 - alpha + 1/(J + 1)``; the check is two-sided,
``|coverage - level| <= 2 MCSE + 1 point``. Full form (``-m slow``, 150 authorities,
149 donors, 200 replications, seed 2018, about 8 min per level on a loaded 2-core
machine): 93.5% (MCSE 1.4) at a nominal 95%, the average-effect interval 94.0%;
median width 0.40 log points at the first post-period, 0.53 at the second and 0.63 at
the third (the AR(1) drift grows with the horizon, and the placebo errors grow with
it). At a nominal 90%: 87.7% (MCSE 1.8), average effect 85.5% (MCSE 2.5), median
widths 0.31, 0.42, 0.50. The same prototype on 1,500 replications of a 40-authority
panel covers 94.5% (MCSE 0.5) at 95%: 93.6%, 94.8% and 95.1% for treated authorities
in the smallest, middle and largest third by child population, where the unscaled
placebo errors give 89.1%, 95.9% and 97.1% (why the errors are scaled by each unit's
noise).

Cattaneo-Feng-Titiunik (``e_method="gaussian"``, scpi_pkg's defaults, reproduced draw
by draw on Proposition 99 in test_synth_prediction.py) in the same full design (17 of
200 fits reproduce the pre-period exactly and are refused): **75.6%** (MCSE 2.5) at a
nominal "at least 95%", median width 0.42. The parts alone cover less: in-sample 68.9%,
out-of-sample 29.9%. With 149 donors and 10 pre-periods the weights overfit the
pre-period (the treated unit's pre-period RMSE is a median 0.020 log points, its
post-period errors 0.055, 0.075, 0.114 at horizons 1-3), so residual-based bounds are
far too short. ``test_cft_intervals_undercover_full`` (``-m slow``, 29 min) keeps that
figure, quoted in the result's warning, honest.

The reduced form (default suite) uses 40 authorities (39 donors, still four times the
pre-periods) so that 250 replications fit in about a minute: at 95% the bound is
about 92-98%, which CFT's 76% and an interval at the wrong level fail (see its
docstring).
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


def coverage_run(
    reps: int,
    seed: int,
    *,
    e_method: str = "placebo",
    alpha: float = 0.05,
    n_units: int = 150,
    sims: int = 60,
) -> dict[str, list[np.ndarray]]:
    """Per replication: coverage of the intervals in each post-period (and of the
    average-effect interval), their widths, and for CFT the coverage of each part."""
    rec: dict[str, list[np.ndarray]] = {
        "full": [],
        "average": [],
        "in": [],
        "out": [],
        "width": [],
        "refused": [],
    }
    for i, rng in enumerate(spawn_generators(seed, reps)):
        df = generate_la_panel(
            seed=rng, end=2022, assignment="random", n_treated=0, n_units=n_units
        )
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
                    e_method=e_method,
                    alpha=alpha,
                    sims=sims,
                    seed=i,
                    progress=False,
                )
        except DataError as err:
            # CFT refuses an exact pre-period fit (149 donors, 10 pre-periods)
            assert e_method != "placebo"
            assert "reproduces the treated unit's pre-period outcome exactly" in str(
                err
            )
            rec["refused"].append(np.array([True]))
            continue
        rec["refused"].append(np.array([False]))
        iv = res.intervals
        assert iv is not None
        rec["full"].append(_covers(iv["low"], iv["high"]))
        rec["average"].append(_covers([res.ci[0]], [res.ci[1]]))
        rec["width"].append((iv["high"] - iv["low"]).to_numpy())
        if e_method != "placebo":
            bands = res.extra["prediction"].table
            y_post = iv["gap"].to_numpy() + iv["synthetic"].to_numpy()
            # effect bounds implied by each part alone (counterfactual bounds mirrored)
            syn = iv["synthetic"].to_numpy()
            in_lo, in_hi = bands["in_low"].to_numpy(), bands["in_high"].to_numpy()
            out_lo = syn + bands["e_low"].to_numpy()
            out_hi = syn + bands["e_high"].to_numpy()
            rec["in"].append(_covers(y_post - in_hi, y_post - in_lo))
            rec["out"].append(_covers(y_post - out_hi, y_post - out_lo))
    return rec


def _covers(lo, hi) -> np.ndarray:
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return (lo <= EFFECT + 1e-12) & (EFFECT - 1e-12 <= hi)


def pooled(parts: list[np.ndarray], level: float) -> tuple[float, float]:
    """Pooled coverage and its MCSE (replications as clusters, binomial floor)."""
    per = np.array([p.mean() for p in parts])
    rate = float(np.concatenate(parts).mean())
    floor = np.sqrt(level * (1 - level) / len(per) / parts[0].size)
    return rate, float(max(per.std(ddof=1) / np.sqrt(len(per)), floor))


def check_two_sided(rec: dict[str, list[np.ndarray]], level: float) -> dict[str, float]:
    """Per-period and average-effect coverage within 2 MCSE + 1 point of ``level``."""
    out = {}
    for key in ("full", "average"):
        rate, mcse = pooled(rec[key], level)
        band = 2 * mcse + 0.01
        assert abs(rate - level) <= band, (key, rate, mcse, level)
        out[key] = rate
    widths = np.vstack(rec["width"])
    # every interval is finite and proper; the error grows with the horizon (AR(1)
    # drift), and so do the widths
    assert np.isfinite(widths).all() and (widths > 0).all()
    med = np.median(widths, axis=0)
    assert (np.diff(med) > 0).all(), med
    return out


@pytest.mark.montecarlo
def test_placebo_intervals_cover_reduced():
    """250 replications, 40 authorities (39 donors): 95% +/- (2 MCSE + 1 point).

    Seed 18: coverage 95.1% (MCSE 1.1) per period, average effect 96.0%; bound
    [91.8, 98.2]. CFT (75.6% in the full design) and an interval at the 90% level
    (89.5% on this seed: tools/mutations/ ``pi-placebo-level-90``) fail it.
    """
    rec = coverage_run(250, seed=18, n_units=40)
    assert not any(r.any() for r in rec["refused"])
    check_two_sided(rec, 0.95)


@pytest.mark.montecarlo
@pytest.mark.slow
@pytest.mark.parametrize("level", [0.95, 0.90])
def test_placebo_intervals_cover_full(level):
    """Full CLA-sized design: 149 donors, 200 replications (figures in the module
    docstring)."""
    rec = coverage_run(200, seed=2018, alpha=1 - level)
    check_two_sided(rec, level)


@pytest.mark.montecarlo
@pytest.mark.slow
def test_cft_intervals_undercover_full():
    """CFT with scpi's defaults falls short of its level with 149 donors and 10
    pre-periods (75.6%, MCSE 2.5, quoted in the result's warning); so do its parts."""
    rec = coverage_run(200, seed=2018, e_method="gaussian", sims=60)
    for part in ("full", "in", "out"):
        rate, mcse = pooled(rec[part], 0.95)
        assert rate < 0.95 - (2 * mcse + 0.01), (part, rate)
    rate, mcse = pooled(rec["full"], 0.95)
    assert abs(rate - 0.756) <= 2 * mcse + 0.01, rate
