"""Seeds and parallel execution shared by simulations, placebo runs and robustness grids.

One child :class:`numpy.random.Generator` is spawned per task from the user's seed, so
results do not depend on ``n_jobs``, the backend or the core count.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from impact._validation import check_option
from impact.errors import SpecError

__all__ = ["as_generator", "progress_enabled", "run_tasks", "spawn_generators"]

T = TypeVar("T")
SeedLike = int | np.random.Generator | np.random.SeedSequence | None

_BACKENDS = [None, "serial", "joblib", "dask"]


def as_generator(seed: SeedLike) -> np.random.Generator:
    """Return a Generator from an int, a SeedSequence, a Generator or None.

    Parameters
    ----------
    seed : int, Generator, SeedSequence or None
        The seed; a Generator is returned as is.

    Returns
    -------
    numpy.random.Generator
        The generator.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and not isinstance(
        seed, (int, np.integer, np.random.SeedSequence)
    ):
        raise SpecError(
            f"seed must be an int, a numpy Generator or None; got {type(seed).__name__}."
        )
    return np.random.default_rng(seed)


def spawn_generators(seed: SeedLike, n: int) -> list[np.random.Generator]:
    """Spawn ``n`` independent child Generators from ``seed``.

    Parameters
    ----------
    seed : int, Generator, SeedSequence or None
        Parent seed.
    n : int
        Number of children (one per replication or task).

    Returns
    -------
    list of numpy.random.Generator
        The children; the same seed always gives the same children.
    """
    if isinstance(seed, np.random.Generator):
        return list(seed.spawn(n))
    if isinstance(seed, np.random.SeedSequence):
        return [np.random.default_rng(s) for s in seed.spawn(n)]
    as_generator(seed)  # validates the type
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


def progress_enabled(progress: bool | None) -> bool:
    """Whether to show a tqdm bar: explicit choice, else only on a terminal outside CI.

    Parameters
    ----------
    progress : bool or None
        The user's choice; None means automatic.

    Returns
    -------
    bool
        True to show a progress bar.
    """
    if progress is not None:
        return bool(progress)
    if os.environ.get("CI") or os.environ.get("TQDM_DISABLE"):
        return False
    return sys.stderr.isatty()


def run_tasks(
    func: Callable[[Any], T],
    tasks: Iterable[Any],
    *,
    backend: str | None = None,
    n_jobs: int = 1,
    progress: bool | None = None,
    desc: str = "",
    scheduler: str | None = None,
    scratch: str | os.PathLike[str] | None = None,
) -> list[T]:
    """Run ``func`` on every task, serially or in parallel; order is preserved.

    Parameters
    ----------
    func : callable
        Called as ``func(task)``; must be picklable for the parallel backends.
    tasks : iterable
        The tasks (give each its own spawned Generator when it draws random numbers).
    backend : {None, "serial", "joblib", "dask"}
        None picks "serial" when ``n_jobs == 1`` and "joblib" otherwise. "dask" runs
        through joblib's dask backend on the scheduler at ``scheduler`` (or a local
        cluster started for the call).
    n_jobs : int, default 1
        Parallel workers (joblib convention: -1 = all cores).
    progress : bool, optional
        Show a tqdm progress bar (default: only on a terminal, never in CI).
    desc : str
        Progress-bar label.
    scheduler : str, optional
        Address of a dask.distributed scheduler.
    scratch : path-like, optional
        Folder for the parallel backends' temporary files (joblib's memory maps, a
        local dask cluster's spill and lock files); default the system's temporary
        folder. ``impact run`` points it inside ``--out``.

    Returns
    -------
    list
        ``[func(t) for t in tasks]``.
    """
    check_option("backend", backend, _BACKENDS, "run_tasks")
    items: Sequence[Any] = list(tasks)
    show = progress_enabled(progress)
    if backend is None:
        backend = "serial" if n_jobs == 1 else "joblib"
    if backend == "serial":
        if show:
            from tqdm.auto import tqdm

            return [func(t) for t in tqdm(items, desc=desc)]
        return [func(t) for t in items]

    import joblib

    def _iterate() -> Iterable[Any]:
        if show:
            from tqdm.auto import tqdm

            return tqdm(items, desc=desc)
        return items

    temp_folder = None if scratch is None else str(scratch)
    if backend == "joblib":
        return list(
            joblib.Parallel(n_jobs=n_jobs, temp_folder=temp_folder)(
                joblib.delayed(func)(t) for t in _iterate()
            )
        )
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise SpecError(
            "backend='dask' needs dask.distributed: pip install 'impact[dask]'."
        ) from exc
    import contextlib

    import dask

    settings = (
        dask.config.set({"temporary-directory": temp_folder})
        if temp_folder is not None
        else contextlib.nullcontext()
    )
    with settings:
        if scheduler is not None:
            client = Client(scheduler)
            cluster = None
        else:
            workers = max(1, n_jobs if n_jobs > 0 else os.cpu_count() or 1)
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                local_directory=temp_folder,
            )
            client = Client(cluster)
        try:
            with joblib.parallel_config(backend="dask"):
                out = list(
                    joblib.Parallel(n_jobs=n_jobs, temp_folder=temp_folder)(
                        joblib.delayed(func)(t) for t in _iterate()
                    )
                )
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return out
