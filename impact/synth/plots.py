"""Synthetic-control figures: trajectory, gap, placebo spaghetti, leave-one-out band.

Every function takes ``ax=None`` (a new figure is made) and returns the Axes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.synth.results import PlaceboTest, SynthResult

__all__ = ["gap_plot", "loo_plot", "placebo_plot", "trajectory_plot", "weights_plot"]

_TREATED = "#1b4f72"
_SYNTH = "#c0392b"
_GREY = "#b3b3b3"


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


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


def trajectory_plot(result: SynthResult, ax: Axes | None = None) -> Axes:
    """Treated outcome against its synthetic control (one panel per treated unit).

    Parameters
    ----------
    result : SynthResult
        A fitted synthetic control.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = _axes(ax)
    d = result._design
    single = len(result.fits) == 1
    for k, f in enumerate(result.fits[:8]):
        c_t = _TREATED if single else f"C{k % 10}"
        c_s = _SYNTH if single else f"C{k % 10}"
        lab = "" if single else f" ({f.unit})"
        ax.plot(d.periods, f.y1, color=c_t, lw=2, label=f"{f.unit}")
        ax.plot(
            d.periods, f.synthetic, color=c_s, ls="--", lw=1.5, label=f"synthetic{lab}"
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
    ax.set_xlabel(f"{_time_name(result)}")
    ax.set_ylabel(f"{d.outcome} (outcome units)")
    ax.set_title(f"Treated vs synthetic {d.outcome}")
    ax.legend(frameon=False, fontsize=8)
    return ax


def gap_plot(result: SynthResult, ax: Axes | None = None) -> Axes:
    """Gap (treated minus synthetic) over time.

    Parameters
    ----------
    result : SynthResult
        A fitted synthetic control.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = _axes(ax)
    d = result._design
    for col in result.gaps.columns:
        ax.plot(
            d.periods,
            result.gaps[col].to_numpy(),
            color=_TREATED,
            lw=1.8,
            label=str(col),
        )
    ax.axhline(0, color="black", lw=0.8)
    _mark_treatment(ax, result.fits[0].treatment_time)
    ax.set_xlabel(_time_name(result))
    ax.set_ylabel(f"Gap in {d.outcome} (treated - synthetic)")
    ax.set_title(f"Gap in {d.outcome}: ATT {result.estimate:.3g}")
    if len(result.gaps.columns) > 1:
        ax.legend(frameon=False, fontsize=8)
    return ax


def placebo_plot(test: PlaceboTest, ax: Axes | None = None) -> Axes:
    """Placebo spaghetti: every placebo gap in grey, the treated unit highlighted.

    Parameters
    ----------
    test : PlaceboTest
        From ``result.placebo()``.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = _axes(ax)
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
    ax.set_xlabel(str(gaps.index.name or "time"))
    ax.set_ylabel("Gap (treated - synthetic), outcome units")
    extra = (
        f", placebos with pre-MSPE > {test.mspe_threshold:g}x treated dropped"
        if test.mspe_threshold
        else ""
    )
    ax.set_title(f"Placebo gaps (p = {test.pvalue:.3f}{extra})", fontsize=10)
    ax.legend(frameon=False, fontsize=8)
    return ax


def loo_plot(result: SynthResult, ax: Axes | None = None, unit: Any = None) -> Axes:
    """Leave-one-out band: synthetic paths refitted without each weighted donor.

    Parameters
    ----------
    result : SynthResult
        A fitted synthetic control.
    ax : matplotlib Axes, optional
        Where to draw.
    unit : label, optional
        Treated unit (default: the first).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = _axes(ax)
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
    ax.plot(x, f.y1, color=_TREATED, lw=2, label=str(f.unit))
    ax.plot(x, f.synthetic, color=_SYNTH, ls="--", lw=2, label="synthetic")
    _mark_treatment(ax, f.treatment_time)
    ax.set_xlabel(_time_name(result))
    ax.set_ylabel(f"{d.outcome} (outcome units)")
    ax.set_title(f"Leave-one-out synthetic {d.outcome}")
    ax.legend(frameon=False, fontsize=8)
    return ax


def weights_plot(result: SynthResult, ax: Axes | None = None) -> Axes:
    """Horizontal bars of the donor weights above 0.001.

    Parameters
    ----------
    result : SynthResult
        A fitted synthetic control.
    ax : matplotlib Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = _axes(ax)
    w = result.weights
    s: pd.Series = w if isinstance(w, pd.Series) else w.mean(axis=1)
    s = s[np.abs(s) > 1e-3].sort_values()
    ax.barh([str(i) for i in s.index], s.to_numpy(), color=_TREATED)
    ax.set_xlabel(
        "Donor weight (share of the synthetic unit)"
        if isinstance(w, pd.Series)
        else "Mean donor weight over the treated units"
    )
    ax.set_title("Synthetic-control donor weights")
    return ax


def _time_name(result: SynthResult) -> str:
    return str(result.gaps.index.name or "time")
