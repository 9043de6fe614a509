"""Placebo-in-space inference of synth() recomputed from scratch on a small panel.

Every placebo fit is redone in the test by exhaustive enumeration: the simplex
least-squares problem ``min |y - Y0 w|^2, w >= 0, sum w = 1`` has its optimum at the
equality-constrained optimum of one support, so solving the KKT system on every subset
of donors and keeping the best feasible one is exact (6 donors: 63 subsets). From those
fits the test rebuilds the placebo table (pre/post MSPE, ratio, ATT), the rank p-value
``(1 + #{placebo ratio >= treated ratio}) / (1 + J)``, the placebo SE (SD, ddof 1, of
the placebo ATTs), the normal 95% interval (``qnorm(0.975) = 1.959963984540054``) and
the ADH pre-MSPE filter. Nothing here is taken from impact's own output.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import impact

Z975 = 1.959963984540054  # R qnorm(0.975)
T0 = 8  # pre-periods
YEARS = np.arange(2000, 2012)


def simplex_ls_enumerated(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Exact ``argmin |y - X w|^2`` over the simplex by enumerating supports."""
    J = X.shape[1]
    best, best_w = np.inf, None
    for k in range(1, J + 1):
        for S in itertools.combinations(range(J), k):
            XS = X[:, S]
            kkt = np.zeros((k + 1, k + 1))
            kkt[:k, :k] = 2 * XS.T @ XS
            kkt[:k, k] = 1.0
            kkt[k, :k] = 1.0
            rhs = np.append(2 * XS.T @ y, 1.0)
            try:
                z = np.linalg.solve(kkt, rhs)[:k]
            except np.linalg.LinAlgError:
                continue
            if z.min() < -1e-12:
                continue
            w = np.zeros(J)
            w[list(S)] = np.clip(z, 0.0, None)
            loss = float(np.sum((y - X @ w) ** 2))
            if loss < best - 1e-12:
                best, best_w = loss, w
    assert best_w is not None
    return best_w


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(11)
    n_donors, T = 6, YEARS.size
    f = np.cumsum(rng.normal(size=(T, 2)), axis=0)
    load = rng.normal(1, 0.5, size=(n_donors, 2))
    Y = 20 + load @ f.T + rng.normal(scale=0.4, size=(n_donors, T))
    y1 = 0.6 * Y[0] + 0.4 * Y[3] + rng.normal(scale=0.3, size=T)
    y1[T0:] -= 2.0
    Y = np.vstack([Y, y1])
    units = [f"d{i}" for i in range(n_donors)] + ["T"]
    df = pd.DataFrame(
        {
            "unit": np.repeat(units, T),
            "year": np.tile(YEARS, len(units)),
            "y": Y.ravel(),
        }
    )
    return df, Y, units


def _by_hand(Y: np.ndarray, units: list[str]) -> pd.DataFrame:
    """Treated unit (last row) and each donor as placebo, fitted on the other donors."""
    n = Y.shape[0] - 1
    rows = []
    for i in [n, *range(n)]:
        donors = [j for j in range(n) if j != i]
        w = simplex_ls_enumerated(Y[i, :T0], Y[donors, :T0].T)
        gap = Y[i] - w @ Y[donors]
        pre, post = np.mean(gap[:T0] ** 2), np.mean(gap[T0:] ** 2)
        rows.append(
            {
                "unit": units[i],
                "treated": i == n,
                "pre_mspe": pre,
                "post_mspe": post,
                "ratio": post / pre,
                "att": gap[T0:].mean(),
            }
        )
    return pd.DataFrame(rows).set_index("unit")


SPEC = {"outcome": "y", "unit": "unit", "time": "year", "treated_units": "T"}


