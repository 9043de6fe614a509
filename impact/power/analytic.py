"""Analytic power, sample size and minimum detectable effect (MDE) formulas.

Formulas follow ``../shared/research/matching_power.md`` section 2.2:

* two-sample t test (noncentral t, as R ``pwr`` and ``statsmodels.stats.power``);
* cluster-randomised designs with the design effect ``1 + ((cv^2 + 1) m - 1) icc``
  (Bloom 2005; Eldridge, Ashby and Kerry 2006 for unequal cluster sizes);
* McKenzie (2012) POST / DiD / ANCOVA with ``m`` pre and ``r`` post rounds;
* the Burlig, Preonas and Woerman (2020) serial-correlation-robust panel DiD MDE,
  with AR(1) residuals or with the residual covariance estimated from a pilot panel.

Every function solves for the one argument left as ``None`` (as statsmodels'
``solve_power``) and returns a float.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, stats

from impact._validation import check_alpha, check_option
from impact.errors import DataError, EstimationError, SpecError
from impact.panel import Panel, as_panel

__all__ = [
    "cluster_design",
    "design_effect",
    "mckenzie_mde",
    "panel_did_mde",
    "pilot_covariance",
    "two_sample",
]

Alternative = Literal["two-sided", "larger", "smaller"]


# ----------------------------------------------------------------- helpers
def _check_power(power: float, caller: str) -> float:
    value = float(power)
    if not 0.0 < value < 1.0:
        raise SpecError(
            f"The 'power' parameter of {caller} must be strictly between 0 and 1. "
            f"Got {power!r} instead."
        )
    return value


def _check_positive(name: str, value: float, caller: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        out = float("nan")
    if not (math.isfinite(out) and out > 0):
        raise SpecError(
            f"The {name!r} parameter of {caller} must be a positive number. "
            f"Got {value!r} instead."
        )
    return out


def _exactly_one_none(caller: str, **values: Any) -> str:
    missing = [k for k, v in values.items() if v is None]
    if len(missing) != 1:
        names = ", ".join(repr(k) for k in values)
        got = "none" if not missing else ", ".join(repr(k) for k in missing)
        raise SpecError(
            f"{caller} solves for exactly one of {names}: leave exactly one of them "
            f"as None (left as None: {got})."
        )
    return missing[0]


def _root(func: Callable[[float], float], lo: float, hi: float, what: str) -> float:
    """Solve ``func(x) = 0`` on [lo, hi], expanding ``hi`` when needed."""
    f_lo = func(lo)
    f_hi = func(hi)
    for _ in range(60):
        if not math.isfinite(f_hi):
            break
        if f_lo * f_hi <= 0:
            break
        hi *= 2.0
        f_hi = func(hi)
    if not (math.isfinite(f_lo) and math.isfinite(f_hi)) or f_lo * f_hi > 0:
        raise EstimationError(
            f"Could not solve for {what}: no value in [{lo:g}, {hi:g}] gives the "
            "requested power. Check that the other inputs are attainable."
        )
    return float(optimize.brentq(func, lo, hi, xtol=1e-12, rtol=1e-12, maxiter=500))


# -------------------------------------------------------------- two sample
def _t2n_power(d: float, n1: float, n0: float, alpha: float, alternative: str) -> float:
    """Power of the two-sample t test (noncentral t), the formula of R pwr.t2n.test.

    statsmodels' ``TTestIndPower.power`` computes the same quantity but returns NaN
    for large samples (its noncentral t tail underflows), so the root finders below
    call scipy's noncentral t directly; tests check both agree.
    """
    df = n1 + n0 - 2.0
    ncp = d / math.sqrt(1.0 / n1 + 1.0 / n0)

    def upper(c: float) -> float:  # far tails can come back NaN: they are ~0 or ~1
        v = float(stats.nct.sf(c, df, ncp))
        return v if math.isfinite(v) else float(ncp > c)

    def lower(c: float) -> float:
        v = float(stats.nct.cdf(c, df, ncp))
        return v if math.isfinite(v) else float(ncp < c)

    if alternative == "two-sided":
        crit = float(stats.t.ppf(1 - alpha / 2, df))
        return upper(crit) + lower(-crit)
    crit = float(stats.t.ppf(1 - alpha, df))
    if alternative == "larger":
        return upper(crit)
    return lower(-crit)


def two_sample(
    *,
    effect: float | None = None,
    n_treated: float | None = None,
    n_control: float | None = None,
    power: float | None = None,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Power, sample size or detectable effect of a two-sample t test.

    Exactly one of ``effect``, ``n_treated`` and ``power`` is ``None`` and is solved
    for, as in R ``pwr.t2n.test`` and ``statsmodels.stats.power.TTestIndPower``
    (noncentral t with ``n_treated + n_control - 2`` degrees of freedom).

    Parameters
    ----------
    effect : float, optional
        Standardised effect (Cohen's d: difference in means over the common SD).
    n_treated : float, optional
        Size of the treated arm.
    n_control : float, optional
        Size of the control arm. Defaults to ``n_treated`` (equal arms; when solving
        for ``n_treated`` both arms grow together). When given while solving for
        ``n_treated``, the control arm is held fixed.
    power : float, optional
        Probability of rejecting the null hypothesis when ``effect`` is true.
    alpha : float, default 0.05
        Size of the test.
    alternative : {"two-sided", "larger", "smaller"}, default "two-sided"
        Alternative hypothesis, as statsmodels (``"larger"`` = R ``"greater"``).

    Returns
    -------
    float
        The solved quantity: the effect in SD units, the treated-arm size, or the power.

    Examples
    --------
    >>> round(two_sample(effect=0.5, power=0.8), 4)
    63.7656
    >>> round(two_sample(n_treated=15, n_control=135, power=0.8), 4)
    0.7675
    """
    caller = "impact.power.two_sample"
    target = _exactly_one_none(caller, effect=effect, n_treated=n_treated, power=power)
    alpha = check_alpha(alpha, caller)
    check_option("alternative", alternative, ["two-sided", "larger", "smaller"], caller)
    if power is not None:
        power = _check_power(power, caller)
    if n_control is not None:
        n_control = _check_positive("n_control", n_control, caller)
    if n_treated is not None:
        n_treated = _check_positive("n_treated", n_treated, caller)
        if n_control is None:
            n_control = n_treated
        if n_treated + n_control <= 2:
            raise SpecError(
                f"{caller} needs more than 2 units in total (n_treated={n_treated:g}, "
                f"n_control={n_control:g}): a t test has n_treated + n_control - 2 "
                "degrees of freedom."
            )
    if effect is not None:
        effect = float(effect)
        if effect == 0 and target != "power":
            raise SpecError(f"The 'effect' parameter of {caller} must not be 0.")

    def _power(d: float, n1: float, n0: float) -> float:
        return _t2n_power(d, n1, n0, alpha, alternative)

    if target == "power":
        assert effect is not None and n_treated is not None and n_control is not None
        return _power(effect, n_treated, n_control)
    assert power is not None
    if power <= alpha:
        raise SpecError(
            f"The requested power {power} of {caller} is not above the size of the "
            f"test (alpha={alpha}); ask for a power above alpha."
        )
    if target == "effect":
        assert n_treated is not None and n_control is not None
        sign = -1.0 if alternative == "smaller" else 1.0

        def gap_d(d: float) -> float:
            return _power(sign * d, n_treated, n_control) - power

        return sign * _root(gap_d, 1e-8, 10.0, "the effect")
    assert effect is not None
    if n_control is None:

        def gap_n(n: float) -> float:
            return _power(effect, n, n) - power

        return _root(gap_n, 1.5, 1e3, "n_treated")
    fixed = n_control

    def gap_n1(n: float) -> float:
        return _power(effect, n, fixed) - power

    lo = max(0.5, 3.0 - fixed)
    f_big = _power(effect, 1e7, fixed) - power
    if f_big < 0:
        raise EstimationError(
            f"{caller}: with n_control={fixed:g} no treated-arm size reaches power "
            f"{power} for effect {effect}; enlarge the control arm."
        )
    return _root(gap_n1, lo, 1e3, "n_treated")


