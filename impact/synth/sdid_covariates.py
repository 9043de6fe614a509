"""Time-varying covariates for synthetic difference in differences (projected).

Kranz (2022, "Synthetic difference-in-differences with time-varying covariates") and
Stata ``sdid``'s ``covariates(..., projected)``: the covariate coefficients are
estimated once by a two-way fixed-effects regression of the outcome on the covariates
over the untreated observations (donors in every period, treated units before their
adoption), and SDID then runs on the outcome minus the covariates' fitted
contribution. Treated observations never inform the coefficients, so the adjustment
cannot absorb the effect.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from impact.errors import DataError

__all__ = ["project_covariates"]

_FloatArray = NDArray[np.float64]


def project_covariates(
    Y: _FloatArray,
    X: _FloatArray,
    untreated: NDArray[np.bool_],
    names: list[str],
) -> tuple[_FloatArray, _FloatArray]:
    """Remove the covariates' contribution from the outcome.

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcome.
    X : ndarray (N, T, K)
        Covariates.
    untreated : bool ndarray (N, T)
        Observations used to estimate the coefficients.
    names : list of str
        Covariate names (messages).

    Returns
    -------
    tuple
        ``Y - X beta`` (N, T) and ``beta`` (K,).

    Raises
    ------
    DataError
        When a covariate does not vary within units and periods over the untreated
        observations (it is absorbed by the fixed effects).
    """
    N, T, K = X.shape
    ui, ti = np.nonzero(untreated)
    n = ui.size
    # unit dummies (all), period dummies (drop the first), covariates
    D = np.zeros((n, N + T - 1 + K))
    D[np.arange(n), ui] = 1.0
    later = ti > 0
    D[np.flatnonzero(later), N + ti[later] - 1] = 1.0
    D[:, N + T - 1 :] = X[ui, ti]
    coef, *_ = np.linalg.lstsq(D, Y[ui, ti], rcond=None)
    # identification check: each covariate must keep variation after the fixed effects
    fe = D[:, : N + T - 1]
    for k in range(K):
        xk = D[:, N + T - 1 + k]
        resid = xk - fe @ np.linalg.lstsq(fe, xk, rcond=None)[0]
        if float(resid @ resid) <= 1e-10 * (1.0 + float(xk @ xk)):
            raise DataError(
                f"Covariate {names[k]!r} does not vary once unit and period effects "
                "are removed (over the untreated observations), so SDID cannot adjust "
                "for it; drop it from predictors."
            )
    beta = np.asarray(coef[N + T - 1 :], dtype=float)
    return Y - X @ beta, beta
