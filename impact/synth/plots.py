"""Synthetic-control figures: trajectory, gap, placebo spaghetti, leave-one-out band.

Every function takes ``ax=None`` (a new figure is made) and returns the Axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from impact.plots import axes_or_new, finish_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.synth.results import PlaceboTest, SynthResult

__all__ = ["gap_plot", "loo_plot", "placebo_plot", "trajectory_plot", "weights_plot"]

_TREATED = "#1b4f72"
_SYNTH = "#c0392b"
_GREY = "#b3b3b3"


_CALENDAR = {
    "year": "Year",
    "yr": "Year",
    "quarter": "Quarter",
    "month": "Month",
    "week": "Week",
    "day": "Day",
    "period": "Period",
    "time": "Period",
    "t": "Period",
}


def _time_label(name: Any) -> str:
    """Readable calendar-axis label from the time column name ("year" -> "Year")."""
    text = str(name or "").strip()
    if not text:
        return "Period"
    return _CALENDAR.get(text.lower(), f"Period ({text})")


def _level_label(outcome: str, units: str | None) -> str:
    return f"{outcome} ({units})" if units else outcome


def _gap_label(outcome: str | None, units: str | None) -> str:
    what = f"Gap in {outcome}" if outcome else "Gap"
    return f"{what} ({units})" if units else f"{what} (treated \u2212 synthetic)"


def _unit_name(result: SynthResult) -> str:
    units = [str(f.unit) for f in result.fits]
    if len(units) == 1:
        return units[0]
    return f"{len(units)} treated units"


def _mark_treatment(ax: Axes, t0: Any) -> None:
    ax.axvline(t0, color="grey", ls=":", lw=1)
    ax.annotate(
        "treatment",
        xy=(t0, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(3, -12),
        textcoords="offset points",
        fontsize=8,
        color="grey",
    )


def trajectory_plot(
    result: SynthResult,
    ax: Axes | None = None,
    *,
    units: str | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Treated outcome against its synthetic control (one panel per treated unit).

    With ``inference="prediction"`` the post-period prediction intervals for the
    untreated outcome (``result.intervals``) are drawn as a band around the synthetic
    path.

    Parameters
    ----------
    result : SynthResult
        A fitted synthetic control.
    ax : matplotlib Axes, optional
        Where to draw.
    units : str, optional
        Units of the outcome (e.g. ``"packs per capita"``), added to the labels.
    title, xlabel, ylabel : str, optional
        Override the derived title and axis labels.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = axes_or_new(ax)
    d = result._design
    if len(result.fits) > 1:
        return _mean_trajectory_plot(
            result, ax, units=units, title=title, xlabel=xlabel, ylabel=ylabel
        )
    single = True
    for k, f in enumerate(result.fits[:8]):
        c_t = _TREATED if single else f"C{k % 10}"
        c_s = _SYNTH if single else f"C{k % 10}"
        lab = "" if single else f" ({f.unit})"
        ax.plot(d.periods, f.y1, color=c_t, lw=2, label=f"{f.unit} (actual)")
        ax.plot(
            d.periods,
            f.synthetic,
            color=c_s,
            ls="--",
            lw=1.5,
            label=f"synthetic {f.unit}" if single else f"synthetic{lab}",
        )
    iv = getattr(result, "intervals", None)
    if iv is not None:
        ax.fill_between(
            iv["time"].to_numpy(),
            iv["synthetic_low"].to_numpy(),
            iv["synthetic_high"].to_numpy(),
            color=_SYNTH,
            alpha=0.18,
            lw=0,
            label=_band_label(result),
        )
    for t0 in sorted({f.treatment_time for f in result.fits[:8]}):
        _mark_treatment(ax, t0)
    if len(result.fits) > 8:
        ax.annotate(
            f"first 8 of {len(result.fits)} treated units shown",
            xy=(0.01, 0.01),
            xycoords="axes fraction",
            fontsize=8,
        )
    name = _unit_name(result)
    return finish_axes(
        ax,
        title or f"{d.outcome}: {name} and its synthetic control",
        xlabel or _time_label(_time_name(result)),
        ylabel or _level_label(d.outcome, units),
    )


def _band_label(result: SynthResult) -> str:
    level = 1 - result.alpha
    iv = result.intervals
    if iv is not None and iv.attrs.get("e_method") == "placebo":
        return f"prediction interval (donor placebos, {level:.0%})"
    return f"prediction interval (CFT, \u2265{level:.0%})"


def _mean_trajectory_plot(
    result: SynthResult,
    ax: Axes,
    *,
    units: str | None,
    title: str | None,
    xlabel: str | None,
    ylabel: str | None,
) -> Axes:
    """Several treated units: mean actual and mean synthetic outcome by event time."""
    d = result._design
    periods = np.asarray(d.periods, dtype=float)
    event = np.concatenate([periods - float(f.treatment_time) for f in result.fits])
    actual = np.concatenate([np.asarray(f.y1, dtype=float) for f in result.fits])
    synthetic = np.concatenate(
        [np.asarray(f.synthetic, dtype=float) for f in result.fits]
    )
    times, where = np.unique(event, return_inverse=True)
    count = np.bincount(where)
    mean_actual = np.bincount(where, actual) / count
    mean_synthetic = np.bincount(where, synthetic) / count
    n = len(result.fits)
    common = count == n  # every unit observed: no change of composition along the line
    if common.sum() >= 2:
        times, mean_actual, mean_synthetic = (
            times[common],
            mean_actual[common],
            mean_synthetic[common],
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.plot(
        times, mean_actual, color=_TREATED, lw=2, label=f"mean of {n} treated units"
    )
    ax.plot(
        times,
        mean_synthetic,
        color=_SYNTH,
        ls="--",
        lw=2,
        label="mean of their synthetic controls",
    )
    ax.axvline(-0.5, color="grey", ls=":", lw=1)
    return finish_axes(
        ax,
        title or f"{d.outcome}: {n} treated units and their synthetic controls",
        xlabel or "Years since adoption (event time)",
        ylabel or _level_label(d.outcome, units),
    )


def gap_plot(
    result: SynthResult,
    ax: Axes | None = None,
    *,
    units: str | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Gap (treated minus synthetic) over time.

    With ``inference="prediction"`` the post-period prediction intervals for the
    effect (``result.intervals``) are drawn as a band.

    Parameters
    ----------
    result : SynthResult
        A fitted synthetic control.
    ax : matplotlib Axes, optional
        Where to draw.
    units : str, optional
        Units of the outcome (e.g. ``"packs per capita"``), added to the labels.
    title, xlabel, ylabel : str, optional
        Override the derived title and axis labels.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = axes_or_new(ax)
    d = result._design
    for col in result.gaps.columns:
        ax.plot(
            d.periods,
            result.gaps[col].to_numpy(),
            color=_TREATED,
            lw=1.8,
            label=str(col),
        )
    iv = getattr(result, "intervals", None)
    if iv is not None:
        ax.fill_between(
            iv["time"].to_numpy(),
            iv["low"].to_numpy(),
            iv["high"].to_numpy(),
            color=_TREATED,
            alpha=0.18,
            lw=0,
            label=_band_label(result),
        )
    ax.axhline(0, color="black", lw=0.8)
    _mark_treatment(ax, result.fits[0].treatment_time)
    return finish_axes(
        ax,
        title
        or f"Gap in {d.outcome}, {_unit_name(result)} minus synthetic "
        f"(post-period ATT {result.estimate:.3g})",
        xlabel or _time_label(_time_name(result)),
        ylabel or _gap_label(d.outcome, units),
        legend=len(result.gaps.columns) > 1 or iv is not None,
    )


def placebo_plot(
    test: PlaceboTest,
    ax: Axes | None = None,
    *,
    outcome: str | None = None,
    units: str | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Placebo spaghetti: every placebo gap in grey, the treated unit highlighted.

    Parameters
    ----------
    test : PlaceboTest
        From ``result.placebo()``.
    ax : matplotlib Axes, optional
        Where to draw.
    outcome : str, optional
        Outcome column name (default: ``test.gaps.attrs["outcome"]`` when set).
    units : str, optional
        Units of the outcome (e.g. ``"packs per capita"``), added to the labels.
    title, xlabel, ylabel : str, optional
        Override the derived title and axis labels.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = axes_or_new(ax)
    gaps = test.gaps
    treated = set(gaps.attrs.get("treated", []))
    kept = set(gaps.attrs.get("kept", gaps.columns))
    x = gaps.index.to_numpy()
    n_shown = 0
    for col in gaps.columns:
        if col in treated or col not in kept:
            continue
        ax.plot(
            x,
            gaps[col].to_numpy(),
            color=_GREY,
            lw=0.8,
            alpha=0.8,
            label="placebos" if n_shown == 0 else None,
        )
        n_shown += 1
    for col in gaps.columns:
        if col in treated:
            ax.plot(x, gaps[col].to_numpy(), color=_TREATED, lw=2.2, label=str(col))
    ax.axhline(0, color="black", lw=0.8)
    if "treatment_time" in gaps.attrs:
        _mark_treatment(ax, gaps.attrs["treatment_time"])
    name = outcome or gaps.attrs.get("outcome")
    extra = (
        f"\nplacebos with pre-period MSPE > {test.mspe_threshold:g}x the treated "
        "unit's dropped"
        if test.mspe_threshold
        else ""
    )
    ax = finish_axes(
        ax,
        title
        or f"Placebo gaps{' in ' + str(name) if name else ''}: every donor as if "
        "treated "
        f"(p = {test.pvalue:.3f}){extra}",
        xlabel or _time_label(gaps.index.name),
        ylabel or _gap_label(name, units),
    )
    ax.title.set_fontsize(10)
    return ax


def loo_plot(
    result: SynthResult,
    ax: Axes | None = None,
    unit: Any = None,
    *,
    units: str | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Leave-one-out band: synthetic paths refitted without each weighted donor.

    Parameters
    ----------
    result : SynthResult
        A fitted synthetic control.
    ax : matplotlib Axes, optional
        Where to draw.
    unit : label, optional
        Treated unit (default: the first).
    units : str, optional
        Units of the outcome (e.g. ``"packs per capita"``), added to the labels.
    title, xlabel, ylabel : str, optional
        Override the derived title and axis labels.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = axes_or_new(ax)
    d = result._design
    f = result._fit_of(unit)
    loo = result.leave_one_out(f.unit)
    x = d.periods
    if loo.shape[1]:
        lo = loo.min(axis=1).to_numpy()
        hi = loo.max(axis=1).to_numpy()
        ax.fill_between(
            x,
            lo,
            hi,
            color=_SYNTH,
            alpha=0.2,
            label=f"leave-one-out range ({loo.shape[1]} donors)",
        )
        for col in loo.columns:
            ax.plot(x, loo[col].to_numpy(), color=_SYNTH, lw=0.6, alpha=0.5)
    ax.plot(x, f.y1, color=_TREATED, lw=2, label=f"{f.unit} (actual)")
    ax.plot(x, f.synthetic, color=_SYNTH, ls="--", lw=2, label=f"synthetic {f.unit}")
    _mark_treatment(ax, f.treatment_time)
    return finish_axes(
        ax,
        title or f"{d.outcome}: synthetic {f.unit} refitted leaving out each donor",
        xlabel or _time_label(_time_name(result)),
        ylabel or _level_label(d.outcome, units),
    )


def weights_plot(
    result: SynthResult,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Horizontal bars of the donor weights above 0.001.

    Parameters
    ----------
    result : SynthResult
        A fitted synthetic control.
    ax : matplotlib Axes, optional
        Where to draw.
    title, xlabel, ylabel : str, optional
        Override the derived title and axis labels.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = axes_or_new(ax)
    w = result.weights
    s: pd.Series = w if isinstance(w, pd.Series) else w.mean(axis=1)
    s = s[np.abs(s) > 1e-3].sort_values()
    bars = ax.barh([str(i) for i in s.index], s.to_numpy(), color=_TREATED)
    ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
    ax.set_xlim(min(0.0, float(s.min()) * 1.15), max(float(s.max()) * 1.15, 0.05))
    if len(s) > 25:
        ax.tick_params(axis="y", labelsize=7)
    default_x = (
        "Donor weight (share of the synthetic unit, weights sum to 1)"
        if isinstance(w, pd.Series)
        else "Mean donor weight over the treated units (share)"
    )
    return finish_axes(
        ax,
        title or f"Donors making up synthetic {_unit_name(result)} (weight > 0.001)",
        xlabel or default_x,
        ylabel or "Donor unit",
        legend=False,
    )


def _time_name(result: SynthResult) -> str:
    return str(result.gaps.index.name or "time")
