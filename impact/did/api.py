"""``impact.did``: one entry point for 2x2, TWFE, event-study, Callaway-Sant'Anna and
Sun-Abraham difference-in-differences (and ``impact.bacon``)."""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact._scale import resolve_log_outcome
from impact._validation import (
    as_list,
    check_alpha,
    check_draws,
    check_option,
    check_positive_int,
)
from impact.diagnostics.selection import attach_selection
from impact.did._cohorts import cohort_index as _cohort_index
from impact.did._fe import cluster_codes
from impact.did.bacon import bacon
from impact.did.modern import MODERN_METHODS, check_modern_options, fit_modern
from impact.did.results import DiDResult, _Linear
from impact.errors import DataError, EstimationError, SpecError
from impact.limits import check_memory
from impact.panel import Panel, as_panel

__all__ = ["bacon", "did"]

FloatArray = NDArray[np.float64]
_METHODS = ["2x2", "twfe", "event_study", "cs", "sunab", *MODERN_METHODS]
_INFERENCE = ["auto", "analytic", "bootstrap", "wild", "permutation"]
_EXTRA = {
    "ref_period",
    "bins",
    "balance",
    "_placebo_k",
    "_diagnostics",
    "family",
    "window",
    "_treatment_matrix",
    "_raw_permutation",
}
_PRIVATE = {"_placebo_k", "_treatment_matrix", "_diagnostics", "_raw_permutation"}


def _check_covariates(panel: Panel, names: list[str]) -> FloatArray | None:
    if not names:
        return None
    missing = [c for c in names if c not in panel.X]
    if missing:
        raise DataError(
            f"Covariate(s) {missing} are not in the panel; pass them as covariates= "
            "when building it."
        )
    X = np.stack([panel.X[c] for c in names], axis=2)
    if not np.isfinite(X[panel.observed]).all():
        bad = names[int(np.flatnonzero(~np.isfinite(X).all(axis=(0, 1)))[0])]
        raise DataError(
            f"Covariate {bad!r} has missing or infinite values; impute or drop them."
        )
    for j, name in enumerate(names):
        if np.ptp(X[:, :, j][panel.observed]) == 0:
            raise DataError(
                f"Covariate {name!r} has no variation (it is constant); drop it from "
                "covariates=."
            )
    return X


def _design_warnings(
    panel: Panel, cidx: FloatArray, method: str, control: str, anticipation: int
) -> list[str]:
    out: list[str] = []
    treated = np.isfinite(cidx)
    for g in np.unique(cidx[treated]):
        size = int((cidx == g).sum())
        label = int(panel.periods[int(g)])
        if size <= 2:
            out.append(
                f"Cohort {label} has {size} unit{'s' if size > 1 else ''}: its "
                "variance is barely estimable; read its ATT(g,t) with care and prefer "
                "aggregated effects."
            )
        if int(g) - anticipation == 1 and method in ("cs", "sunab", "event_study"):
            out.append(
                f"Cohort {label} has a single pre-treatment period: its pre-trend "
                "cannot be checked."
            )
    if panel.n_never == 0 and method != "2x2":
        hint = "" if control == "notyet" else " (use control='notyet')"
        out.append(
            "No never-treated units: later-treated cohorts are the only comparison"
            f"{hint}."
        )
    return out


