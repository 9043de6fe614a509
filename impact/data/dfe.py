"""Readers for the Department for Education's children-looked-after (CLA) tables.

Two families of published files are read as they are published:

* the explore-education-statistics (EES) file ``cla_number_and_rate_per_10k_children.csv``
  (releases 2022-2024 with columns ``population_count`` / ``number``; from the 2025
  release ``population_type`` / ``children_count``), five years per release, national,
  regional and local-authority rows for children looked after at 31 March, starting and
  ceasing;
* the older Statistical First Release (SFR) underlying-data CSVs 2010-2017
  (``SFR27_2010_March.csv``, ``SFR41_CLA2016.csv``, ``SFR41_ADM2016.csv``,
  ``SFR41_CEA2016.csv``, ...; columns ``geog_l``, ``geog_c``, ``geog_n`` and a total such
  as ``CLA_Mar2016``).

Pitfalls made explicit:

* suppression and other markers never become zero: they become missing values with the
  marker and its meaning kept (``count_marker``, ``count_reason``). In EES files ``c`` =
  suppressed, ``x`` = not available, ``z`` = not applicable, ``u`` = low reliability; in
  the older SFR files ``x`` meant *suppressed (1 to 5 children)*;
* figures for one year differ between releases (revised ONS populations), so every row
  records the ``release`` it came from and :func:`cla_panel` records which release each
  year's figure came from (``.attrs["vintage"]``);
* authorities were reorganised (Bournemouth + Poole + old Dorset -> BCP + Dorset, 2019;
  Northamptonshire -> North and West Northamptonshire, 2021; Cumbria -> Cumberland and
  Westmorland & Furness, 2023): :func:`cla_panel` sums counts and populations within the
  stable geography and recomputes the rate.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact._validation import check_option
from impact.data._la_codes import LA_CODES
from impact.errors import DataError, ImpactWarning

__all__ = [
    "EES_MARKERS",
    "HARMONISED_GROUPS",
    "SFR_MARKERS",
    "cla_panel",
    "harmonised_id",
    "read_cla",
]

EES_MARKERS: dict[str, str] = {
    "c": "suppressed (small numbers)",
    "x": "not available",
    "z": "not applicable",
    "u": "low reliability",
    "..": "not available",
    ":": "not available",
    "low": "fewer than 0.5 (rounds to zero)",
}
SFR_MARKERS: dict[str, str] = {
    "x": "suppressed (1 to 5 children, or to protect another suppressed cell)",
    "..": "not available",
    "-": "not available",
    "#VALUE!": "spreadsheet error in the published file",
}
BLANK_REASON = "blank in source"

# Stable geographies for boundary changes (first CLA year of the new bodies in brackets).
HARMONISED_GROUPS: dict[str, dict[str, Any]] = {
    "DORSET_AREA": {
        "name": "Dorset area (Bournemouth, Poole, Dorset -> BCP, Dorset)",
        "members": ("835", "836", "837", "838", "839"),  # new bodies from 2020
    },
    "NORTHAMPTONSHIRE_AREA": {
        "name": "Northamptonshire area (-> North and West Northamptonshire)",
        "members": ("928", "940", "941"),  # split from 2022
    },
    "CUMBRIA_AREA": {
        "name": "Cumbria area (-> Cumberland, Westmorland and Furness)",
        "members": ("909", "942", "943"),  # split from 2024
    },
}
_MEMBER_TO_GROUP = {
    code: group for group, spec in HARMONISED_GROUPS.items() for code in spec["members"]
}
DEFAULT_EXCLUDE: dict[str, str] = {
    "201": "City of London: about 700 children, mostly unaccompanied asylum-seeking "
    "children; rate swings between 76 and 343 per 10,000",
    "420": "Isles of Scilly: about 350 children, 0 looked after in most years, "
    "suppressed or not applicable in recent releases",
}

_EES_COMMON = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "old_la_code",
    "la_name",
    "new_la_code",
    "population_estimate",
    "rate_per_10000",
]
_EES_LAYOUTS = {
    "ees_2022_2024": {"measure": "population_count", "count": "number"},
    "ees_2025": {"measure": "population_type", "count": "children_count"},
}
_LEVELS_EES = {
    "National": "national",
    "Regional": "regional",
    "Local authority": "local_authority",
}
_LEVELS_SFR = {
    "national": "national",
    "region": "regional",
    "gor": "regional",
    "la": "local_authority",
}
# SFR total columns: regex -> measure. The year group may be absent (CEA 2011-2016).
_SFR_TOTALS = [
    (re.compile(r"^(?:CLA_Mar|MarTotal_)(\d{4})$"), "at_31_march"),
    (re.compile(r"^(?:CLA_started|StartTotal_)(\d{4})$"), "started"),
    (re.compile(r"^(?:CLA_cease|CeasedTotal_)(\d{4})?$"), "ceased"),
]
_SFR_POP = re.compile(r"^Mid(\d{4})Pop0-17$")
_COLUMNS = [
    "year",
    "geographic_level",
    "la_code",
    "new_la_code",
    "la_name",
    "region_code",
    "region_name",
    "measure",
    "count",
    "count_marker",
    "count_reason",
    "child_pop",
    "child_pop_marker",
    "child_pop_reason",
    "rate",
    "rate_marker",
    "rate_reason",
    "release",
    "layout",
    "source_file",
    "source_row",
]


def harmonised_id(la_code: str) -> str:
    """Return the stable-geography id of a DfE three-digit code.

    Parameters
    ----------
    la_code : str
        DfE code, e.g. ``"836"`` (Poole).

    Returns
    -------
    str
        ``"DORSET_AREA"``, ``"NORTHAMPTONSHIRE_AREA"``, ``"CUMBRIA_AREA"`` or the code
        itself.
    """
    return _MEMBER_TO_GROUP.get(str(la_code), str(la_code))


def _read_text_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"read_cla: file {path} not found; check the path.")
    last: Exception | None = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, encoding=encoding
            )
        except UnicodeDecodeError as exc:
            last = exc
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(
                f"read_cla: {path.name} is not a readable CSV file ({exc}); pass the "
                "CSV file as downloaded from DfE."
            ) from None
        frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
        # Drop trailing blank lines only, so positions still match file lines.
        blank = frame.apply(lambda col: col.str.strip() == "").all(axis=1).to_numpy()
        keep = len(blank)
        while keep > 0 and blank[keep - 1]:
            keep -= 1
        return frame.iloc[:keep]
    raise DataError(
        f"read_cla: cannot decode {path.name} as UTF-8 or Windows-1252 ({last})."
    )


def _parse_values(
    raw: pd.Series, markers: Mapping[str, str], file: str, column: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Numbers, markers and reasons of one published column (strings in, no zeros)."""
    text = raw.astype(str).str.strip()
    cleaned = text.str.replace(",", "", regex=False)
    values = pd.to_numeric(cleaned, errors="coerce").to_numpy(float)
    bad = np.isnan(values)
    marker = np.full(len(text), None, dtype=object)
    reason = np.full(len(text), None, dtype=object)
    if bad.any():
        tokens = text.to_numpy(object)[bad]
        lookup = {k.lower(): (k, v) for k, v in markers.items()}
        rows = np.flatnonzero(bad)
        for i, token in zip(rows, tokens, strict=True):
            if token == "":
                marker[i], reason[i] = "", BLANK_REASON
                continue
            hit = lookup.get(token.lower())
            if hit is None:
                known = ", ".join(repr(k) for k in markers)
                raise DataError(
                    f"read_cla: {file} row {i + 2}, column {column!r}: value "
                    f"{token!r} is neither a number nor a known marker ({known}); "
                    "fix the file or report the new marker."
                )
            marker[i], reason[i] = hit
    return values, marker, reason


