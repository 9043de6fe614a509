"""The study verdict's rules, one at a time, on fake results (impact/study/verdict.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from study_fakes import fake_dict, fake_power_dict

from impact.power.results import PowerResult
from impact.study.verdict import (
    CONCLUSIONS,
    analysis_role,
    is_significant,
    study_verdict,
)

PASS_PRE = {"pretrend_check": {"pvalue": 0.4, "method": "permutation"}}
CLEAN_SEL = {"statistic": 0.3, "pvalue": 0.6, "flag": False}
# power against a 10% fall with 20 treated: 0.9; with 10 treated: 0.3
CURVE = {
    10: {0.0: 0.05, -0.05: 0.1, -0.10: 0.3, -0.20: 0.8},
    20: {0.0: 0.05, -0.05: 0.3, -0.10: 0.9, -0.20: 1.0},
}


def _study(
    estimates: dict[str, dict[str, Any]],
    *,
    placebo: dict[str, Any] | None = None,
    power: dict[str, Any] | None = None,
    notes: dict[str, dict[str, Any]] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    analyses: dict[str, dict[str, Any]] = dict(estimates)
    roles = {k: "estimate" for k in estimates}
    if placebo is not None:
        analyses["placebo"] = placebo
        roles["placebo"] = "placebo"
    if power is not None:
        analyses["power"] = power
        roles["power"] = "power"
    kwargs.setdefault("baseline", 50.0)
    return study_verdict(analyses, roles=roles, notes=notes or {}, **kwargs)


def _good(**over: Any) -> dict[str, dict[str, Any]]:
    """Three agreeing, significant falls around -5 (10% of a baseline of 50)."""
    base = {
        "a": fake_dict(-5.0, (-8.0, -2.0), 0.001, selection=CLEAN_SEL),
        "b": fake_dict(-4.5, (-7.5, -1.5), 0.004, selection=CLEAN_SEL),
        "c": fake_dict(-5.5, (-9.0, -2.0), 0.002, selection=CLEAN_SEL),
    }
    base.update(over)
    return base


def _clean_placebo() -> dict[str, Any]:
    return fake_dict(0.5, (-2.0, 3.0), 0.7)


def test_roles() -> None:
    assert analysis_role("did") == "estimate"
    assert analysis_role("synth") == "estimate"
    assert analysis_role("matched_did") == "estimate"
    assert analysis_role("did", placebo_shift=3) == "placebo"
    assert analysis_role("power") == "power"
    assert analysis_role("bacon") == "descriptive"
    assert analysis_role("did", other_outcome=True) == "descriptive"
    assert analysis_role("power", other_outcome=True) == "power"


def test_significance_needs_p_and_ci_to_claim_and_either_to_doubt() -> None:
    # a synthetic control whose interval excludes zero but whose placebo p is 0.27
    d = fake_dict(-7.3, (-11.7, -2.9), 0.27)
    assert is_significant(d, both=True) == 0
    assert is_significant(d, both=False) == -1
    assert is_significant(fake_dict(-7.3, (-11.7, -2.9), 0.01)) == -1
    assert is_significant(fake_dict(3.0, (1.0, 5.0), None)) == 1
    assert is_significant(fake_dict(3.0, None, 0.01)) == 1
    assert is_significant(fake_dict(3.0, (-1.0, 5.0), 0.2)) == 0
    # the analysis's own alpha
    assert is_significant(fake_dict(3.0, None, 0.07, alpha=0.1)) == 1


def test_supported_when_estimates_agree_and_every_check_passes() -> None:
    v = _study(
        _good(),
        placebo=_clean_placebo(),
        power=fake_power_dict(CURVE),
        notes={"a": PASS_PRE},
        effect_of_interest=-0.10,
    )
    assert v["conclusion"] == "supported"
    assert v["conclusion"] in CONCLUSIONS
    assert v["headline"].startswith("Supported:")
    assert v["diagnostics"]["pretrends"]["status"] == "pass"
    assert v["diagnostics"]["placebo_in_time"]["status"] == "pass"
    assert v["diagnostics"]["selection"]["status"] == "pass"
    assert v["estimates"]["range"] == [-5.5, -4.5]
    assert v["estimates"]["ci_overlap"] == [-7.5, -2.0]
    assert v["power"]["n_treated"] == 20
    assert v["power"]["power_at_effect_of_interest"] == pytest.approx(0.9)
    assert v["reasons"][0].startswith("Estimates: 3 effect estimates range from -5.5")


@pytest.mark.parametrize(
    ("change", "failed"),
    [
        ({"notes": {"a": {"pretrend_check": {"pvalue": 0.01}}}}, "pretrends"),
        ({"placebo": fake_dict(3.0, (0.5, 5.5), 0.02)}, "placebo_in_time"),
        # a placebo significant by its interval alone still fails
        ({"placebo": fake_dict(3.0, (0.5, 5.5), 0.2)}, "placebo_in_time"),
        (
            {
                "estimates": _good(
                    b=fake_dict(
                        -4.5,
                        (-7.5, -1.5),
                        0.004,
                        selection={"statistic": 3.1, "pvalue": 0.01, "flag": True},
                    )
                )
            },
            "selection",
        ),
        # no flag: the p-value decides
        (
            {
                "estimates": _good(
                    b=fake_dict(-4.5, (-7.5, -1.5), 0.004, selection={"pvalue": 0.01})
                )
            },
            "selection",
        ),
    ],
)
def test_a_failed_diagnostic_makes_the_study_unreliable(
    change: dict[str, Any], failed: str
) -> None:
    kwargs: dict[str, Any] = {
        "placebo": _clean_placebo(),
        "power": fake_power_dict(CURVE),
        "notes": {"a": PASS_PRE},
        "effect_of_interest": -0.10,
    }
    estimates = change.pop("estimates", _good())
    kwargs.update(change)
    v = _study(estimates, **kwargs)
    assert v["conclusion"] == "unreliable"
    assert v["diagnostics"][failed]["status"] == "fail"
    others = [k for k in v["diagnostics"] if k != failed]
    assert all(v["diagnostics"][k]["status"] != "fail" for k in others)
    # the failed diagnostic is the first reason
    head = {
        "pretrends": "Pre-trends",
        "placebo_in_time": "Placebo",
        "selection": "Selection",
    }
    assert v["reasons"][0].startswith(head[failed])


def test_selection_as_impact_diagnostics_reports_it() -> None:
    # the shape of impact.diagnostics.selection's to_dict(): "flagged", "available"
    sel = {
        "available": True,
        "statistic": 2.9,
        "pvalue": 0.004,
        "flagged": True,
        "direction": "rising",
        "level_percentile": 0.6,
        "trend_percentile": 0.93,
    }
    same = {k: fake_dict(-5.0, (-8.0, -2.0), 0.001, selection=sel) for k in "ab"}
    v = _study(same)
    assert v["conclusion"] == "unreliable"
    text = v["reasons"][0]
    assert "rose faster than those of 93% of comparison units" in text
    assert "(in a, b)" in text  # one finding, said once
    assert "a fall afterwards may be regression to the mean" in text
    off = {"available": False, "reason": "a cohort has fewer than two pre-periods"}
    v = _study({"a": fake_dict(-5.0, (-8.0, -2.0), 0.001, selection=off)})
    assert v["diagnostics"]["selection"]["status"] == "not checked"
    assert any("fewer than two pre-periods" in r for r in v["reasons"])
    # flagged False is a pass even with a small p-value at a stricter alpha
    ok = {**sel, "flagged": False, "pvalue": 0.04}
    v = _study({"a": fake_dict(-5.0, (-8.0, -2.0), 0.001, selection=ok)})
    assert v["diagnostics"]["selection"]["status"] == "pass"


def test_analytic_pretrend_that_warns_is_not_used_but_a_clean_one_is() -> None:
    warned = {"pvalue": 1e-20, "warnings": ["this joint Wald test over-rejects"]}
    v = _study(_good(a=fake_dict(-5.0, (-8.0, -2.0), 0.001, pretrend=warned)))
    assert v["diagnostics"]["pretrends"]["status"] == "not checked"
    assert v["diagnostics"]["pretrends"]["ignored"] == ["a"]
    assert any("not valid here" in r for r in v["reasons"])
    clean = {"pvalue": 0.001, "warnings": [], "method": "Wald test"}
    v = _study(_good(a=fake_dict(-5.0, (-8.0, -2.0), 0.001, pretrend=clean)))
    assert v["conclusion"] == "unreliable"
    # the runner's permutation test wins over the analytic one
    v = _study(
        _good(a=fake_dict(-5.0, (-8.0, -2.0), 0.001, pretrend=clean)),
        notes={"a": PASS_PRE},
    )
    assert v["diagnostics"]["pretrends"]["status"] == "pass"


def test_missing_diagnostics_read_not_checked() -> None:
    estimates = {
        k: {kk: vv for kk, vv in d.items() if kk != "diagnostics"}
        for k, d in _good().items()
    }
    v = _study(estimates)
    assert v["conclusion"] == "supported"
    assert {d["status"] for d in v["diagnostics"].values()} == {"not checked"}
    assert "not checked" in v["headline"]
    assert any(
        r.startswith("Selection on the outcome: not checked") for r in v["reasons"]
    )
    assert v["power"] is None


def test_significant_but_underpowered_is_inconclusive() -> None:
    # 10 treated units: power 0.3 against a 10% fall -> type M, not "supported"
    estimates = {k: {**d, "n_treated": 10} for k, d in _good().items()}
    v = _study(estimates, power=fake_power_dict(CURVE), effect_of_interest=-0.10)
    assert v["power"]["n_treated"] == 10
    assert v["power"]["power_at_effect_of_interest"] == pytest.approx(0.3)
    assert v["conclusion"] == "inconclusive"
    assert "overstate" in v["headline"]


def test_mixed_estimates_with_too_little_power_are_not_detectable() -> None:
    estimates = _good(
        b=fake_dict(-2.0, (-5.0, 1.0), 0.2, selection=CLEAN_SEL),
        c=fake_dict(-1.0, (-4.0, 2.0), 0.5, selection=CLEAN_SEL),
    )
    # a 5% fall with 20 treated: power 0.3
    v = _study(estimates, power=fake_power_dict(CURVE), effect_of_interest=-0.05)
    assert v["conclusion"] == "not_detectable"
    assert v["reasons"][0].startswith("Power:")
    assert "about 30%" in v["reasons"][0]


def test_null_estimates_that_exclude_the_effect_of_interest_do_not_support_it() -> None:
    # baseline 50: a 10% fall is -5; every interval lies above -5
    estimates = {
        "a": fake_dict(-0.5, (-2.0, 1.0), 0.5),
        "b": fake_dict(0.2, (-1.5, 1.9), 0.8),
    }
    v = _study(estimates, power=fake_power_dict(CURVE), effect_of_interest=-0.10)
    assert v["conclusion"] == "not_supported"
    # one interval reaching -5 means the effect is not ruled out
    estimates["b"] = fake_dict(-2.0, (-5.5, 1.5), 0.3)
    v = _study(estimates, power=fake_power_dict(CURVE), effect_of_interest=-0.10)
    assert v["conclusion"] == "inconclusive"


def test_significant_in_the_wrong_direction_is_not_supported() -> None:
    estimates = {
        "a": fake_dict(3.0, (1.0, 5.0), 0.01),
        "b": fake_dict(2.5, (0.5, 4.5), 0.02),
        "c": fake_dict(1.0, (-1.0, 3.0), 0.3),
    }
    v = _study(estimates, effect_of_interest=-0.10)
    assert v["conclusion"] == "not_supported"
    assert v["estimates"]["significant_against"] == ["a", "b"]


def test_disagreement_is_inconclusive() -> None:
    sign = _good(c=fake_dict(1.0, (-2.0, 4.0), 0.5))
    v = _study(sign)
    assert v["conclusion"] == "inconclusive"
    assert "disagree in sign" in v["headline"]
    apart = _good(c=fake_dict(-15.0, (-20.0, -10.0), 0.001))
    v = _study(apart)
    assert v["estimates"]["ci_overlap"] is None
    assert v["conclusion"] == "inconclusive"
    assert "do not overlap" in v["headline"]


def test_no_effect_estimate_is_inconclusive() -> None:
    v = study_verdict(
        {"power": fake_power_dict(CURVE)}, roles={"power": "power"}, notes={}
    )
    assert v["conclusion"] == "inconclusive"
    assert "no analysis" in v["headline"]


def test_fragile_robustness_grid_withholds_support() -> None:
    grid = {
        "name": "windows",
        "base": "a",
        "summary": {
            "n_variants": 10,
            "share_same_sign_as_base": 0.7,
            "min": -5,
            "max": 1,
        },
    }
    v = _study(_good(), robustness=[grid])
    assert v["conclusion"] == "inconclusive"
    assert v["robustness"]["fragile"] == ["windows"]
    grid["summary"]["share_same_sign_as_base"] = 0.9
    assert _study(_good(), robustness=[grid])["conclusion"] == "supported"


def test_power_curve_matches_power_result_and_picks_n_below() -> None:
    # brute force: the verdict's power equals PowerResult.power_at on the same table,
    # and linear interpolation by hand
    table = pd.DataFrame(
        [
            {"n_treated": n, "effect": e, "power": p}
            for n, row in CURVE.items()
            for e, p in row.items()
        ]
    )
    pr = PowerResult(
        table=table, estimator_label="fake", effect_type="relative", n_units=150
    )
    for n_star, n_used in [(20, 20), (25, 20), (12, 10), (5, 10)]:
        estimates = {k: {**d, "n_treated": n_star} for k, d in _good().items()}
        v = _study(estimates, power=fake_power_dict(CURVE), effect_of_interest=-0.07)
        assert v["power"]["n_treated"] == n_used
        by_hand = np.interp(0.07, [0.0, 0.05, 0.10, 0.20], list(CURVE[n_used].values()))
        got = v["power"]["power_at_effect_of_interest"]
        assert got == pytest.approx(by_hand)
        assert got == pytest.approx(pr.power_at(-0.07, n_used))
        assert (v["power"]["note"] is None) == (n_star == n_used)


def test_effect_of_interest_in_outcome_units_is_converted_for_the_curve() -> None:
    # baseline 50: -5 outcome units is a 10% fall
    v = _study(
        _good(),
        power=fake_power_dict(CURVE),
        effect_of_interest=-5.0,
        effect_scale="absolute",
    )
    assert v["power"]["power_at_effect_of_interest"] == pytest.approx(0.9)
    # a curve in outcome units and an effect of interest as a proportion
    curve_units = {20: {0.0: 0.05, -2.5: 0.3, -5.0: 0.9}}
    v = _study(
        _good(),
        power=fake_power_dict(curve_units, effect_type="absolute"),
        effect_of_interest=-0.05,
    )
    assert v["power"]["power_at_effect_of_interest"] == pytest.approx(0.3)


def test_beyond_the_simulated_grid() -> None:
    # 30% fall: beyond the grid, whose top already has 100% power -> "at least"
    v = _study(_good(), power=fake_power_dict(CURVE), effect_of_interest=-0.30)
    assert v["power"]["at_least"] is True
    assert v["conclusion"] == "supported"
    # with 10 treated the top of the grid has 80% power: still at least 80%
    low = {10: {0.0: 0.05, -0.1: 0.3, -0.2: 0.6}}
    estimates = {k: {**d, "n_treated": 10} for k, d in _good().items()}
    v = _study(estimates, power=fake_power_dict(low), effect_of_interest=-0.30)
    assert v["power"]["power_at_effect_of_interest"] is None
    assert "beyond the simulated effects" in v["power"]["note"]


def test_analytic_design_fallback_power_formula() -> None:
    # MDE 6 outcome units at 80% power, alpha 0.05 -> power against 5 units by hand
    notes: dict[str, dict[str, Any]] = {
        k: {"design_detail": {"mde": m, "power": 0.8, "alpha": 0.05, "n_treated": 20}}
        for k, m in [("a", 5.0), ("b", 6.0), ("c", 9.0)]
    }
    v = _study(_good(), notes=notes, effect_of_interest=-0.10)
    z = stats.norm.ppf(0.975)
    s = 6.0 / (z + stats.norm.ppf(0.8))
    by_hand = stats.norm.cdf(5.0 / s - z) + stats.norm.cdf(-5.0 / s - z)
    assert v["power"]["mde"] == 6.0
    assert v["power"]["power_at_effect_of_interest"] == pytest.approx(by_hand)
    assert "median MDE of a, b, c" in v["power"]["source"]


def test_log_outcome_converts_a_relative_effect_to_log_points() -> None:
    # estimates in log points: intervals above log(0.9) = -0.1054 rule out a 10% fall
    # (-0.103 does; it would not against a naive -0.10)
    estimates = {
        "a": fake_dict(-0.01, (-0.05, 0.03), 0.6),
        "b": fake_dict(0.0, (-0.103, 0.103), 0.9),
    }
    v = _study(estimates, effect_of_interest=-0.10, log_outcome=True, baseline=4.0)
    assert v["conclusion"] == "not_supported"
    estimates["b"] = fake_dict(0.0, (-0.11, 0.11), 0.9)
    v = _study(estimates, effect_of_interest=-0.10, log_outcome=True, baseline=4.0)
    assert v["conclusion"] == "inconclusive"
    assert math.log(0.9) == pytest.approx(-0.10536, abs=1e-5)
    assert "log points" in v["effect_of_interest"]["text"]


def test_verdict_is_json_safe() -> None:
    import json

    v = _study(
        _good(),
        placebo=_clean_placebo(),
        power=fake_power_dict(CURVE),
        notes={"a": PASS_PRE},
        effect_of_interest=-0.10,
    )
    json.dumps(v, allow_nan=False)


def test_analyses_on_their_own_log_scale() -> None:
    # each analysis says log_outcome in its to_dict(): the effect of interest is read in
    # log points for it (log(0.9) = -0.1054), though the study's data are levels
    estimates = {
        "a": {**fake_dict(-0.01, (-0.05, 0.03), 0.6), "log_outcome": True},
        "b": {**fake_dict(0.0, (-0.103, 0.103), 0.9), "log_outcome": True},
    }
    v = _study(estimates, effect_of_interest=-0.10, baseline=50.0)
    assert v["conclusion"] == "not_supported"
    # one level, one log: their intervals are not compared with each other, and each
    # is judged in its own units (-5 for the level one)
    mixed = {
        "a": {**fake_dict(-0.06, (-0.09, -0.03), 0.001), "log_outcome": True},
        "b": fake_dict(-3.0, (-4.5, -1.5), 0.001),
    }
    v = _study(mixed, effect_of_interest=-0.10, baseline=50.0)
    assert v["estimates"]["mixed_scales"] is True
    assert v["estimates"]["ci_overlap"] is None
    assert v["conclusion"] == "supported"
    assert any("not compared" in r for r in v["reasons"])
    nulls = {
        "a": {**fake_dict(0.0, (-0.05, 0.05), 0.9), "log_outcome": True},
        "b": fake_dict(0.0, (-4.0, 4.0), 0.9),
    }
    assert _study(nulls, effect_of_interest=-0.10)["conclusion"] == "not_supported"
    nulls["b"] = fake_dict(0.0, (-6.0, 6.0), 0.9)  # reaches -5: not ruled out
    assert _study(nulls, effect_of_interest=-0.10)["conclusion"] == "inconclusive"


def test_runner_roles_and_verdict_in_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from study_fakes import fake_did
    from study_helpers import write_study

    from impact.study import runner

    spec = """
