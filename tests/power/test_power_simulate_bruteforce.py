"""The vectorised power engine against an enumeration of every placebo assignment.

On a panel of 9 untreated units x 7 periods with 2 placebo-treated units there are
only C(9, 2) = 36 assignments. The test enumerates them with plain numpy (the 2x2
DiD of means, the Callaway-Sant'Anna ATT with base period g - 1 for one cohort),
identifies the assignment behind every simulated draw from its no-effect estimate
(all 36 estimates are distinct), and then recomputes every column of
``PowerResult.table`` from the documented rules:

* ``inference="placebo"``: reject when ``|estimate| > q``, ``q`` the
  ``1 - alpha`` quantile (numpy's default linear rule) of the absolute no-effect
  estimates; an interval covers when ``|estimate - effect| <= q``;
* ``inference="analytic"``: reject when ``|estimate| > z_{1-alpha/2} se`` with the
  Welch (2x2: ``s_T^2/n_T + s_C^2/n_C`` of the unit-level contrasts, ``ddof=1``) or
  influence-function (CS: ``ddof=0``) variance, as ``impact.did`` computes them;
* relative effects multiply the treated units' post-period outcomes by
  ``1 + effect``; the estimate is reported as a proportion of the treated units'
  mean post-period counterfactual level, and so is the bias;
* ``mde()`` interpolates the power curve linearly (power ``alpha`` at effect 0).

Nothing here uses the package's own numbers as a reference: only the draws'
identity (which assignment each draw is) is read from the result. Exact agreement
(``rel=1e-9``) is required.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from impact.power import simulate

N_UNITS, N_T, T0 = 9, 2, 3  # units, treated per draw, first post period index
PERIODS = np.arange(2010, 2017)  # 3 pre and 4 post periods


def _panel() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(20261203)
    level = rng.uniform(20, 80, size=N_UNITS)
    noise = rng.normal(0, 4, size=(N_UNITS, len(PERIODS))) * rng.uniform(
        0.5, 2.0, size=(N_UNITS, 1)
    )
    Y = level[:, None] + np.linspace(0, 3, len(PERIODS))[None, :] + noise
    frame = pd.DataFrame(
        {
            "unit": np.repeat([f"u{i}" for i in range(N_UNITS)], len(PERIODS)),
            "year": np.tile(PERIODS, N_UNITS),
            "y": Y.ravel(),
        }
    )
    return frame, Y


def _enumerate(Y: np.ndarray, method: str) -> list[dict[str, float]]:
    """Every assignment: no-effect estimate, its slope in a relative effect, SE."""
    out = []
    for treated in combinations(range(N_UNITS), N_T):
        t = np.zeros(N_UNITS, dtype=bool)
        t[list(treated)] = True
        if method == "2x2":
            diff = Y[:, T0:].mean(axis=1) - Y[:, :T0].mean(axis=1)
            # relative effect d: treated post outcomes x (1 + d)
            diff_slope = Y[:, T0:].mean(axis=1)
            ddof = 1
        else:  # CS, one cohort, base period g - 1: mean over post t of Y_t - Y_{g-1}
            diff = Y[:, T0:].mean(axis=1) - Y[:, T0 - 1]
            diff_slope = Y[:, T0:].mean(axis=1)
            ddof = 0
        est0 = diff[t].mean() - diff[~t].mean()
        slope = diff_slope[t].mean()
        level = Y[t][:, T0:].mean()

        def se(
            d: float,
            diff: np.ndarray = diff,
            t: np.ndarray = t,
            slope_y: np.ndarray = diff_slope,
            ddof: int = ddof,
        ) -> float:
            shifted = diff + d * slope_y * t
            return float(
                np.sqrt(
                    shifted[t].var(ddof=ddof) / t.sum()
                    + shifted[~t].var(ddof=ddof) / (~t).sum()
                )
            )

        out.append({"est0": est0, "slope": slope, "level": level, "se": se})
    return out


def _identify(null_draws: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Index of the enumerated assignment behind each draw (unique nearest key)."""
    gap = np.abs(null_draws[:, None] - keys[None, :])
    idx = gap.argmin(axis=1)
    assert np.all(gap[np.arange(len(idx)), idx] < 1e-9 * (1 + np.abs(keys).max()))
    return idx


