"""Synthetic difference-in-differences under staggered adoption, cohort by cohort.

Each adoption cohort is a block design against the never-treated units; the cohort
effects are averaged with weights proportional to treated units x post-periods
(Arkhangelsky et al. 2021, Section 8; Clarke et al. 2023, Stata ``sdid``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from impact._validation import check_draws, check_option
from impact.errors import DataError, EstimationError
from impact.parallel import SeedLike, spawn_generators
from impact.synth.sdid_weights import (
    _ESTIMATORS,
    FloatArray,
    SDIDFit,
    _check_matrix,
    _fit_many,
)

__all__ = ["StaggeredSDIDFit", "sdid_staggered", "sdid_staggered_se"]

# --------------------------------------------------------------------------------------
# Staggered adoption: one block estimate per adoption cohort, N1 x T1 weighted
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class StaggeredSDIDFit:
    """Output of :func:`sdid_staggered`.

    Attributes
    ----------
    estimator : str
        ``"sdid"``, ``"sc"`` or ``"did"``.
    att : float
        Cohort effects averaged with weights ``N1_a * T1_a`` (treated units times
        post-periods of cohort ``a``), as Arkhangelsky et al. (2021, Section 8) and
        Stata ``sdid``.
    cohorts : pandas.DataFrame
        One row per cohort: ``cohort`` (first treated column), ``n_treated``,
        ``n_post``, ``weight``, ``att``.
    fits : dict
        Cohort -> :class:`SDIDFit` (row indices refer to ``Y``).
    """

    estimator: str
    att: float
    cohorts: pd.DataFrame
    fits: dict[int, SDIDFit]


def _check_adoption(
    Y: ArrayLike, adoption: ArrayLike, caller: str
) -> tuple[FloatArray, FloatArray, NDArray[np.int64]]:
    Ya = np.asarray(Y, dtype=float)
    if Ya.ndim != 2:
        raise DataError(f"{caller}: Y must be a 2-D array (units x periods).")
    ad = np.asarray(adoption, dtype=float).ravel()
    if ad.size != Ya.shape[0]:
        raise DataError(
            f"{caller}: adoption must hold one first-treated column per row of Y "
            f"({Ya.shape[0]}); got {ad.size} values."
        )
    ad = np.where(np.isnan(ad), np.inf, ad)
    finite = np.isfinite(ad)
    bad = finite & ((ad != np.round(ad)) | (ad < 2) | (ad >= Ya.shape[1]))
    if bad.any():
        u = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{caller}: unit {u} adopts at column {ad[u]:g}; adoption must be an "
            f"integer column between 2 and {Ya.shape[1] - 1} (at least 2 pre-periods "
            "and 1 post-period), or inf/NaN for never treated."
        )
    if not finite.any():
        raise DataError(f"{caller}: no treated unit (adoption is never finite).")
    if finite.all():
        raise DataError(
            f"{caller}: no never-treated unit; staggered SDID compares each cohort "
            "with the never-treated units."
        )
    return Ya, ad, np.unique(ad[finite]).astype(np.int64)


def _cohort_weights(ad: FloatArray, cohorts: NDArray[np.int64], T: int) -> FloatArray:
    n1 = np.array([(ad == a).sum() for a in cohorts], dtype=float)
    w = n1 * (T - cohorts)
    return np.asarray(w / w.sum(), dtype=float)


def sdid_staggered(
    Y: ArrayLike, adoption: ArrayLike, *, estimator: str = "sdid"
) -> StaggeredSDIDFit:
    """SDID (or SC / DiD) under staggered adoption, cohort by cohort.

    Each adoption cohort is compared with the never-treated units over all periods
    (its own ``T0`` = first treated column); the cohort effects are averaged with
    weights proportional to treated units x post-periods (Arkhangelsky et al. 2021,
    Section 8; Clarke et al. 2023, Stata ``sdid``).

    Parameters
    ----------
    Y : array_like, shape (N, T)
        Outcomes, one row per unit, no missing values.
    adoption : array_like, shape (N,)
        First treated column of each unit (0-based, at least 2); ``inf`` or ``NaN`` =
        never treated.
    estimator : {"sdid", "sc", "did"}, default "sdid"
        The block estimator applied to each cohort.

    Returns
    -------
    StaggeredSDIDFit
        Weighted ATT, the cohort table and the per-cohort fits.

    Raises
    ------
    DataError
        Bad shapes, missing outcomes, adoption too early or too late, no treated or
        no never-treated unit.
    """
    caller = "sdid_staggered"
    check_option("estimator", estimator, _ESTIMATORS, caller)
    Ya, ad, cohorts = _check_adoption(Y, adoption, caller)
    never = ~np.isfinite(ad)
    fits: dict[int, SDIDFit] = {}
    for a in cohorts:  # one vectorised block fit per cohort
        Ya_checked, T0 = _check_matrix(Ya, int(a), caller)
        tr = (ad == a)[None, :]
        fits[int(a)] = _fit_many(Ya_checked, tr, never[None, :], T0, estimator, caller)[
            0
        ]
    w = _cohort_weights(ad, cohorts, Ya.shape[1])
    atts = np.array([fits[int(a)].att for a in cohorts])
    table = pd.DataFrame(
        {
            "cohort": cohorts,
            "n_treated": [int((ad == a).sum()) for a in cohorts],
            "n_post": Ya.shape[1] - cohorts,
            "weight": w,
            "att": atts,
        }
    )
    return StaggeredSDIDFit(estimator, float(w @ atts), table, fits)


def sdid_staggered_se(
    Y: ArrayLike,
    adoption: ArrayLike,
    *,
    method: str = "placebo",
    n_reps: int = 200,
    seed: SeedLike = None,
    estimator: str = "sdid",
) -> float:
    """Placebo standard error of :func:`sdid_staggered` (Clarke et al. 2023).

    In each replication the adoption times of the treated units are given to randomly
    chosen never-treated units and the staggered estimator is re-run on the
    never-treated units only (weights re-estimated from scratch). All replications of a
    cohort are solved together by the vectorised solver.

    Parameters
    ----------
    Y : array_like, shape (N, T)
        Outcomes, one row per unit.
    adoption : array_like, shape (N,)
        First treated column of each unit; ``inf``/``NaN`` = never treated.
    method : {"placebo"}, default "placebo"
        Only the placebo method is available for staggered designs.
    n_reps : int, default 200
        Replications.
    seed : int, numpy Generator or None
        Seed; one child generator per replication.
    estimator : {"sdid", "sc", "did"}, default "sdid"
        The block estimator.

    Returns
    -------
    float
        ``sqrt((B-1)/B)`` times the SD of the placebo estimates.

    Raises
    ------
    EstimationError
        When there are not more never-treated than treated units.
    """
    caller = "sdid_staggered_se"
    check_option("method", method, ("placebo",), caller)
    check_option("estimator", estimator, _ESTIMATORS, caller)
    n_reps = check_draws("n_reps", n_reps, caller, minimum=2)
    Ya, ad, cohorts = _check_adoption(Y, adoption, caller)
    _check_matrix(Ya, int(cohorts.min()), caller)
    never_idx = np.flatnonzero(~np.isfinite(ad))
    times = np.sort(ad[np.isfinite(ad)])
    n_tr, n_co = times.size, never_idx.size
    if n_co <= n_tr:
        raise EstimationError(
            f"{caller}: the placebo standard error needs more never-treated units "
            f"({n_co}) than treated units ({n_tr})."
        )
    Yn = Ya[never_idx]
    perms = np.stack([g.permutation(n_co) for g in spawn_generators(seed, n_reps)])
    fake = np.full((n_reps, n_co), np.inf)
    np.put_along_axis(fake, perms[:, :n_tr], np.broadcast_to(times, (n_reps, n_tr)), 1)
    w = _cohort_weights(times, cohorts, Ya.shape[1])
    draws = np.zeros(n_reps)
    for k, a in enumerate(cohorts):  # loop over cohorts; replications are vectorised
        tr = fake == a
        co = ~np.isfinite(fake)
        fits = _fit_many(Yn, tr, co, int(a), estimator, caller)
        draws += w[k] * np.array([f.att for f in fits])
    return float(np.std(draws, ddof=0))
