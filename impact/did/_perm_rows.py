"""Role weights of the DiD estimators, for studentized randomization inference of every row.

For estimators linear in the outcome without covariates, unit ``i``'s weight on period
``t`` in any row (an ATT(g,t), an event-time coefficient, an aggregate) is
``w_i H[row, role(i), t]``: it depends only on the unit's cohort label and weight, and on
the total weight of each cohort (the cohort shares). This module builds ``H`` for
Callaway-Sant'Anna cells and their aggregations (mirroring :func:`aggregate_cs`) and for
unweighted fixed-effects regressions (event study, Sun-Abraham, TWFE), and wraps them in
:class:`RowEngine`, which :func:`impact.inference.row_inference` evaluates over the same
re-assignments for every table the result prints or plots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from impact.errors import SpecError
from impact.inference.studentized import (
    Assignments,
    NoiseModel,
    RowInference,
    row_inference,
)

__all__ = [
    "RowEngine",
    "attach_rows",
    "build_engine",
    "cs_aggregation",
    "cs_cell_weights",
    "engine_for",
    "regression_role_weights",
]

FloatArray = NDArray[np.float64]
#: ``contrasts(role_totals (B, R)) -> (keys (J,), H (B|1, J, R, T))``
Contrasts = Callable[[FloatArray], tuple[FloatArray, FloatArray]]


def cs_cell_weights(
    roles: FloatArray,
    gidx: NDArray[np.intp],
    tidx: NDArray[np.intp],
    bidx: NDArray[np.intp],
    n_t: int,
    control: str,
    anticipation: int,
) -> Callable[[FloatArray], FloatArray]:
    """Role weights of every ATT(g,t) cell (difference of weighted mean changes).

    Parameters
    ----------
    roles : ndarray (R,)
        Sorted distinct cohort indices (``inf`` = never treated, last).
    gidx, tidx, bidx : ndarray (K,)
        Cohort, period and base period of each cell.
    n_t : int
        Periods.
    control : {"never", "notyet"}
        Comparison group.
    anticipation : int
        Periods of anticipation.

    Returns
    -------
    callable
        ``role_totals (B, R) -> H (B, K, R, T)``.
    """
    k = len(gidx)
    r = len(roles)
    treat = (roles[None, :] == gidx[:, None]).astype(float)  # (K, R)
    never = ~np.isfinite(roles)
    if control == "never":
        ctrl = np.broadcast_to(never, (k, r)).astype(float)
    else:
        later = roles[None, :] > (np.maximum(tidx, bidx) + anticipation)[:, None]
        ctrl = (never[None, :] | (later & ~treat.astype(bool))).astype(float)
    contrast = np.zeros((k, n_t))
    contrast[np.arange(k), tidx] += 1.0
    contrast[np.arange(k), bidx] -= 1.0

    def weights(totals: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            s1 = totals @ treat.T  # (B, K)
            s0 = totals @ ctrl.T
            coef = treat[None] / s1[:, :, None] - ctrl[None] / s0[:, :, None]
        return np.asarray(coef[:, :, :, None] * contrast[None, :, None, :])

    return weights


def cs_aggregation(
    kind: str,
    roles: FloatArray,
    gidx: NDArray[np.intp],
    tidx: NDArray[np.intp],
    post: NDArray[np.bool_],
    reference: NDArray[np.bool_],
    *,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
) -> Callable[[FloatArray], tuple[FloatArray, FloatArray]]:
    """Aggregation matrices of ATT(g,t) as :func:`impact.did.aggregate.aggregate_cs`.

    Returns
    -------
    callable
        ``role_totals (B, R) -> (keys (J,), L (B, J + 1, K))``: the rows, then the
        overall effect last. Keys are event times (dynamic), cohort or period indices.
    """
    e = (tidx - gidx).astype(float)
    ok = ~reference | (kind == "dynamic")
    keep_post = post & (e <= max_e) & ok
    role_of = np.searchsorted(roles, gidx)
    k = len(gidx)

    def share_rows(pg: FloatArray, sel_rows: list[NDArray[np.bool_]]) -> FloatArray:
        out = np.zeros((pg.shape[0], len(sel_rows), k))
        for j, sel in enumerate(sel_rows):
            p = np.where(sel[None, :], pg, 0.0)
            out[:, j] = p / p.sum(axis=1, keepdims=True)
        return out

    if kind == "simple":
        if not keep_post.any():
            raise SpecError("No post-treatment ATT(g,t) to aggregate (check max_e).")

        def simple(totals: FloatArray) -> tuple[FloatArray, FloatArray]:
            return np.zeros(0), share_rows(totals[:, role_of], [keep_post])

        return simple
    if kind == "group":
        groups = np.unique(gidx[keep_post])

        def group(totals: FloatArray) -> tuple[FloatArray, FloatArray]:
            rows = np.zeros((totals.shape[0], len(groups) + 1, k))
            for j, g in enumerate(groups):
                sel = keep_post & (gidx == g)
                rows[:, j, sel] = 1.0 / sel.sum()
            gp = totals[:, np.searchsorted(roles, groups)]
            rows[:, -1] = np.einsum(
                "bj,bjk->bk", gp / gp.sum(1, keepdims=True), rows[:, :-1]
            )
            return groups.astype(float), rows

        return group
    if kind == "dynamic":
        include = np.ones(k, dtype=bool)
        if balance_e is not None:
            last = int(max(tidx.max(), gidx.max()))
            include = (last - gidx) >= balance_e
            eseq = np.unique(e[include])
            eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - last)]
        else:
            eseq = np.unique(e)
        eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
        if len(eseq) == 0:
            raise SpecError("No event time left in the window; widen min_e/max_e.")
        sels = [(e == ev) & include for ev in eseq]
        pos = eseq >= 0

        def dynamic(totals: FloatArray) -> tuple[FloatArray, FloatArray]:
            rows = share_rows(totals[:, role_of], sels)
            overall = (
                rows[:, pos].mean(axis=1)
                if pos.any()
                else np.full(rows[:, 0].shape, np.nan)
            )
            return eseq, np.concatenate([rows, overall[:, None]], axis=1)

        return dynamic
    if kind == "calendar":
        tlist = np.unique(tidx[keep_post])
        sels = [keep_post & (tidx == t) for t in tlist]

        def calendar(totals: FloatArray) -> tuple[FloatArray, FloatArray]:
            rows = share_rows(totals[:, role_of], sels)
            return tlist.astype(float), np.concatenate(
                [rows, rows.mean(axis=1)[:, None]], axis=1
            )

        return calendar
    raise SpecError(f"Unknown aggregation {kind!r}.")


def regression_role_weights(
    A: FloatArray, cohort_idx: FloatArray, roles: FloatArray
) -> FloatArray:
    """Role weights of unweighted fixed-effects regression contrasts.

    Parameters
    ----------
    A : ndarray (N, T, K)
        Weights of K contrasts of the coefficients for the observed assignment.
    cohort_idx : ndarray (N,)
        Observed cohort index per unit.
    roles : ndarray (R,)
        Sorted distinct cohort indices.

    Returns
    -------
    ndarray (1, K, R, T)
        The weights (the same for every unit of a role, and for every re-assignment
        with the same cohort sizes).
    """
    out = np.zeros((1, A.shape[2], len(roles), A.shape[1]))
    for r, lab in enumerate(roles):
        members = np.flatnonzero(cohort_idx == lab)
        block = A[members]
        if not np.allclose(block, block[:1], atol=1e-10 * (1 + np.abs(A).max())):
            raise SpecError(
                "regression weights differ within a cohort (weights or covariates)"
            )
        out[0, :, r, :] = block[0].T
    return out


@dataclass
class RowEngine:
    """Studentized randomization inference for any table of a DiD result.

    ``contrasts(kind, min_e, max_e, balance_e)`` gives the keys and role weights of the
    rows (overall last for aggregations); every table is evaluated over the same
    re-assignments and the same noise model.
    """

    Y: FloatArray
    Y0: FloatArray
    roles: FloatArray
    assignments: Assignments
    noise: NoiseModel | None
    unit_weights: FloatArray | None
    alpha: float
    contrasts: Callable[..., tuple[FloatArray, Callable[[FloatArray], FloatArray]]]
    details: dict[str, Any] = field(default_factory=dict)
    _cache: dict[tuple[Any, ...], tuple[FloatArray, RowInference]] = field(
        default_factory=dict
    )

    def rows(
        self,
        kind: str,
        min_e: float = -np.inf,
        max_e: float = np.inf,
        balance_e: int | None = None,
    ) -> tuple[FloatArray, RowInference]:
        """Keys and inference of the rows of ``kind`` (``"cells"`` or an aggregation)."""
        key = (kind, float(min_e), float(max_e), balance_e)
        if key not in self._cache:
            keys, weights = self.contrasts(kind, min_e, max_e, balance_e)
            out = row_inference(
                self.Y,
                self.Y0,
                weights,
                self.assignments,
                self.noise,
                unit_weights=self.unit_weights,
                alpha=self.alpha,
            )
            self._cache[key] = (keys, out)
        return self._cache[key]

    def rows_band(
        self,
        kind: str,
        min_e: float = -np.inf,
        max_e: float = np.inf,
        balance_e: int | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Uniform band over the rows of an aggregation (its overall row excluded)."""
        _, out = self.rows(kind, min_e, max_e, balance_e)
        stop = len(out.estimate) if kind == "cells" else len(out.estimate) - 1
        return out.band(slice(0, stop))


