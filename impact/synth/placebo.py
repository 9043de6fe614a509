"""Placebo inference for synthetic control: in space, in time, leave-one-out.

Placebo in space (Abadie, Diamond and Hainmueller 2010): every donor in turn is treated
as if it had been treated at the same date and fitted on the other donors (the real
treated units are never donors to a placebo). The test statistic is the post/pre MSPE
ratio; the p-value is the rank of the treated unit's ratio among the ``J + 1`` ratios,
``(1 + #{placebo ratio >= treated ratio}) / (J + 1)``, so the smallest attainable
value is ``1 / (J + 1)``. Placebos whose pre-period MSPE exceeds ``mspe_threshold``
times the treated unit's can be dropped (ADH use 20, 5 and 2). With several treated
units, the pooled statistic is the absolute mean ATT of the treated units, compared
with the absolute mean ATT of random sets of as many placebo units (the MSPE ratio is
heavy tailed, so its mean is a poor pooled statistic).
"""

from __future__ import annotations

from itertools import combinations
from math import comb
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact.errors import DataError, ImpactError, SpecError
from impact.parallel import run_tasks, spawn_generators
from impact.synth._prep import Design, UnitFit, fit_unit
from impact.synth.penalized import truncated_design

if TYPE_CHECKING:
    from impact.synth.results import SynthResult

__all__ = [
    "degenerate_fits",
    "leave_one_out",
    "noise_variance",
    "placebo_in_space",
    "placebo_in_time_fits",
    "placebo_pvalue",
    "placebo_test_parts",
    "run_placebos",
]


def _placebo_task(task: tuple[Design, int, NDArray[np.intp], Any, Any]) -> UnitFit:
    design, i, donors, t0, rng = task
    return fit_unit(design, i, donors, t0, rng)


def _safe_placebo_task(
    task: tuple[Design, int, NDArray[np.intp], Any, Any],
) -> UnitFit | str:
    """A placebo fit, or the error message when that placebo cannot be fitted."""
    try:
        return _placebo_task(task)
    except ImpactError as exc:
        return f"placebo {task[0].units[task[1]]!r} dropped: {exc}"


def run_placebos(
    design: Design,
    donors: NDArray[np.intp],
    t0: Any,
    *,
    seed: Any = None,
    n_jobs: int = 1,
    backend: str | None = None,
    progress: bool | None = None,
    messages: list[str] | None = None,
) -> list[UnitFit]:
    """Fit every donor as a placebo treated unit at date ``t0`` (in parallel).

    Parameters
    ----------
    design : Design
        The prepared data and specification.
    donors : ndarray of int
        Donor rows; each is fitted against the others.
    t0 : period
        The (placebo) treatment date.
    seed : int, Generator or None
        One child generator is spawned per placebo, so results do not depend on
        ``n_jobs`` or the backend.
    n_jobs, backend, progress
        As in :func:`impact.parallel.run_tasks`.
    messages : list of str, optional
        Receives one message per placebo that could not be fitted (it is dropped).

    Returns
    -------
    list of UnitFit
        One fit per donor that could be fitted, in donor order.
    """
    rngs = spawn_generators(seed, len(donors))
    tasks = [
        (design, int(j), donors[donors != j], t0, rngs[k]) for k, j in enumerate(donors)
    ]
    out = run_tasks(
        _safe_placebo_task,
        tasks,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
        desc="synth placebos",
    )
    if messages is not None:
        messages.extend(m for m in out if isinstance(m, str))
    return [f for f in out if not isinstance(f, str)]


def placebo_table(
    treated: list[UnitFit], placebos: dict[Any, list[UnitFit]]
) -> pd.DataFrame:
    """One row per treated and placebo unit: pre/post MSPE, ratio, ATT, rank.

    ``rank`` is 1 for the largest ratio and counts ties against the unit, as the
    p-value does: a unit's rank is the number of units whose ratio is at least its
    own, so without a filter or floor the treated unit's rank over ``J + 1`` is the
    placebo p-value.
    """
    rows = []
    for f in treated:
        rows.append(_row(f, True))
    seen: set[Any] = set()
    for t0, fits in placebos.items():
        for f in fits:
            key = (f.unit, t0)
            if key in seen:
                continue
            seen.add(key)
            rows.append(_row(f, False))
    table = pd.DataFrame(rows)
    table["rank"] = table["ratio"].rank(ascending=False, method="max").astype(int)
    return table.sort_values("ratio", ascending=False, kind="stable").reset_index(
        drop=True
    )


