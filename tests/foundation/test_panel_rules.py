"""Validation rules of Panel, each with a test that fails if the rule is deleted.

- A cluster label must be fixed within a unit: otherwise the cluster-robust variance
  silently uses the first period's label (``groupby(unit).first()``), so the rule is the
  only thing standing between the user and a wrong SE.
- Units first treated after the last period are never observed treated: R ``did``
  (``pre_process_did``) recodes them as never treated. Kept as a cohort they would become
  a phantom treated group with no post-period, counted in ``n_treated`` and, for CS,
  dropped from the never-treated comparison group (changing every ATT(g,t)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.errors import DataError
from impact.panel import Panel


def _long(n: int = 12, t: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a = rng.normal()
        for s in range(t):
            rows.append((f"u{i:02d}", 2000 + s, a + 0.1 * s + rng.normal(), i % 4))
    df = pd.DataFrame(rows, columns=["la", "year", "y", "region"])
    df["first"] = np.where(df["la"].isin(["u00", "u01", "u02", "u03"]), 2003, np.nan)
    return df


def test_cluster_changing_within_a_unit_is_an_error_naming_unit_and_column():
    df = _long()
    df.loc[(df["la"] == "u05") & (df["year"] == 2004), "region"] = 9
    with pytest.raises(DataError, match=r"(?s)'region'.*changes over time.*u05"):
        Panel(df, unit="la", time="year", outcome="y", cohort="first", cluster="region")
    with pytest.raises(DataError, match="u05"):
        impact.did(
            df,
            outcome="y",
            unit="la",
            time="year",
            cohort="first",
            cluster="region",
            method="twfe",
        )


def test_fixed_cluster_is_accepted_and_used():
    df = _long()
    p = Panel(df, unit="la", time="year", outcome="y", cohort="first", cluster="region")
    assert p.clusters.tolist() == [i % 4 for i in range(12)]


def _late_adopters(mpdta: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    late = mpdta.copy()
    # the 2007 cohort is told it adopts in 2009, after the panel ends (2007)
    late.loc[late["first.treat"] == 2007, "first.treat"] = 2009
    never = mpdta.copy()
    never.loc[never["first.treat"] == 2007, "first.treat"] = 0
    return late, never


@pytest.mark.parametrize("method", ["cs", "twfe"])
def test_adopters_after_the_last_period_are_never_treated(reference_data, method):
    mpdta = pd.read_csv(reference_data / "mpdta.csv")
    late, never = _late_adopters(mpdta)
    kw = dict(
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method=method,
        inference="analytic",
    )
    a = impact.did(late, **kw)
    b = impact.did(never, **kw)
    n_late = int((mpdta.groupby("countyreal")["first.treat"].first() == 2007).sum())
    assert n_late == 131
    assert a.n_treated == b.n_treated == 191 - n_late
    assert a.n_control == b.n_control
    assert a.estimate == pytest.approx(b.estimate, abs=1e-12)
    assert a.se == pytest.approx(b.se, abs=1e-12)
    assert any(
        f"{n_late} unit(s) first treated after the last period" in w for w in a.warnings
    )
    if method == "cs":
        assert sorted(a.att_gt["group"].unique()) == [2004, 2006]
        pd.testing.assert_frame_equal(a.att_gt, b.att_gt)


def test_panel_recodes_late_cohort_and_counts_it_untreated():
    df = _long()
    df.loc[df["la"] == "u11", "first"] = 2030
    p = Panel(df, unit="la", time="year", outcome="y", cohort="first")
    assert p.n_treated == 4
    assert np.isinf(p.cohort[p.units.tolist().index("u11")])
    assert list(p.cohorts) == [2003]
