"""The Result protocol (DESIGN.md, "The Result protocol") for every public estimator."""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from contract_cases import CASES, LALONDE_COVS
from matplotlib.axes import Axes
from scipy import stats

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
# the brute-force balance statistics of the matching tests (balance_by_hand.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "matching"))
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
    assert (
        0.0 <= res.pvalue <= 1.0
    )  # the protocol; DiD values: test_did_headline_values


REF = Path(__file__).parent / "reference"
#: headline (estimate, se) of each analytic DiD case on the contract panel, from peers
#: run on the same data (scripts in reference/): csdid 0.4.3 (= R did 2.5) for "cs";
#: pyfixest 0.60.0 feols with CRV1 by LA for "twfe" (and bacon, whose estimate is the
#: TWFE coefficient), "event_study", "sunab"; diff-diff 3.13.0 for "imputation",
#: "did2s" and "etwfe" (never-treated comparisons).
_PEER_ROW = {
    "did-cs": ("syn_csdid_aggte.csv", "kind", "simple"),
    "did-twfe": ("syn_pyfixest.csv", "kind", "twfe"),
    "bacon": ("syn_pyfixest.csv", "kind", "twfe"),
    "did-event_study": ("syn_pyfixest.csv", "kind", "es_simple"),
    "did-sunab": ("syn_pyfixest.csv", "kind", "simple"),
    "did-imputation": ("syn_diffdiff.csv", "method", "imputation"),
    "did-did2s": ("syn_diffdiff.csv", "method", "did2s"),
    "did-etwfe": ("syn_diffdiff.csv", "method", "etwfe"),
}


@pytest.mark.parametrize("case", sorted(_PEER_ROW))
def test_did_headline_values(case: str, fitted: Callable[[str], Any]) -> None:
    # tolerance 1e-9 relative: closed forms, peers agree to ~1e-14 (pyfixest's
    # demeaning moves the last digits between runs)
    name, col, key = _PEER_ROW[case]
    ref = pd.read_csv(REF / name)
    row = ref[(ref[col] == key) & (ref["key1"].isna() if "key1" in ref else True)]
    est, se = float(row["att"].iloc[0]), float(row["se"].iloc[0])
    res = fitted(case)
    assert res.estimate == pytest.approx(est, rel=1e-9)
    assert res.se == pytest.approx(se, rel=1e-9)
    z = stats.norm.ppf(0.975)
    assert res.ci == pytest.approx((est - z * se, est + z * se), rel=1e-9)
    assert res.pvalue == pytest.approx(2 * stats.norm.sf(abs(est / se)), rel=1e-7)


