"""impact.power analytic functions: floats out, exactly one unknown solved for, as in
statsmodels' solve_power (DESIGN.md, impact.power)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from statsmodels.stats.power import TTestIndPower

from impact.power import design_effect, panel_did_mde, two_sample

# Reference: statsmodels 0.15.0 TTestIndPower (the peer DESIGN names). Both solve the
# same noncentral-t equations; 1e-6 relative allows for root-finder tolerances.
REL = 1e-6


@pytest.mark.parametrize(
    ("kwargs", "sm_call"),
    [
        (
            {"effect": 0.5, "n_treated": 20},
            lambda t: t.power(0.5, 20, 0.05, ratio=1.0),
        ),
        (
            {"effect": 0.5, "n_treated": 20, "n_control": 40},
            lambda t: t.power(0.5, 20, 0.05, ratio=2.0),
        ),
        (
            {"effect": 0.5, "n_treated": 20, "alternative": "larger"},
            lambda t: t.power(0.5, 20, 0.05, alternative="larger"),
        ),
        (
            {"effect": 0.5, "power": 0.8},
            lambda t: t.solve_power(0.5, power=0.8, alpha=0.05),
        ),
        (
            {"n_treated": 20, "power": 0.8},
            lambda t: t.solve_power(None, nobs1=20, power=0.8, alpha=0.05),
        ),
    ],
    ids=["power", "power-ratio2", "power-larger", "n", "effect"],
)
def test_two_sample_matches_statsmodels(
    kwargs: dict, sm_call: Callable[[TTestIndPower], float]
) -> None:
    ours = two_sample(**kwargs)
    assert isinstance(ours, float)
    assert ours == pytest.approx(float(sm_call(TTestIndPower())), rel=REL)


def test_two_sample_round_trip() -> None:
    n = two_sample(effect=0.4, power=0.9)
    assert two_sample(effect=0.4, n_treated=n) == pytest.approx(0.9, abs=1e-6)
    effect = two_sample(n_treated=30, power=0.7)
    assert two_sample(effect=effect, n_treated=30) == pytest.approx(0.7, abs=1e-6)


def test_analytic_functions_return_floats() -> None:
    # DESIGN.md: design_effect = 1 + ((cv^2 + 1) m - 1) icc = 1 + 9 x 0.05 here
    assert isinstance(design_effect(10, 0.05), float)
    assert design_effect(10, 0.05) == pytest.approx(1.45, abs=1e-12)
    mde = panel_did_mde(n_units=100, n_treated=10, pre=5, post=5, phi=0.5)
    assert isinstance(mde, float) and mde > 0
    # A more balanced treated/comparison split lowers the MDE (BPW 2020, eq. 2: the
    # variance scales with 1 / (P (1 - P) J)).
    assert panel_did_mde(n_units=100, n_treated=50, pre=5, post=5) < panel_did_mde(
        n_units=100, n_treated=10, pre=5, post=5
    )
