"""Simulation-based power on a real or synthetic panel.

Placebo treatment assignments are drawn among untreated units, an effect is injected
into the outcome of the placebo-treated units after their treatment time, and the
estimator is re-run. Over ``n_sims`` draws this gives, for every number of treated
units and effect size: the rejection rate (power), bias, RMSE and confidence-interval
coverage. The placebo critical values come from random assignments whatever the
assignment rule of the estimates, so that selection on the outcome shows as size
above ``alpha`` and under-coverage, as it would for an analyst's permutation test.

Estimators that are linear in the outcome (2x2, TWFE, Callaway-Sant'Anna without
covariates) are computed for all draws at once by array operations
(:mod:`impact.power._linear`); any other estimator (synthetic control, matched DiD,
DiD with covariates or bootstrap inference, a user callable) is re-fitted draw by draw
through :func:`impact.parallel.run_tasks`, one spawned Generator per draw, so the
results do not depend on ``n_jobs`` or the backend.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from impact._scale import resolve_log_outcome
from impact._validation import check_alpha, check_draws, check_option
from impact.errors import DataError, ImpactError, SpecError
from impact.panel import Panel, as_panel
from impact.parallel import run_tasks, spawn_generators
from impact.power._linear import linear_block, phase_matrix, role_design, role_matrix
from impact.power._selection import draw_order, eligible_units, selection_warning
from impact.power.results import PowerResult

__all__ = ["simulate"]

FloatArray = NDArray[np.float64]
_LINEAR = ("2x2", "twfe", "cs")
_ESTIMATORS = ("did", "2x2", "twfe", "cs", "sc", "synth", "matched_did")
# options of impact.did that do not change a no-covariate linear estimate
_NEUTRAL_DID_OPTIONS = {"est_method", "base_period", "n_boot", "alpha", "seed"}
_CHUNK = 2_000  # draws per block when the outcome itself is redrawn (subgroups)


@dataclass
class _Context:
    """Everything a draw needs; small enough to ship to a worker."""

    Y: FloatArray  # (N, T) outcome of the placebo pool
    pop: FloatArray | None  # (N, T) denominator for subgroup counts
    units: NDArray[Any]
    periods: NDArray[np.int64]
    unit: str
    time: str
    outcome: str
    times: list[int]
    n_list: list[int]
    effects: FloatArray
    effect_type: str
    phase_in: int
    assignment: str
    eligible: NDArray[np.bool_]
    subgroup_share: float | None
    rate_scale: float
    count_model: str
    dispersion: float
    alpha: float
    estimator: Any
    method: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------- helpers
def _split(n: int, k: int) -> NDArray[np.int64]:
    """Split n treated units over k cohorts as evenly as possible (earliest first)."""
    base = np.full(k, n // k, dtype=np.int64)
    base[: n % k] += 1
    return base


def _cohort_layout(times: list[int], n: int) -> tuple[FloatArray, NDArray[np.int64]]:
    sizes = _split(n, len(times))
    keep = sizes > 0
    return np.asarray(times, dtype=float)[keep], sizes[keep]


def _subgroup_outcome(
    Y: FloatArray,
    pop: FloatArray,
    share: float,
    rng: np.random.Generator,
    scale: float,
    count_model: str,
    dispersion: float,
    size: int | None = None,
) -> FloatArray:
    """Rates recomputed from simulated subgroup counts (Poisson or negative binomial)."""
    denom = share * pop
    mu = np.clip(Y, 0.0, None) * denom / scale
    shape = Y.shape if size is None else (size, *Y.shape)
    if count_model == "negbin" and dispersion > 0:
        lam = rng.gamma(1.0 / dispersion, dispersion, size=shape) * mu
        counts = rng.poisson(lam)
    else:
        counts = rng.poisson(np.broadcast_to(mu, shape))
    return np.asarray(counts * scale / denom, dtype=float)


def _resolve_inference(inference: Any, n_treated: int, n_units: int) -> str:
    """Which test the vectorised path runs: 'placebo' (exact-size) or 'analytic'."""
    if inference in ("analytic",):
        return "analytic"
    if inference in ("placebo", "permutation"):
        return "placebo"
    try:  # mirror impact.did's inference="auto"
        from impact.inference import few_treated_rule

        method, _ = few_treated_rule(n_treated, n_units)
    except ImportError:  # pragma: no cover - inference family not installed
        method = "permutation"
    return "analytic" if method == "analytic" else "placebo"


# ------------------------------------------------------------ linear (fast)
def _linear_stats(
    ctx: _Context,
    Yb_all: FloatArray,
    order: NDArray[np.int64],
    sizes: NDArray[np.int64],
    design: Any,
    phase: FloatArray,
    n_sims: int,
) -> dict[str, FloatArray]:
    """Per-draw sufficient statistics of the linear estimator, in blocks of draws."""
    roles = role_matrix(order, sizes, ctx.Y.shape[0])
    parts = []
    for start in range(0, n_sims, _CHUNK):
        stop = min(start + _CHUNK, n_sims)
        Yb = Yb_all if Yb_all.shape[0] == 1 else Yb_all[start:stop]
        parts.append(
            linear_block(ctx.effect_type, Yb, roles[start:stop], design, phase)
        )
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _simulate_linear(
    ctx: _Context, gens: Sequence[np.random.Generator], n_sims: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    order = draw_order(gens, ctx.eligible)
    n_units = ctx.Y.shape[0]
    if ctx.subgroup_share is not None:
        assert ctx.pop is not None
        Yb_all = np.stack(
            [
                _subgroup_outcome(
                    ctx.Y,
                    ctx.pop,
                    ctx.subgroup_share,
                    g,
                    ctx.rate_scale,
                    ctx.count_model,
                    ctx.dispersion,
                )
                for g in gens
            ]
        )
    else:
        Yb_all = ctx.Y[None, :, :]
    rows: list[dict[str, Any]] = []
    draws: dict[str, Any] = {}
    method = ctx.method or "cs"
    inference_opt = ctx.kwargs.get("inference")
    # The placebo test an analyst runs re-assigns treatment at RANDOM (the
    # randomisation distribution), whatever rule selected the real adopters. So the
    # critical values come from random-assignment no-effect draws (same n_treated,
    # same pool); only the estimates follow the selection rule. Calibrating on the
    # selected draws would absorb the selection bias and hide it (size = alpha).
    calib_order = (
        None
        if ctx.assignment == "random"
        else draw_order(gens, np.ones(n_units, dtype=bool))
    )
    for n in ctx.n_list:
        cohorts, sizes = _cohort_layout(ctx.times, n)
        design = role_design(method, ctx.periods, cohorts, sizes, n_units - n)
        phase = phase_matrix(ctx.periods, cohorts, ctx.phase_in)
        s = _linear_stats(ctx, Yb_all, order, sizes, design, phase, n_sims)
        inference = _resolve_inference(inference_opt, n, n_units)
        d = ctx.effects[None, :]
        est = s["est0"][:, None] + s["slope"][:, None] * d
        tau = s["tau"][:, None] / s["cells"][:, None] * d  # mean injected effect
        level = s["level"] / s["cells"]  # mean counterfactual outcome, treated cells
        if inference == "placebo":
            null = s["est0"]
            if calib_order is not None:
                null = _linear_stats(
                    ctx, Yb_all, calib_order, sizes, design, phase, n_sims
                )["est0"]
            crit = float(np.quantile(np.abs(null), 1 - ctx.alpha))
            reject = np.abs(est) > crit
            cover = np.abs(est - tau) <= crit
        else:
            var = (
                s["var0"][:, None] + s["var1"][:, None] * d + s["var2"][:, None] * d**2
            )
            se = np.sqrt(np.clip(var, 0.0, None))
            tcrit = float(stats.norm.ppf(1 - ctx.alpha / 2))  # as impact.did
            with np.errstate(divide="ignore", invalid="ignore"):
                reject = np.abs(est) > tcrit * se
            cover = np.abs(est - tau) <= tcrit * se
        scale = level[:, None] if ctx.effect_type == "relative" else 1.0
        err = (est - tau) / scale
        est_units = est / scale
        draws[str(n)] = est_units
        for j, effect in enumerate(ctx.effects):
            rows.append(
                {
                    "n_treated": n,
                    "effect": float(effect),
                    "power": float(reject[:, j].mean()),
                    "bias": float(err[:, j].mean()),
                    "rmse": float(np.sqrt((err[:, j] ** 2).mean())),
                    "coverage": float(cover[:, j].mean()),
                    "sd": float(est_units[:, j].std(ddof=1)),
                    "n_sims": n_sims,
                    "n_failed": 0,
                    "inference": inference,
                }
            )
    return pd.DataFrame(rows), draws


# -------------------------------------------------------- synthetic control
def _simulate_sc(
    ctx: _Context, gens: Sequence[np.random.Generator], n_sims: int
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One treated unit, leave-one-out synthetic controls, RMSPE-ratio placebo test."""
    from impact.power._synth import synth_placebo

    t0 = int(np.searchsorted(ctx.periods, ctx.times[0]))
    fits = synth_placebo(ctx.Y, t0)
    treated = draw_order(gens, ctx.eligible)[:, 0]  # (B,)
    phase = phase_matrix(ctx.periods, np.asarray(ctx.times, dtype=float), ctx.phase_in)
    post_phase = phase[0, t0:]
    Ypost = ctx.Y[:, t0:]
    base = Ypost if ctx.effect_type == "relative" else np.ones_like(Ypost)
    level = Ypost.mean(axis=1)
    statistic = str(ctx.kwargs.get("test", "ratio"))
    label = "placebo (RMSPE ratio)" if statistic == "ratio" else "placebo (post gap)"
    rows: list[dict[str, Any]] = []
    draws: dict[str, Any] = {}
    est_cols = []
    for effect in ctx.effects:
        E = effect * post_phase[None, :] * base
        est_all, reject_all = fits.test(E, ctx.alpha, statistic)
        tau_all = E.mean(axis=1)
        scale = level if ctx.effect_type == "relative" else np.ones_like(level)
        est = est_all[treated] / scale[treated]
        err = (est_all[treated] - tau_all[treated]) / scale[treated]
        est_cols.append(est)
        rows.append(
            {
                "n_treated": 1,
                "effect": float(effect),
                "power": float(reject_all[treated].mean()),
                "bias": float(err.mean()),
                "rmse": float(np.sqrt((err**2).mean())),
                "coverage": math.nan,
                "sd": float(est.std(ddof=1)),
                "n_sims": n_sims,
                "n_failed": 0,
                "inference": label,
            }
        )
    draws["1"] = np.column_stack(est_cols)
    pre_rmspe = float(np.median(np.sqrt(fits.pre_mspe)))
    post_gap = float(np.median(np.abs(fits.gaps[:, t0:]).mean(axis=1)))
    if statistic == "ratio" and pre_rmspe < 0.25 * post_gap:
        n_donors, n_pre = ctx.Y.shape[0] - 1, t0
        why = "; donors outnumber pre-periods" if n_donors >= n_pre else ""
        ctx.notes.append(
            f"Pre-period fits are much tighter than post-period gaps (median pre-RMSPE "
            f"{pre_rmspe:.3g} vs median post gap {post_gap:.3g}{why}): the "
            "RMSPE-ratio test has little power here; compare test='gap'."
        )
    return pd.DataFrame(rows), draws


