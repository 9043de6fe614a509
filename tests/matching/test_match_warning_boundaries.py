"""The figures and cut-offs of ``match``'s diagnostic warnings, computed in the test.

User-supplied propensity scores (``distance=<column>``) make every input chosen here, so
each rule is applied by hand to known numbers:

* IPW weight concentration: warn when one unit carries more than 10% of the total weight;
  ATT weights 1 (treated) and e / (1 - e) (comparison), as MatchIt/WeightIt's
  ``estimand="ATT"``; the design puts the largest share at 13.5%.
* Remaining imbalance: warn on |SMD after| > 0.1 (the usual 0.1 rule of Austin 2009 and
  cobalt's default threshold), SMDs from ``balance_by_hand`` (MatchIt/cobalt definitions
  written out); the design puts one SMD between 0.1 and 0.25.
* Poor overlap: count the treated units whose score is strictly above every comparison
  score; a treated unit tied with the largest comparison score has a comparison unit
  at its score, so it is not counted.
* Few units: warn when fewer than 20 treated (or comparison) units carry weight (the
  threshold of docs/statistical_validity.md); exactly 20 is enough.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.matching import match

from .balance_by_hand import balance_row


def _ipw_data() -> pd.DataFrame:
    """10 treated at score 0.5; 20 comparison at 0.2 and one at 0.7."""
    ps = np.r_[np.full(10, 0.5), np.full(20, 0.2), 0.7]
    d = np.r_[np.ones(10), np.zeros(21)].astype(int)
    x = np.r_[np.linspace(0.0, 1.8, 10), np.linspace(0.0, 1.9, 20), 0.6]
    y = 1.0 + x + d
    return pd.DataFrame({"d": d, "ps": ps, "x": x, "y": y})


def test_ipw_weight_share_warning_states_the_share() -> None:
    df = _ipw_data()
    d, e = df["d"].to_numpy(bool), df["ps"].to_numpy()
    w = np.where(d, 1.0, e / (1 - e))  # ATT odds weights
    share = w.max() / w.sum()  # (7/3) / (10 + 20/4 + 7/3) = 0.1346
    assert 0.1 < share < 0.2
    res = match(df, treatment="d", covariates=["x"], distance="ps", method="ipw")
    np.testing.assert_allclose(
        res.weights.to_numpy() / res.weights[d].mean(), w, rtol=1e-12
    )
    msg = [m for m in res.warnings if "of the total weight" in m]
    assert msg == [
        f"Poor overlap: one unit carries {share:.0%} of the total weight; "
        "consider trim=0.1 or method='overlap'."
    ]
    assert "13%" in msg[0]


def test_ipw_weight_share_below_cut_is_silent() -> None:
    # the 0.7 comparison unit at 0.6 instead: weight 1.5, share 1.5 / 16.5 = 0.0909
    df = _ipw_data()
    df.loc[30, "ps"] = 0.6
    d, e = df["d"].to_numpy(bool), df["ps"].to_numpy()
    w = np.where(d, 1.0, e / (1 - e))
    assert w.max() / w.sum() < 0.1
    res = match(df, treatment="d", covariates=["x"], distance="ps", method="ipw")
    assert not [m for m in res.warnings if "of the total weight" in m]


def test_remaining_imbalance_warning_between_01_and_025() -> None:
    df = _ipw_data()
    d, e = df["d"].to_numpy(bool), df["ps"].to_numpy()
    w = np.where(d, 1.0, e / (1 - e))
    smd = balance_row(df["x"].to_numpy(), d, w, estimand="ATT")["smd_after"]
    assert 0.1 < abs(smd) < 0.25
    res = match(df, treatment="d", covariates=["x"], distance="ps", method="ipw")
    msg = [m for m in res.warnings if m.startswith("Remaining imbalance")]
    assert msg == [
        f"Remaining imbalance: 1 covariate(s) with |SMD| > 0.1 after matching "
        f"(worst x: {smd:.3f}); consider adjust=True, a caliper or exact matching."
    ]


def test_overlap_warning_counts_only_strictly_above() -> None:
    # treated scores 0.3 .. 0.6, one tied with the largest comparison score (0.7) and
    # two above it (0.8, 0.85): two treated units lie above every comparison unit.
    ps = np.r_[0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, np.linspace(0.1, 0.7, 12)]
    d = np.r_[np.ones(7), np.zeros(12)].astype(int)
    df = pd.DataFrame({"d": d, "ps": ps, "x": ps * 2.0 + 0.1 * np.arange(19) % 0.3})
    above = int(np.sum(ps[d == 1] > ps[d == 0].max()))
    assert above == 2 and np.sum(ps[d == 1] >= ps[d == 0].max()) == 3
    res = match(df, treatment="d", covariates=["x"], distance="ps", replace=True)
    msg = [m for m in res.warnings if m.startswith("Poor overlap")]
    assert msg == [
        f"Poor overlap: {above} treated units have propensity scores above every "
        "comparison unit's; consider a caliper or discard='both'."
    ]


@pytest.mark.parametrize("n1", [19, 20])
def test_few_units_warning_below_twenty(n1: int) -> None:
    # n1 treated matched 1:1 without replacement to n1 of 2 * n1 comparison units: n1
    # units carry weight in each arm; the warning fires for fewer than 20 only.
    rng = np.random.default_rng(8)
    n0 = 2 * n1
    d = np.r_[np.ones(n1), np.zeros(n0)].astype(int)
    ps = np.r_[np.linspace(0.3, 0.6, n1), np.linspace(0.2, 0.65, n0)]
    df = pd.DataFrame({"d": d, "ps": ps, "x": rng.normal(size=n1 + n0)})
    df["y"] = df["x"] + df["d"] + rng.normal(size=n1 + n0)
    res = match(df, treatment="d", covariates=["x"], outcome="y", distance="ps")
    w = res.weights.to_numpy()
    assert int(((w > 0) & (d == 1)).sum()) == n1
    assert int(((w > 0) & (d == 0)).sum()) == n1
    few = [m for m in res.warnings if m.startswith("Only ")]
    if n1 < 20:
        assert [m.split(":")[0] for m in few] == [
            f"Only {n1} treated units carry weight",
            f"Only {n1} comparison units carry weight",
        ]
        assert all("fewer than 20" in m for m in few)
    else:
        assert few == []
