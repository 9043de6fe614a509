"""Monte Carlo size and coverage of the inference methods on synthetic LA panels.

The design follows the issue: N = 150 units, 10 pre and 5 post periods, unit and period
effects N(0, 1), stationary AR(1) errors with unit variance and autocorrelation rho,
common adoption, ``n_treated`` units drawn at random. Each replication draws its own
panel from one child Generator (so tables do not depend on ``n_jobs``), estimates the
TWFE/2x2 DiD and applies every method:

- ``analytic``: CRV1 standard error clustered by unit, t with G - 1 df;
- ``wild``: restricted wild cluster bootstrap (:func:`wild_cluster_bootstrap`);
- ``permutation``: randomization inference (:func:`permutation_inference`).

Size: share of replications rejecting a true null of no effect at ``alpha``.
Coverage: share of ``1 - alpha`` intervals containing the true effect, on a second,
independent panel with a constant effect ``effect`` added to the treated cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from impact.inference.linear import (
    cluster_robust_se,
    fe_residuals,
    make_twfe_batch,
    twfe_weights,
)
from impact.inference.permutation import permutation_inference
from impact.inference.wild import wild_cluster_bootstrap
from impact.parallel import as_generator, run_tasks, spawn_generators

__all__ = ["METHODS", "ar1_panel", "size_coverage"]

METHODS = ("analytic", "wild", "permutation")
FloatArray = NDArray[np.float64]


def ar1_panel(
    n_units: int, n_periods: int, rho: float, rng: np.random.Generator
) -> FloatArray:
    """Balanced panel: unit and period effects N(0, 1) plus stationary AR(1) errors.

    Parameters
    ----------
    n_units, n_periods : int
        N and T.
    rho : float
        AR(1) coefficient of the errors (|rho| < 1); the errors have unit variance.
    rng : numpy Generator
        Random source.

    Returns
    -------
    ndarray of shape (N, T)
        The outcome without any treatment effect.
    """
    shocks = rng.standard_normal((n_units, n_periods))
    # e_t = rho e_{t-1} + sqrt(1 - rho^2) eta_t, e_0 = eta_0: a linear filter, applied
    # as a lower-triangular matrix (vectorised over units).
    lags = np.arange(n_periods)[:, None] - np.arange(n_periods)[None, :]
    filt = np.where(lags >= 0, rho ** np.clip(lags, 0, None), 0.0)
    filt[:, 1:] *= np.sqrt(1.0 - rho**2)
    errors = shocks @ filt.T
    unit = rng.standard_normal((n_units, 1))
    period = rng.standard_normal((1, n_periods))
    return np.asarray(unit + period + errors)


def _methods_on(
    Y: FloatArray,
    D: NDArray[np.bool_],
    cohort: FloatArray,
    periods: FloatArray,
    methods: Sequence[str],
    rng: np.random.Generator,
    n_boot: int,
    n_perm: int,
    alpha: float,
    null: float,
) -> dict[str, tuple[float, float, float]]:
    """(p-value of `null`, CI low, CI high) for each method."""
    A = twfe_weights(D)
    out: dict[str, tuple[float, float, float]] = {}
    for method in methods:
        if method == "analytic":
            theta = float(np.sum(A * Y))
            resid = fe_residuals(Y, D[..., None].astype(float))
            se, g = cluster_robust_se(A, resid)
            q = float(stats.t.ppf(1 - alpha / 2, df=g - 1))
            p = float(2 * stats.t.sf(abs(theta - null) / se, df=g - 1))
            out[method] = (p, theta - q * se, theta + q * se)
        elif method == "wild":
            res = wild_cluster_bootstrap(
                Y, A, D, n_boot=n_boot, alpha=alpha, seed=rng, null=null
            )
            out[method] = (res.pvalue, res.ci[0], res.ci[1])
        elif method == "permutation":
            res = permutation_inference(
                Y,
                cohort,
                make_twfe_batch(periods),
                D=D,
                n_perm=n_perm,
                alpha=alpha,
                seed=rng,
                null=null,
                linear=True,
            )
            out[method] = (res.pvalue, res.ci[0], res.ci[1])
    return out


def _replicate(task: dict[str, Any]) -> list[dict[str, Any]]:
    """One replication of one design: size panel and coverage panel."""
    rng: np.random.Generator = task["rng"]
    n, pre, post = task["n_units"], task["n_pre"], task["n_post"]
    t = pre + post
    periods = np.arange(t, dtype=float)
    treated = rng.choice(n, size=task["n_treated"], replace=False)
    cohort = np.full(n, np.inf)
    cohort[treated] = float(pre)
    D = periods[None, :] >= cohort[:, None]
    rows = []
    kinds = [("size", 0.0)] + (
        [("coverage", task["effect"])] if task["coverage"] else []
    )
    for kind, effect in kinds:
        Y = ar1_panel(n, t, task["rho"], rng) + effect * D
        null = 0.0 if kind == "size" else effect
        res = _methods_on(
            Y,
            D,
            cohort,
            periods,
            task["methods"],
            rng,
            task["n_boot"],
            task["n_perm"],
            task["alpha"],
            null,
        )
        for method, (p, lo, hi) in res.items():
            rows.append(
                {
                    "kind": kind,
                    "method": method,
                    "reject": p <= task["alpha"],
                    "covered": lo <= effect <= hi,
                    "width": hi - lo,
                }
            )
    return rows


def size_coverage(
    *,
    n_treated: Sequence[int] = (1, 3, 5, 15),
    rhos: Sequence[float] = (0.5, 0.8),
    n_reps: int = 1000,
    effect: float = 1.0,
    n_units: int = 150,
    n_pre: int = 10,
    n_post: int = 5,
    methods: Sequence[str] = METHODS,
    n_boot: int = 999,
    n_perm: int = 999,
    alpha: float = 0.05,
    coverage: bool = True,
    seed: Any = 20251123,
    n_jobs: int = 1,
    backend: str | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Monte Carlo rejection rates under the null and interval coverage.

    Parameters
    ----------
    n_treated : sequence of int
        Numbers of treated units to simulate.
    rhos : sequence of float
        AR(1) coefficients of the errors.
    n_reps : int, default 1000
        Replications per design.
    effect : float, default 1.0
        Constant effect in the coverage panels (in SDs of the error).
    n_units, n_pre, n_post : int
        Panel dimensions.
    methods : sequence of str
        Any of ``"analytic"``, ``"wild"``, ``"permutation"``.
    n_boot, n_perm : int
        Bootstrap draws and random assignments per replication.
    alpha : float, default 0.05
        Nominal level.
    coverage : bool, default True
        Also simulate the coverage panels.
    seed : int, Generator or None
        Parent seed; one child Generator per replication.
    n_jobs, backend, progress
        Passed to :func:`impact.parallel.run_tasks`.

    Returns
    -------
    DataFrame
        One row per (n_treated, rho, method): ``size``, ``size_mcse``, ``coverage``,
        ``coverage_mcse``, ``median_width``, ``n_reps``.
    """
    designs = [(k, r) for k in n_treated for r in rhos]
    # Each design gets its own seed sequence keyed by (n_treated, rho), so adding a
    # design to the grid does not change the replications of the others.
    if isinstance(seed, (int, np.integer)):
        entropy = int(seed)
    else:
        entropy = int(as_generator(seed).integers(2**63))
    gens = [
        g
        for k, r in designs
        for g in spawn_generators(
            np.random.SeedSequence([entropy, int(k), int(round(r * 1_000_000))]), n_reps
        )
    ]
    tasks = [
        {
            "rng": gens[i * n_reps + j],
            "n_treated": k,
            "rho": r,
            "n_units": n_units,
            "n_pre": n_pre,
            "n_post": n_post,
            "effect": effect,
            "methods": tuple(methods),
            "n_boot": n_boot,
            "n_perm": n_perm,
            "alpha": alpha,
            "coverage": coverage,
            "design": i,
        }
        for i, (k, r) in enumerate(designs)
        for j in range(n_reps)
    ]
    results = run_tasks(
        _replicate,
        tasks,
        backend=backend,
        n_jobs=n_jobs,
        progress=progress,
        desc="size/coverage",
    )
    records = []
    for task, rows in zip(tasks, results):
        for row in rows:
            records.append({"n_treated": task["n_treated"], "rho": task["rho"], **row})
    df = pd.DataFrame.from_records(records)
    out = []
    for (k, r, m), grp in df.groupby(["n_treated", "rho", "method"], sort=True):
        size = grp.loc[grp["kind"] == "size", "reject"].astype(float)
        cov = grp.loc[grp["kind"] == "coverage", "covered"].astype(float)
        width = grp.loc[grp["kind"] == "coverage", "width"]
        out.append(
            {
                "n_treated": k,
                "rho": r,
                "method": m,
                "size": size.mean(),
                "size_mcse": np.sqrt(
                    size.mean() * (1 - size.mean()) / max(len(size), 1)
                ),
                "coverage": cov.mean() if len(cov) else np.nan,
                "coverage_mcse": (
                    np.sqrt(cov.mean() * (1 - cov.mean()) / len(cov))
                    if len(cov)
                    else np.nan
                ),
                "median_width": float(np.median(width)) if len(width) else np.nan,
                "n_reps": len(size),
            }
        )
    return pd.DataFrame(out)
