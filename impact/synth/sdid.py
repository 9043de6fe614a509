"""Synthetic difference-in-differences, with synthetic control and DiD as special cases.

Implements Arkhangelsky, Athey, Hirshberg, Imbens and Wager (2021, AER 111(12)),
"Synthetic Difference-in-Differences", Algorithm 1 (estimate) and Algorithms 2-4
(bootstrap, jackknife and placebo standard errors), for a block design: ``N1`` treated
units adopt at the same period, after ``T0`` pre-periods.

Unit weights ``omega`` solve a ridge-penalised simplex least-squares problem that matches
the treated units' average pre-period path up to an intercept; time weights ``lambda``
match each control's post-period mean from its pre-period values, again up to an
intercept. Both are computed with the Frank-Wolfe algorithm with exact line search, the
regularisation ``zeta_omega = (N1 T1)^(1/4) sigma`` (sigma = standard deviation of the
controls' pre-period first differences), ``zeta_lambda = 1e-6 sigma``, a stopping rule on
the decrease of the penalised loss, and the two-round "sparsify" step (weights below a
quarter of the largest are zeroed after the first 100 iterations), as in the authors'
reference implementation (R package synthdid 0.0.9). The outcome-only synthetic control
(no intercept, no time weights, negligible ridge) and plain DiD (uniform weights) use the
same machinery, so the paper's Table 1 can be reproduced.

The solver is vectorised over replications: a placebo or bootstrap run solves all its
weight problems together, so 200 replications cost roughly as much Python overhead as
one fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from impact._validation import check_option, check_positive_int
from impact.errors import DataError, EstimationError, SpecError
from impact.parallel import SeedLike, spawn_generators

__all__ = [
    "SDIDFit",
    "did_estimate",
    "sc_estimate",
    "sdid_estimate",
    "sdid_se",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
Estimator = Literal["sdid", "sc", "did"]

_ESTIMATORS = ("sdid", "sc", "did")
_SE_METHODS = ("placebo", "bootstrap", "jackknife")


@dataclass(frozen=True)
class _Options:
    """Everything needed to re-run an estimator on resampled data (synthdid's opts)."""

    estimator: str
    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    lambda_intercept: bool
    update_omega: bool
    update_lambda: bool
    fixed_lambda: str | None  # "zero" | "uniform" | None (estimated)
    min_decrease: float
    max_iter: int = 10_000
    max_iter_pre_sparsify: int = 100
    sparsify: bool = True


@dataclass(frozen=True, eq=False)
class SDIDFit:
    """Output of :func:`sdid_estimate`, :func:`sc_estimate` and :func:`did_estimate`.

    Attributes
    ----------
    estimator : str
        ``"sdid"``, ``"sc"`` or ``"did"``.
    att : float
        Average effect on the treated units over the post-periods.
    unit_weights : numpy.ndarray, shape (N0,)
        Control-unit weights ``omega`` (non-negative, sum to one), in the order the
        controls appear in ``Y``.
    time_weights : numpy.ndarray, shape (T0,)
        Pre-period weights ``lambda`` (zero for SC, uniform for DiD).
    zeta : float
        Ridge regularisation of the unit weights, ``zeta_omega``.
    zeta_lambda : float
        Ridge regularisation of the time weights.
    noise_level : float
        Standard deviation of the controls' pre-period first differences (sigma).
    control_index, treated_index : numpy.ndarray of int
        Rows of ``Y`` that are controls / treated.
    T0 : int
        Number of pre-periods.
    n_iter : tuple of int
        Frank-Wolfe iterations used for (omega, lambda), 0 when a weight is fixed.
    treated_trajectory : numpy.ndarray, shape (T,)
        Mean outcome of the treated units.
    synthetic_trajectory : numpy.ndarray, shape (T,)
        ``omega`` -weighted control outcomes shifted by the time-weighted pre-period
        difference (the intercept), so that ``att`` equals the mean post-period gap.
    """

    estimator: str
    att: float
    unit_weights: FloatArray
    time_weights: FloatArray
    zeta: float
    zeta_lambda: float
    noise_level: float
    control_index: IntArray
    treated_index: IntArray
    T0: int
    n_iter: tuple[int, int]
    treated_trajectory: FloatArray
    synthetic_trajectory: FloatArray
    _options: _Options = field(repr=False)
    _shift: float = field(default=0.0, repr=False)

    @property
    def effect_curve(self) -> FloatArray:
        """Per-post-period effects ``tau_t`` (their mean is ``att``), shape (T1,)."""
        gap = self.treated_trajectory - self.synthetic_trajectory
        return np.asarray(gap[self.T0 :], dtype=float)

    @property
    def intercept(self) -> float:
        """Level shift added to the weighted controls (``lambda'`` pre-period gap)."""
        return float(self._shift)


# --------------------------------------------------------------------------------------
# Frank-Wolfe solver, vectorised over a batch of independent problems
# --------------------------------------------------------------------------------------


def _fw_batch(
    A: FloatArray,
    b: FloatArray,
    x: FloatArray,
    zeta2: float,
    m_eff: FloatArray,
    valid: NDArray[np.bool_] | None,
    min_decrease: float,
    max_iter: int,
) -> tuple[FloatArray, IntArray]:
    """Frank-Wolfe with exact line search for a batch of simplex ridge problems.

    Problem ``r`` minimises ``zeta2 |x|^2 + |A_r x - b_r|^2 / m_r`` over the simplex
    (coordinates with ``valid[r] == False`` fixed at zero), i.e. the synthdid objective.
    Each problem stops on its own, after iteration ``t >= 2`` when the loss decreased by
    no more than ``min_decrease**2``, or at ``max_iter``.
    """
    A = np.asarray(A, dtype=float)
    R, _, n = A.shape
    x = np.array(x, dtype=float, copy=True)
    out_x = x.copy()
    out_it = np.zeros(R, dtype=np.intp)
    if max_iter <= 0 or R == 0:
        return out_x, out_it
    eta_all = np.asarray(m_eff, dtype=float) * zeta2
    min_dec2 = min_decrease**2
    work = np.arange(R)
    Aw, bw, mw, etaw = A, np.asarray(b, dtype=float), np.asarray(m_eff, float), eta_all
    badw = None if valid is None else ~np.asarray(valid, dtype=bool)
    prev = np.full(R, np.inf)
    rows = np.arange(R)
    Ax = (Aw @ x[:, :, None])[:, :, 0]
    t = 0
    while work.size:
        t += 1
        nw = work.size
        r_ = rows[:nw]
        hg = (Ax - bw)[:, None, :] @ Aw
        hg = hg[:, 0, :]
        hg += etaw[:, None] * x
        if badw is None:
            i = hg.argmin(axis=1)
        else:
            i = np.where(badw, np.inf, hg).argmin(axis=1)
        d = -x
        d[r_, i] += 1.0
        derr = Aw[r_, :, i]
        derr -= Ax
        num = (hg * d).sum(axis=1)
        np.negative(num, out=num)
        den = (derr * derr).sum(axis=1) + etaw * (d * d).sum(axis=1)
        step = np.zeros(nw)
        np.divide(num, den, out=step, where=den > 0)
        np.minimum(np.maximum(step, 0.0, out=step), 1.0, out=step)
        x += step[:, None] * d
        Ax += step[:, None] * derr
        err = Ax - bw
        val = zeta2 * (x * x).sum(axis=1) + (err * err).sum(axis=1) / mw
        if t >= max_iter:
            done = np.ones(work.size, dtype=bool)
        elif t >= 2:
            done = ~(prev[: work.size] - val > min_dec2)
        else:
            done = np.zeros(work.size, dtype=bool)
        prev[: work.size] = val
        if done.any():
            out_x[work[done]] = x[done]
            out_it[work[done]] = t
            keep = ~done
            work = work[keep]
            x = x[keep]
            Ax = Ax[keep]
            Aw = Aw[keep]
            bw = bw[keep]
            mw = mw[keep]
            etaw = etaw[keep]
            prev[: work.size] = prev[: keep.size][keep]
            if badw is not None:
                badw = badw[keep]
    return out_x, out_it


def _sparsify(x: FloatArray) -> FloatArray:
    """Zero weights at or below a quarter of the largest, renormalise (row-wise)."""
    x = np.array(x, dtype=float, copy=True)
    cut = x.max(axis=1, keepdims=True) / 4.0
    x[x <= cut] = 0.0
    return x / x.sum(axis=1, keepdims=True)


def _solve(
    A: FloatArray,
    b: FloatArray,
    x0: FloatArray,
    zeta: float,
    m_eff: FloatArray,
    valid: NDArray[np.bool_] | None,
    opts: _Options,
) -> tuple[FloatArray, IntArray]:
    """synthdid's two-round weight solve: FW (100 its), sparsify, FW again."""
    zeta2 = float(zeta) ** 2
    first = opts.max_iter_pre_sparsify if opts.sparsify else opts.max_iter
    x, it = _fw_batch(A, b, x0, zeta2, m_eff, valid, opts.min_decrease, first)
    if opts.sparsify:
        x, it2 = _fw_batch(
            A, b, _sparsify(x), zeta2, m_eff, valid, opts.min_decrease, opts.max_iter
        )
        it = it + it2
    return x, it


def _sum_normalize(x: FloatArray, valid: NDArray[np.bool_]) -> FloatArray:
    """Row-wise x / sum(x); uniform over ``valid`` where a row sums to zero."""
    s = x.sum(axis=1, keepdims=True)
    uniform = valid / valid.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(s != 0, x / np.where(s != 0, s, 1.0), uniform)
    return np.asarray(out, dtype=float)


def _estimate_batch(
    Yco: FloatArray,
    co_valid: NDArray[np.bool_],
    ytr: FloatArray,
    T0: int,
    opts: _Options,
    omega_init: FloatArray | None,
    lambda_init: FloatArray | None,
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray]:
    """Algorithm 1 for a batch of problems sharing ``T0`` and the options.

    Yco (R, n0, T) control outcomes (rows with ``co_valid == False`` are padding),
    ytr (R, T) treated-mean outcome. Returns att (R,), omega (R, n0), lambda (R, T0)
    and the iteration counts.
    """
    R, n0, _ = Yco.shape
    n_valid = co_valid.sum(axis=1).astype(float)
    vmask = co_valid[:, :, None]
    pre = Yco[:, :, :T0]
    post_mean = Yco[:, :, T0:].mean(axis=2)

    # ---- time weights lambda
    it_l = np.zeros(R, dtype=np.intp)
    if opts.fixed_lambda == "zero":
        lam = np.zeros((R, T0))
    elif opts.fixed_lambda == "uniform" or not opts.update_lambda:
        lam = (
            np.full((R, T0), 1.0 / T0)
            if lambda_init is None
            else np.asarray(lambda_init, dtype=float)
        )
    else:
        A_l = np.where(vmask, pre, 0.0)
        b_l = np.where(co_valid, post_mean, 0.0)
        if opts.lambda_intercept:
            A_l = A_l - A_l.sum(axis=1, keepdims=True) / n_valid[:, None, None]
            b_l = b_l - b_l.sum(axis=1, keepdims=True) / n_valid[:, None]
            A_l = np.where(vmask, A_l, 0.0)
            b_l = np.where(co_valid, b_l, 0.0)
        lam0 = (
            np.full((R, T0), 1.0 / T0)
            if lambda_init is None
            else np.asarray(lambda_init, dtype=float)
        )
        lam, it_l = _solve(A_l, b_l, lam0, opts.zeta_lambda, n_valid, None, opts)

    # ---- unit weights omega
    it_o = np.zeros(R, dtype=np.intp)
    uniform_o = co_valid / n_valid[:, None]
    if not opts.update_omega:
        omega = uniform_o if omega_init is None else np.asarray(omega_init, float)
    else:
        A_o = np.transpose(np.where(vmask, pre, 0.0), (0, 2, 1))  # (R, T0, n0)
        b_o = ytr[:, :T0]
        if opts.omega_intercept:
            A_o = A_o - A_o.mean(axis=1, keepdims=True)
            b_o = b_o - b_o.mean(axis=1, keepdims=True)
        om0 = uniform_o if omega_init is None else np.asarray(omega_init, float)
        omega, it_o = _solve(
            A_o,
            b_o,
            om0,
            opts.zeta_omega,
            np.full(R, float(T0)),
            co_valid if not co_valid.all() else None,
            opts,
        )

    # ---- estimate: (treated - omega'controls) post mean minus its lambda-weighted pre
    d_co = np.where(co_valid, post_mean - np.einsum("rnt,rt->rn", pre, lam), 0.0)
    d_tr = ytr[:, T0:].mean(axis=1) - np.einsum("rt,rt->r", ytr[:, :T0], lam)
    att = d_tr - np.einsum("rn,rn->r", omega, d_co)
    return att, omega, lam, it_o, it_l


# --------------------------------------------------------------------------------------
# Public estimators
# --------------------------------------------------------------------------------------


def _check_inputs(
    Y: ArrayLike, treated: ArrayLike, T0: int, caller: str
) -> tuple[FloatArray, NDArray[np.bool_], int]:
    Ya = np.asarray(Y, dtype=float)
    if Ya.ndim != 2:
        raise DataError(
            f"{caller}: Y must be a 2-D array (units x periods); got {Ya.ndim} dims."
        )
    tr = np.asarray(treated)
    if tr.ndim != 1 or tr.shape[0] != Ya.shape[0]:
        raise DataError(
            f"{caller}: treated must be a boolean vector with one entry per row of Y "
            f"({Ya.shape[0]}); got shape {tr.shape}."
        )
    if tr.dtype != bool:
        if not np.all(np.isin(tr, [0, 1])):
            raise DataError(f"{caller}: treated must be boolean (or 0/1) per unit.")
        tr = tr.astype(bool)
    if isinstance(T0, bool) or not isinstance(T0, (int, np.integer)):
        raise SpecError(f"{caller}: T0 must be an integer number of pre-periods.")
    T0 = int(T0)
    n_periods = Ya.shape[1]
    if T0 < 2:
        raise DataError(
            f"{caller}: need at least 2 pre-treatment periods (T0 = {T0}); the noise "
            "level is the spread of pre-period first differences."
        )
    if T0 >= n_periods:
        raise DataError(
            f"{caller}: no post-treatment period (T0 = {T0} of {n_periods} periods); "
            "T0 must be smaller than the number of columns of Y."
        )
    n_tr = int(tr.sum())
    if n_tr == 0:
        raise DataError(f"{caller}: no treated unit (treated is all False).")
    if n_tr == tr.size:
        raise DataError(f"{caller}: no control unit (treated is all True).")
    if not np.all(np.isfinite(Ya)):
        r, c = np.argwhere(~np.isfinite(Ya))[0]
        raise DataError(
            f"{caller}: Y has a missing or infinite value (row {r}, column {c}); "
            "synthetic DiD needs a balanced panel with complete outcomes."
        )
    return Ya, tr, T0


def _make_options(
    estimator: str, Yco_pre: FloatArray, n_tr: int, n_post: int
) -> tuple[_Options, float]:
    diffs = np.diff(Yco_pre, axis=1)
    noise = float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0
    min_dec = 1e-5 * noise
    if estimator == "sdid":
        eta_omega = float(n_tr * n_post) ** 0.25
        opts = _Options(
            estimator="sdid",
            zeta_omega=eta_omega * noise,
            zeta_lambda=1e-6 * noise,
            omega_intercept=True,
            lambda_intercept=True,
            update_omega=True,
            update_lambda=True,
            fixed_lambda=None,
            min_decrease=min_dec,
        )
    elif estimator == "sc":
        opts = _Options(
            estimator="sc",
            zeta_omega=1e-6 * noise,
            zeta_lambda=1e-6 * noise,
            omega_intercept=False,
            lambda_intercept=True,
            update_omega=True,
            update_lambda=False,
            fixed_lambda="zero",
            min_decrease=min_dec,
        )
    else:
        opts = _Options(
            estimator="did",
            zeta_omega=float(n_tr * n_post) ** 0.25 * noise,
            zeta_lambda=1e-6 * noise,
            omega_intercept=True,
            lambda_intercept=True,
            update_omega=False,
            update_lambda=False,
            fixed_lambda="uniform",
            min_decrease=min_dec,
        )
    return opts, noise


def _fit(Y: ArrayLike, treated: ArrayLike, T0: int, estimator: str) -> SDIDFit:
    caller = {"sdid": "sdid_estimate", "sc": "sc_estimate", "did": "did_estimate"}[
        estimator
    ]
    Ya, tr, T0 = _check_inputs(Y, treated, T0, caller)
    co_idx = np.flatnonzero(~tr)
    tr_idx = np.flatnonzero(tr)
    Yco = Ya[co_idx]
    ytr = Ya[tr_idx].mean(axis=0)
    opts, noise = _make_options(estimator, Yco[:, :T0], tr_idx.size, Ya.shape[1] - T0)
    att, omega, lam, it_o, it_l = _estimate_batch(
        Yco[None],
        np.ones((1, co_idx.size), dtype=bool),
        ytr[None],
        T0,
        opts,
        None,
        None,
    )
    if not np.isfinite(att[0]):
        raise EstimationError(
            f"{caller}: the estimate is not finite; check Y for extreme values."
        )
    w = omega[0]
    lm = lam[0]
    wc = w @ Yco
    shift = float(lm @ (ytr[:T0] - wc[:T0]))
    fit = SDIDFit(
        estimator=estimator,
        att=float(att[0]),
        unit_weights=w,
        time_weights=lm,
        zeta=opts.zeta_omega,
        zeta_lambda=opts.zeta_lambda,
        noise_level=noise,
        control_index=co_idx,
        treated_index=tr_idx,
        T0=T0,
        n_iter=(int(it_o[0]), int(it_l[0])),
        treated_trajectory=ytr,
        synthetic_trajectory=wc + shift,
        _options=opts,
        _shift=shift,
    )
    return fit


def sdid_estimate(Y: ArrayLike, treated: ArrayLike, T0: int) -> SDIDFit:
    """Synthetic difference-in-differences estimate (Arkhangelsky et al. 2021).

    Parameters
    ----------
    Y : array_like, shape (N, T)
        Outcomes, one row per unit, columns in time order, no missing values.
    treated : array_like of bool, shape (N,)
        True for the treated units (all adopt after column ``T0 - 1``).
    T0 : int
        Number of pre-treatment periods (the first ``T0`` columns), at least 2.

    Returns
    -------
    SDIDFit
        ``att``, unit weights (controls in row order), time weights, ``zeta`` and the
        trajectories for plotting.

    Raises
    ------
    DataError
        Non-finite outcomes, no treated or no control unit, fewer than two
        pre-periods or no post-period.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(20, 10)) + np.arange(10)
    >>> Y[0, 6:] += 5.0
    >>> treated = np.arange(20) == 0
    >>> fit = sdid_estimate(Y, treated, T0=6)
    >>> bool(abs(fit.att - 5.0) < 2.0)
    True
    """
    return _fit(Y, treated, T0, "sdid")


def sc_estimate(Y: ArrayLike, treated: ArrayLike, T0: int) -> SDIDFit:
    """Outcome-only synthetic control as in synthdid's ``sc_estimate``.

    Unit weights on the simplex match the treated units' pre-period path without an
    intercept (ridge ``1e-6 sigma``, negligible); no time weights, so the effect is the
    mean post-period gap.

    Parameters
    ----------
    Y : array_like, shape (N, T)
        Outcomes, one row per unit.
    treated : array_like of bool, shape (N,)
        True for the treated units.
    T0 : int
        Number of pre-treatment periods.

    Returns
    -------
    SDIDFit
        With ``estimator == "sc"`` and zero time weights.
    """
    return _fit(Y, treated, T0, "sc")


def did_estimate(Y: ArrayLike, treated: ArrayLike, T0: int) -> SDIDFit:
    """Difference in differences of means (uniform unit and time weights).

    Parameters
    ----------
    Y : array_like, shape (N, T)
        Outcomes, one row per unit.
    treated : array_like of bool, shape (N,)
        True for the treated units.
    T0 : int
        Number of pre-treatment periods.

    Returns
    -------
    SDIDFit
        With ``estimator == "did"``, uniform weights.
    """
    return _fit(Y, treated, T0, "did")


# --------------------------------------------------------------------------------------
# Standard errors
# --------------------------------------------------------------------------------------


def _placebo_draws(Y: FloatArray, fit: SDIDFit, perms: IntArray) -> FloatArray:
    """Placebo estimates (Algorithm 4) for given permutations of the controls.

    ``perms`` (R, N0) holds positions into ``fit.control_index``; in each row the last
    ``N1`` controls play the treated units and the others are the controls, in that
    order. Weights are re-estimated with the original tuning (zeta, stopping rule),
    initialised at the original weights restricted and renormalised, as synthdid does.
    """
    opts = fit._options
    Yco_all = Y[fit.control_index]
    n1 = fit.treated_index.size
    n0 = fit.control_index.size - n1
    perms = np.asarray(perms, dtype=np.intp)
    co = perms[:, :n0]
    trp = perms[:, n0:]
    Yco = Yco_all[co]  # (R, n0, T)
    ytr = Yco_all[trp].mean(axis=1)  # (R, T)
    valid = np.ones(co.shape, dtype=bool)
    om_init = _sum_normalize(fit.unit_weights[co], valid)
    lam_init = np.broadcast_to(fit.time_weights, (perms.shape[0], fit.T0))
    att, *_ = _estimate_batch(Yco, valid, ytr, fit.T0, opts, om_init, lam_init)
    return att


def _bootstrap_draws(Y: FloatArray, fit: SDIDFit, samples: IntArray) -> FloatArray:
    """Bootstrap estimates (Algorithm 2) for given unit resamples.

    ``samples`` (B, N) index the stacked units (controls first, then treated); each row
    must contain at least one control and one treated unit.
    """
    opts = fit._options
    order = np.concatenate([fit.control_index, fit.treated_index])
    Ys = Y[order]
    n_co = fit.control_index.size
    samples = np.sort(np.asarray(samples, dtype=np.intp), axis=1)
    B, N = samples.shape
    is_co = samples < n_co
    n0b = is_co.sum(axis=1)
    # controls packed to the left (samples are sorted, controls have smaller index)
    co_valid = np.arange(N)[None, :] < n0b[:, None]
    co_rows = np.where(co_valid, samples, 0)
    Yco = np.where(co_valid[:, :, None], Ys[co_rows], 0.0)
    tr_mask = ~is_co
    ytr = np.einsum("bn,bnt->bt", tr_mask.astype(float), Ys[samples]) / tr_mask.sum(
        axis=1, keepdims=True
    )
    w_full = fit.unit_weights[np.minimum(co_rows, n_co - 1)]
    om_init = _sum_normalize(np.where(co_valid, w_full, 0.0), co_valid)
    lam_init = np.broadcast_to(fit.time_weights, (B, fit.T0))
    att, *_ = _estimate_batch(Yco, co_valid, ytr, fit.T0, opts, om_init, lam_init)
    return att


def _jackknife_draws(Y: FloatArray, fit: SDIDFit) -> FloatArray:
    """Fixed-weight leave-one-unit-out estimates (Algorithm 3), controls then treated."""
    T0 = fit.T0
    lam = fit.time_weights
    Yco = Y[fit.control_index]
    Ytr = Y[fit.treated_index]
    d_co = Yco[:, T0:].mean(axis=1) - Yco[:, :T0] @ lam
    d_tr = Ytr[:, T0:].mean(axis=1) - Ytr[:, :T0] @ lam
    w = fit.unit_weights
    n1 = d_tr.size
    # leaving out control k: weights renormalised without k
    rest = 1.0 - w
    with np.errstate(divide="ignore", invalid="ignore"):
        co_term = (w @ d_co - w * d_co) / rest
    u_co = d_tr.mean() - co_term
    # leaving out treated k: mean over the other treated units
    u_tr = (d_tr.sum() - d_tr) / (n1 - 1) - w @ d_co
    return np.concatenate([u_co, u_tr])


def sdid_se(
    Y: ArrayLike,
    treated: ArrayLike,
    T0: int,
    *,
    method: str = "placebo",
    n_reps: int = 200,
    seed: SeedLike = None,
    estimator: str = "sdid",
    fit: SDIDFit | None = None,
) -> float:
    """Standard error of the SDID, SC or DiD estimate (Arkhangelsky et al. 2021).

    Parameters
    ----------
    Y : array_like, shape (N, T)
        Outcomes, one row per unit.
    treated : array_like of bool, shape (N,)
        True for the treated units.
    T0 : int
        Number of pre-treatment periods.
    method : {"placebo", "bootstrap", "jackknife"}, default "placebo"
        ``"placebo"`` (Algorithm 4): controls are randomly relabelled as treated and the
        estimator is re-run; the only option with a single treated unit, needs more
        controls than treated units. ``"bootstrap"`` (Algorithm 2): units resampled
        with replacement, weights re-estimated; needs at least 2 treated units.
        ``"jackknife"`` (Algorithm 3): leave one unit out with the weights held fixed;
        needs at least 2 treated units (not recommended for SC).
    n_reps : int, default 200
        Placebo or bootstrap replications (ignored by the jackknife).
    seed : int, numpy Generator or None
        Seed; one child generator is spawned per replication, so replication ``r`` is
        the same whatever ``n_reps``.
    estimator : {"sdid", "sc", "did"}, default "sdid"
        Which estimator's standard error.
    fit : SDIDFit, optional
        A fit of ``estimator`` on the same data, to avoid re-estimating it.

    Returns
    -------
    float
        The standard error (``sqrt((B-1)/B) * sd`` of the replications, as synthdid).

    Raises
    ------
    EstimationError
        If the design does not support the method (too few treated or control units).
    SpecError
        On an unknown method or estimator, or ``n_reps < 2``.
    """
    check_option("method", method, _SE_METHODS, "sdid_se")
    check_option("estimator", estimator, _ESTIMATORS, "sdid_se")
    n_reps = check_positive_int("n_reps", n_reps, "sdid_se", minimum=2)
    if fit is None:
        fit = _fit(Y, treated, T0, estimator)
    elif fit.estimator != estimator:
        raise SpecError(
            f"sdid_se: the fit passed is a {fit.estimator!r} fit but estimator="
            f"{estimator!r}; pass a matching fit or none."
        )
    Ya = np.asarray(Y, dtype=float)
    n1 = fit.treated_index.size
    n0 = fit.control_index.size
    if method == "placebo":
        if n0 <= n1:
            raise EstimationError(
                f"sdid_se: the placebo standard error needs more controls ({n0}) than "
                f"treated units ({n1}); use method='bootstrap' or 'jackknife'."
            )
        gens = spawn_generators(seed, n_reps)
        perms = np.stack([g.permutation(n0) for g in gens])
        draws = _placebo_draws(Ya, fit, perms)
    elif method == "bootstrap":
        if n1 < 2:
            raise EstimationError(
                "sdid_se: the bootstrap standard error needs at least 2 treated units "
                "(1 given); use method='placebo'."
            )
        gens = spawn_generators(seed, n_reps)
        N = n0 + n1
        rows = []
        for g in gens:  # redraw until both groups are present (synthdid's rule)
            while True:
                s = g.integers(0, N, size=N)
                k = int((s < n0).sum())
                if 0 < k < N:
                    rows.append(s)
                    break
        draws = _bootstrap_draws(Ya, fit, np.stack(rows))
    else:
        if n1 < 2:
            raise EstimationError(
                "sdid_se: the jackknife standard error needs at least 2 treated units "
                "(1 given); use method='placebo'."
            )
        if int((fit.unit_weights != 0).sum()) <= 1:
            raise EstimationError(
                "sdid_se: the fixed-weight jackknife is undefined when a single "
                "control carries all the weight; use method='placebo' or 'bootstrap'."
            )
        u = _jackknife_draws(Ya, fit)
        n = u.size
        return float(np.sqrt((n - 1) / n * np.sum((u - u.mean()) ** 2)))
    if not np.all(np.isfinite(draws)):
        raise EstimationError(
            f"sdid_se: {int((~np.isfinite(draws)).sum())} {method} replications gave "
            "a non-finite estimate; check Y for extreme values."
        )
    return float(np.std(draws, ddof=0))


def _with_options(fit: SDIDFit, **changes: object) -> SDIDFit:
    """A copy of ``fit`` with some solver options changed (used in tests)."""
    return replace(fit, _options=replace(fit._options, **changes))  # type: ignore[arg-type]
