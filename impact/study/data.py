"""Loading and declaratively preparing a study's data (no code from the study file runs)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from impact.errors import DataError, SpecError
from impact.study.spec import DataSpec, SampleSpec

__all__ = ["Columns", "PreparedData", "apply_sample", "load_data", "sha256_file"]


@dataclass(frozen=True)
class Columns:
    """Column roles after preparation (``outcome`` may be a derived log column)."""

    unit: str | None
    time: str | None
    outcome: str | None
    cohort: str | None
    treated: str | None
    weights: str | None
    covariates: list[str] | None
    cluster: str | None

    def as_kwargs(self) -> dict[str, Any]:
        """Return the roles that are set, as estimator keyword arguments."""
        out = {
            "unit": self.unit,
            "time": self.time,
            "outcome": self.outcome,
            "cohort": self.cohort,
            "treated": self.treated,
            "weights": self.weights,
            "covariates": self.covariates,
            "cluster": self.cluster,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class PreparedData:
    """The prepared long frame plus its provenance."""

    frame: pd.DataFrame
    columns: Columns
    path: Path
    sha256: str
    notes: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    """Return the hex SHA-256 of a file's bytes.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    str
        64 hex digits.
    """
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read(path: Path, shown: str | None = None) -> pd.DataFrame:
    # ``shown`` is the path as written in the study file: messages never echo the
    # values of ${VAR}s (they may hold secrets, e.g. a token in a mounted path)
    label = str(path) if shown is None else shown
    if not path.exists():
        raise DataError(
            f"data file {label!r} not found; check [data] path (relative paths are "
            "read from the study file's folder)"
        )
    if path.is_dir():
        raise DataError(f"data path {label!r} is a folder; point [data] path at a file")
    name = path.name.lower()
    try:
        if name.endswith((".csv", ".csv.gz", ".txt")):
            return pd.read_csv(path)
        if name.endswith(".tsv"):
            return pd.read_csv(path, sep="\t")
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
    except (ValueError, OSError, ImportError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        first = first.replace(str(path), label)
        raise DataError(f"cannot read data file {label!r}: {first}") from None
    raise DataError(
        f"data file {label!r} has an unsupported type; use .csv, .tsv or .parquet"
    )


def _require(frame: pd.DataFrame, cols: list[str], where: str, path: Path) -> None:
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        shown = ", ".join(repr(c) for c in list(frame.columns)[:12])
        more = ", ..." if frame.shape[1] > 12 else ""
        raise DataError(
            f"column {missing[0]!r} named in {where} is not in {path.name}; "
            f"available columns: {shown}{more}"
        )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value (so messages show 2012, not np.int64(2012))."""
    return value.item() if isinstance(value, np.generic) else value


def _match_values(series: pd.Series, values: list[Any]) -> pd.Series:
    """Rows whose value equals one of ``values`` (compared as text when types differ)."""
    as_text = series.astype("string")
    wanted = {str(v) for v in values}
    # integers written as 2019 in TOML must match 2019.0 in a float column
    wanted |= {
        str(float(v)) for v in values if isinstance(v, int) and not isinstance(v, bool)
    }
    return as_text.isin(wanted).fillna(False).astype(bool)


def _absent(series: pd.Series, values: list[Any]) -> list[Any]:
    """The listed values that match no row of ``series`` (compared as by the filters)."""
    return [v for v in values if not _match_values(series, [v]).any()]


def _join(
    frame: pd.DataFrame, spec: DataSpec, base: Path, notes: list[str]
) -> pd.DataFrame:
    """Left-join the ``[[data.join]]`` files' columns on their keys."""
    from impact.study.spec import expand_vars

    for i, j in enumerate(spec.join or []):
        where = f"[[data.join]] #{i + 1}"
        path = Path(expand_vars(j.path, source=where)).expanduser()
        if not path.is_absolute():
            path = base / path
        if not path.exists():
            raise DataError(f"{where}: data file {str(path)!r} not found")
        other = _read(path)
        _require(frame, j.on, f"{where} on", Path("the main data file"))
        _require(other, [*j.on, *j.columns], where, path)
        clash = [c for c in j.columns if c in frame.columns]
        if clash:
            raise DataError(
                f"{where}: column {clash[0]!r} is already in the main data file; "
                "join each column once"
            )
        dup = other.duplicated(j.on)
        if dup.any():
            row = other.loc[dup].iloc[0]
            key = ", ".join(f"{c}={_plain(row[c])!r}" for c in j.on)
            raise DataError(
                f"{where}: {path.name} has more than one row for {key}; the join keys "
                f"{j.on} must identify one row"
            )
        right = other[[*j.on, *j.columns]]
        try:
            merged = frame.merge(right, on=j.on, how="left")
        except ValueError as exc:  # keys of incompatible types (numbers vs text)
            first = str(exc).splitlines()[0]
            raise DataError(
                f"{where}: cannot join {path.name} on {j.on}: {first}; write each key "
                "column the same way (numbers or text) in both files"
            ) from None
        matched = frame[j.on].merge(right[j.on], on=j.on, how="left", indicator=True)
        n_missing = int((matched["_merge"] == "left_only").sum())
        notes.append(
            f"joined {j.columns} from {path.name} on {j.on}"
            + (f" ({n_missing} rows without a match)" if n_missing else "")
        )
        frame = merged
    return frame


