"""Fake estimators registered by the study tests (importable by parallel workers)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from impact.errors import EstimationError
from impact.results import EstimateResult


def fake_did(
    data: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str | None = None,
    shift: float = 0.0,
    noise: float = 0.0,
    fail: bool = False,
    seed: Any = None,
) -> EstimateResult:
    """A 2x2 DiD on cohort columns: post-minus-pre, treated minus never treated."""
    if fail:
        raise EstimationError("fake estimator asked to fail for unit 'u1' in 2013")
    c = pd.to_numeric(data[cohort], errors="coerce") if cohort else pd.Series(np.nan)
    treated_unit = c.notna() & (c > 0)
    first = float(c[treated_unit].min()) if treated_unit.any() else np.inf
    post = data[time] >= first
    y = data[outcome].astype(float)
    est = (
        y[treated_unit & post].mean()
        - y[treated_unit & ~post].mean()
        - (y[~treated_unit & post].mean() - y[~treated_unit & ~post].mean())
    )
    est = float(est) + shift
    if noise:
        est += float(np.random.default_rng(seed).normal(0.0, noise))
    names = sorted(map(str, data.loc[treated_unit, unit].unique()))
    n_t = len(names)
    n_c = int(data.loc[~treated_unit, unit].nunique())
    return EstimateResult(
        estimator="fake",
        estimate=est,
        se=0.5,
        n_treated=n_t,
        n_control=n_c,
        warnings=[f"treated units: {', '.join(names)}"],
        extra={"weights": {n: 1.0 / max(n_t, 1) for n in names}, "first": first},
    )


class _Unplottable(EstimateResult):
    def _plot(self, ax: Any, kind: str | None) -> Any:
        raise RuntimeError("no figure for this one")


def fake_noplot(data: pd.DataFrame, *, outcome: str) -> EstimateResult:
    """A result whose plot fails (the study must carry on without the figure)."""
    return _Unplottable(
        estimator="noplot",
        estimate=float(data[outcome].mean()),
        se=1.0,
        n_treated=1,
        n_control=1,
    )


# ------------------------------------------------- fake results for the verdict
def fake_dict(
    estimate: float,
    ci: tuple[float, float] | None,
    pvalue: float | None,
    *,
    n_treated: int = 20,
    selection: dict[str, Any] | None = None,
    pretrend: dict[str, Any] | None = None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """A to_dict() of an effect estimate, as results.json holds it."""
    out: dict[str, Any] = {
        "estimator": "fake",
        "estimate": estimate,
        "se": 1.0,
        "ci": list(ci) if ci is not None else [None, None],
        "pvalue": pvalue,
        "n_treated": n_treated,
        "n_control": 100,
        "alpha": alpha,
        "warnings": [],
    }
    if selection is not None:
        out["diagnostics"] = {"selection": selection}
    if pretrend is not None:
        out["pretrend"] = pretrend
    return out


def fake_power_dict(
    curve: dict[int, dict[float, float]], *, effect_type: str = "relative"
) -> dict[str, Any]:
    """A power analysis's to_dict(): ``curve[n_treated][effect] = power``."""
    table = [
        {"n_treated": n, "effect": e, "power": p}
        for n, row in curve.items()
        for e, p in row.items()
    ]
    return {
        "estimator": "power: fake",
        "estimate": 0.1,
        "ci": [None, None],
        "pvalue": None,
        "n_treated": min(curve),
        "alpha": 0.05,
        "table": table,
        "mde": {str(n): 0.1 for n in curve},
        "effect_type": effect_type,
        "warnings": [],
    }
