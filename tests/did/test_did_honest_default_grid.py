"""HonestDiD's default M grid for smoothness restrictions, written out by hand.

R HonestDiD (createSensitivityResults, DeltaSD_upperBound_Mpre) sets the default grid to
10 points from 0 to the largest one-sided 95% upper bound, ``d + qnorm(0.95) se(d)``, of
the second differences ``d`` of the pre-period coefficients (with the reference period's
zero appended), over both signs. The test computes those differences and their standard
errors term by term for three pre-periods. Mutation ``sweep-did-honest-grid-0.975``
(two-sided 0.975 quantile) moves the top of the grid by (1.960 - 1.645) se.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from impact.did.honest import _default_M


def test_default_grid_tops_at_the_one_sided_95_bound_of_second_differences() -> None:
    b1, b2, b3 = 0.30, -0.10, 0.20
    beta = np.array([b1, b2, b3, 0.5, 0.7])  # three pre, two post coefficients
    s = np.array([0.04, 0.09, 0.16, 0.25, 0.36])
    sig = np.diag(s)
    sig[0, 1] = sig[1, 0] = 0.01
    # second differences of (b1, b2, b3, 0): b1 - 2 b2 + b3 and b2 - 2 b3 + 0
    d1, d2 = b1 - 2 * b2 + b3, b2 - 2 * b3
    var1 = s[0] + 4 * s[1] + s[2] + 2 * (-2) * 0.01
    var2 = s[1] + 4 * s[2]
    z = stats.norm.ppf(0.95)
    upper = max(
        d1 + z * math.sqrt(var1),
        -d1 + z * math.sqrt(var1),
        d2 + z * math.sqrt(var2),
        -d2 + z * math.sqrt(var2),
    )
    grid = _default_M(beta, sig, 3)
    np.testing.assert_allclose(grid, np.linspace(0.0, upper, 10), rtol=1e-12)


def test_default_grid_with_one_pre_period_is_its_standard_error() -> None:
    sig = np.diag([0.09, 0.25])
    grid = _default_M(np.array([0.1, 0.4]), sig, 1)
    assert grid[-1] == pytest.approx(0.3, rel=1e-12)
    assert len(grid) == 10 and grid[0] == 0.0