def _cs_contrasts(
    fit: Any, roles: FloatArray, n_t: int, call: dict[str, Any]
) -> Callable[..., Any]:
    cells = cs_cell_weights(
        roles, fit.gidx, fit.tidx, fit.bidx, n_t, call["control"], call["anticipation"]
    )

    def contrasts(kind: str, min_e: float, max_e: float, balance_e: int | None) -> Any:
        if kind == "cells":
            return np.arange(len(fit.att), dtype=float), cells
        agg = cs_aggregation(
            kind,
            roles,
            fit.gidx,
            fit.tidx,
            fit.post,
            fit.reference,
            min_e=min_e,
            max_e=max_e,
            balance_e=balance_e,
        )

        def weights(totals: FloatArray) -> FloatArray:
            _, L = agg(totals)
            return np.asarray(np.einsum("bjk,bkrt->bjrt", L, cells(totals)))

        keys, _ = agg(np.ones((1, len(roles))))
        return keys, weights

    return contrasts


def _regression_contrasts(result: Any, H_coef: FloatArray) -> Callable[..., Any]:
    def contrasts(kind: str, min_e: float, max_e: float, balance_e: int | None) -> Any:
        k = H_coef.shape[1]
        if kind == "cells":
            keys: Any = np.arange(k, dtype=float)
            L = np.eye(k)
        elif result.method == "twfe":
            keys, L = np.zeros(0), np.ones((1, 1))
        else:
            key_list, rows, overall = result.linear_contrasts(
                kind, min_e, max_e, balance_e
            )
            keys = np.asarray(key_list, dtype=float)
            L = np.vstack([*rows, overall]) if rows else overall[None, :]
        H = np.einsum("jk,bkrt->bjrt", L, H_coef)
        return keys, lambda totals: H

    return contrasts


