"""The treated= indicator must hold 0 or 1 (mutation ``sweep-panel-treated-01``).

Without the rule a 2 in the indicator would be read as treated and a 0.5 as treated from
that year, silently; the error names the value, unit and period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError
from impact.panel import Panel


def _frame(bad: float) -> pd.DataFrame:
    rows = []
    for i in range(4):
        for t in range(2010, 2016):
            rows.append(
                {
                    "la": f"LA{i}",
                    "year": t,
                    "rate": float(i + t - 2010),
                    "d": float(i < 2 and t >= 2013),
                }
            )
    df = pd.DataFrame(rows)
    df.loc[(df.la == "LA1") & (df.year == 2014), "d"] = bad
    return df


@pytest.mark.parametrize("bad", [2.0, 0.5, -1.0])
def test_treated_indicator_outside_zero_one_is_refused(bad: float) -> None:
    with pytest.raises(
        DataError,
        match=rf"'d' \(treated=\) must be 0 or 1; found {bad:g}.* at la='LA1', year=2014",
    ):
        Panel(_frame(bad), unit="la", time="year", outcome="rate", treated="d")


def test_treated_indicator_of_zeros_and_ones_is_accepted() -> None:
    # LA0 and LA1 are 0 up to 2012 and 1 from 2013 (LA1's 2014 cell is the 1.0 under
    # test), LA2 and LA3 are never 1: by construction the first treated periods are
    # 2013, 2013 and never (inf).
    p = Panel(_frame(1.0), unit="la", time="year", outcome="rate", treated="d")
    assert list(p.units) == ["LA0", "LA1", "LA2", "LA3"]
    np.testing.assert_array_equal(p.cohort, [2013.0, 2013.0, np.inf, np.inf])
    assert p.n_treated == 2
