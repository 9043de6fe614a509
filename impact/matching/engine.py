"""Matching engine: one full pass of score, discard, match or weight, and estimate.

Used by :func:`impact.matching.match` for the point estimate and, unchanged, inside
every bootstrap replication (``boot_task``), so the bootstrap repeats exactly the
procedure that produced the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from impact.errors import EstimationError, SpecError
from impact.matching._prep import Design
from impact.matching.inference import wls_effect
from impact.matching.nearest import (
    Pairs,
    greedy_mahalanobis,
    greedy_scalar,
    optimal_pairs,
    processing_order,
)
from impact.matching.propensity import fit_propensity

__all__ = [
    "Config",
    "Fit",
    "boot_task",
    "cell_codes",
    "center_weights",
    "discard_mask",
    "fit_core",
    "ipw_weights",
    "mahalanobis_transform",
    "pair_weights",
    "subclass_weights",
]

_CALLER = "match"


@dataclass(frozen=True)
class Config:
    method: str
    distance: str  # "logit" | "probit" | "mahalanobis" | "user"
    link: str  # "response" | "linear"
    caliper: float | None
    std_caliper: bool
    replace: bool
    ratio: int
    discard: str
    m_order: str
    estimand: str
    trim: float | None
    adjust: bool
    ties: str


@dataclass
class Fit:
    estimate: float
    pairs: Pairs | None
    weights: np.ndarray
    score: np.ndarray | None
    dist: np.ndarray | None
    caliper_abs: float | None
    discarded: np.ndarray
    focal: np.ndarray
    n_focal_eligible: int


def mahalanobis_transform(
    X: np.ndarray, d: np.ndarray, keep: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Whiten ``X`` so that Euclidean distance is the Mahalanobis distance.

    As MatchIt (and optmatch, Rubin 1980): covariates are standardised over all units,
    the covariance is the pooled within-group covariance over the kept units and a
    generalised inverse (tolerance 1e-8) handles a full set of factor indicators.
    Also returns MatchIt's walk variable (the first column of its pivoted-Cholesky
    transform), used only to break exact distance ties the way MatchIt does.
    """
    sd = X.std(axis=0, ddof=1)
    sd[~(sd > 0)] = 1.0
    Z = (X - X.mean(axis=0)) / sd
    Zk, dk = Z[keep], d[keep]
    C = Zk.copy()
    for g in (True, False):
        if (dk == g).any():
            C[dk == g] -= Zk[dk == g].mean(axis=0)
    S = C.T @ C / max(len(Zk) - 2, 1)
    evals, evecs = np.linalg.eigh(S)
    tol = max(float(evals.max()), 0.0) * 1e-8
    pos = evals > tol
    inv_sqrt = np.where(pos, 1.0 / np.sqrt(np.where(pos, evals, 1.0)), 0.0)
    S_inv = (evecs * np.where(pos, 1.0 / np.where(pos, evals, 1.0), 0.0)) @ evecs.T
    j = int(np.argmax(np.diag(S_inv)))
    walk = Z @ S_inv[:, j]
    return Z @ (evecs * inv_sqrt), walk


def discard_mask(score: np.ndarray, d: np.ndarray, option: str) -> np.ndarray:
    if option == "none":
        return np.zeros(len(d), dtype=bool)
    lo0, hi0 = score[~d].min(), score[~d].max()
    lo1, hi1 = score[d].min(), score[d].max()
    if option == "both":
        return (score < max(lo0, lo1)) | (score > min(hi0, hi1))
    if option == "control":
        return ~d & ((score < lo1) | (score > hi1))
    return d & ((score < lo0) | (score > hi0))


def pair_weights(pairs: Pairs, n: int, focal: np.ndarray) -> np.ndarray:
    w = np.zeros(n)
    np.add.at(w, pairs.match, pairs.weight)
    w[np.unique(pairs.focal)] = 1.0
    other = ~focal & (w > 0)
    if other.any():
        w[other] = w[other] / w[other].mean()
    return w


