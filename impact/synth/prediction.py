"""Prediction intervals for a synthetic control with one treated unit.

The synthetic control's counterfactual for post-period ``t`` is ``p_t'w_hat`` (``p_t``
the donors' outcomes, ``w_hat`` the simplex weights fitted to the pre-period outcome
path). The untreated outcome is ``p_t'w0 + e_t``, so the prediction error is

    Y_t(0) - p_t'w_hat = -p_t'(w_hat - w0) + e_t,

an in-sample part (from estimating the weights) and an out-of-sample part (the
post-period error).

Donor placebos (``e_method="placebo"``, the default)
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

Cattaneo, Feng and Titiunik (2021, *JASA* 116(536), 1865-1880; "CFT";
``e_method="gaussian"``, ``"ls"``, ``"qreg"``)
    Bound each part with its own probability and add the bounds, so the interval holds
    ``Y_t(0)`` with probability at least ``1 - u_alpha - e_alpha`` *if the model's
    assumptions hold*:

    * in-sample: ``w_hat - w0`` lies in the set of perturbations ``delta`` of the
      weights that stay feasible and do not worsen the least-squares criterion,
      ``delta'Q delta - 2 G'delta <= 0`` with ``Q = B'B/T0`` and ``G`` the score.
      ``G`` is simulated from its Gaussian approximation ``N(0, Sigma)``, ``Sigma`` the
      HC1 variance of the score with the residuals' conditional mean removed; for each
      draw the smallest and largest ``p_t'delta`` over the set are linear programs
      with one quadratic constraint (solved exactly here: Lagrangian duality, an exact
      simplex QP per multiplier, then exact interpolation along the piecewise-linear
      solution path), and the ``u_alpha/2`` and ``1 - u_alpha/2`` quantiles over draws
      bound the error. The feasible set uses CFT's local geometry: weights below the
      regularisation threshold ``rho`` are treated as zero in the population (they may
      only grow).
    * out-of-sample: the pre-period residuals model ``e_t`` given the donors with
      weight above ``rho``: ``"gaussian"`` bounds it by its predicted mean plus or
      minus ``sqrt(2 log(2 / e_alpha))`` times its predicted scale (a sub-Gaussian
      bound), ``"ls"`` uses the empirical quantiles of the standardised residuals
      around the predicted location and scale, ``"qreg"`` quantile regressions.

    The settings follow the defaults of the authors' ``scpi_pkg`` 4.0.0
    (``u_missp=True``, ``u_sigma="HC1"``, ``u_order=1``, ``e_order=1``, no lags,
    ``rho="type-2"``, ``rho_max=0.2``, ``V`` the identity) so that the intervals
    reproduce it on the same data (``tests/synth/test_synth_prediction.py``).

    With many more donors than pre-periods these intervals fall far short of their
    level: the weights overfit the pre-period, whose residuals then understate the
    post-period error (in the CLA-calibrated Monte Carlo of
    ``tests/synth/test_synth_prediction_montecarlo.py``, 149 donors and 10
    pre-periods, the treated unit's pre-period RMSE is about 0.02 log points while its
    post-period errors are 0.05-0.11; the out-of-sample bound alone covers 27% of
    post-period errors and the full interval 76%).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from impact._validation import check_alpha, check_option, check_positive_int
from impact.errors import DataError, ImpactError
from impact.parallel import as_generator, progress_enabled

__all__ = ["CFT_METHODS", "E_METHODS", "PredictionBands", "prediction_intervals"]

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
    T0, J = B.shape
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
        return _placebo_bands(y, B, P, w, u_alpha, e_alpha, sims, progress)
    res = y - B @ w
    _check_not_degenerate(y, B, res)
    rho = _rho(res, B, w, rho_max)
    big = w > rho
    if not big.any():
        big[int(np.argmax(w))] = True
    lb = np.where(w < rho, w, 0.0)
    # in-sample: variance of the score
    u_design = _design(B[:, big], T0)
    u_mean = u_design @ np.linalg.lstsq(u_design, res, rcond=None)[0]
    df = int(np.sum(np.abs(w) >= 1e-6)) - 1
    df = min(df, T0 - 1)
    omega = (res - u_mean) ** 2 * (T0 / (T0 - df))
    if scores is None:
        gen = as_generator(rng)
        # G = B' diag(sqrt(omega)) xi / T0 has the law N(0, Sigma) of scpi's
        # sqrtm(Sigma) z, Sigma = B' diag(omega) B / T0^2
        xi = gen.standard_normal((sims, T0))
        G = (xi * np.sqrt(omega)) @ B / T0
    else:
        from scipy.linalg import sqrtm

        z = np.asarray(scores, dtype=float)
        if z.shape != (J, sims):
            raise DataError(
                f"{caller}: scores must have shape (donors, sims) = ({J}, {sims}); "
                f"got {z.shape}."
            )
        Sigma = (B.T * omega) @ B / T0**2
        G = (np.real(sqrtm(Sigma)) @ z).T
    rows = np.vstack([P, P.mean(axis=0)])
    draws, failed = _insample_draws(B / np.sqrt(T0), w, lb, G, rows, progress)
    synthetic = rows @ w
    in_lo = np.nanquantile(draws[:, 0, :], u_alpha / 2, axis=0)
    in_hi = np.nanquantile(draws[:, 1, :], 1 - u_alpha / 2, axis=0)
    # out-of-sample
    e_x = _design(B[:, big], T0)
    e_p = np.column_stack([np.ones(P.shape[0]), P[:, big]])
    if e_x.shape[1] == 1:
        e_p = e_p[:, :1]
    e_lo, e_hi, e_mean, e_var, e_scale = _out_of_sample(
        res, e_x, e_p, e_method, e_alpha
    )
    table = pd.DataFrame(
        {
            "synthetic": synthetic[:-1],
            "in_low": synthetic[:-1] + in_lo[:-1],
            "in_high": synthetic[:-1] + in_hi[:-1],
            "e_low": e_lo,
            "e_high": e_hi,
            "low": synthetic[:-1] + in_lo[:-1] + e_lo,
            "high": synthetic[:-1] + in_hi[:-1] + e_hi,
            "e_mean": e_mean,
            "e_var": e_var,
        }
    )
    average: dict[str, Any] = {
        "synthetic": float(synthetic[-1]),
        "in_low": float(synthetic[-1] + in_lo[-1]),
        "in_high": float(synthetic[-1] + in_hi[-1]),
        "e_mean": float(np.mean(e_mean)),
        "e_scale": float(np.mean(e_scale)),
        "e_method": e_method,
        "e_lows": e_lo,
        "e_highs": e_hi,
    }
    a_lo, a_hi = _average_e_bounds(
        average["e_mean"], average["e_scale"], e_alpha, average
    )
    average["low"] = average["in_low"] + a_lo
    average["high"] = average["in_high"] + a_hi
    return PredictionBands(
        table=table,
        average=average,
        rho=float(rho),
        u_alpha=u_alpha,
        e_alpha=e_alpha,
        e_method=e_method,
        sims=sims,
        draws=draws,
        failed=failed,
    )


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


def _placebo_bands(
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


def _check_not_degenerate(y: _F, B: _F, res: _F) -> None:
    """Refuse an exact pre-period fit: its residuals carry no error variance."""
    from impact.synth.placebo import noise_variance

    noise = noise_variance(np.vstack([y, B.T]))
    mspe = float(np.mean(res**2))
    if np.isfinite(noise) and mspe <= 1e-6 * noise:
        raise DataError(
            "The synthetic control reproduces the treated unit's pre-period outcome "
            f"exactly (pre-period MSPE {mspe:.3g}, below a millionth of the outcome's "
            f"year-to-year noise variance {noise:.3g}): with {B.shape[1]} donors and "
            f"{B.shape[0]} pre-periods the weights can match almost any path, and "
            "prediction intervals estimated from zero residuals would have zero "
            "width. Use fewer donors (e.g. statistical neighbours, donors=) or a "
            "longer pre-period."
        )


def _design(X: _F, T0: int) -> _F:
    """Constant plus the large-weight donors, or the constant alone if too few rows.

    scpi's rule: a design with ``p`` columns is used only when ``T0 - 10 > p``.
    """
    full = np.column_stack([np.ones(T0), X])
    if T0 - 10 <= full.shape[1]:
        return full[:, :1]
    return full


def _rho(res: _F, B: _F, w: _F, rho_max: float) -> float:
    """CFT's regularisation threshold (scpi ``rho="type-2"``, with its safeguards)."""
    T0, J = B.shape
    var = B.var(axis=0, ddof=1)
    if not np.all(var > 0):
        j = int(np.flatnonzero(~(var > 0))[0])
        raise DataError(
            f"Donor column {j} has a constant pre-period outcome; prediction "
            "intervals scale by each donor's variation. Drop that donor (donors=)."
        )
    sigma_u = float(np.sqrt(np.mean((res - res.mean()) ** 2)))
    d0 = int(np.sum(np.abs(w) >= 1e-6))
    base = np.sqrt(np.log(J) * d0 * np.log(T0)) / np.sqrt(T0)

    def rule(kind: str, cap: float) -> float:
        if kind == "type-1":
            cc = sigma_u / float(np.sqrt(var.min()))
        else:
            cc = sigma_u * float(np.sqrt(var.max())) / float(var.min())
        return min(cc * base, cap)

    rho = rule("type-2", rho_max)
    if rho < 0.001:
        rho = max(rule("type-1", 0.2), rule("type-2", 0.2))
        if rho < 0.05:
            rho = rho_max
    return float(rho)


