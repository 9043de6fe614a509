"""Public names, keyword-only signatures and documented defaults (DESIGN.md, Estimators).

The expected values below are transcribed from ../shared/DESIGN.md. Where the code
deliberately differs from the DESIGN text, the test pins the shipped behaviour and the
comment names the decision:
- ``did(inference="auto")``: the did brief (lead decision) makes "auto" the default; it
  resolves to "analytic" with many treated clusters and to "wild"/"permutation" with few.
- ``match(estimand=None)``: None resolves to "ATT" (or "ATO" for method="overlap"); the
  fitted result's ``estimand`` is checked to be "ATT" for the default method.
- ``outcome``/``unit``/``time`` default to None (not required) wherever a ready
  :class:`impact.Panel` may be passed instead of a DataFrame; omitting them with a
  DataFrame must raise an ImpactError (checked below).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import impact
from impact.errors import ImpactError

REQ = inspect.Parameter.empty
KW = inspect.Parameter.KEYWORD_ONLY

# name -> {parameter: documented default (REQ = required)}; all keyword-only.
EXPECTED: dict[str, tuple[Callable[..., Any], dict[str, Any]]] = {
    "did": (
        impact.did,
        {
            "outcome": None,
            "unit": None,
            "time": None,
            "cohort": None,
            "treated": None,
            "method": "cs",
            "control": "never",
            "covariates": None,
            "est_method": "dr",
            "anticipation": 0,
            "base_period": "varying",
            "cluster": None,
            "inference": "auto",
            "n_boot": 999,
            "alpha": 0.05,
            "seed": None,
            "weights": None,
        },
    ),
    "bacon": (
        impact.bacon,
        {"outcome": None, "unit": None, "time": None, "cohort": None, "treated": None},
    ),
    "synth": (
        impact.synth,
        {
            "outcome": None,
            "unit": None,
            "time": None,
            "treated_units": REQ,
            "treatment_time": REQ,
            "predictors": None,
            "predictor_period": None,
            "special_predictors": None,
            "optimize_period": None,
            "v": "nested",
            "method": "abadie",
            "inference": "placebo",
            "seed": None,
        },
    ),
    "match": (
        impact.match,
        {
            "treatment": REQ,
            "covariates": REQ,
            "outcome": None,
            "method": "nearest",
            "distance": "logit",
            "caliper": None,
            "replace": False,
            "ratio": 1,
            "exact": None,
            "estimand": None,
            "se": None,
        },
    ),
    "matched_did": (
        impact.matched_did,
        {
            "outcome": None,
            "unit": None,
            "time": None,
            "cohort": None,
            "match_on": ("level", "trend"),
        },
    ),
    "power.two_sample": (
        impact.power.two_sample,
        {
            "effect": None,
            "n_treated": None,
            "n_control": None,
            "power": None,
            "alpha": 0.05,
            "alternative": "two-sided",
        },
    ),
    "power.panel_did_mde": (
        impact.power.panel_did_mde,
        {
            "n_units": None,
            "n_treated": REQ,
            "pre": REQ,
            "post": REQ,
            "sigma2": 1.0,
            "phi": 0.0,
            "alpha": 0.05,
            "power": 0.8,
            "outcome": None,
            "unit": None,
            "time": None,
        },
    ),
    "power.simulate": (
        impact.power.simulate,
        {
            "outcome": None,
            "unit": None,
            "time": None,
            "treatment_time": REQ,
            "n_treated": REQ,
            "effect": REQ,
            "estimator": "did",
            "n_sims": 1000,
            "seed": None,
            "assignment": "random",
            "backend": None,
            "n_jobs": 1,
        },
    ),
    "power.assess": (impact.power.assess, {}),
}


def test_top_level_names() -> None:
    for name in ["did", "bacon", "synth", "match", "matched_did", "power", "Panel"]:
        assert name in impact.__all__
        assert getattr(impact, name) is not None, f"impact.{name} failed to import"
    assert impact.errors.ImpactError is ImpactError
    for name in ["two_sample", "design_effect", "panel_did_mde", "simulate", "assess"]:
        assert callable(getattr(impact.power, name))


@pytest.mark.parametrize("name", list(EXPECTED))
def test_signature_keyword_only_and_defaults(name: str) -> None:
    func, expected = EXPECTED[name]
    params = inspect.signature(func).parameters
    positional = [
        p.name
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    # Only the data (or the result, for assess) may be passed positionally.
    allowed = {"power.assess": ["result"], "power.two_sample": []}.get(name, ["data"])
    assert positional == allowed, f"{name}: positional parameters {positional}"
    for pname, default in expected.items():
        assert pname in params, f"{name} lacks the documented parameter {pname!r}"
        p = params[pname]
        assert p.kind is KW, f"{name}({pname}=) must be keyword-only"
        assert p.default == default, f"{name}({pname}=) default {p.default!r}"


def test_simulate_forwards_estimator_kwargs() -> None:
    params = inspect.signature(impact.power.simulate).parameters
    assert any(p.kind is p.VAR_KEYWORD for p in params.values())


def test_design_effect_signature_and_formula() -> None:
    params = list(inspect.signature(impact.power.design_effect).parameters.values())
    assert [p.name for p in params] == ["cluster_size", "icc", "cv"]
    assert params[2].default == 0.0
    # DESIGN formula 1 + ((cv^2 + 1) m - 1) icc (Eldridge et al. 2006, eq. 3); exact
    # arithmetic, so the tolerance is floating point only.
    assert impact.power.design_effect(10, 0.05) == pytest.approx(1.45, rel=1e-12)
    assert impact.power.design_effect(20, 0.1, cv=0.5) == pytest.approx(
        1 + ((0.25 + 1) * 20 - 1) * 0.1, rel=1e-12
    )


def test_match_default_estimand_is_att(fitted: Callable[[str], Any]) -> None:
    assert fitted("match").estimand == "ATT"


@pytest.mark.parametrize(
    "call",
    [
        lambda d: impact.did(d, unit="la_code", time="year", cohort="cohort"),
        lambda d: impact.bacon(d, outcome="cla_rate", time="year", cohort="cohort"),
        lambda d: impact.matched_did(d, unit="la_code", time="year", cohort="cohort"),
        lambda d: impact.synth(
            d,
            outcome="cla_rate",
            unit="la_code",
            treated_units=["LA001"],
            treatment_time=2018,
            inference=None,
        ),
        lambda d: impact.power.simulate(
            d,
            outcome="cla_rate",
            unit="la_code",
            treatment_time=2018,
            n_treated=2,
            effect=0.1,
            n_sims=2,
        ),
    ],
    ids=["did", "bacon", "matched_did", "synth", "simulate"],
)
def test_missing_column_names_with_a_dataframe_raise(
    call: Callable[[pd.DataFrame], Any], syn: pd.DataFrame
) -> None:
    with pytest.raises(ImpactError, match=r"(?i)outcome|unit|time|column"):
        call(syn)


def test_result_class_names(fitted: Callable[[str], Any]) -> None:
    names = {
        "did-cs": "DiDResult",
        "synth-abadie": "SynthResult",
        "match": "MatchResult",
        "power-simulate": "PowerResult",
    }
    for case, cls in names.items():
        res = fitted(case)
        assert type(res).__name__ == cls
        assert isinstance(res, impact.Result)
