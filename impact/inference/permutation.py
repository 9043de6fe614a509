"""Randomization (permutation) inference that keeps the cohort structure.

Under random assignment of which units adopt in which period, re-assigning the observed
cohort labels among the eligible units (same number of units per cohort) and
recomputing the estimate gives the exact null distribution of the estimate under the
sharp null of no effect for any unit (Fisher 1935; for DiD with few treated units see
Conley and Taber 2011, REStat 93(1), and MacKinnon and Webb 2020, Journal of
Econometrics 218(2), "Randomization inference for difference-in-differences with few
treated clusters"). Confidence intervals invert the test under a constant additive
effect: ``Y(0) = Y - tau * D``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from impact._validation import check_alpha, check_draws, check_positive_int
from impact.errors import DataError, EstimationError, SpecError
from impact.inference._core import InferenceOutput, invert_test
from impact.inference.linear import as_matrix, treatment_matrix
from impact.limits import check_memory
from impact.parallel import as_generator, run_tasks

__all__ = [
    "count_assignments",
    "enumerate_assignments",
    "permutation_inference",
    "sample_assignments",
]

FloatArray = NDArray[np.float64]
_CALLER = "permutation_inference"


def _labels_counts(values: FloatArray) -> tuple[FloatArray, NDArray[np.intp]]:
    labels, counts = np.unique(values, return_counts=True)
    return labels, counts.astype(np.intp)


def count_assignments(cohort: ArrayLike, eligible: ArrayLike | None = None) -> int:
    """Number of distinct re-assignments of the cohort labels among eligible units.

    Parameters
    ----------
    cohort : array_like of shape (N,)
        Cohort per unit (``np.inf`` = never treated).
    eligible : array_like of bool, shape (N,), optional
        Units whose labels are permuted (default: all).

    Returns
    -------
    int
        The multinomial coefficient ``n! / prod(n_c!)`` over the eligible units.
    """
    c = np.asarray(cohort, dtype=float)
    mask = np.ones(c.shape, bool) if eligible is None else np.asarray(eligible, bool)
    _, counts = _labels_counts(c[mask])
    total, left = 1, int(mask.sum())
    for k in counts:
        total *= math.comb(left, int(k))
        left -= int(k)
    return total


def enumerate_assignments(
    cohort: ArrayLike, eligible: ArrayLike | None = None
) -> FloatArray:
    """Every distinct re-assignment of the cohort labels among eligible units.

    Parameters
    ----------
    cohort : array_like of shape (N,)
        Cohort per unit (``np.inf`` = never treated).
    eligible : array_like of bool, shape (N,), optional
        Units whose labels are permuted (the others keep theirs).

    Returns
    -------
    ndarray of shape (M, N)
        One cohort vector per assignment (the observed one included).
    """
    c = np.asarray(cohort, dtype=float)
    mask = np.ones(c.shape, bool) if eligible is None else np.asarray(eligible, bool)
    pool = np.flatnonzero(mask)
    labels, counts = _labels_counts(c[mask])
    order = np.argsort(counts)  # fill the largest group (usually never-treated) last
    labels, counts = labels[order], counts[order]
    n_pool = len(pool)
    # slots[m, j] = label index placed at pool position j (-1 = free)
    slots = np.full((1, n_pool), -1, dtype=np.intp)
    for lab_idx in range(len(labels) - 1):
        k = int(counts[lab_idx])
        free = np.argsort(slots >= 0, axis=1, kind="stable")[
            :, : n_pool - int((slots[0] >= 0).sum())
        ]
        combos = np.array(list(combinations(range(free.shape[1]), k)), dtype=np.intp)
        if combos.size == 0:
            combos = np.zeros((1, 0), dtype=np.intp)
        new = np.repeat(slots, len(combos), axis=0)
        rows = np.arange(new.shape[0])[:, None]
        chosen = np.take_along_axis(
            np.repeat(free, len(combos), axis=0),
            np.tile(combos, (slots.shape[0], 1)),
            axis=1,
        )
        new[rows, chosen] = lab_idx
        slots = new
    slots[slots < 0] = len(labels) - 1
    out = np.tile(c, (slots.shape[0], 1))
    out[:, pool] = labels[slots]
    return out


def sample_assignments(
    cohort: ArrayLike,
    n: int,
    rng: np.random.Generator,
    eligible: ArrayLike | None = None,
) -> FloatArray:
    """``n`` random re-assignments (with replacement across draws) of the cohorts.

    Parameters
    ----------
    cohort : array_like of shape (N,)
        Cohort per unit.
    n : int
        Number of assignments.
    rng : numpy Generator
        Random source.
    eligible : array_like of bool, shape (N,), optional
        Units whose labels are permuted.

    Returns
    -------
    ndarray of shape (n, N)
        One cohort vector per draw.
    """
    c = np.asarray(cohort, dtype=float)
    check_memory("number of permutations", 16.0 * n * c.size, "sample_assignments")
    mask = np.ones(c.shape, bool) if eligible is None else np.asarray(eligible, bool)
    out = np.tile(c, (n, 1))
    out[:, mask] = rng.permuted(np.tile(c[mask], (n, 1)), axis=1)
    return out


def _call_chunk(task: tuple[Any, FloatArray, FloatArray]) -> FloatArray:
    estimate_batch, Y, C = task
    part = np.asarray(estimate_batch(Y, C), dtype=float).ravel()
    if part.shape[0] != C.shape[0]:
        raise SpecError(
            f"estimate_batch returned {part.shape[0]} estimates for {C.shape[0]} "
            "assignments; it must return one per row."
        )
    return part


def _batched(
    estimate_batch: Callable[[FloatArray, FloatArray], Any],
    Y: FloatArray,
    C: FloatArray,
    n_jobs: int = 1,
    backend: str | None = None,
) -> FloatArray:
    """``estimate_batch`` over the rows of C in memory-bounded chunks.

    Chunks run through :func:`impact.parallel.run_tasks` when ``n_jobs != 1``; the
    assignments are fixed beforehand, so the result does not depend on ``n_jobs``.
    """
    chunk = max(1, int(20_000_000 // max(1, Y.size)))
    if n_jobs != 1:
        workers = n_jobs if n_jobs > 0 else 8
        chunk = max(1, min(chunk, -(-C.shape[0] // workers)))
    tasks = [
        (estimate_batch, Y, C[start : start + chunk])
        for start in range(0, C.shape[0], chunk)
    ]
    if n_jobs == 1 or len(tasks) == 1:
        parts = [_call_chunk(task) for task in tasks]
    else:
        parts = run_tasks(_call_chunk, tasks, backend=backend, n_jobs=n_jobs)
    return np.concatenate(parts)


def _count_ge(dist: FloatArray, obs: FloatArray) -> FloatArray:
    """How many entries of |dist| are >= |obs| (relative tolerance for ties)."""
    tol = 1e-9 * (1.0 + np.abs(obs))
    return np.sum(np.abs(dist)[None, :] >= (np.abs(obs) - tol)[:, None], axis=1)


def permutation_inference(
    Y: ArrayLike,
    cohort: ArrayLike,
    estimate_batch: Callable[[FloatArray, FloatArray], Any],
    *,
    D: ArrayLike | None = None,
    n_perm: int = 999,
    alpha: float = 0.05,
    seed: Any = None,
    eligible: ArrayLike | None = None,
    max_enumerate: int = 20000,
    periods: ArrayLike | None = None,
    null: float = 0.0,
    ci: bool = True,
    linear: bool | None = None,
    n_jobs: int = 1,
    backend: str | None = None,
) -> InferenceOutput:
    """Randomization inference by re-assigning cohorts among units.

    Parameters
    ----------
    Y : array_like of shape (N, T)
        Outcome of a balanced panel.
    cohort : array_like of shape (N,)
        Observed first treated period per unit (``np.inf`` = never treated).
    estimate_batch : callable
        ``estimate_batch(Y, cohorts)`` with ``cohorts`` of shape (B, N) returns the B
        estimates (shape (B,)); it must accept any outcome matrix of Y's shape.
    D : array_like of bool, shape (N, T), optional
        Observed treatment indicator, used for the interval (``Y - tau * D``). Built
        from ``cohort`` and ``periods`` when not given.
    n_perm : int, default 999
        Random assignments when there are too many to enumerate.
    alpha : float, default 0.05
        One minus the confidence level.
    seed : int, numpy Generator or None
        Seed of the random assignments.
    eligible : array_like of bool, shape (N,), optional
        Units among which cohorts are re-assigned (others keep their own).
    max_enumerate : int, default 20000
        Enumerate every assignment when there are at most this many.
    periods : array_like of shape (T,), optional
        The periods the cohort values refer to (needed when ``D`` is not given and the
        cohorts are not column positions ``0..T-1``).
    null : float, default 0.0
        Null value of a constant additive effect for the reported p-value.
    ci : bool, default True
        Invert the test for a confidence interval.
    linear : bool, optional
        Whether ``estimate_batch`` is linear in the outcome (then two batch calls give
        the whole interval). None checks it numerically.
    n_jobs : int, default 1
        Workers for the ``estimate_batch`` calls (chunks of assignments), through
        :func:`impact.parallel.run_tasks`; worth it only for slow, non-linear
        estimators. Results do not depend on it.
    backend : {None, "serial", "joblib", "dask"}
        Passed to :func:`impact.parallel.run_tasks`.

    Returns
    -------
    InferenceOutput
        ``method="permutation"``. ``pvalue`` is the share of assignments whose
        ``|estimate|`` is at least the observed one (the observed assignment included:
        ``(1 + #) / (B + 1)`` when sampled). ``se`` is the standard deviation of the
        randomization distribution of the estimate under the sharp null of a constant
        effect equal to the estimate (``Y - estimate * D``).
    """
    y = as_matrix(Y, "Y", _CALLER)
    n, t = y.shape
    c = np.asarray(cohort, dtype=float).copy()
    if c.shape != (n,):
        raise DataError(
            f"cohort passed to {_CALLER} must have one value per unit ({n}); got shape {c.shape}."
        )
    c[np.isnan(c)] = np.inf
    if not callable(estimate_batch):
        raise SpecError(f"estimate_batch passed to {_CALLER} must be callable.")
    n_perm = check_draws("n_perm", n_perm, _CALLER, minimum=19)
    max_enumerate = check_positive_int("max_enumerate", max_enumerate, _CALLER)
    alpha = check_alpha(alpha, _CALLER)
    mask = np.ones(n, bool) if eligible is None else np.asarray(eligible, bool)
    if mask.shape != (n,):
        raise DataError(
            f"eligible passed to {_CALLER} must be a boolean mask of length {n}."
        )
    if len(np.unique(c[mask])) < 2:
        raise EstimationError(
            "Every eligible unit has the same cohort, so there is nothing to re-assign; "
            "include treated and untreated units in `eligible`."
        )
    if D is None:
        if periods is not None:
            d = treatment_matrix(c, periods).astype(float)
        else:
            fin = c[np.isfinite(c)]
            if (
                fin.size
                and np.all(fin == np.round(fin))
                and fin.min() >= 0
                and fin.max() < t
            ):
                d = treatment_matrix(c, np.arange(t)).astype(float)
            else:
                raise SpecError(
                    f"{_CALLER} cannot tell which periods the cohorts {sorted(set(fin))[:3]} "
                    "refer to: pass periods= (the panel's periods) or D= (the treatment "
                    "indicator)."
                )
    else:
        d = np.asarray(D, dtype=float)
        if d.shape != y.shape:
            raise DataError(
                f"D passed to {_CALLER} has shape {d.shape}; expected {y.shape}."
            )

    total = count_assignments(c, mask)
    warnings: list[str] = []
    exact = total <= max_enumerate
    if exact:
        C = enumerate_assignments(c, mask)
        obs_idx = int(np.flatnonzero(np.all(C == c, axis=1))[0])
    else:
        C = np.vstack(
            [c[None, :], sample_assignments(c, n_perm, as_generator(seed), mask)]
        )
        obs_idx = 0
    n_draws = C.shape[0]
    est_y = _batched(estimate_batch, y, C, n_jobs, backend)
    if not np.all(np.isfinite(est_y)):
        bad = int(np.sum(~np.isfinite(est_y)))
        raise EstimationError(
            f"estimate_batch returned {bad} missing estimates among the {n_draws} "
            "re-assignments (some placebo assignments are not estimable, e.g. a cohort "
            "without comparison units); restrict `eligible`."
        )
    theta = float(est_y[obs_idx])
    # smallest p-value any assignment could get: the share tied at the largest |estimate|
    # (mirror-image assignments, e.g. swapping equal-sized groups, tie with it)
    min_p = 1 / n_draws
    if exact:
        min_p = float(_count_ge(est_y, np.array([np.abs(est_y).max()]))[0] / n_draws)
    if min_p > alpha:
        warnings.append(
            f"Only {total} distinct assignments of treatment: the smallest attainable "
            f"p-value is {min_p:.3g}, above alpha = {alpha:g}; the test cannot reject "
            "whatever the data, and its interval is unbounded."
        )
    est_d = None
    if linear is None or linear:
        est_d = _batched(estimate_batch, d, C, n_jobs, backend)
        if linear is None:
            probe = slice(0, min(8, n_draws))
            shift = 1.0 + abs(theta)
            direct = _batched(estimate_batch, y - shift * d, C[probe])
            combo = est_y[probe] - shift * est_d[probe]
            linear = bool(
                np.allclose(
                    direct, combo, rtol=1e-7, atol=1e-9 * (1 + np.abs(combo).max())
                )
            )
    if linear and est_d is not None:
        if abs(est_d[obs_idx] - 1.0) > 1e-6:
            warnings.append(
                f"The estimate moves by {est_d[obs_idx]:.4g} (not 1) when every treated "
                "cell shifts by 1; the interval is for the constant per-cell effect, "
                "not for the estimand of the estimate."
            )

        def dist(tau: float) -> FloatArray:
            assert est_d is not None
            return np.asarray(est_y - tau * est_d)

    else:

        def dist(tau: float) -> FloatArray:
            return _batched(estimate_batch, y - tau * d, C, n_jobs, backend)

    def pfun(tau: float) -> float:
        values = dist(tau)
        obs = values[obs_idx]
        if exact:
            return float(_count_ge(values, np.array([obs]))[0] / n_draws)
        others = np.delete(values, obs_idx)
        return float((1 + _count_ge(others, np.array([obs]))[0]) / n_draws)

    pval = pfun(null)
    null_dist = dist(theta)
    se = float(
        np.std(np.delete(null_dist, obs_idx) if not exact else null_dist, ddof=1)
    )
    interval = (float("nan"), float("nan"))
    if ci:
        interval, w = invert_test(pfun, theta, se if se > 0 else 1.0, alpha)
        warnings.extend(w)
    details: dict[str, Any] = {
        "estimate": theta,
        "null": null,
        "n_assignments": total,
        "linear": bool(linear),
        "distribution": est_y,
        "min_pvalue": min_p,
    }
    return InferenceOutput(
        method="permutation",
        se=se,
        ci=interval,
        pvalue=pval,
        n_draws=n_draws,
        exact=exact,
        details=details,
        warnings=warnings,
    )
