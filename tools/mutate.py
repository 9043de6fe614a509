#!/usr/bin/env python
"""Plant a one-line bug, run the tests that should catch it, and always revert.

A test that guards a number is only trusted once it has been seen to fail on a wrong
number. This script applies one mutation to one line of a source file, runs a pytest
selection against the mutated tree, reports ``killed`` (the tests failed) or
``survived`` (they passed), and restores the file byte for byte, also on Ctrl-C or an
error. It works in any git checkout or worktree: paths are relative to the top of the
worktree that contains the current directory, and the tests import that worktree's
package (``PYTHONPATH`` is set to it).

Single mutation::

    python tools/mutate.py impact/did/results.py --pattern "1 - alpha / 2" \\
        --replace "1 - alpha" -- tests/did/test_did_cs_reference.py -q -x

    python tools/mutate.py impact/panel.py --line 324 --replace "varying = ... > 99" \\
        -- tests/foundation -q -x

A batch of mutations (a JSON list of objects with ``id``, ``file``, ``pattern`` or
``line``, ``replace``, optional ``nth`` and ``tests``; or a folder of such lists, one file
per topic, as in ``tools/mutations/``), printed as a kill table::

    python tools/mutate.py --batch tools/mutations [--only ID ...] [--prefix P ...]

``--baseline`` first runs each distinct test selection of the batch on the unmutated
tree and stops (exit 2) if one does not pass: a test that already fails would make
every mutation look killed. A kill names the first failed test (``by ...`` and
``killed_by`` in ``--json``), so a table shows which test guards each line.

``--pattern`` is a regular expression; the ``nth`` (default 1st) line it matches is
rewritten with ``re.sub(pattern, replace, line, count=1)``. ``--line N`` replaces the
whole of line ``N`` (1-based; the original indentation is kept when the replacement has
none). Exit status: 0 when every mutation was killed, 1 when one survived, 2 on a usage
error or a mutation that could not be applied.

The file's cached bytecode (``__pycache__/<name>.*.pyc``) is deleted after the mutation is
written and again after the revert, so a mutation that keeps the file's size and mtime
second can never run (or linger) as stale bytecode. A copy of
the original is kept beside the file (``.<name>.mutate-orig``) while the tests run; if
the process is killed outright, the next run restores it before doing anything else.
Only one run at a time may use a worktree (lock file ``.mutate-lock`` at its top): a
second run would import the first one's mutated file, or take its backup for a stale
one and revert it mid-run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BACKUP_SUFFIX = ".mutate-orig"


@dataclass
class Mutation:
    """One planted bug: where, what, and which tests should catch it."""

    id: str
    file: str
    replace: str
    pattern: str | None = None
    line: int | None = None
    nth: int = 1
    tests: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # killed | survived | timeout | error
    seconds: float
    lineno: int = 0
    before: str = ""
    after: str = ""
    detail: str = ""


def repo_root(start: Path) -> Path:
    """Top of the git worktree containing ``start`` (falls back to ``start``)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=start,
            capture_output=True,
            text=True,
            check=True,
        )
        return Path(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return start


def _backup_path(path: Path) -> Path:
    return path.with_name("." + path.name + BACKUP_SUFFIX)


def restore_stale_backups(root: Path) -> list[Path]:
    """Put back originals left by a run that was killed before it could revert."""
    restored = []
    for bak in root.rglob("*" + BACKUP_SUFFIX):
        if ".git" in bak.parts:
            continue
        target = bak.with_name(bak.name[1 : -len(BACKUP_SUFFIX)])
        target.write_bytes(bak.read_bytes())
        bak.unlink()
        restored.append(target)
    return restored


LOCK_NAME = ".mutate-lock"


def take_lock(root: Path) -> bool:
    """One run per worktree: a second run would see the first one's mutated file.

    Returns False when another live run holds the lock; a lock left by a dead
    process is taken over.
    """
    lock = root / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
                if pid <= 0:
                    raise ValueError(pid)
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError, FileNotFoundError):
                lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            except PermissionError:
                return False
            return False
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def _drop_bytecode(path: Path) -> None:
    for pyc in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
        pyc.unlink(missing_ok=True)


