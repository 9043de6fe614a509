"""``impact.synth``: synthetic control (Abadie, augmented, synthetic DiD)."""

from __future__ import annotations

import warnings as _warnings
from collections.abc import Mapping, Sequence
from math import comb
from typing import Any

import numpy as np
import pandas as pd

from impact._scale import resolve_log_outcome
from impact._validation import check_alpha, check_option, check_positive_int
from impact.errors import DataError, ImpactWarning, SpecError
from impact.parallel import spawn_generators
from impact.synth._prep import Design, UnitFit, build_design, check_outcome, fit_unit
from impact.synth.penalized import choose_penalty
from impact.synth.results import SynthResult
from impact.synth.sdid_fit import sdid_fit

__all__ = ["synth"]

_CALLER = "synth"
# Fixed default seed of the nested-V search, so that a fit is reproducible run to run
# (pysyncon #66); pass seed= to vary the random starts.
_DEFAULT_SEED = 20100490


def synth(
    data: Any,
    *,
    outcome: str | Sequence[str] | None = None,
    unit: str | None = None,
    time: str | None = None,
    treated_units: Any,
    treatment_time: Any,
    predictors: str | Sequence[str] | None = None,
    predictor_period: Any = None,
    special_predictors: Any = None,
    optimize_period: Any = None,
    v: Any = "nested",
    method: str = "abadie",
    penalty: float | str = "cv",
    demean: bool = False,
    inference: str | None = "placebo",
    e_method: str = "placebo",
    sims: int = 200,
    donors: Sequence[Any] | None = None,
    mspe_threshold: float | None = None,
    alpha: float = 0.05,
    n_starts: int = 10,
    seed: Any = None,
    n_jobs: int = 1,
    backend: str | None = None,
    progress: bool | None = None,
    log_outcome: bool | None = None,
) -> SynthResult:
    """Synthetic control estimate for one or several treated units.

    Parameters
    ----------
    data : DataFrame or Panel
        Long panel, one row per unit and period. Covariates may be missing in some
        periods; the outcome must be complete over the periods used.
    outcome, unit, time : str
        Column names (taken from the Panel when ``data`` is one). ``outcome`` may be
        a list of columns: each gets its own synthetic control and placebo test, and
        the result (:class:`~impact.multiplicity.MultiOutcomeResult`) has one row per
        outcome with Holm and Romano-Wolf adjusted p-values (Romano-Wolf from the
        joint placebo draws; one treated unit).
    treated_units : label or list of labels
        The treated unit(s). Each is fitted separately on the donors and the ATT is
        the mean of the units' average post-period gaps.
    treatment_time : period or dict
        First treated period; a dict ``{unit: period}`` allows staggered adoption.
    predictors : list of str, optional
        Covariates averaged over ``predictor_period`` (missing years skipped). When
        neither ``predictors`` nor ``special_predictors`` are given, every pre-period
        outcome is a predictor (outcome-path matching) and V is equal (which is then
        the nested optimum).
    predictor_period : list of periods, optional
        Window for ``predictors`` (default: every pre-treatment period).
    special_predictors : list of (column, periods, "mean" | "median"), optional
        Extra predictors, e.g. ``[("cigsale", [1975], "mean")]``.
    optimize_period : list of periods, optional
        Periods whose outcome MSPE the nested V minimises (default: all pre-periods).
    v : {"nested", "regression", "equal"}, array_like or dict, default "nested"
        Predictor weights. ``"nested"`` is the Abadie-Diamond-Hainmueller data-driven
        V, searched from ``n_starts`` starting points (equal, regression-based and the
        best random draws), each with the inner simplex QP solved exactly.
        Predictors are standardised by their SD across units first, as R ``Synth``.
    method : {"abadie", "penalized", "augmented", "sdid"}, default "abadie"
        ``"penalized"``: Abadie and L'Hour (2021) penalised synthetic control, whose
        inner problem adds ``penalty * sum_j w_j ||x1 - x_j||_V^2`` so that donors
        close to the treated unit are preferred (see ``penalty``);
        ``"augmented"``: ridge-augmented SCM (Ben-Michael, Feller and Rothstein
        2021) on top of the Abadie weights; ``"sdid"``: synthetic difference in
        differences (Arkhangelsky et al. 2021). For SDID, ``predictors`` are
        time-varying covariates adjusted for by projection (Kranz 2022; Stata
        ``sdid``'s ``projected``): a two-way fixed-effects regression of the outcome
        on them over the untreated observations (donors, and treated units before
        adoption), then SDID on the outcome minus their fitted contribution
        (coefficients in ``result.extra["covariate_coefficients"]``);
        ``special_predictors``, ``predictor_period`` and ``v`` are refused. With a dict ``treatment_time`` giving
        different dates, SDID runs by adoption cohort against the donors and averages
        the cohort effects with weights treated units x post-periods (Arkhangelsky et
        al. 2021, Section 8; Stata ``sdid``); the cohort table is in
        ``result.extra["cohorts"]`` and the placebo SE reassigns the adoption dates to
        random donors (Clarke et al. 2023).
    penalty : float or "cv", default "cv"
        The Abadie-L'Hour penalty for ``method="penalized"`` (ignored otherwise).
        ``"cv"`` chooses it by cross-validation over the pre-periods: the model is
        fitted on the first half of the pre-period as if treatment began at its
        midpoint (V chosen once there, without penalty, then held fixed), for each
        penalty on a grid (0 and 26 values from 1e-3 to 100,
        log-spaced), and the penalty with the smallest outcome MSPE over the second
        half is kept (ties: the smallest penalty). Predictors are recomputed on the
        training periods; special predictors with no training period are left out of
        the validation fits. Placebo refits use the treated unit's penalty.
        The chosen value is in ``result.extra["penalty"]`` and the validation MSPEs
        in ``result.extra["penalty_cv"]``.
    demean : bool, default False
        De-meaned synthetic control (Ferman and Pinto 2021; Doudchenko and Imbens
        2016): every unit's outcome has its own pre-treatment mean subtracted before
        fitting (outcome-based predictors included), so the synthetic control matches
        the shape of the treated path, not its level, and the counterfactual is the
        treated unit's pre-period mean plus the weighted de-meaned donor outcomes.
    inference : {"placebo", "conformal", None}, default "placebo"
        ``"placebo"``: placebo in space (every donor refitted as if treated; the
        p-value is the post/pre MSPE-ratio rank, or with several treated units the
        rank of the absolute mean ATT among random placebo sets; the standard error is the SD of the
        placebo ATTs, divided by sqrt(number of treated); for ``method="sdid"`` the
        SDID placebo SE). ``"conformal"``: Chernozhukov, Wuthrich and Zhu (2021)
        interval for a constant effect and per-period intervals (``.conformal``).
        ``"prediction"``: prediction intervals for each post-period effect
        (``.intervals``: ``time, gap, low, high, synthetic, synthetic_low,
        synthetic_high``; see ``e_method``). The headline ``ci`` is the interval for
        the average post-period effect; there is no standard error or p-value. Needs
        ``method="abadie"`` matching the pre-period outcome path (no predictors),
        one treated unit and at least 5 pre-periods.
    e_method : {"placebo", "gaussian", "ls", "qreg"}, default "placebo"
        Error bound of ``inference="prediction"``. ``"placebo"``: each donor fitted
        on the others as if treated; its post-period errors, scaled by its
        year-to-year noise, calibrate the interval (split conformal), which holds the
        effect with probability ``1 - alpha`` if the treated unit is exchangeable
        with the donors (needs ``ceil(1/alpha) - 1`` donors). ``"gaussian"``,
        ``"ls"``, ``"qreg"``: Cattaneo, Feng and Titiunik (2021) as in scpi_pkg,
        in-sample weight uncertainty (simulated) plus a sub-Gaussian,
        location-scale or quantile-regression out-of-sample bound, each at
        ``alpha/2``; they fall far short of their level with many more donors than
        pre-periods (76% at a nominal 95% with 149 donors and 10 pre-periods).
    sims : int, default 200
        Simulation draws of the in-sample bound of the CFT ``e_method``.
    donors : list of labels, optional
        Donor pool (default: every unit that is not treated; with a Panel, every
        never-treated unit).
    mspe_threshold : float, optional
        Drop placebos whose pre-period MSPE exceeds this multiple of the treated
        unit's when computing the placebo p-value.
    alpha : float, default 0.05
        One minus the interval coverage.
    n_starts : int, default 10
        Starting points of the nested V search.
    seed : int, Generator or None
        Seeds the random starts of the nested search (None uses a fixed default,
        so that results are reproducible).
    n_jobs, backend, progress
        Parallel execution of the placebo fits (see :func:`impact.parallel.run_tasks`).
    log_outcome : bool or None, default None
        Whether the outcome is a natural log (see :func:`impact.did`); stored on
        the result for its design verdict.

    Returns
    -------
    SynthResult
        ``.weights``, ``.v``, ``.balance``, ``.gaps``, ``.pre_rmspe``,
        ``.post_rmspe``, ``.placebo()``, plots via ``.plot(kind=...)``.

    Raises
    ------
    DataError
        Missing columns, a treated unit absent or unobserved at ``treatment_time``, no
        pre-period, an empty donor pool, missing outcome values, predictors missing
        for a unit or with zero variance.
    SpecError
        Invalid options.
    EstimationError
        A solver that fails its optimality check.

    Examples
    --------
    >>> res = impact.synth(df, outcome="cigsale", unit="state", time="year",
    ...                    treated_units="California", treatment_time=1989)  # doctest: +SKIP
    """
    if isinstance(outcome, (list, tuple)):
        from impact.synth.multi import fit_synth_outcomes

        args = dict(locals())
        for key in ("data", "outcome", "fit_synth_outcomes"):
            args.pop(key, None)
        return fit_synth_outcomes(synth, data, outcome, args)  # type: ignore[return-value]
    check_option(
        "method", method, ["abadie", "penalized", "augmented", "sdid"], _CALLER
    )
    check_option(
        "inference", inference, ["placebo", "conformal", "prediction", None], _CALLER
    )
    if inference == "prediction":
        from impact.synth.prediction import check_prediction_request

        check_prediction_request(
            method,
            treated_units,
            predictors,
            special_predictors,
            optimize_period,
            v,
            demean,
            e_method,
            sims,
        )
    if not isinstance(demean, (bool, np.bool_)):
        raise SpecError(
            f"The 'demean' parameter of synth must be True or False. Got {demean!r}."
        )
    if method == "penalized" and not (
        penalty == "cv"
        or (isinstance(penalty, (int, float)) and np.isfinite(penalty) and penalty >= 0)
    ):
        raise SpecError(
            "The 'penalty' parameter of synth must be 'cv' or a non-negative number. "
            f"Got {penalty!r} instead."
        )
    if method == "sdid" and special_predictors:
        raise SpecError(
            "method='sdid' fits the outcome path and would ignore special_predictors=; "
            "drop them (time-varying covariates go in predictors=), or use "
            "method='abadie' or 'penalized' to match on special predictors."
        )
    ignored = [
        name
        for name, given in (
            ("predictor_period", predictor_period is not None),
            ("optimize_period", optimize_period is not None),
            ("v", not (isinstance(v, str) and v == "nested")),
        )
        if given
    ]
    if method == "sdid" and ignored:
        raise SpecError(
            f"method='sdid' would ignore {', '.join(ignored)}: its covariates "
            "(predictors=) adjust the outcome in every period, its time weights replace "
            "an optimisation period, and it has no V. Drop those options."
        )
    if method == "sdid" and demean:
        raise SpecError(
            "demean=True does not apply to method='sdid', whose unit fixed effects "
            "already remove each unit's level; drop demean."
        )
    if inference == "conformal" and (method == "penalized" or demean):
        raise SpecError(
            "inference='conformal' refits an unpenalised outcome-path synthetic control "
            "and would ignore method='penalized' and demean=True; use "
            "inference='placebo' with them."
        )
    alpha = check_alpha(alpha, _CALLER)
    n_starts = check_positive_int("n_starts", n_starts, _CALLER)
    if mspe_threshold is not None and not (
        isinstance(mspe_threshold, (int, float)) and mspe_threshold > 0
    ):
        raise SpecError(
            "The 'mspe_threshold' parameter of synth must be a positive number. "
            f"Got {mspe_threshold!r} instead."
        )
    assert outcome is None or isinstance(outcome, str)  # lists returned above
    frame, outcome, unit, time = _frame_of(data, outcome, unit, time)
    if donors is None and _is_panel(data):
        # a Panel knows who is ever treated: the default pool is the never-treated
        donors = [u for u, nt in zip(data.units, data.never_treated, strict=True) if nt]
    preds = [predictors] if isinstance(predictors, str) else list(predictors or [])
    design = build_design(
        frame,
        outcome=outcome,
        unit=unit,
        time=time,
        predictors=preds,
        predictor_period=predictor_period,
        special_predictors=special_predictors,
        optimize_period=optimize_period,
        v=v,
        method=method,
        n_starts=n_starts,
    )
    design.demean = bool(demean)
    treated = _as_units(treated_units)
    t0s = _treatment_times(design, treated, treatment_time)
    rows_t = np.array([design.index_of(u) for u in treated])
    if donors is None:
        donor_rows = np.array(
            [i for i in range(len(design.units)) if i not in set(rows_t.tolist())],
            dtype=np.intp,
        )
    else:
        donor_rows = np.array(
            [design.index_of(d) for d in donors if d not in treated], dtype=np.intp
        )
    if donor_rows.size == 0:
        raise DataError(
            "The donor pool is empty after excluding the treated units; give more "
            "untreated units (donors=)."
        )
    if donor_rows.size == 1:
        raise DataError(
            f"Only one donor ({design.units[donor_rows[0]]!r}): a synthetic control "
            "built from one donor is that donor, and placebo inference needs other "
            "donors to compare with. Give at least two untreated units (donors=)."
        )
    for u, i in zip(treated, rows_t, strict=True):
        check_outcome(design, np.array([i, *donor_rows]), t0s[u])
    seed_base = _DEFAULT_SEED if seed is None else seed
    config = {
        "seed": seed_base,
        "n_jobs": n_jobs,
        "backend": backend,
        "progress": progress,
        "alpha": alpha,
        "inference": inference,
        "mspe_threshold": mspe_threshold,
    }
    if method == "sdid":
        return SynthResult(**sdid_fit(design, treated, rows_t, donor_rows, t0s, config))
    rngs = spawn_generators(seed_base, len(treated) + 1)
    extra: dict[str, Any] = {}
    if method == "penalized":
        if penalty == "cv":
            lam, cv_table = choose_penalty(
                design, rows_t, donor_rows, t0s, treated, seed_base
            )
            extra["penalty_cv"] = cv_table
        else:
            lam = float(penalty)
        design.penalty = lam
        extra["penalty"] = lam
    fits = [
        fit_unit(design, int(i), donor_rows, t0s[u], rngs[k])
        for k, (u, i) in enumerate(zip(treated, rows_t, strict=True))
    ]
    warn = _diagnostics(design, fits, donor_rows, alpha)
    estimate = float(np.mean([f.att for f in fits]))
    result_kw: dict[str, Any] = {
        "estimator": f"synth ({method})",
        "estimate": estimate,
        "n_treated": len(treated),
        "n_control": int(donor_rows.size),
        "alpha": alpha,
        "title": f"Synthetic control ({method})",
    }
    conformal = None
    if inference is None:
        result_kw["se"] = float("nan")
        result_kw["ci"] = (float("nan"), float("nan"))
        result_kw["pvalue"] = float("nan")
        warn.append("No inference requested (inference=None): no SE, CI or p-value.")
    elif inference == "conformal":
        conformal, ci, p = _conformal(design, fits, donor_rows, method, alpha)
        result_kw.update(se=float("nan"), ci=ci, pvalue=p)
        warn.append(
            "Conformal inference: the interval and p-value are for a constant effect "
            "(Chernozhukov, Wuthrich and Zhu 2021); there is no standard error. "
            "Per-period intervals are in .conformal."
        )
    elif inference == "prediction":
        from impact.synth.prediction import prediction_notes, synth_prediction

        intervals, ci, bands = synth_prediction(
            design,
            fits[0],
            donor_rows,
            alpha=alpha,
            e_method=e_method,
            sims=sims,
            rng=rngs[-1],
            progress=progress,
        )
        extra["prediction"] = bands
        result_kw.update(se=float("nan"), ci=ci, pvalue=float("nan"))
        warn.extend(
            prediction_notes(
                e_method, alpha, int(donor_rows.size), int(fits[0].pre.sum())
            )
        )
    else:
        result_kw.update(se=float("nan"), pvalue=float("nan"))
    res = SynthResult(
        fits=fits,
        design=design,
        donors=donor_rows,
        method=method,
        config=config,
        conformal=conformal,
        warnings=warn,
        extra=extra,
        **result_kw,
    )
    if inference == "prediction":
        res.intervals = intervals
    res.log_outcome, scale_warns = resolve_log_outcome(
        log_outcome, outcome, design.Y, _CALLER
    )
    res.warnings.extend(w for w in scale_warns if w not in res.warnings)
    if inference == "placebo":
        test = res.placebo(mspe_threshold)
        placebo_att = test.table.loc[~test.table["treated"] & test.table["kept"], "att"]
        se = (
            float(np.std(placebo_att.to_numpy(float), ddof=1) / np.sqrt(len(treated)))
            if len(placebo_att) > 1
            else float("nan")
        )
        res.se = se
        res.ci = (estimate - _z(alpha) * se, estimate + _z(alpha) * se)
        res.pvalue = test.pvalue
    return res


