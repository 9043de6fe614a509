"""How the minimum detectable effect grows for subgroups with smaller counts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact.errors import SpecError
from impact.panel import Panel
from impact.parallel import as_generator
from impact.plots import axes_or_new

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_subgroup_mde", "subgroup_mde"]


def subgroup_mde(
    data: pd.DataFrame | Panel,
    *,
    shares: Sequence[float] = (1.0, 0.5, 0.2, 0.1, 0.05),
    denominator: str | None = None,
    power: float = 0.8,
    seed: int | np.random.Generator | None = None,
    **simulate_kwargs: Any,
) -> pd.DataFrame:
    """Minimum detectable effect by subgroup share: smaller groups, noisier counts.

    For each share ``s`` of the population (e.g. the share of children from an
    ethnic-minority group), the outcome rate is re-drawn from counts
    ``Poisson(s * pop * rate / 10,000)`` (or negative binomial) in every simulation
    and :func:`impact.power.simulate` gives the MDE. Share 1 still adds one layer of
    count noise to the observed rates, so it is comparable with the smaller shares.

    Parameters
    ----------
    data : DataFrame or Panel
        Panel with a rate outcome and a population column.
    shares : sequence of float
        Subgroup shares in (0, 1].
    denominator : str, optional
        Population column (required for a DataFrame without a Panel denominator).
    power : float, default 0.8
        Target power of the MDE.
    seed : int, Generator or None
        Seed; every share uses the same seed (common random numbers: the same
        placebo assignments), so differences between shares are not draw noise.
    **simulate_kwargs
        Passed to :func:`impact.power.simulate` (``outcome``, ``unit``, ``time``,
        ``treatment_time``, ``n_treated``, ``effect``, ``estimator``, ``n_sims``...).

    Returns
    -------
    pandas.DataFrame
        Columns ``share``, ``n_treated``, ``mde``, ``mde_ratio`` (MDE relative to the
        share-1 MDE, or to the largest share given).
    """
    from impact.power.simulation import simulate

    values = [float(s) for s in shares]
    if not values or any(not (0.0 < s <= 1.0) for s in values):
        raise SpecError(
            f"The 'shares' parameter of impact.power.subgroup_mde must hold numbers in "
            f"(0, 1]. Got {list(shares)!r} instead."
        )
    # common random numbers: every share sees the same placebo assignments
    base = (
        int(as_generator(seed).integers(2**62)) if not isinstance(seed, int) else seed
    )
    rows = []
    for share in values:
        res = simulate(
            data,
            subgroup_share=share,
            denominator=denominator,
            seed=base,
            **simulate_kwargs,
        )
        mde = res.mde(power)
        for n, m in zip(mde.index.to_numpy(), mde.to_numpy(), strict=True):
            rows.append({"share": share, "n_treated": int(n), "mde": float(m)})
    out = pd.DataFrame(rows)
    ref_share = out["share"].max()
    ref = out[out["share"] == ref_share].set_index("n_treated")["mde"]
    out["mde_ratio"] = out["mde"] / out["n_treated"].map(ref)
    out.attrs["power"] = power
    return out.sort_values(["n_treated", "share"], ascending=[True, False]).reset_index(
        drop=True
    )


def plot_subgroup_mde(
    table: pd.DataFrame, ax: Axes | None = None, *, relative: bool = True
) -> Axes:
    """Plot the MDE against the subgroup share, one line per number treated.

    Parameters
    ----------
    table : DataFrame
        Output of :func:`subgroup_mde` (the axis label states its target power,
        ``table.attrs["power"]``).
    ax : matplotlib Axes, optional
        Where to draw.
    relative : bool, default True
        Whether the MDE is a proportion (shown in percent).

    Returns
    -------
    matplotlib.axes.Axes
        The Axes.
    """
    ax = axes_or_new(ax)
    scale = 100.0 if relative else 1.0
    for n, g in table.groupby("n_treated", sort=True):
        g = g.sort_values("share")
        ax.plot(g["share"] * 100, g["mde"] * scale, marker="o", label=f"{n} treated")
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}%"))
    ax.set_xlabel("Subgroup share of the population (%, log scale)")
    target = float(table.attrs.get("power", 0.8))
    ax.set_ylabel(
        f"MDE at {target:.0%} power (% of the rate)"
        if relative
        else f"MDE at {target:.0%} power (units of the rate)"
    )
    ax.set_title("Minimum detectable effect by subgroup size")
    ax.legend(frameon=False, fontsize="small")
    finite = table["mde"][np.isfinite(table["mde"])]
    if len(finite) and math.isfinite(float(finite.max())):
        ax.set_ylim(bottom=0)
    return ax