def _check_year(values: pd.Series, file: str, column: str) -> np.ndarray:
    text = values.astype(str).str.strip()
    ok = text.str.fullmatch(r"(19|20)\d{2}")
    if not ok.all():
        i = int(np.flatnonzero(~ok.to_numpy())[0])
        raise DataError(
            f"read_cla: {file} row {i + 2}, column {column!r}: year {text.iloc[i]!r} is "
            "not a four-digit year ending 31 March (e.g. 2025); this is not a CLA "
            "reporting-year file or the column was reformatted."
        )
    return text.astype(int).to_numpy()


def _check_codes(frame: pd.DataFrame, file: str, column: str) -> None:
    la = frame["geographic_level"] == "local_authority"
    codes = frame.loc[la, "la_code"]
    bad_form = ~codes.str.fullmatch(r"\d{3}")
    if bad_form.any():
        i = int(frame.index[la][bad_form.to_numpy()][0])
        raise DataError(
            f"read_cla: {file} row {i + 2}, column {column!r}: local-authority code "
            f"{codes[bad_form].iloc[0]!r} is not a DfE three-digit code."
        )
    unknown = ~codes.isin(list(LA_CODES))
    if unknown.any():
        i = int(frame.index[la][unknown.to_numpy()][0])
        raise DataError(
            f"read_cla: {file} row {i + 2}, column {column!r}: unknown DfE "
            f"local-authority code {codes[unknown].iloc[0]!r} (known: 2010-2025 codes); "
            "pass check_codes=False if it is a new authority."
        )


