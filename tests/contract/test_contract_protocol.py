"""The Result protocol (DESIGN.md, "The Result protocol") for every public estimator."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from contract_cases import CASES
from matplotlib.axes import Axes

BASE_KEYS = {
    "estimator",
    "estimate",
    "se",
    "ci",
    "pvalue",
    "n_treated",
    "n_control",
    "warnings",
}
EXTRA_KEYS = {
    "did": {"att_gt", "aggregates"},
    "synth": {"weights", "pre_rmspe", "placebo_pvalue"},
    "match": {"balance", "n_matched"},
    "matched_did": {"balance", "n_matched"},
    "power": {"table", "mde"},
    "bacon": set(),
}
# An ISO-like date or a clock time: summaries must be reproducible text.
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}|\b\d{2}:\d{2}:\d{2}\b")


def family(case: str) -> str:
    return case.split("-")[0]


@pytest.mark.parametrize("case", CASES)
def test_protocol_attributes(case: str, fitted: Callable[[str], Any]) -> None:
    res = fitted(case)
    assert isinstance(res.warnings, list)
    assert all(isinstance(w, str) and w for w in res.warnings)
    assert isinstance(res.estimator, str) and res.estimator
    assert isinstance(res.n_treated, int | np.integer) and res.n_treated > 0
    assert isinstance(res.n_control, int | np.integer) and res.n_control > 0
    if case == "power-simulate":
        return  # a design study has no point estimate; its numbers are in .table
    assert math.isfinite(res.estimate), "never a silent NaN estimate"
    assert math.isfinite(res.se) and res.se >= 0
    lo, hi = res.ci
    assert math.isfinite(lo) and math.isfinite(hi) and lo <= hi
    assert 0.0 <= res.pvalue <= 1.0


@pytest.mark.parametrize("case", CASES)
def test_summary_and_html_are_reproducible_text(
    case: str, fitted: Callable[[str], Any]
) -> None:
    res = fitted(case)
    text = res.summary()
    html = res._repr_html_()
    assert isinstance(text, str) and text.strip()
    assert isinstance(html, str) and "<" in html
    assert repr(res) == text
    for out in (text, html):
        assert "0x" not in out, "object ids leak into the output"
        assert not TIMESTAMP.search(out), "timestamps make the output irreproducible"
    assert res.summary() == text


@pytest.mark.parametrize("case", CASES)
def test_to_frame_is_a_dataframe(case: str, fitted: Callable[[str], Any]) -> None:
    frame = fitted(case).to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) >= 1


@pytest.mark.parametrize("case", CASES)
def test_to_dict_is_json_safe_with_design_keys(
    case: str, fitted: Callable[[str], Any]
) -> None:
    res = fitted(case)
    d = res.to_dict()
    text = json.dumps(d, allow_nan=False)  # raises on NaN/inf or numpy scalars
    assert json.loads(text) == d
    missing = (BASE_KEYS | EXTRA_KEYS[family(case)]) - set(d)
    assert not missing, f"{case}.to_dict() lacks {sorted(missing)}"
    assert d["estimator"] == res.estimator
    assert d["n_treated"] == res.n_treated and d["n_control"] == res.n_control
    assert d["warnings"] == list(res.warnings)
    if case != "power-simulate":
        assert d["estimate"] == pytest.approx(res.estimate, rel=1e-12)
        assert d["se"] == pytest.approx(res.se, rel=1e-12)
        assert d["ci"] == pytest.approx(list(res.ci), rel=1e-12)
    if family(case) == "did":
        assert isinstance(d["att_gt"], list) and isinstance(d["aggregates"], dict)
    if family(case) == "synth":
        assert isinstance(d["weights"], dict)
        # study files address weights by unit name, e.g. quantity = "weights.Utah"
        assert set(d["weights"]) == {str(u) for u in res.weights.index}
        assert sum(d["weights"].values()) == pytest.approx(1.0, abs=1e-6)
    if family(case) == "power":
        assert isinstance(d["table"], list) and isinstance(d["mde"], dict)


@pytest.mark.parametrize("case", CASES)
def test_plot_returns_axes_and_accepts_ax(
    case: str, fitted: Callable[[str], Any]
) -> None:
    res = fitted(case)
    ax = res.plot()
    assert isinstance(ax, Axes)
    _, given = plt.subplots()
    assert res.plot(ax=given) is given
    assert given.get_title() or given.get_xlabel() or given.get_ylabel()


def test_did_att_gt_frame(fitted: Callable[[str], Any]) -> None:
    res = fitted("did-cs")
    cols = {"group", "time", "att", "se", "ci_low", "ci_high"}
    assert cols <= set(res.att_gt.columns)
    # cs/sunab: the result's own estimate/se are the "simple" aggregate's.
    for case in ("did-cs", "did-sunab"):
        res = fitted(case)
        simple = res.aggregate("simple")
        assert res.estimate == pytest.approx(simple.estimate, rel=1e-12)
        assert res.se == pytest.approx(simple.se, rel=1e-12)


@pytest.mark.parametrize("case", ["synth-abadie", "synth-augmented", "synth-sdid"])
def test_synth_attributes(case: str, fitted: Callable[[str], Any]) -> None:
    res = fitted(case)
    assert isinstance(res.weights, pd.Series)
    assert "California" not in res.weights.index
    assert (res.weights >= -1e-9).all() or case == "synth-augmented"
    assert res.gaps is not None
    assert math.isfinite(res.pre_rmspe) and math.isfinite(res.post_rmspe)
    if case != "synth-sdid":
        assert res.balance is not None and res.v is not None
        placebo = res.placebo()
        assert 0.0 < placebo.pvalue <= 1.0
        assert isinstance(placebo.table, pd.DataFrame)
        assert {"unit", "pre_rmspe", "post_rmspe", "ratio"} <= set(
            placebo.table.columns
        )
        assert res.to_dict()["placebo_pvalue"] == pytest.approx(placebo.pvalue)


def test_match_attributes(fitted: Callable[[str], Any]) -> None:
    res = fitted("match")
    bal = res.balance()
    assert isinstance(bal, pd.DataFrame) and len(bal) >= 6
    # DESIGN: SMD, variance ratio, before/after
    for col in ("smd_before", "smd_after", "var_ratio_before", "var_ratio_after"):
        assert col in bal.columns
    assert isinstance(res.matched, pd.DataFrame) and len(res.matched) > 0
    assert res.to_dict()["n_matched"] > 0


def test_power_result_attributes(fitted: Callable[[str], Any]) -> None:
    res = fitted("power-simulate")
    table = res.table
    assert {"n_treated", "effect", "power", "bias", "rmse", "coverage"} <= set(
        table.columns
    )
    assert len(table) == 4  # one row per n_treated x effect
    assert table["power"].between(0, 1).all()
    mde = res.mde(power=0.8)
    assert isinstance(mde, pd.Series)
    assert list(mde.index) == [3, 6]
    assert isinstance(res.verdict(0.2), str) and res.verdict(0.2)


@pytest.mark.parametrize("case", ["did-cs", "did-twfe", "synth-abadie", "match"])
def test_assess_and_design(case: str, fitted: Callable[[str], Any]) -> None:
    from impact.power import assess

    res = fitted(case)
    a = assess(res)
    line = str(a)
    assert line and "0x" not in line
    assert str(res.design()) == line


@pytest.mark.parametrize("case", CASES)
def test_plot_unknown_kind_raises(case: str, fitted: Callable[[str], Any]) -> None:
    from impact.errors import SpecError

    with pytest.raises(SpecError, match="'kind' parameter"):
        fitted(case).plot(kind="nonsense")


def test_did_att_gt_rows_in_to_dict(fitted: Callable[[str], Any]) -> None:
    rows = fitted("did-cs").to_dict()["att_gt"]
    assert len(rows) == len(fitted("did-cs").att_gt)
    assert {"group", "time", "att", "se", "ci_low", "ci_high"} <= set(rows[0])
    aggs = fitted("did-cs").to_dict()["aggregates"]
    for kind in ("simple", "dynamic", "group", "calendar"):
        assert {"estimate", "se", "ci", "pvalue"} <= set(aggs[kind])


# Variants whose uncertainty is NaN by design: the NaN must be explained by a warning
# and serialised as null (never NaN in JSON, never silent).
NAN_VARIANTS = [
    ("synth-abadie", {"inference": None}, "No inference"),
    ("synth-abadie", {"inference": "conformal"}, "Conformal"),
    (
        "power-simulate",
        {"effect": [0.0, 0.01], "n_sims": 6},
        "80% power is not reached",
    ),
]


@pytest.mark.parametrize(
    ("case", "opts", "note"),
    NAN_VARIANTS,
    ids=["synth-no-inference", "synth-conformal", "power-mde-not-reached"],
)
def test_nan_uncertainty_is_explained(
    case: str, opts: dict, note: str, datasets: dict
) -> None:
    from contract_cases import fit_case

    res = fit_case(case, datasets, **opts)
    values = [res.estimate, res.se, res.pvalue, *res.ci]
    assert any(not math.isfinite(v) for v in values)
    assert any(note in w for w in res.warnings), res.warnings
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    for key in ("estimate", "se", "pvalue"):
        value = getattr(res, key)
        assert (d[key] is None) == (not math.isfinite(value))
