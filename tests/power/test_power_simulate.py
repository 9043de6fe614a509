"""Simulation-based power: vectorised draws, re-fitted draws, agreement with BPW."""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

import impact
from impact.data.synthetic import ar1_panel
from impact.errors import DataError, SpecError
from impact.inference.linear import did2x2_weights, twfe_weights
from impact.panel import Panel
from impact.power import panel_did_mde, simulate
from impact.power._linear import role_design, role_matrix

PERIODS = np.arange(2010, 2026)


def _panel(
    n: int = 150, t: int = 16, rho: float = 0.5, seed: int = 1, level: float = 50.0
) -> Panel:
    Y = ar1_panel(n, t, rho, seed=seed, unit_sd=1.0, time_sd=1.0) + level
    return Panel.from_arrays(Y, periods=np.arange(2010, 2010 + t))


# ------------------------------------------------------------- role weights
@pytest.mark.parametrize("method", ["2x2", "twfe"])
def test_role_weights_match_full_weight_matrices(method: str) -> None:
    # Consistency with impact.inference.linear (independent full-matrix FWL weights).
    rng = np.random.default_rng(0)
    n, periods = 30, np.arange(2010, 2020)
    cohorts = np.array([2014.0]) if method == "2x2" else np.array([2013.0, 2016.0])
    sizes = np.array([4]) if method == "2x2" else np.array([3, 4])
    design = role_design(method, periods, cohorts, sizes, n - sizes.sum())
    order = rng.permutation(n)[None, :]
    roles = role_matrix(order, sizes, n)[0]
    unit_cohort = np.append(cohorts, np.inf)[roles]
    D = periods[None, :] >= unit_cohort[:, None]
    full = did2x2_weights(D) if method == "2x2" else twfe_weights(D)
    np.testing.assert_allclose(design.A[roles], full, atol=1e-13)


def test_cs_role_weights_match_impact_did() -> None:
    # The vectorised CS simple aggregate equals impact.did(method="cs") (never-treated
    # comparison, no covariates): a closed form, so 1e-10.
    p = _panel(40, 8, seed=3)
    cohort = np.full(40, np.inf)
    cohort[:3], cohort[3:7] = 2013, 2015
    design = role_design(
        "cs", p.periods, np.array([2013.0, 2015.0]), np.array([3, 4]), 33
    )
    roles = np.where(cohort == 2013, 0, np.where(cohort == 2015, 1, 2))
    ours = float((design.A[roles] * p.Y).sum())
    res = impact.did(p.with_cohort(cohort), method="cs", inference="analytic")
    assert ours == pytest.approx(res.estimate, abs=1e-10)


# ------------------------------------------------- fast vs re-fitted draws
def _did_analytic(frame: pd.DataFrame, **kwargs: Any) -> Any:
    return impact.did(frame, inference="analytic", **kwargs)


@pytest.mark.parametrize(
    ("method", "times"), [("2x2", [2014]), ("twfe", [2013, 2015]), ("cs", [2013, 2015])]
)
def test_vectorised_draws_equal_refitted_estimates(
    method: str, times: list[int]
) -> None:
    # Same seed -> same placebo assignments in both engines; the vectorised estimates
    # must equal impact.did draw by draw, so bias and RMSE agree to rounding.
    p = _panel(40, 8, seed=4)
    kw = {
        "treatment_time": times,
        "n_treated": [3, 6],
        "effect": [0.0, 0.1],
        "n_sims": 12,
        "seed": 9,
    }
    fast = simulate(p, estimator=method, inference="analytic", **kw)
    slow = simulate(p, estimator=_did_analytic, method=method, **kw)
    assert fast.engine == "vectorised" and slow.engine == "re-fitted"
    for col in ("bias", "rmse"):
        np.testing.assert_allclose(fast.table[col], slow.table[col], atol=1e-10)
    # the analytic SEs are the same as impact.did's: identical decisions
    for col in ("power", "coverage"):
        np.testing.assert_allclose(fast.table[col], slow.table[col], atol=1e-12)


