"""Design assessment of a fitted result: its minimum detectable effect and a verdict."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from impact._scale import log_like_values, mde_fall_fraction
from impact.errors import EstimationError, ImpactError, SpecError
from impact.power.results import (
    PowerResult,
    effect_phrase,
    mde_phrase,
    verdict_text,
)

__all__ = ["DesignAssessment", "assess"]


@dataclass(frozen=True)
class DesignAssessment:
    """What a design could detect, and the plain verdict printed with a result.

    Attributes
    ----------
    mde : float
        Minimum detectable effect at ``power`` in outcome units (for a
        :class:`PowerResult`: in the units of its effects).
    mde_relative : float or None
        The MDE as the relative size of a detectable fall of the outcome's level
        (:func:`impact._scale.mde_fall_fraction`): ``1 - exp(-mde)`` for a log
        outcome, ``mde / baseline`` for a level with a known positive baseline (the
        treated units' pre-period mean), else None.
    effect : float
        The effect judged by the verdict (default: the result's own estimate).
    power_at_effect : float
        Power of the design against ``effect``.
    power, alpha : float
        Target power and test size.
    n_treated, n_control : int
        Design size.
    method : str
        How the MDE was obtained.
    log_outcome : bool
        Whether the outcome was read as a natural log (``mde`` in log points).
    baseline : float or None
        The level the percentage of a level outcome's MDE refers to.
    verdict : str
        The plain-language line.
    """

    mde: float
    mde_relative: float | None
    effect: float
    power_at_effect: float
    power: float
    alpha: float
    n_treated: int
    n_control: int
    method: str
    verdict: str
    log_outcome: bool = False
    baseline: float | None = None

    def __str__(self) -> str:
        return self.verdict

    def to_dict(self) -> dict[str, Any]:
        """Return the assessment as a JSON-safe dict.

        Returns
        -------
        dict
            The fields.
        """
        from impact.results import jsonable

        out = jsonable(asdict(self))
        assert isinstance(out, dict)
        return out


def _log_verdict(
    *,
    n_treated: int,
    mde: float,
    effect: float,
    power: float,
    noun: str,
    power_at_effect: float,
    grid_max: float = math.nan,
) -> str:
    """Verdict for a log outcome: MDE and effect in log points and as % changes.

    A fall of ``m`` log points is a fall of ``1 - exp(-m)`` in the level of the
    outcome (:func:`impact._scale.mde_fall_fraction`); an effect ``e`` is a change
    of ``exp(e) - 1``.
    """
    return verdict_text(
        n_treated=n_treated,
        mde=mde,
        effect=effect,
        power=power,
        effect_type="absolute",
        noun=noun,
        power_at_effect=power_at_effect,
        grid_max=grid_max,
        mde_text=mde_phrase(mde, log_outcome=True),
        effect_text=effect_phrase(effect, log_outcome=True),
        grid_text=mde_phrase(grid_max, log_outcome=True),
    )


def _baseline(result: Any, log_outcome: bool | None = None) -> float | None:
    """Mean pre-treatment outcome of the treated units, if the result carries it.

    None for a log outcome, and for an outcome of unstated scale whose values look
    like a log (a log-point MDE divided by a mean of logs is meaningless).
    """
    if log_outcome:
        return None
    value = getattr(result, "baseline", None)
    if isinstance(value, (int, float, np.floating)) and math.isfinite(float(value)):
        return float(value)
    panel = _result_panel(result)
    if panel is None:
        return None
    Y = np.asarray(panel.Y, dtype=float)
    if log_outcome is None and log_like_values(Y):
        return None
    cohort = np.asarray(panel.cohort, dtype=float)
    treated = np.isfinite(cohort)
    if not treated.any():
        return None
    pre = np.asarray(panel.periods)[None, :] < cohort[treated][:, None]
    values = Y[treated][pre]
    if values.size == 0:
        return None
    level = float(values.mean())
    return level if level > 0 and (Y > 0).all() else None


def _result_panel(result: Any) -> Any:
    """The panel a result was fitted on, when it keeps one (duck-typed)."""
    panel = getattr(result, "panel", None)
    if panel is None:
        panel = getattr(result, "_panel", None)
    if panel is None:
        panel = _synth_panel(result)
    if panel is None or not all(hasattr(panel, a) for a in ("Y", "cohort", "periods")):
        return None
    return panel


def _synth_panel(result: Any) -> Any:
    """Treated units + donors of a SynthResult as a Panel (None if not available)."""
    design = getattr(result, "_design", None)
    fits = getattr(result, "fits", None)
    if design is None or not fits:
        return None
    try:
        from impact.panel import Panel

        units = list(dict.fromkeys([f.unit for f in fits] + list(fits[0].donors)))
        rows = [design.index_of(u) for u in units]
        cohort = np.full(len(units), np.inf)
        for f in fits:
            cohort[units.index(f.unit)] = float(f.treatment_time)
        return Panel.from_arrays(
            np.asarray(design.Y, dtype=float)[rows],
            cohort,
            units=np.asarray(units, dtype=object),
            periods=np.asarray(design.periods),
        )
    except (ImpactError, AttributeError, TypeError, ValueError):
        return None


def _simulated_proxy(
    result: Any,
    *,
    power: float,
    alpha: float,
    noun: str,
    effect: float | None,
    log_outcome: bool | None = False,
) -> DesignAssessment | None:
    """MDE by placebo simulation of a DiD on the result's comparison units.

    Used for results without a standard error (e.g. a synthetic control with
    placebo inference) that carry their panel: the same number of treated units and
    treatment time(s), a 2x2 (one cohort) or Callaway-Sant'Anna DiD as the linear
    proxy, 1,000 placebo draws with an exact-size placebo test.
    """
    from impact.power.simulation import simulate

    panel = _result_panel(result)
    if panel is None:
        return None
    cohort = np.asarray(panel.cohort, dtype=float)
    treated = np.isfinite(cohort)
    if not treated.any() or treated.all():
        return None
    times = sorted({int(c) for c in cohort[treated]})
    pool = panel.subset(units=panel.units[~treated])
    # a log outcome takes absolute effects in log points (already on a relative scale)
    relative = (
        bool((pool.Y > 0).all())
        and log_outcome is not True
        and _baseline(result, log_outcome) is not None
    )
    grid = np.concatenate([[0.0], np.geomspace(0.005, 2.0, 40)])
    if not relative and not log_outcome:
        grid = grid * float(np.std(pool.Y))
    single = int(treated.sum()) == 1 and len(times) == 1
    options: dict[str, Any] = (
        {"estimator": "sc", "test": "ratio"}
        if single and getattr(result, "estimator", "") == "synth"
        else {"estimator": "2x2" if len(times) == 1 else "cs", "inference": "placebo"}
    )
    sim = simulate(
        pool,
        treatment_time=times,
        n_treated=int(treated.sum()),
        effect=[float(v) for v in grid],
        effect_type="relative" if relative else "absolute",
        n_sims=1000,
        seed=0,
        alpha=alpha,
        **options,
    )
    n = int(treated.sum())
    mde = float(sim.mde(power).loc[n])
    base = _baseline(result) if relative else None
    estimate = float(getattr(result, "estimate", math.nan))
    if effect is not None:
        target = float(effect)
    elif relative and base:
        target = estimate / base
    else:
        target = estimate
    if log_outcome:
        verdict = _log_verdict(
            n_treated=n,
            mde=mde,
            effect=target,
            power=power,
            noun=noun,
            power_at_effect=sim.power_at(target, n),
            grid_max=float(grid.max()),
        )
    elif relative and base:
        verdict = verdict_text(
            n_treated=n,
            mde=mde,
            effect=target,
            power=power,
            effect_type="relative",
            noun=noun,
            power_at_effect=sim.power_at(target, n),
            grid_max=float(grid.max()),
            mde_text=mde_phrase(mde * base, baseline=base),
            effect_text=effect_phrase(target * base, baseline=base),
        )
    else:
        verdict = sim.verdict(target, n_treated=n, power=power, noun=noun)
    return DesignAssessment(
        mde=mde * base if (relative and base) else mde,
        mde_relative=mde
        if relative
        else mde_fall_fraction(mde, log_outcome=bool(log_outcome)),
        effect=target,
        power_at_effect=sim.power_at(target, n),
        power=power,
        alpha=alpha,
        n_treated=n,
        n_control=int(getattr(result, "n_control", (~treated).sum())),
        method=(
            "simulation proxy: placebo "
            + (
                "synthetic control (RMSPE-ratio test)"
                if options["estimator"] == "sc"
                else "DiD"
            )
            + " on the comparison units (1,000 draws)"
        ),
        verdict=verdict,
        log_outcome=bool(log_outcome),
        baseline=base if relative else None,
    )


def assess(
    result: Any,
    *,
    effect: float | None = None,
    power: float = 0.8,
    alpha: float | None = None,
    noun: str = "units",
    log_outcome: bool | None = None,
) -> DesignAssessment:
    """The minimum detectable effect of the design a fitted result used, and a verdict.

    For a result with a finite standard error the MDE is analytic,
    ``(z_{1-alpha/2} + z_power) * se`` (the design's own precision, Bloom 1995),
    and the power against ``effect`` is the normal-approximation power. When the
    result carries its panel (attribute ``panel``) or a ``baseline`` with a positive
    outcome, the MDE is also given as a proportion of the treated units'
    pre-treatment mean, and the verdict is in percent. For a :class:`PowerResult`
    the simulated MDE is used. A permutation-only result (synthetic control) with
    ``J0`` comparison units cannot reach a p-value below ``1 / (J0 + 1)``; that is
    reported when it exceeds ``alpha``.

    With ``log_outcome=True`` the outcome is read as a natural log: the MDE is in log
    points and its relative size is the fall ``1 - exp(-mde)`` (not the MDE divided
    by the mean of the log outcome, which is what reading a log as a level would
    give). Every verdict states the MDE in outcome units and as that percentage
    (:func:`impact.power.results.mde_phrase`).

    Parameters
    ----------
    result : Result
        A fitted result (any estimator) or a :class:`PowerResult`.
    effect : float, optional
        The effect to judge, in outcome units (relative to the baseline for a
        relative verdict it is converted automatically); default: the result's own
        estimate (for a PowerResult: the smallest non-zero simulated effect).
    power : float, default 0.8
        Target power.
    alpha : float, optional
        Test size; default: the result's ``alpha``.
    noun : str, default "units"
        Name of the units in the verdict (e.g. ``"authorities"``).
    log_outcome : bool or None, default None
        The outcome is ``log(y)`` (for a :class:`PowerResult`: simulated with absolute
        effects on a log outcome). ``mde`` and ``effect`` are then in log points,
        ``mde_relative = 1 - exp(-mde)`` and the verdict states both. Use
        ``effect=math.log1p(-0.05)`` to judge a 5% cut. None (default): the
        result's own ``log_outcome`` (set by the estimator's ``log_outcome=``); when
        that is None too and the outcome's values look like a log, no percentage is
        given.

    Returns
    -------
    DesignAssessment
        ``mde``, ``mde_relative``, ``power_at_effect``, ``verdict`` (``str()`` of it).
    """
    if not 0.0 < float(power) < 1.0:
        raise SpecError(
            f"The 'power' parameter of impact.power.assess must be strictly between 0 "
            f"and 1. Got {power!r} instead."
        )
    if log_outcome is not None and not isinstance(log_outcome, (bool, np.bool_)):
        raise SpecError(
            "The 'log_outcome' parameter of impact.power.assess must be True, False "
            f"or None. Got {log_outcome!r} instead."
        )
    # the result's own scale (its estimator's log_outcome=, or the study runner)
    # is used when not given here, so result.design() and summary() are right too
    scale: bool | None = (
        bool(log_outcome)
        if log_outcome is not None
        else getattr(result, "log_outcome", None)
    )
    if scale is not None:
        scale = bool(scale)
    log_outcome = scale is True
    a = float(alpha if alpha is not None else getattr(result, "alpha", 0.05))
    if isinstance(result, PowerResult):
        n = int(result.n_treated)
        mde = float(result.mde(power).loc[n])
        if effect is None:
            nonzero = result.table["effect"].abs()
            nonzero = nonzero[nonzero > 0]
            effect = float(nonzero.min()) if len(nonzero) else mde
        if log_outcome and result.effect_type == "relative":
            raise SpecError(
                "impact.power.assess: log_outcome=True needs a PowerResult simulated "
                "with effect_type='absolute' (effects in log points); this one "
                "multiplied the outcome (effect_type='relative')."
            )
        if log_outcome:
            verdict = _log_verdict(
                n_treated=n,
                mde=mde,
                effect=float(effect),
                power=power,
                noun=noun,
                power_at_effect=result.power_at(float(effect), n),
                grid_max=float(result.table["effect"].abs().max()),
            )
        else:
            verdict = result.verdict(float(effect), n_treated=n, power=power, noun=noun)
        if result.effect_type == "relative":
            rel: float | None = mde
        else:
            rel = mde_fall_fraction(mde, log_outcome=log_outcome)
        return DesignAssessment(
            mde=mde,
            mde_relative=rel,
            effect=float(effect),
            power_at_effect=result.power_at(float(effect), n),
            power=float(power),
            alpha=a,
            n_treated=n,
            n_control=int(result.n_control),
            method=f"simulation ({result.engine}, {int(result.table['n_sims'].max())} draws)",
            verdict=verdict,
            log_outcome=log_outcome,
        )
    for attr in ("estimate", "se", "n_treated", "n_control"):
        if not hasattr(result, attr):
            raise SpecError(
                f"impact.power.assess needs a fitted result with .{attr}; got "
                f"{type(result).__name__}."
            )
    n_t, n_c = int(result.n_treated), int(result.n_control)
    se = float(result.se)
    estimate = float(result.estimate)
    z_a = float(stats.norm.ppf(1 - a / 2))
    if not (math.isfinite(se) and se > 0):
        floor = 1.0 / (n_c + 1)
        if floor > a:
            text = (
                f"With {n_t} treated and {n_c} comparison {noun} a placebo "
                f"p-value cannot fall below 1/{n_c + 1} = {floor:.3f} > {a:g}: no "
                "effect of any size can be declared significant by this design."
            )
            return DesignAssessment(
                mde=math.inf,
                mde_relative=None,
                effect=float(estimate if effect is None else effect),
                power_at_effect=0.0,
                power=float(power),
                alpha=a,
                n_treated=n_t,
                n_control=n_c,
                method="placebo p-value floor 1/(J0+1)",
                verdict=text,
                log_outcome=log_outcome,
            )
        proxy = _simulated_proxy(
            result,
            power=float(power),
            alpha=a,
            noun=noun,
            effect=effect,
            log_outcome=scale,
        )
        if proxy is not None:
            return proxy
        raise EstimationError(
            f"impact.power.assess: the result has no finite standard error (se={se}); "
            "run impact.power.simulate with the same estimator on the comparison "
            "units to find the design's MDE."
        )
    mde = (z_a + float(stats.norm.ppf(power))) * se
    target = estimate if effect is None else float(effect)
    shift = abs(target) / se
    pw = float(stats.norm.sf(z_a - shift) + stats.norm.cdf(-z_a - shift))
    base = _baseline(result, scale)
    if log_outcome:
        rel_mde: float | None = mde_fall_fraction(mde, log_outcome=True)
        verdict = _log_verdict(
            n_treated=n_t,
            mde=mde,
            effect=target,
            power=power,
            noun=noun,
            power_at_effect=pw,
        )
    else:
        rel_mde = mde_fall_fraction(mde, log_outcome=False, baseline=base)
        verdict = verdict_text(
            n_treated=n_t,
            mde=mde,
            effect=target,
            power=power,
            effect_type="absolute",
            noun=noun,
            power_at_effect=pw,
            mde_text=mde_phrase(mde, baseline=base),
            effect_text=effect_phrase(target, baseline=base),
        )
    return DesignAssessment(
        mde=float(mde),
        mde_relative=rel_mde,
        effect=target,
        power_at_effect=pw,
        power=float(power),
        alpha=a,
        n_treated=n_t,
        n_control=n_c,
        method="analytic: (z_{1-alpha/2} + z_power) x standard error"
        + (" (log points)" if log_outcome else ""),
        verdict=verdict,
        log_outcome=log_outcome,
        baseline=base,
    )
