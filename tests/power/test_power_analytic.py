"""Analytic power formulas against R pwr, the BPW and McKenzie tables, Bloom (2005)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.power import TTestIndPower

from impact.data.synthetic import ar1_panel
from impact.errors import DataError, EstimationError, SpecError
from impact.panel import Panel
from impact.power import (
    ar1_covariances,
    cluster_design,
    design_effect,
    mckenzie_mde,
    panel_did_mde,
    pilot_covariance,
    two_sample,
)

REF = Path(__file__).resolve().parent / "reference"


def _num(x: object) -> float | None:
    return None if pd.isna(x) else float(x)  # type: ignore[arg-type]


@pytest.mark.reference
@pytest.mark.parametrize(
    "case", pd.read_csv(REF / "pwr_reference.csv").to_dict("records")
)
def test_two_sample_matches_r_pwr(case: dict) -> None:
    # Source: R pwr 1.3-0 (script tests/power/reference/make_pwr_reference.R).
    # Tolerance: pwr solves n and d with uniroot(tol = eps^0.25 ~ 1.2e-4), so solved
    # quantities are checked at 1e-4; powers are closed forms (noncentral t), 1e-7.
    kwargs = {
        "effect": _num(case["effect"]),
        "n_treated": _num(case["n_treated"]),
        "n_control": _num(case["n_control"]),
        "power": _num(case["power"]),
        "alpha": float(case["alpha"]),
        "alternative": case["alternative"],
    }
    got = two_sample(**kwargs)
    tol = 1e-7 if case["solve_for"] == "power" else 1e-4
    assert got == pytest.approx(float(case["value"]), abs=tol)


def test_two_sample_agrees_with_statsmodels() -> None:
    # Consistency with statsmodels 0.15 TTestIndPower (the other reference):
    # its root finder stops near 1e-5, hence 1e-4.
    sm = TTestIndPower()
    assert two_sample(effect=0.5, power=0.8) == pytest.approx(
        sm.solve_power(effect_size=0.5, power=0.8, alpha=0.05, ratio=1.0), abs=1e-4
    )
    assert two_sample(n_treated=15, n_control=135, power=0.8) == pytest.approx(
        sm.solve_power(nobs1=15, ratio=9.0, power=0.8, alpha=0.05), abs=1e-4
    )
    for n1, n0, d in [(15, 135, 0.5), (3, 147, 1.0), (40, 40, 0.3)]:
        assert two_sample(effect=d, n_treated=n1, n_control=n0) == pytest.approx(
            sm.power(d, nobs1=n1, alpha=0.05, ratio=n0 / n1), abs=1e-10
        )


def test_two_sample_fixed_control_arm_inverts_power() -> None:
    # Solving n_treated with a fixed control arm must invert the power function.
    n1 = two_sample(effect=0.5, n_control=135, power=0.6)
    assert two_sample(effect=0.5, n_treated=n1, n_control=135) == pytest.approx(
        0.6, abs=1e-9
    )
    # large samples: statsmodels' own power returns NaN there; ours stays finite
    assert two_sample(effect=0.05, power=0.8) == pytest.approx(6280.0, rel=1e-3)


def test_two_sample_errors() -> None:
    with pytest.raises(
        SpecError, match="exactly one of 'effect', 'n_treated', 'power'"
    ):
        two_sample(effect=0.5, n_treated=10, power=0.8)
    with pytest.raises(SpecError, match="exactly one"):
        two_sample(effect=0.5)
    with pytest.raises(SpecError, match="'alternative' parameter"):
        two_sample(effect=0.5, power=0.8, alternative="greater")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="'alpha' parameter"):
        two_sample(effect=0.5, power=0.8, alpha=1.5)
    with pytest.raises(SpecError, match="not above the size"):
        two_sample(effect=0.5, power=0.01)
    with pytest.raises(SpecError, match="more than 2 units"):
        two_sample(effect=0.5, n_treated=1, n_control=1)
    with pytest.raises(EstimationError, match="enlarge the control arm"):
        two_sample(effect=0.1, n_control=5, power=0.99)


@pytest.mark.reference
@pytest.mark.parametrize(
    "row", pd.read_csv(REF / "bpw_mde_table.csv").to_dict("records")
)
def test_panel_did_mde_matches_bpw_table(row: dict) -> None:
    # Source: research/matching_power.md 2.3 (BPW 2020 SCR formula, pc_dd_analytic v3.0
    # true-parameter branch). Printed to 4 decimals: tolerance 1e-4.
    got = panel_did_mde(
        n_units=int(row["n_units"]),
        n_treated=int(row["n_treated"]),
        pre=int(row["pre"]),
        post=int(row["post"]),
        phi=float(row["phi"]),
    )
    assert got == pytest.approx(float(row["mde"]), abs=1e-4)


def test_bpw_two_period_equals_sqrt2_times_cross_section() -> None:
    # pre = post = 1, phi = 0: a 2-period DiD is sqrt(2) times the cross-section
    # t-test MDE with the same df (research report 2.3 check, P8 = 0.7675).
    assert panel_did_mde(n_units=150, n_treated=15, pre=1, post=1) == pytest.approx(
        np.sqrt(2) * 0.7675, abs=2e-4
    )


def test_ar1_covariances_closed_form() -> None:
    # psi^X for AR(1) = mean over pre s, post t of phi^(t-s); m = r = 1: phi.
    cov = ar1_covariances(1, 1, 2.0, 0.5)
    assert cov == pytest.approx(
        {"sigma2": 2.0, "psi_pre": 0.0, "psi_post": 0.0, "psi_cross": 1.0}
    )
    cov = ar1_covariances(3, 2, 1.0, 0.5)
    assert cov["psi_pre"] == pytest.approx((2 * 0.5 + 0.25) * 2 / 6)
    assert cov["psi_cross"] == pytest.approx(
        np.mean([0.5**k for k in (3, 4, 2, 3, 1, 2)])
    )


@pytest.mark.reference
@pytest.mark.parametrize(
    "row", pd.read_csv(REF / "mckenzie_mde_table.csv").to_dict("records")
)
def test_mckenzie_matches_table(row: dict) -> None:
    # Source: research/matching_power.md 2.3 (McKenzie 2012), 4 decimals: 1e-4.
    for design in ("post", "did", "ancova"):
        got = mckenzie_mde(
            n_units=int(row["n_units"]),
            n_treated=int(row["n_treated"]),
            pre=int(row["pre"]),
            post=int(row["post"]),
            rho=float(row["rho"]),
            design=design,  # type: ignore[arg-type]
        )
        assert got == pytest.approx(float(row[f"{design}_mde"]), abs=1e-4)


def test_mckenzie_ancova_never_worse_than_did() -> None:
    # Frison & Pocock: Var(ANCOVA) <= Var(DiD), equal as rho -> 1.
    for rho in np.linspace(0, 1, 11):
        a = mckenzie_mde(
            n_units=100, n_treated=50, pre=3, post=2, rho=rho, design="ancova"
        )
        d = mckenzie_mde(
            n_units=100, n_treated=50, pre=3, post=2, rho=rho, design="did"
        )
        assert a <= d + 1e-12


@pytest.mark.reference
def test_cluster_design_matches_bloom() -> None:
    # Source: research/matching_power.md 2.3 "Cluster designs", 4 decimals: 1e-4.
    for row in pd.read_csv(REF / "cluster_reference.csv").to_dict("records"):
        if row["quantity"] == "deff":
            got = design_effect(row["cluster_size"], row["icc"], row["cv"])
        else:
            got = cluster_design(
                n_clusters=row["n_clusters"],
                power=0.8,
                cluster_size=row["cluster_size"],
                icc=row["icc"],
                cv=row["cv"],
            )
        assert got == pytest.approx(row["value"], abs=1e-4)


def test_cluster_design_solves_each_unknown() -> None:
    mde = cluster_design(n_clusters=30, power=0.8, cluster_size=50, icc=0.05)
    assert cluster_design(
        effect=mde, power=0.8, cluster_size=50, icc=0.05
    ) == pytest.approx(30, abs=1e-6)
    # the Bloom MDE uses t_{1-a/2} + t_{power}: the matching power is 0.8 up to the
    # one-tail approximation (the other tail adds < 1e-6 here)
    assert cluster_design(
        effect=mde, n_clusters=30, cluster_size=50, icc=0.05
    ) == pytest.approx(0.8, abs=1e-6)
    # covariates explaining between-cluster variance shrink the MDE
    assert (
        cluster_design(
            n_clusters=30, power=0.8, cluster_size=50, icc=0.05, r2_between=0.5
        )
        < mde
    )
    with pytest.raises(SpecError, match="'icc' parameter"):
        design_effect(10, 1.5)
    with pytest.raises(SpecError, match="more than 2 clusters"):
        cluster_design(n_clusters=2, power=0.8, cluster_size=5, icc=0.1)
    with pytest.raises(SpecError, match="'share_treated'"):
        cluster_design(
            n_clusters=20, power=0.8, cluster_size=5, icc=0.1, share_treated=1.0
        )


def test_panel_did_mde_errors() -> None:
    with pytest.raises(SpecError, match="needs n_units="):
        panel_did_mde(n_treated=5, pre=3, post=2)
    with pytest.raises(SpecError, match="'phi' parameter"):
        panel_did_mde(n_units=50, n_treated=5, pre=3, post=2, phi=1.0)
    with pytest.raises(SpecError, match="must be smaller than n_units"):
        panel_did_mde(n_units=5, n_treated=5, pre=3, post=2)
    with pytest.raises(SpecError, match="'pre' parameter"):
        panel_did_mde(n_units=50, n_treated=5, pre=0, post=2)


def test_pilot_covariance_recovers_ar1() -> None:
    # A large AR(1) pilot with unit and time effects: the estimated post-minus-pre
    # contrast variance matches the AR(1) BPW bracket (sampling error of a variance
    # over 4000 units x 6 windows: a few percent), and so does the MDE.
    Y = ar1_panel(4000, 20, 0.5, seed=11, unit_sd=2.0, time_sd=1.0)
    pilot = Panel.from_arrays(Y)
    est = pilot_covariance(pilot, pre=10, post=5)
    cov = ar1_covariances(10, 5, 1.0, 0.5)
    bracket = (
        15 / 50 * cov["sigma2"]
        + 0.9 * cov["psi_pre"]
        + 0.8 * cov["psi_post"]
        - 2 * cov["psi_cross"]
    )
    assert est["var_contrast"] == pytest.approx(bracket, rel=0.05)
    mde_pilot = panel_did_mde(pilot, n_units=150, n_treated=15, pre=10, post=5)
    assert mde_pilot == pytest.approx(0.6080, rel=0.04)


def test_pilot_from_dataframe_and_errors() -> None:
    Y = ar1_panel(30, 6, 0.3, seed=2)
    frame = pd.DataFrame(
        {
            "la": np.repeat(np.arange(30), 6),
            "year": np.tile(np.arange(2010, 2016), 30),
            "y": Y.ravel(),
        }
    )
    a = panel_did_mde(
        frame, outcome="y", unit="la", time="year", n_treated=5, pre=3, post=2
    )
    b = panel_did_mde(Panel.from_arrays(Y), n_treated=5, pre=3, post=2)
    assert a == pytest.approx(b, rel=1e-12)
    with pytest.raises(DataError, match="at least as long"):
        panel_did_mde(
            frame, outcome="y", unit="la", time="year", n_treated=5, pre=5, post=2
        )
    flat = Panel.from_arrays(np.ones((10, 6)))
    with pytest.raises(EstimationError, match="does not vary"):
        panel_did_mde(flat, n_treated=2, pre=3, post=2)
