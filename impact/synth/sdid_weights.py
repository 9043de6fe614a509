"""Synthetic difference-in-differences: unit and time weights, and point estimates.

The Frank-Wolfe solver for the regularised unit weights ``omega`` and time weights
``lambda`` (vectorised over a batch of problems), the estimator settings of SDID, SC and
DiD, and the block-design estimates (Arkhangelsky et al. 2021, Algorithm 1). Standard
errors are in :mod:`impact.synth.sdid_inference`, staggered adoption in
:mod:`impact.synth.sdid_cohorts`; :mod:`impact.synth.sdid` gathers the public names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from impact._validation import check_option
from impact.errors import DataError, EstimationError, SpecError

__all__ = [
    "SDIDFit",
    "did_estimate",
    "sc_estimate",
    "sdid_estimate",
    "sdid_estimate_many",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

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


def _einsum_rowdot(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.asarray(np.einsum("ij,ij->i", a, b), dtype=float)


# numpy >= 2.0 has a fast row-wise dot product; older versions use einsum
_rowdot = getattr(np, "vecdot", _einsum_rowdot)


def _fw_batch(
    A: FloatArray,
    b: FloatArray,
    x: FloatArray,
    zeta2: FloatArray,
    m_eff: FloatArray,
    valid: NDArray[np.bool_] | None,
    min_decrease: FloatArray,
    max_iter: int,
) -> tuple[FloatArray, IntArray]:
    """Frank-Wolfe with exact line search for a batch of simplex ridge problems.

    Problem ``r`` minimises ``zeta2_r |x|^2 + |A_r x - b_r|^2 / m_r`` over the simplex
    (coordinates with ``valid[r] == False`` fixed at zero), i.e. the synthdid objective.
    Each problem stops on its own, after iteration ``t >= 2`` when the loss decreased by
    no more than ``min_decrease_r**2``, or at ``max_iter``.
    """
    A = np.asarray(A, dtype=float)
    R, _, n = A.shape
    x = np.array(x, dtype=float, copy=True)
    out_x = x.copy()
    out_it = np.zeros(R, dtype=np.intp)
    if max_iter <= 0 or R == 0:
        return out_x, out_it
    z2w = np.broadcast_to(np.asarray(zeta2, dtype=float), (R,)).copy()
    eta_all = np.asarray(m_eff, dtype=float) * z2w
    md2w = np.broadcast_to(np.asarray(min_decrease, dtype=float) ** 2, (R,)).copy()
    work = np.arange(R)
    Aw, bw, mw, etaw = A, np.asarray(b, dtype=float), np.asarray(m_eff, float), eta_all
    badw = None if valid is None else ~np.asarray(valid, dtype=bool)
    prev = np.full(R, np.inf)
    rows = np.arange(R)
    Ax = (Aw @ x[:, :, None])[:, :, 0]
    vdot = _rowdot
    t = 0
    while work.size:
        t += 1
        r_ = rows[: work.size]
        hg = ((Ax - bw)[:, None, :] @ Aw)[:, 0, :]
        hg += etaw[:, None] * x
        i = (hg if badw is None else np.where(badw, np.inf, hg)).argmin(axis=1)
        xi = x[r_, i]
        # direction d = e_i - x: |d|^2 = |x|^2 - 2 x_i + 1, hg.d = hg_i - hg.x
        num = vdot(x, hg) - hg[r_, i]
        derr = Aw[r_, :, i] - Ax
        den = vdot(derr, derr) + etaw * (vdot(x, x) - 2.0 * xi + 1.0)
        # den == 0 only when d == 0 or (eta == 0 and A d == 0), where num == 0 too
        step = np.minimum(np.maximum(num / (den + (den == 0.0)), 0.0), 1.0)
        x *= (1.0 - step)[:, None]
        x[r_, i] += step
        Ax += step[:, None] * derr
        err = Ax - bw
        val = z2w * vdot(x, x) + vdot(err, err) / mw
        if t >= max_iter:
            done = np.ones(work.size, dtype=bool)
        elif t >= 2:
            done = ~(prev[: work.size] - val > md2w)
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
            z2w = z2w[keep]
            md2w = md2w[keep]
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
    zeta: FloatArray,
    m_eff: FloatArray,
    valid: NDArray[np.bool_] | None,
    min_decrease: FloatArray,
    opts: _Options,
) -> tuple[FloatArray, IntArray]:
    """synthdid's two-round weight solve: FW (100 its), sparsify, FW again."""
    zeta2 = np.asarray(zeta, dtype=float) ** 2
    first = opts.max_iter_pre_sparsify if opts.sparsify else opts.max_iter
    x, it = _fw_batch(A, b, x0, zeta2, m_eff, valid, min_decrease, first)
    if opts.sparsify:
        x, it2 = _fw_batch(
            A, b, _sparsify(x), zeta2, m_eff, valid, min_decrease, opts.max_iter
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
    tuning: tuple[FloatArray, FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray, IntArray]:
    """Algorithm 1 for a batch of problems sharing ``T0`` and the options.

    Yco (R, n0, T) control outcomes (rows with ``co_valid == False`` are padding),
    ytr (R, T) treated-mean outcome. ``tuning`` = per-problem (zeta_omega,
    zeta_lambda, min_decrease), default the scalars in ``opts``. Returns att (R,),
    omega (R, n0), lambda (R, T0) and the iteration counts.
    """
    R, n0, _ = Yco.shape
    if tuning is None:
        z_o = np.full(R, opts.zeta_omega)
        z_l = np.full(R, opts.zeta_lambda)
        m_dec = np.full(R, opts.min_decrease)
    else:
        z_o, z_l, m_dec = (np.asarray(a, dtype=float) for a in tuning)
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
        lam, it_l = _solve(A_l, b_l, lam0, z_l, n_valid, None, m_dec, opts)

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
            z_o,
            np.full(R, float(T0)),
            co_valid if not co_valid.all() else None,
            m_dec,
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


def _check_matrix(Y: ArrayLike, T0: int, caller: str) -> tuple[FloatArray, int]:
    Ya = np.asarray(Y, dtype=float)
    if Ya.ndim != 2:
        raise DataError(
            f"{caller}: Y must be a 2-D array (units x periods); got {Ya.ndim} dims."
        )
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
    if not np.all(np.isfinite(Ya)):
        r, c = np.argwhere(~np.isfinite(Ya))[0]
        raise DataError(
            f"{caller}: Y has a missing or infinite value (row {r}, column {c}); "
            "synthetic DiD needs a balanced panel with complete outcomes."
        )
    return Ya, T0


def _as_mask(x: ArrayLike, n_units: int, name: str, caller: str) -> NDArray[np.bool_]:
    m = np.asarray(x)
    if m.shape[-1:] != (n_units,) or m.ndim not in (1, 2):
        raise DataError(
            f"{caller}: {name} must be a boolean vector with one entry per row of Y "
            f"({n_units}) (or a matrix of such rows); got shape {m.shape}."
        )
    if m.dtype != bool:
        if not np.all(np.isin(m, [0, 1])):
            raise DataError(f"{caller}: {name} must be boolean (or 0/1) per unit.")
        m = m.astype(bool)
    return m


def _check_inputs(
    Y: ArrayLike, treated: ArrayLike, T0: int, caller: str
) -> tuple[FloatArray, NDArray[np.bool_], int]:
    Ya, T0 = _check_matrix(Y, T0, caller)
    tr = _as_mask(treated, Ya.shape[0], "treated", caller)
    if tr.ndim != 1:
        raise DataError(
            f"{caller}: treated must be a boolean vector with one entry per row of Y "
            f"({Ya.shape[0]}); got shape {tr.shape}."
        )
    n_tr = int(tr.sum())
    if n_tr == 0:
        raise DataError(f"{caller}: no treated unit (treated is all False).")
    if n_tr == tr.size:
        raise DataError(f"{caller}: no control unit (treated is all True).")
    return Ya, tr, T0


# per estimator: omega intercept, update omega, update lambda, fixed lambda (synthdid)
_SETTINGS: dict[str, tuple[bool, bool, bool, str | None]] = {
    "sdid": (True, True, True, None),
    "sc": (False, True, False, "zero"),
    "did": (True, False, False, "uniform"),
}


def _make_options(estimator: str, noise: float) -> _Options:
    """synthdid's options for ``estimator``; the zetas are set per problem later."""
    om_int, up_o, up_l, fixed = _SETTINGS[estimator]
    return _Options(
        estimator=estimator,
        zeta_omega=1e-6 * noise if estimator == "sc" else 0.0,
        zeta_lambda=1e-6 * noise,
        omega_intercept=om_int,
        lambda_intercept=True,
        update_omega=up_o,
        update_lambda=up_l,
        fixed_lambda=fixed,
        min_decrease=1e-5 * noise,
    )


def _fit_many(
    Ya: FloatArray,
    tr: NDArray[np.bool_],
    co: NDArray[np.bool_],
    T0: int,
    estimator: str,
    caller: str,
) -> list[SDIDFit]:
    """Fit one problem per row of the (R, N) masks ``tr`` / ``co``, vectorised."""
    R = tr.shape[0]
    T = Ya.shape[1]
    n_tr = tr.sum(axis=1)
    n_co = co.sum(axis=1)
    if np.any(n_tr == 0):
        r = int(np.flatnonzero(n_tr == 0)[0])
        raise DataError(f"{caller}: problem {r} has no treated unit.")
    if np.any(n_co == 0):
        r = int(np.flatnonzero(n_co == 0)[0])
        raise DataError(f"{caller}: problem {r} has no control unit.")
    n0max = int(n_co.max())
    order = np.argsort(~co, axis=1, kind="stable")[:, :n0max]  # controls first
    co_valid = np.arange(n0max)[None, :] < n_co[:, None]
    Yco = np.where(co_valid[:, :, None], Ya[order], 0.0)
    ytr = (tr.astype(float) @ Ya) / n_tr[:, None]
    # noise level per problem: SD of the controls' pre-period first differences
    dif = np.diff(Yco[:, :, :T0], axis=2)
    dmask = np.broadcast_to(co_valid[:, :, None], dif.shape)
    cnt = n_co * (T0 - 1)
    mean = np.where(dmask, dif, 0.0).sum(axis=(1, 2)) / cnt
    ss = np.where(dmask, (dif - mean[:, None, None]) ** 2, 0.0).sum(axis=(1, 2))
    noise = np.sqrt(ss / np.maximum(cnt - 1, 1))
    noise = np.where(cnt > 1, noise, 0.0)
    eta_omega = (n_tr * (T - T0)).astype(float) ** 0.25
    if estimator == "sc":
        z_o = 1e-6 * noise
    else:
        z_o = eta_omega * noise
    z_l = 1e-6 * noise
    m_dec = 1e-5 * noise
    base = _make_options(estimator, float(noise[0]))
    att, omega, lam, it_o, it_l = _estimate_batch(
        Yco, co_valid, ytr, T0, base, None, None, (z_o, z_l, m_dec)
    )
    if not np.all(np.isfinite(att)):
        raise EstimationError(
            f"{caller}: the estimate is not finite; check Y for extreme values."
        )
    fits = []
    for r in range(R):  # packaging only; the estimation above is vectorised
        k = int(n_co[r])
        w = omega[r, :k]
        wc = w @ Yco[r, :k]
        shift = float(lam[r] @ (ytr[r, :T0] - wc[:T0]))
        opts = replace(
            base,
            zeta_omega=float(z_o[r]),
            zeta_lambda=float(z_l[r]),
            min_decrease=float(m_dec[r]),
        )
        fits.append(
            SDIDFit(
                estimator=estimator,
                att=float(att[r]),
                unit_weights=w,
                time_weights=lam[r],
                zeta=float(z_o[r]),
                zeta_lambda=float(z_l[r]),
                noise_level=float(noise[r]),
                control_index=order[r, :k],
                treated_index=np.flatnonzero(tr[r]),
                T0=T0,
                n_iter=(int(it_o[r]), int(it_l[r])),
                treated_trajectory=ytr[r],
                synthetic_trajectory=wc + shift,
                _options=opts,
                _shift=shift,
            )
        )
    return fits


def _fit(Y: ArrayLike, treated: ArrayLike, T0: int, estimator: str) -> SDIDFit:
    caller = {"sdid": "sdid_estimate", "sc": "sc_estimate", "did": "did_estimate"}[
        estimator
    ]
    Ya, tr, T0 = _check_inputs(Y, treated, T0, caller)
    return _fit_many(Ya, tr[None], ~tr[None], T0, estimator, caller)[0]


def sdid_estimate_many(
    Y: ArrayLike,
    treated: ArrayLike,
    T0: int,
    *,
    controls: ArrayLike | None = None,
    estimator: str = "sdid",
) -> list[SDIDFit]:
    """Fit many SDID / SC / DiD problems on one outcome matrix at once.

    Each row of ``treated`` (and ``controls``) defines one problem; all are solved
    together by the vectorised Frank-Wolfe solver, so e.g. a placebo-in-space run (each
    donor in turn as the treated unit) costs about as much as a single fit. Each problem
    gets its own tuning (noise level, ``zeta``) exactly as if fitted alone.

    Parameters
    ----------
    Y : array_like, shape (N, T)
        Outcomes, one row per unit, no missing values.
    treated : array_like of bool, shape (R, N)
        Treated units of each problem (a 1-D mask is one problem).
    T0 : int
        Number of pre-treatment periods, shared by all problems.
    controls : array_like of bool, shape (R, N), optional
        Control units of each problem (default: every unit not treated in that row);
        must not overlap ``treated``.
    estimator : {"sdid", "sc", "did"}, default "sdid"
        The estimator.

    Returns
    -------
    list of SDIDFit
        One fit per row, identical (to rounding) to fitting each problem alone.

    Raises
    ------
    DataError
        Bad shapes, missing outcomes, a problem without treated or control units, or
        overlapping masks.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(12, 8)).cumsum(axis=1)
    >>> placebo = np.eye(12, dtype=bool)  # each unit in turn as the treated one
    >>> fits = sdid_estimate_many(Y, placebo, T0=5)
    >>> len(fits), fits[3].treated_index.tolist()
    (12, [3])
    """
    caller = "sdid_estimate_many"
    check_option("estimator", estimator, _ESTIMATORS, caller)
    Ya, T0 = _check_matrix(Y, T0, caller)
    N = Ya.shape[0]
    tr = np.atleast_2d(_as_mask(treated, N, "treated", caller))
    if controls is None:
        co = ~tr
    else:
        co = np.atleast_2d(_as_mask(controls, N, "controls", caller))
        if co.shape != tr.shape:
            raise DataError(
                f"{caller}: controls has shape {co.shape} but treated has {tr.shape}; "
                "give one row of each per problem."
            )
        if np.any(co & tr):
            r, u = np.argwhere(co & tr)[0]
            raise DataError(
                f"{caller}: unit {u} is both treated and control in problem {r}."
            )
    return _fit_many(Ya, tr, co, T0, estimator, caller)


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