def build_engine(
    result: Any,
    Y: FloatArray,
    cohort_idx: FloatArray,
    call: dict[str, Any],
    *,
    unit_weights: FloatArray | None,
    regression_weights: Callable[[], FloatArray] | None = None,
    effects: FloatArray | None = None,
    studentize: bool = True,
) -> RowEngine | None:
    """Row engine for a fitted result, or None when its rows are not role-linear.

    Parameters
    ----------
    result : DiDResult
        The fit (``"cs"`` without covariates, or an unweighted regression).
    Y : ndarray (N, T)
        Outcomes.
    cohort_idx : ndarray (N,)
        Cohort index per unit.
    call : dict
        Options of the call (``control``, ``anticipation``, ``n_boot``, ``seed``,
        ``alpha``).
    unit_weights : ndarray (N,), optional
        Unit weights (``"cs"``).
    regression_weights : callable, optional
        ``() -> A (N, T, K)``: weights of the base coefficients (regressions).
    effects : ndarray (N, T), optional
        Estimated effects per cell (regressions), removed for the intervals' null.
    studentize : bool, default True
        Studentize with unit noise (False permutes raw estimates).
    """
    from impact.inference.studentized import draw_assignments, unit_noise

    n, n_t = Y.shape
    roles = np.unique(cohort_idx)
    Y0 = Y.copy()
    if result._cs is not None:
        fit = result._cs["fit"]
        for g, t, att, post in zip(fit.gidx, fit.tidx, fit.att, fit.post, strict=True):
            if post:
                Y0[cohort_idx == g, t] -= att
        contrasts = _cs_contrasts(fit, roles, n_t, call)
    elif regression_weights is not None:
        A = regression_weights()
        try:
            H_coef = regression_role_weights(A, cohort_idx, roles)
        except SpecError:
            return None
        contrasts = _regression_contrasts(result, H_coef)
        if effects is not None:
            Y0 = Y - effects
    else:
        return None
    first = int(np.min(cohort_idx[np.isfinite(cohort_idx)])) - int(
        call.get("anticipation") or 0
    )
    noise = unit_noise(Y, first) if studentize else None
    assignments = draw_assignments(
        cohort_idx, n_perm=max(int(call["n_boot"]), 19), seed=call["seed"]
    )
    engine = RowEngine(
        Y=Y,
        Y0=Y0,
        roles=roles,
        assignments=assignments,
        noise=noise,
        unit_weights=unit_weights,
        alpha=float(call["alpha"]),
        contrasts=contrasts,
    )
    treated = np.isfinite(cohort_idx)
    if noise is not None:
        engine.details["noise_ratio"] = float(
            noise.v[treated].mean() / noise.v[~treated].mean()
        )
        engine.details["noise_rho"] = noise.rho
        engine.details["noise_changes"] = noise.n_changes
    return engine