# ---------------------------------------------------------- generic (slow)
def _frame(ctx: _Context, Y: FloatArray, cohort: FloatArray) -> pd.DataFrame:
    t = len(ctx.periods)
    return pd.DataFrame(
        {
            ctx.unit: np.repeat(ctx.units, t),
            ctx.time: np.tile(ctx.periods, len(ctx.units)),
            ctx.outcome: Y.ravel(),
            "_cohort": np.repeat(cohort, t),
        }
    )


def _fit(
    ctx: _Context,
    Y: FloatArray,
    cohort: FloatArray,
    treated: NDArray[np.int64],
    seed: int,
) -> tuple[float, float, float, float]:
    """Fit the estimator to one placebo data set; return estimate, CI and p-value."""
    res = _fit_result(ctx, Y, cohort, treated, seed)
    ci = getattr(res, "ci", None) or (math.nan, math.nan)
    return float(res.estimate), float(ci[0]), float(ci[1]), float(res.pvalue)


def _synth_effects(
    ctx: _Context,
    Y0: FloatArray,
    cohort: FloatArray,
    treated: NDArray[np.int64],
    seed: int,
    inject: FloatArray,
) -> list[tuple[float, float, float, float]] | None:
    """Synthetic control, one treated unit, placebo inference: one fit for all effects.

    The donor weights depend on pre-period data only and the placebo fits exclude the
    treated unit, so an effect injected after the treatment time only shifts the
    treated unit's post-period gap: the estimate moves by the mean injected effect and
    the RMSPE ratio is recomputed against the same placebo ratios. ``inject`` is the
    (n_effects, T) effect path. Returns None when this shortcut does not apply.
    """
    opts = ctx.kwargs
    if (
        ctx.estimator != "synth"
        or len(treated) != 1
        or opts.get("inference", "placebo") != "placebo"
        or opts.get("method", "abadie") == "sdid"
    ):
        return None
    try:
        from impact.synth.placebo import placebo_pvalue
    except ImportError:  # pragma: no cover - synth family not installed
        return None
    res = _fit_result(ctx, Y0, cohort, treated, seed)
    test = res.placebo(opts.get("mspe_threshold"))
    table = test.table
    row = table[table["treated"].to_numpy(bool)].iloc[0]
    gap = np.asarray(test.gaps.iloc[:, 0], dtype=float)
    post = ctx.periods >= ctx.times[0]
    pre_mspe = float(row["pre_mspe"])
    mspe_ratio = float(row["post_mspe"]) / pre_mspe
    if not (
        np.isclose(float(res.estimate), gap[post].mean())
        and np.isclose(float(row["post_mspe"]), np.mean(gap[post] ** 2))
    ):
        return None  # not the structure assumed here: re-fit every effect instead
    root = abs(float(row["ratio"]) - math.sqrt(mspe_ratio)) < abs(
        float(row["ratio"]) - mspe_ratio
    )
    kept = ~table["treated"].to_numpy(bool) & table["kept"].to_numpy(bool)
    placebos = table.loc[kept, "ratio"].to_numpy(float)
    out = []
    for path in inject:
        g = gap[post] + path[post]
        m = float(np.mean(g**2)) / pre_mspe
        ratio = math.sqrt(m) if root else m
        p = float(placebo_pvalue(np.array([ratio]), placebos))
        out.append(
            (float(res.estimate) + float(path[post].mean()), math.nan, math.nan, p)
        )
    return out