[study]
title = "roles"
effect_of_interest = -0.1

[data]
path = "panel.csv"
unit = "la"
time = "year"
outcome = "rate"
cohort = "cohort"

[[analysis]]
name = "main"
estimator = "did"

[[analysis]]
name = "other outcome"
estimator = "did"
outcome = "rate2"

[[analysis]]
name = "placebo"
estimator = "did"
sample = { placebo_shift = 2 }
"""
    path = write_study(tmp_path, spec)
    frame = pd.read_csv(tmp_path / "panel.csv")
    frame["rate2"] = 1000 * frame["rate"]
    frame.to_csv(tmp_path / "panel.csv", index=False)
    monkeypatch.setitem(runner.ESTIMATORS, "did", fake_did)
    run = runner.run_study(path, out=tmp_path / "out")
    notes = run.results["notes"]
    assert [notes[k]["role"] for k in ["main", "other outcome", "placebo"]] == [
        "estimate",
        "descriptive",
        "placebo",
    ]
    v = run.results["verdict"]
    assert v["estimates"]["analyses"] == ["main"]
    assert list(run.results)[:2] == ["study", "verdict"]
    # the baseline: the treated units' mean outcome before adoption (2013)
    pre = frame[(frame["cohort"] == 2013) & (frame["year"] < 2013)]
    assert v["effect_of_interest"]["text"].endswith(
        f"({-0.1 * pre['rate'].mean():.3g} in outcome units)"
    )


def test_selection_against_the_estimates_direction_is_said() -> None:
    # adopters were high before adoption (regression to the mean: a fall), but the
    # estimates show a rise: still unreliable, and the reason says which way it pulls
    sel = {
        "pvalue": 0.01,
        "flagged": True,
        "direction": "high",
        "level_percentile": 0.8,
    }
    est = {k: fake_dict(5.0, (2.0, 8.0), 0.001, selection=sel) for k in "ab"}
    v = _study(est)
    assert v["conclusion"] == "unreliable"
    assert "against the rise they show" in v["reasons"][0]
    # the same selection under estimated falls: no such sentence
    est = {k: fake_dict(-5.0, (-8.0, -2.0), 0.001, selection=sel) for k in "ab"}
    assert "other way" not in _study(est)["reasons"][0]
