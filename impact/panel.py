"""The validated panel: one long DataFrame checked once, exposed as balanced arrays.

Every estimator takes either a :class:`Panel` or a DataFrame plus column names, and
builds a :class:`Panel` through :func:`as_panel`. The checks follow R ``did``'s
``pre_process_did`` list: columns present, numeric integer time, unique (unit, time),
absorbing treatment, finite outcomes, balance, a comparison group.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact._validation import as_list, check_option
from impact.errors import DataError, ImpactWarning, SpecError

__all__ = ["Panel", "as_panel"]

_MAX_LISTED = 5
#: Largest absolute outcome, covariate or weight accepted: squares and sums of squares of
#: larger values overflow double precision (and LAPACK can spin on the infinities).
MAX_MAGNITUDE = 1e100


def _r(value: Any) -> str:
    """repr() of a value with numpy scalars shown as plain Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def _first_rows(frame: pd.DataFrame, unit: str, time: str) -> str:
    rows = frame[[unit, time]].head(_MAX_LISTED).itertuples(index=False)
    return ", ".join(f"{unit}={_r(u)} {time}={_r(t)}" for u, t in rows)


def _numeric_column(
    df: pd.DataFrame, column: str, role: str, unit: str, time: str
) -> pd.Series:
    """Return ``df[column]`` as float, raising a DataError naming the first bad row."""
    values = df[column]
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        first = df.loc[bad].iloc[0]
        raise DataError(
            f"Column {_r(column)} ({role}) must be numeric; found {_r(first[column])} at "
            f"{unit}={_r(first[unit])}, {time}={_r(first[time])}. Convert it to numbers "
            "(or encode categories as 0/1 columns) before passing it."
        )
    return converted.astype(float)


def _duplicated_pairs(units: pd.Series, times: pd.Series) -> NDArray[np.bool_]:
    """Mask of rows whose (unit, time) pair occurs more than once (all copies)."""
    u_codes, _ = pd.factorize(units)
    t_codes, t_levels = pd.factorize(times)
    key = u_codes.astype(np.int64) * max(len(t_levels), 1) + t_codes
    order = np.argsort(key, kind="stable")
    repeated = np.flatnonzero(key[order][1:] == key[order][:-1])
    mask = np.zeros(len(key), dtype=bool)
    mask[order[repeated]] = True
    mask[order[repeated + 1]] = True
    return mask


def _per_unit_range(
    units: pd.Series, values: NDArray[Any]
) -> tuple[NDArray[Any], NDArray[Any], pd.Index]:
    """Per-unit minimum and maximum of ``values`` (units in order of appearance)."""
    codes, labels = pd.factorize(units)
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    ordered = values[order]
    return (
        np.minimum.reduceat(ordered, starts),
        np.maximum.reduceat(ordered, starts),
        pd.Index(labels),
    )


