"""Exact simplex-constrained least squares for synthetic-control donor weights.

The inner problem of every synthetic control is

    min_w (x1 - X0 w)' diag(v) (x1 - X0 w)   subject to   w >= 0, sum(w) = 1,

a small convex quadratic program over the probability simplex. It is solved here by a
primal active-set method in the style of Lawson and Hanson's NNLS, extended with the
sum-to-one equality constraint: the passive set holds the donors with positive weight,
each inner step solves the equality-constrained least-squares problem on that set (by
eliminating one weight and a QR least-squares solve), and the outer step adds the donor
whose Karush-Kuhn-Tucker multiplier is most violated. The method terminates at an exact
optimum (to floating-point accuracy) in a finite number of steps, and optimality is
verified through the KKT conditions; if verification fails, a projected-gradient polish
is attempted and, failing that, :class:`impact.errors.EstimationError` is raised.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from impact.errors import EstimationError

__all__ = ["simplex_lsq", "simplex_lsq_eq", "simplex_qp", "simplex_weights"]

_FloatArray = NDArray[np.float64]


def _eq_solve(H: _FloatArray, c: _FloatArray, P: list[int]) -> _FloatArray:
    """Minimise ``w'Hw/2 - c'w`` on the donors ``P`` with the weights summing to one.

    Solves the (|P| + 1)-dimensional KKT system of the equality-constrained problem;
    falls back to a least-squares solve when the system is singular (duplicated
    donors).
    """
    n = len(P)
    if n == 1:
        return np.ones(1)
    kkt = np.empty((n + 1, n + 1))
    kkt[:n, :n] = H[P][:, P]
    kkt[:n, n] = 1.0
    kkt[n, :n] = 1.0
    kkt[n, n] = 0.0
    rhs = np.empty(n + 1)
    rhs[:n] = c[P]
    rhs[n] = 1.0
    try:
        sol = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError:
        sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    if not np.all(np.isfinite(sol)):
        sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    return np.asarray(sol[:n], dtype=np.float64)


def _step_to_boundary(
    w: _FloatArray, P: list[int], z: _FloatArray, eps: float
) -> tuple[_FloatArray, list[int]]:
    """Ratio test and drop step of the active-set inner loop (Lawson-Hanson).

    From the feasible ``w`` (support in ``P``) move towards the passive-set solution
    ``z`` (one entry per donor in ``P``, some of them ``<= eps``) as far as the
    non-negativity bounds allow, and drop the donors whose weight reaches zero; at
    least the blocking donor is dropped, which guarantees progress.

    Parameters
    ----------
    w : ndarray (J,)
        Current feasible weights, zero outside ``P``.
    P : list of int
        Current passive set (donors with positive weight).
    z : ndarray (len(P),)
        Solution of the equality-constrained problem on ``P``, not all ``> eps``.
    eps : float
        Weights at or below ``eps`` count as zero.

    Returns
    -------
    tuple
        The new weights (zero outside the new set, not renormalised) and the new
        passive set (possibly empty).
    """
    wp = w[P]
    neg = z <= eps
    denom = wp[neg] - z[neg]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(denom > 0, wp[neg] / denom, 0.0)
    alpha = float(np.clip(ratios.min(), 0.0, 1.0))
    wp = wp + alpha * (z - wp)
    keep = wp > eps
    if keep.all():
        keep[np.flatnonzero(neg)[np.argmin(ratios)]] = False
    P_new = [p for p, k in zip(P, keep, strict=True) if k]
    w_new = np.zeros_like(w)
    w_new[P_new] = wp[keep]
    return w_new, P_new


def _project_to_passive(
    H: _FloatArray,
    c: _FloatArray,
    w: _FloatArray,
    P: list[int],
    eps: float,
) -> tuple[_FloatArray, list[int]]:
    """Move from a feasible ``w`` (support in ``P``) to the optimum on a sub-face.

    Standard Lawson-Hanson inner loop: solve on the passive set; if some weight is not
    positive, step back along the segment to the boundary and drop the donors that hit
    zero; repeat until the passive solution is strictly feasible.
    """
    for _ in range(4 * len(P) + 10):
        z = _eq_solve(H, c, P)
        if (z > eps).all():
            w = np.zeros_like(w)
            w[P] = z
            return w, P
        w, P = _step_to_boundary(w, P, z, eps)
        if not P:
            break
        w[P] /= w[P].sum()
    raise EstimationError(
        "The simplex weight solver did not converge in its inner loop; check the "
        "predictors for duplicated or collinear donors."
    )


def simplex_lsq(
    A: ArrayLike,
    b: ArrayLike,
    *,
    support: ArrayLike | None = None,
    tol: float = 1e-11,
) -> _FloatArray:
    """Minimise ``||A w - b||^2`` over the probability simplex, exactly.

    Parameters
    ----------
    A : array_like, shape (K, J)
        Design matrix (already scaled by ``sqrt(v)`` if a metric is used).
    b : array_like, shape (K,)
        Target vector.
    support : array_like of int, optional
        Indices of a guessed support (warm start, e.g. the previous solution when the
        metric changes a little). Any subset is valid; a poor guess only costs time.
    tol : float, default 1e-11
        Relative tolerance of the KKT optimality check.

    Returns
    -------
    numpy.ndarray, shape (J,)
        Non-negative weights summing to one.

    Raises
    ------
    EstimationError
        If the active-set iterations do not reach a point satisfying the KKT conditions.
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    K, J = A.shape
    if J == 0:
        raise EstimationError("The donor pool is empty: no weights can be computed.")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
        raise EstimationError(
            "Predictor matrix contains NaN or infinite values; fill or drop the "
            "predictor before fitting the synthetic control."
        )
    if J == 1:
        return np.ones(1)
    scale = max(float(np.abs(A).max()), 1e-300)
    bmax = float(np.abs(b).max())
    # starting point: warm-start support, else the best single donor
    if support is not None:
        P = sorted({int(i) for i in np.atleast_1d(np.asarray(support))})
    else:
        P = []
    if not P:
        P = [int(np.argmin(((A - b[:, None]) ** 2).sum(axis=0)))]
    w = simplex_qp(A.T @ A, A.T @ b, P, tol * scale * (scale + bmax))
    if w is None:
        return _polish(A, b, np.full(J, 1.0 / J), tol)
    return w


