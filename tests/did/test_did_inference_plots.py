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

import impact
from impact.panel import Panel

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
    # 199 sampled re-assignments plus the observed one: p is a multiple of 1/200
    assert perm.pvalue * 200 == pytest.approx(round(perm.pvalue * 200), abs=1e-9)
    assert 1 / 200 <= perm.pvalue <= 1
    assert (
        perm.estimate == impact.did(panel, method="cs", inference="analytic").estimate
    )
    default = impact.did(panel, method="cs", seed=3, n_boot=99)  # inference="auto"
    assert default.inference == "permutation"
    ev = impact.did(panel, method="event_study", inference="wild", seed=2, n_boot=99)
    assert ev.inference == "wild" and np.isfinite(ev.pvalue)


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


def test_placebo_in_time(mpdta, castle):
    res = impact.did(mpdta, **KW)
    plc = res.placebo_in_time(1)
    assert plc.warnings[0].startswith("Placebo: adoption moved 1 period")
    # pre-period data only: every kept cell lies before the true adoption
    assert (plc.att_gt["time"] < plc.att_gt["group"] + 1).all()
    assert np.isfinite(plc.estimate) and np.isfinite(plc.se)
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
