"""The Result protocol: printing, tidy frames, JSON-safe dicts, plots."""

from __future__ import annotations

import json

import matplotlib.axes
import numpy as np
import pandas as pd
import pytest

from impact.results import EstimateResult, Result, jsonable, normal_ci


def make_result() -> Result:
    return Result(
        estimator="demo",
        estimate=-2.0,
        se=1.0,
        n_treated=5,
        n_control=145,
        warnings=["5 treated units: analytic cluster SEs over-reject"],
    )


def test_normal_defaults():
    r = make_result()
    low, high = r.ci
    assert low == pytest.approx(-2 - 1.959964, abs=1e-6)
    assert high == pytest.approx(-2 + 1.959964, abs=1e-6)
    assert r.pvalue == pytest.approx(0.0455003, abs=1e-6)
    assert normal_ci(0.0, 1.0, 0.1)[1] == pytest.approx(1.644854, abs=1e-6)


def test_summary_has_no_ids_or_times_and_lists_warnings():
    text = make_result().summary()
    assert "0x" not in text and "Date" not in text
    assert "Treated units: 5" in text and "over-reject" in text
    assert repr(make_result()) == text
    assert "<pre" in make_result()._repr_html_()


def test_to_dict_is_json_safe_with_protocol_keys():
    d = make_result().to_dict()
    for key in [
        "estimator",
        "estimate",
        "se",
        "ci",
        "pvalue",
        "n_treated",
        "n_control",
        "warnings",
    ]:
        assert key in d
    json.dumps(d, allow_nan=False)


def test_jsonable_nan_and_numpy():
    out = jsonable(
        {"a": np.float64("nan"), "b": np.arange(2), "c": pd.Series({"x": 1.5})}
    )
    assert out == {"a": None, "b": [0, 1], "c": {"x": 1.5}}


def test_estimate_result_table_and_plot():
    table = pd.DataFrame({"event_time": [0, 1], "estimate": [1.0, 2.0]})
    r = EstimateResult(
        estimator="agg", estimate=1.5, se=0.5, n_treated=2, n_control=3, table=table
    )
    assert r.to_frame().shape == (2, 2)
    assert "event_time" in r.summary()
    assert isinstance(r.plot(), matplotlib.axes.Axes)
    json.dumps(r.to_dict(), allow_nan=False)
