"""Degenerate but legal-looking data: never a silent NaN (DESIGN.md, Errors)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from contract_cases import SYN

import impact
from impact import Panel
from impact.data import ar1_panel
from impact.errors import EstimationError, SpecError


def _additive(syn: pd.DataFrame) -> pd.DataFrame:
    """An outcome that unit and period effects fit exactly (zero residual)."""
    unit_effect = syn["la_code"].str[2:].astype(int).astype(float)
    return syn.assign(cla_rate=unit_effect + 0.5 * (syn["year"] - 2010))


@pytest.mark.parametrize(
    "method", ["twfe", "event_study", "cs", "sunab", "imputation", "did2s", "etwfe"]
)
def test_did_exactly_fitted_outcome_raises(method: str, syn: pd.DataFrame) -> None:
    with pytest.raises(EstimationError, match="fitted exactly"):
        impact.did(_additive(syn), **SYN, method=method)


def test_did_outcome_equal_to_time_raises(syn: pd.DataFrame) -> None:
    with pytest.raises(SpecError, match="given as both time= and outcome="):
        impact.did(syn, **{**SYN, "outcome": "year"}, method="cs")


def test_bacon_exactly_fitted_outcome_raises(syn: pd.DataFrame) -> None:
    with pytest.raises(EstimationError, match="fitted exactly"):
        impact.bacon(_additive(syn), **SYN)


def test_matched_did_zero_se_is_explained(syn: pd.DataFrame) -> None:
    res = impact.matched_did(_additive(syn), **SYN)
    assert res.estimate == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(res.pvalue)
    assert any("standard error is 0" in w for w in res.warnings)


@pytest.fixture(scope="module")
def one_treated() -> Panel:
    y = ar1_panel(20, 6, 0.5, seed=3, unit_sd=1.0, time_sd=1.0) + 50.0
    cohort = np.full(20, np.inf)
    cohort[1] = 2013.0
    return Panel.from_arrays(y, cohort, periods=np.arange(2010, 2016))


def _unit_changes(panel: Panel) -> np.ndarray:
    """Per unit: mean of 2013-2015 minus mean of 2010-2012 (the 2x2 contrast)."""
    y = np.asarray(panel.Y)
    return y[:, 3:].mean(axis=1) - y[:, :3].mean(axis=1)


def _one_treated_2x2(d: np.ndarray, treated: int) -> float:
    return float(d[treated] - np.delete(d, treated).mean())


def test_single_treated_2x2_analytic_nan_is_explained(one_treated: Panel) -> None:
    res = impact.did(one_treated, method="2x2", inference="analytic")
    # brute force: the treated unit's change minus the mean change of the 19 others
    d = _unit_changes(one_treated)
    assert res.estimate == pytest.approx(_one_treated_2x2(d, 1), abs=1e-10)
    assert math.isnan(res.se)
    assert any("undefined (NaN)" in w for w in res.warnings)
    assert res.to_dict()["se"] is None


def test_single_treated_auto_inference_is_finite(one_treated: Panel) -> None:
    res = impact.did(one_treated, method="2x2", seed=1)
    assert res.to_dict()["inference"] == "permutation"
    # Brute force: all 20 assignments of the one treated label (exact enumeration);
    # est_j = d_j - mean(d_-j). p = share of |est_j| >= |est_obs|; se = SD (ddof 1)
    # of the same distribution with the estimate removed from the treated unit
    # (Y - est D); the interval inverts the test: p <= 0.05 just outside each end.
    d = _unit_changes(one_treated)
    est = _one_treated_2x2(d, 1)

    def pvalue(tau: float) -> float:
        shifted = d - tau * (np.arange(20) == 1)
        dist = np.array([_one_treated_2x2(shifted, j) for j in range(20)])
        return float(np.mean(np.abs(dist) >= abs(dist[1]) - 1e-9 * (1 + abs(dist[1]))))

    null = d - est * (np.arange(20) == 1)
    se = float(np.std([_one_treated_2x2(null, j) for j in range(20)], ddof=1))
    assert res.estimate == pytest.approx(est, abs=1e-10)
    assert res.pvalue == pytest.approx(pvalue(0.0), abs=1e-12)
    assert res.pvalue == pytest.approx(1 / 20, abs=1e-12)  # the value, stated
    assert res.se == pytest.approx(se, rel=1e-10)
    lo, hi = res.ci
    eps = 1e-6 * (hi - lo)
    assert pvalue(lo - eps) <= 0.05 < pvalue(lo + eps)
    assert pvalue(hi + eps) <= 0.05 < pvalue(hi - eps)
