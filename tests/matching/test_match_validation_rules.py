"""Each matching input rule refuses its bad input with its own message.

One test per rule: the error class and a fragment of the message that only that rule
writes, so switching the rule off (the input then fails later with another message, or
not at all) fails the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impact.errors import DataError, EstimationError, SpecError
from impact.matching import match, matched_did


def _toy(n1: int = 40, n0: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n1 + n0
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    d = np.r_[np.ones(n1), np.zeros(n0)].astype(int)
    x1[d == 1] += 0.5
    y = 1.0 + x1 + 0.5 * x2 + 2.0 * d + rng.normal(scale=0.5, size=n)
    return pd.DataFrame(
        {"d": d, "x1": x1, "x2": x2, "y": y, "g": rng.integers(0, 3, n)}
    )


KW = {"treatment": "d", "covariates": ["x1", "x2"], "outcome": "y"}


def test_collinear_propensity_covariates():
    df = _toy().assign(x3=lambda f: 2.0 * f["x1"] - f["x2"] + 1.0)
    with pytest.raises(EstimationError, match="are collinear"):
        match(df, treatment="d", covariates=["x1", "x2", "x3"], outcome="y")


def test_data_must_be_a_dataframe():
    with pytest.raises(DataError, match="'data' must be a pandas DataFrame"):
        match(_toy().to_dict("list"), **KW)


def test_weighting_needs_a_propensity_score():
    with pytest.raises(SpecError, match="needs a propensity score, not"):
        match(_toy(), **KW, method="ipw", distance="mahalanobis")


def test_trim_only_for_weighting():
    with pytest.raises(SpecError, match="'trim' applies to method='ipw'"):
        match(_toy(), **KW, trim=0.05)


def test_exact_columns_without_missing_values():
    df = _toy().astype({"g": float})
    df.loc[5, "g"] = np.nan
    with pytest.raises(DataError, match=r"exact columns \['g'\] have missing values"):
        match(df, **KW, exact="g")


def test_mahvars_needs_a_propensity_distance():
    with pytest.raises(SpecError, match="'mahvars' needs a propensity distance"):
        match(_toy(), **KW, distance="mahalanobis", mahvars=["x1"])


def test_no_cluster_se_for_weighting():
    with pytest.raises(SpecError, match="weighting has no matched sets to cluster"):
        match(_toy(), **KW, method="ipw", se="cluster")


def test_discard_needs_a_propensity_distance():
    with pytest.raises(SpecError, match="'discard' needs a propensity distance"):
        match(_toy(), **KW, distance="mahalanobis", discard="both")


def test_sd_caliper_needs_a_propensity_distance():
    with pytest.raises(SpecError, match="a caliper in SD units needs a propensity"):
        match(_toy(), **KW, distance="mahalanobis", caliper=0.2)


def test_trimming_that_removes_a_whole_arm():
    # the given score puts every treated unit above 1 - trim: none is left
    df = _toy().assign(ps=lambda f: np.where(f["d"] == 1, 0.95, 0.3))
    with pytest.raises(EstimationError, match="removed every treated or every"):
        match(df, **KW, method="ipw", distance="ps", trim=0.1)


def test_overlap_plot_needs_a_propensity_score():
    res = match(_toy(), **KW, distance="mahalanobis")
    with pytest.raises(SpecError, match="kind='overlap' needs a propensity score"):
        res.plot(kind="overlap")


def test_plot_refuses_unknown_keywords():
    res = match(_toy(), **KW)
    with pytest.raises(SpecError, match="unexpected keyword"):
        res.plot(colour="red")


def _panel(n_t: int = 3, n_c: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_t + n_c):
        a, b = rng.normal(50, 10), rng.normal(0, 1)
        first = 2016.0 if i < n_t else np.nan
        for t, yr in enumerate(range(2010, 2020)):
            y = a + b * t + 2.0 * (i < n_t and yr >= first) + rng.normal()
            rows.append((f"LA{i:03d}", yr, y, first))
    return pd.DataFrame(rows, columns=["la", "year", "rate", "first"])


DKW = {"outcome": "rate", "unit": "la", "time": "year", "cohort": "first"}


def test_matched_did_match_on_not_empty():
    with pytest.raises(SpecError, match="'match_on' is empty"):
        matched_did(_panel(), **DKW, match_on=[])


@pytest.mark.parametrize("caliper", [0.0, -1.0, np.inf, np.nan])
def test_matched_did_caliper_positive(caliper):
    with pytest.raises(SpecError, match="'caliper' must be a positive number"):
        matched_did(_panel(), **DKW, caliper=caliper)


def test_matched_did_needs_two_matched_units():
    with pytest.raises(EstimationError, match="only one matched treated unit"):
        matched_did(_panel(n_t=1), **DKW)


def test_exact_cells_must_hold_both_groups():
    df = _toy().assign(cell=lambda f: f["d"] * 10 + 1)
    with pytest.raises(EstimationError, match="no exact-matching cell holds both"):
        match(df, **KW, method="exact", exact="cell")
