"""The output record shared by every inference method, and the few-treated rule.

``few_treated_rule`` is how ``inference="auto"`` resolves in every estimator. The
threshold comes from the Monte Carlo study in ``docs/statistical_validity.md``
(``benchmarks/size_coverage.py``): on 150-unit panels with 10 pre and 5 post periods and
AR(1) errors, a nominal 5% test with unit-clustered (CRV1) standard errors rejected a
true null in roughly 45% (1 treated unit), 20% (3), 13-14% (5) and 8% (15) of
replications, and stays above 6.5% until about 20 treated units. This matches the
few-treated-clusters literature (Conley and Taber 2011, REStat 93(1); MacKinnon and Webb
2017, JAE 32(2); 2018, Econometrics Journal 21(2)): CRVE t-tests are only reliable when
both the treated and the untreated clusters are numerous.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from impact._validation import check_positive_int

__all__ = [
    "FEW_CLUSTERS_THRESHOLD",
    "FEW_TREATED_THRESHOLD",
    "InferenceOutput",
    "few_treated_rule",
]

#: Fewer treated (or fewer untreated) clusters than this and analytic cluster-robust
#: standard errors are not trusted: ``inference="auto"`` resolves to
#: ``"permutation"`` and ``"analytic"`` results carry a warning. With 20 treated units
#: of 150 the CRV1 t-test rejects about 6-7% at a nominal 5% under AR(1) errors
#: (docs/statistical_validity.md); below that the over-rejection grows quickly
#: (8% at 15, 13-14% at 5, ~45% at 1).
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
            f"{n_t} treated {unit} (clusters): analytic cluster SEs over-reject with "
            f"fewer than {FEW_TREATED_THRESHOLD}; use inference='wild' or 'permutation'"
        )
    if n_c < FEW_TREATED_THRESHOLD:
        return "permutation", (
            f"{n_c} untreated clusters: analytic cluster SEs over-reject with fewer "
            f"than {FEW_TREATED_THRESHOLD}; use inference='wild' or 'permutation'"
        )
    if n < FEW_CLUSTERS_THRESHOLD:
        return "wild", (
            f"{n} clusters: analytic cluster SEs over-reject with fewer than "
            f"{FEW_CLUSTERS_THRESHOLD} clusters; use inference='wild'"
        )
    return "analytic", None
