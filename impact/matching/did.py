"""Matched difference-in-differences for area panels.

Each treated area (per adoption cohort) is matched to never-treated comparison areas on
features of its **pre-period** outcome path (level, trend, last value) and chosen
covariates, by greedy Mahalanobis matching; then the DiD is computed on the matched
panel: for treated unit ``i`` with matched set ``J(i)``,

``tau_i = [mean_post(Y_i) - mean_pre(Y_i)] - sum_j w_ij [mean_post(Y_j) - mean_pre(Y_j)]``

and the ATT is the mean of ``tau_i`` over matched treated units (pre = all periods
before the cohort's first treated period, post = from it on).

Inference: ``"cluster"`` treats each matched set as a cluster (SE = sd(tau_i)/sqrt(N),
t with N-1 df, the pair-clustered SE of the pooled regression); ``"permutation"``
re-draws which member of every matched set is the treated one (sign flips for pairs)
and ranks the studentized mean of the set effects, exactly when there are few enough
arrangements, otherwise by Monte Carlo; its interval inverts the test under a
constant effect. With few sets the permutation test has a floor on its p-value (5
pairs: 2/2^5 = 1/16); when the floor exceeds ``alpha`` the result says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from impact._scale import resolve_log_outcome
from impact._validation import (
    as_list,
    check_alpha,
    check_draws,
    check_option,
    check_positive_int,
)
from impact.diagnostics.selection import attach_selection_panel
from impact.errors import DataError, EstimationError, SpecError
from impact.inference._core import invert_test
from impact.matching.balance import balance_table
from impact.matching.nearest import greedy_mahalanobis
from impact.matching.results import MatchedDiDResult
from impact.panel import Panel, as_panel
from impact.parallel import as_generator

__all__ = ["matched_did"]

_CALLER = "matched_did"


def _whiten(F: np.ndarray, d: np.ndarray) -> np.ndarray:
    sd = F.std(axis=0, ddof=1)
    sd[~(sd > 0)] = 1.0
    Z = (F - F.mean(axis=0)) / sd
    C = Z.copy()
    for g in (True, False):
        if (d == g).sum() > 0:
            C[d == g] -= Z[d == g].mean(axis=0)
    S = C.T @ C / max(len(Z) - 2, 1)
    evals, evecs = np.linalg.eigh(S)
    tol = max(float(evals.max()), 0.0) * 1e-8
    inv = np.where(evals > tol, 1.0 / np.sqrt(np.clip(evals, tol, None)), 0.0)
    return Z @ (evecs * inv)


def _features(
    panel: Panel, rows: np.ndarray, pre: np.ndarray, match_on: list[str]
) -> tuple[np.ndarray, list[str]]:
    Y = panel.Y[np.ix_(rows, pre)]
    t = panel.periods[pre].astype(float)
    cols, names = [], []
    for f in match_on:
        if f == "level":
            cols.append(Y.mean(axis=1))
        elif f == "trend":
            tc = t - t.mean()
            cols.append((Y - Y.mean(axis=1, keepdims=True)) @ tc / np.sum(tc**2))
        elif f == "last":
            cols.append(Y[:, -1])
        else:
            cols.append(panel.X[f][np.ix_(rows, pre)].mean(axis=1))
        names.append(f)
    return np.column_stack(cols), names


def matched_did(
    data: pd.DataFrame | Panel,
    *,
    outcome: str | None = None,
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    match_on: str | Sequence[str] = ("level", "trend"),
    covariates: str | Sequence[str] | None = None,
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    inference: str = "cluster",
    n_perm: int = 9999,
    alpha: float = 0.05,
    seed: Any = None,
    log_outcome: bool | None = None,
) -> MatchedDiDResult:
    """Match treated areas to comparison areas on pre-period outcomes, then DiD.

    Parameters
    ----------
    data : DataFrame or Panel
        Long panel (one row per unit and period).
    outcome, unit, time : str, optional
        Column names; required for a DataFrame, taken from ``data`` for a Panel.
    cohort : str, optional
        First treated period (NaN, 0 or inf = never treated).
    treated : str, optional
        0/1 absorbing treatment indicator (instead of ``cohort``).
    match_on : str or sequence of str, default ("level", "trend")
        Matching features computed over each cohort's pre-periods: ``"level"`` (mean
        outcome), ``"trend"`` (OLS slope of the outcome on time), ``"last"`` (last
        pre-period outcome), or the name of a covariate (its pre-period mean; list it
        in ``covariates`` too).
    covariates : str or sequence of str, optional
        Time-varying or fixed covariate columns available as matching features.
    ratio : int, default 1
        Comparison areas per treated area.
    replace : bool, default False
        Whether comparison areas can be reused (within a cohort).
    caliper : float, optional
        Maximum Mahalanobis distance of a match (in SD units of the features).
        Treated areas without a comparison inside it are dropped with a warning.
    inference : {"cluster", "permutation"}
        Pair-clustered t inference, or randomization within matched sets
        (studentized; exact enumeration when feasible; interval by test inversion).
        With few sets the smallest attainable permutation p-value can exceed
        ``alpha``; ``warnings`` then says the test cannot reject.
    n_perm : int, default 9999
        Monte Carlo draws when exact enumeration is too large.
    alpha : float, default 0.05
        One minus the confidence level.
    seed : int, Generator or None
        For Monte Carlo permutations.
    log_outcome : bool or None, default None
        Whether the outcome is a natural log (see :func:`impact.did`); stored on
        the result for its design verdict.

    Returns
    -------
    MatchedDiDResult
        The ATT, SE, CI, p-value, ``.matched``, ``.unit_effects`` and ``.balance()``
        (pre-period outcomes and matching features, before and after matching).
    """
    check_option("inference", inference, ("cluster", "permutation"), _CALLER)
    ratio = check_positive_int("ratio", ratio, _CALLER)
    alpha = check_alpha(alpha, _CALLER)
    n_perm = check_draws("n_perm", n_perm, _CALLER)
    match_on_l = as_list(match_on)
    cov_l = as_list(covariates)
    if not match_on_l:
        raise SpecError(f"{_CALLER}: 'match_on' is empty; use e.g. ('level', 'trend').")
    for f in match_on_l:
        if f not in ("level", "trend", "last") and f not in cov_l:
            raise SpecError(
                f"{_CALLER}: match_on entry {f!r} is neither 'level', 'trend', 'last' nor "
                f"a column listed in covariates={cov_l}."
            )
    if caliper is not None and not (np.isfinite(caliper) and caliper > 0):
        raise SpecError(
            f"{_CALLER}: 'caliper' must be a positive number; got {caliper!r}."
        )
    panel = as_panel(
        data,
        unit=unit,
        time=time,
        outcome=outcome,
        cohort=cohort,
        treated=treated,
        covariates=cov_l or None,
    )
    panel.require_complete(_CALLER)
    outcome, unit, time = panel.outcome, panel.unit, panel.time
    if not np.ptp(panel.Y) > 0:
        raise DataError(
            f"{_CALLER}: outcome {outcome!r} is constant in every unit and period; "
            f"there is no variation to estimate an effect from."
        )
    scale, scale_warns = resolve_log_outcome(log_outcome, outcome, panel.Y, _CALLER)
    warnings: list[str] = list(panel.warnings) + scale_warns
    never = np.flatnonzero(panel.never_treated)
    if len(never) == 0:
        raise DataError(
            f"{_CALLER}: no never-treated units to match to; every {unit} is "
            f"treated at some point."
        )
    periods = panel.periods
    mt: list[int] = []
    mc: list[int] = []
    mw: list[float] = []
    mg: list[float] = []
    mdist: list[float] = []
    eff_rows = []
    stacked_X: list[np.ndarray] = []
    stacked_d: list[np.ndarray] = []
    stacked_w: list[np.ndarray] = []
    n_pre_common = (
        min(int((periods < g).sum()) for g in panel.cohorts)
        if len(panel.cohorts)
        else 0
    )
    if len(panel.cohorts) == 0:
        raise DataError(f"{_CALLER}: no treated units (every {unit} is never treated).")
    n_lost = 0
    for g in panel.cohorts:
        pre = periods < g
        post = periods >= g
        if pre.sum() < 1:
            raise DataError(f"{_CALLER}: cohort {g:g} has no pre-period; drop it.")
        if "trend" in match_on_l and pre.sum() < 2:
            raise DataError(
                f"{_CALLER}: cohort {g:g} has one pre-period, so no pre-trend; drop "
                f"'trend' from match_on or that cohort."
            )
        t_rows = np.flatnonzero(panel.cohort == g)
        rows = np.concatenate([t_rows, never])
        F, fnames = _features(panel, rows, pre, match_on_l)
        dd = np.zeros(len(rows), dtype=bool)
        dd[: len(t_rows)] = True
        if not replace and ratio * len(t_rows) > len(never):
            raise DataError(
                f"{_CALLER}: cohort {g:g} has {len(t_rows)} treated units but only "
                f"{len(never)} never-treated units; lower ratio or use replace=True."
            )
        Z = _whiten(F, dd)
        pairs = greedy_mahalanobis(
            Z,
            dd,
            np.ones(len(rows), dtype=bool),
            np.flatnonzero(dd),
            ratio=ratio,
            replace=replace,
            max_dist=caliper,
        )
        dist = np.sqrt(((Z[pairs.focal] - Z[pairs.match]) ** 2).sum(axis=1))
        keep = np.ones(pairs.n_pairs, dtype=bool)
        if caliper is not None:
            keep = dist <= caliper * (1 + 1e-12)
        f_, m_, dist = pairs.focal[keep], pairs.match[keep], dist[keep]
        _, inv, cnt = np.unique(f_, return_inverse=True, return_counts=True)
        w_ = 1.0 / cnt[inv] if len(f_) else np.zeros(0)
        n_lost += len(t_rows) - len(np.unique(f_))
        dY = panel.Y[rows][:, post].mean(axis=1) - panel.Y[rows][:, pre].mean(axis=1)
        for i in np.unique(f_):
            sel = f_ == i
            cdelta = float(np.sum(w_[sel] * dY[m_[sel]]))
            eff_rows.append(
                {
                    "cohort": g,
                    "unit": panel.units[rows[i]],
                    "change_treated": dY[i],
                    "change_controls": cdelta,
                    "effect": dY[i] - cdelta,
                    "_set": [int(rows[i])] + [int(rows[j]) for j in m_[sel]],
                    "_dY": [float(dY[i])] + [float(dY[j]) for j in m_[sel]],
                    "_w": [float(x) for x in w_[sel]],
                }
            )
        mt.extend(rows[f_].tolist())
        mc.extend(rows[m_].tolist())
        mw.extend(w_.tolist())
        mg.extend([float(g)] * len(f_))
        mdist.extend(dist.tolist())
        # balance block: pre-period outcomes at event times -L..-1 plus features
        L = n_pre_common
        pre_idx = np.flatnonzero(pre)[-L:] if L > 0 else np.zeros(0, dtype=int)
        Xb = np.column_stack([panel.Y[rows][:, pre_idx], F]) if L > 0 else F
        wb = np.zeros(len(rows))
        wb[np.unique(f_)] = 1.0
        np.add.at(wb, m_, w_)
        stacked_X.append(Xb)
        stacked_d.append(dd)
        stacked_w.append(wb)
    if not eff_rows:
        raise EstimationError(
            f"{_CALLER}: no treated unit found a comparison within the caliper "
            f"({caliper}); widen it or match on fewer features."
        )
    if n_lost:
        warnings.append(
            f"{n_lost} treated unit(s) had no comparison within the caliper and were "
            f"dropped; the estimate is the ATT among matched treated units."
        )
    effects = pd.DataFrame(eff_rows)
    tau = effects["effect"].to_numpy(dtype=float)
    N = len(tau)
    att = float(tau.mean())
    if N < 2:
        raise (
            EstimationError(
                f"{_CALLER}: only one matched treated unit; a standard error needs at least "
                f"two matched sets. Use inference='permutation' with more comparisons."
            )
            if inference == "cluster"
            else EstimationError(
                f"{_CALLER}: only one matched treated unit; permutation inference needs "
                f"at least two matched sets."
            )
        )
    se = float(tau.std(ddof=1) / np.sqrt(N))
    if not se > 0:
        warnings.append(
            f"Every matched set has the same DiD ({att:g}): the standard error is 0 "
            f"and the t-test p-value is undefined (NaN); outcome {outcome!r} has no "
            f"variation beyond unit and period effects."
        )
    tcrit = float(stats.t.ppf(1 - alpha / 2, N - 1))
    ci = (att - tcrit * se, att + tcrit * se)
    pvalue = float(2 * stats.t.sf(abs(att / se), N - 1)) if se > 0 else float("nan")
    perm = _SetRandomization(effects, n_perm, seed)
    if inference == "permutation":
        pvalue = perm.pvalue(0.0)
        ci = perm.interval(att, se, alpha)
        if perm.min_pvalue > alpha:
            warnings.append(
                f"Only {N} matched sets: re-drawing the treated member of each set "
                f"gives {perm.n_distinct} arrangements, so the smallest p-value this "
                f"permutation test can give is {perm.min_pvalue:.3g}, above alpha = "
                f"{alpha:g}: it cannot reject whatever the data, and the interval is "
                f"unbounded. inference='cluster' (t with {N - 1} df) can reject but "
                "assumes the matched-set effects are roughly normal."
            )
        elif not (np.isfinite(ci[0]) and np.isfinite(ci[1])):
            warnings.append(
                "The permutation interval is unbounded on one side: no constant "
                "effect in that direction is rejected at this alpha."
            )
    if N < 10 and inference == "cluster":
        if perm.min_pvalue <= alpha:
            hint = "consider inference='permutation' (exact under random assignment)."
        else:
            hint = (
                f"a permutation test cannot help here (with {N} matched sets its "
                f"smallest attainable p-value is {perm.min_pvalue:.3g} > alpha = "
                f"{alpha:g}, so it could never reject); read the t({N - 1}) interval "
                "as indicative: it is exact only if the matched-set effects are "
                "normal with equal variance."
            )
        warnings.append(
            f"Only {N} matched treated units: pair-clustered t inference is fragile; "
            + hint
        )
    if replace:
        warnings.append(
            "Comparison units were reused (replace=True): the pair-clustered "
            "SE ignores the dependence this creates."
        )
    L = n_pre_common
    bnames = [f"{outcome} (t={-k})" for k in range(L, 0, -1)] + [
        f"{f} (pre-period)" for f in match_on_l
    ]
    btab = balance_table(
        np.vstack(stacked_X),
        bnames,
        np.concatenate(stacked_d),
        np.concatenate(stacked_w),
        estimand="ATT",
        binary="std",
    )
    bad = btab[btab["smd_after"].abs() > 0.1]
    if len(bad):
        warnings.append(
            f"Remaining imbalance: {len(bad)} pre-period quantity(ies) with |SMD| > 0.1 "
            f"after matching (worst {bad.iloc[int(np.argmax(bad['smd_after'].abs()))]['covariate']})."
        )
    matched = pd.DataFrame(
        {
            "cohort": mg,
            "treated": panel.units[np.asarray(mt, dtype=int)],
            "control": panel.units[np.asarray(mc, dtype=int)],
            "weight": mw,
            "distance": mdist,
        }
    )
    n_ctrl = len(np.unique(np.asarray(mc, dtype=int)))
    result = MatchedDiDResult(
        estimator="matched_did",
        estimate=att,
        se=se,
        ci=ci,
        pvalue=pvalue,
        n_treated=N,
        n_control=n_ctrl,
        alpha=alpha,
        warnings=warnings,
        label="ATT",
        title="Matched difference-in-differences",
        matched=matched,
        unit_effects=effects.drop(columns=["_set", "_dY", "_w"]),
        balance_table=btab,
        n_matched=N,
        inference=inference,
    )
    result.log_outcome = scale
    attach_selection_panel(result, panel, alpha=alpha, matched=True)
    return result


class _SetRandomization:
    """Randomization over matched sets: which member of each set is the treated one.

    The statistic is the studentized mean of the set effects, ``|mean| / (sd /
    sqrt(N))``: for pairs (sign flips) it orders arrangements exactly as the mean does,
    and with larger sets it keeps its size when sets differ in noise. Every arrangement
    is enumerated when there are at most ``n_perm``; otherwise ``n_perm`` arrangements
    are drawn once (the observed one is added) and reused for every null value.
    """

    def __init__(self, effects: pd.DataFrame, n_perm: int, seed: Any) -> None:
        self._dy = [np.asarray(v, dtype=float) for v in effects["_dY"]]
        sizes = np.array([len(d) for d in self._dy])
        self.n_sets = len(sizes)
        total = float(np.prod(sizes.astype(float)))
        self.exact = total <= n_perm
        if self.exact:
            grids = np.meshgrid(*[np.arange(m) for m in sizes], indexing="ij")
            self._idx = np.column_stack([g.ravel() for g in grids])
        else:
            gen = as_generator(seed)
            draws = gen.integers(0, sizes[None, :], size=(n_perm, len(sizes)))
            self._idx = np.vstack([np.zeros((1, len(sizes)), dtype=int), draws])
        self._obs = int(np.flatnonzero((self._idx == 0).all(axis=1))[0])
        self.n_distinct = int(total) if total < 2**62 else 2**62
        stat0 = self._stats(0.0)
        top = float(np.max(stat0))
        ties = int(np.sum(stat0 >= top - 1e-9 * (1.0 + abs(top))))
        self.min_pvalue = ties / len(stat0) if self.exact else 1.0 / len(stat0)
        if not self.exact:
            self.min_pvalue = max(self.min_pvalue, 1.0 / total)

    def _stats(self, tau0: float) -> np.ndarray:
        """|studentized mean| of the set effects for every arrangement."""
        width = max(len(d) for d in self._dy)
        alt = np.full((self.n_sets, width), np.nan)
        for s, dy in enumerate(self._dy):
            dy = dy.copy()
            dy[0] -= tau0  # remove the hypothesised effect from the treated member
            m = len(dy)
            alt[s, :m] = dy - (dy.sum() - dy) / (m - 1)
        vals = alt[np.arange(self.n_sets)[None, :], self._idx]
        mean = vals.mean(axis=1)
        sd = vals.std(axis=1, ddof=1)
        scale = np.sqrt(np.mean(alt[np.isfinite(alt)] ** 2)) + 1e-300
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.abs(mean) / (sd / np.sqrt(self.n_sets))
        # sd 0: every set has the same effect; the statistic is infinite unless 0
        flat = sd <= 1e-12 * scale
        t[flat] = np.where(np.abs(mean[flat]) <= 1e-12 * scale, 0.0, np.inf)
        return np.asarray(t)

    def pvalue(self, tau0: float) -> float:
        """Randomization p-value of a constant effect ``tau0``."""
        t = self._stats(tau0)
        obs = t[self._obs]
        tol = 1e-9 * (1.0 + abs(obs)) if np.isfinite(obs) else 0.0
        # sampled: the observed arrangement is row 0, so this is (1 + #) / (B + 1)
        return int(np.sum(t >= obs - tol)) / len(t)

    def interval(self, estimate: float, se: float, alpha: float) -> tuple[float, float]:
        """Constant effects not rejected at ``alpha`` (test inversion)."""
        if self.min_pvalue > alpha:
            return (-np.inf, np.inf)
        ci, _ = invert_test(self.pvalue, estimate, se if se > 0 else 1.0, alpha)
        return ci
