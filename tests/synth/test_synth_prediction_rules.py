"""Levels, ranks, thresholds and input rules of the prediction intervals, by brute force.

Split conformal (``e_method="placebo"``): every quantity is rebuilt here with loops over
the donors (noise scale from the differences by hand, scores, the order statistic by
counting), on small simulated panels, so these tests run in seconds. CFT
(``e_method="gaussian" | "ls" | "qreg"``): the regularisation threshold ``rho`` is
scpi_pkg 4.0.0's rule transcribed from ``funs.regularize_w`` and
``funs.regularize_check_lb`` (pandas variances, ddof=1), and the design and average
bounds follow the rules the module docstring states (scpi's ``T0 - 10 > p``; the
average's out-of-sample bound from the mean scale).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError, SpecError
from impact.synth.prediction import (
    _design,
    _out_of_sample,
    _rho,
    prediction_intervals,
    prediction_notes,
)


def _panel(seed: int, J: int, T0: int, T1: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    T = T0 + T1
    level = rng.normal(0, 1, size=(1, J + 1))
    noise = rng.uniform(0.1, 0.6, size=J + 1)
    Y = level + np.cumsum(rng.normal(size=(T, J + 1)) * noise, axis=0)
    return Y[:T0, 0], Y[:T0, 1:], Y[T0:, 1:]


def _scale_by_hand(x: np.ndarray) -> float:
    d = [x[t] - x[t - 1] for t in range(1, len(x))]
    m = sum(d) / len(d)
    return math.sqrt(sum((v - m) ** 2 for v in d) / (len(d) - 1) / 2)


def _kth_smallest(values: list[float], k: int) -> float:
    # the value v with #{u < v} < k <= #{u <= v}
    for v in values:
        if sum(u < v for u in values) < k <= sum(u <= v for u in values):
            return v
    raise AssertionError


def test_placebo_scale_and_floor_brute_force():
    """Noise scales, the floor for a linear donor, and the k-th smallest score."""
    J, alpha = 24, 0.2
    y, B, P = _panel(7, J, T0=12, T1=3)
    B = B.copy()
    B[:, 3] = 2.0 + 0.1 * np.arange(B.shape[0])  # a donor with a linear pre-period
    bands = prediction_intervals(y, B, P, u_alpha=alpha / 2, e_alpha=alpha / 2)
    raw = [_scale_by_hand(y)] + [_scale_by_hand(B[:, j]) for j in range(J)]
    assert raw[4] < 1e-12
    # floor: a thousandth of the median scale over the treated unit and the donors
    floor = 1e-3 * float(np.median(raw))
    scales = [max(s, floor) for s in raw]
    np.testing.assert_allclose(bands.placebo["scale"], scales[1:], rtol=1e-10)
    # half-width: treated scale times the k-th smallest |error| / donor scale
    k = math.ceil((1 - alpha) * (J + 1) - 1e-9)
    assert k == 20
    err = bands.placebo.iloc[:, 1:].to_numpy()
    t = bands.table
    for col in range(err.shape[1]):
        scores = [abs(err[j, col]) / scales[1 + j] for j in range(J)]
        half = scales[0] * _kth_smallest(scores, k)
        got = (
            t["high"].iloc[col] - t["synthetic"].iloc[col]
            if col < len(t)
            else bands.average["high"] - bands.average["synthetic"]
        )
        assert got == pytest.approx(half, rel=1e-10)
    # the average-effect row is for the mean post-period counterfactual
    w = bands.table["synthetic"].to_numpy()
    assert bands.average["synthetic"] == pytest.approx(float(np.mean(w)), rel=1e-12)
    np.testing.assert_allclose(t["e_low"], -(t["high"] - t["synthetic"]), rtol=1e-12)


def test_placebo_nineteen_donors_suffice_at_95():
    """At 95% the treated error is one of J + 1: 19 donors are the minimum (k = J)."""
    y, B, P = _panel(3, 19, T0=10, T1=2)
    bands = prediction_intervals(y, B, P)
    err = bands.placebo.iloc[:, 1:].to_numpy()
    scale = bands.placebo["scale"].to_numpy()
    s_t = _scale_by_hand(y)
    for col in range(err.shape[1] - 1):
        largest = max(abs(err[j, col]) / scale[j] for j in range(19))
        half = bands.table["high"].iloc[col] - bands.table["synthetic"].iloc[col]
        assert half == pytest.approx(s_t * largest, rel=1e-10)


@pytest.mark.parametrize(("alpha", "k"), [(0.44, 14), (0.2, 20), (0.5, 13)])
def test_placebo_rank_on_the_grid(alpha, k):
    """(1 - alpha)(J + 1) an integer in exact arithmetic (0.56 x 25 = 14; 0.8 x 25 =
    20): the rank is that integer, not one more from floating-point error; 0.5 x 25 =
    12.5 rounds up to 13."""
    J = 24
    y, B, P = _panel(12, J, T0=10, T1=2)
    bands = prediction_intervals(y, B, P, u_alpha=alpha / 2, e_alpha=alpha / 2)
    err = bands.placebo.iloc[:, 1:].to_numpy()
    scale = bands.placebo["scale"].to_numpy()
    s_t = _scale_by_hand(y)
    for col in range(2):
        scores = [abs(err[j, col]) / scale[j] for j in range(J)]
        half = bands.table["high"].iloc[col] - bands.table["synthetic"].iloc[col]
        assert half == pytest.approx(s_t * _kth_smallest(scores, k), rel=1e-10)


def test_placebo_total_level_refused_at_one():
    y, B, P = _panel(1, 24, T0=8, T1=2)
    with pytest.raises(DataError, match="u_alpha \\+ e_alpha"):
        prediction_intervals(y, B, P, u_alpha=0.5, e_alpha=0.5)


def test_placebo_refuses_mostly_linear_units():
    y, B, P = _panel(2, 24, T0=8, T1=2)
    trend = np.arange(8.0)[:, None]
    B = np.column_stack([1.0 + 0.5 * trend + j for j in range(15)] + [B[:, 15:]])
    with pytest.raises(DataError, match="constant amount every period"):
        prediction_intervals(y, B, P)


def test_prediction_bad_arrays_refused():
    y, B, P = _panel(4, 24, T0=8, T1=2)
    with pytest.raises(DataError, match="Y0_pre must be"):
        prediction_intervals(y, B[:, :-1], P)
    with pytest.raises(DataError, match="Y0_pre must be"):
        prediction_intervals(y[:-1], B, P)
    with pytest.raises(DataError, match="no post-treatment period"):
        prediction_intervals(y, B, P[:0])
    bad = B.copy()
    bad[2, 5] = np.nan
    with pytest.raises(DataError, match="missing or infinite"):
        prediction_intervals(y, bad, P)


def test_synth_prediction_level_is_alpha():
    """synth(alpha=a) splits a evenly (u_alpha = e_alpha = a/2): the placebo interval
    is at level 1 - a, its half-width the ceil((1 - a)(J + 1))-th smallest score."""
    J, T0, T1, a = 24, 10, 3, 0.2
    y, B, P = _panel(11, J, T0, T1)
    Y = np.column_stack([np.r_[y, np.full(T1, np.nan)], np.vstack([B, P])])
    Y[T0:, 0] = P.mean(axis=1) + 0.3  # treated post-period outcomes
    units = ["T"] + [f"d{j:02d}" for j in range(J)]
    df = pd.DataFrame(
        {
            "unit": np.repeat(units, T0 + T1),
            "year": np.tile(np.arange(2000, 2000 + T0 + T1), J + 1),
            "y": Y.T.ravel(),
        }
    )
    res = impact.synth(
        df,
        outcome="y",
        unit="unit",
        time="year",
        treated_units="T",
        treatment_time=2000 + T0,
        inference="prediction",
        alpha=a,
    )
    order = [f"d{j:02d}" for j in range(J)]
    assert list(res.fits[0].donors) == order
    bands = prediction_intervals(
        y, B, P, res.fits[0].weights, u_alpha=a / 2, e_alpha=a / 2
    )
    err = bands.placebo.iloc[:, 1:].to_numpy()
    scale = bands.placebo["scale"].to_numpy()
    k = math.ceil((1 - a) * (J + 1) - 1e-9)
    s_t = _scale_by_hand(y)
    iv = res.intervals
    for col in range(T1):
        half = s_t * _kth_smallest([abs(err[j, col]) / scale[j] for j in range(J)], k)
        assert (iv["high"] - iv["low"]).iloc[col] == pytest.approx(2 * half, rel=1e-8)
    half = s_t * _kth_smallest([abs(err[j, -1]) / scale[j] for j in range(J)], k)
    assert res.ci[1] - res.ci[0] == pytest.approx(2 * half, rel=1e-8)


def test_prediction_notes_state_the_level():
    (note,) = prediction_notes("placebo", 0.1, 30, 10)
    assert "with probability 0.9 " in note
    (note,) = prediction_notes("gaussian", 0.1, 10, 10)
    assert "each at level 0.05," in note and "at least 1 - 0.1 " in note
    notes = prediction_notes("gaussian", 0.1, 11, 10)
    assert len(notes) == 2 and "11 donors and 10 pre-periods" in notes[1]


def test_design_rule_boundary():
    """scpi: a design with p columns (constant included) only when T0 - 10 > p."""
    rng = np.random.default_rng(0)
    for T0, p, full in ((14, 4, False), (15, 4, True), (13, 2, True), (12, 2, False)):
        X = rng.normal(size=(T0, p - 1))
        got = _design(X, T0)
        assert got.shape == ((T0, p) if full else (T0, 1)), (T0, p)
        np.testing.assert_array_equal(got[:, 0], 1.0)


def _scpi_rho(res, B, w, rho_max):
    """scpi_pkg 4.0.0 funs.regularize_w + regularize_check_lb (KM = 0), pandas."""
    Bf = pd.DataFrame(B)
    T0, J = B.shape
    d0 = int(sum(abs(v) >= 1e-6 for v in w))
    sigma_u = math.sqrt(float(((res - res.mean()) ** 2).mean()))

    def rule(kind, cap):
        if kind == "type-1":
            cc = sigma_u / min(Bf.std(axis=0))
        else:
            cc = sigma_u * max(Bf.std(axis=0)) / min(Bf.var(axis=0))
        return min(cc * math.sqrt(math.log(J) * d0 * math.log(T0)) / math.sqrt(T0), cap)

    rho = rule("type-2", rho_max)
    if rho < 0.001:
        rho = max(rule("type-1", 0.2), rule("type-2", 0.2))
        if rho < 0.05:
            rho = rho_max
    return rho


@pytest.mark.parametrize("noise", [0.05, 3e-4, 1e-6])
def test_rho_matches_scpi_formula(noise):
    """Uncapped type-2 rho (noise 0.05), and a near-exact fit whose type-2 rho falls
    below 0.001 (about 5e-4 at noise 3e-4, far less at 1e-6): the fallback rules are
    then below 0.05 as well, so rho is rho_max. scpi_pkg 4.0.0 itself (regularize_w,
    regularize_check_lb) gives 0.0883455675 and 0.2 on the first two panels."""
    from impact.synth.weights import simplex_lsq

    rng = np.random.default_rng(5)
    T0, J = 20, 8
    B = 10 + np.cumsum(rng.normal(size=(T0, J)), axis=0)
    y = B[:, :3] @ np.array([0.5, 0.3, 0.2]) + noise * rng.normal(size=T0)
    w = simplex_lsq(B, y)
    res = y - B @ w
    for rho_max in (0.2, 0.15):
        ref = _scpi_rho(res, B, w, rho_max)
        assert _rho(res, B, w, rho_max) == pytest.approx(ref, rel=1e-12)
        if noise == 0.05:
            assert 0.001 < ref < 0.15  # the plain rule, uncapped
        else:
            assert ref == rho_max


def test_cft_refuses_constant_donor():
    y, B, P = _panel(6, 8, T0=14, T1=2)
    B = B.copy()
    B[:, 2] = 5.0
    with pytest.raises(DataError, match="Donor column 2 has a constant pre-period"):
        prediction_intervals(y, B, P, e_method="gaussian", sims=5, rng=1)


def test_qreg_constant_design_is_residual_quantiles():
    """With the constant alone, quantile regression is the residuals' quantiles."""
    rng = np.random.default_rng(8)
    res = rng.normal(size=11)
    X = np.ones((11, 1))
    Xp = np.ones((3, 1))
    lo, hi, *_ = _out_of_sample(res, X, Xp, "qreg", 0.1)
    srt = sorted(res)

    def quantile(q):  # numpy's default (linear) rule: position q (n - 1)
        pos = q * (len(srt) - 1)
        i = int(math.floor(pos))
        return srt[i] + (pos - i) * (srt[min(i + 1, len(srt) - 1)] - srt[i])

    np.testing.assert_allclose(lo, quantile(0.05), rtol=1e-12)
    np.testing.assert_allclose(hi, quantile(0.95), rtol=1e-12)


