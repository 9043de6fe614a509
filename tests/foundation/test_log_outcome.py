"""``log_outcome=`` on every estimator: stored on the result, read by its verdict, and
guessed (with a warning) when the outcome's name or values look like a log."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

import impact
from impact._scale import log_like_name, log_like_values, mde_fall_fraction
from impact.errors import SpecError


def _frame(log: bool) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n, t = 24, 8
    level = 60 * np.exp(0.3 * rng.normal(size=(n, 1)) + 0.05 * rng.normal(size=(n, t)))
    y = np.log(level) if log else level
    cohort = np.where(
        np.arange(n) < 4, 2014.0, np.where(np.arange(n) < 7, 2015.0, np.inf)
    )
    return pd.DataFrame(
        {
            "la": np.repeat([f"u{i:02d}" for i in range(n)], t),
            "year": np.tile(np.arange(2010, 2010 + t), n),
            "y": y.ravel(),
            "cohort": np.repeat(cohort, t),
            "x": rng.normal(size=n * t),
            "treat": np.repeat(np.isfinite(cohort).astype(int), t),
        }
    )


KW = {"outcome": "y", "unit": "la", "time": "year"}


def _fits(df: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method in (
        "2x2",
        "twfe",
        "event_study",
        "cs",
        "sunab",
        "imputation",
        "did2s",
        "etwfe",
        "stacked",
    ):
        data = df[df["cohort"] != 2015] if method == "2x2" else df
        out[method] = impact.did(
            data, cohort="cohort", method=method, inference="analytic", **KW, **extra
        )
    out["bacon"] = impact.bacon(df, cohort="cohort", **KW, **extra)
    out["matched_did"] = impact.matched_did(df, cohort="cohort", **KW, **extra)
    single = df[df["cohort"] != 2015]
    out["synth"] = impact.synth(
        single[~single["la"].isin(["u01", "u02", "u03"])],
        treated_units="u00",
        treatment_time=2014,
        inference=None,
        **KW,
        **extra,
    )
    cross = df[df["year"] == 2016]
    out["match"] = impact.match(
        cross, treatment="treat", covariates=["x"], outcome="y", **extra
    )
    return out


def test_log_outcome_is_stored_by_every_estimator() -> None:
    for name, res in _fits(_frame(True), log_outcome=True).items():
        assert res.log_outcome is True, name
        assert res.to_dict()["log_outcome"] is True, name
        assert not any(
            "looks like" in w or "range of a natural log" in w for w in res.warnings
        ), name
    for name, res in _fits(_frame(False), log_outcome=False).items():
        assert res.log_outcome is False, name


def test_log_like_values_warn_when_not_given() -> None:
    fits = _fits(_frame(True))
    for name, res in fits.items():
        assert res.log_outcome is None, name
        assert any("range of a natural log" in w for w in res.warnings), name
    # a level (rates around 60) is not flagged
    for name, res in _fits(_frame(False)).items():
        assert res.log_outcome is None, name
        assert not any("natural log" in w for w in res.warnings), name


def test_log_like_name_is_read_as_a_log() -> None:
    df = _frame(True).rename(columns={"y": "log_rate"})
    res = impact.did(
        df,
        cohort="cohort",
        outcome="log_rate",
        unit="la",
        time="year",
        method="twfe",
        inference="analytic",
    )
    assert res.log_outcome is True
    assert any("looks like a natural log (its name)" in w for w in res.warnings)
    d = res.design()
    assert d.log_outcome is True
    assert d.mde_relative == pytest.approx(-math.expm1(-d.mde))
    assert "log points (a fall of" in res.summary()
    with pytest.raises(SpecError, match="'log_outcome' parameter of did"):
        impact.did(
            df,
            cohort="cohort",
            outcome="log_rate",
            unit="la",
            time="year",
            log_outcome="yes",
        )


def test_scale_helpers() -> None:
    assert log_like_name("log_rate") and log_like_name("ln_y") and log_like_name("logy")
    assert log_like_name("rate_log") and not log_like_name("catalog")
    assert not log_like_name("lemp") and not log_like_name("blog_count")
    assert log_like_values(np.log([20.0, 50.0, 80.0, 150.0]))
    assert not log_like_values([20.0, 50.0, 80.0, 150.0])
    assert not log_like_values([0.1, 0.5, 0.9])  # proportions
    assert not log_like_values([1.0, 2.0, 3.0, 4.0])  # counts
    # 0.205 log points: a fall of 1 - exp(-0.205) = 18.5%, not 0.205 / mean(log y)
    assert mde_fall_fraction(0.205, log_outcome=True) == pytest.approx(
        0.185353, abs=1e-6
    )
    assert mde_fall_fraction(6.5, log_outcome=False, baseline=65.0) == pytest.approx(
        0.1
    )
    assert mde_fall_fraction(6.5, log_outcome=None) is None


def test_level_verdict_states_units_and_percent() -> None:
    res = impact.did(
        _frame(False), cohort="cohort", method="twfe", inference="analytic", **KW
    )
    d = res.design()
    assert d.baseline is not None and d.mde_relative == pytest.approx(
        d.mde / d.baseline
    )
    assert f"{d.mde:.3g} (" in d.verdict and "of the baseline" in d.verdict


def test_aggregates_share_the_scale() -> None:
    res = impact.did(
        _frame(True),
        cohort="cohort",
        method="cs",
        log_outcome=True,
        inference="analytic",
        **KW,
    )
    agg = res.aggregate("group")
    assert agg.log_outcome is True
    assert "log points (a fall of" in str(agg.design())
