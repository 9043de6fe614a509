"""Data preparation for synthetic control: wide outcome and predictor matrices.

The synthetic-control path works from the long DataFrame directly (covariates may be
missing in some years, as in the Proposition 99 data); only the outcome has to be
complete over the periods used. Predictors are per-unit aggregates of a column over a
window of periods (missing years skipped, as R ``Synth``'s ``dataprep``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from impact.errors import DataError, SpecError
from impact.panel import MAX_MAGNITUDE
from impact.synth.abadie import ScmFit, fit_scm

__all__ = ["Design", "UnitFit", "build_design", "fit_unit"]

_FloatArray = NDArray[np.float64]
_AGG: dict[str, Any] = {"mean": np.nanmean, "median": np.nanmedian}


def _py(x: Any) -> Any:
    """Plain Python scalar (for messages: 2004 rather than np.int64(2004))."""
    return x.item() if isinstance(x, np.generic) else x


def _label_periods(periods: list[Any]) -> str:
    if len(periods) == 1:
        return str(periods[0])
    p = sorted(periods)
    ints = all(isinstance(x, (int, np.integer)) for x in p)
    if ints and list(range(int(p[0]), int(p[-1]) + 1)) == [int(x) for x in p]:
        return f"{p[0]}-{p[-1]}"
    return ",".join(str(x) for x in p)


@dataclass
class UnitFit:
    """One treated (or placebo) unit against its donors.

    Attributes
    ----------
    unit : label of the treated unit
    treatment_time : first treated period
    donors : ndarray of donor labels
    weights : ndarray (J,) donor weights
    v : ndarray (K,) predictor weights (empty for outcome-only methods)
    predictors : list of predictor names
    x1, X0 : treated (K,) and donor (K, J) predictors on the raw scale
    y1 : ndarray (T,) treated outcome; synthetic : ndarray (T,) synthetic outcome
    pre : bool ndarray (T,) pre-period mask; post : bool ndarray (T,)
    """

    unit: Any
    treatment_time: Any
    donors: NDArray[Any]
    weights: _FloatArray
    v: _FloatArray
    predictors: list[str]
    x1: _FloatArray
    X0: _FloatArray
    y1: _FloatArray
    synthetic: _FloatArray
    pre: NDArray[np.bool_]
    post: NDArray[np.bool_]
    start_losses: _FloatArray = field(default_factory=lambda: np.empty(0))
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gap(self) -> _FloatArray:
        """Treated minus synthetic outcome, every period."""
        return self.y1 - self.synthetic

    @property
    def pre_mspe(self) -> float:
        """Mean squared gap over the pre-treatment periods."""
        g = self.gap[self.pre]
        return float(np.mean(g**2))

    @property
    def post_mspe(self) -> float:
        """Mean squared gap over the post-treatment periods."""
        g = self.gap[self.post]
        return float(np.mean(g**2))

    @property
    def ratio(self) -> float:
        """Post/pre MSPE ratio (the placebo test statistic)."""
        pre = self.pre_mspe
        return float(self.post_mspe / pre) if pre > 0 else float(np.inf)

    @property
    def att(self) -> float:
        """Average post-period gap."""
        return float(np.mean(self.gap[self.post]))


@dataclass
class Design:
    """Everything needed to (re)fit a synthetic control for any unit and date."""

    units: NDArray[Any]
    periods: NDArray[Any]
    Y: _FloatArray  # (N, T) outcome, NaN where missing
    columns: dict[str, _FloatArray]  # covariate name -> (N, T)
    outcome: str
    predictors: list[str]
    predictor_period: list[Any] | None
    special: list[tuple[str, list[Any], str]]
    optimize_period: list[Any] | None
    v: Any
    method: str
    n_starts: int = 10
    time_name: str = "time"
    penalty: float = 0.0
    demean: bool = False
    _cache: dict[Any, tuple[list[str], _FloatArray]] = field(default_factory=dict)

    @property
    def outcome_only(self) -> bool:
        """True when no predictors were given: match the pre-period outcome path."""
        return not self.predictors and not self.special

    def index_of(self, unit: Any) -> int:
        """Row of ``unit`` in the matrices."""
        hits = np.flatnonzero(self.units == unit)
        if hits.size == 0:
            raise DataError(f"Unit {unit!r} is not in the data.")
        return int(hits[0])

    def pre_mask(self, t0: Any) -> NDArray[np.bool_]:
        """Periods strictly before ``t0``."""
        return np.asarray(self.periods < t0)

    def opt_mask(self, t0: Any) -> NDArray[np.bool_]:
        """Periods over which V is chosen (default: every pre-period)."""
        pre = self.pre_mask(t0)
        if self.optimize_period is None:
            return pre
        return np.isin(self.periods, self.optimize_period) & pre

    def outcome_matrix(self, t0: Any) -> _FloatArray:
        """The outcome, minus each unit's pre-``t0`` mean when ``demean`` is set."""
        if not self.demean:
            return self.Y
        pre = self.pre_mask(t0)
        return self.Y - self.Y[:, pre].mean(axis=1, keepdims=True)

    def predictor_matrix(self, t0: Any) -> tuple[list[str], _FloatArray]:
        """Predictor names and the (K, N) matrix of predictor values for date ``t0``."""
        if t0 in self._cache:
            return self._cache[t0]
        pre = self.pre_mask(t0)
        rows: list[_FloatArray] = []
        names: list[str] = []
        Y = self.outcome_matrix(t0)
        if self.outcome_only:
            for t in np.flatnonzero(pre):
                rows.append(Y[:, t])
                names.append(f"{self.outcome} ({self.periods[t]})")
        window = (
            np.isin(self.periods, self.predictor_period)
            if self.predictor_period is not None
            else pre
        )
        specs = [(c, list(self.periods[window]), "mean") for c in self.predictors]
        specs += self.special
        for col, periods, op in specs:
            mat = Y if col == self.outcome else self.columns[col]
            mask = np.isin(self.periods, periods)
            label = f"{col} ({_label_periods(periods)})" if periods else col
            if not mask.any():
                raise DataError(
                    f"Predictor {col!r}: none of the periods {periods} is in the data; "
                    "fix predictor_period or special_predictors."
                )
            block = mat[:, mask]
            allnan = np.all(np.isnan(block), axis=1)
            if np.any(allnan):
                u = self.units[int(np.flatnonzero(allnan)[0])]
                raise DataError(
                    f"Predictor {col!r} is missing for unit {u!r} in every period of "
                    f"{_label_periods(periods)}; choose other periods or drop it."
                )
            rows.append(_AGG[op](block, axis=1))
            names.append(label)
        out = (names, np.vstack(rows))
        self._cache[t0] = out
        return out