# --------------------------------------------------------------- clusters
def design_effect(cluster_size: float, icc: float, cv: float = 0.0) -> float:
    """Design effect of a cluster-randomised design.

    ``DEFF = 1 + ((cv^2 + 1) m - 1) icc``; with equal clusters (``cv = 0``) this is
    the familiar ``1 + (m - 1) icc`` (Eldridge, Ashby and Kerry 2006).

    Parameters
    ----------
    cluster_size : float
        Mean cluster size ``m`` (>= 1).
    icc : float
        Intraclass correlation, in [0, 1].
    cv : float, default 0
        Coefficient of variation of the cluster sizes.

    Returns
    -------
    float
        The factor by which clustering inflates the variance of a difference in means.

    Examples
    --------
    >>> design_effect(50, 0.05)
    3.45
    >>> round(design_effect(50, 0.05, cv=0.5), 4)
    4.075
    """
    caller = "impact.power.design_effect"
    m = _check_positive("cluster_size", cluster_size, caller)
    if m < 1:
        raise SpecError(
            f"The 'cluster_size' parameter of {caller} must be >= 1. Got {cluster_size!r}."
        )
    rho = float(icc)
    if not 0.0 <= rho <= 1.0:
        raise SpecError(
            f"The 'icc' parameter of {caller} must be in [0, 1]. Got {icc!r}."
        )
    c = float(cv)
    if not (math.isfinite(c) and c >= 0):
        raise SpecError(f"The 'cv' parameter of {caller} must be >= 0. Got {cv!r}.")
    return 1.0 + ((c**2 + 1.0) * m - 1.0) * rho