# ------------------------------------------------------------------ in-sample
def _insample_draws(
    R: _F, w: _F, lb: _F, G: _F, rows: _F, progress: bool | None
) -> tuple[_F, int]:
    """``(sims, 2, rows)``: min and max of ``p'(w_hat - w)`` over each draw's set.

    ``w`` ranges over ``w >= lb, sum(w) = 1`` with ``(w - w_hat)'Q(w - w_hat) -
    2 G'(w - w_hat) <= 0``; the lower end is ``-max p'delta`` and the upper
    ``max -p'delta`` with ``delta = w - w_hat``.
    """
    sims = G.shape[0]
    m = rows.shape[0]
    Q = R.T @ R
    S = 1.0 - float(lb.sum())
    d0 = lb - w
    out = np.full((sims, 2, m), np.nan)
    failed = 0
    it = range(sims)
    if progress_enabled(progress) and sims * m > 2000:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="prediction intervals", leave=False)
    for i in it:
        solver = _Extremes(Q, S, d0, G[i])
        for h in range(m):
            try:
                out[i, 0, h] = -solver.maximum(rows[h])
                out[i, 1, h] = solver.maximum(-rows[h])
            except ImpactError:
                failed += 1
    return out, failed


class _Extremes:
    """``max p'delta`` over ``{delta = d0 + S u, u in simplex, ell(delta) <= 0}``.

    ``ell(delta) = delta'Q delta - 2 G'delta``. For a multiplier ``mu > 0`` the
    Lagrangian maximiser solves the simplex QP ``min u'(2Q)u/2 - (c0 + p/(mu S))'u``
    exactly (active set). The solution path is piecewise linear in ``t = 1/mu`` and
    ``ell`` rises along it, so the path is followed piece by piece from ``t = 0`` (a
    parametric active set) to the crossing ``ell = 0``, solved exactly on its piece;
    on a degenerate path ``t`` is bisected with the QP instead.
    """

    def __init__(self, Q: _F, S: float, d0: _F, G: _F) -> None:
        self.Q, self.S, self.d0, self.G = Q, S, d0, G
        self.H = 2.0 * Q
        self.c0 = (2.0 * G - 2.0 * Q @ d0) / S
        self.scale = max(float(np.abs(Q).max()), 1e-300)
        self._u0: _F | None = None

    def ell(self, u: _F) -> float:
        d = self.d0 + self.S * u
        return float(d @ self.Q @ d - 2.0 * self.G @ d)

    def _solve(self, t: float, p: _F, support: list[int]) -> _F:
        from impact.synth.weights import simplex_qp

        thr = 1e-12 * self.scale * (1.0 + t)
        u = simplex_qp(self.H, self.c0 + t * p / self.S, support, thr)
        if u is None:
            from impact.synth.abadie import _penalized_polish

            u = _penalized_polish(self.H, self.c0 + t * p / self.S, support[0])
        return np.asarray(u, dtype=float)

    def start(self) -> _F:
        """The minimiser of ``ell`` over the feasible set (the path at ``t = 0``)."""
        if self._u0 is None:
            u0 = self._solve(0.0, np.zeros(self.d0.size), [int(np.argmin(self.d0))])
            if self.ell(u0) > 1e-9 * self.scale:
                raise ImpactError("no feasible perturbation (numerical failure)")
            self._u0 = u0
        return self._u0

    def maximum(self, p: _F) -> float:
        j = int(np.argmax(p))
        vertex = np.zeros(p.size)
        vertex[j] = 1.0
        if self.ell(vertex) <= 0:
            return float(p @ (self.d0 + self.S * vertex))
        u_lo = self.start()
        value = self._follow(u_lo, p)
        if value is not None:
            return value
        # degenerate path (singular face, ties): bisect on t = 1/mu instead
        lo_t = 0.0
        hi_t = 1.0
        u_hi = self._solve(hi_t, p, _supp(u_lo))
        n = 0
        while self.ell(u_hi) <= 0:
            lo_t, u_lo = hi_t, u_hi
            hi_t *= 8.0
            u_hi = self._solve(hi_t, p, _supp(u_hi))
            n += 1
            if n > 60:
                return float(p @ (self.d0 + self.S * u_hi))
        for _ in range(100):
            if _supp(u_lo) == _supp(u_hi):
                break
            if lo_t > 0.5 * hi_t:
                mid = 0.5 * (lo_t + hi_t)
            else:
                mid = float(np.sqrt(lo_t * hi_t)) if lo_t > 0 else hi_t / 8.0
            u_mid = self._solve(mid, p, _supp(u_lo))
            if self.ell(u_mid) <= 0:
                lo_t, u_lo = mid, u_mid
            else:
                hi_t, u_hi = mid, u_mid
            if hi_t - lo_t <= 1e-13 * hi_t:
                break
        # along the segment from the feasible to the infeasible end, ell is quadratic
        d_lo = self.d0 + self.S * u_lo
        dd = self.S * (u_hi - u_lo)
        qa = float(dd @ self.Q @ dd)
        qb = float(2.0 * d_lo @ self.Q @ dd - 2.0 * self.G @ dd)
        qc = self.ell(u_lo)
        theta = 0.0
        if qa > 0:
            theta = (-qb + np.sqrt(max(qb * qb - 4.0 * qa * qc, 0.0))) / (2.0 * qa)
        elif qb > 0:
            theta = -qc / qb
        theta = float(np.clip(theta, 0.0, 1.0))
        return float(p @ (d_lo + theta * dd))

    def _follow(self, u0: _F, p: _F) -> float | None:
        """Follow the piecewise-linear path ``u(t)`` from ``t = 0`` to ``ell = 0``.

        On a support ``F`` the KKT system is linear in ``t``, so ``u_F(t) = a + t b``
        and the multipliers of the other donors are linear too; the piece ends where a
        weight reaches zero or a multiplier does (parametric active set). ``ell`` is
        quadratic on each piece, so the crossing is exact. Returns None on a singular
        face or a tie the path cannot resolve (the caller then bisects).
        """
        H, Q, G, S, d0 = self.H, self.Q, self.G, self.S, self.d0
        q = p / S
        J = p.size
        F = _supp(u0)
        t = 0.0
        eps = 1e-12
        for _ in range(4 * J + 20):
            n = len(F)
            K = np.zeros((n + 1, n + 1))
            K[:n, :n] = H[F][:, F]
            K[:n, n] = 1.0
            K[n, :n] = 1.0
            rhs = np.zeros((n + 1, 2))
            rhs[:n, 0] = self.c0[F]
            rhs[n, 0] = 1.0
            rhs[:n, 1] = q[F]
            try:
                sol = np.linalg.solve(K, rhs)
            except np.linalg.LinAlgError:
                return None
            if not np.all(np.isfinite(sol)) or np.abs(sol[:n]).max() > 1e8:
                return None  # (nearly) singular face: no unique path
            A = np.zeros(J)
            Bv = np.zeros(J)
            A[F], Bv[F] = sol[:n, 0], sol[:n, 1]
            la = H @ A - self.c0 + sol[n, 0]
            lb = H @ Bv - q + sol[n, 1]
            out = np.ones(J, dtype=bool)
            out[F] = False
            # next breakpoint after t: a weight reaches zero or a multiplier does
            hit_w = np.full(J, np.inf)
            down = (~out) & (Bv < 0)
            hit_w[down] = -A[down] / Bv[down]
            hit_m = np.full(J, np.inf)
            falls = out & (lb < -eps * (1 + np.abs(la)))
            hit_m[falls] = -la[falls] / lb[falls]
            hit_w[hit_w < t] = t
            hit_m[hit_m < t] = t
            s_w, s_m = float(hit_w.min()), float(hit_m.min())
            s_next = min(s_w, s_m)
            # ell on this piece: delta(s) = e + s f
            e = d0 + S * A
            f = S * Bv
            Qf = Q @ f
            qa = float(f @ Qf)
            qb = float(2.0 * e @ Qf - 2.0 * G @ f)
            qc = float(e @ Q @ e - 2.0 * G @ e)
            end = s_next if np.isfinite(s_next) else None
            if end is None or qa * end * end + qb * end + qc > 0:
                # the crossing lies on this piece, after t
                if qa > 0:
                    disc = max(qb * qb - 4.0 * qa * qc, 0.0)
                    root = (-qb + np.sqrt(disc)) / (2.0 * qa)
                elif qb > 0:
                    root = -qc / qb
                else:
                    return None
                if end is not None:
                    root = min(root, end)
                root = max(root, t)
                return float(p @ (e + root * f))
            t = s_next
            if s_w <= s_m:
                k = int(np.argmin(hit_w))
                F = [i for i in F if i != k]
                if not F:
                    return None
            else:
                k = int(np.argmin(hit_m))
                F = sorted([*F, k])
        return None


