"""The result of a prediction-interval computation and the checks every method shares.

:class:`PredictionBands` is what :func:`impact.synth.prediction.prediction_intervals`
returns, whichever error bound it used (donor placebos in
:mod:`impact.synth.prediction_placebo`, Cattaneo-Feng-Titiunik in
:mod:`impact.synth.prediction_cft`); the input checks here are those both need.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact.errors import DataError

__all__ = ["CFT_METHODS", "E_METHODS", "PredictionBands"]

E_METHODS = ("placebo", "gaussian", "ls", "qreg")
#: the methods that reproduce scpi_pkg (Cattaneo, Feng and Titiunik 2021)
CFT_METHODS = ("gaussian", "ls", "qreg")
_F = NDArray[np.float64]
_MIN_PRE = 5


@dataclass
class PredictionBands:
    """Prediction intervals for the synthetic counterfactual of one treated unit.

    Attributes
    ----------
    table : DataFrame
        One row per post-period (columns ``synthetic, in_low, in_high, e_low, e_high,
        low, high, e_mean, e_var``). CFT methods: ``[in_low, in_high]`` covers the
        synthetic path's in-sample error only, ``[e_low, e_high]`` bounds the
        out-of-sample error and ``[low, high]`` is the prediction interval for the
        untreated outcome (in-sample plus out-of-sample bounds). ``"placebo"``: the
        donors' placebo errors contain both parts, so ``[e_low, e_high]`` bounds the
        whole prediction error, ``low = synthetic + e_low`` and the ``in_*``,
        ``e_mean`` and ``e_var`` columns are NaN.
    average : dict
        The same quantities for the average over the post-periods (CFT: its
        out-of-sample bound treats the period errors as perfectly correlated, so it is
        conservative; placebo: the donors' average errors, at the same exact level).
    rho : float
        The regularisation threshold of the local geometry (NaN for ``"placebo"``).
    draws : ndarray (sims, 2, rows)
        Simulated in-sample extremes (lower, upper) for every post-period and the
        average (last column); kept to recompute intervals at other levels (no draws
        for ``"placebo"``).
    placebo : DataFrame or None
        ``"placebo"``: one row per donor, its noise scale ``scale`` and its
        post-period prediction errors (one column per post-period, then
        ``average``), from its fit on the other donors.
    """

    table: pd.DataFrame
    average: dict[str, float]
    rho: float
    u_alpha: float
    e_alpha: float
    e_method: str
    sims: int
    draws: _F = field(repr=False)
    failed: int = 0
    placebo: pd.DataFrame | None = field(default=None, repr=False)


def _check_shapes(y: _F, B: _F, P: _F) -> None:
    if B.ndim != 2 or P.ndim != 2 or B.shape[0] != y.size or P.shape[1] != B.shape[1]:
        raise DataError(
            "prediction_intervals: Y0_pre must be (pre-periods, donors) with one row "
            "per entry of y_pre, and Y0_post (post-periods, donors) with the same "
            f"donors; got {B.shape} and {P.shape} for {y.size} pre-periods."
        )
    if y.size < _MIN_PRE:
        raise DataError(
            f"Prediction intervals need at least {_MIN_PRE} pre-treatment periods to "
            f"estimate the residual variance (got {y.size}); use a longer pre-period "
            "or inference='placebo'."
        )
    if P.shape[0] == 0:
        raise DataError("prediction_intervals: there is no post-treatment period.")
    if not (np.isfinite(y).all() and np.isfinite(B).all() and np.isfinite(P).all()):
        raise DataError(
            "prediction_intervals: outcomes contain missing or infinite values; the "
            "treated unit and every donor need complete outcomes."
        )
