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

import numpy as np
from numpy.typing import NDArray

from impact.errors import SpecError

__all__ = ["RoleDesign", "role_design", "phase_matrix"]

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
    return RoleDesign(cohorts=cohorts, sizes=sizes, n_control=n_control, A=A, post=D)


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
