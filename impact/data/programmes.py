"""Who took part in which children's social care programme, and when, by whose account.

:func:`programmes` returns the participation table shipped with the package
(``impact/data/programmes.csv``), built from the sources listed in its ``source``
column: the Children's Social Care Innovation Programme (rounds 1 and 2), Strengthening
Families, Protecting Children (SFPC), Supporting Families: Investing in Practice
(Mockingbird sites) and the Families First for Children pathfinder. Only authorities
named in a source are listed; nothing is inferred.

Start dates come with a precision (``day``, ``month`` or ``year``). The cohort year is
the first reporting year ending 31 March by which every date consistent with the
source has passed: a start "in 2015" counts from the year ending 31 March 2016, a start
in May 2017 from 2018, a start on 1 April 2021 from 2022.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from impact.errors import DataError

__all__ = ["PROGRAMME_COLUMNS", "cohort_year", "latest_start", "programmes"]

PROGRAMME_COLUMNS = [
    "programme",
    "model",
    "la_name",
    "la_code",
    "role",
    "start",
    "start_precision",
    "cohort_year",
    "scope",
    "source",
    "note",
]
_PRECISIONS = ("day", "month", "year")


def latest_start(start: pd.Series, precision: pd.Series) -> pd.Series:
    """Latest date consistent with a start given to a precision.

    Parameters
    ----------
    start : pandas.Series of datetime64
        Earliest date consistent with the source (first of the month or year).
    precision : pandas.Series of str
        ``"day"``, ``"month"`` or ``"year"``.

    Returns
    -------
    pandas.Series of datetime64
        ``start`` itself, the month's last day, or 31 December of the year.

    Raises
    ------
    DataError
        If a precision is not one of ``day``, ``month``, ``year``.
    """
    precision = pd.Series(precision, index=start.index).fillna("day").replace("", "day")
    bad = ~precision.isin(_PRECISIONS)
    if bad.any():
        raise DataError(
            f"start precision {precision[bad].iloc[0]!r} is not one of {_PRECISIONS}."
        )
    latest = start.where(precision != "month", start + pd.offsets.MonthEnd(0))
    return latest.where(precision != "year", start + pd.offsets.YearEnd(0))


def cohort_year(
    start: pd.Series, precision: pd.Series, *, year_end_month: int = 3
) -> np.ndarray:
    """First reporting year (ending in ``year_end_month``) surely after each start.

    Parameters
    ----------
    start : pandas.Series of datetime64
        Earliest date consistent with the source.
    precision : pandas.Series of str
        ``"day"``, ``"month"`` or ``"year"``: how much of ``start`` the source gives.
    year_end_month : int, default 3
        Last month of the reporting year (3 = year ending 31 March).

    Returns
    -------
    numpy.ndarray of int
        The reporting year that contains the latest date consistent with the source.

    Raises
    ------
    DataError
        If a precision is not one of ``day``, ``month``, ``year``.
    """
    latest = latest_start(start, precision)
    year = latest.dt.year.to_numpy()
    month = latest.dt.month.to_numpy()
    return np.where(month <= year_end_month, year, year + 1).astype(np.int64)


def programmes(
    programme: str | list[str] | None = None, model: str | list[str] | None = None
) -> pd.DataFrame:
    """Real participation in English children's social care programmes, one row each.

    Parameters
    ----------
    programme : str or list of str, optional
        Keep only these programmes, e.g. ``"Strengthening Families, Protecting
        Children"``.
    model : str or list of str, optional
        Keep only these practice models, e.g. ``"Family Safeguarding"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``programme``, ``model``, ``la_name``, ``la_code`` (DfE three-digit
        code, str), ``role`` (``innovator``, ``pilot``, ``trial``, ``adopter``,
        ``lead``, ``site``, ``pathfinder``), ``start`` (earliest date consistent with
        the source), ``start_precision``, ``cohort_year`` (first year ending 31 March
        surely after the start; see the module notes), ``scope`` (``whole_system``,
        ``service``, ``cohort`` or ``unknown``), ``source`` and ``note``. Also usable
        as a treatment table: ``start_date`` is the same as ``start``.

    Raises
    ------
    DataError
        If a filter matches no row.

    Examples
    --------
    >>> import impact
    >>> fs = impact.data.programmes(model="Family Safeguarding")
    >>> fs[["programme", "la_name", "cohort_year"]].head(2)  # doctest: +SKIP
    """
    with (
        resources.files("impact.data")
        .joinpath("programmes.csv")
        .open("r", encoding="utf-8") as fh
    ):
        table = pd.read_csv(fh, dtype=str, keep_default_na=False)
    table["start"] = pd.to_datetime(table["start"], format="%Y-%m-%d")
    table["cohort_year"] = cohort_year(table["start"], table["start_precision"])
    for column, wanted in (("programme", programme), ("model", model)):
        if wanted is None:
            continue
        keep = [wanted] if isinstance(wanted, str) else list(wanted)
        unknown = sorted(set(keep) - set(table[column]))
        if unknown:
            raise DataError(
                f"programmes: {column} {unknown} not in the table; known: "
                f"{sorted(set(table[column]))}."
            )
        table = table[table[column].isin(keep)]
    out = table[PROGRAMME_COLUMNS].reset_index(drop=True)
    out["start_date"] = out["start"]
    return out
