"""Public entry points: :func:`match` and :func:`matched_did`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from impact._scale import resolve_log_outcome
from impact._validation import (
    as_list,
    check_alpha,
    check_draws,
    check_option,
    check_positive_int,
)
from impact.errors import DataError, EstimationError, SpecError
from impact.inference import FEW_TREATED_THRESHOLD
from impact.matching._prep import build_design, treatment_vector
from impact.matching.did import matched_did
from impact.matching.engine import (
    Config,
    boot_task,
    cell_codes,
    center_weights,
    fit_core,
    mahalanobis_transform,
)
from impact.matching.inference import abadie_imbens, within_arm_variance, wls_effect
from impact.matching.results import MatchResult
from impact.panel import MAX_MAGNITUDE
from impact.parallel import run_tasks, spawn_generators

__all__ = ["match", "matched_did"]

_CALLER = "match"
_METHODS = ("nearest", "optimal", "exact", "ipw", "overlap")
_SE = ("cluster", "hc3", "robust", "ai", "bootstrap")


def match(
    data: pd.DataFrame,
    *,
    treatment: str,
    covariates: Sequence[str],
    outcome: str | None = None,
    method: str = "nearest",
    distance: str = "logit",
    link: str = "response",
    caliper: float | None = None,
    std_caliper: bool = True,
    replace: bool = False,
    ratio: int = 1,
    exact: str | Sequence[str] | None = None,
    mahvars: str | Sequence[str] | None = None,
    discard: str = "none",
    m_order: str | None = None,
    estimand: str | None = None,
    trim: float | None = None,
    se: str | None = None,
    ai_var_calc: int = 0,
    adjust: bool | Sequence[str] = False,
    categorical: str | Sequence[str] | None = None,
    ties: str = "matchit",
    binary: str = "raw",
    n_boot: int = 499,
    alpha: float = 0.05,
    seed: Any = None,
    n_jobs: int = 1,
    backend: str | None = None,
    log_outcome: bool | None = None,
) -> MatchResult:
    """Match (or weight) treated and comparison units and estimate the effect.

    Parameters
    ----------
    data : pandas.DataFrame
        A cross-section, one row per unit.
    treatment : str
        0/1 (or bool) treatment column.
    covariates : sequence of str
        Columns of the propensity model and the balance table. Numeric or boolean;
        string/categorical columns must also be listed in ``categorical``.
    outcome : str, optional
        Outcome column. Without it only the matched sample and balance are returned
        (the estimate is NaN and a warning says so).
    method : {"nearest", "optimal", "exact", "ipw", "overlap"}
        Greedy nearest neighbour (MatchIt's algorithm), optimal pair matching (scipy's
        assignment solver; minimises the total distance), exact matching on the
        ``exact`` columns, inverse-probability weighting, or overlap weights.
    distance : {"logit", "probit", "mahalanobis"} or str
        Propensity model (unpenalised GLM), Mahalanobis distance on the covariates
        (pooled within-group covariance of the standardised covariates, as MatchIt), or
        the name of a column holding a user-supplied propensity score in (0, 1).
    link : {"response", "linear"}
        Match on the score (``"response"``) or on its linear predictor (``"linear"``,
        MatchIt's ``link="linear.logit"``; ``"linear.logit"``/``"linear.probit"``
        are accepted).
    caliper : float, optional
        Maximum distance between matched units; in SD units of the distance (over the
        non-discarded units) when ``std_caliper`` is True (MatchIt's default).
    std_caliper : bool, default True
        Interpret ``caliper`` in SD units (True) or absolute units (False).
    replace : bool, default False
        Whether comparison units can be reused.
    ratio : int, default 1
        Comparison units per focal unit (k:1 matching).
    exact : str or sequence of str, optional
        Columns that must agree exactly within a match (for ``method="exact"``: the
        cells).
    mahvars : str or sequence of str, optional
        Match on Mahalanobis distance of these columns, within the propensity
        ``caliper`` (MatchIt's ``mahvars``).
    discard : {"none", "both", "control", "treated"}
        Drop units outside the common support of the distance before matching.
    m_order : {"largest", "smallest", "data", "random"}, optional
        Order in which focal units pick their matches (greedy matching). Default
        ``"largest"`` for the ATT, ``"smallest"`` for the ATC, ``"data"`` for pure
        Mahalanobis matching, as MatchIt.
    estimand : {"ATT", "ATC", "ATE", "ATO"}, optional
        Default ``"ATT"`` (``"ATO"`` for overlap weights). Nearest and optimal
        matching allow ATT/ATC; exact matching and IPW allow ATT/ATC/ATE.
    trim : float, optional
        For weighting: keep units with ``trim <= e(x) <= 1 - trim`` (Crump et al. 2009
        use 0.1). Trimming changes the estimand; a warning says so.
    se : {"cluster", "hc3", "robust", "ai", "bootstrap"}, optional
        Default: ``"cluster"`` (cluster-robust on matched sets; for matching with
        replacement two-way on pair and unit, Austin and Cafri 2020) for matching
        without replacement and exact matching; ``"ai"`` (Abadie-Imbens 2006) for
        matching with replacement; ``"robust"`` (HC1 sandwich, weights treated as
        known) for weighting. ``"hc3"`` is MatchIt's vignette choice with replacement;
        ``"bootstrap"`` resamples units within treatment groups and repeats the
        whole procedure (score, matching, estimate).
    ai_var_calc : int, default 0
        For ``se="ai"``: 0 uses the homoskedastic conditional variance (R
        ``Matching::Match``'s default ``Var.calc = 0``); ``J > 0`` estimates each
        unit's variance from its ``J`` nearest neighbours in its own arm (Abadie and
        Imbens 2006, heteroskedasticity-robust; for ``J > 1`` their formula, which
        differs from ``Matching``'s ``Var.calc = J``).
    adjust : bool or sequence of str, default False
        Regression adjustment in the matched/weighted sample: covariates (all, or the
        named columns) centred in the target population and interacted with
        treatment (g-computation). Standard errors follow ``se``.
    categorical : str or sequence of str, optional
        Covariates to one-hot encode (e.g. MatchIt's ``race``). String covariates are
        never encoded silently: without this option they raise a ``SpecError``.
    ties : {"matchit", "all"}
        Tie handling for nearest matching on a scalar distance. ``"matchit"`` pins
        MatchIt 4.7.2's rule (see :mod:`impact.matching.nearest`); ``"all"`` (with
        replacement, ratio 1) keeps all controls tied with the nearest one, weighted
        equally, by R ``Matching::Match(ties=TRUE)``'s rule (squared distance in
        units of its variance within ``1e-5`` of the nearest).
    binary : {"raw", "std"}
        Default for :meth:`MatchResult.balance`: raw difference in proportions for 0/1
        covariates (cobalt) or standardised (MatchIt's ``summary()``).
    n_boot : int, default 499
        Bootstrap replications for ``se="bootstrap"``.
    alpha : float, default 0.05
        One minus the confidence level.
    seed : int, numpy Generator or None
        For ``m_order="random"`` and the bootstrap.
    n_jobs : int, default 1
        Parallel bootstrap workers (results do not depend on it).
    backend : {None, "serial", "joblib", "dask"}
        Parallel backend for the bootstrap.
    log_outcome : bool or None, default None
        Whether ``outcome`` is a natural log (see :func:`impact.did`); stored on the
        result for its design verdict.

    Returns
    -------
    MatchResult
        Estimate, SE, CI and p-value, ``.balance()``, ``.matched``, ``.weights``,
        ``.plot(kind="love"|"overlap")``; ``to_dict()`` adds ``balance`` and
        ``n_matched``.

    Examples
    --------
    >>> import pandas as pd, impact  # doctest: +SKIP
    >>> df = pd.read_csv("lalonde_matchit.csv")  # doctest: +SKIP
    >>> res = impact.match(df, treatment="treat", outcome="re78",
    ...     covariates=["age", "educ", "race", "married", "nodegree", "re74", "re75"],
    ...     categorical=["race"])  # doctest: +SKIP
    >>> round(res.estimate, 4)  # doctest: +SKIP
    894.3675
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"{_CALLER}: 'data' must be a pandas DataFrame with one row per unit; got "
            f"{type(data).__name__}."
        )
    check_option("method", method, _METHODS, _CALLER)
    if link in ("linear.logit", "linear.probit"):
        link = "linear"
    check_option("link", link, ("response", "linear"), _CALLER)
    check_option("discard", discard, ("none", "both", "control", "treated"), _CALLER)
    check_option("ties", ties, ("matchit", "all"), _CALLER)
    check_option("binary", binary, ("raw", "std"), _CALLER)
    ratio = check_positive_int("ratio", ratio, _CALLER)
    alpha = check_alpha(alpha, _CALLER)
    covariates = as_list(covariates)
    categorical_l = as_list(categorical)
    exact_l = as_list(exact)
    mahvars_l = as_list(mahvars)
    if estimand is None:
        estimand = "ATO" if method == "overlap" else "ATT"
    allowed_est = {
        "nearest": ("ATT", "ATC"),
        "optimal": ("ATT", "ATC"),
        "exact": ("ATT", "ATC", "ATE"),
        "ipw": ("ATT", "ATC", "ATE"),
        "overlap": ("ATO",),
    }[method]
    check_option("estimand", estimand, allowed_est, f"{_CALLER}(method={method!r})")
    d = treatment_vector(data, treatment, _CALLER)
    design = build_design(data, covariates, categorical_l, _CALLER)
    n = len(d)
    warnings: list[str] = []

    # distance
    user_score = None
    if distance in ("logit", "probit", "mahalanobis"):
        dist_kind = distance
    elif isinstance(distance, str) and distance in data.columns:
        dist_kind = "user"
        user_score = pd.to_numeric(data[distance], errors="coerce").to_numpy(
            dtype=float
        )
        if not np.all((user_score > 0) & (user_score < 1)):
            raise DataError(
                f"{_CALLER}: propensity column {distance!r} must hold values strictly "
                f"between 0 and 1 (no missing values)."
            )
    else:
        raise SpecError(
            f"The 'distance' parameter of {_CALLER} must be one of {{'logit', 'probit', "
            f"'mahalanobis'}} or a column of the data. Got {distance!r} instead."
        )
    if method in ("ipw", "overlap") and dist_kind == "mahalanobis":
        raise SpecError(
            f"{_CALLER}: method={method!r} needs a propensity score, not "
            f"distance='mahalanobis'."
        )
    if method == "exact" and not exact_l:
        raise SpecError(f"{_CALLER}: method='exact' needs the 'exact' columns.")
    if method == "exact":
        dist_kind = (
            "none" if dist_kind in ("logit", "probit", "mahalanobis") else dist_kind
        )
    if replace and method != "nearest":
        raise SpecError(
            f"{_CALLER}: replace=True is only available for method='nearest'."
        )
    if ties == "all" and not (replace and ratio == 1):
        raise SpecError(f"{_CALLER}: ties='all' needs replace=True and ratio=1.")
    if trim is not None:
        if method not in ("ipw", "overlap"):
            raise SpecError(
                f"{_CALLER}: 'trim' applies to method='ipw' or 'overlap'; "
                f"use 'discard' or 'caliper' for matching."
            )
        if not 0 < float(trim) < 0.5:
            raise SpecError(f"{_CALLER}: 'trim' must be in (0, 0.5); got {trim!r}.")
    if caliper is not None and (not np.isfinite(caliper) or caliper <= 0):
        raise SpecError(
            f"{_CALLER}: 'caliper' must be a positive number; got {caliper!r}."
        )
    if m_order is None:
        m_order = (
            "data"
            if dist_kind in ("mahalanobis", "none")
            else ("smallest" if estimand == "ATC" else "largest")
        )
    check_option("m_order", m_order, ("largest", "smallest", "data", "random"), _CALLER)

    exact_codes = None
    if exact_l:
        miss = [c for c in exact_l if c not in data.columns]
        if miss:
            raise DataError(f"{_CALLER}: exact column {miss[0]!r} is not in the data.")
        if data[exact_l].isna().any().any():
            raise DataError(f"{_CALLER}: exact columns {exact_l} have missing values.")
        exact_codes = cell_codes(data[exact_l])
    mah = walk = None
    if dist_kind == "mahalanobis" or mahvars_l:
        cols = mahvars_l or covariates
        cat = [c for c in categorical_l if c in cols]
        mdes = build_design(data, cols, cat, _CALLER)
        mah, walk = mahalanobis_transform(mdes.balance, d, np.ones(n, dtype=bool))
        if dist_kind == "mahalanobis":
            dist_kind = "none"
    if mahvars_l and dist_kind == "none":
        raise SpecError(
            f"{_CALLER}: 'mahvars' needs a propensity distance (logit, probit "
            f"or a score column) for its caliper."
        )

    y = None
    if outcome is not None:
        if outcome not in data.columns:
            raise DataError(
                f"{_CALLER}: outcome column {outcome!r} is not in the data."
            )
        yc = pd.to_numeric(data[outcome], errors="coerce")
        if yc.isna().any():
            first = yc.index[yc.isna().to_numpy()][0]
            raise DataError(
                f"{_CALLER}: outcome {outcome!r} is missing or non-numeric (first at "
                f"row {first!r}); drop those rows before matching."
            )
        y = yc.to_numpy(dtype=float)
        if not np.isfinite(y).all() or np.abs(y).max() > MAX_MAGNITUDE:
            raise DataError(
                f"{_CALLER}: outcome {outcome!r} has infinite values or values beyond "
                f"{MAX_MAGNITUDE:.0e} in absolute value, whose squares overflow; "
                "rescale or drop them before matching."
            )
        if not np.ptp(y) > 0:
            raise DataError(
                f"{_CALLER}: outcome {outcome!r} is constant ({y[0]:g} in every row); "
                f"there is no variation to estimate an effect from."
            )

    if se is None:
        if method in ("ipw", "overlap"):
            se = "robust"
        elif method == "nearest" and replace:
            se = "ai"
        else:
            se = "cluster"
    check_option("se", se, _SE, _CALLER)
    if se == "ai" and not (method == "nearest"):
        raise SpecError(
            f"{_CALLER}: se='ai' (Abadie-Imbens) applies to method='nearest'."
        )
    if se == "ai" and adjust is not False:
        raise SpecError(
            f"{_CALLER}: se='ai' is not available with regression adjustment; "
            f"use se='cluster' or 'bootstrap'."
        )
    if se == "cluster" and method in ("ipw", "overlap"):
        raise SpecError(
            f"{_CALLER}: weighting has no matched sets to cluster on; use "
            f"se='robust' or 'bootstrap'."
        )

    cfg = Config(
        method=method,
        distance=dist_kind if dist_kind != "none" else "none",
        link=link,
        caliper=caliper,
        std_caliper=bool(std_caliper),
        replace=bool(replace),
        ratio=ratio,
        discard=discard,
        m_order=m_order,
        estimand=estimand,
        trim=None if trim is None else float(trim),
        adjust=adjust is not False,
        ties=ties,
    )
    if cfg.distance == "none" and discard != "none":
        raise SpecError(f"{_CALLER}: 'discard' needs a propensity distance.")
    gens = spawn_generators(seed, 2)
    mah_t = None if mah is None or walk is None else (mah, walk)
    fit = fit_core(cfg, d, design, user_score, exact_codes, mah_t, y, gens[0])
    w = fit.weights
    focal = fit.focal

    # regression adjustment columns
    adj = None
    if adjust is not False:
        if adjust is True:
            adj = design.model
        else:
            adj = build_design(
                data,
                as_list(adjust),
                [c for c in categorical_l if c in as_list(adjust)],
                _CALLER,
            ).model

    # estimate and SE
    estimate, se_val = float("nan"), float("nan")
    se_label = se
    pairs = fit.pairs
    if y is not None:
        center = center_weights(cfg, d, w)
        if se == "ai":
            assert pairs is not None
            sign = 1.0 if estimand == "ATT" else -1.0
            unit_var = None
            if ai_var_calc:
                J = check_positive_int("ai_var_calc", ai_var_calc, _CALLER)
                space = fit.dist[:, None] if fit.dist is not None else mah
                assert space is not None
                unit_var = within_arm_variance(y, d, space, J)
            estimate, se_val = abadie_imbens(
                y, pairs.focal, pairs.match, pairs.weight, sign=sign, unit_var=unit_var
            )
            se_label = (
                f"Abadie-Imbens (heteroskedastic, {ai_var_calc} within-arm matches)"
                if ai_var_calc
                else "Abadie-Imbens (homoskedastic, as Matching::Match)"
            )
        elif se == "cluster" and pairs is not None and replace:
            P = pairs.n_pairs
            yy = np.concatenate([y[pairs.focal], y[pairs.match]])
            dd = np.concatenate([d[pairs.focal], d[pairs.match]])
            ww = np.concatenate(
                [np.ones(P) if ratio == 1 else np.full(P, 1.0), pairs.weight]
            )
            # one focal row per match, weighted by the match weight
            ww[:P] = pairs.weight
            pid = np.concatenate([pairs.focal, pairs.focal])
            uid = np.concatenate([pairs.focal, pairs.match])
            cov2 = (
                None
                if adj is None
                else np.concatenate([adj[pairs.focal], adj[pairs.match]])
            )
            c2 = (
                None
                if adj is None
                else np.concatenate(
                    [
                        pairs.weight if estimand == "ATT" else np.zeros(P),
                        np.zeros(P) if estimand == "ATT" else pairs.weight,
                    ]
                )
            )
            estimate, se_val = wls_effect(
                yy,
                dd,
                ww,
                covariates=cov2,
                center_weights=c2,
                vcov="cluster",
                clusters=[pid, uid],
            )
            se_label = "cluster-robust, two-way (pair and unit)"
        elif se == "cluster":
            sub = np.full(n, -1, dtype=np.int64)
            if pairs is not None:
                sub[pairs.match] = pairs.focal
                sub[pairs.focal] = pairs.focal
            else:  # exact: the cells
                assert exact_codes is not None
                sub = np.where(w > 0, exact_codes, -1)
            estimate, se_val = wls_effect(
                y,
                d,
                w,
                covariates=adj,
                center_weights=center,
                vcov="cluster",
                clusters=[sub],
            )
            se_label = "cluster-robust on matched sets (CR1)"
        else:
            kind = "HC3" if se == "hc3" else "HC1"
            estimate, se_val = wls_effect(
                y, d, w, covariates=adj, center_weights=center, vcov=kind
            )
            se_label = {
                "hc3": "HC3 robust",
                "robust": "HC1 robust (weights as known)",
            }.get(se, "bootstrap")
        if se == "bootstrap":
            check_draws("n_boot", n_boot, _CALLER, minimum=2)
            tasks = [
                (cfg, d, design, user_score, exact_codes, mah_t, y, adj, g)
                for g in spawn_generators(gens[1], n_boot)
            ]
            draws = np.asarray(
                run_tasks(
                    boot_task,
                    tasks,
                    backend=backend,
                    n_jobs=n_jobs,
                    desc="match bootstrap",
                ),
                dtype=float,
            )
            ok = np.isfinite(draws)
            if ok.sum() < max(10, n_boot // 2):
                raise EstimationError(
                    f"{_CALLER}: only {ok.sum()} of {n_boot} bootstrap replications "
                    f"could be estimated; the design is too fragile for the bootstrap."
                )
            if (~ok).any():
                warnings.append(
                    f"{(~ok).sum()} of {n_boot} bootstrap replications failed and were "
                    f"dropped."
                )
            se_val = float(np.std(draws[ok], ddof=1))
            se_label = (
                f"bootstrap ({ok.sum()} replications, units resampled within groups)"
            )
        if not np.isfinite(estimate) or not np.isfinite(se_val):
            raise EstimationError(
                f"{_CALLER}: the effect estimate or its SE is not finite; check that the "
                f"matched sample has variation in {outcome!r} in both groups."
            )
    else:
        warnings.append(
            "No outcome given: only the matched sample and balance are "
            "returned; the estimate is NaN."
        )

    if y is not None:
        warnings.extend(_few_units_warning(d, w, se_label))

    # diagnostics
    n_focal_total = int(focal.sum())
    n_matched = int((focal & (w > 0)).sum())
    lost = n_focal_total - n_matched
    focal_name = "treated" if estimand in ("ATT", "ATE", "ATO") else "comparison"
    if method in ("nearest", "optimal", "exact") and lost > 0:
        why = []
        if caliper is not None:
            why.append("caliper")
        if discard != "none":
            why.append("common-support discard")
        if exact_l:
            why.append("exact matching")
        why_s = "the " + " / ".join(why) if why else "too few units to match them to"
        warnings.append(
            f"{lost} of {n_focal_total} {focal_name} units were left unmatched by "
            f"{why_s}; the estimate is the effect among matched {focal_name} units, "
            f"not the {estimand} of the full sample."
        )
    if method in ("ipw", "overlap") and trim is not None:
        dropped = int(((w == 0) & d).sum())
        warnings.append(
            f"Trimming at {trim} dropped {dropped} treated and "
            f"{int(((w == 0) & ~d).sum())} comparison units; the estimand is the "
            f"{estimand} in the trimmed population."
        )
    if fit.score is not None:
        s = fit.score
        above = int((d & (s > s[~d].max())).sum())
        if above:
            warnings.append(
                f"Poor overlap: {above} treated units have propensity scores above every "
                f"comparison unit's; consider a caliper or discard='both'."
            )
        if method in ("ipw", "overlap"):
            wmax = w.max() / w.sum()
            if wmax > 0.1:
                warnings.append(
                    f"Poor overlap: one unit carries {wmax:.0%} of the total weight; "
                    f"consider trim=0.1 or method='overlap'."
                )
    bal_X, bal_names = design.balance, design.balance_names
    prop = (
        pd.Series(fit.score, index=data.index, name="propensity")
        if fit.score is not None
        else None
    )
    matched_df = pd.DataFrame(
        columns=["subclass", "focal", "match", "weight", "distance"]
    )
    if pairs is not None and pairs.n_pairs:
        dd_ = (
            np.abs(fit.dist[pairs.focal] - fit.dist[pairs.match])
            if fit.dist is not None
            else np.sqrt(((mah[pairs.focal] - mah[pairs.match]) ** 2).sum(1))
            if mah is not None
            else np.full(pairs.n_pairs, np.nan)
        )
        matched_df = pd.DataFrame(
            {
                "subclass": pd.factorize(pairs.focal)[0] + 1,
                "focal": data.index.to_numpy()[pairs.focal],
                "match": data.index.to_numpy()[pairs.match],
                "weight": pairs.weight,
                "distance": dd_,
            }
        )
    result = MatchResult(
        estimator=f"match:{method}",
        estimate=estimate,
        se=se_val,
        n_treated=int(((w > 0) & d).sum()),
        n_control=int(((w > 0) & ~d).sum()),
        alpha=alpha,
        warnings=warnings,
        label=estimand,
        title=f"Matching estimate ({method}, {estimand})",
        weights=pd.Series(w, index=data.index, name="weight"),
        matched=matched_df,
        propensity=prop,
        distance=fit.dist,
        X_balance=bal_X,
        balance_names=bal_names,
        d=d,
        estimand="ATE" if estimand == "ATO" else estimand,
        n_matched=n_matched,
        se_method=se_label,
        method=method,
        caliper=fit.caliper_abs,
        binary=binary,
    )
    result.estimand = estimand
    if outcome is not None:
        result.log_outcome, scale_warns = resolve_log_outcome(
            log_outcome, outcome, data[outcome].to_numpy(dtype=float), _CALLER
        )
        result.warnings.extend(scale_warns)
    elif log_outcome is not None:
        result.log_outcome = bool(log_outcome)
    tab = result._balance
    bad = tab[(tab["covariate"] != "distance") & (tab["smd_after"].abs() > 0.1)]
    if len(bad):
        worst = bad.iloc[int(np.argmax(bad["smd_after"].abs().to_numpy()))]
        result.warnings.append(
            f"Remaining imbalance: {len(bad)} covariate(s) with |SMD| > 0.1 after "
            f"matching (worst {worst['covariate']}: {float(worst['smd_after']):.3f}); "
            f"consider adjust=True, a caliper or exact matching."
        )
    return result


def _few_units_warning(d: np.ndarray, w: np.ndarray, se_label: str) -> list[str]:
    """Plain warning when an arm has too few weighted units for the SE to be trusted."""
    out = []
    for arm, name in ((d, "treated"), (~d, "comparison")):
        k = int((arm & (w > 0)).sum())
        if 0 < k < FEW_TREATED_THRESHOLD:
            out.append(
                f"Only {k} {name} units carry weight: the {se_label} standard error "
                f"and its normal interval are too narrow with fewer than "
                f"{FEW_TREATED_THRESHOLD} {name} units (a nominal 5% test rejects a "
                f"true null far more often; see docs/statistical_validity.md), so "
                f"read the p-value and interval as optimistic. For treated areas "
                f"observed over time use impact.matched_did() or impact.did(), whose "
                f"inference holds with few treated units."
            )
    return out