def did(
    data: pd.DataFrame | Panel,
    *,
    outcome: str | Sequence[str] | None = None,
    unit: str | None = None,
    time: str | None = None,
    cohort: str | None = None,
    treated: str | None = None,
    method: str = "cs",
    control: str = "never",
    covariates: str | Sequence[str] | None = None,
    est_method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
    cluster: str | None = None,
    inference: str = "auto",
    n_boot: int = 999,
    alpha: float = 0.05,
    seed: int | np.random.Generator | None = None,
    weights: str | None = None,
    log_outcome: bool | None = None,
    numerator: str | None = None,
    denominator: str | None = None,
    **options: Any,
) -> DiDResult:
    """Difference-in-differences: 2x2, TWFE, event study, Callaway-Sant'Anna, Sun-Abraham.

    Parameters
    ----------
    data : DataFrame or Panel
        Long panel (one row per unit and period) or an :class:`impact.Panel`.
    outcome : str or list of str
        Outcome column (not needed when ``data`` is a Panel). A list fits each
        outcome with the same options and returns a
        :class:`~impact.multiplicity.MultiOutcomeResult` whose ``to_frame()`` has one
        row per outcome with Holm and Romano-Wolf adjusted p-values (Romano-Wolf
        from the same permutation / bootstrap draws as the inference; pass
        ``seed=`` for reproducible draws).
    unit, time : str
        Column names (not needed when ``data`` is a Panel).
    cohort : str, optional
        First treated period (NaN, 0 or inf = never treated).
    treated : str, optional
        0/1 treatment indicator (alternative to ``cohort``): absorbing, except for
        ``method="dcdh"``, where it may switch on and off.
    method : str, default "cs"
        Estimator: ``"2x2"``, ``"twfe"``, ``"event_study"``, ``"cs"``
        (Callaway-Sant'Anna), ``"sunab"`` (Sun-Abraham), ``"imputation"``
        (Borusyak-Jaravel-Spiess), ``"did2s"`` (Gardner), ``"etwfe"`` (Wooldridge;
        ``family="linear"`` or ``"poisson"``), ``"stacked"`` (Wing-Freedman-
        Hollingsworth stacked DiD; ``window=(pre, post)``) or ``"dcdh"`` (de
        Chaisemartin-D'Haultfoeuille ``DID_M`` with dynamic effects and placebos; the
        only method that accepts a ``treated=`` indicator that switches off).
    control : {"never", "notyet"}, default "never"
        Comparison group for ``"cs"``, ``"etwfe"`` and ``"stacked"`` (never treated,
        or not yet treated).
    covariates : str or list of str, optional
        ``"cs"``: conditioning covariates (base-period values); ``"twfe"``,
        ``"event_study"``, ``"sunab"``: extra regressors.
    est_method : {"dr", "ipw", "reg"}, default "dr"
        ``"cs"`` with covariates: doubly robust, inverse probability weighting or
        outcome regression (Sant'Anna and Zhao 2020).
    anticipation : int, default 0
        Periods before adoption in which units may already react (``"cs"``).
    base_period : {"varying", "universal"}, default "varying"
        ``"cs"`` pre-treatment base period: the previous period, or ``g - 1``.
    cluster : str, optional
        Cluster column (default: units).
    inference : {"auto", "analytic", "bootstrap", "wild", "permutation"}
        ``auto`` (default) follows :func:`impact.inference.few_treated_rule`: with
        fewer than 20 treated (or untreated) clusters, studentized randomization
        inference; else with fewer than 42 clusters the wild cluster bootstrap; else
        analytic. Randomization inference is studentized with each unit's noise
        estimated from its changes before the first adoption, so it keeps its size
        when the treated units are noisier or quieter than the rest; when there are
        fewer than three periods before the first adoption that noise cannot be
        estimated, and ``auto`` uses the wild bootstrap instead (with at least five
        treated clusters; :func:`impact.inference.studentized.noise_aware_choice`).
        ``analytic``: influence-function or cluster-robust SEs; ``bootstrap``:
        multiplier bootstrap with uniform bands (``"cs"``); ``wild``: wild cluster
        bootstrap; ``permutation``: studentized randomization inference over cohort
        assignments. For ``"cs"`` (no covariates), ``"sunab"``, ``"event_study"``
        and ``"twfe"`` (unweighted) the permutation intervals of every ATT(g,t),
        aggregation row, event-time coefficient and uniform band come from the same
        re-assignments as the headline.
    n_boot : int, default 999
        Bootstrap draws or permutations.
    alpha : float, default 0.05
        One minus the confidence level.
    seed : int, Generator or None
        Random seed for bootstrap/permutation.
    weights : str, optional
        Unit weights (e.g. child population); ``"cs"`` uses first-period values.
    log_outcome : bool or None, default None
        Whether the outcome is a natural log (effects in log points). Stored on the
        result; ``design()`` and the summary's "Design:" line then state the MDE in
        log points and as a fall of ``1 - exp(-mde)``. None: read as a log when the
        column name says so, with a warning; a warning also when the values look
        like a log.
    numerator, denominator : str, optional
        Count columns (e.g. children looked after and the child population): the
        outcome is ``numerator / denominator * 10000`` (a rate per 10,000), built as
        :class:`~impact.Panel` builds it (``outcome=`` names the rate, which need not
        exist yet). The counts stay on the panel (``panel.numerator``,
        ``panel.denominator``), where a count model uses the denominator as its
        exposure.
    **options
        ``family`` (``"linear"`` or ``"poisson"``: Poisson QMLE on counts, with the
        denominator as exposure when ``numerator=``/``denominator=`` are given) for
        ``"etwfe"``; ``window`` (int or ``(pre, post)`` event window) for
        ``"stacked"`` and ``"dcdh"``; ``ref_period`` (int or list, default -1) and
        ``bins`` ((lo, hi)) for ``"event_study"``/``"sunab"``; ``balance`` passed to
        :class:`Panel`
        (``"keep"``: units with gaps are kept and every method estimates on the
        rows that exist: regressions by weighting missing cells out, ``"cs"`` as R
        ``did``'s ``allow_unbalanced_panel=TRUE`` (cell means of the rows observed
        in each period, influence functions summed by unit; no covariates);
        inference ``"wild"`` is then unavailable and ``"auto"`` uses permutation
        where it would use the wild bootstrap).

    Returns
    -------
    DiDResult
        Estimate, standard error, ATT(g,t), aggregations, diagnostics. ``estimate``
        is the DiD of means (``"2x2"``), the coefficient on treatment (``"twfe"``),
        the average of the post-treatment event-time coefficients
        (``"event_study"``), or the ``"simple"`` aggregate (``"cs"``, ``"sunab"``).

    Notes
    -----
    Callaway-Sant'Anna standard errors are R ``did``'s analytic influence-function
    SEs (estimated cohort shares included); regression SEs are CRV1 with fixest's
    small-sample convention; Sun-Abraham aggregates treat cohort shares as fixed (as
    fixest's ``aggregate``). Time-varying weights are used by the regression
    methods; ``"cs"`` uses each unit's first-period weight.

    Examples
    --------
    >>> import impact
    >>> res = impact.did(df, outcome="lemp", unit="countyreal", time="year",
    ...                  cohort="first.treat", method="cs")  # doctest: +SKIP
    >>> res.aggregate("dynamic").to_frame()  # doctest: +SKIP
    """
    caller = "did"
    if isinstance(outcome, (list, tuple)):
        from impact.did.multi import fit_outcomes

        if numerator is not None or denominator is not None:
            raise SpecError(
                "numerator=/denominator= build one rate; with a list of outcomes "
                "build each rate as a column first (or make one call per rate)."
            )
        return fit_outcomes(  # type: ignore[return-value]
            did,
            data,
            outcome,
            {
                "unit": unit,
                "time": time,
                "cohort": cohort,
                "treated": treated,
                "method": method,
                "control": control,
                "covariates": covariates,
                "est_method": est_method,
                "anticipation": anticipation,
                "base_period": base_period,
                "cluster": cluster,
                "inference": inference,
                "n_boot": n_boot,
                "alpha": alpha,
                "seed": seed,
                "weights": weights,
                "log_outcome": log_outcome,
                **options,
            },
        )
    check_option("method", method, _METHODS, caller)
    check_option("control", control, ["never", "notyet"], caller)
    check_option("est_method", est_method, ["dr", "ipw", "reg"], caller)
    check_option("base_period", base_period, ["varying", "universal"], caller)
    check_option("inference", inference, _INFERENCE, caller)
    alpha = check_alpha(alpha, caller)
    n_boot = check_draws("n_boot", n_boot, caller)
    anticipation = check_positive_int("anticipation", anticipation, caller, minimum=0)
    unknown = set(options) - _EXTRA
    if unknown:
        raise SpecError(
            f"did got unexpected keyword argument(s) {sorted(unknown)}; method options "
            f"are {sorted(_EXTRA - _PRIVATE)}."
        )
    placebo_k = options.pop("_placebo_k", None)
    diagnose = bool(options.pop("_diagnostics", True)) and placebo_k is None
    balance = options.pop("balance", "error")
    cov_names = as_list(covariates)
    columns = {
        "unit": unit,
        "time": time,
        "outcome": outcome,
        "cohort": cohort,
        "treated": treated,
        "weights": weights,
        "covariates": cov_names or None,
        "cluster": cluster,
        "balance": balance,
        "numerator": numerator,
        "denominator": denominator,
    }
    dcdh_notes: list[str] = []
    if method == "dcdh":
        from impact.did.dcdh import prepare_dcdh

        panel, dcdh_D = prepare_dcdh(
            data,
            treatment=options.pop("_treatment_matrix", None),
            warns=dcdh_notes,
            **columns,
        )
        options["_treatment_matrix"] = dcdh_D
    else:
        options.pop("_treatment_matrix", None)
        panel = as_panel(data, **columns)
    if isinstance(data, Panel) and cluster is not None and panel.cluster_col != cluster:
        raise SpecError(
            "cluster= must be set when building the Panel (Panel(..., cluster=...)) "
            "when data is already a Panel."
        )
    if panel.n_treated == 0:
        raise DataError(
            "No unit is treated in the observed periods; check the cohort=/treated= "
            "column."
        )
    if not np.nanmax(panel.Y) - np.nanmin(panel.Y) > 0:
        raise DataError(
            f"Outcome {panel.outcome!r} is constant ({float(np.nanmax(panel.Y)):g} in "
            "every unit and period): there is no variation to estimate an effect "
            "from; check the outcome= column."
        )
    if method == "2x2" and cov_names:
        raise SpecError("method='2x2' takes no covariates; use method='cs' instead.")
    call = {
        "method": method,
        "control": control,
        "covariates": cov_names or None,
        "est_method": est_method,
        "anticipation": anticipation,
        "base_period": base_period,
        "inference": inference,
        "n_boot": n_boot,
        "alpha": alpha,
        "seed": seed,
        "log_outcome": log_outcome,
        "numerator": panel.numerator_col,
        "denominator": panel.denominator_col,
        **options,
    }
    scale, scale_warns = resolve_log_outcome(
        log_outcome, panel.outcome, panel.Y, caller
    )
    warns = list(panel.warnings) + dcdh_notes + scale_warns
    if panel.n_never == 0 and method in ("cs", "sunab", "event_study"):
        if method == "cs" and control == "never":
            raise DataError(
                "There are no never-treated units, so control='never' has no comparison "
                "group; use control='notyet' (later-treated cohorts as comparisons)."
            )
        if method in ("cs", "sunab"):
            panel, note = _last_cohort_as_control(panel, anticipation)
            warns.append(note)
    cidx = _cohort_index(panel)
    if placebo_k is None and method != "dcdh":
        warns += _design_warnings(panel, cidx, method, control, anticipation)
    codes = cluster_codes(panel.clusters) if panel.cluster_col is not None else None
    if codes is not None and int(codes.max()) < 1:
        label = panel.clusters[0]
        if isinstance(label, np.generic):
            label = label.item()
        raise DataError(
            f"cluster={panel.cluster_col!r} takes one value ({label!r}) in every unit: "
            "cluster-robust standard errors need at least 2 clusters (with one, every "
            "score sums to zero). Cluster by unit (leave cluster= unset) or by a "
            "coarser grouping with several groups."
        )
    gappy = panel.has_gaps
    if gappy and method == "cs" and cov_names:
        raise SpecError(
            "method='cs' with covariates needs a balanced panel; the panel has units "
            "with gaps (balance='keep'). Drop those units (balance='drop'), drop the "
            "covariates, or use method='imputation' or 'twfe' with covariates."
        )
    original = panel
    panel = panel.rows_view()  # gaps become zero-weight cells (rows that exist)
    X = _check_covariates(original, cov_names)
    if X is not None and gappy:
        X = np.where(original.observed[:, :, None], X, 0.0)
    if method in MODERN_METHODS:
        check_modern_options(method, call, cov_names)
        result = fit_modern(panel, cidx, X, codes, call, warns)
    elif method == "cs":
        result = _fit_cs(
            panel,
            cidx,
            X,
            codes,
            control=control,
            est_method=est_method,
            anticipation=anticipation,
            base_period=base_period,
            alpha=alpha,
            warns=warns,
            inference=inference,
            n_boot=n_boot,
            seed=seed,
            placebo_k=placebo_k,
        )
    else:
        if anticipation:
            raise SpecError(
                f"anticipation= is supported by method='cs' only; got method={method!r}."
            )
        result = _fit_regression(
            panel,
            cidx,
            X,
            codes,
            method=method,
            alpha=alpha,
            warns=warns,
            ref_period=options.get("ref_period", -1),
            bins=options.get("bins"),
        )
    result.options.update(
        {
            "control": control if method in ("cs", "etwfe", "stacked") else None,
            "est_method": est_method if (method == "cs" and cov_names) else None,
            "anticipation": anticipation if method == "cs" else None,
            "base_period": base_period if method == "cs" else None,
            "covariates": cov_names or None,
            "cluster": panel.cluster_col,
            "weights": panel.weights_col,
        }
    )
    result._call = call
    result._panel = original
    result._refit = did
    if result.se == 0.0:
        raise EstimationError(
            f"The standard error of the method={method!r} estimate is {result.se:g}: "
            f"outcome {panel.outcome!r} is fitted exactly by unit and period effects, "
            "so there is no residual variation to measure uncertainty; check the "
            "outcome= column."
        )
    result.log_outcome = scale
    result = _apply_inference(result, panel, cidx, codes, X, call)
    if diagnose:
        attach_selection(result, panel.Y, cidx, outcome=str(panel.outcome), alpha=alpha)
    return result


