"""The inference='auto' rule and the output record."""

from __future__ import annotations

import dataclasses

import pytest

from impact.errors import SpecError
from impact.inference import (
    FEW_CLUSTERS_THRESHOLD,
    FEW_TREATED_THRESHOLD,
    InferenceOutput,
    few_treated_rule,
)


@pytest.mark.parametrize(
    ("n_treated", "n_clusters", "method", "warns"),
    [
        (1, 150, "permutation", True),
        (5, 150, "permutation", True),
        (FEW_TREATED_THRESHOLD - 1, 150, "permutation", True),
        (FEW_TREATED_THRESHOLD, 150, "analytic", False),
        (60, 150, "analytic", False),
        (140, 150, "permutation", True),  # only 10 untreated clusters
        (FEW_TREATED_THRESHOLD, FEW_CLUSTERS_THRESHOLD - 1, "wild", True),
    ],
)
def test_rule(n_treated, n_clusters, method, warns):
    got, warning = few_treated_rule(n_treated, n_clusters)
    assert got == method
    assert (warning is not None) == warns


def test_warning_text_is_plain_language():
    _, warning = few_treated_rule(3, 150)
    assert warning is not None
    # DESIGN.md: "3 treated units: analytic cluster SEs over-reject; use
    # inference='wild' or 'permutation'".
    assert warning.startswith(
        "3 treated units: analytic cluster SEs over-reject; use inference='wild' or "
        "'permutation'"
    )
    assert "analytic cluster SEs over-reject" in warning
    assert "inference='wild' or 'permutation'" in warning
    _, one = few_treated_rule(1, 150)
    assert one is not None and one.startswith("1 treated unit:")


def test_rule_rejects_bad_counts():
    with pytest.raises(SpecError, match="at least one untreated cluster"):
        few_treated_rule(10, 10)
    with pytest.raises(SpecError, match="n_treated_clusters"):
        few_treated_rule(0, 10)
    with pytest.raises(SpecError, match="n_clusters"):
        few_treated_rule(1, 1.5)  # type: ignore[arg-type]


def test_output_is_frozen():
    out = InferenceOutput("wild", 1.0, (0.0, 2.0), 0.5, 99, False)
    assert out.details == {} and out.warnings == []
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign"):
        out.se = 2.0  # type: ignore[misc]
