"""Each synthetic-control input rule refuses its bad input with its own message.

One test per rule: the error class and a fragment of the message that only that rule
writes, so switching the rule off (the input then fails later with another message, or
not at all) fails the test.
"""

from __future__ import annotations

import numpy as np
import pytest

import impact
from impact.errors import DataError, EstimationError, SpecError
from impact.synth._prep import _as_periods
from impact.synth.abadie import fit_scm
from impact.synth.augmented import augmented_weights_fixed, ridge_augmented_weights
from impact.synth.conformal import conformal_intervals
from impact.synth.weights import simplex_weights
from tests.synth.test_synth_placebo import SIM, factor_panel

TWO_PREDICTORS = {"special_predictors": [("y", [2001], "mean"), ("y", [2006], "mean")]}


@pytest.fixture(scope="module")
def df():
    return factor_panel(n_units=8, seed=3)


@pytest.fixture(scope="module")
def abadie_fit(df):
    return impact.synth(df, **SIM, inference=None)


@pytest.fixture(scope="module")
def sdid_fit(df):
    return impact.synth(df, **SIM, method="sdid", inference=None)


def test_simplex_weights_v_length():
    with pytest.raises(EstimationError, match="v has 2 entries for 3 predictors"):
        simplex_weights(np.ones(3), np.eye(3), v=[1.0, 1.0])


@pytest.mark.parametrize("v", [[1.0, -1.0], [np.nan, 1.0], [0.0, 0.0]])
def test_v_vector_must_be_non_negative_finite(df, v):
    with pytest.raises(SpecError, match="non-negative and finite, with a positive sum"):
        impact.synth(df, **SIM, **TWO_PREDICTORS, v=v, inference=None)


def test_v_mapping_names_unknown_predictor(df):
    with pytest.raises(SpecError, match="that are not in the model"):
        impact.synth(df, **SIM, **TWO_PREDICTORS, v={"nope": 1.0}, inference=None)


def test_v_mapping_needs_names():
    rng = np.random.default_rng(0)
    X0, Z0 = rng.normal(size=(2, 4)), rng.normal(size=(5, 4))
    with pytest.raises(SpecError, match="needs named predictors"):
        fit_scm(X0[:, 0] + 0.1, X0, Z0[:, 0], Z0, v={"a": 1.0})


@pytest.mark.parametrize("bad", [0, -1.0])
def test_placebo_threshold_positive(abadie_fit, bad):
    with pytest.raises(SpecError, match=r"SynthResult\.placebo must be a positive"):
        abadie_fit.placebo(bad)


def test_near_optimal_refuses_augmented(df):
    res = impact.synth(df, **SIM, method="augmented", inference=None)
    with pytest.raises(SpecError, match="near_optimal is for simplex weights"):
        res.near_optimal()


def test_near_optimal_tolerance_or_level(abadie_fit):
    with pytest.raises(SpecError, match="not both"):
        abadie_fit.near_optimal(tolerance=0.1, level=0.9)


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, "0.9"])
def test_near_optimal_level_in_unit_interval(abadie_fit, level):
    with pytest.raises(SpecError, match="'level' parameter of near_optimal"):
        abadie_fit.near_optimal(level=level)


def test_sdid_placebo_in_time_date_before_treatment(sdid_fit):
    with pytest.raises(SpecError, match="must be before the real treatment date"):
        sdid_fit.placebo_in_time(2010)


def test_sdid_placebo_in_time_two_periods_before(sdid_fit):
    with pytest.raises(DataError, match="Fewer than 2 periods before the placebo"):
        sdid_fit.placebo_in_time(2001)


def test_sdid_placebo_in_time_units_outside_pool(df):
    donors = [f"d{i:02d}" for i in range(6)]  # d06, d07 are neither treated nor donors
    res = impact.synth(df, **SIM, method="sdid", donors=donors, inference=None)
    with pytest.raises(SpecError, match="cannot tell the treated units"):
        res.placebo_in_time(2006)


def test_demean_must_be_boolean(df):
    with pytest.raises(SpecError, match="'demean' parameter of synth must be True"):
        impact.synth(df, **SIM, demean="yes", inference=None)


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"v": "equal"}, "v"),
        ({"optimize_period": [2005, 2006]}, "optimize_period"),
        ({"predictor_period": [2005, 2006]}, "predictor_period"),
    ],
)
def test_sdid_refuses_options_it_would_ignore(df, kw, name):
    with pytest.raises(SpecError, match=f"method='sdid' would ignore {name}"):
        impact.synth(df, **SIM, method="sdid", **kw, inference=None)


def test_sdid_refuses_special_predictors(df):
    with pytest.raises(SpecError, match="would ignore special_predictors="):
        impact.synth(df, **SIM, method="sdid", **TWO_PREDICTORS, inference=None)


def test_treated_units_required(df):
    spec = SIM | {"treated_units": None}
    with pytest.raises(SpecError, match="synth needs treated_units"):
        impact.synth(df, **spec, inference=None)


def test_treated_units_not_empty(df):
    spec = SIM | {"treated_units": []}
    with pytest.raises(SpecError, match="treated_units is empty"):
        impact.synth(df, **spec, inference=None)


