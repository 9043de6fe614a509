"""Abadie synthetic control: predictor standardisation and the choice of V.

The donor weights ``W`` minimise the V-weighted distance between the treated unit's
predictors and the synthetic unit's (an exact simplex QP, :mod:`impact.synth.weights`).
``V`` (diagonal, non-negative, summing to one) is either given, equal, regression-based
(the starting value used by R ``Synth``) or *nested*: chosen to minimise the pre-period
outcome MSPE of the implied synthetic unit (Abadie and Gardeazabal 2003; Abadie, Diamond
and Hainmueller 2010). The nested objective is piecewise smooth and strongly multimodal,
so it is searched from many starting points: equal V, the regression V, and the best of
a screen of random Dirichlet draws, each polished by Nelder-Mead on log V, with the inner
QP warm-started from the previous solution. When the donors can match the treated
unit's predictors exactly (its predictors lie in their convex hull) V does not change
the set of inner solutions, and the nested optimum is found directly as the best
outcome fit among the exact matches (:func:`_exact_match`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg.lapack import dgesv as _dgesv

from impact.errors import DataError, EstimationError, SpecError
from impact.synth._neldermead import nelder_mead
from impact.synth.weights import (
    _step_to_boundary,
    simplex_lsq,
    simplex_lsq_eq,
    simplex_qp,
)

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
    """Outcome MSPE as a function of log V, with a warm-started inner QP.

    The V search evaluates this tens of thousands of times per fit on a few dozen
    donors, so the common case is kept to a handful of small array operations: while
    the support of W stays the same, everything that depends only on the support
    (the donors' predictor columns, their outer products and outcome columns) is
    cached, and W comes from one (n + 1)-dimensional KKT solve plus a gradient check.
    """

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
        self._X0T = np.ascontiguousarray(X0.T)
        self.support: NDArray[np.intp] | None = None
        self.n_eval = 0
        self.n_polish = 0
        self.best = (np.inf, np.empty(0), np.empty(0))

        self._scale_x = float(np.abs(X0).max())
        self._scale_b = float(np.abs(x1).max())
        self._thr_unit = 1e-11 * self._scale_x * (self._scale_x + self._scale_b)
        self._key_arr: NDArray[np.intp] | None = None
        self._cache: tuple[Any, ...] = ()
        self._caches: dict[bytes, tuple[Any, ...]] = {}
        # why the last fast solve failed: the entering donor, or the weights on the
        # support with a non-positive entry (see _one_step)
        self._miss: tuple[Any, ...] = ()
        # weights on ``support`` at the last evaluation (a feasible warm start)
        self._prev_z: _FloatArray | None = None

    def _support_cache(self, P: NDArray[np.intp]) -> tuple[Any, ...]:
        """Arrays that depend on the support only (kept for recent supports)."""
        if P is self._key_arr:  # the common case: the same support array
            return self._cache
        key = P.tobytes()
        cache = self._caches.get(key)
        if cache is None:
            n, K = P.size, self.X0.shape[0]
            XP = self.X0[:, P]
            outer = (XP[:, :, None] * XP[:, None, :]).reshape(K, n * n)
            kkt0 = np.zeros((n + 1, n + 1))
            kkt0[:n, n] = 1.0
            kkt0[n, :n] = 1.0
            out = np.ones(self.X0.shape[1], dtype=bool)
            out[P] = False
            d2P = self._d2[:, P]
            # KKT check in one product: gradient of each outside donor minus the
            # support's mean gradient is (X0_j - mean_P X0)'(v * residual)
            D = np.ascontiguousarray((self.X0[:, out] - XP.mean(axis=1)[:, None]).T)
            Dpen = self._d2[:, out] - d2P.mean(axis=1)[:, None]
            cache = (
                XP,
                outer,
                XP * self.x1[:, None],
                np.ascontiguousarray(self.Z0[:, P]),
                kkt0,
                D,
                Dpen,
                d2P,
                n,
                np.flatnonzero(out),
            )
            if len(self._caches) >= 64:
                self._caches.clear()
            self._caches[key] = cache
        self._cache = cache
        self._key_arr = P
        return cache

    def _fast_support_weights(
        self, v: _FloatArray, P: NDArray[np.intp]
    ) -> _FloatArray | None:
        """Weights on ``P`` when the optimum has the same support, else None.

        Most steps of the V search move V a little and keep the support: then one
        equality-constrained solve on the support and the KKT check give the exact
        optimum without forming the J x J Gram matrix.
        """
        XP, outer, bx, _, kkt0, D, Dpen, d2P, n, out = self._support_cache(P)
        self._miss = ()
        kkt = kkt0.copy()
        kkt[:n, :n] = (v @ outer).reshape(n, n)
        rhs = np.empty(n + 1)
        rhs[:n] = v @ bx
        rhs[n] = 1.0
        if self.penalty > 0:
            rhs[:n] -= 0.5 * self.penalty * (v @ d2P)
        _, _, sol, info = _dgesv(kkt, rhs, overwrite_a=1, overwrite_b=1)
        z = sol[:n]
        # the NaN-safe comparison also rejects a failed solve (z sums to one, so all
        # entries above the floor means all are finite and at most one)
        if info != 0:
            return None
        if not z.min() > 1e-14:
            if np.isfinite(z).all():
                self._miss = (v, P, z)
            return None
        if out.size:
            # KKT: no donor outside the support may have a larger negative gradient
            viol = D @ (v * (self.x1 - XP @ z))
            if self.penalty > 0:
                viol -= 0.5 * self.penalty * (v @ Dpen)
            top = viol.max()
            if top > 0.0 and top > self._thr_unit * float(v.max()):
                self._miss = (v, P, int(out[int(viol.argmax())]))
                return None
        return z

    def _one_step(self, v: _FloatArray) -> tuple[NDArray[np.intp], _FloatArray] | None:
        """The active-set result when it is one step from the current support.

        After the fast solve on the current support failed, the active-set method of
        :meth:`_active_set` either adds the most violating donor or steps back to the
        boundary and drops the donor(s) that reach zero; most of the time the next
        support is already optimal. That support is taken from the failed fast solve,
        then solved and checked exactly as :meth:`_active_set` finishes (same solve,
        same test), so the weights are the ones it would return. None when the
        optimum is further away (the caller then runs the full method).
        """
        miss, self._miss = self._miss, ()
        support = self.support
        if support is None or len(miss) != 3 or miss[0] is not v:
            return None
        if miss[1] is not support:
            return None
        P0 = [int(i) for i in support]
        if isinstance(miss[2], int):
            P = sorted([*P0, miss[2]])
        else:
            w = np.zeros(self.X0.shape[1])
            z0 = self._prev_z
            w[P0] = z0 if z0 is not None and z0.shape[0] == len(P0) else 1.0 / len(P0)
            _, P = _step_to_boundary(w, P0, miss[2], 1e-14)
            if not P:
                return None
        z = self._eq_solve(v, P)
        if z is None or not z.min() > 1e-14:
            return None
        g = self._X0T @ (v * (self.x1 - self.X0[:, P] @ z))
        if self.penalty > 0:
            g -= 0.5 * self.penalty * (v @ self._d2)
        gm = g[P].mean()
        g[P] = -np.inf
        if g.max() - gm > self._thr_unit * float(v.max()):
            return None
        return np.asarray(P, dtype=np.intp), z

    def _fast_weights(self, v: _FloatArray, P: NDArray[np.intp]) -> _FloatArray | None:
        z = self._fast_support_weights(v, P)
        if z is None:
            return None
        w = np.zeros(self.X0.shape[1])
        w[P] = z
        return w

    def weights(self, v: _FloatArray) -> _FloatArray:
        if self.support is not None and self.support.size:
            fast = self._fast_weights(v, self.support)
            if fast is not None:
                self._prev_z = fast[self.support]
                return fast
        return self._general_weights(v)

    def _eq_solve(self, v: _FloatArray, P: list[int]) -> _FloatArray | None:
        """Optimum over the weights on ``P`` with only the sum-to-one constraint."""
        n = len(P)
        if n == 1:
            return np.ones(1)
        XP = self.X0[:, P]
        XPv = XP.T * v
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
        _, _, sol, info = _dgesv(kkt, rhs, overwrite_a=1, overwrite_b=1)
        z = sol[:n]
        if info != 0 or not np.isfinite(z).all():
            return None
        return z

    def _active_set(
        self, v: _FloatArray, P: list[int], z0: _FloatArray | None
    ) -> _FloatArray | None:
        """The primal active-set method of :func:`simplex_qp`, in predictor space.

        The iterations of :func:`simplex_qp`, started from the previous solution
        (support ``P``, weights ``z0`` on it; a feasible point, usually one donor
        away from the new optimum), with each solve on the K predictor rows of the
        support donors instead of the J x J Gram matrix. None when a solve is singular
        or the iterations stall (the caller then takes the Gram-matrix path).
        """
        eps = 1e-14
        J = self.X0.shape[1]
        thr = self._thr_unit * float(v.max())
        w = np.zeros(J)
        w[P] = z0 if z0 is not None and z0.shape[0] == len(P) else 1.0 / len(P)
        z: _FloatArray | None = None
        z_next: _FloatArray | None = None  # the solve on P, when already done
        for _ in range(3 * J + 50):
            for _ in range(4 * len(P) + 10):
                z = z_next if z_next is not None else self._eq_solve(v, P)
                z_next = None
                if z is None:
                    return None
                if z.min() > eps:
                    break
                w, P = _step_to_boundary(w, P, z, eps)
                if not P:
                    return None
                w[P] /= w[P].sum()
            else:
                return None
            assert z is not None
            w = np.zeros(J)
            w[P] = z
            g = self._X0T @ (v * (self.x1 - self.X0[:, P] @ z))
            if self.penalty > 0:
                g -= 0.5 * self.penalty * (v @ self._d2)
            gm = g[P].mean()
            g[P] = -np.inf
            j = int(g.argmax())
            if g[j] - gm <= thr:
                return w
            P_new = sorted([*P, j])
            z_new = self._eq_solve(v, P_new)
            if z_new is None or z_new[P_new.index(j)] <= eps:
                return None
            P, z_next = P_new, z_new
        return None

    def _general_weights(self, v: _FloatArray) -> _FloatArray:
        if self.support is not None and self.support.size:
            hit = self._one_step(v)
            if hit is not None:
                S, zS = hit
                self.support, self._prev_z = S, zS
                w_hit = np.zeros(self.X0.shape[1])
                w_hit[S] = zS
                return w_hit
            w_as = self._active_set(v, [int(i) for i in self.support], self._prev_z)
            if w_as is not None:
                self.support = np.flatnonzero(w_as > 0)
                self._prev_z = w_as[self.support]
                return w_as
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
        self._prev_z = w[self.support]
        return w

    def loss_of_v(self, v: _FloatArray) -> float:
        self.n_eval += 1
        P = self.support
        z = None
        if P is not None and P.size:
            z = self._fast_support_weights(v, P)
        if z is not None:
            self._prev_z = z
            r = self.z1 - self._cache[3] @ z
            loss = float(r @ r) / r.shape[0]
            if loss < self.best[0]:
                w = np.zeros(self.X0.shape[1])
                w[P] = z
                self.best = (loss, v, w)
            return loss
        w = self._general_weights(v)
        r = self.z1 - self.Z0 @ w
        loss = float(r @ r) / r.shape[0]
        if loss < self.best[0]:
            self.best = (loss, v, w)
        return loss

    def __call__(self, theta: _FloatArray) -> float:
        e = np.exp(theta - theta.max())
        return self.loss_of_v(_V_FLOOR + (1.0 - _V_FLOOR * e.shape[0]) / e.sum() * e)


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


def _exact_match(obj: _NestedObjective, w_loss: Any) -> ScmFit | None:
    """The nested optimum when the donors can match the predictors exactly.

    If the treated unit's (standardised) predictors lie in the convex hull of the
    donors', every V with positive entries gives predictor distance zero, and the inner
    problem's solutions are the same set for all V: the weights with ``X0 w = x1`` on
    the simplex. The choice of V then does not matter and the nested criterion is the
    best pre-period outcome fit over that set, one least-squares problem with linear
    constraints (solved exactly; the search over V could only wander over this flat
    region and keep whichever member of the set its inner solver happened to return).
    V is reported as equal weights. None when the predictors cannot be matched exactly
    (or with the Abadie-L'Hour penalty, which makes the inner solution unique).
    """
    if obj.penalty > 0:
        return None
    x1, X0, z1, Z0 = obj.x1, obj.X0, obj.z1, obj.Z0
    w_hull = simplex_lsq(X0, x1)
    size = max(float(np.linalg.norm(x1)), obj._scale_x, 1e-300)
    if np.linalg.norm(x1 - X0 @ w_hull) > 1e-10 * size:
        return None
    T = z1.shape[0]
    A, b = Z0 / np.sqrt(T), z1 / np.sqrt(T)
    C = np.vstack([X0, np.ones(X0.shape[1])])
    w = simplex_lsq_eq(A, b, C, np.append(x1, 1.0), w_hull)
    if w is None:
        w = w_hull
    else:
        w = np.maximum(w, 0.0)
        w /= w.sum()
    r = z1 - Z0 @ w
    loss = float(r @ r) / T
    v = np.full(x1.shape[0], 1.0 / x1.shape[0])
    return ScmFit(w, v, loss, w_loss(v, w), np.array([loss]))


def _nested(
    obj: _NestedObjective,
    w_loss: Any,
    rng: np.random.Generator | None,
    n_starts: int,
    n_screen: int | None,
    maxfev_per_dim: int = 100,
) -> ScmFit:
    K = obj.x1.shape[0]
    exact = _exact_match(obj, w_loss)
    if exact is not None:
        return exact
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
        x, fun, _ = nelder_mead(
            obj,
            theta0,
            xatol=1e-3,
            fatol=1e-9,
            maxfev=maxfev_per_dim * K,
            adaptive=K > 4,
        )
        reached.append(fun)
        if fun < best:
            best, best_theta = fun, x
    # one restart from the best point (Nelder-Mead restarts escape early collapse)
    x, fun, _ = nelder_mead(
        obj,
        best_theta,
        xatol=1e-4,
        fatol=1e-10,
        maxfev=maxfev_per_dim * K,
        adaptive=K > 4,
    )
    if fun < best:
        best, best_theta = fun, x
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
