"""Placebo-in-space edge cases pinned to counts and fits done by hand in the test.

- Ties in the MSPE-ratio rank column. The p-value counts a placebo whose ratio equals
  the treated unit's against the treated unit, ``(1 + #{placebo >= treated}) / (J + 1)``,
  so a unit's rank is ``#{units whose ratio >= its ratio}`` (tidysynth's
  ``grab_significance`` reports ``fishers_exact_pvalue = rank / max(rank)``); with no
  filter and no floor the treated unit's rank over ``J + 1`` is the p-value. Ties are
  built exactly: a gap path scaled by 2 has the same post/pre ratio to the last bit,
  and two identical donors fit each other with a pre-period MSPE of exactly 0 (ratio
  inf).
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np
import pandas as pd
import pytest

import impact
from impact.synth._prep import UnitFit
from impact.synth.placebo import placebo_in_space, placebo_table
from tests.synth.test_synth_placebo_brute import simplex_ls_enumerated

T0 = 8
YEARS = np.arange(2000, 2012)


def _counted_rank(ratio: np.ndarray) -> np.ndarray:
    """Rank 1 = largest; a unit's rank is the number of units with ratio >= its own."""
    return (ratio[None, :] >= ratio[:, None]).sum(axis=1)


def _fit(unit: str, gap: np.ndarray) -> UnitFit:
    T = gap.size
    pre = np.arange(T) < T0
    return UnitFit(
        unit=unit,
        treatment_time=int(YEARS[T0]),
        donors=np.array([]),
        weights=np.array([]),
        v=np.array([]),
        predictors=[],
        x1=np.array([]),
        X0=np.zeros((0, 0)),
        y1=gap.astype(float),
        synthetic=np.zeros(T),
        pre=pre,
        post=~pre,
    )


def test_rank_counts_ties_against_the_unit_as_the_pvalue_does():
    rng = np.random.default_rng(7)
    g = rng.normal(size=YEARS.size)
    g[T0:] += 3.0
    base = [rng.normal(size=YEARS.size) for _ in range(4)]
    # treated T ties with p0 (gap x 2); p1 and p2 tie with each other (gap x 2)
    treated = [_fit("T", g)]
    placebos = [
        _fit("p0", 2.0 * g),
        _fit("p1", base[0]),
        _fit("p2", 2.0 * base[0]),
        _fit("p3", base[1]),
        _fit("p4", base[2]),
        _fit("p5", base[3]),
    ]
    table = placebo_table(treated, {int(YEARS[T0]): placebos}).set_index("unit")
    ratio = table["ratio"].to_numpy()
    assert table.loc["T", "ratio"] == table.loc["p0", "ratio"]  # exact ties
    assert table.loc["p1", "ratio"] == table.loc["p2", "ratio"]
    np.testing.assert_array_equal(table["rank"].to_numpy(), _counted_rank(ratio))
    # hand ratios: post/pre MSPE of each gap path
    hand = {
        u: np.mean(x[T0:] ** 2) / np.mean(x[:T0] ** 2)
        for u, x in [("T", g), ("p1", base[0]), ("p3", base[1])]
    }
    for u, r in hand.items():
        assert table.loc[u, "ratio"] == pytest.approx(r, rel=1e-12)
    # the treated unit's rank over J + 1 is the unfiltered, unfloored p-value
    _, p = placebo_in_space(table.reset_index())
    plac = ratio[~table["treated"].to_numpy()]
    t_ratio = table.loc["T", "ratio"]
    assert p == pytest.approx((1 + np.sum(plac >= t_ratio)) / (1 + plac.size))
    assert p == pytest.approx(table.loc["T", "rank"] / len(table))
    assert table.loc["T", "rank"] == 1 + np.sum(plac >= t_ratio) >= 2


