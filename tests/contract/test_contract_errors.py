"""Bad input raises ImpactError subclasses with a useful message (DESIGN.md, Errors).

Each case names the exact subclass and a fragment of the message (the column, unit,
period or option it must name). Never a bare KeyError / LinAlgError /
ZeroDivisionError, and never a silent NaN estimate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from contract_cases import LALONDE_COVS, SMOKING, SYN

import impact
from impact.errors import DataError, EstimationError, ImpactError, SpecError
from impact.power import design_effect, panel_did_mde, simulate, two_sample

D = dict[str, pd.DataFrame]
MODERN_DID = ["imputation", "did2s", "etwfe"]
Case = tuple[str, Callable[[D], Any], type[ImpactError], str]

SIM: dict[str, Any] = {
    "outcome": "cla_rate",
    "unit": "la_code",
    "time": "year",
    "treatment_time": 2020,
    "n_treated": 3,
    "effect": 0.1,
    "n_sims": 4,
    "seed": 1,
}
MATCH: dict[str, Any] = {
    "treatment": "treat",
    "covariates": LALONDE_COVS,
    "outcome": "re78",
}
SMOKE: dict[str, Any] = {**SMOKING, "inference": None}


def _nan_at(df: pd.DataFrame, col: str, row: int = 5) -> pd.DataFrame:
    return df.assign(**{col: df[col].where(df.index != df.index[row])})


def _dup(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df.iloc[[3]]], ignore_index=True)


def _switch_off(df: pd.DataFrame) -> pd.DataFrame:
    on = (df["year"] >= 2015) & (df["year"] <= 2018) & (df["cohort"] > 0)
    return df.assign(tr=on.astype(int))


def _did(method: str) -> list[Case]:
    def data(d: D) -> pd.DataFrame:
        return d["syn_one_cohort"] if method == "2x2" else d["syn"]

    def fit(df: pd.DataFrame, **kw: Any) -> Any:
        return impact.did(df, **{**SYN, "method": method, **kw})

    m = method
    cases: list[Case] = [
        (f"{m}-missing-col", lambda d: fit(data(d), outcome="nope"), DataError, "nope"),
        (f"{m}-duplicated", lambda d: fit(_dup(data(d))), DataError, "Duplicated"),
        (
            f"{m}-non-numeric",
            lambda d: fit(data(d), outcome="la_name"),
            DataError,
            "numeric",
        ),
        (
            f"{m}-missing-outcome",
            lambda d: fit(_nan_at(data(d), "cla_rate")),
            DataError,
            "missing",
        ),
        (
            f"{m}-constant-outcome",
            lambda d: fit(data(d).assign(cla_rate=3.0)),
            DataError,
            "constant",
        ),
        (
            f"{m}-switches-off",
            lambda d: impact.did(
                _switch_off(data(d)),
                outcome="cla_rate",
                unit="la_code",
                time="year",
                treated="tr",
                method=m,
            ),
            DataError,
            "switches off",
        ),
        (
            f"{m}-no-treated",
            lambda d: fit(data(d).loc[lambda x: x["cohort"] == 0]),
            DataError,
            "treated",
        ),
        (
            f"{m}-unbalanced",
            lambda d: fit(data(d).drop(index=7)),
            DataError,
            "unbalanced",
        ),
        (
            f"{m}-single-period",
            lambda d: fit(data(d).loc[lambda x: x["year"] == 2020]),
            DataError,
            "period",
        ),
        (
            f"{m}-negative-weights",
            lambda d: fit(data(d).assign(w=-1.0), weights="w"),
            DataError,
            "negative",
        ),
    ]
    if m != "2x2":
        cases += [
            (
                f"{m}-missing-covariate",
                lambda d: fit(
                    _nan_at(data(d), "deprivation"), covariates="deprivation"
                ),
                DataError,
                "deprivation",
            ),
            (
                f"{m}-constant-covariate",
                lambda d: fit(data(d).assign(c=1.0), covariates=["c"]),
                DataError,
                "no variation",
            ),
        ]
    return cases


DID_CASES: list[Case] = (
    [
        c
        for m in ["2x2", "twfe", "event_study", "cs", "sunab", *MODERN_DID]
        for c in _did(m)
    ]
    + [
        (
            "2x2-covariates",
            lambda d: impact.did(
                d["syn"], **SYN, method="2x2", covariates="deprivation"
            ),
            SpecError,
            "covariates",
        ),
        (
            "2x2-staggered",
            lambda d: impact.did(d["syn"], **SYN, method="2x2"),
            SpecError,
            "one treated cohort",
        ),
        (
            "twfe-unit-constant-covariate",
            lambda d: impact.did(
                d["syn"], **SYN, method="twfe", covariates="deprivation"
            ),
            EstimationError,
            "deprivation",
        ),
        (
            "cs-no-never-treated",
            lambda d: impact.did(d["syn"].loc[lambda x: x["cohort"] > 0], **SYN),
            DataError,
            "control='notyet'",
        ),
        (
            "2x2-no-comparison",
            lambda d: impact.did(
                d["syn_one_cohort"].loc[lambda x: x["cohort"] > 0], **SYN, method="2x2"
            ),
            DataError,
            "comparison",
        ),
        (
            "cs-too-few-pre-periods",
            lambda d: impact.did(d["syn"], **SYN, anticipation=10),
            EstimationError,
            "pre-treatment",
        ),
        (
            "cs-cohort-and-treated",
            lambda d: impact.did(d["syn"], **SYN, treated="treated"),
            SpecError,
            "either",
        ),
        (
            "cs-missing-cluster",
            lambda d: impact.did(d["syn"], **SYN, cluster="nope"),
            DataError,
            "nope",
        ),
        (
            "cs-bootstrap-twfe",
            lambda d: impact.did(d["syn"], **SYN, method="twfe", inference="bootstrap"),
            SpecError,
            "bootstrap",
        ),
        (
            "cs-unknown-option",
            lambda d: impact.did(d["syn"], **SYN, foo=1),
            SpecError,
            "foo",
        ),
    ]
    + [
        (
            f"did-bad-{opt}",
            (lambda o: lambda d: impact.did(d["syn"], **SYN, **{o: "xyz"}))(opt),
            SpecError,
            f"'{opt}' parameter of did",
        )
        for opt in ["method", "control", "est_method", "base_period", "inference"]
    ]
    + [
        (
            "did-bad-alpha",
            lambda d: impact.did(d["syn"], **SYN, alpha=1.5),
            SpecError,
            "alpha",
        ),
        (
            "did-bad-n_boot",
            lambda d: impact.did(d["syn"], **SYN, n_boot=0),
            SpecError,
            "n_boot",
        ),
        (
            "did-bad-anticipation",
            lambda d: impact.did(d["syn"], **SYN, anticipation=-1),
            SpecError,
            "anticipation",
        ),
    ]
)

BACON_CASES: list[Case] = [
    (
        "bacon-missing-col",
        lambda d: impact.bacon(d["syn"], **{**SYN, "outcome": "nope"}),
        DataError,
        "nope",
    ),
    (
        "bacon-duplicated",
        lambda d: impact.bacon(_dup(d["syn"]), **SYN),
        DataError,
        "Duplicated",
    ),
    (
        "bacon-non-numeric",
        lambda d: impact.bacon(d["syn"], **{**SYN, "outcome": "la_name"}),
        DataError,
        "numeric",
    ),
    (
        "bacon-no-treated",
        lambda d: impact.bacon(d["syn"].loc[lambda x: x["cohort"] == 0], **SYN),
        DataError,
        "treated",
    ),
    (
        "bacon-constant-outcome",
        lambda d: impact.bacon(d["syn"].assign(cla_rate=2.0), **SYN),
        DataError,
        "constant",
    ),
]

SYNTH_CASES: list[Case] = [
    (
        "synth-missing-col",
        lambda d: impact.synth(d["smoking"], **{**SMOKE, "outcome": "nope"}),
        DataError,
        "nope",
    ),
    (
        "synth-missing-unit-col",
        lambda d: impact.synth(d["smoking"], **{**SMOKE, "unit": "nope"}),
        DataError,
        "nope",
    ),
    (
        "synth-unknown-unit",
        lambda d: impact.synth(
            d["smoking"], **{**SMOKE, "treated_units": ["Atlantis"]}
        ),
        DataError,
        "Atlantis",
    ),
    (
        "synth-time-out-of-range",
        lambda d: impact.synth(d["smoking"], **{**SMOKE, "treatment_time": 2050}),
        DataError,
        "2050",
    ),
    (
        "synth-no-pre-period",
        lambda d: impact.synth(d["smoking"], **{**SMOKE, "treatment_time": 1970}),
        DataError,
        "pre-treatment",
    ),
    (
        "synth-duplicated",
        lambda d: impact.synth(_dup(d["smoking"]), **SMOKE),
        DataError,
        "Duplicated",
    ),
    (
        "synth-non-numeric",
        lambda d: impact.synth(
            d["smoking"].assign(cigsale=lambda x: x["cigsale"].astype(str)), **SMOKE
        ),
        DataError,
        "numeric",
    ),
    (
        "synth-missing-outcome",
        lambda d: impact.synth(_nan_at(d["smoking"], "cigsale"), **SMOKE),
        DataError,
        "missing",
    ),
    (
        "synth-bad-method",
        lambda d: impact.synth(d["smoking"], **SMOKE, method="xyz"),
        SpecError,
        "'method' parameter of synth",
    ),
    (
        "synth-bad-inference",
        lambda d: impact.synth(d["smoking"], **{**SMOKE, "inference": "xyz"}),
        SpecError,
        "'inference' parameter",
    ),
    (
        "synth-bad-v",
        lambda d: impact.synth(d["smoking"], **SMOKE, v="xyz"),
        SpecError,
        "'v' parameter",
    ),
    (
        "synth-missing-predictor",
        lambda d: impact.synth(d["smoking"], **SMOKE, predictors=["nope"]),
        DataError,
        "nope",
    ),
    (
        "synth-no-donors",
        lambda d: impact.synth(d["smoking"], **SMOKE, donors=[]),
        DataError,
        "donor",
    ),
    (
        "synth-constant-predictor",
        lambda d: impact.synth(d["smoking"].assign(z=1.0), **SMOKE, predictors=["z"]),
        DataError,
        "variance",
    ),
    (
        "synth-all-missing-predictor",
        lambda d: impact.synth(
            d["smoking"].assign(z=np.nan), **SMOKE, predictors=["z"]
        ),
        DataError,
        "missing",
    ),
    (
        "synth-bad-special-period",
        lambda d: impact.synth(
            d["smoking"], **SMOKE, special_predictors=[("cigsale", [1900], "mean")]
        ),
        DataError,
        "1900",
    ),
    (
        "synth-bad-special-op",
        lambda d: impact.synth(
            d["smoking"], **SMOKE, special_predictors=[("cigsale", [1975], "xyz")]
        ),
        SpecError,
        "mean",
    ),
    (
        "synth-sdid-one-pre",
        lambda d: impact.synth(
            d["smoking"], **{**SMOKE, "treatment_time": 1971}, method="sdid"
        ),
        DataError,
        "pre-treatment",
    ),
    (
        "synth-augmented-one-pre",
        lambda d: impact.synth(
            d["smoking"], **{**SMOKE, "treatment_time": 1971}, method="augmented"
        ),
        SpecError,
        "pre-periods",
    ),
    (
        "synth-sdid-placebo-refits",
        lambda d: impact.synth(d["smoking"], **SMOKE, method="sdid").placebo(),
        SpecError,
        "sdid",
    ),
]

MATCH_CASES: list[Case] = [
    (
        "match-missing-treatment",
        lambda d: impact.match(d["lalonde"], **{**MATCH, "treatment": "nope"}),
        DataError,
        "nope",
    ),
    (
        "match-missing-covariate",
        lambda d: impact.match(d["lalonde"], **{**MATCH, "covariates": ["nope"]}),
        DataError,
        "nope",
    ),
    (
        "match-missing-outcome",
        lambda d: impact.match(d["lalonde"], **{**MATCH, "outcome": "nope"}),
        DataError,
        "nope",
    ),
    (
        "match-non-binary-treatment",
        lambda d: impact.match(d["lalonde"], **{**MATCH, "treatment": "educ"}),
        DataError,
        "0/1",
    ),
    (
        "match-covariate-nan",
        lambda d: impact.match(_nan_at(d["lalonde"], "age", 3), **MATCH),
        DataError,
        "age",
    ),
    (
        "match-constant-covariate",
        lambda d: impact.match(
            d["lalonde"].assign(c=1.0), **{**MATCH, "covariates": ["age", "c"]}
        ),
        DataError,
        "constant",
    ),
    (
        "match-string-covariate",
        lambda d: impact.match(
            d["lalonde"], **{**MATCH, "covariates": ["age", "race"]}
        ),
        SpecError,
        "categorical",
    ),
    (
        "match-outcome-nan",
        lambda d: impact.match(_nan_at(d["lalonde"], "re78", 3), **MATCH),
        DataError,
        "re78",
    ),
    (
        "match-non-numeric-outcome",
        lambda d: impact.match(d["lalonde"], **{**MATCH, "outcome": "id"}),
        DataError,
        "non-numeric",
    ),
    (
        "match-constant-outcome",
        lambda d: impact.match(d["lalonde"].assign(re78=1.0), **MATCH),
        DataError,
        "constant",
    ),
    (
        "match-bad-method",
        lambda d: impact.match(d["lalonde"], **MATCH, method="xyz"),
        SpecError,
        "'method' parameter of match",
    ),
    (
        "match-bad-distance",
        lambda d: impact.match(d["lalonde"], **MATCH, distance="xyz"),
        SpecError,
        "'distance'",
    ),
    (
        "match-bad-estimand",
        lambda d: impact.match(d["lalonde"], **MATCH, estimand="xyz"),
        SpecError,
        "'estimand'",
    ),
    (
        "match-bad-se",
        lambda d: impact.match(d["lalonde"], **MATCH, se="xyz"),
        SpecError,
        "'se'",
    ),
    (
        "match-ratio-0",
        lambda d: impact.match(d["lalonde"], **MATCH, ratio=0),
        SpecError,
        "ratio",
    ),
    (
        "match-negative-caliper",
        lambda d: impact.match(d["lalonde"], **MATCH, caliper=-1),
        SpecError,
        "caliper",
    ),
    (
        "match-no-controls",
        lambda d: impact.match(d["lalonde"].loc[lambda x: x["treat"] == 1], **MATCH),
        DataError,
        "comparison",
    ),
    (
        "match-no-treated",
        lambda d: impact.match(d["lalonde"].loc[lambda x: x["treat"] == 0], **MATCH),
        DataError,
        "treated",
    ),
    (
        "match-separation",
        lambda d: impact.match(
            d["lalonde"].assign(sep=lambda x: x["treat"] * 10.0),
            **{**MATCH, "covariates": ["age", "sep"]},
        ),
        EstimationError,
        "separation",
    ),
    (
        "match-missing-exact",
        lambda d: impact.match(d["lalonde"], **MATCH, exact="nope"),
        DataError,
        "nope",
    ),
]

MDID_CASES: list[Case] = [
    (
        "mdid-missing-col",
        lambda d: impact.matched_did(d["syn"], **{**SYN, "outcome": "nope"}),
        DataError,
        "nope",
    ),
    (
        "mdid-duplicated",
        lambda d: impact.matched_did(_dup(d["syn"]), **SYN),
        DataError,
        "Duplicated",
    ),
    (
        "mdid-missing-outcome",
        lambda d: impact.matched_did(_nan_at(d["syn"], "cla_rate"), **SYN),
        DataError,
        "missing",
    ),
    (
        "mdid-constant-outcome",
        lambda d: impact.matched_did(d["syn"].assign(cla_rate=1.0), **SYN),
        DataError,
        "constant",
    ),
    (
        "mdid-no-never-treated",
        lambda d: impact.matched_did(d["syn"].loc[lambda x: x["cohort"] > 0], **SYN),
        DataError,
        "never-treated",
    ),
    (
        "mdid-bad-match-on",
        lambda d: impact.matched_did(d["syn"], **SYN, match_on="xyz"),
        SpecError,
        "xyz",
    ),
    (
        "mdid-bad-inference",
        lambda d: impact.matched_did(d["syn"], **SYN, inference="xyz"),
        SpecError,
        "'inference'",
    ),
    (
        "mdid-covariate-nan",
        lambda d: impact.matched_did(
            _nan_at(d["syn"], "deprivation"), **SYN, covariates="deprivation"
        ),
        DataError,
        "deprivation",
    ),
    (
        "mdid-too-few-pre-periods",
        lambda d: impact.matched_did(d["syn"].loc[lambda x: x["year"] >= 2015], **SYN),
        DataError,
        "pre-period",
    ),
    (
        "mdid-ratio-0",
        lambda d: impact.matched_did(d["syn"], **SYN, ratio=0),
        SpecError,
        "ratio",
    ),
    (
        "mdid-too-few-controls",
        lambda d: impact.matched_did(d["syn"], **SYN, ratio=10),
        DataError,
        "never-treated",
    ),
]

POWER_CASES: list[Case] = [
    (
        "two_sample-two-unknowns",
        lambda d: two_sample(effect=0.5),
        SpecError,
        "exactly one",
    ),
    (
        "two_sample-no-unknown",
        lambda d: two_sample(effect=0.5, n_treated=10, power=0.8),
        SpecError,
        "exactly one",
    ),
    (
        "two_sample-power>1",
        lambda d: two_sample(effect=0.5, power=1.5),
        SpecError,
        "'power'",
    ),
    (
        "two_sample-alpha",
        lambda d: two_sample(effect=0.5, n_treated=10, alpha=0),
        SpecError,
        "'alpha'",
    ),
    (
        "two_sample-alternative",
        lambda d: two_sample(effect=0.5, n_treated=10, alternative="xyz"),  # type: ignore[arg-type]
        SpecError,
        "'alternative'",
    ),
    (
        "two_sample-n=1",
        lambda d: two_sample(effect=0.5, n_treated=1),
        SpecError,
        "degrees of freedom",
    ),
    (
        "two_sample-zero-effect",
        lambda d: two_sample(effect=0.0, power=0.8),
        SpecError,
        "'effect'",
    ),
    ("design_effect-icc", lambda d: design_effect(10, 1.1), SpecError, "'icc'"),
    (
        "design_effect-size",
        lambda d: design_effect(0.5, 0.1),
        SpecError,
        "'cluster_size'",
    ),
    ("design_effect-cv", lambda d: design_effect(10, 0.1, cv=-1), SpecError, "'cv'"),
    (
        "panel_did_mde-pre",
        lambda d: panel_did_mde(n_units=100, n_treated=10, pre=0, post=5),
        SpecError,
        "'pre'",
    ),
    (
        "panel_did_mde-all-treated",
        lambda d: panel_did_mde(n_units=10, n_treated=10, pre=5, post=5),
        SpecError,
        "n_units",
    ),
    (
        "panel_did_mde-phi",
        lambda d: panel_did_mde(n_units=100, n_treated=10, pre=5, post=5, phi=1.0),
        SpecError,
        "'phi'",
    ),
    (
        "panel_did_mde-sigma2",
        lambda d: panel_did_mde(n_units=100, n_treated=10, pre=5, post=5, sigma2=-1),
        SpecError,
        "'sigma2'",
    ),
    (
        "panel_did_mde-no-n_units",
        lambda d: panel_did_mde(n_treated=10, pre=5, post=5),
        SpecError,
        "n_units",
    ),
    (
        "panel_did_mde-pilot-column",
        lambda d: panel_did_mde(
            d["syn"],
            outcome="nope",
            unit="la_code",
            time="year",
            n_treated=5,
            pre=5,
            post=3,
        ),
        DataError,
        "nope",
    ),
    (
        "panel_did_mde-pilot-too-short",
        lambda d: panel_did_mde(
            d["syn"],
            outcome="cla_rate",
            unit="la_code",
            time="year",
            n_treated=5,
            pre=15,
            post=3,
        ),
        DataError,
        "pre",
    ),
    (
        "panel_did_mde-pilot-constant",
        lambda d: panel_did_mde(
            d["syn"].assign(cla_rate=1.0),
            outcome="cla_rate",
            unit="la_code",
            time="year",
            n_treated=5,
            pre=5,
            post=3,
        ),
        EstimationError,
        "variance",
    ),
    (
        "simulate-missing-col",
        lambda d: simulate(d["syn"], **{**SIM, "outcome": "nope"}),
        DataError,
        "nope",
    ),
    (
        "simulate-duplicated",
        lambda d: simulate(_dup(d["syn"]), **SIM),
        DataError,
        "Duplicated",
    ),
    (
        "simulate-missing-outcome",
        lambda d: simulate(_nan_at(d["syn"], "cla_rate"), **SIM),
        DataError,
        "missing",
    ),
    (
        "simulate-time-out",
        lambda d: simulate(d["syn"], **{**SIM, "treatment_time": 2050}),
        SpecError,
        "2050",
    ),
    (
        "simulate-no-pre-period",
        lambda d: simulate(d["syn"], **{**SIM, "treatment_time": 2010}),
        SpecError,
        "pre-period",
    ),
    (
        "simulate-too-many-treated",
        lambda d: simulate(d["syn"], **{**SIM, "n_treated": 100}),
        SpecError,
        "n_treated",
    ),
    (
        "simulate-bad-estimator",
        lambda d: simulate(d["syn"], **{**SIM, "estimator": "xyz"}),
        SpecError,
        "'estimator'",
    ),
    (
        "simulate-n_sims",
        lambda d: simulate(d["syn"], **{**SIM, "n_sims": 0}),
        SpecError,
        "'n_sims'",
    ),
    (
        "simulate-assignment",
        lambda d: simulate(d["syn"], **{**SIM, "assignment": "xyz"}),
        SpecError,
        "'assignment'",
    ),
    (
        "simulate-backend",
        lambda d: simulate(d["syn"], **{**SIM, "backend": "xyz"}),
        SpecError,
        "'backend'",
    ),
    (
        "simulate-bad-estimator-kwarg",
        lambda d: simulate(d["syn"], **SIM, foo=1),
        ImpactError,
        "foo",
    ),
    (
        "assess-not-a-result",
        lambda d: impact.power.assess(42),
        SpecError,
        "fitted result",
    ),
]

ALL = DID_CASES + BACON_CASES + SYNTH_CASES + MATCH_CASES + MDID_CASES + POWER_CASES


@pytest.mark.parametrize(
    ("call", "exc", "pattern"),
    [pytest.param(c, e, p, id=i) for i, c, e, p in ALL],
)
def test_bad_input_raises_impact_error(
    call: Callable[[D], Any],
    exc: type[ImpactError],
    pattern: str,
    datasets: D,
    recwarn: pytest.WarningsRecorder,
) -> None:
    with pytest.raises(exc, match=pattern) as info:
        call(datasets)
    message = str(info.value)
    assert "\n" not in message.strip(), "messages are single-line"
    assert isinstance(info.value, ValueError)  # ImpactError subclasses ValueError


def test_match_without_outcome_warns_not_silent(datasets: D) -> None:
    """A NaN estimate is allowed only when the user gave no outcome, with a warning."""
    res = impact.match(datasets["lalonde"], treatment="treat", covariates=["age"])
    assert np.isnan(res.estimate)
    assert any("No outcome given" in w for w in res.warnings)
    assert res.to_dict()["estimate"] is None
