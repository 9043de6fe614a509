"""DiD numbers the default suite did not pin, against loops written here.

Each test rebuilds the number from its definition (a loop over units, cells or sign
vectors) on a small random panel; tolerances are floating point (1e-10 to 1e-12) unless
said otherwise.

- Callaway-Sant'Anna placebo batch with the adoption moved ``k = 2`` periods: the
  not-yet-treated comparison units are judged on their *real* adoption (fake + k), so a
  unit whose fake adoption is period ``t`` but which is really treated later is a
  comparison in period ``t``; with ``k = 1`` the kept cells never show the difference.
- Callaway-Sant'Anna with ``anticipation = 1``: post cells use the base period
  ``g - 1 - anticipation`` (R ``did``: the last period with ``t + anticipation < g``)
  and not-yet controls must be untreated through ``max(t, b) + anticipation``.
- 2x2 with unit weights: each arm's mean change (``changes`` table) has the SE of a
  weighted mean with Kish's effective sample size, ``sqrt(s_w^2 n / (n - 1) / n_eff)``,
  ``n_eff = (sum w)^2 / sum w^2``; without a cluster column the analytic SE of the
  difference combines the two arms in quadrature.
- Multiplier bootstrap draws over all 2^G Rademacher sign vectors: their mean square is
  the analytic variance ``sum_g psi_g^2 / n^2`` exactly.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.did.aggregate import multiplier_draws
from impact.did.cs import compute_att_gt
from impact.did.placebo import cs_placebo_batch


def _wdd(
    Y: np.ndarray, w: np.ndarray, tr: np.ndarray, co: np.ndarray, t: int, b: int
) -> float:
    """Weighted mean change b -> t, treated minus comparison, by a loop over units."""
    n1 = d1 = n0 = d0 = 0.0
    for i in range(len(w)):
        if tr[i]:
            n1, d1 = n1 + w[i], d1 + w[i] * (Y[i, t] - Y[i, b])
        elif co[i]:
            n0, d0 = n0 + w[i], d0 + w[i] * (Y[i, t] - Y[i, b])
    return d1 / n1 - d0 / n0


def _placebo_loop(
    Y: np.ndarray, w: np.ndarray, fake: np.ndarray, k: int, control: str
) -> float:
    """CS placebo 'simple' ATT: cells g <= t < g + k (before the real adoption),
    base g - 1, cohort-share weights."""
    n_t = Y.shape[1]
    num = den = 0.0
    for g in np.unique(fake[np.isfinite(fake)]).astype(int):
        if g < 1:
            continue
        tr = fake == g
        for t in range(g, min(g + k, n_t)):
            b = g - 1
            if control == "never":
                co = ~np.isfinite(fake)
            else:
                co = ~np.isfinite(fake) | ((fake + k > max(t, b)) & ~tr)
            share = w[tr].sum()
            num += share * _wdd(Y, w, tr, co, t, b)
            den += share
    return num / den


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_cs_placebo_batch_two_periods_early_equals_loop(control: str) -> None:
    rng = np.random.default_rng(3)
    n, n_t, k = 30, 9, 2
    Y = rng.normal(size=(n, n_t)).cumsum(axis=1)
    w = rng.uniform(0.5, 2.0, n)
    real = np.full(n, np.inf)
    real[:4], real[4:8], real[8:11] = 4, 5, 7  # fake 2, 3, 5: one period apart
    fake = real - k
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs = compute_att_gt(
            Y, fake, np.arange(n_t), weights=w, control=control, real_idx=real
        )
    batch = cs_placebo_batch(obs, k, weights=w, control=control, anticipation=0)
    C = np.stack([fake] + [rng.permutation(fake) for _ in range(5)])
    got = batch(Y, C)
    want = [_placebo_loop(Y, w, c, k, control) for c in C]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def _panel_anticipation() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(8)
    n, n_t = 24, 8
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:4], cidx[4:8], cidx[8:11] = 3, 5, 6
    for i in range(11):  # anticipation: the effect starts a period early
        g = int(cidx[i])
        Y[i, g - 1 :] += 1.0 + 0.5 * np.arange(n_t - g + 1)
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2000 + np.arange(n_t), n),
            "y": Y.ravel(),
            "cohort": np.repeat(
                np.where(np.isfinite(cidx), 2000 + np.nan_to_num(cidx), 0), n_t
            ),
        }
    )
    return Y, cidx, df


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_cs_anticipation_base_period_and_controls_equal_loop(control: str) -> None:
    Y, cidx, df = _panel_anticipation()
    a = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            df,
            outcome="y",
            unit="unit",
            time="year",
            cohort="cohort",
            method="cs",
            control=control,
            anticipation=a,
        )
    tab = res.att_gt[res.att_gt["post"]]
    w = np.ones(len(cidx))
    never = ~np.isfinite(cidx)
    want = []
    for g, t in zip(tab["group"] - 2000, tab["time"] - 2000, strict=True):
        b = g - 1 - a
        tr = cidx == g
        co = never if control == "never" else never | ((cidx > max(t, b) + a) & ~tr)
        want.append(_wdd(Y, w, tr, co, t, b))
    assert len(tab) > 0
    np.testing.assert_allclose(tab["att"], want, rtol=1e-10)
    # every post cell of every cohort that has a comparison group is reported
    expected = sum(
        1
        for g in (3, 5, 6)
        for t in range(g, 8)
        if control == "never" or (never | (cidx > max(t, g - 1 - a) + a)).any()
    )
    assert len(tab) == expected


def test_2x2_weighted_se_uses_kish_effective_n() -> None:
    rng = np.random.default_rng(4)
    n, n_t, g = 16, 4, 2
    Y = rng.normal(size=(n, n_t))
    w = rng.uniform(0.2, 5.0, n)  # very unequal: n_eff well below n
    treated = np.arange(n) < 6
    Y[treated, g:] += 1.0
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2000 + np.arange(n_t), n),
            "y": Y.ravel(),
            "w": np.repeat(w, n_t),
            "cohort": np.repeat(np.where(treated, 2000 + g, 0), n_t),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            df,
            outcome="y",
            unit="unit",
            time="year",
            cohort="cohort",
            method="2x2",
            weights="w",
            inference="analytic",
        )
    delta = Y[:, g:].mean(axis=1) - Y[:, :g].mean(axis=1)

    def arm(sel: np.ndarray) -> tuple[float, float]:
        x, ww = delta[sel], w[sel]
        m = sum(wi * xi for wi, xi in zip(ww, x, strict=True)) / ww.sum()
        s2 = sum(wi * (xi - m) ** 2 for wi, xi in zip(ww, x, strict=True)) / ww.sum()
        m_n = len(x)
        n_eff = ww.sum() ** 2 / (ww**2).sum()
        return m, float(np.sqrt(s2 * m_n / (m_n - 1) / n_eff))

    m1, s1 = arm(treated)
    m0, s0 = arm(~treated)
    assert res.estimate == pytest.approx(m1 - m0, rel=1e-12)
    assert res.se == pytest.approx(np.hypot(s1, s0), rel=1e-12)
    ch = res.changes.set_index("group")["std_error"]
    assert ch["treated"] == pytest.approx(s1, rel=1e-12)
    assert ch["control"] == pytest.approx(s0, rel=1e-12)


def test_multiplier_draws_have_the_analytic_variance_over_all_sign_vectors() -> None:
    rng = np.random.default_rng(6)
    n_cl, n, j = 8, 20, 3  # 8 clusters of 20 units
    psi = rng.normal(size=(n_cl, j))
    signs = np.array(list(itertools.product([-1.0, 1.0], repeat=n_cl)))
    draws = multiplier_draws(psi, n, signs)
    loop = np.array(
        [
            [sum(s[g] * psi[g, c] for g in range(n_cl)) / n for c in range(j)]
            for s in signs
        ]
    )
    np.testing.assert_allclose(draws, loop, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        (draws**2).mean(axis=0), (psi**2).sum(axis=0) / n**2, rtol=1e-12
    )
