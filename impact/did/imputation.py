"""Imputation DiD (Borusyak, Jaravel and Spiess 2024) and the shared imputation engine.

Unit and period effects (and covariate slopes) are fitted by weighted least squares on
the untreated cells only; the untreated outcome of every treated cell is imputed from
them, and each treated cell's effect is ``tau_it = Y_it - Y_hat_it(0)``. Every reported
estimate (an ATT(g,t) cell, an event-time or overall average, a pre-period placebo
coefficient) is a weighted sum ``sum(omega * tau)`` and therefore linear in Y:
``estimate = sum(A * Y)`` with ``A = omega - v``, where ``v`` carries ``omega`` back
through the fixed-effects projection (BJS 2024, eq. 5). The same ``A`` gives

- the analytic variance: per-cluster sums of ``A * e`` with residuals ``e`` (the
  first-stage residuals on untreated cells; on treated cells ``tau - tau_tilde``, the
  BJS Theorem 3 conservative choice, or ``tau - theta`` for Gardner's two-stage GMM
  variance, see :mod:`impact.did.did2s`), and
- the few-treated inference (``A`` for the wild bootstrap; the batch function below
  re-fits the imputation for B cohort re-assignments at once for permutation).

The fixed-effects normal equations on an arbitrary set of cells are reduced to a
T x T system (the unit effects are concentrated out), solved in a batch over the
leading axis, so no (N + T) x (N + T) matrix is formed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from impact.did.results import DiDResult, _Linear
from impact.errors import DataError, EstimationError, SpecError

__all__ = [
    "ImputationFit",
    "cell_functionals",
    "fit_imputation_result",
    "imputation_batch",
    "impute",
    "solve_two_way",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def solve_two_way(
    m: FloatArray, r_unit: FloatArray, r_time: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Solve the two-way fixed-effects normal equations on weighted cells.

    Finds ``alpha`` (unit) and ``gamma`` (period) with
    ``sum_t m_it (alpha_i + gamma_t) = r_unit_i`` and
    ``sum_i m_it (alpha_i + gamma_t) = r_time_t``, for a batch of problems.

    Parameters
    ----------
    m : ndarray (..., N, T)
        Cell weights (0 = cell not used).
    r_unit : ndarray (..., N)
        Right-hand side of the unit equations.
    r_time : ndarray (..., T)
        Right-hand side of the period equations (same total as ``r_unit``).

    Returns
    -------
    alpha : ndarray (..., N)
        Unit effects (0 for units without any used cell).
    gamma : ndarray (..., T)
        Period effects (0 for periods without any used cell), normalised to sum to
        zero over the used periods.
    """
    n_i = m.sum(axis=-1)
    c_t = m.sum(axis=-2)
    inv_n = np.divide(1.0, n_i, out=np.zeros_like(n_i), where=n_i > 0)
    mw = m * inv_n[..., :, None]
    S = -np.einsum("...it,...is->...ts", mw, m)
    used = c_t > 0
    diag = np.where(used, c_t, 1.0)
    idx = np.arange(m.shape[-1])
    S[..., idx, idx] += diag
    u = used.astype(float)
    scale = np.maximum(c_t.mean(axis=-1), 1e-300)[..., None, None]
    S += scale * u[..., :, None] * u[..., None, :]
    rhs = r_time - np.einsum("...it,...i->...t", m, r_unit * inv_n)
    rhs = np.where(used, rhs, 0.0)
    gamma = np.linalg.solve(S, rhs[..., None])[..., 0]
    alpha = (r_unit - np.einsum("...it,...t->...i", m, gamma)) * inv_n
    return alpha, gamma