def engine_for(
    result: Any, panel: Any, cidx: FloatArray, call: dict[str, Any]
) -> RowEngine | None:
    """The row engine of a fitted DiD result (``"cs"`` or an unweighted regression)."""
    from impact.did.linear import coefficient_weights

    if result._cs is not None:
        return build_engine(
            result, panel.Y, cidx, call, unit_weights=panel.unit_weights
        )
    A, Xm = coefficient_weights(
        result.method,
        panel,
        cidx,
        ref_period=call.get("ref_period", -1),
        bins=call.get("bins"),
    )
    if result._lin is not None:
        theta = result._lin.theta
        post = result._lin.e >= 0
    else:
        theta, post = np.array([result.estimate]), np.array([True])
    effects = np.einsum("ntk,k->nt", Xm[:, :, post], theta[post])
    return build_engine(
        result,
        panel.Y,
        cidx,
        call,
        unit_weights=None,
        regression_weights=lambda: A,
        effects=effects,
    )


def attach_rows(result: Any, engine: RowEngine, call: dict[str, Any]) -> Any:
    """Headline, ATT(g,t), event-study table from one set of re-assignments."""
    alpha = float(call["alpha"])
    _, simple = engine.rows("simple")
    result.se = float(simple.implied_se(alpha)[-1])
    result.ci = (float(simple.ci_low[-1]), float(simple.ci_high[-1]))
    result.pvalue = float(simple.pvalue[-1])
    result.inference = "permutation"
    result._rows = engine
    result._aggregates.clear()
    studentized = engine.noise is not None
    result.inference_details = {
        "n_draws": simple.n_draws,
        "exact": simple.exact,
        "n_assignments": engine.assignments.total,
        "min_pvalue": simple.min_pvalue,
        "studentized": studentized,
        "se_unit_noise": float(simple.se[-1]),
        "t_stat": float(simple.t_zero[simple.observed, -1]),
        "t_perm": simple.t_zero[:, -1],
        **engine.details,
    }
    result.warnings.extend(w for w in simple.warnings if w not in result.warnings)
    if not studentized:
        result.warnings.append(
            "Randomization inference permutes raw estimates (fewer than three periods "
            "before the first adoption to estimate each unit's noise): it assumes "
            "treated and comparison units are equally noisy."
        )
    if len(result.att_gt) and result.method in ("cs", "sunab"):
        _, cells = engine.rows("cells")
        tab = result.att_gt.copy()
        tab["se"] = cells.implied_se(alpha)
        tab["ci_low"], tab["ci_high"] = cells.ci_low, cells.ci_high
        tab["pvalue"] = cells.pvalue
        tab["band_low"], tab["band_high"] = engine.rows_band("cells")
        result.att_gt = tab
    if result.event_study is not None and result.method != "twfe":
        dyn = result.aggregate("dynamic").to_frame().set_index("event_time")
        es = result.event_study.copy()
        live = ~es["reference"].to_numpy(dtype=bool)
        for col in ("std_error", "statistic", "p_value", "conf_low", "conf_high"):
            es.loc[live, col] = dyn.loc[es.loc[live, "event_time"], col].to_numpy()
        for col in ("band_low", "band_high"):
            es[col] = np.nan
            es.loc[live, col] = dyn.loc[es.loc[live, "event_time"], col].to_numpy()
        result.event_study = es
    return result
