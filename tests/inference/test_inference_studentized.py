"""Studentized randomization inference for every row of a DiD result (issue 13).

References written here: explicit per-assignment weight matrices (Callaway-Sant'Anna's
simple ATT as a sum of 2x2 mean changes, built unit by unit) for the estimates and the
studentizing standard errors, against the role-weight shortcut the package uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.data.synthetic import generate_la_panel
from impact.inference.studentized import (
    draw_assignments,
    noise_aware_choice,
    unit_noise,
)

KW = {"outcome": "y", "unit": "la_code", "time": "year", "cohort": "cohort"}


def _cla(seed: int, cohorts: dict[int, int], n_units: int = 150) -> pd.DataFrame:
    df = generate_la_panel(
        seed=seed, cohorts=cohorts, assignment="random", n_units=n_units
    )
    return df.assign(y=np.log(df["cla_rate"]))


def _noise(Y: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit noise written out: variance of the changes before the first adoption
    (period means removed), pooled AR(1) persistence from their lag-1 autocorrelation."""
    n, t = Y.shape
    d = np.diff(Y[:, :first], axis=1)
    r = d - d.mean(axis=0)
    k = first - 1
    v = (r**2).sum(axis=1) / (k - k / n)
    v = np.maximum(v, 0.01 * np.median(v))
    z = r / np.sqrt(v)[:, None]
    acf = (z[:, 1:] * z[:, :-1]).sum() / (z[:, :-1] ** 2).sum()
    rho = float(np.clip(1 + 2 * acf, 0, 1))
    s = np.arange(t)
    if rho >= 0.99:
        return v, np.minimum.outer(s, s) + 1.0
    return v * (1 + rho) / 2, rho ** np.abs(np.subtract.outer(s, s)) / (1 - rho**2)


def test_unit_noise_matches_the_formula():
    rng = np.random.default_rng(3)
    scale = rng.uniform(0.5, 2.0, size=80)
    for phi in (0.5, 1.0):  # stationary AR(1) and random walk
        e = np.zeros((80, 12))
        for t in range(1, 12):
            e[:, t] = phi * e[:, t - 1] + scale * rng.normal(size=80)
        noise = unit_noise(e, 9)
        v, R = _noise(e, 9)
        np.testing.assert_allclose(noise.v, v, rtol=1e-12)
        np.testing.assert_allclose(noise.R, R, rtol=1e-12)
    # noisier units get larger variances: the estimates track the true scales
    assert np.corrcoef(noise.v, scale**2)[0, 1] > 0.6


@pytest.fixture(scope="module")
def three_cohorts() -> pd.DataFrame:
    return _cla(3, {2016: 3, 2018: 2, 2020: 3})


@pytest.mark.parametrize("control", ["never", "notyet"])
@pytest.mark.parametrize("base", ["varying", "universal"])
def test_rows_estimates_equal_the_fit(three_cohorts, control, base):
    res = impact.did(
        three_cohorts,
        **KW,
        method="cs",
        control=control,
        base_period=base,
        inference="permutation",
        n_boot=99,
        seed=1,
    )
    ana = impact.did(
        three_cohorts,
        **KW,
        method="cs",
        control=control,
        base_period=base,
        inference="analytic",
    )
    _, cells = res._rows.rows("cells")
    np.testing.assert_allclose(cells.estimate, ana.att_gt["att"], atol=1e-12)
    for kind in ("simple", "group", "dynamic", "calendar"):
        _, rows = res._rows.rows(kind)
        a = ana.aggregate(kind)
        assert rows.estimate[-1] == pytest.approx(a.estimate, abs=1e-12)
        if a.table is not None:
            np.testing.assert_allclose(
                rows.estimate[:-1], a.table["estimate"], atol=1e-12
            )
        assert res.aggregate(kind).estimate == pytest.approx(a.estimate, abs=1e-12)


