"""Ridge-augmented synthetic control (Ben-Michael, Feller and Rothstein 2021, JASA).

The augmented SCM corrects the synthetic-control estimate for its remaining pre-period
imbalance with a ridge regression of the post-period outcome on the pre-period outcomes
of the donors. In weight form (their equation 6), with ``X0`` the donors' pre-period
outcomes centred on the donor mean of each period,

    w_aug = w_scm + X0 (X0' X0 + lambda I)^(-1) (x1 - X0' w_scm),

so the weights still sum to one but may be negative (extrapolation is allowed and
penalised). ``lambda -> inf`` gives back the SCM weights; ``lambda -> 0`` (with more donors
than pre-periods) fits the pre-period exactly.

The penalty is chosen, when not given, by leave-one-period-out cross-validation on the
pre-period, following the authors' package (augsynth 0.2.0 defaults): each pre-period
but the last is held out in turn, the SCM and the ridge correction are fitted on the
other pre-periods and used to predict it; the largest ``lambda`` whose mean squared
prediction error is within one standard error of the minimum is kept (the
"one-standard-error" rule), from a geometric grid of 21 values between ``sigma_max^2``
(largest squared singular value of the centred donor matrix) and ``1e-8`` times it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from impact.errors import DataError, EstimationError, SpecError
from impact.parallel import SeedLike
from impact.synth.weights import simplex_weights

__all__ = ["AugmentedFit", "augmented_weights_fixed", "ridge_augmented_weights"]

FloatArray = NDArray[np.float64]

_N_LAMBDA = 20
_LAMBDA_MIN_RATIO = 1e-8


@dataclass(frozen=True, eq=False)
class AugmentedFit:
    """Output of :func:`ridge_augmented_weights`.

    Attributes
    ----------
    weights : numpy.ndarray, shape (J,)
        Augmented donor weights: they sum to one and may be negative.
    lambda_ : float
        Ridge penalty used.
    cv_table : pandas.DataFrame
        One row per candidate penalty: ``lambda``, ``cv_mse`` (mean squared prediction
        error over the held-out periods), ``cv_se`` (its standard error),
        ``selected``. Empty when ``lambda_`` was given.
    scm_weights : numpy.ndarray, shape (J,)
        The synthetic-control weights that were augmented.
    pre_rmspe_scm, pre_rmspe : float
        Pre-period root mean squared imbalance of the SCM and of the augmented weights.
    """

    weights: FloatArray
    lambda_: float
    cv_table: pd.DataFrame
    scm_weights: FloatArray
    pre_rmspe_scm: float
    pre_rmspe: float


def _sv_tol(Xc: FloatArray, Y0: FloatArray) -> float:
    """Singular values below this are rounding noise (e.g. duplicated donors)."""
    scale = max(float(np.abs(Y0).max()) if Y0.size else 0.0, 1.0)
    return float(max(Xc.shape, default=1) * np.finfo(float).eps * scale * 16)


def _ridge_correction(
    Xc: FloatArray, imbalance: FloatArray, lambdas: FloatArray, tol: float
) -> FloatArray:
    """``Xc (Xc'Xc + lam I)^-1 imbalance`` for every ``lam``, via the SVD; (L, J).

    Directions with singular value <= ``tol`` carry no information and are dropped,
    so duplicated or constant donors cannot blow the correction up.
    """
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    keep = s > tol
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    proj = Vt @ imbalance  # (r,)
    shrink = s[None, :] / (s[None, :] ** 2 + lambdas[:, None])  # (L, r)
    return np.asarray((shrink * proj[None, :]) @ U.T, dtype=float)


def _lambda_grid(Xc: FloatArray, tol: float) -> FloatArray:
    smax = float(np.linalg.norm(Xc, 2)) if Xc.size else 0.0
    lam_max = smax**2 if smax > tol else 1.0
    scaler = _LAMBDA_MIN_RATIO ** (1.0 / _N_LAMBDA)
    return lam_max * scaler ** np.arange(_N_LAMBDA + 1)


def _check(
    y1_pre: ArrayLike, Y0_pre: ArrayLike, caller: str
) -> tuple[FloatArray, FloatArray]:
    y1 = np.asarray(y1_pre, dtype=float).ravel()
    Y0 = np.asarray(Y0_pre, dtype=float)
    if Y0.ndim != 2 or Y0.shape[0] != y1.size:
        raise DataError(
            f"{caller}: Y0_pre must be (pre-periods, donors) with {y1.size} rows to "
            f"match y1_pre; got shape {Y0.shape}."
        )
    if Y0.shape[1] == 0:
        raise DataError(f"{caller}: the donor pool is empty.")
    if not (np.all(np.isfinite(y1)) and np.all(np.isfinite(Y0))):
        raise DataError(
            f"{caller}: pre-period outcomes contain missing or infinite values; the "
            "augmented SCM needs complete outcomes for the treated unit and donors."
        )
    return y1, Y0


def augmented_weights_fixed(
    y1_pre: ArrayLike,
    Y0_pre: ArrayLike,
    scm_weights: ArrayLike,
    lambda_: float,
) -> FloatArray:
    """Augmented weights for a given penalty (no cross-validation).

    Parameters
    ----------
    y1_pre : array_like, shape (T0,)
        Treated unit's pre-period outcomes.
    Y0_pre : array_like, shape (T0, J)
        Donors' pre-period outcomes, one column per donor.
    scm_weights : array_like, shape (J,)
        Synthetic-control weights to augment (summing to one).
    lambda_ : float
        Ridge penalty, > 0 (``np.inf`` returns ``scm_weights``).

    Returns
    -------
    numpy.ndarray, shape (J,)
        ``w_scm + X0c (X0c'X0c + lambda I)^-1 (y1_pre - Y0_pre w_scm)``.
    """
    y1, Y0 = _check(y1_pre, Y0_pre, "augmented_weights_fixed")
    w = np.asarray(scm_weights, dtype=float).ravel()
    if w.size != Y0.shape[1]:
        raise DataError(
            f"augmented_weights_fixed: scm_weights has {w.size} entries for "
            f"{Y0.shape[1]} donors."
        )
    lam = float(lambda_)
    if not lam > 0:
        raise SpecError(
            f"augmented_weights_fixed: lambda_ must be positive; got {lambda_!r}."
        )
    if np.isinf(lam):
        return w.copy()
    Xc = (Y0 - Y0.mean(axis=1, keepdims=True)).T  # (J, T0), donor-centred per period
    corr = _ridge_correction(Xc, y1 - Y0 @ w, np.array([lam]), _sv_tol(Xc, Y0))[0]
    return w + corr


def ridge_augmented_weights(
    y1_pre: ArrayLike,
    Y0_pre: ArrayLike,
    scm_weights: ArrayLike,
    *,
    lambda_: float | None = None,
    n_folds: int | None = None,
    seed: SeedLike = None,
) -> AugmentedFit:
    """Ridge-augmented SCM weights (Ben-Michael, Feller and Rothstein 2021).

    Parameters
    ----------
    y1_pre : array_like, shape (T0,)
        Treated unit's pre-period outcomes.
    Y0_pre : array_like, shape (T0, J)
        Donors' pre-period outcomes, one column per donor.
    scm_weights : array_like, shape (J,)
        The synthetic-control weights to augment (e.g. outcome-path or Abadie weights).
    lambda_ : float, optional
        Ridge penalty. None chooses it by leave-one-period-out cross-validation on
        the pre-period (needs ``T0 >= 3``).
    n_folds : int, optional
        Number of held-out periods, the most recent ones (default: every pre-period
        but the last, ``T0 - 1`` folds, as augsynth).
    seed : int, Generator or None
        Accepted for a uniform signature; the cross-validation is deterministic.

    Returns
    -------
    AugmentedFit
        Weights (may be negative, sum to one), the penalty and the CV table.

    Raises
    ------
    DataError
        Shape mismatch, missing values or an empty donor pool.
    SpecError
        Invalid ``lambda_`` or ``n_folds``, or too few pre-periods for CV.

    Notes
    -----
    The SCM weights inside each cross-validation fold are the outcome-path simplex
    weights on the fold's training periods, whatever ``scm_weights`` were passed, as
    in augsynth.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> Y0 = rng.normal(size=(12, 30)).cumsum(axis=0)
    >>> y1 = Y0[:, :3].mean(axis=1) + 2.0  # outside the donors' convex hull
    >>> w_scm = simplex_weights(y1, Y0)
    >>> fit = ridge_augmented_weights(y1, Y0, w_scm)
    >>> bool(fit.pre_rmspe < fit.pre_rmspe_scm)
    True
    """
    del seed  # deterministic
    caller = "ridge_augmented_weights"
    y1, Y0 = _check(y1_pre, Y0_pre, caller)
    T0, J = Y0.shape
    w_scm = np.asarray(scm_weights, dtype=float).ravel()
    if w_scm.size != J:
        raise DataError(
            f"{caller}: scm_weights has {w_scm.size} entries for {J} donors."
        )
    if not np.all(np.isfinite(w_scm)):
        raise DataError(f"{caller}: scm_weights contain missing or infinite values.")
    Xc = (Y0 - Y0.mean(axis=1, keepdims=True)).T  # (J, T0)

    def rmspe(w: FloatArray) -> float:
        return float(np.sqrt(np.mean((y1 - Y0 @ w) ** 2)))

    if lambda_ is not None:
        lam = float(lambda_)
        if not lam > 0:
            raise SpecError(f"{caller}: lambda_ must be positive; got {lambda_!r}.")
        w = augmented_weights_fixed(y1, Y0, w_scm, lam)
        empty = pd.DataFrame(
            {
                "lambda": pd.Series(dtype=float),
                "cv_mse": pd.Series(dtype=float),
                "cv_se": pd.Series(dtype=float),
                "selected": pd.Series(dtype=bool),
            }
        )
        return AugmentedFit(w, lam, empty, w_scm, rmspe(w_scm), rmspe(w))

    if T0 < 3:
        raise SpecError(
            f"{caller}: cross-validating the ridge penalty needs at least 3 "
            f"pre-periods (T0 = {T0}); pass lambda_ explicitly."
        )
    held_out = np.arange(T0 - 1)  # augsynth never holds out the last pre-period
    if n_folds is not None:
        if isinstance(n_folds, bool) or not isinstance(n_folds, (int, np.integer)):
            raise SpecError(f"{caller}: n_folds must be an integer; got {n_folds!r}.")
        if not 2 <= n_folds <= T0 - 1:
            raise SpecError(
                f"{caller}: n_folds must be between 2 and T0 - 1 = {T0 - 1}; "
                f"got {n_folds}."
            )
        held_out = held_out[-int(n_folds) :]
    tol = _sv_tol(Xc, Y0)
    lambdas = _lambda_grid(Xc, tol)
    errors = np.empty((held_out.size, lambdas.size))
    # loop over folds (held-out periods); each fold is vectorised over the penalties
    for k, i in enumerate(held_out):
        train = np.flatnonzero(np.arange(T0) != i)
        w_i = simplex_weights(y1[train], Y0[train])
        imb = y1[train] - Y0[train] @ w_i
        corr = _ridge_correction(Xc[:, train], imb, lambdas, tol)
        w_aug = w_i[None, :] + corr
        errors[k] = (y1[i] - w_aug @ Y0[i]) ** 2
    cv_mse = errors.mean(axis=0)
    cv_se = (
        errors.std(axis=0, ddof=1) / np.sqrt(held_out.size)
        if held_out.size > 1
        else np.zeros(lambdas.size)
    )
    if not np.all(np.isfinite(cv_mse)):
        raise EstimationError(
            f"{caller}: the cross-validation error is not finite; check the outcomes "
            "for extreme values or pass lambda_."
        )
    best = int(np.argmin(cv_mse))
    ok = cv_mse <= cv_mse[best] + cv_se[best]
    chosen = int(np.flatnonzero(ok)[np.argmax(lambdas[ok])])
    lam = float(lambdas[chosen])
    table = pd.DataFrame(
        {
            "lambda": lambdas,
            "cv_mse": cv_mse,
            "cv_se": cv_se,
            "selected": np.arange(lambdas.size) == chosen,
        }
    )
    w = w_scm + _ridge_correction(Xc, y1 - Y0 @ w_scm, np.array([lam]), tol)[0]
    return AugmentedFit(w, lam, table, w_scm, rmspe(w_scm), rmspe(w))
