"""Abadie synthetic control: predictor standardisation and the choice of V.

The donor weights ``W`` minimise the V-weighted distance between the treated unit's
predictors and the synthetic unit's (an exact simplex QP, :mod:`impact.synth.weights`).
``V`` (diagonal, non-negative, summing to one) is either given, equal, regression-based
(the starting value used by R ``Synth``) or *nested*: chosen to minimise the pre-period
outcome MSPE of the implied synthetic unit (Abadie and Gardeazabal 2003; Abadie, Diamond
and Hainmueller 2010). The nested objective is piecewise smooth and strongly multimodal,
so it is searched from many starting points: equal V, the regression V, and the best of
a screen of random Dirichlet draws, each polished by Nelder-Mead on log V, with the inner
QP warm-started from the previous support.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.lapack import dgesv as _dgesv

from impact.errors import DataError, EstimationError, SpecError
from impact.synth.weights import simplex_lsq, simplex_qp

__all__ = ["ScmFit", "fit_scm", "regression_v", "standardise"]

_FloatArray = NDArray[np.float64]


@dataclass
class ScmFit:
    """One synthetic-control fit (a treated unit against its donors).

    Attributes
    ----------
    weights : ndarray (J,)
        Donor weights on the simplex.
    v : ndarray (K,)
        Predictor weights (diagonal of V), summing to one, on standardised predictors.
    loss_v : float
        Outcome MSPE over the optimisation period (the nested objective).
    loss_w : float
        Predictor distance ``(x1 - X0 w)' V (x1 - X0 w)`` on standardised predictors.
    start_losses : ndarray
        Nested-objective value reached from each start (diagnostic of multimodality).
    """

    weights: _FloatArray
    v: _FloatArray
    loss_v: float
    loss_w: float
    start_losses: _FloatArray = field(default_factory=lambda: np.empty(0))


def standardise(
    x1: _FloatArray, X0: _FloatArray, names: list[str] | None = None
) -> tuple[_FloatArray, _FloatArray]:
    """Divide each predictor by its standard deviation across treated and donors.

    This is the scaling R ``Synth`` applies before choosing W, so that V is unit-free.

    Parameters
    ----------
    x1 : ndarray (K,)
        Treated unit's predictors.
    X0 : ndarray (K, J)
        Donors' predictors.
    names : list of str, optional
        Predictor names, used in the error message.

    Returns
    -------
    tuple of ndarray
        Scaled ``x1`` and ``X0``.

    Raises
    ------
    DataError
        If a predictor has zero variance across the units.
    """
    allx = np.column_stack([x1, X0])
    sd = allx.std(axis=1, ddof=1) if allx.shape[1] > 1 else np.ones(allx.shape[0])
    bad = ~(sd > 1e-12 * (1.0 + np.abs(allx).max(axis=1)))
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        label = names[k] if names else f"#{k}"
        raise DataError(
            f"Predictor {label!r} has zero variance across the treated unit and its "
            "donors; drop it from the predictors."
        )
    return x1 / sd, X0 / sd[:, None]


def regression_v(
    x1: _FloatArray, X0: _FloatArray, z1: _FloatArray, Z0: _FloatArray
) -> _FloatArray:
    """Regression-based predictor weights (the second starting value of R ``Synth``).

    The optimisation-period outcomes are regressed on an intercept and the
    (standardised) predictors across all units; V is the normalised diagonal of
    ``B B'`` where ``B`` holds the slope coefficients (one column per period).

    Parameters
    ----------
    x1, X0 : ndarray
        Standardised predictors of the treated unit (K,) and donors (K, J).
    z1, Z0 : ndarray
        Outcomes over the optimisation period: (T,) and (T, J).

    Returns
    -------
    ndarray (K,)
        Non-negative weights summing to one (equal weights if degenerate).
    """
    X = np.column_stack([x1, X0]).T  # (J+1, K)
    Z = np.column_stack([z1, Z0]).T  # (J+1, T)
    design = np.column_stack([np.ones(X.shape[0]), X])
    beta, *_ = np.linalg.lstsq(design, Z, rcond=None)
    slopes = beta[1:]
    v = (slopes**2).sum(axis=1)
    if not np.all(np.isfinite(v)) or v.sum() <= 0:
        return np.full(x1.shape[0], 1.0 / x1.shape[0])
    return v / v.sum()


class _NestedObjective:
    """Outcome MSPE as a function of log V, with a warm-started inner QP."""

    def __init__(
        self,
        x1: _FloatArray,
        X0: _FloatArray,
        z1: _FloatArray,
        Z0: _FloatArray,
        penalty: float = 0.0,
    ) -> None:
        self.x1, self.X0, self.z1, self.Z0 = x1, X0, z1, Z0
        self.penalty = float(penalty)
        # squared distance of each donor to the treated unit, per predictor
        self._d2 = (X0 - x1[:, None]) ** 2
        self.support: NDArray[np.intp] | None = None
        self.n_eval = 0
        self.n_polish = 0
        self.best = (np.inf, np.empty(0), np.empty(0))

        self._scale_x = float(np.abs(X0).max())
        self._scale_b = float(np.abs(x1).max())

    def _fast_weights(self, v: _FloatArray, P: NDArray[np.intp]) -> _FloatArray | None:
        """The optimum when it has the same support as the last one, else None.

        Most steps of the V search move V a little and keep the support: then one
        equality-constrained solve on the support and the KKT check give the exact
        optimum without forming the J x J Gram matrix.
        """
        n = P.size
        XP = self.X0[:, P]
        XPv = XP.T * v  # (n, K)
        kkt = np.empty((n + 1, n + 1))
        kkt[:n, :n] = XPv @ XP
        kkt[:n, n] = 1.0
        kkt[n, :n] = 1.0
        kkt[n, n] = 0.0
        rhs = np.empty(n + 1)
        rhs[:n] = XPv @ self.x1
        rhs[n] = 1.0
        if self.penalty > 0:
            rhs[:n] -= 0.5 * self.penalty * (v @ self._d2[:, P])
        _, _, sol, info = _dgesv(kkt, rhs)
        if info != 0:
            return None
        z = sol[:n]
        if not (np.all(np.isfinite(z)) and np.all(z > 1e-14)):
            return None
        # KKT: no donor outside the support may have a larger negative gradient
        g = self.X0.T @ (v * (self.x1 - XP @ z))
        if self.penalty > 0:
            g -= 0.5 * self.penalty * (v @ self._d2)
        viol = g - g[P].mean()
        viol[P] = -np.inf
        thr = 1e-11 * float(v.max()) * self._scale_x * (self._scale_x + self._scale_b)
        if viol.max() > thr:
            return None
        w = np.zeros(self.X0.shape[1])
        w[P] = z
        return w

    def weights(self, v: _FloatArray) -> _FloatArray:
        if self.support is not None and self.support.size:
            fast = self._fast_weights(v, self.support)
            if fast is not None:
                return fast
        X0v = self.X0.T * v  # (J, K)
        H = X0v @ self.X0
        c = X0v @ self.x1
        if self.penalty > 0:
            # Abadie-L'Hour: + penalty * sum_j w_j ||x1 - X0_j||_V^2 (linear in w)
            c = c - 0.5 * self.penalty * (v @ self._d2)
        P = (
            [int(i) for i in self.support]
            if self.support is not None and len(self.support)
            else [
                int(np.argmin((v[:, None] * (self.X0 - self.x1[:, None]) ** 2).sum(0)))
            ]
        )
        vmax = float(v.max())
        thr = 1e-11 * vmax * self._scale_x * (self._scale_x + self._scale_b)
        w = simplex_qp(H, c, P, thr)
        if w is None and self.penalty > 0:
            # cold start from the best single donor, then the general solver
            j0 = int(np.argmin(0.5 * np.diag(H) - c))
            w = simplex_qp(H, c, [j0], thr)
            if w is None:
                self.n_polish += 1
                w = _penalized_polish(H, c, j0)
        elif w is None:  # degenerate case: the checked general path
            sv = np.sqrt(v)
            w = simplex_lsq(sv[:, None] * self.X0, sv * self.x1)
        self.support = np.flatnonzero(w > 0)
        return w

    def loss_of_v(self, v: _FloatArray) -> float:
        self.n_eval += 1
        w = self.weights(v)
        r = self.z1 - self.Z0 @ w
        loss = float(r @ r) / r.shape[0]
        if loss < self.best[0]:
            self.best = (loss, v, w)
        return loss

    def __call__(self, theta: _FloatArray) -> float:
        return self.loss_of_v(_softmax(theta))


def _penalized_polish(H: _FloatArray, c: _FloatArray, j0: int) -> _FloatArray:
    """Fallback for the penalised QP ``min w'Hw/2 - c'w`` on the simplex (SLSQP)."""
    from scipy.optimize import minimize

    J = H.shape[0]
    w0 = np.zeros(J)
    w0[j0] = 1.0
    res = minimize(
        lambda w: (0.5 * w @ H @ w - c @ w, H @ w - c),
        w0,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * J,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    w = np.clip(res.x, 0.0, None)
    if w.sum() > 0 and not res.success:
        # accept an improvement on the starting vertex even without convergence
        w = w / w.sum()
        better = 0.5 * w @ H @ w - c @ w <= 0.5 * H[j0, j0] - c[j0]
        return np.asarray(w if better else w0, dtype=float)
    if w.sum() <= 0:
        raise EstimationError(
            f"The penalised simplex weight solver failed ({res.message}); the donor "
            "predictors may be degenerate (duplicated donors or constant predictors)."
        )
    return np.asarray(w / w.sum(), dtype=float)


# Smallest share of V any predictor gets in the nested search. A strictly positive
# floor keeps W(V) unique (with V -> 0 on most predictors the inner QP has many
# solutions and W would depend on the solver's path); 1e-6 is far below any weight that
# changes the outcome fit.
_V_FLOOR = 1e-6


def _softmax(theta: _FloatArray) -> _FloatArray:
    e = np.exp(theta - theta.max())
    v = e / e.sum()
    return _V_FLOOR + (1.0 - _V_FLOOR * v.shape[0]) * v


def _as_v(v: Any, K: int, names: list[str] | None) -> _FloatArray:
    if isinstance(v, dict):
        if names is None:
            raise SpecError("v given as a mapping needs named predictors.")
        unknown = set(v) - set(names)
        if unknown:
            raise SpecError(
                f"v names predictors {sorted(map(str, unknown))} that are not in the "
                f"model; the predictors are {names}."
            )
        arr = np.array([float(v.get(n, 0.0)) for n in names])
    else:
        arr = np.asarray(v, dtype=float).ravel()
    if arr.shape[0] != K:
        raise SpecError(
            f"The 'v' parameter of synth has {arr.shape[0]} entries but there are {K} "
            "predictors; give one weight per predictor (in predictor order)."
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or arr.sum() <= 0:
        raise SpecError(
            "The 'v' parameter of synth must be non-negative and finite, with a "
            f"positive sum. Got {arr.tolist()} instead."
        )
    return arr / arr.sum()


def fit_scm(
    x1: _FloatArray,
    X0: _FloatArray,
    z1: _FloatArray,
    Z0: _FloatArray,
    *,
    v: Any = "nested",
    rng: np.random.Generator | None = None,
    n_starts: int = 10,
    n_screen: int | None = None,
    names: list[str] | None = None,
    standardize: bool = True,
    penalty: float = 0.0,
) -> ScmFit:
    """Fit one synthetic control.

    Parameters
    ----------
    x1 : ndarray (K,)
        Treated unit's predictors (raw scale).
    X0 : ndarray (K, J)
        Donors' predictors.
    z1 : ndarray (T,)
        Treated unit's outcomes over the V-optimisation period.
    Z0 : ndarray (T, J)
        Donors' outcomes over the same period.
    v : {"nested", "regression", "equal"} or array_like or dict
        How V is chosen (see :func:`impact.synth`).
    rng : numpy Generator, optional
        Random source for the nested search's random starts.
    n_starts : int, default 10
        Number of Nelder-Mead polishes in the nested search (equal V, regression V and
        the best random screened starts).
    n_screen : int, optional
        Number of random Dirichlet draws screened for starting values
        (default ``max(60, 20 K)``).
    names : list of str, optional
        Predictor names (error messages, mapping-valued ``v``).
    standardize : bool, default True
        Scale predictors by their cross-unit SD first (as R ``Synth`` does).
    penalty : float, default 0
        Abadie and L'Hour (2021) penalty: the inner problem becomes
        ``||x1 - X0 w||_V^2 + penalty * sum_j w_j ||x1 - X0_j||_V^2``, which favours
        donors close to the treated unit (0 is the classic synthetic control; large
        values approach nearest-neighbour matching).

    Returns
    -------
    ScmFit
        Weights, V and losses.
    """
    x1 = np.asarray(x1, dtype=float)
    X0 = np.asarray(X0, dtype=float)
    z1 = np.asarray(z1, dtype=float)
    Z0 = np.asarray(Z0, dtype=float)
    K = x1.shape[0]
    if standardize:
        x1s, X0s = standardise(x1, X0, names)
    else:
        x1s, X0s = x1, X0
    obj = _NestedObjective(x1s, X0s, z1, Z0, penalty)

    def w_loss(vv: _FloatArray, w: _FloatArray) -> float:
        d = x1s - X0s @ w
        return float(d @ (vv * d))

    if isinstance(v, str):
        if v not in ("nested", "regression", "equal"):
            raise SpecError(
                "The 'v' parameter of synth must be one of {'nested', 'regression', "
                f"'equal'}} or a vector of predictor weights. Got {v!r} instead."
            )
        mode = v
    else:
        mode = "custom"
    if mode == "custom":
        vv = _as_v(v, K, names)
    elif mode == "equal" or K == 1:
        vv = np.full(K, 1.0 / K)
    elif mode == "regression":
        vv = regression_v(x1s, X0s, z1, Z0)
    else:
        return _nested(obj, w_loss, rng, n_starts, n_screen)
    w = obj.weights(vv)
    return ScmFit(w, vv, obj.loss_of_v(vv), w_loss(vv, w))


def _nested(
    obj: _NestedObjective,
    w_loss: Any,
    rng: np.random.Generator | None,
    n_starts: int,
    n_screen: int | None,
    maxfev_per_dim: int = 100,
) -> ScmFit:
    from scipy.optimize import minimize

    K = obj.x1.shape[0]
    rng = rng if rng is not None else np.random.default_rng(0)
    floor = 1e-8
    v_eq = np.full(K, 1.0 / K)
    v_reg = regression_v(obj.x1, obj.X0, obj.z1, obj.Z0)
    starts = [np.log(v_eq), np.log(np.maximum(v_reg, floor))]
    n_screen = n_screen if n_screen is not None else max(60, 20 * K)
    # screen random V on the simplex (mixture of flat and sparse Dirichlet draws)
    alpha = np.where(np.arange(n_screen) % 2 == 0, 1.0, 0.3)
    draws = rng.gamma(alpha[:, None], size=(n_screen, K))
    draws = np.maximum(draws / draws.sum(axis=1, keepdims=True), floor)
    draws /= draws.sum(axis=1, keepdims=True)
    screen = np.array([obj.loss_of_v(d) for d in draws])
    order = np.argsort(screen)[: max(0, n_starts - 2)]
    starts.extend(np.log(draws[i]) for i in order)

    best_theta = starts[0]
    best = np.inf
    reached = []
    for theta0 in starts:
        res = minimize(
            obj,
            theta0,
            method="Nelder-Mead",
            options={
                "xatol": 1e-3,
                "fatol": 1e-9,
                "maxfev": maxfev_per_dim * K,
                "adaptive": K > 4,
            },
        )
        reached.append(float(res.fun))
        if res.fun < best:
            best, best_theta = float(res.fun), np.asarray(res.x)
    # one restart from the best point (Nelder-Mead restarts escape early collapse)
    res = minimize(
        obj,
        best_theta,
        method="Nelder-Mead",
        options={
            "xatol": 1e-4,
            "fatol": 1e-10,
            "maxfev": maxfev_per_dim * K,
            "adaptive": K > 4,
        },
    )
    if res.fun < best:
        best, best_theta = float(res.fun), np.asarray(res.x)
    vv = _softmax(best_theta)
    obj.support = None
    w = obj.weights(vv)
    loss = obj.loss_of_v(vv)
    if obj.best[0] < loss * (1 - 1e-9):  # W(V) not unique at the optimum: keep the best
        loss, vv, w = obj.best
    if not np.isfinite(loss):
        raise EstimationError(
            "The nested V search produced a non-finite pre-period MSPE; check the "
            "outcome for missing or infinite values."
        )
    return ScmFit(w, vv, loss, w_loss(vv, w), np.asarray(reached))
