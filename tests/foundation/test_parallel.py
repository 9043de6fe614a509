"""Seeds: one child Generator per task, identical results whatever the job count."""

from __future__ import annotations

import numpy as np
import pytest

from impact.errors import SpecError
from impact.parallel import as_generator, run_tasks, spawn_generators


def _draw(rng: np.random.Generator) -> float:
    return float(rng.normal())


def test_spawn_is_reproducible_and_independent():
    a = [_draw(g) for g in spawn_generators(7, 5)]
    b = [_draw(g) for g in spawn_generators(7, 5)]
    assert a == b and len(set(a)) == 5
    c = [_draw(g) for g in spawn_generators(np.random.default_rng(7), 3)]
    assert len(set(c)) == 3


def test_same_results_serial_and_joblib():
    serial = run_tasks(_draw, spawn_generators(1, 8))
    parallel = run_tasks(_draw, spawn_generators(1, 8), n_jobs=2)
    assert serial == parallel


def test_bad_seed_and_backend():
    with pytest.raises(SpecError, match="seed must be an int"):
        as_generator("abc")  # type: ignore[arg-type]
    with pytest.raises(
        SpecError, match=r"'backend' parameter of run_tasks must be one of"
    ):
        run_tasks(_draw, [], backend="spark")
