"""Several outcomes in one impact.did call: Holm and Romano-Wolf adjusted p-values.

References:
- Holm: statsmodels ``multipletests(method="holm")`` on the same unadjusted p-values.
- Romano-Wolf: a brute-force step-down loop written here (Romano and Wolf 2005,
  Algorithm 4.1; Clarke, Romano and Wolf 2020, Stata Journal 20(4)) over the
  studentized randomization |t| draws / wild-bootstrap |t| draws that single-outcome
  calls with the same seed produce (so the joint draws are the inference's own).
- Monte Carlo: family-wise error rate under the complete null with 2 treated of 40
  calibrated authorities (generate_la_panel: AR(1) 0.975 log rate), three outcomes
  (two independent, one their sum): FWER of Romano-Wolf within 5% +/- (2 MC SE + 1
  point); the unadjusted "any p <= 0.05" rule is shown to exceed it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

import impact
from impact.data.synthetic import generate_la_panel
from impact.did.multi import MultiOutcomeResult, holm, romano_wolf
from impact.errors import DataError, ImpactWarning, SpecError

KW = {"unit": "la_code", "time": "year", "cohort": "cohort", "method": "cs"}
OUTCOMES = ["y1", "y2", "y3"]


def _panel(seed: int, n_units: int = 40, treated: int = 2) -> pd.DataFrame:
    a = generate_la_panel(
        n_units=n_units, start=2012, end=2021, seed=seed, cohorts={2018: treated}
    )
    b = generate_la_panel(
        n_units=n_units, start=2012, end=2021, seed=seed + 10**6, n_treated=0
    )
    df = a[["la_code", "year", "cohort"]].copy()
    df["y1"] = np.log(a["cla_rate"].to_numpy())
    df["y2"] = np.log(b["cla_rate"].to_numpy())
    df["y3"] = 0.7 * df["y1"] + 0.7 * df["y2"]
    return df


def _did(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        return impact.did(**kw)


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 7):
        p = rng.uniform(0, 0.2, size=k)
        expect = multipletests(p, method="holm")[1]
        np.testing.assert_allclose(holm(p), expect, atol=1e-15)


def _brute_rw(stat, draws):
    """Step-down max-T by explicit loops (no vectorisation)."""
    k = len(stat)
    order = sorted(range(k), key=lambda j: -stat[j])
    p = np.empty(k)
    prev = 0.0
    for rank, j in enumerate(order):
        rest = order[rank:]
        hits = 0
        for b in range(draws.shape[0]):
            if max(draws[b, r] for r in rest) >= stat[j] * (1 - 1e-10) - 1e-14:
                hits += 1
        prev = max(prev, hits / draws.shape[0])
        p[j] = prev
    return p


@pytest.mark.parametrize("inference", ["permutation", "wild"])
def test_romano_wolf_is_the_step_down_over_the_inference_draws(inference):
    df = _panel(seed=11, treated=4)
    multi = _did(
        data=df, outcome=OUTCOMES, inference=inference, n_boot=199, seed=5, **KW
    )
    assert isinstance(multi, MultiOutcomeResult)
    frame = multi.to_frame()
    assert list(frame.columns) == [
        "outcome",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pvalue",
        "pvalue_holm",
        "pvalue_romano_wolf",
    ]
    singles = [
        _did(data=df, outcome=o, inference=inference, n_boot=199, seed=5, **KW)
        for o in OUTCOMES
    ]
    np.testing.assert_allclose(frame["estimate"], [s.estimate for s in singles])
    np.testing.assert_allclose(frame["pvalue"], [s.pvalue for s in singles])
    if inference == "permutation":
        # studentized randomization inference: the zero-effect |t| of the headline
        # row under every re-assignment (the draws each p-value counts)
        rows = [s._rows.rows("simple")[1] for s in singles]
        draws = np.column_stack([np.abs(r.t_zero[:, -1]) for r in rows])
        stat = np.array([draws[r.observed, k] for k, r in enumerate(rows)])
        for k, r in enumerate(rows):  # the single p-values are these draws' shares
            assert r.pvalue[-1] == pytest.approx(
                np.mean(draws[:, k] >= stat[k] * (1 - 1e-10) - 1e-14), abs=1e-12
            )
    else:
        stat = np.array([abs(s.inference_details["t_stat"]) for s in singles])
        draws = np.column_stack(
            [np.abs(s.inference_details["t_boot"]) for s in singles]
        )
    expect = _brute_rw(stat, draws)
    np.testing.assert_allclose(frame["pvalue_romano_wolf"], expect, atol=1e-12)
    np.testing.assert_allclose(
        frame["pvalue_holm"], multipletests(frame["pvalue"], method="holm")[1]
    )
    assert (frame["pvalue_romano_wolf"] >= frame["pvalue"] - 1e-12).all()
    text = multi.summary()
    assert "R-W" in text and "y3" in text
    d = multi.to_dict()
    assert d["outcomes"][0]["outcome"] == "y1" and d["primary_outcome"] == "y1"
    assert d["estimate"] == multi["y1"].estimate and set(d["results"]) == set(OUTCOMES)
    assert (
        multi.aggregate("dynamic").estimate == multi["y1"].aggregate("dynamic").estimate
    )


@pytest.mark.parametrize("inference", ["permutation", "wild"])
def test_romano_wolf_with_one_outcome_is_the_unadjusted_p(inference):
    df = _panel(seed=3, treated=4)
    multi = _did(data=df, outcome=["y1"], inference=inference, n_boot=199, seed=2, **KW)
    row = multi.to_frame().iloc[0]
    assert row["pvalue_romano_wolf"] == pytest.approx(row["pvalue"], abs=1e-12)
    assert row["pvalue_holm"] == pytest.approx(row["pvalue"], abs=1e-12)


def test_romano_wolf_function_on_a_hand_example():
    stat = np.array([3.0, 1.0, 2.0])
    draws = np.array(
        [[0.5, 2.5, 0.1], [3.5, 0.0, 0.0], [0.0, 0.0, 2.5], [0.2, 0.3, 0.4]]
    )
    # outcome 0 (largest): max over all >= 3 in draw 2 only -> 1/4
    # outcome 2: max over {2, 1} >= 2 in draws 1 (2.5) and 3 (2.5) -> 2/4
    # outcome 1: max over {1} >= 1 in draw 1 -> 1/4, monotone -> 2/4
    np.testing.assert_allclose(romano_wolf(stat, draws), [0.25, 0.5, 0.5])


def test_outcome_list_errors_name_the_problem():
    df = _panel(seed=1)
    with pytest.raises(
        DataError, match=r"Outcome column\(s\) \['cpp_rate'\] not found"
    ):
        impact.did(df, outcome=["y1", "cpp_rate"], **KW)
    with pytest.raises(SpecError, match="more than once"):
        impact.did(df, outcome=["y1", "y1"], **KW)
    with pytest.raises(SpecError, match="build one rate"):
        impact.did(df, outcome=["y1", "y2"], numerator="y1", denominator="y2", **KW)
    panel = impact.Panel(df, unit="la_code", time="year", outcome="y1", cohort="cohort")
    with pytest.raises(SpecError, match="needs a DataFrame"):
        impact.did(panel, outcome=["y1", "y2"])


def test_analytic_regression_says_romano_wolf_is_unavailable():
    df = _panel(seed=2, n_units=60, treated=30)
    multi = _did(
        data=df, outcome=["y1", "y2"], **{**KW, "method": "twfe"}, inference="analytic"
    )
    assert multi.to_frame()["pvalue_romano_wolf"].isna().all()
    assert any("Romano-Wolf p-values are not available" in w for w in multi.warnings)


def test_numerator_and_denominator_build_the_rate_in_did():
    df = generate_la_panel(n_units=30, start=2014, end=2021, seed=4, cohorts={2018: 5})
    direct = _did(
        data=df,
        outcome="rate",
        numerator="cla_count",
        denominator="child_pop",
        unit="la_code",
        time="year",
        cohort="cohort",
        method="twfe",
        inference="analytic",
    )
    built = df.assign(rate=df["cla_count"] / df["child_pop"] * 10_000)
    ref = _did(
        data=built,
        outcome="rate",
        unit="la_code",
        time="year",
        cohort="cohort",
        method="twfe",
        inference="analytic",
    )
    assert direct.estimate == pytest.approx(ref.estimate, rel=1e-12)
    panel = direct._panel
    wide = df.pivot(index="la_code", columns="year", values="child_pop")
    np.testing.assert_allclose(panel.denominator, wide.to_numpy())
    assert direct._call["denominator"] == "child_pop"


def _fwer(reps: int, seed0: int) -> tuple[float, float]:
    any_rw = any_raw = 0
    for s in range(seed0, seed0 + reps):
        t = _did(
            data=_panel(s),
            outcome=OUTCOMES,
            inference="permutation",
            n_boot=199,
            seed=s,
            **KW,
        ).to_frame()
        any_rw += bool((t["pvalue_romano_wolf"] <= 0.05).any())
        any_raw += bool((t["pvalue"] <= 0.05).any())
    return any_rw / reps, any_raw / reps


def _check_fwer(rate: float, reps: int) -> None:
    mcse = np.sqrt(0.05 * 0.95 / reps)
    assert abs(rate - 0.05) <= 2 * mcse + 0.01, rate


def test_romano_wolf_controls_fwer_with_two_treated_reduced():
    reps = 60
    rw, _ = _fwer(reps, 0)
    _check_fwer(rw, reps)


@pytest.mark.slow
def test_romano_wolf_controls_fwer_with_two_treated_full():
    reps = 500
    rw, raw = _fwer(reps, 1000)
    _check_fwer(rw, reps)
    assert raw > 0.05 + 2 * np.sqrt(0.05 * 0.95 / reps)  # unadjusted over-rejects


def test_outcomes_with_and_without_gaps_share_raw_randomization_draws():
    df = _panel(seed=8, treated=4)
    df.loc[(df["la_code"] == df["la_code"].iloc[0]) & (df["year"] == 2013), "y2"] = (
        np.nan
    )
    multi = _did(
        data=df,
        outcome=["y1", "y2"],
        balance="keep",
        inference="permutation",
        n_boot=199,
        seed=4,
        **KW,
    )
    assert any("share the same re-assignments" in w for w in multi.warnings)
    frame = multi.to_frame()
    assert frame["pvalue_romano_wolf"].notna().all()
    single = _did(
        data=df,
        outcome="y1",
        balance="keep",
        inference="permutation",
        n_boot=199,
        seed=4,
        _raw_permutation=True,
        **KW,
    )
    assert frame["pvalue"].iloc[0] == pytest.approx(single.pvalue, abs=1e-12)
    assert (frame["pvalue_romano_wolf"] >= frame["pvalue"] - 1e-12).all()