def _row(f: UnitFit, treated: bool) -> dict[str, Any]:
    return {
        "unit": f.unit,
        "treated": treated,
        "treatment_time": f.treatment_time,
        "pre_mspe": f.pre_mspe,
        "post_mspe": f.post_mspe,
        "ratio": f.ratio,
        "pre_rmspe": float(np.sqrt(f.pre_mspe)),
        "post_rmspe": float(np.sqrt(f.post_mspe)),
        "att": f.att,
    }


def placebo_pvalue(
    treated_ratios: NDArray[np.float64],
    placebo_ratios: NDArray[np.float64],
    *,
    rng: np.random.Generator | None = None,
    n_draws: int = 10_000,
    absolute: bool = False,
) -> float:
    """RMSPE-ratio permutation p-value.

    Parameters
    ----------
    treated_ratios : ndarray
        Test statistics of the treated units (post/pre MSPE ratios, or ATTs).
    placebo_ratios : ndarray
        The same statistic for the (retained) placebo units.
    rng : numpy Generator, optional
        For the pooled test with several treated units.
    n_draws : int, default 10000
        Random placebo sets drawn for the pooled test.
    absolute : bool, default False
        Compare absolute values of the (set) means, ``|mean|``: the pooled test of
        several treated units on signed ATTs.

    Returns
    -------
    float
        ``(1 + #{placebo >= treated}) / (1 + J)`` for one treated unit; for several,
        the share of placebo sets of the same size whose mean statistic reaches the
        treated mean (all sets when there are at most ``n_draws``, else random ones;
        with the same +1 correction).
    """
    t = np.asarray(treated_ratios, dtype=float)
    p = np.asarray(placebo_ratios, dtype=float)
    if absolute and t.size == 1:
        t, p = np.abs(t), np.abs(p)
    if t.size == 1:
        return float((1 + np.sum(p >= t[0] * (1 - 1e-12))) / (1 + p.size))
    if p.size < t.size:
        return float("nan")
    stat = float(np.mean(t))
    stat = abs(stat) if absolute else stat
    if comb(p.size, t.size) <= n_draws:
        # few possible placebo sets: enumerate them all (exact permutation p-value)
        idx = np.array(list(combinations(range(p.size), t.size)), dtype=np.intp)
        n_sets = idx.shape[0]
    else:
        rng = rng if rng is not None else np.random.default_rng(0)
        keys = rng.random((n_draws, p.size))
        idx = np.argsort(keys, axis=1)[:, : t.size]
        n_sets = n_draws
    means = p[idx].mean(axis=1)
    means = np.abs(means) if absolute else means
    return float((1 + np.sum(means >= stat * (1 - 1e-12))) / (1 + n_sets))


def noise_variance(Y: NDArray[np.float64]) -> float:
    """Year-to-year noise variance of an outcome: median over units of var(diff)/2.

    A pre-period fit far closer than this is reproducing noise (overfitting).

    Parameters
    ----------
    Y : ndarray, shape (n_units, n_periods)
        Pre-period outcomes.

    Returns
    -------
    float
        The median of ``var(y_t - y_{t-1}) / 2`` over units (NaN with < 3 periods).
    """
    Y = np.asarray(Y, dtype=float)
    if Y.shape[1] < 3:
        return float("nan")
    return float(np.nanmedian(np.nanvar(np.diff(Y, axis=1), axis=1, ddof=1) / 2))


def degenerate_fits(table: pd.DataFrame, noise_var: float) -> NDArray[np.bool_]:
    """Rows whose pre-period MSPE is numerically zero (below 1e-6 x noise variance)."""
    if not (np.isfinite(noise_var) and noise_var > 0):
        return np.zeros(len(table), dtype=bool)
    return np.asarray(table["pre_mspe"].to_numpy(float) <= 1e-6 * noise_var)


