"""Randomization inference for the joint pre-trend test of a DiD result.

The analytic Wald test compares ``b' V^- b`` (pre-treatment estimates ``b``, their
estimated covariance ``V``) with a chi-square. With a handful of treated units ``V`` is
estimated from those few units and the chi-square reference fails badly (on panels
calibrated to the CLA panel with 5 treated authorities it rejects most randomly assigned
designs). Here the same statistic is recomputed with the cohorts re-assigned among the
units (same cohort sizes): under random adoption and no pre-treatment differences, the
share of re-assignments with a statistic at least the observed one is an exact p-value
(Fisher 1935; for DiD, MacKinnon and Webb 2020, J. Econometrics 218(2)). Because the
statistic is studentized by its own covariance, this is the permutation of a t-like
statistic, not of raw estimates.

Refits avoid the entry point: Callaway-Sant'Anna re-runs
:func:`impact.did.cs.compute_att_gt`; event studies and Sun-Abraham re-run the fixed-
effects regression; other estimators are refitted through the function the result was
made by (passed in).
"""

from __future__ import annotations

import copy
import warnings as _warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from impact.errors import ImpactError
from impact.inference.permutation import (
    count_assignments,
    enumerate_assignments,
    sample_assignments,
)
from impact.parallel import as_generator, progress_enabled

if TYPE_CHECKING:
    from impact.did.results import DiDResult

__all__ = ["permutation_pretest"]

FloatArray = NDArray[np.float64]
_MAX_ENUMERATE = 5000


def _statistic_fn(
    result: DiDResult, kind: str, refit: Callable[..., Any] | None
) -> Callable[[FloatArray], float]:
    """``stat(cohort_idx) -> Wald statistic`` of ``result``'s pre-test, re-assigned."""
    make = reassigned_fit(result, refit)

    def stat(c: FloatArray) -> float:
        return float(make(c)._pretest(kind, notes=False).statistic)

    return stat


def reassigned_fit(
    result: DiDResult, refit: Callable[..., Any] | None, Y: FloatArray | None = None
) -> Callable[[FloatArray], Any]:
    """``fit(cohort_idx)``: ``result`` re-estimated with the cohorts re-assigned.

    Callaway-Sant'Anna and the fixed-effects event studies return a shallow copy of
    ``result`` holding only the new estimates and covariance (enough for
    ``_pretest`` and ``_event_coefficients``); other methods are refitted with
    ``refit`` (analytic inference). ``Y`` replaces the outcome (e.g. with estimated
    effects removed).
    """
    panel = result._panel
    assert panel is not None
    if Y is not None:
        panel = panel.with_outcome(Y) if hasattr(panel, "with_outcome") else panel
    Yo = panel.Y if Y is None else Y
    call = dict(result._call)
    gappy = panel.has_gaps
    on_arrays = result._cs is not None or (
        result.method in ("event_study", "sunab") and result._lin is not None
    )
    if gappy and on_arrays:
        # gaps as zero-weight cells (the rows that exist); a refit through
        # impact.did handles the gaps itself. The outcome's missing cells become 0
        # as in rows_view (they carry no weight; NaN there failed every refit).
        Yo = np.where(panel.observed, Yo, 0.0)
        panel = panel.rows_view()
    if result._cs is not None:
        from impact.did.cs import compute_att_gt

        st = result._cs
        X = None
        names = result.options.get("covariates") or []
        if names:
            X = np.stack([panel.X[c] for c in names], axis=2)

        def fit_cs(c: FloatArray) -> Any:
            fit = compute_att_gt(
                Yo,
                c,
                panel.periods,
                weights=st["unit_weights"],
                X=X,
                control=call.get("control", "never"),
                est_method=call.get("est_method", "dr"),
                anticipation=int(call.get("anticipation", 0)),
                base_period=call.get("base_period", "varying"),
                cell_weights=panel.W if gappy else None,
            )
            clone = copy.copy(result)
            clone._cs = {**st, "fit": fit, "cohort_idx": c, "multipliers": None}
            clone._aggregates = {}
            clone._rows = None  # the observed fit's permutation rows do not apply
            return clone

        return fit_cs
    lin = result._lin
    if (
        lin is not None
        and result.method in ("event_study", "sunab")
        and result.regression is not None
    ):
        from impact.did._fe import cluster_codes, fe_ols
        from impact.did.regression import event_design

        names = result.options.get("covariates") or []
        extra = (
            np.stack([panel.X[c] for c in names], axis=2)
            if names
            else np.zeros(panel.Y.shape + (0,))
        )
        codes = cluster_codes(panel.clusters) if panel.cluster_col is not None else None
        unit_w = (
            np.ones(panel.n_units) if panel.unit_weights is None else panel.unit_weights
        )
        saturate = result.method == "sunab"

        def fit_reg(c: FloatArray) -> Any:
            design = event_design(
                c,
                panel.n_periods,
                ref_period=call.get("ref_period", -1),
                bins=call.get("bins"),
                saturate=saturate,
                observed=panel.observed if gappy else None,
            )
            k = design.X.shape[2]
            fit = fe_ols(
                Yo,
                np.concatenate([design.X, extra], axis=2),
                W=panel.W,
                clusters=codes,
            )
            sizes = (
                np.array([unit_w[c == g].sum() for g in design.group])
                if saturate
                else np.ones(k)
            )
            clone = copy.copy(result)
            clone._lin = type(lin)(
                fit.beta[:k],
                fit.vcov[:k, :k],
                np.full(k, np.nan),
                np.full(k, np.nan),
                design.e,
                sizes,
                design.refs,
            )
            clone._aggregates = {}
            clone._rows = None  # the observed fit's permutation rows do not apply
            return clone

        return fit_reg
    if refit is None:
        raise ImpactError(
            "This result cannot be refitted (it does not keep the estimator that made "
            "it); refit with impact.did to run a permutation pre-trend test."
        )
    periods = panel.periods
    method = call.pop("method")
    call["inference"] = "analytic"
    call["_diagnostics"] = False

    def fit_refit(c: FloatArray) -> Any:
        labels = np.full(len(c), np.inf)
        fin = np.isfinite(c)
        labels[fin] = periods[c[fin].astype(int)]
        return refit(panel.with_cohort(labels), method=method, **call)

    return fit_refit


