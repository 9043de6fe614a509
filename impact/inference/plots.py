"""Figure of the null distribution behind a wild-bootstrap or permutation p-value."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from impact.errors import SpecError
from impact.inference._core import InferenceOutput

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_null_distribution"]


def plot_null_distribution(
    output: InferenceOutput, ax: Axes | None = None, *, units: str = ""
) -> Axes:
    """Histogram of the bootstrap or randomization distribution, observed value marked.

    Parameters
    ----------
    output : InferenceOutput
        From :func:`wild_cluster_bootstrap` (bootstrap t statistics against the
        observed t) or :func:`permutation_inference` (placebo estimates against the
        observed estimate).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when None.
    units : str, optional
        Units of the estimate for the axis label (permutation only), e.g.
        ``"per 10,000 children"``.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    if output.method == "wild":
        values = np.asarray(output.details["t_boot"], dtype=float)
        observed = float(output.details["t_stat"])
        xlabel = "Bootstrap t statistic (null imposed)"
        title = "Wild cluster bootstrap distribution"
    elif output.method == "permutation":
        values = np.asarray(output.details["distribution"], dtype=float)
        observed = float(output.details["estimate"])
        xlabel = "Placebo estimate" + (f" ({units})" if units else "")
        title = "Randomization distribution (re-assigned treatment)"
    else:
        raise SpecError(
            f"plot_null_distribution needs a 'wild' or 'permutation' output; got "
            f"{output.method!r}."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 4.0))
    finite = values[np.isfinite(values)]
    bins = min(60, max(10, int(np.sqrt(finite.size))))
    ax.hist(finite, bins=bins, color="0.7", edgecolor="0.4", linewidth=0.5)
    ax.axvline(observed, color="C3", linewidth=2, label="observed")
    if output.method == "wild" or observed != 0:
        ax.axvline(
            -observed, color="C3", linewidth=1, linestyle="--", label="-observed"
        )
    exact = "exact, " if output.exact else ""
    ax.set_title(f"{title}\np = {output.pvalue:.3g} ({exact}{output.n_draws} draws)")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Number of draws")
    ax.legend(frameon=False, loc="best")
    return ax
