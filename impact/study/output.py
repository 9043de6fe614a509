"""Safe, atomic output folders for ``impact run`` and ``impact report``.

Every file of a run is first written to a staging folder inside the output folder, then
moved into place with :func:`os.replace` (atomic on one file system), ``results.json``
last. An interrupted or failed run (a full disk, Ctrl-C, an analysis that raises) removes
its staging folder and leaves the previous run untouched, so a folder holds either the old
run or the new one, never a mixture. Nothing is read or written outside the folder:
relative paths that climb out of it, and existing symbolic links at the targets, are
refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from impact.errors import SpecError

__all__ = [
    "OutputFolder",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_output_folder",
    "inside",
    "read_inside",
]

#: Written last: its presence marks a complete run.
RESULTS_FILE = "results.json"
_STAGING_PREFIX = ".impact-staging-"


def check_output_folder(out: str | Path) -> Path:
    """Check (and create) an output folder before any work is done.

    Parameters
    ----------
    out : str or Path
        The folder given as ``--out``.

    Returns
    -------
    pathlib.Path
        The folder, created if it did not exist.

    Raises
    ------
    SpecError
        The path is an existing file, cannot be created, or is not writable.
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise SpecError(
            f"--out {str(path)!r} is an existing file, not a folder; give a folder "
            "name (it is created if missing)."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(
            f"cannot create the output folder {str(path)!r} ({exc.strerror or exc}); "
            "choose a folder you can write to."
        ) from None
    try:
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".impact-probe-")
        probe.close()
    except OSError as exc:
        raise SpecError(
            f"the output folder {str(path)!r} is not writable ({exc.strerror or exc}); "
            "choose a folder you can write to."
        ) from None
    return path


def inside(root: Path, rel: str) -> Path:
    """Return ``root / rel`` if it stays inside ``root`` (symbolic links resolved).

    Parameters
    ----------
    root : pathlib.Path
        The folder.
    rel : str
        A relative path, as written in ``results.json``.

    Returns
    -------
    pathlib.Path
        The joined path.

    Raises
    ------
    SpecError
        ``rel`` is absolute, climbs out of ``root``, or resolves (through a symbolic
        link) outside it.
    """
    base = root.resolve()
    candidate = Path(rel)
    if candidate.is_absolute():
        raise SpecError(f"refusing the absolute path {rel!r}: paths must be relative")
    target = (root / candidate).resolve()
    if target != base and base not in target.parents:
        raise SpecError(f"refusing {rel!r}: it leads outside the folder {str(root)!r}")
    return root / candidate


def read_inside(root: Path, rel: str) -> bytes:
    """Read a file named relative to ``root``, refusing anything outside it.

    Parameters
    ----------
    root : pathlib.Path
        The folder.
    rel : str
        The relative path.

    Returns
    -------
    bytes
        The file's content.

    Raises
    ------
    SpecError
        The path leads outside ``root``.
    OSError
        The file cannot be read.
    """
    path = inside(root, rel)
    if not path.is_file():
        raise FileNotFoundError(str(rel))
    return path.read_bytes()


def _refuse_link(path: Path) -> None:
    if path.is_symlink():
        raise SpecError(
            f"refusing to write {path.name!r}: it is a symbolic link in the output "
            "folder; remove it and run again."
        )


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename).

    A symbolic link at ``path`` is refused rather than followed.

    Parameters
    ----------
    path : pathlib.Path
        The target file.
    data : bytes
        The content.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    _refuse_link(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`).

    Parameters
    ----------
    path : pathlib.Path
        The target file.
    text : str
        The content.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    return atomic_write_bytes(path, text.encode("utf-8"))


class OutputFolder:
    """Stage a run's files, then publish them all at once.

    Parameters
    ----------
    out : pathlib.Path
        The output folder (checked with :func:`check_output_folder`).

    Examples
    --------
    >>> with OutputFolder(out) as folder:  # doctest: +SKIP
    ...     folder.write_bytes("figures/a.png", png)
    ...     folder.write_text("results.json", text)
    ...     folder.publish()
    """

    def __init__(self, out: Path) -> None:
        self.out = check_output_folder(out)
        self.staging = Path(tempfile.mkdtemp(dir=self.out, prefix=_STAGING_PREFIX))
        self._files: list[str] = []

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def join(self, root: Path, rel: str) -> Path:
        """Return the staging path for ``rel`` (``root`` is ignored; kept for callers).

        Parameters
        ----------
        root : pathlib.Path
            Unused: the staging folder is the root.
        rel : str
            The file's path relative to the output folder.

        Returns
        -------
        pathlib.Path
            Where to write the file now; it is published to ``out / rel``.
        """
        target = inside(self.staging, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel not in self._files:
            self._files.append(rel)
        return target

    def write_bytes(self, rel: str, data: bytes) -> Path:
        """Stage ``data`` as ``rel``; return its final path.

        Parameters
        ----------
        rel : str
            Path relative to the output folder.
        data : bytes
            The content.

        Returns
        -------
        pathlib.Path
            The path the file will have once published.
        """
        self.join(self.staging, rel).write_bytes(data)
        return self.out / rel

    def write_text(self, rel: str, text: str) -> Path:
        """Stage UTF-8 ``text`` as ``rel``; return its final path.

        Parameters
        ----------
        rel : str
            Path relative to the output folder.
        text : str
            The content.

        Returns
        -------
        pathlib.Path
            The path the file will have once published.
        """
        return self.write_bytes(rel, text.encode("utf-8"))

    def publish(self) -> list[Path]:
        """Move every staged file into place, ``results.json`` last.

        Figures left by an earlier run that this run did not write are removed, so the
        folder describes one run.

        Returns
        -------
        list of pathlib.Path
            The published files.
        """
        order = [r for r in self._files if r != RESULTS_FILE]
        if RESULTS_FILE in self._files:
            order.append(RESULTS_FILE)
        for rel in order:
            _refuse_link(self.out / rel)
            final = inside(self.out, rel)
            if final.is_dir():
                raise SpecError(f"refusing to replace the folder {rel!r} with a file")
        published: list[Path] = []
        new = set(self._files)
        figures = self.out / "figures"
        if figures.is_dir() and not figures.is_symlink():
            for old in figures.glob("*.png"):
                if f"figures/{old.name}" not in new and not old.is_symlink():
                    old.unlink()
        for rel in order:
            final = self.out / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.staging / rel, final)
            published.append(final)
        return published

    def discard(self) -> None:
        """Remove the staging folder (whatever was not published)."""
        shutil.rmtree(self.staging, ignore_errors=True)


@contextlib.contextmanager
def scratch_inside(out: Path) -> Iterator[Path]:
    """A scratch folder inside ``out`` for workers' temporary files, removed afterwards.

    Parameters
    ----------
    out : pathlib.Path
        The output folder.

    Yields
    ------
    pathlib.Path
        The scratch folder.
    """
    path = Path(tempfile.mkdtemp(dir=out, prefix=".impact-scratch-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
