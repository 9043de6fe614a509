"""Execute every notebook in notebooks/ top to bottom in quick mode (IMPACT_QUICK=1)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, reference_data: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    env = {"IMPACT_QUICK": "1", "IMPACT_REFERENCE_DATA": str(reference_data),
           "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        # Run from a scratch folder: notebooks must not rely on the working directory.
        client = nbclient.NotebookClient(
            nb, timeout=300, kernel_name="python3",
            resources={"metadata": {"path": str(tmp_path)}},
        )
        client.execute()
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_outputs_are_clean(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"at 0x[0-9a-f]{6,}", text), "object ids in committed output"
    assert "/work/" not in text and "/home/" not in text and "/root/" not in text
