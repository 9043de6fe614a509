"""Goodman-Bacon (2021) decomposition of the static TWFE coefficient into 2x2 DiDs.

For a balanced panel without covariates or weights the TWFE coefficient equals a
weighted average of every 2x2 comparison: each timing cohort against the never
treated ("Treated vs Untreated"), and each pair of timing cohorts with the earlier one
treated and the later one as control before it adopts ("Earlier vs Later Treated") or
the later one treated and the already-treated earlier one as control ("Later vs
Earlier Treated"). Weights combine group sizes and the variance of treatment in each
comparison (Goodman-Bacon 2021, J. Econometrics 225(2), Theorem 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact._scale import resolve_log_outcome
from impact.errors import DataError, EstimationError, SpecError
from impact.results import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["BaconResult", "bacon", "bacon_table"]

FloatArray = NDArray[np.float64]
_TYPES = (
    "Earlier vs Later Treated",
    "Later vs Earlier Treated",
    "Treated vs Untreated",
)


def _dd(
    Y: FloatArray, tr: NDArray[np.bool_], co: NDArray[np.bool_], pre: slice, post: slice
) -> float:
    d_tr = Y[tr][:, post].mean() - Y[tr][:, pre].mean()
    d_co = Y[co][:, post].mean() - Y[co][:, pre].mean()
    return float(d_tr - d_co)


def bacon_table(
    Y: FloatArray, cohort_idx: FloatArray, periods: NDArray[np.int64]
) -> pd.DataFrame:
    """Every 2x2 comparison of the decomposition, with its weight.

    Parameters
    ----------
    Y : ndarray (N, T)
        Balanced outcomes.
    cohort_idx : ndarray (N,)
        Cohort index (inf = never treated).
    periods : ndarray (T,)
        Period labels.

    Returns
    -------
    DataFrame
        ``type, treated, control, estimate, weight`` (weights sum to 1; ``control``
        is NaN for the never treated).
    """
    n, n_t = Y.shape
    never = ~np.isfinite(cohort_idx)
    cohorts = np.unique(cohort_idx[~never]).astype(int)
    share = {int(g): float((cohort_idx == g).mean()) for g in cohorts}
    n_u = float(never.mean())
    dbar = {g: (n_t - g) / n_t for g in cohorts}
    rows: list[dict[str, Any]] = []
    if never.any():
        for g in cohorts:
            tr = cohort_idx == g
            nk = share[g]
            nku = nk / (nk + n_u)
            w = (nk + n_u) ** 2 * nku * (1 - nku) * dbar[g] * (1 - dbar[g])
            est = _dd(Y, tr, never, slice(0, g), slice(g, n_t))
            rows.append(
                {
                    "type": _TYPES[2],
                    "treated": periods[g],
                    "control": np.nan,
                    "estimate": est,
                    "weight": w,
                }
            )
    for a, k in enumerate(cohorts):
        for lcoh in cohorts[a + 1 :]:
            nk, nl = share[k], share[lcoh]
            nkl = nk / (nk + nl)
            dk, dl = dbar[k], dbar[lcoh]
            tk, tl = cohort_idx == k, cohort_idx == lcoh
            w_early = (
                ((nk + nl) * (1 - dl)) ** 2
                * nkl
                * (1 - nkl)
                * ((dk - dl) / (1 - dl))
                * ((1 - dk) / (1 - dl))
            )
            est_early = _dd(Y, tk, tl, slice(0, k), slice(k, lcoh))
            rows.append(
                {
                    "type": _TYPES[0],
                    "treated": periods[k],
                    "control": periods[lcoh],
                    "estimate": est_early,
                    "weight": w_early,
                }
            )
            w_late = (
                ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * ((dk - dl) / dk)
            )
            est_late = _dd(Y, tl, tk, slice(k, lcoh), slice(lcoh, n_t))
            rows.append(
                {
                    "type": _TYPES[1],
                    "treated": periods[lcoh],
                    "control": periods[k],
                    "estimate": est_late,
                    "weight": w_late,
                }
            )
    table = pd.DataFrame(
        rows, columns=["type", "treated", "control", "estimate", "weight"]
    )
    table["weight"] = table["weight"] / table["weight"].sum()
    return table


class BaconResult(Result):
    """Goodman-Bacon decomposition; ``estimate`` is the TWFE coefficient.

    Attributes
    ----------
    table : DataFrame
        One row per 2x2 comparison: ``type, treated, control, estimate, weight``.
    by_type : DataFrame
        Total weight and weighted average estimate per comparison type.
    """

    def __init__(self, *, table: pd.DataFrame, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: outcome and time column names, for the figure labels (set by bacon())
        self.outcome: str | None = None
        self.time: str | None = None
        #: how ``se``, ``ci`` and ``pvalue`` of the TWFE coefficient were obtained
        self.inference = "analytic"
        self.table = table
        grouped = table.assign(wx=table["estimate"] * table["weight"]).groupby(
            "type", sort=False
        )
        weight = grouped["weight"].sum()
        wsum = grouped["wx"].sum()
        self.by_type = (
            pd.DataFrame(
                {
                    "weight": weight,
                    "estimate": (wsum / weight.where(weight > 0)).astype(float),
                    "n_comparisons": grouped.size(),
                }
            )
            .reindex([t for t in _TYPES if t in set(table["type"])])
            .reset_index()
        )

    def _summary_lines(self) -> list[str]:
        lines = [
            f"Inference: {self.inference}",
            "",
            "Decomposition by comparison type:",
        ]
        lines.append(
            self.by_type.to_string(index=False, float_format=lambda x: f"{x:.5f}")
        )
        late = self.by_type.loc[self.by_type["type"] == _TYPES[1], "weight"]
        if len(late) and float(late.iloc[0]) > 0:
            lines.append(
                f"{float(late.iloc[0]):.1%} of the TWFE weight comes from comparisons "
                "that use already-treated units as controls (biased if effects change "
                "over time)."
            )
        return lines

    def _frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _extra_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "by_type": self.by_type,
            "inference": self.inference,
        }

    def _plot(self, ax: Axes, kind: str | None, **kwargs: Any) -> Axes:
        from impact._validation import check_option
        from impact.did.plots import plot_bacon, result_labels

        if kind is not None:
            check_option("kind", kind, ["decomposition"], "BaconResult.plot")

        lab = {**result_labels(self), **kwargs}
        return plot_bacon(self.table, self.estimate, ax=ax, **lab)


def bacon(
    data: pd.DataFrame | Any,
    *,
    outcome: str | None = None,
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    cluster: str | None = None,
    alpha: float = 0.05,
    weights: str | None = None,
    covariates: str | Sequence[str] | None = None,
    inference: str = "auto",
    n_boot: int = 999,
    seed: int | np.random.Generator | None = None,
    log_outcome: bool | None = None,
) -> BaconResult:
    """Goodman-Bacon decomposition of the TWFE DiD coefficient.

    Parameters
    ----------
    data : DataFrame or Panel
        Balanced long panel.
    outcome, unit, time, cohort, treated : str
        Column names, as in :func:`impact.did`.
    cluster : str, optional
        Cluster column for the TWFE standard error (default: units).
    alpha : float, default 0.05
        One minus the confidence level.
    weights, covariates : None
        Not supported (the decomposition is for unweighted TWFE without covariates).
    inference : {"auto", "analytic", "wild", "permutation"}, default "auto"
        Inference on the TWFE coefficient, as in :func:`impact.did`: ``auto``
        follows :func:`impact.inference.few_treated_rule` (randomization inference
        with fewer than 20 treated clusters, the wild cluster bootstrap with few
        clusters, else cluster-robust); ``analytic`` warns when it is not valid.
    n_boot : int, default 999
        Bootstrap draws or random re-assignments.
    seed : int, Generator or None
        Seed of the bootstrap / re-assignments.
    log_outcome : bool or None, default None
        Whether the outcome is a natural log (see :func:`impact.did`); stored on
        the result for its design verdict.

    Returns
    -------
    BaconResult
        ``estimate`` = TWFE coefficient; ``table`` of 2x2s and weights;
        ``by_type``; ``plot()`` draws the scatter of estimates against weights.
    """
    from impact._validation import (
        check_alpha,
        check_draws,
        check_option,
    )
    from impact.did._cohorts import cohort_index as _cohort_index
    from impact.did._fe import cluster_codes
    from impact.did.regression import fit_twfe
    from impact.panel import as_panel

    alpha = check_alpha(alpha, "bacon")
    check_option(
        "inference", inference, ["auto", "analytic", "wild", "permutation"], "bacon"
    )
    n_boot = check_draws("n_boot", n_boot, "bacon")
    if weights is not None or covariates:
        raise SpecError(
            "bacon() decomposes the unweighted TWFE estimate without covariates; drop "
            "weights=/covariates=."
        )
    panel = as_panel(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        treated=treated,
        cluster=cluster,
    )
    if panel.W is not None or panel.X:
        raise SpecError("bacon() needs a Panel without weights or covariates.")
    panel.require_complete("bacon()")
    cidx = _cohort_index(panel)
    if not np.isfinite(cidx).any():
        raise DataError("bacon() needs treated units; none is treated in the data.")
    if not np.ptp(panel.Y) > 0:
        raise DataError(
            f"bacon(): outcome {panel.outcome!r} is constant in every unit and "
            "period; there is no variation to decompose. Check the outcome= column."
        )
    table = bacon_table(panel.Y, cidx, panel.periods)
    if len(table) == 0:
        raise DataError(
            "bacon() found no 2x2 comparison: there is a single cohort and no "
            "never-treated units."
        )
    codes = cluster_codes(panel.clusters) if panel.cluster_col is not None else None
    fit = fit_twfe(panel.Y, panel.D, clusters=codes)
    check = float((table["estimate"] * table["weight"]).sum())
    warns = list(panel.warnings)
    if abs(check - fit.beta[0]) > 1e-8 * max(1.0, abs(fit.beta[0])):  # pragma: no cover
        warns.append(
            f"The weighted 2x2 estimates ({check:.6g}) do not add up to the TWFE "
            f"coefficient ({fit.beta[0]:.6g})."
        )
    if not fit.vcov[0, 0] > 0:
        raise EstimationError(
            f"bacon(): outcome {panel.outcome!r} is fitted exactly by unit and period "
            "effects (TWFE standard error 0); there is nothing to decompose. Check "
            "the outcome= column."
        )
    se, ci, pvalue, how = _twfe_inference(
        panel,
        float(fit.beta[0]),
        float(np.sqrt(fit.vcov[0, 0])),
        inference,
        n_boot=n_boot,
        alpha=alpha,
        seed=seed,
        warns=warns,
    )
    out = BaconResult(
        table=table,
        estimator="bacon",
        estimate=float(fit.beta[0]),
        se=se,
        ci=ci,
        pvalue=pvalue,
        n_treated=panel.n_treated,
        n_control=panel.n_never,
        alpha=alpha,
        warnings=warns,
        label="TWFE",
        title="Goodman-Bacon decomposition of TWFE",
    )
    out.outcome, out.time = panel.outcome, panel.time  # for the figure labels
    out.inference = how
    out.log_outcome, scale_warns = resolve_log_outcome(
        log_outcome, panel.outcome, panel.Y, "bacon"
    )
    out.warnings.extend(scale_warns)
    return out


def _twfe_inference(
    panel: Any,
    estimate: float,
    crv_se: float,
    inference: str,
    *,
    n_boot: int,
    alpha: float,
    seed: Any,
    warns: list[str],
) -> tuple[float, tuple[float, float] | None, float | None, str]:
    """Standard error, interval, p-value and method for the TWFE coefficient.

    ``(se, None, None, "analytic")`` leaves the normal interval to the result.
    """
    from impact.inference import (
        few_treated_rule,
        make_twfe_batch,
        permutation_inference,
        twfe_weights,
        wild_cluster_bootstrap,
    )

    clusters = panel.clusters
    ever = np.isfinite(panel.cohort)
    n_cl = len(np.unique(clusters))
    n_tr = len(np.unique(clusters[ever]))
    rule, rule_warning = ("analytic", None)
    if 0 < n_tr < n_cl:
        rule, rule_warning = few_treated_rule(n_tr, n_cl)
    method = rule if inference == "auto" else inference
    if method == "analytic":
        if rule_warning:
            warns.append(rule_warning)
        return crv_se, None, None, "analytic"
    if method == "wild":
        out = wild_cluster_bootstrap(
            panel.Y,
            twfe_weights(panel.D),
            panel.D,
            clusters=clusters,
            n_boot=n_boot,
            alpha=alpha,
            seed=seed,
        )
    else:
        # the same studentized randomization inference as impact.did(method="twfe")
        from types import SimpleNamespace

        from impact.did._cohorts import cohort_index
        from impact.did._perm_rows import engine_for

        cidx = cohort_index(panel)
        like = SimpleNamespace(method="twfe", _cs=None, _lin=None, estimate=estimate)
        call = {"n_boot": n_boot, "seed": seed, "alpha": alpha, "anticipation": 0}
        engine = engine_for(like, panel, cidx, call)
        if engine is None:  # pragma: no cover - unweighted TWFE is always role-linear
            out = permutation_inference(
                panel.Y,
                panel.cohort,
                make_twfe_batch(panel.periods),
                D=panel.D,
                n_perm=max(n_boot, 19),
                alpha=alpha,
                seed=seed,
                periods=panel.periods,
                linear=True,
            )
        else:
            _, rows = engine.rows("simple")
            if engine.noise is None:
                warns.append(
                    "Randomization inference permutes raw estimates (fewer than three "
                    "periods before the first adoption to estimate each unit's "
                    "noise): it assumes treated and comparison units are equally noisy."
                )
            warns.extend(w for w in rows.warnings if w not in warns)
            return (
                float(rows.implied_se(alpha)[-1]),
                (float(rows.ci_low[-1]), float(rows.ci_high[-1])),
                float(rows.pvalue[-1]),
                "permutation",
            )
    warns.extend(w for w in out.warnings if w not in warns)
    return (
        float(out.se),
        (float(out.ci[0]), float(out.ci[1])),
        float(out.pvalue),
        out.method,
    )
