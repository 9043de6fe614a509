"""Children in need (CIN) and child protection plans (CPP) joined to a CLA panel.

The CIN census gives, per authority and year ending 31 March, children in need at 31
March, children on child protection plans at 31 March and referrals in the year. The
stored table ``cin_cpp_la_2013_2025.csv`` (DfE files b1, d5 and c1 joined with ONS
mid-year populations; see ``SOURCES.md``) is read by :func:`read_cin_cpp`;
:func:`add_cin_cpp` joins it to a panel from :func:`impact.data.cla_panel` as extra
outcomes, summing counts and populations within the same stable geographies.
Markers are kept as missing values, never zeros.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from impact.data.dfe import harmonised_id
from impact.data.paths import reference_data_dir
from impact.errors import DataError

__all__ = ["CIN_MEASURES", "add_cin_cpp", "read_cin_cpp"]

#: measure -> (count column, marker column) in cin_cpp_la_2013_2025.csv
CIN_MEASURES: dict[str, tuple[str, str]] = {
    "cin": ("cin_31mar", "cin_31mar_marker"),
    "cpp": ("cpp_31mar", "cpp_31mar_marker"),
    "referrals": ("referrals", "referrals_marker"),
}


def read_cin_cpp(path: str | Path | None = None) -> pd.DataFrame:
    """Read the authority-by-year CIN/CPP table.

    Parameters
    ----------
    path : str or Path, optional
        ``cin_cpp_la_2013_2025.csv``; default: in :func:`impact.data.reference_data_dir`.

    Returns
    -------
    pandas.DataFrame
        Columns ``la_code`` (str), ``year``, ``cin``, ``cpp``, ``referrals`` (counts,
        NaN where the source shows a marker), their ``*_marker`` columns and
        ``child_pop`` (ONS mid-year before 31 March).

    Raises
    ------
    DataError
        If the file or a column is missing, or an authority and year appear twice.
    """
    path = (
        Path(path)
        if path is not None
        else reference_data_dir() / "cin_cpp_la_2013_2025.csv"
    )
    if not path.is_file():
        raise DataError(f"read_cin_cpp: file {path} not found; check the path.")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    need = ["year", "old_la_code", "child_pop_0_17"] + [
        c for pair in CIN_MEASURES.values() for c in pair
    ]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise DataError(f"read_cin_cpp: {path.name} lacks column(s) {missing}.")
    year = pd.to_numeric(raw["year"].str.strip(), errors="coerce")
    bad = year.isna() | (year != year.round())
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(
            f"read_cin_cpp: {path.name} row {i + 2}, column 'year': "
            f"{raw['year'].iloc[i]!r} is not a year; write the year ending 31 March "
            "as four digits (e.g. 2025)."
        )
    out = pd.DataFrame(
        {"la_code": raw["old_la_code"].str.strip(), "year": year.astype(int)}
    )
    for name, (count, marker) in CIN_MEASURES.items():
        out[name] = pd.to_numeric(raw[count], errors="coerce")
        out[f"{name}_marker"] = raw[marker].str.strip()
    out["child_pop"] = pd.to_numeric(raw["child_pop_0_17"], errors="coerce")
    dup = out.duplicated(["la_code", "year"], keep=False)
    if dup.any():
        row = out[dup].iloc[0]
        raise DataError(
            f"read_cin_cpp: {path.name} lists authority {row['la_code']} year "
            f"{row['year']} more than once."
        )
    return out


def add_cin_cpp(
    panel: pd.DataFrame,
    cin: pd.DataFrame | str | Path | None = None,
    *,
    rate_scale: float = 10_000.0,
) -> pd.DataFrame:
    """Join CIN, CPP and referral counts and rates to a CLA panel.

    Parameters
    ----------
    panel : pandas.DataFrame
        From :func:`impact.data.cla_panel` (columns ``la_code``, ``year``; harmonised
        ids such as ``"DORSET_AREA"`` are matched by summing their member codes).
    cin : DataFrame, path or None
        From :func:`read_cin_cpp`, or its path; default the stored file.
    rate_scale : float, default 10000
        Rates per this many children.

    Returns
    -------
    pandas.DataFrame
        Copy of ``panel`` with ``cin``, ``cpp``, ``referrals`` (counts),
        ``cin_rate``, ``cpp_rate``, ``referrals_rate`` (per 10,000 children, using the
        CIN table's population) and ``cin_child_pop``. Years the CIN census does not
        cover, and harmonised areas with a member missing, are NaN (never zero).
    """
    for col in ("la_code", "year"):
        if col not in panel.columns:
            raise DataError(f"add_cin_cpp: the panel has no column {col!r}.")
    added = [*CIN_MEASURES, *(f"{m}_rate" for m in CIN_MEASURES), "cin_child_pop"]
    clash = [c for c in added if c in panel.columns]
    if clash:
        raise DataError(
            f"add_cin_cpp: the panel already has column {clash[0]!r}; drop the CIN/CPP "
            "columns before adding them again."
        )
    year = pd.to_numeric(panel["year"], errors="coerce")
    bad = year.isna() | (year != year.round())
    if bad.any():
        row = panel.loc[bad].iloc[0]
        raise DataError(
            f"add_cin_cpp: the panel's 'year' {row['year']!r} (authority "
            f"{row['la_code']!r}) is not a year; use the year ending 31 March as a "
            "number (e.g. 2025)."
        )
    keys = pd.DataFrame(
        {
            "la_code": panel["la_code"].astype(str).to_numpy(),
            "year": year.astype("int64").to_numpy(),
        }
    )
    dup = keys.duplicated(keep=False)
    if dup.any():
        row = keys.loc[dup].iloc[0]
        raise DataError(
            f"add_cin_cpp: the panel has more than one row for authority "
            f"{row['la_code']!r} in {int(row['year'])}; pass one row per authority "
            "and year."
        )
    table = cin if isinstance(cin, pd.DataFrame) else read_cin_cpp(cin)
    keyed = table.assign(_unit=table["la_code"].map(harmonised_id))
    if not keys["la_code"].isin(keyed["_unit"]).any():
        raise DataError(
            "add_cin_cpp: no authority code of the panel is in the CIN table; pass a "
            "panel keyed by DfE code (column 'la_code')."
        )
    direct = keyed["_unit"] == keyed["la_code"]
    measures = [*CIN_MEASURES, "child_pop"]
    single = keyed.loc[direct, ["la_code", "year", *measures]]
    grouped = keyed.loc[~direct]
    # a group total is missing when any member's value is missing
    sums = (
        grouped.groupby(["_unit", "year"])
        .agg(**{m: (m, lambda v: v.sum(min_count=len(v))) for m in measures})
        .reset_index()
        .rename(columns={"_unit": "la_code"})
    )
    joined = pd.concat([single, sums], ignore_index=True)
    joined = joined.rename(columns={"child_pop": "cin_child_pop"})
    # keyed by text code and integer year, so a panel with codes as numbers (919) or
    # years as text ("2020") joins too; the panel's own columns are kept as they are
    found = keys.merge(
        joined.assign(
            la_code=joined["la_code"].astype(str),
            year=joined["year"].astype("int64"),
        ),
        on=["la_code", "year"],
        how="left",
        validate="one_to_one",
    )
    new = found.drop(columns=["la_code", "year"])
    out = pd.concat([panel.reset_index(drop=True), new], axis=1)
    pop = out["cin_child_pop"].where(out["cin_child_pop"] > 0)
    for m in CIN_MEASURES:
        out[f"{m}_rate"] = (out[m] / pop * rate_scale).astype(float)
    out.attrs = dict(panel.attrs)
    out.attrs["cin_source"] = "cin_cpp_la_2013_2025.csv (DfE CIN census b1/d5/c1)"
    return out
