"""Poisson extended TWFE (Wooldridge 2023) against diff-diff and a brute-force GLM.

- castle doctrine data (../shared/data/castle.csv), homicide counts ``homicide_c``,
  cohorts ``effyear``: diff-diff 3.13.0 ``WooldridgeDiD(method="poisson",
  control_group="not_yet_treated").fit(df, outcome="homicide_c", unit="sid",
  time="year", cohort="g")`` (g = effyear, 0 for never): overall ATT 31.689372888083664
  (SE 9.960583501702596; CR1 clustered by state, ``G/(G-1) (n-1)/(n-k)``, cell-count
  weights), ATT(2005, 2005) -71.51732206607903 (SE 21.732541656492135).
- With the population as exposure (rates per 10,000) and never-treated comparisons:
  statsmodels ``GLM(Poisson, offset=log(population))`` on cohort, year and cell dummies
  (all cells of a treated cohort but g - 1), cluster-robust by state, written out in
  the test; effect = 10,000 x (exp(eta) - exp(eta - tau)) averaged by population.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import impact
from impact.errors import DataError, SpecError

KW = {"unit": "sid", "time": "year", "cohort": "effyear", "method": "etwfe"}


@pytest.fixture(scope="module")
def castle(reference_data):
    return pd.read_csv(reference_data / "castle.csv")


@pytest.mark.reference
def test_castle_poisson_counts_match_diff_diff(castle):
    res = impact.did(
        castle,
        outcome="homicide_c",
        family="poisson",
        control="notyet",
        inference="analytic",
        **KW,
    )
    est, se = 31.689372888083664, 9.960583501702596
    assert res.estimate == pytest.approx(est, rel=1e-9)
    assert res.se == pytest.approx(se, rel=1e-8)
    # 95% normal intervals est -/+ z_{0.975} se from the pinned estimate and SE
    z = 1.959963984540054
    assert res.ci == pytest.approx((est - z * se, est + z * se), rel=1e-7)
    cell = res.att_gt.set_index(["group", "time"]).loc[(2005, 2005)]
    assert cell["att"] == pytest.approx(-71.51732206607903, rel=1e-9)
    assert cell["se"] == pytest.approx(21.732541656492135, rel=1e-8)
    lo, hi = (
        -71.51732206607903 - z * 21.732541656492135,
        -71.51732206607903 + z * 21.732541656492135,
    )
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((lo, hi), rel=1e-7)
    assert res.options["family"] == "poisson"


def test_castle_poisson_rate_with_exposure_equals_brute_force_glm(castle):
    df = castle
    g = df["effyear"].fillna(np.inf)
    years = sorted(df["year"].unique())
    X = pd.DataFrame({"const": 1.0}, index=df.index)
    cohorts = sorted(g[np.isfinite(g)].unique())
    for c in cohorts:
        X[f"g{int(c)}"] = (g == c).astype(float)
    for y in years[1:]:
        X[f"t{y}"] = (df["year"] == y).astype(float)
    cells = [(c, y) for c in cohorts for y in years if y != c - 1]
    for c, y in cells:
        X[f"c{int(c)}_{y}"] = ((g == c) & (df["year"] == y)).astype(float)
    fit = sm.GLM(
        df["homicide_c"],
        X,
        family=sm.families.Poisson(),
        offset=np.log(df["population"]),
    ).fit(cov_type="cluster", cov_kwds={"groups": df["sid"]}, tol=1e-13)
    b, V = fit.params.to_numpy(), fit.cov_params().to_numpy()
    att, J, w = [], [], []
    for c, y in cells:
        if y < c:
            continue
        rows = (g == c) & (df["year"] == y)
        x = X[rows].iloc[0].to_numpy()
        j = list(X.columns).index(f"c{int(c)}_{y}")
        e1, e0 = np.exp(x @ b), np.exp(x @ b - b[j])
        att.append(1e4 * (e1 - e0))
        grad = 1e4 * (e1 - e0) * x
        grad[j] = 1e4 * e1
        J.append(grad)
        w.append(df.loc[rows, "population"].sum())
    w = np.array(w) / np.sum(w)
    J = np.array(J)
    res = impact.did(
        df,
        outcome="rate",
        numerator="homicide_c",
        denominator="population",
        family="poisson",
        control="never",
        inference="analytic",
        **KW,
    )
    assert res.estimate == pytest.approx(w @ np.array(att), rel=1e-9)
    assert res.se == pytest.approx(np.sqrt(w @ J @ V @ J.T @ w), rel=1e-7)
    assert res.options["exposure"] == "population"
    # placebo cells relative to g - 1 and Roth's power on them
    assert (res.event_study["event_time"] < -1).any()
    assert res.pretrend_power().slope_50 > 0


def test_poisson_permutation_with_few_treated(castle):
    keep = castle["effyear"].isna() | castle["state"].isin(["Florida", "Alabama"])
    res = impact.did(
        castle[keep],
        outcome="homicide_c",
        family="poisson",
        control="notyet",
        n_boot=99,
        seed=3,
        **KW,
    )
    assert res.inference == "permutation"
    assert res.ci[0] < res.estimate < res.ci[1]
    # Brute force: Florida (2005) and Alabama (2006) among 29 never-treated states give
    # 31 x 30 = 930 assignments of the two adoption years, few enough to enumerate
    # (seed-free). For each, the saturated Poisson ETWFE (not-yet) ATT is the mean over
    # the treated post cells of count minus the untreated fit, a Poisson GLM with
    # cohort and year effects on the untreated cells, fitted here by Newton's method on
    # the cohort x year totals (sufficient statistics; offset log cohort size). Raw
    # ATTs are permuted: p = share of |ATT*| >= |ATT|, observed included.
    Y = castle[keep].pivot(index="sid", columns="year", values="homicide_c")
    first = castle[keep].groupby("sid")["effyear"].first().reindex(Y.index)
    years, y = Y.columns.to_numpy(), Y.to_numpy(float)
    n, n_t = y.shape

    def att(a: int, b: int, g: tuple[float, float]) -> float:
        lev = np.zeros(n, int)
        lev[a], lev[b] = 1, 2
        tab = np.array([y[lev == k].sum(axis=0) for k in range(3)])
        size = np.array([(lev == k).sum() for k in range(3)], float)
        post = np.zeros((3, n_t), bool)
        post[1], post[2] = years >= g[0], years >= g[1]

        def row(k: int, t: int) -> np.ndarray:
            x = np.zeros(2 + n_t)  # constant, cohorts 1 and 2, years 1..T-1
            x[0] = 1.0
            if k:
                x[k] = 1.0
            if t:
                x[2 + t] = 1.0
            return x

        cells = [(k, t) for k in range(3) for t in range(n_t) if not post[k, t]]
        X = np.array([row(k, t) for k, t in cells])
        yv = np.array([tab[k, t] for k, t in cells])
        off = np.log([size[k] for k, _ in cells])
        beta = np.zeros(X.shape[1])
        beta[0] = np.log(yv.sum() / np.exp(off).sum())
        for _ in range(100):
            mu = np.exp(X @ beta + off)
            step = np.linalg.solve((X.T * mu) @ X, X.T @ (yv - mu))
            beta += step
            if np.abs(step).max() < 1e-13:
                break
        gaps = [
            tab[k, t] - np.exp(row(k, t) @ beta)
            for k in (1, 2)
            for t in np.flatnonzero(post[k])
        ]
        return float(np.mean(gaps))

    treated = np.flatnonzero(first.notna().to_numpy())
    treated = treated[np.argsort(first.to_numpy()[treated])]
    g = (2005.0, 2006.0)
    obs = att(treated[0], treated[1], g)
    stats = np.array([att(a, b, g) for a in range(n) for b in range(n) if a != b])
    assert res.estimate == pytest.approx(obs, rel=1e-9)
    assert res.inference_details["exact"] and res.inference_details["n_draws"] == 930
    expect = np.mean(np.abs(stats) >= abs(obs) * (1 - 1e-9))
    assert res.pvalue == pytest.approx(expect, abs=1e-12)


def test_poisson_bad_input_says_what_to_do(castle):
    with pytest.raises(DataError, match="non-negative counts"):
        impact.did(
            castle.assign(y=castle["homicide_c"] - 10),
            outcome="y",
            family="poisson",
            **KW,
        )
    with pytest.raises(DataError, match="numerator= and denominator="):
        impact.did(castle, outcome="homicide", family="poisson", **KW)
    with pytest.raises(SpecError, match="is a log"):
        impact.did(
            castle, outcome="l_homicide", family="poisson", log_outcome=True, **KW
        )
    with pytest.raises(SpecError, match="denominator="):
        impact.did(
            castle, outcome="homicide_c", family="poisson", weights="population", **KW
        )
    with pytest.raises(SpecError, match="family= is an option"):
        impact.did(
            castle,
            outcome="homicide_c",
            unit="sid",
            time="year",
            cohort="effyear",
            method="imputation",
            family="poisson",
        )


def test_poisson_rate_batch_reproduces_the_estimate(castle):
    """Randomization inference on a rate: the batch turns the rates back into counts
    (rate x exposure / rate scale) before refitting; on the observed assignment it
    gives the estimate pinned by the GLM brute force above."""
    from impact.did.modern import modern_batch

    res = impact.did(
        castle,
        outcome="rate",
        numerator="homicide_c",
        denominator="population",
        family="poisson",
        control="never",
        inference="analytic",
        **KW,
    )
    panel = res._panel
    batch = modern_batch("etwfe", panel, None, res._call)
    got = batch(panel.Y, panel.cohort[None, :])[0]
    assert got == pytest.approx(res.estimate, rel=1e-9)
