"""Inference that stays honest with few treated units.

Shared by every estimator through ``inference=``: the restricted wild cluster
bootstrap (:func:`wild_cluster_bootstrap`), randomization inference
(:func:`permutation_inference`), cluster-robust standard errors for linear estimators
and the rule that resolves ``inference="auto"`` (:func:`few_treated_rule`).
"""

from __future__ import annotations

from impact.inference._core import (
    FEW_CLUSTERS_THRESHOLD,
    FEW_TREATED_THRESHOLD,
    InferenceOutput,
    few_treated_rule,
)
from impact.inference.linear import (
    cluster_robust_se,
    did2x2_weights,
    fe_residuals,
    make_twfe_batch,
    treatment_matrix,
    twfe_estimate_batch,
    twfe_weights,
    two_way_demean,
)
from impact.inference.permutation import (
    count_assignments,
    enumerate_assignments,
    permutation_inference,
    sample_assignments,
)
from impact.inference.plots import plot_null_distribution
from impact.inference.wild import draw_weights, webb_values, wild_cluster_bootstrap

__all__ = [
    "FEW_CLUSTERS_THRESHOLD",
    "FEW_TREATED_THRESHOLD",
    "InferenceOutput",
    "cluster_robust_se",
    "count_assignments",
    "did2x2_weights",
    "draw_weights",
    "enumerate_assignments",
    "fe_residuals",
    "few_treated_rule",
    "make_twfe_batch",
    "permutation_inference",
    "plot_null_distribution",
    "sample_assignments",
    "treatment_matrix",
    "twfe_estimate_batch",
    "twfe_weights",
    "two_way_demean",
    "webb_values",
    "wild_cluster_bootstrap",
]