def _check_duplicates(frame: pd.DataFrame, file: str) -> None:
    key = ["geographic_level", "la_code", "region_code", "year", "measure"]
    dup = frame.duplicated(key, keep=False)
    if dup.any():
        rows = frame.loc[dup, "source_row"].tolist()[:2]
        first = frame.loc[dup].iloc[0]
        where = first["la_code"] or first["region_code"] or "England"
        raise DataError(
            f"read_cla: {file} rows {rows[0]} and {rows[1]} duplicate {where} "
            f"{first['measure']} {first['year']}; remove the repeated rows."
        )


def _measure_from_text(values: pd.Series, file: str, column: str) -> np.ndarray:
    text = values.astype(str).str.lower()
    out = np.full(len(text), None, dtype=object)
    out[text.str.contains("31 march", regex=False).to_numpy()] = "at_31_march"
    out[text.str.contains("starting", regex=False).to_numpy()] = "started"
    out[text.str.contains("ceasing", regex=False).to_numpy()] = "ceased"
    missing = pd.isna(out)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise DataError(
            f"read_cla: {file} row {i + 2}, column {column!r}: unknown measure "
            f"{values.iloc[i]!r}; expected children looked after at/on 31 March, "
            "starting or ceasing."
        )
    return out


def _read_ees(
    raw: pd.DataFrame, layout: str, file: str, release: str | None, check_codes: bool
) -> pd.DataFrame:
    cols = _EES_LAYOUTS[layout]
    years = _check_year(raw["time_period"], file, "time_period")
    level_raw = raw["geographic_level"].str.strip()
    levels = level_raw.map(_LEVELS_EES)
    if levels.isna().any():
        i = int(np.flatnonzero(levels.isna().to_numpy())[0])
        raise DataError(
            f"read_cla: {file} row {i + 2}, column 'geographic_level': unknown level "
            f"{level_raw.iloc[i]!r}; expected one of {sorted(_LEVELS_EES)}."
        )
    count, c_mark, c_reason = _parse_values(
        raw[cols["count"]], EES_MARKERS, file, cols["count"]
    )
    pop, p_mark, p_reason = _parse_values(
        raw["population_estimate"], EES_MARKERS, file, "population_estimate"
    )
    rate, r_mark, r_reason = _parse_values(
        raw["rate_per_10000"], EES_MARKERS, file, "rate_per_10000"
    )
    region_code = raw["region_code"].str.strip() if "region_code" in raw else ""
    region_name = raw["region_name"].str.strip() if "region_name" in raw else ""
    frame = pd.DataFrame(
        {
            "year": years,
            "geographic_level": levels.to_numpy(object),
            "la_code": raw["old_la_code"].str.strip().to_numpy(object),
            "new_la_code": raw["new_la_code"].str.strip().to_numpy(object),
            "la_name": raw["la_name"].str.strip().to_numpy(object),
            "region_code": region_code,
            "region_name": region_name,
            "measure": _measure_from_text(raw[cols["measure"]], file, cols["measure"]),
            "count": count,
            "count_marker": c_mark,
            "count_reason": c_reason,
            "child_pop": pop,
            "child_pop_marker": p_mark,
            "child_pop_reason": p_reason,
            "rate": rate,
            "rate_marker": r_mark,
            "rate_reason": r_reason,
        }
    )
    frame["release"] = release or f"EES {int(years.max())}"
    frame["layout"] = layout
    if check_codes:
        _check_codes(frame, file, "old_la_code")
    return frame


