"""Where the package's data live: committed synthetic panels and the reference data."""

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


def synthetic_path(name: str = "innovation_panel.csv") -> Path:
    """Return the path of a committed synthetic panel in ``data/synthetic/``.

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
        If the file is not there (e.g. an installed wheel without the data folder):
        regenerate it with ``impact data synthetic``.
    """
    path = repo_root() / "data" / "synthetic" / name
    if not path.is_file():
        available = sorted(p.name for p in path.parent.glob("*.csv"))
        raise DataError(
            f"Synthetic panel {name!r} not found in {path.parent} (available: "
            f"{available}); regenerate it with `impact data synthetic --seed N --out "
            "PATH` (commands in data/synthetic/README.md)."
        )
    return path


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