def _last_cohort_as_control(panel: Panel, anticipation: int) -> tuple[Panel, str]:
    last = float(panel.cohorts.max())
    keep = panel.periods[panel.periods < last - anticipation]
    if len(keep) < 2:
        raise DataError(
            "No never-treated units and fewer than two periods before the last cohort "
            f"({int(last)}) adopts: no comparison group is available."
        )
    # the last cohort becomes the comparison group before the window is cut, so its
    # units are not also reported as "treated after the last period"
    new_cohort = np.where(panel.cohort == last, np.inf, panel.cohort)
    sub = panel.with_cohort(new_cohort).subset(periods=keep)
    note = (
        f"No never-treated units: the last cohort ({int(last)}) is used as the "
        f"comparison group and periods from {int(last) - anticipation} on are dropped."
    )
    return sub, note


#: Below this many units in a cohort the multiplier-bootstrap uniform band warns: in
#: tests/inference/test_band_coverage_montecarlo.py (CLA-calibrated panels, 3 cohorts)
#: it covered 90.5% (200 replications, MCSE 1.5 points) with 20 units per cohort and
#: 92.5% (inside 95% +/- (2 MCSE + 1 point)) with 30.
BAND_FEW_PER_COHORT: int = 30


def _fit_cs(
    panel: Panel,
    cidx: FloatArray,
    X: FloatArray | None,
    codes: NDArray[np.intp] | None,
    *,
    control: str,
    est_method: str,
    anticipation: int,
    base_period: str,
    alpha: float,
    warns: list[str],
    inference: str,
    n_boot: int,
    seed: Any,
    placebo_k: int | None,
) -> DiDResult:
    from scipy import special

    from impact.did.aggregate import bootstrap_se_crit
    from impact.did.cs import _cluster_sum, compute_att_gt

    w = panel.unit_weights
    gappy = panel.has_gaps
    if not gappy and panel.W is not None and np.ptp(panel.W, axis=1).max() > 0:
        warns.append(
            "Weights vary over time within units; method='cs' uses each unit's "
            "first-period weight."
        )
    fake = cidx
    real = None
    if placebo_k is not None:
        fake = cidx - placebo_k
        real = cidx
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        fit = compute_att_gt(
            panel.Y,
            fake,
            panel.periods,
            weights=w,
            X=X,
            control=control,
            est_method=est_method,
            anticipation=anticipation,
            base_period=base_period,
            real_idx=real,
            cell_weights=panel.W if gappy else None,
        )
    warns += [str(c.message) for c in caught]
    n = panel.n_units
    summed = _cluster_sum(fit.inf, codes) if codes is not None else fit.inf
    se = np.sqrt((summed**2).sum(axis=0)) / n
    se = np.where(se <= np.sqrt(np.finfo(float).eps) * 10, np.nan, se)
    z = special.ndtri(1 - alpha / 2)
    att_gt = pd.DataFrame(
        {
            "group": fit.group.astype(int),
            "time": fit.time.astype(int),
            "event_time": (fit.tidx - fit.gidx).astype(int),
            "att": fit.att,
            "se": se,
            "ci_low": fit.att - z * se,
            "ci_high": fit.att + z * se,
            "post": fit.post,
            "n_treated": fit.n_treated,
            "n_control": fit.n_control,
        }
    )
    multipliers = None
    if inference == "bootstrap":
        from impact.parallel import as_generator

        rng = as_generator(seed)
        n_cl = summed.shape[0]
        check_memory("n_boot", 8.0 * n_boot * n_cl, "did")
        multipliers = rng.choice(np.array([-1.0, 1.0]), size=(n_boot, n_cl))
        draws = multipliers @ summed / n
        se_b, crit = bootstrap_se_crit(draws, alpha)
        se_b = np.where(se_b <= np.sqrt(np.finfo(float).eps) * 10, np.nan, se_b)
        att_gt["se"] = se_b
        att_gt["ci_low"] = fit.att - z * se_b
        att_gt["ci_high"] = fit.att + z * se_b
        att_gt["band_low"] = fit.att - crit * se_b
        att_gt["band_high"] = fit.att + crit * se_b
        sizes = [int(np.sum(fake == g)) for g in np.unique(fit.gidx)]
        if min(sizes) < BAND_FEW_PER_COHORT:
            warns.append(
                f"Smallest cohort has {min(sizes)} units: multiplier-bootstrap uniform "
                "bands under-cover with few units per cohort (about 90% instead of "
                "95% with 20 per cohort on panels calibrated to the CLA panel); for "
                "bands use inference='permutation'."
            )
    treated_used = np.isin(cidx if placebo_k is None else fake, np.unique(fit.gidx))
    n_treated = int(treated_used.sum())
    ever_control = ~np.isfinite(cidx)
    if control == "notyet":
        for g, t, b in zip(fit.gidx, fit.tidx, fit.bidx, strict=True):
            ever_control |= (cidx > max(t, b) + anticipation) & (fake != g)
    n_control = int(ever_control.sum())
    state = {
        "fit": fit,
        "cohort_idx": fake,
        "unit_weights": w,
        "codes": codes,
        "n": n,
        "multipliers": multipliers,
    }
    if not fit.post.any():
        raise EstimationError(
            "No post-treatment ATT(g,t) could be estimated (no comparison units in any "
            "post-treatment period); use control='never' or check the cohorts."
        )
    result = DiDResult(
        method="cs",
        estimate=0.0,
        se=1.0,
        n_treated=n_treated,
        n_control=n_control,
        alpha=alpha,
        warnings=warns,
        options={},
        att_gt=att_gt,
        cs_state=state,
        panel=panel,
        inference="multiplier bootstrap" if multipliers is not None else "analytic",
    )
    # the headline estimate is the simple aggregate (DESIGN); reuse its cached result
    simple = result.aggregate("simple")
    result.estimate, result.se = simple.estimate, simple.se
    result.ci, result.pvalue = simple.ci, simple.pvalue
    return result


