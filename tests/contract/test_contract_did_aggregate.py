"""DiDResult.aggregate(kind) and pretrend_test() (DESIGN.md, impact.did)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from impact.errors import SpecError

KINDS = ["simple", "dynamic", "group", "calendar"]
COHORTS = [2015, 2016, 2018, 2020]  # the cohorts of the committed synthetic panel
LAST_YEAR = 2025


def _check_scalar(res: Any) -> None:
    assert math.isfinite(res.estimate) and math.isfinite(res.se) and res.se > 0
    lo, hi = res.ci
    assert lo <= res.estimate <= hi
    assert 0.0 <= res.pvalue <= 1.0
    json.dumps(res.to_dict(), allow_nan=False)


@pytest.mark.parametrize("case", ["did-cs", "did-sunab"])
@pytest.mark.parametrize("kind", KINDS)
def test_aggregate_kinds(case: str, kind: str, fitted: Callable[[str], Any]) -> None:
    res = fitted(case)
    agg = res.aggregate(kind)
    _check_scalar(agg)
    rows = agg.to_frame()
    assert len(rows) >= 1
    if kind == "group":
        assert sorted(rows["group"]) == COHORTS
    elif kind == "calendar":
        # one row per post-adoption period, first adoption 2015 to the last year
        assert sorted(rows["time"]) == list(range(COHORTS[0], LAST_YEAR + 1))
    elif kind == "dynamic":
        et = np.asarray(rows["event_time"])
        assert (np.diff(et) > 0).all()
        assert et.min() < 0 <= et.max()  # pre- and post-treatment event times
    else:
        assert len(rows) == 1
    # the aggregate is a finite summary of its rows
    assert np.isfinite(rows.select_dtypes("number").to_numpy(float)).all()


@pytest.mark.parametrize("case", ["did-cs", "did-sunab"])
def test_aggregates_in_to_dict(case: str, fitted: Callable[[str], Any]) -> None:
    d = fitted(case).to_dict()
    assert set(KINDS) <= set(d["aggregates"])


def test_event_study_aggregates(fitted: Callable[[str], Any]) -> None:
    res = fitted("did-event_study")
    for kind in ("simple", "dynamic"):
        _check_scalar(res.aggregate(kind))
    # one coefficient per event time: cohort/period aggregates are not identified
    for kind in ("group", "calendar"):
        with pytest.raises(SpecError, match=kind):
            res.aggregate(kind)


@pytest.mark.parametrize("case", ["did-2x2", "did-twfe"])
def test_single_coefficient_methods_refuse_aggregate(
    case: str, fitted: Callable[[str], Any]
) -> None:
    res = fitted(case)
    with pytest.raises(SpecError, match="aggregate"):
        res.aggregate("dynamic")
    with pytest.raises(SpecError, match="pretrend"):
        res.pretrend_test()


@pytest.mark.parametrize("case", ["did-cs", "did-sunab", "did-event_study"])
def test_aggregate_unknown_kind(case: str, fitted: Callable[[str], Any]) -> None:
    with pytest.raises(SpecError, match="kind"):
        fitted(case).aggregate("weekly")


@pytest.mark.parametrize("case", ["did-cs", "did-sunab", "did-event_study"])
def test_pretrend_test(case: str, fitted: Callable[[str], Any]) -> None:
    test = fitted(case).pretrend_test()
    assert math.isfinite(test.statistic) and test.statistic >= 0
    assert int(test.df) == test.df and test.df >= 1
    assert 0.0 <= test.pvalue <= 1.0
    json.dumps(test.to_dict(), allow_nan=False)


def test_pretrend_without_pre_periods_raises(syn_one_cohort: Any) -> None:
    import impact

    late = syn_one_cohort.loc[syn_one_cohort["year"] >= 2017]
    res = impact.did(late, outcome="cla_rate", unit="la_code", time="year",
                     cohort="cohort", method="cs")  # fmt: skip
    with pytest.raises(SpecError, match="pre-treatment"):
        res.pretrend_test()
