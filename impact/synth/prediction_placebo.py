"""Split-conformal prediction intervals from donor placebos (``e_method="placebo"``).

Each donor in turn is fitted on the other donors over the same pre-periods, as if
it were treated (Abadie, Diamond and Hainmueller 2010), and its post-period
prediction errors are recorded; they contain both parts of the error, at every
horizon. Each error is divided by the donor's own year-to-year noise scale
``s_j = sqrt(var(diff(y_pre)) / 2)`` (a normalised conformity score: Lei, G'Sell,
Rinaldo, Tibshirani and Wasserman 2018, *JASA* 113(523), 1094-1111, section
5.2), so that small, noisy authorities get wider intervals and large ones
narrower. The interval is ``synthetic +/- s_treated * q``, ``q`` the
``ceil((1 - alpha)(J + 1))``-th smallest of the ``J`` absolute scores (split
conformal prediction with the donors as the calibration units). If the treated
unit is exchangeable with the donors (as if drawn at random from them), its score
is equally likely to take any rank among the ``J + 1``, so the interval holds the
untreated outcome with probability between ``1 - alpha`` and
``1 - alpha + 1/(J + 1)``: an exact level, not a bound. (The placebos are fitted
without the treated unit, on ``J - 1`` donors instead of ``J``; the difference is
negligible with many donors.) The guarantee is marginal over which unit is treated
and says nothing about an adopter selected on its outcome path. Needs at least
``ceil(1 / alpha) - 1`` donors (19 at ``alpha = 0.05``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.errors import DataError
from impact.parallel import progress_enabled
from impact.synth.prediction_bands import _F, PredictionBands

__all__ = ["placebo_bands", "placebo_errors"]


def _noise_scale(Y_pre: _F) -> _F:
    """Each row's year-to-year noise scale ``sqrt(var(diff) / 2)``, floored.

    The floor (a thousandth of the median scale) keeps a unit with a perfectly linear
    pre-period from getting a zero scale; it is the same function of every unit, so
    the scores stay exchangeable.
    """
    s = np.sqrt(np.var(np.diff(Y_pre, axis=1), axis=1, ddof=1) / 2)
    mid = float(np.median(s))
    if not mid > 0:
        raise DataError(
            "e_method='placebo' scales each unit's errors by its year-to-year "
            "variation, but most units' pre-period outcomes change by a constant "
            "amount every period; use e_method='gaussian'."
        )
    return np.maximum(s, 1e-3 * mid)


def placebo_errors(B: _F, P: _F, progress: bool | None = None) -> _F:
    """``(J, T1)`` post-period errors of each donor fitted on the other donors.

    Parameters
    ----------
    B : ndarray (T0, J)
        Donors' pre-period outcomes.
    P : ndarray (T1, J)
        Donors' post-period outcomes.
    progress : bool, optional
        Show a tqdm bar over the donors.

    Returns
    -------
    ndarray (J, T1)
        ``P[:, j] - P[:, others] @ w_j``, ``w_j`` the simplex least-squares weights of
        donor ``j`` on the others over the pre-period.
    """
    from impact.synth.weights import simplex_lsq

    J = B.shape[1]
    out = np.empty((J, P.shape[0]))
    it: Any = range(J)
    if progress_enabled(progress) and J > 50:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="donor placebos", leave=False)
    for j in it:
        others = np.r_[0:j, j + 1 : J]
        wj = simplex_lsq(B[:, others], B[:, j])
        out[j] = P[:, j] - P[:, others] @ wj
    return out


def placebo_bands(
    y: _F,
    B: _F,
    P: _F,
    w: _F,
    u_alpha: float,
    e_alpha: float,
    sims: int,
    progress: bool | None,
) -> PredictionBands:
    """Split-conformal intervals with the donor placebos as calibration units."""
    T0, J = B.shape
    alpha = u_alpha + e_alpha
    if not alpha < 1:
        raise DataError(
            f"e_method='placebo' bounds the whole error at level 1 - u_alpha - "
            f"e_alpha; got u_alpha + e_alpha = {alpha:g}."
        )
    k = int(np.ceil((1 - alpha) * (J + 1) - 1e-9))
    if k > J:
        need = int(np.ceil(1 / alpha - 1e-9)) - 1
        raise DataError(
            f"e_method='placebo' with {J} donors cannot bound the error at level "
            f"{1 - alpha:g}: the treated unit's error is one of {J + 1} exchangeable "
            f"errors, so the interval needs at least {need} donors. Use a larger "
            "alpha, more donors, or e_method='gaussian' (which does not reach its "
            "level with many donors per pre-period)."
        )
    scale = _noise_scale(np.vstack([y, B.T])[:, :T0])
    s_t, s_d = float(scale[0]), scale[1:]
    err = placebo_errors(B, P, progress)
    err = np.column_stack([err, err.mean(axis=1)])
    q = np.sort(np.abs(err) / s_d[:, None], axis=0)[k - 1]
    half = s_t * q
    rows = np.vstack([P, P.mean(axis=0)])
    synthetic = rows @ w
    m = P.shape[0]
    nan = np.full(m, np.nan)
    table = pd.DataFrame(
        {
            "synthetic": synthetic[:-1],
            "in_low": nan,
            "in_high": nan,
            "e_low": -half[:-1],
            "e_high": half[:-1],
            "low": synthetic[:-1] - half[:-1],
            "high": synthetic[:-1] + half[:-1],
            "e_mean": nan,
            "e_var": nan,
        }
    )
    average: dict[str, Any] = {
        "synthetic": float(synthetic[-1]),
        "in_low": float("nan"),
        "in_high": float("nan"),
        "e_mean": float("nan"),
        "e_scale": s_t,
        "e_method": "placebo",
        "e_lows": -half[:-1],
        "e_highs": half[:-1],
        "low": float(synthetic[-1] - half[-1]),
        "high": float(synthetic[-1] + half[-1]),
    }
    placebo = pd.DataFrame(err, columns=[*range(1, m + 1), "average"])
    placebo.insert(0, "scale", s_d)
    return PredictionBands(
        table=table,
        average=average,
        rho=float("nan"),
        u_alpha=u_alpha,
        e_alpha=e_alpha,
        e_method="placebo",
        sims=sims,
        draws=np.empty((0, 2, m + 1)),
        placebo=placebo,
    )
