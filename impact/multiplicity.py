"""Several outcomes at once: Holm and Romano-Wolf adjusted p-values, one result.

The estimators' ``outcome=[...]`` calls (:func:`impact.did`, :func:`impact.synth`) fit
each outcome and return a :class:`MultiOutcomeResult` whose ``to_frame()`` has one row
per outcome with the unadjusted p-value, Holm's (1979) step-down adjustment and Romano
and Wolf's (2005) step-down adjustment computed from the joint null draws the
inference itself made (see :mod:`impact.did.multi` and :mod:`impact.synth.multi` for
which draws).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact.errors import DataError, SpecError
from impact.results import Result, _fmt, jsonable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "MultiOutcomeResult",
    "check_outcome_list",
    "combine",
    "holm",
    "romano_wolf",
]

_TOL = 1e-10  # relative tolerance for ties between a draw and the observed statistic


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values.

    Parameters
    ----------
    pvalues : array_like (K,)
        Unadjusted p-values (NaN entries are left NaN and not counted).

    Returns
    -------
    ndarray (K,)
        ``max_{j <= i} min(1, (m - j + 1) p_(j))`` in the order of the input.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    m = len(ok)
    if m == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def romano_wolf(
    stat: np.ndarray, draws: np.ndarray, thresh: np.ndarray | None = None
) -> np.ndarray:
    """Romano and Wolf (2005) step-down adjusted p-values from null draws.

    Parameters
    ----------
    stat : ndarray (K,)
        Observed statistics (larger = more evidence against the null), e.g.
        ``|t_k|``.
    draws : ndarray (B, K)
        The statistics under the null in B joint draws (the same draw for every
        outcome in a row).
    thresh : ndarray (K,), optional
        The value a draw must reach to count as at least as extreme as ``stat``
        (default ``stat`` less a relative 1e-10, so that exact ties count).

    Returns
    -------
    ndarray (K,)
        For the outcome ranked j-th by ``stat``: the share of draws whose maximum
        over the outcomes ranked j-th or lower reaches ``stat_(j)``, made monotone
        in the ranking (Romano and Wolf 2005, Algorithm 4.1; Clarke, Romano and Wolf
        2020, Stata Journal 20(4), eq. 7).
    """
    stat = np.asarray(stat, dtype=float)
    draws = np.asarray(draws, dtype=float)
    k = len(stat)
    order = np.argsort(-stat, kind="stable")
    # running maximum over the outcomes ranked j-th and lower, from the bottom up
    tail_max = np.maximum.accumulate(draws[:, order[::-1]], axis=1)[:, ::-1]
    if thresh is None:
        thresh = stat * (1.0 - _TOL) - 1e-14
    p_sorted = np.mean(tail_max >= np.asarray(thresh)[order][None, :], axis=0)
    p_sorted = np.maximum.accumulate(p_sorted)
    out = np.empty(k)
    out[order] = p_sorted
    return out


class MultiOutcomeResult(Result):
    """One fit per outcome, with Holm and Romano-Wolf adjusted p-values.

    The first outcome is the primary one: the headline ``estimate``/``se``/``ci``/
    ``pvalue`` (unadjusted), ``design()`` and every attribute the result does not
    define itself (``aggregate``, ``pretrend_test``, ...) are its fit's;
    :meth:`to_frame` has every outcome with its adjusted p-values.

    Attributes
    ----------
    results : dict of str to Result
        The fit for each outcome, in the order given.
    outcomes : list of str
        The outcome columns.
    table : pandas.DataFrame
        ``outcome, estimate, se, ci_low, ci_high, pvalue, pvalue_holm,
        pvalue_romano_wolf``.
    """

    def __init__(
        self,
        results: Mapping[str, Result],
        table: pd.DataFrame,
        *,
        warnings: list[str],
        draws: str,
    ) -> None:
        first = next(iter(results.values()))
        super().__init__(
            estimator=first.estimator,
            estimate=first.estimate,
            se=first.se,
            ci=first.ci,
            pvalue=first.pvalue,
            n_treated=first.n_treated,
            n_control=first.n_control,
            alpha=first.alpha,
            warnings=warnings,
            title=f"{first.title} - {len(results)} outcomes",
        )
        self.results = dict(results)
        self.outcomes = list(results)
        self.table = table
        self.draws = draws

    @property
    def primary(self) -> Result:
        """The fit of the first outcome (the headline)."""
        return next(iter(self.results.values()))

    def __getattr__(self, name: str) -> Any:
        # anything else (aggregate, pretrend_test, placebo_in_time, event_study, ...)
        # is the primary outcome's
        if name.startswith("__") or "results" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.primary, name)

    def design(self, **kwargs: Any) -> Any:
        """The power assessment of the primary (first) outcome's design.

        Parameters
        ----------
        **kwargs
            As for :meth:`impact.results.Result.design`.

        Returns
        -------
        Any
            The primary outcome's design assessment.
        """
        return self.primary.design(**kwargs)

    def __getitem__(self, outcome: str) -> Result:
        return self.results[outcome]

    def __iter__(self) -> Any:
        return iter(self.results.items())

    def __len__(self) -> int:
        return len(self.results)

    def _frame(self) -> pd.DataFrame:
        return self.table

    def summary(self) -> str:
        """Return one line per outcome with unadjusted and adjusted p-values.

        Returns
        -------
        str
            A plain-text table, then each outcome's warnings.
        """
        level = int(round((1 - self.alpha) * 100))
        name_w = max(8, *(len(str(o)) for o in self.outcomes)) + 1
        width = name_w + 72
        rule = "=" * width
        lines = [self.title, rule]
        lines.append(
            f"{'outcome':<{name_w}}{'estimate':>11}{'std.err':>11}{'p':>9}{'Holm':>9}"
            f"{'R-W':>9}{f'[{level}% conf. interval]':>23}"
        )
        lines.append("-" * width)
        for r in self.table.itertuples(index=False):
            ci = f"{_fmt(r.ci_low)}  {_fmt(r.ci_high)}"
            lines.append(
                f"{r.outcome!s:<{name_w}}{_fmt(r.estimate):>11}{_fmt(r.se):>11}"
                f"{_fmt(r.pvalue, 3):>9}{_fmt(r.pvalue_holm, 3):>9}"
                f"{_fmt(r.pvalue_romano_wolf, 3):>9}{ci:>23}"
            )
        lines.append("-" * width)
        lines.append(
            f"Treated units: {self.n_treated}    Comparison units: {self.n_control}"
        )
        lines.append(
            "Holm: step-down Bonferroni. R-W: Romano-Wolf step-down from the same "
            f"{self.draws} draws as the inference."
        )
        if self.warnings:
            lines.append("Warnings:")
            lines.extend(f"  - {w}" for w in self.warnings)
        lines.append(rule)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The primary outcome's ``to_dict()`` plus every outcome's row and fit.

        Returns
        -------
        dict
            The first outcome's keys (so diagnostics read it as the headline), with
            ``warnings`` for every outcome, ``outcomes`` (the :meth:`to_frame` rows),
            ``multiplicity`` and ``results`` (each outcome's own ``to_dict()``).
        """
        out = self.primary.to_dict()
        out["warnings"] = list(self.warnings)
        out["primary_outcome"] = self.outcomes[0]
        out["outcomes"] = jsonable(self.table)
        out["multiplicity"] = {
            "holm": "Holm (1979) step-down",
            "romano_wolf": "Romano and Wolf (2005) step-down, max |t| over the "
            f"remaining outcomes in the same {self.draws} draws",
        }
        out["results"] = {k: v.to_dict() for k, v in self.results.items()}
        return out

    def _plot(self, ax: Axes, kind: str | None, **kwargs: Any) -> Axes:
        t = self.table
        y = np.arange(len(t))[::-1]
        ax.errorbar(
            t["estimate"],
            y,
            xerr=[t["estimate"] - t["ci_low"], t["ci_high"] - t["estimate"]],
            fmt="o",
            capsize=4,
        )
        ax.axvline(0, color="grey", lw=0.8, ls="--")
        labels = [
            f"{o} (p={_fmt(p, 3)}, R-W {_fmt(q, 3)})"
            for o, p, q in zip(
                t["outcome"], t["pvalue"], t["pvalue_romano_wolf"], strict=True
            )
        ]
        ax.set_yticks(y, labels)
        ax.set_xlabel(kwargs.get("xlabel") or "estimate (outcome units)")
        ax.set_title(kwargs.get("title") or self.title)
        return ax