class Panel:
    """A long unit-by-period panel, validated once and exposed as balanced arrays.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data: one row per unit and period. Never modified.
    unit, time : str
        Column names of the unit identifier and the (integer) period.
    outcome : str
        Outcome column. With ``numerator=`` and ``denominator=`` it may name a column
        that does not exist yet: it is computed as ``numerator / denominator *
        rate_scale``.
    cohort : str, optional
        First treated period of each unit (NaN, 0 or inf = never treated).
    treated : str, optional
        0/1 absorbing treatment indicator, converted to a cohort. Give at most one of
        ``cohort`` and ``treated``; with neither, every unit is untreated.
    weights : str, optional
        Non-negative weights (e.g. child population).
    covariates : str or list of str, optional
        Numeric covariates.
    numerator, denominator : str, optional
        Counts whose ratio (times ``rate_scale``) is the outcome.
    cluster : str, optional
        Time-invariant cluster label (default: the unit).
    balance : {"error", "drop", "keep"}, default "error"
        What to do with units that miss some periods: raise, drop those units, or
        keep them (``"keep"``: estimators that can use the rows that exist do so;
        rows whose outcome, numerator or denominator is missing are dropped as gaps;
        both are counted in :attr:`warnings`).
    rate_scale : float, default 10000
        Multiplier for ``numerator / denominator`` (rates per 10,000 children).

    Attributes
    ----------
    Y : ndarray, shape (N, T)
        Outcome matrix.
    cohort : ndarray, shape (N,)
        First treated period, ``np.inf`` for never-treated units.
    D : ndarray of bool, shape (N, T)
        Treated indicator (period >= cohort).
    units, periods : ndarray
        Unit labels (sorted) and periods (sorted int64).
    X : dict of str to ndarray (N, T)
        Covariates.
    W : ndarray (N, T) or None
        Weights.
    clusters : ndarray (N,)
        Cluster labels.
    observed : ndarray of bool, shape (N, T)
        Which unit-period cells have a row (all True unless ``balance="keep"``).
    warnings : list of str
        What was dropped or adjusted, in plain language.
    """

    def __init__(
        self,
        data: pd.DataFrame,
        *,
        unit: str,
        time: str,
        outcome: str,
        cohort: str | None = None,
        treated: str | None = None,
        weights: str | None = None,
        covariates: str | Sequence[str] | None = None,
        numerator: str | None = None,
        denominator: str | None = None,
        cluster: str | None = None,
        balance: Literal["error", "drop", "keep"] = "error",
        rate_scale: float = 10_000.0,
    ) -> None:
        check_option("balance", balance, ["error", "drop", "keep"], "Panel")
        if not isinstance(data, pd.DataFrame):
            raise DataError(
                f"Panel needs a pandas DataFrame in long form; got {type(data).__name__}."
            )
        if cohort is not None and treated is not None:
            raise SpecError(
                "Give either cohort= (first treated period) or treated= (0/1 "
                "indicator), not both."
            )
        if (numerator is None) != (denominator is None):
            raise SpecError("numerator= and denominator= must be given together.")
        roles_given = {"unit": unit, "time": time, "outcome": outcome}
        if cohort is not None:
            roles_given["cohort"] = cohort
        if treated is not None:
            roles_given["treated"] = treated
        seen: dict[str, str] = {}
        for role, column in roles_given.items():
            if column in seen:
                raise SpecError(
                    f"Column {column!r} is given as both {seen[column]}= and {role}=; "
                    "each of unit, time, outcome and the treatment needs its own column."
                )
            seen[column] = role
        self.unit = unit
        self.time = time
        self.outcome = outcome
        self.cohort_col = cohort
        self.treated_col = treated
        self.weights_col = weights
        self.covariates = as_list(covariates)
        self.numerator_col = numerator
        self.denominator_col = denominator
        self.cluster_col = cluster
        self.rate_scale = float(rate_scale)
        self.balance = balance
        self.warnings: list[str] = []
        self._missing_rows = 0

        roles = {unit: "unit=", time: "time="}
        computed_outcome = numerator is not None and outcome not in data.columns
        if not computed_outcome:
            roles.setdefault(outcome, "outcome=")
        for col, role in [
            (cohort, "cohort="),
            (treated, "treated="),
            (weights, "weights="),
            (numerator, "numerator="),
            (denominator, "denominator="),
            (cluster, "cluster="),
        ]:
            if col is not None:
                roles.setdefault(col, role)
        for col in self.covariates:
            roles.setdefault(col, "covariates=")
        missing = [c for c in roles if c not in data.columns]
        if missing:
            shown = ", ".join(f"{_r(c)} ({roles[c]})" for c in missing)
            available = ", ".join(repr(c) for c in list(data.columns)[:20])
            raise DataError(
                f"Column {shown} not found in the data. Available columns: {available}."
            )

        df = data.loc[:, list(roles)].copy()
        if len(df) == 0:
            raise DataError("The data have no rows.")
        self._validate_ids(df)
        df = self._validate_values(df, computed_outcome)
        unit_cohort = self._treatment(df)
        df, unit_cohort = self._balance(df, unit_cohort, balance)
        self._build_arrays(df, unit_cohort)

    # ------------------------------------------------------------------ checks
    def _validate_ids(self, df: pd.DataFrame) -> None:
        unit, time = self.unit, self.time
        if df[unit].isna().any():
            row = df.index[df[unit].isna()][0]
            raise DataError(
                f"Column {_r(unit)} (unit=) has missing values (first at row {_r(row)}); "
                "every row needs a unit identifier."
            )
        self._normalise_unit_ids(df)
        self._normalise_time(df)
        raw_time = df[time]
        if raw_time.isna().any():
            first = df.loc[raw_time.isna()].iloc[0]
            raise DataError(
                f"Column {_r(time)} (time=) has missing values (first for "
                f"{unit}={_r(first[unit])}); every row needs a period."
            )
        if not pd.api.types.is_numeric_dtype(raw_time) or pd.api.types.is_bool_dtype(
            raw_time
        ):
            raise DataError(
                f"Column {_r(time)} (time=) must hold integer periods such as years; got "
                f"{_r(raw_time.iloc[0])} ({raw_time.dtype}). Convert dates to integer "
                "periods (e.g. the year) first."
            )
        as_float = raw_time.astype(float)
        non_integer = ~np.isfinite(as_float) | (as_float != np.round(as_float))
        if non_integer.any():
            first = df.loc[non_integer].iloc[0]
            raise DataError(
                f"Column {_r(time)} (time=) must hold integer periods; found "
                f"{_r(first[time])} for {unit}={_r(first[unit])}."
            )
        df[time] = as_float.astype(np.int64)
        dup = _duplicated_pairs(df[unit], df[time])
        if dup.any():
            first = df.loc[dup].iloc[0]
            raise DataError(
                f"Duplicated (unit, time) rows: {int(dup.sum())} rows share a "
                f"{_r(unit)}/{_r(time)} pair; the first is {unit}={_r(first[unit])}, "
                f"{time}={_r(first[time])}. Keep one row per unit and period."
            )

    def _normalise_unit_ids(self, df: pd.DataFrame) -> None:
        """Unit ids of mixed Python types (1 and "1") are compared as text, with a note."""
        ids = df[self.unit]
        if ids.dtype != object:
            return
        kinds = {type(v).__name__ for v in ids.unique()}
        if len(kinds) > 1:
            df[self.unit] = ids.map(str)
            self.warnings.append(
                f"Column {_r(self.unit)} (unit=) mixes value types "
                f"({', '.join(sorted(kinds))}); the ids are compared as text, so 1 and "
                "'1' are the same unit. Give one type to silence this."
            )

    def _normalise_time(self, df: pd.DataFrame) -> None:
        """Dates and annual periods become integer years (the cohort column too)."""
        cols = [self.time] + ([self.cohort_col] if self.cohort_col is not None else [])
        for col in cols:
            values = df[col]
            if isinstance(values.dtype, pd.PeriodDtype):
                freq = str(values.dtype).removeprefix("period[").rstrip("]")
                if not freq.startswith(("Y", "A")):
                    raise DataError(
                        f"Column {_r(col)} holds {freq} periods; impact "
                        "needs integer periods. Use the year (.dt.year) for annual data "
                        "or number the periods (e.g. .dt.qyear * 4 + .dt.quarter) first."
                    )
                df[col] = values.dt.year.astype("Float64")
            elif pd.api.types.is_datetime64_any_dtype(values):
                years = values.dt.year
                df[col] = years.astype("Float64")
                self.warnings.append(
                    f"Column {_r(col)} holds dates; their calendar years are used as "
                    "the periods."
                )

    def _validate_values(
        self, df: pd.DataFrame, computed_outcome: bool
    ) -> pd.DataFrame:
        unit, time = self.unit, self.time
        if self.balance == "keep":
            df = self._drop_missing_rows(df, computed_outcome)
        if self.numerator_col is not None and self.denominator_col is not None:
            num = _numeric_column(df, self.numerator_col, "numerator=", unit, time)
            den = _numeric_column(df, self.denominator_col, "denominator=", unit, time)
            for col, values in [(self.numerator_col, num), (self.denominator_col, den)]:
                self._check_finite(df, col, values, "a count")
                negative = values < 0
                if negative.any():
                    first = df.loc[negative].iloc[0]
                    raise DataError(
                        f"Column {_r(col)} has a negative count {_r(first[col])} at "
                        f"{unit}={_r(first[unit])}, {time}={_r(first[time])}; counts "
                        "cannot be negative."
                    )
            zero = den <= 0
            if zero.any():
                first = df.loc[zero].iloc[0]
                raise DataError(
                    f"Column {_r(self.denominator_col)} (denominator=) is zero at "
                    f"{unit}={_r(first[unit])}, {time}={_r(first[time])}: the rate is "
                    "undefined. Drop that unit or fix the population."
                )
            df[self.numerator_col] = num
            df[self.denominator_col] = den
            rate = num / den * self.rate_scale
            if computed_outcome:
                df[self.outcome] = rate
        y = _numeric_column(df, self.outcome, "outcome=", unit, time)
        self._check_finite(df, self.outcome, y, "an outcome")
        df[self.outcome] = y
        for col in self.covariates:
            values = _numeric_column(df, col, "covariates=", unit, time)
            self._check_finite(df, col, values, "a covariate")
            df[col] = values
        if self.weights_col is not None:
            w = _numeric_column(df, self.weights_col, "weights=", unit, time)
            self._check_finite(df, self.weights_col, w, "a weight")
            if (w < 0).any():
                first = df.loc[w < 0].iloc[0]
                raise DataError(
                    f"Column {_r(self.weights_col)} (weights=) is negative at "
                    f"{unit}={_r(first[unit])}, {time}={_r(first[time])}; weights must be "
                    ">= 0."
                )
            if not (w > 0).any():
                raise DataError(
                    f"Column {_r(self.weights_col)} (weights=) is zero in every row; "
                    "nothing would be estimated. Check the column, or drop weights=."
                )
            df[self.weights_col] = w
        if self.cluster_col is not None:
            if df[self.cluster_col].isna().any():
                first = df.loc[df[self.cluster_col].isna()].iloc[0]
                raise DataError(
                    f"Column {_r(self.cluster_col)} (cluster=) is missing for "
                    f"{unit}={_r(first[unit])}, {time}={_r(first[time])}."
                )
            varying = df.groupby(unit, sort=False)[self.cluster_col].nunique() > 1
            if varying.any():
                raise DataError(
                    f"Column {_r(self.cluster_col)} (cluster=) changes over time within "
                    f"{unit}={_r(varying.index[varying][0])}; clusters must be fixed per "
                    "unit."
                )
        return df

    def _drop_missing_rows(
        self, df: pd.DataFrame, computed_outcome: bool
    ) -> pd.DataFrame:
        """``balance="keep"``: rows without an outcome (or its counts) become gaps."""
        cols = [c for c in (self.numerator_col, self.denominator_col) if c]
        if not computed_outcome:
            cols.append(self.outcome)
        missing = np.zeros(len(df), dtype=bool)
        for col in cols:
            missing |= df[col].isna().to_numpy()
        self._missing_rows = int(missing.sum())
        if missing.all():
            raise DataError(
                f"Every row has a missing value in {cols}; there is nothing to estimate."
            )
        return df.loc[~missing] if missing.any() else df

    def _check_finite(
        self, df: pd.DataFrame, col: str, values: pd.Series, what: str
    ) -> None:
        unit, time = self.unit, self.time
        missing = values.isna()
        if missing.any():
            first = df.loc[missing].iloc[0]
            hint = (
                " (or pass balance='keep' to treat rows without an outcome as gaps)"
                if what in ("an outcome", "a count")
                else ""
            )
            raise DataError(
                f"Column {_r(col)} has {int(missing.sum())} missing value(s), the first "
                f"at {unit}={_r(first[unit])}, {time}={_r(first[time])}. Drop or impute "
                f"those rows before estimating{hint}: {what} cannot be missing."
            )
        infinite = ~np.isfinite(values.to_numpy(dtype=float))
        if infinite.any():
            first = df.loc[infinite].iloc[0]
            raise DataError(
                f"Column {_r(col)} has an infinite value at {unit}={_r(first[unit])}, "
                f"{time}={_r(first[time])}; {what} must be finite."
            )
        magnitude = np.abs(values.to_numpy(dtype=float))
        too_large = magnitude > MAX_MAGNITUDE
        if too_large.any():
            first = df.loc[too_large].iloc[0]
            raise DataError(
                f"Column {_r(col)} has values as large as {magnitude.max():.3g} (first at "
                f"{unit}={_r(first[unit])}, {time}={_r(first[time])}): their squares "
                f"overflow double precision. Rescale the column (e.g. divide it by "
                f"{10 ** int(np.log10(magnitude.max())):.0e}) before estimating: {what} "
                f"must stay below {MAX_MAGNITUDE:.0e} in absolute value."
            )

    def _treatment(self, df: pd.DataFrame) -> pd.Series:
        """Return the first treated period per unit (inf = never), validating it."""
        unit, time = self.unit, self.time
        periods = np.sort(df[time].unique())
        if self.cohort_col is None and self.treated_col is None:
            return pd.Series(np.inf, index=pd.Index(df[unit].unique(), name=unit))
        if self.cohort_col is not None:
            col = self.cohort_col
            raw = pd.to_numeric(df[col], errors="coerce").astype("float64")
            bad = raw.isna() & df[col].notna()
            if bad.any():
                first = df.loc[bad].iloc[0]
                raise DataError(
                    f"Column {_r(col)} (cohort=) must be numeric (first treated period; "
                    f"NaN, 0 or inf for never treated); found {_r(first[col])} at "
                    f"{unit}={_r(first[unit])}."
                )
            if (raw == 0).any() and 0 in set(periods.tolist()):
                raise DataError(
                    f"Column {_r(col)} (cohort=) uses 0, but 0 is also a period in "
                    f"{_r(time)}: it is ambiguous whether 0 means 'never treated'. Code "
                    "never-treated units as NaN."
                )
            cohort = raw.fillna(np.inf).replace(0, np.inf).astype(float)
            low, high, labels = _per_unit_range(
                df[unit], cohort.to_numpy(dtype=np.float64)
            )
            varying = pd.Series(low != high, index=labels)
            if varying.any():
                u = varying.index[varying][0]
                vals = sorted(set(cohort[df[unit] == u].tolist()))
                raise DataError(
                    f"Column {_r(col)} (cohort=) varies within {unit}={_r(u)} (values "
                    f"{vals}); the first treated period must be the same in every row "
                    "of a unit."
                )
            finite = cohort[np.isfinite(cohort)]
            non_integer = finite != np.round(finite)
            if non_integer.any():
                raise DataError(
                    f"Column {_r(col)} (cohort=) must hold integer periods; found "
                    f"{_r(finite[non_integer].iloc[0])}."
                )
            unit_cohort = pd.Series(low, index=labels)
        else:
            col = str(self.treated_col)
            d = pd.to_numeric(df[col], errors="coerce")
            bad = ~d.isin([0, 1])
            if bad.any():
                first = df.loc[bad].iloc[0]
                raise DataError(
                    f"Column {_r(col)} (treated=) must be 0 or 1; found {_r(first[col])} at "
                    f"{unit}={_r(first[unit])}, {time}={_r(first[time])}."
                )
            ordered = pd.DataFrame({"u": df[unit], "t": df[time], "d": d}).sort_values(
                ["u", "t"], kind="mergesort"
            )
            previous = ordered.groupby("u", sort=False)["d"].cummax()
            switched_off = (previous > ordered["d"]).to_numpy()
            if switched_off.any():
                first = ordered.loc[switched_off].iloc[0]
                raise DataError(
                    f"Column {_r(col)} (treated=) switches off for {unit}={_r(first['u'])} "
                    f"in {time}={_r(first['t'])}: treatment must be absorbing (once 1, "
                    "always 1). Use the first treated period as cohort= if the "
                    "programme ended, or impact.did(method='dcdh'), which allows a "
                    "treatment that switches off."
                )
            first_on = (
                ordered.loc[ordered["d"] == 1].groupby("u", sort=False)["t"].min()
            )
            unit_cohort = pd.Series(
                np.inf, index=pd.Index(df[unit].unique(), name=unit)
            )
            unit_cohort.loc[first_on.index] = first_on.astype(float)
        unit_cohort.index.name = unit

        last = periods[-1]
        late = np.isfinite(unit_cohort) & (unit_cohort > last)
        if late.any():
            self.warnings.append(
                f"{int(late.sum())} unit(s) first treated after the last period "
                f"({last}) are used as never treated."
            )
            unit_cohort[late] = np.inf
        return unit_cohort

    def _balance(
        self, df: pd.DataFrame, unit_cohort: pd.Series, balance: str
    ) -> tuple[pd.DataFrame, pd.Series]:
        unit, time = self.unit, self.time
        periods = np.sort(df[time].unique())
        if len(periods) < 2:
            raise DataError(
                f"The panel has a single period ({time}={_r(periods[0])}); at least two "
                "periods are needed."
            )
        # (unit, time) pairs are unique here, so rows per unit = periods observed
        counts = df[unit].value_counts(sort=False)
        gappy = counts[counts < len(periods)]
        if len(gappy) > 0:
            present = set(zip(df[unit], df[time], strict=True))
            gaps = [
                (u, t)
                for u in gappy.index[:_MAX_LISTED]
                for t in periods
                if (u, t) not in present
            ][:_MAX_LISTED]
            shown = ", ".join(f"{unit}={_r(u)} {time}={_r(t)}" for u, t in gaps)
            if balance == "error":
                raise DataError(
                    f"The panel is unbalanced: {len(gappy)} unit(s) miss some periods "
                    f"(e.g. {shown}). Fill the gaps, or pass balance='drop' to drop "
                    "those units."
                )
            if balance == "keep":
                n_cells = int(len(gappy) * len(periods) - gappy.sum())
                message = (
                    f"Kept {len(gappy)} of {len(counts)} unit(s) with gaps "
                    f"(balance='keep'): {n_cells} unit-period cell(s) missing, e.g. "
                    f"{shown}; estimators use the rows that exist."
                )
                self.warnings.append(message)
                warnings.warn(message, ImpactWarning, stacklevel=4)
            else:
                self.warnings.append(
                    f"Dropped {len(gappy)} unit(s) with missing periods "
                    f"(balance='drop'), e.g. {shown}."
                )
                keep = ~df[unit].isin(gappy.index)
                df = df.loc[keep]
                unit_cohort = unit_cohort.drop(gappy.index)
                if len(df) == 0:
                    raise DataError(
                        "No unit is observed in every period; nothing is left."
                    )
        if self._missing_rows:
            message = (
                f"Dropped {self._missing_rows} row(s) with a missing outcome "
                f"{_r(self.outcome)} (balance='keep'); they count as gaps."
            )
            self.warnings.append(message)
            warnings.warn(message, ImpactWarning, stacklevel=4)
        first = periods[0]
        always = np.isfinite(unit_cohort) & (unit_cohort <= first)
        if always.any():
            names = ", ".join(repr(u) for u in unit_cohort.index[always][:_MAX_LISTED])
            message = (
                f"Dropped {int(always.sum())} unit(s) already treated in the first "
                f"period {first} (no pre-period to compare): {names}."
            )
            self.warnings.append(message)
            warnings.warn(message, ImpactWarning, stacklevel=4)
            df = df.loc[~df[unit].isin(unit_cohort.index[always])]
            unit_cohort = unit_cohort[~always]
        if len(unit_cohort) == 0:
            raise DataError("No units are left after dropping always-treated units.")
        treated_given = self.cohort_col is not None or self.treated_col is not None
        finite = np.isfinite(unit_cohort.to_numpy())
        if treated_given and finite.all() and len(np.unique(unit_cohort)) < 2:
            raise DataError(
                "Every unit is treated in the same period: there is no untreated "
                "comparison unit (never treated or not yet treated)."
            )
        if treated_given and not finite.any():
            self.warnings.append("No unit is treated in the observed periods.")
        return df, unit_cohort

    def _build_arrays(self, df: pd.DataFrame, unit_cohort: pd.Series) -> None:
        unit, time = self.unit, self.time
        try:
            units = np.array(sorted(unit_cohort.index))
        except TypeError:
            units = np.array(sorted(unit_cohort.index, key=str), dtype=object)
        periods = np.sort(df[time].unique()).astype(np.int64)
        u_pos = pd.Index(units).get_indexer(df[unit])
        t_pos = np.searchsorted(periods, df[time].to_numpy())
        n, t = len(units), len(periods)

        def matrix(values: pd.Series) -> NDArray[np.float64]:
            out = np.full((n, t), np.nan)
            out[u_pos, t_pos] = values.to_numpy(dtype=float)
            return out

        self.units = units
        self.periods = periods
        self.observed = np.zeros((n, t), dtype=bool)
        self.observed[u_pos, t_pos] = True
        self.Y = matrix(df[self.outcome])
        self.cohort = unit_cohort.reindex(units).to_numpy(dtype=float)
        self.X = {c: matrix(df[c]) for c in self.covariates}
        self.W = matrix(df[self.weights_col]) if self.weights_col else None
        self.numerator = matrix(df[self.numerator_col]) if self.numerator_col else None
        self.denominator = (
            matrix(df[self.denominator_col]) if self.denominator_col else None
        )
        if self.cluster_col is not None:
            labels = df.groupby(unit, sort=False)[self.cluster_col].first()
            self.clusters = labels.reindex(units).to_numpy()
        else:
            self.clusters = units.copy()

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        Y: NDArray[np.float64],
        cohort: NDArray[np.float64] | None = None,
        *,
        units: Sequence[Any] | NDArray[Any] | None = None,
        periods: Sequence[int] | NDArray[np.int64] | None = None,
        covariates: dict[str, NDArray[np.float64]] | None = None,
        weights: NDArray[np.float64] | None = None,
        clusters: NDArray[Any] | None = None,
        unit: str = "unit",
        time: str = "time",
        outcome: str = "y",
    ) -> Panel:
        """Build a panel straight from arrays (for simulations; light checks only).

        Parameters
        ----------
        Y : ndarray, shape (N, T)
            Outcomes, finite.
        cohort : ndarray, shape (N,), optional
            First treated period (``np.inf`` or NaN or 0 = never). Default: none treated.
        units, periods : array-like, optional
            Labels; default ``0..N-1`` and ``0..T-1``.
        covariates : dict of str to ndarray (N, T), optional
            Covariates.
        weights : ndarray (N, T), optional
            Weights.
        clusters : ndarray (N,), optional
            Cluster labels.
        unit, time, outcome : str
            Column names used by :attr:`frame`.

        Returns
        -------
        Panel
            The panel.
        """
        Y = np.asarray(Y, dtype=float)
        if Y.ndim != 2 or Y.shape[1] < 2:
            raise DataError(f"Y must be a 2-D (units x periods) array; got {Y.shape}.")
        if not np.isfinite(Y).all():
            i, j = np.argwhere(~np.isfinite(Y))[0]
            raise DataError(
                f"Y has a missing or infinite value at unit {i}, period {j}."
            )
        n, t = Y.shape
        self = cls.__new__(cls)
        self.unit, self.time, self.outcome = unit, time, outcome
        self.cohort_col = "_cohort"
        self.treated_col = None
        self.weights_col = "_weight" if weights is not None else None
        self.covariates = list(covariates or {})
        self.numerator_col = self.denominator_col = None
        self.cluster_col = "_cluster" if clusters is not None else None
        self.rate_scale = 10_000.0
        self.balance = "error"
        self.warnings = []
        self.observed = np.ones((n, t), dtype=bool)
        self.units = np.arange(n) if units is None else np.asarray(units)
        self.periods = (
            np.arange(t, dtype=np.int64) if periods is None else np.asarray(periods)
        ).astype(np.int64)
        c = np.full(n, np.inf) if cohort is None else np.asarray(cohort, dtype=float)
        c = np.where(np.isnan(c) | (c == 0), np.inf, c)
        self.Y = Y
        self.cohort = c
        self.X = {k: np.asarray(v, dtype=float) for k, v in (covariates or {}).items()}
        self.W = None if weights is None else np.asarray(weights, dtype=float)
        self.numerator = self.denominator = None
        self.clusters = self.units.copy() if clusters is None else np.asarray(clusters)
        return self

    def with_outcome(self, Y: NDArray[np.float64]) -> Panel:
        """Return a copy of this panel with a new outcome matrix of the same shape.

        Parameters
        ----------
        Y : ndarray, shape (N, T)
            The new outcomes.

        Returns
        -------
        Panel
            A shallow copy sharing every other array.
        """
        Y = np.asarray(Y, dtype=float)
        if Y.shape != self.Y.shape:
            raise DataError(
                f"New outcome has shape {Y.shape}; expected {self.Y.shape}."
            )
        magnitude = np.abs(Y[~np.isnan(Y)])
        if magnitude.size and magnitude.max() > MAX_MAGNITUDE:
            raise DataError(
                f"New outcome has values as large as {magnitude.max():.3g}; their "
                "squares overflow double precision. Rescale it (values must stay below "
                f"{MAX_MAGNITUDE:.0e} in absolute value)."
            )
        new = copy.copy(self)
        new.__dict__.pop("frame", None)
        new.Y = Y
        return new

    def with_cohort(self, cohort: NDArray[np.float64]) -> Panel:
        """Return a copy of this panel with a new cohort vector.

        Parameters
        ----------
        cohort : ndarray, shape (N,)
            First treated period per unit (``np.inf`` = never).

        Returns
        -------
        Panel
            A shallow copy sharing every other array.
        """
        c = np.asarray(cohort, dtype=float)
        if c.shape != self.cohort.shape:
            raise DataError(
                f"New cohort has shape {c.shape}; expected {self.cohort.shape}."
            )
        new = copy.copy(self)
        new.__dict__.pop("frame", None)
        new.cohort = np.where(np.isnan(c) | (c == 0), np.inf, c)
        return new

    def subset(
        self,
        units: Sequence[Any] | NDArray[Any] | None = None,
        periods: Sequence[int] | NDArray[Any] | None = None,
    ) -> Panel:
        """Return the panel restricted to some units and/or periods.

        Parameters
        ----------
        units : sequence, optional
            Unit labels to keep (all by default).
        periods : sequence of int, optional
            Periods to keep (all by default).

        Returns
        -------
        Panel
            A new panel; its arrays are copies.
        """
        ui = np.arange(self.n_units)
        ti = np.arange(self.n_periods)
        if units is not None:
            wanted = list(units)
            ui = pd.Index(self.units).get_indexer(pd.Index(wanted))
            if (ui < 0).any():
                missing = [u for u, k in zip(wanted, ui, strict=True) if k < 0][:5]
                raise DataError(f"Unit(s) {missing} not in the panel.")
        if periods is not None:
            wanted_t = list(periods)
            ti = pd.Index(self.periods).get_indexer(pd.Index(wanted_t))
            if (ti < 0).any():
                missing_t = [p for p, k in zip(wanted_t, ti, strict=True) if k < 0][:5]
                raise DataError(f"Period(s) {missing_t} not in the panel.")
            if len(ti) < 2:
                raise DataError("A panel needs at least two periods.")
        new = copy.copy(self)
        new.__dict__.pop("frame", None)
        new.units = self.units[ui]
        new.periods = self.periods[ti]
        new.Y = self.Y[np.ix_(ui, ti)]
        new.observed = self.observed[np.ix_(ui, ti)]
        new.cohort = self.cohort[ui]
        new.X = {k: v[np.ix_(ui, ti)] for k, v in self.X.items()}
        new.W = None if self.W is None else self.W[np.ix_(ui, ti)]
        for name in ("numerator", "denominator"):
            arr = getattr(self, name)
            setattr(new, name, None if arr is None else arr[np.ix_(ui, ti)])
        new.clusters = self.clusters[ui]
        new.warnings = list(self.warnings)
        return new

    # ------------------------------------------------------------- properties
    @property
    def n_units(self) -> int:
        """Number of units N."""
        return int(self.Y.shape[0])

    @property
    def n_periods(self) -> int:
        """Number of periods T."""
        return int(self.Y.shape[1])

    @property
    def D(self) -> NDArray[np.bool_]:
        """Treated indicator, shape (N, T): period >= cohort."""
        return self.periods[None, :] >= self.cohort[:, None]

    @property
    def is_treated(self) -> NDArray[np.bool_]:
        """Units treated at some observed period."""
        return np.isfinite(self.cohort)

    @property
    def never_treated(self) -> NDArray[np.bool_]:
        """Units never treated in the observed periods."""
        return ~np.isfinite(self.cohort)

    @property
    def cohorts(self) -> NDArray[np.float64]:
        """Sorted distinct first-treated periods (finite only)."""
        return np.unique(self.cohort[np.isfinite(self.cohort)])

    @property
    def n_treated(self) -> int:
        """Number of ever-treated units."""
        return int(self.is_treated.sum())

    @property
    def n_never(self) -> int:
        """Number of never-treated units."""
        return int(self.never_treated.sum())

    @property
    def unit_weights(self) -> NDArray[np.float64] | None:
        """Weights in the first period, shape (N,), or None.

        With gaps (``balance="keep"``): each unit's mean weight over its observed
        periods (as R ``did`` aggregates an unbalanced panel by unit).
        """
        if self.W is None:
            return None
        if not self.has_gaps:
            return self.W[:, 0].copy()
        obs = self.observed
        total = np.where(obs, self.W, 0.0).sum(axis=1)
        return np.asarray(total / np.maximum(obs.sum(axis=1), 1), dtype=float)

    @property
    def has_gaps(self) -> bool:
        """Whether some unit misses some period (only with ``balance="keep"``)."""
        return not bool(self.observed.all())

    def gaps(self) -> dict[Any, list[int]]:
        """Missing periods of each unit with gaps.

        Returns
        -------
        dict
            ``{unit: [missing periods]}`` for every unit with at least one gap.
        """
        out: dict[Any, list[int]] = {}
        for i in np.flatnonzero(~self.observed.all(axis=1)):
            unit = self.units[i]
            key = unit.item() if isinstance(unit, np.generic) else unit
            out[key] = [int(p) for p in self.periods[~self.observed[i]]]
        return out

    def require_complete(self, caller: str) -> None:
        """Raise a DataError naming the units with gaps and their missing periods.

        Parameters
        ----------
        caller : str
            The estimator that needs complete series (named in the message).
        """
        holes = self.gaps()
        if not holes:
            return
        shown = "; ".join(
            f"{u!r} (missing {', '.join(str(p) for p in ps)})"
            for u, ps in list(holes.items())[:_MAX_LISTED]
        )
        more = (
            f" and {len(holes) - _MAX_LISTED} more unit(s)"
            if len(holes) > _MAX_LISTED
            else ""
        )
        raise DataError(
            f"{caller} needs a complete outcome series for every unit, but "
            f"{len(holes)} unit(s) have gaps: {shown}{more}. Fill the gaps, drop those "
            "units (build the Panel with balance='drop'), or use an estimator that "
            "works on the rows that exist (impact.did with method='cs', 'twfe', "
            "'event_study', '2x2', 'imputation', 'did2s' or 'etwfe')."
        )

    def rows_view(self) -> Panel:
        """This panel with gaps as zero-weight cells (for the regression estimators).

        Missing outcomes, covariates and counts are set to 0 and the weights ``W``
        to 0 in missing cells (1 or the given weight elsewhere), so that weighted
        least squares on the (N, T) grid uses exactly the rows that exist. Returns
        ``self`` when there are no gaps.

        Returns
        -------
        Panel
            A shallow copy.
        """
        if not self.has_gaps:
            return self
        new = copy.copy(self)
        new.__dict__.pop("frame", None)
        obs = self.observed
        new.Y = np.where(obs, self.Y, 0.0)
        base = np.ones(obs.shape) if self.W is None else self.W
        new.W = np.where(obs, base, 0.0)
        new.X = {k: np.where(obs, v, 0.0) for k, v in self.X.items()}
        for name in ("numerator", "denominator"):
            arr = getattr(self, name)
            setattr(new, name, None if arr is None else np.where(obs, arr, 0.0))
        return new

    @cached_property
    def frame(self) -> pd.DataFrame:
        """The validated long frame, sorted by (unit, time) (rows that exist only).

        Holds the unit, time and outcome columns, covariates, weights and cluster when
        given, ``_cohort`` (inf = never treated) and ``_treated`` (0/1).
        """
        n, t = self.Y.shape
        data: dict[str, Any] = {
            self.unit: np.repeat(self.units, t),
            self.time: np.tile(self.periods, n),
            self.outcome: self.Y.ravel(),
        }
        for k, v in self.X.items():
            data[k] = v.ravel()
        if self.W is not None and self.weights_col is not None:
            data[self.weights_col] = self.W.ravel()
        if self.cluster_col is not None:
            data[self.cluster_col] = np.repeat(self.clusters, t)
        data["_cohort"] = np.repeat(self.cohort, t)
        data["_treated"] = self.D.ravel().astype(np.int64)
        out = pd.DataFrame(data)
        if self.has_gaps:  # only the rows that exist
            out = out.loc[self.observed.ravel()].reset_index(drop=True)
        return out

    def __repr__(self) -> str:
        return (
            f"Panel({self.n_units} units x {self.n_periods} periods "
            f"{self.periods[0]}-{self.periods[-1]}, outcome={_r(self.outcome)}, "
            f"{self.n_treated} treated in {len(self.cohorts)} cohort(s), "
            f"{self.n_never} never treated)"
        )


def as_panel(data: pd.DataFrame | Panel, **columns: Any) -> Panel:
    """Return ``data`` if it is already a :class:`Panel`, else build one.

    Parameters
    ----------
    data : DataFrame or Panel
        The data.
    **columns
        Keyword arguments of :class:`Panel` (``unit=``, ``time=``, ``outcome=``, ...);
        ``None`` values are ignored. Ignored entirely when ``data`` is a Panel.

    Returns
    -------
    Panel
        The validated panel.
    """
    if isinstance(data, Panel):
        return data
    kwargs = {k: v for k, v in columns.items() if v is not None}
    for required in ("unit", "time", "outcome"):
        if required not in kwargs:
            raise SpecError(
                f"{required}= is required when data is a DataFrame (name the column)."
            )
    return Panel(data, **kwargs)