def _as_periods(x: Any, periods: NDArray[Any] | None = None) -> list[Any] | None:
    """Normalise a period selection.

    Accepts None, a single period, an iterable of periods, or an inclusive span given
    as ``"1980-1988"`` / ``"1980:1988"`` or ``{"start": 1980, "end": 1988}`` (handy in
    study files, where ``range`` cannot be written).
    """
    if x is None:
        return None
    span: tuple[Any, Any] | None = None
    if isinstance(x, Mapping):
        if not {"start", "end"} <= set(x):
            raise SpecError(
                f"A period span must have 'start' and 'end' keys. Got {dict(x)!r}."
            )
        span = (x["start"], x["end"])
    elif isinstance(x, str):
        sep = ":" if ":" in x else "-"
        parts = x.split(sep)
        if len(parts) == 2:
            try:
                span = (float(parts[0]), float(parts[1]))
            except ValueError:
                span = None
        if span is None:
            return [x]
    if span is not None:
        if periods is None:
            raise SpecError("A period span needs the data's periods.")
        lo, hi = span
        return [p for p in periods.tolist() if lo <= p <= hi]
    if isinstance(x, bytes) or not isinstance(x, Iterable):
        return [x]
    return list(x)


def _parse_special(
    special: Any, columns: list[str], periods: NDArray[Any]
) -> list[tuple[str, list[Any], str]]:
    out: list[tuple[str, list[Any], str]] = []
    for item in special or []:
        if isinstance(item, Mapping):
            col = item.get("column")
            item_periods = item.get("periods")
            op = item.get("op", "mean")
        else:
            try:
                col, item_periods, op = (*item, "mean")[:3] if len(item) == 2 else item
            except (TypeError, ValueError):
                raise SpecError(
                    "Each special predictor must be (column, periods, 'mean'), e.g. "
                    f"('cigsale', [1975], 'mean'). Got {item!r} instead."
                ) from None
        if col not in columns:
            raise DataError(
                f"Special predictor column {col!r} is not in the data; columns are "
                f"{columns}."
            )
        if op not in _AGG:
            raise SpecError(
                f"Special predictor {col!r}: aggregation must be one of "
                f"{sorted(_AGG)}. Got {op!r} instead."
            )
        per = _as_periods(item_periods, periods)
        out.append((str(col), per or [], str(op)))
    return out


