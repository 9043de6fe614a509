"""Rules and numbers that the third DiD mutation sweep found unguarded.

Each test pins one documented rule or number to the rule as written (DESIGN,
docstrings) or to a loop computed here; the mutation it kills is named in
``tools/mutations/did_third_sweep.json``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import impact


def _long(Y: np.ndarray, cidx: np.ndarray, start: int = 2000) -> pd.DataFrame:
    n, n_t = Y.shape
    return pd.DataFrame(
        {
            "unit": np.repeat(np.arange(n), n_t),
            "year": np.tile(start + np.arange(n_t), n),
            "y": Y.ravel(),
            "cohort": np.repeat(
                np.where(np.isfinite(cidx), start + np.nan_to_num(cidx), 0), n_t
            ),
        }
    )


KW = {"outcome": "y", "unit": "unit", "time": "year", "cohort": "cohort"}


@pytest.mark.parametrize(
    ("anticipation", "expected"), [(0, "permutation"), (1, "wild")]
)
def test_auto_inference_counts_pre_periods_net_of_anticipation(
    anticipation: int, expected: str
) -> None:
    """inference='auto' with few treated: randomization inference is studentized with
    each unit's noise from the changes before the first adoption *minus anticipation*;
    with fewer than two such changes (three periods) it falls back to the wild
    bootstrap when there are at least 5 treated clusters. First cohort at period 3:
    three clean periods without anticipation, two with anticipation=1."""
    rng = np.random.default_rng(12)
    n, n_t = 30, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:6] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            _long(Y, cidx),
            **KW,
            method="cs",
            anticipation=anticipation,
            n_boot=99,
            seed=1,
        )
    assert res.inference == expected


def test_cs_covariate_batch_with_anticipation_equals_regression_loop() -> None:
    """Outcome-regression CS ATT(g,t) with anticipation=1, not-yet controls, for several
    assignments: per cell, OLS of the change on [1, X_base] in the comparison group
    (never treated, or adopting after max(t, b) + anticipation), then the treated mean
    of the change minus its prediction (Sant'Anna and Zhao 2020, the "reg" estimator;
    numpy lstsq here). Post cells compare with base g - 1 - anticipation, pre cells
    with t - 1 (varying base). Tolerance 1e-8."""
    from impact.did._cs_cov_batch import cs_covariate_att_batch

    rng = np.random.default_rng(21)
    n, n_t, a = 36, 7, 1
    x = rng.normal(size=n)
    X = np.repeat(x[:, None, None], n_t, axis=1)
    Y = rng.normal(size=(n, 1)) + 0.5 * x[:, None] * np.arange(n_t)
    Y = Y + rng.normal(scale=0.5, size=(n, n_t))
    cohort = np.full(n, np.inf)
    cohort[:6], cohort[6:12], cohort[12:16] = 3, 4, 6
    C = np.stack([cohort] + [rng.permutation(cohort) for _ in range(3)])
    batch = cs_covariate_att_batch(
        Y, C, np.arange(n_t), X, control="notyet", est_method="reg", anticipation=a
    )
    cells = []
    for g in (3, 4, 6):
        for t in range(1, n_t):
            cells.append((g, t, g - 1 - a if t >= g else t - 1))
    np.testing.assert_array_equal(
        np.c_[batch.gidx, batch.tidx, batch.bidx], np.array(cells)
    )
    for row, c in zip(batch.att, C, strict=True):
        for j, (g, t, b) in enumerate(cells):
            tr = c == g
            co = ~np.isfinite(c) | ((c > max(t, b) + a) & ~tr)
            d = Y[:, t] - Y[:, b]
            Z = np.c_[np.ones(n), X[:, 0, 0]]
            coef = np.linalg.lstsq(Z[co], d[co], rcond=None)[0]
            want = float(np.mean(d[tr] - Z[tr] @ coef))
            assert row[j] == pytest.approx(want, abs=1e-8)


@pytest.mark.parametrize("bad", ["cohort", "X"])
def test_cs_covariate_batch_names_mismatched_shapes(bad: str) -> None:
    from impact.did._cs_cov_batch import cs_covariate_att_batch
    from impact.errors import SpecError

    rng = np.random.default_rng(0)
    n, n_t = 12, 5
    Y = rng.normal(size=(n, n_t))
    X = rng.normal(size=(n, n_t, 1))
    cohort = np.full(n, np.inf)
    cohort[:3] = 2
    if bad == "cohort":
        cohort = cohort[:-1]
    else:
        X = X[:, :-1]
    with pytest.raises(SpecError, match=r"need N=12 units and T=5 periods"):
        cs_covariate_att_batch(Y, cohort, np.arange(n_t), X)


def test_romano_wolf_multiplier_draws_for_analytic_cs_equal_the_loop() -> None:
    """inference='analytic' CS: Romano-Wolf draws ``|sum_i m_bi psi_i / n| / se`` with
    Rademacher ``m`` from ``default_rng(seed)`` (``n_boot`` x units, as documented for
    ``fit_outcomes``: one integer seed shared by every outcome) and the influence
    function of a difference in mean changes, written here: ``psi_i = n (D_i (d_i -
    m_1) / n_1 - (1 - D_i) (d_i - m_0) / n_0)``; ``se = sqrt(sum psi_i^2) / n``. With one
    outcome the Romano-Wolf p-value is the share of draws at least ``|estimate| / se``."""
    rng = np.random.default_rng(17)
    n, n1 = 20, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, 2))
    cidx = np.full(n, np.inf)
    cidx[:n1] = 1
    Y[:n1, 1] += 0.6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        multi = impact.did(
            _long(Y, cidx),
            outcome=["y"],
            unit="unit",
            time="year",
            cohort="cohort",
            method="cs",
            inference="analytic",
            n_boot=499,
            seed=7,
        )
    row = multi.to_frame().iloc[0]
    d = Y[:, 1] - Y[:, 0]
    tr = np.isfinite(cidx)
    m1, m0 = d[tr].mean(), d[~tr].mean()
    psi = n * np.where(tr, (d - m1) / n1, -(d - m0) / (n - n1))
    se = np.sqrt((psi**2).sum()) / n
    assert row["estimate"] == pytest.approx(m1 - m0, rel=1e-12)
    assert row["se"] == pytest.approx(se, rel=1e-10)
    mult = np.random.default_rng(7).choice(np.array([-1.0, 1.0]), size=(499, n))
    t_obs = abs(m1 - m0) / se
    hits = sum(abs(mult[b] @ psi / n) / se >= t_obs * (1 - 1e-10) for b in range(499))
    assert row["pvalue_romano_wolf"] == pytest.approx(hits / 499, abs=1e-12)


def test_romano_wolf_counts_the_tied_wild_draws() -> None:
    """Wild cluster bootstrap with 4 clusters (Webb's six-point weights): all 6^4 = 1296
    weight vectors are enumerated, and the constant vectors reproduce |t| exactly (the
    null-imposed fit plus a multiple of its own residuals: a linear estimator scales
    with its SE). The p-value counts draws at least the observed |t|, ties
    included, so with one outcome the Romano-Wolf p-value equals the single p-value
    and the share computed here from the draws."""
    rng = np.random.default_rng(23)
    n, n1 = 4, 2
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, 4))
    cidx = np.full(n, np.inf)
    cidx[:n1] = 2
    kw = dict(unit="unit", time="year", cohort="cohort", method="cs")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single = impact.did(
            _long(Y, cidx), outcome="y", inference="wild", n_boot=1999, seed=3, **kw
        )
        multi = impact.did(
            _long(Y, cidx), outcome=["y"], inference="wild", n_boot=1999, seed=3, **kw
        )
    t_boot = np.abs(np.asarray(single.inference_details["t_boot"], dtype=float))
    t_obs = abs(float(single.inference_details["t_stat"]))
    assert len(t_boot) == 6**n
    ties = np.isclose(t_boot, t_obs, rtol=1e-9, atol=0)
    assert ties.sum() >= 2
    share = float(np.mean(t_boot >= t_obs * (1 - 1e-9)))
    row = multi.to_frame().iloc[0]
    assert single.pvalue == pytest.approx(share, abs=1e-12)
    assert row["pvalue_romano_wolf"] == pytest.approx(share, abs=1e-12)


def _rows_panel() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    n, n_t = 8, 4
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t))
    cidx = np.full(n, np.inf)
    cidx[:3] = 2
    Y[:3, 2:] += np.array([2.0, 3.0])
    return Y, cidx


def test_randomization_rows_follow_the_fits_alpha() -> None:
    """alpha=0.10: the headline interval is the estimate -/+ the ceil(0.90 * 56)-th
    smallest |estimate| over the 56 assignments of the effects-removed outcome (raw
    permutation: two pre-periods), and the printed SE is its half-width over
    z_{0.95} (loop as in test_did_permutation_rows_loop.py)."""
    import itertools
    import math

    from scipy import special

    Y, cidx = _rows_panel()
    tr_obs = np.isfinite(cidx)

    def simple(Ya: np.ndarray, tr: np.ndarray) -> float:
        d = [(Ya[:, t] - Ya[:, 1]) for t in (2, 3)]
        return float(np.mean([x[tr].mean() - x[~tr].mean() for x in d]))

    Y0 = Y.copy()
    for t in (2, 3):
        d = Y[:, t] - Y[:, 1]
        Y0[tr_obs, t] -= d[tr_obs].mean() - d[~tr_obs].mean()
    null = []
    for idx in itertools.combinations(range(8), 3):
        tr = np.zeros(8, dtype=bool)
        tr[list(idx)] = True
        null.append(abs(simple(Y0, tr)))
    half = np.sort(null)[math.ceil(0.90 * 56) - 1]
    est = simple(Y, tr_obs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            _long(Y, cidx),
            **KW,
            method="cs",
            inference="permutation",
            alpha=0.10,
            n_boot=99,
            seed=1,
        )
    assert res.ci[0] == pytest.approx(est - half, abs=1e-10)
    assert res.ci[1] == pytest.approx(est + half, abs=1e-10)
    assert res.se == pytest.approx(half / special.ndtri(0.95), rel=1e-10)


def test_randomization_rows_use_at_least_19_reassignments() -> None:
    """n_boot below 19 is raised to 19 re-assignments (with the observed one, 20: the
    smallest p-value 1/20 can reach alpha = 0.05)."""
    rng = np.random.default_rng(2)
    n, n_t = 40, 6
    Y = rng.normal(size=(n, 1)) + rng.normal(size=(n, n_t)).cumsum(axis=1)
    cidx = np.full(n, np.inf)
    cidx[:4] = 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = impact.did(
            _long(Y, cidx),
            **KW,
            method="cs",
            inference="permutation",
            n_boot=5,
            seed=1,
        )
    assert not res.inference_details["exact"]
    assert res.inference_details["n_draws"] == 20
    assert np.isfinite(res.ci[0]) and np.isfinite(res.ci[1])
