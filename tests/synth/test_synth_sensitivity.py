"""Firpo-Possebom sensitivity of the placebo p-value, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import impact
from impact.errors import SpecError
from tests.synth.test_synth_placebo import SIM, factor_panel


def _brute_pvalues(stat: np.ndarray, treated: int, phi: float) -> tuple[float, float]:
    """Largest and smallest p-value over every v in {0,1}^N (no closed form used)."""
    extreme = stat >= stat[treated]
    v = np.array(list(itertools.product([0, 1], repeat=stat.size)), dtype=float)
    w = np.exp(phi * v)
    p = w[:, extreme].sum(axis=1) / w.sum(axis=1)
    return float(p.max()), float(p.min())


def _brute_phi(stat: np.ndarray, treated: int, alpha: float, rejects: bool) -> float:
    """Crossing phi by bisection on the brute-force p-values."""
    lo, hi = 0.0, 20.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        worst, best = _brute_pvalues(stat, treated, mid)
        flipped = worst >= alpha if rejects else best <= alpha
        lo, hi = (lo, mid) if flipped else (mid, hi)
    return 0.5 * (lo + hi)


@pytest.fixture(scope="module")
def fitted():
    df = factor_panel(n_units=11, effect=-8.0, seed=3)
    return impact.synth(df, **SIM, alpha=0.2)


def test_sensitivity_matches_brute_force_when_rejecting(fitted):
    sens = fitted.placebo_sensitivity()
    tab = fitted.placebo().table
    stat = tab["statistic"].to_numpy(float)
    treated = int(np.flatnonzero(tab["treated"].to_numpy(bool))[0])
    assert sens.pvalue == pytest.approx(fitted.placebo().pvalue)
    assert sens.rejects
    phi = _brute_phi(stat, treated, 0.2, rejects=True)
    assert sens.phi == pytest.approx(phi, abs=1e-9)
    worst, _ = _brute_pvalues(stat, treated, sens.phi)
    assert worst == pytest.approx(0.2, abs=1e-12)
    assert sens.odds == pytest.approx(np.exp(phi))


def test_sensitivity_matches_brute_force_when_not_rejecting(fitted):
    # at alpha = 0.05 with 11 donors the test cannot reject (min p = 1/12)
    sens = fitted.placebo_sensitivity(alpha=0.05)
    tab = fitted.placebo().table
    stat = tab["statistic"].to_numpy(float)
    treated = int(np.flatnonzero(tab["treated"].to_numpy(bool))[0])
    assert not sens.rejects
    phi = _brute_phi(stat, treated, 0.05, rejects=False)
    assert sens.phi == pytest.approx(phi, abs=1e-9)
    _, best = _brute_pvalues(stat, treated, sens.phi)
    assert best == pytest.approx(0.05, abs=1e-12)
    # the table traces the same curves
    row = sens.table.iloc[50]
    w, b = _brute_pvalues(stat, treated, float(row["phi"]))
    assert (row["pvalue_worst"], row["pvalue_best"]) == pytest.approx((w, b))
    assert sens.plot() is not None


def test_sensitivity_refuses_several_treated_units():
    df = factor_panel(n_units=11, seed=3)
    res = impact.synth(
        df,
        outcome="y",
        unit="unit",
        time="year",
        treated_units=["T", "d00"],
        treatment_time=2010,
    )
    with pytest.raises(SpecError, match="one treated unit"):
        res.placebo_sensitivity()
