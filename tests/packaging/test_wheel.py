"""The package as a user installs it: a wheel, in a fresh environment, outside the checkout.

Builds the wheel from this checkout (``pip wheel``, build isolation: hatchling comes
from the package index), installs it into a new virtual environment and, from a
scratch folder, checks ``impact --version``, ``import impact.data`` (the synthetic
panels are package data) and ``impact run`` on the flagship study shipped as an
example. The default-suite form shares the test environment's site-packages for the
dependencies (the wheel's own files must still win: checked through
``impact.__file__``); the slow form installs every dependency from the index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DIST = PYPROJECT["project"]["name"]
VERSION = PYPROJECT["project"]["version"]


def _run(
    cmd: list[str], cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    env["MPLBACKEND"] = "Agg"
    env["TQDM_DISABLE"] = "1"
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        cwd=out,
    )
    (path,) = out.glob("*.whl")
    return path


def _install(wheel: Path, venv: Path, *, shared_site: bool) -> Path:
    args = [sys.executable, "-m", "venv", str(venv)]
    if shared_site:
        args.insert(3, "--system-site-packages")
    _run(args, cwd=venv.parent)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, *(["--no-deps"] if shared_site else []), str(wheel)], cwd=venv.parent)
    return python


def _check_installed(python: Path, venv: Path, scratch: Path) -> None:
    scratch.mkdir()
    probe = (
        "import json, impact, impact.data as d; "
        "print(json.dumps({'file': impact.__file__, 'version': impact.__version__, "
        "'panel': str(d.synthetic_path()), 'rows': len(d.load_synthetic()), "
        "'names': dir(impact), 'programmes': len(d.programmes())}))"
    )
    info = json.loads(_run([str(python), "-c", probe], cwd=scratch).stdout)
    assert Path(info["file"]).is_relative_to(venv), "the wheel's copy must be imported"
    assert info["version"] == VERSION
    assert Path(info["panel"]).is_relative_to(venv)
    assert info["rows"] == 150 * 16  # 150 synthetic authorities, 2010-2025
    assert not {"Any", "annotations", "import_module"} & set(info["names"])
    # the programmes table is package data too
    expected_rows = len(pd.read_csv(REPO / "impact" / "data" / "programmes.csv"))
    assert info["programmes"] == expected_rows > 0

    impact_cmd = str(venv / "bin" / "impact")
    version = _run([impact_cmd, "--version"], cwd=scratch).stdout.strip()
    assert version == f"impact {VERSION}"
    _run(
        [impact_cmd, "run", "innovation_synthetic", "--out", "res", "--quiet"],
        cwd=scratch,
    )
    results = json.loads((scratch / "res" / "results.json").read_text())
    assert results["checks"] and all(c["passed"] for c in results["checks"])
    assert (scratch / "res" / "report.html").is_file()


def test_wheel_metadata(wheel: Path) -> None:
    assert wheel.name.startswith(f"{DIST.replace('-', '_')}-{VERSION}-")
    assert DIST != "impact", "the name 'impact' on the package index is another project"


def test_wheel_runs_outside_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = _install(wheel, venv, shared_site=True)
    _check_installed(python, venv, tmp_path / "scratch")


@pytest.mark.slow
def test_wheel_in_isolated_environment(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    python = _install(wheel, venv, shared_site=False)
    _check_installed(python, venv, tmp_path / "scratch")
