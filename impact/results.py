"""The result protocol shared by every estimator.

Every fitted estimator returns a :class:`Result` (or a subclass) with ``estimate``,
``se``, ``ci``, ``pvalue``, ``n_treated``, ``n_control`` and ``warnings``, and the
methods ``summary()``, ``to_frame()``, ``to_dict()``, ``plot(ax=None)`` and
``_repr_html_()``. Nothing printed carries object ids or timestamps, so notebook and
report diffs stay stable.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import special

from impact.plots import axes_or_new

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: The power assessor behind :meth:`Result.design` (``impact.power.assess``). The power
#: package sits above the estimators and registers itself here when imported, so this
#: module never imports it (imports point down).
_DESIGN_ASSESSOR: Callable[..., Any] | None = None


def register_design_assessor(assessor: Callable[..., Any]) -> None:
    """Install the function :meth:`Result.design` calls (``impact.power.assess``).

    Parameters
    ----------
    assessor : callable
        ``assessor(result, **kwargs)`` returning the design assessment.
    """
    global _DESIGN_ASSESSOR
    _DESIGN_ASSESSOR = assessor


__all__ = [
    "EstimateResult",
    "Result",
    "jsonable",
    "normal_ci",
    "register_design_assessor",
]

_WIDTH = 78


def jsonable(obj: Any) -> Any:
    """Convert numpy/pandas objects (recursively) into JSON-safe Python values.

    Non-finite floats become ``None`` (JSON has no NaN).

    Parameters
    ----------
    obj : Any
        Scalar, sequence, mapping, ndarray, Series or DataFrame.

    Returns
    -------
    Any
        Built from dict, list, str, int, float, bool and None only.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, pd.DataFrame):
        return [jsonable(r) for r in obj.reset_index(drop=True).to_dict("records")]
    if isinstance(obj, pd.Series):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return jsonable(obj.to_dict())
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    return str(obj)


def normal_ci(estimate: float, se: float, alpha: float = 0.05) -> tuple[float, float]:
    """Normal-approximation confidence interval.

    Parameters
    ----------
    estimate, se : float
        Point estimate and standard error.
    alpha : float, default 0.05
        One minus the coverage.

    Returns
    -------
    tuple of float
        (low, high).
    """
    z = float(special.ndtri(1 - alpha / 2))
    return (estimate - z * se, estimate + z * se)


def _fmt(x: Any, digits: int = 4) -> str:
    if x is None:
        return "."
    try:
        value = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(value):
        return "."
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 10 ** (-digits)):
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


