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


def test_panel_drops_units_treated_from_the_first_period_left_after_a_drop() -> None:
    """balance='keep': unit A, treated from 2000, is the only unit seen in 2000. Once
    the constructor drops it (no pre-period), the panel starts in 2001, where B and C
    adopt: they are treated in every period of the panel and have no pre-period
    either, so the same rule drops them (the note names them and 2001). Before the
    fix they stayed: TWFE counted them as treated (4 treated units) and the
    imputation and ETWFE estimators refused the data."""
    spec = {"A": (range(2000, 2006), 2000.0)}
    spec |= {u: (range(2001, 2006), 2001.0) for u in "BC"}
    spec |= {u: (range(2001, 2006), 2003.0) for u in "DE"}
    spec |= {u: (range(2001, 2006), np.nan) for u in "FGHI"}
    with pytest.warns(impact.errors.ImpactWarning, match="'B', 'C'"):
        panel = impact.Panel(_rows(spec), **KW, balance="keep")
    assert list(panel.periods) == list(range(2001, 2006))
    assert list(panel.units) == list("DEFGHI")
    assert (panel.cohort[np.isfinite(panel.cohort)] > panel.periods[0]).all()
    assert any("first period 2001" in w and "'B', 'C'" in w for w in panel.warnings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method in ("twfe", "imputation", "etwfe"):
            res = impact.did(
                _rows(spec), **KW, method=method, balance="keep", control="notyet"
            )
            assert res.n_treated == 2, method


def test_panel_late_cohort_rule_follows_a_last_period_lost_to_the_drop() -> None:
    """balance='keep': A, treated from 2000, is the only unit seen in 2005; dropping it
    ends the panel in 2004, after which B's 2005 adoption is never observed: B is
    never treated in this panel (noted), not a cohort with no period of treatment."""
    spec = {"A": (range(2000, 2006), 2000.0), "B": (range(2000, 2005), 2005.0)}
    spec |= {u: (range(2000, 2005), 2002.0) for u in "CD"}
    spec |= {u: (range(2000, 2005), np.nan) for u in "EFG"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = impact.Panel(_rows(spec), **KW, balance="keep")
    assert panel.periods[-1] == 2004
    assert list(panel.cohort) == [np.inf, 2002.0, 2002.0, np.inf, np.inf, np.inf]
    assert any("after the last period (2004)" in w for w in panel.warnings)


def _one_cluster_data() -> pd.DataFrame:
    """12 units x 6 years, 4 adopting in 2003 (4 more in 2004 with ``late``), all in
    cluster 'all'."""
    spec = {f"T{i}": (range(2000, 2006), 2003.0) for i in range(4)}
    spec |= {f"C{i}": (range(2000, 2006), np.nan) for i in range(8)}
    df = _rows(spec)
    df["region"] = "all"
    return df


@pytest.mark.parametrize("method", ["2x2", "twfe", "cs", "imputation"])
def test_did_refuses_a_single_cluster(method: str) -> None:
    """With every unit in one cluster the cluster scores sum to zero (the normal
    equations): CS and imputation reported a standard error of about 1e-16 with no
    warning, 2x2 raised a bare ZeroDivisionError (G / (G - 1)). Every method now
    refuses it, naming the column and its one value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            DataError, match=r"cluster='region' takes one value \('all'\)"
        ):
            impact.did(
                _one_cluster_data(),
                **KW,
                method=method,
                cluster="region",
                inference="analytic",
            )


def test_bacon_refuses_a_single_cluster() -> None:
    """impact.bacon's clustered regression reaches the fixed-effects OLS with one
    cluster: CRV1's G / (G - 1) is undefined, so it stops with an EstimationError
    (not a ZeroDivisionError)."""
    df = _one_cluster_data()
    df.loc[df["unit"].isin(["C0", "C1", "C2", "C3"]), "cohort"] = 2004.0
    with pytest.raises(impact.errors.EstimationError, match="at least 2 clusters"):
        impact.bacon(df, **KW, cluster="region")
