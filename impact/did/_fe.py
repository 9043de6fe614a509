"""Two-way fixed-effects least squares on a balanced (N, T) grid.

The unit and period effects are partialled out (Frisch-Waugh-Lovell) by alternating
weighted projections, which is exact in one sweep for a balanced panel with weights
that are constant within units (including no weights). Only the k regressors of
interest are then solved for, so no N x N or NT x N matrix is ever formed.

Cluster-robust (CRV1) variances follow the fixest / reghdfe small-sample convention:
``G / (G - 1) * (n - 1) / (n - K)`` with ``K`` counting the slope coefficients and the
fixed effects that are not nested in the clusters (unit effects are nested when the
clusters are units or groups of units).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from impact.errors import EstimationError

__all__ = ["FEFit", "cluster_codes", "demean", "fe_ols"]

FloatArray = NDArray[np.float64]


def cluster_codes(labels: NDArray[np.generic]) -> NDArray[np.intp]:
    """Integer codes 0..G-1 for a vector of cluster labels.

    Parameters
    ----------
    labels : ndarray, shape (N,)
        Any hashable labels.

    Returns
    -------
    ndarray of int
        The codes.
    """
    try:
        _, codes = np.unique(labels, return_inverse=True)
    except TypeError:
        _, codes = np.unique(labels.astype(str), return_inverse=True)
    return codes.astype(np.intp)


def demean(
    Z: FloatArray,
    W: FloatArray | None = None,
    *,
    tol: float = 1e-13,
    max_iter: int = 10_000,
) -> FloatArray:
    """Remove unit and period effects from ``Z`` (weighted two-way within transform).

    Parameters
    ----------
    Z : ndarray, shape (N, T) or (N, T, k)
        Variables on the balanced grid.
    W : ndarray, shape (N, T), optional
        Non-negative regression weights.
    tol : float
        Convergence tolerance (relative) of the alternating projections.
    max_iter : int
        Maximum number of sweeps.

    Returns
    -------
    ndarray
        The residual of the weighted projection of ``Z`` on unit and period dummies.
    """
    Z = np.asarray(Z, dtype=float)
    squeeze = Z.ndim == 2
    if squeeze:
        Z = Z[:, :, None]
    if W is None:
        out = (
            Z
            - Z.mean(axis=1, keepdims=True)
            - Z.mean(axis=0, keepdims=True)
            + Z.mean(axis=(0, 1), keepdims=True)
        )
        return out[:, :, 0] if squeeze else out
    w = np.asarray(W, dtype=float)[:, :, None]
    row = w.sum(axis=1, keepdims=True)
    col = w.sum(axis=0, keepdims=True)
    row = np.where(row > 0, row, 1.0)
    col = np.where(col > 0, col, 1.0)
    out = Z.copy()
    scale = max(float(np.abs(Z).max()), 1.0)
    for _ in range(max_iter):
        out = out - (w * out).sum(axis=1, keepdims=True) / row
        time_means = (w * out).sum(axis=0, keepdims=True) / col
        out = out - time_means
        unit_means = (w * out).sum(axis=1, keepdims=True) / row
        if np.abs(unit_means).max() <= tol * scale:
            break
    else:  # pragma: no cover - needs pathological weights
        raise EstimationError(
            "The two-way fixed-effects projection did not converge; check the weights "
            "(many zero weights can disconnect units from periods)."
        )
    return out[:, :, 0] if squeeze else out


@dataclass
class FEFit:
    """Output of :func:`fe_ols`.

    Attributes
    ----------
    beta : ndarray (k,)
        Slope coefficients.
    vcov : ndarray (k, k)
        Cluster-robust (CRV1) covariance.
    resid : ndarray (N, T)
        Residuals of the within regression.
    n_obs, n_clusters, dof_k : int
        Observations, clusters and the K of the small-sample factor.
    Xd : ndarray (N, T, k)
        The demeaned regressors.
    """

    beta: FloatArray
    vcov: FloatArray
    resid: FloatArray
    n_obs: int
    n_clusters: int
    dof_k: int
    Xd: FloatArray


def fe_ols(
    Y: FloatArray,
    X: FloatArray,
    *,
    W: FloatArray | None = None,
    clusters: NDArray[np.intp] | None = None,
    names: list[str] | None = None,
) -> FEFit:
    """Two-way fixed-effects regression of ``Y`` on ``X`` with CRV1 standard errors.

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcome.
    X : ndarray (N, T, k)
        Regressors (without intercept; the fixed effects absorb it).
    W : ndarray (N, T), optional
        Regression weights.
    clusters : ndarray of int (N,), optional
        Cluster code per unit; default one cluster per unit.
    names : list of str, optional
        Regressor names for error messages.

    Returns
    -------
    FEFit
        Coefficients, covariance and residuals.
    """
    n_units, n_periods = Y.shape
    k = X.shape[2]
    Yd = demean(Y, W)
    Xd = demean(X, W)
    w = np.ones_like(Y) if W is None else np.asarray(W, dtype=float)
    Xw = Xd * w[:, :, None]
    flat_w = Xw.reshape(-1, k)
    xtx = flat_w.T @ Xd.reshape(-1, k)
    xty = flat_w.T @ Yd.ravel()
    scale = np.sqrt(np.clip(np.diag(xtx), 1e-300, None))
    dead = np.diag(xtx) <= 1e-10 * max(float(np.abs(xtx).max()), 1e-300)
    if dead.any():
        label = (names or [f"x{j}" for j in range(k)])[int(np.flatnonzero(dead)[0])]
        raise EstimationError(
            f"Regressor {label!r} is absorbed by the unit and period fixed effects "
            "(no variation left); drop it or choose a different reference period."
        )
    corr = xtx / np.outer(scale, scale)
    if np.linalg.matrix_rank(corr, tol=1e-10) < k:
        raise EstimationError(
            "The regressors are collinear with each other after removing unit and "
            "period effects; with no never-treated units a fully dynamic event study "
            "needs two excluded relative periods (pass ref_period=[-1, <another>] or "
            "bins=(lo, hi))."
        )
    bread = np.linalg.inv(xtx)
    beta = bread @ xty
    resid = Yd - Xd @ beta
    codes = np.arange(n_units) if clusters is None else np.asarray(clusters)
    n_clusters = int(codes.max()) + 1
    unit_scores = (Xw * resid[:, :, None]).sum(axis=1)
    scores = np.zeros((n_clusters, k))
    np.add.at(scores, codes, unit_scores)
    meat = scores.T @ scores
    n_obs = int((w > 0).sum())
    # fixest "nested" convention: unit effects are nested in clusters that group
    # units; period effects count T - 1 (the constant is absorbed with them).
    dof_k = k + (n_periods - 1) + 1
    if n_clusters < 2:
        raise EstimationError(
            "Cluster-robust standard errors need at least 2 clusters."
        )
    factor = n_clusters / (n_clusters - 1) * (n_obs - 1) / max(n_obs - dof_k, 1)
    vcov = factor * bread @ meat @ bread
    return FEFit(beta, vcov, resid, n_obs, n_clusters, dof_k, Xd)
