"""Result objects of the difference-in-differences family.

``DiDResult`` is assembled from two bases by job: aggregation
(:mod:`impact.did.result_aggregate`) and diagnostics
(:mod:`impact.did.result_diagnostics`); the names they define are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from impact._validation import check_option
from impact.did.result_aggregate import _CELL_METHODS, _KINDS
from impact.did.result_aggregate import FloatArray as FloatArray
from impact.did.result_aggregate import _Linear as _Linear
from impact.did.result_aggregate import _row_stats as _row_stats
from impact.did.result_diagnostics import PretrendTest, _DiagnosedResult
from impact.did.result_diagnostics import _require_finite as _require_finite
from impact.errors import EstimationError, SpecError
from impact.results import EstimateResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.did.pretrend_power import PretrendPower
    from impact.panel import Panel

__all__ = ["DiDResult", "PretrendTest"]


class DiDResult(_DiagnosedResult):
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
