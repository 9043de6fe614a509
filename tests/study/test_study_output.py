"""Output folders: checked before work, written atomically, nothing read or written outside.

Each test reproduces a case found by fuzzing the command line (issue "Hardening"): a
report that embedded /etc/passwd from a crafted results.json, a report written through a
symbolic link, a half-written report after a full disk, figures of an interrupted run
left beside the previous run's reports, an ``--out`` that is a file discovered only
after every analysis ran.
"""

from __future__ import annotations

import base64
import errno
import json
import os
from pathlib import Path

import pytest
from study_fakes import fake_did
from study_helpers import write_study

from impact.cli import main
from impact.errors import SpecError
from impact.study import runner
from impact.study.output import OutputFolder, atomic_write_text, inside


@pytest.fixture(autouse=True)
def _fake(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(runner.ESTIMATORS, "fake", fake_did)


def _run(tmp_path: Path, out: Path) -> runner.StudyRun:
    return runner.run_study(write_study(tmp_path), out=out)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_report_does_not_embed_files_outside_the_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(tmp_path, out)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    results = json.loads((out / "results.json").read_text())
    results["figures"] = {"main": "../secret.txt", "placebo": str(secret)}
    (out / "results.json").write_text(json.dumps(results))
    link = out / "figures" / "link.png"
    link.symlink_to(secret)
    results["figures"]["main"] = "figures/link.png"
    (out / "results.json").write_text(json.dumps(results))

    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    encoded = base64.b64encode(b"TOP-SECRET-CONTENT").decode()
    assert encoded not in page and "TOP-SECRET" not in page
    assert page.count("outside the run folder") == 2


def test_report_refuses_to_write_through_a_symlink(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(tmp_path, out)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / "report.md").unlink()
    (out / "report.md").symlink_to(victim)

    assert main(["report", str(out), "--format", "md"]) == 2
    assert victim.read_text() == "keep me"
    with pytest.raises(SpecError, match="symbolic link"):
        _run(tmp_path, out)
    assert victim.read_text() == "keep me"


def test_out_that_is_a_file_is_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out"
    target.write_text("not a folder")

    def _no_work(*args: object, **kwargs: object) -> None:
        raise AssertionError("data were read before --out was checked")

    monkeypatch.setattr(runner, "load_data", _no_work)
    with pytest.raises(SpecError, match="existing file, not a folder"):
        _run(tmp_path, target)
    assert target.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_out_is_refused_before_any_work(tmp_path: Path) -> None:
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(0o500)
    try:
        with pytest.raises(SpecError, match="not writable"):
            _run(tmp_path, target)
    finally:
        target.chmod(0o700)


def test_a_full_disk_leaves_the_previous_run_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _run(tmp_path, out)
    before = _snapshot(out)
    from impact.study import report

    real = report.render_html

    def _disk_full(*args: object, **kwargs: object) -> str:
        real(*args, **kwargs)  # type: ignore[arg-type]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "render_html", _disk_full)
    with pytest.raises(OSError, match="No space"):
        runner.run_study(tmp_path / "study.toml", out=out, seed=99)
    assert _snapshot(out) == before, "a failed run changed the previous run's files"
    assert not [p for p in out.iterdir() if p.name.startswith(".impact-")]


def test_an_interrupted_run_leaves_the_previous_run_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    _run(tmp_path, out)
    before = _snapshot(out)

    def _interrupt(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("impact.study.robustness.spec_curve_png", _interrupt)
    with pytest.raises(KeyboardInterrupt):
        runner.run_study(tmp_path / "study.toml", out=out, seed=99)
    assert _snapshot(out) == before
    assert not [p for p in out.iterdir() if p.name.startswith(".impact-")]


def test_a_new_run_replaces_the_old_one_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _run(tmp_path, out)
    stale = out / "figures" / "from_an_older_study.png"
    stale.write_bytes(b"old")
    run = _run(tmp_path, out)
    assert not stale.exists()
    assert {p.name for p in run.files} >= {"results.json", "report.md", "report.html"}
    assert run.files[-1].name == "results.json", "results.json must be published last"
    assert not [p for p in out.iterdir() if p.name.startswith(".impact-")]


def test_inside_refuses_escapes(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert inside(tmp_path, "a/b.png") == tmp_path / "a" / "b.png"
    for rel in ["../x", "/etc/passwd", "a/../../x"]:
        with pytest.raises(SpecError):
            inside(tmp_path, rel)


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_output_folder_discards_unpublished_files(tmp_path: Path) -> None:
    with OutputFolder(tmp_path) as folder:
        folder.write_text("results.json", "{}")
    assert list(tmp_path.iterdir()) == []
