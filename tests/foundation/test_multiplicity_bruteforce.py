"""Holm and Romano-Wolf adjusted p-values against the textbook algorithms, by loops.

References: Holm (1979), Scand. J. Statist. 6(2): order the m finite p-values,
multiply the j-th smallest by ``m - j + 1``, cap at 1, carry the running maximum.
Romano and Wolf (2005), Econometrica 73(4), Algorithm 4.1, as in Clarke, Romano and
Wolf (2020), Stata Journal 20(4), eq. 7: for the hypothesis ranked j-th by its
statistic, the share of joint null draws whose maximum over the hypotheses ranked
j-th or lower reaches its statistic, then the running maximum down the ranking.
Both are written here with plain Python loops; exact agreement is required.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from impact.multiplicity import combine, holm, romano_wolf
from impact.results import Result


def _holm_loops(p: list[float]) -> list[float]:
    finite = [i for i, v in enumerate(p) if math.isfinite(v)]
    m = len(finite)
    ranked = sorted(finite, key=lambda i: p[i])
    out = [math.nan] * len(p)
    running = 0.0
    for j, i in enumerate(ranked):  # j = 0 for the smallest
        running = max(running, min(1.0, (m - j) * p[i]))
        out[i] = running
    return out


def _romano_wolf_loops(stat: list[float], draws: np.ndarray) -> list[float]:
    k = len(stat)
    ranked = sorted(range(k), key=lambda i: -stat[i])
    out = [0.0] * k
    running = 0.0
    for j, i in enumerate(ranked):
        rest = ranked[j:]
        hits = 0
        for b in range(draws.shape[0]):
            if max(draws[b, r] for r in rest) >= stat[i]:
                hits += 1
        running = max(running, hits / draws.shape[0])
        out[i] = running
    return out


def test_holm_matches_the_step_down_by_hand() -> None:
    p = [0.01, 0.04, 0.03, 0.005, 0.20]
    # sorted 0.005, 0.01, 0.03, 0.04, 0.20 -> x5, x4, x3, x2, x1 = 0.025, 0.04,
    # 0.09, 0.08 -> 0.09 (monotone), 0.20
    expected = [0.04, 0.09, 0.09, 0.025, 0.20]
    np.testing.assert_allclose(holm(p), expected, rtol=1e-12)
    np.testing.assert_allclose(holm(p), _holm_loops(p), rtol=1e-12)
    # NaNs are skipped and not counted in m; the cap at 1 applies
    q = [0.3, math.nan, 0.6, 0.02]
    got = holm(q)
    assert math.isnan(got[1])
    np.testing.assert_allclose(got[[0, 2, 3]], [0.6, 0.6, 0.06], rtol=1e-12)
    rng = np.random.default_rng(4)
    for _ in range(20):
        r = list(rng.uniform(0, 0.5, size=7))
        np.testing.assert_allclose(holm(r), _holm_loops(r), rtol=1e-12)


def test_romano_wolf_matches_the_algorithm_by_loops() -> None:
    rng = np.random.default_rng(11)
    # correlated null draws of |t| for 4 outcomes
    z = rng.normal(size=(400, 1)) * 0.7 + rng.normal(size=(400, 4)) * 0.7
    draws = np.abs(z)
    stat = [2.4, 0.8, 1.9, 1.2]
    got = romano_wolf(np.array(stat), draws)
    np.testing.assert_allclose(got, _romano_wolf_loops(stat, draws), rtol=1e-12)
    # the top-ranked outcome uses the max over all outcomes, so its p-value exceeds
    # its own single-test share of draws
    assert got[0] > np.mean(draws[:, 0] >= stat[0])
    # exact ties count as at least as extreme
    tied = draws.copy()
    tied[:5, 1] = stat[0]
    got = romano_wolf(np.array(stat), tied)
    np.testing.assert_allclose(got, _romano_wolf_loops(stat, tied), rtol=1e-12)


def _fit(estimate: float, se: float, pvalue: float) -> Result:
    return Result(
        estimator="x",
        estimate=estimate,
        se=se,
        pvalue=pvalue,
        n_treated=3,
        n_control=9,
    )


def test_combine_table_rows_and_adjusted_columns() -> None:
    fits = {
        "a": _fit(1.0, 0.4, 0.012),
        "b": _fit(-0.5, 0.5, 0.317),
        "c": _fit(0.9, 0.3, 0.003),
    }
    rng = np.random.default_rng(2)
    draws = [np.abs(rng.normal(size=200)) for _ in range(3)]
    stats = [2.5, 1.0, 3.0]
    res = combine(fits, stats, stats, draws, ["wild"] * 3)
    t = res.to_frame().set_index("outcome")
    for name, fit in fits.items():
        assert t.loc[name, "estimate"] == fit.estimate
        assert t.loc[name, "se"] == fit.se
        assert t.loc[name, "ci_low"] == pytest.approx(fit.estimate - 1.959964 * fit.se)
        assert t.loc[name, "ci_high"] == pytest.approx(fit.estimate + 1.959964 * fit.se)
    np.testing.assert_allclose(
        t["pvalue_holm"], _holm_loops([0.012, 0.317, 0.003]), rtol=1e-12
    )
    np.testing.assert_allclose(
        t["pvalue_romano_wolf"],
        _romano_wolf_loops(stats, np.column_stack(draws)),
        rtol=1e-12,
    )
    # draws of different kinds are not joint: no Romano-Wolf, and a warning says so
    res = combine(fits, stats, stats, draws, ["wild", "wild", "permutation"])
    assert res.to_frame()["pvalue_romano_wolf"].isna().all()
    assert any("Romano-Wolf p-values are not available" in w for w in res.warnings)
