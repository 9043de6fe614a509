"""SynthResult: the result of :func:`impact.synth`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from impact.errors import DataError, ImpactError, SpecError
from impact.results import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from impact.synth._prep import Design, UnitFit
    from impact.synth.sensitivity import PlaceboSensitivity

__all__ = ["PlaceboTest", "SynthResult"]

_KINDS = ("trajectory", "gap", "placebo", "loo", "weights")


@dataclass
class PlaceboTest:
    """Placebo-in-space test: the table of ratios and the rank p-value.

    Unpacks as ``table, pvalue = result.placebo()``.

    Attributes
    ----------
    table : DataFrame
        One row per treated and placebo unit (pre/post MSPE, ratio, ATT, rank, kept).
    pvalue : float
        RMSPE-ratio rank p-value.
    mspe_threshold : float or None
        The pre-MSPE filter applied.
    gaps : DataFrame
        Gap paths (index periods; one column per unit, treated first).
    """

    table: pd.DataFrame
    pvalue: float
    mspe_threshold: float | None
    gaps: pd.DataFrame

    def __iter__(self) -> Iterator[Any]:
        return iter((self.table, self.pvalue))

    def plot(self, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Placebo spaghetti plot (treated highlighted).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.
        """
        from impact.synth.plots import placebo_plot

        return placebo_plot(self, ax=ax, **kwargs)


