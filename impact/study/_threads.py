"""Run study tasks with single-threaded BLAS, so every backend gives the same bits.

OpenBLAS splits some reductions differently with more threads, which changes the last
digits of estimates. Parallel workers run one BLAS thread (dask sets it; loky may not on
larger machines), so the serial backend must too for ``results.json`` to be identical
whatever the backend. Uses :mod:`threadpoolctl` when installed, else finds the loaded
OpenBLAS libraries (Linux) and calls their thread setters through :mod:`ctypes`.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import Any

__all__ = ["single_blas_thread"]

_GET = (
    "openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "scipy_openblas_get_num_threads64_",
)


def _openblas_libs() -> list[tuple[Any, Any]]:
    """(getter, setter) pairs for every OpenBLAS loaded in this process (Linux only)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {
                line.split()[-1]
                for line in fh
                if "openblas" in line.lower() and ".so" in line
            }
    except OSError:
        return []
    pairs = []
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get in _GET:
            setter = get.replace("_get_", "_set_")
            if hasattr(lib, get) and hasattr(lib, setter):
                pairs.append((getattr(lib, get), getattr(lib, setter)))
                break
    return pairs


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread inside the block; restore the previous count after.

    Yields
    ------
    None
        Nothing; the limit holds inside the ``with`` block.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
        return
    # load every BLAS the estimators may use before looking for them
    import numpy.linalg  # noqa: F401
    import scipy.linalg  # noqa: F401

    pairs = _openblas_libs()
    before = []
    for get, setter in pairs:
        try:
            before.append(int(get()))
            setter(ctypes.c_int(1))
        except (OSError, ValueError, TypeError):  # pragma: no cover - exotic builds
            before.append(-1)
    try:
        yield
    finally:
        for (_, setter), n in zip(pairs, before, strict=True):
            if n > 0:
                setter(ctypes.c_int(n))
