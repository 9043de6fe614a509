"""Inference options, placebo-in-time, sensitivity hook and figures."""

from __future__ import annotations

import json
import sys
import types

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from scipy import stats

import impact
from impact.panel import Panel
from tests.contract.test_contract_reference import MPDTA_ATT_GT as R_DID_ATT_GT
from tests.did import perm_reference as pr

KW = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}
CASTLE = {"outcome": "l_homicide", "unit": "sid", "time": "year", "cohort": "effyear"}


@pytest.fixture(scope="module")
def mpdta(reference_data):
    return pd.read_csv(reference_data / "mpdta.csv")


@pytest.fixture(scope="module")
def castle(reference_data):
    return pd.read_csv(reference_data / "castle.csv")


def _few_treated_panel(seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    n, t = 40, 8
    cohort = np.full(n, np.inf)
    cohort[:3] = 5
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(1, t)) + rng.normal(size=(n, t))
    Y[:3, 5:] += 1.0
    return Panel.from_arrays(Y, cohort)


def test_multiplier_bootstrap(mpdta):
    a = impact.did(mpdta, **KW)
    b = impact.did(mpdta, inference="bootstrap", seed=11, **KW)
    c = impact.did(mpdta, inference="bootstrap", seed=11, **KW)
    assert b.estimate == a.estimate
    assert b.se == c.se  # seeded: reproducible
    assert b.inference == "multiplier bootstrap"
    # 999 draws: the IQR-based SE has a Monte Carlo error of ~4%; allow 15% (~4 sd)
    assert b.se == pytest.approx(a.se, rel=0.15)
    att = b.att_gt
    assert (att["band_high"] - att["band_low"] >= att["ci_high"] - att["ci_low"]).all()
    dyn = b.aggregate("dynamic").to_frame()
    assert {"band_low", "band_high"} <= set(dyn.columns)
    assert b.aggregate("simple").se == pytest.approx(b.se, abs=1e-15)
    json.dumps(b.to_dict())
    analytic_dyn = a.aggregate("dynamic").to_frame()
    np.testing.assert_allclose(dyn["std_error"], analytic_dyn["std_error"], rtol=0.15)


def test_wild_bootstrap_castle_twfe(castle):
    # wildboottest 0.3.2 via pyfixest (WCR, Rademacher, 9,999 draws): p = 0.1728
    # (research/did.md 4.4). 999 draws: MC sd of p ~0.012; tolerance 0.04.
    res = impact.did(
        castle, method="twfe", inference="wild", n_boot=999, seed=5, **CASTLE
    )
    assert res.inference == "wild"
    assert res.estimate == pytest.approx(0.0818116169306475, abs=1e-12)
    assert res.pvalue == pytest.approx(0.1728, abs=0.04)
    assert res.ci[0] < res.estimate < res.ci[1]


def test_permutation_and_auto():
    panel = _few_treated_panel()
    analytic = impact.did(panel, method="twfe", inference="analytic")
    assert any("3 treated units" in w for w in analytic.warnings)
    auto = impact.did(panel, method="twfe", inference="auto", seed=1, n_boot=199)
    assert auto.inference == "permutation"
    perm = impact.did(panel, method="cs", inference="permutation", seed=1, n_boot=199)
    assert perm.inference == "permutation"
    # Brute force (tests/did/perm_reference.py): the same 199 seeded re-assignments
    # plus the observed one, the unit-noise studentized statistic written out from
    # impact.inference.studentized's docstring, p = (1 + #{|t*| >= |t|}) / 200.
    # Same draws on both sides, so equal to rounding (1e-12).
    C = pr.sampled_assignments(panel.cohort, 199, seed=1)
    t_cs = pr.studentized_stats(panel.Y, C, pr.cs_one_cohort_weights, first=5)
    t_tw = pr.studentized_stats(panel.Y, C, pr.twfe_weights, first=5)
    assert perm.inference_details["t_stat"] == pytest.approx(t_cs[0], rel=1e-10)
    assert perm.pvalue == pytest.approx(pr.sampled_pvalue(t_cs), abs=1e-12)
    assert auto.pvalue == pytest.approx(pr.sampled_pvalue(t_tw), abs=1e-12)
    assert perm.pvalue == pytest.approx(41 / 200, abs=1e-12)  # the value, stated
    # the displayed SE of a permutation interval is its half-width over z_{0.975}
    lo, hi = perm.ci
    assert perm.se == pytest.approx((hi - lo) / (2 * 1.959963984540054), rel=1e-12)
    assert (
        perm.estimate == impact.did(panel, method="cs", inference="analytic").estimate
    )
    default = impact.did(panel, method="cs", seed=3, n_boot=99)  # inference="auto"
    assert default.inference == "permutation"
    ev = impact.did(panel, method="event_study", inference="wild", seed=2, n_boot=99)
    assert ev.inference == "wild"


