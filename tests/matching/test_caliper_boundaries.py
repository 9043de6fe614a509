"""Calipers where they bite: pairs between 1x and 2x the caliper, and on it exactly.

The other matching tests have no treated-comparison pair whose distance lies between
once and twice the caliper, so a caliper applied at twice its width (to tied matches,
in optimal matching, in optimal Mahalanobis matching) went unnoticed. Here every data
set holds such pairs, and the matched sets, counts and estimates are checked against
references computed in the test, never against our own output:

* the caliper's units: MatchIt 4.x ``process.caliper`` (input_processing.R) multiplies a
  ``std.caliper`` by ``sd(distance[!discarded])``, R's ``sd`` (divisor n - 1), so here
  ``k = target / np.std(ps, ddof=1)`` must give an absolute caliper of ``target``;
* the caliper is inclusive: MatchIt's ``caliper_dist_okay`` (src/internal.cpp) keeps a
  pair when ``|d_i - d_j| <= caliper``; exact boundaries use dyadic scores (sums of
  powers of two) so the distance equals the caliper in floating point;
* ``ties="all"``: R ``Matching::Match(ties=TRUE)``'s rule (a control ties when its
  squared distance is within ``1e-5 * var(distance)`` of the nearest one's), among the
  controls inside the caliper, written out per treated unit;
* optimal matching with a caliper: the most pairs inside the caliper, then the smallest
  total distance, by full enumeration of every feasible assignment (tiny data) or by
  scipy's assignment solver on the textbook formulation with one "no match" column per
  treated unit (Lalonde; a different construction from the package's penalty on
  forbidden cells);
* Mahalanobis distance: pooled within-group covariance, divisor n - 2 (MatchIt, Rubin
  1980), computed here with ``np.linalg.inv``.
"""

from __future__ import annotations

from itertools import combinations, product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impact.matching import match

# --------------------------------------------------------------------- helpers


def _pairs(res) -> set[tuple[int, int]]:
    m = res.matched
    return {(int(f), int(c)) for f, c in zip(m["focal"], m["match"], strict=True)}


def _total(res, cost: np.ndarray, t: np.ndarray, c: np.ndarray) -> float:
    """Total of the test's own cost matrix over the matched pairs."""
    row = {int(u): i for i, u in enumerate(t)}
    col = {int(u): j for j, u in enumerate(c)}
    return float(sum(cost[row[a], col[b]] for a, b in _pairs(res)))


def _att(y: np.ndarray, sets: dict[int, list[int]]) -> float:
    """ATT among matched treated units: mean of y_t minus the mean of its controls."""
    return float(np.mean([y[t] - np.mean(y[c]) for t, c in sets.items() if c]))


def _enumerate_optimal(
    cost: np.ndarray, allowed: np.ndarray, ratio: int
) -> tuple[list[dict[int, list[int]]], int, float]:
    """All optimal caliper matchings by brute force.

    Each treated row takes up to ``ratio`` distinct allowed controls, a control serves
    at most one treated unit; the optimum has the most pairs, then the smallest total
    cost. Returns every optimal assignment (to check uniqueness), its pair count and
    its total cost.
    """
    n_t = cost.shape[0]
    options = []
    for i in range(n_t):
        ok = list(np.flatnonzero(allowed[i]))
        opts = [()]
        for k in range(1, ratio + 1):
            opts += list(combinations(ok, k))
        options.append(opts)
    best: list[dict[int, list[int]]] = []
    best_key = (-1, np.inf)
    for choice in product(*options):
        used = [c for s in choice for c in s]
        if len(used) != len(set(used)):
            continue
        n_pairs = len(used)
        total = float(sum(cost[i, c] for i, s in enumerate(choice) for c in s))
        key = (n_pairs, total)
        if n_pairs > best_key[0] or (
            n_pairs == best_key[0] and total < best_key[1] - 1e-12
        ):
            best_key, best = key, [dict(enumerate(map(list, choice)))]
        elif n_pairs == best_key[0] and abs(total - best_key[1]) <= 1e-12:
            best.append(dict(enumerate(map(list, choice))))
    return best, best_key[0], best_key[1]


