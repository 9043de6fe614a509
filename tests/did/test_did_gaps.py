"""DiD rules that looked unreachable behind the Panel checks, reached here.

Each test builds data that gets past every earlier check and pins the rule's outcome:
an error naming the unit, role or period, or a count computed by a loop in the test.
The mutations they kill are in ``tools/mutations/didgaps.json``.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError

KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}


def _rows(spec: dict[str, tuple[range, float]], seed: int = 3) -> pd.DataFrame:
    """Long data: unit -> (years observed, cohort), outcome standard normal."""
    rng = np.random.default_rng(seed)
    rows = [(u, t, rng.normal(), c) for u, (years, c) in spec.items() for t in years]
    return pd.DataFrame(rows, columns=["unit", "year", "y", "cohort"])


@pytest.mark.parametrize(
    ("treated_years", "control_years", "role"),
    [
        (range(2000, 2006), range(2000, 2003), "comparison (never treated)"),
        (range(2003, 2006), range(2000, 2006), "treated"),
    ],
)
def test_2x2_needs_each_group_observed_on_both_sides_of_adoption(
    treated_years: range, control_years: range, role: str
) -> None:
    """balance='keep' lets every comparison (or every treated) unit have rows on one
    side of the 2003 adoption only. The 2x2 leaves such units out (no change of their
    own), so one group is empty: a DataError naming the group and the adoption year,
    not a bare ZeroDivisionError from an average over no unit (the treated case
    raised exactly that) and not an estimate from one group."""
    spec = {f"T{i}": (treated_years, 2003.0) for i in range(4)}
    spec |= {f"C{i}": (control_years, np.nan) for i in range(4)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(DataError, match=re.escape(f"needs {role} units")) as err:
            impact.did(
                _rows(spec), **KW, method="2x2", balance="keep", inference="analytic"
            )
    assert "adoption in 2003" in str(err.value)
