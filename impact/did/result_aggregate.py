"""Aggregation of DiD results: group-time or cohort x period cells into overall,
event-time, cohort and calendar effects (the ``aggregate()`` half of ``DiDResult``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special

from impact._validation import check_option
from impact.errors import SpecError
from impact.results import EstimateResult, Result

if TYPE_CHECKING:
    from impact.did.pretrend_power import PretrendPower
    from impact.panel import Panel

FloatArray = NDArray[np.float64]
_KINDS = ("simple", "group", "dynamic", "calendar")
#: methods whose linear state holds cohort x period cells (aggregable every way)
_CELL_METHODS = ("imputation", "did2s", "etwfe", "stacked")


@dataclass
class _Linear:
    """Base estimates with a covariance, for regression-based aggregation."""

    theta: FloatArray  # (K,)
    vcov: FloatArray  # (K, K)
    group: FloatArray  # (K,) cohort label (nan for pooled event-study terms)
    time: FloatArray  # (K,) period label (nan when not applicable)
    e: FloatArray  # (K,) event time
    size: FloatArray  # (K,) cohort size used as weight
    refs: list[int] = field(default_factory=list)
    #: (estimate, se) of a headline that is not an average of the cells (dcdh's DID_M)
    overall: tuple[float, float] | None = field(default=None, kw_only=True)


def _row_stats(est: FloatArray, se: FloatArray, alpha: float) -> dict[str, FloatArray]:
    z = special.ndtri(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(se > 0, est / se, np.nan)
    return {
        "estimate": est,
        "std_error": se,
        "statistic": stat,
        "p_value": 2 * special.ndtr(-np.abs(stat)),
        "conf_low": est - z * se,
        "conf_high": est + z * se,
    }


class _AggregatingResult(Result):
    """State of a DiD result and its aggregations (base of ``DiDResult``)."""

    method: str
    options: dict[str, Any]
    inference: str
    inference_details: dict[str, Any]
    att_gt: pd.DataFrame
    event_study: pd.DataFrame | None
    cells: pd.DataFrame | None
    _cs: dict[str, Any] | None
    _lin: _Linear | None
    _panel: Panel | None
    _call: dict[str, Any]
    _refit: Callable[..., Any] | None
    _rows: Any
    _aggregates: dict[tuple[Any, ...], EstimateResult]
    _power_cache: PretrendPower | None

    # ------------------------------------------------------------ aggregation
    def aggregate(
        self,
        kind: str = "simple",
        *,
        min_e: float = -np.inf,
        max_e: float = np.inf,
        balance_e: int | None = None,
    ) -> EstimateResult:
        """Aggregate the group-time effects.

        Parameters
        ----------
        kind : {"simple", "group", "dynamic", "calendar"}
            ``simple``: average of all post-treatment ATT(g,t) weighted by cohort
            size; ``group``: per cohort, then averaged; ``dynamic``: per event time
            (the overall averages event times >= 0); ``calendar``: per period.
        min_e, max_e : float
            Event-time window for ``dynamic`` (``max_e`` also caps the others).
        balance_e : int, optional
            ``dynamic`` only: keep cohorts observed ``balance_e`` periods after
            adoption, so the composition does not change across event times.

        Returns
        -------
        EstimateResult
            The overall effect (``estimate``, ``se``, ``ci``, ``pvalue``) with the
            per-event-time / per-cohort / per-period rows in ``to_frame()``.
        """
        check_option("kind", kind, _KINDS, "DiDResult.aggregate")
        key = (kind, float(min_e), float(max_e), balance_e)
        if key not in self._aggregates:
            if self._cs is not None:
                out = self._aggregate_cs(kind, min_e, max_e, balance_e)
            elif self._lin is not None:
                out = self._aggregate_linear(kind, min_e, max_e, balance_e)
            else:
                raise SpecError(
                    f"method={self.method!r} has a single coefficient; aggregate() "
                    "needs method='cs', 'sunab' or 'event_study'."
                )
            if self._rows is not None:
                out = self._with_rows(out, kind, min_e, max_e, balance_e)
            self._aggregates[key] = out
        # the aggregate's design verdict reads the same scale as the result's
        self._aggregates[key].log_outcome = self.log_outcome
        return self._aggregates[key]

    def _with_rows(
        self,
        out: EstimateResult,
        kind: str,
        min_e: float,
        max_e: float,
        balance_e: int | None,
    ) -> EstimateResult:
        """Replace analytic inference of an aggregation by the permutation rows."""
        keys, inf = self._rows.rows(kind, min_e, max_e, balance_e)
        se = inf.implied_se(self.alpha)
        out.se, out.pvalue = float(se[-1]), float(inf.pvalue[-1])
        out.ci = (float(inf.ci_low[-1]), float(inf.ci_high[-1]))
        if out.table is not None and len(out.table):
            if len(out.table) != len(keys):  # pragma: no cover - defensive
                raise SpecError(f"aggregate({kind!r}): rows do not line up")
            tab = out.table.copy()
            with np.errstate(divide="ignore", invalid="ignore"):
                stat = inf.estimate[:-1] / inf.se[:-1]
            tab["std_error"] = se[:-1]
            tab["statistic"] = stat
            tab["p_value"] = inf.pvalue[:-1]
            tab["conf_low"] = inf.ci_low[:-1]
            tab["conf_high"] = inf.ci_high[:-1]
            rows_only = self._rows.rows_band(kind, min_e, max_e, balance_e)
            tab["band_low"], tab["band_high"] = rows_only
            out.table = tab
        out.extra["inference"] = "permutation"
        return out

    def _aggregate_cs(
        self, kind: str, min_e: float, max_e: float, balance_e: int | None
    ) -> EstimateResult:
        from impact.did.aggregate import aggregate_cs, bootstrap_se_crit
        from impact.did.cs import _cluster_sum

        st = self._cs
        assert st is not None
        agg = aggregate_cs(
            st["fit"],
            st["cohort_idx"],
            st["unit_weights"],
            kind,
            min_e=min_e,
            max_e=max_e,
            balance_e=balance_e,
        )
        n = st["n"]
        codes = st["codes"]
        overall_summed = _cluster_sum(agg.overall_inf[:, None], codes)
        summed = (
            _cluster_sum(agg.inf, codes)
            if agg.inf.shape[1]
            else np.zeros((overall_summed.shape[0], 0))
        )
        se_rows = np.sqrt((summed**2).sum(axis=0)) / n
        se_all = float(np.sqrt((overall_summed**2).sum()) / n)
        rows = _row_stats(agg.est, se_rows, self.alpha)
        extra: dict[str, Any] = {}
        mult = st.get("multipliers")
        z = special.ndtri(1 - self.alpha / 2)
        ci_all = None
        if mult is not None:
            draws = mult @ np.column_stack([summed, overall_summed]) / n
            se_b, _ = bootstrap_se_crit(draws, self.alpha)
            se_all = float(se_b[-1])
            if agg.inf.shape[1]:
                se_rows = se_b[:-1]
                rows = _row_stats(agg.est, se_rows, self.alpha)
                _, crit = bootstrap_se_crit(draws[:, :-1], self.alpha)
                rows["band_low"] = agg.est - crit * se_rows
                rows["band_high"] = agg.est + crit * se_rows
                extra["uniform_crit"] = crit
            ci_all = (agg.overall - z * se_all, agg.overall + z * se_all)
        label_col = {"dynamic": "event_time", "group": "group", "calendar": "time"}
        table = None
        if kind != "simple":
            col = label_col[kind]
            key = agg.key.astype(int) if np.all(np.isfinite(agg.key)) else agg.key
            table = pd.DataFrame(
                {"term": [f"{col}={k}" for k in key], col: key, **rows}
            )
        warn = list(self.warnings)
        if not np.isfinite(agg.overall):
            warn.append(
                f"The overall {kind} effect is undefined: no event time >= 0 in the "
                "window."
            )
        return EstimateResult(
            estimator=f"{self.method}:{kind}",
            estimate=agg.overall,
            se=se_all,
            ci=ci_all,
            n_treated=self.n_treated,
            n_control=self.n_control,
            alpha=self.alpha,
            warnings=warn,
            label=f"ATT ({kind})",
            title=f"{self.title}: {kind} aggregation",
            table=table,
            extra=extra,
        )

    def linear_contrasts(
        self, kind: str, min_e: float, max_e: float, balance_e: int | None
    ) -> tuple[list[float], list[FloatArray], FloatArray]:
        """Keys, row contrasts and overall contrast of the base coefficients."""
        lin = self._lin
        assert lin is not None
        k = len(lin.theta)
        e = lin.e
        post = (e >= 0) & (e <= max_e)
        rows_l: list[FloatArray] = []
        keys: list[float] = []
        if self.method in ("event_study", "dcdh") and kind not in (
            "simple",
            "dynamic",
        ):
            what = {
                "event_study": "a TWFE event study",
                "dcdh": "method='dcdh' (a switching treatment has no cohorts)",
            }[self.method]
            raise SpecError(
                f"aggregate(kind={kind!r}) is not defined for {what} (one "
                "coefficient per event time); use 'dynamic' or 'simple', or "
                "method='cs'/'sunab' for cohort-level effects."
            )
        include = np.ones(k, dtype=bool)
        if balance_e is not None:
            last = float(np.nanmax(lin.time)) if np.isfinite(lin.time).any() else np.inf
            include = (last - lin.group) >= balance_e
            if self.method == "event_study":
                include = np.ones(k, dtype=bool)

        def share_row(sel: NDArray[np.bool_]) -> FloatArray:
            row = np.zeros(k)
            s = lin.size[sel]
            row[sel] = s / s.sum()
            return row

        if kind == "simple":
            if not post.any():
                raise SpecError(
                    f"No post-treatment coefficient to aggregate with max_e={max_e:g}; "
                    "raise max_e to 0 or more."
                )
            overall_l = share_row(post)
            if self.method == "event_study":
                overall_l = np.where(post, 1.0 / post.sum(), 0.0)
        elif kind == "dynamic":
            for ev in np.unique(e[include]):
                if ev < min_e or ev > max_e:
                    continue
                if balance_e is not None and ev > balance_e:
                    continue
                rows_l.append(share_row((e == ev) & include))
                keys.append(float(ev))
            if not rows_l:
                raise SpecError(
                    f"No event time left between min_e={min_e:g} and max_e={max_e:g}; "
                    "widen the window."
                )
            L = np.array(rows_l)
            pos = np.array(keys) >= 0
            overall_l = L[pos].mean(axis=0) if pos.any() else np.full(k, np.nan)
        elif kind == "group":
            gs = np.unique(lin.group[post])
            for g in gs:
                sel = post & (lin.group == g)
                rows_l.append(np.where(sel, 1.0 / sel.sum(), 0.0))
                keys.append(float(g))
            L = np.array(rows_l)
            sizes = np.array([lin.size[lin.group == g][0] for g in gs])
            overall_l = (sizes / sizes.sum()) @ L
        else:
            ts = np.unique(lin.time[post])
            for t in ts:
                rows_l.append(share_row(post & (lin.time == t)))
                keys.append(float(t))
            L = np.array(rows_l)
            overall_l = L.mean(axis=0)
        return keys, rows_l, overall_l

    def _aggregate_linear(
        self, kind: str, min_e: float, max_e: float, balance_e: int | None
    ) -> EstimateResult:
        lin = self._lin
        assert lin is not None
        keys, rows_l, overall_l = self.linear_contrasts(kind, min_e, max_e, balance_e)
        # estimators whose variance depends on the aggregation (two-stage GMM)
        vcov = lin.vcov_for(kind) if hasattr(lin, "vcov_for") else lin.vcov
        est = float(overall_l @ lin.theta)
        se = float(np.sqrt(overall_l @ vcov @ overall_l))
        if kind == "simple" and lin.overall is not None:
            est, se = lin.overall
        table = None
        if rows_l:
            L = np.array(rows_l)
            rest = L @ lin.theta
            rse = np.sqrt(np.einsum("jk,kl,jl->j", L, vcov, L))
            col = {"dynamic": "event_time", "group": "group", "calendar": "time"}[kind]
            key_arr = np.array(keys).astype(int)
            table = pd.DataFrame(
                {
                    "term": [f"{col}={v}" for v in key_arr],
                    col: key_arr,
                    **_row_stats(rest, rse, self.alpha),
                }
            )
        return EstimateResult(
            estimator=f"{self.method}:{kind}",
            estimate=est,
            se=se,
            n_treated=self.n_treated,
            n_control=self.n_control,
            alpha=self.alpha,
            warnings=list(self.warnings),
            label=f"ATT ({kind})",
            title=f"{self.title}: {kind} aggregation",
            table=table,
        )