def _fit_result(
    ctx: _Context,
    Y: FloatArray,
    cohort: FloatArray,
    treated: NDArray[np.int64],
    seed: int,
) -> Any:
    """Fit the estimator to one placebo data set and return its result."""
    frame = _frame(ctx, Y, cohort)
    cols: dict[str, Any] = {"outcome": ctx.outcome, "unit": ctx.unit, "time": ctx.time}
    kwargs = dict(ctx.kwargs)
    est = ctx.estimator
    if callable(est):
        res = est(frame, cohort="_cohort", **cols, **kwargs)
    elif est in ("did", *_LINEAR):
        from impact.did.api import did

        if ctx.method is not None:
            kwargs["method"] = ctx.method
        kwargs.setdefault("seed", seed)
        kwargs.setdefault("alpha", ctx.alpha)
        # the per-draw fit needs no selection diagnostic (cost, not behaviour)
        kwargs.setdefault("_diagnostics", False)
        res = did(frame, cohort="_cohort", **cols, **kwargs)
    elif est == "synth":
        from impact.synth.api import synth

        kwargs.setdefault("seed", seed)
        kwargs.setdefault("alpha", ctx.alpha)
        res = synth(
            frame,
            treated_units=list(ctx.units[treated]),
            treatment_time=int(np.min(cohort[treated])),
            **cols,
            **kwargs,
        )
    else:  # matched_did
        from impact.matching.api import matched_did

        kwargs.setdefault("seed", seed)
        kwargs.setdefault("alpha", ctx.alpha)
        res = matched_did(frame, cohort="_cohort", **cols, **kwargs)
    return res