def simplex_qp(
    H: _FloatArray, c: _FloatArray, P: list[int], thr: float
) -> _FloatArray | None:
    """Active-set core on the Gram form ``min w'Hw/2 - c'w`` over the simplex.

    Parameters
    ----------
    H : ndarray (J, J)
        ``A'A`` (positive semi-definite).
    c : ndarray (J,)
        ``A'b``.
    P : list of int
        Non-empty starting support (any subset of donors).
    thr : float
        Absolute KKT tolerance on the gradient.

    Returns
    -------
    ndarray (J,) or None
        The optimal weights, or None when the iterations stalled (the caller then
        polishes with a general solver).
    """
    J = H.shape[0]
    eps = 1e-14
    w = np.zeros(J)
    w[P] = 1.0 / len(P)
    w, P = _project_to_passive(H, c, w, P, eps)
    for _ in range(3 * J + 50):
        g = c - H @ w  # negative gradient (up to a factor 2)
        viol = g - g[P].mean()
        viol[P] = -np.inf
        j = int(viol.argmax())
        if viol[j] <= thr:
            return w
        P_new = sorted([*P, j])
        z = _eq_solve(H, c, P_new)
        if z[P_new.index(j)] <= eps:
            # numerically degenerate: the entering donor cannot improve the fit
            return None
        w, P = _project_to_passive(H, c, w, P_new, eps)
    return None