def subclass_weights(sub: np.ndarray, d: np.ndarray, estimand: str) -> np.ndarray:
    w = np.zeros(len(d))
    ok = sub >= 0
    if not ok.any():
        return w
    g = int(sub[ok].max()) + 1
    n1 = np.bincount(sub[ok & d], minlength=g).astype(float)
    n0 = np.bincount(sub[ok & ~d], minlength=g).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimand == "ATT":
            w[ok & d] = 1.0
            w[ok & ~d] = (n1 / n0)[sub[ok & ~d]]
        elif estimand == "ATC":
            w[ok & d] = (n0 / n1)[sub[ok & d]]
            w[ok & ~d] = 1.0
        else:
            w[ok & d] = 1.0 + (n0 / n1)[sub[ok & d]]
            w[ok & ~d] = 1.0 + (n1 / n0)[sub[ok & ~d]]
    for g_ in (True, False):
        m = (d == g_) & (w > 0)
        if m.any():
            w[m] /= w[m].mean()
    return w


def ipw_weights(score: np.ndarray, d: np.ndarray, estimand: str) -> np.ndarray:
    e = score
    if estimand == "ATT":
        return np.where(d, 1.0, e / (1 - e))
    if estimand == "ATC":
        return np.where(d, (1 - e) / e, 1.0)
    if estimand == "ATE":
        return np.where(d, 1 / e, 1 / (1 - e))
    return np.where(d, 1 - e, e)  # ATO: overlap weights


def fit_core(
    cfg: Config,
    d: np.ndarray,
    design: Design,
    user_score: np.ndarray | None,
    exact_codes: np.ndarray | None,
    mah: tuple[np.ndarray, np.ndarray] | None,
    y: np.ndarray | None,
    rng: np.random.Generator | None,
) -> Fit:
    """One full pass: score, discard, match or weight, estimate (no SE)."""
    mahvars = None if mah is None else mah[0]
    n = len(d)
    focal = d if cfg.estimand != "ATC" else ~d
    score = dist = None
    if cfg.distance in ("logit", "probit"):
        pf = fit_propensity(
            design.model, d, design.model_names, cfg.distance, caller=_CALLER
        )
        score = pf.score
        dist = pf.linear if cfg.link == "linear" else pf.score
    elif cfg.distance == "user":
        assert user_score is not None
        score = user_score
        if cfg.link == "linear":
            dist = np.log(score / (1 - score))
        else:
            dist = score
    discarded = (
        discard_mask(dist, d, cfg.discard)
        if dist is not None
        else np.zeros(n, dtype=bool)
    )
    if cfg.method in ("ipw", "overlap"):
        assert score is not None
        keep = ~discarded
        if cfg.trim is not None:
            keep &= (score >= cfg.trim) & (score <= 1 - cfg.trim)
        w = np.where(keep, ipw_weights(score, d, cfg.estimand), 0.0)
        if w[d].sum() <= 0 or w[~d].sum() <= 0:
            raise EstimationError(
                "match: trimming or discarding removed every treated or every "
                "comparison unit; loosen 'trim' or 'discard'."
            )
        est = np.nan
        if y is not None:
            est = float(
                np.average(y[d], weights=w[d]) - np.average(y[~d], weights=w[~d])
            )
        return Fit(
            est, None, w, score, dist, None, ~keep, focal, int((focal & keep).sum())
        )
    eligible = ~discarded
    caliper_abs: float | None = None
    if cfg.caliper is not None:
        if cfg.std_caliper:
            base = dist if dist is not None else None
            if base is None:
                raise SpecError(
                    "match: a caliper in SD units needs a propensity distance; with "
                    "distance='mahalanobis' pass std_caliper=False (absolute units)."
                )
            caliper_abs = float(cfg.caliper * np.std(base[eligible], ddof=1))
        else:
            caliper_abs = float(cfg.caliper)
    if cfg.method == "exact":
        assert exact_codes is not None
        sub = np.full(n, -1, dtype=np.int64)
        codes = exact_codes.copy()
        has1 = np.zeros(int(codes.max()) + 1, bool)
        has0 = np.zeros_like(has1)
        has1[np.unique(codes[d & eligible])] = True
        has0[np.unique(codes[~d & eligible])] = True
        ok = eligible & has1[codes] & has0[codes]
        sub[ok] = codes[ok]
        w = subclass_weights(sub, d, cfg.estimand)
        if (w[d] > 0).sum() == 0:
            raise EstimationError(
                "match: no exact-matching cell holds both treated and comparison units; "
                "coarsen the 'exact' covariates."
            )
        est = np.nan
        if y is not None:
            est = float(
                np.average(y[d], weights=w[d]) - np.average(y[~d], weights=w[~d])
            )
        n_elig = int((focal & eligible).sum())
        return Fit(est, None, w, score, dist, None, discarded, focal, n_elig)
    order = processing_order(dist, np.flatnonzero(focal), cfg.m_order, rng)
    if cfg.method == "optimal":
        t_idx = np.flatnonzero(focal & eligible)
        c_idx = np.flatnonzero(~focal & eligible)
        if len(t_idx) * len(c_idx) > 5e7:
            raise SpecError(
                f"match: optimal matching needs a {len(t_idx)} x {len(c_idx)} distance "
                f"matrix, too large; use method='nearest' or 'exact=' to split the data."
            )
        if mahvars is not None:
            cost = np.sqrt(
                np.maximum(
                    (mahvars[t_idx] ** 2).sum(1)[:, None]
                    + (mahvars[c_idx] ** 2).sum(1)[None, :]
                    - 2 * mahvars[t_idx] @ mahvars[c_idx].T,
                    0,
                )
            )
            if caliper_abs is not None and dist is not None:
                cost[
                    np.abs(dist[t_idx][:, None] - dist[c_idx][None, :]) > caliper_abs
                ] = np.inf
            cal_opt = None
        else:
            assert dist is not None
            cost = np.abs(dist[t_idx][:, None] - dist[c_idx][None, :])
            cal_opt = caliper_abs
        if exact_codes is not None:
            cost[exact_codes[t_idx][:, None] != exact_codes[c_idx][None, :]] = np.inf
        pairs = optimal_pairs(cost, t_idx, c_idx, ratio=cfg.ratio, caliper=cal_opt)
    elif mahvars is not None:
        pairs = greedy_mahalanobis(
            mahvars,
            focal,
            eligible,
            order,
            ratio=cfg.ratio,
            replace=cfg.replace,
            ps=dist,
            caliper=caliper_abs,
            exact=exact_codes,
            walk=None if mah is None else mah[1],
        )
    else:
        assert dist is not None
        pairs = greedy_scalar(
            dist,
            focal,
            eligible,
            order,
            ratio=cfg.ratio,
            replace=cfg.replace,
            caliper=caliper_abs,
            exact=exact_codes,
            ties=cfg.ties,
        )
    if pairs.n_pairs == 0:
        raise EstimationError(
            "match: no focal unit found a comparison unit"
            + (f" within the caliper ({caliper_abs:.4g})" if caliper_abs else "")
            + "; widen the caliper, relax 'exact', or check overlap."
        )
    w = pair_weights(pairs, n, focal)
    est = np.nan
    if y is not None:
        est = float(np.average(y[d], weights=w[d]) - np.average(y[~d], weights=w[~d]))
    return Fit(
        est,
        pairs,
        w,
        score,
        dist,
        caliper_abs,
        discarded,
        focal,
        int((focal & eligible).sum()),
    )