@pytest.mark.parametrize("e_method", ["gaussian", "ls"])
def test_cft_average_bound_from_period_bounds(e_method):
    """Average effect: gaussian, mean +/- sqrt(2 log(2 / e_alpha)) x mean scale; other
    methods, the mean of the period bounds (comonotone errors)."""
    y, B, P = _panel(9, 6, T0=24, T1=4)
    e_alpha = 0.1
    b = prediction_intervals(
        y, B, P, u_alpha=0.1, e_alpha=e_alpha, e_method=e_method, sims=20, rng=3
    )
    t, avg = b.table, b.average
    a_low, a_high = avg["low"] - avg["in_low"], avg["high"] - avg["in_high"]
    if e_method == "gaussian":
        c = math.sqrt(2 * math.log(2 / e_alpha))
        scale = float(np.mean((t["e_high"] - t["e_mean"]) / c))
        mean = float(np.mean(t["e_mean"]))
        assert a_low == pytest.approx(mean - c * scale, rel=1e-10)
        assert a_high == pytest.approx(mean + c * scale, rel=1e-10)
    else:
        assert a_low == pytest.approx(float(np.mean(t["e_low"])), rel=1e-10)
        assert a_high == pytest.approx(float(np.mean(t["e_high"])), rel=1e-10)