def _polish(A: _FloatArray, b: _FloatArray, w0: _FloatArray, tol: float) -> _FloatArray:
    """Fallback: SLSQP with the analytic gradient from ``w0``; KKT-checked."""
    from scipy.optimize import minimize

    J = A.shape[1]

    def f(w: _FloatArray) -> tuple[float, _FloatArray]:
        r = A @ w - b
        return float(r @ r), 2.0 * (A.T @ r)

    res = minimize(
        f,
        w0,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * J,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    w = np.clip(res.x, 0.0, None)
    if not res.success or w.sum() <= 0:
        raise EstimationError(
            f"The simplex weight solver failed ({res.message}); the donor predictors "
            "may be degenerate (duplicated donors or constant predictors)."
        )
    w = w / w.sum()
    if f(w)[0] > f(w0)[0] * (1 + 1e-8) + 1e-12:
        w = w0
    return w


def simplex_weights(
    x1: ArrayLike,
    X0: ArrayLike,
    v: ArrayLike | None = None,
) -> _FloatArray:
    """Synthetic-control donor weights for one treated unit and a given metric ``v``.

    Solves ``min_w (x1 - X0 w)' diag(v) (x1 - X0 w)`` subject to ``w >= 0`` and
    ``sum(w) = 1`` exactly, with an active-set (Lawson-Hanson type) method.

    Parameters
    ----------
    x1 : array_like, shape (K,)
        Predictors (or pre-period outcomes) of the treated unit.
    X0 : array_like, shape (K, J)
        The same predictors for the J donors, one column per donor.
    v : array_like, shape (K,), optional
        Non-negative predictor importance weights (the diagonal of V). ``None`` means
        equal weights.

    Returns
    -------
    numpy.ndarray, shape (J,)
        Donor weights, non-negative, summing to one.

    Raises
    ------
    EstimationError
        On shape mismatch, non-finite input, negative ``v``, an empty donor pool or if
        the solver fails the optimality check.

    Examples
    --------
    >>> import numpy as np
    >>> X0 = np.array([[0.0, 1.0, 2.0], [0.0, 1.0, 0.0]])
    >>> simplex_weights(np.array([1.0, 0.5]), X0).round(3)
    array([0.25, 0.5 , 0.25])
    """
    x1 = np.asarray(x1, dtype=float).ravel()
    X0 = np.asarray(X0, dtype=float)
    if X0.ndim == 1:
        X0 = X0[None, :]
    if X0.shape[0] != x1.shape[0]:
        raise EstimationError(
            f"simplex_weights: x1 has {x1.shape[0]} predictors but X0 has "
            f"{X0.shape[0]} rows; X0 must be (predictors, donors)."
        )
    if v is None:
        sv = np.ones(x1.shape[0])
    else:
        va = np.asarray(v, dtype=float).ravel()
        if va.shape[0] != x1.shape[0]:
            raise EstimationError(
                f"simplex_weights: v has {va.shape[0]} entries for {x1.shape[0]} "
                "predictors; give one weight per predictor."
            )
        if not np.all(np.isfinite(va)) or np.any(va < 0):
            raise EstimationError(
                "simplex_weights: v must be finite and non-negative; got "
                f"{va.tolist()}."
            )
        sv = np.sqrt(va)
    return simplex_lsq(sv[:, None] * X0, sv * x1)


def simplex_lsq_eq(
    A: _FloatArray,
    b: _FloatArray,
    C: _FloatArray,
    d: _FloatArray,
    w0: _FloatArray,
    *,
    tol: float = 1e-10,
) -> _FloatArray | None:
    """Minimise ``||A w - b||^2`` subject to ``C w = d`` and ``w >= 0``, from a feasible ``w0``.

    A primal active-set method (the Lawson-Hanson iterations of :func:`simplex_qp`
    with general equality constraints): on the passive set the equality-constrained
    least-squares problem is solved through its KKT system (minimum-norm solution
    when singular), infeasible steps are cut back to the boundary, and the donor with
    the most negative reduced cost enters. The sum-to-one constraint is a row of
    ``C``.

    Parameters
    ----------
    A : ndarray (m, J)
    b : ndarray (m,)
    C : ndarray (p, J)
        Equality constraints (include a row of ones for the simplex).
    d : ndarray (p,)
    w0 : ndarray (J,)
        A feasible starting point (``w0 >= 0``, ``C w0 = d`` to rounding).
    tol : float, default 1e-10
        Relative tolerance of the optimality check.

    Returns
    -------
    ndarray (J,) or None
        The optimum, or None when the iterations stall (degenerate constraints).
    """
    J = A.shape[1]
    p = C.shape[0]
    eps = 1e-14
    G = A.T @ A
    Ab = A.T @ b
    w = np.where(w0 > eps, w0, 0.0)
    P = [int(i) for i in np.flatnonzero(w)]
    if not P:
        return None
    scale = float(np.abs(G).max()) + float(np.abs(Ab).max()) + 1e-300
    cscale = float(np.abs(C).max()) + 1e-300

    def eq_solve(P: list[int]) -> tuple[_FloatArray, _FloatArray]:
        n = len(P)
        kkt = np.zeros((n + p, n + p))
        kkt[:n, :n] = G[np.ix_(P, P)]
        kkt[:n, n:] = C[:, P].T
        kkt[n:, :n] = C[:, P]
        rhs = np.concatenate([Ab[P], d])
        sol = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
        return sol[:n], sol[n:]

    for _ in range(3 * J + 50):
        lam = np.zeros(p)
        for _ in range(4 * len(P) + 10):
            z, lam = eq_solve(P)
            if (z > eps).all():
                break
            # no renormalisation here: it would break the general constraints C w = d
            w, P = _step_to_boundary(w, P, z, eps)
            if not P:
                return None
        else:
            return None
        w = np.zeros(J)
        w[P] = z
        # reduced costs of the donors outside P: gradient + C' lambda must be >= 0
        mu = (G @ w - Ab) + C.T @ lam
        mu[P] = np.inf
        j = int(mu.argmin())
        if mu[j] >= -tol * scale:
            if np.abs(C @ w - d).max() > 1e-8 * cscale * (1.0 + np.abs(d).max()):
                return None
            return w
        P_new = sorted([*P, j])
        z_new, _ = eq_solve(P_new)
        if z_new[P_new.index(j)] <= eps:
            return None
        P = P_new
    return None
