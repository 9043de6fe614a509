"""Stacked DiD and de Chaisemartin-D'Haultfoeuille (dCDH) against diff-diff and brute force.

Sources of the pinned numbers (computed in the benchmark peers venv, diff-diff 3.13.0):
- Stacked, mpdta (R ``did`` data, ../shared/data/mpdta.csv; lemp, first.treat):
  ``StackedDiD(kappa_pre, kappa_post, control_group=...)`` with the default
  ``weighting="aggregate"`` (Wing-Freedman-Hollingsworth Q-weights),
  ``cluster="unit"`` and ``vcov_type="hc1"`` (CR1S: ``G/(G-1) (n-1)/(n-p)`` on the
  stacked rows); overall ATT = mean of the post-adoption event-time coefficients.
  Our ``window=(pre, post)`` is their ``(kappa_pre, kappa_post)``; ``control="notyet"``
  is ``"not_yet_treated"``, ``"never"`` is ``"never_treated"``.
- dCDH: ``ChaisemartinDHaultfoeuille(twfe_diagnostic=False).fit(df, outcome="y",
  group="unit", time="period", treatment="d")`` (``DID_M``; cohort-recentred plug-in
  SE; ``drop_larger_lower=True``) and the same with ``L_max=3`` for the dynamic
  effects ``DID_l`` and placebos, on the switching panel built by ``_switching_panel``
  below (fixed seed; joiners, leavers, never-switchers and three units that switch
  twice).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError, SpecError
from impact.panel import Panel
from tests.did import perm_reference as pr

MPDTA = {
    "outcome": "lemp",
    "unit": "countyreal",
    "time": "year",
    "cohort": "first.treat",
}


@pytest.fixture(scope="module")
def mpdta(reference_data):
    return pd.read_csv(reference_data / "mpdta.csv")


def _switching_panel(seed: int = 17, n: int = 60, T: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    base = (rng.random(n) < 0.35).astype(int)
    switch = rng.integers(1, T + 2, size=n)  # >= T: never switches
    D = np.zeros((n, T), int)
    for i in range(n):
        D[i] = base[i]
        if switch[i] < T:
            D[i, switch[i] :] = 1 - base[i]
    for i in range(3):  # on then off again: dropped by dCDH
        D[i, :] = 0
        D[i, 2:4] = 1
    alpha = rng.normal(0, 1, n)
    gamma = np.cumsum(rng.normal(0.1, 0.3, T))
    eff = D * (1.0 + 0.3 * np.minimum(np.arange(T), 3))[None, :]
    Y = alpha[:, None] + gamma[None, :] + eff + rng.normal(0, 0.5, (n, T))
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), T),
            "period": np.tile(np.arange(1, T + 1), n),
            "y": Y.ravel(),
            "d": D.ravel(),
        }
    )


# ------------------------------------------------------------------ stacked
@pytest.mark.reference
@pytest.mark.parametrize(
    ("control", "window", "att", "se", "es"),
    [
        (
            "notyet",
            (1, 1),
            -0.03155493662269863,
            0.015500570238139758,
            {
                0: (-0.009520525860557143, 0.015476325617941766),
                1: (-0.05358934738484011, 0.018828268214321268),
            },
        ),
        (
            "notyet",
            (2, 1),
            -0.022909539249539333,
            0.016769438851511068,
            {-2: (0.0027508187505209, 0.01963597009125915)},
        ),
        (
            "never",
            (1, 1),
            -0.02876076022037337,
            0.015486363068066009,
            {1: (-0.05095736706518938, 0.018758823761013795)},
        ),
        (
            "never",
            (3, 0),
            -0.02103457358088297,
            0.01295003918111962,
            {
                -3: (0.025021829597544634, 0.01821829240399929),
                -2: (0.024458744971168508, 0.014239284220447937),
            },
        ),
    ],
)
def test_stacked_matches_diff_diff_on_mpdta(mpdta, control, window, att, se, es):
    res = impact.did(
        mpdta,
        **MPDTA,
        method="stacked",
        control=control,
        window=window,
        inference="analytic",
    )
    assert res.estimate == pytest.approx(att, abs=1e-10)
    assert res.se == pytest.approx(se, rel=1e-8)
    tab = res.event_study.set_index("event_time")
    for e, (b, s) in es.items():
        assert tab.loc[e, "estimate"] == pytest.approx(b, abs=1e-10)
        assert tab.loc[e, "std_error"] == pytest.approx(s, rel=1e-8)
    assert tab.loc[-1, "reference"]
    assert res.options["window"] == window


def test_stacked_weighted_equals_brute_force_stacked_wls(mpdta):
    """The weighted stacked regression written out with statsmodels (WFH eq. 3 with
    population weights times the Q-weights computed from weighted counts)."""
    import statsmodels.api as sm

    df = mpdta.assign(pop=np.exp(mpdta["lpop"]))
    pre, post = 2, 1
    cohort = df["first.treat"].replace(0, np.inf)
    subs = []
    for a in (2004, 2006, 2007):
        if a - pre < 2003 or a + post > 2007:
            continue
        tr = cohort == a
        co = cohort > a + post
        sub = df[(tr | co) & df["year"].between(a - pre, a + post)].copy()
        sub["sub"] = a
        sub["e"] = sub["year"] - a
        sub["D"] = (cohort[sub.index] == a).astype(float)
        subs.append(sub)
    st = pd.concat(subs)
    wd = st[st.D == 1].groupby(["sub", "e"])["pop"].sum()
    wc = st[st.D == 0].groupby(["sub", "e"])["pop"].sum()
    q = (wd / wd.groupby("e").transform("sum")) / (
        wc / wc.groupby("e").transform("sum")
    )
    qrow = q.reindex(pd.MultiIndex.from_arrays([st["sub"], st["e"]])).to_numpy()
    w = st["pop"].to_numpy() * np.where(st.D == 1, 1.0, qrow)
    events = [e for e in range(-pre, post + 1) if e != -1]
    X = pd.DataFrame({"const": 1.0, "D": st["D"].to_numpy()})
    for e in events:
        X[f"l{e}"] = (st["e"].to_numpy() == e).astype(float)
        X[f"d{e}"] = X[f"l{e}"] * st["D"].to_numpy()
    fit = sm.WLS(st["lemp"].to_numpy(), X, weights=w).fit(
        cov_type="cluster", cov_kwds={"groups": st["countyreal"].to_numpy()}
    )
    res = impact.did(
        df,
        **MPDTA,
        method="stacked",
        control="notyet",
        window=(pre, post),
        weights="pop",
        inference="analytic",
    )
    tab = res.event_study.set_index("event_time")
    for e in events:
        assert tab.loc[e, "estimate"] == pytest.approx(fit.params[f"d{e}"], abs=1e-10)
        assert tab.loc[e, "std_error"] == pytest.approx(fit.bse[f"d{e}"], rel=1e-8)
    post_terms = [f"d{e}" for e in events if e >= 0]
    assert res.estimate == pytest.approx(fit.params[post_terms].mean(), abs=1e-10)


def test_stacked_weight_matrix_and_batch_reproduce_the_estimate(mpdta):
    from impact.did.api import _cohort_index
    from impact.did.stacked import stacked_batch, stacked_weight_matrix

    res = impact.did(
        mpdta,
        **MPDTA,
        method="stacked",
        control="notyet",
        window=(2, 1),
        inference="analytic",
    )
    panel = res._panel
    cidx = _cohort_index(panel)
    A = stacked_weight_matrix(panel, cidx, "notyet", (2, 1))
    assert (A * panel.Y).sum() == pytest.approx(res.estimate, abs=1e-12)
    rng = np.random.default_rng(3)
    shuffled = np.stack([rng.permutation(cidx) for _ in range(4)])
    batch = stacked_batch(panel.Y, shuffled, np.ones(panel.Y.shape), "notyet", 2, 1)
    for b in range(4):
        lab = np.where(
            np.isfinite(shuffled[b]),
            panel.periods[np.nan_to_num(shuffled[b], posinf=0).astype(int)],
            np.inf,
        )
        refit = impact.did(
            panel.with_cohort(lab),
            method="stacked",
            control="notyet",
            window=(2, 1),
            inference="analytic",
        )
        assert batch[b] == pytest.approx(refit.estimate, abs=1e-12)


def test_stacked_few_treated_inference_and_window_errors(mpdta):
    small = mpdta[
        (mpdta["first.treat"] == 0)
        | mpdta["countyreal"].isin(
            mpdta.loc[mpdta["first.treat"] == 2006, "countyreal"].unique()[:6]
        )
    ]
    res = impact.did(
        small, **MPDTA, method="stacked", window=(2, 1), n_boot=199, seed=4
    )
    assert res.inference == "permutation"
    assert res.ci[0] < res.estimate < res.ci[1]
    # 6 of ~300 units treated: 199 sampled re-assignments plus the observed one.
    # Brute force (tests/did/perm_reference.py): the same seeded re-assignments, each
    # refitted with impact.did(method="stacked", inference="analytic") (its estimate
    # is pinned elsewhere), p = (1 + #{|est*| >= |est|}) / 200; same draws on both
    # sides, so equal to rounding (1e-12).
    Y = small.pivot(index="countyreal", columns="year", values="lemp")
    first = small.groupby("countyreal")["first.treat"].first().reindex(Y.index)
    cohort = np.where(first > 0, first, np.inf).astype(float)
    years = Y.columns.to_numpy()
    est = []
    for c in pr.sampled_assignments(cohort, 199, seed=4):
        panel = Panel.from_arrays(Y.to_numpy(), c, periods=years)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = impact.did(
                panel, method="stacked", window=(2, 1), inference="analytic"
            )
        est.append(fit.estimate)
    assert res.estimate == pytest.approx(est[0], abs=1e-12)
    assert res.pvalue == pytest.approx(pr.sampled_pvalue(np.array(est)), abs=1e-12)
    assert res.pvalue == pytest.approx(0.74, abs=1e-12)  # the value, stated
    with pytest.raises(DataError, match="no cohort fits the window"):
        impact.did(mpdta, **MPDTA, method="stacked", window=(4, 4))
    with pytest.raises(SpecError, match="window="):
        impact.did(mpdta, **MPDTA, method="stacked", window=(0, 2))
    with pytest.raises(SpecError, match="window= is an option"):
        impact.did(mpdta, **MPDTA, method="imputation", window=2)


# --------------------------------------------------------------------- dCDH
@pytest.fixture(scope="module")
def switching():
    return _switching_panel()


def _dcdh(df, **kw):
    return impact.did(
        df, outcome="y", unit="unit", time="period", treated="d", method="dcdh", **kw
    )


@pytest.mark.reference
def test_dcdh_matches_diff_diff(switching):
    res = _dcdh(switching, inference="analytic", window=(4, 2))
    # diff-diff 3.13 ChaisemartinDHaultfoeuille: DID_M (L_max=None)
    assert res.estimate == pytest.approx(1.7517501649835872, abs=1e-10)
    assert res.se == pytest.approx(0.09282460482861536, rel=1e-8)
    assert res.n_treated == 49
    assert any("changes more than once" in w for w in res.warnings)
    tab = res.event_study.set_index("event_time")
    # L_max=3: DID_l (event time l - 1) and placebos DID^pl_l (event time -1 - l)
    expected = {
        0: (1.7230677536732988, 0.09698343353555794, 49),
        1: (1.817149187180449, 0.09734090809218462, 45),
        2: (1.9226017324017062, 0.09665335534403158, 36),
        -2: (0.017023121273461925, 0.1060127029223146, 42),
        -3: (-0.19904774339853373, 0.11399690941674416, 31),
        -4: (-0.08494418500111263, 0.20003303605878223, 13),
    }
    # 95% normal intervals est -/+ z_{0.975} se (as diff-diff's and R
    # DIDmultiplegt's analytic intervals), from the pinned estimates and SEs
    z = 1.959963984540054
    assert sorted(tab.index) == [-4, -3, -2, -1, 0, 1, 2]  # L_max=3: 3 placebos
    for e, (b, s, n) in expected.items():
        assert tab.loc[e, "estimate"] == pytest.approx(b, abs=1e-10)
        assert tab.loc[e, "std_error"] == pytest.approx(s, rel=1e-8)
        assert tab.loc[e, "n_switchers"] == n
        assert tab.loc[e, "conf_low"] == pytest.approx(b - z * s, rel=1e-7)
        assert tab.loc[e, "conf_high"] == pytest.approx(b + z * s, rel=1e-7)
    est, se = 1.7517501649835872, 0.09282460482861536
    assert res.ci == pytest.approx((est - z * se, est + z * se), rel=1e-7)
    assert res.aggregate("simple").estimate == pytest.approx(res.estimate)
    dyn = res.aggregate("dynamic").to_frame().set_index("event_time")
    assert dyn.loc[1, "estimate"] == pytest.approx(1.817149187180449, abs=1e-10)
    assert res.pretrend_test().df == 3


def test_dcdh_brute_force_did_m(switching):
    """DID_M from its definition (AER 2020 eq. 3), period by period."""
    wide_y = switching.pivot(index="unit", columns="period", values="y").to_numpy()
    wide_d = switching.pivot(index="unit", columns="period", values="d").to_numpy()
    keep = (np.diff(wide_d, axis=1) != 0).sum(axis=1) <= 1
    Y, D = wide_y[keep], wide_d[keep]
    num, n_s = 0.0, 0
    for t in range(1, Y.shape[1]):
        dy = Y[:, t] - Y[:, t - 1]
        j = (D[:, t - 1] == 0) & (D[:, t] == 1)
        s0 = (D[:, t - 1] == 0) & (D[:, t] == 0)
        lv = (D[:, t - 1] == 1) & (D[:, t] == 0)
        s1 = (D[:, t - 1] == 1) & (D[:, t] == 1)
        if j.any() and s0.any():
            num += j.sum() * (dy[j].mean() - dy[s0].mean())
        if lv.any() and s1.any():
            num += lv.sum() * (dy[s1].mean() - dy[lv].mean())
        n_s += j.sum() + lv.sum()
    res = _dcdh(switching, inference="analytic")
    assert res.estimate == pytest.approx(num / n_s, abs=1e-12)


def test_dcdh_weights_batch_and_few_treated_inference(switching):
    from impact.did.dcdh import dcdh_batch, did_m_weights, path_labels

    res = _dcdh(switching, inference="analytic")
    D = res._call["_treatment_matrix"]
    Y = res._panel.Y
    A, _, _ = did_m_weights(D)
    assert (A * Y).sum() == pytest.approx(res.estimate, abs=1e-12)
    labels = path_labels(D)
    batch = dcdh_batch(D)
    assert batch(Y, labels[None])[0] == pytest.approx(res.estimate, abs=1e-12)
    perm = np.random.default_rng(0).permutation(len(labels))
    lab_vals = np.unique(labels)
    paths = np.stack([D[np.flatnonzero(labels == v)[0]] for v in lab_vals])
    D_perm = paths[np.searchsorted(lab_vals, labels[perm])]
    assert batch(Y, labels[perm][None])[0] == pytest.approx(
        (did_m_weights(D_perm)[0] * Y).sum(), abs=1e-12
    )
    out = _dcdh(switching, inference="permutation", n_boot=199, seed=2)
    assert out.inference == "permutation"
    assert out.ci[0] < out.estimate < out.ci[1]
    wild = _dcdh(switching, inference="wild", n_boot=199, seed=2)
    assert wild.ci[0] < wild.estimate < wild.ci[1]


def test_switching_treatment_errors_name_dcdh(switching):
    for method in ("cs", "imputation", "stacked", "etwfe"):
        with pytest.raises(DataError, match="method='dcdh'"):
            impact.did(
                switching,
                outcome="y",
                unit="unit",
                time="period",
                treated="d",
                method=method,
            )
    with pytest.raises(SpecError, match="drop weights="):
        _dcdh(switching.assign(w=1.0), weights="w")
    with pytest.raises(SpecError, match="not defined for method='dcdh'"):
        _dcdh(switching, inference="analytic").aggregate("group")
    with pytest.raises(SpecError, match="placebo effects"):
        _dcdh(switching, inference="analytic").placebo_in_time()
    never = switching.assign(d=0)
    with pytest.raises(DataError, match=r"treatment never changes|No unit is treated"):
        _dcdh(never)


def test_new_methods_plot_frame_dict_and_compare(mpdta, switching):
    import json

    from matplotlib.axes import Axes

    kw = {**MPDTA, "inference": "analytic"}
    counts = mpdta.assign(c=(np.exp(mpdta["lemp"]) * 10).round())
    results = {
        "stacked": impact.did(mpdta, method="stacked", window=(2, 1), **kw),
        "dcdh": _dcdh(switching, inference="analytic"),
        "poisson": impact.did(
            counts, **{**kw, "outcome": "c"}, method="etwfe", family="poisson"
        ),
    }
    for name, res in results.items():
        assert isinstance(res.plot(), Axes), name
        frame = res.to_frame()
        assert (frame["event_time"].dropna() >= 0).any(), name
        payload = json.loads(json.dumps(res.to_dict()))
        assert payload["estimate"] == pytest.approx(res.estimate), name
        assert "dynamic" in payload["aggregates"], name
        assert res.summary()
    table = impact.compare(results).to_frame()
    assert list(table["analysis"]) == list(results)


def test_stacked_cells_with_time_varying_weights_brute_force(mpdta):
    """Window (1, 0), not-yet-treated comparisons: cohorts 2004, 2006 and 2007 all
    enter. Each cell is the DiD of weighted means (treated vs clean comparisons,
    period ``a + e`` vs ``a - 1``); an event time's row weights its cells by the
    treated weight in the cell's own period (``N^D_ae``, WFH 2024), which differs from
    the reference period's when weights change over time. The weight matrix the wild
    bootstrap uses reproduces the headline over the three cohorts."""
    from impact.did.api import _cohort_index
    from impact.did.stacked import stacked_weight_matrix

    growth = 1 + 0.3 * (mpdta["year"] - 2003) * (mpdta["countyreal"] % 3)
    df = mpdta.assign(w=np.exp(mpdta["lpop"]) * growth)
    first = df["first.treat"].replace(0, np.inf)
    cells = {}
    for a in (2004, 2006, 2007):
        tr = first == a
        co = first > a
        mean = {}
        for grp, sel in (("d", tr), ("c", co)):
            for yr in (a - 1, a):
                rows = df[sel & (df["year"] == yr)]
                mean[grp, yr] = np.average(rows["lemp"], weights=rows["w"])
        theta = (mean["d", a] - mean["d", a - 1]) - (mean["c", a] - mean["c", a - 1])
        size = df.loc[tr & (df["year"] == a), "w"].sum()
        cells[a] = (theta, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            df,
            **MPDTA,
            method="stacked",
            control="notyet",
            window=(1, 0),
            weights="w",
            inference="analytic",
        )
    att = res.att_gt.set_index("group")
    for a, (theta, _) in cells.items():
        assert att.loc[a, "att"] == pytest.approx(theta, abs=1e-10)
    assert (res.att_gt["post"] == (res.att_gt["event_time"] >= 0)).all()
    sizes = np.array([s for _, s in cells.values()])
    thetas = np.array([t for t, _ in cells.values()])
    es = res.event_study.set_index("event_time")
    assert es.loc[0, "estimate"] == pytest.approx(
        sizes @ thetas / sizes.sum(), abs=1e-10
    )
    panel = res._panel
    A = stacked_weight_matrix(panel, _cohort_index(panel), "notyet", (1, 0))
    assert float((A * panel.Y).sum()) == pytest.approx(res.estimate, abs=1e-12)


@pytest.mark.reference
def test_dcdh_singleton_baseline_left_out_of_the_variance_as_diff_diff(switching):
    """Keep every unit that starts untreated and only the last that starts treated: its
    baseline is shared by no other unit, so (as diff-diff) it enters the estimate but
    not the cohort-recentred variance. diff-diff 3.13
    ``ChaisemartinDHaultfoeuille().fit(...)``: DID_M 1.7492796824407661, SE
    0.12818180056551115."""
    base = switching.loc[switching["period"] == 1].set_index("unit")["d"]
    keep = [*base.index[base == 0], base.index[base == 1][-1]]
    res = _dcdh(switching.loc[switching["unit"].isin(keep)], inference="analytic")
    assert res.estimate == pytest.approx(1.7492796824407661, abs=1e-10)
    assert res.se == pytest.approx(0.12818180056551115, rel=1e-8)
    assert any("no other unit shares" in w for w in res.warnings)


def _did_m_bruteforce(Y, D):  # type: ignore[no-untyped-def]
    """DID_M (AER 2020 eq. 3) and each unit's contribution, period by period; a period
    whose switchers have no stable comparison adds 0 but keeps them in N_S."""
    n, T = Y.shape
    A = np.zeros((n, T))
    n_s = 0
    for t in range(1, T):
        for p, c, sign in ((0, 1, 1.0), (1, 0, -1.0)):
            sw = (D[:, t - 1] == p) & (D[:, t] == c)
            st = (D[:, t - 1] == p) & (D[:, t] == p)
            n_s += sw.sum()
            if sw.any() and st.any():
                for i in np.flatnonzero(sw):
                    A[i, t] += sign
                    A[i, t - 1] -= sign
                for i in np.flatnonzero(st):
                    A[i, t] -= sign * sw.sum() / st.sum()
                    A[i, t - 1] += sign * sw.sum() / st.sum()
    A /= n_s
    return float((A * Y).sum()), (A * Y).sum(axis=1)


def test_dcdh_period_without_stable_comparison_keeps_its_switchers():
    """All three untreated units join in period 3: no stable untreated unit, so that
    period's DiD counts as 0 with its 3 joiners in the denominator (Assumption 11
    convention); the one leaver in period 4 is compared with the stable treated."""
    rng = np.random.default_rng(9)
    D = np.array(
        [[0, 0, 1, 1, 1]] * 3 + [[1, 1, 1, 0, 0]] + [[1, 1, 1, 1, 1]] * 2, dtype=int
    )
    Y = rng.normal(size=D.shape) + D
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(6), 5),
            "period": np.tile(np.arange(1, 6), 6),
            "y": Y.ravel(),
            "d": D.ravel(),
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _dcdh(df, inference="analytic")
    est, _ = _did_m_bruteforce(Y, D)
    assert res.estimate == pytest.approx(est, abs=1e-12)
    assert any("no unit with the same treatment" in w for w in res.warnings)


def test_dcdh_clustered_se_brute_force(switching):
    """cluster=: the cohort-recentred unit contributions (cohort = baseline, first
    switch, direction; a baseline no other unit shares is left out) summed within
    clusters of four units, squared and summed (diff-diff 3.13 does not take
    cluster=, so the formula is written out here)."""
    df = switching.assign(cl=switching["unit"] // 4)
    Y = df.pivot(index="unit", columns="period", values="y").to_numpy()
    D = df.pivot(index="unit", columns="period", values="d").to_numpy()
    cl = df.groupby("unit")["cl"].first().to_numpy()
    keep = (np.diff(D, axis=1) != 0).sum(axis=1) <= 1
    Y, D, cl = Y[keep], D[keep], cl[keep]
    est, u = _did_m_bruteforce(Y, D)
    change = np.diff(D, axis=1) != 0
    first = np.where(change.any(axis=1), change.argmax(axis=1), -1)
    direction = np.where(change.any(axis=1), 1 - 2 * D[:, 0], 0)
    keys = pd.Series(list(zip(D[:, 0], first, direction, strict=True)))
    shared = pd.Series(D[:, 0]).map(pd.Series(D[:, 0]).value_counts()) > 1
    centred = np.where(shared, u - pd.Series(u).groupby(keys).transform("mean"), 0.0)
    se = float(np.sqrt((pd.Series(centred).groupby(cl).sum() ** 2).sum()))
    res = _dcdh(df, cluster="cl", inference="analytic")
    assert res.estimate == pytest.approx(est, abs=1e-12)
    assert res.se == pytest.approx(se, rel=1e-10)
    assert res.se == pytest.approx(0.08830109631521674, rel=1e-10)  # the value, stated


def test_dcdh_window_sets_the_number_of_placebos_and_effects(switching):
    """window=(2, 1): one placebo (event time -2), the reference, effects 0 and 1; the
    rows are the diff-diff 3.13 values pinned in test_dcdh_matches_diff_diff."""
    tab = _dcdh(switching, inference="analytic", window=(2, 1)).event_study
    tab = tab.set_index("event_time")
    assert sorted(tab.index) == [-2, -1, 0, 1]
    assert tab.loc[-2, "estimate"] == pytest.approx(0.017023121273461925, abs=1e-10)
    assert tab.loc[1, "estimate"] == pytest.approx(1.817149187180449, abs=1e-10)


def test_stacked_inference_keeps_the_observed_default_window(mpdta):
    """window=None: the window chosen on the observed cohorts is the one every
    re-assignment is estimated with (also when a chunk of draws does not start with
    the observed assignment, as under n_jobs > 1)."""
    from impact.did.api import _cohort_index
    from impact.did.modern import modern_batch

    res = impact.did(mpdta, **MPDTA, method="stacked", inference="analytic")
    window = res.options["window"]
    panel = res._panel
    cidx = _cohort_index(panel)
    shuffled = np.random.default_rng(11).permutation(panel.cohort)
    batch = modern_batch("stacked", panel, None, res._call)
    got = batch(panel.Y, np.stack([shuffled, panel.cohort]))
    assert got[1] == pytest.approx(res.estimate, abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = impact.did(
            panel.with_cohort(shuffled),
            method="stacked",
            window=window,
            inference="analytic",
        )
    assert got[0] == pytest.approx(refit.estimate, abs=1e-12)
    assert np.isfinite(cidx).sum() == np.isfinite(shuffled).sum()
