"""Work counts of the nested-V inner solve (issue 18); a guard, not a timing.

The nested V search calls the inner QP tens of thousands of times per fit, so the
number of linear solves per call is what the placebo run's time scales with. These
tests count solves on a problem whose optimum is known by brute force, so a change that
silently adds work (or changes the answer) fails here without timing anything.
"""

from __future__ import annotations

import importlib
import itertools

import numpy as np

abadie = importlib.import_module("impact.synth.abadie")


def _brute_force_simplex(x1: np.ndarray, X0: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Exact optimum by enumerating supports (equality-constrained solve on each)."""
    K, J = X0.shape
    best, best_w = np.inf, None
    for size in range(1, J + 1):
        for S in itertools.combinations(range(J), size):
            XS = X0[:, S]
            H = XS.T @ (v[:, None] * XS)
            c = XS.T @ (v * x1)
            kkt = np.block([[H, np.ones((size, 1))], [np.ones((1, size)), 0.0]])
            sol = np.linalg.lstsq(kkt, np.append(c, 1.0), rcond=None)[0][:size]
            if (sol < -1e-12).any():
                continue
            w = np.zeros(J)
            w[list(S)] = sol
            d = x1 - X0 @ w
            loss = float(d @ (v * d))
            if loss < best - 1e-14:
                best, best_w = loss, w
    assert best_w is not None
    return best_w


def _problem() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(18)
    K, J = 5, 8
    X0 = rng.normal(size=(K, J))
    x1 = X0 @ rng.dirichlet(np.ones(J)) + 0.8 * rng.normal(size=K)  # outside the hull
    v = rng.dirichlet(np.ones(K))
    return x1, X0, v


def test_active_set_one_entering_donor_costs_two_solves() -> None:
    x1, X0, v = _problem()
    w_ref = _brute_force_simplex(x1, X0, v)
    support = [int(i) for i in np.flatnonzero(w_ref > 1e-12)]
    assert len(support) >= 2
    # start one donor short of the optimal support, at the optimum of that face
    start = support[1:]
    obj = abadie._NestedObjective(x1, X0, np.zeros(3), np.zeros((3, X0.shape[1])))
    z0 = obj._eq_solve(v, start)
    assert z0 is not None and (z0 > 0).all()
    calls = []
    solve = obj._eq_solve

    def counted(vv: np.ndarray, P: list[int]) -> np.ndarray | None:
        calls.append(list(P))
        return solve(vv, P)

    obj._eq_solve = counted  # type: ignore[method-assign]
    w = obj._active_set(v, start, z0)
    assert w is not None
    np.testing.assert_allclose(w, w_ref, atol=1e-10)
    # the face of `start` once, then the face with the entering donor once: the solve
    # that checked the entering donor's weight is reused, not repeated
    assert calls == [start, sorted(support)]


def test_fast_path_keeps_support_without_general_solve() -> None:
    x1, X0, v = _problem()
    obj = abadie._NestedObjective(x1, X0, np.zeros(3), np.zeros((3, X0.shape[1])))
    w0 = obj.weights(v)
    np.testing.assert_allclose(w0, _brute_force_simplex(x1, X0, v), atol=1e-10)
    support = obj.support
    called = []
    general = obj._general_weights

    def counted(vv: np.ndarray) -> np.ndarray:
        called.append(1)
        return general(vv)

    obj._general_weights = counted  # type: ignore[method-assign]
    # a tiny change of V keeps the support: one KKT solve, no active-set iterations
    v2 = v * (1.0 + 1e-6 * np.arange(v.size))
    v2 /= v2.sum()
    w2 = obj.weights(v2)
    assert called == []
    assert obj.support is support
    np.testing.assert_allclose(w2, _brute_force_simplex(x1, X0, v2), atol=1e-10)


def _objective_at(
    x1: np.ndarray, X0: np.ndarray, v: np.ndarray, start: list[int], z0: np.ndarray
) -> tuple[object, list[int]]:
    """An objective whose last solution was ``z0`` on ``start``; counts active sets."""
    obj = abadie._NestedObjective(x1, X0, np.zeros(3), np.zeros((3, X0.shape[1])))
    obj.support = np.asarray(start, dtype=np.intp)
    obj._prev_z = z0
    calls: list[int] = []
    active_set = obj._active_set

    def counted(vv: np.ndarray, P: list[int], z: np.ndarray | None) -> object:
        calls.append(1)
        return active_set(vv, P, z)

    obj._active_set = counted  # type: ignore[method-assign]
    return obj, calls


def test_one_entering_donor_needs_no_active_set_and_matches_it() -> None:
    # the V search's usual support change: one donor enters. It is read off the
    # failed fast solve, and the weights are bit for bit those of the active set
    x1, X0, v = _problem()
    w_ref = _brute_force_simplex(x1, X0, v)
    support = [int(i) for i in np.flatnonzero(w_ref > 1e-12)]
    start = support[1:]
    ref_obj = abadie._NestedObjective(x1, X0, np.zeros(3), np.zeros((3, X0.shape[1])))
    z0 = ref_obj._eq_solve(v, start)
    assert z0 is not None
    w_as = ref_obj._active_set(v, start, z0)
    obj, calls = _objective_at(x1, X0, v, start, z0)
    w = obj.weights(v)  # type: ignore[attr-defined]
    assert calls == []
    np.testing.assert_allclose(w, w_ref, atol=1e-10)
    assert np.array_equal(w, w_as)
    assert obj.support.tolist() == support  # type: ignore[attr-defined]


def test_two_missing_donors_fall_back_to_the_active_set() -> None:
    # one step is not enough: the shortcut's KKT test must send it to the full method
    rng = np.random.default_rng(3)
    K, J = 6, 10
    for _ in range(200):
        X0 = rng.normal(size=(K, J))
        x1 = X0 @ rng.dirichlet(np.ones(J)) + 0.6 * rng.normal(size=K)
        v = rng.dirichlet(np.ones(K))
        w_ref = _brute_force_simplex(x1, X0, v)
        support = [int(i) for i in np.flatnonzero(w_ref > 1e-12)]
        if len(support) >= 4:
            break
    start = support[2:]
    ref_obj = abadie._NestedObjective(x1, X0, np.zeros(3), np.zeros((3, J)))
    z0 = ref_obj._eq_solve(v, start)
    assert z0 is not None and (z0 > 0).all()
    obj, calls = _objective_at(x1, X0, v, start, z0)
    w = obj.weights(v)  # type: ignore[attr-defined]
    assert calls == [1]
    np.testing.assert_allclose(w, w_ref, atol=1e-10)


def test_one_leaving_donor_needs_no_active_set() -> None:
    # the other usual change: a donor's weight reaches zero and it leaves
    x1, X0, v = _problem()
    w_ref = _brute_force_simplex(x1, X0, v)
    support = [int(i) for i in np.flatnonzero(w_ref > 1e-12)]
    ref_obj = abadie._NestedObjective(x1, X0, np.zeros(3), np.zeros((3, X0.shape[1])))
    extra = None
    for k in range(X0.shape[1]):
        if k in support:
            continue
        P = sorted([*support, k])
        z = ref_obj._eq_solve(v, P)
        if z is not None and z[P.index(k)] < 0 and (np.delete(z, P.index(k)) > 0).all():
            extra = k
            break
    assert extra is not None
    start = sorted([*support, extra])
    z0 = 0.9 * w_ref[start]
    z0[start.index(extra)] = 0.1  # a feasible point on the larger support
    w_as = ref_obj._active_set(v, start, z0)
    obj, calls = _objective_at(x1, X0, v, start, z0)
    w = obj.weights(v)  # type: ignore[attr-defined]
    assert calls == []
    np.testing.assert_allclose(w, w_ref, atol=1e-10)
    assert np.array_equal(w, w_as)