def test_scores_refused_for_placebo():
    y, B, P = _panel(1, 24, T0=8, T1=2)
    with pytest.raises(SpecError, match="scores="):
        prediction_intervals(y, B, P, sims=3, scores=np.zeros((24, 3)))


def _np_quantile_by_hand(values, q):
    srt = sorted(values)
    pos = q * (len(srt) - 1)
    i = int(math.floor(pos))
    return srt[i] + (pos - i) * (srt[min(i + 1, len(srt) - 1)] - srt[i])


def test_ls_bounds_are_the_standardised_residual_quantiles():
    """Location-scale on a constant design: the bounds sit at the e_alpha/2 and
    1 - e_alpha/2 quantiles of the centred residuals, times a common scale, so
    (high - mean) / (low - mean) is the ratio of those two quantiles."""
    rng = np.random.default_rng(13)
    res = rng.standard_t(5, size=25)
    X, Xp = np.ones((25, 1)), np.ones((2, 1))
    lo, hi, mean, *_ = _out_of_sample(res, X, Xp, "ls", 0.1)
    r = res - res.mean()
    np.testing.assert_allclose(mean, res.mean(), rtol=1e-12)
    ratio = _np_quantile_by_hand(r, 0.95) / _np_quantile_by_hand(r, 0.05)
    np.testing.assert_allclose((hi - mean) / (lo - mean), ratio, rtol=1e-10)


def test_qreg_bounds_minimise_the_check_loss():
    """The qreg bounds are quantile regressions: at the design rows the upper bound's
    fitted values minimise the check loss at 1 - e_alpha/2 (and the lower at
    e_alpha/2), checked against the linear program solved by scipy's linprog."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(21)
    n = 40
    x = rng.normal(size=n)
    res = 0.3 * x + rng.standard_t(4, size=n)
    X = np.column_stack([np.ones(n), x])
    lo, hi, *_ = _out_of_sample(res, X, X, "qreg", 0.1)

    def loss(u, q):
        return float(np.sum(np.where(u >= 0, q * u, (q - 1) * u)))

    for q, fitted in ((0.05, lo), (0.95, hi)):
        # min q 1'u+ + (1 - q) 1'u-  s.t.  X b + u+ - u- = res, u+, u- >= 0
        c = np.r_[0.0, 0.0, np.full(n, q), np.full(n, 1 - q)]
        A = np.hstack([X, np.eye(n), -np.eye(n)])
        bounds = [(None, None)] * 2 + [(0, None)] * (2 * n)
        best = linprog(c, A_eq=A, b_eq=res, bounds=bounds, method="highs").fun
        assert loss(res - fitted, q) == pytest.approx(best, rel=1e-6)