def _mde(effects: np.ndarray, power: np.ndarray, target: float, alpha: float) -> float:
    m = np.abs(effects)
    order = np.argsort(m)
    m, p = m[order], power[order]
    if m[0] != 0:
        m, p = np.r_[0.0, m], np.r_[alpha, p]
    j = int(np.nonzero(p >= target)[0][0])
    return float(m[j - 1] + (target - p[j - 1]) * (m[j] - m[j - 1]) / (p[j] - p[j - 1]))


@pytest.mark.parametrize("method", ["2x2", "cs"])
def test_placebo_power_table_is_the_enumerated_rule(method: str) -> None:
    frame, Y = _panel()
    effects = np.array([0.0, -4.0, -8.0, -12.0, -20.0])
    res = simulate(
        frame,
        outcome="y",
        unit="unit",
        time="year",
        treatment_time=int(PERIODS[T0]),
        n_treated=N_T,
        effect=effects,
        effect_type="absolute",
        estimator=method,
        inference="placebo",
        n_sims=600,
        seed=5,
    )
    assign = _enumerate(Y, method)
    keys = np.array([a["est0"] for a in assign])
    assert len(np.unique(np.round(keys, 9))) == len(keys)
    draws = res.draws[str(N_T)]
    idx = _identify(draws[:, 0], keys)
    # random assignment: most of the 36 assignments appear in 600 draws
    assert len(np.unique(idx)) >= 34
    null = keys[idx]
    q = np.quantile(np.abs(null), 0.95)
    tab = res.table.set_index("effect")
    for j, d in enumerate(effects):
        est = null + d  # an absolute effect on treated post cells moves the DiD by d
        np.testing.assert_allclose(draws[:, j], est, rtol=1e-9, atol=1e-9)
        row = tab.loc[d]
        assert row["power"] == pytest.approx(np.mean(np.abs(est) > q), rel=1e-9)
        # |estimate - effect| <= q, with the subtraction done as written: with only
        # 36 possible estimates, q is itself one of them and rounding decides ties
        assert row["coverage"] == pytest.approx(np.mean(np.abs(est - d) <= q), rel=1e-9)
        assert row["bias"] == pytest.approx(null.mean(), rel=1e-9, abs=1e-12)
        assert row["rmse"] == pytest.approx(np.sqrt(np.mean(null**2)), rel=1e-9)
        assert row["sd"] == pytest.approx(est.std(ddof=1), rel=1e-9)
    power = tab["power"].to_numpy()
    assert res.mde(0.8).loc[N_T] == pytest.approx(
        _mde(effects, power, 0.8, 0.05), rel=1e-9
    )
    assert res.mde(0.5).loc[N_T] == pytest.approx(
        _mde(effects, power, 0.5, 0.05), rel=1e-9
    )


@pytest.mark.parametrize("method", ["2x2", "cs"])
def test_analytic_power_with_relative_effects_is_the_enumerated_rule(
    method: str,
) -> None:
    frame, Y = _panel()
    effects = np.array([0.0, -0.1, -0.2, -0.4])
    alpha = 0.1
    res = simulate(
        frame,
        outcome="y",
        unit="unit",
        time="year",
        treatment_time=int(PERIODS[T0]),
        n_treated=N_T,
        effect=effects,
        effect_type="relative",
        estimator=method,
        inference="analytic",
        alpha=alpha,
        n_sims=400,
        seed=9,
    )
    assign = _enumerate(Y, method)
    draws = res.draws[str(N_T)]
    keys = np.array([a["est0"] / a["level"] for a in assign])
    idx = _identify(draws[:, 0], keys)
    z = stats.norm.ppf(1 - alpha / 2)
    tab = res.table.set_index("effect")
    for j, d in enumerate(effects):
        est = np.array([assign[i]["est0"] + d * assign[i]["slope"] for i in idx])
        level = np.array([assign[i]["level"] for i in idx])
        se = np.array([assign[i]["se"](d) for i in idx])
        tau = d * level  # mean injected effect over treated post cells
        np.testing.assert_allclose(draws[:, j], est / level, rtol=1e-9, atol=1e-12)
        row = tab.loc[d]
        assert row["power"] == pytest.approx(np.mean(np.abs(est) > z * se), rel=1e-9)
        assert row["coverage"] == pytest.approx(
            np.mean(np.abs(est - tau) <= z * se), rel=1e-9
        )
        assert row["bias"] == pytest.approx(
            np.mean((est - tau) / level), rel=1e-9, abs=1e-12
        )
        assert row["rmse"] == pytest.approx(
            np.sqrt(np.mean(((est - tau) / level) ** 2)), rel=1e-9
        )


