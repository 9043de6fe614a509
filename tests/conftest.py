"""Shared fixtures: the reference-data folder, a headless matplotlib backend."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")

REPO = Path(__file__).resolve().parents[1]


def reference_data_dir() -> Path:
    """The folder of real public datasets (``$IMPACT_REFERENCE_DATA``, else ../shared/data)."""
    env = os.environ.get("IMPACT_REFERENCE_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data"
    return path.resolve()


@pytest.fixture(scope="session")
def reference_data() -> Path:
    """Path to the reference datasets; fails (never skips) when the folder is missing."""
    path = reference_data_dir()
    if not (path / "SOURCES.md").exists():
        pytest.fail(
            f"Reference data not found at {path}. Set IMPACT_REFERENCE_DATA to the "
            "shared/data folder."
        )
    return path


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