def permutation_pretest(
    result: DiDResult,
    kind: str,
    observed: float,
    *,
    n_perm: int,
    seed: Any,
    alpha: float,
    refit: Callable[..., Any] | None = None,
    progress: bool | None = None,
) -> tuple[float, int, bool, list[str]]:
    """Randomization p-value of the joint pre-trend Wald statistic.

    Parameters
    ----------
    result : DiDResult
        The fitted result (it keeps its panel and call).
    kind : {"att_gt", "event_time"}
        Which pre-treatment estimates are tested.
    observed : float
        The observed Wald statistic.
    n_perm : int
        Random re-assignments when there are too many to enumerate.
    seed : int, Generator or None
        Seed of the re-assignments.
    alpha : float
        Level, for the attainable-p-value warning.
    refit : callable, optional
        The estimator (``impact.did``) for methods without a fast refit.
    progress : bool, optional
        Show a tqdm bar (default: on a terminal, outside CI).

    Returns
    -------
    pvalue : float
        ``(1 + #{T_b >= T}) / (1 + B)`` over sampled re-assignments, or the share
        of all of them (the observed one included) when they are enumerated.
    n_draws : int
        Re-assignments with a finite statistic.
    exact : bool
        Whether every re-assignment was enumerated.
    warnings : list of str
        Plain-language notes (attainable p-value, dropped re-assignments).
    """
    from impact.did._cohorts import cohort_index

    panel = result._panel
    assert panel is not None
    cidx = result._cs["cohort_idx"] if result._cs is not None else cohort_index(panel)
    stat = _statistic_fn(result, kind, refit)
    total = count_assignments(cidx)
    exact = total <= min(_MAX_ENUMERATE, n_perm)
    if exact:
        C = enumerate_assignments(cidx)
        C = C[~np.all(C == cidx, axis=1)]  # the observed one is counted separately
    else:
        C = sample_assignments(cidx, n_perm, as_generator(seed))
    draws = np.full(C.shape[0], np.nan)
    rows: Any = range(C.shape[0])
    if progress_enabled(progress) and C.shape[0] >= 50:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc="Pre-trend test, re-assigned cohorts")
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        for i in rows:
            try:
                draws[i] = stat(C[i])
            except ImpactError:
                continue  # a re-assignment without estimable pre-periods
    finite = np.isfinite(draws)
    notes: list[str] = []
    if (~finite).any():
        notes.append(
            f"{int((~finite).sum())} of {len(draws)} re-assignments gave no pre-trend "
            "statistic (no estimable pre-period) and were left out."
        )
    tol = 1e-9 * (1.0 + abs(observed))
    hits = int(np.sum(draws[finite] >= observed - tol))
    n_used = int(finite.sum())
    pvalue = (1 + hits) / (1 + n_used)
    min_p = 1 / (1 + n_used)
    if min_p > alpha:
        notes.append(
            f"Only {n_used + 1} assignments of the cohorts: the smallest attainable "
            f"p-value of the permutation pre-trend test is {min_p:.3g}, above alpha = "
            f"{alpha:g}; it cannot reject."
        )
    return float(pvalue), n_used, exact, notes
