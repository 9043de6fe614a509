"""The verdict's numeric thresholds, each tested on both sides (impact/study).

Each case builds fake results (as results.json holds them) just inside and just
outside one documented rule: significance at ``alpha`` (default 0.05 when a result
states none), a pre-trend test failing at ``p < alpha``, a selection diagnostic
flagging at ``p < alpha`` when it gives no flag, "not supported" when most estimates
are significant against the effect of interest, "not detectable" below 80% power.
"""

from __future__ import annotations

from typing import Any

import pytest
from study_fakes import fake_dict, fake_power_dict

from impact.study.verdict import is_significant, study_verdict

CURVE = {20: {0.0: 0.05, -0.05: 0.3, -0.10: 0.9, -0.20: 1.0}}


def _study(estimates: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    analyses = dict(estimates)
    roles = {k: "estimate" for k in estimates}
    if "power" in kwargs:
        analyses["power"] = kwargs.pop("power")
        roles["power"] = "power"
    kwargs.setdefault("baseline", 50.0)
    notes = kwargs.pop("notes", {})
    return study_verdict(analyses, roles=roles, notes=notes, **kwargs)


def test_significance_uses_alpha_and_defaults_to_five_percent() -> None:
    d = fake_dict(-1.0, None, 0.07)
    assert is_significant(d) == 0
    assert is_significant({**d, "alpha": 0.1}) == -1
    assert is_significant({**d, "pvalue": 0.049}) == -1
    del d["alpha"]  # no alpha stated: 5%
    assert is_significant(d) == 0
    assert is_significant({**d, "pvalue": 0.049}) == -1
    assert is_significant({**d, "alpha": 2.0}) == 0  # nonsense alpha: 5%


def test_pretrend_fails_below_alpha_and_passes_above() -> None:
    est = {"a": fake_dict(-5.0, (-8.0, -2.0), 0.001)}
    for p, status in [(0.04, "fail"), (0.06, "pass")]:
        notes = {"a": {"pretrend_check": {"pvalue": p, "method": "permutation"}}}
        v = _study(est, notes=notes)
        assert v["diagnostics"]["pretrends"]["status"] == status, p


def test_selection_without_a_flag_fails_below_alpha() -> None:
    for p, status in [(0.04, "fail"), (0.06, "pass")]:
        est = {"a": fake_dict(-5.0, (-8.0, -2.0), 0.001, selection={"pvalue": p})}
        v = _study(est)
        assert v["diagnostics"]["selection"]["status"] == status, p


def test_most_estimates_significant_against_the_effect_is_not_supported() -> None:
    # c's interval reaches the 10% fall (-5), so the effect is not ruled out by the
    # intervals; two of three estimates are significant rises
    estimates = {
        "a": fake_dict(3.0, (1.0, 5.0), 0.01),
        "b": fake_dict(2.5, (0.5, 4.5), 0.02),
        "c": fake_dict(-3.0, (-8.0, 2.0), 0.3),
    }
    v = _study(estimates, effect_of_interest=-0.10)
    assert v["conclusion"] == "not_supported"
    assert "opposite direction" in v["headline"]
    # one of three is not "most": inconclusive
    estimates["b"] = fake_dict(-2.5, (-6.5, 1.5), 0.2)
    v = _study(estimates, effect_of_interest=-0.10)
    assert v["conclusion"] == "inconclusive"


def test_not_detectable_below_eighty_percent_power() -> None:
    mixed = {
        "a": fake_dict(-5.0, (-8.0, -2.0), 0.001),
        "b": fake_dict(-2.0, (-5.0, 1.0), 0.2),
        "c": fake_dict(-1.0, (-4.0, 2.0), 0.5),
    }
    # 7.5% fall: power 0.3 + 0.5 * 0.6 = 0.6 (between the 50% and 80% rules)
    v = _study(mixed, power=fake_power_dict(CURVE), effect_of_interest=-0.075)
    assert v["power"]["power_at_effect_of_interest"] == pytest.approx(0.6)
    assert v["conclusion"] == "not_detectable"
    # 12% fall: power 0.9 + 0.2 * 0.1 = 0.92 -> no longer "not detectable"
    v = _study(mixed, power=fake_power_dict(CURVE), effect_of_interest=-0.12)
    assert v["conclusion"] == "inconclusive"


def test_power_curve_without_zero_starts_at_alpha() -> None:
    # no effect-0 row: power at 0 is the test size 0.05, so a 5% fall has power
    # 0.05 + 0.5 * (0.5 - 0.05) = 0.275
    curve = {20: {-0.10: 0.5, -0.20: 0.9}}
    v = _study(
        {"a": fake_dict(-5.0, (-8.0, -2.0), 0.001)},
        power=fake_power_dict(curve),
        effect_of_interest=-0.05,
    )
    assert v["power"]["power_at_effect_of_interest"] == pytest.approx(0.275)


def test_design_fallback_uses_the_design_power_and_alpha() -> None:
    # MDE 6 at 90% power and alpha 0.1: s = 6 / (z_0.95 + z_0.9); power against 5
    # outcome units (a 10% fall of 50) = Phi(5/s - z_0.95) + Phi(-5/s - z_0.95)
    from scipy import stats

    detail = {"mde": 6.0, "power": 0.9, "alpha": 0.1, "n_treated": 20}
    v = _study(
        {"a": fake_dict(-5.0, (-8.0, -2.0), 0.001)},
        notes={"a": {"design_detail": detail}},
        effect_of_interest=-0.10,
    )
    z = stats.norm.ppf(0.95)
    s = 6.0 / (z + stats.norm.ppf(0.9))
    by_hand = stats.norm.cdf(5.0 / s - z) + stats.norm.cdf(-5.0 / s - z)
    assert v["power"]["power_at_effect_of_interest"] == pytest.approx(by_hand)
    assert v["power"]["power_target"] == 0.9 and v["power"]["alpha"] == 0.1