def test_placebo_in_time_refused_for_staggered_sdid(df):
    spec = SIM | {
        "treated_units": ["T", "d07"],
        "treatment_time": {"T": 2010, "d07": 2011},
    }
    res = impact.synth(df, **spec, method="sdid", inference=None)
    with pytest.raises(SpecError, match="not available for staggered SDID"):
        res.placebo_in_time(2005)


def test_placebo_in_time_date_before_treatment(abadie_fit):
    with pytest.raises(SpecError, match="must be before the real treatment date"):
        abadie_fit.placebo_in_time(2011)


def test_placebo_in_time_needs_an_earlier_period(abadie_fit):
    with pytest.raises(DataError, match="No pre-period before the placebo date"):
        abadie_fit.placebo_in_time(2000)


def test_sdid_covariate_missing_named(df):
    d = df.assign(x=np.arange(len(df), dtype=float) % 7)
    d.loc[(d["unit"] == "d03") & (d["year"] == 2004), "x"] = np.nan
    with pytest.raises(DataError, match="Covariate 'x' is missing for unit 'd03'"):
        impact.synth(d, **SIM, method="sdid", predictors=["x"], inference=None)


def test_period_span_needs_start_and_end(df):
    with pytest.raises(SpecError, match="must have 'start' and 'end' keys"):
        impact.synth(df, **SIM, optimize_period={"start": 2001}, inference=None)


def test_period_span_needs_periods():
    with pytest.raises(SpecError, match="needs the data's periods"):
        _as_periods("2001-2005", None)


def test_special_predictor_column_must_exist(df):
    with pytest.raises(DataError, match="Special predictor column 'nope'"):
        impact.synth(
            df, **SIM, special_predictors=[("nope", [2001], "mean")], inference=None
        )


def test_placebo_in_time_special_predictor_after_placebo_date(df):
    res = impact.synth(
        df,
        **SIM,
        special_predictors=[("y", [2008], "mean"), ("y", [2003], "mean")],
        inference=None,
    )
    with pytest.raises(DataError, match="has no period before the placebo date"):
        res.placebo_in_time(2005)


def test_penalty_cross_validation_needs_two_pre_periods(df):
    spec = SIM | {"treatment_time": 2001}
    with pytest.raises(DataError, match="too few to choose the penalty"):
        impact.synth(df, **spec, method="penalized", inference=None)


def test_augmented_fixed_weights_length_and_penalty():
    rng = np.random.default_rng(1)
    Y0, y1 = rng.normal(size=(6, 4)), rng.normal(size=6)
    with pytest.raises(DataError, match="scm_weights has 3 entries for 4 donors"):
        augmented_weights_fixed(y1, Y0, np.full(3, 1 / 3), 1.0)
    with pytest.raises(SpecError, match="lambda_ must be positive"):
        augmented_weights_fixed(y1, Y0, np.full(4, 0.25), 0.0)


@pytest.mark.parametrize("fn", ["conformal_intervals", "conformal_att_interval"])
def test_conformal_refuses_non_positive_lambda_by_name(fn):
    # the conformal functions check lambda_ themselves and name themselves, before
    # the ridge helper would refuse it with its own name
    from impact.synth import conformal

    rng = np.random.default_rng(1)
    Y0, y1 = rng.normal(size=(12, 4)), rng.normal(size=12)
    with pytest.raises(SpecError, match=rf"^{fn}: lambda_ must be positive; got -1.0"):
        getattr(conformal, fn)(y1, Y0, 9, method="augmented", lambda_=-1.0)


def test_ridge_augmented_weights_rules():
    rng = np.random.default_rng(1)
    Y0, y1 = rng.normal(size=(6, 4)), rng.normal(size=6)
    with pytest.raises(DataError, match="scm_weights contain missing or infinite"):
        ridge_augmented_weights(y1, Y0, np.array([0.5, np.nan, 0.25, 0.25]))
    # the message names the function called, not the helper it would reach
    with pytest.raises(SpecError, match=r"^ridge_augmented_weights: lambda_ must be"):
        ridge_augmented_weights(y1, Y0, np.full(4, 0.25), lambda_=0.0)
    with pytest.raises(SpecError, match="n_folds must be an integer"):
        ridge_augmented_weights(y1, Y0, np.full(4, 0.25), n_folds=2.5)


def test_conformal_rules():
    rng = np.random.default_rng(1)
    y = rng.normal(size=8)
    with pytest.raises(DataError, match="the donor pool is empty"):
        conformal_intervals(y, np.empty((8, 0)), 6)
    with pytest.raises(SpecError, match="T0 must be an integer"):
        conformal_intervals(y, rng.normal(size=(8, 3)), 6.0)


@pytest.mark.parametrize("inference", [None, "placebo"])
@pytest.mark.parametrize("bad", [0, -1.0, "1"])
def test_synth_mspe_threshold_positive(df, inference, bad):
    with pytest.raises(SpecError, match="'mspe_threshold' parameter of synth must"):
        impact.synth(df, **SIM, mspe_threshold=bad, inference=inference)