def boot_task(task: tuple[Any, ...]) -> float:
    cfg, d, design, user_score, exact_codes, mahvars, y, adj, gen = task
    idx1 = np.flatnonzero(d)
    idx0 = np.flatnonzero(~d)
    idx = np.concatenate(
        [
            gen.choice(idx1, len(idx1), replace=True),
            gen.choice(idx0, len(idx0), replace=True),
        ]
    )
    des = Design(
        design.model[idx], design.model_names, design.balance[idx], design.balance_names
    )
    try:
        fit = fit_core(
            cfg,
            d[idx],
            des,
            None if user_score is None else user_score[idx],
            None if exact_codes is None else exact_codes[idx],
            None if mahvars is None else (mahvars[0][idx], mahvars[1][idx]),
            y[idx],
            gen,
        )
    except (EstimationError, np.linalg.LinAlgError):
        return float("nan")
    if adj is not None:
        est, _ = wls_effect(
            y[idx],
            d[idx],
            fit.weights,
            covariates=adj[idx],
            center_weights=center_weights(cfg, d[idx], fit.weights),
            vcov="HC0",
        )
        return est
    return fit.estimate


def center_weights(cfg: Config, d: np.ndarray, w: np.ndarray) -> np.ndarray:
    if cfg.estimand == "ATT":
        return d * w
    if cfg.estimand == "ATC":
        return (~d) * w
    return w


def cell_codes(frame: pd.DataFrame) -> np.ndarray:
    return (
        frame.astype(str)
        .agg("\x1f".join, axis=1)
        .pipe(lambda s: pd.factorize(s, sort=True)[0])
        .astype(np.int64)
    )