def _wcr_by_hand(Y, cohort, seed, n_boot):
    """Restricted wild cluster bootstrap of the event-study headline, written out.

    Brute force (Roodman et al. 2019, Stata Journal 19(1), WCR with Webb weights):
    the event study is OLS of y on event-time dummies (-5..-2, 0..2; -1 omitted),
    unit and period dummies; the headline is the mean of the post coefficients, so
    ``theta = a'y`` with ``a`` the mean of those rows of pinv(X). Null model: y on unit
    and period dummies with ``theta0 * Dn`` imposed (``Dn = D / a'D``, D the treated
    cells); unrestricted model adds ``Dn``. Each draw rebuilds
    ``y* = fit0 + u0 * v_unit``, refits the unrestricted model by projection and
    studentizes with CRV1 (G / (G - 1)); p = share of draws with |t*| >= |t|. Webb
    six-point weights because 3 treated clusters < 20; draws are
    ``support[default_rng(seed).integers(0, 6, size=(G, B))]`` (impact's documented
    stream; G = 40 units as clusters, 6^40 > B so no enumeration).
    """
    n, t = Y.shape
    g = int(np.min(cohort[np.isfinite(cohort)]))
    unit, per = np.repeat(np.arange(n), t), np.tile(np.arange(t), n)
    y = Y.ravel()
    fe = np.column_stack([np.eye(n)[unit], np.eye(t)[per][:, 1:]])
    treated = np.isfinite(cohort)[unit]
    e = per - g
    times = [k for k in range(-g, t - g) if k != -1]
    dummies = np.column_stack([(treated & (e == k)).astype(float) for k in times])
    rows = np.linalg.pinv(np.column_stack([dummies, fe]))[: len(times)]
    a = rows[[i for i, k in enumerate(times) if k >= 0]].mean(axis=0)
    theta = float(a @ y)
    D = (treated & (e >= 0)).astype(float)
    Dn = D / (a @ D)

    def annihilator(Z):
        return np.eye(len(Z)) - Z @ np.linalg.pinv(Z)

    M0, M1 = annihilator(fe), annihilator(np.column_stack([fe, Dn]))

    def crv1(ystar):
        s = np.bincount(unit, weights=a * (M1 @ ystar), minlength=n)
        return float(np.sqrt(n / (n - 1) * (s**2).sum()))

    r = np.sqrt([0.5, 1.0, 1.5])
    webb = np.concatenate([-r[::-1], r])
    V = webb[np.random.default_rng(seed).integers(0, 6, size=(n, n_boot))]

    def pvalue(theta0):
        u0 = M0 @ (y - theta0 * Dn)
        fit0 = y - u0
        t_obs = (theta - theta0) / crv1(y)
        t_star = []
        for b in range(n_boot):
            ystar = fit0 + u0 * V[unit, b]
            t_star.append((a @ ystar - a @ fit0) / crv1(ystar))
        return float(np.mean(np.abs(t_star) >= abs(t_obs)))

    return theta, pvalue


def test_wild_event_study_matches_bruteforce_wcr():
    panel = _few_treated_panel()
    ev = impact.did(panel, method="event_study", inference="wild", seed=2, n_boot=99)
    theta, pvalue = _wcr_by_hand(panel.Y, panel.cohort, seed=2, n_boot=99)
    assert ev.estimate == pytest.approx(theta, abs=1e-10)
    # p is k/99 with both sides on the same draws: equal to rounding
    assert ev.pvalue == pytest.approx(pvalue(0.0), abs=1e-12)
    assert ev.pvalue == pytest.approx(29 / 99, abs=1e-12)  # the value, stated
    # the interval inverts the test: p <= 0.05 just outside each end, > 0.05 inside
    lo, hi = ev.ci
    assert ev.se == pytest.approx((hi - lo) / (2 * 1.959963984540054), rel=1e-12)
    eps = 1e-6 * (hi - lo)
    assert pvalue(lo - eps) <= 0.05 < pvalue(lo + eps)
    assert pvalue(hi + eps) <= 0.05 < pvalue(hi - eps)


