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
    json.dumps(d, allow_nan=False)
    # estimate -2, SE 1: the 95% normal interval -2 -/+ 1.959964 and p = 2 Phi(-2)
    assert d["estimator"] == "demo"
    assert d["estimate"] == -2.0 and d["se"] == 1.0
    assert d["ci"] == pytest.approx([-3.959964, -0.040036], abs=1e-6)
    assert d["pvalue"] == pytest.approx(0.0455003, abs=1e-6)
    assert (d["n_treated"], d["n_control"]) == (5, 145)
    assert d["alpha"] == 0.05
    assert d["warnings"] == ["5 treated units: analytic cluster SEs over-reject"]


def test_alpha_sets_the_default_interval_and_its_label():
    r = Result(
        estimator="demo", estimate=-2.0, se=1.0, n_treated=5, n_control=145, alpha=0.1
    )
    # 90%: -2 -/+ 1.644854; the p-value does not depend on alpha
    assert r.ci == pytest.approx((-3.644854, -0.355146), abs=1e-6)
    assert r.pvalue == pytest.approx(0.0455003, abs=1e-6)
    assert "[90% conf. interval]" in r.summary()
    row = r.to_frame().iloc[0]
    assert (row["conf_low"], row["conf_high"]) == pytest.approx(r.ci)
    half = Result(estimator="demo", estimate=-2.0, se=0.5, n_treated=5, n_control=9)
    assert half.to_frame().iloc[0]["statistic"] == pytest.approx(-4.0)  # -2 / 0.5


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
    pd.testing.assert_frame_equal(r.to_frame(), table)
    assert "event_time" in r.summary()
    ax = r.plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    # the figure is the headline point and its 95% normal interval, 1.5 -/+ z_.975 x
    # 0.5 (scipy.stats.norm.ppf), drawn as an error bar at x = 0
    from matplotlib.container import ErrorbarContainer
    from scipy import stats

    (bar,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    np.testing.assert_allclose(bar.lines[0].get_xydata(), [[0.0, 1.5]])
    (seg,) = bar.lines[2][0].get_segments()
    half = stats.norm.ppf(0.975) * 0.5
    np.testing.assert_allclose(seg, [[0.0, 1.5 - half], [0.0, 1.5 + half]], atol=1e-12)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["table"] == [
        {"event_time": 0, "estimate": 1.0},
        {"event_time": 1, "estimate": 2.0},
    ]
