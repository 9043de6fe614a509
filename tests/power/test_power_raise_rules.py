"""Power validation rules no other default test triggered (line coverage of the
default suite, /work/cov, December 2026). Each bad input must raise a SpecError /
DataError naming the parameter; without the rule the call would run on nonsense
(negative dispersion, a subgroup share above 1, zero populations) or die later with
a bare numpy/scipy error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError, SpecError
from impact.panel import Panel
from impact.power import cluster_design, mckenzie_mde, panel_did_mde, simulate


def _panel(n: int = 12, t: int = 6) -> Panel:
    rng = np.random.default_rng(1)
    return Panel.from_arrays(
        50 + rng.normal(size=(n, t)), periods=np.arange(2010, 2010 + t)
    )


BASE = {"treatment_time": 2013, "n_treated": 2, "effect": 0.0, "n_sims": 5, "seed": 1}


def test_simulate_parameter_rules() -> None:
    p = _panel()
    with pytest.raises(SpecError, match=r"'effect' parameter of .* must hold finite"):
        simulate(p, **{**BASE, "effect": [0.0, np.inf]}, estimator="2x2")
    with pytest.raises(SpecError, match=r"'effect' parameter of .* must hold finite"):
        simulate(p, **{**BASE, "effect": []}, estimator="2x2")
    with pytest.raises(SpecError, match=r"'phase_in' parameter .* integer >= 0"):
        simulate(p, **BASE, estimator="2x2", phase_in=-1)
    for share in (0.0, 1.5):
        with pytest.raises(SpecError, match=r"'subgroup_share' parameter .* \(0, 1\]"):
            simulate(p, **BASE, estimator="2x2", subgroup_share=share)
    with pytest.raises(SpecError, match=r"'dispersion' parameter .* must be >= 0"):
        simulate(p, **BASE, estimator="2x2", subgroup_share=0.5, dispersion=-0.1)
    with pytest.raises(SpecError, match="conflicts with method='cs'"):
        simulate(p, **BASE, estimator="twfe", method="cs")
    with pytest.raises(SpecError, match="estimator='sc' takes only test="):
        simulate(p, **{**BASE, "n_treated": 1}, estimator="sc", inference="placebo")
    with pytest.raises(SpecError, match="needs at least two periods before"):
        simulate(
            p,
            **{**BASE, "treatment_time": 2011},
            estimator="2x2",
            assignment="rising_rate",
        )


def test_simulate_subgroup_population_must_be_positive() -> None:
    p = _panel()
    frame = pd.DataFrame(
        {
            "la": np.repeat(np.arange(12), 6),
            "year": np.tile(np.arange(2010, 2016), 12),
            "rate": p.Y.ravel(),
            "pop": 1000.0,
        }
    )
    frame.loc[7, "pop"] = 0.0
    with pytest.raises(DataError, match="denominator must be positive and finite"):
        simulate(
            frame,
            outcome="rate",
            unit="la",
            time="year",
            **BASE,
            estimator="2x2",
            subgroup_share=0.5,
            denominator="pop",
        )


def test_analytic_parameter_rules() -> None:
    kw = {"n_clusters": 20, "cluster_size": 30, "icc": 0.05, "power": 0.8}
    for r2 in (1.0, -0.1):
        with pytest.raises(SpecError, match=r"'r2_between' parameter .* must be in"):
            cluster_design(**kw, r2_between=r2)
    with pytest.raises(SpecError, match="needs more than 2 clusters; got 2"):
        cluster_design(n_clusters=2, cluster_size=30, icc=0.05, effect=0.2)
    with pytest.raises(SpecError, match=r"'effect' parameter .* must not be 0"):
        cluster_design(cluster_size=30, icc=0.05, effect=0.0, power=0.8)
    with pytest.raises(SpecError, match=r"'rho' parameter .* must be in \[0, 1\]"):
        mckenzie_mde(n_units=100, n_treated=50, pre=2, post=2, rho=1.2)
    with pytest.raises(SpecError, match=r"'n_treated' parameter .* positive integer"):
        mckenzie_mde(n_units=100, n_treated=0, pre=2, post=2, rho=0.5)
    with pytest.raises(DataError, match="at least 3 are needed"):
        panel_did_mde(_panel(n=2, t=6), pre=2, post=2, n_treated=1)