def test_identical_donors_tie_at_an_infinite_ratio_in_the_rank():
    # d5 duplicates d0: as placebos each fits the other exactly (pre-MSPE 0, ratio inf)
    rng = np.random.default_rng(3)
    T = YEARS.size
    D = 20 + np.cumsum(rng.normal(size=(5, T)), axis=1)
    D = np.vstack([D, D[0]])
    y = 0.5 * D[1] + 0.5 * D[2] + rng.normal(scale=0.3, size=T)
    y[T0:] -= 2.0
    Y = np.vstack([D, y])
    units = [f"d{i}" for i in range(6)] + ["T"]
    df = pd.DataFrame(
        {
            "unit": np.repeat(units, T),
            "year": np.tile(YEARS, len(units)),
            "y": Y.ravel(),
        }
    )
    res = impact.synth(
        df,
        outcome="y",
        unit="unit",
        time="year",
        treated_units="T",
        treatment_time=int(YEARS[T0]),
        seed=0,
    )
    tab = res.placebo().table.set_index("unit")
    assert tab.loc["d0", "pre_mspe"] == 0.0 and tab.loc["d5", "pre_mspe"] == 0.0
    assert np.isinf(tab.loc["d0", "ratio"]) and np.isinf(tab.loc["d5", "ratio"])
    np.testing.assert_array_equal(
        tab["rank"].to_numpy(), _counted_rank(tab["ratio"].to_numpy())
    )
    assert tab.loc["d0", "rank"] == tab.loc["d5", "rank"] == 2


# ----------------------------------------------------------- brute-force helpers
def _hand_table(Y: np.ndarray, units: list[str], n_treated: int) -> pd.DataFrame:
    """Treated units (last rows) on all donors, each donor on the other donors."""
    n = Y.shape[0] - n_treated
    rows = []
    for i in range(Y.shape[0]):
        donors = [j for j in range(n) if j != i]
        w = simplex_ls_enumerated(Y[i, :T0], Y[donors, :T0].T)
        gap = Y[i] - w @ Y[donors]
        pre, post = np.mean(gap[:T0] ** 2), np.mean(gap[T0:] ** 2)
        rows.append(
            {
                "unit": units[i],
                "treated": i >= n,
                "pre_mspe": pre,
                "post_mspe": post,
                "ratio": post / pre,
                "att": gap[T0:].mean(),
            }
        )
    return pd.DataFrame(rows).set_index("unit")


def _hand_noise(Ypre: np.ndarray) -> float:
    """Median over units of the variance (ddof 1, written out) of y_t - y_{t-1}, / 2."""
    per_unit = []
    for row in Ypre:
        d = row[1:] - row[:-1]
        per_unit.append(np.sum((d - d.mean()) ** 2) / (d.size - 1) / 2)
    return float(np.median(per_unit))


def _long(Y: np.ndarray, units: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit": np.repeat(units, YEARS.size),
            "year": np.tile(YEARS, len(units)),
            "y": Y.ravel(),
        }
    )


SPEC = {"outcome": "y", "unit": "unit", "time": "year", "treatment_time": 2008}


# ------------------------------------------- degenerate pre-fits and noise variance
def _near_exact_panel(scale: float) -> tuple[np.ndarray, list[str]]:
    """Treated = 0.5 d1 + 0.3 d2 + 0.2 d3 plus e in the first year, effect -1.6.

    Every donor equals 20 in the first year, so every simplex combination misses the
    treated unit there by exactly e and fits the other pre-years exactly: the
    treated pre-period MSPE is e^2 / T0 = ``scale`` x the noise variance whatever the
    predictor weights.
    """
    rng = np.random.default_rng(5)
    D = 20 + np.cumsum(rng.normal(size=(5, YEARS.size)), axis=1)
    D[:, 0] = 20.0
    y = 0.5 * D[1] + 0.3 * D[2] + 0.2 * D[3]
    y[T0:] -= 1.6
    noise = _hand_noise(np.vstack([D, y])[:, :T0])
    y[0] += np.sqrt(T0 * scale * noise)
    return np.vstack([D, y]), [f"d{i}" for i in range(5)] + ["T"]


def _rank_p(stat: pd.Series, treated: pd.Series) -> float:
    t = float(stat[treated].iloc[0])
    others = stat[~treated].to_numpy()
    return float((1 + np.sum(others >= t * (1 - 1e-12))) / (1 + others.size))