def cluster_design(
    *,
    effect: float | None = None,
    n_clusters: float | None = None,
    power: float | None = None,
    cluster_size: float,
    icc: float,
    cv: float = 0.0,
    share_treated: float = 0.5,
    alpha: float = 0.05,
    r2_between: float = 0.0,
    r2_within: float = 0.0,
) -> float:
    """MDE, number of clusters or power of a cluster-randomised two-arm design.

    Bloom (2005): ``MDE = M_{J-2} * sqrt(DEFF* / (P (1 - P) J m))`` in SD units of the
    individual outcome, ``M_{J-2} = t_{1-alpha/2, J-2} + t_{power, J-2}``, with the
    design effect of :func:`design_effect` and covariate adjustment
    ``icc -> icc (1 - R2_between)``, ``(1 - icc) -> (1 - icc)(1 - R2_within)``.
    Exactly one of ``effect``, ``n_clusters`` and ``power`` is ``None``.

    Parameters
    ----------
    effect : float, optional
        Standardised effect (SD units).
    n_clusters : float, optional
        Total number of clusters ``J`` (both arms).
    power : float, optional
        Power of the two-sided test.
    cluster_size : float
        Mean number of individuals per cluster ``m``.
    icc : float
        Intraclass correlation.
    cv : float, default 0
        Coefficient of variation of cluster sizes.
    share_treated : float, default 0.5
        Share ``P`` of clusters treated.
    alpha : float, default 0.05
        Two-sided size.
    r2_between, r2_within : float, default 0
        Shares of between- and within-cluster variance explained by covariates.

    Returns
    -------
    float
        The solved quantity.

    Examples
    --------
    >>> round(cluster_design(n_clusters=30, power=0.8, cluster_size=50, icc=0.05), 4)
    0.2785
    """
    caller = "impact.power.cluster_design"
    target = _exactly_one_none(
        caller, effect=effect, n_clusters=n_clusters, power=power
    )
    alpha = check_alpha(alpha, caller)
    if power is not None:
        power = _check_power(power, caller)
    p = float(share_treated)
    if not 0.0 < p < 1.0:
        raise SpecError(
            f"The 'share_treated' parameter of {caller} must be strictly between 0 "
            f"and 1. Got {share_treated!r}."
        )
    for name, val in (("r2_between", r2_between), ("r2_within", r2_within)):
        if not 0.0 <= float(val) < 1.0:
            raise SpecError(f"The {name!r} parameter of {caller} must be in [0, 1).")
    m = float(cluster_size)
    rho = float(icc)
    deff = design_effect(m, rho, cv)
    # covariate adjustment of the between and within components
    between = rho * (1.0 - float(r2_between))
    within = (1.0 - rho) * (1.0 - float(r2_within))
    # DEFF / m = rho + (1 - rho)/m for equal sizes; unequal sizes add cv^2 m rho / m
    var_unit = (between * (1.0 + float(cv) ** 2) * m + within) / m
    if deff <= 0 or var_unit <= 0:  # pragma: no cover - guarded by checks above
        raise SpecError(f"{caller}: the design effect is not positive.")

    def se(j: float) -> float:
        return math.sqrt(var_unit / (p * (1.0 - p) * j))

    def mult(j: float, pw: float) -> float:
        df = j - 2.0
        return float(stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(pw, df))

    if target == "effect":
        assert n_clusters is not None and power is not None
        j = _check_positive("n_clusters", n_clusters, caller)
        if j <= 2:
            raise SpecError(f"{caller} needs more than 2 clusters; got {n_clusters!r}.")
        return mult(j, power) * se(j)
    if target == "power":
        assert n_clusters is not None and effect is not None
        j = _check_positive("n_clusters", n_clusters, caller)
        if j <= 2:
            raise SpecError(f"{caller} needs more than 2 clusters; got {n_clusters!r}.")
        df = j - 2.0
        return float(
            stats.t.cdf(abs(float(effect)) / se(j) - stats.t.ppf(1 - alpha / 2, df), df)
        )
    assert effect is not None and power is not None
    d = abs(float(effect))
    if d == 0:
        raise SpecError(f"The 'effect' parameter of {caller} must not be 0.")

    def gap(j: float) -> float:
        return d - mult(j, power) * se(j)

    return _root(gap, 2.0 + 1e-6, 1e3, "n_clusters")


