"""Input rules of the DiD estimators that no default test reached (line coverage of
tests/did, tests/inference, tests/diagnostics and tests/contract, December 2026).

Each test calls a public entry point (``impact.did``, ``impact.bacon``, result methods,
``honest_sensitivity``, ``cell_means``) with one bad input and checks the error class
and that the message names the offending option, column, unit or period. The expected
messages are the rule as stated in the code; each rule is switched off by an entry in
tools/mutations/did_raise_rules.json, under which the call runs on (with the option
ignored, or a bare numpy/pandas error, or a silent NaN) and the test fails.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import impact
from impact.did import honest_sensitivity
from impact.did.regression import cell_means
from impact.errors import DataError, EstimationError, SpecError

KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}
SW = {"outcome": "y", "unit": "unit", "time": "year", "treated": "tr"}
FAST = {"inference": "analytic"}  # a call the rule no longer stops returns fast


def _panel(cohorts: list[int] | None = None, n_t: int = 6) -> pd.DataFrame:
    """12 units x 6 years (2000-2005): cohorts 2003, 2004 and never treated (0)."""
    rng = np.random.default_rng(5)
    cohort = np.array(
        cohorts if cohorts is not None else [2003] * 4 + [2004] * 4 + [0] * 4
    )
    n = len(cohort)
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(2000 + np.arange(n_t), n),
            "y": rng.normal(size=n * n_t),
            "x": rng.normal(size=n * n_t),
            "cohort": np.repeat(cohort, n_t),
        }
    )


def _switching() -> pd.DataFrame:
    """The default panel with its absorbing 0/1 indicator as treated= column tr."""
    df = _panel()
    return df.assign(tr=((df["cohort"] > 0) & (df["year"] >= df["cohort"])).astype(int))


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --- method="dcdh": the treated= column ---------------------------------------------


def test_dcdh_treated_column_must_exist() -> None:
    with pytest.raises(DataError, match=r"Column 'nope' \(treated=\) not found"):
        impact.did(_switching(), **{**SW, "treated": "nope"}, method="dcdh", **FAST)


def test_dcdh_treated_must_be_0_or_1_naming_value_unit_and_period() -> None:
    """Row 5 is unit 'u0' in 2005. The values are shown as plain Python values
    (``0.5``, ``'u0'``, ``2005``), not numpy reprs such as ``np.float64(0.5)``."""
    df = _switching().astype({"tr": float})
    df["unit"] = "u" + df["unit"].astype(str)
    df.loc[5, "tr"] = 0.5
    with pytest.raises(
        DataError,
        match=r"Column 'tr' \(treated=\) must be 0 or 1; found 0\.5 at unit='u0', "
        r"year=2005\.$",
    ):
        impact.did(df, **SW, method="dcdh", **FAST)


def test_dcdh_gap_in_treated_names_unit_and_period() -> None:
    """Dropping row 7 (unit 1, 2001) with balance='keep' leaves no treatment value
    there; without the rule the NaN would enter the switcher design."""
    df = _switching().drop(index=[7]).reset_index(drop=True)
    with pytest.raises(
        DataError,
        match=r"Column 'tr' \(treated=\) is missing for unit=1, year=2001; fill it in",
    ):
        impact.did(df, **SW, method="dcdh", balance="keep", **FAST)


def test_dcdh_treatment_that_never_changes_is_refused() -> None:
    """Units 0-3 treated in every year, the rest never: nobody switches."""
    df = _switching().assign(tr=lambda d: (d["unit"] < 4).astype(int))
    with pytest.raises(DataError, match="The treatment never changes: method='dcdh'"):
        impact.did(df, **SW, method="dcdh", **FAST)


def test_dcdh_every_unit_switching_at_once_has_no_comparison() -> None:
    """Every unit switches on in 2003: no not-yet-switched unit to compare with."""
    df = _switching().assign(tr=lambda d: (d["year"] >= 2003).astype(int))
    with pytest.raises(DataError, match="No switcher has a comparison unit"):
        impact.did(df, **SW, method="dcdh", **FAST)


def test_dcdh_units_switching_more_than_once_are_refused() -> None:
    """tr alternates 0/1 every year in every unit."""
    df = _switching().assign(tr=lambda d: (d["year"] % 2 == d["unit"] % 2).astype(int))
    with pytest.raises(
        DataError, match="Every unit's treatment changes more than once"
    ):
        impact.did(df, **SW, method="dcdh", **FAST)


# --- impact.did(...): options that do not apply -------------------------------------


def test_cluster_on_a_prebuilt_panel_is_refused() -> None:
    """A Panel fixes its cluster column when built; did(cluster=...) would be ignored."""
    panel = impact.Panel(_panel(), **KW)
    with pytest.raises(
        SpecError, match=r"cluster= must be set when building the Panel"
    ):
        impact.did(panel, **KW, cluster="cohort", **FAST)


def test_bins_with_sunab_is_refused() -> None:
    with pytest.raises(SpecError, match=r"bins= is not available for method='sunab'"):
        impact.did(_panel(), **KW, method="sunab", bins=(-2, 2), **FAST)


def test_window_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(SpecError, match=r"window= must be an int k .* got 'abc'"):
        impact.did(_panel(), **KW, method="stacked", window="abc", **FAST)


@pytest.mark.parametrize(
    ("ref_period", "message"),
    [
        pytest.param([], r"ref_period must name at least one event time", id="empty"),
        pytest.param(
            list(range(-5, 6)),
            r"No event-time dummy is left after excluding the reference period\(s\); "
            r"check ref_period",
            id="every-event-time",
        ),
    ],
)
def test_event_study_ref_period_rules(ref_period: list[int], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        impact.did(_panel(), **KW, method="event_study", ref_period=ref_period, **FAST)


def test_poisson_etwfe_takes_no_covariates() -> None:
    df = _panel().assign(y=lambda d: np.round(np.abs(d["y"]) * 10))
    with pytest.raises(SpecError, match=r"family='poisson' takes no covariates"):
        impact.did(df, **KW, method="etwfe", family="poisson", covariates=["x"], **FAST)


def test_bacon_refuses_a_weighted_panel() -> None:
    df = _panel().assign(w=lambda d: 1.0 + d["unit"] % 3)
    panel = impact.Panel(df, **KW, weights="w")
    with pytest.raises(SpecError, match=r"bacon\(\) needs a Panel without weights"):
        impact.bacon(panel, **KW, **FAST)


# --- impact.did(...): designs that cannot be estimated -------------------------------


def test_cs_outcome_regression_singular_in_the_comparison_group() -> None:
    """x is 1 in treated units and 0 in never-treated ones: constant among the
    comparison units, so their outcome regression on (1, x) is singular."""
    df = _panel().assign(x=lambda d: (d["cohort"] > 0).astype(float))
    with pytest.raises(
        EstimationError, match="outcome regression on the covariates is singular"
    ):
        impact.did(df, **KW, covariates=["x"], est_method="reg", **FAST)


def test_cs_propensity_logit_with_duplicated_covariate_is_singular() -> None:
    df = _panel().assign(x2=lambda d: d["x"])
    with pytest.raises(EstimationError, match="propensity-score logit is singular"):
        impact.did(df, **KW, covariates=["x", "x2"], est_method="ipw", **FAST)


def test_imputation_with_collinear_covariates_is_refused() -> None:
    df = _panel().assign(x2=lambda d: 2 * d["x"])
    with pytest.raises(
        EstimationError, match="covariates are collinear with the unit and period"
    ):
        impact.did(df, **KW, method="imputation", covariates=["x", "x2"], **FAST)


def test_etwfe_notyet_without_never_treated_names_uncovered_periods() -> None:
    """Cohorts 2003, 2004, 2005 and no never-treated unit: 2005 has no untreated unit."""
    df = _panel([2003] * 4 + [2004] * 4 + [2005] * 4)
    with pytest.raises(DataError, match=r"periods 2005\.\.2005 have no untreated unit"):
        impact.did(df, **KW, method="etwfe", control="notyet", **FAST)


def test_stacked_without_clean_comparison_is_refused() -> None:
    df = _panel([2003] * 4 + [2004] * 4 + [2005] * 4)
    with pytest.raises(DataError, match="no cohort has a period before adoption and a"):
        impact.did(df, **KW, method="stacked", control="never", **FAST)


def test_poisson_cohort_without_events_names_cohort_and_period() -> None:
    df = _panel().assign(y=lambda d: np.round(np.abs(d["y"]) * 10))
    df.loc[(df["cohort"] == 2003) & (df["year"] == 2004), "y"] = 0.0
    with pytest.raises(
        EstimationError, match=r"Cohort 2003 has no events in period 2004"
    ):
        impact.did(df, **KW, method="etwfe", family="poisson", **FAST)


# --- result methods -----------------------------------------------------------------


@pytest.fixture(scope="module")
def fits() -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = _panel()
        short = _panel([2001] * 4 + [0] * 4, n_t=4)  # one period before adoption
        return {
            "es": impact.did(full, **KW, method="event_study", inference="analytic"),
            "cs": impact.did(full, **KW, method="cs", inference="analytic"),
            "twfe": impact.did(full, **KW, method="twfe", inference="analytic"),
            "es_short": impact.did(
                short, **KW, method="event_study", inference="analytic"
            ),
            "cs_short": impact.did(short, **KW, method="cs", inference="analytic"),
            "dcdh": impact.did(_switching(), **SW, method="dcdh", inference="analytic"),
            "es_one": impact.did(
                _panel([2003] * 4 + [0] * 4),
                **KW,
                method="event_study",
                inference="analytic",
            ),
        }


CASES: list[Any] = [
    pytest.param(
        "es",
        lambda r: r.aggregate("simple", max_e=-1),
        SpecError,
        r"No post-treatment coefficient to aggregate with max_e=-1",
        id="event_study-simple-max_e",
    ),
    pytest.param(
        "es",
        lambda r: r.aggregate("dynamic", min_e=10),
        SpecError,
        r"No event time left between min_e=10 and max_e=inf",
        id="event_study-dynamic-window",
    ),
    pytest.param(
        "cs",
        lambda r: r.aggregate("simple", max_e=-1),
        SpecError,
        r"No post-treatment ATT\(g,t\) to aggregate \(check max_e\)",
        id="cs-simple-max_e",
    ),
    pytest.param(
        "twfe",
        lambda r: r.sensitivity(),
        SpecError,
        r"method='twfe' has no event-study coefficients",
        id="twfe-sensitivity",
    ),
    pytest.param(
        "twfe",
        lambda r: r.plot(kind="cells"),
        SpecError,
        r"kind='cells' needs method='2x2'",
        id="twfe-plot-cells",
    ),
    pytest.param(
        "twfe",
        lambda r: r.plot(kind="att_gt"),
        SpecError,
        r"kind='att_gt' needs method='cs' or 'sunab'",
        id="twfe-plot-att_gt",
    ),
    pytest.param(
        "twfe",
        lambda r: r.plot(kind="event_study"),
        SpecError,
        r"method='twfe' has no event study; use kind='estimate'",
        id="twfe-plot-event_study",
    ),
    pytest.param(
        "dcdh",
        lambda r: r.pretrend_test(inference="permutation"),
        SpecError,
        r"pretrend_test\(inference='permutation'\) re-assigns adoption dates; "
        r"for method='dcdh'",
        id="dcdh-permutation-pretest",
    ),
    pytest.param(
        "es_short",
        lambda r: r.pretrend_test(),
        SpecError,
        r"No pre-treatment coefficient to test: method='event_study'",
        id="event_study-pretest-no-pre",
    ),
    pytest.param(
        "cs_short",
        lambda r: r.pretrend_test(kind="event_time"),
        SpecError,
        r"No pre-treatment event time to test \(kind='event_time'\)",
        id="cs-event_time-pretest-no-pre",
    ),
    pytest.param(
        "es_short",
        lambda r: r.sensitivity(),
        SpecError,
        r"sensitivity\(\) needs at least one pre-treatment .* got 0 and 3",
        id="event_study-sensitivity-no-pre",
    ),
    pytest.param(
        "es_short",
        lambda r: r.pretrend_power(),
        SpecError,
        r"pretrend_power\(\) needs pre-period event-study coefficients besides",
        id="event_study-pretrend_power-no-pre",
    ),
    pytest.param(
        "es_one",
        lambda r: r.placebo_in_time(k=3),
        DataError,
        r"Placebo in time with k=3: no cohort's fake adoption falls inside",
        id="event_study-placebo-k-too-large",
    ),
]


@pytest.mark.parametrize(("fit", "call", "error", "message"), CASES)
def test_result_method_rules(
    fits: dict[str, Any],
    fit: str,
    call: Callable[[Any], Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        call(fits[fit])


# --- honest_sensitivity and cell_means ----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        pytest.param(
            {"betahat": ["a", "b", "c"]},
            DataError,
            r"betahat and sigma must be numeric arrays",
            id="betahat-text",
        ),
        pytest.param(
            {"num_pre": 1, "num_post": 2, "l_vec": ["a", "b"]},
            SpecError,
            r"l_vec must be numeric; got \['a', 'b'\]",
            id="l_vec-text",
        ),
        pytest.param(
            {"M": ["a"]}, SpecError, r"M must be numeric; got \['a'\]", id="M-text"
        ),
        pytest.param(
            {"method": "relative_magnitude", "Mbar": ["a"]},
            SpecError,
            r"Mbar must be numeric; got \['a'\]",
            id="Mbar-text",
        ),
    ],
)
def test_honest_sensitivity_input_rules(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    args: dict[str, Any] = {
        "betahat": [0.1, 0.2, 0.3],
        "sigma": np.eye(3),
        "num_pre": 2,
        "num_post": 1,
    }
    with pytest.raises(error, match=message):
        honest_sensitivity(**{**args, **kwargs})


def test_cell_means_rules() -> None:
    ck = pd.DataFrame({"y": [1.0, 2, 3, 4], "g": [0, 0, 1, 1], "p": [0, 1, 0, 1]})
    with pytest.raises(DataError, match=r"Column 'z' not found in the data"):
        cell_means(ck, outcome="z", group="g", post="p")
    with pytest.raises(
        DataError, match=r"No rows with g=1 and p=1 and a non-missing 'y'"
    ):
        cell_means(ck.iloc[:3], outcome="y", group="g", post="p")
