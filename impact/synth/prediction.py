"""Prediction intervals for a synthetic control with one treated unit.

The synthetic control's counterfactual for post-period ``t`` is ``p_t'w_hat`` (``p_t``
the donors' outcomes, ``w_hat`` the simplex weights fitted to the pre-period outcome
path). The untreated outcome is ``p_t'w0 + e_t``, so the prediction error is

    Y_t(0) - p_t'w_hat = -p_t'(w_hat - w0) + e_t,

an in-sample part (from estimating the weights) and an out-of-sample part (the
post-period error).

Two ways to bound it (``e_method``):

``"placebo"`` (the default; :mod:`impact.synth.prediction_placebo`)
    Split conformal prediction with the donors as calibration units: each donor is
    fitted on the other donors as if treated, its post-period errors scaled by its
    year-to-year noise are the scores, and the interval has an exact level if the
    treated unit is exchangeable with the donors.

``"gaussian"``, ``"ls"``, ``"qreg"`` (:mod:`impact.synth.prediction_cft`)
    Cattaneo, Feng and Titiunik (2021): a simulated bound on the in-sample part plus
    a modelled bound on the out-of-sample part, reproducing scpi_pkg 4.0.0; far short
    of its level with many more donors than pre-periods.

This module holds the entry point (:func:`prediction_intervals`, which checks the
inputs and dispatches), the glue to a synth fit (:func:`synth_prediction`), the notes a
result carries and the checks of an ``inference="prediction"`` request. The result
type is in :mod:`impact.synth.prediction_bands`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from impact._validation import check_alpha, check_option, check_positive_int
from impact.synth.prediction_bands import _MIN_PRE as _MIN_PRE
from impact.synth.prediction_bands import CFT_METHODS, E_METHODS, PredictionBands
from impact.synth.prediction_bands import _check_shapes as _check_shapes
from impact.synth.prediction_cft import _average_e_bounds as _average_e_bounds
from impact.synth.prediction_cft import _check_not_degenerate as _check_not_degenerate
from impact.synth.prediction_cft import _design as _design
from impact.synth.prediction_cft import _Extremes as _Extremes
from impact.synth.prediction_cft import _insample_draws as _insample_draws
from impact.synth.prediction_cft import _out_of_sample as _out_of_sample
from impact.synth.prediction_cft import _rho as _rho
from impact.synth.prediction_cft import cft_bands
from impact.synth.prediction_placebo import _noise_scale as _noise_scale
from impact.synth.prediction_placebo import placebo_bands, placebo_errors

__all__ = [
    "CFT_METHODS",
    "E_METHODS",
    "PredictionBands",
    "placebo_errors",
    "prediction_intervals",
]


# ----------------------------------------------------------------- public entry
def prediction_intervals(
    y_pre: ArrayLike,
    Y0_pre: ArrayLike,
    Y0_post: ArrayLike,
    weights: ArrayLike | None = None,
    *,
    u_alpha: float = 0.025,
    e_alpha: float = 0.025,
    e_method: str = "placebo",
    sims: int = 200,
    rng: Any = None,
    scores: ArrayLike | None = None,
    rho_max: float = 0.2,
    progress: bool | None = None,
) -> PredictionBands:
    """Prediction intervals for a simplex synthetic control (module docstring).

    Parameters
    ----------
    y_pre : array_like (T0,)
        Treated unit's pre-period outcome.
    Y0_pre : array_like (T0, J)
        Donors' pre-period outcomes.
    Y0_post : array_like (T1, J)
        Donors' post-period outcomes.
    weights : array_like (J,), optional
        The fitted simplex weights (default: least squares on the pre-period outcome
        over the simplex, the outcome-path synthetic control).
    u_alpha, e_alpha : float, default 0.025
        CFT: levels of the in-sample and out-of-sample bounds; each interval holds the
        untreated outcome with probability at least ``1 - u_alpha - e_alpha``
        (scpi's defaults are 0.05 each, i.e. at least 90%). ``"placebo"``: one
        bound of the whole error at level ``1 - u_alpha - e_alpha``.
    e_method : {"placebo", "gaussian", "ls", "qreg"}, default "placebo"
        ``"placebo"``: donor placebo errors, exact level if the treated unit is
        exchangeable with the donors; the others are CFT's out-of-sample bounds added
        to the simulated in-sample bound, as in scpi_pkg (see the module docstring).
    sims : int, default 200
        Simulation draws of the score for the in-sample bound (CFT methods).
    rng : int, Generator or None
        Seed of the draws.
    scores : array_like (J, sims), optional
        Standard normal draws to use instead of ``rng`` (the score is
        ``sqrtm(Sigma) @ scores``, as scpi draws it); for reproducing a reference.
    rho_max : float, default 0.2
        Cap of the regularisation threshold ``rho``.
    progress : bool, optional
        Show a tqdm bar over the draws.

    Returns
    -------
    PredictionBands
        ``.table`` (one row per post-period) and ``.average``.

    Raises
    ------
    DataError
        Fewer than 5 pre-periods, shape mismatch, non-finite outcomes, a donor whose
        pre-period outcome is constant; CFT methods: an exact pre-period fit (zero
        residuals carry no error variance); ``"placebo"``: too few donors for the
        level.
    SpecError
        Invalid level, method or number of draws.
    """
    caller = "prediction_intervals"
    u_alpha = check_alpha(u_alpha, caller)
    e_alpha = check_alpha(e_alpha, caller)
    check_option("e_method", e_method, list(E_METHODS), caller)
    sims = check_positive_int("sims", sims, caller)
    y = np.asarray(y_pre, dtype=float).ravel()
    B = np.asarray(Y0_pre, dtype=float)
    P = np.asarray(Y0_post, dtype=float)
    _check_shapes(y, B, P)
    if weights is None:
        from impact.synth.weights import simplex_lsq

        w = simplex_lsq(B, y)
    else:
        w = np.asarray(weights, dtype=float).ravel()
    if e_method == "placebo":
        if scores is not None:
            from impact.errors import SpecError

            raise SpecError(
                f"{caller}: scores= are draws of CFT's in-sample bound; "
                "e_method='placebo' draws nothing. Pass e_method='gaussian', 'ls' or "
                "'qreg' with scores=."
            )
        return placebo_bands(y, B, P, w, u_alpha, e_alpha, sims, progress)
    return cft_bands(
        y,
        B,
        P,
        w,
        u_alpha=u_alpha,
        e_alpha=e_alpha,
        e_method=e_method,
        sims=sims,
        rng=rng,
        scores=scores,
        rho_max=rho_max,
        progress=progress,
    )


# ------------------------------------------------------------------ synth glue
def synth_prediction(
    design: Any,
    fit: Any,
    donors: NDArray[np.intp],
    *,
    alpha: float,
    e_method: str,
    sims: int,
    rng: Any,
    progress: bool | None = None,
) -> tuple[pd.DataFrame, tuple[float, float], PredictionBands]:
    """Per-period prediction intervals and the headline interval of a synth fit.

    ``"placebo"``: every interval holds the effect with probability ``1 - alpha``
    (to within ``1/(J + 1)``) if the treated unit is exchangeable with the donors.
    CFT methods: the level ``alpha`` is split evenly between the in-sample and the
    out-of-sample bounds, so every interval holds the effect with probability at
    least ``1 - alpha`` under the model's assumptions.

    Parameters
    ----------
    design : Design
        The fit's design.
    fit : UnitFit
        The treated unit's fit (outcome-path simplex weights).
    donors : ndarray of int
        Donor rows of the design.
    alpha : float
        One minus the (minimum) coverage.
    e_method : {"placebo", "gaussian", "ls", "qreg"}
        Error bound (module docstring).
    sims : int
        Simulation draws (CFT methods).
    rng : seed or Generator
        Seed of the draws.
    progress : bool, optional
        Progress bar.

    Returns
    -------
    tuple
        ``(intervals, (ci_low, ci_high), bands)``: the ``time, gap, low, high,
        synthetic, synthetic_low, synthetic_high`` table (one row per post-period),
        the interval for the average post-period effect and the raw bands.
    """
    Y = design.Y
    y1 = fit.y1
    Y0 = Y[donors]
    bands = prediction_intervals(
        y1[fit.pre],
        Y0[:, fit.pre].T,
        Y0[:, fit.post].T,
        fit.weights,
        u_alpha=alpha / 2,
        e_alpha=alpha / 2,
        e_method=e_method,
        sims=sims,
        rng=rng,
        progress=progress,
    )
    tab = bands.table
    y_post = y1[fit.post]
    # the synthetic path the result reports (same weights; the bands shift with it)
    shift = fit.synthetic[fit.post] - tab["synthetic"].to_numpy()
    s_low = tab["low"].to_numpy() + shift
    s_high = tab["high"].to_numpy() + shift
    intervals = pd.DataFrame(
        {
            "time": design.periods[fit.post],
            "gap": fit.gap[fit.post],
            "low": y_post - s_high,
            "high": y_post - s_low,
            "synthetic": fit.synthetic[fit.post],
            "synthetic_low": s_low,
            "synthetic_high": s_high,
        }
    )
    avg = bands.average
    a_shift = float(np.mean(shift))
    ci = (
        float(np.mean(y_post) - avg["high"] - a_shift),
        float(np.mean(y_post) - avg["low"] - a_shift),
    )
    intervals.attrs.update(
        alpha=alpha, e_method=e_method, sims=sims, rho=bands.rho, failed=bands.failed
    )
    return intervals, ci, bands


PREDICTION_NOTE = (
    "Prediction intervals from donor placebos (e_method='placebo'): every donor was "
    "fitted on the other donors as if treated and its post-period errors, scaled by "
    "its year-to-year noise, calibrate the interval (split conformal), so each "
    "interval holds the effect with probability {level:g} if the treated unit is "
    "like a random draw from the donors. It is not valid for an authority chosen "
    "because of its outcome path (e.g. a rising rate). The headline interval is for "
    "the average post-period effect; there is no standard error or p-value. "
    "Per-period intervals are in .intervals."
)

CFT_NOTE = (
    "Prediction intervals (Cattaneo, Feng and Titiunik 2021, e_method={e_method!r}): "
    "the in-sample (weights) and out-of-sample (post-period error) bounds are each at "
    "level {half:g}, so every interval holds the effect with probability at least "
    "1 - {alpha:g} if the model's assumptions hold. The headline interval is for the "
    "average post-period effect, with the period errors allowed to be perfectly "
    "correlated; there is no standard error or p-value. Per-period intervals are in "
    ".intervals."
)


MANY_DONORS_NOTE = (
    "Prediction intervals (e_method={e_method!r}) with {donors} donors and {pre} "
    "pre-periods: the weights are not identified and overfit the pre-period, whose "
    "residuals then understate the post-period error. In a Monte Carlo calibrated to "
    "the CLA panel (149 donors, 10 pre-periods) these intervals covered the effect in "
    "about 76% of periods, not the 95% promised; e_method='placebo' (the default) "
    "covered 93.5% (Monte Carlo SE 1.4)."
)


def prediction_notes(e_method: str, alpha: float, donors: int, pre: int) -> list[str]:
    """The warnings a prediction-interval result carries (what its level means).

    Parameters
    ----------
    e_method : str
        The error bound used.
    alpha : float
        One minus the level.
    donors, pre : int
        Number of donors and pre-periods.

    Returns
    -------
    list of str
    """
    if e_method == "placebo":
        return [PREDICTION_NOTE.format(level=1 - alpha)]
    notes = [CFT_NOTE.format(e_method=e_method, alpha=alpha, half=alpha / 2)]
    if donors > pre:
        notes.append(MANY_DONORS_NOTE.format(e_method=e_method, donors=donors, pre=pre))
    return notes


def check_prediction_request(
    method: str,
    treated_units: Any,
    predictors: Any,
    special_predictors: Any,
    optimize_period: Any,
    v: Any,
    demean: bool,
    e_method: str,
    sims: Any,
) -> None:
    """Refuse ``inference="prediction"`` where it is not defined, naming the fix.

    Raises
    ------
    SpecError
        For a method other than ``"abadie"``, predictors, a custom V or optimisation
        period, ``demean=True``, several treated units, an unknown ``e_method`` or a
        non-positive ``sims``.
    """
    from impact.errors import SpecError

    if method != "abadie":
        raise SpecError(
            f"inference='prediction' is not defined for method={method!r}: the "
            "Cattaneo-Feng-Titiunik intervals simulate the estimation error of simplex "
            "weights fitted to the pre-period outcome. Use method='abadie', or "
            "inference='placebo' with this method."
        )
    several = not isinstance(treated_units, (str, bytes)) and isinstance(
        treated_units, (list, tuple, set, np.ndarray, pd.Index, pd.Series)
    )
    if several and len(list(dict.fromkeys(treated_units))) > 1:
        raise SpecError(
            "inference='prediction' takes one treated unit; fit each treated unit on "
            "its own (one synth call per unit)."
        )
    other = [
        name
        for name, given in (
            ("predictors", bool(predictors)),
            ("special_predictors", bool(special_predictors)),
            ("optimize_period", optimize_period is not None),
            ("v", not (isinstance(v, str) and v in ("nested", "equal"))),
            ("demean", bool(demean)),
        )
        if given
    ]
    if other:
        raise SpecError(
            "inference='prediction' needs the outcome-path synthetic control (simplex "
            "weights fitted to every pre-period outcome, equal V): drop "
            f"{', '.join(other)}, or use inference='placebo'."
        )
    check_option("e_method", e_method, list(E_METHODS), "synth")
    check_positive_int("sims", sims, "synth")