def _sfr_year(
    header_year: str | None, file: str, year: int | None
) -> tuple[int, str | None]:
    """Data year of an SFR file: explicit > file name > column header."""
    note = None
    name_match = re.search(r"(20[01]\d)", file)
    name_year = int(name_match.group(1)) if name_match else None
    hdr = int(header_year) if header_year else None
    if year is not None:
        chosen = int(year)
    elif name_year is not None:
        chosen = name_year
    elif hdr is not None:
        chosen = hdr
    else:
        raise DataError(
            f"read_cla: cannot tell the year of {file}: neither the file name nor the "
            "total column carries it; pass year=YYYY (year ending 31 March)."
        )
    if hdr is not None and hdr != chosen:
        note = (
            f"{file}: column header says {hdr} but the data year is taken as {chosen} "
            "(file name / year argument); DfE mislabelled some SFR headers."
        )
    return chosen, note


def _read_sfr(
    raw: pd.DataFrame,
    file: str,
    year: int | None,
    release: str | None,
    check_codes: bool,
) -> tuple[pd.DataFrame, list[str]]:
    found: list[tuple[str, str, str | None]] = []
    for col in raw.columns:
        for pattern, measure in _SFR_TOTALS:
            m = pattern.match(col)
            if m:
                found.append((col, measure, m.group(1)))
    if len(found) != 1:
        raise DataError(
            f"read_cla: {file} is not a known DfE CLA layout: expected exactly one "
            "total column (CLA_MarYYYY / MarTotal_YYYY, CLA_startedYYYY / "
            f"StartTotal_YYYY, CLA_cease / CeasedTotal_YYYY); found {[f[0] for f in found]}."
        )
    total_col, measure, header_year = found[0]
    data_year, note = _sfr_year(header_year, file, year)
    level_raw = raw["geog_l"].str.strip()
    levels = level_raw.str.lower().map(_LEVELS_SFR)
    # SFR50/2017 leaves geog_l blank for the Isles of Scilly: a blank level with a
    # three-digit code is an LA row (recorded in the notes).
    blank_la = (level_raw == "") & raw["geog_c"].str.strip().str.fullmatch(r"\d{3}")
    notes = [
        f"{file} row {i + 2}: geog_l is blank; treated as an LA row (geog_c "
        f"{raw['geog_c'].iloc[i].strip()})"
        for i in np.flatnonzero(blank_la.to_numpy())
    ]
    levels[blank_la] = "local_authority"
    if levels.isna().any():
        i = int(np.flatnonzero(levels.isna().to_numpy())[0])
        raise DataError(
            f"read_cla: {file} row {i + 2}, column 'geog_l': unknown level "
            f"{level_raw.iloc[i]!r}; expected NATIONAL/National, REGION/GOR or LA."
        )
    count, c_mark, c_reason = _parse_values(
        raw[total_col], SFR_MARKERS, file, total_col
    )
    pop_cols = [c for c in raw.columns if _SFR_POP.match(c)]
    n = len(raw)
    if pop_cols:
        pop, p_mark, p_reason = _parse_values(
            raw[pop_cols[0]], SFR_MARKERS, file, pop_cols[0]
        )
    else:
        pop = np.full(n, np.nan)
        p_mark = np.full(n, "", dtype=object)
        p_reason = np.full(n, "not published in this file", dtype=object)
    code = raw["geog_c"].str.strip()
    is_la = (levels == "local_authority").to_numpy()
    is_region = (levels == "regional").to_numpy()
    names = raw["geog_n"].str.strip()
    frame = pd.DataFrame(
        {
            "year": np.full(n, data_year, dtype=int),
            "geographic_level": levels.to_numpy(object),
            "la_code": np.where(is_la, code, ""),
            "new_la_code": (
                np.where(is_la, raw["New_geog_code"].str.strip(), "")
                if "New_geog_code" in raw
                else ""
            ),
            "la_name": np.where(is_la, names, ""),
            "region_code": np.where(is_region, code, ""),
            "region_name": np.where(is_region, names, ""),
            "measure": measure,
            "count": count,
            "count_marker": c_mark,
            "count_reason": c_reason,
            "child_pop": pop,
            "child_pop_marker": p_mark,
            "child_pop_reason": p_reason,
            "rate": np.nan,
            "rate_marker": "",
            "rate_reason": "not published in this file",
        }
    )
    label = release
    if label is None:
        m = re.search(r"(SFR|SFE|OSR)\s*(\d+)", file, flags=re.IGNORECASE)
        label = f"SFR{m.group(2)}/{data_year}" if m else f"SFR {data_year}"
    frame["release"] = label
    frame["layout"] = "sfr_2010" if "New_geog_code" not in raw else "sfr_2011_2017"
    if check_codes:
        _check_codes(frame, file, "geog_c")
    return frame, ([note] if note else []) + notes


