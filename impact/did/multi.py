"""Several outcomes in one :func:`impact.did` call, with multiplicity-adjusted p-values.

``impact.did(df, outcome=["cla_rate", "cin_rate", "cpp_rate"], ...)`` fits each
outcome with the same options and returns a :class:`MultiOutcomeResult` whose
``to_frame()`` has one row per outcome with the unadjusted p-value, Holm's (1979)
step-down adjustment and Romano and Wolf's (2005) step-down adjustment.

Romano-Wolf uses the joint distribution of the outcomes' test statistics, taken from
the draws the inference itself made, so it stays valid with few treated units: the
same cohort re-assignments for randomization inference (every outcome is re-estimated
under each assignment), the same cluster weights for the wild bootstrap, the same
multipliers for the Callaway-Sant'Anna multiplier bootstrap (for ``"cs"`` with
analytic inference, a Rademacher multiplier bootstrap of the same influence
functions as the analytic standard error). For each outcome ``k`` the statistic is
``|theta_k| / s_k`` (``s_k`` the standard deviation of its null draws, or its
standard error), so outcomes on different scales are comparable. With one outcome the
Romano-Wolf p-value equals the unadjusted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact.errors import DataError, SpecError
from impact.results import Result, _fmt, jsonable

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.did.results import DiDResult

__all__ = ["MultiOutcomeResult", "fit_outcomes", "holm", "romano_wolf"]

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


def _null_draws(
    res: DiDResult, seed: int, n_boot: int
) -> tuple[float, float, Any, str]:
    """Observed statistic, the threshold a draw must reach, null draws (B,), kind.

    The thresholds repeat each inference's own tie rule, so that with one outcome
    the Romano-Wolf p-value is the unadjusted one.
    """
    details = dict(res.inference_details or {})
    if res.inference == "permutation" and "distribution" in details:
        dist = np.asarray(details["distribution"], dtype=float)
        scale = float(np.std(dist, ddof=1))
        if not scale > 0:
            return float("nan"), float("nan"), None, "permutation"
        obs = abs(float(details.get("estimate", res.estimate)))
        thresh = (obs - 1e-9 * (1.0 + obs)) / scale  # as permutation's _count_ge
        return obs / scale, thresh, np.abs(dist) / scale, "permutation"
    if res.inference == "wild" and "t_boot" in details:
        t = abs(float(details["t_stat"]))
        return (
            t,
            t * (1.0 - _TOL) - 1e-14,
            np.abs(np.asarray(details["t_boot"], dtype=float)),
            "wild",
        )
    if res.method == "cs" and res._cs is not None and np.isfinite(res.se):
        from impact.did.aggregate import aggregate_cs
        from impact.did.cs import _cluster_sum

        st = res._cs
        agg = aggregate_cs(st["fit"], st["cohort_idx"], st["unit_weights"], "simple")
        summed = _cluster_sum(agg.overall_inf[:, None], st["codes"])[:, 0]
        mult = st.get("multipliers")
        if mult is None:
            rng = np.random.default_rng(seed)
            mult = rng.choice(np.array([-1.0, 1.0]), size=(n_boot, len(summed)))
        draws = mult @ summed / st["n"]
        t = abs(res.estimate) / res.se
        return t, t * (1.0 - _TOL) - 1e-14, np.abs(draws) / res.se, "multiplier"
    return float("nan"), float("nan"), None, str(res.inference)


class MultiOutcomeResult(Result):
    """One DiD per outcome, with Holm and Romano-Wolf adjusted p-values.

    The first outcome is the primary one: the headline ``estimate``/``se``/``ci``/
    ``pvalue`` (unadjusted), ``design()`` and every attribute the result does not
    define itself (``aggregate``, ``pretrend_test``, ...) are its fit's;
    :meth:`to_frame` has every outcome with its adjusted p-values.

    Attributes
    ----------
    results : dict of str to DiDResult
        The fit for each outcome, in the order given.
    outcomes : list of str
        The outcome columns.
    table : pandas.DataFrame
        ``outcome, estimate, se, ci_low, ci_high, pvalue, pvalue_holm,
        pvalue_romano_wolf``.
    """

    def __init__(
        self,
        results: dict[str, DiDResult],
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
        self.results = results
        self.outcomes = list(results)
        self.table = table
        self.draws = draws

    @property
    def primary(self) -> DiDResult:
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

    def __getitem__(self, outcome: str) -> DiDResult:
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
    """Validate a list of outcome columns (names every problem)."""
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


def fit_outcomes(
    fit: Callable[..., DiDResult],
    data: Any,
    outcomes: Sequence[Any],
    kwargs: dict[str, Any],
) -> MultiOutcomeResult:
    """Fit ``fit(data, outcome=o, **kwargs)`` for each outcome and adjust p-values.

    Parameters
    ----------
    fit : callable
        :func:`impact.did`.
    data : DataFrame
        Long data.
    outcomes : list of str
        Outcome columns.
    kwargs : dict
        The other arguments of the call. An integer seed is drawn once when
        ``seed`` is None or a Generator, so that every outcome uses the same draws.

    Returns
    -------
    MultiOutcomeResult
        One row per outcome.
    """
    names = check_outcome_list(data, outcomes)
    kwargs = dict(kwargs)
    seed = kwargs.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**32))  # type: ignore[operator]
    elif isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**32))
    kwargs["seed"] = int(seed)
    results = {o: fit(data, outcome=o, **kwargs) for o in names}
    n_boot = int(kwargs.get("n_boot", 999))
    stats_obs, thresholds, draws, kinds = [], [], [], []
    for res in results.values():
        s, th, d, kind = _null_draws(res, int(seed), n_boot)
        stats_obs.append(s)
        thresholds.append(th)
        draws.append(d)
        kinds.append(kind)
    warnings: list[str] = []
    pvals = np.array([r.pvalue for r in results.values()])
    rw = np.full(len(names), np.nan)
    kind = kinds[0]
    same_units = all(
        np.array_equal(r._panel.units, results[names[0]]._panel.units)  # type: ignore[union-attr]
        and np.array_equal(r._panel.cohort, results[names[0]]._panel.cohort)  # type: ignore[union-attr]
        for r in results.values()
    )
    usable = (
        all(d is not None for d in draws)
        and len(set(kinds)) == 1
        and len({len(d) for d in draws if d is not None}) == 1
        and same_units
    )
    if usable:
        rw = romano_wolf(
            np.array(stats_obs), np.column_stack(draws), np.array(thresholds)
        )
    else:
        reason = (
            "the outcomes are observed for different units, so their draws are not "
            "joint"
            if not same_units
            else f"inference {sorted(set(kinds))} gives no bootstrap or permutation "
            "draws; use inference='permutation' (or 'wild', or method='cs')"
        )
        warnings.append(f"Romano-Wolf p-values are not available: {reason}.")
    table = pd.DataFrame(
        {
            "outcome": names,
            "estimate": [r.estimate for r in results.values()],
            "se": [r.se for r in results.values()],
            "ci_low": [r.ci[0] for r in results.values()],
            "ci_high": [r.ci[1] for r in results.values()],
            "pvalue": pvals,
            "pvalue_holm": holm(pvals),
            "pvalue_romano_wolf": rw,
        }
    )
    shared = set.intersection(*(set(r.warnings) for r in results.values()))
    warnings.extend(w for w in next(iter(results.values())).warnings if w in shared)
    for o, res in results.items():
        warnings.extend(f"{o}: {w}" for w in res.warnings if w not in shared)
    return MultiOutcomeResult(results, table, warnings=warnings, draws=kind)
