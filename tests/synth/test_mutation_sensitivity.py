"""Firpo-Possebom placebo sensitivity: rejection rule and crossing point, from the paper.

Firpo and Possebom (2018, J. Causal Inference 6(2), section 3): the placebo p-value is
``m / n`` (``m`` units, the treated one included, whose statistic reaches the treated
unit's), the test rejects when ``p <= alpha``, and under assignment probabilities
``pi_j ~ exp(phi v_j)`` the largest p-value puts ``v = 1`` on those ``m`` units:
``m e^phi / (m e^phi + n - m)``, the smallest puts it on the others:
``m / (m + (n - m) e^phi)``. The crossing ``phi`` is found here with scipy's ``brentq``
on those definitions (not the package's closed form). Tolerance 1e-9.

The boundary case ``m / n = alpha`` exactly (1 of 20 at 5%) rejects; a rule
``p < alpha`` or ``p < alpha / 2`` would not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

from impact.errors import SpecError
from impact.synth.sensitivity import placebo_sensitivity


def _stats(n: int, m: int) -> tuple[np.ndarray, float]:
    # the treated statistic is 10; m - 1 placebos reach it, the rest are below
    s = np.concatenate([[10.0], np.full(m - 1, 12.0), np.linspace(1, 5, n - m)])
    return s, 10.0


def _worst(m: int, n: int, phi: float) -> float:
    e = math.exp(phi)
    return m * e / (m * e + n - m)


def _best(m: int, n: int, phi: float) -> float:
    e = math.exp(phi)
    return m / (m + (n - m) * e)


def test_pvalue_at_alpha_rejects_and_flips_at_once():
    s, t = _stats(20, 1)
    out = placebo_sensitivity(s, t, 0.05)
    assert out.pvalue == pytest.approx(0.05, abs=1e-15)
    assert out.rejects
    assert out.n_extreme == 1 and out.n_units == 20
    assert out.phi == pytest.approx(0.0, abs=1e-9)  # worst case is already alpha


def test_rejecting_crossing_point_from_the_worst_case_pvalue():
    n, m, alpha = 40, 1, 0.05
    s, t = _stats(n, m)
    out = placebo_sensitivity(s, t, alpha)
    assert out.rejects and out.pvalue == pytest.approx(m / n)
    phi = brentq(lambda f: _worst(m, n, f) - alpha, 0.0, 20.0, xtol=1e-14)
    assert out.phi == pytest.approx(phi, abs=1e-9)
    assert out.odds == pytest.approx(math.exp(phi), rel=1e-9)


def test_not_rejecting_crossing_point_from_the_best_case_pvalue():
    n, m, alpha = 10, 3, 0.05
    s, t = _stats(n, m)
    out = placebo_sensitivity(s, t, alpha)
    assert not out.rejects and out.pvalue == pytest.approx(0.3)
    phi = brentq(lambda f: _best(m, n, f) - alpha, 0.0, 20.0, xtol=1e-14)
    assert out.phi == pytest.approx(phi, abs=1e-9)
    # the grid's p-values are the definitions at each phi
    row = out.table.iloc[37]
    assert row["pvalue_worst"] == pytest.approx(_worst(m, n, row["phi"]), rel=1e-12)
    assert row["pvalue_best"] == pytest.approx(_best(m, n, row["phi"]), rel=1e-12)


def test_every_unit_reaches_the_treated_statistic_never_flips():
    # m = n: the p-value is 1 for every assignment of probabilities (best case
    # m / (m + 0) = 1), so no phi can bring it down to alpha: phi = inf
    s, t = _stats(12, 12)
    res = placebo_sensitivity(s, t, 0.05)
    assert (res.pvalue, res.rejects, res.n_extreme) == (1.0, False, 12)
    assert math.isinf(res.phi) and math.isinf(res.odds)
    assert np.all(res.table["pvalue_best"] == 1.0)
    assert np.all(res.table["pvalue_worst"] == 1.0)


def test_needs_a_placebo_besides_the_treated_unit():
    with pytest.raises(SpecError, match="at least one placebo unit"):
        placebo_sensitivity(np.array([3.0]), 3.0, 0.05)
