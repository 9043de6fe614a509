"""Power of the pre-trends test against linear violations of parallel trends (Roth 2022).

Roth (2022, AER: Insights 4(3), "Pretest with caution") asks how likely the usual
pre-test (reject parallel trends if any pre-period event-study coefficient is
individually significant) is to detect a violation that would matter. For event-study
coefficients ``beta`` with covariance ``Sigma`` relative to the reference period ``-1``,
a linear violation of slope ``s`` shifts the pre-period coefficients to
``delta_e = s * (e + 1)`` (``s * (e - ref)`` for another reference period); the pre-test passes when every ``|beta_e| <= c * se_e``, so

    power(s) = 1 - P(|Z_e| <= c se_e for all pre e),  Z ~ N(delta_pre(s), Sigma_pre),

a rectangle probability of a multivariate normal (Genz's algorithm in
:func:`scipy.stats.multivariate_normal.cdf`, with a fixed seed so results repeat).
The slope the test detects with a given power solves ``power(s) = target``. Also
reported, for a hypothesised slope: the Bayes factor ``P(pass | s) / P(pass | 0)``
and the likelihood ratio of the observed pre-period coefficients under the slope
versus under parallel trends (as the R ``pretrends`` package).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special, stats

from impact.errors import EstimationError, SpecError
from impact.results import jsonable

__all__ = ["PretrendPower", "pretest_power", "pretrend_power", "slope_for_power"]

FloatArray = NDArray[np.float64]
_SEED = 20220701


def pretest_power(
    delta_pre: FloatArray,
    sigma_pre: FloatArray,
    crit: float = 1.959963984540054,
    abseps: float = 1e-4,
) -> float:
    """Probability that some pre-period coefficient is significant.

    Parameters
    ----------
    delta_pre : ndarray (k,)
        True means of the pre-period coefficients.
    sigma_pre : ndarray (k, k)
        Their covariance.
    crit : float
        Critical value of each individual t-test.
    abseps : float
        Absolute error tolerance of the multivariate normal probability.

    Returns
    -------
    float
        ``1 - P(|beta_e| <= crit * se_e for all e)``.
    """
    mu = np.asarray(delta_pre, dtype=float)
    S = np.atleast_2d(np.asarray(sigma_pre, dtype=float))
    se = np.sqrt(np.diag(S))
    ub = crit * se
    if len(mu) == 1:
        z = stats.norm(mu[0], se[0])
        return float(1.0 - (z.cdf(ub[0]) - z.cdf(-ub[0])))
    inside = stats.multivariate_normal.cdf(
        ub,
        mean=mu,
        cov=S,
        allow_singular=True,
        abseps=abseps,
        releps=0.0,
        lower_limit=-ub,
        rng=np.random.default_rng(_SEED),
    )
    return float(np.clip(1.0 - inside, 0.0, 1.0))


def slope_for_power(
    sigma_pre: FloatArray,
    e_pre: FloatArray,
    target: float,
    crit: float = 1.959963984540054,
    abseps: float = 1e-4,
) -> float:
    """Slope ``s > 0`` of the linear violation ``s * (e + 1)`` detected with power
    ``target`` (0 when the test's size already exceeds it)."""
    steps = np.asarray(e_pre, dtype=float) + 1.0

    def gap(s: float) -> float:
        return pretest_power(s * steps, sigma_pre, crit, abseps) - target

    if gap(0.0) >= 0:
        return 0.0
    se = np.sqrt(np.diag(np.atleast_2d(sigma_pre)))
    hi = float(np.max(se / np.maximum(np.abs(steps), 1e-12)))
    for _ in range(60):
        if gap(hi) > 0:
            break
        hi *= 2.0
    else:  # pragma: no cover - power never reaches the target
        raise EstimationError("The pre-test's power never reaches the target.")
    lo = hi / 2 if gap(hi / 2) < 0 else 0.0
    return float(optimize.brentq(gap, lo, hi, xtol=1e-6 * hi, rtol=1e-6))


@dataclass(frozen=True)
class PretrendPower:
    """Roth (2022) power analysis of the pre-trends test.

    Attributes
    ----------
    slope_50, slope_80 : float
        Slope (outcome units per period, relative to the reference period -1) of the
        linear violation the pre-test detects with 50% / 80% power.
    slope : float or None
        Hypothesised slope (when given).
    power : float or None
        Power of the pre-test against ``slope``.
    bayes_factor : float or None
        ``P(pass | slope) / P(pass | parallel trends)``.
    likelihood_ratio : float or None
        Likelihood of the observed pre-period coefficients under ``slope`` relative
        to parallel trends.
    size : float
        Rejection probability of the pre-test under parallel trends.
    event_times : list of int
        Pre-period event times tested.
    warnings : list of str
        Caveats.
    """

    slope_50: float
    slope_80: float
    slope: float | None
    power: float | None
    bayes_factor: float | None
    likelihood_ratio: float | None
    size: float
    event_times: list[int]
    alpha: float = 0.05
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every attribute."""
        out = jsonable(
            {
                "slope_50": self.slope_50,
                "slope_80": self.slope_80,
                "slope": self.slope,
                "power": self.power,
                "bayes_factor": self.bayes_factor,
                "likelihood_ratio": self.likelihood_ratio,
                "size": self.size,
                "event_times": list(self.event_times),
                "alpha": self.alpha,
                "warnings": list(self.warnings),
            }
        )
        assert isinstance(out, dict)
        return out

    def line(self) -> str:
        """One plain-language line for summaries."""
        return (
            f"Pre-trend power (Roth 2022): the pre-test (any of {len(self.event_times)} "
            f"pre-period coefficients significant at {self.alpha:g}) detects a linear "
            f"trend of {self.slope_50:.4g} per period half the time and "
            f"{self.slope_80:.4g} with 80% power; smaller violations usually pass "
            "unnoticed."
        )

    def __str__(self) -> str:
        lines = [self.line()]
        if self.slope is not None:
            lines.append(
                f"Against a slope of {self.slope:g}: power {self.power:.4f}, Bayes "
                f"factor {self.bayes_factor:.4f}, likelihood ratio "
                f"{self.likelihood_ratio:.4f}."
            )
        lines += [f"  ! {w}" for w in self.warnings]
        return "\n".join(lines)


def pretrend_power(
    e: FloatArray,
    beta: FloatArray,
    sigma: FloatArray,
    *,
    slope: float | None = None,
    alpha: float = 0.05,
    n_treated: int | None = None,
    abseps: float = 1e-4,
    ref: int = -1,
) -> PretrendPower:
    """Roth (2022) power of the pre-test from event-study coefficients.

    Parameters
    ----------
    e : ndarray (K,)
        Event times (reference period -1 excluded).
    beta : ndarray (K,)
        Coefficients.
    sigma : ndarray (K, K)
        Their covariance.
    slope : float, optional
        Hypothesised slope for the power, Bayes factor and likelihood ratio.
    alpha : float
        Level of each individual pre-period test.
    n_treated : int, optional
        Treated units (for the few-treated caveat).
    abseps : float
        Absolute error of each multivariate normal probability (Genz).
    ref : int, default -1
        Reference (omitted) event time: the violation is ``slope * (e - ref)``.

    Returns
    -------
    PretrendPower
        Slopes detected with 50% and 80% power, and the figures for ``slope``.
    """
    e = np.asarray(e, dtype=float)
    pre = (e < 0) & (e != ref)
    if not pre.any():
        raise SpecError(
            "pretrend_power() needs pre-period event-study coefficients besides the "
            "reference period; this result has none. Add earlier periods to the panel."
        )
    S = np.asarray(sigma, dtype=float)[np.ix_(pre, pre)]
    if not (np.isfinite(S).all() and (np.diag(S) > 0).all()):
        raise EstimationError(
            "The pre-period coefficients have no usable variance; pretrend_power() "
            "needs their covariance."
        )
    crit = float(special.ndtri(1 - alpha / 2))
    b = np.asarray(beta, dtype=float)[pre]
    size = pretest_power(np.zeros(len(b)), S, crit, abseps)
    warns: list[str] = []
    if n_treated is not None and n_treated < 20:
        warns.append(
            f"With {n_treated} treated units the analytic covariance of the pre-period "
            "coefficients is itself noisy; read these power figures as approximate."
        )
    if size >= 0.5:
        warns.append(
            f"With {int(pre.sum())} pre-period tests the pre-test rejects {size:.0%} "
            "of the time even under parallel trends."
        )
    steps = e[pre] - ref
    s50 = slope_for_power(S, steps - 1, 0.5, crit, abseps)
    s80 = slope_for_power(S, steps - 1, 0.8, crit, abseps)
    power = bf = lr = None
    if slope is not None:
        delta = float(slope) * steps
        power = pretest_power(delta, S, crit, abseps)
        bf = (1.0 - power) / (1.0 - size)
        lr = float(
            np.exp(
                stats.multivariate_normal.logpdf(b, mean=delta, cov=S)
                - stats.multivariate_normal.logpdf(b, mean=np.zeros(len(b)), cov=S)
            )
        )
    return PretrendPower(
        s50,
        s80,
        None if slope is None else float(slope),
        power,
        bf,
        lr,
        size,
        [int(v) for v in e[pre]],
        alpha,
        warns,
    )
