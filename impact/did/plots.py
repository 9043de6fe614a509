"""Figures of the DiD family: event study, ATT(g,t) by cohort, 2x2 cells, Bacon scatter.

Every function takes ``ax=None`` and returns the matplotlib Axes drawn on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact.plots import axes_or_new, finish_axes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "axis_labels",
    "plot_att_gt",
    "plot_bacon",
    "plot_cells",
    "plot_estimate",
    "plot_event_study",
    "result_labels",
]

#: Plural of common time-column names, for "Years since adoption" and the like.
_PERIOD_WORDS = {
    "year": "years",
    "yr": "years",
    "quarter": "quarters",
    "qtr": "quarters",
    "month": "months",
    "week": "weeks",
    "day": "days",
    "wave": "waves",
    "period": "periods",
    "time": "periods",
    "t": "periods",
}


def axis_labels(
    *, outcome: str | None = None, time: str | None = None, units: str | None = None
) -> dict[str, str]:
    """Plain-language axis labels built from the column names a result knows.

    Parameters
    ----------
    outcome : str, optional
        Outcome column name (e.g. ``"cla_rate"``).
    time : str, optional
        Time column name (e.g. ``"year"``).
    units : str, optional
        Units of the outcome (e.g. ``"per 10,000 children"``); when omitted the
        labels say the effect is in the units of the outcome column.

    Returns
    -------
    dict
        ``effect`` (effect axis), ``level`` (outcome-level axis), ``calendar``
        (calendar-time axis) and ``event`` (event-time axis) labels.
    """
    name = outcome or "the outcome"
    unit_text = units or f"units of {name}"
    key = (time or "").strip().lower()
    plural = _PERIOD_WORDS.get(key)
    if plural is None:
        event = (
            f"Periods since adoption (event time, {time})"
            if time
            else "Periods since adoption (event time)"
        )
        calendar = f"Period ({time})" if time else "Period"
    else:
        event = f"{plural.capitalize()} since adoption (event time)"
        calendar = plural[:-1].capitalize() if plural != "periods" else "Period"
    return {
        "effect": f"Effect on {name} ({unit_text})",
        "level": f"{name} ({units})" if units else str(name),
        "calendar": calendar,
        "event": event,
    }


def result_labels(result: Any) -> dict[str, Any]:
    """The labelling keywords a fitted DiD result can supply to the figures.

    Parameters
    ----------
    result : DiDResult or BaconResult
        A fitted result; its panel (when kept) gives the outcome and time names.

    Returns
    -------
    dict
        ``outcome``, ``time`` (None when unknown) and ``estimator`` (the result's
        title): ready to pass as ``**result_labels(res)`` to any figure here.
    """
    panel = getattr(result, "_panel", None)
    outcome = getattr(panel, "outcome", None) or getattr(result, "outcome", None)
    time = getattr(panel, "time", None) or getattr(result, "time", None)
    return {
        "outcome": outcome if isinstance(outcome, str) else None,
        "time": time if isinstance(time, str) else None,
        "estimator": getattr(result, "title", None),
    }


def _title(heading: str, estimator: str | None) -> str:
    return f"{heading}\n{estimator}" if estimator else heading


def plot_event_study(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    outcome: str | None = None,
    time: str | None = None,
    units: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    estimator: str | None = None,
) -> Axes:
    """Event-time estimates with pointwise CIs (and a uniform band when present).

    Parameters
    ----------
    table : DataFrame
        Columns ``event_time, estimate, conf_low, conf_high`` (optional
        ``band_low, band_high``, ``reference``).
    ax : Axes, optional
        Where to draw.
    title : str, optional
        Figure title (default: "Event study: effect on <outcome>").
    outcome, time : str, optional
        Outcome and time column names, used to word the axis labels and title.
    units : str, optional
        Units of the outcome (e.g. ``"per 10,000 children"``).
    xlabel, ylabel : str, optional
        Override the derived axis labels.
    estimator : str, optional
        Estimator description, shown as the title's second line.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes.
    """
    ax = axes_or_new(ax)
    lab = axis_labels(outcome=outcome, time=time, units=units)
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
            label="uniform confidence band",
        )
    for mask, colour, label in (
        (pre, "tab:grey", "before adoption (pre-trend check)"),
        (~pre, "tab:blue", "after adoption"),
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
        if ref.any():
            ax.plot(
                e[ref],
                est[ref],
                "o",
                mfc="white",
                color="black",
                label="reference period (set to 0)",
            )
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    if len(e) and np.all(np.isfinite(e)) and np.allclose(e, np.round(e)):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    name = outcome or "the outcome"
    return finish_axes(
        ax,
        title=title or _title(f"Event study: effect on {name}", estimator),
        xlabel=xlabel or lab["event"],
        ylabel=ylabel or lab["effect"],
        loc="best",
    )


def plot_att_gt(
    att_gt: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    outcome: str | None = None,
    time: str | None = None,
    units: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    estimator: str | None = None,
) -> Axes:
    """ATT(g,t) by calendar period, one colour per cohort, with CIs.

    Parameters
    ----------
    att_gt : DataFrame
        Columns ``group, time, att, ci_low, ci_high``.
    ax : Axes, optional
        Where to draw.
    title : str, optional
        Figure title (default: "Group-time effects ATT(g,t) on <outcome>").
    outcome, time : str, optional
        Outcome and time column names, used to word the axis labels and title.
    units : str, optional
        Units of the outcome (e.g. ``"per 10,000 children"``).
    xlabel, ylabel : str, optional
        Override the derived axis labels.
    estimator : str, optional
        Estimator description, shown as the title's second line.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes; cells before a cohort's adoption are drawn hollow.
    """
    ax = axes_or_new(ax)
    lab = axis_labels(outcome=outcome, time=time, units=units)
    groups = sorted(att_gt["group"].unique())
    width = 0.6 / max(len(groups), 1)
    for j, g in enumerate(groups):
        sub = att_gt[att_gt["group"] == g]
        x = sub["time"].to_numpy(float) + (j - (len(groups) - 1) / 2) * width
        est = sub["att"].to_numpy(float)
        yerr = np.vstack(
            [est - sub["ci_low"].to_numpy(float), sub["ci_high"].to_numpy(float) - est]
        )
        colour = f"C{j % 10}"
        pre = sub["time"].to_numpy(float) < g
        ax.errorbar(
            x, est, yerr=np.nan_to_num(yerr), fmt="none", ecolor=colour, capsize=2
        )
        ax.plot(
            x[~pre], est[~pre], "o", color=colour, label=f"cohort adopting in {int(g)}"
        )
        if pre.any():  # pre-treatment cells drawn hollow
            ax.plot(x[pre], est[pre], "o", mfc="white", color=colour, zorder=3)
    if len(att_gt):
        ax.plot([], [], "o", mfc="white", color="grey", label="hollow: before adoption")
    ax.axhline(0, color="black", lw=0.8)
    times = np.unique(att_gt["time"].to_numpy(float))
    if 0 < len(times) <= 10:
        ax.set_xticks(times, [f"{t:g}" for t in times])
    else:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    name = outcome or "the outcome"
    ax.legend(frameon=False, fontsize="small", ncols=2, loc="best")
    return finish_axes(
        ax,
        title=title or _title(f"Group-time effects ATT(g,t) on {name}", estimator),
        xlabel=xlabel or lab["calendar"],
        ylabel=ylabel or lab["effect"],
        legend=False,
    )


def plot_cells(
    cells: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    outcome: str | None = None,
    time: str | None = None,
    units: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    estimator: str | None = None,
) -> Axes:
    """Mean outcome before and after for the treated and comparison groups.

    Parameters
    ----------
    cells : DataFrame
        Columns ``group, period, mean`` (groups ``treated``/``control``).
    ax : Axes, optional
        Where to draw.
    title : str, optional
        Figure title (default: "Mean <outcome> before and after adoption").
    outcome, time : str, optional
        Outcome and time column names, used to word the axis labels and title.
    units : str, optional
        Units of the outcome (e.g. ``"per 10,000 children"``).
    xlabel, ylabel : str, optional
        Override the derived axis labels.
    estimator : str, optional
        Estimator description, shown as the title's second line.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes, with the counterfactual (parallel-trends) path dashed.
    """
    ax = axes_or_new(ax)
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
        label="treated, counterfactual (parallel trends)",
    )
    ax.annotate(
        "",
        xy=(1.03, m["treated", "post"]),
        xytext=(1.03, cf),
        arrowprops={"arrowstyle": "<->", "color": "tab:red", "lw": 1},
    )
    ax.annotate(
        f"DiD = {m['treated', 'post'] - cf:.3g}",
        xy=(1.05, (m["treated", "post"] + cf) / 2),
        fontsize="small",
        color="tab:red",
        va="center",
    )
    ax.set_xlim(-0.25, 1.35)
    ax.set_xticks(x, ["before", "after"])
    unit_text = f" ({units})" if units else ""
    default_y = f"Mean outcome: {outcome}{unit_text}" if outcome else "Mean outcome"
    if time:
        default_x = f"Period ({time}: before vs after adoption)"
    else:
        default_x = "Period (before vs after adoption)"
    name = outcome or "the outcome"
    return finish_axes(
        ax,
        title=title or _title(f"Mean {name} before and after adoption", estimator),
        xlabel=xlabel or default_x,
        ylabel=ylabel or default_y,
        loc="best",
    )


def plot_bacon(
    table: pd.DataFrame,
    twfe: float,
    *,
    ax: Axes | None = None,
    title: str | None = None,
    outcome: str | None = None,
    time: str | None = None,
    units: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    estimator: str | None = None,
) -> Axes:
    """Scatter of each 2x2 estimate against its weight, by comparison type.

    Parameters
    ----------
    table : DataFrame
        ``type, estimate, weight`` rows of the decomposition.
    twfe : float
        The TWFE coefficient (drawn as a horizontal line).
    ax : Axes, optional
        Where to draw.
    title : str, optional
        Figure title (default: "Goodman-Bacon decomposition of the TWFE effect on
        <outcome>").
    outcome, time : str, optional
        Outcome and time column names, used to word the axis labels.
    units : str, optional
        Units of the outcome (e.g. ``"per 10,000 children"``).
    xlabel, ylabel : str, optional
        Override the derived axis labels.
    estimator : str, optional
        Estimator description, shown as the title's second line.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes.
    """
    ax = axes_or_new(ax)
    # time and estimator are accepted for a uniform signature: the x axis is a
    # weight and the title already names the decomposition.
    del time, estimator
    styles = {
        "Treated vs Untreated": ("o", "tab:blue"),
        "Earlier vs Later Treated": ("^", "tab:green"),
        "Later vs Earlier Treated": ("X", "tab:red"),
    }
    for kind, sub in table.groupby("type", sort=False):
        marker, colour = styles.get(str(kind), ("s", "tab:purple"))
        total = float(sub["weight"].sum())
        ax.scatter(
            sub["weight"],
            sub["estimate"],
            marker=marker,
            color=colour,
            alpha=0.8,
            edgecolors="white" if marker != "X" else None,
            linewidths=0.5,
            label=f"{kind} (total weight {total:.2f})",
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.axhline(twfe, color="black", lw=1, ls="--", label=f"TWFE estimate = {twfe:.4g}")
    wmax = float(table["weight"].max()) if len(table) else 1.0
    ax.set_xlim(left=-0.02 * wmax)
    name = outcome or "the outcome"
    unit_text = units or f"units of {name}"
    return finish_axes(
        ax,
        title=title or f"Goodman-Bacon decomposition of the TWFE effect on {name}",
        xlabel=xlabel or "Weight of the 2x2 comparison in TWFE (share, sums to 1)",
        ylabel=ylabel or f"2x2 DiD estimate ({unit_text})",
        loc="best",
    )


def plot_estimate(
    estimate: float,
    ci: tuple[float, float],
    *,
    ax: Axes | None = None,
    label: str = "ATT",
    title: str | None = None,
    outcome: str | None = None,
    time: str | None = None,
    units: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    estimator: str | None = None,
) -> Axes:
    """A single effect estimate with its confidence interval and a zero line.

    Parameters
    ----------
    estimate : float
        The point estimate.
    ci : (float, float)
        Confidence interval.
    ax : Axes, optional
        Where to draw.
    label : str, default "ATT"
        Name of the estimand (the x tick).
    title : str, optional
        Figure title (default: "Average effect on <outcome>").
    outcome, time : str, optional
        Outcome and time column names, used to word the axis labels and title.
    units : str, optional
        Units of the outcome (e.g. ``"per 10,000 children"``).
    xlabel, ylabel : str, optional
        Override the derived axis labels.
    estimator : str, optional
        Estimator description, shown as the title's second line.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes.
    """
    ax = axes_or_new(ax)
    del time
    lab = axis_labels(outcome=outcome, units=units)
    lo, hi = float(ci[0]), float(ci[1])
    yerr = np.nan_to_num([[estimate - lo], [hi - estimate]])
    ax.errorbar(
        [0],
        [estimate],
        yerr=yerr,
        fmt="o",
        color="tab:blue",
        capsize=6,
        label=f"{label} = {estimate:.4g}, CI [{lo:.4g}, {hi:.4g}]",
    )
    ax.axhline(0, color="black", lw=0.8, label="no effect")
    ax.set_xlim(-1, 1)
    ax.set_xticks([0], [label])
    name = outcome or "the outcome"
    return finish_axes(
        ax,
        title=title or _title(f"Average effect on {name}", estimator),
        xlabel=xlabel or "Estimand",
        ylabel=ylabel or lab["effect"],
        loc="best",
    )
