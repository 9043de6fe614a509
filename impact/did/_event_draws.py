"""Randomization covariance of event-study coefficients, for few-treated sensitivity.

Rambachan-Roth intervals need the covariance of the event-study coefficients. With a
handful of treated units the analytic (influence-function or cluster-robust) covariance
is estimated from those few units and is far too small: on panels calibrated to the CLA
panel with 4 randomly chosen authorities, the ``M = 0`` interval excludes zero in about
60% of no-effect draws. Here the covariance is instead that of the coefficients over
re-assignments of the cohorts among the units (same cohort sizes), after removing the
estimated post-treatment effects from the treated cells: under random adoption this is
the design-based sampling covariance of the coefficients, whatever the number of treated
units (the randomization distribution; Fisher 1935, and for DiD MacKinnon and Webb
2020, J. Econometrics 218(2)).

Callaway-Sant'Anna without covariates is computed for every re-assignment at once (each
ATT(g,t) is a difference of weighted mean changes); other estimators are refitted per
re-assignment (:func:`impact.did.pretest.reassigned_fit`).
"""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from impact.errors import ImpactError
from impact.inference.permutation import sample_assignments
from impact.parallel import as_generator, progress_enabled

if TYPE_CHECKING:
    from impact.did.results import DiDResult

__all__ = ["event_covariance"]

FloatArray = NDArray[np.float64]


def _cs_dynamic_draws(
    result: DiDResult, Y: FloatArray, C: FloatArray, keys: FloatArray
) -> FloatArray:
    """Dynamic (event-time) CS coefficients for every re-assignment, shape (B, E)."""
    st = result._cs
    assert st is not None
    fit = st["fit"]
    call = result._call
    control = call.get("control", "never")
    antic = int(call.get("anticipation", 0))
    n = C.shape[1]
    w = np.ones(n) if st["unit_weights"] is None else np.asarray(st["unit_weights"])
    w = w / w.mean()
    never = ~np.isfinite(C)
    gidx, tidx, bidx = fit.gidx, fit.tidx, fit.bidx
    att = np.zeros((C.shape[0], len(gidx)))
    share = np.zeros_like(att)
    for j, (g, t, b) in enumerate(zip(gidx, tidx, bidx, strict=True)):
        treat = C == g
        share[:, j] = treat @ w / n
        if fit.reference[j]:
            continue
        ctrl = (
            never if control == "never" else never | ((C > max(t, b) + antic) & ~treat)
        )
        w1, w0 = treat * w, ctrl * w
        delta = Y[:, t] - Y[:, b]
        with np.errstate(invalid="ignore", divide="ignore"):
            att[:, j] = (w1 @ delta) / w1.sum(axis=1) - (w0 @ delta) / w0.sum(axis=1)
    e = (tidx - gidx).astype(float)
    out = np.empty((C.shape[0], len(keys)))
    for k, ev in enumerate(keys):
        sel = e == ev
        p = share[:, sel]
        out[:, k] = (p * att[:, sel]).sum(axis=1) / p.sum(axis=1)
    return out


def _effects_removed(
    result: DiDResult, cidx: FloatArray, keys: FloatArray, beta: FloatArray
) -> FloatArray:
    """The outcome with each treated cell's estimated post-treatment effect removed."""
    panel = result._panel
    assert panel is not None
    Y = np.array(panel.Y, dtype=float)
    n_t = Y.shape[1]
    ev = np.arange(n_t)[None, :] - cidx[:, None]  # inf/nan for never treated
    with np.errstate(invalid="ignore"):
        for k, e in enumerate(keys):
            if e >= 0:
                Y[ev == e] -= beta[k]
    return Y


def event_covariance(
    result: DiDResult,
    keys: FloatArray,
    beta: FloatArray,
    *,
    n_perm: int,
    seed: Any,
    refit: Callable[..., Any] | None,
    progress: bool | None = None,
) -> tuple[FloatArray, int]:
    """Covariance of the event-study coefficients over re-assigned cohorts.

    Parameters
    ----------
    result : DiDResult
        The fitted result (it keeps its panel and call).
    keys : ndarray (E,)
        Event times of the coefficients (as ``result._event_coefficients()``).
    beta : ndarray (E,)
        The coefficients; the post-treatment ones are removed from the treated cells
        before re-assigning (the sharp null of the estimated effects).
    n_perm : int
        Re-assignments.
    seed : int, Generator or None
        Seed of the re-assignments.
    refit : callable, optional
        The estimator, for methods without a fast path.
    progress : bool, optional
        Show a tqdm bar on long refit loops.

    Returns
    -------
    sigma : ndarray (E, E)
        Covariance of the coefficients across re-assignments.
    n_used : int
        Re-assignments that gave every coefficient.
    """
    from impact.did._cohorts import cohort_index

    panel = result._panel
    assert panel is not None
    cidx = (
        np.asarray(result._cs["cohort_idx"], dtype=float)
        if result._cs is not None
        else cohort_index(panel)
    )
    Y0 = _effects_removed(result, cidx, keys, beta)
    C = sample_assignments(cidx, n_perm, as_generator(seed))
    options = result.options
    if result._cs is not None and not options.get("covariates"):
        draws = _cs_dynamic_draws(result, Y0, C, keys)
    else:
        from impact.did.pretest import reassigned_fit

        make = reassigned_fit(result, refit, Y=Y0)
        draws = np.full((C.shape[0], len(keys)), np.nan)
        rows: Any = range(C.shape[0])
        if progress_enabled(progress) and C.shape[0] >= 50:
            from tqdm.auto import tqdm

            rows = tqdm(rows, desc="Sensitivity covariance, re-assigned cohorts")
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            for i in rows:
                try:
                    e, b, _ = make(C[i])._event_coefficients()
                except ImpactError:
                    continue
                pos = {float(v): j for j, v in enumerate(e)}
                if all(float(k) in pos for k in keys):
                    draws[i] = [b[pos[float(k)]] for k in keys]
    ok = np.isfinite(draws).all(axis=1)
    if ok.sum() < 2:
        raise ImpactError(
            "sensitivity(): no re-assignment of the cohorts gave every event-study "
            "coefficient, so their randomization covariance cannot be estimated; use "
            "covariance='analytic' (and read its warning)."
        )
    return np.cov(draws[ok].T).reshape(len(keys), len(keys)), int(ok.sum())