@pytest.mark.parametrize("method", ["cs", "twfe"])
def test_permutation_pvalue_exact_enumeration(method):
    # 8 units, 2 treated (one cohort): C(8, 2) = 28 assignments, all enumerated.
    # Brute force: with an effect of +20 (noise sd ~1.7) the observed assignment has
    # the largest |t| of the 28, so the exact p is 1/28; with no effect p is still a
    # multiple of 1/28 (exact enumeration, no Monte Carlo).
    import itertools

    n_assign = len(list(itertools.combinations(range(8), 2)))
    rng = np.random.default_rng(4)
    cohort = np.full(8, np.inf)
    cohort[:2] = 5
    Y = rng.normal(size=(8, 1)) + rng.normal(size=(1, 8)) + rng.normal(size=(8, 8))
    big = Y.copy()
    big[:2, 5:] += 20.0
    res = impact.did(
        Panel.from_arrays(big, cohort), method=method, inference="permutation"
    )
    assert res.pvalue == pytest.approx(1 / n_assign, abs=1e-12)
    null = impact.did(
        Panel.from_arrays(Y, cohort), method=method, inference="permutation"
    )
    k = null.pvalue * n_assign
    assert k == pytest.approx(round(k), abs=1e-9) and 1 <= round(k) <= n_assign


def _cs_placebo_by_hand(mpdta: pd.DataFrame) -> tuple[float, float, np.ndarray]:
    """CS placebo (k=1) on mpdta written out: estimate, SE and the ATT(g,t) rows.

    Brute force, following R did 2.5's unconditional estimator and its "simple"
    aggregation (Callaway and Sant'Anna 2021): each cohort is moved one year early and
    only cells whose two years precede its real adoption are kept, i.e. the 2006
    cohort (fake 2005) gives 2005 vs 2004 (post) and 2004 vs 2003 (pre), the 2007
    cohort (fake 2006) gives 2006 vs 2005 (post), 2004 vs 2003 and 2005 vs 2004 (pre);
    the 2004 cohort (fake 2003) has no base year and drops out. Comparisons: never
    treated. Each cell is a difference of mean changes with influence function
    n [1{G=g} (dY - mean_g) / n_g - 1{never} (dY - mean_never) / n_never]; the
    aggregate weights post cells by cohort share (over all n counties) and adds the
    estimated-weights term ("wif") of R did's aggte. SE = sqrt(sum IF^2) / n.
    """
    wide = mpdta.pivot(index="countyreal", columns="year", values="lemp")
    first = mpdta.groupby("countyreal")["first.treat"].first().reindex(wide.index)
    G = first.to_numpy()
    n = len(G)
    never = G == 0

    def cell(g: int, t: int, b: int) -> tuple[float, np.ndarray]:
        dy = (wide[t] - wide[b]).to_numpy()
        tr = G == g
        inf = n * (
            tr * (dy - dy[tr].mean()) / tr.sum()
            - never * (dy - dy[never].mean()) / never.sum()
        )
        return float(dy[tr].mean() - dy[never].mean()), inf

    # rows in the result's order: (fake group, time) = (2005, 2004), (2005, 2005),
    # (2006, 2004), (2006, 2005), (2006, 2006); real cohort = fake + 1
    spec = [(2006, 2004, 2003), (2006, 2005, 2004), (2007, 2004, 2003)]
    spec += [(2007, 2005, 2004), (2007, 2006, 2005)]
    rows = np.array([cell(*c)[0] for c in spec])
    post = [(2006, 2005, 2004), (2007, 2006, 2005)]
    att = np.array([cell(*c)[0] for c in post])
    inf = np.column_stack([cell(*c)[1] for c in post])
    member = np.column_stack([G == g for g, _, _ in post]).astype(float)
    pg = member.mean(axis=0)
    w = pg / pg.sum()
    wif = (member - pg) / pg.sum() - np.outer(
        (member - pg).sum(axis=1), pg / pg.sum() ** 2
    )
    agg = inf @ w + wif @ att
    return float(w @ att), float(np.sqrt((agg**2).sum()) / n), rows