class Result:
    """Base class of every estimator's result (the protocol in DESIGN.md).

    Parameters
    ----------
    estimator : str
        Name of the method, e.g. ``"cs"`` or ``"synth"``.
    estimate, se : float
        Point estimate and standard error (NaN allowed only with a warning).
    ci : tuple of float, optional
        Confidence interval; defaults to the normal approximation.
    pvalue : float, optional
        Two-sided p-value; defaults to the normal approximation.
    n_treated, n_control : int
        Numbers of treated and comparison units.
    alpha : float, default 0.05
        One minus the interval's coverage.
    warnings : list of str, optional
        Plain-language diagnostics.
    label : str, default "ATT"
        What ``estimate`` estimates.
    title : str, optional
        Heading of the summary.
    """

    def __init__(
        self,
        *,
        estimator: str,
        estimate: float,
        se: float,
        ci: tuple[float, float] | None = None,
        pvalue: float | None = None,
        n_treated: int,
        n_control: int,
        alpha: float = 0.05,
        warnings: list[str] | None = None,
        label: str = "ATT",
        title: str | None = None,
    ) -> None:
        self.estimator = estimator
        self.estimate = float(estimate)
        self.se = float(se)
        self.alpha = float(alpha)
        if ci is None:
            ci = normal_ci(self.estimate, self.se, self.alpha)
        self.ci = (float(ci[0]), float(ci[1]))
        if pvalue is None:
            if self.se > 0 and math.isfinite(self.se):
                pvalue = float(2 * special.ndtr(-abs(self.estimate / self.se)))
            else:
                pvalue = float("nan")
        self.pvalue = float(pvalue)
        self.n_treated = int(n_treated)
        self.n_control = int(n_control)
        self.warnings: list[str] = list(dict.fromkeys(warnings or []))
        self.label = label
        self.title = title or f"{estimator} estimate"
        #: scale of the outcome: True = natural log (effects in log points), False =
        #: level, None = not stated (see :mod:`impact._scale`); read by ``design()``.
        self.log_outcome: bool | None = None
        #: named diagnostics (e.g. ``"selection"``), shown in ``to_dict()["diagnostics"]``.
        self.diagnostics: dict[str, Any] = {}

    # ----------------------------------------------------------- extension hooks
    def _summary_lines(self) -> list[str]:
        """Extra lines printed after the headline table (override)."""
        return []

    def _extra_dict(self) -> dict[str, Any]:
        """Extra keys of :meth:`to_dict` (override)."""
        return {}

    def _frame(self) -> pd.DataFrame:
        """Tidy table behind :meth:`to_frame` (override for multi-row results)."""
        return pd.DataFrame(
            {
                "term": [self.label],
                "estimate": [self.estimate],
                "std_error": [self.se],
                "statistic": [self.estimate / self.se if self.se else np.nan],
                "p_value": [self.pvalue],
                "conf_low": [self.ci[0]],
                "conf_high": [self.ci[1]],
            }
        )

    def _plot(self, ax: Axes, kind: str | None, **kwargs: Any) -> Axes:
        """Draw the default figure (override). The base draws a point and its CI."""
        ax.errorbar(
            [0],
            [self.estimate],
            yerr=[[self.estimate - self.ci[0]], [self.ci[1] - self.estimate]],
            fmt="o",
            capsize=4,
        )
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        ax.set_xticks([0], [self.label])
        ax.set_ylabel(kwargs.get("ylabel") or f"{self.label} (estimate)")
        ax.set_title(kwargs.get("title") or self.title)
        return ax

    # --------------------------------------------------------------- protocol
    def summary(self) -> str:
        """Return the text summary: the headline estimate, design and warnings.

        Returns
        -------
        str
            A plain-text table.
        """
        level = int(round((1 - self.alpha) * 100))
        rule = "=" * _WIDTH
        lines = [self.title, rule]
        header = (
            f"{'':<14}{'estimate':>12}{'std.err':>12}{'p-value':>10}"
            f"{f'[{level}% conf. interval]':>30}"
        )
        lines.append(header)
        lines.append("-" * _WIDTH)
        ci = f"{_fmt(self.ci[0])}  {_fmt(self.ci[1])}"
        lines.append(
            f"{self.label:<14}{_fmt(self.estimate):>12}{_fmt(self.se):>12}"
            f"{_fmt(self.pvalue, 3):>10}{ci:>30}"
        )
        lines.append("-" * _WIDTH)
        lines.append(
            f"Treated units: {self.n_treated}    Comparison units: {self.n_control}"
        )
        lines.extend(self._summary_lines())
        verdict = self._design_verdict()
        if verdict:
            lines.append(f"Design: {verdict}")
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(f"  - {w}" for w in self.warnings)
        lines.append(rule)
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """Return a tidy DataFrame of the estimates.

        Returns
        -------
        pandas.DataFrame
            Columns ``term, estimate, std_error, statistic, p_value, conf_low,
            conf_high`` (subclasses may add columns).
        """
        return self._frame().copy()

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict with the protocol keys and the estimator's extras.

        Returns
        -------
        dict
            Always holds ``estimator, estimate, se, ci, pvalue, n_treated, n_control,
            warnings, log_outcome, diagnostics``.
        """
        base: dict[str, Any] = {
            "estimator": self.estimator,
            "estimate": self.estimate,
            "se": self.se,
            "ci": list(self.ci),
            "pvalue": self.pvalue,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "alpha": self.alpha,
            "warnings": list(self.warnings),
            "log_outcome": self.log_outcome,
        }
        extra = self._extra_dict()
        diagnostics = {**dict(extra.pop("diagnostics", None) or {}), **self.diagnostics}
        base.update(extra)
        base["diagnostics"] = diagnostics
        out = jsonable(base)
        assert isinstance(out, dict)
        return out

    def plot(
        self, ax: Axes | None = None, kind: str | None = None, **kwargs: Any
    ) -> Axes:
        """Plot the result.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when None.
        kind : str, optional
            Which figure, for results that have several.
        **kwargs
            Label options the figure understands (``title``, ``xlabel``,
            ``ylabel``, ``units``).

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        ax = axes_or_new(ax)
        return self._plot(ax, kind, **kwargs)

    def design(self, **kwargs: Any) -> Any:
        """Return the power assessment of this result's design.

        Parameters
        ----------
        **kwargs
            Passed to :func:`impact.power.assess` (``effect=``, ``power=``,
            ``log_outcome=``, ``noun=``).

        Returns
        -------
        Any
            What :func:`impact.power.assess` returns: the minimum detectable effect
            and a plain verdict.
        """
        if _DESIGN_ASSESSOR is None:
            raise ImportError(
                "result.design() needs impact.power; run `import impact` (or "
                "`import impact.power`) first."
            )
        return _DESIGN_ASSESSOR(self, **kwargs)

    def _design_verdict(self) -> str | None:
        """The power verdict for the summary, when it is cheap (analytic) to compute."""
        if not (math.isfinite(self.se) and self.se > 0):
            return None
        try:
            return str(self.design())
        except (ImportError, ValueError, AttributeError):
            return None

    def _repr_html_(self) -> str:
        body = html.escape(self.summary())
        return f"<pre style='font-family: monospace'>{body}</pre>"

    def __repr__(self) -> str:
        return self.summary()

    __str__ = __repr__


class EstimateResult(Result):
    """A scalar result with an optional table of rows (aggregates, sub-estimates).

    Parameters
    ----------
    table : pandas.DataFrame, optional
        Rows shown by ``summary()`` and returned by ``to_frame()`` (e.g. one row per
        event time). When absent the frame is the single headline row.
    extra : dict, optional
        Extra keys for :meth:`to_dict`.
    **kwargs
        As for :class:`Result`.
    """

    def __init__(
        self,
        *,
        table: pd.DataFrame | None = None,
        extra: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.extra = dict(extra or {})

    def _frame(self) -> pd.DataFrame:
        if self.table is None:
            return super()._frame()
        return self.table

    def _summary_lines(self) -> list[str]:
        if self.table is None or len(self.table) == 0:
            return []
        return ["", self.table.to_string(index=False, float_format=_fmt)]

    def _extra_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        if self.table is not None:
            out["table"] = self.table
        return out
