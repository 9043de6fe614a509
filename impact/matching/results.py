"""Result objects of :func:`impact.match` and :func:`impact.matched_did`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact._validation import check_option
from impact.matching.balance import balance_table, ess, love_plot, overlap_plot
from impact.plots import axes_or_new
from impact.results import Result, _fmt

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MatchResult", "MatchedDiDResult"]


class MatchResult(Result):
    """Effect estimate after matching or weighting, with balance diagnostics.

    Beyond the :class:`~impact.results.Result` protocol it holds:

    Attributes
    ----------
    weights : pandas.Series
        Matching or balancing weight of every row of the data (0 = not used), indexed
        like the input data.
    matched : pandas.DataFrame
        One row per match: ``subclass`` (the focal unit's matched set), ``focal``
        and ``match`` (index labels of the data), ``weight`` (of the match within its
        set) and ``distance`` (absolute difference in the matching distance). Empty
        for the weighting methods.
    propensity : pandas.Series or None
        The propensity score used (None for pure Mahalanobis / exact matching).
    n_matched : int
        Focal units (treated for the ATT) that received a match.
    ess_treated, ess_control : float
        Effective sample sizes of the weighted groups.
    se_method : str
        How the standard error was computed.
    """

    def __init__(
        self,
        *,
        weights: pd.Series,
        matched: pd.DataFrame,
        propensity: pd.Series | None,
        distance: np.ndarray | None = None,
        X_balance: np.ndarray,
        balance_names: list[str],
        d: np.ndarray,
        estimand: str,
        n_matched: int,
        se_method: str,
        method: str,
        caliper: float | None,
        binary: str = "raw",
        threshold: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.weights = weights
        self.matched = matched
        self.propensity = propensity
        self._distance = (
            distance
            if distance is not None
            else (None if propensity is None else propensity.to_numpy(dtype=float))
        )
        self._X = X_balance
        self._names = balance_names
        self._d = d
        self.estimand = estimand
        self.n_matched = int(n_matched)
        self.se_method = se_method
        self.method = method
        self.caliper = caliper
        self._binary = binary
        self._threshold = threshold
        w = weights.to_numpy(dtype=float)
        self.ess_treated = ess(w[d])
        self.ess_control = ess(w[~d])
        self._balance = self.balance()

    # ------------------------------------------------------------------ balance
    def balance(
        self, *, binary: str | None = None, threshold: float | None = None
    ) -> pd.DataFrame:
        """Balance table before and after (MatchIt/cobalt definitions).

        Parameters
        ----------
        binary : {"raw", "std"}, optional
            Raw difference (cobalt default) or standardised difference (MatchIt's
            ``summary()``) for 0/1 covariates. Defaults to the value given to
            :func:`impact.match`.
        threshold : float, optional
            absolute SMD above which a covariate counts as imbalanced (default 0.1).

        Returns
        -------
        pandas.DataFrame
            See :func:`impact.matching.balance.balance_table`. The first row is the
            matching distance (``distance``: the score, or its linear predictor
            with ``link="linear"``) when one was used.
        """
        binary = check_option(
            "binary",
            binary if binary is not None else self._binary,
            ("raw", "std"),
            "MatchResult.balance",
        )
        thr = self._threshold if threshold is None else float(threshold)
        X, names = self._X, self._names
        if self._distance is not None:
            X = np.column_stack([self._distance, X])
            names = ["distance", *names]
        return balance_table(
            X,
            names,
            self._d,
            self.weights.to_numpy(dtype=float),
            estimand=self.estimand,
            binary=binary,
            threshold=thr,
        )

    # ------------------------------------------------------------- protocol hooks
    def _summary_lines(self) -> list[str]:
        tab = self._balance
        cov = tab[tab["covariate"] != "distance"]
        lines = [
            f"Method: {self.method}    Estimand: {self.estimand}    "
            f"SE: {self.se_method}",
            f"Focal units matched: {self.n_matched}    ESS treated "
            f"{self.ess_treated:.1f}, control {self.ess_control:.1f}",
        ]
        if self.caliper is not None:
            lines.append(f"Caliper (distance units): {_fmt(self.caliper)}")
        if len(cov):
            worst = cov.iloc[int(np.argmax(cov["smd_after"].abs().to_numpy()))]
            lines.append(
                f"Max |SMD| after: {abs(float(worst['smd_after'])):.4f} "
                f"({worst['covariate']}); before: "
                f"{float(cov['smd_before'].abs().max()):.4f}"
            )
        show = tab[["covariate", "smd_before", "smd_after", "var_ratio_after"]]
        lines.extend(["", show.to_string(index=False, float_format=_fmt)])
        return lines

    def _extra_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "estimand": self.estimand,
            "se_method": self.se_method,
            "n_matched": self.n_matched,
            "ess_treated": self.ess_treated,
            "ess_control": self.ess_control,
            "caliper": self.caliper,
            "balance": {
                str(r["covariate"]): {k: v for k, v in r.items() if k != "covariate"}
                for r in self._balance.to_dict("records")
            },
        }

    def plot(
        self, ax: Axes | None = None, kind: str | None = None, **kwargs: Any
    ) -> Axes:
        """Plot the balance (``kind="love"``) or the score overlap (``"overlap"``).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when None.
        kind : {"love", "overlap"}, optional
            Which figure (default ``"love"``).
        **kwargs
            ``title``, ``xlabel``, ``ylabel`` override the default labels.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        ax = axes_or_new(ax, figsize=(7, 0.35 * len(self._balance) + 2.0))
        return self._plot(ax, kind, **kwargs)

    def _plot(self, ax: Axes, kind: str | None, **kwargs: Any) -> Axes:
        kind = check_option(
            "kind", kind or "love", ("love", "overlap"), "MatchResult.plot"
        )
        labels = _label_kwargs(kwargs, "MatchResult.plot")
        if kind == "overlap":
            if self.propensity is None:
                from impact.errors import SpecError

                raise SpecError(
                    "MatchResult.plot: kind='overlap' needs a propensity score; this "
                    "match used none. Use kind='love'."
                )
            return overlap_plot(
                self.propensity.to_numpy(dtype=float),
                self._d,
                self.weights.to_numpy(dtype=float),
                ax=ax,
                **labels,
            )
        xlabel = "Absolute standardised mean difference (SD units)"
        if self._binary == "raw":
            xlabel += "\n0/1 covariates: absolute difference in proportions"
        labels.setdefault("xlabel", xlabel)
        labels.setdefault("title", "Covariate balance before and after matching")
        return love_plot(self._balance, ax=ax, threshold=self._threshold, **labels)


class MatchedDiDResult(Result):
    """Difference-in-differences on a matched panel.

    Attributes
    ----------
    matched : pandas.DataFrame
        One row per match: ``cohort``, ``treated`` and ``control`` unit labels,
        ``weight`` of the control within the treated unit's set and ``distance``.
    unit_effects : pandas.DataFrame
        Per treated unit: cohort, its pre-to-post change, its matched controls'
        weighted change and the difference.
    n_matched : int
        Treated units with at least one match.
    inference : str
        ``"cluster"`` (pairs) or ``"permutation"``.
    """

    def __init__(
        self,
        *,
        matched: pd.DataFrame,
        unit_effects: pd.DataFrame,
        balance_table: pd.DataFrame,
        n_matched: int,
        inference: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.matched = matched
        self.unit_effects = unit_effects
        self._balance = balance_table
        self.n_matched = int(n_matched)
        self.inference = inference

    def balance(self) -> pd.DataFrame:
        """Balance of the pre-period outcomes (and matching features), before/after.

        Returns
        -------
        pandas.DataFrame
            Same columns as :meth:`MatchResult.balance`.
        """
        return self._balance.copy()

    def _summary_lines(self) -> list[str]:
        show = self._balance[["covariate", "smd_before", "smd_after"]]
        return [
            f"Matched treated units: {self.n_matched}    Inference: {self.inference}",
            "",
            "Balance on pre-period outcomes and matching features:",
            show.to_string(index=False, float_format=_fmt),
        ]

    def _extra_dict(self) -> dict[str, Any]:
        return {
            "n_matched": self.n_matched,
            "inference": self.inference,
            "balance": {
                str(r["covariate"]): {k: v for k, v in r.items() if k != "covariate"}
                for r in self._balance.to_dict("records")
            },
            "matched": self.matched,
        }

    def plot(
        self, ax: Axes | None = None, kind: str | None = None, **kwargs: Any
    ) -> Axes:
        """Plot the balance of the matching features before and after matching.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure is made when None.
        kind : {"love"}, optional
            The only figure.
        **kwargs
            ``title``, ``xlabel``, ``ylabel`` override the default labels.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        ax = axes_or_new(ax, figsize=(7, 0.35 * len(self._balance) + 2.0))
        return self._plot(ax, kind, **kwargs)

    def _plot(self, ax: Axes, kind: str | None, **kwargs: Any) -> Axes:
        kind = check_option("kind", kind or "love", ("love",), "MatchedDiDResult.plot")
        labels = _label_kwargs(kwargs, "MatchedDiDResult.plot")
        return love_plot(
            self._balance,
            ax=ax,
            title=labels.get("title", "Balance before and after matching"),
            xlabel=labels.get(
                "xlabel", "Absolute standardised mean difference (SD units)"
            ),
            ylabel=labels.get(
                "ylabel", "Matching feature (pre-period outcome or covariate)"
            ),
        )


def _label_kwargs(kwargs: dict[str, Any], caller: str) -> dict[str, str]:
    """Keep the label overrides (title, xlabel, ylabel); reject anything else."""
    from impact.errors import SpecError

    extra = sorted(set(kwargs) - {"title", "xlabel", "ylabel"})
    if extra:
        raise SpecError(
            f"{caller} got unexpected keyword(s) {extra}; the figure accepts title=, "
            "xlabel= and ylabel=."
        )
    return {k: str(v) for k, v in kwargs.items() if v is not None}