def apply(text: str, m: Mutation) -> tuple[str, int, str, str]:
    """Return the mutated text, the 1-based line number, and the line before/after."""
    lines = text.splitlines(keepends=True)
    if m.line is not None:
        idx = m.line - 1
        if not 0 <= idx < len(lines):
            raise ValueError(f"{m.file} has {len(lines)} lines; no line {m.line}")
        old = lines[idx]
        body = old.rstrip("\r\n")
        ending = old[len(body) :]
        indent = body[: len(body) - len(body.lstrip())]
        new = m.replace if m.replace[:1].isspace() else indent + m.replace
        new_line = new + ending
    else:
        assert m.pattern is not None
        rx = re.compile(m.pattern)
        hits = [i for i, ln in enumerate(lines) if rx.search(ln)]
        if len(hits) < m.nth:
            raise ValueError(
                f"pattern {m.pattern!r} matches {len(hits)} line(s) of {m.file}; "
                f"nth={m.nth} requested"
            )
        idx = hits[m.nth - 1]
        old = lines[idx]
        new_line = rx.sub(m.replace, old, count=1)
    if new_line == old:
        raise ValueError(f"mutation {m.id!r} leaves line {idx + 1} unchanged")
    lines[idx] = new_line
    return "".join(lines), idx + 1, old.rstrip("\r\n"), new_line.rstrip("\r\n")


