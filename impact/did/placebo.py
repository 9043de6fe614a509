"""Placebo in time for DiD results: refit with adoption moved earlier, pre-period data only.

The refit function (:func:`impact.did`) is passed in, so this module sits below the entry
point and the result class can use it without importing ``impact.did.api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from impact._validation import check_positive_int
from impact.did._cohorts import cohort_index
from impact.errors import DataError, SpecError

if TYPE_CHECKING:
    from impact.did.results import DiDResult

__all__ = ["Refit", "placebo_fit"]

#: ``impact.did``'s signature: ``refit(data, **options) -> DiDResult``.
Refit = Callable[..., Any]


def placebo_fit(result: DiDResult, k: int, refit: Refit) -> DiDResult:
    """Placebo in time: pretend adoption ``k`` periods early, on pre-treatment data.

    Parameters
    ----------
    result : DiDResult
        The fitted result (it keeps its panel and call).
    k : int
        How many periods earlier the fake adoption is.
    refit : callable
        :func:`impact.did` (passed in so this module does not import the entry point).

    Returns
    -------
    DiDResult
        The placebo estimate.
    """
    k = check_positive_int("k", k, "DiDResult.placebo_in_time")
    panel = result._panel
    assert panel is not None
    call = dict(result._call)
    call["_diagnostics"] = False
    call["inference"] = "analytic" if call["inference"] != "bootstrap" else "bootstrap"
    method = call.pop("method")
    if method == "dcdh":
        raise SpecError(
            "placebo_in_time() moves adoption dates, which a switching treatment does "
            "not have; method='dcdh' reports placebo effects (event times < -1) in "
            "its event study instead."
        )
    if method == "cs":
        res = refit(panel, method="cs", _placebo_k=k, **call)
        res.warnings.insert(0, f"Placebo: adoption moved {k} period(s) earlier.")
        return res
    cidx = cohort_index(panel)
    first = int(np.nanmin(np.where(np.isfinite(cidx), cidx, np.nan)))
    if first < 2:
        raise DataError(
            "Placebo in time needs at least two periods before the first adoption; "
            f"the first cohort adopts in period {panel.periods[first]}."
        )
    keep = panel.periods[:first]
    fake = cidx - k
    fake = np.where(fake >= first, np.inf, fake)
    drop = np.isfinite(fake) & (fake < 1)
    sub = panel.subset(units=panel.units[~drop], periods=keep)
    labels = np.where(
        np.isfinite(fake[~drop]),
        panel.periods[
            np.clip(np.nan_to_num(fake[~drop], posinf=0).astype(int), 0, None)
        ],
        np.inf,
    )
    sub = sub.with_cohort(labels.astype(float))
    if not np.isfinite(sub.cohort).any():
        raise DataError(
            f"Placebo in time with k={k}: no cohort's fake adoption falls inside the "
            "pre-treatment window; use a smaller k."
        )
    res = refit(sub, method=method, **call)
    res.warnings.insert(0, f"Placebo: adoption moved {k} period(s) earlier.")
    return res
