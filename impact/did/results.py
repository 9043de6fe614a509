"""Result objects of the difference-in-differences family."""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import special, stats

from impact._validation import check_alpha, check_option
from impact.errors import EstimationError, ImpactWarning, SpecError
from impact.results import EstimateResult, Result, jsonable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.did.pretrend_power import PretrendPower
    from impact.panel import Panel

__all__ = ["DiDResult", "PretrendTest"]

FloatArray = NDArray[np.float64]
_KINDS = ("simple", "group", "dynamic", "calendar")
#: methods whose linear state holds cohort x period cells (aggregable every way)
_CELL_METHODS = ("imputation", "did2s", "etwfe", "stacked")


@dataclass(frozen=True)
class PretrendTest:
    """Joint Wald test that every pre-treatment effect is zero.

    Attributes
    ----------
    statistic : float
        Wald chi-square statistic.
    df : int
        Degrees of freedom (number of pre-treatment estimates tested).
    pvalue : float
        Upper-tail chi-square p-value.
    method : str
        What was tested.
    """

    statistic: float
    df: int
    pvalue: float
    method: str = "Wald test of all pre-treatment ATT(g,t) = 0"
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict.

        Returns
        -------
        dict
            ``statistic, df, pvalue, method``.
        """
        out = jsonable(
            {
                "statistic": self.statistic,
                "df": self.df,
                "pvalue": self.pvalue,
                "method": self.method,
                "warnings": list(self.warnings),
            }
        )
        assert isinstance(out, dict)
        return out

    def __str__(self) -> str:
        text = (
            f"{self.method}: chi2({self.df}) = {self.statistic:.4f}, "
            f"p = {self.pvalue:.5f}"
        )
        return "\n".join([text, *(f"  ! {w}" for w in self.warnings)])


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


def _require_finite(*arrays: Any) -> None:
    """Refuse non-finite input to LAPACK (which can spin on infinities instead of failing)."""
    if not all(np.isfinite(np.asarray(a, dtype=float)).all() for a in arrays):
        raise EstimationError(
            "The pre-period coefficients or their covariance are not finite (the "
            "outcome's scale overflowed, or a cell has no variation); the pre-trend test "
            "cannot be computed. Rescale the outcome or drop the degenerate cohort."
        )


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


class DiDResult(Result):
    """Result of :func:`impact.did`.

    Attributes
    ----------
    method : str
        ``"2x2"``, ``"twfe"``, ``"event_study"``, ``"cs"`` or ``"sunab"``.
    att_gt : pandas.DataFrame
        Group-time effects (``group, time, att, se, ci_low, ci_high`` plus
        ``event_time``, ``post``, ``n_treated``, ``n_control``; uniform-band columns
        after a bootstrap). Empty for ``"2x2"``, ``"twfe"`` and ``"event_study"``.
    event_study : pandas.DataFrame or None
        Event-time coefficients (``event_time, estimate, std_error, ...``) for the
        methods that have them.
    cells : pandas.DataFrame or None
        Cell means for ``"2x2"``.
    options : dict
        The options the estimate used (control group, base period, ...).
    inference : str
        How ``se``, ``ci`` and ``pvalue`` were obtained.
    """

    def __init__(
        self,
        *,
        method: str,
        estimate: float,
        se: float,
        n_treated: int,
        n_control: int,
        alpha: float,
        warnings: list[str],
        options: dict[str, Any],
        att_gt: pd.DataFrame | None = None,
        event_study: pd.DataFrame | None = None,
        cells: pd.DataFrame | None = None,
        ci: tuple[float, float] | None = None,
        pvalue: float | None = None,
        inference: str = "analytic",
        cs_state: dict[str, Any] | None = None,
        linear_state: _Linear | None = None,
        panel: Panel | None = None,
        inference_details: dict[str, Any] | None = None,
    ) -> None:
        titles = {
            "2x2": "Difference-in-differences (2x2)",
            "twfe": "Two-way fixed effects DiD",
            "event_study": "Event study (two-way fixed effects)",
            "cs": "Callaway-Sant'Anna staggered DiD",
            "sunab": "Sun-Abraham interaction-weighted DiD",
            "imputation": "Imputation DiD (Borusyak-Jaravel-Spiess)",
            "did2s": "Two-stage DiD (Gardner)",
            "etwfe": "Extended TWFE (Wooldridge)",
            "stacked": "Stacked DiD",
            "dcdh": "de Chaisemartin-D'Haultfoeuille DiD",
        }
        super().__init__(
            estimator=method,
            estimate=estimate,
            se=se,
            ci=ci,
            pvalue=pvalue,
            n_treated=n_treated,
            n_control=n_control,
            alpha=alpha,
            warnings=warnings,
            label="ATT",
            title=titles.get(method, method),
        )
        self.method = method
        self.options = dict(options)
        self.inference = inference
        self.inference_details = dict(inference_details or {})
        self.att_gt = (
            att_gt
            if att_gt is not None
            else pd.DataFrame(
                columns=["group", "time", "att", "se", "ci_low", "ci_high"]
            )
        )
        self.event_study = event_study
        self.cells = cells
        self._cs = cs_state
        self._lin = linear_state
        self._panel = panel
        self._call: dict[str, Any] = {}
        #: the estimator that made this result (``impact.did``), set by it, for
        #: refits (placebos, permuted pre-tests) without importing the entry point.
        self._refit: Callable[..., Any] | None = None
        #: randomization inference of every row (a ``RowEngine``), set when the
        #: headline uses studentized permutation: tables, aggregates, bands and plots
        #: then use the same re-assignments.
        self._rows: Any = None
        #: 2x2 only: mean change per group and the DiD row.
        self.changes: pd.DataFrame | None = None
        #: regression methods: the fitted fixed-effects regression (coefficients, vcov).
        self.regression: Any = None
        self._aggregates: dict[tuple[Any, ...], EstimateResult] = {}
        self._power_cache: PretrendPower | None = None

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
                raise SpecError("No post-treatment coefficient to aggregate.")
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
                raise SpecError("No event time left in the window; widen min_e/max_e.")
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

    # ------------------------------------------------------------ diagnostics
    def pretrend_test(
        self,
        kind: str = "att_gt",
        *,
        inference: str | None = None,
        n_perm: int = 199,
        seed: Any = None,
    ) -> PretrendTest:
        """Joint Wald test of the pre-treatment effects (parallel pre-trends).

        Parameters
        ----------
        kind : {"att_gt", "event_time"}, default "att_gt"
            For ``"cs"``: ``"att_gt"`` tests every pre-treatment ATT(g,t), as R
            ``did`` prints; ``"event_time"`` tests the pre-treatment coefficients of
            the dynamic (event-study) aggregation, far fewer and better conditioned
            when cohorts are small. For ``"event_study"`` and ``"sunab"`` the
            pre-treatment coefficients are tested either way.
        inference : {None, "analytic", "permutation"}, default None
            None follows the headline: ``"permutation"`` when the result's own
            inference is randomization or the wild bootstrap (few treated or few
            clusters, the ``inference="auto"`` rule), else ``"analytic"``.
            ``"analytic"`` compares the statistic with a chi-square, which
            over-rejects badly when treated units are few (the covariance of the
            pre-period estimates is then estimated from those few units); the test
            then says so in its warnings. ``"permutation"`` recomputes the same
            statistic with the cohorts randomly re-assigned across units (same
            cohort sizes) and takes the p-value from the rank of the observed one:
            exact under random assignment, whatever the number of treated units.
        n_perm : int, default 199
            Re-assignments for ``inference="permutation"`` (all of them when there
            are no more than this).
        seed : int or numpy Generator, optional
            Seed of the re-assignments (default: the seed the result was fitted
            with).

        Returns
        -------
        PretrendTest
            ``statistic``, ``df``, ``pvalue`` and ``warnings``.
        """
        check_option(
            "inference",
            inference,
            [None, "analytic", "permutation"],
            "pretrend_test",
        )
        if inference is None:
            headline = str(self.inference)
            inference = (
                "permutation"
                if headline.startswith(("permutation", "wild"))
                else "analytic"
            )
        if seed is None:
            seed = self._call.get("seed")
        key = (kind, inference, n_perm, seed if isinstance(seed, int) else None)
        cache = self.__dict__.setdefault("_pretest_cache", {})
        if key[3] is not None and key in cache:
            return cache[key]
        observed = self._pretest(kind)
        if inference == "analytic":
            out = self._analytic_pretest_caveat(observed)
        else:
            out = self._permutation_pretest(kind, observed, n_perm, seed)
        if key[3] is not None:
            cache[key] = out
        return out

    def _analytic_pretest_caveat(self, observed: PretrendTest) -> PretrendTest:
        """Add the few-treated warning to an analytic pre-test when it applies."""
        panel = self._panel
        if panel is None:
            return observed
        from impact.inference import few_treated_rule

        ever = np.isfinite(panel.cohort)
        n_cl = len(np.unique(panel.clusters))
        n_tr = len(np.unique(panel.clusters[ever]))
        if not 0 < n_tr < n_cl:
            return observed
        rule, _ = few_treated_rule(n_tr, n_cl)
        if rule == "analytic":
            return observed
        note = (
            f"{n_tr} treated cluster(s): the chi-square p-value of this Wald test "
            "over-rejects badly with few treated units (the covariance of the "
            "pre-period estimates comes from those few units); use "
            "pretrend_test(inference='permutation')."
        )
        return PretrendTest(
            observed.statistic,
            observed.df,
            observed.pvalue,
            observed.method,
            warnings=[*observed.warnings, note],
        )

    def _permutation_pretest(
        self, kind: str, observed: PretrendTest, n_perm: int, seed: Any
    ) -> PretrendTest:
        from impact._validation import check_draws
        from impact.did.pretest import permutation_pretest

        n_perm = check_draws("n_perm", n_perm, "pretrend_test")
        if self.method == "dcdh":
            raise SpecError(
                "pretrend_test(inference='permutation') re-assigns adoption dates; "
                "for method='dcdh' use the analytic test of the placebo effects."
            )
        if self._panel is None:
            raise SpecError("This result does not keep its data; refit to permute.")
        pvalue, n_used, exact, notes = permutation_pretest(
            self,
            kind,
            observed.statistic,
            n_perm=n_perm,
            seed=seed,
            alpha=self.alpha,
            refit=self._refit,
        )
        how = "all" if exact else "random"
        return PretrendTest(
            observed.statistic,
            observed.df,
            pvalue,
            f"{observed.method}, permutation p-value ({n_used} {how} "
            "re-assignments of the cohorts)",
            warnings=[w for w in observed.warnings if "over-rejects" not in w] + notes,
        )

    def _pretest(self, kind: str, notes: bool = True) -> PretrendTest:
        check_option("kind", kind, ["att_gt", "event_time"], "pretrend_test")
        if self._cs is not None and kind == "event_time":
            e, b, V = self._event_coefficients()
            pre = e < 0
            if not pre.any():
                raise SpecError("No pre-treatment event time to test.")
            Vp = V[np.ix_(pre, pre)]
            _require_finite(b[pre], Vp)
            sol, *_ = np.linalg.lstsq(Vp, b[pre], rcond=None)
            df = int(np.linalg.matrix_rank(Vp))
            stat = float(b[pre] @ sol)
            return PretrendTest(
                stat,
                df,
                float(stats.chi2.sf(stat, df)),
                "Wald test of all pre-treatment event-time effects = 0",
            )
        if self._cs is not None:
            from impact.did.aggregate import pretest_wald
            from impact.did.cs import _cluster_sum

            st = self._cs
            summed = _cluster_sum(st["fit"].inf, st["codes"])
            stat, df, p = pretest_wald(st["fit"], summed, st["n"])
            if df == 0:
                raise SpecError(
                    "No pre-treatment ATT(g,t) to test: every cohort has only its base "
                    "period before adoption. Add earlier periods to the panel."
                )
            thin = self._pretest_warnings() if notes else []
            return PretrendTest(stat, df, p, warnings=thin)
        if self._lin is not None:
            lin = self._lin
            pre = lin.e < 0
            if not pre.any():
                raise SpecError("No pre-treatment coefficient to test.")
            b = lin.theta[pre]
            V = lin.vcov[np.ix_(pre, pre)]
            _require_finite(b, V)
            sol, *_ = np.linalg.lstsq(V, b, rcond=None)
            df = int(np.linalg.matrix_rank(V))
            stat = float(b @ sol)
            return PretrendTest(
                stat,
                df,
                float(stats.chi2.sf(stat, df)),
                "Wald test of all pre-treatment coefficients = 0",
            )
        raise SpecError(
            f"pretrend_test() needs pre-treatment estimates; method={self.method!r} has "
            "none. Use method='cs', 'event_study' or 'sunab'."
        )

    def _pretest_warnings(self) -> list[str]:
        """Warn when a cohort has no more units than pre-period ATT(g,t) to test."""
        tab = self.att_gt
        pre = tab[tab["time"] < tab["group"]]
        if len(pre) == 0 or "n_treated" not in pre.columns:
            return []
        per_group = pre.groupby("group").agg(
            k=("att", "size"), n=("n_treated", "first")
        )
        thin = per_group[per_group["k"] >= per_group["n"]]
        if len(thin) == 0:
            return []
        shown = ", ".join(
            f"{g:g} ({n:.0f} units, {k:.0f} pre-period estimates)"
            for g, n, k in zip(
                thin.index.to_numpy(dtype=float),
                thin["n"].to_numpy(dtype=float),
                thin["k"].to_numpy(dtype=float),
            )
        )
        return [
            f"Cohort(s) {shown} have no more units than pre-period ATT(g,t): their "
            "covariance is nearly singular and this joint Wald test over-rejects. Use "
            "pretrend_test(kind='event_time') or placebo_in_time() instead."
        ]

    def _event_coefficients(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Event times, coefficients and covariance (reference period excluded)."""
        if self._cs is not None:
            from impact.did.aggregate import aggregate_cs
            from impact.did.cs import _cluster_sum

            st = self._cs
            agg = aggregate_cs(
                st["fit"], st["cohort_idx"], st["unit_weights"], "dynamic"
            )
            summed = _cluster_sum(agg.inf, st["codes"])
            V = summed.T @ summed / st["n"] ** 2
            keep = np.diag(V) > 1e-20
            return agg.key[keep], agg.est[keep], V[np.ix_(keep, keep)]
        if self._lin is not None:
            lin = self._lin
            res = self.aggregate("dynamic")
            tab = res.to_frame()
            e = tab["event_time"].to_numpy(dtype=float)
            L = []
            for ev in e:
                sel = lin.e == ev
                row = np.zeros(len(lin.theta))
                row[sel] = lin.size[sel] / lin.size[sel].sum()
                L.append(row)
            Lm = np.array(L)
            return e, Lm @ lin.theta, Lm @ lin.vcov @ Lm.T
        raise SpecError(
            f"method={self.method!r} has no event-study coefficients; use "
            "method='event_study', 'cs' or 'sunab'."
        )

    def pretrend_power(
        self, slope: float | None = None, *, alpha: float = 0.05, _abseps: float = 1e-4
    ) -> PretrendPower:
        """Roth (2022) power of the pre-trends test against linear violations.

        The usual pre-test rejects parallel trends when any pre-period event-study
        coefficient is individually significant at ``alpha``. This gives the slope of
        a linear violation (``slope * (e + 1)`` at event time ``e``, zero at the
        reference period -1) that the test detects with 50% and 80% power: trends
        smaller than these usually pass unnoticed and can still bias the
        post-period estimates. With ``slope``, also the power against it, the Bayes
        factor and the likelihood ratio of the observed pre-period coefficients (as
        the R ``pretrends`` package).

        Parameters
        ----------
        slope : float, optional
            Hypothesised slope, in outcome units per period.
        alpha : float, default 0.05
            Level of each individual pre-period test.

        Returns
        -------
        PretrendPower
            ``slope_50``, ``slope_80``, ``size`` and, with ``slope``, ``power``,
            ``bayes_factor``, ``likelihood_ratio``; ``str()`` explains them.
        """
        from impact.did.pretrend_power import pretrend_power

        alpha = check_alpha(alpha, "DiDResult.pretrend_power")
        ref = -1
        if self._lin is not None:
            if not self._lin.refs:
                raise SpecError(
                    f"method={self.method!r} reports pre-period placebo estimates that "
                    "are not relative to a reference period, so Roth's linear-trend "
                    "power analysis does not apply; use method='event_study', "
                    "'sunab', 'stacked' or 'etwfe' with control='never'."
                )
            ref = int(max(self._lin.refs))
        e, beta, sigma = self._event_coefficients()
        out = pretrend_power(
            e,
            beta,
            sigma,
            slope=slope,
            alpha=alpha,
            n_treated=self.n_treated,
            abseps=_abseps,
            ref=ref,
        )
        if self._cs is not None and self.options.get("base_period") == "varying":
            out.warnings.append(
                "base_period='varying': the pre-period estimates are period-to-period "
                "changes, not effects relative to -1; refit with "
                "base_period='universal' for this analysis."
            )
        return out

    def sensitivity(
        self,
        method: str = "smoothness",
        *,
        M: Any = None,
        Mbar: Any = None,
        l_vec: Any = None,
        alpha: float = 0.05,
        covariance: str | None = None,
        n_perm: int = 999,
        seed: Any = None,
    ) -> Any:
        """Rambachan-Roth honest confidence sets for violations of parallel trends.

        Parameters
        ----------
        method : {"smoothness", "relative_magnitude"}
            Restriction on the post-treatment trend violation.
        M, Mbar : float or sequence of float, optional
            Grids of the restriction's size (defaults chosen by the sensitivity code).
        l_vec : array-like, optional
            Weights on the post-treatment coefficients (default: the first one).
        alpha : float, default 0.05
            One minus the coverage.
        covariance : {None, "analytic", "permutation"}, default None
            Covariance of the event-study coefficients. None follows the headline:
            ``"permutation"`` when the result's inference is randomization or the
            wild bootstrap (few treated units or clusters), else ``"analytic"``.
            ``"analytic"`` uses the estimator's own covariance, which with few
            treated units is estimated from those few units and far too small
            (the ``M = 0`` interval then excludes zero in most no-effect designs);
            the result warns. ``"permutation"`` uses the covariance of the
            coefficients over ``n_perm`` re-assignments of the cohorts, with the
            estimated post-treatment effects removed from the treated cells: the
            design-based covariance under random adoption.
        n_perm : int, default 999
            Re-assignments for ``covariance="permutation"`` (fewer make the
            covariance noisy and the intervals a little too narrow: with 4 treated
            units the M = 0 interval excluded zero in 12% of no-effect designs with
            49, 7.5% with 99 and 5.8% with 999).
        seed : int or numpy Generator, optional
            Seed of the re-assignments (default: the seed the result was fitted
            with).

        Returns
        -------
        SensitivityResult
            ``.table``, ``.breakdown``, ``.warnings`` and ``.plot()``.
        """
        from impact._validation import check_draws

        check_option(
            "method",
            method,
            ["smoothness", "relative_magnitude"],
            "DiDResult.sensitivity",
        )
        check_option(
            "covariance",
            covariance,
            [None, "analytic", "permutation"],
            "DiDResult.sensitivity",
        )
        alpha = check_alpha(alpha, "DiDResult.sensitivity")
        n_perm = check_draws("n_perm", n_perm, "DiDResult.sensitivity")
        e, beta, sigma = self._event_coefficients()
        if covariance is None:
            covariance = (
                "permutation"
                if str(self.inference).startswith(("permutation", "wild"))
                else "analytic"
            )
        notes: list[str] = []
        if covariance == "permutation":
            from impact.did._event_draws import event_covariance

            if self._panel is None:
                raise SpecError(
                    "This result does not keep its data; refit to permute, or pass "
                    "covariance='analytic'."
                )
            sigma, n_used = event_covariance(
                self,
                e,
                beta,
                n_perm=n_perm,
                seed=self._call.get("seed") if seed is None else seed,
                refit=self._refit,
            )
            notes.append(
                "Covariance of the event-study coefficients from their spread over "
                f"{n_used} random re-assignments of the cohorts (estimated effects "
                "removed): valid under random adoption whatever the number of "
                "treated units."
            )
        else:
            caveat = self._analytic_pretest_caveat(PretrendTest(0.0, 0, 1.0))
            if caveat.warnings:
                notes.append(
                    caveat.warnings[-1].split(":")[0]
                    + ": the analytic covariance of the event-study coefficients "
                    "comes from those few units and is far too small, so these "
                    "intervals are too narrow (with 4 treated units the M = 0 "
                    "interval excludes zero in most no-effect designs); use "
                    "sensitivity(covariance='permutation')."
                )
        if self._cs is not None and self.options.get("base_period") == "varying":
            _warnings.warn(
                "sensitivity() on a Callaway-Sant'Anna event study with "
                "base_period='varying': the pre-period estimates are not relative to "
                "one reference period; refit with base_period='universal'.",
                ImpactWarning,
                stacklevel=2,
            )
        num_pre = int((e < 0).sum())
        num_post = int((e >= 0).sum())
        if num_pre < 1 or num_post < 1:
            raise SpecError(
                "sensitivity() needs at least one pre-treatment and one post-treatment "
                f"event-study coefficient; got {num_pre} and {num_post}."
            )
        from impact.did.honest import honest_sensitivity

        out = honest_sensitivity(
            beta,
            sigma,
            num_pre=num_pre,
            num_post=num_post,
            method=method,
            M=M,
            Mbar=Mbar,
            l_vec=l_vec,
            alpha=alpha,
        )
        if notes:
            out.warnings.extend(notes)
        return out

    def placebo_in_time(self, k: int = 1) -> DiDResult:
        """Re-estimate on pre-treatment data only, pretending adoption ``k`` periods early.

        Parameters
        ----------
        k : int, default 1
            How many periods earlier the fake adoption is.

        Returns
        -------
        DiDResult
            The placebo estimate (should be near zero under parallel trends).
        """
        from impact.did.placebo import placebo_fit

        if self._panel is None or self._refit is None:
            raise SpecError(
                "This result does not keep its data; refit to run a placebo."
            )
        return placebo_fit(self, k, self._refit)

    # ---------------------------------------------------------------- protocol
    def _summary_lines(self) -> list[str]:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items() if v is not None)
        lines = [f"Options: {opts}"] if opts else []
        lines.append(f"Inference: {self.inference}")
        if self.cells is not None:
            lines += ["", "Cell means:", self.cells.to_string(index=False)]
        if self.method in ("cs", "sunab", *_CELL_METHODS):
            for kind in ("group", "dynamic", "calendar"):
                try:
                    agg = self.aggregate(kind)
                except Exception:  # pragma: no cover - shown only when available
                    continue
                lines.append(
                    f"{kind:>9} overall: {agg.estimate: .4f} (se {agg.se:.4f})"
                )
        if self.event_study is not None and self.method in (
            "event_study",
            "stacked",
            "dcdh",
        ):
            cols = ["event_time", "estimate", "std_error", "conf_low", "conf_high"]
            lines += ["", self.event_study[cols].to_string(index=False)]
        if self._cs is not None or self._lin is not None:
            try:
                power = self._pretrend_power_cached()
            except (SpecError, EstimationError):
                power = None
            if power is not None:
                lines += ["", power.line()]
        return lines

    def _pretrend_power_cached(self) -> PretrendPower:
        if self._power_cache is None:
            self._power_cache = self.pretrend_power(_abseps=1e-3)
        return self._power_cache

    def _frame(self) -> pd.DataFrame:
        base = super()._frame()
        if self.method in ("cs", "sunab") and len(self.att_gt):
            tab = self.att_gt.rename(
                columns={
                    "att": "estimate",
                    "se": "std_error",
                    "ci_low": "conf_low",
                    "ci_high": "conf_high",
                }
            )
            tab = tab.assign(
                term=[
                    f"ATT({int(g)},{int(t)})" for g, t in zip(tab["group"], tab["time"])
                ]
            )
            return pd.concat([base, tab], ignore_index=True)
        if self.event_study is not None:
            return pd.concat([base, self.event_study], ignore_index=True)
        return base

    def _extra_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "method": self.method,
            "options": self.options,
            "inference": self.inference,
            "att_gt": self.att_gt,
            "aggregates": {},
        }
        kinds: tuple[str, ...] = ()
        if self._cs is not None or self.method in ("sunab", *_CELL_METHODS):
            kinds = _KINDS
        elif self.method in ("event_study", "dcdh"):
            kinds = ("simple", "dynamic")
        for kind in kinds:
            agg = self.aggregate(kind)
            entry: dict[str, Any] = {
                "estimate": agg.estimate,
                "se": agg.se,
                "ci": list(agg.ci),
                "pvalue": agg.pvalue,
            }
            if agg.table is not None:
                entry["table"] = agg.table
            out["aggregates"][kind] = entry
        if self.event_study is not None:
            out["event_study"] = self.event_study
        if self.cells is not None:
            out["cells"] = self.cells
        if self._cs is not None or self._lin is not None:
            try:
                out["pretrend"] = self.pretrend_test().to_dict()
            except SpecError:
                pass
        return out

    def _plot(self, ax: Axes, kind: str | None, **kwargs: Any) -> Axes:
        from impact.did import plots

        lab = {**plots.result_labels(self), **kwargs}

        if kind is None:
            kind = {"2x2": "cells", "twfe": "estimate"}.get(self.method, "event_study")
        check_option(
            "kind",
            kind,
            ["event_study", "att_gt", "cells", "estimate"],
            "DiDResult.plot",
        )
        if kind == "estimate":
            return plots.plot_estimate(
                self.estimate, self.ci, ax=ax, label=self.label, **lab
            )
        if kind == "cells":
            if self.cells is None:
                raise SpecError("kind='cells' needs method='2x2'.")
            return plots.plot_cells(self.cells, ax=ax, **lab)
        if kind == "att_gt":
            if not len(self.att_gt):
                raise SpecError("kind='att_gt' needs method='cs' or 'sunab'.")
            return plots.plot_att_gt(self.att_gt, ax=ax, **lab)
        if self._cs is None and self._lin is None:
            raise SpecError(
                f"method={self.method!r} has no event study; use kind='estimate'."
            )
        table = self.aggregate("dynamic").to_frame()
        if self.method == "event_study" and self.event_study is not None:
            table = self.event_study
        return plots.plot_event_study(table, ax=ax, **lab)
