"""Nearest-neighbour, Mahalanobis and optimal matching engines.

All engines return a :class:`Pairs` table: one row per (focal unit, matched unit) with
the weight of that match inside the focal unit's matched set (1/k for k matches).

Greedy matching on a scalar distance follows MatchIt 4.7.2 (``nn_matchC_vec``):

* Units are placed in one array sorted by distance (ties by row order). Focal units
  (treated for the ATT) are processed in the order ``m_order``: ``"largest"`` (default
  for the ATT; decreasing distance, ties by row order), ``"smallest"``, ``"data"``
  (row order) or ``"random"``.
* For each focal unit the nearest eligible control on the left and on the right in the
  sorted array are compared. **Tie rule**: when both are equally distant, MatchIt's
  walk (one step left, one step right, alternately, starting left) finds the left one
  first if it is no more array positions away than the right one, and keeps the first
  found. We reproduce that rule exactly, which is what makes lalonde reproduce
  894.3675 (1:1, no replacement).
* Without replacement and ``ratio=k`` matching is done in k rounds: every focal unit
  gets its first match, then its second, and so on (MatchIt's ``reuse.max`` path).
* A caliper is an absolute bound on ``|distance_i - distance_j|``; focal units without
  a control inside it stay unmatched.

With replacement, ``ratio=1`` the search is vectorised (``searchsorted`` on the sorted
controls), so 10,000 treated against 100,000 controls take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, spatial

from impact.errors import EstimationError, SpecError

__all__ = [
    "Pairs",
    "greedy_scalar",
    "greedy_mahalanobis",
    "optimal_pairs",
    "processing_order",
]


@dataclass
class Pairs:
    """Matched pairs: ``focal[i]`` matched to ``match[i]`` with weight ``weight[i]``.

    Indices refer to rows of the data. ``weight`` sums to 1 over each focal unit's
    matches. ``rank`` is the match's rank (0 = first match) within its focal unit.
    """

    focal: np.ndarray
    match: np.ndarray
    weight: np.ndarray
    rank: np.ndarray

    @classmethod
    def from_lists(
        cls, focal: list[int], match: list[int], rank: list[int] | None = None
    ) -> Pairs:
        f = np.asarray(focal, dtype=np.int64)
        m = np.asarray(match, dtype=np.int64)
        r = np.asarray(rank if rank is not None else np.zeros(len(f)), dtype=np.int64)
        return cls.build(f, m, r)

    @classmethod
    def build(cls, focal: np.ndarray, match: np.ndarray, rank: np.ndarray) -> Pairs:
        order = np.lexsort((rank, focal))
        focal, match, rank = focal[order], match[order], rank[order]
        if len(focal):
            _, inv, counts = np.unique(focal, return_inverse=True, return_counts=True)
            weight = 1.0 / counts[inv]
        else:
            weight = np.zeros(0)
        return cls(focal=focal, match=match, weight=weight, rank=rank)

    @property
    def n_pairs(self) -> int:
        return len(self.focal)


def processing_order(
    distance: np.ndarray | None,
    focal_idx: np.ndarray,
    m_order: str,
    rng: np.random.Generator | None,
) -> np.ndarray:
    """Return focal unit indices in MatchIt's processing order.

    Parameters
    ----------
    distance : ndarray or None
        Scalar distance of every unit (None for pure Mahalanobis matching).
    focal_idx : ndarray
        Row indices of the focal units, in row order.
    m_order : {"largest", "smallest", "data", "random"}
        The order.
    rng : Generator or None
        Used for ``"random"``.

    Returns
    -------
    ndarray
        A permutation of ``focal_idx``.
    """
    if m_order == "data" or (distance is None and m_order in ("largest", "smallest")):
        return focal_idx.copy()
    if m_order == "random":
        gen = rng if rng is not None else np.random.default_rng()
        return gen.permutation(focal_idx)
    assert distance is not None
    d = distance[focal_idx]
    if m_order == "largest":
        return focal_idx[np.argsort(-d, kind="stable")]
    return focal_idx[np.argsort(d, kind="stable")]


def _strata(codes: np.ndarray | None, n: int) -> list[np.ndarray]:
    if codes is None:
        return [np.ones(n, dtype=bool)]
    return [codes == c for c in np.unique(codes)]


# --------------------------------------------------------------------- scalar distance
def greedy_scalar(
    distance: np.ndarray,
    focal: np.ndarray,
    eligible: np.ndarray,
    order: np.ndarray,
    *,
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    exact: np.ndarray | None = None,
    ties: str = "matchit",
    tie_tol: float = 1e-5,
) -> Pairs:
    """Greedy nearest-neighbour matching on a scalar distance (MatchIt's rule).

    Parameters
    ----------
    distance : ndarray (n,)
        Propensity score, its logit, or any scalar.
    focal : ndarray (n,) of bool
        Units to be matched (treated for the ATT).
    eligible : ndarray (n,) of bool
        False for discarded units.
    order : ndarray
        Focal row indices in processing order (see :func:`processing_order`).
    ratio : int
        Matches per focal unit.
    replace : bool
        Whether controls can be reused.
    caliper : float, optional
        Absolute caliper on the distance.
    exact : ndarray (n,) of int, optional
        Stratum codes; matches only within a stratum.
    ties : {"matchit", "all"}
        ``"matchit"`` keeps one control per match slot by MatchIt's rule; ``"all"``
        (with replacement, ratio 1) keeps every control tied with the nearest one,
        weighted equally, by R ``Matching::Match(ties=TRUE)``'s rule: a control ties
        when its squared distance, in units of the variance of ``distance`` over all
        units, is within ``tie_tol`` of the nearest one's (Matching 4.10-8,
        ``distance.tolerance``).
    tie_tol : float
        Tolerance for ``ties="all"`` (Matching's default ``1e-5``).

    Returns
    -------
    Pairs
        The matches.
    """
    n = len(distance)
    full = np.lexsort((np.arange(n), distance))
    pos = np.empty(n, dtype=np.int64)
    pos[full] = np.arange(n)
    out_f: list[np.ndarray] = []
    out_m: list[np.ndarray] = []
    out_r: list[np.ndarray] = []
    rank_in_order = np.empty(n, dtype=np.int64)
    rank_in_order[order] = np.arange(len(order))
    scale = float(np.var(distance, ddof=1)) if n > 1 else 1.0
    for stratum in _strata(exact, n):
        ctrl_mask = stratum & ~focal & eligible
        c_idx = full[ctrl_mask[full]]  # controls in sorted order
        t_idx = order[(stratum & eligible)[order]]
        if len(c_idx) == 0 or len(t_idx) == 0:
            continue
        if replace:
            if ties == "all":
                f, m, r = _replace_all_ties(
                    distance, pos, c_idx, t_idx, caliper, tie_tol * scale
                )
            else:
                f, m, r = _replace_vec(distance, pos, c_idx, t_idx, ratio, caliper)
        else:
            f, m, r = _no_replace(distance, pos, c_idx, t_idx, ratio, caliper)
        out_f.append(f)
        out_m.append(m)
        out_r.append(r)
    if not out_f:
        return Pairs.build(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        )
    return Pairs.build(
        np.concatenate(out_f), np.concatenate(out_m), np.concatenate(out_r)
    )


def _replace_vec(
    distance: np.ndarray,
    pos: np.ndarray,
    c_idx: np.ndarray,
    t_idx: np.ndarray,
    ratio: int,
    caliper: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """With replacement: up to ``ratio`` controls on each side, best ``ratio`` kept."""
    c_pos = pos[c_idx]
    c_d = distance[c_idx]
    m = len(c_idx)
    k = np.searchsorted(c_pos, pos[t_idx])  # first control to the right
    steps = np.arange(1, ratio + 1)
    left = k[:, None] - steps[None, :]
    right = k[:, None] + steps[None, :] - 1
    cand = np.concatenate([left, right], axis=1)
    valid = (cand >= 0) & (cand < m)
    cand_c = np.clip(cand, 0, m - 1)
    d_t = distance[t_idx][:, None]
    dist = np.abs(c_d[cand_c] - d_t)
    # discovery key of MatchIt's alternating walk: left step s at 2s-1, right at 2s
    step = np.abs(c_pos[cand_c] - pos[t_idx][:, None])
    key = np.where(np.arange(2 * ratio)[None, :] < ratio, 2 * step - 1, 2 * step)
    if caliper is not None:
        valid &= dist <= caliper
    dist = np.where(valid, dist, np.inf)
    key = np.where(valid, key, np.iinfo(np.int64).max)
    o1 = np.argsort(key, axis=1, kind="stable")
    dist_o = np.take_along_axis(dist, o1, axis=1)
    o2 = np.argsort(dist_o, axis=1, kind="stable")
    best = np.take_along_axis(o1, o2, axis=1)[:, :ratio]
    chosen = np.take_along_axis(cand_c, best, axis=1)
    ok = np.take_along_axis(valid, best, axis=1)
    rows, cols = np.nonzero(ok)
    return t_idx[rows], c_idx[chosen[rows, cols]], cols.astype(np.int64)


def _replace_all_ties(
    distance: np.ndarray,
    pos: np.ndarray,
    c_idx: np.ndarray,
    t_idx: np.ndarray,
    caliper: float | None,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """With replacement, ratio 1, keeping every control tied with the nearest.

    A control ties when its squared distance is within ``tol`` (already in squared
    distance units) of the nearest control's, as ``Matching::Match``.
    """
    c_d = distance[c_idx]
    f, m, r = _replace_vec(distance, pos, c_idx, t_idx, 1, caliper)
    d_t = distance[f]
    dmin = np.abs(distance[m] - d_t)
    radius = np.sqrt(dmin**2 + tol)
    lo = np.searchsorted(c_d, d_t - radius, side="left")
    hi = np.searchsorted(c_d, d_t + radius, side="right")
    counts = hi - lo
    rep_f = np.repeat(f, counts)
    starts = np.repeat(lo, counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cand = starts + offs
    gap = c_d[cand] - distance[rep_f]
    keep = gap**2 - np.repeat(dmin**2, counts) <= tol
    if caliper is not None:
        keep &= np.abs(c_d[cand] - distance[rep_f]) <= caliper
    rep_f, cand = rep_f[keep], cand[keep]
    return rep_f, c_idx[cand], np.zeros(len(rep_f), dtype=np.int64)


def _no_replace(
    distance: np.ndarray,
    pos: np.ndarray,
    c_idx: np.ndarray,
    t_idx: np.ndarray,
    ratio: int,
    caliper: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Without replacement: ``ratio`` rounds over the focal units (MatchIt order)."""
    m = len(c_idx)
    c_pos_arr = pos[c_idx]
    c_pos = c_pos_arr.tolist()
    c_d = distance[c_idx].tolist()
    t_pos = pos[t_idx].tolist()
    t_d = distance[t_idx].tolist()
    k0 = np.searchsorted(c_pos_arr, pos[t_idx]).tolist()
    cal = float("inf") if caliper is None else float(caliper)
    # union-find "next alive" pointers; sentinels m (right) and -1 (left, stored +1)
    rp = list(range(m + 1))
    lp = list(range(m + 1))  # lp[i + 1] -> alive index <= i, stored +1

    def find_r(i: int) -> int:
        root = i
        while rp[root] != root:
            root = rp[root]
        while rp[i] != root:
            rp[i], i = root, rp[i]
        return root

    def find_l(i: int) -> int:
        j = i + 1
        root = j
        while lp[root] != root:
            root = lp[root]
        while lp[j] != root:
            lp[j], j = root, lp[j]
        return root - 1

    alive_n = m
    nt = len(t_idx)
    active = [True] * nt
    spans_l = list(t_pos)
    spans_r = list(t_pos)
    left_k = list(k0)  # sorted-control index bounds of each unit's span
    right_k = list(k0)
    out_f: list[int] = []
    out_m: list[int] = []
    out_r: list[int] = []
    for rnd in range(ratio):
        for j in range(nt):
            if alive_n == 0:
                break
            if not active[j]:
                continue
            dt = t_d[j]
            li = find_l(left_k[j] - 1) if left_k[j] > 0 else -1
            ri = find_r(right_k[j]) if right_k[j] < m else m
            best = -1
            if li >= 0:
                dl = dt - c_d[li]
                if dl < 0:
                    dl = -dl
                if dl <= cal:
                    best = li
            if ri < m:
                dr = c_d[ri] - dt
                if dr < 0:
                    dr = -dr
                if dr <= cal:
                    if best < 0:
                        best = ri
                    else:
                        if dr < dl or (
                            dr == dl
                            and (c_pos[ri] - spans_r[j]) < (spans_l[j] - c_pos[li])
                        ):
                            best = ri
            if best < 0:
                active[j] = False
                continue
            out_f.append(j)
            out_m.append(best)
            out_r.append(rnd)
            # kill control `best`
            rp[best] = best + 1
            lp[best + 1] = best
            alive_n -= 1
            p = c_pos[best]
            if p < spans_l[j]:
                spans_l[j] = p
                left_k[j] = best
            if p > spans_r[j]:
                spans_r[j] = p
                right_k[j] = best + 1
    f = t_idx[np.asarray(out_f, dtype=np.int64)]
    mm = c_idx[np.asarray(out_m, dtype=np.int64)]
    return f, mm, np.asarray(out_r, dtype=np.int64)


# ------------------------------------------------------------------ Mahalanobis
def _walk_keys(walk: np.ndarray | None, n: int) -> np.ndarray:
    """Position of every unit in MatchIt's walk order (ties by row)."""
    if walk is None:
        return np.arange(n, dtype=np.int64)
    full = np.lexsort((np.arange(n), walk))
    pos = np.empty(n, dtype=np.int64)
    pos[full] = np.arange(n)
    return pos


def _pick(
    d2: np.ndarray, cand: np.ndarray, pos: np.ndarray, t: int, k: int
) -> np.ndarray:
    """The ``k`` best candidates: smallest distance; among exact ties the one MatchIt's
    alternating walk discovers last (left step s at 2s-1, right step s at 2s)."""
    step = pos[cand] - pos[t]
    key = np.where(step < 0, -2 * step - 1, 2 * step)
    return cand[np.lexsort((-key, d2))[:k]]


def greedy_mahalanobis(
    Z: np.ndarray,
    focal: np.ndarray,
    eligible: np.ndarray,
    order: np.ndarray,
    *,
    ratio: int = 1,
    replace: bool = False,
    ps: np.ndarray | None = None,
    caliper: float | None = None,
    exact: np.ndarray | None = None,
    walk: np.ndarray | None = None,
    max_dist: float | None = None,
) -> Pairs:
    """Greedy nearest-neighbour matching on Euclidean distance of whitened ``Z``.

    ``Z`` is already transformed so that Euclidean distance equals Mahalanobis
    distance. With ``ps`` and ``caliper`` only controls whose ``ps`` lies within the
    caliper are candidates (Mahalanobis matching within a propensity caliper).

    Tie rule (MatchIt 4.7.2 ``find_control_mahcovs``): MatchIt walks outwards from the
    focal unit in the order of ``walk`` (the first column of its Mahalanobis-
    transformed covariates), alternately left and right, and a candidate at a distance
    equal to the current best replaces it; so among exactly tied controls the one
    discovered last wins. Without ``walk`` ties go by row order.

    Parameters
    ----------
    Z : ndarray (n, q)
        Whitened covariates.
    focal, eligible, order, ratio, replace, caliper, exact
        As in :func:`greedy_scalar`.
    ps : ndarray (n,), optional
        Scalar distance the caliper applies to.
    walk : ndarray (n,), optional
        MatchIt's walk variable, used only to break exact ties.
    max_dist : float, optional
        Caliper on the Mahalanobis distance itself: farther controls are never used.

    Returns
    -------
    Pairs
        The matches.
    """
    n = len(Z)
    pos = _walk_keys(walk, n)
    out_f: list[np.ndarray] = []
    out_m: list[np.ndarray] = []
    out_r: list[np.ndarray] = []
    use_cal = caliper is not None and ps is not None
    for stratum in _strata(exact, n):
        c_idx = np.flatnonzero(stratum & ~focal & eligible)
        t_idx = order[(stratum & eligible)[order]]
        if len(c_idx) == 0 or len(t_idx) == 0:
            continue
        if replace and not use_cal and max_dist is None:
            f, m, r = _mahal_replace_tree(Z, c_idx, t_idx, ratio, pos)
            out_f.append(f)
            out_m.append(m)
            out_r.append(r)
            continue
        alive = np.ones(n, dtype=bool)
        c_ord, c_ps = c_idx, np.zeros(len(c_idx))
        if use_cal:
            assert ps is not None and caliper is not None
            c_ord = c_idx[np.argsort(ps[c_idx], kind="stable")]
            c_ps = ps[c_ord]
        fl: list[int] = []
        ml: list[int] = []
        rl: list[int] = []
        got = np.zeros(n, dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        rounds = 1 if replace else ratio
        per_round = ratio if replace else 1
        for rnd in range(rounds):
            for t in t_idx:
                if done[t]:
                    continue
                if use_cal:
                    assert ps is not None and caliper is not None
                    lo = np.searchsorted(c_ps, ps[t] - caliper, side="left")
                    hi = np.searchsorted(c_ps, ps[t] + caliper, side="right")
                    cand = c_ord[lo:hi]
                else:
                    cand = c_idx
                if not replace:
                    cand = cand[alive[cand]]
                if len(cand) == 0:
                    done[t] = True
                    continue
                d2 = np.sum((Z[cand] - Z[t]) ** 2, axis=1)
                if max_dist is not None:
                    near = d2 <= max_dist**2
                    cand, d2 = cand[near], d2[near]
                    if len(cand) == 0:
                        done[t] = True
                        continue
                best = _pick(d2, cand, pos, int(t), per_round)
                for q, c in enumerate(best):
                    fl.append(int(t))
                    ml.append(int(c))
                    rl.append(rnd + q)
                if not replace:
                    alive[best] = False
                got[t] += len(best)
        out_f.append(np.asarray(fl, dtype=np.int64))
        out_m.append(np.asarray(ml, dtype=np.int64))
        out_r.append(np.asarray(rl, dtype=np.int64))
    if not out_f:
        z = np.zeros(0, dtype=np.int64)
        return Pairs.build(z, z, z)
    return Pairs.build(
        np.concatenate(out_f), np.concatenate(out_m), np.concatenate(out_r)
    )


def _mahal_replace_tree(
    Z: np.ndarray, c_idx: np.ndarray, t_idx: np.ndarray, ratio: int, pos: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """With replacement, no caliper: KD-tree candidates, MatchIt's tie rule."""
    kq = min(len(c_idx), ratio + 16)
    tree = spatial.cKDTree(Z[c_idx])
    _, nb = tree.query(Z[t_idx], k=kq)
    nb = np.asarray(nb).reshape(len(t_idx), kq)
    cand = c_idx[nb]
    d2 = np.sum((Z[cand] - Z[t_idx][:, None, :]) ** 2, axis=2)
    fl: list[int] = []
    ml: list[int] = []
    rl: list[int] = []
    # rows whose k-th candidate still ties the ratio-th best need the full search
    kth = np.sort(d2, axis=1)
    short = (kq < len(c_idx)) & (kth[:, -1] <= kth[:, ratio - 1])
    for j, t in enumerate(t_idx):
        if short[j]:
            cj = c_idx
            dj = np.sum((Z[c_idx] - Z[t]) ** 2, axis=1)
        else:
            cj, dj = cand[j], d2[j]
        best = _pick(dj, cj, pos, int(t), ratio)
        fl.extend([int(t)] * len(best))
        ml.extend(best.tolist())
        rl.extend(range(len(best)))
    return (
        np.asarray(fl, dtype=np.int64),
        np.asarray(ml, dtype=np.int64),
        np.asarray(rl, dtype=np.int64),
    )


# ---------------------------------------------------------------------- optimal
def optimal_pairs(
    cost: np.ndarray,
    t_idx: np.ndarray,
    c_idx: np.ndarray,
    *,
    ratio: int = 1,
    caliper: float | None = None,
) -> Pairs:
    """Optimal matching: minimise the total distance (scipy's assignment solver).

    Parameters
    ----------
    cost : ndarray (n_t, n_c)
        Distances between focal and control units (``inf`` where not allowed).
    t_idx, c_idx : ndarray
        Row indices of the focal and control units.
    ratio : int
        Controls per focal unit (each focal row is replicated ``ratio`` times).
    caliper : float, optional
        Pairs farther apart than this are forbidden.

    Returns
    -------
    Pairs
        The matches.
    """
    if ratio * len(t_idx) > len(c_idx):
        raise SpecError(
            f"match: optimal matching without replacement needs at least "
            f"ratio x treated = {ratio * len(t_idx)} comparison units; there are "
            f"{len(c_idx)}. Lower 'ratio' or use method='nearest'."
        )
    c = np.array(cost, dtype=float)
    if caliper is not None:
        c[c > caliper] = np.inf
    big = np.isinf(c)
    finite_max = float(np.max(c[~big])) if (~big).any() else 1.0
    penalty = (finite_max + 1.0) * (c.shape[0] * ratio + 1)
    c[big] = penalty
    rep = np.repeat(c, ratio, axis=0)
    try:
        rows, cols = optimize.linear_sum_assignment(rep)
    except ValueError as exc:
        raise EstimationError(f"match: optimal assignment failed ({exc}).") from exc
    ok = ~big[rows // ratio, cols]
    rows, cols = rows[ok], cols[ok]
    return Pairs.build(
        t_idx[rows // ratio], c_idx[cols], (rows % ratio).astype(np.int64)
    )