@pytest.mark.parametrize("scale, degenerate", [(1e-7, True), (1e-5, False)])
def test_degenerate_cut_and_noise_variance(scale, degenerate):
    # A pre-period MSPE at 1e-7 of the year-to-year noise variance is below the
    # documented cut (a millionth): the fit is flagged and the one-unit statistic
    # becomes post-MSPE / max(pre-MSPE, noise variance). At 1e-5 it is an ordinary
    # fit ranked by its post/pre MSPE ratio.
    Y, units = _near_exact_panel(scale)
    noise = _hand_noise(Y[:, :T0])
    hand = _hand_table(Y, units, 1)
    assert hand.loc["T", "pre_mspe"] / noise == pytest.approx(scale, rel=1e-3)
    res = impact.synth(_long(Y, units), treated_units="T", seed=0, **SPEC)
    tab = res.placebo().table.set_index("unit").loc[hand.index]
    np.testing.assert_allclose(tab["pre_mspe"], hand["pre_mspe"], rtol=1e-4)
    np.testing.assert_allclose(tab["post_mspe"], hand["post_mspe"], rtol=1e-6)
    floored = hand["post_mspe"] / np.maximum(hand["pre_mspe"], noise)
    p_floor = _rank_p(floored, hand["treated"])
    p_ratio = _rank_p(hand["ratio"], hand["treated"])
    # the construction separates the rules: ratio rank 1/6, floored 4/6, and 3/6 if
    # the noise variance were taken with ddof 0 (d0's statistic sits between)
    noise0 = noise * (T0 - 2) / (T0 - 1)
    p_floor0 = _rank_p(
        hand["post_mspe"] / np.maximum(hand["pre_mspe"], noise0), hand["treated"]
    )
    assert (p_ratio, p_floor, p_floor0) == pytest.approx((1 / 6, 4 / 6, 3 / 6))
    text = [w for w in res.warnings if w.startswith("Degenerate pre-period fit")]
    if degenerate:
        assert res.pvalue == pytest.approx(p_floor, abs=1e-12)
        np.testing.assert_allclose(tab["statistic"], floored, rtol=1e-6)
        assert len(text) == 1
        assert f"noise variance, {noise:.3g})" in text[0]
        assert "1 of 6 units, the treated unit among them," in text[0]
    else:
        assert res.pvalue == pytest.approx(p_ratio, abs=1e-12)
        np.testing.assert_allclose(tab["statistic"], hand["ratio"], rtol=1e-4)
        assert text == []


# ------------------------------------------------ pooled test: enumerate or sample
@pytest.mark.parametrize("J, k", [(6, 2), (7, 3), (8, 2)])
def test_pooled_pvalue_enumerates_every_set_when_there_are_n_draws(J, k):
    # placebo_pvalue enumerates all C(J, k) placebo sets when there are at most
    # n_draws of them (documented); at exactly n_draws it must still be the exact
    # permutation p-value, the same for any generator. The treated mean sits at the
    # median of the set means, where a sampled p-value is least likely to coincide.
    from impact.synth.placebo import placebo_pvalue

    rng = np.random.default_rng(J * 10 + k)
    plac = rng.normal(size=J)
    means = np.array([np.mean(s) for s in itertools.combinations(plac, k)])
    assert means.size == comb(J, k)
    treated = np.full(k, np.median(means))
    exact = (1 + np.sum(means >= treated.mean() * (1 - 1e-12))) / (1 + means.size)
    for seed in (0, 1):
        p = placebo_pvalue(
            treated, plac, rng=np.random.default_rng(seed), n_draws=comb(J, k)
        )
        assert p == pytest.approx(exact, abs=1e-12)


# ------------------------------------------------------- pre-MSPE filter boundary
def test_mspe_filter_keeps_a_placebo_exactly_at_the_cut():
    # ADH drop placebos whose pre-MSPE *exceeds* threshold x the treated unit's: one
    # exactly at the cut is kept. Treated pre-MSPE 0.5, threshold 4: cut 2.0 exactly.
    table = pd.DataFrame(
        {
            "unit": ["T", "a", "b", "c", "d"],
            "treated": [True, False, False, False, False],
            "pre_mspe": [0.5, 2.0, 1.0, 2.5, 0.25],
            "post_mspe": [10.0, 12.0, 1.0, 30.0, 0.5],
            "att": [-3.0, 2.0, 0.5, 4.0, 0.1],
        }
    )
    table["ratio"] = table["post_mspe"] / table["pre_mspe"]  # T 20, a 6, c 12
    out, p = placebo_in_space(table, mspe_threshold=4.0)
    assert out["kept"].tolist() == [True, True, True, False, True]
    # kept placebos a, b, d have ratios 6, 1, 2 < 20: p = (1 + 0) / (1 + 3)
    assert p == pytest.approx(1 / 4)