def placebo_in_space(
    table: pd.DataFrame,
    *,
    mspe_threshold: float | None = None,
    rng: np.random.Generator | None = None,
    noise_var: float | None = None,
) -> tuple[pd.DataFrame, float]:
    """Apply the pre-MSPE filter to a placebo table and compute the p-value.

    Parameters
    ----------
    table : DataFrame
        From :func:`placebo_table`.
    mspe_threshold : float, optional
        Drop placebos whose pre-MSPE exceeds this multiple of the (largest) treated
        unit's pre-MSPE.
    rng : numpy Generator, optional
        For the pooled test with several treated units.
    noise_var : float, optional
        The outcome's year-to-year noise variance (:func:`noise_variance`). When a
        kept unit's pre-period MSPE is numerically zero (:func:`degenerate_fits`) the
        post/pre ratios are meaningless (about 1e28), so the one-unit statistic
        becomes post-MSPE over the pre-MSPE floored at ``noise_var`` (column
        ``statistic``; ``table.attrs["floored"]`` is True).

    Returns
    -------
    tuple
        The filtered table (with ``kept`` and ``statistic`` columns: the ratio, or
        with several treated units the signed ATT) and the p-value.
    """
    out = table.copy()
    treated = out["treated"].to_numpy(bool)
    kept = np.ones(len(out), dtype=bool)
    if mspe_threshold is not None:
        limit = float(mspe_threshold) * float(out.loc[treated, "pre_mspe"].max())
        kept = treated | (out["pre_mspe"].to_numpy() <= limit)
    out["kept"] = kept
    # one treated unit: ADH's post/pre MSPE-ratio rank. Several: the ratio is heavy
    # tailed (near-perfect pre-fits), so its mean is dominated by single placebos; the
    # pooled statistic is |mean ATT| against random placebo sets of the same size.
    column = "ratio" if treated.sum() == 1 else "att"
    stat = out[column].to_numpy(float)
    floored = False
    if column == "ratio" and noise_var is not None:
        if degenerate_fits(out, noise_var)[kept].any():
            floor = np.maximum(out["pre_mspe"].to_numpy(float), noise_var)
            stat = out["post_mspe"].to_numpy(float) / floor
            floored = True
    out["statistic"] = stat
    out.attrs["floored"] = floored
    p = placebo_pvalue(
        stat[treated], stat[~treated & kept], rng=rng, absolute=column == "att"
    )
    return out, p


def leave_one_out(
    design: Design,
    fit: UnitFit,
    donors: NDArray[np.intp],
    *,
    seed: Any = None,
    n_jobs: int = 1,
    backend: str | None = None,
) -> pd.DataFrame:
    """Refit dropping, in turn, each donor with positive weight.

    Parameters
    ----------
    design : Design
        Prepared data.
    fit : UnitFit
        The original fit of the treated unit.
    donors : ndarray of int
        Donor rows of the original fit.
    seed, n_jobs, backend
        As in :func:`run_placebos`.

    Returns
    -------
    DataFrame
        Index = periods; one column of synthetic outcomes per dropped donor.
    """
    i = design.index_of(fit.unit)
    drop = donors[np.abs(fit.weights) > 1e-6]
    rngs = spawn_generators(seed, len(drop))
    tasks = [
        (design, i, donors[donors != j], fit.treatment_time, rngs[k])
        for k, j in enumerate(drop)
    ]
    fits = run_tasks(_placebo_task, tasks, backend=backend, n_jobs=n_jobs)
    return pd.DataFrame(
        {design.units[j]: f.synthetic for j, f in zip(drop, fits, strict=True)},
        index=pd.Index(design.periods, name=design.time_name),
    )


def placebo_test_parts(
    res: SynthResult, mspe_threshold: float | None, cfg: dict[str, Any]
) -> dict[str, Any]:
    """The placebo-in-space test of a fit, as ``PlaceboTest`` arguments.

    Runs (and caches on ``res``) the donor placebos at every treatment date, ranks
    the treated units' statistic among them and says in ``res.warnings`` when fits are
    degenerate.
    """
    design = res._design
    donors = res._donors
    if res.method == "sdid":
        raise SpecError(
            "Placebo-in-space refits are not available for method='sdid'; its "
            "inference is the SDID placebo standard error (result.se)."
        )
    cache: dict[Any, list[UnitFit]] | None = res._placebo_fits
    if cache is None:
        cache = {}
        t0s = list(dict.fromkeys(f.treatment_time for f in res.fits))
        seeds = spawn_generators(cfg["seed"], len(t0s) + 1)
        for k, t0 in enumerate(t0s):
            cache[t0] = run_placebos(
                design,
                donors,
                t0,
                seed=seeds[k + 1],
                n_jobs=cfg.get("n_jobs", 1),
                backend=cfg.get("backend"),
                progress=cfg.get("progress"),
                messages=res._placebo_messages,
            )
        res._placebo_fits = cache
        if res._placebo_messages:
            res.warnings.extend(res._placebo_messages)
    placebos = cache
    table = placebo_table(res.fits, placebos)
    rows = np.concatenate([[design.index_of(f.unit) for f in res.fits], donors])
    t_first = min(f.treatment_time for f in res.fits)
    noise = noise_variance(
        np.asarray(design.Y, float)[rows][:, design.pre_mask(t_first)]
    )
    table, p = placebo_in_space(
        table,
        mspe_threshold=mspe_threshold,
        rng=np.random.default_rng(0),
        noise_var=noise,
    )
    text = _degenerate_warning(
        table, noise, len(donors), int(design.pre_mask(t_first).sum())
    )
    if text and text not in res.warnings:
        res.warnings.append(text)
    text = _too_few_placebos(table, mspe_threshold, len(res.fits))
    if text and text not in res.warnings:
        res.warnings.append(text)
    gaps = {f"{f.unit}": f.gap for f in res.fits}
    for fits in placebos.values():
        for f in fits:
            gaps.setdefault(f"{f.unit}", f.gap)
    gap_frame = pd.DataFrame(
        gaps, index=pd.Index(design.periods, name=design.time_name)
    )
    gap_frame.attrs["treated"] = [str(f.unit) for f in res.fits]
    gap_frame.attrs["kept"] = [str(u) for u in table.loc[table["kept"], "unit"]]
    gap_frame.attrs["treatment_time"] = res.fits[0].treatment_time
    return {
        "table": table,
        "pvalue": p,
        "mspe_threshold": mspe_threshold,
        "gaps": gap_frame,
    }