def _generic_task(ctx: _Context, task: tuple[int, np.random.Generator]) -> list[Any]:
    """One draw: every n_treated x effect combination; returns result rows."""
    _, gen = task
    order = draw_order([gen], ctx.eligible)[0]
    n_units = ctx.Y.shape[0]
    Y0 = ctx.Y
    if ctx.subgroup_share is not None:
        assert ctx.pop is not None
        Y0 = _subgroup_outcome(
            ctx.Y,
            ctx.pop,
            ctx.subgroup_share,
            gen,
            ctx.rate_scale,
            ctx.count_model,
            ctx.dispersion,
        )
    seed = int(gen.integers(2**31 - 1))
    out: list[Any] = []
    for n in ctx.n_list:
        cohorts, sizes = _cohort_layout(ctx.times, n)
        cohort = np.full(n_units, np.inf)
        labels = np.repeat(cohorts, sizes)
        treated = order[:n]
        cohort[treated] = labels
        phase = phase_matrix(ctx.periods, cohorts, ctx.phase_in)
        unit_phase = phase[np.repeat(np.arange(len(sizes)), sizes)]  # (n, T)
        base = Y0[treated] if ctx.effect_type == "relative" else 1.0
        post = unit_phase > 0
        level = float(Y0[treated][post].mean())
        cells = int(post.sum())
        paths = [effect * unit_phase * base for effect in ctx.effects]
        shared: list[tuple[float, float, float, float]] | None = None
        try:
            shared = _synth_effects(
                ctx, Y0, cohort, treated, seed, np.stack([p[0] for p in paths])
            )
        except ImpactError:
            shared = None  # re-fit effect by effect below, recording each failure
        for j, (effect, inject) in enumerate(zip(ctx.effects, paths, strict=True)):
            tau = float(inject.sum() / cells)
            if shared is not None:
                out.append((n, float(effect), *shared[j], tau, level, ""))
                continue
            Y = Y0.copy()
            Y[treated] = Y[treated] + inject
            try:
                fit = _fit(ctx, Y, cohort, treated, seed)
                error = ""
            except ImpactError as exc:
                fit = (math.nan, math.nan, math.nan, math.nan)
                error = str(exc)
            out.append((n, float(effect), *fit, tau, level, error))
    return out


_PROBES = 3  # draws tried up front before a non-SpecError counts as systematic


def _probe_fit(ctx: _Context, gens: Sequence[np.random.Generator]) -> None:
    """Fit the estimator once, before the simulation loop, to fail fast.

    The first draw's assignment (reproduced from a copy of its Generator, so the
    simulation itself is unchanged) is fitted with no effect injected. A
    :class:`~impact.errors.SpecError` (an unknown option, a bad value) propagates at
    once, as does a ``TypeError`` from a callable estimator's signature (as a
    SpecError). Other package errors may belong to one unlucky draw (too few
    comparison units for a matched design, say): they propagate only if the first
    ``_PROBES`` draws all fail, otherwise failures are counted draw by draw.
    """
    n = ctx.n_list[0]
    n_units = ctx.Y.shape[0]
    cohorts, sizes = _cohort_layout(ctx.times, n)
    first: ImpactError | None = None
    for gen in list(gens)[:_PROBES]:
        order = draw_order([copy.deepcopy(gen)], ctx.eligible)[0]
        treated = order[:n]
        cohort = np.full(n_units, np.inf)
        cohort[treated] = np.repeat(cohorts, sizes)
        try:
            res = _fit_result(ctx, ctx.Y, cohort, treated, 0)
        except SpecError:
            raise
        except ImpactError as exc:
            first = first or exc
            continue
        except TypeError as exc:
            raise SpecError(
                f"impact.power.simulate: the estimator call failed before any "
                f"simulation ({exc}); check the estimator's keyword arguments."
            ) from exc
        if not all(hasattr(res, a) for a in ("estimate", "pvalue")):
            raise SpecError(
                "impact.power.simulate: the estimator returned "
                f"{type(res).__name__}, not a result with .estimate and .pvalue "
                "(an impact Result)."
            )
        return
    if first is not None:  # every probe failed: the error is not one draw's bad luck
        raise first


