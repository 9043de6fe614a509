"""Vectorised placebo draws for estimators that are linear in the outcome.

For a balanced panel and a fixed set of cohort sizes, the 2x2 DiD of means, the TWFE
coefficient and the Callaway-Sant'Anna simple aggregate (never-treated comparison, no
covariates) are ``theta = sum_it A_it Y_it`` where the row ``A_i`` depends only on the
*role* of unit ``i`` (which cohort it belongs to, or comparison). So for every unit
and role the contribution ``C[i, k] = A_k . Y_i`` is computed once, and the estimate of
any placebo assignment is a gather-and-sum over units: no loop over draws or units.
The same weights are also written (as full matrices) by ``impact.did.linear`` and
``impact.inference.linear``; tests check that they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from impact.errors import SpecError

__all__ = ["RoleDesign", "linear_block", "phase_matrix", "role_design", "role_matrix"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RoleDesign:
    """Per-role weights of a linear estimator.

    Attributes
    ----------
    cohorts : ndarray (K,)
        First treated period of each treated role.
    sizes : ndarray (K,)
        Units per treated role.
    n_control : int
        Comparison units.
    A : ndarray (K + 1, T)
        Weight of one unit of each role in each period (last row: comparison units).
    post : ndarray of bool (K, T)
        Treated cells of each cohort.
    """

    cohorts: FloatArray
    sizes: NDArray[np.int64]
    n_control: int
    A: FloatArray
    post: NDArray[np.bool_]
    method: str = ""
    denom: float = 1.0


def phase_matrix(
    periods: NDArray[np.int64], cohorts: FloatArray, phase_in: int
) -> FloatArray:
    """Share of the full effect reached in each period by each cohort.

    The effect starts in the first treated period and grows linearly to its full size
    ``phase_in`` periods later: ``min((e + 1) / (phase_in + 1), 1)`` at event time
    ``e >= 0`` (counted in observed periods), 0 before.

    Parameters
    ----------
    periods : ndarray (T,)
        Sorted periods.
    cohorts : ndarray (K,)
        First treated periods.
    phase_in : int
        Periods taken to reach the full effect (0 = immediately).

    Returns
    -------
    ndarray (K, T)
        Phase shares in [0, 1].
    """
    start = np.searchsorted(periods, cohorts)
    e = np.arange(len(periods))[None, :] - start[:, None]
    share = np.minimum((e + 1) / (phase_in + 1), 1.0)
    return np.where(e >= 0, share, 0.0)


def role_design(
    method: str,
    periods: NDArray[np.int64],
    cohorts: FloatArray,
    sizes: NDArray[np.int64],
    n_control: int,
) -> RoleDesign:
    """Weights of one unit of each role for ``method`` in {"2x2", "twfe", "cs"}.

    Parameters
    ----------
    method : str
        ``"2x2"`` (post-period mean minus pre-period mean, treated minus comparison;
        one cohort only), ``"twfe"`` (two-way fixed effects coefficient on the
        treated indicator) or ``"cs"`` (Callaway-Sant'Anna simple aggregate with a
        never-treated comparison group, base period ``g - 1``).
    periods : ndarray (T,)
        Sorted periods.
    cohorts : ndarray (K,)
        First treated period of each cohort (all inside ``periods``, after the first).
    sizes : ndarray (K,)
        Units per cohort (>= 1).
    n_control : int
        Comparison units (>= 1).

    Returns
    -------
    RoleDesign
        The weights.
    """
    periods = np.asarray(periods, dtype=np.int64)
    cohorts = np.asarray(cohorts, dtype=float)
    sizes = np.asarray(sizes, dtype=np.int64)
    n_t = len(periods)
    k = len(cohorts)
    D = periods[None, :] >= cohorts[:, None]  # (K, T)
    A = np.zeros((k + 1, n_t))
    denom = 1.0
    if method == "2x2":
        if k != 1:
            raise SpecError(
                "The 2x2 DiD needs a single treatment_time; use estimator 'twfe' or "
                "'cs' for staggered adoption."
            )
        post = D[0]
        contrast = np.where(post, 1.0 / post.sum(), -1.0 / (~post).sum())
        A[0] = contrast / sizes[0]
        A[1] = -contrast / n_control
    elif method == "twfe":
        n = int(sizes.sum()) + n_control
        d_unit = D.mean(axis=1)  # (K,)
        d_time = (sizes[:, None] * D).sum(axis=0) / n  # (T,)
        d_all = d_time.mean()
        tilde = D - d_unit[:, None] - d_time[None, :] + d_all
        tilde_c = -d_time + d_all
        denom = float((sizes[:, None] * tilde * D).sum())
        A[:k] = tilde / denom
        A[k] = tilde_c / denom
    elif method == "cs":
        n_post = D.sum(axis=1)
        total = float((sizes * n_post).sum())
        base = np.searchsorted(periods, cohorts) - 1
        for j in range(k):  # loop over cohorts (a handful), not units or draws
            A[j, D[j]] += 1.0 / total
            A[j, base[j]] -= n_post[j] / total
            A[k, D[j]] -= sizes[j] / (total * n_control)
            A[k, base[j]] += sizes[j] * n_post[j] / (total * n_control)
    else:  # pragma: no cover - guarded by the caller
        raise SpecError(f"No vectorised form for estimator {method!r}.")
    scale = denom if method == "twfe" else 1.0
    return RoleDesign(
        cohorts=cohorts,
        sizes=sizes,
        n_control=n_control,
        A=A,
        post=D,
        method=method,
        denom=scale,
    )


def role_matrix(
    order: NDArray[np.int64], sizes: NDArray[np.int64], n_units: int
) -> NDArray[np.int64]:
    """Role of every unit in every draw from the draw's ranking of units.

    Parameters
    ----------
    order : ndarray (B, N)
        Units of each draw sorted by selection priority (first = treated first).
    sizes : ndarray (K,)
        Cohort sizes; the first ``sizes[0]`` units of a draw join cohort 0, etc.
    n_units : int
        N.

    Returns
    -------
    ndarray (B, N)
        Role index per unit (``K`` = comparison).
    """
    k = len(sizes)
    labels = np.full(n_units, k, dtype=np.int64)
    labels[: int(sizes.sum())] = np.repeat(np.arange(k), sizes)
    roles = np.empty_like(order)
    np.put_along_axis(roles, order, np.broadcast_to(labels, order.shape), axis=1)
    return roles


def linear_block(
    effect_type: str,
    Yb: FloatArray,
    roles: NDArray[np.int64],
    design: Any,
    phase: FloatArray,
) -> dict[str, FloatArray]:
    """Per-draw sufficient statistics for a block of draws (Yb: (B or 1, N, T))."""
    k = len(design.sizes)
    A = design.A
    C = np.einsum("bnt,kt->bnk", Yb, A)  # contribution of each unit in each role
    rel = effect_type == "relative"
    Yeff = Yb if rel else np.ones_like(Yb[:1])
    F = np.einsum("bnt,kt->bnk", Yeff, A[:k] * phase)  # effect contributions
    G = np.einsum("bnt,kt->bnk", Yeff, phase)  # injected effect per unit (sum over t)
    H = np.einsum("bnt,kt->bnk", Yb, design.post.astype(float))  # counterfactual level
    n_b = roles.shape[0]
    out = {
        name: np.zeros(n_b)
        for name in ("est0", "slope", "tau", "level", "cells", "var0", "var1", "var2")
    }
    for j in range(k + 1):
        mask = roles == j
        c = np.where(mask, C[..., j], 0.0)
        s1 = c.sum(axis=1)
        s2 = (c * c).sum(axis=1)
        n_j = design.sizes[j] if j < k else design.n_control
        out["est0"] += s1
        if design.method == "cs":  # influence-function variance, as impact.did / R did
            factor = 1.0
        else:  # 2x2: unbiased within-group variances (Welch), as impact.did
            factor = n_j / (n_j - 1.0) if n_j > 1 else 0.0
        if j == k:
            out["var0"] += factor * (s2 - s1**2 / n_j)
            continue
        f = np.where(mask, F[..., j], 0.0)
        sf = f.sum(axis=1)
        out["slope"] += sf
        out["tau"] += np.where(mask, G[..., j], 0.0).sum(axis=1)
        out["level"] += np.where(mask, H[..., j], 0.0).sum(axis=1)
        out["cells"] += n_j * design.post[j].sum()
        # variance as a quadratic in the effect size: var0 + var1 d + var2 d^2
        out["var0"] += factor * (s2 - s1**2 / n_j)
        out["var1"] += factor * 2.0 * ((c * f).sum(axis=1) - s1 * sf / n_j)
        out["var2"] += factor * ((f * f).sum(axis=1) - sf**2 / n_j)
    if design.method == "twfe":
        out.update(_twfe_crv1(Yb, Yeff, roles, design, phase, C, F, out))
    elif design.method == "cs" and k > 1:
        extra = _cs_weight_if(Yb, roles, design, G)
        for key, value in extra.items():
            out[key] += value
    return out


def _cs_weight_if(
    Yb: FloatArray,
    roles: NDArray[np.int64],
    design: Any,
    G: FloatArray,
) -> dict[str, FloatArray]:
    """Variance from estimating the cohort shares of the CS simple aggregate.

    R did (and ``impact.did``) add to the influence function of the simple aggregate
    the term for the estimated group probabilities ``p_g`` in its weights
    ``w_gt = p_g / S`` (``S`` = sum of ``p_g`` over post cells). For a unit of role
    ``r`` it is ``psi_r = (Q_r 1[r treated] - sum_k p_k Q_k) / S - s_r sum_k p_k Q_k /
    S^2`` with ``Q_k`` the sum of the cohort's post-period ATT(g,t) and ``s_r`` the
    number of post cells of the unit's cohort minus ``S``; constant within a role, so it
    adds ``sum_r n_r (psi_r / N)^2`` to the variance (linear in the effect size).
    """
    k = len(design.sizes)
    n_b = roles.shape[0]
    sizes = np.append(design.sizes, design.n_control).astype(float)
    n_units = float(sizes.sum())
    p = sizes[:k] / n_units
    npost = design.post.sum(axis=1).astype(float)
    S = float((p * npost).sum())
    periods_idx = np.arange(design.post.shape[1])
    q0 = np.zeros((n_b, k))
    q1 = np.zeros((n_b, k))
    for g in range(k):
        post = design.post[g]
        base = int(np.argmax(post)) - 1
        w = post.astype(float) - npost[g] * (periods_idx == base)
        unit_val = np.einsum("bnt,t->bn", Yb, w)  # sum over post t of Y_it - Y_i,base
        in_g = roles == g
        in_c = roles == k
        q0[:, g] = (
            np.where(in_g, unit_val, 0.0).sum(axis=1) / sizes[g]
            - np.where(in_c, unit_val, 0.0).sum(axis=1) / sizes[k]
        )
        q1[:, g] = np.where(in_g, G[..., g], 0.0).sum(axis=1) / sizes[g]
    s_r = np.append(npost, 0.0) - S  # (K+1,)

    def psi(q: FloatArray) -> FloatArray:
        pq = q @ p  # (B,)
        own = np.concatenate([q, np.zeros((n_b, 1))], axis=1)  # Q_r for treated roles
        return (own - pq[:, None]) / S - s_r[None, :] * pq[:, None] / S**2

    w0 = psi(q0) / n_units
    w1 = psi(q1) / n_units
    return {
        "var0": (sizes * w0 * w0).sum(axis=1),
        "var1": 2.0 * (sizes * w0 * w1).sum(axis=1),
        "var2": (sizes * w1 * w1).sum(axis=1),
    }


def _twfe_crv1(
    Yb: FloatArray,
    Yeff: FloatArray,
    roles: NDArray[np.int64],
    design: Any,
    phase: FloatArray,
    C: FloatArray,
    F: FloatArray,
    stats_: dict[str, FloatArray],
) -> dict[str, FloatArray]:
    """Cluster-robust (by unit) CRV1 variance of the TWFE coefficient, per draw.

    The unit score is ``sum_t D~_it e_it`` with TWFE residuals ``e = Y~ - beta D~``;
    for a balanced panel it only needs the role-level weights, the period means of the
    outcome and the estimate, so it is linear in the injected effect: score = a + d b.
    Small-sample factor ``G/(G-1) (NT-1)/(NT-T-1)`` as ``impact.did``.
    """
    k = len(design.sizes)
    A = design.A
    denom = design.denom
    n_units, n_t = Yb.shape[1], Yb.shape[2]
    q = denom**2 * (A**2).sum(axis=1)  # sum_t D~_k[t]^2 per role
    c_role = np.einsum("bt,kt->bk", Yb.mean(axis=1), A)  # A_k . period means
    Cg = np.take_along_axis(
        np.broadcast_to(C, (roles.shape[0], *C.shape[1:])), roles[..., None], axis=2
    )[..., 0]
    cg = np.take_along_axis(
        np.broadcast_to(c_role, (roles.shape[0], k + 1)), roles, axis=1
    )
    qg = q[roles]
    a = denom * (Cg - cg) - stats_["est0"][:, None] * qg
    # effect part: own injected effect of treated units, and its share of period means
    treated = roles < k
    F_full = np.concatenate([F, np.zeros_like(F[..., :1])], axis=2)
    Fg = np.take_along_axis(
        np.broadcast_to(F_full, (roles.shape[0], *F_full.shape[1:])),
        roles[..., None],
        axis=2,
    )[..., 0]
    # total injected effect path over treated units, per draw: sum_j phase_k(j) Yeff_j
    etot = np.zeros((roles.shape[0], n_t))
    Ye = np.broadcast_to(Yeff, (roles.shape[0], n_units, n_t))
    for j in range(k):
        etot += np.einsum("bn,bnt->bt", (roles == j).astype(float), Ye) * phase[j]
    m_role = etot @ A.T  # (B, K+1)
    mg = np.take_along_axis(m_role, roles, axis=1)
    b = (
        denom * (np.where(treated, Fg, 0.0) - mg / n_units)
        - stats_["slope"][:, None] * qg
    )
    n_obs = n_units * n_t
    factor = n_units / (n_units - 1.0) * (n_obs - 1.0) / (n_obs - n_t - 1.0) / denom**2
    return {
        "var0": factor * (a * a).sum(axis=1),
        "var1": factor * 2.0 * (a * b).sum(axis=1),
        "var2": factor * (b * b).sum(axis=1),
    }