# ----------------------------------------------------------------- McKenzie
def _mckenzie_factor(design: str, pre: int, post: int, rho: float) -> float:
    post_part = (1.0 + (post - 1) * rho) / post
    if design == "post":
        return post_part
    pre_part = (1.0 + (pre - 1) * rho) / pre
    if design == "did":
        return pre_part + post_part - 2.0 * rho
    return post_part - pre * rho**2 / (1.0 + (pre - 1) * rho)


def mckenzie_mde(
    *,
    n_units: int,
    n_treated: int,
    pre: int,
    post: int,
    rho: float,
    design: Literal["post", "did", "ancova"] = "ancova",
    sigma: float = 1.0,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """McKenzie (2012) MDE of POST, DiD or ANCOVA with ``m`` pre and ``r`` post rounds.

    With constant autocorrelation ``rho`` of the outcome and total SD ``sigma``,
    ``Var = sigma^2 / (P (1 - P) n) * f``, with ``f`` equal to
    ``(1 + (r-1) rho)/r`` (POST), ``(1 + (m-1) rho)/m + (1 + (r-1) rho)/r - 2 rho``
    (DiD) or ``(1 + (r-1) rho)/r - m rho^2 / (1 + (m-1) rho)`` (ANCOVA; Frison and
    Pocock 1992). The MDE uses the normal approximation
    ``(z_{1-alpha/2} + z_power) sqrt(Var)`` as McKenzie does.

    Parameters
    ----------
    n_units : int
        Total number of units ``n``.
    n_treated : int
        Treated units (``P = n_treated / n_units``).
    pre, post : int
        Numbers of pre (``m``) and post (``r``) rounds.
    rho : float
        Autocorrelation of the outcome between rounds, in [0, 1].
    design : {"post", "did", "ancova"}, default "ancova"
        Estimator.
    sigma : float, default 1
        Total SD of the outcome (the MDE is in its units).
    alpha : float, default 0.05
        Two-sided size.
    power : float, default 0.8
        Power.

    Returns
    -------
    float
        The minimum detectable effect.

    Examples
    --------
    >>> round(mckenzie_mde(n_units=150, n_treated=15, pre=1, post=1, rho=0.5,
    ...                    design="did"), 4)
    0.7625
    """
    caller = "impact.power.mckenzie_mde"
    check_option("design", design, ["post", "did", "ancova"], caller)
    alpha = check_alpha(alpha, caller)
    power = _check_power(power, caller)
    n, n1 = _check_units(n_units, n_treated, caller)
    m, r = _check_rounds(pre, post, caller)
    rho = float(rho)
    if not 0.0 <= rho <= 1.0:
        raise SpecError(
            f"The 'rho' parameter of {caller} must be in [0, 1]. Got {rho!r}."
        )
    p = n1 / n
    var = float(sigma) ** 2 / (p * (1 - p) * n) * _mckenzie_factor(design, m, r, rho)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * math.sqrt(max(var, 0.0)))


