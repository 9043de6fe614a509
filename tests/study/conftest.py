"""Make the study tests' helper modules importable (also by parallel workers), and run
the two synthetic example studies once per test session for the tests that read them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

STUDIES = Path(__file__).resolve().parents[2] / "studies"


@pytest.fixture(scope="session")
def flagship_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``impact run studies/innovation_synthetic.toml`` (adopters selected on rising rates)."""
    from impact.study.runner import run_study

    out = tmp_path_factory.mktemp("flagship")
    return run_study(STUDIES / "innovation_synthetic.toml", out=out, progress=False)


@pytest.fixture(scope="session")
def random_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``impact run studies/random_adoption_synthetic.toml`` (random adopters, true 10% cut)."""
    from impact.study.runner import run_study

    out = tmp_path_factory.mktemp("random")
    return run_study(
        STUDIES / "random_adoption_synthetic.toml", out=out, progress=False
    )
