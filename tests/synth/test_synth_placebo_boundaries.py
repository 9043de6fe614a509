"""Placebo-in-space edge cases pinned to counts and fits done by hand in the test.

- Ties in the MSPE-ratio rank column. The p-value counts a placebo whose ratio equals
  the treated unit's against the treated unit, ``(1 + #{placebo >= treated}) / (J + 1)``,
  so a unit's rank is ``#{units whose ratio >= its ratio}`` (tidysynth's
  ``grab_significance`` reports ``fishers_exact_pvalue = rank / max(rank)``); with no
  filter and no floor the treated unit's rank over ``J + 1`` is the p-value. Ties are
  built exactly: a gap path scaled by 2 has the same post/pre ratio to the last bit,
  and two identical donors fit each other with a pre-period MSPE of exactly 0 (ratio
  inf).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.synth._prep import UnitFit
from impact.synth.placebo import placebo_in_space, placebo_table

T0 = 8
YEARS = np.arange(2000, 2012)


def _counted_rank(ratio: np.ndarray) -> np.ndarray:
    """Rank 1 = largest; a unit's rank is the number of units with ratio >= its own."""
    return (ratio[None, :] >= ratio[:, None]).sum(axis=1)


def _fit(unit: str, gap: np.ndarray) -> UnitFit:
    T = gap.size
    pre = np.arange(T) < T0
    return UnitFit(
        unit=unit,
        treatment_time=int(YEARS[T0]),
        donors=np.array([]),
        weights=np.array([]),
        v=np.array([]),
        predictors=[],
        x1=np.array([]),
        X0=np.zeros((0, 0)),
        y1=gap.astype(float),
        synthetic=np.zeros(T),
        pre=pre,
        post=~pre,
    )


def test_rank_counts_ties_against_the_unit_as_the_pvalue_does():
    rng = np.random.default_rng(7)
    g = rng.normal(size=YEARS.size)
    g[T0:] += 3.0
    base = [rng.normal(size=YEARS.size) for _ in range(4)]
    # treated T ties with p0 (gap x 2); p1 and p2 tie with each other (gap x 2)
    treated = [_fit("T", g)]
    placebos = [
        _fit("p0", 2.0 * g),
        _fit("p1", base[0]),
        _fit("p2", 2.0 * base[0]),
        _fit("p3", base[1]),
        _fit("p4", base[2]),
        _fit("p5", base[3]),
    ]
    table = placebo_table(treated, {int(YEARS[T0]): placebos}).set_index("unit")
    ratio = table["ratio"].to_numpy()
    assert table.loc["T", "ratio"] == table.loc["p0", "ratio"]  # exact ties
    assert table.loc["p1", "ratio"] == table.loc["p2", "ratio"]
    np.testing.assert_array_equal(table["rank"].to_numpy(), _counted_rank(ratio))
    # hand ratios: post/pre MSPE of each gap path
    hand = {
        u: np.mean(x[T0:] ** 2) / np.mean(x[:T0] ** 2)
        for u, x in [("T", g), ("p1", base[0]), ("p3", base[1])]
    }
    for u, r in hand.items():
        assert table.loc[u, "ratio"] == pytest.approx(r, rel=1e-12)
    # the treated unit's rank over J + 1 is the unfiltered, unfloored p-value
    _, p = placebo_in_space(table.reset_index())
    plac = ratio[~table["treated"].to_numpy()]
    t_ratio = table.loc["T", "ratio"]
    assert p == pytest.approx((1 + np.sum(plac >= t_ratio)) / (1 + plac.size))
    assert p == pytest.approx(table.loc["T", "rank"] / len(table))
    assert table.loc["T", "rank"] == 1 + np.sum(plac >= t_ratio) >= 2


def test_identical_donors_tie_at_an_infinite_ratio_in_the_rank():
    # d5 duplicates d0: as placebos each fits the other exactly (pre-MSPE 0, ratio inf)
    rng = np.random.default_rng(3)
    T = YEARS.size
    D = 20 + np.cumsum(rng.normal(size=(5, T)), axis=1)
    D = np.vstack([D, D[0]])
    y = 0.5 * D[1] + 0.5 * D[2] + rng.normal(scale=0.3, size=T)
    y[T0:] -= 2.0
    Y = np.vstack([D, y])
    units = [f"d{i}" for i in range(6)] + ["T"]
    df = pd.DataFrame(
        {
            "unit": np.repeat(units, T),
            "year": np.tile(YEARS, len(units)),
            "y": Y.ravel(),
        }
    )
    res = impact.synth(
        df,
        outcome="y",
        unit="unit",
        time="year",
        treated_units="T",
        treatment_time=int(YEARS[T0]),
        seed=0,
    )
    tab = res.placebo().table.set_index("unit")
    assert tab.loc["d0", "pre_mspe"] == 0.0 and tab.loc["d5", "pre_mspe"] == 0.0
    assert np.isinf(tab.loc["d0", "ratio"]) and np.isinf(tab.loc["d5", "ratio"])
    np.testing.assert_array_equal(
        tab["rank"].to_numpy(), _counted_rank(tab["ratio"].to_numpy())
    )
    assert tab.loc["d0", "rank"] == tab.loc["d5", "rank"] == 2