def _supp(u: _F) -> list[int]:
    return [int(i) for i in np.flatnonzero(u > 0)]


# --------------------------------------------------------------- out-of-sample
def _ols(y: _F, X: _F, Xp: _F) -> tuple[_F, _F]:
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    return X @ beta, Xp @ beta


def _qreg(y: _F, X: _F, Xp: _F, q: float) -> _F:
    import statsmodels.api as sm

    try:
        fit = sm.QuantReg(y, X).fit(q=q)
    except ValueError as err:
        raise DataError(
            "The design modelling the out-of-sample error is not of full rank; use "
            "e_method='gaussian' or fewer donors."
        ) from err
    return np.asarray(fit.predict(Xp), dtype=float)


def _out_of_sample(
    res: _F, X: _F, Xp: _F, e_method: str, e_alpha: float
) -> tuple[_F, _F, _F, _F, _F]:
    """Bounds on the post-period error from the pre-period residuals.

    Returns ``(low, high, mean, variance, scale)`` per post-period.
    """
    import warnings

    a = e_alpha / 2
    if e_method == "qreg" and X.shape[1] == 1:
        lo = np.full(Xp.shape[0], np.quantile(res, a))
        hi = np.full(Xp.shape[0], np.quantile(res, 1 - a))
        nan = np.full(Xp.shape[0], np.nan)
        return lo, hi, nan, nan, nan
    if e_method == "qreg":
        nan = np.full(Xp.shape[0], np.nan)
        return _qreg(res, X, Xp, a), _qreg(res, X, Xp, 1 - a), nan, nan, nan
    fit, mean = _ols(res, X, Xp)
    with np.errstate(divide="ignore"):
        log_sq = np.log((res - fit) ** 2)
    if not np.all(np.isfinite(log_sq)):
        raise DataError(
            "A pre-period residual of the synthetic control is exactly zero: the "
            "pre-period is fitted perfectly and its error variance cannot be "
            "estimated. Use fewer donors or a longer pre-period."
        )
    fit_v, var = _ols(log_sq, X, Xp)
    var = np.exp(var)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iqr = np.abs(_qreg(res - fit, X, Xp, 0.75) - _qreg(res - fit, X, Xp, 0.25))
    sig = np.minimum(np.sqrt(var), iqr / 1.34)
    if e_method == "gaussian":
        eps = np.sqrt(-2.0 * np.log(a)) * sig
        return mean - eps, mean + eps, mean, var, sig
    # location-scale: empirical quantiles of the standardised residuals
    z = (res - fit) / np.sqrt(np.exp(fit_v))
    lo = mean + sig * np.quantile(z, a)
    hi = mean + sig * np.quantile(z, 1 - a)
    return lo, hi, mean, sig**2, sig


def _average_e_bounds(
    mean: float, scale: float, e_alpha: float, avg: dict[str, Any]
) -> tuple[float, float]:
    """Out-of-sample bound for the mean post-period error.

    The scale of the mean error is at most the mean of the scales (equality when
    the errors are perfectly correlated), so this bound is conservative.
    """
    if avg.get("e_method", "gaussian") == "gaussian":
        eps = np.sqrt(-2.0 * np.log(e_alpha / 2)) * scale
        return float(mean - eps), float(mean + eps)
    # other methods: the mean of the per-period bounds (comonotone errors)
    return float(np.mean(avg["e_lows"])), float(np.mean(avg["e_highs"]))


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