def _solve_two_way_shared(
    m: FloatArray, r_unit: FloatArray, r_time: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """:func:`solve_two_way` for K right-hand sides sharing one weight matrix.

    The period system is built and factorised once (not once per functional).

    Parameters
    ----------
    m : ndarray (N, T)
        Cell weights.
    r_unit : ndarray (K, N)
        Right-hand sides of the unit equations.
    r_time : ndarray (K, T)
        Right-hand sides of the period equations.

    Returns
    -------
    alpha : ndarray (K, N)
    gamma : ndarray (K, T)
    """
    n_i = m.sum(axis=-1)
    c_t = m.sum(axis=-2)
    inv_n = np.divide(1.0, n_i, out=np.zeros_like(n_i), where=n_i > 0)
    S = -((m * inv_n[:, None]).T @ m)
    used = c_t > 0
    idx = np.arange(m.shape[-1])
    S[idx, idx] += np.where(used, c_t, 1.0)
    u = used.astype(float)
    S += max(float(c_t.mean()), 1e-300) * np.outer(u, u)
    rhs = r_time - (r_unit * inv_n[None, :]) @ m
    rhs = np.where(used[None, :], rhs, 0.0)
    gamma = np.linalg.solve(S, rhs.T).T
    alpha = (r_unit - gamma @ m.T) * inv_n[None, :]
    return alpha, gamma


@dataclass
class ImputationFit:
    """The first stage of an imputation estimator.

    Attributes
    ----------
    tau : ndarray (N, T)
        ``Y - Y_hat(0)``: the imputed effect on treated cells, the first-stage residual
        on fitted cells (NaN where ``Y_hat(0)`` is not identified).
    fit_mask : ndarray of bool (N, T)
        Cells the untreated model is fitted on.
    m : ndarray (N, T)
        Regression weight of each fitted cell (0 elsewhere).
    Xr : ndarray (N, T, p) or None
        Covariates net of the fixed effects fitted on ``fit_mask``.
    xtx_inv : ndarray (p, p) or None
        Inverse of the weighted cross-product of ``Xr`` on fitted cells.
    beta : ndarray (p,) or None
        Covariate slopes.
    identified : ndarray of bool (N, T)
        Cells whose ``Y_hat(0)`` is identified (unit and period both seen untreated).
    """

    tau: FloatArray
    fit_mask: BoolArray
    m: FloatArray
    Xr: FloatArray | None
    xtx_inv: FloatArray | None
    beta: FloatArray | None
    identified: BoolArray


def _fe_residual(m: FloatArray, Z: FloatArray) -> FloatArray:
    """``Z`` minus its two-way fixed-effects fit on the weighted cells ``m``."""
    alpha, gamma = solve_two_way(m, (m * Z).sum(axis=1), (m * Z).sum(axis=0))
    return np.asarray(Z - alpha[:, None] - gamma[None, :], dtype=float)


def impute(
    Y: FloatArray,
    fit_mask: BoolArray,
    W: FloatArray | None = None,
    X: FloatArray | None = None,
    names: list[str] | None = None,
) -> ImputationFit:
    """Fit unit and period effects (and covariates) on ``fit_mask`` and impute Y(0).

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcome.
    fit_mask : ndarray of bool (N, T)
        Cells assumed untreated (the first-stage sample).
    W : ndarray (N, T), optional
        Regression weights.
    X : ndarray (N, T, p), optional
        Covariates with common slopes.
    names : list of str, optional
        Covariate names (for error messages).

    Returns
    -------
    ImputationFit
        Effects, residuals and what the linear-functional weights need.
    """
    w = np.ones(Y.shape) if W is None else W
    m = np.where(fit_mask, w, 0.0)
    identified = (m.sum(axis=1) > 0)[:, None] & (m.sum(axis=0) > 0)[None, :]
    Yr = _fe_residual(m, Y)
    Xr = beta = xtx_inv = None
    if X is not None and X.shape[2]:
        Xr = np.stack([_fe_residual(m, X[:, :, j]) for j in range(X.shape[2])], axis=2)
        Xm = Xr * m[:, :, None]
        xtx = np.einsum("itp,itq->pq", Xm, Xr)
        raw = np.einsum("itp,it->p", (X - X.mean(axis=(0, 1))) ** 2, m)
        absorbed = np.diag(xtx) <= 1e-10 * np.maximum(raw, 1e-300)
        if absorbed.any():
            j = int(np.flatnonzero(absorbed)[0])
            label = names[j] if names and j < len(names) else f"number {j + 1}"
            raise SpecError(
                f"Covariate {label!r} does not vary within units over the "
                "untreated periods, so the unit effects absorb it: the imputation "
                "model uses time-varying covariates only. Drop it from covariates= "
                "(or use method='etwfe', which interacts covariates with the cells)."
            )
        try:
            xtx_inv = np.linalg.inv(xtx)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(
                "The covariates are collinear with the unit and period effects on the "
                "untreated cells; drop the time-invariant or redundant covariates."
            ) from exc
        beta = xtx_inv @ np.einsum("itp,it->p", Xm, Yr)
        Yr = Yr - Xr @ beta
    tau = np.where(identified, Yr, np.nan)
    return ImputationFit(tau, fit_mask, m, Xr, xtx_inv, beta, identified)


def cell_functionals(fit: ImputationFit, omega: FloatArray) -> FloatArray:
    """Weights ``A`` with ``sum(omega * tau) = sum(A * Y)`` for each functional.

    Parameters
    ----------
    fit : ImputationFit
        The first stage.
    omega : ndarray (K, N, T)
        Weights of each functional on the cells (zero where not identified).

    Returns
    -------
    ndarray (K, N, T)
        ``omega - v``: ``v`` spreads each functional over the fitted cells.
    """
    m = fit.m
    alpha, gamma = _solve_two_way_shared(m, omega.sum(axis=2), omega.sum(axis=1))
    A = omega - m[None] * (alpha[:, :, None] + gamma[:, None, :])
    if fit.Xr is not None and fit.xtx_inv is not None:
        c = np.einsum("knt,ntp->kp", omega, fit.Xr)
        A = A - np.einsum("nt,ntp,pq,kq->knt", m, fit.Xr, fit.xtx_inv, c)
    return np.asarray(A, dtype=float)


def imputation_batch(
    Y: FloatArray,
    cidx: FloatArray,
    W: FloatArray | None = None,
    *,
    control: str = "notyet",
) -> FloatArray:
    """Overall imputation ATT for B cohort assignments at once (no covariates).

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcome.
    cidx : ndarray (B, N)
        Cohort index per assignment and unit (inf = never treated).
    W : ndarray (N, T), optional
        Regression weights (also the weights of the treated cells in the average).
    control : {"notyet", "never"}
        First-stage sample: every untreated cell, or the never-treated units plus
        each treated unit's period before adoption (Wooldridge's never-treated ETWFE
        and Callaway-Sant'Anna's simple ATT with never-treated comparisons).

    Returns
    -------
    ndarray (B,)
        Weighted mean of ``Y - Y_hat(0)`` over the identified treated cells.
    """
    n_t = Y.shape[1]
    t = np.arange(n_t)[None, None, :]
    c = cidx[:, :, None]
    treated = t >= c
    fit = _fit_mask(cidx, n_t, control)
    w = np.ones(Y.shape) if W is None else W
    m = np.where(fit, w[None], 0.0)
    mY = m * Y[None]
    alpha, gamma = solve_two_way(m, mY.sum(axis=2), mY.sum(axis=1))
    ok = treated & (m.sum(axis=2) > 0)[:, :, None] & (m.sum(axis=1) > 0)[:, None, :]
    om = np.where(ok, w[None], 0.0)
    resid = Y[None] - alpha[:, :, None] - gamma[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((om * resid).sum(axis=(1, 2)) / om.sum(axis=(1, 2)))


def _fit_mask(cidx: FloatArray, n_t: int, control: str) -> BoolArray:
    """First-stage cells for cohort indices of shape (..., N)."""
    t = np.arange(n_t)
    c = np.asarray(cidx)[..., None]
    if control == "never":
        return np.asarray(~np.isfinite(c) | (t == c - 1))
    return np.asarray(t < c)


# ---------------------------------------------------------------- result building
@dataclass
class _Cells:
    """Cohort x period cells of an imputation estimator."""

    gidx: NDArray[np.intp]
    tidx: NDArray[np.intp]
    weight: FloatArray  # (K, N): cell k's weight on unit i in period tidx[k]; sums to 1
    size: FloatArray  # (K,) total weight of the cell
    n_units: NDArray[np.intp]
    post: BoolArray

    def members(self, k: int) -> NDArray[np.intp]:
        """Units with positive weight in cell ``k`` (all in period ``tidx[k]``)."""
        return np.flatnonzero(self.weight[k] > 0)

    def omega(self, n_t: int) -> FloatArray:
        """The dense weights (K, N, T) of the cells (for small problems and tests)."""
        out = np.zeros((*self.weight.shape, n_t))
        out[np.arange(len(self.tidx)), :, self.tidx] = self.weight
        return out


def _cells(
    cidx: FloatArray, fit: ImputationFit, w: FloatArray, *, leads: bool
) -> _Cells:
    """One functional per (cohort, period) cell: treated cells, and with ``leads`` the
    treated cohorts' fitted pre-adoption cells (placebo coefficients)."""
    n, n_t = fit.tau.shape
    rows_g, rows_t, weights, sizes, counts = [], [], [], [], []
    for g in np.unique(cidx[np.isfinite(cidx)]).astype(int):
        members = cidx == g
        for t in range(n_t):
            if t < g and not (leads and fit.fit_mask[members, t].all()):
                continue
            sel = members & fit.identified[:, t]
            if not sel.any():
                continue
            om = np.where(sel, w[:, t], 0.0)
            total = om.sum()
            if total <= 0:
                continue
            rows_g.append(g)
            rows_t.append(t)
            weights.append(om / total)
            sizes.append(total)
            counts.append(int(sel.sum()))
    gidx = np.array(rows_g, dtype=np.intp)
    tidx = np.array(rows_t, dtype=np.intp)
    return _Cells(
        gidx,
        tidx,
        np.array(weights, dtype=float).reshape(len(rows_g), n),
        np.array(sizes, dtype=float),
        np.array(counts, dtype=np.intp),
        tidx >= gidx,
    )


@dataclass
class _Functionals:
    """``A_k = omega_k - v_k`` of each cell, kept in factored form (no (K, N, T) array).

    ``A_k = omega_k - m * (alpha_k[:, None] + gamma_k[None, :] + Xr @ b_k)`` with
    ``omega_k`` the cell's weights (one period), so sums of ``A_k * Z`` over the panel
    reduce to (N, T) products.
    """

    cells: _Cells
    m: FloatArray  # (N, T)
    alpha: FloatArray  # (K, N)
    gamma: FloatArray  # (K, T)
    Xr: FloatArray | None  # (N, T, p)
    b: FloatArray | None  # (K, p)

    @classmethod
    def of(cls, fit: ImputationFit, cells: _Cells) -> _Functionals:
        """The functionals of ``cells`` for the first stage ``fit``."""
        weight, tidx = cells.weight, cells.tidx
        r_time = np.zeros((len(tidx), fit.m.shape[1]))
        r_time[np.arange(len(tidx)), tidx] = weight.sum(axis=1)
        alpha, gamma = _solve_two_way_shared(fit.m, weight, r_time)
        b = None
        if fit.Xr is not None and fit.xtx_inv is not None:
            c = np.einsum("ki,ikp->kp", weight, fit.Xr[:, tidx, :])
            b = c @ fit.xtx_inv.T
        return cls(cells, fit.m, alpha, gamma, fit.Xr, b)

    def unit_sums(self, Z: FloatArray) -> FloatArray:
        """``sum_t A_k[i, t] * Z[i, t]`` for every unit and cell: (N, K)."""
        mZ = self.m * Z
        out = self.cells.weight.T * Z[:, self.cells.tidx]
        out = out - self.alpha.T * mZ.sum(axis=1)[:, None] - mZ @ self.gamma.T
        if self.Xr is not None and self.b is not None:
            out = out - np.einsum("nt,ntp->np", mZ, self.Xr) @ self.b.T
        return np.asarray(out, dtype=float)

    def dot(self, Z: FloatArray) -> FloatArray:
        """``sum(A_k * Z)`` for every cell: (K,)."""
        return np.asarray(self.unit_sums(Z).sum(axis=0), dtype=float)


def cluster_scores(
    A: FloatArray | _Functionals,
    resid: FloatArray,
    codes: NDArray[np.intp] | None,
) -> FloatArray:
    """Per-cluster sums of ``A * resid`` for each functional: (G, K)."""
    r = np.nan_to_num(resid)
    if isinstance(A, _Functionals):
        unit = A.unit_sums(r)
    else:
        unit = np.einsum("knt,nt->nk", A, r)
    if codes is None:
        return unit
    out = np.zeros((int(codes.max()) + 1, unit.shape[1]))
    np.add.at(out, codes, unit)
    return out


def bjs_residuals(fit: ImputationFit, cells: _Cells, w: FloatArray) -> FloatArray:
    """Residuals of the BJS (2024, Theorem 3) conservative variance.

    Fitted cells keep their first-stage residual; a treated cell's effect is centred
    on ``tau_tilde``, its cohort x period average weighted by ``w**2`` (the form R
    ``didimputation`` and diff-diff use for the cohort x horizon partition).
    """
    e = np.where(fit.fit_mask, fit.tau, 0.0)
    for k in np.flatnonzero(cells.post):
        sel = (cells.members(int(k)), cells.tidx[k])
        w2 = w[sel] ** 2
        tau_tilde = float((w2 * fit.tau[sel]).sum() / w2.sum())
        e[sel] = fit.tau[sel] - tau_tilde
    return np.nan_to_num(e)


def second_stage_residuals(
    fit: ImputationFit, cells: _Cells, theta: FloatArray, key: FloatArray, w: FloatArray
) -> FloatArray:
    """Residuals for the two-stage variance with second-stage cells grouped by ``key``.

    Parameters
    ----------
    fit : ImputationFit
        The first stage.
    cells : _Cells
        The cohort x period cells (``omega``, ``size``, ``post``).
    theta : ndarray (K,)
        Cell estimates.
    key : ndarray (K,)
        Second-stage regressor of each cell (all cells with one key share one
        coefficient: 0 for the static model, event time, cohort or period).
    w : ndarray (N, T)
        Cell weights.

    Returns
    -------
    ndarray (N, T)
        First-stage residuals on fitted cells; ``tau - fitted`` on treated cells.
    """
    e = np.where(fit.fit_mask, fit.tau, 0.0)
    post = np.flatnonzero(cells.post)
    for value in np.unique(key[post]):
        members = post[key[post] == value]
        fitted = float(cells.size[members] @ theta[members] / cells.size[members].sum())
        for k in members:
            sel = (cells.members(int(k)), cells.tidx[k])
            e[sel] = fit.tau[sel] - fitted
    return np.nan_to_num(e)


@dataclass
class ImputationState(_Linear):
    """Cells with a covariance per aggregation kind (two-stage GMM variances differ by
    the second-stage model, one per kind)."""

    vcov_by_kind: dict[str, FloatArray] = field(default_factory=dict)

    def vcov_for(self, kind: str) -> FloatArray:
        """Covariance of the cells used for aggregation ``kind``."""
        return self.vcov_by_kind.get(kind, self.vcov)


def first_stage_mask(cidx: FloatArray, n_t: int, control: str) -> BoolArray:
    """First-stage (untreated-model) cells for the observed cohorts (N, T)."""
    return _fit_mask(cidx, n_t, control)


def fit_imputation_result(
    panel: Any,
    cidx: FloatArray,
    X: FloatArray | None,
    codes: NDArray[np.intp] | None,
    *,
    method: str,
    alpha: float,
    warns: list[str],
    control: str = "notyet",
    variance: str = "bjs",
    title_options: dict[str, Any] | None = None,
) -> DiDResult:
    """Fit an imputation-type estimator and wrap it in a :class:`DiDResult`.

    Parameters
    ----------
    panel : Panel
        The data.
    cidx : ndarray (N,)
        Cohort index per unit (inf = never treated).
    X : ndarray (N, T, p), optional
        Covariates of the untreated model.
    codes : ndarray of int, optional
        Cluster codes (default: units).
    method : str
        Name stored on the result.
    alpha : float
        One minus the confidence level.
    warns : list of str
        Warnings collected so far (extended in place).
    control : {"notyet", "never"}
        First-stage sample.
    variance : {"bjs", "did2s"}
        Residuals on treated cells: BJS Theorem 3 (cohort x period averages), or the
        two-stage GMM variance (residuals from the second-stage model of each
        aggregation: overall, event time, cohort or period).
    title_options : dict, optional
        Extra options stored on the result.

    Returns
    -------
    DiDResult
        Headline = average effect over all treated cells; ``aggregate`` gives event
        time (with pre-period placebo coefficients), cohort and calendar averages.
    """
    Y = panel.Y
    n, n_t = Y.shape
    W = panel.W
    w = np.ones((n, n_t)) if W is None else W
    if np.isfinite(cidx).any() and (cidx[np.isfinite(cidx)] <= 0).any():
        first = panel.units[np.flatnonzero(np.isfinite(cidx) & (cidx <= 0))[0]]
        if isinstance(first, np.generic):  # name it as the user wrote it
            first = first.item()
        raise DataError(
            f"Unit {first!r} is treated from the first observed period "
            f"({panel.periods[0]}): its untreated outcome cannot be imputed. Drop the "
            "always-treated units or add earlier periods."
        )
    fit_mask = first_stage_mask(cidx, n_t, control)
    fit = impute(Y, fit_mask, W, X, names=list(panel.covariates))
    treated = np.arange(n_t)[None, :] >= cidx[:, None]
    lost = treated & ~fit.identified & (w > 0)
    if lost.any():
        period_ok = np.asarray(np.asarray(fit.identified).sum(axis=0) > 0)
        no_unit = lost & period_ok.reshape(1, -1)
        periods = sorted({int(panel.periods[t]) for t in np.flatnonzero(lost.any(0))})
        if no_unit.any():
            units = [panel.units[i] for i in np.flatnonzero(no_unit.any(axis=1))]
            warns.append(
                f"{int(no_unit.sum())} treated cells of {len(units)} unit(s) (e.g. "
                f"{units[:3]}) have no untreated row of their own unit to impute from "
                "(gaps before adoption); they are left out of every average."
            )
        if (lost & ~no_unit).any():
            warns.append(
                f"{int((lost & ~no_unit).sum())} treated cells (periods {periods}) "
                "have no untreated cell in the same period to impute from (every unit "
                "is treated by then); they are left out of every average."
            )
    cells = _cells(cidx, fit, w, leads=control == "notyet")
    if not cells.post.any():
        raise EstimationError(
            "No treated cell can be imputed: no period has both treated and untreated "
            "units. Check the cohort column."
        )
    A = _Functionals.of(fit, cells)
    theta = A.dot(Y)
    e_kind = cells.tidx - cells.gidx

    exact = bool(
        np.nanmax(np.abs(fit.tau[fit.fit_mask])) <= 1e-10 * (1 + np.abs(Y).max())
    )

    def vcov_from(resid: FloatArray) -> FloatArray:
        # no finite-sample factor, as R didimputation and did2s
        s = cluster_scores(A, resid, codes)
        if exact:  # untreated outcomes fitted exactly: no variation to measure
            return np.zeros((len(theta), len(theta)))
        return np.asarray(s.T @ s, dtype=float)

    by_kind: dict[str, FloatArray] = {}
    if variance == "bjs":
        V = vcov_from(bjs_residuals(fit, cells, w))
    else:
        for kind, key in (
            ("simple", np.zeros(len(theta))),
            ("dynamic", e_kind.astype(float)),
            ("group", cells.gidx.astype(float)),
            ("calendar", cells.tidx.astype(float)),
        ):
            resid = second_stage_residuals(fit, cells, theta, key, w)
            by_kind[kind] = vcov_from(resid)
        V = by_kind["dynamic"]
    group_lab = panel.periods[cells.gidx].astype(float)
    time_lab = panel.periods[cells.tidx].astype(float)
    lin = ImputationState(
        theta,
        V,
        group_lab,
        time_lab,
        e_kind.astype(float),
        cells.size,
        [],
        by_kind,
    )
    se_k = np.sqrt(np.diag(V))
    z = special.ndtri(1 - alpha / 2)
    att_gt = pd.DataFrame(
        {
            "group": group_lab.astype(int),
            "time": time_lab.astype(int),
            "event_time": e_kind.astype(int),
            "att": theta,
            "se": se_k,
            "ci_low": theta - z * se_k,
            "ci_high": theta + z * se_k,
            "post": cells.post,
            "n_treated": cells.n_units,
        }
    )
    n_treated = int(np.isin(cidx, cells.gidx[cells.post]).sum())
    draft = DiDResult(
        method=method,
        estimate=0.0,
        se=1.0,
        n_treated=n_treated,
        n_control=n - n_treated,
        alpha=alpha,
        warnings=warns,
        options={},
        att_gt=att_gt,
        linear_state=lin,
        panel=panel,
    )
    simple = draft.aggregate("simple")
    dyn = draft.aggregate("dynamic").to_frame()
    result = DiDResult(
        method=method,
        estimate=simple.estimate,
        se=simple.se,
        n_treated=n_treated,
        n_control=n - n_treated,
        alpha=alpha,
        warnings=warns,
        options=dict(title_options or {}),
        att_gt=att_gt,
        event_study=dyn.assign(reference=False),
        linear_state=lin,
        panel=panel,
    )
    result.regression = fit
    return result


def imputation_weight_matrix(
    panel: Any, cidx: FloatArray, X: FloatArray | None, control: str = "notyet"
) -> FloatArray:
    """``A`` (N, T) of the overall ATT for the observed assignment (wild bootstrap)."""
    n, n_t = panel.Y.shape
    W = panel.W
    w = np.ones((n, n_t)) if W is None else W
    fit = impute(panel.Y, first_stage_mask(cidx, n_t, control), W, X)
    treated = np.arange(n_t)[None, :] >= cidx[:, None]
    om = np.where(treated & fit.identified, w, 0.0)
    om = om / om.sum()
    return cell_functionals(fit, om[None])[0]


def make_imputation_batch(
    panel: Any, X: FloatArray | None, control: str = "notyet"
) -> Any:
    """``estimate_batch(Y, cohorts (B, N))`` for randomization inference."""
    periods = panel.periods
    W = panel.W

    def to_idx(cohorts: FloatArray) -> FloatArray:
        c = np.atleast_2d(np.asarray(cohorts, dtype=float))
        out = np.full(c.shape, np.inf)
        fin = np.isfinite(c)
        out[fin] = np.searchsorted(periods, c[fin])
        return out

    if X is None:

        def batch(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
            return imputation_batch(Y, to_idx(cohorts), W, control=control)

        return batch

    def batch_cov(Y: FloatArray, cohorts: FloatArray) -> FloatArray:
        c = to_idx(cohorts)
        out = np.empty(c.shape[0])
        n_t = Y.shape[1]
        w = np.ones(Y.shape) if W is None else W
        for j in range(c.shape[0]):  # covariate slopes change with the assignment
            fit = impute(Y, first_stage_mask(c[j], n_t, control), W, X)
            treated = np.arange(n_t)[None, :] >= c[j][:, None]
            om = np.where(treated & fit.identified, w, 0.0)
            out[j] = float(np.nansum(om * fit.tau) / om.sum())
        return out

    return batch_cov