def _mahalanobis(X: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Treated x control Mahalanobis distances, pooled within-group covariance / (n-2)."""
    C = X.copy()
    for g in (True, False):
        C[d == g] -= X[d == g].mean(axis=0)
    S_inv = np.linalg.inv(C.T @ C / (len(X) - 2))
    t, c = np.flatnonzero(d), np.flatnonzero(~d)
    diff = X[t][:, None, :] - X[c][None, :, :]
    return np.sqrt(np.einsum("tcj,jk,tck->tc", diff, S_inv, diff))


# ------------------------------------------------------- ties="all" and a caliper

EPS = 5e-8  # half the gap of a tie that straddles the caliper


def _ties_data() -> pd.DataFrame:
    """Four treated, seven controls; absolute caliper 0.1 when k = 0.1 / sd(ps).

    T0 (0.50): C4 at 0.1 - EPS inside, C5 at 0.1 + EPS outside; their squared
    distances differ by 0.4 * EPS = 2e-8 < 1e-5 * var(ps) = 7.7e-7 (a Matching tie).
    T1 (0.20): C6 and C7 at 0.03 on either side (tied, both inside).
    T2 (0.90): nearest control C8 at 0.15 (1.5 x caliper): unmatched.
    T3 (0.05): C9 at 0.03; C10 far.
    """
    ps = np.array(
        [0.50, 0.20, 0.90, 0.05]
        + [0.40 + EPS, 0.60 + EPS, 0.17, 0.23, 0.75, 0.08, 0.33]
    )
    d = np.r_[np.ones(4), np.zeros(7)].astype(int)
    y = np.array([9.0, 4.0, 7.5, 2.0, 6.0, 1.0, 3.5, 2.5, 0.5, 1.5, 5.0])
    x = np.array([1.0, -0.5, 2.0, -1.0, 0.4, 1.1, -0.6, -0.2, 1.7, -1.3, 0.1])
    return pd.DataFrame({"d": d, "ps": ps, "x": x, "y": y})


def test_ties_all_keeps_only_tied_controls_inside_the_caliper() -> None:
    df = _ties_data()
    ps, y = df["ps"].to_numpy(), df["y"].to_numpy()
    d = df["d"].to_numpy(bool)
    k = 0.1 / np.std(ps, ddof=1)  # MatchIt: caliper * sd(distance), R's sd
    res = match(
        df, treatment="d", covariates=["x"], outcome="y", distance="ps",
        caliper=k, replace=True, ties="all",
    )  # fmt: skip
    assert res.caliper == pytest.approx(0.1, rel=1e-12)
    # Matching::Match ties rule, restricted to the controls inside the caliper
    tol = 1e-5 * np.var(ps, ddof=1)
    assert 0.4 * EPS < tol / 10  # the straddling pair is a tie by a wide margin
    ctrl = np.flatnonzero(~d)
    sets: dict[int, list[int]] = {}
    for t in np.flatnonzero(d):
        dist = np.abs(ps[ctrl] - ps[t])
        inside = dist <= 0.1
        if not inside.any():
            continue
        dmin = dist[inside].min()
        sets[int(t)] = [int(c) for c in ctrl[inside & (dist**2 - dmin**2 <= tol)]]
    assert sets == {0: [4], 1: [6, 7], 3: [9]}  # C5 (0.1 + EPS) is out, T2 unmatched
    assert _pairs(res) == {(t, c) for t, cs in sets.items() for c in cs}
    w = res.matched.set_index(["focal", "match"])["weight"]
    assert w.loc[(1, 6)] == w.loc[(1, 7)] == 0.5 and w.loc[(0, 4)] == 1.0
    assert res.n_matched == 3
    assert res.estimate == pytest.approx(_att(y, sets), rel=1e-12)
    assert any("1 of 4 treated units were left unmatched" in m for m in res.warnings)


# --------------------------------------------- exact boundary (dyadic scores)


def _boundary_data() -> pd.DataFrame:
    """Distances exactly 0.125 (= the caliper) in binary floating point.

    T0 0.5: controls at 0.375 (exactly 0.125 below), 0.34375 and 0.6875 (outside).
    T1 0.21875: controls at 0.34375 (exactly 0.125 above), 0.375 and 0.03125
    (outside).
    T2 0.875: control at 0.96875 (0.09375).
    T3 0.8125: controls at 0.6875 (exactly 0.125 below) and 0.96875 (0.15625).
    No two controls are equally far from a treated unit.
    """
    ps = np.array(
        [0.5, 0.21875, 0.875, 0.8125, 0.375, 0.6875, 0.34375, 0.03125, 0.96875]
    )
    d = np.r_[np.ones(4), np.zeros(5)].astype(int)
    y = np.array([5.0, 3.0, 8.0, 6.5, 2.0, 4.5, 1.0, 0.0, 6.0])
    x = np.array([0.3, -0.4, 1.2, 0.9, 0.1, 0.5, -0.8, -1.1, 1.4])
    return pd.DataFrame({"d": d, "ps": ps, "x": x, "y": y})


def _greedy_inclusive(
    ps: np.ndarray, order: np.ndarray, controls: np.ndarray, cal: float, replace: bool
) -> dict[int, list[int]]:
    """MatchIt's greedy loop with an inclusive caliper (no exact distance ties here):
    treated units in ``order`` each take the nearest available control."""
    alive = controls.copy()
    out = {}
    for t in order:
        cand = np.flatnonzero(alive & (np.abs(ps - ps[t]) <= cal))
        if len(cand):
            c = int(cand[np.argmin(np.abs(ps[cand] - ps[t]))])
            out[int(t)] = [c]
            if not replace:
                alive[c] = False
    return out


@pytest.mark.parametrize("replace", [False, True])
def test_nearest_caliper_is_inclusive(replace: bool) -> None:
    df = _boundary_data()
    ps, y, d = df["ps"].to_numpy(), df["y"].to_numpy(), df["d"].to_numpy(bool)
    res = match(
        df, treatment="d", covariates=["x"], outcome="y", distance="ps",
        caliper=0.125, std_caliper=False, replace=replace,
        se="hc3" if replace else None,
    )  # fmt: skip
    order = np.flatnonzero(d)[np.argsort(-ps[d], kind="stable")]  # "largest" first
    ref = _greedy_inclusive(ps, order, ~d, 0.125, replace)
    # distances exactly at the caliper: T0-C4 (left), T1-C6 (right), T3-C5 (left)
    assert ref[0] == [4] and ref[1] == [6] and ref[3] == [5]
    assert _pairs(res) == {(t, c[0]) for t, c in ref.items()}
    assert res.n_matched == len(ref) == 4
    assert res.estimate == pytest.approx(_att(y, ref), rel=1e-12)


def test_optimal_caliper_is_inclusive() -> None:
    df = _boundary_data()
    ps, y, d = df["ps"].to_numpy(), df["y"].to_numpy(), df["d"].to_numpy(bool)
    res = match(
        df, treatment="d", covariates=["x"], outcome="y", distance="ps",
        method="optimal", caliper=0.125, std_caliper=False,
    )  # fmt: skip
    t, c = np.flatnonzero(d), np.flatnonzero(~d)
    cost = np.abs(ps[t][:, None] - ps[c][None, :])
    best, n_pairs, _ = _enumerate_optimal(cost, cost <= 0.125, 1)
    assert len(best) == 1 and n_pairs == 4
    sets = {int(t[i]): [int(c[j]) for j in s] for i, s in best[0].items()}
    assert _pairs(res) == {(a, b[0]) for a, b in sets.items()}
    assert res.estimate == pytest.approx(_att(y, sets), rel=1e-12)


def test_optimal_mahvars_caliper_is_inclusive() -> None:
    df = _boundary_data()
    ps, y, d = df["ps"].to_numpy(), df["y"].to_numpy(), df["d"].to_numpy(bool)
    res = match(
        df, treatment="d", covariates=["x"], outcome="y", distance="ps",
        method="optimal", mahvars=["x"], caliper=0.125, std_caliper=False,
    )  # fmt: skip
    t, c = np.flatnonzero(d), np.flatnonzero(~d)
    gap = np.abs(ps[t][:, None] - ps[c][None, :])
    cost = _mahalanobis(df[["x"]].to_numpy(float), d)
    best, n_pairs, _ = _enumerate_optimal(cost, gap <= 0.125, 1)
    assert len(best) == 1 and n_pairs == 4
    sets = {int(t[i]): [int(c[j]) for j in s] for i, s in best[0].items()}
    assert _pairs(res) == {(a, b[0]) for a, b in sets.items()}
    assert res.estimate == pytest.approx(_att(y, sets), rel=1e-12)


def test_nearest_mahvars_caliper_is_inclusive() -> None:
    # MatchIt's nn_matchC with mahvars: treated units in decreasing score, each takes
    # the alive control nearest in Mahalanobis distance among those whose score is
    # within the caliper (inclusive); T1's only candidate lies exactly 0.125 above it
    df = _boundary_data()
    ps, y, d = df["ps"].to_numpy(), df["y"].to_numpy(), df["d"].to_numpy(bool)
    res = match(
        df, treatment="d", covariates=["x"], outcome="y", distance="ps",
        mahvars=["x"], caliper=0.125, std_caliper=False,
    )  # fmt: skip
    x = df["x"].to_numpy(float)
    alive, ref = ~d, {}
    for t in np.flatnonzero(d)[np.argsort(-ps[d], kind="stable")]:
        cand = np.flatnonzero(alive & (np.abs(ps - ps[t]) <= 0.125))
        if len(cand):
            ref[int(t)] = [int(cand[np.argmin(np.abs(x[cand] - x[t]))])]
            alive[ref[int(t)][0]] = False
    assert ref[1] == [6] and len(ref) == 4
    assert _pairs(res) == {(a, b[0]) for a, b in ref.items()}
    assert res.estimate == pytest.approx(_att(y, ref), rel=1e-12)


def test_ties_all_at_the_caliper_keeps_both_tied_controls() -> None:
    # T0 (0.5) has two controls exactly 0.125 away (0.375, 0.625): both inside the
    # inclusive caliper and tied, so both are its matches, weight 1/2 each
    # (Matching::Match ties=TRUE); T1 (0.125) has a control at 0.0625 only.
    df = pd.DataFrame(
        {
            "d": [1, 1, 0, 0, 0, 0],
            "ps": [0.5, 0.125, 0.375, 0.625, 0.0625, 0.875],
            "x": [0.1, -0.9, 0.0, 0.3, -1.0, 1.2],
            "y": [4.0, 1.0, 2.0, 3.5, 0.5, 6.0],
        }
    )
    res = match(
        df, treatment="d", covariates=["x"], outcome="y", distance="ps",
        caliper=0.125, std_caliper=False, replace=True, ties="all",
    )  # fmt: skip
    sets = {0: [2, 3], 1: [4]}
    assert _pairs(res) == {(0, 2), (0, 3), (1, 4)}
    assert res.estimate == pytest.approx(_att(df["y"].to_numpy(), sets), rel=1e-12)


def test_sd_caliper_uses_the_units_left_after_discard() -> None:
    # MatchIt process.caliper: caliper * sd(distance[!discarded]). discard="both"
    # drops units outside [max(min1, min0), min(max1, max0)] of the score (MatchIt
    # discard.R); the greedy loop then runs on the kept units with that caliper.
    df = _optimal_data()
    ps, y, d = df["ps"].to_numpy(), df["y"].to_numpy(), df["d"].to_numpy(bool)
    res = match(
        df, treatment="d", covariates=["x"], outcome="y", distance="ps",
        caliper=0.5, discard="both",
    )  # fmt: skip
    lo = max(ps[d].min(), ps[~d].min())
    hi = min(ps[d].max(), ps[~d].max())
    kept = (ps >= lo) & (ps <= hi)
    cal = 0.5 * np.std(ps[kept], ddof=1)
    assert res.caliper == pytest.approx(cal, rel=1e-12)
    order = np.flatnonzero(d & kept)[np.argsort(-ps[d & kept], kind="stable")]
    ref = _greedy_inclusive(ps, order, ~d & kept, cal, False)
    # informative: the SD over all units would give a different matched set
    wide = _greedy_inclusive(ps, order, ~d & kept, 0.5 * np.std(ps, ddof=1), False)
    assert wide != ref
    assert _pairs(res) == {(a, b[0]) for a, b in ref.items()}
    assert res.estimate == pytest.approx(_att(y, ref), rel=1e-12)


# ------------------------------------------------ optimal matching, 1x-2x pairs


def _optimal_data() -> pd.DataFrame:
    """Four treated, eight controls; caliper 0.1 (absolute) via k = 0.1 / sd(ps).

    Inside the caliper T0 (0.50) can take C5 (0.07) or C6 (0.05), T1 (0.62) C5 (0.05)
    or C7 (0.06), T3 (0.30) C8 (0.08). T2 (0.80) has only C7 (0.12) and C9 (0.15),
    both between 1x and 2x the caliper: it must stay unmatched.
    """
    ps = np.array(
        [0.50, 0.62, 0.80, 0.30] + [0.57, 0.45, 0.68, 0.22, 0.95, 0.05, 0.02, 0.985]
    )
    d = np.r_[np.ones(4), np.zeros(8)].astype(int)
    y = np.array([7.0, 6.0, 9.0, 3.0, 4.0, 2.5, 5.5, 1.0, 8.0, 0.5, 0.0, 9.5])
    x = np.array([0.2, 0.7, 1.5, -0.6, 0.5, -0.1, 0.9, -0.9, 1.9, -1.5, -1.8, 2.1])
    return pd.DataFrame({"d": d, "ps": ps, "x": x, "y": y})


@pytest.mark.parametrize("ratio", [1, 2])
def test_optimal_caliper_against_enumeration(ratio: int) -> None:
    df = _optimal_data()
    ps, y, d = df["ps"].to_numpy(), df["y"].to_numpy(), df["d"].to_numpy(bool)
    k = 0.1 / np.std(ps, ddof=1)
    res = match(
        df, treatment="d", covariates=["x"], outcome="y", distance="ps",
        method="optimal", caliper=k, ratio=ratio,
    )  # fmt: skip
    assert res.caliper == pytest.approx(0.1, rel=1e-12)
    t, c = np.flatnonzero(d), np.flatnonzero(~d)
    cost = np.abs(ps[t][:, None] - ps[c][None, :])
    best, n_pairs, total = _enumerate_optimal(cost, cost <= 0.1, ratio)
    assert len(best) == 1  # a unique optimum, so the pairs themselves are pinned
    sets = {int(t[i]): [int(c[j]) for j in s] for i, s in best[0].items()}
    # the data are informative: with the caliper doubled T2 would be matched
    _, n_wide, _ = _enumerate_optimal(cost, cost <= 0.2, ratio)
    assert n_wide > n_pairs and sets[2] == []
    assert _pairs(res) == {(a, b) for a, bs in sets.items() for b in bs}
    assert res.n_matched == 3
    assert _total(res, cost, t, c) == pytest.approx(total, rel=1e-12)
    assert res.estimate == pytest.approx(_att(y, sets), rel=1e-12)
    assert any("1 of 4 treated units were left unmatched" in m for m in res.warnings)


def _mahvars_data() -> pd.DataFrame:
    """Four treated, eight controls, covariates x1, x2 and a score column.

    T0 (ps 0.50) is nearly identical in (x1, x2) to C4, whose score is 0.65 (0.15
    away: between 1x and 2x the 0.1 caliper); inside the caliper it has only C5 and
    C6, farther in x. T1 (0.70) has C4 (0.05) inside. T2 (0.20) and T3 (0.35) have
    controls inside at various Mahalanobis distances.
    """
    ps = np.array(
        [0.50, 0.70, 0.20, 0.35] + [0.65, 0.44, 0.57, 0.15, 0.27, 0.38, 0.90, 0.05]
    )
    x1 = np.array([1.0, 0.2, -0.8, 0.1, 1.02, -0.3, 0.4, -1.1, -0.5, 0.6, 1.8, -1.6])
    x2 = np.array([0.5, -0.4, 0.9, 1.3, 0.49, 0.1, -0.7, 1.2, 0.3, 1.0, -1.2, 0.0])
    d = np.r_[np.ones(4), np.zeros(8)].astype(int)
    y = np.array([6.0, 5.0, 2.0, 3.5, 4.0, 3.0, 4.5, 1.0, 2.5, 3.0, 7.0, 0.0])
    return pd.DataFrame({"d": d, "ps": ps, "x1": x1, "x2": x2, "y": y})


def test_optimal_mahvars_caliper_against_enumeration() -> None:
    df = _mahvars_data()
    ps, y, d = df["ps"].to_numpy(), df["y"].to_numpy(), df["d"].to_numpy(bool)
    X = df[["x1", "x2"]].to_numpy(float)
    k = 0.1 / np.std(ps, ddof=1)
    res = match(
        df, treatment="d", covariates=["x1", "x2"], outcome="y", distance="ps",
        method="optimal", mahvars=["x1", "x2"], caliper=k,
    )  # fmt: skip
    assert res.caliper == pytest.approx(0.1, rel=1e-12)
    t, c = np.flatnonzero(d), np.flatnonzero(~d)
    cost = _mahalanobis(X, d)
    gap = np.abs(ps[t][:, None] - ps[c][None, :])
    best, n_pairs, total = _enumerate_optimal(cost, gap <= 0.1, 1)
    assert len(best) == 1
    sets = {int(t[i]): [int(c[j]) for j in s] for i, s in best[0].items()}
    # informative: with the caliper doubled, T0 would take its near twin C4
    wide, _, _ = _enumerate_optimal(cost, gap <= 0.2, 1)
    assert wide[0][0] == [0] and sets[0] != [4]
    assert _pairs(res) == {(a, b) for a, bs in sets.items() for b in bs}
    assert res.n_matched == n_pairs
    assert _total(res, cost, t, c) == pytest.approx(total, rel=1e-10)
    assert res.estimate == pytest.approx(_att(y, sets), rel=1e-12)


# ------------------------------------------------------------- Lalonde, optimal

LALONDE_COVS = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde(reference_data: Path) -> pd.DataFrame:
    return pd.read_csv(reference_data / "lalonde_matchit.csv")


def _lalonde_score(df: pd.DataFrame) -> np.ndarray:
    """Logit propensity score fitted with statsmodels (independent of impact)."""
    import statsmodels.api as sm

    X = pd.get_dummies(df[LALONDE_COVS], columns=["race"], drop_first=True)
    X = sm.add_constant(X.astype(float))
    fit = sm.GLM(df["treat"].astype(float), X, family=sm.families.Binomial()).fit(
        tol=1e-12
    )
    return np.asarray(fit.fittedvalues, dtype=float)


def _dummy_column_optimum(cost: np.ndarray, allowed: np.ndarray) -> tuple[int, float]:
    """Most pairs inside the caliper, then least total cost: each treated row also has
    its own "no match" column at cost B, larger than any sum of allowed costs, and
    forbidden cells are infinite (scipy treats them as infeasible)."""
    from scipy.optimize import linear_sum_assignment

    n_t, n_c = cost.shape
    B = float(cost[allowed].sum()) + 1.0
    full = np.full((n_t, n_c + n_t), np.inf)
    full[:, :n_c] = np.where(allowed, cost, np.inf)
    full[np.arange(n_t), n_c + np.arange(n_t)] = B
    rows, cols = linear_sum_assignment(full)
    real = cols < n_c
    return int(real.sum()), float(cost[rows[real], cols[real]].sum())


@pytest.mark.reference
@pytest.mark.parametrize("mahvars", [None, ["age", "educ", "re74", "re75"]])
def test_lalonde_optimal_caliper_against_assignment(
    lalonde: pd.DataFrame, mahvars: list[str] | None
) -> None:
    # Caliper 0.2 SD of the logit score (R sd over all units: no discard). Reference
    # pair count and total distance from the dummy-column assignment above; Lalonde
    # has exactly tied PSID controls, so several optima may exist and only the count,
    # the total distance and the caliper are pinned. Tolerances: scores agree with
    # impact's to ~1e-9, and no pair lies within 1e-6 of the caliper (checked), so the
    # allowed set is the same; totals to 1e-6 relative.
    ps = _lalonde_score(lalonde)
    d = lalonde["treat"].to_numpy(bool)
    cal = 0.2 * np.std(ps, ddof=1)
    res = match(
        lalonde, treatment="treat", covariates=LALONDE_COVS, outcome="re78",
        categorical=["race"], method="optimal", caliper=0.2, mahvars=mahvars,
    )  # fmt: skip
    assert res.caliper == pytest.approx(cal, rel=1e-8)
    t, c = np.flatnonzero(d), np.flatnonzero(~d)
    gap = np.abs(ps[t][:, None] - ps[c][None, :])
    assert not (np.abs(gap - cal) < 1e-6).any()
    # informative: there are treated-control pairs between 1x and 2x the caliper
    assert ((gap > cal) & (gap <= 2 * cal)).sum() > 100
    if mahvars is None:
        cost = gap
    else:
        cost = _mahalanobis(lalonde[mahvars].to_numpy(float), d)
    n_pairs, total = _dummy_column_optimum(cost, gap <= cal)
    n_wide, _ = _dummy_column_optimum(cost, gap <= 2 * cal)
    assert n_wide > n_pairs
    assert res.n_matched == n_pairs
    f, m = res.matched["focal"].to_numpy(), res.matched["match"].to_numpy()
    assert np.abs(ps[f] - ps[m]).max() <= cal
    assert _total(res, cost, t, c) == pytest.approx(total, rel=1e-6)
