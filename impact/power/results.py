"""Result of a power simulation: power curves, minimum detectable effects, verdicts."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact._scale import mde_fall_fraction
from impact.errors import SpecError
from impact.plots import axes_or_new
from impact.results import Result, _fmt

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "PowerResult",
    "effect_phrase",
    "format_effect",
    "interpolate_mde",
    "mde_phrase",
]


def format_effect(value: float, effect_type: str) -> str:
    """Format an effect size for plain-language text (``0.182`` -> ``"18%"``).

    Parameters
    ----------
    value : float
        Effect size (a proportion when ``effect_type`` is ``"relative"``).
    effect_type : {"relative", "absolute"}
        Units of ``value``.

    Returns
    -------
    str
        The formatted effect.
    """
    if not math.isfinite(value):
        return "n/a"
    if effect_type == "relative":
        pct = 100.0 * abs(value)
        text = f"{pct:.0f}" if pct >= 10 else f"{pct:.1f}".rstrip("0").rstrip(".")
        return f"{text}%"
    return f"{abs(value):.3g}"


def mde_phrase(
    mde: float,
    *,
    effect_type: str = "absolute",
    log_outcome: bool | None = None,
    baseline: float | None = None,
) -> str:
    """Write a minimum detectable effect in outcome units and as a percentage.

    The one convention of every verdict and summary (:mod:`impact._scale`): a log
    outcome's MDE ``m`` is ``m`` log points and a fall of ``1 - exp(-m)`` in the level;
    a level outcome's MDE is in outcome units and, when the baseline (treated units'
    pre-period mean) is known, a percentage of it.

    Parameters
    ----------
    mde : float
        The MDE (a proportion when ``effect_type="relative"``).
    effect_type : {"absolute", "relative"}, default "absolute"
        Units of ``mde``.
    log_outcome : bool or None
        Whether the outcome is a natural log (absolute effects only).
    baseline : float, optional
        Positive baseline of a level outcome.

    Returns
    -------
    str
        E.g. ``"0.205 log points (a fall of 19%)"`` or ``"6.5 (10% of the baseline
        65)"``.
    """
    if not math.isfinite(mde):
        return "n/a"
    if effect_type == "relative":
        return format_effect(mde, "relative")
    fall = mde_fall_fraction(mde, log_outcome=log_outcome, baseline=baseline)
    if log_outcome:
        assert fall is not None
        return (
            f"{abs(mde):.3g} log points (a fall of {format_effect(fall, 'relative')})"
        )
    if fall is not None and baseline is not None:
        return (
            f"{abs(mde):.3g} ({format_effect(fall, 'relative')} of the baseline "
            f"{baseline:.3g})"
        )
    return f"{abs(mde):.3g}"


def effect_phrase(
    effect: float,
    *,
    effect_type: str = "absolute",
    log_outcome: bool | None = None,
    baseline: float | None = None,
) -> str:
    """Write an effect in outcome units and as a signed percentage change.

    Parameters
    ----------
    effect : float
        The effect (log points for a log outcome).
    effect_type, log_outcome, baseline
        As for :func:`mde_phrase`.

    Returns
    -------
    str
        E.g. ``"-0.05 log points (-4.9%)"`` or ``"-3.6 (-5.5%)"``.
    """
    if not math.isfinite(effect):
        return "n/a"
    if effect_type == "relative":
        return format_effect(effect, "relative")

    def pct(x: float) -> str:
        return ("-" if x < 0 else "+") + format_effect(x, "relative")

    if log_outcome:
        return f"{effect:+.3g} log points ({pct(math.expm1(effect))})"
    if baseline is not None and math.isfinite(baseline) and baseline > 0:
        return f"{effect:+.3g} ({pct(effect / baseline)})"
    return f"{effect:+.3g}"


def interpolate_mde(
    magnitudes: np.ndarray, powers: np.ndarray, target: float, alpha: float
) -> float:
    """Smallest effect magnitude whose power reaches ``target`` (linear interpolation).

    The power at effect 0 is taken as ``alpha`` when the grid has no zero effect.
    Returns NaN when no grid point reaches the target, and when the rejection rate at
    effect 0 already reaches it (the test is then invalid, not powerful).

    Parameters
    ----------
    magnitudes : ndarray
        Effect magnitudes (>= 0).
    powers : ndarray
        Power at each magnitude.
    target : float
        Power to reach.
    alpha : float
        Size of the test (power at zero effect).

    Returns
    -------
    float
        The interpolated minimum detectable effect (a magnitude).
    """
    frame = (
        pd.DataFrame({"m": np.abs(magnitudes), "p": powers}).groupby("m")["p"].mean()
    )
    if 0.0 not in frame.index:
        frame = pd.concat([frame, pd.Series({0.0: float(alpha)})])
    frame = frame.sort_index()
    m = frame.index.to_numpy(dtype=float)
    p = frame.to_numpy(dtype=float)
    above = np.nonzero(p >= target)[0]
    if len(above) == 0:
        return math.nan
    j = int(above[0])
    if j == 0:
        # Rejecting "often enough" with no effect at all means the test is not valid
        # (e.g. adopters selected on rising rates): no effect size is "detectable".
        return math.nan if m[0] == 0.0 else float(m[0])
    lo_m, hi_m, lo_p, hi_p = m[j - 1], m[j], p[j - 1], p[j]
    if hi_p == lo_p:
        return float(hi_m)
    return float(lo_m + (target - lo_p) * (hi_m - lo_m) / (hi_p - lo_p))


class PowerResult(Result):
    """Outcome of :func:`impact.power.simulate`.

    The headline ``estimate`` is the minimum detectable effect at 80% power for the
    smallest number of treated units simulated (``n_treated``), in the units of the
    simulated effects (a proportion for relative effects); ``se``, ``ci`` and
    ``pvalue`` are NaN because the quantity is a property of the design, not an
    estimate.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per ``n_treated`` x ``effect``: ``power``, ``bias``, ``rmse``,
        ``coverage``, ``sd`` (of the estimates), ``n_sims``, ``n_failed``,
        ``inference``.
    effect_type : str
        ``"relative"`` or ``"absolute"``.
    draws : dict
        Per ``n_treated`` (as str), the (n_sims, n_effects) estimates of the
        vectorised engine, in effect units (empty for re-fitted estimators).
    """

    def __init__(
        self,
        *,
        table: pd.DataFrame,
        estimator_label: str,
        effect_type: str,
        n_units: int,
        alpha: float = 0.05,
        draws: dict[str, Any] | None = None,
        engine: str = "vectorised",
        assignment: str = "random",
        treatment_time: list[int] | None = None,
        warnings: list[str] | None = None,
        outcome: str = "outcome",
    ) -> None:
        self.table = table.reset_index(drop=True)
        self.effect_type = effect_type
        self.n_units = int(n_units)
        self.engine = engine
        self.assignment = assignment
        self.treatment_time = list(treatment_time or [])
        self.outcome = outcome
        self.draws = dict(draws or {})
        self.estimator_label = estimator_label
        n_first = int(self.table["n_treated"].min())
        self._alpha_test = float(alpha)
        mde = self.mde(0.8)
        headline = float(mde.loc[n_first])
        notes = list(warnings or [])
        if not math.isfinite(headline):
            largest = format_effect(
                float(self.table["effect"].abs().max()), effect_type
            )
            notes.append(
                f"80% power is not reached with {n_first} treated units for any effect "
                f"up to {largest}; extend the effect grid to locate the MDE."
            )
        super().__init__(
            estimator=f"power: {estimator_label}",
            estimate=headline,
            se=math.nan,
            ci=(math.nan, math.nan),
            pvalue=math.nan,
            n_treated=n_first,
            n_control=self.n_units - n_first,
            alpha=alpha,
            warnings=notes,
            label="MDE (80% power)",
            title=f"Power simulation: {estimator_label}",
        )

    # ----------------------------------------------------------- quantities
    def mde(self, power: float = 0.8) -> pd.Series:
        """Minimum detectable effect at ``power`` for each number of treated units.

        Linear interpolation of the simulated power curve over effect magnitudes
        (power ``alpha`` at zero effect when 0 is not in the grid); NaN when the grid
        never reaches ``power``.

        Parameters
        ----------
        power : float, default 0.8
            Target power.

        Returns
        -------
        pandas.Series
            Indexed by ``n_treated``; magnitudes in the units of ``effect``.
        """
        if not 0.0 < float(power) < 1.0:
            raise SpecError(
                f"The 'power' parameter of PowerResult.mde must be strictly between 0 "
                f"and 1. Got {power!r} instead."
            )
        out = {}
        for n in sorted(int(v) for v in self.table["n_treated"].unique()):
            g = self.table[self.table["n_treated"] == n]
            out[n] = interpolate_mde(
                g["effect"].to_numpy(float),
                g["power"].to_numpy(float),
                float(power),
                self._alpha_test,
            )
        series = pd.Series(out, name="mde", dtype=float)
        series.index.name = "n_treated"
        return series

    def power_at(self, effect: float, n_treated: int | None = None) -> float:
        """Interpolated power at an effect size for one number of treated units.

        Parameters
        ----------
        effect : float
            Effect size (units of the simulated effects).
        n_treated : int, optional
            Defaults to the smallest simulated.

        Returns
        -------
        float
            The power (NaN beyond the simulated grid).
        """
        n = self._pick_n(n_treated)
        g = self.table[self.table["n_treated"] == n]
        frame = g.assign(m=g["effect"].abs()).groupby("m")["power"].mean()
        if 0.0 not in frame.index:
            frame = pd.concat([frame, pd.Series({0.0: self._alpha_test})])
        frame = frame.sort_index()
        x = abs(float(effect))
        if x > float(frame.index.max()):
            return math.nan
        return float(np.interp(x, frame.index.to_numpy(float), frame.to_numpy(float)))

    def _pick_n(self, n_treated: int | None) -> int:
        available = sorted(int(v) for v in self.table["n_treated"].unique())
        if n_treated is None:
            return available[0]
        if int(n_treated) not in available:
            raise SpecError(
                f"n_treated={n_treated} was not simulated; available: {available}."
            )
        return int(n_treated)

    def verdict(
        self,
        effect: float,
        *,
        n_treated: int | None = None,
        power: float = 0.8,
        noun: str = "units",
    ) -> str:
        """Plain-language verdict: can this design detect ``effect``?

        Parameters
        ----------
        effect : float
            The effect of interest (units of the simulated effects, e.g. ``-0.05``).
        n_treated : int, optional
            Number of treated units (default: the smallest simulated).
        power : float, default 0.8
            Target power.
        noun : str, default "units"
            What the units are called (e.g. ``"authorities"``).

        Returns
        -------
        str
            E.g. "With 5 treated authorities this design can only detect effects of
            about 18% or more at 80% power; an effect of 5% cannot be distinguished
            from noise."
        """
        n = self._pick_n(n_treated)
        m = float(self.mde(power).loc[n])
        grid_max = float(self.table["effect"].abs().max())
        log = self._log_scale()
        return verdict_text(
            n_treated=n,
            mde=m,
            effect=float(effect),
            power=power,
            effect_type=self.effect_type,
            noun=noun,
            power_at_effect=self.power_at(effect, n),
            grid_max=grid_max,
            mde_text=mde_phrase(m, log_outcome=True) if log else None,
            effect_text=effect_phrase(float(effect), log_outcome=True) if log else None,
            grid_text=mde_phrase(grid_max, log_outcome=True) if log else None,
        )

    def _log_scale(self) -> bool:
        """Effects in log points of a log outcome (``log_outcome`` set, absolute)."""
        return self.log_outcome is True and self.effect_type == "absolute"

    # ------------------------------------------------------------- protocol
    def _frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _extra_dict(self) -> dict[str, Any]:
        mde = self.mde(0.8)
        return {
            "table": self.table,
            "mde": {str(k): v for k, v in mde.items()},
            "effect_type": self.effect_type,
            "engine": self.engine,
            "assignment": self.assignment,
            "treatment_time": self.treatment_time,
            "n_units": self.n_units,
        }

    def summary(self) -> str:
        """Return the text summary: the power table, the MDEs and a verdict.

        Returns
        -------
        str
            A plain-text report.
        """
        rule = "=" * 78
        units = (
            "proportion of the outcome"
            if self.effect_type == "relative"
            else "outcome units"
        )
        n_sims = int(self.table["n_sims"].max())
        lines = [
            self.title,
            rule,
            f"Outcome: {self.outcome}    Effects: {self.effect_type} ({units})",
            f"Placebo draws: {n_sims} ({self.engine})    Assignment: {self.assignment} "
            f"among {self.n_units} untreated units    Treatment from: "
            f"{', '.join(str(t) for t in self.treatment_time)}",
            "-" * 78,
        ]
        cols = ["n_treated", "effect", "power", "bias", "rmse", "coverage", "inference"]
        lines.append(self.table[cols].to_string(index=False, float_format=_fmt))
        lines.append("-" * 78)
        lines.append("Minimum detectable effect at 80% power:")
        for n, v in self.mde(0.8).items():
            shown = (
                mde_phrase(
                    v, effect_type=self.effect_type, log_outcome=self._log_scale()
                )
                if math.isfinite(v)
                else "not reached"
            )
            lines.append(f"  {n:>4} treated: {shown}")
        smallest = self.table["effect"].abs()
        smallest = smallest[smallest > 0]
        if len(smallest):
            lines.append("Verdict: " + self.verdict(float(smallest.min())))
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(f"  - {w}" for w in self.warnings)
        lines.append(rule)
        return "\n".join(lines)

    def plot(
        self, ax: Axes | None = None, kind: str | None = None, **kwargs: Any
    ) -> Axes:
        """Plot the power curves (``kind="power"``) or the MDE by design (``"mde"``).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when None.
        kind : {"power", "mde"}, optional
            Which figure (default ``"power"``).
        **kwargs
            ``units`` (units of the outcome, e.g. ``"per 10,000 children"``, used for
            absolute effects) and ``title``, ``xlabel``, ``ylabel`` overrides.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        ax = axes_or_new(ax)
        return self._plot(ax, kind, **kwargs)

    def _plot(self, ax: Axes, kind: str | None, **kwargs: Any) -> Axes:
        kind = kind or "power"
        if kind not in ("power", "mde"):
            raise SpecError(
                "The 'kind' parameter of PowerResult.plot must be one of "
                f"{{'power', 'mde'}}. Got {kind!r} instead."
            )
        extra = sorted(set(kwargs) - {"units", "title", "xlabel", "ylabel"})
        if extra:
            raise SpecError(
                f"PowerResult.plot got unexpected keyword(s) {extra}; it accepts "
                "units=, title=, xlabel= and ylabel=."
            )
        units = kwargs.get("units")
        rel = self.effect_type == "relative"
        scale = 100.0 if rel else 1.0
        unit_label = (
            "% of the outcome" if rel else (units or f"units of {self.outcome}")
        )
        if kind == "power":
            for n, g in self.table.groupby("n_treated", sort=True):
                g = g.sort_values("effect")
                ax.plot(
                    g["effect"] * scale, g["power"], marker="o", label=f"{n} treated"
                )
            ax.axhline(0.8, color="grey", ls="--", lw=0.8, label="80% power")
            ax.axhline(
                self._alpha_test,
                color="grey",
                ls=":",
                lw=0.8,
                label=f"test size ({self._alpha_test:.0%})",
            )
            ax.set_ylim(0, 1.02)
            from matplotlib.ticker import PercentFormatter

            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
            ax.set_xlabel(kwargs.get("xlabel") or f"Injected effect ({unit_label})")
            ax.set_ylabel(
                kwargs.get("ylabel")
                or "Power (% of simulated draws rejecting no effect)"
            )
            ax.set_title(
                kwargs.get("title")
                or f"Power by true effect size: {self.estimator_label}, "
                f"outcome {self.outcome}"
            )
            ax.legend(frameon=False, fontsize="small", loc="best")
            return ax
        mde = self.mde(0.8) * scale
        ax.plot(mde.index, mde.to_numpy(), marker="o", label="MDE at 80% power")
        ax.set_xticks(list(mde.index))
        ax.set_xlabel(kwargs.get("xlabel") or "Number of treated units")
        ax.set_ylabel(
            kwargs.get("ylabel") or f"Minimum detectable effect ({unit_label})"
        )
        ax.set_title(
            kwargs.get("title")
            or f"MDE at 80% power: {self.estimator_label}, outcome {self.outcome}"
        )
        if not np.isfinite(mde.to_numpy(dtype=float)).any():
            ax.text(
                0.5,
                0.5,
                "80% power not reached within the effect grid",
                transform=ax.transAxes,
                ha="center",
            )
        ax.set_ylim(bottom=0)
        return ax


