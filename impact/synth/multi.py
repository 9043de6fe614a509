"""Several outcomes in one :func:`impact.synth` call, with Holm and Romano-Wolf p-values.

Each outcome gets its own synthetic control (weights fitted on that outcome) and its
own placebo-in-space test. Romano-Wolf uses the placebo draws themselves: for one
treated unit the placebo units are the same for every outcome, so unit ``u``'s
post/pre RMSPE ratios across the outcomes form one joint draw (Abadie, Diamond and
Hainmueller 2010's placebo distribution, taken jointly). Each outcome's ratios are
scaled by their standard deviation over the units so that outcomes are comparable; with
one outcome the Romano-Wolf p-value is the placebo p-value
``(1 + #{placebo >= treated}) / (1 + J)``. With several treated units (pooled placebo
sets), a pre-MSPE filter that keeps different placebos for different outcomes, or
conformal inference, Romano-Wolf is not available and says why (Holm still is).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from impact.multiplicity import MultiOutcomeResult, check_outcome_list, combine
from impact.results import Result

__all__ = ["fit_synth_outcomes"]


def _placebo_draws(res: Any) -> tuple[float, float, Any, Any]:
    """Treated statistic, its threshold, draws over kept units, and their labels."""
    test = getattr(res, "_placebo", None)
    if test is None or len(getattr(res, "fits", [])) != 1:
        return float("nan"), float("nan"), None, None
    tab = test.table
    col = "statistic" if "statistic" in tab.columns else "ratio"
    kept = tab[tab["kept"]].sort_values("unit", key=lambda s: s.astype(str))
    stat = kept[col].to_numpy(dtype=float)
    scale = float(np.std(stat, ddof=1))
    if not (np.isfinite(scale) and scale > 0):
        return float("nan"), float("nan"), None, None
    t = float(tab.loc[tab["treated"], col].iloc[0])
    # the placebo p-value counts placebos >= t (1 - 1e-12); the treated unit counts too
    return t / scale, t * (1 - 1e-12) / scale, stat / scale, kept["unit"].astype(str)


def fit_synth_outcomes(
    fit: Callable[..., Result],
    data: Any,
    outcomes: Sequence[Any],
    kwargs: dict[str, Any],
) -> MultiOutcomeResult:
    """Fit ``fit(data, outcome=o, **kwargs)`` for each outcome and adjust p-values.

    Parameters
    ----------
    fit : callable
        :func:`impact.synth`.
    data : DataFrame
        Long data.
    outcomes : sequence of str
        Outcome columns.
    kwargs : dict
        The other arguments of the call.

    Returns
    -------
    MultiOutcomeResult
        One row per outcome with Holm and Romano-Wolf adjusted p-values.
    """
    names = check_outcome_list(data, outcomes)
    results = {o: fit(data, outcome=o, **kwargs) for o in names}
    parts = {o: _placebo_draws(r) for o, r in results.items()}
    reason = None
    labels = [p[3] for p in parts.values()]
    if any(p[2] is None for p in parts.values()):
        reason = (
            "it needs the placebo-in-space test of one treated unit for every outcome "
            "(inference='placebo', one treated unit)"
        )
    elif any(not np.array_equal(lab, labels[0]) for lab in labels):
        reason = (
            "the placebo units kept differ between outcomes (mspe_threshold), so "
            "their placebo draws are not joint"
        )
    return combine(
        results,
        [p[0] for p in parts.values()],
        [p[1] for p in parts.values()],
        [p[2] for p in parts.values()],
        ["placebo"] * len(names),
        reason,
    )
