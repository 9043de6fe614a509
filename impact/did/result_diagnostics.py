"""Diagnostics of DiD results: pre-trend tests, pre-trend power, honest sensitivity
and placebo in time (the diagnostic half of ``DiDResult``)."""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from scipy import stats

from impact._validation import check_alpha, check_option
from impact.did.result_aggregate import FloatArray, _AggregatingResult
from impact.errors import EstimationError, ImpactWarning, SpecError
from impact.results import jsonable

if TYPE_CHECKING:
    from impact.did.pretrend_power import PretrendPower
    from impact.did.results import DiDResult

__all__ = ["PretrendTest"]


@dataclass(frozen=True)
class PretrendTest:
    """Joint Wald test that every pre-treatment effect is zero.

    Attributes
    ----------
    statistic : float
        Wald chi-square statistic.
    df : int
        Degrees of freedom (number of pre-treatment estimates tested).
    pvalue : float
        Upper-tail chi-square p-value.
    method : str
        What was tested.
    """

    statistic: float
    df: int
    pvalue: float
    method: str = "Wald test of all pre-treatment ATT(g,t) = 0"
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict.

        Returns
        -------
        dict
            ``statistic, df, pvalue, method``.
        """
        out = jsonable(
            {
                "statistic": self.statistic,
                "df": self.df,
                "pvalue": self.pvalue,
                "method": self.method,
                "warnings": list(self.warnings),
            }
        )
        assert isinstance(out, dict)
        return out

    def __str__(self) -> str:
        text = (
            f"{self.method}: chi2({self.df}) = {self.statistic:.4f}, "
            f"p = {self.pvalue:.5f}"
        )
        return "\n".join([text, *(f"  ! {w}" for w in self.warnings)])


def _require_finite(*arrays: Any) -> None:
    """Refuse non-finite input to LAPACK (which can spin on infinities instead of failing)."""
    if not all(np.isfinite(np.asarray(a, dtype=float)).all() for a in arrays):
        raise EstimationError(
            "The pre-period coefficients or their covariance are not finite (the "
            "outcome's scale overflowed, or a cell has no variation); the pre-trend test "
            "cannot be computed. Rescale the outcome or drop the degenerate cohort."
        )


class _DiagnosedResult(_AggregatingResult):
    """Pre-trend, sensitivity and placebo diagnostics (base of ``DiDResult``)."""

    # ------------------------------------------------------------ diagnostics
    def pretrend_test(
        self,
        kind: str = "att_gt",
        *,
        inference: str | None = None,
        n_perm: int = 199,
        seed: Any = None,
    ) -> PretrendTest:
        """Joint Wald test of the pre-treatment effects (parallel pre-trends).

        Parameters
        ----------
        kind : {"att_gt", "event_time"}, default "att_gt"
            For ``"cs"``: ``"att_gt"`` tests every pre-treatment ATT(g,t), as R
            ``did`` prints; ``"event_time"`` tests the pre-treatment coefficients of
            the dynamic (event-study) aggregation, far fewer and better conditioned
            when cohorts are small. For ``"event_study"`` and ``"sunab"`` the
            pre-treatment coefficients are tested either way.
        inference : {None, "analytic", "permutation"}, default None
            None follows the headline: ``"permutation"`` when the result's own
            inference is randomization or the wild bootstrap (few treated or few
            clusters, the ``inference="auto"`` rule), else ``"analytic"``.
            ``"analytic"`` compares the statistic with a chi-square, which
            over-rejects badly when treated units are few (the covariance of the
            pre-period estimates is then estimated from those few units); the test
            then says so in its warnings. ``"permutation"`` recomputes the same
            statistic with the cohorts randomly re-assigned across units (same
            cohort sizes) and takes the p-value from the rank of the observed one:
            exact under random assignment, whatever the number of treated units.
        n_perm : int, default 199
            Re-assignments for ``inference="permutation"`` (all of them when there
            are no more than this).
        seed : int or numpy Generator, optional
            Seed of the re-assignments (default: the seed the result was fitted
            with).

        Returns
        -------
        PretrendTest
            ``statistic``, ``df``, ``pvalue`` and ``warnings``.
        """
        check_option(
            "inference",
            inference,
            [None, "analytic", "permutation"],
            "pretrend_test",
        )
        if inference is None:
            headline = str(self.inference)
            inference = (
                "permutation"
                if headline.startswith(("permutation", "wild"))
                else "analytic"
            )
        if seed is None:
            seed = self._call.get("seed")
        key = (kind, inference, n_perm, seed if isinstance(seed, int) else None)
        cache = self.__dict__.setdefault("_pretest_cache", {})
        if key[3] is not None and key in cache:
            return cache[key]
        observed = self._pretest(kind)
        if inference == "analytic":
            out = self._analytic_pretest_caveat(observed)
        else:
            out = self._permutation_pretest(kind, observed, n_perm, seed)
        if key[3] is not None:
            cache[key] = out
        return out

    def _analytic_pretest_caveat(self, observed: PretrendTest) -> PretrendTest:
        """Add the few-treated warning to an analytic pre-test when it applies."""
        panel = self._panel
        if panel is None:
            return observed
        from impact.inference import few_treated_rule

        ever = np.isfinite(panel.cohort)
        n_cl = len(np.unique(panel.clusters))
        n_tr = len(np.unique(panel.clusters[ever]))
        if not 0 < n_tr < n_cl:
            return observed
        rule, _ = few_treated_rule(n_tr, n_cl)
        if rule == "analytic":
            return observed
        note = (
            f"{n_tr} treated cluster(s): the chi-square p-value of this Wald test "
            "over-rejects badly with few treated units (the covariance of the "
            "pre-period estimates comes from those few units); use "
            "pretrend_test(inference='permutation')."
        )
        return PretrendTest(
            observed.statistic,
            observed.df,
            observed.pvalue,
            observed.method,
            warnings=[*observed.warnings, note],
        )

    def _permutation_pretest(
        self, kind: str, observed: PretrendTest, n_perm: int, seed: Any
    ) -> PretrendTest:
        from impact._validation import check_draws
        from impact.did.pretest import permutation_pretest

        n_perm = check_draws("n_perm", n_perm, "pretrend_test")
        if self.method == "dcdh":
            raise SpecError(
                "pretrend_test(inference='permutation') re-assigns adoption dates; "
                "for method='dcdh' use the analytic test of the placebo effects."
            )
        if self._panel is None:
            raise SpecError("This result does not keep its data; refit to permute.")
        pvalue, n_used, exact, notes = permutation_pretest(
            cast("DiDResult", self),
            kind,
            observed.statistic,
            n_perm=n_perm,
            seed=seed,
            alpha=self.alpha,
            refit=self._refit,
        )
        how = "all" if exact else "random"
        return PretrendTest(
            observed.statistic,
            observed.df,
            pvalue,
            f"{observed.method}, permutation p-value ({n_used} {how} "
            "re-assignments of the cohorts)",
            warnings=[w for w in observed.warnings if "over-rejects" not in w] + notes,
        )

    def _pretest(self, kind: str, notes: bool = True) -> PretrendTest:
        check_option("kind", kind, ["att_gt", "event_time"], "pretrend_test")
        if self._cs is not None and kind == "event_time":
            e, b, V = self._event_coefficients()
            pre = e < 0
            if not pre.any():
                raise SpecError(
                    "No pre-treatment event time to test (kind='event_time'): no "
                    "cohort is observed before its base period. Add earlier periods."
                )
            Vp = V[np.ix_(pre, pre)]
            _require_finite(b[pre], Vp)
            sol, *_ = np.linalg.lstsq(Vp, b[pre], rcond=None)
            df = int(np.linalg.matrix_rank(Vp))
            stat = float(b[pre] @ sol)
            return PretrendTest(
                stat,
                df,
                float(stats.chi2.sf(stat, df)),
                "Wald test of all pre-treatment event-time effects = 0",
            )
        if self._cs is not None:
            from impact.did.aggregate import pretest_wald
            from impact.did.cs import _cluster_sum

            st = self._cs
            summed = _cluster_sum(st["fit"].inf, st["codes"])
            stat, df, p = pretest_wald(st["fit"], summed, st["n"])
            if df == 0:
                raise SpecError(
                    "No pre-treatment ATT(g,t) to test: every cohort has only its base "
                    "period before adoption. Add earlier periods to the panel."
                )
            thin = self._pretest_warnings() if notes else []
            return PretrendTest(stat, df, p, warnings=thin)
        if self._lin is not None:
            lin = self._lin
            pre = lin.e < 0
            if not pre.any():
                raise SpecError(
                    f"No pre-treatment coefficient to test: method={self.method!r} has "
                    "no event time before adoption besides the reference period. Add "
                    "earlier periods to the panel."
                )
            b = lin.theta[pre]
            V = lin.vcov[np.ix_(pre, pre)]
            _require_finite(b, V)
            sol, *_ = np.linalg.lstsq(V, b, rcond=None)
            df = int(np.linalg.matrix_rank(V))
            stat = float(b @ sol)
            return PretrendTest(
                stat,
                df,
                float(stats.chi2.sf(stat, df)),
                "Wald test of all pre-treatment coefficients = 0",
            )
        raise SpecError(
            f"pretrend_test() needs pre-treatment estimates; method={self.method!r} has "
            "none. Use method='cs', 'event_study' or 'sunab'."
        )

    def _pretest_warnings(self) -> list[str]:
        """Warn when a cohort has no more units than pre-period ATT(g,t) to test."""
        tab = self.att_gt
        pre = tab[tab["time"] < tab["group"]]
        if len(pre) == 0 or "n_treated" not in pre.columns:
            return []
        per_group = pre.groupby("group").agg(
            k=("att", "size"), n=("n_treated", "first")
        )
        thin = per_group[per_group["k"] >= per_group["n"]]
        if len(thin) == 0:
            return []
        shown = ", ".join(
            f"{g:g} ({n:.0f} units, {k:.0f} pre-period estimates)"
            for g, n, k in zip(
                thin.index.to_numpy(dtype=float),
                thin["n"].to_numpy(dtype=float),
                thin["k"].to_numpy(dtype=float),
            )
        )
        return [
            f"Cohort(s) {shown} have no more units than pre-period ATT(g,t): their "
            "covariance is nearly singular and this joint Wald test over-rejects. Use "
            "pretrend_test(kind='event_time') or placebo_in_time() instead."
        ]

    def _event_coefficients(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Event times, coefficients and covariance (reference period excluded)."""
        if self._cs is not None:
            from impact.did.aggregate import aggregate_cs
            from impact.did.cs import _cluster_sum

            st = self._cs
            agg = aggregate_cs(
                st["fit"], st["cohort_idx"], st["unit_weights"], "dynamic"
            )
            summed = _cluster_sum(agg.inf, st["codes"])
            V = summed.T @ summed / st["n"] ** 2
            keep = np.diag(V) > 1e-20
            return agg.key[keep], agg.est[keep], V[np.ix_(keep, keep)]
        if self._lin is not None:
            lin = self._lin
            res = self.aggregate("dynamic")
            tab = res.to_frame()
            e = tab["event_time"].to_numpy(dtype=float)
            L = []
            for ev in e:
                sel = lin.e == ev
                row = np.zeros(len(lin.theta))
                row[sel] = lin.size[sel] / lin.size[sel].sum()
                L.append(row)
            Lm = np.array(L)
            return e, Lm @ lin.theta, Lm @ lin.vcov @ Lm.T
        raise SpecError(
            f"method={self.method!r} has no event-study coefficients; use "
            "method='event_study', 'cs' or 'sunab'."
        )

    def pretrend_power(
        self, slope: float | None = None, *, alpha: float = 0.05, _abseps: float = 1e-4
    ) -> PretrendPower:
        """Roth (2022) power of the pre-trends test against linear violations.

        The usual pre-test rejects parallel trends when any pre-period event-study
        coefficient is individually significant at ``alpha``. This gives the slope of
        a linear violation (``slope * (e + 1)`` at event time ``e``, zero at the
        reference period -1) that the test detects with 50% and 80% power: trends
        smaller than these usually pass unnoticed and can still bias the
        post-period estimates. With ``slope``, also the power against it, the Bayes
        factor and the likelihood ratio of the observed pre-period coefficients (as
        the R ``pretrends`` package).

        Parameters
        ----------
        slope : float, optional
            Hypothesised slope, in outcome units per period.
        alpha : float, default 0.05
            Level of each individual pre-period test.

        Returns
        -------
        PretrendPower
            ``slope_50``, ``slope_80``, ``size`` and, with ``slope``, ``power``,
            ``bayes_factor``, ``likelihood_ratio``; ``str()`` explains them.
        """
        from impact.did.pretrend_power import pretrend_power

        alpha = check_alpha(alpha, "DiDResult.pretrend_power")
        ref = -1
        if self._lin is not None:
            if not self._lin.refs:
                raise SpecError(
                    f"method={self.method!r} reports pre-period placebo estimates that "
                    "are not relative to a reference period, so Roth's linear-trend "
                    "power analysis does not apply; use method='event_study', "
                    "'sunab', 'stacked' or 'etwfe' with control='never'."
                )
            ref = int(max(self._lin.refs))
        e, beta, sigma = self._event_coefficients()
        out = pretrend_power(
            e,
            beta,
            sigma,
            slope=slope,
            alpha=alpha,
            n_treated=self.n_treated,
            abseps=_abseps,
            ref=ref,
        )
        if self._cs is not None and self.options.get("base_period") == "varying":
            out.warnings.append(
                "base_period='varying': the pre-period estimates are period-to-period "
                "changes, not effects relative to -1; refit with "
                "base_period='universal' for this analysis."
            )
        return out

    def sensitivity(
        self,
        method: str = "smoothness",
        *,
        M: Any = None,
        Mbar: Any = None,
        l_vec: Any = None,
        alpha: float = 0.05,
        covariance: str | None = None,
        n_perm: int = 999,
        seed: Any = None,
    ) -> Any:
        """Rambachan-Roth honest confidence sets for violations of parallel trends.

        Parameters
        ----------
        method : {"smoothness", "relative_magnitude"}
            Restriction on the post-treatment trend violation.
        M, Mbar : float or sequence of float, optional
            Grids of the restriction's size (defaults chosen by the sensitivity code).
        l_vec : array-like, optional
            Weights on the post-treatment coefficients (default: the first one).
        alpha : float, default 0.05
            One minus the coverage.
        covariance : {None, "analytic", "permutation"}, default None
            Covariance of the event-study coefficients. None follows the headline:
            ``"permutation"`` when the result's inference is randomization or the
            wild bootstrap (few treated units or clusters), else ``"analytic"``.
            ``"analytic"`` uses the estimator's own covariance, which with few
            treated units is estimated from those few units and far too small
            (the ``M = 0`` interval then excludes zero in most no-effect designs);
            the result warns. ``"permutation"`` uses the covariance of the
            coefficients over ``n_perm`` re-assignments of the cohorts, with the
            estimated post-treatment effects removed from the treated cells: the
            design-based covariance under random adoption.
        n_perm : int, default 999
            Re-assignments for ``covariance="permutation"`` (fewer make the
            covariance noisy and the intervals a little too narrow: with 4 treated
            units the M = 0 interval excluded zero in 12% of no-effect designs with
            49, 7.5% with 99 and 5.8% with 999).
        seed : int or numpy Generator, optional
            Seed of the re-assignments (default: the seed the result was fitted
            with).

        Returns
        -------
        SensitivityResult
            ``.table``, ``.breakdown``, ``.warnings`` and ``.plot()``.
        """
        from impact._validation import check_draws

        check_option(
            "method",
            method,
            ["smoothness", "relative_magnitude"],
            "DiDResult.sensitivity",
        )
        check_option(
            "covariance",
            covariance,
            [None, "analytic", "permutation"],
            "DiDResult.sensitivity",
        )
        alpha = check_alpha(alpha, "DiDResult.sensitivity")
        n_perm = check_draws("n_perm", n_perm, "DiDResult.sensitivity")
        e, beta, sigma = self._event_coefficients()
        if covariance is None:
            covariance = (
                "permutation"
                if str(self.inference).startswith(("permutation", "wild"))
                else "analytic"
            )
        notes: list[str] = []
        if covariance == "permutation":
            from impact.did._event_draws import event_covariance

            if self._panel is None:
                raise SpecError(
                    "This result does not keep its data; refit to permute, or pass "
                    "covariance='analytic'."
                )
            sigma, n_used = event_covariance(
                cast("DiDResult", self),
                e,
                beta,
                n_perm=n_perm,
                seed=self._call.get("seed") if seed is None else seed,
                refit=self._refit,
            )
            notes.append(
                "Covariance of the event-study coefficients from their spread over "
                f"{n_used} random re-assignments of the cohorts (estimated effects "
                "removed): valid under random adoption whatever the number of "
                "treated units."
            )
        else:
            caveat = self._analytic_pretest_caveat(PretrendTest(0.0, 0, 1.0))
            if caveat.warnings:
                notes.append(
                    caveat.warnings[-1].split(":")[0]
                    + ": the analytic covariance of the event-study coefficients "
                    "comes from those few units and is far too small, so these "
                    "intervals are too narrow (with 4 treated units the M = 0 "
                    "interval excludes zero in most no-effect designs); use "
                    "sensitivity(covariance='permutation')."
                )
        if self._cs is not None and self.options.get("base_period") == "varying":
            _warnings.warn(
                "sensitivity() on a Callaway-Sant'Anna event study with "
                "base_period='varying': the pre-period estimates are not relative to "
                "one reference period; refit with base_period='universal'.",
                ImpactWarning,
                stacklevel=2,
            )
        num_pre = int((e < 0).sum())
        num_post = int((e >= 0).sum())
        if num_pre < 1 or num_post < 1:
            raise SpecError(
                "sensitivity() needs at least one pre-treatment and one post-treatment "
                f"event-study coefficient; got {num_pre} and {num_post}."
            )
        from impact.did.honest import honest_sensitivity

        out = honest_sensitivity(
            beta,
            sigma,
            num_pre=num_pre,
            num_post=num_post,
            method=method,
            M=M,
            Mbar=Mbar,
            l_vec=l_vec,
            alpha=alpha,
        )
        if notes:
            out.warnings.extend(notes)
        return out

    def placebo_in_time(self, k: int = 1) -> DiDResult:
        """Re-estimate on pre-treatment data only, pretending adoption ``k`` periods early.

        Parameters
        ----------
        k : int, default 1
            How many periods earlier the fake adoption is.

        Returns
        -------
        DiDResult
            The placebo estimate (should be near zero under parallel trends).
        """
        from impact.did.placebo import placebo_fit

        if self._panel is None or self._refit is None:
            raise SpecError(
                "This result does not keep its data; refit to run a placebo."
            )
        return placebo_fit(cast("DiDResult", self), k, self._refit)