def build_design(
    frame: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    predictors: list[str],
    predictor_period: Any,
    special_predictors: Any,
    optimize_period: Any,
    v: Any,
    method: str,
    n_starts: int,
) -> Design:
    """Validate the long frame and build the wide matrices."""
    cols = list(frame.columns)
    for role, c in (("outcome", outcome), ("unit", unit), ("time", time)):
        if c not in cols:
            raise DataError(
                f"The {role} column {c!r} is not in the data; columns are {cols}."
            )
    for c in predictors:
        if c not in cols:
            raise DataError(
                f"Predictor column {c!r} is not in the data; columns are {cols}."
            )
    periods_all = np.array(sorted(frame[time].unique()))
    special = _parse_special(special_predictors, cols, periods_all)
    dup = frame.duplicated([unit, time])
    if dup.any():
        r = frame.loc[dup].iloc[0]
        raise DataError(
            f"Duplicated rows for unit {r[unit]!r} and period {r[time]!r}; keep one row "
            "per unit and period."
        )
    needed = [outcome, *predictors, *(s[0] for s in special)]
    for c in dict.fromkeys(needed):
        if not pd.api.types.is_numeric_dtype(frame[c]):
            raise DataError(
                f"Column {c!r} must be numeric; got dtype {frame[c].dtype}."
            )
    for c in dict.fromkeys(needed):
        magnitude = np.abs(frame[c].to_numpy(dtype=float))
        too_large = np.isfinite(magnitude) & (magnitude > MAX_MAGNITUDE)
        if too_large.any():
            r = frame.loc[too_large].iloc[0]
            raise DataError(
                f"Column {c!r} has values as large as {magnitude[too_large].max():.3g} "
                f"(first for unit {_py(r[unit])!r}, period {_py(r[time])!r}): their squares "
                "overflow double precision. Rescale the column before fitting (values "
                f"must stay below {MAX_MAGNITUDE:.0e} in absolute value)."
            )
    labels = [
        x.item() if isinstance(x, np.generic) else x for x in frame[unit].unique()
    ]
    units = np.empty(len(labels), dtype=object)
    units[:] = sorted(labels, key=lambda x: (str(type(x)), x))
    periods = np.array(sorted(frame[time].unique()))

    def wide(c: str) -> _FloatArray:
        w = frame.pivot(index=unit, columns=time, values=c)
        return w.reindex(index=units, columns=periods).to_numpy(dtype=float)

    columns = {c: wide(c) for c in dict.fromkeys(needed) if c != outcome}
    return Design(
        units=units,
        periods=periods,
        Y=wide(outcome),
        columns=columns,
        outcome=outcome,
        predictors=list(predictors),
        predictor_period=_as_periods(predictor_period, periods),
        special=special,
        optimize_period=_as_periods(optimize_period, periods),
        v=v,
        method=method,
        n_starts=n_starts,
        time_name=time,
    )


