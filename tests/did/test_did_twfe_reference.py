"""TWFE, event study, Sun-Abraham, Goodman-Bacon and 2x2 against published values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import impact
from impact.did.regression import cell_means

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def mpdta(reference_data):
    return pd.read_csv(reference_data / "mpdta.csv")


@pytest.fixture(scope="module")
def castle(reference_data):
    return pd.read_csv(reference_data / "castle.csv")


def test_mpdta_twfe_matches_fixest(mpdta):
    # feols(lemp ~ treat_post | countyreal + year, cluster=~countyreal): -0.0365489,
    # CRV1 SE 0.0132652 (pyfixest 0.60 = fixest "nested" small-sample convention;
    # research/did.md 3a). Printed to 7 dp -> 1e-7.
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="twfe",
    )
    assert res.estimate == pytest.approx(-0.0365489, abs=1e-7)
    assert res.se == pytest.approx(0.0132652, abs=1e-7)


def test_mpdta_sunab_matches_fixest(mpdta):
    # fixest feols(lemp ~ sunab(first.treat, year, ref.p = -1:-4, att = TRUE) |
    # countyreal + year, cluster = ~countyreal): ATT -0.04771 (SE 0.013265), printed in
    # easystats/parameters#1039; reproduced with pyfixest as -0.0477099 (0.0132650).
    # The issue prints 4-5 significant digits, hence 1e-5 / 1e-6.
    res = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="sunab",
        ref_period=[-1, -2, -3, -4],
    )
    assert res.estimate == pytest.approx(-0.04771, abs=1e-5)
    assert res.se == pytest.approx(0.013265, abs=1e-6)
    assert res.estimate == pytest.approx(-0.0477099, abs=1e-7)


def test_sunab_post_coefficients_equal_cs_never(mpdta):
    # consistency: with only e = -1 excluded, each (g, e >= 0) Sun-Abraham coefficient
    # is the CS never-treated ATT(g, g+e) (both compare with period g-1), to rounding.
    sa = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="sunab",
    )
    cs = impact.did(
        mpdta,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="cs",
    )
    a = sa.att_gt[sa.att_gt["post"]].set_index(["group", "time"])["att"]
    b = cs.att_gt[cs.att_gt["post"]].set_index(["group", "time"])["att"]
    np.testing.assert_allclose(a.sort_index(), b.sort_index(), atol=1e-12)
    assert sa.estimate == pytest.approx(cs.estimate, abs=1e-12)


def test_castle_twfe_and_bacon_match_bacondecomp(castle):
    # bacondecomp 0.1.0 vignette (CRAN), D = year >= effyear: TWFE 0.0818116169306475;
    # Earlier vs Later 0.05976 / -0.00554; Later vs Earlier 0.03190 / 0.07032;
    # Treated vs Untreated 0.90834 / 0.08796 (printed to 5 dp -> 5e-6); 2006 vs never
    # 0.06823587 weight 0.5923947 (bacondecomp notebook, 7-8 dp -> 1e-7).
    res = impact.did(
        castle,
        outcome="l_homicide",
        unit="sid",
        time="year",
        cohort="effyear",
        method="twfe",
    )
    assert res.estimate == pytest.approx(0.0818116169306475, abs=1e-12)
    assert res.se == pytest.approx(0.0588742, abs=1e-7)  # CRV1 by state, fixest
    b = impact.bacon(
        castle, outcome="l_homicide", unit="sid", time="year", cohort="effyear"
    )
    assert b.estimate == pytest.approx(0.0818116169306475, abs=1e-12)
    by = b.by_type.set_index("type")
    expected = {
        "Earlier vs Later Treated": (0.05976, -0.00554),
        "Later vs Earlier Treated": (0.03190, 0.07032),
        "Treated vs Untreated": (0.90834, 0.08796),
    }
    for kind, (w, est) in expected.items():
        assert by.loc[kind, "weight"] == pytest.approx(w, abs=5e-6)
        assert by.loc[kind, "estimate"] == pytest.approx(est, abs=5e-6)
    assert len(b.table) == 25
    row = b.table[(b.table["treated"] == 2006) & b.table["control"].isna()].iloc[0]
    assert row["estimate"] == pytest.approx(0.06823587, abs=1e-8)
    assert row["weight"] == pytest.approx(0.5923947, abs=1e-7)
    assert float((b.table["estimate"] * b.table["weight"]).sum()) == pytest.approx(
        b.estimate, abs=1e-12
    )
    assert b.table["weight"].sum() == pytest.approx(1.0, abs=1e-12)


def test_castle_event_study_matches_reghdfe(castle):
    # reghdfe l_homicide i.rel_year (ref -1, never treated coded -1), absorb(sid
    # year) cluster(sid): Mixtape-Sessions/Causal-Inference-2 Solutions-Stata.md.
    # Printed to 7 significant digits -> 1e-6.
    stata = {
        -9: (-0.2484057, 0.0570123),
        0: (0.0918614, 0.0431759),
        1: (0.105671, 0.0519573),
        2: (0.1146227, 0.0658122),
        3: (0.1095202, 0.0663352),
        4: (0.0835843, 0.0589927),
        5: (0.1272444, 0.0500376),
    }
    res = impact.did(
        castle,
        outcome="l_homicide",
        unit="sid",
        time="year",
        cohort="effyear",
        method="event_study",
    )
    es = res.event_study.set_index("event_time")
    for e, (b, se) in stata.items():
        assert es.loc[e, "estimate"] == pytest.approx(b, abs=1e-6)
        assert es.loc[e, "std_error"] == pytest.approx(se, abs=1e-6)
    assert bool(es.loc[-1, "reference"]) and es.loc[-1, "estimate"] == 0.0


def test_card_krueger_cells_and_2x2(reference_data):
    # Card and Krueger (1994, AER 84(4)) Table 3, 2 dp: rows 1-2 (all stores)
    # PA 23.33 (1.35) -> 21.17 (0.94), NJ 20.44 (0.51) -> 21.03 (0.52); row 4 (balanced
    # sample) PA -2.28 (1.25), NJ 0.47 (0.48), NJ - PA 2.75 (1.34). Tolerance 0.005
    # = half the last printed digit.
    ck = pd.read_csv(reference_data / "card_krueger.csv")
    cells = cell_means(ck, outcome="fte", group="nj", post="d").set_index(
        ["group", "post"]
    )
    for (g, p), (m, se) in {
        (0, 0): (23.33, 1.35),
        (0, 1): (21.17, 0.94),
        (1, 0): (20.44, 0.51),
        (1, 1): (21.03, 0.52),
    }.items():
        assert cells.loc[(g, p), "mean"] == pytest.approx(m, abs=0.005)
        assert cells.loc[(g, p), "std_error"] == pytest.approx(se, abs=0.005)
    balanced = ck.dropna(subset=["fte"])
    res = impact.did(
        balanced,
        outcome="fte",
        unit="id",
        time="d",
        treated="d_nj",
        method="2x2",
        balance="drop",
    )
    assert res.estimate == pytest.approx(2.75, abs=0.005)
    assert res.se == pytest.approx(1.34, abs=0.005)
    ch = res.changes.set_index("group")
    assert ch.loc["control", "change"] == pytest.approx(-2.28, abs=0.005)
    assert ch.loc["control", "std_error"] == pytest.approx(1.25, abs=0.005)
    assert ch.loc["treated", "change"] == pytest.approx(0.47, abs=0.005)
    assert ch.loc["treated", "std_error"] == pytest.approx(0.48, abs=0.005)
    assert res.n_treated == 309 and res.n_control == 75
    # 2x2 on two periods equals the TWFE coefficient (algebraic identity)
    tw = impact.did(
        balanced,
        outcome="fte",
        unit="id",
        time="d",
        treated="d_nj",
        method="twfe",
        balance="drop",
    )
    assert tw.estimate == pytest.approx(res.estimate, abs=1e-10)


@pytest.mark.parametrize("kind", ["simple", "group", "dynamic", "calendar"])
def test_sunab_aggregates_equal_cs_points(mpdta, kind):
    # consistency: Sun-Abraham (ref -1, never-treated comparison) cell effects equal
    # the CS never-treated post cells, and both weight cells by cohort size, so every
    # post-treatment aggregate point estimate agrees (SEs differ: fixed vs estimated
    # shares).
    sa = impact.did(mpdta, method="sunab", **_KW).aggregate(kind)
    cs = impact.did(mpdta, method="cs", **_KW).aggregate(kind)
    assert sa.estimate == pytest.approx(cs.estimate, abs=1e-12)
    if kind != "simple":
        a, b = sa.to_frame(), cs.to_frame()
        if kind == "dynamic":
            a, b = a[a["event_time"] >= 0], b[b["event_time"] >= 0]
        np.testing.assert_allclose(a["estimate"], b["estimate"], atol=1e-12)


_KW = {"outcome": "lemp", "unit": "countyreal", "time": "year", "cohort": "first.treat"}


def test_ehec_event_study_matches_pyfixest(reference_data):
    # HonestDiD README design: year < 2016, yexp2 != 2015, D = (yexp2 == 2014),
    # feols(dins ~ i(year, D, ref = 2013) | stfips + year, cluster = "stfips"); the
    # coefficients/CRV1 SEs computed with pyfixest (research/did.md 3d), 6 dp -> 1e-6.
    ehec = pd.read_csv(reference_data / "ehec.csv")
    s = ehec[(ehec["year"] < 2016) & (ehec["yexp2"] != 2015)]
    s = s.assign(g=np.where(s["yexp2"] == 2014, 2014.0, np.nan))
    res = impact.did(
        s,
        outcome="dins",
        unit="stfips",
        time="year",
        cohort="g",
        method="event_study",
        inference="analytic",
    )
    es = res.event_study.set_index("event_time")
    expected = {
        -6: (-0.005285, 0.008654),
        -5: (-0.011297, 0.008524),
        -4: (-0.002676, 0.007108),
        -3: (-0.001419, 0.006327),
        -2: (0.000340, 0.007391),
        0: (0.046447, 0.009152),
        1: (0.069206, 0.010350),
    }
    for e, (b, se) in expected.items():
        assert es.loc[e, "estimate"] == pytest.approx(b, abs=1e-6)
        assert es.loc[e, "std_error"] == pytest.approx(se, abs=1e-6)


def test_event_study_bins_end_at_the_given_event_times(reference_data):
    """bins=(-2, 2): event times below -2 are pooled into -2 and above 2 into 2
    (fixest ``bin``-style end caps), so the table holds exactly -2..2 with -1 the
    reference; each unit's cells at or beyond an end share that end's dummy."""
    df = pd.read_csv(reference_data / "mpdta.csv")
    res = impact.did(
        df,
        outcome="lemp",
        unit="countyreal",
        time="year",
        cohort="first.treat",
        method="event_study",
        bins=(-2, 2),
        inference="analytic",
    )
    assert res.event_study["event_time"].tolist() == [-2, -1, 0, 1, 2]
