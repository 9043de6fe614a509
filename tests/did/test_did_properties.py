"""Estimator invariants: row order, no mutation, idempotence, JSON output."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import impact

KW = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


@pytest.fixture(scope="module")
def mpdta(reference_data):
    return pd.read_csv(reference_data / "mpdta.csv")


@pytest.fixture(scope="module")
def baseline(mpdta):
    return {
        m: impact.did(mpdta, method=m, **KW)
        for m in ("cs", "twfe", "sunab", "event_study")
    }


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_row_order_does_not_matter(mpdta, baseline, seed):
    shuffled = mpdta.sample(frac=1.0, random_state=seed % (2**31))
    for method, base in baseline.items():
        res = impact.did(shuffled, method=method, **KW)
        # identical arithmetic after the Panel sorts rows; 1e-12 allows summation order
        assert res.estimate == pytest.approx(base.estimate, abs=1e-12)
        assert res.se == pytest.approx(base.se, abs=1e-12)


def test_input_not_mutated_and_idempotent(mpdta):
    before = mpdta.copy(deep=True)
    a = impact.did(mpdta, covariates="lpop", **KW)
    b = impact.did(mpdta, covariates="lpop", **KW)
    pd.testing.assert_frame_equal(mpdta, before)
    assert a.estimate == b.estimate and a.se == b.se


def test_panel_and_frame_inputs_agree(mpdta):
    panel = impact.Panel(mpdta, **KW)
    a = impact.did(panel, method="cs")
    b = impact.did(mpdta, method="cs", **KW)
    assert a.estimate == b.estimate


def test_to_dict_is_json_and_complete(baseline):
    for res in baseline.values():
        d = res.to_dict()
        json.dumps(d)
        for key in (
            "estimator",
            "estimate",
            "se",
            "ci",
            "pvalue",
            "n_treated",
            "n_control",
            "warnings",
            "att_gt",
            "aggregates",
        ):
            assert key in d
    d = baseline["cs"].to_dict()
    assert set(d["aggregates"]) == {"simple", "group", "dynamic", "calendar"}
    assert d["aggregates"]["simple"]["estimate"] == pytest.approx(d["estimate"])
    assert len(d["att_gt"]) == 12
    assert d["pretrend"]["pvalue"] == pytest.approx(0.16812, abs=1e-5)


def test_summary_and_frames(baseline):
    for res in baseline.values():
        text = res.summary()
        assert "ATT" in text and "Inference" in text
        frame = res.to_frame()
        assert {"estimate", "std_error", "conf_low", "conf_high"} <= set(frame.columns)
        assert "<pre" in res._repr_html_()
    agg = baseline["cs"].aggregate("group")
    assert "group=2004" in agg.summary()


def test_weights_scale_invariant_and_change_estimate(mpdta):
    df = mpdta.assign(w=np.exp(mpdta["lpop"]), w2=2 * np.exp(mpdta["lpop"]))
    a = impact.did(df, weights="w", **KW)
    b = impact.did(df, weights="w2", **KW)
    c = impact.did(df, **KW)
    assert a.estimate == pytest.approx(b.estimate, abs=1e-12)
    assert a.se == pytest.approx(b.se, abs=1e-12)
    assert abs(a.estimate - c.estimate) > 1e-4
    # a weighted TWFE with unit-constant weights equals WLS with unit/period dummies
    small = df[df["countyreal"].isin(df["countyreal"].unique()[::5])]
    tw = impact.did(small, weights="w", method="twfe", **KW)
    panel = impact.Panel(small, weights="w", **KW)
    n, t = panel.Y.shape
    X = np.column_stack(
        [
            panel.D.ravel().astype(float),
            np.kron(np.eye(n), np.ones((t, 1))),
            np.kron(np.ones((n, 1)), np.eye(t))[:, 1:],
        ]
    )
    sw = np.sqrt(panel.W.ravel())
    beta = np.linalg.lstsq(X * sw[:, None], panel.Y.ravel() * sw, rcond=None)[0]
    assert tw.estimate == pytest.approx(beta[0], abs=1e-10)


def test_cluster_option_changes_se_not_estimate(mpdta):
    df = mpdta.assign(region=mpdta["countyreal"] // 1000)
    a = impact.did(df, cluster="region", **KW)
    b = impact.did(df, **KW)
    assert a.estimate == b.estimate
    assert a.se != b.se and np.isfinite(a.se)
    # clusters equal to units reproduce the unit-level SE exactly
    c = impact.did(df.assign(cl=df["countyreal"]), cluster="cl", **KW)
    assert c.se == pytest.approx(b.se, abs=1e-14)
