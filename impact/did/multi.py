"""Several outcomes in one :func:`impact.did` call, with multiplicity-adjusted p-values.

``impact.did(df, outcome=["cla_rate", "cin_rate", "cpp_rate"], ...)`` fits each
outcome with the same options and returns a :class:`MultiOutcomeResult` whose
``to_frame()`` has one row per outcome with the unadjusted p-value, Holm's (1979)
step-down adjustment and Romano and Wolf's (2005) step-down adjustment.

Romano-Wolf uses the joint distribution of the outcomes' test statistics, taken from
the draws the inference itself made, so it stays valid with few treated units: the
same cohort re-assignments for randomization inference (every outcome is re-estimated
under each assignment), the same cluster weights for the wild bootstrap, the same
multipliers for the Callaway-Sant'Anna multiplier bootstrap (for ``"cs"`` with
analytic inference, a Rademacher multiplier bootstrap of the same influence
functions as the analytic standard error). For each outcome ``k`` the statistic is
``|theta_k| / s_k`` (``s_k`` the standard deviation of its null draws, or its
standard error), so outcomes on different scales are comparable. With one outcome the
Romano-Wolf p-value equals the unadjusted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from impact.multiplicity import (
    _TOL,
    MultiOutcomeResult,
    check_outcome_list,
    combine,
    holm,
    romano_wolf,
)

if TYPE_CHECKING:
    from impact.did.results import DiDResult

__all__ = ["MultiOutcomeResult", "fit_outcomes", "holm", "romano_wolf"]


def _null_draws(
    res: DiDResult, seed: int, n_boot: int
) -> tuple[float, float, Any, str]:
    """Observed statistic, the threshold a draw must reach, null draws (B,), kind.

    The thresholds repeat each inference's own tie rule, so that with one outcome
    the Romano-Wolf p-value is the unadjusted one.
    """
    details = dict(res.inference_details or {})
    engine = getattr(res, "_rows", None)
    if res.inference == "permutation" and engine is not None:
        # studentized randomization inference: the zero-effect |t| of the headline
        # row in every re-assignment, the draws its p-value counts
        _, simple = engine.rows("simple")
        if simple.t_zero is not None:
            t_all = np.abs(np.asarray(simple.t_zero, dtype=float)[:, -1])
            t = float(t_all[simple.observed])
            return t, t - 1e-9 * (1.0 + t), t_all, "studentized permutation"
    if res.inference == "permutation" and "distribution" in details:
        dist = np.asarray(details["distribution"], dtype=float)
        scale = float(np.std(dist, ddof=1))
        if not scale > 0:
            return float("nan"), float("nan"), None, "permutation"
        obs = abs(float(details.get("estimate", res.estimate)))
        thresh = (obs - 1e-9 * (1.0 + obs)) / scale  # as permutation's _count_ge
        return obs / scale, thresh, np.abs(dist) / scale, "permutation"
    if res.inference == "wild" and "t_boot" in details:
        t = abs(float(details["t_stat"]))
        return (
            t,
            t * (1.0 - _TOL) - 1e-14,
            np.abs(np.asarray(details["t_boot"], dtype=float)),
            "wild",
        )
    if res.method == "cs" and res._cs is not None and np.isfinite(res.se):
        from impact.did.aggregate import aggregate_cs
        from impact.did.cs import _cluster_sum

        st = res._cs
        agg = aggregate_cs(st["fit"], st["cohort_idx"], st["unit_weights"], "simple")
        summed = _cluster_sum(agg.overall_inf[:, None], st["codes"])[:, 0]
        mult = st.get("multipliers")
        if mult is None:
            rng = np.random.default_rng(seed)
            mult = rng.choice(np.array([-1.0, 1.0]), size=(n_boot, len(summed)))
        draws = mult @ summed / st["n"]
        t = abs(res.estimate) / res.se
        return t, t * (1.0 - _TOL) - 1e-14, np.abs(draws) / res.se, "multiplier"
    return float("nan"), float("nan"), None, str(res.inference)


def fit_outcomes(
    fit: Callable[..., DiDResult],
    data: Any,
    outcomes: Sequence[Any],
    kwargs: dict[str, Any],
) -> MultiOutcomeResult:
    """Fit ``fit(data, outcome=o, **kwargs)`` for each outcome and adjust p-values.

    Parameters
    ----------
    fit : callable
        :func:`impact.did`.
    data : DataFrame
        Long data.
    outcomes : list of str
        Outcome columns.
    kwargs : dict
        The other arguments of the call. An integer seed is drawn once when
        ``seed`` is None or a Generator, so that every outcome uses the same draws.

    Returns
    -------
    MultiOutcomeResult
        One row per outcome.
    """
    names = check_outcome_list(data, outcomes)
    kwargs = dict(kwargs)
    seed = kwargs.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**32))  # type: ignore[operator]
    elif isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**32))
    kwargs["seed"] = int(seed)
    results = {o: fit(data, outcome=o, **kwargs) for o in names}
    n_boot = int(kwargs.get("n_boot", 999))
    draws_of = {o: _null_draws(r, int(seed), n_boot) for o, r in results.items()}
    kinds_seen = {d[3] for d in draws_of.values()}
    note = None
    if {"studentized permutation", "permutation"} <= kinds_seen:
        # an outcome with gaps permutes raw estimates; studentized draws come from
        # other re-assignments, so refit the rest the same way to share the draws
        for o, d in draws_of.items():
            if d[3] == "studentized permutation":
                results[o] = fit(data, outcome=o, _raw_permutation=True, **kwargs)
                draws_of[o] = _null_draws(results[o], int(seed), n_boot)
        note = (
            "Randomization inference permutes the raw estimate for every outcome "
            "(outcomes with gaps cannot use the studentized statistic), so that all "
            "outcomes share the same re-assignments for Romano-Wolf."
        )
    stats_obs = [d[0] for d in draws_of.values()]
    thresholds = [d[1] for d in draws_of.values()]
    draws = [d[2] for d in draws_of.values()]
    kinds = [d[3] for d in draws_of.values()]
    same_units = all(
        np.array_equal(r._panel.units, results[names[0]]._panel.units)  # type: ignore[union-attr]
        and np.array_equal(r._panel.cohort, results[names[0]]._panel.cohort)  # type: ignore[union-attr]
        for r in results.values()
    )
    reason = (
        None
        if same_units
        else "the outcomes are observed for different units, so their draws are not "
        "joint"
    )
    if reason is None and any(d is None for d in draws):
        reason = (
            f"inference {sorted(set(kinds))} gives no bootstrap or permutation draws; "
            "use inference='permutation' (or 'wild', or method='cs')"
        )
    out = combine(results, stats_obs, thresholds, draws, kinds, reason)
    if note:
        out.warnings.insert(0, note)
    return out
