"""Cattaneo-Feng-Titiunik prediction intervals: e_method "gaussian", "ls" or "qreg".

Cattaneo, Feng and Titiunik (2021, *JASA* 116(536), 1865-1880; "CFT") bound each
part of the prediction error with its own probability and add the bounds, so the
interval holds ``Y_t(0)`` with probability at least ``1 - u_alpha - e_alpha`` *if the
model's assumptions hold*:

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

from typing import Any

import numpy as np
import pandas as pd

from impact.errors import DataError, ImpactError
from impact.parallel import as_generator, progress_enabled
from impact.synth.prediction_bands import _F, PredictionBands

__all__ = ["cft_bands"]


def cft_bands(
    y: _F,
    B: _F,
    P: _F,
    w: _F,
    *,
    u_alpha: float,
    e_alpha: float,
    e_method: str,
    sims: int,
    rng: Any,
    scores: Any,
    rho_max: float,
    progress: bool | None,
) -> PredictionBands:
    """CFT intervals: simulated in-sample bound plus modelled out-of-sample bound.

    Inputs are checked by :func:`impact.synth.prediction.prediction_intervals`, which
    documents the parameters; ``e_method`` is one of ``"gaussian"``, ``"ls"``,
    ``"qreg"``.
    """
    caller = "prediction_intervals"
    T0, J = B.shape
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
