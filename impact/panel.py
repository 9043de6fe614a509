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
from impact.panel_checks import (
    _MAX_LISTED,
    _PanelChecks,
    _r,
    always_treated,
    late_cohorts_as_never,
)
from impact.panel_checks import MAX_MAGNITUDE as MAX_MAGNITUDE

__all__ = ["Panel", "as_panel"]


class Panel(_PanelChecks):
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
            Periods after the last one mean never treated (noted in :attr:`warnings`),
            and units already treated in the first period are dropped (no
            pre-period; warned and noted), as in the constructor.
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
        c, note = late_cohorts_as_never(c, self.periods.max())
        if note:
            self.warnings.append(note)
        self.Y = Y
        self.cohort = c
        self.X = {k: np.asarray(v, dtype=float) for k, v in (covariates or {}).items()}
        self.W = None if weights is None else np.asarray(weights, dtype=float)
        self.numerator = self.denominator = None
        self.clusters = self.units.copy() if clusters is None else np.asarray(clusters)
        return self._drop_always_treated()

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
            First treated period per unit (``np.inf``, NaN or 0 = never; periods after
            the last one mean never treated, noted in :attr:`warnings`). Units
            already treated in the first period are dropped (no pre-period; warned
            and noted), as in the constructor.

        Returns
        -------
        Panel
            A shallow copy sharing every other array (fewer units if some were
            dropped).
        """
        c = np.asarray(cohort, dtype=float)
        if c.shape != self.cohort.shape:
            raise DataError(
                f"New cohort has shape {c.shape}; expected {self.cohort.shape}."
            )
        return self._replace_cohort(c)._drop_always_treated()

    def _replace_cohort(self, cohort: NDArray[np.float64]) -> Panel:
        """A copy with a new cohort vector (late cohorts as never), keeping every
        unit, also those treated from the first period (``method="dcdh"`` keeps units
        whose treatment is on from the start and later switches off)."""
        c = np.asarray(cohort, dtype=float)
        c = np.where(np.isnan(c) | (c == 0), np.inf, c)
        c, note = late_cohorts_as_never(c, self.periods.max())
        new = copy.copy(self)
        new.__dict__.pop("frame", None)
        new.cohort = c
        if note:
            new.warnings = [*self.warnings, note]
        return new

    def _drop_always_treated(self) -> Panel:
        """The constructor's rule: drop units already treated in the first period (no
        pre-period), with a warning that is also noted in :attr:`warnings`."""
        always, dropped = always_treated(self.cohort, self.units, self.periods.min())
        if not dropped:
            return self
        warnings.warn(dropped, ImpactWarning, stacklevel=3)
        keep = np.flatnonzero(~always)
        if keep.size == 0:
            raise DataError("No units are left after dropping always-treated units.")
        new = copy.copy(self)
        new.__dict__.pop("frame", None)
        new.units = self.units[keep]
        new.Y = self.Y[keep]
        new.observed = self.observed[keep]
        new.cohort = self.cohort[keep]
        new.X = {k: v[keep] for k, v in self.X.items()}
        new.W = None if self.W is None else self.W[keep]
        for name in ("numerator", "denominator"):
            arr = getattr(self, name)
            setattr(new, name, None if arr is None else arr[keep])
        new.clusters = self.clusters[keep]
        new.warnings = [*self.warnings, dropped]
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
            Periods to keep (all by default). Units first treated after the last kept
            period become never treated (noted in :attr:`warnings`), and units already
            treated in the first kept period are dropped (no pre-period; warned and
            noted), as in the constructor.

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
        dropped = None
        if periods is not None:
            always, dropped = always_treated(
                self.cohort[ui], self.units[ui], self.periods[ti].min()
            )
            if dropped:
                warnings.warn(dropped, ImpactWarning, stacklevel=2)
                ui = ui[~always]
                if len(ui) == 0:
                    raise DataError(
                        "No units are left after dropping always-treated units."
                    )
        new = copy.copy(self)
        new.__dict__.pop("frame", None)
        new.units = self.units[ui]
        new.periods = self.periods[ti]
        new.Y = self.Y[np.ix_(ui, ti)]
        new.observed = self.observed[np.ix_(ui, ti)]
        new.cohort, note = late_cohorts_as_never(self.cohort[ui], new.periods.max())
        new.X = {k: v[np.ix_(ui, ti)] for k, v in self.X.items()}
        new.W = None if self.W is None else self.W[np.ix_(ui, ti)]
        for name in ("numerator", "denominator"):
            arr = getattr(self, name)
            setattr(new, name, None if arr is None else arr[np.ix_(ui, ti)])
        new.clusters = self.clusters[ui]
        new.warnings = [*self.warnings, *(m for m in (note, dropped) if m)]
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
