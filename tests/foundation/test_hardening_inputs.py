"""Inputs as they come: pandas dtypes, mixed ids, extreme magnitudes, degenerate weights.

Each case was found by fuzzing (issue "Hardening"): before the fix it raised a bare
TypeError / ZeroDivisionError, or returned se = inf beside a finite interval, or spun in
LAPACK. Every case must end in an ImpactError naming the column and the fix, or in the
same estimate as the plain-dtype panel (the brute-force reference here).
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import impact
from impact.data import generate_la_panel
from impact.errors import DataError

KW = {"outcome": "cla_rate", "unit": "la_code", "time": "year", "cohort": "cohort"}


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    d = generate_la_panel(
        seed=1, n_units=30, assignment="staggered", cohorts={2015: 3, 2018: 3}
    )
    return d[["la_code", "year", "cla_rate", "cohort", "child_pop"]].copy()


def _twfe(data: pd.DataFrame) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return impact.did(data, method="twfe", inference="analytic", **KW).estimate


def test_nullable_integer_cohort_with_missing(base: pd.DataFrame) -> None:
    d = base.copy()
    d["cohort"] = d["cohort"].replace(0, np.nan).astype("Int64")
    assert d["cohort"].isna().any()
    assert _twfe(d) == pytest.approx(_twfe(base), abs=1e-10)


@pytest.mark.parametrize("dtype", ["category", "string", "string[pyarrow]"])
def test_unit_id_dtypes(base: pd.DataFrame, dtype: str) -> None:
    if dtype.endswith("[pyarrow]") and importlib.util.find_spec("pyarrow") is None:
        pytest.skip("pyarrow not installed")
    d = base.copy()
    d["la_code"] = d["la_code"].astype(dtype)
    assert _twfe(d) == pytest.approx(_twfe(base), abs=1e-10)


def test_mixed_type_unit_ids_are_compared_as_text(base: pd.DataFrame) -> None:
    d = base.copy()
    d["la_code"] = d["la_code"].astype(object)
    d.loc[d["la_code"] == "LA001", "la_code"] = 1
    panel = impact.Panel(d, **KW)
    assert any("mixes value types" in w for w in panel.warnings)
    assert _twfe(d) == pytest.approx(_twfe(base), abs=1e-10)
    # 1 and "1" are then the same unit: a clear duplicate error, not a TypeError
    d.loc[d["la_code"] == "LA002", "la_code"] = "1"
    with pytest.raises(DataError, match="Duplicated"):
        impact.Panel(d, **KW)


def test_float_nullable_outcome(base: pd.DataFrame) -> None:
    d = base.copy()
    d["cla_rate"] = d["cla_rate"].astype("Float64")
    assert _twfe(d) == pytest.approx(_twfe(base), abs=1e-10)


def test_dates_become_years(base: pd.DataFrame) -> None:
    d = base.copy()
    d["year"] = pd.to_datetime(d["year"].astype(str) + "-03-31")
    d["cohort"] = pd.to_datetime(
        d["cohort"].replace(0, np.nan).astype("Int64").astype(str) + "-03-31",
        errors="coerce",
    )
    panel = impact.Panel(d, **KW)
    assert any("calendar years" in w for w in panel.warnings)
    assert _twfe(d) == pytest.approx(_twfe(base), abs=1e-10)


def test_annual_periods_become_years_and_others_are_refused(base: pd.DataFrame) -> None:
    d = base.copy()
    d["year"] = pd.PeriodIndex(d["year"].astype(str), freq="Y")
    assert _twfe(d) == pytest.approx(_twfe(base), abs=1e-10)
    q = base.copy()
    q["year"] = pd.PeriodIndex(q["year"].astype(str) + "Q1", freq="Q")
    with pytest.raises(DataError, match=r"'year' holds Q.* periods.*integer periods"):
        impact.Panel(q, **KW)


def test_all_zero_weights_are_refused(base: pd.DataFrame) -> None:
    d = base.assign(w=0.0)
    with pytest.raises(DataError, match="'w' \\(weights=\\) is zero in every row"):
        impact.did(d, method="twfe", weights="w", **KW)


@pytest.mark.parametrize("method", ["2x2", "twfe", "event_study", "cs", "sunab"])
def test_outcomes_whose_squares_overflow_are_refused(
    base: pd.DataFrame, method: str
) -> None:
    d = base.copy()
    d["cla_rate"] = d["cla_rate"] * 1e300
    with pytest.raises(DataError, match=r"'cla_rate' has values as large as .*Rescale"):
        impact.did(d, method=method, **KW)


def test_large_but_safe_outcomes_are_accepted(base: pd.DataFrame) -> None:
    # 1e90 is absurd for a rate but its squares fit: the estimate scales exactly
    d = base.assign(cla_rate=base["cla_rate"] * 1e90)
    assert _twfe(d) / 1e90 == pytest.approx(_twfe(base), rel=1e-9)


def test_bacon_and_synth_and_match_refuse_overflowing_values(
    base: pd.DataFrame,
) -> None:
    d = base.assign(cla_rate=base["cla_rate"] * 1e300)
    with pytest.raises(DataError, match="Rescale"):
        impact.bacon(d, **KW)
    with pytest.raises(DataError, match="'cla_rate' has values as large as"):
        impact.synth(
            d,
            outcome="cla_rate",
            unit="la_code",
            time="year",
            treated_units=["LA001"],
            treatment_time=2018,
            inference=None,
        )
    cross = base.loc[base["year"] == 2014].assign(
        treat=lambda f: (f["cohort"] > 0).astype(int),
        big=lambda f: f["child_pop"] * 1e300,
    )
    with pytest.raises(DataError, match="'big' has values as large as"):
        impact.match(cross, treatment="treat", covariates=["big"], outcome="cla_rate")
    with pytest.raises(
        DataError, match="'cla_rate' has infinite values or values beyond"
    ):
        impact.match(
            cross.assign(cla_rate=cross["cla_rate"] * 1e300),
            treatment="treat",
            covariates=["child_pop"],
            outcome="cla_rate",
        )


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (
            lambda d: impact.did(
                d, method="cs", inference="bootstrap", n_boot=10**9, **KW
            ),
            "n_boot",
        ),
        (
            lambda d: impact.matched_did(
                d, n_perm=10**9, inference="permutation", **KW
            ),
            "n_perm",
        ),
        (
            lambda d: impact.power.simulate(
                d,
                outcome="cla_rate",
                unit="la_code",
                time="year",
                treatment_time=2018,
                n_treated=3,
                effect=0.0,
                n_sims=10**9,
            ),
            "n_sims",
        ),
    ],
    ids=["did", "matched_did", "simulate"],
)
def test_draw_counts_beyond_the_limit_are_refused_at_once(
    base: pd.DataFrame, call: object, name: str
) -> None:
    import time

    from impact.errors import SpecError

    start = time.perf_counter()
    with pytest.raises(SpecError, match=f"{name}=1,000,000,000 is more than the limit"):
        call(base)  # type: ignore[operator]
    assert time.perf_counter() - start < 5


def test_the_memory_limit_is_checked_before_allocating(base: pd.DataFrame) -> None:
    import impact.limits
    from impact.errors import SpecError

    with impact.limits.raised(draws=10**9), pytest.raises(SpecError, match="GiB"):
        impact.did(base, method="cs", inference="bootstrap", n_boot=10**8, **KW)
    # the limits can be set either way, and are restored after the block
    with (
        impact.limits.raised(draws=100),
        pytest.raises(SpecError, match="limit of 100 "),
    ):
        impact.did(base, method="cs", inference="bootstrap", n_boot=999, **KW)
    res = impact.did(base, method="cs", inference="bootstrap", n_boot=999, **KW)
    assert res.estimate == pytest.approx(_cs_simple_by_hand(base), abs=1e-10)


def _cs_simple_by_hand(data: pd.DataFrame) -> float:
    """Callaway-Sant'Anna simple ATT, never-treated controls, by cell means:
    ATT(g,t) = mean_g(Y_t - Y_{g-1}) - mean_never(Y_t - Y_{g-1}), averaged over
    post cells t >= g weighted by cohort size."""
    W = data.pivot(index="la_code", columns="year", values="cla_rate")
    coh = data.groupby("la_code")["cohort"].first()
    never = coh.index[coh == 0]
    num = den = 0.0
    for g in sorted(set(coh) - {0}):
        grp = coh.index[coh == g]
        for t in W.columns[W.columns >= g]:
            att = (W.loc[grp, t] - W.loc[grp, g - 1]).mean() - (
                W.loc[never, t] - W.loc[never, g - 1]
            ).mean()
            num += len(grp) * att
            den += len(grp)
    return num / den


def test_overflowing_outcome_cannot_reach_lapack(base: pd.DataFrame) -> None:
    # a Panel's outcome replaced in place of the checks at construction: refused too
    from impact.errors import EstimationError

    panel = impact.Panel(base, **KW)
    Y = panel.Y.copy()
    Y[0, 3] = 1e300
    with pytest.raises(DataError, match="New outcome has values as large as 1e\\+300"):
        panel.with_outcome(Y)
    # and the pre-trend Wald test refuses non-finite input instead of calling LAPACK
    from impact.did.aggregate import pretest_wald

    res = impact.did(panel, method="cs", inference="analytic")
    st = res._cs
    from impact.did.cs import _cluster_sum

    summed = _cluster_sum(st["fit"].inf, st["codes"]) * 1e200  # V = summed^2 overflows
    with pytest.raises(EstimationError, match="not finite"):
        pretest_wald(st["fit"], summed, st["n"])


def test_panel_did_mde_without_degrees_of_freedom_is_refused() -> None:
    from impact.errors import SpecError

    with pytest.raises(SpecError, match="0 residual degrees of freedom"):
        impact.power.panel_did_mde(n_treated=1, pre=1, post=1, n_units=2)
    # one more unit gives a large, finite MDE: df = J(m+r) - (J+m+r) = 1, whose t
    # quantiles are Cauchy's, tan(pi (p - 1/2)); Var = (m+r)/(mr) / (P(1-P)J) = 3
    # (Burlig, Preonas and Woerman 2020, iid errors, sigma2 = 1)
    expect = (math.tan(math.pi * 0.3) + math.tan(math.pi * 0.475)) * math.sqrt(3)
    got = impact.power.panel_did_mde(n_treated=1, pre=1, post=1, n_units=3)
    assert got == pytest.approx(expect, rel=1e-9)


def test_sdid_with_a_constant_outcome_is_a_clear_error() -> None:
    d = generate_la_panel(seed=1, n_units=20, n_treated=0)[
        ["la_code", "year", "cla_rate"]
    ]
    d = d.assign(cla_rate=5.0)
    with pytest.raises(DataError, match="constant"):
        impact.synth(
            d,
            outcome="cla_rate",
            unit="la_code",
            time="year",
            treated_units=["LA001"],
            treatment_time=2018,
            method="sdid",
        )