# ----------------------------------------------------------- BPW panel DiD
def _check_units(n_units: Any, n_treated: Any, caller: str) -> tuple[int, int]:
    for name, val in (("n_units", n_units), ("n_treated", n_treated)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise SpecError(
                f"The {name!r} parameter of {caller} must be a positive integer. "
                f"Got {val!r} instead."
            )
    if n_treated >= n_units:
        raise SpecError(
            f"{caller}: n_treated ({n_treated}) must be smaller than n_units "
            f"({n_units}); some units must stay untreated."
        )
    return int(n_units), int(n_treated)


def _check_rounds(pre: Any, post: Any, caller: str) -> tuple[int, int]:
    for name, val in (("pre", pre), ("post", post)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise SpecError(
                f"The {name!r} parameter of {caller} must be a positive integer number "
                f"of periods. Got {val!r} instead."
            )
    return int(pre), int(post)


def ar1_covariances(
    pre: int, post: int, sigma2: float = 1.0, phi: float = 0.0
) -> dict[str, float]:
    """Average residual covariances of an AR(1) process (BPW notation).

    Parameters
    ----------
    pre, post : int
        Numbers of pre (``m``) and post (``r``) periods.
    sigma2 : float, default 1
        Residual variance.
    phi : float, default 0
        AR(1) coefficient.

    Returns
    -------
    dict
        ``sigma2``, ``psi_pre`` (``psi^B``), ``psi_post`` (``psi^A``) and
        ``psi_cross`` (``psi^X``).
    """
    m, r = int(pre), int(post)
    t = np.arange(m + r)
    lag = np.abs(t[:, None] - t[None, :])
    cov = sigma2 * float(phi) ** lag.astype(float)
    return _window_covariances(cov, m, r)


def _window_covariances(cov: NDArray[np.float64], m: int, r: int) -> dict[str, float]:
    pre_block = cov[:m, :m]
    post_block = cov[m:, m:]
    cross = cov[:m, m:]
    off_pre = (pre_block.sum() - np.trace(pre_block)) / (m * (m - 1)) if m > 1 else 0.0
    off_post = (
        (post_block.sum() - np.trace(post_block)) / (r * (r - 1)) if r > 1 else 0.0
    )
    return {
        "sigma2": float(np.trace(cov) / (m + r)),
        "psi_pre": float(off_pre),
        "psi_post": float(off_post),
        "psi_cross": float(cross.mean()),
    }


def _bpw_variance_factor(cov: dict[str, float], m: int, r: int) -> float:
    return (
        (m + r) / (m * r) * cov["sigma2"]
        + (m - 1) / m * cov["psi_pre"]
        + (r - 1) / r * cov["psi_post"]
        - 2.0 * cov["psi_cross"]
    )


def pilot_covariance(
    data: pd.DataFrame | Panel,
    *,
    pre: int,
    post: int,
    outcome: str | None = None,
    unit: str | None = None,
    time: str | None = None,
) -> dict[str, float]:
    """Residual variance and covariances of a pilot panel, after unit and time effects.

    The outcome is regressed on unit and time fixed effects (two-way demeaning of the
    balanced panel); the T x T covariance matrix of the residuals across units is
    averaged over every window of ``pre + post`` consecutive periods of the pilot,
    giving the Burlig-Preonas-Woerman inputs ``sigma2``, ``psi_pre``, ``psi_post`` and
    ``psi_cross``. Each component is biased by the demeaning, but their DiD
    combination (the variance of a unit's post-minus-pre mean residual,
    ``var_contrast``) is not affected by the unit effects and is computed with the
    ``N - 1`` divisor that corrects the time demeaning. The whole pilot panel is used:
    pass only untreated units and periods.

    Parameters
    ----------
    data : DataFrame or Panel
        Pilot panel (balanced).
    pre, post : int
        Window lengths ``m`` and ``r`` of the planned design.
    outcome, unit, time : str, optional
        Column names when ``data`` is a DataFrame.

    Returns
    -------
    dict
        ``sigma2``, ``psi_pre``, ``psi_post``, ``psi_cross``, ``var_contrast`` (the
        variance of a unit's post-minus-pre mean residual), ``n_units``, ``n_windows``.
    """
    caller = "impact.power.pilot_covariance"
    m, r = _check_rounds(pre, post, caller)
    panel = as_panel(data, outcome=outcome, unit=unit, time=time)
    Y = panel.Y
    n, t = Y.shape
    if t < m + r:
        raise DataError(
            f"The pilot panel has {t} periods but pre + post = {m + r}: give a pilot "
            "at least as long as the planned design, or shorten pre/post."
        )
    if n < 3:
        raise DataError(f"The pilot panel has {n} unit(s); at least 3 are needed.")
    resid = Y - Y.mean(axis=1, keepdims=True) - Y.mean(axis=0, keepdims=True) + Y.mean()
    cov = resid.T @ resid / (n - 1)
    windows = t - m - r + 1
    parts = [
        _window_covariances(cov[s : s + m + r, s : s + m + r], m, r)
        for s in range(windows)
    ]
    out = {k: float(np.mean([p[k] for p in parts])) for k in parts[0]}
    # variance of the post-minus-pre contrast, window by window
    contrasts = np.stack(
        [
            Y[:, s + m : s + m + r].mean(axis=1) - Y[:, s : s + m].mean(axis=1)
            for s in range(windows)
        ],
        axis=1,
    )
    out["var_contrast"] = float(np.mean(contrasts.var(axis=0, ddof=1)))
    out["n_units"] = float(n)
    out["n_windows"] = float(windows)
    return out


def panel_did_mde(
    data: pd.DataFrame | Panel | None = None,
    *,
    n_treated: int,
    pre: int,
    post: int,
    n_units: int | None = None,
    sigma2: float = 1.0,
    phi: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
    outcome: str | None = None,
    unit: str | None = None,
    time: str | None = None,
) -> float:
    """Serial-correlation-robust MDE of a panel DiD (Burlig, Preonas and Woerman 2020).

    Model ``Y_it = beta D_it + unit + time + e_it`` with ``J`` units of which
    ``n_treated`` are treated (``P = n_treated / J``), ``m = pre`` and ``r = post``
    periods::

        Var = [ (m+r)/(m r) sigma2 + (m-1)/m psi_pre + (r-1)/r psi_post
                - 2 psi_cross ] / (P (1-P) J)
        MDE = (t_{power, df} + t_{1-alpha/2, df}) sqrt(Var)

    with ``df = J`` when any covariance is non-zero, else ``J(m+r) - (J+m+r)``
    (as ``pc_dd_analytic`` v3.0). Without ``data`` the residuals are AR(1) with
    variance ``sigma2`` and coefficient ``phi``. With a pilot panel ``data`` the
    bracket is estimated by :func:`pilot_covariance` (``var_contrast``) and
    ``n_units`` defaults to the pilot's number of units; the MDE is then in the units
    of the pilot outcome.

    Parameters
    ----------
    data : DataFrame or Panel, optional
        Pilot panel of untreated units (long DataFrame with ``outcome``, ``unit``,
        ``time``, or a :class:`~impact.panel.Panel`).
    n_treated : int
        Number of treated units.
    pre, post : int
        Numbers of pre and post periods.
    n_units : int, optional
        Total units ``J``; required without ``data``.
    sigma2 : float, default 1
        Residual variance (AR(1) branch).
    phi : float, default 0
        AR(1) coefficient of the residuals, in (-1, 1) (AR(1) branch).
    alpha : float, default 0.05
        Two-sided size.
    power : float, default 0.8
        Power.
    outcome, unit, time : str, optional
        Column names of a DataFrame pilot.

    Returns
    -------
    float
        The minimum detectable effect.

    Examples
    --------
    >>> round(panel_did_mde(n_units=150, n_treated=15, pre=10, post=5, phi=0.5), 4)
    0.608
    """
    caller = "impact.power.panel_did_mde"
    alpha = check_alpha(alpha, caller)
    power = _check_power(power, caller)
    m, r = _check_rounds(pre, post, caller)
    if data is None:
        if n_units is None:
            raise SpecError(
                f"{caller} needs n_units= (total number of units) when no pilot data "
                "are given."
            )
        j, n1 = _check_units(n_units, n_treated, caller)
        phi = float(phi)
        if not -1.0 < phi < 1.0:
            raise SpecError(
                f"The 'phi' parameter of {caller} must be in (-1, 1) (a stationary "
                f"AR(1)). Got {phi!r} instead."
            )
        s2 = _check_positive("sigma2", sigma2, caller)
        cov = ar1_covariances(m, r, s2, phi)
        bracket = _bpw_variance_factor(cov, m, r)
        any_cov = any(abs(cov[k]) > 0 for k in ("psi_pre", "psi_post", "psi_cross"))
    else:
        est = pilot_covariance(
            data, pre=m, post=r, outcome=outcome, unit=unit, time=time
        )
        j_default = int(est["n_units"])
        j, n1 = _check_units(
            j_default if n_units is None else n_units, n_treated, caller
        )
        bracket = est["var_contrast"]
        any_cov = True
    if not bracket > 0:
        raise EstimationError(
            f"{caller}: the residual variance of the post-minus-pre contrast is "
            f"{bracket:.3g}; the outcome does not vary once unit and time effects are "
            "removed."
        )
    p = n1 / j
    var = bracket / (p * (1.0 - p) * j)
    df = float(j) if any_cov else float(j * (m + r) - (j + m + r))
    if not df >= 1:
        raise SpecError(
            f"panel_did_mde: {j} units with {m} pre- and {r} post-periods leave "
            f"{df:g} residual degrees of freedom, so no test (and no MDE) exists; "
            "add units or periods."
        )
    mult = stats.t.ppf(power, df) + stats.t.ppf(1 - alpha / 2, df)
    mde = float(mult * math.sqrt(var))
    if not math.isfinite(mde):
        raise SpecError(
            f"panel_did_mde: the MDE is not finite (variance {var:g}, {df:g} degrees "
            "of freedom); check sigma2, phi and the numbers of units and periods."
        )
    return mde
