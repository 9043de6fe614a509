"""Unit, consistency and bad-input tests for impact.match."""

from __future__ import annotations

import json
import time
from itertools import permutations

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError, EstimationError, ImpactError, SpecError
from impact.matching import MatchResult, match
from impact.matching.inference import abadie_imbens
from impact.matching.nearest import greedy_scalar, optimal_pairs, processing_order


def _toy(
    n1: int = 40, n0: int = 160, seed: int = 0, effect: float = 2.0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n1 + n0
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    d = np.r_[np.ones(n1), np.zeros(n0)].astype(int)
    x1[d == 1] += 0.5
    y = 1.0 + x1 + 0.5 * x2 + effect * d + rng.normal(scale=0.5, size=n)
    return pd.DataFrame(
        {"d": d, "x1": x1, "x2": x2, "y": y, "g": rng.integers(0, 3, n)}
    )


KW = {"treatment": "d", "covariates": ["x1", "x2"], "outcome": "y"}


# ------------------------------------------------------------------ bad input
def test_treatment_not_binary() -> None:
    df = _toy().assign(d=lambda f: f["d"] * 2)
    with pytest.raises(DataError, match="must be 0/1"):
        match(df, **KW)


def test_treatment_all_one_group() -> None:
    df = _toy().assign(d=1)
    with pytest.raises(DataError, match="every row of 'd' is treated"):
        match(df, **KW)


def test_covariate_missing_values() -> None:
    df = _toy()
    df.loc[3, "x1"] = np.nan
    with pytest.raises(DataError, match="covariate 'x1' has 1 missing"):
        match(df, **KW)


def test_covariate_constant() -> None:
    df = _toy().assign(x2=5.0)
    with pytest.raises(DataError, match="covariate 'x2' is constant"):
        match(df, **KW)


def test_string_covariate_needs_categorical() -> None:
    df = _toy().assign(region=lambda f: np.where(f["g"] == 0, "north", "south"))
    with pytest.raises(SpecError, match=r"pass categorical=\['region'\]"):
        match(df, treatment="d", covariates=["x1", "region"], outcome="y")
    res = match(
        df, treatment="d", covariates=["x1", "region"], outcome="y",
        categorical=["region"],
    )  # fmt: skip
    assert "region_north" in set(res.balance()["covariate"])


def test_perfect_separation() -> None:
    df = _toy()
    df["sep"] = df["d"] * 10.0 + np.random.default_rng(1).normal(size=len(df))
    with pytest.raises(EstimationError, match="separation"):
        match(df, treatment="d", covariates=["x1", "sep"], outcome="y")


def test_no_controls_within_caliper() -> None:
    df = _toy()
    df["ps"] = np.where(df["d"] == 1, 0.9, 0.1)
    with pytest.raises(EstimationError, match="within the caliper"):
        match(df, **KW, distance="ps", caliper=0.01, std_caliper=False)


def test_bad_options() -> None:
    df = _toy()
    with pytest.raises(SpecError, match="The 'method' parameter of match"):
        match(df, **KW, method="genetic")
    with pytest.raises(SpecError, match="The 'estimand' parameter"):
        match(df, **KW, estimand="ATE")
    with pytest.raises(SpecError, match="'distance' parameter"):
        match(df, **KW, distance="nope")
    with pytest.raises(SpecError, match="replace=True is only available"):
        match(df, **KW, method="optimal", replace=True)
    with pytest.raises(SpecError, match="'caliper' must be a positive"):
        match(df, **KW, caliper=-1.0)
    with pytest.raises(DataError, match="outcome column 'zz'"):
        match(df, treatment="d", covariates=["x1"], outcome="zz")
    with pytest.raises(DataError, match="covariate column 'x9'"):
        match(df, treatment="d", covariates=["x9"], outcome="y")
    with pytest.raises(SpecError, match="needs the 'exact' columns"):
        match(df, **KW, method="exact")


def test_errors_are_impact_errors() -> None:
    assert issubclass(DataError, ImpactError) and issubclass(ImpactError, ValueError)


# ---------------------------------------------------------- algorithm checks
def test_tie_rule_left_wins_when_not_farther() -> None:
    # sorted order: c0 (0.4), t (0.5), c1 (0.6): equal distance, equal steps -> left
    dist = np.array([0.5, 0.4, 0.6])
    focal = np.array([True, False, False])
    order = processing_order(dist, np.array([0]), "largest", None)
    pairs = greedy_scalar(dist, focal, np.ones(3, bool), order)
    assert pairs.match.tolist() == [1]
    # an extra treated unit between t and the left control makes the left one
    # farther in array steps (2 vs 1): the right control wins the tie
    dist = np.array([0.5, 0.4, 0.6, 0.45])
    focal = np.array([True, False, False, True])
    order = np.array([0, 3])
    pairs = greedy_scalar(dist, focal, np.ones(4, bool), order, replace=True)
    got = dict(zip(pairs.focal.tolist(), pairs.match.tolist(), strict=True))
    assert got[0] == 2


def _brute_greedy(dist, focal, order, replace, caliper):
    alive = ~focal.copy()
    out = {}
    for t in order:
        cand = np.flatnonzero(alive)
        dd = np.abs(dist[cand] - dist[t])
        if caliper is not None:
            cand, dd = cand[dd <= caliper], dd[dd <= caliper]
        if len(cand) == 0:
            continue
        c = cand[np.argmin(dd)]
        out[t] = c
        if not replace:
            alive[c] = False
    return out


@pytest.mark.parametrize("replace", [False, True])
@pytest.mark.parametrize("caliper", [None, 0.05])
def test_greedy_equals_brute_force(replace: bool, caliper: float | None) -> None:
    rng = np.random.default_rng(3)
    n = 300
    dist = rng.uniform(size=n)  # continuous: no ties
    focal = rng.uniform(size=n) < 0.3
    order = processing_order(dist, np.flatnonzero(focal), "largest", None)
    pairs = greedy_scalar(
        dist, focal, np.ones(n, bool), order, replace=replace, caliper=caliper
    )
    got = dict(zip(pairs.focal.tolist(), pairs.match.tolist(), strict=True))
    assert got == _brute_greedy(dist, focal, order, replace, caliper)


def test_ratio_with_replacement_takes_k_nearest() -> None:
    rng = np.random.default_rng(4)
    n = 200
    dist = rng.uniform(size=n)
    focal = rng.uniform(size=n) < 0.2
    order = np.flatnonzero(focal)
    pairs = greedy_scalar(dist, focal, np.ones(n, bool), order, replace=True, ratio=3)
    ctrl = np.flatnonzero(~focal)
    for t in order:
        expect = ctrl[np.argsort(np.abs(dist[ctrl] - dist[t]))[:3]]
        assert sorted(pairs.match[pairs.focal == t].tolist()) == sorted(expect.tolist())
    assert np.allclose(pairs.weight, 1 / 3)


def test_ratio_without_replacement_uses_each_control_once() -> None:
    df = _toy(n1=30, n0=200)
    res = match(df, **KW, ratio=3)
    m = res.matched
    assert m["match"].is_unique
    assert (m.groupby("focal").size() == 3).all()
    assert res.n_control == 90


def test_optimal_minimises_total_distance() -> None:
    rng = np.random.default_rng(5)
    t = rng.uniform(size=5)
    c = rng.uniform(size=7)
    cost = np.abs(t[:, None] - c[None, :])
    pairs = optimal_pairs(cost, np.arange(5), np.arange(5, 12))
    total = cost[pairs.focal, pairs.match - 5].sum()
    best = min(cost[np.arange(5), list(p)].sum() for p in permutations(range(7), 5))
    assert total == pytest.approx(best, abs=1e-12)
    # never worse than greedy on the same problem
    dist = np.r_[t, c]
    focal = np.r_[np.ones(5, bool), np.zeros(7, bool)]
    g = greedy_scalar(dist, focal, np.ones(12, bool), processing_order(
        dist, np.arange(5), "largest", None))  # fmt: skip
    assert total <= np.abs(dist[g.focal] - dist[g.match]).sum() + 1e-12


def _logit_ps(df: pd.DataFrame, covs: tuple[str, ...] = ("x1", "x2")) -> np.ndarray:
    """Propensity score from statsmodels' Logit (independent of impact)."""
    import statsmodels.api as sm

    X = sm.add_constant(df[list(covs)].astype(float))
    return np.asarray(sm.Logit(df["d"], X).fit(disp=0, tol=1e-12).predict(X))


def _largest_first(ps: np.ndarray, d: np.ndarray) -> np.ndarray:
    return np.flatnonzero(d)[np.argsort(-ps[d], kind="stable")]


def test_caliper_respected_and_warned() -> None:
    # Reference: statsmodels logit score, caliper 0.05 SD (ddof=1, MatchIt's
    # std.caliper), the greedy loop above in MatchIt's "largest" order. Continuous
    # scores: no ties, so the matched pairs and the estimate are exact (1e-12).
    df = _toy(n1=60, n0=80, seed=2)
    res = match(df, **KW, caliper=0.05)
    ps, d, y = _logit_ps(df), df["d"].to_numpy(bool), df["y"].to_numpy()
    cal = 0.05 * np.std(ps, ddof=1)
    assert res.caliper == pytest.approx(cal, rel=1e-9)
    ref = _brute_greedy(ps, d, _largest_first(ps, d), False, cal)
    got = dict(zip(res.matched["focal"], res.matched["match"], strict=True))
    assert got == ref
    assert res.n_matched == len(ref) == 36
    assert res.estimate == pytest.approx(
        np.mean([y[t] - y[c] for t, c in ref.items()]), rel=1e-12
    )
    assert (res.matched["distance"] <= res.caliper + 1e-15).all()
    assert any(
        "24 of 60 treated units were left unmatched by the caliper" in w
        for w in res.warnings
    )


def test_overlap_weights_balance_model_covariates_exactly() -> None:
    """Overlap weights with a logit score balance the model's covariate means exactly
    (Li, Morgan and Zaslavsky 2018, Theorem 3): a property, not a tolerance game."""
    df = _toy()
    res = match(df, **KW, method="overlap")
    tab = res.balance().set_index("covariate")
    assert np.abs(tab.loc[["x1", "x2"], "smd_after"]).max() < 1e-8


def test_ipw_matches_hand_formula() -> None:
    df = _toy()
    res = match(df, **KW, method="ipw", estimand="ATE")
    e = res.propensity.to_numpy()
    d = df["d"].to_numpy(bool)
    y = df["y"].to_numpy()
    w1, w0 = 1 / e[d], 1 / (1 - e[~d])
    hand = np.sum(w1 * y[d]) / w1.sum() - np.sum(w0 * y[~d]) / w0.sum()
    assert res.estimate == pytest.approx(hand, rel=1e-12)
    # trimming (Crump et al. 2009): only units with 0.1 <= e <= 0.9 enter; ATT
    # weights 1 (treated) and e / (1 - e) (controls), score from statsmodels
    res_t = match(df, **KW, method="ipw", trim=0.1)
    e = _logit_ps(df)
    keep = (e >= 0.1) & (e <= 0.9)
    assert 0 < (~keep & d).sum() and 0 < (~keep & ~d).sum()  # both arms trimmed
    t, c = keep & d, keep & ~d
    w0 = e[c] / (1 - e[c])
    hand_t = y[t].mean() - np.sum(w0 * y[c]) / w0.sum()
    assert res_t.estimate == pytest.approx(hand_t, rel=1e-9)
    assert any(
        f"Trimming at 0.1 dropped {(~keep & d).sum()} treated and "
        f"{(~keep & ~d).sum()} comparison units" in w
        for w in res_t.warnings
    )


def test_exact_matching_cells() -> None:
    df = _toy()
    res = match(df, **KW, method="exact", exact=["g"], estimand="ATE")
    # within each cell the weighted treated share equals the weighted control share
    w = res.weights
    tot = df.assign(w=w).groupby(["g", "d"])["w"].sum().unstack()
    assert np.allclose(tot[0] / tot[0].sum(), tot[1] / tot[1].sum())


def test_regression_adjustment_recovers_linear_effect() -> None:
    df = _toy()
    df["y"] = 3 * df["x1"] - 2 * df["x2"] + 1.5 * df["d"]  # no noise
    res = match(df, **KW, adjust=True)
    assert res.estimate == pytest.approx(1.5, abs=1e-9)


def test_mahalanobis_within_caliper() -> None:
    # Reference: a loop over treated units in decreasing logit score (statsmodels),
    # each taking the alive control with the smallest Mahalanobis distance on x1, x2
    # (pooled within-group covariance, divisor n - 2, as MatchIt) among those within
    # 0.25 SD of the score. Continuous data: the pairs must agree exactly.
    df = _toy()
    res = match(df, **KW, mahvars=["x1", "x2"], caliper=0.25)
    ps, d = _logit_ps(df), df["d"].to_numpy(bool)
    X = df[["x1", "x2"]].to_numpy(float)
    C = X.copy()
    for g in (True, False):
        C[d == g] -= X[d == g].mean(axis=0)
    S_inv = np.linalg.inv(C.T @ C / (len(X) - 2))
    cal = 0.25 * np.std(ps, ddof=1)
    alive, ref = ~d, {}
    for t in _largest_first(ps, d):
        cand = np.flatnonzero(alive & (np.abs(ps - ps[t]) <= cal))
        if len(cand):
            diff = X[cand] - X[t]
            c = int(cand[np.argmin(np.einsum("ij,jk,ik->i", diff, S_inv, diff))])
            ref[int(t)] = c
            alive[c] = False
    assert res.caliper == pytest.approx(cal, rel=1e-9)
    got = dict(zip(res.matched["focal"], res.matched["match"], strict=True))
    assert got == ref and res.n_matched == 38
    assert (res.matched["distance"] <= res.caliper + 1e-12).all()


def test_abadie_imbens_reduces_without_reuse() -> None:
    y = np.array([5.0, 3.0, 1.0, 0.0, 2.0, 4.0])
    focal = np.array([0, 1, 2])
    match_ = np.array([3, 4, 5])
    est, se = abadie_imbens(y, focal, match_, np.ones(3))
    tau = y[:3] - y[3:]
    assert est == pytest.approx(tau.mean())
    assert se == pytest.approx(np.sqrt(np.sum((tau - tau.mean()) ** 2)) / 3)


def test_atc_and_estimand_label() -> None:
    df = _toy()
    res = match(df, **KW, estimand="ATC")
    assert res.label == "ATC"
    assert res.n_matched == 40  # 40 treated can serve only 40 of 160 controls
    assert any("120 of 160 comparison units" in w for w in res.warnings)
    res = match(df, **KW, estimand="ATC", replace=True)
    assert res.n_matched == (df["d"] == 0).sum()


# ---------------------------------------------------------------- protocol
def test_result_protocol_and_json() -> None:
    df = _toy()
    res = match(df, **KW)
    assert isinstance(res, MatchResult)
    out = res.to_dict()
    for key in ("estimate", "se", "ci", "pvalue", "n_treated", "n_control", "warnings"):
        assert key in out
    assert out["n_matched"] == 40
    assert "x1" in out["balance"] and "smd_after" in out["balance"]["x1"]
    json.dumps(out)
    assert "Max |SMD| after" in res.summary()
    assert "<pre" in res._repr_html_()
    frame = res.to_frame()
    assert frame.loc[0, "estimate"] == res.estimate


def test_input_not_mutated_and_row_order_invariant() -> None:
    df = _toy()
    before = df.copy()
    res = match(df, **KW, caliper=0.2)
    pd.testing.assert_frame_equal(df, before)
    shuffled = df.sample(frac=1.0, random_state=1)
    res2 = match(shuffled, **KW, caliper=0.2)
    assert res2.estimate == pytest.approx(res.estimate, rel=1e-10)


def test_no_outcome_gives_balance_only() -> None:
    res = match(_toy(), treatment="d", covariates=["x1", "x2"])
    assert np.isnan(res.estimate)
    assert any("No outcome given" in w for w in res.warnings)


def test_plots(tmp_path) -> None:
    res = match(_toy(), **KW)
    ax = res.plot()
    assert ax.get_xlabel().startswith("Absolute standardised")
    ax.figure.savefig(tmp_path / "love.png")
    ax2 = res.plot(kind="overlap")
    assert ax2.get_title() == "Propensity score overlap"
    with pytest.raises(SpecError, match="'kind' parameter"):
        res.plot(kind="pie")


def test_bootstrap_reproducible() -> None:
    df = _toy()
    a = match(df, **KW, se="bootstrap", n_boot=12, seed=11)
    b = match(df, **KW, se="bootstrap", n_boot=12, seed=11)
    assert a.se == b.se
    assert a.se_method.startswith("bootstrap (12 replications")


def test_bootstrap_se_matches_brute_force_loop() -> None:
    # Reference: a bootstrap written here (units resampled within treatment groups,
    # the whole match re-run, SD with ddof=1) on its own seed. Both are 300-draw MC
    # estimates of the same bootstrap SD; the relative SE of an SD from B draws is
    # about 1/sqrt(2(B-1)), so their ratio has SD ~ 1/sqrt(B-1) = 5.8%. Tolerance 25%
    # (> 4 MC SDs) still catches a variance-for-SD, ddof-free-sqrt(n) or wrong-group bug.
    df = _toy()
    res = match(df, **KW, se="bootstrap", n_boot=300, seed=11)
    rng = np.random.default_rng(2024)
    i1 = np.flatnonzero(df["d"] == 1)
    i0 = np.flatnonzero(df["d"] == 0)
    est = []
    for _ in range(300):
        idx = np.r_[rng.choice(i1, len(i1)), rng.choice(i0, len(i0))]
        est.append(match(df.iloc[idx].reset_index(drop=True), **KW).estimate)
    ref = float(np.std(est, ddof=1))
    assert res.se == pytest.approx(ref, rel=0.25)


@pytest.mark.slow
def test_bootstrap_independent_of_n_jobs() -> None:
    df = _toy()
    a = match(df, **KW, se="bootstrap", n_boot=12, seed=11)
    c = match(df, **KW, se="bootstrap", n_boot=12, seed=11, n_jobs=2)
    assert a.se == pytest.approx(c.se, rel=1e-12)


def test_random_order_seeded() -> None:
    df = _toy()
    a = match(df, **KW, m_order="random", seed=3, caliper=0.1)
    b = match(df, **KW, m_order="random", seed=3, caliper=0.1)
    assert a.estimate == b.estimate


def _speed_data(n1: int, n0: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ps = np.r_[rng.beta(3, 5, n1), rng.beta(2, 6, n0)]
    return pd.DataFrame({
        "d": np.r_[np.ones(n1), np.zeros(n0)].astype(int),
        "ps": ps, "x": rng.normal(size=n1 + n0),
        "y": rng.normal(size=n1 + n0),
    })  # fmt: skip


def test_speed_reduced() -> None:
    df = _speed_data(2_000, 20_000)
    t0 = time.perf_counter()
    res = match(df, treatment="d", covariates=["x"], outcome="y", distance="ps",
                caliper=0.05, replace=True, se="hc3")  # fmt: skip
    assert time.perf_counter() - t0 < 5.0
    # brute force: with replacement each treated unit takes its nearest control on the
    # score (continuous draws: no ties) if within 0.05 SD of the score over all units
    # (MatchIt's std.caliper, ddof 1); ATT = mean over the matched treated of the
    # outcome difference
    ps, d, y = (df[c].to_numpy() for c in ("ps", "d", "y"))
    order = np.argsort(ps[d == 0])
    c_ps, c_y = ps[d == 0][order], y[d == 0][order]
    t_ps, t_y = ps[d == 1], y[d == 1]
    k = np.searchsorted(c_ps, t_ps)
    left, right = np.clip(k - 1, 0, len(c_ps) - 1), np.clip(k, 0, len(c_ps) - 1)
    near = np.where(
        np.abs(t_ps - c_ps[left]) <= np.abs(c_ps[right] - t_ps), left, right
    )
    ok = np.abs(t_ps - c_ps[near]) <= 0.05 * np.std(ps, ddof=1)
    assert res.n_matched == ok.sum() > 1_900
    assert res.estimate == pytest.approx(np.mean(t_y[ok] - c_y[near[ok]]), rel=1e-10)


@pytest.mark.slow
def test_speed_full() -> None:
    """10,000 treated vs 100,000 controls, caliper + replacement, in seconds."""
    df = _speed_data(10_000, 100_000)
    t0 = time.perf_counter()
    res = match(df, treatment="d", covariates=["x"], outcome="y", distance="ps",
                caliper=0.05, replace=True, se="hc3")  # fmt: skip
    assert time.perf_counter() - t0 < 10.0
    assert res.n_matched > 9_900


def test_discard_both_drops_outside_common_support() -> None:
    # Reference: statsmodels logit score; units outside [max of the two minima, min
    # of the two maxima] dropped; the greedy loop (largest first, no replacement) on
    # the rest. No ties: pairs and estimate exact.
    df = _toy(seed=8)
    res = match(df, **KW, discard="both")
    ps, d, y = _logit_ps(df), df["d"].to_numpy(bool), df["y"].to_numpy()
    lo = max(ps[d].min(), ps[~d].min())
    hi = min(ps[d].max(), ps[~d].max())
    inside = (ps >= lo) & (ps <= hi)
    order = _largest_first(ps, d & inside)
    ref = _brute_greedy(ps, d | ~inside, order, False, None)  # outside: not controls
    got = dict(zip(res.matched["focal"], res.matched["match"], strict=True))
    assert got == ref
    assert res.n_matched == int((d & inside).sum()) == len(ref)
    assert res.estimate == pytest.approx(
        np.mean([y[t] - y[c] for t, c in ref.items()]), rel=1e-12
    )
    used = res.weights.to_numpy() > 0
    assert np.all((ps[used] >= lo) & (ps[used] <= hi))


def test_exact_constraint_within_nearest() -> None:
    # Reference: the greedy loop (largest score first, no replacement) restricted to
    # controls of the treated unit's own g.
    df = _toy(n1=30, n0=300)
    res = match(df, **KW, exact="g")
    ps, d, y = _logit_ps(df), df["d"].to_numpy(bool), df["y"].to_numpy()
    g = df["g"].to_numpy()
    alive, ref = ~d, {}
    for t in _largest_first(ps, d):
        cand = np.flatnonzero(alive & (g == g[t]))
        c = int(cand[np.argmin(np.abs(ps[cand] - ps[t]))])
        ref[int(t)] = c
        alive[c] = False
    got = dict(zip(res.matched["focal"], res.matched["match"], strict=True))
    assert got == ref
    assert res.estimate == pytest.approx(
        np.mean([y[t] - y[c] for t, c in ref.items()]), rel=1e-12
    )


def test_ties_all_weights_equal_controls() -> None:
    dist = np.array([0.5, 0.4, 0.6, 0.4])  # unit 0 has three controls; 1 and 3 tie
    focal = np.array([True, False, False, False])
    pairs = greedy_scalar(
        dist, focal, np.ones(4, bool), np.array([0]), replace=True, ties="all"
    )
    assert sorted(pairs.match.tolist()) == [1, 2, 3]
    assert np.allclose(pairs.weight, 1 / 3)


def test_within_arm_variance_by_hand() -> None:
    from impact.matching.inference import within_arm_variance

    y = np.array([1.0, 2.0, 4.0, 10.0, 0.0, 3.0])
    d = np.array([True, True, True, False, False, False])
    z = np.array([[0.0], [1.0], [3.0], [0.0], [1.0], [5.0]])
    v = within_arm_variance(y, d, z, 1)
    # nearest same-arm neighbours: 0<->1, 1->0 (tie with 2? no: |1-0|=1 < |1-3|=2),
    # 2->1; controls 3<->4, 5->4
    expect = 0.5 * np.array([1.0, 1.0, 4.0, 100.0, 100.0, 9.0])
    assert np.allclose(v, expect)


def test_ai_heteroskedastic_option() -> None:
    df = _toy()
    res = match(df, **KW, replace=True, se="ai", ai_var_calc=2)
    assert "heteroskedastic" in res.se_method
    with pytest.raises(SpecError, match="'ai_var_calc' parameter"):
        match(df, **KW, replace=True, se="ai", ai_var_calc=-1)


def test_ai_heteroskedastic_se_by_hand() -> None:
    # Abadie and Imbens (2006), ATT with M=1 and replacement:
    #   V = [sum_treated (tau_i - tau)^2 + sum_controls K_j (K_j - 1) sigma^2(X_j)] / N1^2
    # with sigma^2(X_j) = J/(J+1) (Y_j - Y of its nearest same-arm unit)^2, J=1
    # (their section 4). One covariate, so Mahalanobis matching is nearest-|x|.
    df = pd.DataFrame(
        {
            "d": [1, 1, 1, 0, 0, 0, 0],
            "x": [0.0, 0.3, 5.0, 0.1, 1.9, 6.0, 10.0],
            "y": [1.0, 2.0, 7.0, 0.5, 1.0, 4.0, 9.0],
        }
    )
    # matches: x=0 -> 0.1, x=0.3 -> 0.1 (0.2 < 1.6), x=5 -> 6 (1 < 5)
    tau_i = np.array([1.0 - 0.5, 2.0 - 0.5, 7.0 - 4.0])
    tau = tau_i.mean()
    # within-control neighbours: 0.1 -> 1.9 (y 1.0); 6 -> 10 (4 < 4.1, y 9.0)
    sig2 = {"c0.1": 0.5 * (0.5 - 1.0) ** 2, "c6": 0.5 * (4.0 - 9.0) ** 2}
    k = {"c0.1": 2, "c6": 1}
    var = (np.sum((tau_i - tau) ** 2) + sum(k[j] * (k[j] - 1) * sig2[j] for j in k)) / 9
    res = match(
        df,
        treatment="d",
        covariates=["x"],
        outcome="y",
        distance="mahalanobis",
        replace=True,
        se="ai",
        ai_var_calc=1,
    )
    assert res.estimate == pytest.approx(tau, abs=1e-12)
    assert res.se == pytest.approx(np.sqrt(var), rel=1e-12)


# ------------------------------------------------------------ few treated units
@pytest.mark.parametrize("se", ["cluster", "hc3", "robust"])
def test_few_treated_units_warn(se: str) -> None:
    # 4 treated areas: CR1/HC standard errors over-reject; the result says so
    res = match(_toy(n1=4, n0=60, seed=1), **KW, se=se)
    msg = [w for w in res.warnings if "Only 4 treated units carry weight" in w]
    assert len(msg) == 1
    assert "fewer than 20 treated units" in msg[0]
    assert "impact.matched_did()" in msg[0]


def test_many_treated_units_no_few_warning() -> None:
    res = match(_toy(n1=40, n0=160), **KW)
    assert not any("carry weight" in w for w in res.warnings)


# ------------------------------------------------------- validation rules (issue 15)
# Each rule is deleted by a mutation in tools/mutations/; without it the call
# would run and return a number for an input it cannot handle.
@pytest.mark.parametrize(
    ("change", "kwargs", "error", "message"),
    [
        ("ps", {"distance": "ps"}, DataError, "strictly between 0 and 1"),
        (None, {"ties": "all"}, SpecError, "ties='all' needs replace=True"),
        (None, {"method": "ipw", "trim": 0.6}, SpecError, r"'trim' must be in"),
        ("y", {}, DataError, "outcome 'y' is missing or non-numeric"),
        (None, {"method": "optimal", "se": "ai"}, SpecError, "applies to method"),
        (None, {"replace": True, "se": "ai", "adjust": True}, SpecError, "adjustment"),
        ("inf", {}, DataError, "covariate 'x1' has infinite values"),
        ("big", {}, DataError, "squares overflow"),
        (
            "g1",
            {"covariates": ["x1", "g"], "categorical": ["g"]},
            DataError,
            "categorical covariate 'g' has a single level",
        ),
        (None, {"covariates": ["x1", "x1"]}, SpecError, "lists a column twice"),
        (None, {"categorical": ["g"]}, SpecError, "'g' is not among 'covariates'"),
        ("d", {}, DataError, "treatment column 'd' has missing values"),
        (
            None,
            {"method": "optimal", "ratio": 5},
            SpecError,
            "at least ratio x treated",
        ),
    ],
)
def test_validation_rules_refuse(
    change: str | None, kwargs: dict, error: type, message: str
) -> None:
    df = _toy()
    if change == "ps":
        df["ps"] = np.linspace(0.0, 0.9, len(df))  # a score of exactly 0
    elif change == "y":
        df.loc[3, "y"] = np.nan
    elif change == "inf":
        df.loc[3, "x1"] = np.inf
    elif change == "big":
        df.loc[3, "x1"] = 1e200
    elif change == "g1":
        df["g"] = 1
    elif change == "d":
        df["d"] = df["d"].astype(float)
        df.loc[3, "d"] = np.nan
    with pytest.raises(error, match=message):
        match(df, **{**KW, **kwargs})
