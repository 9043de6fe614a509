"""A lean Nelder-Mead for the nested V search, step for step the one in SciPy.

The nested synthetic-control objective costs tens of microseconds per evaluation and
the V search makes a few hundred thousand of them in a placebo run, so the per-step
bookkeeping of :func:`scipy.optimize.minimize` (argument copies, result objects,
callback checks, scalar validation) is a large share of the run time. This module
performs exactly the iterations of SciPy's ``_minimize_neldermead`` (SciPy 1.11 to
1.17: the same initial simplex, coefficients, tie-breaking, stopping rules and
evaluation budget, with the same floating-point operations in the same order), without
bounds, callbacks or a user-supplied simplex. The unit tests compare its path with
SciPy's evaluation by evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

__all__ = ["nelder_mead"]

_FloatArray = NDArray[np.float64]


class _Budget(Exception):
    """The evaluation budget is spent (SciPy's ``_MaxFuncCallError``)."""


def nelder_mead(
    fun: Callable[[_FloatArray], float],
    x0: _FloatArray,
    *,
    xatol: float,
    fatol: float,
    maxfev: int,
    adaptive: bool,
) -> tuple[_FloatArray, float, int]:
    """Minimise ``fun`` from ``x0`` by the Nelder-Mead simplex method.

    Parameters
    ----------
    fun : callable
        Objective; receives a fresh 1-d float array it may keep, returns a float.
    x0 : ndarray (N,)
        Starting point.
    xatol, fatol : float
        Stop when every vertex is within ``xatol`` (max-norm) of the best one and
        every vertex value within ``fatol`` of the best value.
    maxfev : int
        Evaluation budget.
    adaptive : bool
        Gao and Han (2012) dimension-dependent coefficients.

    Returns
    -------
    tuple
        The best vertex, its value and the number of evaluations, as SciPy's
        ``res.x``, ``res.fun`` and ``res.nfev``.
    """
    x0 = np.asarray(x0, dtype=np.float64).flatten()
    N = x0.shape[0]
    if adaptive:
        dim = float(N)
        rho, chi, psi, sigma = 1, 1 + 2 / dim, 0.75 - 1 / (2 * dim), 1 - 1 / dim
    else:
        rho, chi, psi, sigma = 1, 2, 0.5, 0.5
    nonzdelt, zdelt = 0.05, 0.00025
    sim = np.empty((N + 1, N), dtype=np.float64)
    sim[0] = x0
    for k in range(N):
        y = np.array(x0, copy=True)
        if y[k] != 0:
            y[k] = (1 + nonzdelt) * y[k]
        else:
            y[k] = zdelt
        sim[k + 1] = y
    ncalls = [0]

    def f(x: _FloatArray) -> float:
        if ncalls[0] >= maxfev:
            raise _Budget
        ncalls[0] += 1
        return fun(x)

    fsim = np.full((N + 1,), np.inf, dtype=float)
    try:
        for k in range(N + 1):
            fsim[k] = f(sim[k].copy())
    except _Budget:
        pass
    # SciPy sorts twice here (the second sort of a sorted array keeps its order only
    # if the sort is stable, so it is repeated as in SciPy)
    for _ in range(2):
        ind = np.argsort(fsim)
        sim = np.take(sim, ind, 0)
        fsim = np.take(fsim, ind, 0)
    c_r, c_e = 1 + rho, 1 + rho * chi
    c_o, c_i = 1 + psi * rho, 1 - psi
    while ncalls[0] < maxfev:
        try:
            if (
                np.abs(sim[1:] - sim[0]).max() <= xatol
                and np.abs(fsim[0] - fsim[1:]).max() <= fatol
            ):
                break
            last = sim[-1]
            xbar = np.add.reduce(sim[:-1], 0) / N
            xr = c_r * xbar - rho * last
            fxr = f(xr)
            doshrink = False
            if fxr < fsim[0]:
                xe = c_e * xbar - rho * chi * last
                fxe = f(xe)
                if fxe < fxr:
                    sim[-1], fsim[-1] = xe, fxe
                else:
                    sim[-1], fsim[-1] = xr, fxr
            elif fxr < fsim[-2]:
                sim[-1], fsim[-1] = xr, fxr
            elif fxr < fsim[-1]:
                xc = c_o * xbar - psi * rho * last
                fxc = f(xc)
                if fxc <= fxr:
                    sim[-1], fsim[-1] = xc, fxc
                else:
                    doshrink = True
            else:
                xcc = c_i * xbar + psi * last
                fxcc = f(xcc)
                if fxcc < fsim[-1]:
                    sim[-1], fsim[-1] = xcc, fxcc
                else:
                    doshrink = True
            if doshrink:
                for j in range(1, N + 1):
                    sim[j] = sim[0] + sigma * (sim[j] - sim[0])
                    fsim[j] = f(sim[j].copy())
        except _Budget:
            pass
        ind = np.argsort(fsim)
        sim = np.take(sim, ind, 0)
        fsim = np.take(fsim, ind, 0)
    return sim[0], float(np.min(fsim)), ncalls[0]
