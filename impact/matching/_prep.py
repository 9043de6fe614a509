"""Input checks and design matrices for :func:`impact.match`.

Everything a user can get wrong about the cross-section (a treatment that is not 0/1,
missing or constant covariates, string columns without an encoding) is caught here and
reported as an :class:`~impact.errors.ImpactError` that names the column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from impact.errors import DataError, SpecError
from impact.panel import MAX_MAGNITUDE

__all__ = ["Design", "build_design", "treatment_vector"]


@dataclass
class Design:
    """Numeric covariates of a cross-section, in two encodings.

    Attributes
    ----------
    model : ndarray (n, p)
        Columns for the propensity model: numeric covariates as given and, for every
        categorical covariate, indicators of all levels but the first (R's treatment
        contrasts, so the fitted scores equal R ``glm``'s).
    model_names : list of str
        Names of ``model``'s columns (``"race[hispan]"`` style for levels).
    balance : ndarray (n, q)
        Columns for balance tables: numeric covariates and one indicator per level of
        every categorical covariate (as MatchIt's ``summary()`` prints them).
    balance_names : list of str
        Names of ``balance``'s columns.
    """

    model: np.ndarray
    model_names: list[str]
    balance: np.ndarray
    balance_names: list[str]
    levels: dict[str, list[str]] = field(default_factory=dict)


def treatment_vector(data: pd.DataFrame, treatment: str, caller: str) -> np.ndarray:
    """Return the treatment column as a bool array after checking it is 0/1.

    Parameters
    ----------
    data : DataFrame
        The cross-section.
    treatment : str
        Column holding 0/1 (or bool) treatment.
    caller : str
        Public function name used in messages.

    Returns
    -------
    ndarray of bool
        True for treated rows.
    """
    if treatment not in data.columns:
        raise DataError(
            f"{caller}: treatment column {treatment!r} is not in the data; "
            f"available columns: {list(map(str, data.columns))[:20]}."
        )
    col = data[treatment]
    if col.isna().any():
        first = col.index[col.isna().to_numpy()][0]
        raise DataError(
            f"{caller}: treatment column {treatment!r} has missing values (first at "
            f"row {first!r}); drop those rows or code them 0/1."
        )
    if ptypes.is_bool_dtype(col):
        return col.to_numpy(dtype=bool)
    if not ptypes.is_numeric_dtype(col):
        raise DataError(
            f"{caller}: treatment column {treatment!r} must be 0/1; it has dtype "
            f"{col.dtype}. Recode it as 1 = treated, 0 = comparison."
        )
    values = col.to_numpy(dtype=float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise DataError(
            f"{caller}: treatment column {treatment!r} must be 0/1; found value "
            f"{values[bad][0]!r} (row {col.index[bad][0]!r}). Recode it as 1 = treated, "
            f"0 = comparison."
        )
    out = values == 1.0
    if out.all() or not out.any():
        which = "treated" if out.all() else "comparison"
        raise DataError(
            f"{caller}: every row of {treatment!r} is {which}; matching needs both "
            f"treated (1) and comparison (0) units."
        )
    return out


def _levels(col: pd.Series) -> list[str]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in col.cat.categories if (col == c).any()]
        return cats
    return sorted({str(v) for v in col.dropna().tolist()})


def build_design(
    data: pd.DataFrame,
    covariates: Sequence[str],
    categorical: Sequence[str],
    caller: str,
    *,
    check_constant: bool = True,
) -> Design:
    """Validate covariates and build the propensity and balance matrices.

    Parameters
    ----------
    data : DataFrame
        One row per unit.
    covariates : sequence of str
        Covariate columns (numeric, boolean, or listed in ``categorical``).
    categorical : sequence of str
        Columns to one-hot encode; each must also be in ``covariates``.
    caller : str
        Public function name used in messages.
    check_constant : bool, default True
        Raise on a constant covariate.

    Returns
    -------
    Design
        The encoded matrices.
    """
    covariates = list(covariates)
    categorical = list(categorical)
    if not covariates:
        raise SpecError(f"{caller}: 'covariates' is empty; name at least one column.")
    missing = [c for c in covariates + categorical if c not in data.columns]
    if missing:
        raise DataError(
            f"{caller}: covariate column {missing[0]!r} is not in the data; available "
            f"columns: {list(map(str, data.columns))[:20]}."
        )
    stray = [c for c in categorical if c not in covariates]
    if stray:
        raise SpecError(
            f"{caller}: categorical column {stray[0]!r} is not among 'covariates'; "
            f"add it to covariates too."
        )
    if len(set(covariates)) != len(covariates):
        raise SpecError(f"{caller}: 'covariates' lists a column twice: {covariates}.")
    model_cols: list[np.ndarray] = []
    model_names: list[str] = []
    bal_cols: list[np.ndarray] = []
    bal_names: list[str] = []
    levels: dict[str, list[str]] = {}
    for name in covariates:
        col = data[name]
        if col.isna().any():
            first = col.index[col.isna().to_numpy()][0]
            n_na = int(col.isna().sum())
            raise DataError(
                f"{caller}: covariate {name!r} has {n_na} missing value(s) (first at "
                f"row {first!r}); impute them or drop those rows before matching."
            )
        if name in categorical:
            levs = _levels(col)
            if len(levs) < 2:
                raise DataError(
                    f"{caller}: categorical covariate {name!r} has a single level "
                    f"{levs[0]!r}; drop it from covariates."
                )
            as_str = col.astype(str).to_numpy()
            levels[name] = levs
            for j, lev in enumerate(levs):
                ind = (as_str == lev).astype(float)
                bal_cols.append(ind)
                bal_names.append(f"{name}_{lev}")
                if j > 0:
                    model_cols.append(ind)
                    model_names.append(f"{name}_{lev}")
            continue
        if ptypes.is_bool_dtype(col):
            values = col.to_numpy(dtype=float)
        elif ptypes.is_numeric_dtype(col):
            values = col.to_numpy(dtype=float)
        else:
            raise SpecError(
                f"{caller}: covariate {name!r} is not numeric (dtype {col.dtype}, e.g. "
                f"{col.iloc[0]!r}); pass categorical=[{name!r}] to one-hot encode it, "
                f"or recode it as numbers."
            )
        if not np.isfinite(values).all():
            raise DataError(
                f"{caller}: covariate {name!r} has infinite values; recode or drop them."
            )
        if np.abs(values).max(initial=0.0) > MAX_MAGNITUDE:
            raise DataError(
                f"{caller}: covariate {name!r} has values as large as "
                f"{np.abs(values).max():.3g}; their squares overflow double precision. "
                f"Rescale it (values must stay below {MAX_MAGNITUDE:.0e})."
            )
        if check_constant and np.ptp(values) == 0:
            raise DataError(
                f"{caller}: covariate {name!r} is constant ({values[0]!r}) and carries "
                f"no information; drop it from covariates."
            )
        model_cols.append(values)
        model_names.append(name)
        bal_cols.append(values)
        bal_names.append(name)
    return Design(
        model=np.column_stack(model_cols),
        model_names=model_names,
        balance=np.column_stack(bal_cols),
        balance_names=bal_names,
        levels=levels,
    )
