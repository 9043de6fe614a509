"""Validation of the long data behind :class:`impact.panel.Panel`.

The checks follow R ``did``'s ``pre_process_did`` list: columns present, numeric integer
time, unique (unit, time), absorbing treatment, finite outcomes, balance, a comparison
group. :class:`Panel` inherits them; the cohort rules shared by every way of building a
panel (:func:`late_cohorts_as_never`, :func:`always_treated`) live here too.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact.errors import DataError, ImpactWarning

_MAX_LISTED = 5
#: Largest absolute outcome, covariate or weight accepted: squares and sums of squares of
#: larger values overflow double precision (and LAPACK can spin on the infinities).
MAX_MAGNITUDE = 1e100


def _r(value: Any) -> str:
    """repr() of a value with numpy scalars shown as plain Python values."""
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value)


def late_cohorts_as_never(
    cohort: NDArray[np.float64], last_period: Any
) -> tuple[NDArray[np.float64], str | None]:
    """Units first treated after the last period become never treated (``np.inf``).

    Their treatment is never observed, so they are untreated throughout the panel;
    left as cohorts they would be phantom cohorts with no post-period. Every way of
    building a panel (the constructor, :meth:`Panel.from_arrays`,
    :meth:`Panel.with_cohort`, :meth:`Panel.subset`) applies this rule.

    Parameters
    ----------
    cohort : ndarray, shape (N,)
        First treated period per unit (``np.inf`` = never).
    last_period : int
        The panel's last period.

    Returns
    -------
    cohort : ndarray, shape (N,)
        A copy with the late cohorts set to ``np.inf``.
    note : str or None
        The warning to record when some unit was converted.
    """
    c = np.array(cohort, dtype=float)
    late = np.isfinite(c) & (c > last_period)
    if not late.any():
        return c, None
    c[late] = np.inf
    return c, (
        f"{int(late.sum())} unit(s) first treated after the last period "
        f"({last_period}) are used as never treated."
    )


def always_treated(
    cohort: NDArray[np.float64], units: Any, first_period: Any
) -> tuple[NDArray[np.bool_], str | None]:
    """Units already treated in the first period, to be dropped.

    They have no pre-period, so no comparison of their own before and after. The
    constructor, :meth:`Panel.subset`, :meth:`Panel.from_arrays` and
    :meth:`Panel.with_cohort` drop them with this note (as a warning).

    Parameters
    ----------
    cohort : ndarray, shape (N,)
        First treated period per unit (``np.inf`` = never).
    units : array-like, shape (N,)
        Unit labels, named in the note.
    first_period : int
        The panel's first period.

    Returns
    -------
    always : ndarray of bool, shape (N,)
        The units to drop.
    note : str or None
        The warning to record and issue when some unit is dropped.
    """
    c = np.asarray(cohort, dtype=float)
    always = np.isfinite(c) & (c <= first_period)
    if not always.any():
        return always, None
    names = ", ".join(_r(u) for u in pd.Index(units)[always][:_MAX_LISTED])
    return always, (
        f"Dropped {int(always.sum())} unit(s) already treated in the first "
        f"period {first_period} (no pre-period to compare): {names}."
    )


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


class _PanelChecks:
    """Validation steps of the :class:`~impact.panel.Panel` constructor."""

    unit: str
    time: str
    outcome: str
    cohort_col: str | None
    treated_col: str | None
    weights_col: str | None
    covariates: list[str]
    numerator_col: str | None
    denominator_col: str | None
    cluster_col: str | None
    rate_scale: float
    balance: str
    warnings: list[str]
    _missing_rows: int

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

        values, note = late_cohorts_as_never(
            unit_cohort.to_numpy(dtype=float), periods[-1]
        )
        if note:
            self.warnings.append(note)
        return pd.Series(values, index=unit_cohort.index)

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
        while True:
            always, dropped = always_treated(
                unit_cohort.to_numpy(dtype=float), unit_cohort.index, periods[0]
            )
            if not dropped:
                break
            self.warnings.append(dropped)
            warnings.warn(dropped, ImpactWarning, stacklevel=4)
            df = df.loc[~df[unit].isin(unit_cohort.index[always])]
            unit_cohort = unit_cohort[~always]
            if len(unit_cohort) == 0:
                raise DataError(
                    "No units are left after dropping always-treated units."
                )
            # with gaps (balance='keep') the dropped units can be the only ones seen
            # in the first (or last) period: the panel then starts (ends) later, and
            # the rules apply again to its new first (last) period
            remaining = np.sort(df[time].unique())
            if len(remaining) < 2:
                raise DataError(
                    f"After dropping always-treated units only {time}="
                    f"{_r(remaining[0])} is left; at least two periods are needed."
                )
            if remaining[-1] != periods[-1]:
                values, note = late_cohorts_as_never(
                    unit_cohort.to_numpy(dtype=float), remaining[-1]
                )
                if note:
                    self.warnings.append(note)
                unit_cohort = pd.Series(values, index=unit_cohort.index)
            periods = remaining
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
