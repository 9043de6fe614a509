"""Conditional least-favourable (C-LF) confidence sets under relative magnitudes.

Delta^RM(Mbar) bounds every post-period change in the trend violation by Mbar times
the largest pre-period change: |delta_{t+1} - delta_t| <= Mbar * max_{s <= 0}
|delta_{s} - delta_{s-1}| (Rambachan and Roth 2023). It is a finite union of polyhedra,
one per choice of the pre-period change ``s`` attaining the maximum and its sign, so the
confidence set is the union of the sets for each polyhedron (as in HonestDiD).

For one polyhedron ``A delta <= 0`` the hypothesis ``l' tau_post = theta`` becomes the
moment inequalities ``E[Y(theta) - X nu] <= 0`` with nuisance ``nu`` (Andrews, Roth and
Pakes 2023, "ARP"). The test statistic is ``eta = min_nu max_j (Y_j - X_j nu) / sd_j``;
by linear-programming duality ``eta = max_{gamma in P} gamma' Y`` over the polytope
``P = {gamma >= 0, sd' gamma = 1, X' gamma = 0}``. Its vertices are the extreme rays of the
cone ``{gamma >= 0, X' gamma = 0}`` normalised by ``sd``; the rays do not depend on
Mbar, s or the sign, so they are enumerated once. With the vertices in hand, eta, the
optimal vertex and the truncation points of the conditional test (ARP's dual approach,
their Appendix) are closed-form and vectorised over the whole theta grid, instead of one
linear programme per grid point. The least-favourable first stage uses the 1 - kappa
quantile of eta under ``Y ~ N(0, Sigma_Y)`` (kappa = alpha / 10), simulated with the same
normal draws for every polyhedron; the second stage is the conditional test at level
(alpha - kappa) / (1 - kappa) truncated above at that critical value (ARP section 6).
HonestDiD does this truncation only with two or more post-periods; with a single
post-period its code skips it, so its intervals are then slightly wider than these.

The grid over theta spans the identified set at ``betahat`` widened by 20 standard
errors each side (HonestDiD 0.2.6, which produced its README); it is widened further
when an end of the grid is accepted, and each end is then refined between its grid
neighbours unless ``refine=False``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, stats

from impact.errors import EstimationError

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

__all__ = ["MAX_SUPPORTS", "identified_set", "rm_confidence_sets", "rm_constraints"]

#: Largest number of candidate supports enumerated for the dual vertices.
MAX_SUPPORTS = 3_000_000


def rm_constraints(
    num_pre: int, num_post: int, Mbar: float, s: int, positive: bool
) -> FloatArray:
    """Matrix ``A`` with ``A delta <= 0`` iff delta is in Delta^RM_{s,sign}(Mbar).

    Parameters
    ----------
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients.
    Mbar : float
        Relative-magnitude bound.
    s : int
        Pre-period change (``delta_s - delta_{s-1}``, ``s`` in ``-(num_pre-1)..0``)
        assumed to be the largest in absolute value.
    positive : bool
        Whether that change is positive.

    Returns
    -------
    ndarray
        Shape ``(rows, num_pre + num_post)``; columns ordered like ``betahat``.
    """
    n = num_pre + num_post
    diff = np.zeros((n, n + 1))
    idx = np.arange(n)
    diff[idx, idx] = -1.0
    diff[idx, idx + 1] = 1.0
    v = np.zeros(n + 1)
    v[num_pre + s - 1] = -1.0
    v[num_pre + s] = 1.0
    if not positive:
        v = -v
    bound = np.vstack([np.tile(v, (num_pre, 1)), np.tile(Mbar * v, (num_post, 1))])
    A = np.vstack([diff - bound, -diff - bound])
    A = A[(A**2).sum(axis=1) > 1e-10]
    return np.delete(A, num_pre, axis=1)


def _gamma_matrix(l_vec: FloatArray) -> FloatArray:
    """An invertible matrix whose first row is ``l_vec``."""
    n = len(l_vec)
    j0 = int(np.argmax(np.abs(l_vec)))
    rows = [l_vec] + [np.eye(n)[j] for j in range(n) if j != j0]
    return np.array(rows)


def _extreme_rays(X: FloatArray) -> FloatArray:
    """Extreme rays of ``{gamma >= 0, X' gamma = 0}`` (one per row, summing to one)."""
    m, k = X.shape
    if k == 0:
        return np.eye(m)
    paired = _paired_rays(X)
    if paired is not None:
        return paired
    total = sum(math.comb(m, q) for q in range(1, k + 2))
    if total > MAX_SUPPORTS:
        raise EstimationError(
            f"relative_magnitude with {k + 1} post-period coefficients needs "
            f"{total:,} vertex candidates; restrict the event window to at most 11 "
            "post-periods (or use method='smoothness')."
        )
    scale = max(float(np.abs(X).max()), 1e-300)
    tol = 1e-9 * scale
    rays: list[FloatArray] = []
    for q in range(1, k + 2):
        for chunk in _chunks(itertools.combinations(range(m), q), 20_000):
            S = np.array(chunk)
            XS = X[S].transpose(0, 2, 1)  # (n, k, q)
            if q == 1:
                ok = np.abs(XS[:, :, 0]).max(axis=1) <= tol
                vecs = np.ones((len(S), 1))
            else:
                _, sv, vh = np.linalg.svd(XS, full_matrices=True)
                rank = (sv > tol).sum(axis=1)
                vecs = vh[:, -1, :]
                resid = np.abs(np.einsum("nkq,nq->nk", XS, vecs)).max(axis=1)
                ok = (rank == q - 1) & (resid <= 1e3 * tol)
                vecs = vecs * np.sign(vecs.sum(axis=1, keepdims=True))
                ok &= (vecs > 1e-10).all(axis=1)
            if not ok.any():
                continue
            full = np.zeros((int(ok.sum()), m))
            rows = np.repeat(np.arange(full.shape[0]), q)
            full[rows, S[ok].ravel()] = vecs[ok].ravel()
            rays.append(full / full.sum(axis=1, keepdims=True))
    if not rays:
        raise EstimationError(
            "The relative-magnitude moment inequalities have no dual vertex; the "
            "event-study covariance may be degenerate."
        )
    R = np.vstack(rays)
    _, keep = np.unique(np.round(R, 10), axis=0, return_index=True)
    return np.asarray(R[np.sort(keep)], dtype=float)


def _paired_rays(X: FloatArray) -> FloatArray | None:
    """Generators of the cone when the rows come in pairs ``x_t, -x_t``.

    The post-period rows of Delta^RM are ``+-(delta_t - delta_{t-1}) - bound``, so the
    nuisance rows are ``X = [Xr; -Xr]`` with ``Xr`` of full column rank. With
    ``u = gamma_+ - gamma_-`` the cone is ``{Xr' u = 0}``, a line ``u = c u*``, so it
    is generated by ``e_t+ + e_t-`` (t = 1..T) and the positive/negative parts of
    ``+-u*``: T + 2 generators instead of a combinatorial enumeration. Returns None
    when the structure is absent.
    """
    m, k = X.shape
    if m % 2:
        return None
    T = m // 2
    scale = max(float(np.abs(X).max()), 1e-300)
    if np.abs(X[:T] + X[T:]).max() > 1e-12 * scale:
        return None
    _, sv, vh = np.linalg.svd(X[:T].T, full_matrices=True)
    if (sv > 1e-9 * scale).sum() != T - 1:
        return None
    u = vh[-1]
    gens = [np.concatenate([np.eye(T)[t], np.eye(T)[t]]) for t in range(T)]
    for sign in (1.0, -1.0):
        gens.append(np.concatenate([np.maximum(sign * u, 0), np.maximum(-sign * u, 0)]))
    R = np.array(gens)
    R = R[R.sum(axis=1) > 1e-12]
    return np.asarray(R / R.sum(axis=1, keepdims=True), dtype=float)


def _chunks(
    it: itertools.combinations[tuple[int, ...]], size: int
) -> Iterator[list[tuple[int, ...]]]:
    while True:
        chunk = list(itertools.islice(it, size))
        if not chunk:
            return
        yield chunk


def _sqrtm_psd(S: FloatArray) -> FloatArray:
    vals, vecs = np.linalg.eigh((S + S.T) / 2)
    return np.asarray((vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T)


class _Polyhedron:
    """Pre-computed pieces of the ARP test for one (Mbar, s, sign)."""

    def __init__(
        self,
        A: FloatArray,
        betahat: FloatArray,
        sigma: FloatArray,
        num_pre: int,
        gamma_inv: FloatArray,
        rays: FloatArray,
        rows: BoolArray,
        z_draws: FloatArray,
        kappa: float,
    ) -> None:
        A = A[rows]
        AG = A[:, num_pre:] @ gamma_inv
        self.a = AG[:, 0]
        self.Y = A @ betahat
        S = A @ sigma @ A.T
        sd = np.sqrt(np.clip(np.diag(S), 0, None))
        if (sd <= 1e-12 * max(float(sd.max()), 1e-300)).any():
            raise EstimationError(
                "A relative-magnitude moment has zero variance; sigma is singular "
                "in the direction of the event-study differences."
            )
        self.V = rays / (rays @ sd)[:, None]  # dual vertices
        VS = self.V @ S
        self.VSV = VS @ self.V.T
        self.var_v = np.diag(self.VSV).copy()
        draws = z_draws[:, : len(sd)] @ _sqrtm_psd(S)
        eta_sim = (draws @ self.V.T).max(axis=1)
        self.lf_cv = float(np.quantile(eta_sim, 1 - kappa))
        self.Va = self.V @ self.a
        self.VY = self.V @ self.Y


def _accept(
    poly: _Polyhedron, theta: FloatArray, alpha: float, kappa: float
) -> BoolArray:
    """Conditional least-favourable hybrid test at each theta (True = not rejected)."""
    U = poly.VY[:, None] - poly.Va[:, None] * theta[None, :]  # (n_v, G)
    jstar = np.argmax(U, axis=0)
    cols = np.arange(len(theta))
    eta = U[jstar, cols]
    var_b = poly.var_v[jstar]
    accept = np.ones(len(theta), dtype=bool)
    degenerate = var_b <= np.finfo(float).eps
    accept[degenerate] = eta[degenerate] <= 0
    first_stage = eta > poly.lf_cv
    accept[first_stage & ~degenerate] = False
    todo = ~degenerate & ~first_stage
    if not todo.any():
        return accept
    j, e, vb = jstar[todo], eta[todo], var_b[todo]
    cov = poly.VSV[:, j]  # (n_v, n)
    num = U[:, todo] - cov / vb * e  # v' s
    den = 1.0 - cov / vb
    tol = 1e-10
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = num / den
    vlo = np.where(den > tol, ratio, -np.inf).max(axis=0)
    vup = np.where(den < -tol, ratio, np.inf).min(axis=0)
    sb = np.sqrt(vb)
    zlo = vlo / sb
    zup = np.minimum(vup, poly.lf_cv) / sb
    stat = e / sb
    inside = (zlo <= stat) & (stat <= zup)
    mod_size = (alpha - kappa) / (1 - kappa)
    cval = np.zeros(len(stat))
    if inside.any():
        cval[inside] = np.maximum(
            0.0, _truncnorm_ppf(1 - mod_size, zlo[inside], zup[inside])
        )
    res = np.ones(len(stat), dtype=bool)
    res[inside] = stat[inside] <= cval[inside]
    accept[todo] = res
    return accept


def _truncnorm_ppf(p: float, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Quantile of a standard normal truncated to ``[lo, hi]`` (stable in the tails)."""
    out = np.empty(len(lo))
    flip = lo > 0  # work in the lower tail for accuracy
    a = np.where(flip, -hi, lo)
    b = np.where(flip, -lo, hi)
    pp = np.where(flip, 1 - p, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = stats.truncnorm.ppf(pp, a, b)
    out = np.where(flip, -out, out)
    bad = ~np.isfinite(out)
    out[bad] = np.where(np.isfinite(hi[bad]), hi[bad], lo[bad])
    return np.asarray(out, dtype=float)


def rm_confidence_sets(
    betahat: FloatArray,
    sigma: FloatArray,
    num_pre: int,
    num_post: int,
    l_vec: FloatArray,
    Mbar_values: FloatArray,
    alpha: float,
    *,
    grid_points: int = 1000,
    n_sims: int = 1000,
    rng: np.random.Generator,
    refine: bool = True,
) -> tuple[FloatArray, FloatArray, list[str]]:
    """C-LF confidence interval for ``l' tau_post`` under Delta^RM(Mbar), per Mbar.

    Parameters
    ----------
    betahat, sigma : ndarray
        Event-study coefficients (pre then post) and their covariance.
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients.
    l_vec : ndarray
        Weights on the post-period coefficients.
    Mbar_values : ndarray
        Values of Mbar (>= 0).
    alpha : float
        One minus the coverage.
    grid_points : int, default 1000
        Points of the theta grid, which spans the identified set at ``betahat`` plus
        20 standard errors of the target on each side (HonestDiD 0.2.6).
    n_sims : int, default 1000
        Draws for the least-favourable critical value.
    rng : numpy.random.Generator
        Source of the draws.
    refine : bool, default True
        Narrow each end between its grid neighbours; False returns the extreme
        accepted grid points, as HonestDiD does.

    Returns
    -------
    tuple
        Lower ends, upper ends (NaN when the set is empty) and warning messages.
    """
    kappa = alpha / 10
    gamma_inv = np.asarray(np.linalg.inv(_gamma_matrix(l_vec)), dtype=np.float64)
    sd_theta = float(np.sqrt(l_vec @ sigma[num_pre:, num_pre:] @ l_vec))
    warnings: list[str] = []
    # The nuisance design X (and so the dual rays) is the same for every polyhedron.
    A0 = rm_constraints(num_pre, num_post, 1.0, 0, True)
    rows0 = _post_rows(A0, num_pre, num_post)
    X = (A0[rows0][:, num_pre:] @ gamma_inv)[:, 1:]
    rays = _extreme_rays(X)
    z_draws = rng.standard_normal((n_sims, int(rows0.sum())))

    lows, highs = [], []
    for Mbar in np.asarray(Mbar_values, dtype=float):
        polys = []
        for s in range(-(num_pre - 1), 1):
            for positive in (True, False):
                A = rm_constraints(num_pre, num_post, Mbar, s, positive)
                rows = _post_rows(A, num_pre, num_post)
                polys.append(
                    _Polyhedron(
                        A,
                        betahat,
                        sigma,
                        num_pre,
                        gamma_inv,
                        rays,
                        rows,
                        z_draws,
                        kappa,
                    )
                )

        def accept_at(theta: FloatArray, polys: list[_Polyhedron] = polys) -> BoolArray:
            out = np.zeros(len(theta), dtype=bool)
            for p in polys:
                out |= _accept(p, theta, alpha, kappa)
            return out

        id_lo, id_hi = identified_set(betahat, num_pre, num_post, l_vec, Mbar)
        if not np.isfinite(id_lo):
            id_lo = id_hi = float(l_vec @ betahat[num_pre:])
        half_width = 20.0 * sd_theta
        lo_hi = (np.nan, np.nan)
        for _ in range(4):
            grid = np.linspace(id_lo - half_width, id_hi + half_width, grid_points)
            acc = accept_at(grid)
            if not acc.any():
                break
            if acc[0] or acc[-1]:
                half_width *= 4.0
                continue
            idx = np.flatnonzero(acc)
            lo_hi = (float(grid[idx[0]]), float(grid[idx[-1]]))
            if refine:
                lo_hi = (
                    _refine(accept_at, grid[idx[0] - 1], grid[idx[0]]),
                    _refine(accept_at, grid[idx[-1] + 1], grid[idx[-1]]),
                )
            break
        else:
            warnings.append(
                f"Mbar={Mbar:g}: the relative-magnitude confidence set reaches "
                f"{half_width / 4:.3g} beyond the identified set; reported as infinite."
            )
            lo_hi = (-np.inf, np.inf)
        if np.isnan(lo_hi[0]):
            warnings.append(
                f"Mbar={Mbar:g}: every value of the target was rejected (empty "
                "confidence set); the pre-period coefficients are inconsistent with "
                "this restriction."
            )
        lows.append(lo_hi[0])
        highs.append(lo_hi[1])
    return np.array(lows), np.array(highs), warnings


def identified_set(
    betahat: FloatArray, num_pre: int, num_post: int, l_vec: FloatArray, Mbar: float
) -> tuple[float, float]:
    """Identified set of ``l' tau_post`` under Delta^RM(Mbar) at ``beta = betahat``.

    Union over the polyhedra of ``l' beta_post - l' delta_post`` with ``delta_pre =
    beta_pre``; ``(nan, nan)`` when every polyhedron is infeasible.

    Parameters
    ----------
    betahat : ndarray
        Event-study coefficients, pre then post.
    num_pre, num_post : int
        Numbers of pre- and post-period coefficients.
    l_vec : ndarray
        Weights on the post-period coefficients.
    Mbar : float
        Relative-magnitude bound.

    Returns
    -------
    tuple of float
        Lower and upper ends.
    """
    c = np.r_[np.zeros(num_pre), l_vec]
    A_eq = np.hstack([np.eye(num_pre), np.zeros((num_pre, num_post))])
    target = float(l_vec @ betahat[num_pre:])
    lo, hi = np.inf, -np.inf
    for s in range(-(num_pre - 1), 1):
        for positive in (True, False):
            A = rm_constraints(num_pre, num_post, Mbar, s, positive)
            kw: dict[str, object] = {
                "A_ub": A,
                "b_ub": np.zeros(len(A)),
                "A_eq": A_eq,
                "b_eq": betahat[:num_pre],
                "bounds": [(None, None)] * (num_pre + num_post),
                "method": "highs",
            }
            low = optimize.linprog(c, **kw)  # type: ignore[call-overload]
            high = optimize.linprog(-c, **kw)  # type: ignore[call-overload]
            if low.status == 0 and high.status == 0:
                lo = min(lo, target + high.fun)
                hi = max(hi, target - low.fun)
    if not np.isfinite(lo):
        return (float("nan"), float("nan"))
    return (float(lo), float(hi))


def _post_rows(A: FloatArray, num_pre: int, num_post: int) -> BoolArray:
    """Rows of ``A`` that involve a post-period coefficient (HonestDiD's default)."""
    return np.asarray((A[:, num_pre:] != 0).any(axis=1))


def _refine(
    accept_at: Callable[[FloatArray], BoolArray],
    outside: float,
    inside: float,
    rounds: int = 3,
) -> float:
    """Narrow the accepted/rejected boundary between two grid points."""
    for _ in range(rounds):
        pts = np.linspace(outside, inside, 65)
        acc = accept_at(pts)
        first = int(np.argmax(acc))  # acc[-1] is True
        outside, inside = (
            float(pts[first - 1]) if first > 0 else outside,
            float(pts[first]),
        )
        if first == 0:
            break
    return inside
