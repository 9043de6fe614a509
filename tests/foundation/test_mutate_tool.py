"""``tools/mutate.py``: the planted-bug tool reports what it claims.

A tiny git repository with one function and one test stands in for the package, so
each case runs pytest on three lines of code. The expected outcomes are known by
construction: a changed return value fails the test, a changed comment cannot.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        "mutate_tool", REPO / "tools" / "mutate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def toy(tmp_path, monkeypatch):
    (tmp_path / "toy.py").write_text("def double(x):\n    return 2 * x  # twice\n")
    (tmp_path / "test_toy.py").write_text(
        "from toy import double\n\n\ndef test_double():\n    assert double(3) == 6\n"
    )
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _batch(root: Path, entries: list[dict]) -> Path:
    path = root / "batch.json"
    path.write_text(json.dumps(entries))
    return path


def test_killed_names_the_failing_test_and_survivor_is_reported(toy):
    tool = _load_tool()
    tests = ["test_toy.py", "-q", "-p", "no:cacheprovider"]
    batch = _batch(
        toy,
        [
            {
                "id": "value",
                "file": "toy.py",
                "pattern": r"2 \* x",
                "replace": "3 * x",
                "tests": tests,
            },
            {
                "id": "comment",
                "file": "toy.py",
                "pattern": "twice",
                "replace": "thrice",
                "tests": tests,
            },
        ],
    )
    out = toy / "out.json"
    code = tool.main(["--batch", str(batch), "--baseline", "--json", str(out)])
    rows = {r["id"]: r for r in json.loads(out.read_text())}
    assert code == 1  # one survivor
    assert rows["value"]["status"] == "killed"
    assert rows["value"]["killed_by"] == "test_toy.py::test_double"
    assert rows["comment"]["status"] == "survived"
    assert rows["comment"]["killed_by"] == ""
    assert (toy / "toy.py").read_text() == "def double(x):\n    return 2 * x  # twice\n"


def test_baseline_refuses_a_selection_that_already_fails(toy, capsys):
    tool = _load_tool()
    (toy / "test_toy.py").write_text(
        "from toy import double\n\n\ndef test_double():\n    assert double(3) == 7\n"
    )
    tests = ["test_toy.py", "-q", "-p", "no:cacheprovider"]
    batch = _batch(
        toy,
        [
            {
                "id": "value",
                "file": "toy.py",
                "pattern": r"2 \* x",
                "replace": "3 * x",
                "tests": tests,
            }
        ],
    )
    # without the baseline the broken test makes the mutation look killed
    assert tool.main(["--batch", str(batch)]) == 0
    assert tool.main(["--batch", str(batch), "--baseline"]) == 2
    assert "do not pass on the unmutated tree" in capsys.readouterr().err
