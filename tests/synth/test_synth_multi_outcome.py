"""impact.synth(outcome=[...]): one synthetic control per outcome, adjusted p-values.

References: Holm from statsmodels ``multipletests``; Romano-Wolf from a brute-force
step-down loop written here over the placebo-in-space tables of single-outcome fits
(Abadie, Diamond and Hainmueller 2010 placebo distribution, taken jointly across the
outcomes: the same placebo states), on Proposition 99 (cigarette sales and retail
price, California 1989).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

import impact
from impact.errors import DataError, ImpactWarning

KW = {
    "unit": "state",
    "time": "year",
    "treated_units": "California",
    "treatment_time": 1989,
    "v": "equal",
}


@pytest.fixture(scope="module")
def prop99(reference_data):
    return pd.read_csv(reference_data / "smoking_prop99.csv")


def _quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImpactWarning)
        return impact.synth(*args, **kw)


def test_synth_outcome_list_romano_wolf_from_joint_placebos(prop99):
    outcomes = ["cigsale", "retprice", "beer"]
    data = prop99.dropna(subset=["beer"])
    data = data[
        data.groupby("state")["year"].transform("size") == data["year"].nunique()
    ]
    multi = _quiet(data, outcome=outcomes, **KW)
    frame = multi.to_frame()
    singles = [_quiet(data, outcome=o, **KW) for o in outcomes]
    np.testing.assert_allclose(frame["estimate"], [s.estimate for s in singles])
    np.testing.assert_allclose(frame["pvalue"], [s.pvalue for s in singles])
    np.testing.assert_allclose(
        frame["pvalue_holm"], multipletests(frame["pvalue"], method="holm")[1]
    )
    # brute force: unit u's scaled statistics across outcomes are one joint draw
    tabs = []
    for s in singles:
        tab = s.placebo().table.set_index("unit").sort_index()
        assert tab["kept"].all()
        tabs.append(tab)
    stat = np.array([t["statistic"].to_numpy() for t in tabs]).T  # units x outcomes
    scale = stat.std(axis=0, ddof=1)
    treated = [int(np.flatnonzero(t["treated"].to_numpy())[0]) for t in tabs]
    obs = np.array([stat[treated[k], k] for k in range(3)]) / scale
    draws = stat / scale
    order = np.argsort(-obs)
    expect = np.empty(3)
    prev = 0.0
    for rank, j in enumerate(order):
        rest = order[rank:]
        hits = sum(
            draws[u, rest].max() >= obs[j] * (1 - 1e-12) for u in range(draws.shape[0])
        )
        prev = max(prev, hits / draws.shape[0])
        expect[j] = prev
    np.testing.assert_allclose(frame["pvalue_romano_wolf"], expect, atol=1e-12)
    one = _quiet(data, outcome=["cigsale"], **KW).to_frame().iloc[0]
    assert one["pvalue_romano_wolf"] == pytest.approx(one["pvalue"], abs=1e-12)


def test_synth_outcome_list_errors(prop99):
    with pytest.raises(DataError, match=r"Outcome column\(s\) \['cig'\] not found"):
        impact.synth(prop99, outcome=["cigsale", "cig"], **KW)
    multi = _quiet(
        prop99,
        outcome=["cigsale", "retprice"],
        **{**KW, "treated_units": ["California", "Utah"]},
    )
    assert multi.to_frame()["pvalue_romano_wolf"].isna().all()
    assert any("Romano-Wolf p-values are not available" in w for w in multi.warnings)