def _simulate_generic(
    ctx: _Context,
    gens: Sequence[np.random.Generator],
    *,
    backend: str | None,
    n_jobs: int,
    progress: bool | None,
) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    _probe_fit(ctx, gens)
    tasks = list(enumerate(gens))
    results = run_tasks(
        partial(_generic_task, ctx),
        tasks,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
        desc="power simulation",
    )
    flat = pd.DataFrame(
        [r for rows in results for r in rows],
        columns=[
            "n_treated",
            "effect",
            "estimate",
            "ci_low",
            "ci_high",
            "pvalue",
            "tau",
            "level",
            "error",
        ],
    )
    warnings: list[str] = []
    rows: list[dict[str, Any]] = []
    draws: dict[str, Any] = {}
    rel = ctx.effect_type == "relative"
    for key, g in flat.groupby(["n_treated", "effect"], sort=False):
        n, effect = cast(tuple[int, float], key)
        ok = g["error"] == ""
        failed = int((~ok).sum())
        if failed:
            first = g.loc[~ok, "error"].iloc[0]
            warnings.append(
                f"{failed} of {len(g)} fits failed for n_treated={n}, "
                f"effect={effect:g} (first error: {first})"
            )
        g = g[ok]
        scale = g["level"] if rel else 1.0
        err = (g["estimate"] - g["tau"]) / scale
        covered = (g["ci_low"] <= g["tau"]) & (g["tau"] <= g["ci_high"])
        has_ci = np.isfinite(g["ci_low"]) & np.isfinite(g["ci_high"])
        est_units = (g["estimate"] / scale).to_numpy()
        rows.append(
            {
                "n_treated": int(n),
                "effect": float(effect),
                # p <= alpha: exact for rank (placebo) p-values, e.g. 1/39 at 5%
                "power": float((g["pvalue"] <= ctx.alpha + 1e-12).mean())
                if len(g)
                else math.nan,
                "bias": float(err.mean()) if len(g) else math.nan,
                "rmse": float(np.sqrt((err**2).mean())) if len(g) else math.nan,
                "coverage": float(covered[has_ci].mean()) if has_ci.any() else math.nan,
                "sd": float(np.std(est_units, ddof=1)) if len(g) > 1 else math.nan,
                "n_sims": int(len(g)),
                "n_failed": failed,
                "inference": str(ctx.kwargs.get("inference", "estimator default")),
            }
        )
    if not rows or all(r["n_sims"] == 0 for r in rows):
        raise DataError(
            "Every simulated fit failed; first error: "
            f"{flat['error'].iloc[0] if len(flat) else 'no draws'}"
        )
    return pd.DataFrame(rows), draws, warnings


# ------------------------------------------------------------------ public
def _as_float_list(name: str, value: Any, caller: str) -> list[float]:
    values: list[Any] = [value] if np.isscalar(value) else list(value)
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise SpecError(
            f"The {name!r} parameter of {caller} must be a number or a list of numbers. "
            f"Got {value!r} instead."
        ) from exc
    if not out or not all(math.isfinite(v) for v in out):
        raise SpecError(f"The {name!r} parameter of {caller} must hold finite numbers.")
    return out


