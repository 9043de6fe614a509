"""Shared helpers of the benchmark scripts (timing, BLAS threads, data, peer venv).

Imports only the standard library at module level: the same file is loaded by the
main interpreter (where ``impact`` is installed) and by the peers' interpreter (a
separate virtual environment with csdid, pyfixest, pysyncon, ...), which never
imports ``impact``. numpy/pandas are imported inside the functions that need them.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("IMPACT_REFERENCE_DATA", REPO.parent / "shared" / "data"))
REQUIREMENTS = Path(__file__).resolve().parent / "requirements-peers.txt"
BLAS_VARS = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


def set_blas_threads(n: int) -> None:
    """Cap BLAS/OpenMP threads (call before numpy is imported)."""
    for var in BLAS_VARS:
        os.environ[var] = str(n)


def median_time(
    func: Callable[[], Any],
    repeats: int = 3,
    warmup: int = 1,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[float, Any]:
    """Median seconds of ``repeats`` calls after ``warmup`` calls.

    A warm-up longer than 5 s (or ``warmup=0``, used for peers that take minutes)
    leaves a single timed call. ``clock`` is wall-clock time by default;
    ``time.process_time`` gives the CPU time of this process (all its threads, not
    its child processes), which a busy shared machine disturbs much less.

    Returns the median and the value of the last call (to check that both sides
    computed the same thing).
    """
    out = None
    first = 0.0
    for _ in range(warmup):
        t0 = clock()
        out = func()
        first = clock() - t0
    if warmup == 0 or first > 5.0:
        repeats = 1  # slow calls: one timed run after the warm-up (if any)
    times = []
    for _ in range(max(1, repeats)):
        t0 = clock()
        out = func()
        times.append(clock() - t0)
    return statistics.median(times), out


def timed(func: Callable[[], Any]) -> tuple[float, float, Any]:
    """One call: wall-clock seconds, CPU seconds of this process, and its value."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = func()
    return time.perf_counter() - w0, time.process_time() - c0, out


# --------------------------------------------------------------------------- data


def synthetic_panel(n: int, t: int, seed: int = 1) -> Any:
    """Staggered long panel ``id, t, y, g`` (g = 0: never treated).

    4 cohorts at 1/5..4/5 of the window, 40% never treated, unit effects, a
    random-walk period effect, heterogeneous dynamic effects, N(0, 1) noise.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    starts = [round(t * k / 5) + 1 for k in (1, 2, 3, 4)]
    cohort = rng.choice([*starts, 0], size=n, p=[0.15, 0.15, 0.15, 0.15, 0.4])
    periods = np.arange(1, t + 1)
    y = (
        rng.normal(size=(n, 1))
        + np.cumsum(rng.normal(size=t))[None, :]
        + rng.normal(size=(n, t))
    )
    e = periods[None, :] - cohort[:, None]
    treated = (cohort[:, None] > 0) & (e >= 0)
    y = y + np.where(treated, 1.0 + 0.1 * e + 0.2 * (cohort[:, None] % 3), 0.0)
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), t),
            "t": np.tile(periods, n),
            "y": y.ravel(),
            "g": np.repeat(cohort, t),
        }
    )


def mpdta() -> Any:
    """R did's mpdta (500 counties x 2003-2007) as ``id, t, y, g``."""
    import pandas as pd

    df = pd.read_csv(DATA / "mpdta.csv")
    return df.rename(
        columns={"countyreal": "id", "year": "t", "lemp": "y", "first.treat": "g"}
    )[["id", "t", "y", "g"]]


def matching_data(n1: int, n0: int, seed: int = 20240501) -> Any:
    """Cross-section with a known propensity score ``ps`` (as bench_matching)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    ps = np.r_[rng.beta(3, 5, n1), rng.beta(2, 6, n0)]
    return pd.DataFrame(
        {
            "id": np.arange(n1 + n0),
            "treat": np.r_[np.ones(n1), np.zeros(n0)].astype(int),
            "ps": ps,
            "x": rng.normal(size=n1 + n0) + ps,
            "y": rng.normal(size=n1 + n0) + 2 * ps,
        }
    )


def power_panel(n: int = 150, t: int = 16, seed: int = 0) -> Any:
    """AR(1) long panel ``id, t, y`` (no treatment) for placebo power draws."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    e = np.empty((n, t))
    e[:, 0] = rng.normal(size=n) / np.sqrt(1 - 0.8**2)
    for s in range(1, t):
        e[:, s] = 0.8 * e[:, s - 1] + rng.normal(size=n)
    y = 60.0 + rng.normal(size=(n, 1)) + 0.5 * rng.normal(size=(1, t)) + e
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), t),
            "t": np.tile(np.arange(2010, 2010 + t), n),
            "y": y.ravel(),
        }
    )


