"""Few-treated inference for impact.bacon's TWFE coefficient and the CS bootstrap.

The reference for the randomization p-value is a brute-force loop written here: the
TWFE coefficient recomputed by Frisch-Waugh-Lovell for every re-assignment of the one
treated authority (150 of them), not the package's own output.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.data.synthetic import generate_la_panel

KW = {"outcome": "y", "unit": "la_code", "time": "year", "cohort": "cohort"}


def _cla(seed: int, cohorts: dict[int, int]) -> pd.DataFrame:
    df = generate_la_panel(seed=seed, cohorts=cohorts, assignment="random")
    # log(1 + rate): a small authority can have no child in care in a year
    return df.assign(y=np.log1p(df["cla_rate"]))


def _twfe(Y: np.ndarray, D: np.ndarray) -> float:
    dt = D - D.mean(1, keepdims=True) - D.mean(0, keepdims=True) + D.mean()
    return float((dt * Y).sum() / (dt * D).sum())


def _unit_noise(Y: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's noise and the AR(1) covariance, as documented in
    impact.inference.studentized, written out here for the brute force."""
    n, t = Y.shape
    d = np.diff(Y[:, :first], axis=1)
    r = d - d.mean(axis=0)
    k = first - 1
    v = (r**2).sum(axis=1) / (k - k / n)
    v = np.maximum(v, 0.01 * np.median(v))
    z = r / np.sqrt(v)[:, None]
    rho = float(
        np.clip(1 + 2 * (z[:, 1:] * z[:, :-1]).sum() / (z[:, :-1] ** 2).sum(), 0, 1)
    )
    s = np.arange(t)
    if rho >= 0.99:
        return v, np.minimum.outer(s, s) + 1.0
    return v * (1 + rho) / 2, rho ** np.abs(np.subtract.outer(s, s)) / (1 - rho**2)


def _twfe_t(Y: np.ndarray, D: np.ndarray, v: np.ndarray, R: np.ndarray) -> float:
    dt = D - D.mean(1, keepdims=True) - D.mean(0, keepdims=True) + D.mean()
    A = dt / (dt * D).sum()  # beta = sum(A * Y)
    se = np.sqrt(np.einsum("nt,ts,ns,n->", A, R, A, v))
    return float((A * Y).sum() / se)


def test_bacon_one_treated_unit_exact_randomization_p() -> None:
    df = _cla(seed=1, cohorts={2018: 1})
    res = impact.bacon(df, **KW)
    assert res.inference == "permutation"
    wide = df.pivot(index="la_code", columns="year", values="y")
    Y = wide.to_numpy()
    treated = wide.index.get_loc(df.loc[df["cohort"] > 0, "la_code"].iloc[0])
    post = np.asarray(wide.columns >= 2018)
    v, R = _unit_noise(Y, int(np.argmax(post)))
    betas, stats = [], []
    for j in range(Y.shape[0]):  # every re-assignment of the one treated unit
        D = np.zeros_like(Y)
        D[j, post] = 1.0
        betas.append(_twfe(Y, D))
        stats.append(_twfe_t(Y, D, v, R))
    b, t = np.array(betas), np.array(stats)
    assert res.estimate == pytest.approx(b[treated], rel=1e-10)
    # studentized randomization p-value: share of |t| at least the observed one
    expect = np.mean(np.abs(t) >= abs(t[treated]) * (1 - 1e-9))
    assert res.pvalue == pytest.approx(expect, abs=1e-12)
    assert res.pvalue >= 0.02  # the CRV1 t-test says 4e-29 on this panel
    analytic = impact.bacon(df, **KW, inference="analytic")
    assert analytic.pvalue < 1e-10
    assert any("1 treated unit: analytic" in w for w in analytic.warnings)
    assert res.estimate == analytic.estimate
    assert "Inference: permutation" in res.summary()


def test_bacon_matches_did_twfe_inference() -> None:
    df = _cla(seed=4, cohorts={2016: 2, 2018: 3})
    a = impact.bacon(df, **KW, seed=7)
    b = impact.did(df, **KW, method="twfe", seed=7)
    assert a.inference == b.inference == "permutation"
    assert a.estimate == pytest.approx(b.estimate, rel=1e-10)
    assert a.pvalue == pytest.approx(b.pvalue, abs=1e-12)
    assert a.ci == pytest.approx(b.ci, rel=1e-8)


def test_cs_multiplier_bootstrap_one_treated_unit_warns() -> None:
    df = _cla(seed=1, cohorts={2018: 1})
    res = impact.did(df, **KW, method="cs", inference="bootstrap", seed=1)
    assert any(
        "1 treated unit: the multiplier bootstrap" in w and "over-rejects" in w
        for w in res.warnings
    )


def _bacon_size(reps: int) -> float:
    hits = 0
    for r in range(reps):
        df = _cla(seed=500 + r, cohorts={2016: 2, 2019: 3})
        hits += impact.bacon(df, **KW, n_boot=99, seed=r).pvalue <= 0.05
    return hits / reps


def _band(reps: int) -> float:
    return 2 * np.sqrt(0.05 * 0.95 / reps) + 0.01


def test_bacon_size_five_treated_reduced() -> None:
    """Random adoption, 5 of 150 calibrated authorities: 5% +/- 2 MCSE + 1 point."""
    reps = 150
    assert abs(_bacon_size(reps) - 0.05) <= _band(reps)


@pytest.mark.slow
def test_bacon_size_five_treated_full() -> None:
    reps = 1000
    assert abs(_bacon_size(reps) - 0.05) <= _band(reps)