def check_outcome_list(data: Any, outcomes: Sequence[Any]) -> list[str]:
    """Validate a list of outcome columns (names every problem).

    Parameters
    ----------
    data : DataFrame
        The long data (a Panel holds a single outcome and is refused).
    outcomes : sequence of str
        The outcome columns.

    Returns
    -------
    list of str
        The names, checked.
    """
    from impact.panel import Panel

    names = list(outcomes)
    if not names:
        raise SpecError("outcome= is an empty list; name at least one outcome column.")
    if isinstance(data, Panel):
        raise SpecError(
            "outcome= as a list needs a DataFrame (a Panel holds one outcome); pass "
            "the long DataFrame and the column names."
        )
    bad = [o for o in names if not isinstance(o, str)]
    if bad:
        raise SpecError(f"outcome= must list column names (strings); got {bad!r}.")
    dup = sorted({o for o in names if names.count(o) > 1})
    if dup:
        raise SpecError(f"outcome= lists {dup} more than once.")
    if isinstance(data, pd.DataFrame):
        missing = [o for o in names if o not in data.columns]
        if missing:
            available = ", ".join(repr(c) for c in list(data.columns)[:20])
            raise DataError(
                f"Outcome column(s) {missing} not found in the data (outcome= list). "
                f"Available columns: {available}."
            )
    return names


