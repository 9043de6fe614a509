"""Placebo-calibrated near-optimal range (``near_optimal(level=...)``).

Checks: (i) the pinned least-squares program (smallest pre-period SSR among simplex
weights reproducing a given post-period value) against SLSQP from many starts; (ii) the
calibrated bound against a brute-force recomputation of every donor placebo's required
slack written here with SLSQP; (iii) Monte Carlo coverage on panels calibrated to the
CLA panel (``generate_la_panel``: log rate with AR(1) 0.975 deviations, negative-binomial
counts so small authorities are noisier, 2010-2023), 120 donors, 10 pre-periods, one
treated authority drawn at random, a constant effect of -0.1 on the log rate added to its
post-periods (so the untreated outcome is known exactly).

Monte Carlo figures (seeds 1000-1299, 300 draws, ``level=0.95``, the full run
``test_coverage_full``): coverage per post-period 0.953 / 0.957 / 0.953 / 0.943 and
0.957 for the average (MCSE 0.0126), while ``tolerance=0`` (the optimal weights, or the
set of exact pre-fits) covers in 3-4% of draws and the default ``tolerance=0.1`` in
28-32%: a fixed relative slack describes weight ambiguity, it is not an interval. The
reduced run (the first 40 draws) pools to 0.94.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import impact
from impact.data import generate_la_panel
from impact.errors import SpecError
from impact.synth.sensitivity import pinned_ssr, placebo_slack
from tests.synth.test_synth_placebo import SIM, factor_panel

TAU = -0.1  # effect on the log rate


def _enumerate_min(A, b, E, e):
    """Exact min ||b - A w||^2 s.t. E w = e, w >= 0, by enumerating every support.

    The minimum of a convex quadratic over a polytope is the equality-constrained
    minimiser on some support with non-negative weights, so the smallest feasible one
    over all 2^J - 1 supports is the global minimum (no iterative solver involved).
    """
    J = A.shape[1]
    best = np.inf
    for mask in itertools.product([False, True], repeat=J):
        S = np.flatnonzero(mask)
        if S.size == 0:
            continue
        As, Es = A[:, S], E[:, S]
        k = Es.shape[0]
        kkt = np.block([[2 * As.T @ As, Es.T], [Es, np.zeros((k, k))]])
        rhs = np.concatenate([2 * As.T @ b, e])
        w = np.linalg.lstsq(kkt, rhs, rcond=None)[0][: S.size]
        if w.min() < -1e-10 or np.abs(Es @ w - e).max() > 1e-8:
            continue
        r = b - As @ w
        best = min(best, float(r @ r))
    return best


def _pinned(A, b, p, c):
    return _enumerate_min(A, b, np.vstack([np.ones(A.shape[1]), p]), np.array([1, c]))


def _optimum(A, b):
    return _enumerate_min(A, b, np.ones((1, A.shape[1])), np.array([1.0]))


def test_pinned_ssr_matches_enumeration():
    rng = np.random.default_rng(2)
    T0, J = 8, 9
    A = 5 + np.cumsum(rng.normal(size=(T0, J)), axis=0) * 0.3 + rng.normal(size=J)
    b = A[:, :3] @ np.array([0.5, 0.3, 0.2]) + rng.normal(scale=0.2, size=T0)
    p = A[-1] + rng.normal(scale=0.3, size=J)
    for c in np.quantile(p, [0.1, 0.4, 0.6, 0.95]):
        assert pinned_ssr(A, b, p, float(c)) == pytest.approx(
            _pinned(A, b, p, float(c)), rel=1e-6, abs=1e-9
        )
    assert pinned_ssr(A, b, p, float(p.max()) + 1.0) == np.inf


def test_level_bound_matches_brute_force_placebos():
    # J = 8 donors: level 0.5 uses the ceil(0.5 * 9) = 5th smallest slack
    df = factor_panel(n_units=8, effect=-5.0, seed=7)
    res = impact.synth(df, **SIM, inference=None)
    no = res.near_optimal(level=0.5)
    wide = df.pivot(index="unit", columns="year", values="y")
    y = wide.loc["T"].to_numpy()
    Y0 = wide.drop(index="T").to_numpy().T  # (T, J)
    pre, post = slice(0, 10), slice(10, 14)
    rows = np.vstack([Y0[post], Y0[post].mean(axis=0)])
    J = Y0.shape[1]

    def scale(b, A):
        d = np.diff(b - A.mean(axis=1))
        return float(np.mean(d**2))

    need = np.empty((J, rows.shape[0]))
    for j in range(J):
        keep = np.arange(J) != j
        A, b = Y0[pre][:, keep], Y0[pre][:, j]
        best = _optimum(A, b)
        for t, row in enumerate(rows):
            ssr = _pinned(A, b, row[keep], row[j])
            need[j, t] = (ssr - best) / scale(b, A)
    np.testing.assert_allclose(
        placebo_slack(Y0[pre], Y0[post]), need, rtol=1e-5, atol=1e-6
    )
    slack = np.sort(need, axis=0)[4]
    bound = _optimum(Y0[pre], y[pre]) + slack * scale(y[pre], Y0[pre])
    got = np.append(no["pre_mspe_bound"].to_numpy(), no.attrs["att_pre_mspe_bound"])
    np.testing.assert_allclose(got * 10, bound, rtol=1e-6)
    assert no.attrs["level"] == 0.5 and no.attrs["n_placebos"] == J
    # the range is the plain near-optimal range at that bound: the smallest pre-SSR
    # of weights reproducing each end point's counterfactual is the bound itself;
    # an infinite bound (a placebo outside its donors' hull ranks above) allows
    # every weighting, so the ends are the extreme donors
    assert np.isfinite(bound[:4]).sum() >= 2
    for k, t in enumerate(range(10, 14)):
        for end, extreme in (("low", Y0[t].max()), ("high", Y0[t].min())):
            c = y[t] - no[end].iloc[k]
            if np.isinf(bound[k]):
                assert c == pytest.approx(extreme, abs=1e-9)
                continue
            assert _pinned(Y0[pre], y[pre], Y0[t], c) == pytest.approx(
                bound[k], rel=1e-5
            )


def test_level_argument_errors():
    df = factor_panel(n_units=8, seed=1)
    res = impact.synth(df, **SIM, inference=None)
    with pytest.raises(SpecError, match="not both"):
        res.near_optimal(0.1, level=0.9)
    with pytest.raises(SpecError, match="'level'"):
        res.near_optimal(level=1.5)
    # backwards compatible: the positional tolerance and its default are unchanged
    a = res.near_optimal()
    b = res.near_optimal(0.1)
    assert a.attrs["tolerance"] == 0.1 and a.attrs["level"] is None
    np.testing.assert_array_equal(a[["low", "high"]], b[["low", "high"]])
    # 8 donors cannot calibrate a 0.95 range: every simplex weighting counts
    wide = df.pivot(index="unit", columns="year", values="y")
    no = res.near_optimal(level=0.95)
    y1 = wide.loc["T", 2010:].to_numpy()
    Y0 = wide.drop(index="T").loc[:, 2010:].to_numpy()
    np.testing.assert_allclose(no["low"], y1 - Y0.max(axis=0))
    np.testing.assert_allclose(no["high"], y1 - Y0.min(axis=0))


def _draw(seed: int, n_donors: int = 120):
    df = generate_la_panel(
        n_units=n_donors + 1,
        start=2010,
        end=2023,
        cohorts={2020: 1},
        effect=0.0,
        seed=seed,
    )
    df["y"] = np.log(df["cla_rate"])
    unit = df.loc[df["treated"] == 1, "la_code"].iloc[0]
    df.loc[(df["la_code"] == unit) & (df["year"] >= 2020), "y"] += TAU
    return df[["la_code", "year", "y"]], unit


def _coverage(seeds, options):
    hits = {k: [] for k in options}
    for seed in seeds:
        df, unit = _draw(seed)
        res = impact.synth(
            df,
            outcome="y",
            unit="la_code",
            time="year",
            treated_units=unit,
            treatment_time=2020,
            inference=None,
        )
        for name, kw in options.items():
            no = res.near_optimal(**kw)
            per = ((no["low"] <= TAU) & (no["high"] >= TAU)).to_numpy()
            avg = no.attrs["att_low"] <= TAU <= no.attrs["att_high"]
            hits[name].append(np.append(per, avg))
    return {k: np.array(v, dtype=float) for k, v in hits.items()}


@pytest.mark.montecarlo
def test_coverage_reduced():
    """40 draws x (4 periods + average) at level 0.95.

    Nominal 0.95 (and at most 0.95 + 1/121 for an exact conformal rank). Pooled over
    the 200 indicators, MCSE sqrt(0.95 * 0.05 / 200) = 0.015; bounds 0.95 -/+ (2 MCSE +
    1 point) = [0.909, 0.991]. The optimum alone (tolerance 0) covers in none of the
    draws and fails the lower bound by a wide margin.
    """
    hits = _coverage(
        range(1000, 1040), {"level": {"level": 0.95}, "opt": {"tolerance": 0.0}}
    )
    cov = hits["level"].mean()
    assert 0.909 <= cov <= 0.991, cov
    assert hits["opt"].mean() < 0.5


@pytest.mark.slow
@pytest.mark.montecarlo
def test_coverage_full():
    """300 draws: each period and the average within 0.95 +/- (2 MCSE + 1 point).

    MCSE sqrt(0.95 * 0.05 / 300) = 0.0126, so each column in [0.915, 0.985].
    """
    hits = _coverage(
        range(1000, 1300),
        {"level": {"level": 0.95}, "opt": {"tolerance": 0.0}, "t01": {}},
    )
    cov = hits["level"].mean(axis=0)
    assert np.all((cov >= 0.915) & (cov <= 0.985)), cov
    assert np.all(hits["opt"].mean(axis=0) < 0.5)
    assert np.all(hits["t01"].mean(axis=0) < 0.5)
