"""Treatment tables: who adopted which programme when, joined to a panel as cohorts.

Treatment in children's social care is rarely a clean binary: an authority may run
several programmes, a project may cover the whole service or one team, and start dates
are months, not years. A treatment table keeps that information, one row per authority
and programme (model):

========== =============================================================================
column     meaning
========== =============================================================================
la_code    DfE three-digit authority code (as in the panel), e.g. ``"919"``
programme  funding programme, e.g. ``"Innovation Programme round 1"``, ``"SFPC"``
model      practice model, e.g. ``"Family Safeguarding"``
start_date first day the model operated (ISO date ``YYYY-MM-DD``; ``YYYY-MM`` = 1st)
scope      ``whole_system``, ``service``, ``cohort`` or ``unknown`` (how much changed)
source     where the date comes from (report, page, FOI), free text
========== =============================================================================

:func:`treatment_cohorts` turns it into the first treated reporting year of each unit
(the ``cohort`` column of :class:`impact.Panel`; 0 = never treated).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from impact.data.dfe import harmonised_id
from impact.data.programmes import latest_start
from impact.errors import DataError, ImpactWarning, SpecError

__all__ = [
    "SCOPES",
    "TREATMENT_COLUMNS",
    "read_treatment_table",
    "treatment_cohorts",
    "validate_treatment_table",
]

TREATMENT_COLUMNS = ["la_code", "programme", "model", "start_date", "scope", "source"]
SCOPES = ("whole_system", "service", "cohort", "unknown")


def _where(name: str, i: int) -> str:
    return f"{name} row {i + 2}"


def validate_treatment_table(
    table: pd.DataFrame, *, name: str = "treatment table"
) -> pd.DataFrame:
    """Check a treatment table and return a clean copy with parsed dates.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``la_code``, ``programme``, ``model``, ``start_date`` (or ``start``,
        as in :func:`impact.data.programmes`), ``scope``, ``source`` (other columns
        are kept).
    name : str
        Name used in error messages (e.g. the file name).

    Returns
    -------
    pandas.DataFrame
        Copy with ``la_code`` as str, ``start_date`` as datetime64 and the rows in the
        input order.

    Raises
    ------
    DataError
        Missing columns, blank codes, unparseable dates, unknown scopes or the same
        authority, programme and model listed twice (row numbers count the header as
        line 1).
    """
    if "start_date" not in table.columns and "start" in table.columns:
        table = table.rename(columns={"start": "start_date"})
    missing = [c for c in TREATMENT_COLUMNS if c not in table.columns]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {missing}; a treatment table needs "
            f"{TREATMENT_COLUMNS}."
        )
    out = table.copy()
    for col in ["la_code", "programme", "model", "scope", "source"]:
        out[col] = out[col].astype("string").str.strip().fillna("")
    for col in ["la_code", "programme", "model"]:
        blank = (out[col] == "").to_numpy()
        if blank.any():
            i = int(np.flatnonzero(blank)[0])
            raise DataError(
                f"{_where(name, i)}, column {col!r}: blank value; every row needs an "
                "authority code, a programme and a model."
            )
    text = out["start_date"].astype("string").str.strip()
    if pd.api.types.is_datetime64_any_dtype(out["start_date"]):
        parsed = out["start_date"]
    else:
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        month_only = parsed.isna() & text.str.fullmatch(r"\d{4}-\d{2}").fillna(False)
        padded = pd.to_datetime(text + "-01", format="%Y-%m-%d", errors="coerce")
        parsed = parsed.where(~month_only, padded)
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{_where(name, i)}, column 'start_date': {text.iloc[i]!r} is not a date "
            "in the form YYYY-MM-DD (or YYYY-MM)."
        )
    out["start_date"] = parsed
    bad_scope = ~out["scope"].isin(SCOPES).to_numpy()
    if bad_scope.any():
        i = int(np.flatnonzero(bad_scope)[0])
        raise DataError(
            f"{_where(name, i)}, column 'scope': {out['scope'].iloc[i]!r} is not one "
            f"of {SCOPES}."
        )
    dup = out.duplicated(["la_code", "programme", "model"], keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)[:2] + 2
        raise DataError(
            f"{name} rows {rows[0]} and {rows[1]} list authority "
            f"{out['la_code'].iloc[rows[0] - 2]} with the same programme and model "
            "twice; keep one row (the first start date)."
        )
    return out


def read_treatment_table(path: str | Path) -> pd.DataFrame:
    """Read and validate a treatment table stored as CSV.

    Parameters
    ----------
    path : str or Path
        CSV file with the columns of :data:`TREATMENT_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
        The validated table (see :func:`validate_treatment_table`).
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"read_treatment_table: file {path} not found; check the path.")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return validate_treatment_table(table, name=path.name)


def _reporting_year(dates: pd.Series, year_end_month: int) -> np.ndarray:
    """The reporting year (ending in ``year_end_month``) that contains each date."""
    year = dates.dt.year.to_numpy()
    month = dates.dt.month.to_numpy()
    return np.where(month <= year_end_month, year, year + 1).astype(int)


def treatment_cohorts(
    panel: pd.DataFrame,
    treatment: pd.DataFrame | str | Path,
    *,
    unit: str = "la_code",
    time: str = "year",
    programme: str | list[str] | None = None,
    model: str | list[str] | None = None,
    scope: str | list[str] | None = None,
    min_exposure_months: int = 0,
    year_end_month: int = 3,
    harmonise: bool = True,
    unknown: str = "error",
    name: str = "cohort",
) -> pd.DataFrame:
    """Join a treatment table to a panel as a cohort column (first treated year).

    A unit's cohort is the first reporting year (ending in ``year_end_month``; 3 =
    year ending 31 March, as in the DfE CLA tables) whose end falls at least
    ``min_exposure_months`` after its earliest start date among the selected rows.
    With a ``start_precision`` column (``day``, ``month``, ``year``, as in
    :func:`impact.data.programmes`), a start counts from its latest possible date.

    Parameters
    ----------
    panel : pandas.DataFrame
        Long panel with columns ``unit`` and ``time`` (not modified).
    treatment : DataFrame or path
        Treatment table (see :mod:`impact.data.treatment`).
    unit, time : str
        Column names in ``panel``.
    programme, model, scope : str or list of str, optional
        Keep only these programmes / models / scopes.
    min_exposure_months : int, default 0
        Months of operation required before a reporting year counts as treated
        (0: a year is treated if the model started on or before its last day).
    year_end_month : int, default 3
        Last month of the reporting year (12 for calendar years).
    harmonise : bool, default True
        Map codes of reorganised authorities (e.g. ``"839"`` BCP) to the panel's
        harmonised unit (``"DORSET_AREA"``) when the panel uses harmonised ids.
    unknown : {"error", "drop"}, default "error"
        What to do with codes not in the panel: raise, or drop with a warning.
    name : str, default "cohort"
        Name of the new column; must not exist in ``panel``.

    Returns
    -------
    pandas.DataFrame
        Copy of ``panel`` with column ``name`` (int; 0 = never treated, also used for
        units whose cohort falls after the last period). ``.attrs["treatment"]`` is a
        list with one dict per treated unit (unit, cohort, start_date, programme,
        model, scope, source); ``.attrs["treatment_notes"]`` lists adjustments.

    Raises
    ------
    DataError
        Bad treatment table, missing panel columns, or unknown codes.
    SpecError
        Bad option values.
    """
    caller = "treatment_cohorts"
    if unknown not in ("error", "drop"):
        raise SpecError(
            f"The 'unknown' parameter of {caller} must be one of {{'error', 'drop'}}. "
            f"Got {unknown!r} instead."
        )
    if not (
        isinstance(year_end_month, (int, np.integer)) and 1 <= year_end_month <= 12
    ):
        raise SpecError(
            f"The 'year_end_month' parameter of {caller} must be an integer 1-12. "
            f"Got {year_end_month!r} instead."
        )
    if not (
        isinstance(min_exposure_months, (int, np.integer)) and min_exposure_months >= 0
    ):
        raise SpecError(
            f"The 'min_exposure_months' parameter of {caller} must be an integer >= 0. "
            f"Got {min_exposure_months!r} instead."
        )
    for col in (unit, time):
        if col not in panel.columns:
            raise DataError(f"{caller}: column {col!r} not found in the panel.")
    if name in panel.columns:
        raise DataError(
            f"{caller}: the panel already has a column {name!r}; pass another name=."
        )
    if isinstance(treatment, pd.DataFrame):
        table = validate_treatment_table(treatment)
        label = "treatment table"
    else:
        table = read_treatment_table(treatment)
        label = Path(treatment).name
    table = table.reset_index(drop=True)
    table["_row"] = np.arange(len(table)) + 2
    for col, wanted in (("programme", programme), ("model", model), ("scope", scope)):
        if wanted is not None:
            keep = [wanted] if isinstance(wanted, str) else list(wanted)
            # a misspelt name would leave every unit never treated, silently
            absent = [w for w in keep if not (table[col] == w).any()]
            if absent:
                listed = sorted(map(str, table[col].dropna().unique()))
                raise DataError(
                    f"{caller}: {col} {absent[0]!r} is not in the {label} (its "
                    f"{col} values: {listed}); check its spelling."
                )
            table = table[table[col].isin(keep)]
    units = pd.Series(panel[unit].astype(str).unique())
    unit_set = set(units)
    codes = table["la_code"].astype(str)
    if harmonise:
        mapped = codes.map(harmonised_id)
        codes = codes.where(codes.isin(unit_set) | ~mapped.isin(unit_set), mapped)
    table = table.assign(_unit=codes.to_numpy())
    missing = ~table["_unit"].isin(unit_set)
    if missing.any():
        bad = table[missing].iloc[0]
        if unknown == "error":
            raise DataError(
                f"{label} row {bad['_row']}, column 'la_code': authority "
                f"{bad['la_code']!r} is not a unit of the panel (column {unit!r}); "
                "fix the code or pass unknown='drop'."
            )
        warnings.warn(
            f"{caller}: {int(missing.sum())} treatment row(s) name authorities not in "
            f"the panel (first: {bad['la_code']!r}, {label} row {bad['_row']}); "
            "dropped.",
            ImpactWarning,
            stacklevel=2,
        )
        table = table[~missing]
    start = table["start_date"]
    if "start_precision" in table.columns:
        # a start known to the month or year counts from its latest possible date
        start = latest_start(start, table["start_precision"])
    effective = start + pd.DateOffset(months=int(min_exposure_months))
    table = table.assign(_cohort=_reporting_year(effective, int(year_end_month)))
    earliest = table.sort_values(["_unit", "_cohort", "start_date"], kind="stable")
    earliest = earliest.drop_duplicates("_unit", keep="first")
    periods = pd.to_numeric(panel[time], errors="coerce")
    if not periods.notna().any():
        # every cohort would be "after the last period" and coded never treated
        raise DataError(
            f"{caller}: column {time!r} of the panel holds no numeric periods"
            + (f" (e.g. {panel[time].iloc[0]!r})" if len(panel) else "")
            + "; use the year ending 31 March as a number such as 2025."
        )
    last = int(periods.max())
    late = earliest["_cohort"] > last
    cohort_of = dict(
        zip(earliest["_unit"], np.where(late, 0, earliest["_cohort"]), strict=True)
    )
    out = panel.copy()
    out[name] = (
        panel[unit].astype(str).map(cohort_of).fillna(0).astype(np.int64).to_numpy()
    )
    info = [
        {
            "unit": str(r["_unit"]),
            "cohort": int(r["_cohort"]),
            "start_date": r["start_date"].strftime("%Y-%m-%d"),
            "programme": str(r["programme"]),
            "model": str(r["model"]),
            "scope": str(r["scope"]),
            "source": str(r["source"]),
        }
        for _, r in earliest.iterrows()
    ]
    out.attrs = dict(panel.attrs)
    out.attrs["treatment"] = info
    notes: list[str] = []
    if late.any():
        notes.append(
            f"{int(late.sum())} unit(s) start after the last period {last}; coded as "
            "never treated within the panel."
        )
    out.attrs["treatment_notes"] = notes
    return out