def test_placebo_table_se_ci_and_pvalue_recomputed(small):
    df, Y, units = small
    hand = _by_hand(Y, units)
    res = impact.synth(df, treatment_time=int(YEARS[T0]), seed=0, **SPEC)
    table = res.placebo().table.set_index("unit").loc[hand.index]
    for col in ("pre_mspe", "post_mspe", "ratio", "att"):
        np.testing.assert_allclose(table[col], hand[col], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(table["pre_rmspe"], np.sqrt(hand["pre_mspe"]), 1e-6)
    # rank: 1 for the largest ratio; the number of units whose ratio is at least its own
    r = hand["ratio"].to_numpy()
    np.testing.assert_array_equal(table["rank"], (r[None, :] >= r[:, None]).sum(axis=1))
    t_ratio = hand.loc["T", "ratio"]
    plac = hand[~hand["treated"]]
    p = (1 + np.sum(plac["ratio"] >= t_ratio)) / (1 + len(plac))
    assert res.pvalue == pytest.approx(p, abs=1e-12)
    assert res.estimate == pytest.approx(hand.loc["T", "att"], rel=1e-6)
    se = float(np.std(plac["att"], ddof=1))
    assert res.se == pytest.approx(se, rel=1e-6)
    assert res.ci == pytest.approx(
        (res.estimate - Z975 * se, res.estimate + Z975 * se), rel=1e-6
    )
    assert res.pre_rmspe == pytest.approx(np.sqrt(hand.loc["T", "pre_mspe"]), 1e-6)
    assert res.post_rmspe == pytest.approx(np.sqrt(hand.loc["T", "post_mspe"]), 1e-6)


def test_placebo_filter_se_and_pvalue_recomputed(small):
    df, Y, units = small
    hand = _by_hand(Y, units)
    plac = hand[~hand["treated"]]
    t_mspe = hand.loc["T", "pre_mspe"]
    # a threshold between two placebo pre-MSPE ratios: some placebos are dropped
    r = np.sort(plac["pre_mspe"].to_numpy() / t_mspe)
    threshold = float(np.sqrt(r[2] * r[3]))
    kept = plac[plac["pre_mspe"] <= threshold * t_mspe]
    assert 0 < len(kept) < len(plac)
    res = impact.synth(
        df, treatment_time=int(YEARS[T0]), seed=0, mspe_threshold=threshold, **SPEC
    )
    p = (1 + np.sum(kept["ratio"] >= hand.loc["T", "ratio"])) / (1 + len(kept))
    assert res.pvalue == pytest.approx(p, abs=1e-12)
    se = float(np.std(kept["att"], ddof=1))
    assert res.se == pytest.approx(se, rel=1e-6)
    assert res.ci == pytest.approx(
        (res.estimate - Z975 * se, res.estimate + Z975 * se), rel=1e-6
    )


def test_pooled_placebo_in_space_enumerated():
    # Several treated units: |mean ATT| of the treated against |mean ATT| of every set
    # of as many retained placebos (all C(J, 2) sets enumerated), with the +1
    # correction; placebos above the pre-MSPE cutoff (threshold x the largest treated
    # pre-MSPE) are dropped first. Treated ATTs are negative and unequal, so the
    # absolute value, the mean and the filter all matter.
    from impact.synth.placebo import placebo_in_space

    rng = np.random.default_rng(2)
    n_p = 12
    table = pd.DataFrame(
        {
            "unit": ["A", "B"] + [f"p{i}" for i in range(n_p)],
            "treated": [True, True] + [False] * n_p,
            "pre_mspe": np.r_[1.0, 2.0, rng.uniform(0.5, 8.0, n_p)],
            "post_mspe": rng.uniform(1.0, 5.0, n_p + 2),
            "att": np.r_[-2.6, -0.4, rng.normal(0.0, 1.5, n_p)],
        }
    )
    table["ratio"] = table["post_mspe"] / table["pre_mspe"]
    stat = abs(-2.6 + -0.4) / 2
    for threshold in (None, 2.0):
        plac = table.iloc[2:]
        if threshold is not None:
            plac = plac[plac["pre_mspe"] <= threshold * 2.0]
            assert 2 < len(plac) < n_p
        sets = list(itertools.combinations(plac["att"].to_numpy(), 2))
        hits = sum(abs(a + b) / 2 >= stat for a, b in sets)
        expected = (1 + hits) / (1 + len(sets))
        out, p = placebo_in_space(table, mspe_threshold=threshold)
        assert p == pytest.approx(expected, abs=1e-12)
        assert out["kept"].sum() == len(plac) + 2
        assert out["statistic"].to_numpy() == pytest.approx(table["att"])


@pytest.fixture(scope="module")
def two_treated():
    # Two treated units with very different pre-period fits (noise 0.2 and 1.0), so
    # the pre-MSPE cutoff against the largest treated pre-MSPE differs from one
    # against the smallest, and the pooled SE's 1/sqrt(2) is visible.
    rng = np.random.default_rng(23)
    n_donors, T = 6, YEARS.size
    f = np.cumsum(rng.normal(size=(T, 2)), axis=0)
    load = rng.normal(1, 0.5, size=(n_donors, 2))
    Y = 20 + load @ f.T + rng.normal(scale=0.4, size=(n_donors, T))
    t1 = 0.6 * Y[0] + 0.4 * Y[3] + rng.normal(scale=0.2, size=T)
    t2 = 0.5 * Y[1] + 0.5 * Y[4] + rng.normal(scale=1.0, size=T)
    t1[T0:] -= 2.0
    t2[T0:] -= 1.0
    Y = np.vstack([Y, t1, t2])
    units = [f"d{i}" for i in range(n_donors)] + ["T1", "T2"]
    df = pd.DataFrame(
        {
            "unit": np.repeat(units, T),
            "year": np.tile(YEARS, len(units)),
            "y": Y.ravel(),
        }
    )
    return df, Y, units


def _by_hand_two(Y: np.ndarray, units: list[str]) -> pd.DataFrame:
    """Each treated unit fitted on the 6 donors; each donor on the other 5 (the
    treated units are never donors to a placebo)."""
    n = Y.shape[0] - 2
    rows = []
    for i in [n, n + 1, *range(n)]:
        donors = [j for j in range(n) if j != i]
        w = simplex_ls_enumerated(Y[i, :T0], Y[donors, :T0].T)
        gap = Y[i] - w @ Y[donors]
        rows.append(
            {
                "unit": units[i],
                "treated": i >= n,
                "pre_mspe": np.mean(gap[:T0] ** 2),
                "att": gap[T0:].mean(),
            }
        )
    return pd.DataFrame(rows).set_index("unit")


def test_two_treated_pooled_se_cutoff_and_pvalue_recomputed(two_treated):
    """Several treated units, end to end, every number rebuilt from exhaustive fits:
    estimate = mean treated ATT; SE = SD (ddof 1) of the retained placebo ATTs over
    sqrt(number of treated) (the pooled mean of 2 ATTs, documented in synth());
    CI = estimate -/+ qnorm(0.975) SE; placebos dropped when their pre-MSPE exceeds
    threshold x the LARGEST treated pre-MSPE (ADH's filter, conservative with several
    treated); p = share of all C(J, 2) placebo pairs whose |mean ATT| reaches the
    treated |mean ATT|, with the +1 correction. Tolerances: rel 1e-6 (optimiser
    versus exact enumeration), p exact."""
    df, Y, units = two_treated
    hand = _by_hand_two(Y, units)
    tr, plac = hand[hand["treated"]], hand[~hand["treated"]]
    lo, hi = float(tr["pre_mspe"].min()), float(tr["pre_mspe"].max())
    assert hi > 3 * lo  # the two treated fits differ
    ratios = np.sort(plac["pre_mspe"].to_numpy() / hi)
    # a threshold between two placebo pre-MSPE ratios: 2-4 placebos dropped
    threshold = float(np.sqrt(ratios[3] * ratios[4]))
    kept = plac[plac["pre_mspe"] <= threshold * hi]
    assert 2 < len(kept) < len(plac)
    assert len(plac[plac["pre_mspe"] <= threshold * lo]) < len(kept)  # min would differ
    estimate = float(tr["att"].mean())
    for thr, pool in ((None, plac), (threshold, kept)):
        res = impact.synth(
            df,
            outcome="y",
            unit="unit",
            time="year",
            treated_units=["T1", "T2"],
            treatment_time=int(YEARS[T0]),
            seed=0,
            mspe_threshold=thr,
        )
        assert res.estimate == pytest.approx(estimate, rel=1e-6)
        se = float(np.std(pool["att"], ddof=1)) / np.sqrt(2)
        assert res.se == pytest.approx(se, rel=1e-6)
        assert res.ci == pytest.approx(
            (estimate - Z975 * se, estimate + Z975 * se), 1e-6
        )
        sets = list(itertools.combinations(pool["att"].to_numpy(), 2))
        hits = sum(abs(a + b) / 2 >= abs(estimate) * (1 - 1e-9) for a, b in sets)
        assert res.pvalue == pytest.approx((1 + hits) / (1 + len(sets)), abs=1e-12)
        tab = res.placebo(thr).table.set_index("unit")
        assert sorted(tab.index[tab["kept"] & ~tab["treated"]]) == sorted(pool.index)