def _z(alpha: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(1 - alpha / 2))


# ---------------------------------------------------------------------------- input
def _is_panel(data: Any) -> bool:
    from impact.panel import Panel

    return isinstance(data, Panel)


def _frame_of(
    data: Any, outcome: str | None, unit: str | None, time: str | None
) -> tuple[pd.DataFrame, str, str, str]:
    from impact.panel import Panel

    if isinstance(data, Panel):
        frame = data.frame
        outcome = outcome or data.outcome
        unit = unit or data.unit
        time = time or data.time
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise DataError(
            f"data must be a pandas DataFrame or an impact.Panel; got "
            f"{type(data).__name__}."
        )
    missing = [
        n
        for n, c in (("outcome", outcome), ("unit", unit), ("time", time))
        if c is None
    ]
    if missing:
        raise SpecError(
            f"synth needs the column names {missing} (keyword arguments) when data is "
            "a DataFrame."
        )
    assert outcome is not None and unit is not None and time is not None
    return frame, outcome, unit, time


def _as_units(treated_units: Any) -> list[Any]:
    if treated_units is None:
        raise SpecError("synth needs treated_units (a unit label or a list of labels).")
    if isinstance(treated_units, (str, bytes)) or not isinstance(
        treated_units, (Sequence, np.ndarray, pd.Index, pd.Series, set)
    ):
        return [treated_units]
    out = list(dict.fromkeys(treated_units))
    if not out:
        raise SpecError("treated_units is empty; name at least one treated unit.")
    return out


