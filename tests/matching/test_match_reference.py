"""impact.match against MatchIt 4.7.2 (lalonde and NSW + CPS-1) and the NSW experiment.

Reference values live in tests/matching/reference/*.csv (provenance in its README.md:
MatchIt 4.7.2 + sandwich 3.0-2 on R 4.2.2, printed in
../shared/research/matching_power.md 4.2-4.3). Tolerances: the matching is a
deterministic algorithm, so once the propensity scores agree (ours: statsmodels Newton
MLE; R: glm IRLS, both converged to ~1e-10 relative) every estimate must equal MatchIt's
printed value up to its rounding (4 decimals => 1e-4; ESS printed with 2 decimals =>
0.006).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.matching import match
from impact.matching.inference import wls_effect
from impact.matching.propensity import fit_propensity

REF = Path(__file__).parent / "reference"
LALONDE_COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
CPS_BASE = ["age", "educ", "black", "hisp", "marr", "nodegree", "re74", "re75"]
CPS_FLEX = [
    "age", "age2", "age3", "educ", "educ2", "marr", "nodegree", "black", "hisp",
    "re74", "re75", "u74", "u75", "educre74",
]  # fmt: skip
ATOL = 1e-4  # MatchIt printed 4 decimals
ESS_ATOL = 0.006  # printed with 2 decimals


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lalonde(reference_data: Path) -> pd.DataFrame:
    path = reference_data / "lalonde_matchit.csv"
    # SOURCES.md: md5 of the file MatchIt's lalonde was written to
    assert _md5(path) == "a48bad1cd5284317afe44ba172b7bc6a"
    return pd.read_csv(path)


@pytest.fixture(scope="module")
def cps1(reference_data: Path) -> pd.DataFrame:
    nsw_p, cps_p = (
        reference_data / "nsw_mixtape.csv",
        reference_data / "cps_mixtape.csv",
    )
    assert _md5(nsw_p) == "24da5912677d6939fdc5f388761dcb8b"
    assert _md5(cps_p) == "2a206473c045ac3749c53b4c3558037c"
    nsw, cps = pd.read_csv(nsw_p), pd.read_csv(cps_p)
    df = pd.concat([nsw[nsw["treat"] == 1], cps], ignore_index=True)
    df["age2"] = df["age"] ** 2
    df["age3"] = df["age"] ** 3
    df["educ2"] = df["educ"] ** 2
    df["u74"] = (df["re74"] == 0).astype(int)
    df["u75"] = (df["re75"] == 0).astype(int)
    df["educre74"] = df["educ"] * df["re74"]
    return df


def _refs(data: str) -> pd.DataFrame:
    ref = pd.read_csv(REF / "matchit_lalonde.csv", keep_default_na=False)
    return ref[ref["data"] == data]


def _kwargs(row: pd.Series) -> dict:
    kw: dict = {"replace": str(row["replace"]) == "True", "link": row["link"]}
    if str(row["caliper"]) != "":
        kw["caliper"] = float(row["caliper"])
    if row["distance"] == "mahalanobis":
        kw["distance"] = "mahalanobis"
    return kw


@pytest.mark.reference
@pytest.mark.parametrize("spec", ["A", "B", "C", "D", "E", "F"])
def test_lalonde_matchit_estimates(lalonde: pd.DataFrame, spec: str) -> None:
    row = _refs("lalonde").set_index("spec").loc[spec]
    kw = _kwargs(row)
    base = dict(
        treatment="treat", covariates=LALONDE_COVS, outcome="re78",
        categorical=["race"], **kw,
    )  # fmt: skip
    res_hc3 = match(lalonde, se="hc3", **base)
    res_cl = match(lalonde, se="cluster", **base)
    assert res_hc3.estimate == pytest.approx(float(row["att"]), abs=ATOL)
    assert res_hc3.se == pytest.approx(float(row["se_hc3"]), abs=ATOL)
    assert res_cl.se == pytest.approx(float(row["se_cluster"]), abs=ATOL)
    assert res_hc3.n_treated == int(row["n_treated"])
    assert res_hc3.n_control == int(row["n_control"])
    assert res_hc3.ess_control == pytest.approx(float(row["ess_control"]), abs=ESS_ATOL)
    if spec in ("B", "D"):
        # MatchIt prints the caliper as 0.058063 (0.2 SD of the score)
        assert res_hc3.caliper == pytest.approx(0.058063, abs=1e-6)
    if spec == "E":
        assert res_hc3.caliper == pytest.approx(0.360902, abs=1e-6)


@pytest.mark.reference
@pytest.mark.parametrize("spec", ["A", "B", "C", "D", "E", "F"])
def test_lalonde_matchit_smd_tables(lalonde: pd.DataFrame, spec: str) -> None:
    row = _refs("lalonde").set_index("spec").loc[spec]
    res = match(
        lalonde, treatment="treat", covariates=LALONDE_COVS, outcome="re78",
        categorical=["race"], **_kwargs(row),
    )  # fmt: skip
    # MatchIt's summary() standardises binary covariates too
    tab = res.balance(binary="std").set_index("covariate")
    ref = pd.read_csv(REF / "matchit_lalonde_smd.csv").set_index("covariate")
    for cov, r in ref.iterrows():
        if np.isnan(r[spec]):
            assert cov not in tab.index or spec != "F"
            continue
        assert tab.loc[cov, "smd_after"] == pytest.approx(r[spec], abs=ATOL), cov
        if not np.isnan(r[f"vr_{spec}"]):
            got = tab.loc[cov, "var_ratio_after"]
            assert got == pytest.approx(r[f"vr_{spec}"], abs=ATOL), cov
    before = pd.read_csv(REF / "matchit_lalonde_smd_before.csv").set_index("covariate")
    for cov, r in before.iterrows():
        # the all-data "distance" row is on the score scale (spec E matches on logits)
        if cov in tab.index and not (spec == "E" and cov == "distance"):
            assert tab.loc[cov, "smd_before"] == pytest.approx(
                r["smd_before"], abs=ATOL
            )


@pytest.mark.reference
def test_lalonde_order_sensitivity(lalonde: pd.DataFrame) -> None:
    """matching_power.md 4.2: spec B with m.order smallest gives 109 pairs, 1685.933."""
    res = match(
        lalonde, treatment="treat", covariates=LALONDE_COVS, outcome="re78",
        categorical=["race"], caliper=0.2, m_order="smallest",
    )  # fmt: skip
    assert res.n_matched == 109
    assert res.estimate == pytest.approx(1685.933, abs=1e-3)  # printed to 3 decimals
    res = match(
        lalonde, treatment="treat", covariates=LALONDE_COVS, outcome="re78",
        categorical=["race"], caliper=0.2, m_order="data",
    )  # fmt: skip
    assert res.n_matched == 111
    assert res.estimate == pytest.approx(1028.937, abs=1e-3)


@pytest.mark.reference
@pytest.mark.parametrize("ps", ["base", "flex"])
def test_cps1_matchit_estimates(cps1: pd.DataFrame, ps: str) -> None:
    covs = CPS_BASE if ps == "base" else CPS_FLEX
    refs = _refs("cps1")
    refs = refs[refs["ps"] == ps]
    # the logit is fitted once through match() (spec A) and then passed as a score
    # column for the other specs, which exercises the user-score path too
    first = match(cps1, treatment="treat", covariates=covs, outcome="re78", se="hc3")
    row = refs.set_index("spec").loc["A"]
    assert first.estimate == pytest.approx(float(row["att"]), abs=ATOL)
    assert first.se == pytest.approx(float(row["se_hc3"]), abs=ATOL)
    data = cps1.assign(ps=first.propensity)
    for _, row in refs.iterrows():
        kw = _kwargs(row)
        res = match(
            data, treatment="treat", covariates=covs, outcome="re78", distance="ps",
            se="hc3", **kw,
        )  # fmt: skip
        cl = match(
            data, treatment="treat", covariates=covs, outcome="re78", distance="ps",
            se="cluster", **kw,
        )  # fmt: skip
        tag = f"{ps} {row['spec']}"
        assert res.estimate == pytest.approx(float(row["att"]), abs=ATOL), tag
        assert res.se == pytest.approx(float(row["se_hc3"]), abs=ATOL), tag
        assert cl.se == pytest.approx(float(row["se_cluster"]), abs=ATOL), tag
        assert res.n_treated == int(row["n_treated"]), tag
        assert res.n_control == int(row["n_control"]), tag
        assert res.ess_control == pytest.approx(float(row["ess_control"]), abs=ESS_ATOL)


@pytest.mark.reference
def test_nsw_experimental_benchmark(reference_data: Path) -> None:
    """Dehejia & Wahba (1999): 1794 (633); SOURCES.md: 1794.3424, HC1 670.8245,
    HC3 672.6821 (statsmodels). Closed forms: tolerance 1e-4 (4 printed decimals)."""
    nsw = pd.read_csv(reference_data / "nsw_mixtape.csv")
    y = nsw["re78"].to_numpy(float)
    d = nsw["treat"].to_numpy(bool)
    est, se1 = wls_effect(y, d, np.ones(len(y)), vcov="HC1")
    _, se3 = wls_effect(y, d, np.ones(len(y)), vcov="HC3")
    assert est == pytest.approx(1794.3424, abs=ATOL)
    assert se1 == pytest.approx(670.8245, abs=ATOL)
    assert se3 == pytest.approx(672.6821, abs=ATOL)


@pytest.mark.reference
def test_cps1_unadjusted_difference(cps1: pd.DataFrame) -> None:
    """SOURCES.md: unadjusted CPS-1 difference -8497.5161 (DW 1999: -$8,498)."""
    y = cps1["re78"].to_numpy(float)
    d = cps1["treat"].to_numpy(bool)
    est, _ = wls_effect(y, d, np.ones(len(y)), vcov="HC1")
    assert est == pytest.approx(-8497.5161, abs=ATOL)


# The Abadie-Imbens SE against R Matching 4.10-8 (lalonde and CPS-1, exactly) and a
# brute-force implementation: test_match_abadie_imbens.py.


@pytest.mark.reference
def test_propensity_coefficients_match_r_glm(lalonde: pd.DataFrame) -> None:
    """R 4.2.2 ``glm(treat ~ age + educ + race + married + nodegree + re74 + re75,
    binomial, control = glm.control(epsilon = 1e-14))`` on lalonde_matchit.csv,
    printed with 10 significant digits; tolerance 1e-8 relative (both converged MLEs)."""
    from impact.matching._prep import build_design

    r_glm = {
        "(Intercept)": -1.663281598, "age": 0.01577707102, "educ": 0.1613068774,
        "race_hispan": -2.08173412, "race_white": -3.065367741,
        "married": -0.8321132754, "nodegree": 0.7072968814,
        "re74": -7.177668644e-05, "re75": 5.344644707e-05,
    }  # fmt: skip
    des = build_design(lalonde, LALONDE_COVS, ["race"], "test")
    pf = fit_propensity(des.model, lalonde["treat"].to_numpy(bool), des.model_names)
    assert list(pf.names) == list(r_glm)
    for name, value in zip(pf.names, pf.params, strict=True):
        assert value == pytest.approx(r_glm[name], rel=1e-8), name
