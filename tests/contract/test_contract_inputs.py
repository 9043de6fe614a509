"""Data model (DESIGN.md, "Data model"): DataFrame or Panel input, treatment encodings,
alpha and the few-treated diagnostics."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from contract_cases import SYN

import impact
from impact import Panel
from tests.did import perm_reference as pr

COLS: dict[str, Any] = {"outcome": "cla_rate", "unit": "la_code", "time": "year"}


@pytest.fixture(scope="module")
def panel(syn: pd.DataFrame) -> Panel:
    return Panel(syn, **COLS, cohort="cohort")


def _did_pair(method: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def from_frame(d: pd.DataFrame) -> Any:
        return impact.did(d, **SYN, method=method)

    def from_panel(p: Panel) -> Any:
        return impact.did(p, method=method)

    return from_frame, from_panel


@pytest.mark.parametrize(
    ("name", "from_frame", "from_panel"),
    [
        (f"did-{m}", *_did_pair(m))
        for m in ["twfe", "event_study", "cs", "sunab", "imputation", "did2s", "etwfe"]
    ]
    + [
        ("bacon", lambda d: impact.bacon(d, **SYN), lambda p: impact.bacon(p)),
        (
            "matched_did",
            lambda d: impact.matched_did(d, **SYN),
            lambda p: impact.matched_did(p),
        ),
        (
            "panel_did_mde",
            lambda d: impact.power.panel_did_mde(d, **COLS, n_treated=5, pre=5, post=3),
            lambda p: impact.power.panel_did_mde(p, n_treated=5, pre=5, post=3),
        ),
    ],
)
def test_panel_and_dataframe_give_the_same_answer(
    name: str,
    from_frame: Callable[[pd.DataFrame], Any],
    from_panel: Callable[[Panel], Any],
    syn: pd.DataFrame,
    panel: Panel,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = from_frame(syn), from_panel(panel)
    a_est = getattr(a, "estimate", a)
    b_est = getattr(b, "estimate", b)
    assert a_est == pytest.approx(b_est, rel=1e-12)


@pytest.mark.parametrize("never", [np.nan, np.inf, 0])
def test_never_treated_encodings_agree(never: float, syn: pd.DataFrame) -> None:
    base = impact.did(syn, **SYN)
    coded = syn.assign(cohort=syn["cohort"].astype(float).replace(0.0, never))
    res = impact.did(coded, **SYN)
    assert res.estimate == pytest.approx(base.estimate, rel=1e-12)
    assert res.n_control == base.n_control


def test_treated_indicator_equals_cohort(syn: pd.DataFrame) -> None:
    a = impact.did(syn, **SYN)
    b = impact.did(syn, **COLS, treated="treated")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert a.se == pytest.approx(b.se, rel=1e-12)


def test_alpha_sets_the_interval(syn: pd.DataFrame) -> None:
    wide = impact.did(syn, **SYN, alpha=0.05)
    narrow = impact.did(syn, **SYN, alpha=0.10)
    assert narrow.alpha == 0.10
    assert narrow.ci[1] - narrow.ci[0] < wide.ci[1] - wide.ci[0]
    # normal-approximation CS interval: half-width z_{1-alpha/2} * se (exact identity)
    from scipy.stats import norm

    half = (narrow.ci[1] - narrow.ci[0]) / 2
    assert half == pytest.approx(norm.ppf(0.95) * narrow.se, rel=1e-6)


def test_weights_are_used(syn: pd.DataFrame) -> None:
    plain = impact.did(syn, **SYN)
    weighted = impact.did(syn, **SYN, weights="child_pop")
    assert weighted.estimate != pytest.approx(plain.estimate, rel=1e-6)
    # every ATT(g,t) by hand: weighted mean change of cohort g minus that of the
    # never treated (R did's weightsname; each unit's first-period weight)
    wide = syn.pivot(index="la_code", columns="year", values="cla_rate")
    first = syn.sort_values("year").groupby("la_code").first()
    w = first["child_pop"].reindex(wide.index).to_numpy(float)
    cohort = first["cohort"].reindex(wide.index).to_numpy(float)
    years = wide.columns.to_numpy()
    never = cohort == 0
    for row in weighted.att_gt.itertuples():
        base = row.group - 1 if row.time >= row.group else row.time - 1
        dy = wide[row.time].to_numpy() - wide[base].to_numpy()
        g = cohort == row.group
        expect = np.average(dy[g], weights=w[g]) - np.average(
            dy[never], weights=w[never]
        )
        assert row.att == pytest.approx(expect, abs=1e-9), (row.group, row.time)
    assert base in years


def _three_treated(syn: pd.DataFrame) -> pd.DataFrame:
    units = sorted(syn.loc[syn["cohort"] == 2018, "la_code"].unique())[:3]
    keep = (syn["cohort"] == 0) | syn["la_code"].isin(units)
    return syn.loc[keep].reset_index(drop=True)


def test_few_treated_analytic_warns(syn: pd.DataFrame) -> None:
    """DESIGN: "3 treated units: analytic cluster SEs over-reject; use inference='wild'
    or 'permutation'"."""
    res = impact.did(_three_treated(syn), **SYN, method="twfe", inference="analytic")
    text = " ".join(res.warnings)
    assert "3 treated" in text
    assert "wild" in text and "permutation" in text


def test_few_treated_auto_switches_inference(syn: pd.DataFrame) -> None:
    res = impact.did(_three_treated(syn), **SYN, method="twfe", seed=1)
    assert res.to_dict()["inference"] in {"wild", "permutation"}
    # 3 of 33 units treated: C(33, 3) = 5456 > 5000 assignments, so 999 are sampled;
    # with the observed one p = k/1000, 1 <= k <= 1000
    assert res.to_dict()["inference"] == "permutation"
    # Brute force (tests/did/perm_reference.py): the same 999 seeded re-assignments
    # plus the observed one, the TWFE coefficient's weights D~ / sum(D~ D) and the
    # unit-noise studentization written out in the test; p = (1 + #{|t*| >= |t|}) /
    # 1000. Same draws on both sides, so equal to rounding (1e-12).
    df = _three_treated(syn)
    Y = df.pivot(index=SYN["unit"], columns=SYN["time"], values=SYN["outcome"])
    years = Y.columns.to_numpy()
    first = df.groupby(SYN["unit"])[SYN["cohort"]].first().reindex(Y.index)
    cidx = np.where(first > 0, np.searchsorted(years, first), np.inf)
    C = pr.sampled_assignments(cidx, 999, seed=1)
    t = pr.studentized_stats(Y.to_numpy(), C, pr.twfe_weights, first=int(cidx.min()))
    assert res.pvalue == pytest.approx(pr.sampled_pvalue(t), abs=1e-12)
    assert res.pvalue == pytest.approx(0.757, abs=1e-12)  # the value, stated