def test_mspe_filter_boundary_through_synth():
    # The cut set exactly at a placebo's own pre-MSPE (as reported) keeps it.
    Y, units = _near_exact_panel(1e-5)
    hand = _hand_table(Y, units, 1)
    res = impact.synth(_long(Y, units), treated_units="T", seed=0, **SPEC)
    tab = res.placebo().table.set_index("unit")
    t_pre = float(tab.loc["T", "pre_mspe"])
    j = "d0"  # mid-range pre-MSPE: d3 is dropped, d0 kept (p 1/5; 1/4 without d0)
    pre_j = float(tab.loc[j, "pre_mspe"])
    thr = pre_j / t_pre
    for _ in range(4):  # the float threshold whose product is exactly the cut
        if thr * t_pre == pre_j:
            break
        thr = np.nextafter(thr, np.inf if thr * t_pre < pre_j else -np.inf)
    assert thr * t_pre == pre_j
    test = res.placebo(mspe_threshold=float(thr))
    kept = test.table.set_index("unit")["kept"]
    expect = hand.index[hand["pre_mspe"] <= hand.loc[j, "pre_mspe"] * (1 + 1e-9)]
    assert sorted(kept[kept].index) == sorted(expect)
    assert bool(kept[j])
    plac = hand.loc[expect].query("not treated")
    p = (1 + np.sum(plac["ratio"] >= hand.loc["T", "ratio"])) / (1 + len(plac))
    assert len(plac) == 4 and test.pvalue == pytest.approx(p, abs=1e-12)


# -------------------------------------- pooled test with too few retained placebos
def _three_treated_panel() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(1)
    D = 20 + np.cumsum(rng.normal(size=(5, YEARS.size)), axis=1)
    noise = rng.normal(scale=0.2, size=(3, YEARS.size))
    A = 0.5 * D[0] + 0.5 * D[1] + noise[0]
    B = 0.3 * D[2] + 0.7 * D[3] + noise[1]
    C = 0.5 * D[1] + 0.5 * D[4] + noise[2]
    return np.vstack([D, A, B, C]), [f"d{i}" for i in range(5)] + ["A", "B", "C"]


def test_pooled_pvalue_with_fewer_placebos_than_treated_is_nan_and_said():
    # Three treated units; the pre-MSPE filter (threshold x the largest treated
    # pre-MSPE) keeps 2 or 3 of the 5 placebos. With 3 the one set of 3 is the whole
    # permutation distribution: p = (1 + [|mean ATT| of the set >= treated's]) / 2.
    # With 2 no set of 3 exists: the p-value is undefined (NaN) and a warning says
    # so; the placebo SE (SD ddof 1 of the kept placebo ATTs / sqrt(3)) still exists.
    Y, units = _three_treated_panel()
    hand = _hand_table(Y, units, 3)
    plac = hand[~hand["treated"]]
    t_max = hand.loc[hand["treated"], "pre_mspe"].max()
    cuts = np.sort(plac["pre_mspe"].to_numpy() / t_max)
    stat = abs(hand.loc[hand["treated"], "att"].mean())
    spec = {**SPEC, "treated_units": ["A", "B", "C"]}
    for n_kept in (2, 3):
        thr = float(np.sqrt(cuts[n_kept - 1] * cuts[n_kept]))
        kept = plac[plac["pre_mspe"] <= thr * t_max]
        assert len(kept) == n_kept
        res = impact.synth(_long(Y, units), seed=0, mspe_threshold=thr, **spec)
        text = [w for w in res.warnings if w.startswith("The pre-period MSPE filter")]
        se = float(np.std(kept["att"], ddof=1)) / np.sqrt(3)
        assert res.se == pytest.approx(se, rel=1e-6)
        if n_kept == 2:
            assert np.isnan(res.pvalue)
            assert len(text) == 1
            assert f"(mspe_threshold={thr:g}) keeps 2 of 5 placebo units" in text[0]
            assert "3 treated units and is undefined (NaN)" in text[0]
        else:
            p = (1 + (abs(kept["att"].mean()) >= stat)) / 2
            assert res.pvalue == pytest.approx(p, abs=1e-12)
            assert text == []
