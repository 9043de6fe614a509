"""Randomization-inference rows of ``impact.did`` against a loop over every assignment.

With two periods before adoption there is one period-to-period change per unit, too
few to estimate each unit's noise, so the rows permute raw estimates (every unit's noise
taken as one, ``impact.inference.studentized``). One cohort of 3 among 8 units gives
C(8, 3) = 56 assignments, all enumerated. Each row's standard error is then the same
under every assignment (``||h||^2 (1/n1 + 1/n0)``), so the documented studentized
interval ``estimate -/+ q se`` is ``estimate -/+`` the ``ceil(0.95 * 56)``-th smallest
``|estimate|`` over the assignments of the outcome with the estimated post-period
effects removed; the band uses the same order statistic of the row-wise maximum; the
p-value is the share of assignments whose ``|estimate|`` (outcome as observed) is at
least the observed one.

Reference: the loop below, which recomputes every ATT(g,t) / event-time coefficient as
a difference of mean changes (one cohort and never-treated units: Callaway-Sant'Anna
cells and the saturated event study are both these 2x2 contrasts). Tolerance 1e-10.

The planted effects (2 and 3) are large next to the noise, so leaving them in the null
outcome (or leaving one event time's effect in) widens the intervals far beyond the
tolerance.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import impact

N, T, G, N1 = 8, 4, 2, 3
K = math.ceil(0.95 * math.comb(N, N1)) - 1  # 54th smallest of 56


def _data() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(5)
    Y = rng.normal(size=(N, 1)) + rng.normal(size=(N, T))
    treated = np.zeros(N, dtype=bool)
    treated[:N1] = True
    Y[:N1, G:] += np.array([2.0, 3.0])
    df = pd.DataFrame(
        {
            "unit": np.repeat(np.arange(N), T),
            "year": np.tile(2000 + np.arange(T), N),
            "y": Y.ravel(),
            "cohort": np.repeat(np.where(treated, 2000 + G, 0), T),
        }
    )
    return Y, treated, df


def _dd(Y: np.ndarray, tr: np.ndarray, t: int, b: int) -> float:
    """Mean change from ``b`` to ``t``, treated minus comparison (a loop over units)."""
    d1 = [Y[i, t] - Y[i, b] for i in range(N) if tr[i]]
    d0 = [Y[i, t] - Y[i, b] for i in range(N) if not tr[i]]
    return sum(d1) / len(d1) - sum(d0) / len(d0)


def _all_labels() -> list[np.ndarray]:
    out = []
    for idx in itertools.combinations(range(N), N1):
        tr = np.zeros(N, dtype=bool)
        tr[list(idx)] = True
        out.append(tr)
    return out


def _rows_reference(
    Y: np.ndarray, treated: np.ndarray, cells: list[tuple[int, int]]
) -> dict[str, np.ndarray]:
    """Estimates, interval half-widths, band half-width, p-values of 2x2 rows."""
    est = np.array([_dd(Y, treated, t, b) for t, b in cells])
    Y0 = Y.copy()
    for t in range(G, T):  # remove each post-period effect from the treated units
        Y0[treated, t] -= _dd(Y, treated, t, G - 1)
    null = np.array([[_dd(Y0, tr, t, b) for t, b in cells] for tr in _all_labels()])
    zero = np.array([[_dd(Y, tr, t, b) for t, b in cells] for tr in _all_labels()])
    half = np.sort(np.abs(null), axis=0)[K]
    band = np.sort(np.abs(null).max(axis=1))[K]
    pval = (np.abs(zero) >= np.abs(est) * (1 - 1e-12)).mean(axis=0)
    return {"est": est, "half": half, "band": band, "p": pval}


def _fit(df: pd.DataFrame, method: str) -> impact.DiDResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            df,
            outcome="y",
            unit="unit",
            time="year",
            cohort="cohort",
            method=method,
            inference="permutation",
            n_boot=99,
            seed=1,
        )
    assert res.inference == "permutation"
    assert res.inference_details["exact"] and not res.inference_details["studentized"]
    return res


def test_cs_cells_and_headline_equal_the_loop() -> None:
    Y, treated, df = _data()
    res = _fit(df, "cs")
    # varying base: pre cell (1, 0); post cells (2, 1), (3, 1)
    cells = [(1, 0), (2, 1), (3, 1)]
    ref = _rows_reference(Y, treated, cells)
    tab = res.att_gt
    np.testing.assert_allclose(tab["att"], ref["est"], rtol=1e-10)
    np.testing.assert_allclose(tab["ci_low"], ref["est"] - ref["half"], atol=1e-10)
    np.testing.assert_allclose(tab["ci_high"], ref["est"] + ref["half"], atol=1e-10)
    np.testing.assert_allclose(tab["pvalue"], ref["p"], atol=1e-12)
    # the three cells share one SE (||h||^2 = 2), so the sup-t band is a raw maximum
    np.testing.assert_allclose(tab["band_low"], ref["est"] - ref["band"], atol=1e-10)
    np.testing.assert_allclose(tab["band_high"], ref["est"] + ref["band"], atol=1e-10)
    # headline: the mean of the two post cells
    simple = _simple_reference(Y, treated)
    assert res.estimate == pytest.approx(simple["est"], rel=1e-10)
    lo, hi = res.ci
    assert lo == pytest.approx(simple["est"] - simple["half"], abs=1e-10)
    assert hi == pytest.approx(simple["est"] + simple["half"], abs=1e-10)
    assert res.pvalue == pytest.approx(simple["p"], abs=1e-12)


def _simple_reference(Y: np.ndarray, treated: np.ndarray) -> dict[str, float]:
    def simple(Ya: np.ndarray, tr: np.ndarray) -> float:
        return (_dd(Ya, tr, 2, 1) + _dd(Ya, tr, 3, 1)) / 2

    est = simple(Y, treated)
    Y0 = Y.copy()
    for t in range(G, T):
        Y0[treated, t] -= _dd(Y, treated, t, G - 1)
    null = np.array([simple(Y0, tr) for tr in _all_labels()])
    zero = np.array([simple(Y, tr) for tr in _all_labels()])
    return {
        "est": est,
        "half": float(np.sort(np.abs(null))[K]),
        "p": float((np.abs(zero) >= abs(est) * (1 - 1e-12)).mean()),
    }


def test_cs_simple_aggregate_respects_max_e() -> None:
    """aggregate('simple', max_e=0) keeps only the event-time-0 cell in its interval."""
    Y, treated, df = _data()
    res = _fit(df, "cs")
    agg = res.aggregate("simple", max_e=0)
    ref = _rows_reference(Y, treated, [(2, 1)])
    assert agg.estimate == pytest.approx(ref["est"][0], rel=1e-10)
    assert agg.ci[0] == pytest.approx(ref["est"][0] - ref["half"][0], abs=1e-10)
    assert agg.ci[1] == pytest.approx(ref["est"][0] + ref["half"][0], abs=1e-10)
    assert agg.pvalue == pytest.approx(ref["p"][0], abs=1e-12)


@pytest.mark.parametrize("method", ["event_study", "sunab"])
def test_event_study_rows_equal_the_loop(method: str) -> None:
    """Saturated event study (reference period -1): coefficient e = the 2x2 contrast
    of period G + e against G - 1; the effects of e = 0 and e = 1 are removed."""
    Y, treated, df = _data()
    res = _fit(df, method)
    cells = [(0, 1), (2, 1), (3, 1)]  # e = -2, 0, 1 against the base period G - 1
    ref = _rows_reference(Y, treated, cells)
    es = res.event_study.set_index("event_time").loc[[-2, 0, 1]]
    np.testing.assert_allclose(es["estimate"], ref["est"], rtol=1e-10)
    np.testing.assert_allclose(es["conf_low"], ref["est"] - ref["half"], atol=1e-10)
    np.testing.assert_allclose(es["conf_high"], ref["est"] + ref["half"], atol=1e-10)
    np.testing.assert_allclose(es["p_value"], ref["p"], atol=1e-12)
    np.testing.assert_allclose(es["band_low"], ref["est"] - ref["band"], atol=1e-10)
    np.testing.assert_allclose(es["band_high"], ref["est"] + ref["band"], atol=1e-10)
    simple = _simple_reference(Y, treated)
    lo, hi = res.ci
    assert res.estimate == pytest.approx(simple["est"], rel=1e-10)
    assert lo == pytest.approx(simple["est"] - simple["half"], abs=1e-10)
    assert hi == pytest.approx(simple["est"] + simple["half"], abs=1e-10)