def test_placebo_in_time(mpdta, castle):
    res = impact.did(mpdta, **KW)
    plc = res.placebo_in_time(1)
    assert plc.warnings[0].startswith("Placebo: adoption moved 1 period")
    # pre-period data only: every kept cell lies before the true adoption
    assert (plc.att_gt["time"] < plc.att_gt["group"] + 1).all()
    est, se, rows = _cs_placebo_by_hand(mpdta)
    np.testing.assert_allclose(plc.att_gt["att"], rows, atol=1e-12)
    assert plc.estimate == pytest.approx(est, abs=1e-12)
    assert plc.se == pytest.approx(se, abs=1e-12)
    z = stats.norm.ppf(0.975)
    assert plc.ci == pytest.approx((est - z * se, est + z * se), abs=1e-12)
    assert plc.pvalue == pytest.approx(2 * stats.norm.sf(abs(est / se)), abs=1e-12)
    tw = impact.did(castle, method="twfe", **CASTLE).placebo_in_time(2)
    # brute force: OLS written here on 2000-2004 (before the first 2005 adoption),
    # fake adoption 2 years early (2005 cohort from 2003, 2006 cohort from 2004; later
    # cohorts fall outside and count as never treated), state and year dummies
    pre = castle[castle["year"] < 2005]
    e = pre["effyear"].fillna(0)
    fake = ((e == 2005) & (pre["year"] >= 2003)) | ((e == 2006) & (pre["year"] >= 2004))
    X = np.column_stack(
        [
            fake.astype(float),
            pd.get_dummies(pre["sid"], drop_first=True, dtype=float),
            pd.get_dummies(pre["year"], drop_first=True, dtype=float),
            np.ones(len(pre)),
        ]
    )
    beta = np.linalg.lstsq(X, pre["l_homicide"].to_numpy(), rcond=None)[0]
    assert tw.estimate == pytest.approx(beta[0], abs=1e-10)
    with pytest.raises(impact.errors.SpecError, match="'k' parameter"):
        res.placebo_in_time(0)


def test_sensitivity_passes_event_study(monkeypatch, mpdta):
    seen = {}

    def fake(betahat, sigma, *, num_pre, num_post, method, M, Mbar, l_vec, alpha):
        seen.update(
            betahat=betahat,
            sigma=sigma,
            num_pre=num_pre,
            num_post=num_post,
            method=method,
            M=M,
            alpha=alpha,
        )
        return "ok"

    module = types.ModuleType("impact.did.honest")
    module.honest_sensitivity = fake
    monkeypatch.setitem(sys.modules, "impact.did.honest", module)
    es = impact.did(mpdta, method="event_study", **KW)
    assert es.sensitivity("smoothness", M=[0, 0.01]) == "ok"
    assert seen["num_pre"] == 3 and seen["num_post"] == 4  # e=-4..-2 and 0..3
    coef = es.event_study[~es.event_study["reference"]]
    np.testing.assert_allclose(seen["betahat"], coef["estimate"], atol=1e-14)
    np.testing.assert_allclose(
        np.sqrt(np.diag(seen["sigma"])), coef["std_error"], atol=1e-14
    )
    cs = impact.did(mpdta, base_period="universal", **KW)
    cs.sensitivity("relative_magnitude", Mbar=[1])
    assert seen["num_pre"] == 3 and seen["num_post"] == 4  # e = -1 (reference) dropped
    with pytest.warns(UserWarning, match="base_period='varying'"):
        impact.did(mpdta, **KW).sensitivity()


def test_universal_base_period(mpdta):
    res = impact.did(mpdta, base_period="universal", **KW)
    ref = res.att_gt[res.att_gt["event_time"] == -1]
    assert (ref["att"] == 0).all() and ref["se"].isna().all()
    varying = impact.did(mpdta, **KW)
    # post-treatment cells do not depend on the base-period choice
    post_u = res.att_gt[res.att_gt["post"]]["att"].to_numpy()
    post_v = varying.att_gt[varying.att_gt["post"]]["att"].to_numpy()
    np.testing.assert_allclose(post_u, post_v, atol=1e-15)
    assert res.estimate == pytest.approx(varying.estimate, abs=1e-15)


@pytest.mark.parametrize(
    ("method", "kind"),
    [
        ("cs", None),
        ("cs", "att_gt"),
        ("sunab", None),
        ("event_study", None),
        ("twfe", None),
    ],
)
def test_result_plots(mpdta, method, kind):
    ax = impact.did(mpdta, method=method, **KW).plot(kind=kind)
    assert isinstance(ax, Axes)
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


