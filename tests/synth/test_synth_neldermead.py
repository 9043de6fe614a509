"""The lean Nelder-Mead of the nested V search takes exactly SciPy's steps.

``impact.synth._neldermead.nelder_mead`` replaces ``scipy.optimize.minimize(...,
method="Nelder-Mead")`` in the nested V search only to save per-step overhead; the
reference is SciPy itself (the installed version): the same sequence of evaluated
points, the same best vertex, value and evaluation count, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from impact.synth._neldermead import nelder_mead
from impact.synth.abadie import _NestedObjective, standardise


def _recorded(fun):  # type: ignore[no-untyped-def]
    seen: list[np.ndarray] = []

    def f(x: np.ndarray) -> float:
        seen.append(np.array(x, copy=True))
        return float(fun(x))

    return f, seen


def _rosenbrock(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def _plateau(x: np.ndarray) -> float:
    # ties between vertices and a flat region: tie-breaking must match too
    return float(np.floor(4.0 * np.abs(x - 0.3)).sum())


def _nested_objective() -> _NestedObjective:
    rng = np.random.default_rng(7)
    K, J, T = 5, 12, 9
    X0 = rng.normal(size=(K, J))
    x1 = X0 @ rng.dirichlet(np.ones(J)) + 0.5 * rng.normal(size=K)
    Z0 = rng.normal(size=(T, J)).cumsum(axis=0)
    z1 = Z0 @ rng.dirichlet(np.ones(J)) + 0.2 * rng.normal(size=T)
    x1s, X0s = standardise(x1, X0)
    return _NestedObjective(x1s, X0s, z1, Z0)


@pytest.mark.parametrize("adaptive", [False, True])
@pytest.mark.parametrize(
    ("name", "x0", "xatol", "fatol", "maxfev"),
    [
        ("rosenbrock", [-1.2, 1.0, 0.5, 0.0, 2.0], 1e-4, 1e-8, 2000),
        ("rosenbrock", [0.0, 0.0, 0.0], 1e-6, 1e-12, 57),  # stops on the budget
        ("plateau", [0.0, 1.0, -2.0, 0.5], 1e-3, 1e-9, 400),
        ("nested", [0.0, -1.0, 0.5, 0.2, -0.3], 1e-3, 1e-9, 500),
    ],
)
def test_same_path_as_scipy(
    name: str, x0: list[float], xatol: float, fatol: float, maxfev: int, adaptive: bool
) -> None:
    funcs = {"rosenbrock": _rosenbrock, "plateau": _plateau}
    f_ref, seen_ref = _recorded(funcs[name] if name in funcs else _nested_objective())
    f_new, seen_new = _recorded(funcs[name] if name in funcs else _nested_objective())
    ref = minimize(
        f_ref,
        np.array(x0),
        method="Nelder-Mead",
        options={
            "xatol": xatol,
            "fatol": fatol,
            "maxfev": maxfev,
            "adaptive": adaptive,
        },
    )
    x, fun, nfev = nelder_mead(
        f_new, np.array(x0), xatol=xatol, fatol=fatol, maxfev=maxfev, adaptive=adaptive
    )
    assert nfev == ref.nfev == len(seen_new) == len(seen_ref)
    assert all(np.array_equal(a, b) for a, b in zip(seen_new, seen_ref, strict=True))
    assert np.array_equal(x, ref.x)
    assert fun == float(ref.fun)