def placebo_draws(n_units: int, n_treated: int, n_draws: int, seed: int = 1) -> Any:
    """Indices of the placebo-treated units, one row per draw (shared by both sides)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return np.argsort(rng.random((n_draws, n_units)), axis=1)[:, :n_treated]


# ------------------------------------------------------------------ peer venv


def venv_python(venv: Path) -> Path:
    """The interpreter of a virtual environment."""
    sub = "Scripts/python.exe" if os.name == "nt" else "bin/python"
    return venv / sub


def read_requirements() -> list[tuple[str, bool]]:
    """``(requirement, own_venv)`` pairs of requirements-peers.txt.

    A line whose comment contains ``own-venv`` is a peer whose exact pins clash with
    the others (synthdid pins pandas 1.5, statsmodels 0.13, ...): it gets a venv of
    its own, ``<peers-venv>/own/<name>``.
    """
    out = []
    for line in REQUIREMENTS.read_text().splitlines():
        req, _, comment = line.partition("#")
        if req.strip():
            out.append((req.strip(), "own-venv" in comment))
    return out


def _make_venv(venv: Path) -> tuple[Path | None, str]:
    py = venv_python(venv)
    if py.exists():
        return py, ""
    proc = subprocess.run(
        [sys.executable, "-m", "venv", str(venv)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not py.exists():
        return None, f"cannot create venv {venv}: {proc.stderr.strip()[-200:]}"
    return py, ""


def _pip_install(py: Path, req: str, venv: Path) -> bool:
    name, _, ver = req.partition("==")
    if ver and installed_versions(py).get(name.lower().replace("_", "-")) == ver:
        return True
    print(f"[peers] pip install {req} into {venv}", file=sys.stderr, flush=True)
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", req],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode == 0


def ensure_peers_venv(
    venv: Path, *, install: bool = True
) -> tuple[dict[str, Path | None], str]:
    """Create or reuse the peers' venvs; install requirements-peers.txt one by one.

    Returns ``{"": interpreter of the shared venv, name: interpreter of an own-venv
    peer}`` (None when a venv cannot be made) and a log line. A package that fails
    to install is left out (its timings then say n/a).
    """
    pys: dict[str, Path | None] = {}
    failed, msgs = [], []
    for req, own in read_requirements():
        name = req.partition("==")[0].lower()
        key = name if own else ""
        where = venv / "own" / name if own else venv
        if key not in pys:
            if not install and not venv_python(where).exists():
                pys[key] = None
                msgs.append(f"no venv at {where}")
                continue
            pys[key], msg = _make_venv(where)
            if msg:
                msgs.append(msg)
        py = pys[key]
        if py is not None and install and not _pip_install(py, req, where):
            failed.append(name)
    msg = f"peers venv {venv}" + ("" if install else " (reused, no install)")
    if failed:
        msg += f"; failed to install: {', '.join(failed)}"
    if msgs:
        msg += "; " + "; ".join(msgs)
    return pys, msg


def installed_versions(py: Path | str) -> dict[str, str]:
    """``{normalised name: version}`` of the packages in an interpreter."""
    code = (
        "import json, importlib.metadata as m;"
        "print(json.dumps({d.metadata['Name'].lower().replace('_', '-'): d.version"
        " for d in m.distributions() if d.metadata['Name']}))"
    )
    proc = subprocess.run(
        [str(py), "-c", code], capture_output=True, text=True, check=False
    )
    try:
        out: dict[str, str] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {}
    return out


def run_peer(
    py: Path | None,
    script: Path,
    task: str,
    data_dir: Path,
    *,
    repeats: int,
    timeout: float,
    extra: list[str] | None = None,
) -> dict[str, Any]:
    """Run ``script --peer-task task`` in the peers' interpreter; parse its JSON.

    Returns ``{peer: {"seconds": s, "value": v, "note": str}}`` or, per peer,
    ``{"na": reason}``; a crash or timeout of the whole subprocess becomes one
    ``"_all"`` entry with the reason.
    """
    if py is None:
        return {"_all": {"na": "no peers venv"}}
    cmd = [
        str(py),
        str(script),
        "--peer-task",
        task,
        "--data-dir",
        str(data_dir),
        "--repeats",
        str(repeats),
        *(extra or []),
    ]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env=os.environ.copy(),
        )
    except subprocess.TimeoutExpired:
        return {"_all": {"na": f"timed out after {timeout:.0f} s"}}
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.startswith("{")]
    if not lines:
        err = proc.stderr.strip().splitlines()
        return {"_all": {"na": f"peer process failed: {(err or ['?'])[-1][:100]}"}}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def machine() -> str:
    """One line describing the machine and the main interpreter."""
    threads = os.environ.get("OPENBLAS_NUM_THREADS", "default")
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, BLAS threads {threads}"
    )


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table: task | impact s | peer | peer s | ratio | note."""
    head = ["task", "impact (s)", "peer", "peer (s)", "peer / impact", "note"]
    body = []
    for r in rows:
        ours, theirs = r.get("impact_s"), r.get("peer_s")
        shown = r.get("impact", "")
        ratio = (
            f"{theirs / ours:.1f}x"
            if isinstance(ours, float) and isinstance(theirs, float) and ours > 0
            else "n/a"
        )
        body.append(
            [
                r["task"],
                f"{shown:.3f}" if isinstance(shown, float) else str(shown),
                r.get("peer", ""),
                f"{theirs:.3f}" if isinstance(theirs, float) else "n/a",
                ratio,
                r.get("note", ""),
            ]
        )
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    widths[-1] = min(widths[-1], 70)

    def line(cells: list[Any]) -> str:
        return " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(head), sep, *(line(b) for b in body)])
