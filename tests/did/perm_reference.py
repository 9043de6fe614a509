"""Brute-force randomization p-values for the tests (not collected: no ``test_`` prefix).

The sampled permutation p-values of ``impact.did`` are recomputed here from their
definition, so a test can pin them instead of only checking that they lie on the
``k / (B + 1)`` lattice:

* the assignments: the observed cohort vector first, then ``B`` rows of
  ``numpy.random.default_rng(seed).permuted(tile(cohort), axis=1)`` (the stream that
  :func:`impact.inference.sample_assignments` documents; reproduced here with numpy);
* the statistic: either a raw estimate (a callable the test supplies, e.g. a refit) or
  the studentized one of :mod:`impact.inference.studentized`, re-derived from its
  docstring: ``t = a'y / sqrt(sum_i v_i a_i' R a_i)`` with each unit's variance ``v_i``
  from its own period-to-period changes before the first adoption (period means
  removed, floored at 1% of the median) and ``R`` the covariance of an AR(1) whose
  persistence comes from the pooled lag-1 autocorrelation of those changes;
* the p-value: ``(1 + #{b : |s_b| >= |s_obs|}) / (B + 1)``, ties within ``1e-9``.

The estimator weights ``a`` are written out in the tests' own terms (one-cohort
Callaway-Sant'Anna and two-way fixed effects), not taken from ``impact``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def sampled_assignments(cohort: np.ndarray, n_perm: int, seed: int) -> np.ndarray:
    """Observed cohort vector, then ``n_perm`` seeded shuffles of it (shape (B+1, N))."""
    c = np.asarray(cohort, dtype=float)
    rng = np.random.default_rng(seed)
    return np.vstack([c[None, :], rng.permuted(np.tile(c, (n_perm, 1)), axis=1)])


def sampled_pvalue(stats: np.ndarray) -> float:
    """``(1 + #{others with |s| >= |s_obs|}) / (B + 1)``; row 0 is the observed one."""
    s = np.abs(np.asarray(stats, dtype=float))
    tol = 1e-9 * (1.0 + s[0])
    return float((1 + np.sum(s[1:] >= s[0] - tol)) / len(s))


def cs_one_cohort_weights(cohort_idx: np.ndarray, n_t: int) -> np.ndarray:
    """Weights ``A`` (N, T) of the CS simple ATT with one cohort, never-treated controls.

    Each post period ``t >= g`` contributes ``mean_treated(y_t - y_{g-1}) -
    mean_never(y_t - y_{g-1})``; the cohort's post cells are averaged with equal weight.
    """
    c = np.asarray(cohort_idx, dtype=float)
    g = int(np.min(c[np.isfinite(c)]))
    h = np.zeros(n_t)
    h[g:] = 1.0 / (n_t - g)
    h[g - 1] = -1.0
    treated = np.isfinite(c)
    arm = np.where(treated, 1.0 / treated.sum(), -1.0 / (~treated).sum())
    return arm[:, None] * h[None, :]


def twfe_weights(cohort_idx: np.ndarray, n_t: int) -> np.ndarray:
    """Weights of the TWFE coefficient on a balanced panel: ``D~ / sum(D~ D)``."""
    c = np.asarray(cohort_idx, dtype=float)
    D = (np.arange(n_t)[None, :] >= c[:, None]).astype(float)
    Dt = D - D.mean(axis=1, keepdims=True) - D.mean(axis=0, keepdims=True) + D.mean()
    return Dt / np.sum(Dt * D)


def unit_noise(Y: np.ndarray, first: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit variance ``v`` and AR(1) correlation matrix ``R`` (see module doc)."""
    n, t = Y.shape
    k = first - 1  # changes between the `first` untreated periods
    d = np.diff(Y[:, :first], axis=1)
    r = d - d.mean(axis=0, keepdims=True)
    v = (r**2).sum(axis=1) / (k - k / n)
    v = np.maximum(v, 0.01 * np.median(v))
    z = r / np.sqrt(v)[:, None]
    rho = float(
        np.clip(1 + 2 * (z[:, 1:] * z[:, :-1]).sum() / (z[:, :-1] ** 2).sum(), 0, 1)
    )
    s = np.arange(t)
    if rho >= 0.99:  # random walk: Var(change) = innovation variance
        return v, np.minimum.outer(s, s) + 1.0
    R = rho ** np.abs(np.subtract.outer(s, s)) / (1 - rho**2)
    return v * (1 + rho) / 2, R


def studentized_stats(
    Y: np.ndarray,
    C: np.ndarray,
    weights: Callable[[np.ndarray, int], np.ndarray],
    first: int,
) -> np.ndarray:
    """``a'y / se`` for every assignment row of ``C``, looping over the rows."""
    v, R = unit_noise(Y, first)
    out = []
    for c in C:
        A = weights(c, Y.shape[1])
        var = float(np.sum(v * np.einsum("nt,ts,ns->n", A, R, A)))
        out.append(float(np.sum(A * Y)) / np.sqrt(var))
    return np.array(out)
