"""Gardner's (2022) two-stage DiD ("did2s").

Stage one fits unit and period effects (and covariates) on the untreated cells; stage
two regresses the residualised outcome ``Y - Y_hat(0)`` on treatment indicators (one
for the overall effect; one per event time, cohort or period for the aggregations).
Without covariates in stage two, the point estimates are the imputation estimates
(:mod:`impact.did.imputation`); what differs is the variance, which is the GMM sandwich
that accounts for the estimated first stage (Gardner 2022, section 3; Butts and Gardner
2022, R Journal 14(3)): per cluster, ``sum(omega * e2) - sum(v * e1)`` with ``e1`` the
first-stage residuals and ``e2`` the second-stage residuals. Pre-period placebo cells
use their first-stage residual for both parts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from impact.did.imputation import fit_imputation_result, second_stage_residuals
from impact.did.results import DiDResult

__all__ = ["fit_did2s", "second_stage_residuals"]

FloatArray = NDArray[np.float64]


def fit_did2s(
    panel: Any,
    cidx: FloatArray,
    X: FloatArray | None,
    codes: NDArray[np.intp] | None,
    *,
    alpha: float,
    warns: list[str],
) -> DiDResult:
    """Two-stage DiD with the GMM variance (see the module docstring).

    Parameters
    ----------
    panel : Panel
        The data.
    cidx : ndarray (N,)
        Cohort index per unit (inf = never treated).
    X : ndarray (N, T, p), optional
        First-stage covariates.
    codes : ndarray of int, optional
        Cluster codes (default: units).
    alpha : float
        One minus the confidence level.
    warns : list of str
        Warnings so far.

    Returns
    -------
    DiDResult
        As :func:`impact.did.imputation.fit_imputation_result`.
    """
    return fit_imputation_result(
        panel,
        cidx,
        X,
        codes,
        method="did2s",
        alpha=alpha,
        warns=warns,
        variance="did2s",
    )