def verdict_text(
    *,
    n_treated: int,
    mde: float,
    effect: float,
    power: float,
    effect_type: str,
    noun: str = "units",
    power_at_effect: float = math.nan,
    grid_max: float = math.nan,
    mde_text: str | None = None,
    effect_text: str | None = None,
    grid_text: str | None = None,
) -> str:
    """Build the plain-language verdict line (shared with :func:`impact.power.assess`).

    Parameters
    ----------
    n_treated : int
        Treated units.
    mde : float
        Minimum detectable effect (NaN = not reached within ``grid_max``).
    effect : float
        The effect of interest.
    power : float
        Target power.
    effect_type : {"relative", "absolute"}
        Units of ``mde`` and ``effect``.
    noun : str, default "units"
        Name of the units.
    power_at_effect : float, optional
        Power at ``effect`` if known.
    grid_max : float, optional
        Largest effect examined (used when ``mde`` is NaN).
    mde_text, effect_text, grid_text : str, optional
        How to write the MDE, the effect and ``grid_max`` (default
        :func:`format_effect`), e.g. ``"0.205 log points (a fall of 19%)"`` from
        :func:`mde_phrase`.

    Returns
    -------
    str
        The verdict.
    """
    pw = f"{power:.0%}"
    e_txt = effect_text or format_effect(effect, effect_type)
    if n_treated == 1:  # "1 treated unit", "1 treated authority"
        noun = noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s")
    head = f"With {n_treated} treated {noun}"
    if not math.isfinite(mde):
        top = grid_text or format_effect(grid_max, effect_type)
        return (
            f"{head} this design does not reach {pw} power for any effect up to {top}; "
            f"an effect of {e_txt} cannot be distinguished from noise."
        )
    m_txt = mde_text or format_effect(mde, effect_type)
    if abs(effect) < mde:
        if math.isfinite(power_at_effect) and power_at_effect >= 0.5:
            # A true effect this size is detected more often than not, but not reliably.
            return (
                f"{head} this design can only detect effects of about {m_txt} or more "
                f"at {pw} power; an effect of {e_txt} would be detected only about "
                f"{power_at_effect:.0%} of the time."
            )
        return (
            f"{head} this design can only detect effects of about {m_txt} or more at "
            f"{pw} power; an effect of {e_txt} cannot be distinguished from noise."
        )
    extra = (
        f" (power about {power_at_effect:.0%})"
        if math.isfinite(power_at_effect)
        else ""
    )
    return (
        f"{head} this design can detect effects of about {m_txt} or more at {pw} "
        f"power, so an effect of {e_txt} is within reach{extra}."
    )
