"""impact.compare on hand-written results: each cell worked out beside its assertion.

The results are ``to_dict()`` dicts as results.json holds them (study_fakes), so every
number in the table is known: the CI row's label is the analyses' level ``1 - alpha``,
p-values below 0.001 print as "< 0.001", and a power analysis has one row per
simulated number of treated units with ``n_control = n_units - n_treated``.
"""

from __future__ import annotations

import pytest
from study_fakes import fake_dict, fake_power_dict

import impact


def _power() -> dict:
    pw = fake_power_dict({10: {0.0: 0.05, -0.1: 0.5}, 20: {0.0: 0.05, -0.1: 0.9}})
    pw.update(n_units=150, mde={"10": 0.15, "20": 0.08})
    return pw


def test_level_label_p_format_and_power_rows() -> None:
    c = impact.compare(
        {
            "a": fake_dict(-5.0, (-8.0, -2.0), 0.0004, alpha=0.1),
            "b": fake_dict(-4.0, (-7.5, -1.0), 0.004, alpha=0.1),
            "p": _power(),
        }
    )
    assert "90% CI" in c.table.index  # both estimates at alpha = 0.1
    assert list(c.table.loc["90% CI", ["a", "b"]]) == [
        "[-8.000, -2.000]",
        "[-7.500, -1.000]",
    ]
    assert list(c.table.loc["p-value", ["a", "b"]]) == ["< 0.001", "0.004"]
    f = c.to_frame()
    est = f[f["analysis"] == "b"].iloc[0]
    assert (est["ci_low"], est["ci_high"]) == (-7.5, -1.0)
    p = f[f["analysis"] == "p"].set_index("n_treated")
    assert list(p.index) == [10, 20]
    assert list(p["n_control"]) == [140, 130]  # 150 units less the treated
    assert list(p["mde"]) == pytest.approx([0.15, 0.08])
    assert list(p["mde_relative"]) == pytest.approx([0.15, 0.08])  # relative MDEs
    absolute = {**_power(), "effect_type": "absolute"}
    f = impact.compare({"p": absolute}).to_frame()
    assert f["mde_relative"].isna().all()  # an MDE in outcome units is not a share


def test_mixed_levels_are_labelled_per_cell() -> None:
    c = impact.compare(
        {
            "a": fake_dict(-5.0, (-8.0, -2.0), 0.0004, alpha=0.1),
            "b": fake_dict(-4.0, (-7.0, -1.0), 0.004),
        }
    )
    assert list(c.table.loc["CI (level)"]) == [
        "[-8.000, -2.000] (90%)",
        "[-7.000, -1.000] (95%)",
    ]
