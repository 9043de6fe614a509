"""Where the package's data live: shipped synthetic panels and the reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from impact.errors import DataError

__all__ = ["load_synthetic", "reference_data_dir", "repo_root", "synthetic_path"]


def repo_root() -> Path:
    """Return the root of the source checkout (the folder holding ``impact/``).

    Returns
    -------
    pathlib.Path
        The repository root (the parent of the ``impact`` package folder).
    """
    return Path(__file__).resolve().parents[2]


def _synthetic_dirs() -> list[Path]:
    # An installed wheel carries the panels inside the package (impact/data/synthetic_panels,
    # see [tool.hatch.build.targets.wheel.force-include]); a source checkout keeps the
    # single committed copy in data/synthetic/ at the repository root.
    return [
        Path(__file__).resolve().parent / "synthetic_panels",
        repo_root() / "data" / "synthetic",
    ]


def synthetic_path(name: str = "innovation_panel.csv") -> Path:
    """Return the path of a synthetic panel shipped with the package.

    Works from an installed wheel (package data) and from a source checkout
    (``data/synthetic/``).

    Parameters
    ----------
    name : str, default "innovation_panel.csv"
        File name (see ``data/synthetic/README.md``).

    Returns
    -------
    pathlib.Path
        Existing file path.

    Raises
    ------
    DataError
        If no shipped panel has that name: regenerate it with ``impact data synthetic``.
    """
    if Path(name).name != name or not name:
        raise DataError(
            f"Synthetic panel name {name!r} must be a plain file name such as "
            "'innovation_panel.csv', not a path."
        )
    folders = _synthetic_dirs()
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    available = sorted({p.name for folder in folders for p in folder.glob("*.csv")})
    raise DataError(
        f"Synthetic panel {name!r} not found (available: {available}); regenerate it "
        "with `impact data synthetic --seed N --out PATH` (commands in "
        "data/synthetic/README.md)."
    )


def load_synthetic(name: str = "innovation_panel.csv") -> pd.DataFrame:
    """Read a committed synthetic panel.

    Parameters
    ----------
    name : str, default "innovation_panel.csv"
        File name in ``data/synthetic/``.

    Returns
    -------
    pandas.DataFrame
        The panel (columns as written by
        :func:`impact.data.synthetic.generate_la_panel`).
    """
    return pd.read_csv(synthetic_path(name), dtype={"la_code": str})


def reference_data_dir() -> Path:
    """Return the folder of real public datasets.

    ``$IMPACT_REFERENCE_DATA`` if set, else ``../shared/data`` next to the checkout.

    Returns
    -------
    pathlib.Path
        Existing folder.

    Raises
    ------
    DataError
        If the folder does not exist.
    """
    env = os.environ.get("IMPACT_REFERENCE_DATA")
    path = Path(env) if env else repo_root().parent / "shared" / "data"
    if not path.is_dir():
        raise DataError(
            f"Reference data folder {path} not found; set IMPACT_REFERENCE_DATA to the "
            "folder holding cla_la_panel_2010_2025.csv and the other datasets."
        )
    return path.resolve()
