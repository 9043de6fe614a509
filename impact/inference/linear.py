"""Helpers for estimators that are linear in the outcome on a balanced panel.

An estimator linear in the outcome is ``theta = sum(A * Y)`` for a weight matrix ``A``
(N units x T periods). The 2x2 difference-in-differences, a TWFE coefficient, an
event-study coefficient and the Callaway-Sant'Anna aggregates without covariates are all
of this form, which is what lets the wild bootstrap and randomization inference run as
matrix products over draws instead of loops.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from impact.errors import DataError, EstimationError, SpecError

__all__ = [
    "as_cluster_index",
    "cluster_robust_se",
    "did2x2_weights",
    "fe_residuals",
    "make_twfe_batch",
    "treatment_matrix",
    "twfe_estimate_batch",
    "twfe_weights",
    "two_way_demean",
]

FloatArray = NDArray[np.float64]


def as_matrix(
    x: ArrayLike, name: str, caller: str, shape: tuple[int, int] | None = None
) -> FloatArray:
    """Return ``x`` as a finite 2-D float array, checking its shape.

    Parameters
    ----------
    x : array_like
        The input.
    name, caller : str
        Used in the error message.
    shape : tuple of int, optional
        Required shape.

    Returns
    -------
    ndarray
        Float copy of ``x``.
    """
    try:
        arr = np.array(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name} passed to {caller} must be numeric: {exc}") from exc
    if arr.ndim != 2:
        raise DataError(
            f"{name} passed to {caller} must be a 2-D (units x periods) array; "
            f"got {arr.ndim} dimension(s)."
        )
    if shape is not None and arr.shape != shape:
        raise DataError(
            f"{name} passed to {caller} has shape {arr.shape}; expected {shape} "
            "(units x periods, like Y)."
        )
    if not np.all(np.isfinite(arr)):
        i, t = np.argwhere(~np.isfinite(arr))[0]
        raise DataError(
            f"{name} passed to {caller} has a missing or infinite value (unit row {i}, "
            f"period column {t}); balance the panel and drop or impute missing values."
        )
    return arr


def as_cluster_index(
    clusters: ArrayLike | None, n_units: int, caller: str
) -> tuple[NDArray[np.intp], NDArray[Any]]:
    """Map cluster labels (one per unit) to integer codes ``0..G-1``.

    Parameters
    ----------
    clusters : array_like of shape (N,) or None
        Cluster label of each unit; None makes every unit its own cluster.
    n_units : int
        N.
    caller : str
        Used in the error message.

    Returns
    -------
    codes : ndarray of int, shape (N,)
        Cluster code of each unit.
    labels : ndarray, shape (G,)
        The distinct labels, in code order.
    """
    if clusters is None:
        return np.arange(n_units, dtype=np.intp), np.arange(n_units)
    arr = np.asarray(clusters)
    if arr.ndim != 1 or arr.shape[0] != n_units:
        raise DataError(
            f"clusters passed to {caller} must hold one label per unit ({n_units}); "
            f"got shape {arr.shape}. Clusters must not vary over time."
        )
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise DataError(
            f"clusters passed to {caller} has missing labels; fill them in."
        )
    if arr.dtype == object and any(v is None for v in arr):
        raise DataError(
            f"clusters passed to {caller} has missing labels; fill them in."
        )
    labels, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.intp), labels


def treatment_matrix(cohort: ArrayLike, periods: ArrayLike) -> NDArray[np.bool_]:
    """Absorbing treatment indicator ``D[..., i, t] = periods[t] >= cohort[..., i]``.

    Parameters
    ----------
    cohort : array_like of shape (..., N)
        First treated period per unit (``np.inf`` = never treated).
    periods : array_like of shape (T,)
        The panel's periods.

    Returns
    -------
    ndarray of bool, shape (..., N, T)
        The indicator.
    """
    c = np.asarray(cohort, dtype=float)
    p = np.asarray(periods, dtype=float)
    return p >= c[..., None]


def two_way_demean(Z: ArrayLike) -> FloatArray:
    """Remove unit and period means from a balanced panel (the two-way FE annihilator).

    Parameters
    ----------
    Z : array_like of shape (..., N, T)
        One panel or a stack of panels (leading axes are batch axes).

    Returns
    -------
    ndarray of shape (..., N, T)
        ``Z - unit means - period means + grand mean``.
    """
    z = np.asarray(Z, dtype=float)
    return (
        z
        - z.mean(axis=-1, keepdims=True)
        - z.mean(axis=-2, keepdims=True)
        + z.mean(axis=(-2, -1), keepdims=True)
    )


def twfe_weights(D: ArrayLike) -> FloatArray:
    """Weight matrix ``A`` of the TWFE coefficient on ``D`` (balanced panel).

    The coefficient of ``Y = a_i + g_t + theta D + e`` by OLS is ``sum(A * Y)`` with
    ``A = D~ / sum(D~ * D)``, where ``D~`` is ``D`` with unit and period means removed
    (Frisch-Waugh-Lovell).

    Parameters
    ----------
    D : array_like of shape (N, T)
        Treatment indicator (or any regressor).

    Returns
    -------
    ndarray of shape (N, T)
        The weights.
    """
    d = np.asarray(D, dtype=float)
    dt = two_way_demean(d)
    denom = float(np.sum(dt * d))
    if not abs(denom) > 1e-12 * max(1.0, d.size):
        raise EstimationError(
            "The treatment indicator is collinear with the unit and period effects "
            "(no unit changes treatment status relative to the others); the TWFE "
            "coefficient is not identified."
        )
    return dt / denom


def did2x2_weights(D: ArrayLike) -> FloatArray:
    """Weight matrix of the 2x2 DiD of means for a common adoption date.

    ``theta = (mean post - mean pre)[treated] - (mean post - mean pre)[controls]``,
    with treated units those ever treated and post periods those in which any unit
    is treated.

    Parameters
    ----------
    D : array_like of shape (N, T)
        Treatment indicator with a single adoption date.

    Returns
    -------
    ndarray of shape (N, T)
        The weights.
    """
    d = np.asarray(D, dtype=bool)
    treated = d.any(axis=1)
    post = d.any(axis=0)
    if not treated.any() or treated.all() or not post.any() or post.all():
        raise EstimationError(
            "The 2x2 DiD needs treated and untreated units and pre and post periods; "
            "check the treatment indicator."
        )
    if not np.array_equal(d, np.outer(treated, post)):
        raise SpecError(
            "did2x2_weights needs a single common adoption date; use twfe_weights or a "
            "staggered estimator for staggered adoption."
        )
    unit_w = np.where(treated, 1.0 / treated.sum(), -1.0 / (~treated).sum())
    time_w = np.where(post, 1.0 / post.sum(), -1.0 / (~post).sum())
    return np.outer(unit_w, time_w)


def twfe_estimate_batch(
    Y: ArrayLike, cohorts: ArrayLike, periods: ArrayLike
) -> FloatArray:
    """TWFE coefficients for a batch of cohort assignments (vectorised).

    Uses that on a balanced panel the coefficient is ``sum(D Y~) / sum(D~ D)`` with
    ``Y~`` the two-way demeaned outcome, and that both sums depend on a unit's cohort
    only through tail sums over periods, so no B x N x T array is formed.

    Parameters
    ----------
    Y : array_like of shape (N, T)
        Outcome.
    cohorts : array_like of shape (B, N)
        One cohort vector per assignment (``np.inf`` = never treated).
    periods : array_like of shape (T,)
        The periods the cohorts refer to.

    Returns
    -------
    ndarray of shape (B,)
        The TWFE coefficient for each assignment (NaN where not identified).
    """
    y = np.asarray(Y, dtype=float)
    c = np.atleast_2d(np.asarray(cohorts, dtype=float))
    p = np.asarray(periods, dtype=float)
    n, t = y.shape
    labels = np.unique(c[0])
    idx = np.searchsorted(labels, c).clip(0, len(labels) - 1)
    if not np.array_equal(labels[idx], c):  # rows are not permutations of row 0
        labels, inv = np.unique(c, return_inverse=True)
        idx = inv.reshape(c.shape)
    ind = (p[None, :] >= labels[:, None]).astype(float)  # (K, T): treated periods
    yt = two_way_demean(y)
    tail = yt @ ind.T  # (N, K): sum of Y~ over the periods treated under label k
    r = ind.sum(axis=1)  # (K,)
    num = tail[np.arange(n)[None, :], idx].sum(axis=1)
    counts = _row_counts(idx, len(labels))
    rows = r[idx]
    total = rows.sum(axis=1)
    colsum = counts @ ind  # (B, T)
    den = (
        total
        - (rows**2).sum(axis=1) / t
        - (colsum**2).sum(axis=1) / n
        + total**2 / (n * t)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.abs(den) > 1e-9, num / den, np.nan)


def _row_counts(idx: NDArray[np.intp], k: int) -> FloatArray:
    """Counts of each label per row of an integer matrix (vectorised bincount)."""
    b = idx.shape[0]
    flat = (idx + k * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * k).reshape(b, k).astype(float)


def make_twfe_batch(periods: ArrayLike) -> Any:
    """An ``estimate_batch(Y, cohorts)`` callable for the TWFE coefficient.

    Parameters
    ----------
    periods : array_like of shape (T,)
        The panel's periods.

    Returns
    -------
    callable
        Picklable ``estimate_batch(Y, cohorts) -> (B,)``.
    """
    return partial(twfe_estimate_batch, periods=np.asarray(periods, dtype=float))


def _fe_projection_parts(
    Z: FloatArray | None, n: int, t: int
) -> tuple[FloatArray | None, FloatArray | None]:
    """Two-way demeaned extra regressors ``Z~`` (N, T, k) and ``(Z~'Z~)^-1``."""
    if Z is None or Z.shape[-1] == 0:
        return None, None
    zt = two_way_demean(np.moveaxis(Z, -1, 0))  # (k, N, T)
    zt = np.moveaxis(zt, 0, -1)
    flat = zt.reshape(n * t, -1)
    gram = flat.T @ flat
    scale = np.sqrt(np.clip(np.diag(gram), 1e-300, None))
    if (
        np.any(np.diag(gram) <= 1e-12 * n * t)
        or np.linalg.cond(gram / np.outer(scale, scale)) > 1e12
    ):
        raise EstimationError(
            "The extra regressors are collinear with the unit and period effects (or "
            "with each other); drop time-invariant or duplicated regressors."
        )
    return zt, np.asarray(np.linalg.inv(gram), dtype=float)


def fe_residuals(Y: ArrayLike, Z: ArrayLike | None = None) -> FloatArray:
    """Residuals of ``Y`` on unit and period effects and extra regressors ``Z``.

    Parameters
    ----------
    Y : array_like of shape (N, T)
        Outcome (balanced panel).
    Z : array_like of shape (N, T, k), optional
        Extra regressors.

    Returns
    -------
    ndarray of shape (N, T)
        OLS residuals.
    """
    y = np.asarray(Y, dtype=float)
    n, t = y.shape
    zarr = None if Z is None else np.asarray(Z, dtype=float).reshape(n, t, -1)
    zt, inv = _fe_projection_parts(zarr, n, t)
    yt = two_way_demean(y)
    if zt is None or inv is None:
        return yt
    coef = inv @ np.einsum("ntk,nt->k", zt, yt)
    return yt - zt @ coef


def cluster_robust_se(
    A: ArrayLike,
    resid: ArrayLike,
    clusters: ArrayLike | None = None,
    *,
    n_params: int = 0,
) -> tuple[float, int]:
    """Cluster-robust (CRV1) standard error of the linear estimator ``sum(A * Y)``.

    ``Var = G/(G-1) * sum_g (sum_{i in g, t} A_it u_it)^2``, the sandwich for a linear
    estimator with the usual ``G/(G-1)`` small-sample factor. With ``n_params = k > 0``
    it is also multiplied by ``(n-1)/(n-k)`` (``n = N T``): fixest's default
    ("nested" fixed effects, which is also reghdfe's) counts ``k = T + 1`` for a
    TWFE coefficient with unit clusters (period effects plus the coefficient). The
    factor is below 1% for LA panels (n = N T >> k), so it is off by default.

    Parameters
    ----------
    A : array_like of shape (N, T)
        Estimator weights.
    resid : array_like of shape (N, T)
        Residuals of the model the estimator fits.
    clusters : array_like of shape (N,), optional
        Cluster label per unit (default: units).
    n_params : int, default 0
        ``k`` of the ``(n-1)/(n-k)`` factor; 0 leaves it out.

    Returns
    -------
    se : float
        The standard error.
    n_clusters : int
        G.
    """
    a = np.asarray(A, dtype=float)
    u = np.asarray(resid, dtype=float)
    codes, labels = as_cluster_index(clusters, a.shape[0], "cluster_robust_se")
    g = len(labels)
    if g < 2:
        raise EstimationError(
            "Cluster-robust standard errors need at least 2 clusters."
        )
    scores = np.bincount(codes, weights=np.sum(a * u, axis=1), minlength=g)
    factor = g / (g - 1)
    if n_params:
        n = a.size
        if not 0 < n_params < n - 1:
            raise SpecError(
                f"n_params of cluster_robust_se must be between 1 and {n - 2}; "
                f"got {n_params}."
            )
        factor *= (n - 1) / (n - n_params)
    return float(np.sqrt(factor * np.sum(scores**2))), g