def test_selected_adopters_are_tested_against_random_assignment() -> None:
    # 30 units; the top third by pre-period level (10 units) fall by 20 after 2013.
    # assignment="high_rate" draws the 5 adopters among those 10, and (documented)
    # the placebo critical value comes from RANDOM assignments of 5 of the 30, as an
    # analyst's permutation test would. A random set has on average 5/3 of the
    # falling units, so its 95% |DiD| quantile lies far below the selected sets'
    # |DiD| of about 20: the selection bias shows as rejection at effect 0. Brute
    # force: that quantile from 20,000 numpy draws, and the share of all C(10, 5)
    # selected sets beyond it. Calibrating on the selected draws instead would give
    # 5% by construction.
    rng = np.random.default_rng(7)
    n, periods = 30, np.arange(2010, 2018)
    Y = 50 + rng.normal(0, 2, size=(n, len(periods)))
    Y[:10] += 15  # the top third by level
    Y[:10, 4:] -= 20
    frame = pd.DataFrame(
        {
            "unit": np.repeat([f"u{i:02d}" for i in range(n)], len(periods)),
            "year": np.tile(periods, n),
            "y": Y.ravel(),
        }
    )
    res = simulate(
        frame,
        outcome="y",
        unit="unit",
        time="year",
        treatment_time=2014,
        n_treated=5,
        effect=[0.0],
        effect_type="absolute",
        estimator="2x2",
        inference="placebo",
        assignment="high_rate",
        n_sims=400,
        seed=3,
    )
    diff = Y[:, 4:].mean(axis=1) - Y[:, :4].mean(axis=1)
    keys = np.argsort(np.random.default_rng(1).random((20_000, n)), axis=1)[:, :5]
    mask = np.zeros((20_000, n), dtype=bool)
    np.put_along_axis(mask, keys, True, axis=1)
    rand = diff @ mask.T / 5 - diff @ (~mask).T / 25
    crit = np.quantile(np.abs(rand), 0.95)
    sel = []
    for s in combinations(range(10), 5):
        t = np.zeros(n, dtype=bool)
        t[list(s)] = True
        sel.append(abs(diff[t].mean() - diff[~t].mean()) > crit)
    expected = float(np.mean(sel))
    assert expected == 1.0
    assert res.table.loc[0, "power"] == pytest.approx(expected, abs=0.02)


def test_sc_bias_and_rmse_are_against_the_injected_effect() -> None:
    # one treated unit, absolute effects: the target of each draw is the effect
    # itself (mean of the injected path), so bias = mean(estimate) - effect and
    # rmse = sqrt(mean((estimate - effect)^2)) over the draws
    frame, _ = _panel()
    effects = np.array([0.0, -6.0])
    res = simulate(
        frame,
        outcome="y",
        unit="unit",
        time="year",
        treatment_time=int(PERIODS[T0]),
        n_treated=1,
        effect=effects,
        effect_type="absolute",
        estimator="sc",
        n_sims=60,
        seed=4,
    )
    draws = res.draws["1"]
    tab = res.table.set_index("effect")
    for j, d in enumerate(effects):
        err = draws[:, j] - d
        assert tab.loc[d, "bias"] == pytest.approx(err.mean(), rel=1e-9, abs=1e-12)
        assert tab.loc[d, "rmse"] == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-9)
        assert tab.loc[d, "sd"] == pytest.approx(draws[:, j].std(ddof=1), rel=1e-9)