def _fit_regression(
    panel: Panel,
    cidx: FloatArray,
    X: FloatArray | None,
    codes: NDArray[np.intp] | None,
    *,
    method: str,
    alpha: float,
    warns: list[str],
    ref_period: Any,
    bins: Any,
) -> DiDResult:

    from scipy import special

    from impact.did._fe import fe_ols
    from impact.did.regression import event_design, fit_2x2

    n_treated = panel.n_treated
    n_control = panel.n_units - n_treated
    W = panel.W
    z = special.ndtri(1 - alpha / 2)
    if method == "2x2":
        w = panel.unit_weights
        est, se, cells, changes = fit_2x2(
            panel.Y,
            cidx,
            panel.periods,
            weights=w,
            clusters=codes,
            observed=panel.observed if panel.has_gaps else None,
            warns=warns,
        )
        res = DiDResult(
            method="2x2",
            estimate=est,
            se=se,
            n_treated=n_treated,
            n_control=n_control,
            alpha=alpha,
            warnings=warns,
            options={},
            cells=cells,
            panel=panel,
        )
        res.changes = changes
        return res
    extra = X if X is not None else np.zeros(panel.Y.shape + (0,))
    if method == "twfe":
        Xm = np.concatenate([panel.D.astype(float)[:, :, None], extra], axis=2)
        fit = fe_ols(panel.Y, Xm, W=W, clusters=codes, names=["D", *(panel.covariates)])
        res = DiDResult(
            method="twfe",
            estimate=float(fit.beta[0]),
            se=float(np.sqrt(fit.vcov[0, 0])),
            n_treated=n_treated,
            n_control=n_control,
            alpha=alpha,
            warnings=warns,
            options={},
            panel=panel,
        )
        res.regression = fit
        return res
    saturate = method == "sunab"
    if saturate and bins is not None:
        raise SpecError("bins= is not available for method='sunab'; use 'event_study'.")
    design = event_design(
        cidx,
        panel.n_periods,
        ref_period=ref_period,
        bins=bins,
        saturate=saturate,
        observed=panel.observed if panel.has_gaps else None,
    )
    k = design.X.shape[2]
    Xm = np.concatenate([design.X, extra], axis=2)
    names = [f"e={int(e)}" for e in design.e] + list(panel.covariates)
    fit = fe_ols(panel.Y, Xm, W=W, clusters=codes, names=names)
    theta, V = fit.beta[:k], fit.vcov[:k, :k]
    unit_w = (
        np.ones(panel.n_units) if panel.unit_weights is None else panel.unit_weights
    )
    if saturate:
        sizes = np.array([unit_w[cidx == g].sum() for g in design.group])
        group_lab = panel.periods[design.group.astype(int)].astype(float)
        time_lab = panel.periods[(design.group + design.e).astype(int)].astype(float)
    else:
        sizes = np.ones(k)
        group_lab = np.full(k, np.nan)
        time_lab = np.full(k, np.nan)
    lin = _Linear(theta, V, group_lab, time_lab, design.e, sizes, design.refs)
    se_k = np.sqrt(np.diag(V))
    att_gt = None
    if saturate:
        att_gt = pd.DataFrame(
            {
                "group": group_lab.astype(int),
                "time": time_lab.astype(int),
                "event_time": design.e.astype(int),
                "att": theta,
                "se": se_k,
                "ci_low": theta - z * se_k,
                "ci_high": theta + z * se_k,
                "post": design.e >= 0,
            }
        )
    # event-study table (pooled IW coefficients for sunab), reference rows at zero
    res = DiDResult(
        method=method,
        estimate=0.0,
        se=1.0,
        n_treated=n_treated,
        n_control=n_control,
        alpha=alpha,
        warnings=warns,
        options={},
        att_gt=att_gt,
        linear_state=lin,
        panel=panel,
    )
    simple = res.aggregate("simple")
    dyn = res.aggregate("dynamic").to_frame()
    refs = pd.DataFrame(
        {
            "term": [f"event_time={r}" for r in design.refs],
            "event_time": design.refs,
            "estimate": 0.0,
            "std_error": np.nan,
            "statistic": np.nan,
            "p_value": np.nan,
            "conf_low": np.nan,
            "conf_high": np.nan,
        }
    )
    table = pd.concat([dyn.assign(reference=False), refs.assign(reference=True)])
    table = table.sort_values("event_time").reset_index(drop=True)
    final = DiDResult(
        method=method,
        estimate=simple.estimate,
        se=simple.se,
        n_treated=n_treated,
        n_control=n_control,
        alpha=alpha,
        warnings=warns,
        options={"ref_period": design.refs, "bins": bins},
        att_gt=att_gt,
        event_study=table,
        linear_state=lin,
        panel=panel,
    )
    final.regression = fit
    return final