def simulate(
    data: pd.DataFrame | Panel,
    *,
    outcome: str | None = None,
    unit: str | None = None,
    time: str | None = None,
    treatment_time: int | Sequence[int],
    n_treated: int | Sequence[int],
    effect: float | Sequence[float],
    estimator: str | Callable[..., Any] = "did",
    n_sims: int = 1000,
    seed: int | np.random.Generator | None = None,
    assignment: Literal["random", "high_rate", "rising_rate"] = "random",
    effect_type: Literal["relative", "absolute"] = "relative",
    phase_in: int = 0,
    backend: Literal["serial", "joblib", "dask"] | None = None,
    n_jobs: int = 1,
    progress: bool | None = None,
    subgroup_share: float | None = None,
    denominator: str | None = None,
    count_model: Literal["poisson", "negbin"] = "poisson",
    dispersion: float = 0.0,
    cohort: str | None = None,
    alpha: float = 0.05,
    log_outcome: bool | None = None,
    **estimator_kwargs: Any,
) -> PowerResult:
    """Power, bias, RMSE and coverage by placebo simulation on a real or synthetic panel.

    Each draw picks ``n_treated`` placebo-treated units among the untreated units
    (at random, or favouring the top third by pre-period level ``"high_rate"`` or
    growth ``"rising_rate"``, mimicking selection of adopters), injects ``effect``
    into their outcome from ``treatment_time`` on, re-estimates and tests at level
    ``alpha``. The grid ``n_treated x effect`` shares the same draws.

    Parameters
    ----------
    data : DataFrame or Panel
        Balanced long panel (a :class:`~impact.panel.Panel` is used as is).
    outcome, unit, time : str, optional
        Column names when ``data`` is a DataFrame.
    treatment_time : int or sequence of int
        First treated period of the placebo units. With several periods the treated
        units are split as evenly as possible across them (staggered adoption).
    n_treated : int or sequence of int
        Number(s) of placebo-treated units.
    effect : float or sequence of float
        Effect size(s) injected: a proportion of the outcome for
        ``effect_type="relative"`` (``-0.05`` = a 5% cut) or outcome units for
        ``"absolute"``. Include 0 to see the size of the test.
    estimator : str or callable, default "did"
        ``"did"`` (with ``method=`` among the keyword arguments, default ``"cs"``),
        ``"2x2"``, ``"twfe"``, ``"cs"``, ``"sc"`` (vectorised synthetic control for
        one treated unit: pre-period outcome fit, ADH placebo test on the RMSPE
        ratio, or ``test="gap"`` on the mean post-period gap; see
        :mod:`impact.power._synth`), ``"synth"`` (re-fits ``impact.synth``),
        ``"matched_did"``, or a callable
        ``f(frame, *, outcome, unit, time, cohort, **estimator_kwargs)`` returning a
        :class:`~impact.results.Result` (``frame`` holds the placebo cohort in column
        ``"_cohort"``).
    n_sims : int, default 1000
        Placebo draws.
    seed : int, Generator or None
        Seed; one child Generator is spawned per draw.
    assignment : {"random", "high_rate", "rising_rate"}, default "random"
        Placebo assignment rule. The estimates follow the rule, but the placebo
        test's critical value (vectorised engine) always comes from random
        re-assignments of the same number of units in the same pool, as the
        permutation test an analyst runs on real data. Any bias that selection on
        the outcome causes therefore shows as a rejection rate above ``alpha`` at
        effect 0 and coverage below ``1 - alpha`` (reported in ``.warnings``).
    effect_type : {"relative", "absolute"}, default "relative"
        How ``effect`` modifies the outcome.
    phase_in : int, default 0
        Periods for the effect to reach full size (linear ramp).
    backend : {None, "serial", "joblib", "dask"}
        Parallel backend for re-fitted estimators (see :func:`impact.parallel.run_tasks`).
    n_jobs : int, default 1
        Parallel workers.
    progress : bool, optional
        Progress bar (default: on a terminal, never in CI).
    subgroup_share : float, optional
        Share (0, 1] of the denominator population in a subgroup. The outcome is
        then re-drawn every simulation as a rate from Poisson (or negative binomial)
        counts of the subgroup, ``count ~ Poisson(share * pop * rate / rate_scale)``,
        so smaller subgroups carry more count noise. Needs ``denominator=``.
    denominator : str, optional
        Population column (e.g. child population) for ``subgroup_share``.
    count_model : {"poisson", "negbin"}, default "poisson"
        Count model for subgroups; ``"negbin"`` uses variance ``mu + dispersion mu^2``.
    dispersion : float, default 0
        Negative binomial overdispersion.
    cohort : str, optional
        Column of the first treated period in ``data``: units actually treated are
        left out of the placebo pool.
    alpha : float, default 0.05
        Size of the tests.
    log_outcome : bool or None, default None
        Whether the outcome is a natural log. With ``effect_type="absolute"`` the
        effects are then log points, and the MDEs in the summary and verdicts are
        stated as log points and a fall of ``1 - exp(-mde)``. ``True`` with
        ``effect_type="relative"`` is refused (it would multiply the log). None: as
        for :func:`impact.did` (a log-like name is read as a log, with a warning).
    **estimator_kwargs
        Passed to the estimator (``method``, ``inference``, ``covariates``...).
        For the vectorised estimators ``inference`` may be ``"auto"`` (default: as
        ``impact.did``), ``"permutation"``/``"placebo"`` (reject when the estimate
        exceeds the ``1 - alpha`` quantile of the absolute no-effect estimates of
        random placebo assignments: the exact-size randomisation test of the
        design) or ``"analytic"``
        (the analytic SEs of ``impact.did``, computed for every draw at once:
        Welch for 2x2, CRV1 by unit for TWFE, the influence function with estimated
        cohort shares for CS; normal critical values).

    Returns
    -------
    PowerResult
        ``.table`` (power, bias, RMSE, coverage per n_treated x effect), ``.mde()``,
        ``.verdict()``, ``.plot()``.

    Notes
    -----
    Bias and RMSE are in the units of ``effect``: relative estimates are divided by
    the mean counterfactual outcome of the placebo-treated cells. The target of each
    draw is the mean injected effect over treated cells (the ATT).

    Re-fitted estimators are first fitted once on the first draw's assignment: an
    invalid option (:class:`~impact.errors.SpecError`) is raised before the
    simulation starts, and so is any other package error that the first three
    draws all hit.
    """
    caller = "impact.power.simulate"
    check_option(
        "assignment", assignment, ["random", "high_rate", "rising_rate"], caller
    )
    check_option("effect_type", effect_type, ["relative", "absolute"], caller)
    if log_outcome is True and effect_type == "relative":
        raise SpecError(
            f"{caller}: log_outcome=True needs effect_type='absolute' (effects in log "
            "points, e.g. log(0.95) for a 5% cut); 'relative' would multiply the log."
        )
    check_option("count_model", count_model, ["poisson", "negbin"], caller)
    check_option("backend", backend, [None, "serial", "joblib", "dask"], caller)
    alpha = check_alpha(alpha, caller)
    if not callable(estimator):
        check_option("estimator", estimator, list(_ESTIMATORS), caller)
    if (
        isinstance(n_sims, bool)
        or not isinstance(n_sims, (int, np.integer))
        or n_sims < 2
    ):
        raise SpecError(
            f"The 'n_sims' parameter of {caller} must be an integer >= 2. "
            f"Got {n_sims!r} instead."
        )
    check_draws("n_sims", int(n_sims), caller, minimum=2)
    if (
        isinstance(phase_in, bool)
        or not isinstance(phase_in, (int, np.integer))
        or phase_in < 0
    ):
        raise SpecError(
            f"The 'phase_in' parameter of {caller} must be an integer >= 0. "
            f"Got {phase_in!r} instead."
        )
    if subgroup_share is not None:
        share = float(subgroup_share)
        if not 0.0 < share <= 1.0:
            raise SpecError(
                f"The 'subgroup_share' parameter of {caller} must be in (0, 1]. "
                f"Got {subgroup_share!r} instead."
            )
        if not (math.isfinite(float(dispersion)) and float(dispersion) >= 0):
            raise SpecError(f"The 'dispersion' parameter of {caller} must be >= 0.")
    panel = as_panel(
        data,
        outcome=outcome,
        unit=unit,
        time=time,
        cohort=cohort,
        weights=denominator if subgroup_share is not None else None,
    )
    warnings = list(panel.warnings)
    pool = panel.never_treated
    if not pool.all():
        warnings.append(
            f"Placebo units are drawn among the {int(pool.sum())} never-treated units; "
            f"{int((~pool).sum())} treated unit(s) are left out."
        )
    Y = panel.Y[pool]
    units = panel.units[pool]
    periods = panel.periods
    n_units = Y.shape[0]
    pop: FloatArray | None = None
    if subgroup_share is not None:
        source = panel.denominator if panel.denominator is not None else panel.W
        if source is None:
            raise SpecError(
                f"{caller}: subgroup_share= needs denominator= (the population column "
                "from which subgroup counts are drawn)."
            )
        pop = np.asarray(source[pool], dtype=float)
        if not (np.isfinite(pop).all() and (pop > 0).all()):
            raise DataError(
                f"{caller}: the denominator must be positive and finite in every row "
                "to simulate subgroup counts."
            )
    times = sorted({int(t) for t in np.atleast_1d(np.asarray(treatment_time))})
    for t in times:
        if t not in set(periods.tolist()):
            raise SpecError(
                f"treatment_time={t} is not a period of the panel "
                f"({periods[0]}-{periods[-1]})."
            )
        if t <= periods[0]:
            raise SpecError(
                f"treatment_time={t} leaves no pre-period: the first period is "
                f"{periods[0]}. Choose a later treatment time."
            )
    n_list = sorted({int(n) for n in np.atleast_1d(np.asarray(n_treated))})
    for n in n_list:
        if n < 1 or n > n_units - 2:
            raise SpecError(
                f"n_treated={n} is not possible with {n_units} untreated units: it must "
                f"be between 1 and {n_units - 2} (two comparison units at least)."
            )
    effects = np.asarray(_as_float_list("effect", effect, caller))
    if effect_type == "relative" and (Y <= 0).any():
        raise DataError(
            f"effect_type='relative' multiplies the outcome {panel.outcome!r}, which "
            "has values <= 0 (a log or a change?): use effect_type='absolute' (on a log "
            "outcome an absolute effect of log(1 + x) is a relative effect x)."
        )

    method: str | None = None
    kwargs = dict(estimator_kwargs)
    if not callable(estimator):
        if estimator == "did":
            method = kwargs.pop("method", "cs")
        elif estimator in _LINEAR:
            method = str(estimator)
            if "method" in kwargs and kwargs["method"] != method:
                raise SpecError(
                    f"estimator={estimator!r} conflicts with method={kwargs['method']!r}."
                )
            kwargs.pop("method", None)
    fast = (
        not callable(estimator)
        and method in _LINEAR
        and all(
            (k in _NEUTRAL_DID_OPTIONS)
            or (
                k == "inference"
                and v in (None, "auto", "analytic", "permutation", "placebo")
            )
            or (k == "control" and v == "never")
            or (k == "anticipation" and v == 0)
            or (k in ("covariates", "cluster", "weights") and not v)
            for k, v in kwargs.items()
        )
    )
    if estimator == "sc":
        if len(times) > 1 or n_list != [1]:
            raise SpecError(
                "estimator='sc' (vectorised synthetic-control power) takes one treated "
                "unit and one treatment_time; use estimator='synth' (re-fitted) for "
                "several treated units."
            )
        if "test" in kwargs:
            check_option("test", kwargs["test"], ["ratio", "gap"], caller)
        extra = sorted(set(kwargs) - {"test"})
        if subgroup_share is not None or extra:
            raise SpecError(
                "estimator='sc' takes only test='ratio'|'gap' and no subgroup_share; "
                f"use estimator='synth' instead (got {extra or 'subgroup_share'})."
            )
    if method == "2x2" and len(times) > 1:
        raise SpecError(
            "The 2x2 DiD needs a single treatment_time; use method 'twfe' or 'cs' for "
            "staggered adoption."
        )
    ctx = _Context(
        Y=Y,
        pop=pop,
        units=units,
        periods=periods,
        unit=panel.unit,
        time=panel.time,
        outcome=panel.outcome,
        times=times,
        n_list=n_list,
        effects=effects,
        effect_type=effect_type,
        phase_in=int(phase_in),
        assignment=assignment,
        eligible=eligible_units(Y, periods, times[0], assignment),
        subgroup_share=None if subgroup_share is None else float(subgroup_share),
        rate_scale=float(getattr(panel, "rate_scale", 10_000.0)),
        count_model=count_model,
        dispersion=float(dispersion),
        alpha=alpha,
        estimator=estimator,
        method=method,
        kwargs={k: v for k, v in kwargs.items() if not (fast and k == "alpha")},
    )
    n_eligible = int(ctx.eligible.sum())
    if assignment != "random" and max(n_list) > n_eligible:
        warnings.append(
            f"assignment={assignment!r} favours the top third ({n_eligible} units); "
            f"with n_treated up to {max(n_list)} the rest are drawn at random from the "
            "other units."
        )
    gens = spawn_generators(seed, int(n_sims))
    if estimator == "sc":
        table, draws = _simulate_sc(ctx, gens, int(n_sims))
        engine = "vectorised"
    elif fast:
        table, draws = _simulate_linear(ctx, gens, int(n_sims))
        engine = "vectorised"
        if (table["inference"] == "placebo").any() and n_sims < 20 / alpha:
            warnings.append(
                f"The placebo critical value is the {1 - alpha:.0%} quantile of only "
                f"{n_sims} no-effect draws; use n_sims >= {int(20 / alpha)} for a "
                "stable test size."
            )
        analytic = table[table["inference"] == "analytic"]
        if (analytic["n_treated"] == 1).any():
            warnings.append(
                "With 1 treated unit the analytic SE has no treated-unit variance and "
                "over-rejects; use inference='placebo' (exact size)."
            )
    else:
        table, draws, extra = _simulate_generic(
            ctx, gens, backend=backend, n_jobs=n_jobs, progress=progress
        )
        warnings.extend(extra)
        engine = "re-fitted"
    warnings.extend(ctx.notes)
    if assignment != "random":
        note = selection_warning(table, assignment, alpha, effect_type)
        if note:
            warnings.append(note)
    name = (
        estimator
        if isinstance(estimator, str)
        else getattr(estimator, "__name__", "custom")
    )
    label = f"{name} ({method})" if estimator == "did" else str(name)
    if subgroup_share is not None:
        warnings.append(
            f"Outcome re-drawn from subgroup counts: share {subgroup_share:g} of "
            f"{denominator or 'the denominator'} ({count_model})."
        )
    scale, scale_warns = resolve_log_outcome(
        log_outcome, panel.outcome, panel.Y, "impact.power.simulate"
    )
    if scale and effect_type == "relative":
        scale_warns.append(
            f"Outcome {panel.outcome!r} is read as a log but effect_type='relative' "
            "multiplies it: a -5% effect then scales the log, not the level; use "
            "effect_type='absolute' with effects in log points (log(0.95) for a 5% cut)."
        )
    out = PowerResult(
        table=table,
        estimator_label=label,
        effect_type=effect_type,
        n_units=n_units,
        alpha=alpha,
        draws=draws,
        engine=engine,
        assignment=assignment,
        treatment_time=times,
        warnings=warnings + scale_warns,
        outcome=panel.outcome,
    )
    out.log_outcome = scale
    return out
