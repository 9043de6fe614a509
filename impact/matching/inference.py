"""Standard errors after matching and weighting.

* ``wls_effect``: the weighted regression of the outcome on treatment (plus centred
  covariates for regression adjustment) with a sandwich variance: HC0/HC1/HC3 or
  cluster-robust on one or two cluster variables. The cluster-robust form matches R
  ``sandwich::vcovCL(type = "HC1")``: the meat is scaled by ``G/(G-1)`` for each
  clustering and the whole by ``(n-1)/(n-k)``; two-way clustering is
  ``V_a + V_b - V_ab`` (Cameron, Gelbach and Miller 2011).
* ``abadie_imbens``: the Abadie-Imbens (2006) variance for matching with replacement,
  with the homoskedastic conditional variance used by R ``Matching::Match`` by
  default (``Var.calc = 0``), accounting for how often each control is reused.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from impact.errors import EstimationError

__all__ = ["abadie_imbens", "within_arm_variance", "wls_effect"]


def _codes(x: np.ndarray) -> np.ndarray:
    return np.unique(x, return_inverse=True)[1].ravel()


def wls_effect(
    y: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    *,
    covariates: np.ndarray | None = None,
    center_weights: np.ndarray | None = None,
    vcov: str = "HC1",
    clusters: Sequence[np.ndarray] | None = None,
) -> tuple[float, float]:
    """Weighted regression estimate of the treatment coefficient and its SE.

    Parameters
    ----------
    y, d, w : ndarray (n,)
        Outcome, 0/1 treatment and weights (rows with ``w == 0`` are dropped).
    covariates : ndarray (n, p), optional
        Regression adjustment: covariates are centred at their weighted mean over the
        rows where ``center_weights`` is positive (the target population) and entered
        with their interactions with ``d``, so the treatment coefficient is the
        g-computation average effect in that population.
    center_weights : ndarray (n,), optional
        Weights defining the target population of the adjustment (default: treated).
    vcov : {"HC0", "HC1", "HC3", "cluster"}
        Variance type.
    clusters : sequence of ndarray, optional
        One or two cluster label arrays (for ``vcov="cluster"``).

    Returns
    -------
    tuple of float
        (estimate, standard error).
    """
    keep = w > 0
    y_k, d_k, w_k = y[keep], d[keep].astype(float), w[keep]
    cols = [np.ones(keep.sum()), d_k]
    if covariates is not None and covariates.shape[1] > 0:
        Xc = covariates[keep]
        cw = (center_weights if center_weights is not None else d * w)[keep]
        if cw.sum() <= 0:
            cw = w_k
        mu = (cw[:, None] * Xc).sum(axis=0) / cw.sum()
        Xc = Xc - mu
        sd = Xc.std(axis=0)
        Xc = Xc[:, sd > 0]
        cols.extend([Xc, d_k[:, None] * Xc])
    X = np.column_stack(cols)
    n, k = X.shape
    sw = np.sqrt(w_k)
    Xw = X * sw[:, None]
    try:
        XtWX_inv = np.linalg.inv(Xw.T @ Xw)
    except np.linalg.LinAlgError as exc:
        raise EstimationError(
            "match: the weighted outcome regression is singular; a regression-"
            "adjustment covariate may be constant or collinear in the matched sample."
        ) from exc
    beta = XtWX_inv @ (Xw.T @ (y_k * sw))
    resid = y_k - X @ beta
    score = X * (w_k * resid)[:, None]  # estimating-function rows
    if vcov == "cluster":
        if not clusters:
            raise EstimationError("match: cluster SEs need cluster labels.")
        labels = [np.asarray(c)[keep] for c in clusters]

        def meat_for(lab: np.ndarray) -> np.ndarray:
            code = _codes(lab)
            g = int(code.max()) + 1
            s = np.zeros((g, k))
            np.add.at(s, code, score)
            adj = g / (g - 1) if g > 1 else 1.0
            return adj * (s.T @ s)

        if len(labels) == 1:
            meat = meat_for(labels[0])
        else:
            a, b = labels[0], labels[1]
            ab = _codes(a) * (int(_codes(b).max()) + 1) + _codes(b)
            meat = meat_for(a) + meat_for(b) - meat_for(ab)
        meat = meat * (n - 1) / (n - k)
    else:
        if vcov == "HC3":
            h = np.einsum("ij,jk,ik->i", Xw, XtWX_inv, Xw)
            adj_r = 1.0 / (1.0 - np.clip(h, 0, 1 - 1e-12))
            sc = score * adj_r[:, None]
            meat = sc.T @ sc
        else:
            meat = score.T @ score
            if vcov == "HC1":
                meat = meat * n / (n - k)
    V = XtWX_inv @ meat @ XtWX_inv
    var = float(V[1, 1])
    se = float(np.sqrt(var)) if var >= 0 else float("nan")
    return float(beta[1]), se


def abadie_imbens(
    y: np.ndarray,
    focal: np.ndarray,
    match: np.ndarray,
    weight: np.ndarray,
    *,
    sign: float = 1.0,
    unit_var: np.ndarray | None = None,
) -> tuple[float, float]:
    """Abadie-Imbens (2006) estimate and SE for matching with replacement.

    Parameters
    ----------
    y : ndarray (n,)
        Outcome of every unit.
    focal, match, weight : ndarray
        The pairs table: focal unit, matched unit, weight of the match in the focal
        unit's set (summing to 1 per focal unit).
    sign : float
        +1 when focal units are treated (ATT), -1 when they are controls (ATC).
    unit_var : ndarray (n,), optional
        Heteroskedastic conditional variances ``sigma^2(X_j)`` of every unit (see
        :func:`within_arm_variance`); default: the homoskedastic estimate.

    Returns
    -------
    tuple of float
        (estimate, standard error). The variance is
        ``[sum_focal (tau_i - tau)^2 + sigma^2 sum_matched (K_j^2 - K'_j)] / N^2``
        with ``K_j`` the summed match weights of unit ``j``, ``K'_j`` the summed
        squared weights and ``sigma^2`` half the weighted mean squared deviation of
        the match-row differences ``Y_i - Y_j`` from the estimate
        (``Matching::Match``'s default homoskedastic variance, ``Var.calc = 0``).
    """
    units, f_code = np.unique(focal, return_inverse=True)
    n_f = len(units)
    if n_f == 0:
        raise EstimationError("match: no matched units for the Abadie-Imbens SE.")
    yhat = np.zeros(n_f)
    np.add.at(yhat, f_code, weight * y[match])
    tau_i = sign * (y[units] - yhat)
    est = float(tau_i.mean())
    eps2 = (tau_i - est) ** 2
    # homoskedastic sigma^2 from the match rows, not the focal averages: with k
    # matches (ratio or ties) Var(Y_i - Y_mean) is (1 + 1/k) sigma^2, not 2 sigma^2
    row_eps2 = (sign * (y[focal] - y[match]) - est) ** 2
    sigma2 = 0.5 * float(np.sum(weight * row_eps2) / np.sum(weight))
    m_units, m_code = np.unique(match, return_inverse=True)
    K = np.zeros(len(m_units))
    KK = np.zeros(len(m_units))
    np.add.at(K, m_code, weight)
    np.add.at(KK, m_code, weight**2)
    s2 = np.full(len(m_units), sigma2) if unit_var is None else unit_var[m_units]
    var = (eps2.sum() + np.sum(s2 * (K**2 - KK))) / n_f**2
    return est, float(np.sqrt(var))


def within_arm_variance(
    y: np.ndarray, d: np.ndarray, Z: np.ndarray, n_neighbours: int = 1
) -> np.ndarray:
    """Conditional outcome variance of every unit by matching within its own arm.

    Abadie and Imbens (2006), section 4: ``sigma^2(X_i) = J / (J + 1) *
    (Y_i - mean of its J nearest same-arm neighbours)^2`` (as Stata's
    ``teffects nnmatch, vce(robust, nn(J))``). R ``Matching``'s ``Var.calc = J``
    agrees for ``J = 1`` without ties; it uses the sample variance of the ``J + 1``
    outcomes instead for ``J > 1`` and keeps distance ties among the neighbours.

    Parameters
    ----------
    y : ndarray (n,)
        Outcomes.
    d : ndarray (n,) of bool
        Treatment arms.
    Z : ndarray (n, q)
        Matching space (the scalar distance as one column, or whitened covariates).
    n_neighbours : int
        ``J``.

    Returns
    -------
    ndarray (n,)
        Estimated conditional variances.
    """
    from scipy import spatial

    out = np.zeros(len(y))
    J = int(n_neighbours)
    for g in (True, False):
        idx = np.flatnonzero(d == g)
        if len(idx) <= J:
            raise EstimationError(
                f"match: the heteroskedastic Abadie-Imbens variance needs more than "
                f"{J} units in each arm."
            )
        tree = spatial.cKDTree(Z[idx])
        _, nb = tree.query(Z[idx], k=J + 1)
        nb = np.asarray(nb).reshape(len(idx), J + 1)
        # drop the unit itself (it may not come first among exact duplicates)
        own = nb == np.arange(len(idx))[:, None]
        keep = np.where(own.any(axis=1)[:, None], ~own, np.arange(J + 1) < J)
        nbrs = nb[keep].reshape(len(idx), J)
        ybar = y[idx][nbrs].mean(axis=1)
        out[idx] = J / (J + 1) * (y[idx] - ybar) ** 2
    return out