def _run_tests(root: Path, tests: list[str], timeout: float | None) -> tuple[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    env.setdefault("TQDM_DISABLE", "1")
    # -rfEs: the short summary lists failures, so a kill can name its test
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfEs", *tests]
    try:
        proc = subprocess.run(
            cmd,
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return "timeout", ""
    tail = "\n".join(proc.stdout.strip().splitlines()[-3:])
    # pytest: 0 all passed, 1 some failed, 5 nothing collected, others = errors
    status = {0: "survived", 1: "killed"}.get(proc.returncode, "error")
    # pytest exits 1 for setup errors too (e.g. reference data not found): only
    # failed tests kill a mutation
    if status == "killed" and " error" in tail and " failed" not in tail:
        status = "error"
    if status == "killed":
        return status, first_failure(proc.stdout)
    if proc.returncode not in (0, 1):
        tail = f"pytest exit {proc.returncode}: " + tail + proc.stderr[-500:]
    return status, tail


def first_failure(stdout: str) -> str:
    """The node id of the first failed test in pytest's short summary ("" if none)."""
    for line in stdout.splitlines():
        if line.startswith("FAILED "):
            return line[len("FAILED ") :].split(" - ")[0].strip()
    return ""


def baseline(
    root: Path, selections: list[list[str]], timeout: float | None
) -> list[str]:
    """Run each distinct test selection on the unmutated tree; return those that fail.

    A selection that already fails would report every mutation as killed.
    """
    failing = []
    for tests in selections:
        status, detail = _run_tests(root, tests, timeout)
        if status != "survived":
            failing.append(f"{' '.join(tests)}  ({status}: {detail or 'no detail'})")
    return failing


def run_one(
    root: Path, m: Mutation, timeout: float | None, dry_run: bool = False
) -> Outcome:
    """Apply ``m``, run its tests, revert. The file is restored whatever happens."""
    path = (root / m.file).resolve()
    original = path.read_bytes()
    stat = path.stat()
    try:
        text, lineno, before, after = apply(original.decode(), m)
    except ValueError as err:
        return Outcome(m, "error", 0.0, detail=str(err))
    if dry_run:
        return Outcome(m, "dry-run", 0.0, lineno, before, after)
    backup = _backup_path(path)
    backup.write_bytes(original)
    t0 = time.perf_counter()
    try:
        path.write_text(text)
        _drop_bytecode(path)
        status, detail = _run_tests(root, m.tests, timeout)
    finally:
        path.write_bytes(original)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        _drop_bytecode(path)
        backup.unlink(missing_ok=True)
    if path.read_bytes() != original:  # pragma: no cover - should never happen
        raise RuntimeError(f"{path} was not restored")
    return Outcome(m, status, time.perf_counter() - t0, lineno, before, after, detail)


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _table(outcomes: list[Outcome]) -> str:
    rows = [("id", "status", "s", "where", "tests")]
    for o in outcomes:
        rows.append(
            (
                o.mutation.id,
                o.status,
                f"{o.seconds:.0f}",
                f"{o.mutation.file}:{o.lineno}",
                " ".join(t for t in o.mutation.tests if not t.startswith("-")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4])
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tests: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, tests = argv[:cut], argv[cut + 1 :]
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    ap.add_argument("file", nargs="?", help="source file, relative to the worktree")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--pattern", help="regex; the matching line is rewritten")
    where.add_argument("--line", type=int, help="1-based line to replace wholesale")
    ap.add_argument("--replace", help="replacement (re.sub template for --pattern)")
    ap.add_argument("--nth", type=int, default=1, help="use the nth matching line")
    ap.add_argument(
        "--batch",
        help="JSON file with a list of mutations, or a folder of such files",
    )
    ap.add_argument("--only", nargs="*", default=None, help="batch ids to run")
    ap.add_argument(
        "--prefix",
        nargs="*",
        default=None,
        help="run the batch ids starting with any of these prefixes",
    )
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    ap.add_argument("--dry-run", action="store_true", help="show the diff, run nothing")
    ap.add_argument(
        "--baseline",
        action="store_true",
        help="first run each distinct test selection unmutated; stop if one fails",
    )
    ap.add_argument("--json", help="also write the outcomes to this JSON file")
    args = ap.parse_args(argv)

    root = repo_root(Path.cwd())
    if not take_lock(root):
        print(
            f"another mutate.py run is using {root} ({LOCK_NAME}); wait for it: "
            "two runs in one worktree would test each other's mutated files",
            file=sys.stderr,
        )
        return 2
    try:
        return _main(args, ap, root, tests)
    finally:
        (root / LOCK_NAME).unlink(missing_ok=True)


def load_batch(path: Path) -> list[dict]:
    """Read a batch: one JSON list, or every ``*.json`` list in a folder (sorted).

    Ids must be unique across the whole batch, so ``--only`` names one mutation.
    """
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    entries: list[dict] = []
    for f in files:
        entries.extend(json.loads(f.read_text()))
    seen: set[str] = set()
    dupes = sorted({d["id"] for d in entries if d["id"] in seen or seen.add(d["id"])})
    if dupes:
        raise SystemExit(f"duplicate mutation ids in {path}: {', '.join(dupes)}")
    return entries


def _main(
    args: argparse.Namespace,
    ap: argparse.ArgumentParser,
    root: Path,
    tests: list[str],
) -> int:
    for p in restore_stale_backups(root):
        print(f"restored {p} from a run that did not finish", file=sys.stderr)

    if args.batch:
        muts = [Mutation(**d) for d in load_batch(Path(args.batch))]
        if args.only:
            muts = [m for m in muts if m.id in set(args.only)]
        if args.prefix:
            muts = [m for m in muts if m.id.startswith(tuple(args.prefix))]
        if not muts:
            ap.error("no mutation in the batch matches --only/--prefix")
        if tests:
            for m in muts:
                m.tests = list(tests)
    else:
        if not args.file or args.replace is None:
            ap.error("give FILE and --replace (with --pattern or --line), or --batch")
        if args.pattern is None and args.line is None:
            ap.error("give --pattern or --line")
        if not tests:
            ap.error("give the pytest selection after '--'")
        muts = [
            Mutation(
                id="mutation",
                file=args.file,
                pattern=args.pattern,
                line=args.line,
                nth=args.nth,
                replace=args.replace,
                tests=tests,
            )
        ]

    if args.baseline and not args.dry_run:
        selections = list({tuple(m.tests): m.tests for m in muts}.values())
        failing = baseline(root, selections, args.timeout)
        if failing:
            print(
                "these selections do not pass on the unmutated tree:", file=sys.stderr
            )
            print("\n".join("  " + f for f in failing), file=sys.stderr)
            return 2
        print(f"baseline: {len(selections)} test selection(s) pass unmutated")

    # Ctrl-C, kill and a closed terminal all unwind through run_one's ``finally``
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _sigterm)
    signal.signal(signal.SIGHUP, _sigterm)
    outcomes = []
    try:
        for m in muts:
            o = run_one(root, m, args.timeout, dry_run=args.dry_run)
            outcomes.append(o)
            by = f"  by {o.detail}" if o.status == "killed" and o.detail else ""
            print(f"[{o.status}] {m.id}  {m.file}:{o.lineno}  ({o.seconds:.0f} s){by}")
            if o.before:
                print(f"    - {o.before.strip()}\n    + {o.after.strip()}")
            if o.status in ("survived", "error") and o.detail:
                print("    " + o.detail.replace("\n", "\n    "))
            sys.stdout.flush()
    except KeyboardInterrupt:
        print("interrupted; the mutated file was restored", file=sys.stderr)
        return 130
    if len(outcomes) > 1:
        print()
        print(_table(outcomes))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "id": o.mutation.id,
                        "status": o.status,
                        "seconds": round(o.seconds, 1),
                        "where": f"{o.mutation.file}:{o.lineno}",
                        "before": o.before.strip(),
                        "after": o.after.strip(),
                        "killed_by": o.detail if o.status == "killed" else "",
                    }
                    for o in outcomes
                ],
                indent=1,
            )
        )
    if any(o.status == "error" for o in outcomes):
        return 2
    return (
        0 if all(o.status in ("killed", "timeout", "dry-run") for o in outcomes) else 1
    )


if __name__ == "__main__":
    sys.exit(main())