@pytest.mark.parametrize(
    ("method", "cohorts", "sizes"),
    [
        ("2x2", [2015.0], [6]),
        ("twfe", [2013.0, 2016.0], [4, 5]),
        ("cs", [2013.0, 2015.0, 2017.0], [3, 4, 2]),
    ],
)
@pytest.mark.parametrize("effect_type", ["absolute", "relative"])
def test_vectorised_analytic_se_equals_impact_did(
    method: str, cohorts: list[float], sizes: list[int], effect_type: str
) -> None:
    # The per-draw analytic variance (a quadratic in the effect size) equals the SE
    # impact.did reports on the effect-injected data: Welch (2x2), CRV1 by unit
    # (TWFE), influence function with estimated cohort shares (CS). Closed forms: 1e-10.
    from impact.power._linear import linear_block, phase_matrix

    p = _panel(50, 10, seed=9)
    coh, sz = np.array(cohorts), np.array(sizes)
    design = role_design(method, p.periods, coh, sz, 50 - sz.sum())
    roles = role_matrix(np.random.default_rng(1).permutation(50)[None, :], sz, 50)
    phase = phase_matrix(p.periods, coh, 2)

    out = linear_block(effect_type, p.Y[None], roles, design, phase)
    delta = -0.05 if effect_type == "relative" else -0.7
    unit_phase = np.vstack([phase, np.zeros((1, 10))])[roles[0]]
    base = p.Y if effect_type == "relative" else 1.0
    Y = p.Y + delta * unit_phase * base
    cohort = np.append(coh, np.inf)[roles[0]]
    res = impact.did(
        p.with_outcome(Y).with_cohort(cohort), method=method, inference="analytic"
    )
    est = out["est0"][0] + delta * out["slope"][0]
    var = out["var0"][0] + delta * out["var1"][0] + delta**2 * out["var2"][0]
    assert est == pytest.approx(res.estimate, abs=1e-10)
    assert np.sqrt(var) == pytest.approx(res.se, abs=1e-10)


def test_parallel_results_identical_to_serial() -> None:
    # Re-fitted draws get one spawned Generator each: n_jobs=1 and n_jobs=2 must give
    # bit-identical tables (cluster= forces the re-fitted engine).
    p = _panel(30, 6, seed=5)
    kw = {
        "treatment_time": 2013,
        "n_treated": 3,
        "effect": [0.0, 0.2],
        "n_sims": 8,
        "seed": 21,
        "estimator": "did",
        "method": "2x2",
        "cluster": "unit",
        "inference": "analytic",
    }
    serial = simulate(p, n_jobs=1, **kw)
    parallel = simulate(p, n_jobs=2, backend="joblib", **kw)
    assert serial.engine == "re-fitted"
    pd.testing.assert_frame_equal(serial.table, parallel.table)


# ----------------------------------------------------- agreement with BPW
def _pooled_power(
    phi: float, n_treated: int, n_panels: int, n_sims: int, seed: int
) -> tuple[float, float, float]:
    mde = panel_did_mde(n_units=150, n_treated=n_treated, pre=10, post=5, phi=phi)
    powers, sds = [], []
    for k in range(n_panels):
        Y = ar1_panel(150, 15, phi, seed=seed + k, unit_sd=1.0, time_sd=1.0)
        p = Panel.from_arrays(Y, periods=np.arange(2010, 2025))
        res = simulate(
            p,
            treatment_time=2020,
            n_treated=n_treated,
            effect=[0.0, mde],
            effect_type="absolute",
            estimator="twfe",
            n_sims=n_sims,
            seed=seed + 1000 + k,
            inference="placebo",
        )
        powers.append(float(res.table["power"].iloc[1]))
        sds.append(float(res.table["sd"].iloc[0]))
    return float(np.mean(powers)), float(np.sqrt(np.mean(np.square(sds)))), mde