def _too_few_placebos(
    table: pd.DataFrame, mspe_threshold: float | None, n_treated: int
) -> str | None:
    """Say when too few placebos are left for the p-value or the standard error."""
    placebo = ~table["treated"].to_numpy(bool)
    n_kept = int((placebo & table["kept"].to_numpy(bool)).sum())
    if n_kept >= max(n_treated, 2):
        return None
    lost = []
    if n_treated > 1 and n_kept < n_treated:
        lost.append(
            f"the pooled placebo p-value needs at least as many placebos as the "
            f"{n_treated} treated units and is undefined (NaN)"
        )
    if n_kept < 2:
        lost.append("the placebo standard error needs at least 2 and is undefined")
    if mspe_threshold is not None:
        return (
            f"The pre-period MSPE filter (mspe_threshold={mspe_threshold:g}) keeps "
            f"{n_kept} of {int(placebo.sum())} placebo units: {'; '.join(lost)}. "
            "Raise mspe_threshold or leave it out."
        )
    return (
        f"Only {n_kept} placebo unit(s) could be fitted: {'; '.join(lost)}. Add donors."
    )


def _degenerate_warning(
    table: pd.DataFrame, noise: float, n_donors: int, n_pre: int
) -> str | None:
    """Say when units fit their pre-period exactly (overfitting, not evidence)."""
    bad = degenerate_fits(table, noise)
    if not bad.any():
        return None
    treated = table["treated"].to_numpy(bool)
    who = (
        ", the treated unit among them,"
        if bad[treated].any() and treated.sum() == 1
        else f", {int(bad[treated].sum())} treated unit(s) among them,"
        if bad[treated].any()
        else ""
    )
    text = (
        f"Degenerate pre-period fit: {int(bad.sum())} of {len(table)} units{who} "
        "reproduce their pre-period outcome exactly (pre-period MSPE below a "
        f"millionth of the outcome's year-to-year noise variance, {noise:.3g}). With "
        f"{n_donors} donors and {n_pre} pre-period(s) the weights can match almost "
        "any path: a perfect pre-fit is overfitting, not evidence of a good "
        "counterfactual."
    )
    if table.attrs.get("floored"):
        text += (
            " Their post/pre MSPE ratios are meaningless (the largest is "
            f"{float(table['ratio'].max()):.2g}), so the placebo p-value ranks "
            "post-period MSPE over the pre-period MSPE floored at that noise variance."
        )
    text += (
        " Use fewer donors (e.g. statistical neighbours), predictors, or "
        "method='augmented', and read the post-period gaps."
    )
    return text


def placebo_in_time_fits(res: SynthResult, when: Any) -> tuple[Design, list[UnitFit]]:
    """The treated units refitted on the periods before the real date, adopting at
    ``when``: the truncated design and one fit per treated unit."""
    design = res._design
    if "cohorts" in res.extra:
        raise SpecError(
            "placebo_in_time is not available for staggered SDID (its fits are "
            "adoption cohorts, not units); refit each cohort with a common "
            "treatment_time to check it."
        )
    first = min(f.treatment_time for f in res.fits)
    if not when < first:
        raise SpecError(
            f"The placebo date {when!r} must be before the real treatment date "
            f"{first!r}."
        )
    keep = design.periods < first
    if not np.any(design.periods[keep] < when):
        raise DataError(
            f"No pre-period before the placebo date {when!r}; choose a later date."
        )
    sub = truncated_design(design, first, when)
    rngs = spawn_generators(res._config["seed"], len(res.fits))
    fits = [
        fit_unit(sub, sub.index_of(f.unit), res._donors, when, rngs[k])
        for k, f in enumerate(res.fits)
    ]
    return sub, fits
