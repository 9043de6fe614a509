"""The output record shared by every inference method, and the few-treated rule.

``few_treated_rule`` is how ``inference="auto"`` resolves in every estimator. The
thresholds come from the Monte Carlo study in ``docs/statistical_validity.md``
(``benchmarks/size_coverage.py``): on 150-unit panels with 10 pre and 5 post periods and
AR(1) errors (rho 0.5 and 0.8), a nominal 5% test with unit-clustered (CRV1) standard
errors rejected a true null in 86-88% of replications with 1 treated unit, 23-24%
with 3, 12% with 5, 8% with 15, 6% with 20 and 4-6.5% with 30, while randomization
inference stayed at 5% throughout. This matches the few-treated-clusters literature (Conley and
Taber 2011, REStat 93(1); MacKinnon and Webb 2017, JAE 32(2); 2018, Econometrics
Journal 21(2)): CRVE t-tests are reliable only when both the treated and the untreated
clusters are numerous.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from impact._validation import check_positive_int

__all__ = [
    "FEW_CLUSTERS_THRESHOLD",
    "FEW_TREATED_THRESHOLD",
    "InferenceOutput",
    "few_treated_rule",
    "invert_test",
]

#: Fewer treated (or fewer untreated) clusters than this and analytic cluster-robust
#: standard errors are not trusted: ``inference="auto"`` resolves to
#: ``"permutation"`` and ``"analytic"`` results carry a warning. The CRV1 t-test's
#: size at a nominal 5% is 4-6.5% with 30 treated units of 150, 6% with 20 and 8% with
#: 15 (docs/statistical_validity.md); below that the over-rejection grows quickly
#: (12% at 5, 23-24% at 3, 86-88% at 1).
FEW_TREATED_THRESHOLD: int = 20

#: Fewer clusters in total than this (but enough treated and untreated ones) and
#: ``inference="auto"`` resolves to the wild cluster bootstrap, the standard remedy for
#: few clusters (Cameron, Gelbach and Miller 2008, REStat 90(3): CRVE tests over-reject
#: with fewer than roughly 40-50 clusters).
FEW_CLUSTERS_THRESHOLD: int = 42


@dataclass(frozen=True)
class InferenceOutput:
    """What an inference method returns to the estimator that called it.

    Parameters
    ----------
    method : str
        ``"wild"``, ``"permutation"`` or ``"analytic"``.
    se : float
        Standard error reported next to the estimate. For ``"wild"`` it is the
        standard error implied by the test-inversion interval (its width divided by
        ``2 z_{1-alpha/2}``; the cluster-robust SE is in ``details["crve_se"]``); for
        ``"permutation"`` it is the standard deviation of the randomization
        distribution of the estimate under the sharp null of a constant effect equal
        to the estimate.
    ci : tuple of float
        ``(low, high)`` from test inversion; a bound is ``inf`` when the test never
        rejects in that direction.
    pvalue : float
        Two-sided p-value of the null hypothesis (zero effect unless stated).
    n_draws : int
        Bootstrap draws or assignments used (including enumerated ones).
    exact : bool
        True when every possible draw or assignment was enumerated.
    details : dict
        Method-specific extras (test statistic, weights, counts, distributions).
    warnings : list of str
        Plain-language diagnostics for the result's ``warnings``.
    """

    method: str
    se: float
    ci: tuple[float, float]
    pvalue: float
    n_draws: int
    exact: bool
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def few_treated_rule(
    n_treated_clusters: int, n_clusters: int
) -> tuple[str, str | None]:
    """Resolve ``inference="auto"`` and give the few-treated-clusters warning.

    The rule (documented in ``docs/statistical_validity.md``):

    1. fewer than :data:`FEW_TREATED_THRESHOLD` treated clusters, or fewer than that
       many untreated clusters: ``"permutation"`` (randomization inference holds its
       size with any number of treated units; the restricted wild bootstrap is
       conservative with very few treated clusters and cannot reject with one);
    2. otherwise fewer than :data:`FEW_CLUSTERS_THRESHOLD` clusters in total:
       ``"wild"``;
    3. otherwise ``"analytic"`` (cluster-robust standard errors).

    Through :func:`impact.did` the randomization inference of rule 1 is studentized
    (:mod:`impact.inference.studentized`): each re-assignment's estimate is divided by a
    standard error built from every unit's own noise, estimated from its changes
    before the first adoption, so the test keeps its size when the treated units are
    noisier or quieter than the rest. When fewer than three periods precede the first
    adoption that noise cannot be estimated and ``auto`` uses the wild bootstrap
    instead, from five treated clusters
    (:func:`impact.inference.studentized.noise_aware_choice`).

    Parameters
    ----------
    n_treated_clusters : int
        Clusters containing at least one treated unit.
    n_clusters : int
        All clusters.

    Returns
    -------
    method : str
        ``"permutation"``, ``"wild"`` or ``"analytic"``.
    warning : str or None
        The plain-language warning to attach when analytic cluster-robust standard
        errors are used anyway; None when they can be trusted.
    """
    n_t = check_positive_int(
        "n_treated_clusters", n_treated_clusters, "few_treated_rule"
    )
    n = check_positive_int("n_clusters", n_clusters, "few_treated_rule", minimum=2)
    if n_t >= n:
        from impact.errors import SpecError

        raise SpecError(
            f"few_treated_rule needs at least one untreated cluster: got "
            f"{n_t} treated of {n} clusters."
        )
    n_c = n - n_t
    unit = "unit" if n_t == 1 else "units"
    if n_t < FEW_TREATED_THRESHOLD:
        return "permutation", (
            f"{n_t} treated {unit}: analytic cluster SEs over-reject; use "
            f"inference='wild' or 'permutation' (fewer than {FEW_TREATED_THRESHOLD} "
            "treated clusters; see docs/statistical_validity.md)"
        )
    if n_c < FEW_TREATED_THRESHOLD:
        return "permutation", (
            f"{n_c} untreated clusters: analytic cluster SEs over-reject; use "
            f"inference='wild' or 'permutation' (fewer than {FEW_TREATED_THRESHOLD} "
            "untreated clusters)"
        )
    if n < FEW_CLUSTERS_THRESHOLD:
        return "wild", (
            f"{n} clusters: analytic cluster SEs over-reject; use inference='wild' "
            f"(fewer than {FEW_CLUSTERS_THRESHOLD} clusters)"
        )
    return "analytic", None


def invert_test(
    pfun: Callable[[float], float],
    estimate: float,
    scale: float,
    alpha: float,
    max_scale: float = 1e6,
) -> tuple[tuple[float, float], list[str]]:
    """Confidence interval ``{theta0: p(theta0) > alpha}`` by bracketing and bisection.

    Starting from the estimate, steps of ``scale`` doubling outwards find a value with
    ``p <= alpha`` on each side (up to ``max_scale * scale``; beyond that the bound is
    infinite), then bisection narrows the crossing to ``1e-10 * scale``. For the
    step-function p-values of bootstrap and permutation tests this returns the
    outermost crossing found along the doubling path.

    Parameters
    ----------
    pfun : callable
        ``pfun(theta0) -> p-value``.
    estimate : float
        Point estimate (``pfun(estimate)`` should exceed ``alpha``).
    scale : float
        Initial step, e.g. a standard error.
    alpha : float
        Level.
    max_scale : float, default 1e6
        Largest distance searched, in units of ``scale``.

    Returns
    -------
    ci : tuple of float
        ``(low, high)``; infinite where the test never rejects.
    warnings : list of str
        A warning when a bound is infinite.
    """
    warnings: list[str] = []
    if not np.isfinite(scale) or scale <= 0:
        scale = max(abs(estimate), 1.0) * 1e-3
    bounds: list[float] = []
    for sign in (-1.0, 1.0):
        inside, step = 0.0, scale
        outside = None
        while step <= max_scale * scale:
            if pfun(estimate + sign * step) <= alpha:
                outside = step
                break
            inside, step = step, step * 2.0
        if outside is None:
            bounds.append(sign * np.inf)
            continue
        lo, hi = inside, outside
        for _ in range(200):
            if hi - lo <= 1e-10 * scale + 1e-12 * abs(estimate):
                break
            mid = 0.5 * (lo + hi)
            if pfun(estimate + sign * mid) > alpha:
                lo = mid
            else:
                hi = mid
        bounds.append(estimate + sign * 0.5 * (lo + hi))
    if not (np.isfinite(bounds[0]) and np.isfinite(bounds[1])):
        warnings.append(
            "The confidence interval is unbounded: the test never rejects in that "
            "direction (typical with one or two treated clusters); the data cannot "
            "bound the effect with this method."
        )
    return (float(bounds[0]), float(bounds[1])), warnings