def load_data(spec: DataSpec, path: Path, *, base: Path | None = None) -> PreparedData:
    """Read the data file and apply the ``[data]`` table's preparation steps.

    Parameters
    ----------
    spec : DataSpec
        The ``[data]`` table.
    path : pathlib.Path
        The resolved data file.
    base : pathlib.Path, optional
        Folder that relative ``[[data.join]]`` paths are read from (the study
        file's; default the data file's folder).

    Returns
    -------
    PreparedData
        The prepared frame and its column roles.

    Raises
    ------
    DataError
        Missing file, a named column absent, a unit in ``cohorts`` absent, or a
        non-positive outcome with ``log_outcome``.
    """
    frame = _read(path, spec.path if "${" in spec.path else None)
    digest = sha256_file(path)
    notes: list[str] = []
    if spec.join:
        frame = _join(frame, spec, base or path.parent, notes)
    roles = {
        "unit": spec.unit,
        "time": spec.time,
        "outcome": spec.outcome,
        "treated": spec.treated,
        "weights": spec.weights,
        "cluster": spec.cluster,
    }
    if spec.cohorts is None and spec.cohort is not None:
        roles["cohort"] = spec.cohort
    for role, col in roles.items():
        if col is not None:
            _require(frame, [col], f"[data] {role}", path)
    if spec.covariates:
        _require(frame, spec.covariates, "[data] covariates", path)
    read = frame
    for table, filt in (("keep", spec.keep), ("drop", spec.drop)):
        if filt:
            _require(frame, list(filt), f"[data] {table}", path)
            for col, values in filt.items():
                # a misspelt value would filter nothing, silently
                absent = _absent(read[col], values)
                if absent:
                    raise DataError(
                        f"value {absent[0]!r} listed in [data] {table} for column "
                        f"{col!r} is not in {path.name}; check its spelling"
                    )
            for col, values in filt.items():
                mask = _match_values(frame[col], values)
                frame = frame[mask] if table == "keep" else frame[~mask]
            notes.append(f"{table} filter applied: {len(frame)} rows remain")
    if spec.periods is not None:
        if spec.time is None:
            raise SpecError(
                "[data] periods needs [data] time to name the period column"
            )
        t = pd.to_numeric(frame[spec.time], errors="coerce")
        frame = frame[(t >= spec.periods[0]) & (t <= spec.periods[1])]
    cohort_col = spec.cohort
    if spec.cohorts is not None:
        if spec.unit is None:
            raise SpecError("[data] cohorts needs [data] unit to name the unit column")
        cohort_col = spec.cohort or "cohort"
        labels = frame[spec.unit].astype("string")
        absent = sorted(set(spec.cohorts) - set(labels.dropna().unique()))
        if absent:
            raise DataError(
                f"unit {absent[0]!r} listed in [data] cohorts is not in column "
                f"{spec.unit!r} of {path.name}; check its spelling"
            )
        mapping = {k: float(v) for k, v in spec.cohorts.items()}
        frame = frame.assign(**{cohort_col: labels.map(mapping).astype(float)})
    outcome = spec.outcome
    if spec.dropna and outcome is not None:
        before = len(frame)
        frame = frame[pd.to_numeric(frame[outcome], errors="coerce").notna()]
        if len(frame) < before:
            notes.append(
                f"{before - len(frame)} rows with a missing {outcome!r} dropped"
            )
    if spec.log_outcome and outcome is not None:
        y = pd.to_numeric(frame[outcome], errors="coerce")
        bad = frame[~(y > 0)]
        if len(bad):
            row = bad.iloc[0]
            where = ""
            if spec.unit is not None and spec.time is not None:
                where = (
                    f" (unit {_plain(row[spec.unit])!r}, "
                    f"period {_plain(row[spec.time])!r})"
                )
            raise DataError(
                f"[data] log_outcome: {outcome!r} has {len(bad)} missing or non-positive "
                f"values{where}; drop them with dropna = true or a filter"
            )
        new = f"log_{outcome}"
        frame = frame.assign(**{new: np.log(y.to_numpy(dtype=float))})
        outcome = new
    if spec.balance:
        if spec.unit is None or spec.time is None:
            raise SpecError("[data] balance needs [data] unit and time")
        n_periods = frame[spec.time].nunique()
        counts = frame.groupby(spec.unit, sort=False)[spec.time].transform("nunique")
        dropped = frame.loc[counts < n_periods, spec.unit].nunique()
        frame = frame[counts == n_periods]
        if dropped:
            notes.append(f"{dropped} units without a row in every period dropped")
    if frame.empty:
        raise DataError(
            f"no rows of {path.name} remain after the [data] filters; loosen them"
        )
    columns = Columns(
        unit=spec.unit,
        time=spec.time,
        outcome=outcome,
        cohort=cohort_col,
        treated=spec.treated,
        weights=spec.weights,
        covariates=spec.covariates,
        cluster=spec.cluster,
    )
    return PreparedData(frame.reset_index(drop=True), columns, path, digest, notes)