def _treatment_times(design: Design, treated: list[Any], tt: Any) -> dict[Any, Any]:
    if isinstance(tt, Mapping):
        missing = [u for u in treated if u not in tt]
        if missing:
            raise SpecError(
                f"treatment_time has no date for treated unit(s) {missing}; give one "
                "per treated unit."
            )
        t0s = {u: tt[u] for u in treated}
    else:
        t0s = dict.fromkeys(treated, tt)
    for u, t0 in t0s.items():
        i = design.index_of(u)
        hit = np.flatnonzero(design.periods == t0)
        if hit.size == 0 or not np.isfinite(design.Y[i, hit[0]]):
            raise DataError(
                f"Treated unit {u!r} is not observed at treatment_time {t0!r}; give a "
                "period present in the data for that unit."
            )
        n_pre = int(np.sum(design.periods < t0))
        if n_pre == 0:
            raise DataError(
                f"Treated unit {u!r} has no pre-treatment period before {t0!r}; the "
                "synthetic control needs periods before treatment."
            )
    return t0s


# ------------------------------------------------------------------- diagnostics
def _diagnostics(
    design: Design, fits: list[UnitFit], donors: np.ndarray, alpha: float
) -> list[str]:
    out: list[str] = []
    for f in fits:
        sd = float(np.std(f.y1[f.pre], ddof=1)) if f.pre.sum() > 1 else 0.0
        rmspe = float(np.sqrt(f.pre_mspe))
        if sd > 0 and rmspe > 0.5 * sd:
            out.append(
                f"Poor pre-period fit for {f.unit!r}: pre-RMSPE {rmspe:.3g} is more "
                f"than half the SD of its pre-period outcome ({sd:.3g}); the synthetic "
                "control may not be a credible counterfactual."
            )
        pre_y = f.y1[f.pre]
        Y0pre = design.Y[np.ix_(donors, np.flatnonzero(f.pre))]
        above = pre_y > Y0pre.max(axis=0)
        below = pre_y < Y0pre.min(axis=0)
        if above.mean() > 0.5 or below.mean() > 0.5 or np.max(f.weights) > 0.95:
            out.append(
                f"Treated unit {f.unit!r} lies outside the convex hull of the donors "
                "(its pre-period outcome is above or below every donor in most "
                "periods, or one donor takes almost all the weight); no convex "
                "combination can match it: consider method='augmented'."
            )
    n_d = int(donors.size)
    n_sets = comb(n_d, len(fits))
    if 1.0 / (n_sets + 1) > alpha:
        what = "donors" if len(fits) == 1 else f"donor sets of size {len(fits)}"
        out.append(
            f"Only {n_d} donors: the smallest attainable placebo p-value is "
            f"1/{n_sets + 1} = {1.0 / (n_sets + 1):.3f} > alpha = {alpha} ({n_sets} "
            f"{what}); placebo inference cannot reach significance."
        )
    return out