def test_did_2x2_permutation_headline(
    syn_one_cohort: pd.DataFrame, fitted: Callable[[str], Any]
) -> None:
    """One cohort (2018, 5 LAs) vs 30 never treated; auto -> permutation (5 treated).

    Brute force: the 2x2 estimate is mean(post) - mean(pre) of the treated minus that
    of the controls; every one of the C(35, 5) = 324,632 assignments is enumerated
    here, giving the exact p-value. impact samples 999 of them (seeded in
    contract_cases.py), so p = (1 + #) / 1000 is within 4 binomial SDs + 1/1000 of the exact one
    (a wrong-tail p, 1 - p, is far outside).
    """
    import itertools

    res = fitted("did-2x2")
    assert res.inference == "permutation"
    wide = syn_one_cohort.pivot(index="la_code", columns="year", values="cla_rate")
    first = syn_one_cohort.groupby("la_code")["cohort"].first().reindex(wide.index)
    post = wide.columns >= 2018
    d = (wide.loc[:, post].mean(axis=1) - wide.loc[:, ~post].mean(axis=1)).to_numpy()
    treated = (first > 0).to_numpy()
    k, n, total = int(treated.sum()), len(d), d.sum()
    est = d[treated].mean() - d[~treated].mean()
    assert res.estimate == pytest.approx(est, abs=1e-10)
    combos = np.array(list(itertools.combinations(range(n), k)))
    s = d[combos].sum(axis=1)
    dist = s / k - (total - s) / (n - k)
    exact = float(np.mean(np.abs(dist) >= abs(est) - 1e-9 * (1 + abs(est))))
    assert len(dist) == 324_632
    sd = np.sqrt(exact * (1 - exact) / 999)
    assert abs(res.pvalue - exact) <= 4 * sd + 1 / 1000, (res.pvalue, exact)


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
    res = fitted(case)
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame)
    if case == "power-simulate":
        # one row per n_treated x effect; power is a share of the 20 draws
        assert sorted(zip(frame["n_treated"], frame["effect"], strict=True)) == [
            (3, 0.0),
            (3, 0.2),
            (6, 0.0),
            (6, 0.2),
        ]
        assert (frame["n_sims"] == 20).all()
        assert np.allclose(frame["power"] * 20, np.round(frame["power"] * 20))
        assert np.allclose(
            frame["rmse"] ** 2, frame["bias"] ** 2 + frame["sd"] ** 2 * 19 / 20
        )
        return
    if case == "bacon":
        # Goodman-Bacon (2021): the TWFE estimate is the weighted sum of the 2x2s
        assert frame["weight"].sum() == pytest.approx(1.0, abs=1e-9)
        assert float((frame["weight"] * frame["estimate"]).sum()) == pytest.approx(
            res.estimate, rel=1e-8
        )
        return
    # the first row is the headline, in the result's own fields
    head = frame.iloc[0]
    assert head["term"] == "ATT"
    assert head["estimate"] == pytest.approx(res.estimate, rel=1e-12)
    assert head["std_error"] == pytest.approx(res.se, rel=1e-12)
    assert head["statistic"] == pytest.approx(res.estimate / res.se, rel=1e-9)
    assert head["conf_low"] == pytest.approx(res.ci[0], rel=1e-12)
    assert head["conf_high"] == pytest.approx(res.ci[1], rel=1e-12)
    assert head["p_value"] == pytest.approx(res.pvalue, rel=1e-12)
    if family(case) == "synth":
        assert head["pre_rmspe"] == pytest.approx(res.pre_rmspe, rel=1e-12)


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
        assert isinstance(placebo.table, pd.DataFrame)
        tab = placebo.table
        assert {"unit", "pre_rmspe", "post_rmspe", "ratio"} <= set(tab.columns)
        # Abadie et al. (2010) placebo p-value recomputed from the printed table: the
        # share of units (California included) whose post/pre MSPE ratio is at least
        # California's; no MSPE threshold by default, so all 13 units count.
        assert placebo.mspe_threshold is None and tab["kept"].all() and len(tab) == 13
        np.testing.assert_allclose(
            tab["ratio"], tab["post_rmspe"] ** 2 / tab["pre_rmspe"] ** 2, rtol=1e-10
        )
        ca = tab[tab["treated"]].iloc[0]
        assert ca["pre_rmspe"] == pytest.approx(res.pre_rmspe, rel=1e-10)
        assert ca["post_rmspe"] == pytest.approx(res.post_rmspe, rel=1e-10)
        share = float(np.mean(tab["ratio"] >= ca["ratio"] * (1 - 1e-12)))
        assert placebo.pvalue == pytest.approx(share, abs=1e-12)
        assert placebo.pvalue == pytest.approx(
            {"synth-abadie": 2 / 13, "synth-augmented": 1 / 13}[case], abs=1e-12
        )
        assert res.to_dict()["placebo_pvalue"] == pytest.approx(placebo.pvalue)


def test_match_attributes(fitted: Callable[[str], Any], lalonde: pd.DataFrame) -> None:
    from balance_by_hand import balance_row

    res = fitted("match")
    bal = res.balance().set_index("covariate")
    # DESIGN: SMD, variance ratio, before/after; one row per covariate after the
    # matching distance; every value recomputed from the data and the weights
    assert list(bal.index) == ["distance", *LALONDE_COVS]
    df = lalonde
    d = df["treat"].to_numpy() == 1
    w = res.weights.to_numpy(dtype=float)
    for cov in LALONDE_COVS:
        want = balance_row(df[cov].to_numpy(dtype=float), d, w)
        for col, value in want.items():
            got = bal.loc[cov, col]
            assert (math.isnan(value) and math.isnan(got)) or got == pytest.approx(
                value, rel=1e-10
            ), (cov, col)
    # 1:1 nearest neighbour without replacement (the default): every treated unit
    # matched to one distinct control
    m = res.matched
    assert len(m) == int(d.sum()) == res.n_matched == res.to_dict()["n_matched"]
    assert set(m["focal"]) == set(np.flatnonzero(d))
    assert m["match"].is_unique and not d[m["match"].to_numpy()].any()
    assert (w[d] == 1).all() and w[~d].sum() == d.sum()


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
