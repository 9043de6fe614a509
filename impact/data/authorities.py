"""Local authorities as units: unambiguous names and statistical-neighbour pools.

* :func:`check_la_names` refuses a table in which one authority name covers several
  DfE codes (``"Dorset"`` is the old county, 835, to 2019 and the council created in
  2019, 838): keyed by name, the two would silently become one series.
* :func:`statistical_neighbours` and :func:`neighbour_pool` read DfE's statistical
  neighbours (the ten most similar authorities of each authority, nearest first; the
  2025 model as stored in ``la_reference.csv``) and return a comparison pool for a set
  of treated authorities.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral
from pathlib import Path
from typing import Any

import pandas as pd

from impact.data.dfe import harmonised_id
from impact.data.paths import reference_data_dir
from impact.errors import DataError, SpecError

__all__ = [
    "check_la_names",
    "neighbour_pool",
    "read_la_reference",
    "statistical_neighbours",
]


def check_la_names(
    frame: pd.DataFrame, *, name: str = "la_name", code: str = "old_la_code"
) -> None:
    """Raise if one authority name covers more than one code.

    Parameters
    ----------
    frame : pandas.DataFrame
        Table with an authority name and an authority code column.
    name, code : str
        The two column names.

    Raises
    ------
    DataError
        Naming every ambiguous name with its codes, and saying to key the panel by the
        code (or the harmonised id) instead.
    """
    for col in (name, code):
        if col not in frame.columns:
            raise DataError(f"check_la_names: column {col!r} not found.")
    codes = frame[[name, code]].dropna().astype(str).drop_duplicates()
    per_name = codes.groupby(name)[code].agg(sorted)
    clash = per_name[per_name.map(len) > 1]
    if len(clash):
        shown = "; ".join(f"{n!r}: codes {', '.join(c)}" for n, c in clash.items())
        raise DataError(
            f"Authority name(s) that cover more than one {code!r}: {shown}. Keyed by "
            f"{name!r} these would be merged into one series; use unit={code!r} (or "
            "'harmonised_id' for a stable geography) instead."
        )


def read_la_reference(path: str | Path | None = None) -> pd.DataFrame:
    """Read ``la_reference.csv`` (one row per DfE code used 2010-2025).

    Parameters
    ----------
    path : str or Path, optional
        The file; default ``la_reference.csv`` in :func:`impact.data.reference_data_dir`.

    Returns
    -------
    pandas.DataFrame
        The table with codes as strings and ``stat_neighbours_2025`` as a list of
        codes (nearest first; empty for authorities without neighbours).

    Raises
    ------
    DataError
        If the file or its ``old_la_code`` / ``stat_neighbours_2025`` column is missing.
    """
    path = Path(path) if path is not None else reference_data_dir() / "la_reference.csv"
    if not path.is_file():
        raise DataError(f"la_reference file {path} not found; check the path.")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("old_la_code", "stat_neighbours_2025"):
        if col not in table.columns:
            raise DataError(f"{path.name}: column {col!r} not found.")
    table["stat_neighbours_2025"] = [
        [c.strip() for c in text.split(";") if c.strip()]
        for text in table["stat_neighbours_2025"]
    ]
    return table


def _check_k(k: Any, caller: str) -> None:
    # k = -1 would silently drop the farthest neighbour (a slice), k = 0 give none
    if isinstance(k, bool) or not isinstance(k, Integral) or k < 1:
        raise SpecError(
            f"{caller}: k must be a whole number of neighbours >= 1 (at most 10 are "
            f"published); got {k!r}."
        )


def statistical_neighbours(
    la_code: str, *, k: int = 10, reference: pd.DataFrame | None = None
) -> list[str]:
    """The DfE statistical neighbours of one authority, nearest first.

    Parameters
    ----------
    la_code : str
        DfE three-digit code, e.g. ``"919"`` (Hertfordshire).
    k : int, default 10
        How many neighbours (at most 10 are published).
    reference : pandas.DataFrame, optional
        A table from :func:`read_la_reference` (read from the default path if omitted).

    Returns
    -------
    list of str
        DfE codes.

    Raises
    ------
    DataError
        If the code is unknown or has no published neighbours.
    """
    _check_k(k, "statistical_neighbours")
    table = read_la_reference() if reference is None else reference
    row = table[table["old_la_code"] == str(la_code)]
    if row.empty:
        raise DataError(
            f"statistical_neighbours: DfE code {la_code!r} is not in la_reference.csv."
        )
    neighbours = list(row["stat_neighbours_2025"].iloc[0])
    if not neighbours:
        raise DataError(
            f"statistical_neighbours: {la_code!r} ({row['la_name'].iloc[0]}) has no "
            "published statistical neighbours (authority abolished before 2025)."
        )
    return neighbours[: int(k)]


def neighbour_pool(
    treated: Iterable[str],
    *,
    k: int = 10,
    harmonise: bool = False,
    reference: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Comparison pool: the statistical neighbours of the treated authorities.

    Parameters
    ----------
    treated : iterable of str
        DfE codes of the treated authorities (they are never in the pool).
    k : int, default 10
        Neighbours taken per treated authority.
    harmonise : bool, default False
        Map codes to the stable geography of :func:`impact.data.harmonised_id`
        (e.g. BCP, 839, becomes ``"DORSET_AREA"``), as in a harmonised panel.
    reference : pandas.DataFrame, optional
        A table from :func:`read_la_reference`.

    Returns
    -------
    pandas.DataFrame
        One row per pool authority: ``la_code``, ``la_name``, ``n_treated`` (how many
        treated authorities list it), ``best_rank`` (1 = someone's nearest neighbour)
        and ``neighbour_of`` (the treated codes, ``;``-separated); sorted by
        ``best_rank`` then ``la_code``. Use ``pool["la_code"]`` as the donor list.
    """
    _check_k(k, "neighbour_pool")
    table = read_la_reference() if reference is None else reference
    names = dict(zip(table["old_la_code"], table["la_name"], strict=True))
    treated = [str(c) for c in treated]
    if not treated:
        raise DataError("neighbour_pool: no treated authorities given.")

    def key(code: str) -> str:
        return harmonised_id(code) if harmonise else code

    treated_keys = {key(c) for c in treated}
    sources: dict[str, list[str]] = {}
    best: dict[str, int] = {}
    label: dict[str, str] = {}
    for code in treated:
        for rank, nb in enumerate(statistical_neighbours(code, k=k, reference=table)):
            nb_key = key(nb)
            if nb_key in treated_keys:
                continue
            listed = sources.setdefault(nb_key, [])
            if code not in listed:
                listed.append(code)
            best[nb_key] = min(best.get(nb_key, rank + 1), rank + 1)
            label[nb_key] = names.get(nb, nb) if nb_key == nb else nb_key
    rows = [
        {
            "la_code": c,
            "la_name": label[c],
            "n_treated": len(sources[c]),
            "best_rank": best[c],
            "neighbour_of": ";".join(sources[c]),
        }
        for c in sources
    ]
    if not rows:
        raise DataError(
            "neighbour_pool: every statistical neighbour of the treated authorities is "
            "itself treated; widen the pool (e.g. never-treated authorities)."
        )
    pool = pd.DataFrame(rows)
    return pool.sort_values(["best_rank", "la_code"], kind="stable").reset_index(
        drop=True
    )