def read_cla(
    path: str | Path,
    *,
    year: int | None = None,
    release: str | None = None,
    check_codes: bool = True,
) -> pd.DataFrame:
    """Read one published DfE children-looked-after file into a long frame.

    Parameters
    ----------
    path : str or Path
        An EES ``cla_number_and_rate_per_10k_children.csv`` (any release 2022-2025) or
        an SFR underlying-data CSV 2010-2017 (at 31 March, started or ceased).
    year : int, optional
        Year ending 31 March of an SFR file; by default taken from the file name, else
        from the total column (EES files carry their own years).
    release : str, optional
        Release label recorded in the ``release`` column; default ``"EES <latest
        year>"`` for EES files (a release carries its latest five years) and
        ``"SFR<n>/<year>"`` for SFR files.
    check_codes : bool, default True
        Refuse local-authority codes that are not DfE three-digit codes used in
        2010-2025.

    Returns
    -------
    pandas.DataFrame
        One row per published row with columns ``year``, ``geographic_level``
        (``national``, ``regional``, ``local_authority``), ``la_code`` (DfE code, str),
        ``new_la_code``, ``la_name``, ``region_code``, ``region_name``, ``measure``
        (``at_31_march``, ``started``, ``ceased``), ``count``, ``child_pop`` (children
        aged 0-17, ONS mid-year before 31 March) and ``rate`` (per 10,000; missing in SFR
        files, which publish none), each value with ``*_marker`` (the published marker,
        ``""`` for a blank) and ``*_reason`` (its meaning) where the value is missing,
        and ``release``, ``layout``, ``source_file``, ``source_row`` (line in the file).
        ``.attrs`` holds ``vintage`` (release, layout, file, years) and ``notes``.

    Raises
    ------
    DataError
        If the file is missing or not one of the known layouts, a year is not a
        four-digit year, a value is neither a number nor a known marker, a code is not
        a known DfE code, or rows are duplicated; the message names the file, row and
        column.

    Examples
    --------
    >>> frame = read_cla("cla_number_and_rate_per_10k_children.csv")  # doctest: +SKIP
    >>> frame.query("geographic_level == 'national' and measure == 'at_31_march'")
    ... # doctest: +SKIP
    """
    path = Path(path)
    raw = _read_text_csv(path)
    file = path.name
    cols = set(raw.columns)
    notes: list[str] = []
    layout = None
    for name, spec in _EES_LAYOUTS.items():
        if set(_EES_COMMON) | {spec["measure"], spec["count"]} <= cols:
            layout = name
    if layout is not None:
        frame = _read_ees(raw, layout, file, release, check_codes)
    elif {"geog_l", "geog_c", "geog_n"} <= cols:
        frame, notes = _read_sfr(raw, file, year, release, check_codes)
    else:
        shown = ", ".join(list(raw.columns)[:8])
        raise DataError(
            f"read_cla: {file} is not a known DfE CLA layout. Expected the EES columns "
            "time_period, geographic_level, old_la_code, population_count/"
            "population_type, number/children_count, rate_per_10000, or the SFR "
            f"columns geog_l, geog_c, geog_n; found {shown}."
        )
    frame["source_file"] = file
    frame["source_row"] = np.arange(len(frame)) + 2
    frame = frame[_COLUMNS]
    _check_duplicates(frame, file)
    frame.attrs["vintage"] = {
        "release": str(frame["release"].iloc[0]) if len(frame) else release,
        "layout": str(frame["layout"].iloc[0]) if len(frame) else None,
        "file": file,
        "years": sorted(int(y) for y in frame["year"].unique()),
    }
    frame.attrs["notes"] = notes
    return frame


def _release_rank(label: str) -> tuple[int, int]:
    m = re.search(r"(\d{4})", label)
    year = int(m.group(1)) if m else 0
    return (year, 1 if label.upper().startswith("EES") else 0)