def _apply_inference(
    result: DiDResult,
    panel: Panel,
    cidx: FloatArray,
    codes: NDArray[np.intp] | None,
    X: FloatArray | None,
    call: dict[str, Any],
) -> DiDResult:
    """Resolve ``inference`` and, for wild/permutation, replace se/ci/pvalue."""
    inference = call["inference"]
    method = call["method"]
    clusters = panel.clusters
    treated_units = np.isfinite(cidx)
    D_obs: NDArray[Any] = panel.D
    if method == "dcdh":  # switching treatment: the switchers are the treated
        D_obs = call["_treatment_matrix"]
        treated_units = (np.diff(D_obs, axis=1) != 0).any(axis=1)
    treated_clusters = np.unique(clusters[treated_units])
    n_clusters = len(np.unique(clusters))
    rule_method, rule_warning = "analytic", None
    if 0 < len(treated_clusters) < n_clusters:
        try:
            from impact.inference import few_treated_rule

            rule_method, rule_warning = few_treated_rule(
                len(treated_clusters), n_clusters
            )
        except ImportError:  # pragma: no cover - inference package not installed yet
            pass
    # _raw_permutation: randomization of the raw estimate (as on a panel with gaps),
    # so that outcomes fitted together share their draws (Romano-Wolf)
    rows_ok = _rows_representable(result, panel, cidx, X) and not call.get(
        "_raw_permutation"
    )
    noise_note = None
    if inference == "auto":
        inference = rule_method
        if inference == "permutation" and rows_ok and _is_linear(method, X, call):
            from impact.inference.studentized import noise_aware_choice

            first = int(np.min(cidx[np.isfinite(cidx)])) - int(call["anticipation"])
            inference, noise_note = noise_aware_choice(
                panel.Y, first, len(treated_clusters)
            )
        if inference == "wild" and (not _is_linear(method, X, call) or panel.has_gaps):
            inference = "permutation"
    if inference == "wild" and panel.has_gaps:
        raise SpecError(
            "inference='wild' needs a balanced panel (its null model is fitted on the "
            "full unit-by-period grid); the panel has gaps (balance='keep'). Use "
            "inference='permutation' or 'analytic', or balance='drop'."
        )
    if inference in ("analytic", "bootstrap"):
        if inference == "bootstrap" and method != "cs":
            raise SpecError(
                "inference='bootstrap' (multiplier bootstrap) is available for "
                f"method='cs'; for method={method!r} use 'wild' or 'permutation'."
            )
        if rule_warning and inference == "bootstrap":
            rule_warning = rule_warning.replace(
                "analytic cluster SEs over-reject",
                "the multiplier bootstrap, like analytic SEs, over-rejects",
            )
        if rule_warning:
            result.warnings.append(rule_warning)
        if not np.isfinite(result.se):
            result.warnings.append(
                f"The analytic standard error is undefined (NaN) with "
                f"{len(treated_clusters)} treated cluster(s): no CI or p-value; use "
                "inference='permutation' or 'wild'."
            )
        return result
    from impact.did import linear

    opts = {
        "control": call["control"],
        "anticipation": call["anticipation"],
        "base_period": call["base_period"],
        "ref_period": call.get("ref_period", -1),
        "bins": call.get("bins"),
    }
    if inference == "wild":
        if not _is_linear(method, X, call):
            raise SpecError(
                "inference='wild' needs an estimator that is linear in the outcome; "
                f"method={method!r} with covariates is not. Use inference='permutation' "
                "or 'analytic'."
            )
        from impact.inference import wild_cluster_bootstrap

        if method in MODERN_METHODS:
            from impact.did.modern import modern_weight_matrix

            A = modern_weight_matrix(method, panel, cidx, X, call)
        else:
            A = linear.weight_matrix(method, panel, cidx, X=X, **opts)
        out = wild_cluster_bootstrap(
            panel.Y,
            A,
            D_obs,
            clusters=clusters,
            n_boot=call["n_boot"],
            alpha=call["alpha"],
            seed=call["seed"],
        )
    else:
        if rows_ok:
            from impact.did._perm_rows import attach_rows, engine_for

            engine = engine_for(result, panel, cidx, call)
            if engine is not None:
                return attach_rows(result, engine, call)
        from impact.inference import permutation_inference

        labels = panel.cohort
        if method == "dcdh":  # re-assign whole treatment paths across units
            from impact.did.dcdh import dcdh_batch, path_labels

            batch = dcdh_batch(np.asarray(D_obs, dtype=float))
            labels = path_labels(np.asarray(D_obs, dtype=float))
        elif method in MODERN_METHODS:
            from impact.did.modern import modern_batch

            batch = modern_batch(method, panel, X, call)
        else:
            batch = linear.make_estimate_batch(method, panel, X=X, call=call, **opts)
        out = permutation_inference(
            panel.Y,
            labels,
            batch,
            D=D_obs,
            n_perm=max(call["n_boot"], 19),
            alpha=call["alpha"],
            seed=call["seed"],
            periods=panel.periods,
            # CS with covariates is linear in Y for a fixed assignment (the
            # propensity logit uses X only): None lets the check confirm it
            linear=None
            if method == "cs" and X is not None
            else _is_linear(method, X, call),
        )
    result.se = float(out.se)
    result.ci = (float(out.ci[0]), float(out.ci[1]))
    result.pvalue = float(out.pvalue)
    result.inference = out.method
    result.inference_details = {
        "n_draws": out.n_draws,
        "exact": out.exact,
        **dict(out.details),
    }
    result.warnings.extend(w for w in out.warnings if w not in result.warnings)
    if noise_note:
        result.warnings.append(noise_note)
    if method in ("cs", "sunab", "event_study") or method in MODERN_METHODS:
        result.warnings.append(
            f"Only the headline uses inference={out.method!r}; the ATT(g,t) rows, "
            "aggregations and event-time intervals use analytic standard errors, which "
            "over-reject with few treated units."
        )
    return result


def _rows_representable(
    result: DiDResult, panel: Panel, cidx: FloatArray, X: FloatArray | None
) -> bool:
    """Whether every row of the result is a role-linear estimator (see _perm_rows)."""
    if X is not None or result.method not in ("cs", "sunab", "event_study", "twfe"):
        return False
    if panel.has_gaps:
        return False
    if result._cs is not None:
        return bool(np.array_equal(result._cs["cohort_idx"], cidx))
    return panel.W is None


def _is_linear(
    method: str, X: FloatArray | None, call: dict[str, Any] | None = None
) -> bool:
    if method in MODERN_METHODS:
        from impact.did.modern import is_linear_modern

        return is_linear_modern(method, call or {})
    return not (method == "cs" and X is not None)


def _placebo(result: DiDResult, k: int) -> DiDResult:
    """Placebo in time (kept for callers of the old private name)."""
    from impact.did.placebo import placebo_fit

    return placebo_fit(result, k, did)