# ------------------------------------------------------------------- inference
def _conformal(
    design: Design,
    fits: list[UnitFit],
    donors: np.ndarray,
    method: str,
    alpha: float,
) -> tuple[pd.DataFrame, tuple[float, float], float]:
    from impact.synth.conformal import conformal_att_interval, conformal_intervals

    cmethod = {"abadie": "sc", "augmented": "augmented", "sdid": "sdid"}[method]
    frames = []
    lows, highs, ps = [], [], []
    Y0 = design.Y[donors].T
    for f in fits:
        T0 = int(f.pre.sum())
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", ImpactWarning)
            tab = conformal_intervals(f.y1, Y0, T0, method=cmethod, alpha=alpha)
            lo, hi, p = conformal_att_interval(
                f.y1, Y0, T0, method=cmethod, alpha=alpha
            )
        tab = tab.copy()
        tab.insert(0, "time", design.periods[tab.index.to_numpy(int)])
        tab.insert(0, "unit", f.unit)
        frames.append(tab.reset_index(drop=True))
        lows.append(lo)
        highs.append(hi)
        ps.append(p)
    table = pd.concat(frames, ignore_index=True)
    if len(fits) == 1:
        return table, (float(lows[0]), float(highs[0])), float(ps[0])
    # several treated units: report the mean of the unit intervals (conservative p)
    return (
        table,
        (float(np.mean(lows)), float(np.mean(highs))),
        float(min(1.0, len(ps) * min(ps))),
    )


# ------------------------------------------------------------------------ sdid