# R did 2.5.0 on mpdta, never-treated, dr, analytic SEs (research/did.md section 3,
# from csdid's r_ref tables; SOURCES.md): event time -> (ATT, SE); the (group, time)
# table is the contract suite's MPDTA_ATT_GT.
R_DID_DYNAMIC = {
    -3: (0.0305067, 0.0150336),
    -2: (-0.0005631, 0.0132916),
    -1: (-0.0244587, 0.0142364),
    0: (-0.0199318, 0.0118264),
    1: (-0.0509574, 0.0168935),
    2: (-0.1372587, 0.0364357),
    3: (-0.1008114, 0.0343592),
}


def _drawn_errorbars(ax: Axes) -> list[tuple[float, float, float]]:
    """(x, low, high) of every vertical error bar drawn on ``ax``."""
    from matplotlib.container import ErrorbarContainer

    out = []
    for c in ax.containers:
        if isinstance(c, ErrorbarContainer):
            for seg in c.lines[2][0].get_segments():
                (x, a), (_, b) = seg
                out.append((float(x), min(a, b), max(a, b)))
    return sorted(out)


def test_cs_plots_draw_the_r_did_values(mpdta):
    """The event-study and ATT(g,t) figures draw R did's points and 95% pointwise
    intervals ATT -/+ z_.975 SE (R's ATTs and SEs printed to 7 dp: tolerance 1e-6)."""
    z = stats.norm.ppf(0.975)
    res = impact.did(mpdta, method="cs", inference="analytic", **KW)
    ax = res.plot()
    bars = _drawn_errorbars(ax)
    want = [(float(e), b - z * s, b + z * s) for e, (b, s) in R_DID_DYNAMIC.items()]
    assert [x for x, _, _ in bars] == [x for x, _, _ in sorted(want)]
    np.testing.assert_allclose(np.array(bars), np.array(sorted(want)), atol=1e-6)
    points = sorted(
        (float(x), float(y)) for c in ax.containers for x, y in c.lines[0].get_xydata()
    )
    np.testing.assert_allclose(
        points,
        [(float(e), b) for e, (b, _) in sorted(R_DID_DYNAMIC.items())],
        atol=1e-6,
    )
    plt.close(ax.figure)
    # ATT(g,t): one bar per cell, cohorts side by side around each calendar year
    ax = res.plot(kind="att_gt")
    bars = _drawn_errorbars(ax)
    assert len(bars) == len(R_DID_ATT_GT)
    got = {(round(x), lo, hi) for x, lo, hi in bars}
    for (g, t), (b, s) in R_DID_ATT_GT.items():
        match = [
            (lo, hi) for x, lo, hi in got if x == t and abs(lo - (b - z * s)) < 1e-6
        ]
        assert len(match) == 1, (g, t)
        assert match[0][1] == pytest.approx(b + z * s, abs=1e-6), (g, t)
    plt.close(ax.figure)


def test_bootstrap_band_plot_and_bacon_plot(mpdta, castle, tmp_path):
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    res = impact.did(castle, inference="bootstrap", seed=1, **CASTLE)
    ax = res.plot(ax=axes[0])
    assert ax is axes[0]
    b = impact.bacon(castle, **CASTLE)
    assert b.plot(ax=axes[1]) is axes[1]
    fig.savefig(tmp_path / "did.png")
    assert (tmp_path / "did.png").stat().st_size > 0


def test_cells_plot(reference_data):
    ck = pd.read_csv(reference_data / "card_krueger.csv").dropna(subset=["fte"])
    res = impact.did(
        ck,
        outcome="fte",
        unit="id",
        time="d",
        treated="d_nj",
        method="2x2",
        balance="drop",
    )
    ax = res.plot()
    assert ax.get_ylabel().startswith("Mean outcome")
    with pytest.raises(impact.errors.SpecError, match="'kind' parameter"):
        res.plot(kind="map")


def test_clustered_bootstrap_and_wild(mpdta):
    df = mpdta.assign(region=mpdta["countyreal"] // 1000)
    kw = {**KW, "cluster": "region"}
    analytic = impact.did(df, inference="analytic", **kw)
    boot = impact.did(df, inference="bootstrap", seed=4, **kw)
    # cluster-level multipliers: same clustering as the analytic SE (Monte Carlo
    # error of the IQR-based SE with 999 draws ~4%; 20% allows for few clusters)
    assert boot.se == pytest.approx(analytic.se, rel=0.2)
    wild = impact.did(df, inference="wild", seed=4, n_boot=199, **kw)
    assert wild.inference == "wild"
    assert wild.ci[0] < wild.estimate < wild.ci[1]