def _unit_cohorts(frame: pd.DataFrame, cols: Columns) -> pd.Series:
    """First treated period per row's unit (NaN = never treated)."""
    assert cols.unit is not None and cols.time is not None
    if cols.cohort is not None:
        c = pd.to_numeric(frame[cols.cohort], errors="coerce").astype(float)
        c = c.where(np.isfinite(c) & (c != 0))
        return c.groupby(frame[cols.unit]).transform("min")
    if cols.treated is not None:
        t = pd.to_numeric(frame[cols.time], errors="coerce").astype(float)
        on = pd.to_numeric(frame[cols.treated], errors="coerce").fillna(0) > 0
        first = t.where(on)
        return first.groupby(frame[cols.unit]).transform("min")
    raise SpecError(
        "sample.placebo_shift needs a treatment: set [data] cohort, cohorts or treated"
    )


def apply_sample(
    frame: pd.DataFrame,
    cols: Columns,
    sample: SampleSpec | None,
    kwargs: dict[str, Any],
    *,
    where: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Apply an analysis's ``sample`` restrictions; return the frame and adjusted kwargs.

    Parameters
    ----------
    frame : pandas.DataFrame
        The prepared study data.
    cols : Columns
        Column roles.
    sample : SampleSpec or None
        The restrictions.
    kwargs : dict
        The estimator keyword arguments (``treatment_time`` is moved with a placebo).
    where : str
        The analysis, for error messages.

    Returns
    -------
    frame : pandas.DataFrame
        The restricted data.
    kwargs : dict
        The keyword arguments, adjusted for a placebo in time.
    """
    if sample is None:
        return frame, kwargs
    kwargs = dict(kwargs)
    whole = frame
    if sample.periods is not None or sample.placebo_shift is not None:
        if cols.time is None:
            raise SpecError(f"{where}: sample restrictions need [data] time")
    if sample.periods is not None:
        assert cols.time is not None
        t = pd.to_numeric(frame[cols.time], errors="coerce")
        frame = frame[(t >= sample.periods[0]) & (t <= sample.periods[1])]
    if sample.exclude_units:
        if cols.unit is None:
            raise SpecError(f"{where}: sample.exclude_units needs [data] unit")
        # checked on the whole study data: a misspelt unit would exclude nothing
        absent = _absent(whole[cols.unit], list(sample.exclude_units))
        if absent:
            raise DataError(
                f"{where}: unit {absent[0]!r} in sample.exclude_units is not in column "
                f"{cols.unit!r}; check its spelling"
            )
        frame = frame[~_match_values(frame[cols.unit], list(sample.exclude_units))]
    if sample.placebo_shift is not None:
        frame, kwargs = _placebo_in_time(
            frame, cols, sample.placebo_shift, kwargs, where
        )
    if frame.empty:
        raise DataError(f"{where}: no rows remain after the sample restrictions")
    return frame.reset_index(drop=True), kwargs


def _placebo_in_time(
    frame: pd.DataFrame,
    cols: Columns,
    shift: int,
    kwargs: dict[str, Any],
    where: str,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    assert cols.time is not None and cols.unit is not None
    t = pd.to_numeric(frame[cols.time], errors="coerce").astype(float)
    if "treatment_time" in kwargs:
        real = float(kwargs["treatment_time"])
        keep = t < real
        kwargs["treatment_time"] = int(real) - shift
        out = frame[keep]
        if out.empty or kwargs["treatment_time"] <= float(t[keep].min()):
            raise DataError(
                f"{where}: sample.placebo_shift = {shift} leaves no pre-period before the "
                f"fake date {kwargs['treatment_time']}; use a smaller shift"
            )
        return out, kwargs
    cohort = _unit_cohorts(frame, cols)
    if not cohort.notna().any():
        raise DataError(
            f"{where}: sample.placebo_shift needs treated units; none found"
        )
    first_real = float(cohort.min())
    fake = cohort - shift
    keep = t < first_real
    last_kept = float(t[keep].max()) if keep.any() else -np.inf
    first_kept = float(t[keep].min()) if keep.any() else np.inf
    usable = fake.isna() | ((fake > first_kept) & (fake <= last_kept))
    out = frame[keep & usable].copy()
    fake_kept = fake[keep & usable]
    if not fake_kept.notna().any():
        raise DataError(
            f"{where}: sample.placebo_shift = {shift} puts no fake adoption inside the "
            f"pre-period before {int(first_real)}; use a larger shift"
        )
    if cols.cohort is not None:
        out[cols.cohort] = fake_kept.to_numpy()
    if cols.treated is not None:
        tt = pd.to_numeric(out[cols.time], errors="coerce").astype(float)
        out[cols.treated] = (tt >= fake_kept).astype(int).to_numpy()
    return out, kwargs
