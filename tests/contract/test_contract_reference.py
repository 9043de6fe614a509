"""End to end on real data: published values reached through the to_dict() paths that
study-file [[check]] entries use (DESIGN.md, "Study files": quantity = dotted path)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import impact

pytestmark = pytest.mark.reference


def _get(d: Any, path: str) -> Any:
    for part in path.split("."):
        d = d[int(part)] if isinstance(d, list) else d[part]
    return d


# Callaway and Sant'Anna (2021) mpdta; R did 2.5.0, att_gt(bstrap=FALSE, cband=FALSE)
# then aggte(bstrap=FALSE), never-treated, varying base (../shared/data/SOURCES.md,
# mpdta section, from csdid's r_ref/ref_aggte.csv). Closed-form estimators with
# analytic SEs: R prints 7 significant digits, so 5e-7 absolute covers its rounding.
MPDTA_CS = [
    ("estimate", -0.0399513),
    ("se", 0.0120340),
    ("aggregates.simple.estimate", -0.0399513),
    ("aggregates.group.estimate", -0.0310183),
    ("aggregates.group.se", 0.0124461),
    ("aggregates.dynamic.estimate", -0.0772398),
    ("aggregates.dynamic.se", 0.0199650),
    ("aggregates.calendar.estimate", -0.0417004),
    ("aggregates.calendar.se", 0.0159719),
]


@pytest.fixture(scope="module")
def mpdta_cs(reference_data: Path) -> dict[str, Any]:
    df = pd.read_csv(reference_data / "mpdta.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            df,
            outcome="lemp",
            unit="countyreal",
            time="year",
            cohort="first.treat",
            inference="analytic",
        )
    out = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    out["_pretrend"] = res.pretrend_test()
    return out


@pytest.mark.parametrize(("path", "expected"), MPDTA_CS, ids=[p for p, _ in MPDTA_CS])
def test_mpdta_cs_through_to_dict(
    path: str, expected: float, mpdta_cs: dict[str, Any]
) -> None:
    assert _get(mpdta_cs, path) == pytest.approx(expected, abs=5e-7)


def test_mpdta_pretest(mpdta_cs: dict[str, Any]) -> None:
    # R did 2.5.0 summary(att_gt): "P-value for pre-test of parallel trends
    # assumption: 0.16812" (SOURCES.md); printed to 5 decimals.
    test = mpdta_cs["_pretrend"]
    assert test.pvalue == pytest.approx(0.16812, abs=5e-6)
    assert test.df == 5


# R did 2.5.0 ATT(g,t) on mpdta (same call; research/did.md section 3, ATT(g,t) table,
# nev/dr columns): (group, time) -> (ATT, SE), in R's row order.
MPDTA_ATT_GT = {
    (2004, 2004): (-0.0105032, 0.0232510),
    (2004, 2005): (-0.0704232, 0.0309848),
    (2004, 2006): (-0.1372587, 0.0364357),
    (2004, 2007): (-0.1008114, 0.0343592),
    (2006, 2004): (0.0065201, 0.0233268),
    (2006, 2005): (-0.0027508, 0.0195586),
    (2006, 2006): (-0.0045946, 0.0177552),
    (2006, 2007): (-0.0412245, 0.0202292),
    (2007, 2004): (0.0305067, 0.0150336),
    (2007, 2005): (-0.0027259, 0.0163958),
    (2007, 2006): (-0.0310871, 0.0178775),
    (2007, 2007): (-0.0260544, 0.0166554),
}


def test_mpdta_integer_unit_labels_survive_json(mpdta_cs: dict[str, Any]) -> None:
    rows = mpdta_cs["att_gt"]
    row = rows[0]
    assert isinstance(row["group"], int) and isinstance(row["time"], int)
    # every ATT(g,t) row reaches results.json, with R's values
    assert [(r["group"], r["time"]) for r in rows] == list(MPDTA_ATT_GT)
    for r in rows:
        att, se = MPDTA_ATT_GT[(r["group"], r["time"])]
        assert r["att"] == pytest.approx(att, abs=5e-7)
        assert r["se"] == pytest.approx(se, abs=5e-7)


def test_mpdta_twfe(reference_data: Path) -> None:
    # Static TWFE lemp ~ treat_post | countyreal + year = -0.0365489, CRV1 SE
    # 0.0132652 (SOURCES.md, mpdta; fixest). Same closed form; 5e-7 = print rounding.
    df = pd.read_csv(reference_data / "mpdta.csv")
    res = impact.did(
        df,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="twfe",
        inference="analytic",
    )
    d = res.to_dict()
    assert d["estimate"] == pytest.approx(-0.0365489, abs=5e-7)
    assert d["se"] == pytest.approx(0.0132652, abs=5e-7)
