"""Selection diagnostic percentiles when outcomes tie (integer-valued rates).

``level_percentile`` / ``trend_percentile`` are the average share of comparison units
below each treated unit, a tie counting one half (the mid-rank convention). The
reference is ``scipy.stats.percentileofscore(kind="mean")`` (the average of the strict
and the weak percentile, Hazen 1914 / Roscoe 1975), applied here per treated unit
against the never-treated units over that unit's own pre-adoption window; the
level and trend are written out in the test. Integer outcomes make ties exact in
floating point (same integer sums, same divisions), so the tolerance is 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import percentileofscore

from impact.diagnostics import selection_diagnostic


def _reference(
    Y: np.ndarray, cidx: np.ndarray, w: int, kind: str
) -> tuple[float, float]:
    """Mean percentile (as a share) of the treated units' level and trend."""
    comp = ~np.isfinite(cidx)
    lv, tr = [], []
    for u in np.flatnonzero(np.isfinite(cidx)):
        g = int(cidx[u])
        level = Y[:, g - w : g].mean(axis=1)
        trend = (Y[:, g - 1] - Y[:, g - w]) / (w - 1)
        lv.append(percentileofscore(level[comp], level[u], kind=kind) / 100)
        tr.append(percentileofscore(trend[comp], trend[u], kind=kind) / 100)
    return float(np.mean(lv)), float(np.mean(tr))


def test_percentiles_count_ties_as_half_two_cohorts() -> None:
    # 24 units, values 0..3: many exact ties in the 3-period level and trend; two
    # adoption cohorts (columns 4 and 6), each ranked over its own window
    rng = np.random.default_rng(11)
    Y = rng.integers(0, 4, size=(24, 8)).astype(float)
    cidx = np.full(24, np.inf)
    cidx[[0, 1, 2]] = 4
    cidx[[3, 4]] = 6
    d = selection_diagnostic(Y, cidx, n_perm=99)
    assert d.available and d.window == 3
    level, trend = _reference(Y, cidx, 3, "mean")
    assert d.level_percentile == pytest.approx(level, abs=1e-12)
    assert d.trend_percentile == pytest.approx(trend, abs=1e-12)
    # informative: ties are frequent enough that counting them fully (the weak
    # percentile) or not at all (strict) moves both shares by more than 0.03
    for kind in ("weak", "strict"):
        lv, tr = _reference(Y, cidx, 3, kind)
        assert abs(lv - level) > 0.03 and abs(tr - trend) > 0.03


def test_flag_text_uses_mid_rank_share_for_tied_top_units() -> None:
    # Adopters rise 1 -> 3 -> 5 before adopting, exactly like two comparison units,
    # and above the 25 others (values 0..3). Mid-rank share: (25 + 0.5 * 2) / 27 =
    # 26 / 27 = 96% for level and trend; counting ties fully would say 100%.
    rng = np.random.default_rng(5)
    Y = rng.integers(0, 4, size=(30, 7)).astype(float)
    Y[:5, 2:5] = [1.0, 3.0, 5.0]
    cidx = np.full(30, np.inf)
    cidx[:3] = 5
    d = selection_diagnostic(Y, cidx)
    level, trend = _reference(Y, cidx, 3, "mean")
    assert level == pytest.approx(26 / 27, abs=1e-12)
    assert trend == pytest.approx(26 / 27, abs=1e-12)
    assert d.level_percentile == pytest.approx(level, abs=1e-12)
    assert d.trend_percentile == pytest.approx(trend, abs=1e-12)
    assert d.flagged and d.direction == "rising"
    text = d.warning("rate")
    assert text is not None
    assert "rose faster than 96% and was higher than 96% of comparison units" in text


def _midrank_centred(x: np.ndarray) -> np.ndarray:
    """Centred mid-rank by counting: (#below + #equal / 2) / n - 0.5 (self included in
    #equal), i.e. the average 1-based rank r of a tie group mapped to (r - 0.5)/n - 0.5."""
    below = (x[None, :] < x[:, None]).sum(axis=1)
    equal = (x[None, :] == x[:, None]).sum(axis=1)
    return (below + equal / 2) / len(x) - 0.5


def test_tied_outcomes_rank_by_midrank_whatever_the_unit_order() -> None:
    # Integer outcomes: adopters tie with other units on level and trend. The ranks
    # must not depend on the row order (a unit's label), so listing the adopters
    # last gives the same statistics. Reference: enumeration of all C(14, 3) = 364
    # adopter sets with mid-ranks counted in the test (component SDs from the
    # enumeration, as test_selection.py); 0.035 tolerance on the 1999-draw Monte
    # Carlo p-values (SE <= 0.011).
    from itertools import combinations

    rng = np.random.default_rng(4)
    Y = rng.integers(0, 3, size=(14, 6)).astype(float)
    Y[:3, 2:5] = [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 2.0, 2.0]]
    Y[3:5, 2:5] = [[1.0, 2.0, 3.0], [0.0, 2.0, 2.0]]  # comparison twins
    cidx = np.full(14, np.inf)
    cidx[:3] = 5
    lvl = _midrank_centred(Y[:, 2:5].mean(axis=1))
    trd = _midrank_centred((Y[:, 4] - Y[:, 2]) / 2)
    sets = [list(s) for s in combinations(range(14), 3)]
    stats = np.array([[lvl[s].mean(), trd[s].mean()] for s in sets])
    sd = stats.std(axis=0)
    obs = np.array([lvl[:3].mean(), trd[:3].mean()])
    joint = np.abs(stats / sd).max(axis=1)
    exact = float(np.mean(joint >= np.abs(obs / sd).max() - 1e-9))
    trend_exact = float(np.mean(np.abs(stats[:, 1]) >= abs(obs[1]) - 1e-9))
    perm = np.r_[np.arange(3, 14), np.arange(3)]  # adopters listed last
    for order in (np.arange(14), perm, perm[::-1]):
        d = selection_diagnostic(Y[order], cidx[order])
        assert d.level_statistic == pytest.approx(obs[0], abs=1e-12)
        assert d.trend_statistic == pytest.approx(obs[1], abs=1e-12)
        assert d.statistic == pytest.approx(np.abs(obs / sd).max(), rel=1e-9)
        assert d.pvalue == pytest.approx(exact, abs=0.035)
        assert d.trend_pvalue == pytest.approx(trend_exact, abs=0.035)
