"""Standard errors of synthetic difference-in-differences (block design).

Arkhangelsky et al. (2021), Algorithms 2-4: unit bootstrap, fixed-weight jackknife and
placebo, with the weights re-estimated for all replications in one vectorised batch.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from impact._validation import check_draws, check_option
from impact.errors import DataError, EstimationError, SpecError
from impact.parallel import SeedLike, spawn_generators
from impact.synth.sdid_weights import (
    _ESTIMATORS,
    _SE_METHODS,
    FloatArray,
    IntArray,
    SDIDFit,
    _check_inputs,
    _estimate_batch,
    _fit,
    _sum_normalize,
)

__all__ = ["sdid_se"]

# --------------------------------------------------------------------------------------
# Standard errors
# --------------------------------------------------------------------------------------


def _placebo_draws(Y: FloatArray, fit: SDIDFit, perms: IntArray) -> FloatArray:
    """Placebo estimates (Algorithm 4) for given permutations of the controls.

    ``perms`` (R, N0) holds positions into ``fit.control_index``; in each row the last
    ``N1`` controls play the treated units and the others are the controls, in that
    order. Weights are re-estimated with the original tuning (zeta, stopping rule),
    initialised at the original weights restricted and renormalised, as synthdid does.
    """
    opts = fit._options
    Yco_all = Y[fit.control_index]
    n1 = fit.treated_index.size
    n0 = fit.control_index.size - n1
    perms = np.asarray(perms, dtype=np.intp)
    co = perms[:, :n0]
    trp = perms[:, n0:]
    Yco = Yco_all[co]  # (R, n0, T)
    ytr = Yco_all[trp].mean(axis=1)  # (R, T)
    valid = np.ones(co.shape, dtype=bool)
    om_init = _sum_normalize(fit.unit_weights[co], valid)
    lam_init = np.broadcast_to(fit.time_weights, (perms.shape[0], fit.T0))
    att, *_ = _estimate_batch(Yco, valid, ytr, fit.T0, opts, om_init, lam_init)
    return att


def _bootstrap_draws(Y: FloatArray, fit: SDIDFit, samples: IntArray) -> FloatArray:
    """Bootstrap estimates (Algorithm 2) for given unit resamples.

    ``samples`` (B, N) index the stacked units (controls first, then treated); each row
    must contain at least one control and one treated unit.
    """
    opts = fit._options
    order = np.concatenate([fit.control_index, fit.treated_index])
    Ys = Y[order]
    n_co = fit.control_index.size
    samples = np.sort(np.asarray(samples, dtype=np.intp), axis=1)
    B, N = samples.shape
    is_co = samples < n_co
    n0b = is_co.sum(axis=1)
    # controls packed to the left (samples are sorted, controls have smaller index)
    co_valid = np.arange(N)[None, :] < n0b[:, None]
    co_rows = np.where(co_valid, samples, 0)
    Yco = np.where(co_valid[:, :, None], Ys[co_rows], 0.0)
    tr_mask = ~is_co
    ytr = np.einsum("bn,bnt->bt", tr_mask.astype(float), Ys[samples]) / tr_mask.sum(
        axis=1, keepdims=True
    )
    w_full = fit.unit_weights[np.minimum(co_rows, n_co - 1)]
    om_init = _sum_normalize(np.where(co_valid, w_full, 0.0), co_valid)
    lam_init = np.broadcast_to(fit.time_weights, (B, fit.T0))
    att, *_ = _estimate_batch(Yco, co_valid, ytr, fit.T0, opts, om_init, lam_init)
    return att


def _jackknife_draws(Y: FloatArray, fit: SDIDFit) -> FloatArray:
    """Fixed-weight leave-one-unit-out estimates (Algorithm 3), controls then treated."""
    T0 = fit.T0
    lam = fit.time_weights
    Yco = Y[fit.control_index]
    Ytr = Y[fit.treated_index]
    d_co = Yco[:, T0:].mean(axis=1) - Yco[:, :T0] @ lam
    d_tr = Ytr[:, T0:].mean(axis=1) - Ytr[:, :T0] @ lam
    w = fit.unit_weights
    n1 = d_tr.size
    # leaving out control k: weights renormalised without k
    rest = 1.0 - w
    with np.errstate(divide="ignore", invalid="ignore"):
        co_term = (w @ d_co - w * d_co) / rest
    u_co = d_tr.mean() - co_term
    # leaving out treated k: mean over the other treated units
    u_tr = (d_tr.sum() - d_tr) / (n1 - 1) - w @ d_co
    return np.concatenate([u_co, u_tr])


def _check_design(method: str, n0: int, n1: int) -> None:
    """Raise when the design cannot support the standard-error method."""
    if method == "placebo" and n0 <= n1:
        raise EstimationError(
            f"sdid_se: the placebo standard error needs more controls ({n0}) than "
            f"treated units ({n1}); use method='bootstrap' or 'jackknife'."
        )
    if method in ("bootstrap", "jackknife") and n1 < 2:
        raise EstimationError(
            f"sdid_se: the {method} standard error needs at least 2 treated units "
            f"({n1} given); use method='placebo'."
        )


def sdid_se(
    Y: ArrayLike,
    treated: ArrayLike,
    T0: int,
    *,
    method: str = "placebo",
    n_reps: int = 200,
    seed: SeedLike = None,
    estimator: str = "sdid",
    fit: SDIDFit | None = None,
) -> float:
    """Standard error of the SDID, SC or DiD estimate (Arkhangelsky et al. 2021).

    Parameters
    ----------
    Y : array_like, shape (N, T)
        Outcomes, one row per unit.
    treated : array_like of bool, shape (N,)
        True for the treated units.
    T0 : int
        Number of pre-treatment periods.
    method : {"placebo", "bootstrap", "jackknife"}, default "placebo"
        ``"placebo"`` (Algorithm 4): controls are randomly relabelled as treated and the
        estimator is re-run; the only option with a single treated unit, needs more
        controls than treated units. ``"bootstrap"`` (Algorithm 2): units resampled
        with replacement, weights re-estimated; needs at least 2 treated units.
        ``"jackknife"`` (Algorithm 3): leave one unit out with the weights held fixed;
        needs at least 2 treated units (not recommended for SC).
    n_reps : int, default 200
        Placebo or bootstrap replications (ignored by the jackknife).
    seed : int, numpy Generator or None
        Seed; one child generator is spawned per replication, so replication ``r`` is
        the same whatever ``n_reps``.
    estimator : {"sdid", "sc", "did"}, default "sdid"
        Which estimator's standard error.
    fit : SDIDFit, optional
        A fit of ``estimator`` on the same data, to avoid re-estimating it.

    Returns
    -------
    float
        The standard error (``sqrt((B-1)/B) * sd`` of the replications, as synthdid).

    Raises
    ------
    EstimationError
        If the design does not support the method (too few treated or control units).
    SpecError
        On an unknown method or estimator, or ``n_reps < 2``.
    """
    check_option("method", method, _SE_METHODS, "sdid_se")
    check_option("estimator", estimator, _ESTIMATORS, "sdid_se")
    n_reps = check_draws("n_reps", n_reps, "sdid_se", minimum=2)
    if fit is None:
        Ya, tr, T0 = _check_inputs(Y, treated, T0, "sdid_se")
        _check_design(method, int((~tr).sum()), int(tr.sum()))
        fit = _fit(Ya, tr, T0, estimator)
    else:
        if fit.estimator != estimator:
            raise SpecError(
                f"sdid_se: the fit passed is a {fit.estimator!r} fit but estimator="
                f"{estimator!r}; pass a matching fit or none."
            )
        Ya = np.asarray(Y, dtype=float)
        n_units = fit.control_index.size + fit.treated_index.size
        if Ya.ndim != 2 or Ya.shape != (n_units, fit.treated_trajectory.size):
            raise DataError(
                f"sdid_se: Y has shape {Ya.shape} but the fit passed has {n_units} "
                f"units and {fit.treated_trajectory.size} periods; pass the Y the fit "
                "was computed on."
            )
        _check_design(method, fit.control_index.size, fit.treated_index.size)
    n1 = fit.treated_index.size
    n0 = fit.control_index.size
    if method == "placebo":
        gens = spawn_generators(seed, n_reps)
        perms = np.stack([g.permutation(n0) for g in gens])
        draws = _placebo_draws(Ya, fit, perms)
    elif method == "bootstrap":
        gens = spawn_generators(seed, n_reps)
        N = n0 + n1
        rows = []
        for g in gens:  # redraw until both groups are present (synthdid's rule)
            while True:
                s = g.integers(0, N, size=N)
                k = int((s < n0).sum())
                if 0 < k < N:
                    rows.append(s)
                    break
        draws = _bootstrap_draws(Ya, fit, np.stack(rows))
    else:
        if int((fit.unit_weights != 0).sum()) <= 1:
            raise EstimationError(
                "sdid_se: the fixed-weight jackknife is undefined when a single "
                "control carries all the weight; use method='placebo' or 'bootstrap'."
            )
        u = _jackknife_draws(Ya, fit)
        n = u.size
        return float(np.sqrt((n - 1) / n * np.sum((u - u.mean()) ** 2)))
    if not np.all(np.isfinite(draws)):
        raise EstimationError(
            f"sdid_se: {int((~np.isfinite(draws)).sum())} {method} replications gave "
            "a non-finite estimate; check Y for extreme values."
        )
    return float(np.std(draws, ddof=0))
