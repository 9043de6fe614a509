"""Shared matplotlib helpers: every figure in impact takes ``ax=`` and returns the Axes.

The figures themselves live next to their estimators (``impact.did.plots``,
``impact.synth.plots``, the matching, power and inference results); this module holds
what they share, so they look alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["FIGSIZE", "axes_or_new", "finish_axes"]

FIGSIZE = (7.0, 4.5)


def axes_or_new(ax: Axes | None, figsize: tuple[float, float] = FIGSIZE) -> Axes:
    """Return ``ax``, or the Axes of a new figure when it is None.

    Parameters
    ----------
    ax : matplotlib Axes or None
        Where the caller wants the figure.
    figsize : tuple of float, default (7, 4.5)
        Size of the new figure in inches.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes to draw on.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def finish_axes(
    ax: Axes,
    title: str,
    xlabel: str,
    ylabel: str,
    *,
    legend: bool = True,
    **legend_kw: Any,
) -> Axes:
    """Set the title and axis labels, and draw a frameless legend.

    Parameters
    ----------
    ax : matplotlib Axes
        The Axes drawn on.
    title, xlabel, ylabel : str
        Title and axis labels (with units).
    legend : bool, default True
        Whether to draw the legend.
    **legend_kw
        Options of :meth:`matplotlib.axes.Axes.legend` (default: no frame, small font).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax``.
    """
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if legend:
        ax.legend(**{"frameon": False, "fontsize": "small", **legend_kw})
    return ax
