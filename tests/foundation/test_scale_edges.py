"""The log-outcome heuristic and MDE conventions of impact._scale at their boundaries.

Reference: the rule as documented in :func:`impact._scale.log_like_values` (values
non-integer, all within [-3, 12], spread under 10, above 1 somewhere; at least two
values) and the MDE convention of the module docstring (a log MDE ``m`` is a fall of
``1 - exp(-m)``; a level MDE is ``m / baseline`` for a positive baseline only),
written out here value by value.
"""

from __future__ import annotations

import math

import pytest

from impact._scale import log_like_values, mde_fall_fraction, signed_log_change


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([-2.9, 1.5], True),  # lower edge inside
        ([-3.1, 1.5], False),  # below -3: not a log of a rate or count
        ([4.5, 11.9], True),  # upper edge inside (log of ~150,000)
        ([4.5, 12.1], False),
        ([0.5, 10.4], True),  # spread 9.9 < 10
        ([0.4, 10.5], False),  # spread 10.1
        ([0.2, 0.9], False),  # never above 1: a proportion
        ([0.2, 1.1], True),
        ([2.5], False),  # one value is not enough to judge
        ([2.0, 3.0], False),  # integers: counts
    ],
)
def test_log_like_values_boundaries(values: list[float], expected: bool) -> None:
    assert log_like_values(values) is expected


def test_mde_fall_and_signed_change() -> None:
    # log outcome: 0.5 log points is a fall of 1 - exp(-0.5) = 0.393469 whichever
    # sign the MDE is given with
    for m in (0.5, -0.5):
        assert mde_fall_fraction(m, log_outcome=True) == pytest.approx(
            1 - math.exp(-0.5), abs=1e-12
        )
    assert mde_fall_fraction(5.0, log_outcome=False, baseline=40.0) == 0.125
    assert mde_fall_fraction(5.0, log_outcome=False, baseline=0.0) is None
    assert mde_fall_fraction(5.0, log_outcome=False, baseline=-40.0) is None
    # a change of -0.2 log points is a relative change exp(-0.2) - 1 = -0.181269
    assert signed_log_change(-0.2) == pytest.approx(math.exp(-0.2) - 1, abs=1e-12)
    assert signed_log_change(0.2) == pytest.approx(math.exp(0.2) - 1, abs=1e-12)
