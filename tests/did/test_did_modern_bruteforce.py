"""Imputation (BJS) and two-stage estimates and standard errors against dense brute force.

The peers pinned in test_did_modern_reference.py (diff-diff 3.13, R didimputation and
did2s READMEs) are unweighted or cluster by unit. Here unit weights vary within cohorts
and clusters hold several units, and every number is rebuilt from the formulas with
dense dummy-variable least squares written in this file:

- estimate (Borusyak, Jaravel and Spiess 2024, eq. 5): weighted least squares of ``Y``
  on unit and period dummies over the untreated cells, imputed ``Y(0)`` on the treated
  cells, ``tau = Y - Y(0)``, averaged over the treated cells with weights ``w``;
- its implied weights ``v`` (estimate ``= sum v Y``): ``omega`` on the treated cells
  and ``-W0 Z0 (Z0' W0 Z0)^-1 Z1' omega`` on the untreated ones;
- conservative variance (BJS Theorem 3, the cohort x period partition of R
  ``didimputation`` and diff-diff): untreated cells keep their first-stage residual,
  treated cells use ``tau - tau_tilde`` with ``tau_tilde`` the cell's mean of ``tau``
  weighted by ``v**2``; ``V = sum_clusters (sum v e)^2``, no finite-sample factor.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact

N, T = 16, 7
COHORT = np.array([3] * 4 + [5] * 4 + [0] * 8)  # period index of adoption; 0 = never


def _panel() -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2024)
    Y = (
        rng.normal(size=(N, 1))
        + np.linspace(0, 1, T)[None, :]
        + rng.normal(scale=0.3, size=(N, T))
    )
    treated = (COHORT[:, None] > 0) & (np.arange(T)[None, :] >= COHORT[:, None])
    Y = Y + treated * (0.5 + 0.2 * rng.normal(size=(N, T)))
    w_unit = rng.uniform(0.5, 3.0, size=N)  # varies within every cohort
    clusters = np.arange(N) // 2  # two units per cluster (same cohort)
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(N), T),
            "year": np.tile(2000 + np.arange(T), N),
            "y": Y.ravel(),
            "cohort": np.repeat(np.where(COHORT > 0, 2000 + COHORT, 0), T),
            "w": np.repeat(w_unit, T),
            "cl": np.repeat(clusters, T),
        }
    )
    return df, Y, np.broadcast_to(w_unit[:, None], (N, T)), clusters


def _bjs_bruteforce(
    Y: np.ndarray, W: np.ndarray, clusters: np.ndarray
) -> tuple[float, float]:
    treated = (COHORT[:, None] > 0) & (np.arange(T)[None, :] >= COHORT[:, None])
    cells = np.argwhere(np.ones((N, T), bool))
    Z = np.zeros((N * T, N + T - 1))
    Z[np.arange(N * T), cells[:, 0]] = 1.0
    has_t = cells[:, 1] > 0  # period 0 is the base level
    Z[np.flatnonzero(has_t), N + cells[has_t, 1] - 1] = 1.0
    y, w, tr = Y.ravel(), W.ravel(), treated.ravel()
    Z0, Z1 = Z[~tr], Z[tr]
    xtx = Z0.T @ (w[~tr, None] * Z0)
    beta = np.linalg.solve(xtx, Z0.T @ (w[~tr] * y[~tr]))
    tau = y[tr] - Z1 @ beta
    omega = w[tr] / w[tr].sum()
    est = float(omega @ tau)
    v = np.zeros(N * T)
    v[tr] = omega
    v[~tr] = -(w[~tr, None] * Z0) @ np.linalg.solve(xtx, Z1.T @ omega)
    assert float(v @ y) == pytest.approx(est, abs=1e-12)  # v reproduces the estimate
    e = np.zeros(N * T)
    e[~tr] = y[~tr] - Z0 @ beta
    unit_tr, time_tr = cells[tr, 0], cells[tr, 1]
    e_tr = np.empty(tr.sum())
    for g in np.unique(COHORT[COHORT > 0]):
        for t in range(g, T):
            sel = (COHORT[unit_tr] == g) & (time_tr == t)
            v2 = v[tr][sel] ** 2
            e_tr[sel] = tau[sel] - (v2 * tau[sel]).sum() / v2.sum()
    e[tr] = e_tr
    scores = np.bincount(clusters[cells[:, 0]], weights=v * e)
    return est, float(np.sqrt((scores**2).sum()))


@pytest.mark.parametrize("level", [0.0, 50.0])
def test_weighted_clustered_imputation_matches_bjs_brute_force(level: float) -> None:
    """``level`` shifts every outcome (absorbed by the unit effects): the estimate and
    SE do not move, and residuals small next to the outcome's scale are still noise,
    not an exact fit."""
    df, Y, W, clusters = _panel()
    est, se = _bjs_bruteforce(Y, W, clusters)
    res = impact.did(
        df.assign(y=df["y"] + level),
        outcome="y",
        unit="unit",
        time="year",
        cohort="cohort",
        weights="w",
        cluster="cl",
        method="imputation",
        inference="analytic",
    )
    assert res.estimate == pytest.approx(est, abs=1e-10)
    # exact algebra: the same formula, so agreement to rounding
    assert res.se == pytest.approx(se, rel=1e-8)
    # clustering matters here (a unit-clustered SE differs by more than 1%)
    by_unit = _bjs_bruteforce(Y, W, np.arange(N))[1]
    assert abs(by_unit - se) > 0.01 * se


def _imputation_with_covariate(
    Y: np.ndarray, W: np.ndarray, x: np.ndarray, cohort: np.ndarray
) -> float:
    """Dense WLS of Y on unit and period dummies and ``x`` over the untreated cells."""
    treated = (cohort[:, None] > 0) & (np.arange(T)[None, :] >= cohort[:, None])
    cells = np.argwhere(np.ones((N, T), bool))
    Z = np.zeros((N * T, N + T))
    Z[np.arange(N * T), cells[:, 0]] = 1.0
    has_t = cells[:, 1] > 0
    Z[np.flatnonzero(has_t), N + cells[has_t, 1] - 1] = 1.0
    Z[:, -1] = x.ravel()
    y, w, tr = Y.ravel(), W.ravel(), treated.ravel()
    beta = np.linalg.lstsq(
        np.sqrt(w[~tr, None]) * Z[~tr], np.sqrt(w[~tr]) * y[~tr], rcond=None
    )[0]
    tau = y[tr] - Z[tr] @ beta
    return float(w[tr] @ tau / w[tr].sum())


def test_covariate_batch_matches_dense_least_squares() -> None:
    """Randomization inference with covariates: every re-assigned cohort vector gives
    the dense imputation estimate (slopes re-fitted on that assignment's untreated
    cells)."""
    from impact.did.modern import modern_batch
    from impact.panel import Panel

    df, Y, W, _ = _panel()
    rng = np.random.default_rng(5)
    x = rng.normal(size=(N, T)) + 0.5 * np.arange(T)[None, :]
    df["x"] = x.ravel()
    panel = Panel(
        df,
        outcome="y",
        unit="unit",
        time="year",
        cohort="cohort",
        weights="w",
        covariates="x",
    )
    batch = modern_batch("imputation", panel, x[:, :, None], {"method": "imputation"})
    perm = rng.permutation(COHORT)
    labels = np.stack([COHORT, perm]).astype(float)
    labels = np.where(labels > 0, 2000 + labels, np.inf)
    got = batch(Y, labels)
    for j, coh in enumerate((COHORT, perm)):
        want = _imputation_with_covariate(Y, W, x, coh)
        assert got[j] == pytest.approx(want, abs=1e-10)


@pytest.mark.parametrize("level", [0.0, 50.0])
def test_weighted_etwfe_matches_dense_wls(level: float) -> None:
    """Wooldridge's ETWFE (not-yet-treated): WLS of Y on unit and period dummies and one
    dummy per treated (cohort, period) cell; the overall ATT weights each cell's
    coefficient by the cohort's total weight in that period (Wooldridge 2021, eq. 7.4
    with weights), and every cell has event time >= 0. SE: CRV1 by unit with
    ``G/(G-1) (n-1)/(n-K)``, ``K`` = cells + periods (unit effects nested in the
    clusters, as fixest), from the dense sandwich. ``level`` shifts every outcome
    (absorbed by the unit effects; small residuals are still noise)."""
    df, Y, W, _ = _panel()
    df = df.assign(y=df["y"] + level)
    treated = (COHORT[:, None] > 0) & (np.arange(T)[None, :] >= COHORT[:, None])
    cell_list = [(g, t) for g in (3, 5) for t in range(g, T)]
    cells = np.argwhere(np.ones((N, T), bool))
    Z = np.zeros((N * T, N + T - 1 + len(cell_list)))
    Z[np.arange(N * T), cells[:, 0]] = 1.0
    has_t = cells[:, 1] > 0
    Z[np.flatnonzero(has_t), N + cells[has_t, 1] - 1] = 1.0
    for j, (g, t) in enumerate(cell_list):
        Z[:, N + T - 1 + j] = (COHORT[cells[:, 0]] == g) & (cells[:, 1] == t)
    w = W.ravel()
    y = Y.ravel() + level
    xtx_inv = np.linalg.inv(Z.T @ (w[:, None] * Z))
    coef = xtx_inv @ (Z.T @ (w * y))
    resid = y - Z @ coef
    scores = np.zeros((N, Z.shape[1]))
    np.add.at(scores, cells[:, 0], Z * (w * resid)[:, None])
    n_obs = N * T
    factor = N / (N - 1) * (n_obs - 1) / (n_obs - (len(cell_list) + T))
    V = (factor * xtx_inv @ scores.T @ scores @ xtx_inv)[N + T - 1 :, N + T - 1 :]
    beta = coef[N + T - 1 :]
    size = np.array([W[COHORT == g, t].sum() for g, t in cell_list])
    assert treated.sum() == sum((COHORT == g).sum() for g, _ in cell_list)
    res = impact.did(
        df,
        outcome="y",
        unit="unit",
        time="year",
        cohort="cohort",
        weights="w",
        method="etwfe",
        control="notyet",
        inference="analytic",
    )
    att = res.att_gt.set_index(["group", "time"])
    for j, (g, t) in enumerate(cell_list):
        row = att.loc[(2000 + g, 2000 + t)]
        assert row["att"] == pytest.approx(beta[j], abs=1e-10)
        assert row["event_time"] == t - g and bool(row["post"])
    a = size / size.sum()
    assert res.estimate == pytest.approx(a @ beta, abs=1e-10)
    assert res.se == pytest.approx(np.sqrt(a @ V @ a), rel=1e-8)


def test_etwfe_covariate_weight_matrix_reproduces_the_estimate() -> None:
    """The wild bootstrap's weights for ETWFE with a covariate give the estimate
    (``sum(A * Y)``) and an effect of 1 for a unit shift of every treated cell."""
    from impact.did.api import _cohort_index
    from impact.did.modern import modern_batch, modern_weight_matrix
    from impact.panel import Panel

    df, Y, _, _ = _panel()
    rng = np.random.default_rng(8)
    x = rng.normal(size=(N, T)) + 0.3 * np.arange(T)[None, :]
    df["x"] = x.ravel()
    kw = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}
    res = impact.did(
        df, **kw, covariates="x", method="etwfe", control="notyet", inference="analytic"
    )
    panel = Panel(df, **kw, covariates="x")
    A = modern_weight_matrix(
        "etwfe", panel, _cohort_index(panel), x[:, :, None], {"control": "notyet"}
    )
    assert float(np.sum(A * Y)) == pytest.approx(res.estimate, abs=1e-10)
    assert float(np.sum(A * panel.D)) == pytest.approx(1.0, abs=1e-10)
    # randomization inference refits per assignment; the observed one gives the fit
    batch = modern_batch("etwfe", res._panel, x[:, :, None], res._call)
    got = batch(res._panel.Y, res._panel.cohort[None, :])[0]
    assert got == pytest.approx(res.estimate, abs=1e-10)