def combine(
    results: Mapping[str, Result],
    stats: Sequence[float],
    thresholds: Sequence[float],
    draws: Sequence[Any],
    kinds: Sequence[str],
    reason: str | None = None,
) -> MultiOutcomeResult:
    """Build the per-outcome table with Holm and Romano-Wolf adjusted p-values.

    Parameters
    ----------
    results : mapping of str to Result
        One fit per outcome, in order.
    stats, thresholds : sequence of float
        Each outcome's observed statistic and the value a null draw must reach to
        count as at least as extreme (the inference's own tie rule).
    draws : sequence of ndarray (B,) or None
        Each outcome's null draws of the statistic, row b of every outcome from the
        same joint draw.
    kinds : sequence of str
        What the draws are (``"permutation"``, ``"wild"``, ...), per outcome.
    reason : str, optional
        Why the draws are not joint (Romano-Wolf is then NaN, with a warning).

    Returns
    -------
    MultiOutcomeResult
        The combined result.
    """
    names = list(results)
    fits = list(results.values())
    warnings: list[str] = []
    pvals = np.array([r.pvalue for r in fits])
    rw = np.full(len(names), np.nan)
    if reason is None and (
        any(d is None for d in draws)
        or len(set(kinds)) != 1
        or len({len(d) for d in draws}) != 1
    ):
        reason = "the outcomes' inference draws are not the same draws"
    if reason is None:
        rw = romano_wolf(
            np.array(stats, dtype=float),
            np.column_stack(draws),
            np.array(thresholds, dtype=float),
        )
    else:
        warnings.append(f"Romano-Wolf p-values are not available: {reason}.")
    table = pd.DataFrame(
        {
            "outcome": names,
            "estimate": [r.estimate for r in fits],
            "se": [r.se for r in fits],
            "ci_low": [r.ci[0] for r in fits],
            "ci_high": [r.ci[1] for r in fits],
            "pvalue": pvals,
            "pvalue_holm": holm(pvals),
            "pvalue_romano_wolf": rw,
        }
    )
    shared = set.intersection(*(set(r.warnings) for r in fits))
    warnings.extend(w for w in fits[0].warnings if w in shared)
    for o, res in results.items():
        warnings.extend(f"{o}: {w}" for w in res.warnings if w not in shared)
    return MultiOutcomeResult(results, table, warnings=warnings, draws=kinds[0])