def _folder_files(folder: Path) -> list[Path]:
    """The CLA files in a folder of downloaded releases (others skipped, counted)."""
    files = sorted(p for p in folder.rglob("*.csv") if p.is_file())
    if not files:
        raise DataError(
            f"cla_panel: folder {folder} holds no .csv files; download the EES file "
            "cla_number_and_rate_per_10k_children.csv (or SFR underlying data) into it."
        )
    keep: list[Path] = []
    skipped: list[Path] = []
    for path in files:
        header = pd.read_csv(
            path, nrows=0, encoding="utf-8-sig", encoding_errors="replace"
        )
        cols = {str(c).strip().lstrip("\ufeff") for c in header.columns}
        ees = any(
            set(_EES_COMMON) | {spec["measure"], spec["count"]} <= cols
            for spec in _EES_LAYOUTS.values()
        )
        sfr = {"geog_l", "geog_c", "geog_n"} <= cols
        sfr_total = any(pattern.match(c) for c in cols for pattern, _ in _SFR_TOTALS)
        (keep if ees or (sfr and sfr_total) else skipped).append(path)
    if not keep:
        raise DataError(
            f"cla_panel: none of the {len(files)} .csv files in {folder} is a DfE CLA "
            "table (EES cla_number_and_rate_per_10k_children.csv or SFR underlying "
            "data)."
        )
    if skipped:
        shown = ", ".join(p.name for p in skipped[:5])
        warnings.warn(
            f"cla_panel: {len(skipped)} of {len(files)} .csv file(s) in {folder} are not "
            f"CLA tables and were skipped ({shown}); {len(keep)} read.",
            ImpactWarning,
            stacklevel=3,
        )
    return keep


def _as_frames(sources: Any) -> list[pd.DataFrame]:
    if isinstance(sources, (str, Path, pd.DataFrame)):
        sources = [sources]
    expanded: list[Any] = []
    for src in sources:
        if not isinstance(src, pd.DataFrame) and Path(src).is_dir():
            expanded.extend(_folder_files(Path(src)))
        else:
            expanded.append(src)
    frames = []
    for src in expanded:
        if isinstance(src, pd.DataFrame):
            missing = [c for c in _COLUMNS if c not in src.columns]
            if missing:
                raise DataError(
                    f"cla_panel: a frame is missing column(s) {missing}; pass frames "
                    "returned by read_cla or file paths."
                )
            frames.append(src)
        else:
            frames.append(read_cla(src))
    if not frames:
        raise DataError("cla_panel: no sources given; pass read_cla frames or paths.")
    return frames


def _check_release_duplicates(data: pd.DataFrame) -> None:
    key = ["la_code", "year", "release"]
    dup = data.duplicated(key, keep=False)
    if dup.any():
        rows = data.loc[dup].sort_values(key).iloc[:2]
        a, b = rows.iloc[0], rows.iloc[1]
        raise DataError(
            f"cla_panel: duplicated rows across releases: LA {a['la_code']} year "
            f"{a['year']} release {a['release']!r} appears in {a['source_file']} row "
            f"{a['source_row']} and {b['source_file']} row {b['source_row']}; pass each "
            "release once (or give distinct release labels)."
        )


def _exclusions(exclude: Mapping[str, str] | Iterable[Any] | None) -> dict[str, str]:
    if exclude is None:
        return {}
    if isinstance(exclude, Mapping):
        return {str(k): str(v) for k, v in exclude.items()}
    out = {}
    for code in exclude:
        code = str(code)
        out[code] = DEFAULT_EXCLUDE.get(code, "excluded by the caller")
    return out


