"""[[check]] comparisons at their boundaries (docs/studies.md, impact.study.spec):
``close``: |actual - expected| <= tolerance; ``less``: actual < expected + tolerance;
``greater``: actual > expected - tolerance. Values are exact binary fractions, so the
boundaries are exact."""

from __future__ import annotations

import pytest

from impact.study.quantities import evaluate_check
from impact.study.spec import CheckSpec


@pytest.mark.parametrize(
    ("compare", "actual", "passed"),
    [
        ("close", 1.5, True),  # |1.5 - 1| = 0.5 = tolerance
        ("close", 0.5, True),
        ("close", 1.625, False),
        ("close", 0.375, False),
        ("less", 1.25, True),  # above expected but within the tolerance
        ("less", 1.5, False),  # exactly expected + tolerance: not below it
        ("less", 0.25, True),
        ("greater", 0.75, True),  # below expected but within the tolerance
        ("greater", 0.5, False),  # exactly expected - tolerance
        ("greater", 1.75, True),
    ],
)
def test_check_compare_boundaries(compare: str, actual: float, passed: bool) -> None:
    check = CheckSpec(
        analysis="a", quantity="estimate", expected=1.0, tolerance=0.5, compare=compare
    )
    rec = evaluate_check(check, {"a": {"estimate": actual}})
    assert rec["passed"] is passed
    assert rec["actual"] == actual


def test_check_without_tolerance_is_strict() -> None:
    for compare, actual, passed in (
        ("less", 1.0, False),
        ("greater", 1.0, False),
        ("close", 1.0, True),
        ("close", 1.0 + 2**-20, False),
    ):
        check = CheckSpec(analysis="a", quantity="x", expected=1.0, compare=compare)
        assert evaluate_check(check, {"a": {"x": actual}})["passed"] is passed
    rec = evaluate_check(CheckSpec(analysis="a", quantity="x", expected=1.0), {"a": {}})
    assert rec["passed"] is False and "not found" in rec["note"]