class SynthResult(Result):
    """Result of a synthetic-control fit (one or several treated units).

    Attributes
    ----------
    weights : Series or DataFrame
        Donor weights (Series for one treated unit; donors x treated units otherwise).
    v : Series or DataFrame
        Predictor weights (diagonal of V) on standardised predictors.
    balance : DataFrame
        Per predictor: treated, synthetic, donor mean (and ``v``); with
        ``method="augmented"`` the synthetic column is that of the SCM weights
        before the ridge correction.
    gaps : DataFrame
        Treated minus synthetic outcome; index periods, one column per treated unit.
    trajectories : DataFrame
        Long table: unit, time, treated, synthetic, gap, post.
    pre_rmspe, post_rmspe : float
        Root mean squared gap before and after treatment (pooled over treated units).
    placebo_pvalue : float or None
        RMSPE-ratio rank p-value, when placebo inference was run.
    fits : list of UnitFit
        Per treated unit details.
    intervals : DataFrame or None
        With ``inference="prediction"``: prediction intervals (donor placebos or
        Cattaneo-Feng-Titiunik, ``attrs["e_method"]``), one row per post-period (``time, gap, low, high, synthetic, synthetic_low,
        synthetic_high``); ``low, high`` bound the effect, ``synthetic_low,
        synthetic_high`` the untreated outcome.
    """

    def __init__(
        self,
        *,
        fits: list[UnitFit],
        design: Design,
        donors: np.ndarray,
        method: str,
        config: dict[str, Any],
        placebo: PlaceboTest | None = None,
        conformal: pd.DataFrame | None = None,
        extra: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fits = fits
        self.method = method
        self._design = design
        self._donors = donors
        self._config = config
        self._placebo = placebo
        self._placebo_fits: dict[Any, list[UnitFit]] | None = None
        self._placebo_messages: list[str] = []
        self._near_optimal: dict[Any, pd.DataFrame] = {}
        self.conformal = conformal
        #: Prediction intervals per post-period (``inference="prediction"``).
        self.intervals: pd.DataFrame | None = None
        self.extra = dict(extra or {})
        self.treated_units = [f.unit for f in fits]
        self.treatment_time = {f.unit: f.treatment_time for f in fits}
        periods = pd.Index(design.periods, name=design.time_name)
        self.gaps = pd.DataFrame({f.unit: f.gap for f in fits}, index=periods)
        self.att_by_unit = pd.Series(
            {f.unit: f.att for f in fits}, name="att", dtype=float
        )
        pre = np.concatenate([f.gap[f.pre] for f in fits])
        post = np.concatenate([f.gap[f.post] for f in fits])
        self.pre_rmspe = float(np.sqrt(np.mean(pre**2)))
        self.post_rmspe = float(np.sqrt(np.mean(post**2)))
        single = len(fits) == 1
        ws = {f.unit: pd.Series(f.weights, index=f.donors) for f in fits}
        vs = {f.unit: pd.Series(f.v, index=f.predictors) for f in fits if f.v.size}
        self.weights: pd.Series | pd.DataFrame
        self.v: pd.Series | pd.DataFrame | None
        if single:
            self.weights = ws[fits[0].unit].rename("weight")
            self.weights.index.name = "donor"
            self.v = vs[fits[0].unit].rename("v") if vs else None
        else:
            self.weights = pd.DataFrame(ws).fillna(0.0)
            self.weights.index.name = "donor"
            self.v = pd.DataFrame(vs) if vs else None
        self.balance = self._balance()
        rows = []
        for f in fits:
            rows.append(
                pd.DataFrame(
                    {
                        "unit": f.unit,
                        "time": design.periods,
                        "treated": f.y1,
                        "synthetic": f.synthetic,
                        "gap": f.gap,
                        "post": f.post,
                    }
                )
            )
        self.trajectories = pd.concat(rows, ignore_index=True)

    # ------------------------------------------------------------------ tables
    def _balance(self) -> pd.DataFrame:
        frames = []
        for f in self.fits:
            if not f.predictors or f.X0.size == 0:
                continue
            w = f.extra.get("scm_weights", f.weights)
            b = pd.DataFrame(
                {
                    "treated": f.x1,
                    "synthetic": f.X0 @ w,
                    "donor_mean": f.X0.mean(axis=1),
                    "v": f.v if f.v.size == len(f.predictors) else np.nan,
                },
                index=pd.Index(f.predictors, name="predictor"),
            )
            if len(self.fits) > 1:
                b.insert(0, "unit", f.unit)
            frames.append(b)
        if not frames:
            return pd.DataFrame(columns=["treated", "synthetic", "donor_mean", "v"])
        return pd.concat(frames)

    @property
    def placebo_pvalue(self) -> float | None:
        """RMSPE-ratio rank p-value (None if placebos were not run)."""
        return None if self._placebo is None else self._placebo.pvalue

    # --------------------------------------------------------------- inference
    def placebo(
        self,
        mspe_threshold: float | None = None,
        *,
        n_jobs: int | None = None,
        backend: str | None = None,
    ) -> PlaceboTest:
        """Placebo-in-space test (runs the placebo fits if they were not run yet).

        Parameters
        ----------
        mspe_threshold : float, optional
            Drop placebos whose pre-period MSPE exceeds this multiple of the treated
            unit's (ADH 2010 use 20, 5 and 2).
        n_jobs, backend : optional
            Parallel execution of the placebo fits (default: as in the fit).

        Returns
        -------
        PlaceboTest
            ``.table`` and ``.pvalue`` (unpacks as ``table, pvalue``).
        """
        from impact.synth.placebo import placebo_test_parts

        if mspe_threshold is not None and not mspe_threshold > 0:
            raise SpecError(
                "The 'mspe_threshold' parameter of SynthResult.placebo must be a "
                f"positive number. Got {mspe_threshold!r} instead."
            )
        cfg = dict(self._config)
        if n_jobs is not None:
            cfg["n_jobs"] = n_jobs
        if backend is not None:
            cfg["backend"] = backend
        if self._placebo is not None and self._placebo.mspe_threshold == mspe_threshold:
            return self._placebo
        test = PlaceboTest(**placebo_test_parts(self, mspe_threshold, cfg))
        if self._placebo is None:
            self._placebo = test
        return test

    def placebo_sensitivity(
        self, alpha: float | None = None, mspe_threshold: float | None = None
    ) -> PlaceboSensitivity:
        """Firpo-Possebom (2018) sensitivity of the placebo p-value.

        Adopting authorities are selected, not drawn at random. With assignment
        probabilities ``exp(phi v_j) / sum_k exp(phi v_k)`` (``v_j`` in {0, 1}), this
        finds the smallest ``phi`` at which the placebo test's conclusion at ``alpha``
        flips: if it rejects, the worst-case p-value over ``v`` reaches ``alpha``; if
        not, the best-case p-value falls to ``alpha``.

        Parameters
        ----------
        alpha : float, optional
            Significance level (default: the fit's ``alpha``).
        mspe_threshold : float, optional
            Pre-MSPE filter of the placebo test (as in :meth:`placebo`).

        Returns
        -------
        PlaceboSensitivity
            ``.phi``, ``.odds`` (``exp(phi)``), ``.pvalue``, ``.table``, ``.plot()``.

        Raises
        ------
        SpecError
            With several treated units (the pooled test has no single ranked unit)
            or ``method="sdid"`` (no placebo refits).
        """
        from impact._validation import check_alpha
        from impact.synth.sensitivity import placebo_sensitivity

        a = self.alpha if alpha is None else check_alpha(alpha, "placebo_sensitivity")
        if len(self.fits) != 1:
            raise SpecError(
                "placebo_sensitivity needs one treated unit: with several, the pooled "
                "placebo test compares random placebo sets, not ranked units. Fit each "
                "treated unit on its own."
            )
        test = self.placebo(mspe_threshold)
        tab = test.table
        kept = tab[tab["kept"]]
        # the statistic the placebo p-value ranks (the ratio, or with degenerate
        # pre-fits the ratio over the floored pre-MSPE)
        col = "statistic" if "statistic" in tab.columns else "ratio"
        stat = kept[col].to_numpy(float)
        t_stat = float(tab.loc[tab["treated"], col].iloc[0])
        return placebo_sensitivity(stat, t_stat, a)

    def near_optimal(
        self,
        tolerance: float | None = None,
        unit: Any = None,
        *,
        level: float | None = None,
    ) -> pd.DataFrame:
        """Range of post-period effects over weights that fit almost as well.

        Many donor weightings fit the pre-period nearly as well as the chosen one, and
        they can imply different counterfactuals. For every post-period this finds the
        lowest and highest gap over all simplex weights (non-negative, summing to one)
        whose pre-period outcome fit is close to the best: a convex program per bound,
        solved as a bisection on the synthetic value, each step one non-negative
        least-squares fit (the smallest pre-period loss of weights that reproduce it).

        Two ways to say "close":

        * ``tolerance`` (default 0.1 when ``level`` is not given): pre-period MSPE at
          most ``(1 + tolerance)`` times the smallest any simplex weights reach. This
          is a *description* of how much the answer depends on the choice among
          near-equivalent weightings; it has no coverage guarantee. In particular
          ``tolerance=0`` (the optimum alone, or the set of exact pre-fits) almost
          never contains the true effect: post-period noise alone moves the gap.
        * ``level`` (e.g. 0.95): the slack is chosen from the data by donor
          placebos. Each donor in turn is treated as if treated, fitted on the other
          donors, and the slack (pre-period SSR above its optimum, in units of the
          unit's own mean squared year-on-year change relative to the donor mean)
          that its range needs to contain its true effect of zero is recorded; the
          ``ceil(level (J + 1))``-th smallest of the ``J`` donors' slacks is used for
          the treated unit, separately for each post-period and for the average. If
          the treated unit is exchangeable with the donors (the assumption behind
          the placebo-in-space p-value), its range contains its true effect with
          probability at least ``level``, for each period separately and for the
          average (not simultaneously over periods). Post-period noise is included,
          since the placebos' own post-period outcomes are used. Monte Carlo
          (``tests/synth/test_synth_near_optimal_mc.py``, 120 donors calibrated to
          the CLA panel, 10 pre-periods, 1 treated unit): at ``level=0.95`` the
          range contains the true effect in 94-96% of 300 draws per period and for
          the average, ``tolerance=0`` in 3-4% and ``tolerance=0.1`` in 28-32%.
          It does not protect against selected adopters (an authority chosen for a
          high or rising rate is not exchangeable with the donors), and with fewer
          than ``1 / (1 - level) - 1`` donors the range is every simplex weighting.

        Parameters
        ----------
        tolerance : float, optional
            Relative slack on the pre-period MSPE (0.1 = up to 10% worse); default
            0.1. Not allowed together with ``level``.
        unit : label, optional
            Treated unit (default: the first).
        level : float, optional
            Nominal coverage of a placebo-calibrated range, in (0, 1).

        Returns
        -------
        DataFrame
            ``time, gap, low, high``, one row per post-period; ``attrs`` hold
            ``att_low``, ``att_high`` (the same range for the average post-period
            gap), ``tolerance`` (None with ``level``), ``level`` (None without) and
            ``pre_mspe_optimal``. With ``level`` the frame also has the column
            ``pre_mspe_bound`` and ``attrs`` hold ``att_pre_mspe_bound`` and
            ``n_placebos``.

        Raises
        ------
        SpecError
            For ``method="augmented"`` or ``"sdid"`` (their weights are not simplex
            weights fitted to the pre-period outcome), a negative tolerance, a level
            outside (0, 1), or both ``tolerance`` and ``level``.
        """
        from impact.synth.sensitivity import (
            calibrated_near_optimal_range,
            near_optimal_range,
        )

        if level is not None:
            if tolerance is not None:
                raise SpecError(
                    "near_optimal takes either 'tolerance' (a fixed slack) or "
                    "'level' (a slack calibrated by donor placebos), not both."
                )
            if not (isinstance(level, (int, float)) and 0 < level < 1):
                raise SpecError(
                    "The 'level' parameter of near_optimal must be a number in "
                    f"(0, 1), e.g. 0.95. Got {level!r} instead."
                )
        elif tolerance is None:
            tolerance = 0.1
        if tolerance is not None and not (
            isinstance(tolerance, (int, float)) and tolerance >= 0
        ):
            raise SpecError(
                "The 'tolerance' parameter of near_optimal must be a non-negative "
                f"number. Got {tolerance!r} instead."
            )
        if self.method in ("augmented", "sdid"):
            raise SpecError(
                f"near_optimal is for simplex weights; method={self.method!r} has "
                "other weights. Use method='abadie' or 'penalized'."
            )
        f = self._fit_of(unit)
        key = (f.unit, tolerance, level)
        if key in self._near_optimal:
            return self._near_optimal[key].copy()
        rows = np.array([self._design.index_of(d) for d in f.donors])
        Y = self._design.outcome_matrix(f.treatment_time)
        y1, Y0 = Y[self._design.index_of(f.unit)], Y[rows].T
        args = (y1[f.pre], Y0[f.pre], y1[f.post], Y0[f.post])
        out = pd.DataFrame({"time": self._design.periods[f.post], "gap": f.gap[f.post]})
        if level is None:
            low, high, att, best = near_optimal_range(*args, float(tolerance))  # type: ignore[arg-type]
            out["low"], out["high"] = low, high
            out.attrs.update(tolerance=float(tolerance), level=None)  # type: ignore[arg-type]
        else:
            cal = calibrated_near_optimal_range(*args, float(level))
            att, best = cal["att"], cal["pre_mspe_optimal"]
            out["low"], out["high"] = cal["low"], cal["high"]
            out["pre_mspe_bound"] = cal["pre_mspe_bound"][:-1]
            out.attrs.update(
                tolerance=None,
                level=float(level),
                att_pre_mspe_bound=float(cal["pre_mspe_bound"][-1]),
                n_placebos=int(cal["n_placebos"]),
            )
        out.attrs.update(att_low=att[0], att_high=att[1], pre_mspe_optimal=best)
        self._near_optimal[key] = out
        return out.copy()

    def leave_one_out(self, unit: Any = None) -> pd.DataFrame:
        """Synthetic paths refitted without each donor that has positive weight.

        Parameters
        ----------
        unit : label, optional
            Treated unit (default: the first).

        Returns
        -------
        DataFrame
            Index periods; one column per dropped donor.
        """
        from impact.synth.placebo import leave_one_out

        f = self._fit_of(unit)
        donors = np.array([self._design.index_of(d) for d in f.donors])
        return leave_one_out(
            self._design,
            f,
            donors,
            seed=self._config.get("seed"),
            n_jobs=self._config.get("n_jobs", 1),
            backend=self._config.get("backend"),
        )

    def placebo_in_time(self, time: Any) -> SynthResult:
        """Refit as if treatment had started at ``time`` (before the real date).

        Only periods before the real treatment date are used, so a credible design
        shows no gap after the placebo date.

        Parameters
        ----------
        time : period
            The placebo treatment date.

        Returns
        -------
        SynthResult
            The placebo fit (no placebo-in-space inference).
        """
        from impact.synth.placebo import placebo_in_time_fits

        if self.method == "sdid" and "cohorts" not in self.extra:
            return self._sdid_placebo_in_time(time)
        sub, fits = placebo_in_time_fits(self, time)
        return SynthResult(
            fits=fits,
            design=sub,
            donors=self._donors,
            method=sub.method,
            config=self._config,
            estimator=f"synth placebo-in-time ({time})",
            estimate=float(np.mean([f.att for f in fits])),
            se=float("nan"),
            ci=(float("nan"), float("nan")),
            pvalue=float("nan"),
            n_treated=len(fits),
            n_control=int(self._donors.size),
            alpha=self.alpha,
            warnings=[f"Placebo in time: treatment moved to {time!r}; no inference."],
            title=f"Synthetic control placebo in time ({time})",
        )

    def _sdid_placebo_in_time(self, when: Any) -> SynthResult:
        """Synthetic DiD refitted on the periods before the real date, adopting at
        ``when`` (the generic path would refit Abadie weights)."""
        from impact.synth.penalized import truncated_design
        from impact.synth.sdid_fit import sdid_fit

        design = self._design
        first = self.fits[0].treatment_time
        if not when < first:
            raise SpecError(
                f"The placebo date {when!r} must be before the real treatment date "
                f"{first!r}."
            )
        if int(np.sum(design.periods < when)) < 2:
            raise DataError(
                f"Fewer than 2 periods before the placebo date {when!r}; synthetic "
                "DiD needs at least 2. Choose a later date."
            )
        rows_t = np.setdiff1d(np.arange(design.units.size), self._donors)
        if rows_t.size != self.n_treated:
            raise SpecError(
                "placebo_in_time cannot tell the treated units of this synthetic DiD "
                "fit from the other units outside the donor pool; refit with the "
                "treatment date moved back instead."
            )
        treated = [design.units[i] for i in rows_t]
        sub = truncated_design(design, first, when)
        cfg = dict(self._config, inference=None)
        res = SynthResult(
            **sdid_fit(
                sub, treated, rows_t, self._donors, dict.fromkeys(treated, when), cfg
            )
        )
        res.estimator = f"synth (sdid) placebo-in-time ({when})"
        res.title = f"Synthetic DiD placebo in time ({when})"
        res.warnings = [
            f"Placebo in time: treatment moved to {when!r}; synthetic DiD refitted "
            "on the periods before the real date; no inference."
        ]
        return res

    def _fit_of(self, unit: Any) -> UnitFit:
        if unit is None:
            return self.fits[0]
        for f in self.fits:
            if f.unit == unit:
                return f
        raise SpecError(
            f"Unit {unit!r} is not a treated unit of this fit; treated units are "
            f"{self.treated_units}."
        )

    # ------------------------------------------------------------------ output
    def _summary_lines(self) -> list[str]:
        lines = [
            f"Method: {self.method}    Pre-period RMSPE: {self.pre_rmspe:.4f}    "
            f"Post-period RMSPE: {self.post_rmspe:.4f}"
        ]
        if "penalty" in self.extra:
            how = "cross-validated" if "penalty_cv" in self.extra else "given"
            lines.append(f"Abadie-L'Hour penalty: {self.extra['penalty']:.4g} ({how})")
        if self._design.demean:
            lines.append(
                "De-meaned: each unit's pre-period mean removed before fitting"
            )
        if self.placebo_pvalue is not None:
            n = len(self._placebo.table) if self._placebo is not None else 0
            stat = (
                "post/pre MSPE ratio rank"
                if len(self.fits) == 1
                else "pooled |mean ATT| vs placebo sets"
            )
            lines.append(
                f"Placebo-in-space p-value ({stat}, {n} units): "
                f"{self.placebo_pvalue:.4f}"
            )
        if self.intervals is not None:
            a = self.intervals.attrs
            if a.get("e_method") == "placebo":
                lines.append(
                    "Prediction intervals (donor placebos, split conformal), coverage "
                    f"{1 - self.alpha:.0%} per period if the treated unit is "
                    "exchangeable with the donors:"
                )
            else:
                lines.append(
                    f"Prediction intervals (Cattaneo-Feng-Titiunik, e_method="
                    f"{a.get('e_method')!r}, {a.get('sims')} draws), coverage at "
                    f"least {1 - self.alpha:.0%} per period under the model:"
                )
            lines.append(
                self.intervals[["time", "gap", "low", "high"]].to_string(
                    index=False, float_format=lambda x: f"{x:.4g}"
                )
            )
        lines.extend(self._near_optimal_lines())
        if isinstance(self.weights, pd.Series):
            w = self.weights[self.weights.abs() > 5e-4].sort_values(ascending=False)
            lines.append("Donor weights (> 0.0005):")
            lines.extend(f"  {k!s:<28}{v:>10.4f}" for k, v in w.items())
        else:
            lines.append("ATT by treated unit:")
            lines.extend(f"  {k!s:<28}{v:>10.4f}" for k, v in self.att_by_unit.items())
        if len(self.balance) and len(self.fits) == 1:
            lines.append("Predictor balance:")
            lines.append(self.balance.to_string(float_format=lambda x: f"{x:.4g}"))
        return lines

    def _near_optimal_lines(self, tolerance: float = 0.1) -> list[str]:
        """A line when weights fitting almost as well give a very different ATT."""
        if len(self.fits) != 1 or self.method not in ("abadie", "penalized"):
            return []
        try:
            no = self.near_optimal(tolerance)
        except ImpactError:
            return []
        lo, hi = no.attrs["att_low"], no.attrs["att_high"]
        if not (lo <= 0 <= hi or hi - lo > abs(self.estimate)):
            return []
        return [
            f"Near-optimal range: weights whose pre-period MSPE is within "
            f"{tolerance:.0%} of the best give average effects from {lo:.4g} to "
            f"{hi:.4g}; the estimate depends on which of them is chosen "
            "(result.near_optimal())."
        ]

    def _frame(self) -> pd.DataFrame:
        base = super()._frame()
        base["pre_rmspe"] = self.pre_rmspe
        base["post_rmspe"] = self.post_rmspe
        base["placebo_pvalue"] = self.placebo_pvalue
        return base

    def _extra_dict(self) -> dict[str, Any]:
        if isinstance(self.weights, pd.Series):
            weights: Any = self.weights.to_dict()
        else:
            weights = {c: self.weights[c].to_dict() for c in self.weights.columns}
        out: dict[str, Any] = {
            "method": self.method,
            "weights": weights,
            "pre_rmspe": self.pre_rmspe,
            "post_rmspe": self.post_rmspe,
            "placebo_pvalue": self.placebo_pvalue,
            "treated_units": self.treated_units,
            "treatment_time": self.treatment_time,
            "att_by_unit": self.att_by_unit.to_dict(),
            "gaps": {str(c): self.gaps[c].to_dict() for c in self.gaps.columns},
        }
        if self.v is not None:
            out["v"] = (
                self.v.to_dict()
                if isinstance(self.v, pd.Series)
                else {c: self.v[c].to_dict() for c in self.v.columns}
            )
        if len(self.balance):
            out["balance"] = self.balance.reset_index()
        out.update({k: v for k, v in self.extra.items() if k != "prediction"})
        if self.intervals is not None:
            out["intervals"] = self.intervals
        return out

    def _plot(self, ax: Axes, kind: str | None, **kwargs: Any) -> Axes:
        from impact.synth import plots

        kind = kind or "trajectory"
        if kind not in _KINDS:
            raise SpecError(
                f"The 'kind' parameter of SynthResult.plot must be one of "
                f"{set(_KINDS)}. Got {kind!r} instead."
            )
        if kind == "trajectory":
            return plots.trajectory_plot(self, ax=ax, **kwargs)
        if kind == "gap":
            return plots.gap_plot(self, ax=ax, **kwargs)
        if kind == "placebo":
            kwargs.setdefault("outcome", self._design.outcome)
            return plots.placebo_plot(self.placebo(), ax=ax, **kwargs)
        if kind == "loo":
            return plots.loo_plot(self, ax=ax, **kwargs)
        kwargs.pop("units", None)
        return plots.weights_plot(self, ax=ax, **kwargs)
