"""Linear forms theta = sum(A * Y) and vectorised batches (consistency tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.did import linear
from impact.did.api import _cohort_index

KW = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}
CASES = [
    ("cs", {}),
    ("cs", {"control": "notyet"}),
    ("twfe", {}),
    ("event_study", {}),
    ("event_study", {"bins": (-2, 2)}),
    ("sunab", {}),
    ("sunab", {"ref_period": [-1, -2, -3, -4]}),
]


@pytest.fixture(scope="module")
def panel(reference_data):
    return impact.Panel(pd.read_csv(reference_data / "mpdta.csv"), **KW)


@pytest.mark.parametrize(("method", "opts"), CASES)
def test_weight_matrix_reproduces_estimate(panel, method, opts):
    res = impact.did(panel, method=method, **opts)
    A = linear.weight_matrix(method, panel, _cohort_index(panel), **opts)
    # exact algebra; 1e-13 allows floating-point summation order
    assert float(np.sum(A * panel.Y)) == pytest.approx(res.estimate, abs=1e-13)
    # the effect of adding 1 to every treated cell is 1 (needed by the wild bootstrap)
    assert float(np.sum(A * panel.D)) == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize(("method", "opts"), CASES)
def test_batch_equals_refits(panel, method, opts):
    rng = np.random.default_rng(3)
    cohorts = np.stack(
        [panel.cohort] + [rng.permutation(panel.cohort) for _ in range(3)]
    )
    batch = linear.make_estimate_batch(method, panel, **opts)
    got = batch(panel.Y, cohorts)
    want = [
        impact.did(panel.with_cohort(c), method=method, **opts).estimate
        for c in cohorts
    ]
    np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)


def test_2x2_linear(reference_data):
    ck = pd.read_csv(reference_data / "card_krueger.csv").dropna(subset=["fte"])
    p = impact.Panel(
        ck, outcome="fte", unit="id", time="d", treated="d_nj", balance="drop"
    )
    res = impact.did(p, method="2x2")
    A = linear.weight_matrix("2x2", p, _cohort_index(p))
    assert float(np.sum(A * p.Y)) == pytest.approx(res.estimate, abs=1e-12)
    batch = linear.make_estimate_batch("2x2", p)
    perm = np.random.default_rng(0).permutation(p.cohort)
    got = batch(p.Y, np.stack([p.cohort, perm]))
    assert got[0] == pytest.approx(res.estimate, abs=1e-12)
    assert got[1] == pytest.approx(
        impact.did(p.with_cohort(perm), method="2x2").estimate, abs=1e-12
    )


def test_weighted_cs_batch(reference_data):
    df = pd.read_csv(reference_data / "mpdta.csv")
    p = impact.Panel(df.assign(w=np.exp(df["lpop"])), weights="w", **KW)
    perm = np.random.default_rng(1).permutation(p.cohort)
    batch = linear.make_estimate_batch("cs", p)
    got = batch(p.Y, np.stack([p.cohort, perm]))
    assert got[0] == pytest.approx(impact.did(p).estimate, abs=1e-12)
    assert got[1] == pytest.approx(impact.did(p.with_cohort(perm)).estimate, abs=1e-12)