def check_outcome(design: Design, rows: NDArray[np.intp], t0: Any) -> None:
    """Raise DataError if the outcome is missing for a used unit, or never varies.

    Every unit with gaps is named with its missing periods, so that one message says
    everything that has to be fixed.
    """
    block = design.Y[rows]
    bad = ~np.isfinite(block)
    if bad.any():
        holes = []
        for i in np.flatnonzero(bad.any(axis=1)):
            missing = [_py(p) for p in design.periods[bad[i]]]
            holes.append(f"{design.units[rows[i]]!r} ({_label_periods(missing)})")
        more = f" and {len(holes) - 5} more units" if len(holes) > 5 else ""
        raise DataError(
            f"Outcome {design.outcome!r} is missing for unit(s) "
            f"{', '.join(holes[:5])}{more}; the synthetic control needs a complete "
            "outcome series for the treated unit and every donor: drop those units "
            "(donors=) or restrict the data to periods they all cover."
        )
    pre = design.pre_mask(t0)
    pre_block = block[:, pre]
    if pre_block.size and np.ptp(pre_block) <= 1e-12 * (1.0 + np.abs(pre_block).max()):
        span = _label_periods([_py(p) for p in design.periods[pre]])
        raise DataError(
            f"Outcome {design.outcome!r} is constant ({_py(pre_block.flat[0])!r}) for "
            f"the treated unit and every donor over the pre-period {span}; there is "
            "nothing to fit a synthetic control to. Check the outcome column."
        )


def fit_unit(
    design: Design,
    i: int,
    donors: NDArray[np.intp],
    t0: Any,
    rng: np.random.Generator | None,
    *,
    method: str | None = None,
) -> UnitFit:
    """Fit unit ``i`` (treated or placebo) against the donor rows ``donors``."""
    method = method or design.method
    pre = design.pre_mask(t0)
    post = ~pre
    opt = design.opt_mask(t0)
    names, Xall = design.predictor_matrix(t0)
    x1, X0 = Xall[:, i], Xall[:, donors]
    Yfit = design.outcome_matrix(t0)
    y1 = Yfit[i]
    Y0 = Yfit[donors]  # (J, T)
    extra: dict[str, Any] = {}
    v = design.v
    if (
        design.outcome_only
        and isinstance(v, str)
        and v == "nested"
        and design.optimize_period is None
    ):
        # predictors = every pre-period outcome: equal V is the nested optimum
        v = "equal"
    if donors.size == 1:
        fit = ScmFit(np.ones(1), np.full(len(names), 1.0 / len(names)), np.nan, np.nan)
    else:
        fit = fit_scm(
            x1,
            X0,
            y1[opt],
            Y0[:, opt].T,
            v=v,
            rng=rng,
            n_starts=design.n_starts,
            names=names,
            # outcome-path matching minimises the raw pre-period MSPE (no scaling)
            standardize=not design.outcome_only,
            penalty=design.penalty,
        )
    weights = fit.weights
    if method == "augmented":
        from impact.synth.augmented import ridge_augmented_weights

        aug = ridge_augmented_weights(y1[pre], Y0[:, pre].T, fit.weights)
        weights = np.asarray(aug.weights, dtype=float)
        extra["lambda"] = float(aug.lambda_)
        extra["scm_weights"] = fit.weights
    synthetic = weights @ Y0
    if design.demean:
        # back to levels: the treated unit's own pre-period mean plus the de-meaned mix
        level = design.Y[i] - y1
        synthetic = synthetic + level
        y1 = design.Y[i]
        extra["pre_mean"] = float(level[0])
    if design.penalty > 0:
        extra["penalty"] = design.penalty
    return UnitFit(
        unit=design.units[i],
        treatment_time=t0,
        donors=design.units[donors],
        weights=weights,
        v=fit.v,
        predictors=names,
        x1=x1,
        X0=X0,
        y1=y1,
        synthetic=synthetic,
        pre=pre,
        post=post,
        start_losses=fit.start_losses,
        extra=extra,
    )
