"""Synthetic local-authority x year panels of children looked after (CLA).

The generator is calibrated to the real English panel 2010-2025 (see
``../shared/research/domain.md`` section 4 and ``tests/data/test_data_calibration.py``):

* child populations are log-normal (mean log 11.07, SD 0.61) and grow about 0.7% a year;
* the log CLA rate of authority ``i`` in year ``t`` is

  ``log r_it = 4.06 + n_t + u_it + g_i (t - t0) + log(1 + effect_it)``

  where ``n_t`` is the national year pattern (flat 2011-2016, +3%/yr to 2023, then
  falling), ``g_i`` a small authority trend and ``u_it`` a persistent deviation that
  starts at region + deprivation + population shifts (cross-sectional SD 0.39) and
  follows an AR(1) with ``rho`` about 0.975;
* counts are drawn as ``Poisson`` or ``negbin`` (variance ``mu (1 + dispersion)``)
  around ``child_pop * r_it / 10,000``. The CLA *stock* carries most of last year's
  children, so a chance high count persists: the sampling deviation of each year's
  count is carried into the next year's deviation ``u``. This reproduces what the real
  data show: annual changes in the log rate have variance about ``0.0011 + 1.63 / count``
  (small authorities are noisier) and the noise accumulates like a random walk.

Treatment can be assigned at random, in staggered cohorts, or selected on high or
rising rates (the regression-to-the-mean trap of real programmes).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from impact._validation import check_option, check_positive_int
from impact.errors import DataError, ImpactError, SpecError

__all__ = [
    "REGIONS",
    "ar1_panel",
    "calibration_statistics",
    "generate_la_panel",
    "main_synthetic",
]

_CALLER = "generate_la_panel"

# Number of DfE authorities per region (la_reference.csv, 158 codes 2010-2025), mean
# IMD 2019 average score and its SD within region, mean log child population (2019),
# and the region shift of the log CLA rate given deprivation and population (OLS on the
# 145 stable authorities, 2019, East Midlands = 0; re-centred below).  [computed]
REGIONS: dict[str, dict[str, float]] = {
    "North East": {
        "n": 12,
        "imd": 29.0,
        "imd_sd": 5.2,
        "logpop": 10.58,
        "shift": 0.252,
    },
    "North West": {
        "n": 25,
        "imd": 29.6,
        "imd_sd": 8.8,
        "logpop": 10.96,
        "shift": 0.191,
    },
    "Yorkshire and The Humber": {
        "n": 15,
        "imd": 26.2,
        "imd_sd": 7.7,
        "logpop": 11.12,
        "shift": 0.071,
    },
    "East Midlands": {
        "n": 11,
        "imd": 21.3,
        "imd_sd": 9.0,
        "logpop": 11.26,
        "shift": 0.0,
    },
    "West Midlands": {
        "n": 14,
        "imd": 25.0,
        "imd_sd": 7.9,
        "logpop": 11.25,
        "shift": 0.291,
    },
    "East of England": {
        "n": 11,
        "imd": 19.2,
        "imd_sd": 5.1,
        "logpop": 11.41,
        "shift": 0.072,
    },
    "Inner London": {
        "n": 14,
        "imd": 24.9,
        "imd_sd": 4.5,
        "logpop": 10.81,
        "shift": -0.145,
    },
    "Outer London": {
        "n": 19,
        "imd": 19.1,
        "imd_sd": 5.9,
        "logpop": 11.07,
        "shift": -0.268,
    },
    "South East": {
        "n": 19,
        "imd": 16.6,
        "imd_sd": 6.6,
        "logpop": 11.18,
        "shift": 0.101,
    },
    "South West": {
        "n": 18,
        "imd": 18.8,
        "imd_sd": 5.9,
        "logpop": 11.14,
        "shift": 0.054,
    },
}

# Geometric-mean CLA rate relative to 2011 (domain.md section 4 item 4); 2010 = 2011
# (England rate 58 in both years).
_NATIONAL = {
    2010: 1.0,
    2011: 1.0,
    2012: 1.018,
    2013: 1.030,
    2014: 1.034,
    2015: 1.035,
    2016: 1.042,
    2017: 1.088,
    2018: 1.104,
    2019: 1.159,
    2020: 1.177,
    2021: 1.184,
    2022: 1.206,
    2023: 1.218,
    2024: 1.197,
    2025: 1.162,
}
_MEAN_LOG_RATE_2011 = 4.06  # geometric mean 58 per 10,000
_MEAN_LOG_POP = 11.07  # mean log child population (2019, 145 stable authorities)
_SD_LOG_POP = 0.61
_POP_GROWTH = 0.007  # England 0-17: 11.01m (mid-2009) -> 12.18m (mid-2024)
_IMD_MEAN, _IMD_SD, _IMD_MIN, _IMD_MAX = 22.8, 8.0, 5.9, 45.0
_DEPRIVATION_SLOPE = 0.031  # log rate per IMD point given region and population
_POP_SLOPE = -0.144  # log rate per log child population given region and IMD
_SD_LOG_RATE = 0.39  # cross-sectional SD of the log rate


def _national_pattern(years: np.ndarray, national_trend: Any) -> np.ndarray:
    """Log year effects relative to 2011."""
    if isinstance(national_trend, str):
        check_option("national_trend", national_trend, ["cla", "none"], _CALLER)
        if national_trend == "none":
            return np.zeros(len(years))
        first, last = min(_NATIONAL), max(_NATIONAL)
        clipped = np.clip(years, first, last)
        return np.log(np.array([_NATIONAL[int(y)] for y in clipped]))
    arr = np.asarray(national_trend, dtype=float)
    if arr.shape != (len(years),) or not np.all(np.isfinite(arr)):
        raise SpecError(
            f"The 'national_trend' parameter of {_CALLER} must be 'cla', 'none' or "
            f"{len(years)} finite log year effects (one per year). Got shape "
            f"{arr.shape} instead."
        )
    return arr


def _allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Largest-remainder allocation of ``total`` items proportionally to ``counts``."""
    share = counts / counts.sum() * total
    base = np.floor(share).astype(int)
    rest = total - base.sum()
    order = np.argsort(-(share - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _default_cohorts(
    assignment: str, n_treated: int, start: int, end: int
) -> dict[int, int]:
    """Default cohort sizes: one mid-panel cohort (random) or four staggered ones."""
    n_years = end - start + 1
    if assignment == "random":
        return {start + n_years // 2: n_treated}
    first = start + max(2, n_years // 3)
    years = [y for y in range(first, first + 4) if y <= end]
    sizes = _allocate(np.ones(len(years)), n_treated)
    return {y: int(s) for y, s in zip(years, sizes, strict=True) if s > 0}


def _check_cohorts(
    cohorts: Mapping[Any, Any], start: int, end: int, n_units: int
) -> dict[int, int]:
    out: dict[int, int] = {}
    for year, size in cohorts.items():
        try:
            y, n = int(year), int(size)
        except (TypeError, ValueError):
            raise SpecError(
                f"The 'cohorts' parameter of {_CALLER} must map years to numbers of "
                f"authorities. Got {year!r}: {size!r}."
            ) from None
        if not start < y <= end:
            raise SpecError(
                f"Cohort year {y} in 'cohorts' of {_CALLER} is outside ({start}, {end}]: "
                "adoption must come after the first year so every cohort has a "
                "pre-period."
            )
        if n < 1:
            raise SpecError(
                f"Cohort {y} in 'cohorts' of {_CALLER} has {n} authorities; give at "
                "least 1 or drop the cohort."
            )
        out[y] = out.get(y, 0) + n
    if sum(out.values()) >= n_units:
        raise SpecError(
            f"The cohorts of {_CALLER} treat {sum(out.values())} of {n_units} "
            "authorities; leave at least one never-treated authority."
        )
    return dict(sorted(out.items()))


def _phase(event_time: np.ndarray, phase_in: int) -> np.ndarray:
    """Share of the full effect reached ``event_time`` years after adoption."""
    share = (event_time + 1.0) / (phase_in + 1.0)
    return np.where(event_time >= 0, np.clip(share, 0.0, 1.0), 0.0)


def _draw_counts(
    rng: np.random.Generator, mean: np.ndarray, count_model: str, dispersion: float
) -> np.ndarray:
    if count_model == "poisson" or dispersion == 0.0:
        return rng.poisson(mean).astype(float)
    # NB1: variance mean * (1 + dispersion); n = mean / dispersion, p = 1 / (1 + d).
    n = np.maximum(mean, 1e-9) / dispersion
    return rng.negative_binomial(n, 1.0 / (1.0 + dispersion)).astype(float)


def generate_la_panel(
    *,
    n_units: int = 150,
    start: int = 2010,
    end: int = 2025,
    seed: int | np.random.Generator | None = None,
    assignment: Literal["random", "staggered", "selected"] = "random",
    n_treated: int | None = None,
    cohorts: Mapping[int, int] | None = None,
    effect: float = 0.0,
    phase_in: int = 0,
    heterogeneity: float = 0.0,
    rho: float = 0.975,
    sd_log_rate: float = _SD_LOG_RATE,
    innovation_sd: float = 0.033,
    trend_sd: float = 0.005,
    count_model: Literal["poisson", "negbin"] = "negbin",
    dispersion: float = 0.63,
    selection_strength: float = 1.0,
    national_trend: str | Sequence[float] = "cla",
) -> pd.DataFrame:
    """Generate a synthetic local-authority x year panel of children looked after.

    Parameters
    ----------
    n_units : int, default 150
        Number of authorities (England has 150 stable children's-services areas).
    start, end : int, default 2010, 2025
        First and last year (year ending 31 March), inclusive.
    seed : int, numpy Generator or None
        Random seed; the same seed gives the same panel.
    assignment : {"random", "staggered", "selected"}, default "random"
        How adopters are chosen. ``"random"``: uniformly among authorities not yet
        treated (one mid-panel cohort unless ``cohorts`` is given). ``"staggered"``:
        uniformly, in four consecutive yearly cohorts unless ``cohorts`` is given.
        ``"selected"``: at each cohort year, authorities with high *and* rising rates
        over the previous three years are more likely to adopt (selection on the
        outcome: the regression-to-the-mean trap). Cohorts as for ``"staggered"``.
    n_treated : int, optional
        Number of adopters (default 20, or the sum of ``cohorts``).
    cohorts : dict of int to int, optional
        First treated year -> number of adopting authorities, e.g. ``{2016: 5,
        2018: 10}``. Every cohort year must be after ``start``.
    effect : float, default 0.0
        Relative effect on the CLA rate once fully phased in (``-0.05`` = 5% fewer
        children looked after). Must be greater than -1.
    phase_in : int, default 0
        Years over which the effect builds up linearly: the share of the full effect
        ``e`` years after adoption is ``min(1, (e + 1) / (phase_in + 1))``.
    heterogeneity : float, default 0.0
        Spread of the effect across cohorts: the earliest cohort gets
        ``effect * (1 + heterogeneity)``, the latest ``effect * (1 - heterogeneity)``,
        linearly in between.
    rho : float, default 0.975
        Annual AR(1) persistence of authority deviations from the national log rate.
    sd_log_rate : float, default 0.39
        Cross-sectional SD of the log rate in the first year.
    innovation_sd : float, default 0.033
        SD of the size-independent annual innovation of the log rate (the
        count-driven part is added by the count model).
    trend_sd : float, default 0.005
        SD of authority-specific linear trends in the log rate (per year).
    count_model : {"poisson", "negbin"}, default "negbin"
        Distribution of the CLA count given the expected count.
    dispersion : float, default 0.63
        Negative-binomial over-dispersion (variance = mean * (1 + dispersion));
        ignored for ``"poisson"``.
    selection_strength : float, default 1.0
        For ``"selected"``: weight on the standardised score (level + three-year
        growth of the log rate); 0 = random. The default 1.0 reproduces the SFPC
        adopters (17 authorities): a log level 0.23 and a three-year growth 0.10
        above the other authorities before adoption (domain note 2.4); 20 simulated
        panels give 0.29 and 0.09.
    national_trend : "cla", "none" or sequence of float
        National log year pattern: the real 2010-2025 pattern (held flat outside it),
        none, or one log effect per year.

    Returns
    -------
    pandas.DataFrame
        One row per authority and year, sorted by ``la_code`` and ``year``, with
        columns ``la_code``, ``la_name``, ``region``, ``deprivation`` (IMD-like average
        score), ``year``, ``child_pop``, ``cla_count``, ``cla_rate`` (per 10,000
        children), ``cohort`` (first treated year; 0 = never treated), ``treated``
        (0/1) and ``true_effect`` (treated minus untreated expected rate, per 10,000;
        0 where untreated).

    Raises
    ------
    SpecError
        If an option is out of range or the cohorts are inconsistent.

    Examples
    --------
    >>> from impact.data.synthetic import generate_la_panel
    >>> df = generate_la_panel(n_units=30, seed=1, effect=-0.05, n_treated=6)
    >>> df.shape
    (480, 11)
    """
    n_units = check_positive_int("n_units", n_units, _CALLER, minimum=2)
    check_option("assignment", assignment, ["random", "staggered", "selected"], _CALLER)
    check_option("count_model", count_model, ["poisson", "negbin"], _CALLER)
    phase_in = check_positive_int("phase_in", phase_in, _CALLER, minimum=0)
    start, end = int(start), int(end)
    if end <= start:
        raise SpecError(
            f"The 'end' year of {_CALLER} must be after 'start'. Got start={start}, "
            f"end={end}."
        )
    for name, value, low, high in [
        ("effect", effect, -1.0, np.inf),
        ("rho", rho, -1.0, 1.0),
    ]:
        if not (np.isfinite(value) and low < value < high):
            raise SpecError(
                f"The {name!r} parameter of {_CALLER} must be in ({low}, {high}). "
                f"Got {value!r} instead."
            )
    for name, value in [
        ("sd_log_rate", sd_log_rate),
        ("innovation_sd", innovation_sd),
        ("trend_sd", trend_sd),
        ("dispersion", dispersion),
        ("heterogeneity", heterogeneity),
        ("selection_strength", selection_strength),
    ]:
        if not (np.isfinite(value) and value >= 0):
            raise SpecError(
                f"The {name!r} parameter of {_CALLER} must be a finite number >= 0. "
                f"Got {value!r} instead."
            )
    if cohorts is None:
        n_tr = 20 if n_treated is None else int(n_treated)
        if not 0 <= n_tr < n_units:
            raise SpecError(
                f"The 'n_treated' parameter of {_CALLER} must be between 0 and "
                f"n_units - 1 = {n_units - 1}. Got "
                + (f"{n_treated!r}" if n_treated is not None else "the default 20")
                + " instead; pass n_treated= (or cohorts=)."
            )
        cohort_sizes = (
            _default_cohorts(assignment, n_tr, start, end) if n_tr > 0 else {}
        )
    else:
        cohort_sizes = _check_cohorts(cohorts, start, end, n_units)
        if n_treated is not None and int(n_treated) != sum(cohort_sizes.values()):
            raise SpecError(
                f"'n_treated'={n_treated} does not match the {sum(cohort_sizes.values())}"
                f" authorities in 'cohorts' of {_CALLER}; give one or make them agree."
            )

    rng = np.random.default_rng(seed)
    years = np.arange(start, end + 1)
    T = len(years)
    nat = _national_pattern(years, national_trend)

    # Authorities: region (proportional allocation), deprivation, population.
    names = list(REGIONS)
    table = pd.DataFrame(REGIONS).T
    per_region = _allocate(table["n"].to_numpy(float), n_units)
    region_idx = rng.permutation(np.repeat(np.arange(len(names)), per_region))
    imd = np.clip(
        table["imd"].to_numpy(float)[region_idx]
        + table["imd_sd"].to_numpy(float)[region_idx] * rng.standard_normal(n_units),
        _IMD_MIN,
        _IMD_MAX,
    )
    region_logpop = table["logpop"].to_numpy(float)
    within_sd = np.sqrt(max(_SD_LOG_POP**2 - region_logpop.var(), 0.01))
    logpop0 = region_logpop[region_idx] + within_sd * rng.standard_normal(n_units)
    growth = _POP_GROWTH + 0.004 * rng.standard_normal(n_units)
    t_idx = np.arange(T) - (2019 - start)  # populations centred on 2019
    logpop = logpop0[:, None] + growth[:, None] * t_idx[None, :]
    logpop += 0.005 * rng.standard_normal((n_units, T))
    child_pop = np.maximum(np.round(np.exp(logpop)), 500.0)

    # Initial deviations of the log rate: region + deprivation + population + rest.
    shift = table["shift"].to_numpy(float)
    shift = shift - np.average(shift, weights=table["n"].to_numpy(float))
    systematic = (
        shift[region_idx]
        + _DEPRIVATION_SLOPE * (imd - _IMD_MEAN)
        + _POP_SLOPE * (logpop0 - _MEAN_LOG_POP)
    )
    rest_var = max(sd_log_rate**2 - systematic.var(), 0.0)
    u = (
        systematic
        - systematic.mean()
        + np.sqrt(rest_var) * rng.standard_normal(n_units)
    )
    trend = trend_sd * rng.standard_normal(n_units)

    # Cohort effects (earliest cohort strongest when heterogeneity > 0).
    cohort_years = np.array(sorted(cohort_sizes), dtype=int)
    n_coh = len(cohort_years)
    spread = np.linspace(1.0, -1.0, n_coh) if n_coh > 1 else np.zeros(n_coh)
    cohort_effect = np.maximum(effect * (1.0 + heterogeneity * spread), -0.99)

    cohort = np.zeros(n_units, dtype=int)
    unit_effect = np.zeros(n_units)
    counts = np.zeros((n_units, T))
    expected_cf = np.zeros((n_units, T))
    rel_effect = np.zeros((n_units, T))
    log_rate_obs = np.zeros((n_units, T))
    innov = innovation_sd * rng.standard_normal((n_units, T))
    gumbel = rng.gumbel(size=(max(n_coh, 1), n_units))
    base = _MEAN_LOG_RATE_2011 + nat
    phi = 1.0 if count_model == "poisson" else 1.0 + dispersion  # variance / mean
    trend_time = np.arange(T) - (T - 1) / 2.0

    for t in range(T):
        if t > 0:
            u = rho * u + innov[:, t]
        year = years[t]
        if year in cohort_sizes:
            k = int(np.searchsorted(cohort_years, year))
            pool = cohort == 0
            key = gumbel[k].copy()
            if assignment == "selected" and selection_strength > 0:
                key += selection_strength * _selection_score(
                    log_rate_obs[:, :t], base[:t]
                )
            key[~pool] = -np.inf
            chosen = np.argsort(-key, kind="stable")[: cohort_sizes[year]]
            cohort[chosen] = year
            unit_effect[chosen] = cohort_effect[k]
        event = np.where(cohort > 0, year - cohort, -1)
        rel = unit_effect * _phase(event, phase_in)
        log_cf = base[t] + u + trend * trend_time[t]
        mean_cf = child_pop[:, t] * np.exp(log_cf) / 1e4
        mean = mean_cf * (1.0 + rel)
        y = _draw_counts(rng, mean, count_model, dispersion)
        # Stock persistence: this year's sampling deviation stays in the stock. The
        # second-order term phi / (2 mean) centres log(y / mean) so that the
        # accumulated noise does not drift the national level down.
        safe_mean = np.maximum(mean, 0.5)
        noise = np.log(np.maximum(y, 0.5) / safe_mean) + phi / (
            2.0 * np.maximum(mean, 1.0)
        )
        u = u + noise
        counts[:, t] = y
        expected_cf[:, t] = np.exp(log_cf)
        rel_effect[:, t] = rel
        log_rate_obs[:, t] = np.log(np.maximum(y, 0.5) / child_pop[:, t] * 1e4)

    treated = (cohort[:, None] > 0) & (years[None, :] >= cohort[:, None])
    width = max(3, len(str(n_units)))
    codes = np.array([f"LA{i + 1:0{width}d}" for i in range(n_units)])
    label = np.array([f"Synthetic authority {i + 1:0{width}d}" for i in range(n_units)])
    rate = counts / child_pop * 1e4
    frame = pd.DataFrame(
        {
            "la_code": np.repeat(codes, T),
            "la_name": np.repeat(label, T),
            "region": np.repeat(np.array(names)[region_idx], T),
            "deprivation": np.repeat(np.round(imd, 2), T),
            "year": np.tile(years, n_units).astype(np.int64),
            "child_pop": child_pop.ravel().astype(np.int64),
            "cla_count": counts.ravel().astype(np.int64),
            "cla_rate": np.round(rate.ravel(), 4),
            "cohort": np.repeat(cohort, T).astype(np.int64),
            "treated": treated.ravel().astype(np.int64),
            "true_effect": np.round((expected_cf * rel_effect).ravel(), 6),
        }
    )
    return frame


def _selection_score(history: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Standardised level + growth of the log rate over the last three years."""
    n = history.shape[0]
    if history.shape[1] == 0:
        return np.zeros(n)
    dev = history - base[None, :]
    window = dev[:, -3:]
    level = window.mean(axis=1)
    growth = dev[:, -1] - dev[:, max(0, dev.shape[1] - 4)]

    def z(x: np.ndarray) -> np.ndarray:
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)

    return z(level) + z(growth)


def ar1_panel(
    n_units: int,
    n_periods: int,
    rho: float,
    sigma: float = 1.0,
    seed: int | np.random.Generator | None = None,
    *,
    unit_sd: float = 0.0,
    time_sd: float = 0.0,
) -> np.ndarray:
    """Draw an ``(n_units, n_periods)`` panel of AR(1) errors plus unit and time effects.

    ``y_it = a_i + b_t + e_it`` with ``e_it = rho e_i,t-1 + v_it``, started from the
    stationary distribution so that ``Var(e_it) = sigma**2`` in every period.

    Parameters
    ----------
    n_units, n_periods : int
        Panel dimensions.
    rho : float
        AR(1) coefficient, ``-1 < rho < 1``.
    sigma : float, default 1.0
        Stationary SD of the AR(1) errors (innovation SD ``sigma * sqrt(1 - rho**2)``).
    seed : int, numpy Generator or None
        Random seed.
    unit_sd, time_sd : float, default 0.0
        SDs of the normal unit effects ``a_i`` and time effects ``b_t``.

    Returns
    -------
    numpy.ndarray
        Float array of shape ``(n_units, n_periods)``.

    Examples
    --------
    >>> ar1_panel(3, 4, 0.5, seed=0).shape
    (3, 4)
    """
    caller = "ar1_panel"
    n_units = check_positive_int("n_units", n_units, caller)
    n_periods = check_positive_int("n_periods", n_periods, caller)
    if not (np.isfinite(rho) and -1.0 < rho < 1.0):
        raise SpecError(
            f"The 'rho' parameter of {caller} must be in (-1, 1). Got {rho!r} instead."
        )
    for name, value in [("sigma", sigma), ("unit_sd", unit_sd), ("time_sd", time_sd)]:
        if not (np.isfinite(value) and value >= 0):
            raise SpecError(
                f"The {name!r} parameter of {caller} must be a finite number >= 0. "
                f"Got {value!r} instead."
            )
    rng = np.random.default_rng(seed)
    shocks = rng.standard_normal((n_units, n_periods))
    # e_t = sum_k rho^(t-k) v_k, with a stationary start: a lower-triangular filter.
    scale = np.sqrt(1.0 - rho**2)
    lags = np.arange(n_periods)[:, None] - np.arange(n_periods)[None, :]
    weights = np.where(lags >= 0, rho ** np.maximum(lags, 0), 0.0) * scale
    weights[:, 0] = rho ** np.arange(n_periods)  # stationary start e_0 ~ N(0, 1)
    errors = sigma * shocks @ weights.T
    unit = unit_sd * rng.standard_normal(n_units)
    time = time_sd * rng.standard_normal(n_periods)
    return np.asarray(errors + unit[:, None] + time[None, :], dtype=float)


def calibration_statistics(
    data: pd.DataFrame,
    *,
    unit: str,
    time: str,
    rate: str,
    population: str,
    n_bands: int = 5,
) -> dict[str, Any]:
    """Summary statistics used to compare a synthetic panel with the real one.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel; only units observed with a positive rate in every year are used.
    unit, time, rate, population : str
        Column names (rate per 10,000; population of children, may be missing in some
        years: each unit's mean over available years defines its size band).
    n_bands : int, default 5
        Number of population bands (quantiles of the unit mean population).

    Returns
    -------
    dict
        ``sd_log_rate`` (mean over years of the cross-sectional SD of the log rate),
        ``corr_lag1``, ``corr_lag5``, ``corr_lag10`` (mean correlation of log rates
        k years apart), ``sd_change`` (SD of the annual change of the log rate net of
        the year mean), ``sd_change_by_band`` (list, smallest band first) and
        ``mean_pop_by_band``.
    """
    missing = [c for c in (unit, time, rate, population) if c not in data.columns]
    if missing:
        raise DataError(
            f"calibration_statistics: column(s) {missing} not found; pass the names "
            "of the unit, time, rate and population columns."
        )
    wide = data.pivot_table(index=unit, columns=time, values=rate, aggfunc="first")
    wide = wide.apply(pd.to_numeric, errors="coerce")
    wide = wide[(wide > 0).all(axis=1)]
    if wide.shape[0] < n_bands or wide.shape[1] < 2:
        raise DataError(
            f"calibration_statistics: only {wide.shape[0]} units with a positive "
            f"'{rate}' in all {wide.shape[1]} periods; need at least {n_bands} units "
            "and 2 periods."
        )
    logr = np.log(wide.to_numpy(float))
    T = logr.shape[1]
    dev = logr - logr.mean(axis=0, keepdims=True)

    def lag_corr(k: int) -> float:
        if k >= T:
            return float("nan")
        vals = [np.corrcoef(logr[:, t], logr[:, t + k])[0, 1] for t in range(T - k)]
        return float(np.mean(vals))

    change = np.diff(dev, axis=1)
    pop = (
        data.groupby(unit)[population]
        .apply(lambda s: pd.to_numeric(s, errors="coerce").mean())
        .reindex(wide.index)
        .to_numpy(float)
    )
    edges = np.nanquantile(pop, np.linspace(0, 1, n_bands + 1))
    band = np.clip(np.searchsorted(edges, pop, side="right") - 1, 0, n_bands - 1)
    by_band = [float(change[band == b].std()) for b in range(n_bands)]
    pop_band = [float(np.nanmean(pop[band == b])) for b in range(n_bands)]
    return {
        "sd_log_rate": float(logr.std(axis=0, ddof=1).mean()),
        "corr_lag1": lag_corr(1),
        "corr_lag5": lag_corr(5),
        "corr_lag10": lag_corr(10),
        "sd_change": float(change.std()),
        "sd_change_by_band": by_band,
        "mean_pop_by_band": pop_band,
    }


def _parse_cohorts(text: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        # a part without ":" fails int("") below, with the same message
        year, _, size = part.partition(":")
        try:
            out[int(year)] = int(size)
        except ValueError:
            raise SpecError(
                f"--cohorts must look like '2016:5,2018:10' (year:count). Got {part!r}."
            ) from None
    return out


def build_parser(prog: str = "impact data synthetic") -> argparse.ArgumentParser:
    """Return the argument parser of ``impact data synthetic``.

    Parameters
    ----------
    prog : str
        Program name shown in the usage line.

    Returns
    -------
    argparse.ArgumentParser
        The parser.
    """
    p = argparse.ArgumentParser(
        prog=prog,
        description="Write a synthetic local-authority x year CLA panel (CSV).",
    )
    p.add_argument("--seed", type=int, required=True, help="random seed")
    p.add_argument("--out", type=Path, required=True, help="output CSV path")
    p.add_argument("--n-units", type=int, default=150)
    p.add_argument("--start", type=int, default=2010)
    p.add_argument("--end", type=int, default=2025)
    p.add_argument(
        "--assignment", choices=["random", "staggered", "selected"], default="random"
    )
    p.add_argument("--n-treated", type=int, default=None)
    p.add_argument("--cohorts", type=str, default=None, help="e.g. 2016:5,2018:10")
    p.add_argument("--effect", type=float, default=0.0, help="relative, e.g. -0.05")
    p.add_argument("--phase-in", type=int, default=0)
    p.add_argument("--heterogeneity", type=float, default=0.0)
    p.add_argument("--rho", type=float, default=0.975)
    p.add_argument("--count-model", choices=["poisson", "negbin"], default="negbin")
    return p


def main_synthetic(argv: list[str] | None = None) -> int:
    """Entry point of ``impact data synthetic --seed N --out PATH [options]``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a bad option (message on stderr).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, printed by argparse)
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        cohorts = _parse_cohorts(args.cohorts) if args.cohorts else None
        frame = generate_la_panel(
            n_units=args.n_units,
            start=args.start,
            end=args.end,
            seed=args.seed,
            assignment=args.assignment,
            n_treated=args.n_treated,
            cohorts=cohorts,
            effect=args.effect,
            phase_in=args.phase_in,
            heterogeneity=args.heterogeneity,
            rho=args.rho,
            count_model=args.count_model,
        )
    except ImpactError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out: Path = args.out
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False, lineterminator="\n")
    except OSError as exc:
        print(f"error: cannot write {out}: {exc}", file=sys.stderr)
        return 2
    n_tr = int((frame.groupby("la_code")["cohort"].first() > 0).sum())
    print(
        f"wrote {out}: {frame['la_code'].nunique()} authorities x "
        f"{frame['year'].nunique()} years, {n_tr} treated"
    )
    return 0