@pytest.mark.montecarlo
def test_simulated_power_matches_bpw_formula_reduced() -> None:
    # Reduced form of the slow test: 150 units, 10 pre / 5 post, AR(1) phi = 0.5,
    # 15 treated, injected effect = BPW MDE (0.6080). 20 panels x 250 draws: the MC SE
    # of the pooled power is about 0.01 (plus panel-to-panel spread); the research
    # report's randomisation test gave 0.778 at the MDE (2.4). Tolerance 0.05.
    power, sd, mde = _pooled_power(0.5, 15, n_panels=20, n_sims=250, seed=100)
    assert power == pytest.approx(0.8, abs=0.05)
    # SD of the placebo estimates vs the BPW SE (0.2156 for this design, report 2.3):
    # sampling error of a pooled SD over 5,000 draws on 20 panels ~2%; tolerance 6%.
    assert sd == pytest.approx(0.2156, rel=0.06)


@pytest.mark.slow
@pytest.mark.montecarlo
@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8])
@pytest.mark.parametrize("n_treated", [5, 15])
def test_simulated_power_matches_bpw_formula_full(phi: float, n_treated: int) -> None:
    # Full form: 100 panels x 1000 draws per cell; pooled power at the BPW MDE within
    # 0.04 of 0.8 (randomisation test, report 2.4: 0.78-0.81).
    power, _, _ = _pooled_power(phi, n_treated, n_panels=100, n_sims=1000, seed=500)
    assert power == pytest.approx(0.8, abs=0.04)


def test_size_of_placebo_test_is_alpha() -> None:
    # With no effect the placebo test rejects in alpha of the draws by construction.
    res = simulate(
        _panel(),
        treatment_time=2020,
        n_treated=[3, 10],
        effect=[0.0, -0.05],
        estimator="2x2",
        n_sims=400,
        seed=1,
        inference="placebo",
    )
    zero = res.table[res.table["effect"] == 0.0]
    assert np.allclose(zero["power"], 0.05, atol=1 / 400)


def test_analytic_inference_over_rejects_with_few_treated() -> None:
    # Few treated units: unit-level analytic SEs over-reject (report 2.4: 13-14% with
    # 5 treated); with 2 treated the over-rejection is large. MC check, 2,000 draws.
    res = simulate(
        _panel(rho=0.5, seed=8),
        treatment_time=2020,
        n_treated=[2, 40],
        effect=0.0,
        effect_type="absolute",
        estimator="2x2",
        n_sims=2000,
        seed=2,
        inference="analytic",
    )
    size = res.table.set_index("n_treated")["power"]
    assert size.loc[2] > 0.09
    assert size.loc[40] == pytest.approx(0.05, abs=0.025)


# ------------------------------------------------------------ speed (issue 7)
def test_thousand_vectorised_draws_under_a_second() -> None:
    # Issue 7: 1,000 placebo draws of 2x2 / TWFE / CS on 150 x 16 in < 1 s each.
    p = _panel(150, 16)
    for estimator, times in (
        ("2x2", 2018),
        ("twfe", [2016, 2019]),
        ("cs", [2016, 2019]),
    ):
        start = time.perf_counter()
        simulate(
            p,
            treatment_time=times,
            n_treated=10,
            effect=[0.0, -0.1],
            estimator=estimator,
            n_sims=1000,
            seed=0,
        )
        assert time.perf_counter() - start < 1.0