def cla_panel(
    sources: str | Path | pd.DataFrame | Sequence[str | Path | pd.DataFrame],
    *,
    measure: str = "at_31_march",
    harmonise: bool = True,
    exclude: Mapping[str, str] | Iterable[Any] | None = None,
    population: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Build a panel with one row per authority and year from published releases.

    For each authority and year the figure comes from the latest release that publishes
    both the count and the rate (or population), else the latest that publishes the
    count; years in which an authority did not exist (marker ``z``) are dropped.

    Parameters
    ----------
    sources : path, DataFrame or sequence of them
        Files (read with :func:`read_cla`), folders of downloaded releases (every
        CLA table in the folder and its subfolders is read; other ``.csv`` files are
        skipped with a warning that counts them) or frames returned by
        :func:`read_cla`.
    measure : {"at_31_march", "started", "ceased"}, default "at_31_march"
        Which count to build the panel of.
    harmonise : bool, default True
        Sum counts and populations of reorganised authorities within their stable
        geography (``DORSET_AREA``, ``NORTHAMPTONSHIRE_AREA``, ``CUMBRIA_AREA``) and
        recompute the rate, so the set of units is stable over 2010-2025.
    exclude : mapping or iterable of codes, optional
        Authorities to leave out, with a reason. Default: City of London (201) and the
        Isles of Scilly (420). Pass ``[]`` to keep every authority.
    population : pandas.DataFrame, optional
        Child populations with columns ``la_code``, ``year`` (the 31 March year the
        estimate applies to, i.e. mid-year + 1) and ``child_pop``, used where the
        releases publish none (SFR files 2011-2017); the rate is then derived.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``la_code`` and ``year``, with columns ``la_code`` (DfE code, or the
        harmonised id), ``la_name`` (with the code appended where one name covers two
        codes, e.g. ``"Dorset (DfE 835)"`` and ``"Dorset (DfE 838)"`` when
        ``harmonise=False``, so a panel keyed by name never merges them), ``region_name``, ``year``, ``count``,
        ``count_marker``, ``count_reason``, ``child_pop``, ``rate`` (per 10,000),
        ``rate_basis`` (``published``, ``derived`` = count / child_pop, or
        ``harmonised`` = summed then derived), ``release`` and ``members`` (the DfE
        codes summed). ``.attrs``: ``vintage`` {year: [releases used]}, ``excluded``
        {code: reason}, ``measure``.

    Raises
    ------
    DataError
        If the same release is given twice for an authority and year, or a source is
        not a CLA table.
    """
    check_option("measure", measure, ["at_31_march", "started", "ceased"], "cla_panel")
    excluded = _exclusions(DEFAULT_EXCLUDE if exclude is None else exclude)
    data = pd.concat(_as_frames(sources), ignore_index=True)
    data = data[
        (data["geographic_level"] == "local_authority") & (data["measure"] == measure)
    ]
    if data.empty:
        raise DataError(
            f"cla_panel: the sources hold no local-authority rows for measure "
            f"{measure!r}; pass EES or SFR files with local-authority figures."
        )
    _check_release_duplicates(data)
    data = data.copy()
    has_count = data["count"].notna()
    has_rate = data["rate"].notna() | data["child_pop"].notna()
    data["_score"] = has_count.astype(int) * 2 + (has_count & has_rate).astype(int)
    rank = data["release"].map(_release_rank)
    data["_rank_year"] = [r[0] for r in rank]
    data["_rank_kind"] = [r[1] for r in rank]
    data = data.sort_values(
        ["la_code", "year", "_score", "_rank_year", "_rank_kind"],
        ascending=[True, True, False, False, False],
        kind="stable",
    )
    best = data.drop_duplicates(["la_code", "year"], keep="first")
    best = best[best["count_marker"].fillna("") != "z"]
    best = best[~best["la_code"].isin(list(excluded))]

    if population is not None:
        best = _fill_population(best, population)
    derived = best["rate"].isna() & best["count"].notna() & (best["child_pop"] > 0)
    rate = best["rate"].where(~derived, best["count"] / best["child_pop"] * 1e4)
    basis = np.where(
        best["rate"].notna(), "published", np.where(derived, "derived", "")
    )
    names = best["la_code"].map(lambda c: LA_CODES.get(c, (None, "", "", 0, 0))[0])
    regions = best["la_code"].map(lambda c: LA_CODES.get(c, ("", "", "", 0, 0))[1])
    panel = pd.DataFrame(
        {
            "la_code": best["la_code"].to_numpy(object),
            "la_name": names.fillna(best["la_name"]).to_numpy(object),
            "region_name": regions.to_numpy(object),
            "year": best["year"].astype(int).to_numpy(),
            "count": best["count"].to_numpy(float),
            "count_marker": best["count_marker"].to_numpy(object),
            "count_reason": best["count_reason"].to_numpy(object),
            "child_pop": best["child_pop"].to_numpy(float),
            "rate": rate.to_numpy(float),
            "rate_basis": basis,
            "release": best["release"].to_numpy(object),
            "members": best["la_code"].to_numpy(object),
        }
    )
    if harmonise:
        panel = _harmonise(panel)
    panel["la_name"] = _unambiguous_names(panel)
    panel = panel.sort_values(["la_code", "year"], kind="stable").reset_index(drop=True)
    vintage: dict[int, list[str]] = {}
    for y, rel in zip(panel["year"], panel["release"], strict=True):
        for r in str(rel).split(";"):
            vintage.setdefault(int(y), [])
            if r not in vintage[int(y)]:
                vintage[int(y)].append(r)
    panel.attrs["vintage"] = {y: sorted(v) for y, v in sorted(vintage.items())}
    panel.attrs["excluded"] = excluded
    panel.attrs["measure"] = measure
    return panel


def _unambiguous_names(panel: pd.DataFrame) -> pd.Series:
    """Names with the DfE code appended where one name covers several codes.

    ``"Dorset"`` is both the old county (835, to 2019) and the council created in 2019
    (838): without the code, a panel keyed by name would silently join two different
    authorities into one series.
    """
    codes_per_name = panel.groupby("la_name")["la_code"].nunique()
    shared = codes_per_name.index[codes_per_name > 1]
    if len(shared) == 0:
        return panel["la_name"]
    clash = panel["la_name"].isin(shared)
    return panel["la_name"].where(
        ~clash, panel["la_name"] + " (DfE " + panel["la_code"] + ")"
    )


def _fill_population(best: pd.DataFrame, population: pd.DataFrame) -> pd.DataFrame:
    """Fill missing child populations from a user table keyed by la_code and year."""
    need = ["la_code", "year", "child_pop"]
    missing = [c for c in need if c not in population.columns]
    if missing:
        raise DataError(
            f"cla_panel: the population table lacks column(s) {missing}; it needs "
            f"{need} (year = the 31 March year the estimate applies to)."
        )
    pop = population[need].copy()
    pop["la_code"] = pop["la_code"].astype(str).str.strip()
    pop["year"] = pd.to_numeric(pop["year"], errors="coerce")
    pop["child_pop"] = pd.to_numeric(pop["child_pop"], errors="coerce")
    dup = pop.duplicated(["la_code", "year"], keep=False)
    if dup.any():
        row = pop[dup].iloc[0]
        raise DataError(
            f"cla_panel: the population table lists LA {row['la_code']} year "
            f"{row['year']} more than once; keep one row per authority and year."
        )
    lookup = pop.set_index(["la_code", "year"])["child_pop"]
    keys = pd.MultiIndex.from_arrays([best["la_code"], best["year"].astype(float)])
    filled = pd.Series(lookup.reindex(keys).to_numpy(float), index=best.index)
    out = best.copy()
    out["child_pop"] = out["child_pop"].fillna(filled)
    return out


def _harmonise(panel: pd.DataFrame) -> pd.DataFrame:
    group = panel["la_code"].map(_MEMBER_TO_GROUP)
    single = panel[group.isna()]
    grouped = panel[group.notna()].assign(_group=group[group.notna()])
    if grouped.empty:
        return single
    rows = []
    for (gid, year), part in grouped.groupby(["_group", "year"], sort=True):
        missing = part["count"].isna()
        if missing.any():
            first = part[missing].iloc[0]
            count = np.nan
            marker = first["count_marker"]
            reason = f"member {first['la_code']}: {first['count_reason']}"
        else:
            count = float(part["count"].sum())
            marker, reason = None, None
        pop = (
            float(part["child_pop"].sum())
            if part["child_pop"].notna().all()
            else np.nan
        )
        rate = count / pop * 1e4 if np.isfinite(count) and pop > 0 else np.nan
        region = LA_CODES[part["la_code"].iloc[0]][1]
        rows.append(
            {
                "la_code": str(gid),
                "la_name": HARMONISED_GROUPS[str(gid)]["name"],
                "region_name": region,
                "year": int(str(year)),
                "count": count,
                "count_marker": marker,
                "count_reason": reason,
                "child_pop": pop,
                "rate": rate,
                "rate_basis": "harmonised" if np.isfinite(rate) else "",
                "release": ";".join(sorted(set(part["release"]))),
                "members": "+".join(part["la_code"]),
            }
        )
    return pd.concat([single, pd.DataFrame(rows)], ignore_index=True)
