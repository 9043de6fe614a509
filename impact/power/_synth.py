"""Vectorised synthetic-control power with a placebo-in-space RMSPE-ratio test.

Design-stage approximation of Abadie, Diamond and Hainmueller (2010) for one treated
unit: donor weights fit the pre-period outcome path (equal predictor weights, exact
simplex least squares from :func:`impact.synth.weights.simplex_weights`). Every unit of
the pool is fitted once as if treated (``N`` small quadratic programs); the placebo
gaps of all units are then reused for every draw and effect size:

* the treated unit's post-period gap gains the injected effect;
* a placebo unit's gap loses ``w_ji`` times the effect when the treated unit ``i`` is
  one of its donors (the treated unit stays in the placebo donor pools);
* the p-value is the rank of the treated unit's post/pre RMSPE ratio among all units,
  ``(1 + #{j: ratio_j >= ratio_i}) / N``, as in ADH's placebo test.

Everything after the ``N`` fits is matrix algebra over (treated unit, placebo unit)
pairs, so hundreds of draws and effect sizes cost milliseconds.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from impact.errors import EstimationError

__all__ = ["SynthPlacebo", "synth_placebo"]

FloatArray = NDArray[np.float64]


class SynthPlacebo:
    """Leave-one-out synthetic controls of every unit in the pool.

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcomes of the pool.
    t0 : int
        Number of pre-periods (columns before the treatment time).
    """

    def __init__(self, Y: FloatArray, t0: int) -> None:
        from impact.synth.weights import simplex_weights

        n = Y.shape[0]
        W = np.zeros((n, n))
        pre = Y[:, :t0]
        idx = np.arange(n)
        for i in range(n):  # one small QP per unit; no array form exists
            others = idx != i
            try:
                W[i, others] = simplex_weights(pre[i], pre[others].T)
            except EstimationError as exc:
                raise EstimationError(
                    f"Synthetic-control weights failed for pool unit {i}: {exc}"
                ) from exc
        self.W = W
        self.t0 = t0
        self.gaps = Y - W @ Y
        pre_mspe = (self.gaps[:, :t0] ** 2).mean(axis=1)
        scale = float(np.mean(Y[:, :t0] ** 2)) or 1.0
        self.pre_mspe = np.maximum(pre_mspe, 1e-12 * scale)

    def test(
        self, E: FloatArray, alpha: float, statistic: str = "ratio"
    ) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Estimates and placebo-test decisions for every unit as the treated one.

        Parameters
        ----------
        E : ndarray (N, T1)
            Injected post-period effect if unit ``i`` were treated (row ``i``).
        alpha : float
            Size of the test.
        statistic : {"ratio", "gap"}, default "ratio"
            ``"ratio"``: post/pre RMSPE ratio (ADH); ``"gap"``: absolute mean
            post-period gap (robust to near-perfect pre-period fits, which make the
            ratio explode when donors outnumber pre-periods).

        Returns
        -------
        estimate : ndarray (N,)
            Mean post-period gap of each unit when treated.
        reject : ndarray of bool (N,)
            Whether the placebo p-value is <= alpha.
        """
        t0 = self.t0
        G = self.gaps[:, t0:]  # (N, T1)
        t1 = G.shape[1]
        treated_gap = G + E
        estimate = treated_gap.mean(axis=1)
        Wji = self.W  # W[j, i]: weight of unit i in unit j's synthetic control
        if statistic == "gap":
            # placebo j given treated i: mean post gap_j - W[j, i] mean(E_i)
            ratio_t = np.abs(estimate)
            ratio_p = np.abs(G.mean(axis=1)[:, None] - Wji * E.mean(axis=1)[None, :])
        else:
            ratio_t = np.sqrt((treated_gap**2).mean(axis=1) / self.pre_mspe)
            # placebo j given treated i: gap_j - W[j, i] E_i
            base = (G**2).sum(axis=1)  # (N_j,)
            cross = G @ E.T  # (N_j, N_i): G_j . E_i
            e2 = (E**2).sum(axis=1)  # (N_i,)
            post = (base[:, None] - 2.0 * Wji * cross + Wji**2 * e2[None, :]) / t1
            ratio_p = np.sqrt(np.clip(post, 0.0, None) / self.pre_mspe[:, None])
        n = G.shape[0]
        at_least = ratio_p >= ratio_t[None, :]
        at_least[np.arange(n), np.arange(n)] = False
        pvalue = (1.0 + at_least.sum(axis=0)) / n
        return estimate, pvalue <= alpha + 1e-12


def synth_placebo(Y: FloatArray, t0: int) -> SynthPlacebo:
    """Fit the leave-one-out synthetic controls of a pool (see :class:`SynthPlacebo`).

    Parameters
    ----------
    Y : ndarray (N, T)
        Outcomes.
    t0 : int
        Number of pre-periods.

    Returns
    -------
    SynthPlacebo
        The fitted placebo set.
    """
    return SynthPlacebo(np.asarray(Y, dtype=float), int(t0))