# ------------------------------------------------------------- behaviour
def _twfe_on_injected(
    n: int, periods: np.ndarray, cohorts: dict[int, int], effect: float, phase_in: int
) -> tuple[float, float]:
    """TWFE coefficient (statsmodels OLS with unit and period dummies) on a panel
    holding only the injected effect ``effect * min((e + 1) / (phase_in + 1), 1)``,
    and the mean injected effect over treated cells (the simulation's target)."""
    import statsmodels.api as sm

    first = np.concatenate(
        [np.full(k, float(g)) for g, k in cohorts.items()]
        + [np.full(n - sum(cohorts.values()), np.inf)]
    )
    unit, per = np.meshgrid(np.arange(n), np.arange(len(periods)), indexing="ij")
    e = (
        per
        - np.searchsorted(periods, np.where(np.isfinite(first), first, 1e9))[:, None]
    )
    D = (e >= 0).astype(float)
    y = effect * np.minimum((e + 1) / (phase_in + 1), 1.0) * D
    X = pd.concat(
        [
            pd.Series(D.ravel(), name="D"),
            pd.get_dummies(unit.ravel(), prefix="u", drop_first=True, dtype=float),
            pd.get_dummies(per.ravel(), prefix="t", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    beta = sm.OLS(y.ravel(), sm.add_constant(X)).fit().params["D"]
    return float(beta), float(y[D == 1].mean())


def test_effects_phase_in_and_relative_target() -> None:
    # The bias column is mean(estimate - target); the noise part is the same draw's
    # no-effect estimate, so bias(effect) - bias(0) is the estimator's bias on the
    # injected effect alone, with no Monte Carlo error.
    # CS, relative effect, phase-in: ATT(g,t) of the injected part is exactly the
    # mean injected effect of the cell (the base period is untreated), so the
    # difference is 0 (1e-12); the no-effect bias is only noise: two-sided within 3
    # Monte Carlo SEs of 0.
    res = simulate(
        _panel(),
        treatment_time=2019,
        n_treated=20,
        effect=[0.0, -0.1],
        estimator="cs",
        n_sims=300,
        seed=4,
        phase_in=3,
    )
    tab = res.table.set_index("effect")
    assert tab.loc[-0.1, "bias"] - tab.loc[0.0, "bias"] == pytest.approx(0, abs=1e-12)
    assert abs(tab.loc[0.0, "bias"]) <= 3 * tab.loc[0.0, "sd"] / np.sqrt(300)
    # Staggered cohorts (20 + 20 treated units, _split), absolute effect with a slow
    # phase-in: TWFE's bias is what statsmodels' TWFE regression gives on the
    # injected effect alone (Goodman-Bacon: the early cohort serves as a control
    # while its effect still grows, biasing towards zero); CS's is 0.
    kw = {
        "treatment_time": [2013, 2021],
        "n_treated": 40,
        "effect": [0.0, -0.1],
        "effect_type": "absolute",
        "n_sims": 50,
        "seed": 4,
        "phase_in": 6,
    }
    beta, target = _twfe_on_injected(
        150, np.arange(2010, 2026), {2013: 20, 2021: 20}, -0.1, 6
    )
    assert beta - target > 0.01  # the reference itself shows the bias
    for estimator, expect in (("twfe", beta - target), ("cs", 0.0)):
        tab = simulate(_panel(), estimator=estimator, **kw).table.set_index("effect")
        diff = tab.loc[-0.1, "bias"] - tab.loc[0.0, "bias"]
        assert diff == pytest.approx(expect, abs=1e-10), estimator


def test_assignment_rules_and_selection_bias() -> None:
    # Selecting on a high recent level with mean-reverting AR(1) noise biases a DiD
    # with a short pre-period (regression to the mean): placebo estimates fall.
    p = _panel(150, 9, rho=0.6, seed=12).subset(periods=range(2014, 2019))
    rand = simulate(
        p,
        treatment_time=2017,
        n_treated=10,
        effect=0.0,
        effect_type="absolute",
        estimator="2x2",
        n_sims=300,
        seed=3,
    )
    high = simulate(
        p,
        treatment_time=2017,
        n_treated=10,
        effect=0.0,
        effect_type="absolute",
        estimator="2x2",
        n_sims=300,
        seed=3,
        assignment="high_rate",
    )
    rising = simulate(
        p,
        treatment_time=2017,
        n_treated=10,
        effect=0.0,
        effect_type="absolute",
        estimator="2x2",
        n_sims=300,
        seed=3,
        assignment="rising_rate",
    )
    assert float(high.table["bias"].iloc[0]) < float(rand.table["bias"].iloc[0]) - 0.1
    # selection on growth also biases the placebo estimates (here upward: the low
    # starting year sits inside the short pre-period)
    assert (
        abs(float(rising.table["bias"].iloc[0]) - float(rand.table["bias"].iloc[0]))
        > 0.1
    )
    big = simulate(
        p,
        treatment_time=2017,
        n_treated=60,
        effect=0.0,
        effect_type="absolute",
        estimator="2x2",
        n_sims=20,
        seed=3,
        assignment="high_rate",
    )
    assert any("top third" in w for w in big.warnings)


def test_treated_units_left_out_of_pool() -> None:
    p = _panel(40, 8, seed=6)
    cohort = np.full(40, np.inf)
    cohort[:5] = 2015
    res = simulate(
        p.with_cohort(cohort),
        treatment_time=2015,
        n_treated=3,
        effect=0.0,
        estimator="2x2",
        n_sims=10,
        seed=1,
    )
    assert res.n_units == 35
    assert any("35 never-treated" in w for w in res.warnings)


def test_dataframe_input_and_seed_reproducibility() -> None:
    p = _panel(30, 6, seed=7)
    frame = p.frame
    a = simulate(
        frame,
        outcome="y",
        unit="unit",
        time="time",
        treatment_time=2013,
        n_treated=4,
        effect=[0.0, 0.05],
        estimator="cs",
        n_sims=50,
        seed=3,
    )
    b = simulate(
        p,
        treatment_time=2013,
        n_treated=4,
        effect=[0.0, 0.05],
        estimator="cs",
        n_sims=50,
        seed=3,
    )
    pd.testing.assert_frame_equal(a.table, b.table)
    c = simulate(
        p,
        treatment_time=2013,
        n_treated=4,
        effect=[0.0, 0.05],
        estimator="cs",
        n_sims=50,
        seed=4,
    )
    assert not a.table["bias"].equals(c.table["bias"])
    json.dumps(a.to_dict())


def test_subgroup_counts_raise_the_mde() -> None:
    # Smaller subgroups -> smaller Poisson counts -> noisier rates -> larger MDE.
    rng = np.random.default_rng(0)
    n, t = 80, 8
    pop = np.repeat(rng.lognormal(np.log(60_000), 0.6, n)[:, None], t, axis=1)
    rate = np.exp(
        np.log(60)
        + 0.3 * rng.standard_normal((n, 1))
        + 0.03 * rng.standard_normal((n, t))
    )
    frame = pd.DataFrame(
        {
            "la": np.repeat(np.arange(n), t),
            "year": np.tile(np.arange(2015, 2015 + t), n),
            "rate": rate.ravel(),
            "pop": pop.ravel(),
        }
    )
    kw = {
        "outcome": "rate",
        "unit": "la",
        "time": "year",
        "treatment_time": 2019,
        "n_treated": 10,
        "effect": [0.0, -0.05, -0.1, -0.2, -0.4, -0.8],
        "estimator": "2x2",
        "n_sims": 300,
        "denominator": "pop",
    }
    from impact.power import plot_subgroup_mde, subgroup_mde

    table = subgroup_mde(frame, shares=[1.0, 0.2, 0.02], seed=5, **kw)
    mdes = table.set_index("share")["mde"]
    assert mdes.loc[1.0] < mdes.loc[0.2] < mdes.loc[0.02]
    assert table["mde_ratio"].max() > 2
    ax = plot_subgroup_mde(table)
    assert ax.get_xlabel().startswith("Subgroup share")
    nb = simulate(
        frame, subgroup_share=0.2, count_model="negbin", dispersion=0.05, seed=5, **kw
    )
    assert nb.mde().iloc[0] > mdes.loc[0.2] * 0.9


def test_simulate_errors() -> None:
    p = _panel(20, 6, seed=1)
    base = {"treatment_time": 2013, "n_treated": 3, "effect": 0.1, "n_sims": 10}
    with pytest.raises(SpecError, match="'assignment' parameter"):
        simulate(p, **{**base, "assignment": "best"})
    with pytest.raises(SpecError, match="'estimator' parameter"):
        simulate(p, **base, estimator="ols")
    with pytest.raises(SpecError, match="not a period of the panel"):
        simulate(p, **{**base, "treatment_time": 2030})
    with pytest.raises(SpecError, match="leaves no pre-period"):
        simulate(p, **{**base, "treatment_time": 2010})
    with pytest.raises(SpecError, match="n_treated=19 is not possible"):
        simulate(p, **{**base, "n_treated": 19})
    with pytest.raises(SpecError, match="single treatment_time"):
        simulate(p, **{**base, "treatment_time": [2012, 2013]}, estimator="2x2")
    with pytest.raises(SpecError, match="needs denominator="):
        simulate(p, **base, subgroup_share=0.5)
    with pytest.raises(SpecError, match="'n_sims' parameter"):
        simulate(p, **{**base, "n_sims": 1})
    with pytest.raises(SpecError, match="'effect' parameter"):
        simulate(p, **{**base, "effect": "big"})
    neg = Panel.from_arrays(
        ar1_panel(20, 6, 0.2, seed=1), periods=np.arange(2010, 2016)
    )
    with pytest.raises(DataError, match="use effect_type='absolute'"):
        simulate(neg, **base)


@pytest.mark.slow
def test_dask_backend_identical_to_serial() -> None:
    # joblib's dask backend on a local cluster: same spawned Generators, same table.
    p = _panel(30, 6, seed=5)
    kw = {
        "treatment_time": 2013,
        "n_treated": 3,
        "effect": [0.0, 0.2],
        "n_sims": 6,
        "seed": 21,
        "estimator": "did",
        "method": "2x2",
        "cluster": "unit",
        "inference": "analytic",
    }
    serial = simulate(p, **kw)
    dask = simulate(p, backend="dask", n_jobs=2, **kw)
    pd.testing.assert_frame_equal(serial.table, dask.table)


# -------------------------------------------------- synthetic control (sc)
def test_sc_placebo_test_matches_brute_force() -> None:
    # The vectorised leave-one-out SC test equals an explicit computation: refit-free
    # gaps, leakage of the treated unit's effect into placebo gaps through its donor
    # weight, ADH rank p-value (1 + #{ratio_j >= ratio_i}) / N.
    from impact.power._synth import synth_placebo
    from impact.synth.weights import simplex_weights

    rng = np.random.default_rng(3)
    Y = rng.normal(size=(12, 9)).cumsum(axis=1) + 10
    t0 = 6
    sp = synth_placebo(Y, t0)
    i = 4
    w_i = simplex_weights(Y[i, :t0], np.delete(Y, i, axis=0)[:, :t0].T)
    np.testing.assert_allclose(np.delete(sp.W[i], i), w_i, atol=1e-12)
    E = np.zeros((12, 3))
    E[:] = -1.5
    est, reject = sp.test(E, alpha=0.1)
    # every unit in turn is the treated one; alpha = 2/12 so that p == alpha occurs
    # (a rejection: p <= alpha)
    n_at_alpha = 0
    for stat in ("ratio", "gap"):
        _, rej = sp.test(E, alpha=2 / 12, statistic=stat)
        for j in range(12):
            gaps = Y - sp.W @ Y
            gaps[:, t0:] -= sp.W[:, [j]] * E[j]  # leakage into placebo units
            gaps[j, t0:] = (Y - sp.W @ Y)[j, t0:] + E[j]
            if stat == "ratio":
                score = np.sqrt(
                    (gaps[:, t0:] ** 2).mean(1) / (gaps[:, :t0] ** 2).mean(1)
                )
            else:
                score = np.abs(gaps[:, t0:].mean(1))
            p = (1 + np.sum(np.delete(score, j) >= score[j])) / 12
            n_at_alpha += int(np.isclose(p, 2 / 12))
            assert bool(rej[j]) == (p <= 2 / 12 + 1e-12), (stat, j, p)
    assert n_at_alpha > 0
    assert est[i] == pytest.approx((Y - sp.W @ Y)[i, t0:].mean() - 1.5)
    np.testing.assert_allclose(est, (Y - sp.W @ Y)[:, t0:].mean(1) - 1.5, atol=1e-10)


def test_sc_power_grows_with_effect_and_is_fast() -> None:
    # Issue 7: synthetic-control power, 200 draws x 5 effects, well under 2 minutes
    # (the leave-one-out fits are done once; draws are array lookups).
    p = _panel(60, 12, rho=0.8, seed=2, level=20.0)
    start = time.perf_counter()
    res = simulate(
        p,
        treatment_time=2018,
        n_treated=1,
        effect=[0.0, -0.05, -0.1, -0.2, -0.4],
        estimator="sc",
        n_sims=200,
        seed=1,
        test="gap",
    )
    assert time.perf_counter() - start < 120
    power = res.table["power"].to_numpy()
    # no effect: the treated unit is a random one of 60 and is rejected when its gap
    # ranks in the top 5% (3 of 60), so the size is exactly 0.05 up to Monte Carlo
    # error: two-sided, 2 MC SEs (0.0154 for 200 draws) + 1 point (observed 0.04)
    assert abs(power[0] - 0.05) <= 2 * np.sqrt(0.05 * 0.95 / 200) + 0.01
    assert power[-1] > 0.9
    assert np.all(np.diff(power) >= -0.02)
    ratio = simulate(
        p,
        treatment_time=2018,
        n_treated=1,
        effect=[0.0, -0.4],
        estimator="sc",
        n_sims=200,
        seed=1,
    )
    assert ratio.table["inference"].iloc[0] == "placebo (RMSPE ratio)"
    with pytest.raises(SpecError, match="takes one treated unit"):
        simulate(
            p, treatment_time=2018, n_treated=2, effect=0.1, estimator="sc", n_sims=5
        )
    with pytest.raises(SpecError, match="'test' parameter"):
        simulate(
            p,
            treatment_time=2018,
            n_treated=1,
            effect=0.1,
            estimator="sc",
            n_sims=5,
            test="t",
        )


def test_synthetic_la_panel_with_subgroups() -> None:
    # impact.data.synthetic: a calibrated LA panel with treated cohorts (left out of
    # the placebo pool) and a population column for subgroup counts.
    from impact.data.synthetic import generate_la_panel

    df = generate_la_panel(seed=1)
    kw = {
        "outcome": "cla_rate",
        "unit": "la_code",
        "time": "year",
        "cohort": "cohort",
        "treatment_time": 2019,
        "n_treated": [5, 15],
        "effect": [0.0, -0.05, -0.1, -0.2, -0.3, -0.5],
        "estimator": "cs",
        "n_sims": 400,
        "seed": 1,
        "denominator": "child_pop",
    }
    full = simulate(df, **kw)
    small = simulate(df, subgroup_share=0.02, **kw)
    assert full.n_units == int((df.groupby("la_code")["cohort"].first() == 0).sum())
    assert full.mde().is_monotonic_decreasing
    assert (small.mde().fillna(np.inf) > full.mde()).all()  # NaN: not reached


def test_synth_one_fit_per_draw_equals_refitting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # impact.synth with placebo inference: the donor weights use pre-period data and
    # placebo fits exclude the treated unit, so one fit per draw serves every effect
    # size. The shortcut must give exactly what re-fitting each effect gives.
    from impact.power import simulation as sim

    p = _panel(14, 10, rho=0.8, seed=4, level=20.0)
    kw = {
        "treatment_time": 2016,
        "n_treated": 1,
        "effect": [0.0, -0.1, -0.5],
        "estimator": "synth",
        "n_sims": 3,
        "seed": 2,
    }
    shared = simulate(p, **kw)
    monkeypatch.setattr(sim, "_synth_effects", lambda *a, **k: None)
    refit = simulate(p, **kw)
    for col in ("power", "bias", "rmse"):
        np.testing.assert_allclose(shared.table[col], refit.table[col], atol=1e-8)


def _flaky_estimator(
    frame: pd.DataFrame, *, outcome: str, unit: str, time: str, cohort: str
) -> Any:
    treated = frame.loc[np.isfinite(frame[cohort]), unit].unique()
    if int(treated[0]) % 2 == 0:
        raise DataError(f"unit {treated[0]} refused")
    return impact.did(
        frame,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        method="2x2",
        inference="analytic",
    )


def test_failed_fits_are_counted_and_reported() -> None:
    res = simulate(
        _panel(20, 6, seed=3),
        treatment_time=2013,
        n_treated=1,
        effect=0.0,
        estimator=_flaky_estimator,
        n_sims=12,
        seed=4,
    )
    row = res.table.iloc[0]
    assert row["n_failed"] > 0 and row["n_sims"] + row["n_failed"] == 12
    assert any("fits failed" in w and "refused" in w for w in res.warnings)
