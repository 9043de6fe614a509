"""Figures of the DiD family: event study, ATT(g,t) by cohort, 2x2 cells, Bacon scatter.

Every function takes ``ax=None`` and returns the matplotlib Axes drawn on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_att_gt", "plot_bacon", "plot_cells", "plot_event_study"]


def _axes(ax: Axes | None) -> Axes:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def plot_event_study(
    table: pd.DataFrame, *, ax: Axes | None = None, title: str = "Event study"
) -> Axes:
    """Event-time estimates with pointwise CIs (and a uniform band when present).

    Parameters
    ----------
    table : DataFrame
        Columns ``event_time, estimate, conf_low, conf_high`` (optional
        ``band_low, band_high``, ``reference``).
    ax : Axes, optional
        Where to draw.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes.
    """
    ax = _axes(ax)
    e = table["event_time"].to_numpy(dtype=float)
    est = table["estimate"].to_numpy(dtype=float)
    lo = table["conf_low"].to_numpy(dtype=float)
    hi = table["conf_high"].to_numpy(dtype=float)
    pre = e < 0
    if "band_low" in table:
        ax.fill_between(
            e,
            table["band_low"].to_numpy(float),
            table["band_high"].to_numpy(float),
            color="tab:blue",
            alpha=0.15,
            step="mid",
            label="uniform band",
        )
    for mask, colour, label in (
        (pre, "tab:grey", "pre-treatment"),
        (~pre, "tab:blue", "post-treatment"),
    ):
        if not mask.any():
            continue
        yerr = np.vstack([est[mask] - lo[mask], hi[mask] - est[mask]])
        yerr = np.nan_to_num(yerr, nan=0.0)
        ax.errorbar(
            e[mask], est[mask], yerr=yerr, fmt="o", color=colour, capsize=3, label=label
        )
    if "reference" in table:
        ref = table["reference"].to_numpy(dtype=bool)
        ax.plot(e[ref], est[ref], "o", mfc="white", color="black", label="reference")
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("Periods since adoption (event time)")
    ax.set_ylabel("Effect on outcome (outcome units)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_att_gt(
    att_gt: pd.DataFrame, *, ax: Axes | None = None, title: str = "ATT(g,t)"
) -> Axes:
    """ATT(g,t) by calendar period, one colour per cohort, with CIs.

    Parameters
    ----------
    att_gt : DataFrame
        Columns ``group, time, att, ci_low, ci_high``.
    ax : Axes, optional
        Where to draw.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes.
    """
    ax = _axes(ax)
    groups = sorted(att_gt["group"].unique())
    width = 0.6 / max(len(groups), 1)
    for j, g in enumerate(groups):
        sub = att_gt[att_gt["group"] == g]
        x = sub["time"].to_numpy(float) + (j - (len(groups) - 1) / 2) * width
        est = sub["att"].to_numpy(float)
        yerr = np.vstack(
            [est - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - est]
        )
        bars = ax.errorbar(
            x,
            est,
            yerr=np.nan_to_num(yerr),
            fmt="o",
            capsize=2,
            label=f"cohort {int(g)}",
        )
        pre = sub["time"].to_numpy(float) < g
        if pre.any():  # pre-treatment cells drawn hollow
            ax.plot(x[pre], est[pre], "o", mfc="white", color=bars.lines[0].get_color())
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("Period")
    ax.set_ylabel("ATT(g,t) (outcome units; hollow = before adoption)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize="small", ncols=2)
    return ax


def plot_cells(
    cells: pd.DataFrame, *, ax: Axes | None = None, title: str = "2x2 DiD"
) -> Axes:
    """Mean outcome before and after for the treated and comparison groups.

    Parameters
    ----------
    cells : DataFrame
        Columns ``group, period, mean`` (groups ``treated``/``control``).
    ax : Axes, optional
        Where to draw.
    title : str
        Figure title.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with the counterfactual (parallel-trends) path dashed.
    """
    ax = _axes(ax)
    m = cells.set_index(["group", "period"])["mean"]
    x = [0, 1]
    ax.plot(
        x,
        [m["control", "pre"], m["control", "post"]],
        "o-",
        color="tab:grey",
        label="comparison",
    )
    ax.plot(
        x,
        [m["treated", "pre"], m["treated", "post"]],
        "o-",
        color="tab:blue",
        label="treated",
    )
    cf = m["treated", "pre"] + m["control", "post"] - m["control", "pre"]
    ax.plot(
        x,
        [m["treated", "pre"], cf],
        "--",
        color="tab:blue",
        alpha=0.6,
        label="treated, counterfactual",
    )
    ax.set_xticks(x, ["before", "after"])
    ax.set_xlabel("Period")
    ax.set_ylabel("Mean outcome (outcome units)")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize="small")
    return ax


def plot_bacon(table: pd.DataFrame, twfe: float, *, ax: Axes | None = None) -> Axes:
    """Scatter of each 2x2 estimate against its weight, by comparison type.

    Parameters
    ----------
    table : DataFrame
        ``type, estimate, weight`` rows of the decomposition.
    twfe : float
        The TWFE coefficient (drawn as a horizontal line).
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes.
    """
    ax = _axes(ax)
    markers = {
        "Treated vs Untreated": "o",
        "Earlier vs Later Treated": "^",
        "Later vs Earlier Treated": "x",
    }
    for kind, sub in table.groupby("type", sort=False):
        ax.scatter(
            sub["weight"],
            sub["estimate"],
            marker=markers.get(str(kind), "o"),
            label=str(kind),
        )
    ax.axhline(twfe, color="black", lw=0.8, ls="--", label=f"TWFE = {twfe:.4g}")
    ax.set_xlabel("Weight in the TWFE estimate (share)")
    ax.set_ylabel("2x2 DiD estimate (outcome units)")
    ax.set_title("Goodman-Bacon decomposition")
    ax.legend(frameon=False, fontsize="small")
    return ax
