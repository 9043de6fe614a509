"""Studentized randomization inference for many rows at once (estimates, aggregates, bands).

Permuting raw estimates assumes every unit is equally noisy: when the treated units are
the noisy (small) or the quiet (large) authorities the reference distribution is too
narrow or too wide. The fix from the literature on randomization tests under unequal
variances is to permute a studentized statistic (Janssen 1997, Statistics & Probability
Letters 36(1); Chung and Romano 2013, Annals of Statistics 41(2); Wu and Ding 2021,
JASA 116(536)): ``t = estimate / se`` where ``se`` is a heteroskedasticity-robust
standard error recomputed for each re-assignment. It is exact under the sharp null for
random assignment (any statistic is), and approximately pivotal when noise differs
across units, so it keeps its size when the treated units are drawn from the noisy or
the quiet ones.

With one to three units per cohort the usual robust SEs (sample variance within the
treated arm, influence functions) are degenerate: a cohort of one unit has no
within-cohort variance. Here each unit's noise is estimated from its own time series
instead: ``v_i``, the variance of its period-to-period changes (period means removed)
in the periods before the first adoption, which are untreated under every re-assignment
and under every hypothesised effect. The idiosyncratic part of a unit's outcome is
modelled as an AR(1) whose persistence ``rho`` is common to all units (estimated from
the pooled lag-1 autocorrelation of the changes) and whose scale is the unit's own, so
the variance of a unit's contribution ``h' y_i`` to an estimate is ``v_i h' R h``.

Estimators enter as *role weights*: for linear DiD estimators without covariates every
unit's weight vector over periods depends only on its cohort label (its *role*: a cohort,
or never treated) and its own weight: ``a_i = w_i H[role(i)]``, where ``H`` may depend on
the total weight of each role (cohort shares). The caller passes ``H`` in as a function
(no estimator is imported here). Estimates and variances for all rows and all
re-assignments then cost a few matrix products.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from impact._validation import check_alpha, check_positive_int
from impact.errors import DataError, EstimationError
from impact.inference.permutation import (
    count_assignments,
    enumerate_assignments,
    sample_assignments,
)
from impact.parallel import as_generator

__all__ = [
    "Assignments",
    "NoiseModel",
    "RoleWeights",
    "RowInference",
    "draw_assignments",
    "noise_aware_choice",
    "row_inference",
    "unit_noise",
]

FloatArray = NDArray[np.float64]
#: ``role_weights(role_totals (B, R)) -> H (B or 1, J, R, T)``: the weight on period t
#: of a unit with role r, per unit weight, in row j, under each re-assignment.
RoleWeights = Callable[[FloatArray], FloatArray]

#: Fewest period-to-period changes before the first adoption that studentization needs.
MIN_PRE_CHANGES: int = 2


@dataclass(frozen=True)
class NoiseModel:
    """Unit-level noise: ``Var(h' e_i) = v_i * h' R h`` for contrasts ``h``.

    Attributes
    ----------
    v : ndarray (N,)
        Each unit's innovation variance (floored at 1% of the median).
    R : ndarray (T, T)
        Covariance of a unit-variance AR(1) (random walk when ``rho`` >= 0.99).
    rho : float
        Pooled persistence.
    n_changes : int
        Period-to-period changes per unit the variances use.
    """

    v: FloatArray
    R: FloatArray
    rho: float
    n_changes: int


def unit_noise(Y: ArrayLike, first_adoption: int) -> NoiseModel | None:
    """Estimate each unit's noise from the periods before the first adoption.

    Parameters
    ----------
    Y : array_like (N, T)
        Outcomes.
    first_adoption : int
        Column of the earliest adoption (minus anticipation): periods ``0 ..
        first_adoption - 1`` are untreated for every unit under every re-assignment.

    Returns
    -------
    NoiseModel or None
        None when there are fewer than :data:`MIN_PRE_CHANGES` changes to use.
    """
    y = np.asarray(Y, dtype=float)
    n, t = y.shape
    k = int(min(first_adoption, t)) - 1
    if k < MIN_PRE_CHANGES:
        return None
    d = np.diff(y[:, : k + 1], axis=1)
    r = d - d.mean(axis=0, keepdims=True)
    v = (r**2).sum(axis=1) / max(k - k / n, 1e-12)
    med = float(np.median(v))
    if not med > 0:
        return None
    v = np.maximum(v, 0.01 * med)
    # lag-1 autocorrelation of the changes of an AR(1) in levels is (rho - 1) / 2
    z = r / np.sqrt(v)[:, None]
    acf1 = float((z[:, 1:] * z[:, :-1]).sum() / max((z[:, :-1] ** 2).sum(), 1e-300))
    rho = float(np.clip(1.0 + 2.0 * acf1, 0.0, 1.0))
    s = np.arange(t)
    if rho >= 0.99:
        R = np.minimum.outer(s, s).astype(float) + 1.0
        scale = 1.0  # Var(change) = innovation variance
    else:
        R = rho ** np.abs(np.subtract.outer(s, s)) / (1 - rho**2)
        scale = (1 + rho) / 2  # Var(change) = 2 s2 / (1 + rho)
    return NoiseModel(v=v * scale, R=R, rho=rho, n_changes=k)


def noise_aware_choice(
    Y: ArrayLike, first_adoption: int, n_treated: int
) -> tuple[str, str | None]:
    """How ``inference="auto"`` chooses between permutation and wild with few treated.

    Randomization inference is studentized with each unit's noise estimated before the
    first adoption, which keeps its size whether the treated units are the noisy or
    the quiet ones. When there are too few periods before the first adoption to
    estimate that noise (fewer than three), permuting raw estimates would assume every
    unit is equally noisy; the wild cluster bootstrap (heteroskedasticity-robust by
    construction) is used instead when there are at least
    :data:`impact.inference.wild.FEW_TREATED_WILD` treated clusters (with fewer it
    cannot reject), else raw permutation with a warning.

    Parameters
    ----------
    Y : array_like (N, T)
        Outcomes.
    first_adoption : int
        Column of the earliest adoption (minus anticipation).
    n_treated : int
        Treated clusters.

    Returns
    -------
    method : str
        ``"permutation"`` or ``"wild"``.
    note : str or None
        Why the wild bootstrap was chosen.
    """
    from impact.inference.wild import FEW_TREATED_WILD

    if unit_noise(Y, first_adoption) is not None or n_treated < FEW_TREATED_WILD:
        return "permutation", None
    return "wild", (
        "inference='auto' chose the wild bootstrap: fewer than three periods before "
        "the first adoption, too few to estimate each unit's noise, so randomization "
        "inference could not be studentized (unequal noise would bias it)."
    )


@dataclass(frozen=True)
class Assignments:
    """Re-assignments of the cohort labels (row 0 or ``observed`` is the real one)."""

    labels: FloatArray  # (B, N)
    observed: int
    exact: bool
    total: int


def draw_assignments(
    cohort: ArrayLike,
    *,
    n_perm: int = 999,
    seed: Any = None,
    max_enumerate: int = 5000,
    eligible: ArrayLike | None = None,
) -> Assignments:
    """Every re-assignment when there are few, else ``n_perm`` random ones.

    Parameters
    ----------
    cohort : array_like (N,)
        Observed labels (``inf`` = never treated).
    n_perm : int, default 999
        Random re-assignments when there are more than ``max_enumerate``.
    seed : int, Generator or None
        Seed of the random re-assignments.
    max_enumerate : int, default 5000
        Enumerate when there are at most this many.
    eligible : array_like of bool, optional
        Units whose labels are permuted.

    Returns
    -------
    Assignments
    """
    c = np.asarray(cohort, dtype=float).copy()
    c[np.isnan(c)] = np.inf
    total = count_assignments(c, eligible)
    if total <= max_enumerate:
        C = enumerate_assignments(c, eligible)
        obs = int(np.flatnonzero(np.all(C == c, axis=1))[0])
        return Assignments(C, obs, True, total)
    C = np.vstack(
        [c[None, :], sample_assignments(c, n_perm, as_generator(seed), eligible)]
    )
    return Assignments(C, 0, False, total)


@dataclass
class RowInference:
    """Studentized randomization inference for J rows.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, pvalue : ndarray (J,)
        ``se`` is the studentizing (unit-noise) standard error of the observed
        assignment; the interval is ``estimate -/+ q se`` with ``q`` the ``1 - alpha``
        quantile of ``|t|`` over the re-assignments of the outcome with the estimated
        effects removed; the p-value is the share of re-assignments whose ``|t|``
        (zero-effect null) is at least the observed one.
    crit : ndarray (J,)
        The per-row ``q``.
    band_crit : float
        ``1 - alpha`` quantile of ``max_j |t_j|`` (uniform band ``estimate -/+
        band_crit se``).
    t_null : ndarray (B, J)
        Studentized draws under the effects-removed null (intervals and bands).
    t_zero : ndarray (B, J)
        Studentized draws under the zero-effect null (p-values; the observed
        assignment's row included).
    """

    estimate: FloatArray
    se: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    pvalue: FloatArray
    crit: FloatArray
    band_crit: float
    t_null: FloatArray
    t_zero: FloatArray
    n_draws: int
    exact: bool
    min_pvalue: float
    observed: int = 0
    alpha: float = 0.05
    warnings: list[str] = field(default_factory=list)

    def band(self, rows: slice | NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        """Uniform (sup-t) band over a subset of the rows.

        Parameters
        ----------
        rows : slice or index array
            The rows the band covers jointly.

        Returns
        -------
        low, high : ndarray
        """
        t = np.abs(self.t_null[:, rows])
        if not self.exact:
            t = np.delete(t, self.observed, axis=0)
        se = self.se[rows]
        ok = np.isfinite(se)
        if not ok.any():
            nan = np.full(se.shape, np.nan)
            return nan, nan
        crit = _sup_crit(t[:, ok], self.alpha, self.exact, self.min_pvalue)
        est = self.estimate[rows]
        return np.asarray(est - crit * se), np.asarray(est + crit * se)

    def implied_se(self, alpha: float) -> FloatArray:
        """Half the interval's width over ``z_{1 - alpha/2}`` (for display)."""
        z = special.ndtri(1 - alpha / 2)
        return np.asarray((self.ci_high - self.ci_low) / (2 * z))


def _quantile(x: FloatArray, q: float, exact: bool) -> FloatArray:
    """Upper quantile with the observed draw counted (``ceil(q (B))``-th order stat)."""
    b = x.shape[0]
    k = int(np.ceil(q * b)) - 1 if exact else int(np.ceil(q * (b + 1))) - 1
    k = min(max(k, 0), b - 1)
    return np.asarray(np.sort(x, axis=0)[k])


def _sup_crit(t_abs: FloatArray, alpha: float, exact: bool, min_p: float) -> float:
    if min_p > alpha:
        return float("inf")
    return float(_quantile(t_abs.max(axis=1)[:, None], 1 - alpha, exact)[0])


def row_inference(
    Y: ArrayLike,
    Y0: ArrayLike,
    role_weights: RoleWeights,
    assignments: Assignments,
    noise: NoiseModel | None,
    *,
    unit_weights: ArrayLike | None = None,
    alpha: float = 0.05,
    chunk: int = 1024,
) -> RowInference:
    """Studentized randomization inference for every row a role-weight function defines.

    Parameters
    ----------
    Y : array_like (N, T)
        Observed outcomes.
    Y0 : array_like (N, T)
        Outcomes with the estimated effects removed (the null for intervals).
    role_weights : callable
        ``role_weights(role_totals (B, R)) -> H (B or 1, J, R, T)``; roles are the
        sorted distinct labels of the observed assignment.
    assignments : Assignments
        From :func:`draw_assignments`.
    noise : NoiseModel or None
        From :func:`unit_noise`; None permutes the raw estimates (every unit assumed
        equally noisy).
    unit_weights : array_like (N,), optional
        Unit weights ``w_i`` (default 1).
    alpha : float, default 0.05
        One minus the confidence level.
    chunk : int, default 1024
        Re-assignments per batch.

    Returns
    -------
    RowInference
    """
    alpha = check_alpha(alpha, "row_inference")
    chunk = check_positive_int("chunk", chunk, "row_inference")
    y = np.asarray(Y, dtype=float)
    y0 = np.asarray(Y0, dtype=float)
    n, t = y.shape
    if y0.shape != y.shape:
        raise DataError(f"Y0 has shape {y0.shape}; expected {y.shape}.")
    w = np.ones(n) if unit_weights is None else np.asarray(unit_weights, dtype=float)
    C = assignments.labels
    roles = np.unique(C[assignments.observed])
    v = np.ones(n) if noise is None else noise.v
    R = np.eye(t) if noise is None else noise.R
    wy, wy0, ww, wwv = w[:, None] * y, w[:, None] * y0, w, w**2 * v
    est_parts, var_parts, est0_parts = [], [], []
    for start in range(0, C.shape[0], chunk):
        c = C[start : start + chunk]
        member = (c[:, None, :] == roles[None, :, None]).astype(float)  # (b, R, N)
        totals = member @ ww  # (b, R)
        same = bool(np.all(totals == totals[:1]))  # unweighted: shares never change
        H = np.asarray(role_weights(totals[:1] if same else totals), dtype=float)
        S = member @ wy  # (b, R, T)
        S0 = member @ wy0
        if H.shape[0] == 1:
            quad = np.einsum("jrt,ts,jrs->jr", H[0], R, H[0])
            est_parts.append(np.einsum("jrt,brt->bj", H[0], S))
            est0_parts.append(np.einsum("jrt,brt->bj", H[0], S0))
            var_parts.append((member @ wwv) @ quad.T)
        else:
            quad_b = np.einsum("bjrt,ts,bjrs->bjr", H, R, H)
            est_parts.append(np.einsum("bjrt,brt->bj", H, S))
            est0_parts.append(np.einsum("bjrt,brt->bj", H, S0))
            var_parts.append(np.einsum("bjr,br->bj", quad_b, member @ wwv))
    est = np.concatenate(est_parts)
    est0 = np.concatenate(est0_parts)
    var = np.concatenate(var_parts)
    if not np.all(np.isfinite(est)):
        raise EstimationError(
            "Some re-assignments give no estimate (a cohort without comparison units); "
            "use control='never' or restrict the re-assigned units."
        )
    se = np.sqrt(np.maximum(var, 0.0))
    tiny = se <= 1e-12 * (1.0 + np.abs(est))
    with np.errstate(divide="ignore", invalid="ignore"):
        t_zero = np.where(tiny, 0.0, est / se)
        t_null = np.where(tiny, 0.0, est0 / se)
    obs = assignments.observed
    b = C.shape[0]
    a_obs = np.abs(t_zero[obs])
    tol = 1e-9 * (1.0 + a_obs)
    count = np.sum(np.abs(t_zero) >= a_obs - tol, axis=0)
    pvalue = count / b  # the observed assignment is one of the b rows either way
    exact = assignments.exact
    others = np.delete(np.abs(t_null), obs, axis=0) if not exact else np.abs(t_null)
    min_p = 1 / assignments.total if exact else 1 / b
    crit = _quantile(others, 1 - alpha, exact)
    if min_p > alpha:
        crit = np.full_like(crit, np.inf)
    se_obs = se[obs]
    defined = ~tiny[obs]
    band_crit = (
        _sup_crit(others[:, defined], alpha, exact, min_p) if defined.any() else np.nan
    )
    theta = est[obs]
    low = np.where(defined, theta - crit * se_obs, np.nan)
    high = np.where(defined, theta + crit * se_obs, np.nan)
    warnings: list[str] = []
    if min_p > alpha:
        warnings.append(
            f"Only {assignments.total} distinct assignments of treatment: the smallest "
            f"attainable p-value is {min_p:.3g}, above alpha = {alpha}; the test cannot "
            "reject and the intervals are unbounded in practice."
        )
    return RowInference(
        estimate=theta,
        se=np.where(defined, se_obs, np.nan),
        ci_low=low,
        ci_high=high,
        pvalue=np.where(defined, pvalue, np.nan),
        crit=crit,
        band_crit=band_crit,
        t_null=t_null,
        t_zero=t_zero,
        n_draws=b,
        exact=exact,
        min_pvalue=min_p,
        observed=obs,
        alpha=alpha,
        warnings=warnings,
    )