def test_weighted_cs_simple_se_equals_explicit_weights():
    df = _cla(5, {2017: 2, 2019: 2}, n_units=60)
    res = impact.did(
        df,
        **KW,
        method="cs",
        weights="child_pop",
        inference="permutation",
        n_boot=49,
        seed=2,
    )
    wide = df.pivot(index="la_code", columns="year", values="y")
    Y = wide.to_numpy()
    w = df.groupby("la_code")["child_pop"].first().reindex(wide.index).to_numpy()
    years = wide.columns.to_numpy()
    cidx = df.groupby("la_code")["cohort"].first().reindex(wide.index).to_numpy()
    cidx = np.where(cidx > 0, np.searchsorted(years, cidx), np.inf).astype(float)
    draws = draw_assignments(cidx, n_perm=49, seed=2)
    nv, nR = _noise(Y, int(cidx[np.isfinite(cidx)].min()))
    est, se = [], []
    for c in draws.labels:  # explicit weights, unit by unit
        A = np.zeros_like(Y)
        never = ~np.isfinite(c)
        cells = [
            (g, t)
            for g in np.unique(c[~never]).astype(int)
            for t in range(g, Y.shape[1])
        ]
        size = {g: w[c == g].sum() for g in np.unique(c[~never]).astype(int)}
        total = sum(size[g] for g, _ in cells)
        for g, t in cells:
            a = np.where(c == g, w / size[g], 0) - np.where(
                never, w / w[never].sum(), 0
            )
            A[:, t] += size[g] / total * a
            A[:, g - 1] -= size[g] / total * a
        est.append((A * Y).sum())
        se.append(np.sqrt(np.einsum("nt,ts,ns,n->", A, nR, A, nv)))
    est, se = np.array(est), np.array(se)
    assert res.estimate == pytest.approx(est[0], rel=1e-10)
    assert res.inference_details["se_unit_noise"] == pytest.approx(se[0], rel=1e-10)
    t = np.abs(est / se)
    assert res.pvalue == pytest.approx(np.mean(t >= t[0] * (1 - 1e-9)), abs=1e-12)


@pytest.mark.parametrize("method", ["cs", "sunab", "event_study"])
def test_one_inference_path_for_every_printed_interval(three_cohorts, method):
    res = impact.did(three_cohorts, **KW, method=method, n_boot=199, seed=4)
    assert res.inference == "permutation"
    d = res.to_dict()
    assert d["aggregates"]["simple"]["ci"] == pytest.approx(list(res.ci), abs=0)
    assert d["aggregates"]["simple"]["pvalue"] == res.pvalue
    dyn = res.aggregate("dynamic")
    tab = dyn.to_frame()
    assert {"band_low", "band_high"} <= set(tab.columns)
    inside = (tab["band_low"] <= tab["conf_low"] + 1e-12) & (
        tab["band_high"] >= tab["conf_high"] - 1e-12
    )
    assert inside.all()  # the uniform band contains every pointwise interval
    if method in ("cs", "sunab"):
        assert {"band_low", "band_high", "pvalue"} <= set(res.att_gt.columns)
        line = f"{'dynamic':>9} overall: {dyn.estimate: .4f} (se {dyn.se:.4f})"
        assert line in res.summary()
    if method == "event_study":
        es = res.event_study[~res.event_study["reference"]]
        np.testing.assert_allclose(es["conf_low"], tab["conf_low"])
    ax = res.plot()
    assert ax is not None


def test_auto_uses_the_wild_bootstrap_when_noise_cannot_be_estimated():
    rng = np.random.default_rng(0)
    Y = rng.normal(size=(40, 10)).cumsum(axis=1)
    assert noise_aware_choice(Y, 6, 5) == ("permutation", None)
    method, note = noise_aware_choice(Y, 2, 5)
    assert method == "wild" and "noise" in note
    assert noise_aware_choice(Y, 2, 3)[0] == "permutation"  # wild cannot reject
    df = _cla(7, {2012: 6})  # two years before adoption: one change per unit
    res = impact.did(df, **KW, method="cs", n_boot=99, seed=1)
    assert res.inference == "wild"
    assert any("chose the wild bootstrap" in w for w in res.warnings)
