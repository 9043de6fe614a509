"""impact.limits at its boundaries: the documented defaults (1,000,000 draws, 10,000
grid variants, 4 GiB for one array) are allowed exactly and refused one unit above."""

from __future__ import annotations

import pytest

import impact.limits as limits
from impact.errors import SpecError


def test_defaults_allowed_exactly_and_refused_one_above(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("IMPACT_NO_LIMITS", raising=False)
    assert limits.current() == {"draws": 1_000_000, "grid": 10_000, "memory_gb": 4.0}
    assert limits.check_draws("n_boot", 1_000_000, "f") == 1_000_000
    with pytest.raises(SpecError, match="n_boot=1,000,001 is more than the limit"):
        limits.check_draws("n_boot", 1_000_001, "f")
    limits.check_grid(10_000, "grid")
    with pytest.raises(SpecError, match="10,001 variants"):
        limits.check_grid(10_001, "grid")
    gib = 2**30
    limits.check_memory("n_boot", 4 * gib, "f")
    with pytest.raises(SpecError, match=r"about 4\.0 GiB .*limit 4 GiB"):
        limits.check_memory("n_boot", 4 * gib + 2**20, "f")
    with pytest.raises(SpecError, match=r"about 8\.0 GiB"):
        limits.check_memory("n_boot", 8 * gib, "f")


def test_raised_sets_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IMPACT_NO_LIMITS", raising=False)
    before = limits.current()
    with limits.raised(draws=10, grid=3, memory_gb=0.5):
        assert limits.current() == {"draws": 10, "grid": 3, "memory_gb": 0.5}
        limits.check_draws("n_perm", 10, "f")
        with pytest.raises(SpecError, match="limit of 10 draws"):
            limits.check_draws("n_perm", 11, "f")
        with pytest.raises(SpecError, match="limit of 3"):
            limits.check_grid(4, "grid")
    assert limits.current() == before
    for bad in (0, -5, float("inf"), float("nan")):
        with pytest.raises(SpecError, match="positive finite number"):
            with limits.raised(draws=bad):
                pass  # pragma: no cover
    assert limits.current() == before


def test_environment_switch_turns_checks_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPACT_NO_LIMITS", "1")
    assert limits.check_draws("n_boot", 10**9, "f") == 10**9
    limits.check_grid(10**6, "grid")
    limits.check_memory("n_boot", 100 * 2**30, "f")
