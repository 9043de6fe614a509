"""The synthetic-DiD fit of a ``synth(method="sdid")`` call, in the result's shape.

:func:`sdid_fit` runs :mod:`impact.synth.sdid` on the design (one adoption date, or one
block per adoption cohort), adjusts for time-varying covariates, computes the requested
standard error and returns the arguments of :class:`impact.synth.results.SynthResult`,
so that :func:`impact.synth` and ``SynthResult.placebo_in_time`` build the result from
the same fit without importing each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from impact.errors import DataError
from impact.synth._prep import Design, UnitFit

__all__ = ["sdid_fit"]


def _sdid_unit_fit(
    label: Any, t0: Any, donors: NDArray[Any], fit: Any, pre: NDArray[np.bool_]
) -> UnitFit:
    """A synthetic-DiD fit in the UnitFit shape the result, plots and placebos read."""
    return UnitFit(
        unit=label,
        treatment_time=t0,
        donors=donors,
        weights=np.asarray(fit.unit_weights, dtype=float),
        v=np.empty(0),
        predictors=[],
        x1=np.empty(0),
        X0=np.empty((0, donors.size)),
        y1=np.asarray(fit.treated_trajectory, dtype=float),
        synthetic=np.asarray(fit.synthetic_trajectory, dtype=float),
        pre=pre,
        post=~pre,
        extra={"time_weights": np.asarray(fit.time_weights, dtype=float)},
    )


def sdid_fit(
    design: Design,
    treated: list[Any],
    rows_t: np.ndarray,
    donor_rows: np.ndarray,
    t0s: dict[Any, Any],
    config: dict[str, Any],
) -> dict[str, Any]:
    """The synthetic-DiD fit of ``synth(method="sdid")``, as ``SynthResult`` arguments.

    One adoption date: one SDID fit of the treated units' mean; several: one block
    per adoption cohort (:func:`_sdid_staggered`).
    """
    from impact.synth.sdid import sdid_estimate, sdid_se

    dates = set(t0s.values())
    if len(dates) > 1:
        return _sdid_staggered(design, treated, rows_t, donor_rows, t0s, config)
    t0 = next(iter(dates))
    rows = np.concatenate([donor_rows, rows_t])
    Y = design.Y[rows]
    is_t = np.zeros(rows.size, dtype=bool)
    is_t[donor_rows.size :] = True
    T0 = int(np.sum(design.periods < t0))
    adoption = np.where(is_t, T0, np.inf)
    Y, beta = _sdid_covariates(design, rows, Y, adoption)
    fit = sdid_estimate(Y, is_t, T0)
    warn: list[str] = []
    alpha = config["alpha"]
    se = float("nan")
    if config["inference"] == "placebo":
        se = float(sdid_se(Y, is_t, T0, method="placebo", seed=config["seed"], fit=fit))
    elif config["inference"] == "conformal":
        warn.append(
            "inference='conformal' is not available with method='sdid'; "
            "using the SDID placebo standard error instead."
        )
        se = float(sdid_se(Y, is_t, T0, method="placebo", seed=config["seed"], fit=fit))
    else:
        warn.append("No inference requested (inference=None): no SE, CI or p-value.")
    pre = design.periods < t0
    fits = [
        _sdid_unit_fit(
            u if len(treated) == 1 else "treated mean",
            t0,
            design.units[donor_rows],
            fit,
            pre,
        )
        for u in treated[:1]
    ]
    if 1.0 / (donor_rows.size + 1) > alpha:
        warn.append(f"Only {donor_rows.size} donors: placebo inference is unreliable.")
    return dict(
        fits=fits,
        design=design,
        donors=donor_rows,
        method="sdid",
        config=config,
        estimator="synth (sdid)",
        estimate=float(fit.att),
        se=se,
        n_treated=len(treated),
        n_control=int(donor_rows.size),
        alpha=alpha,
        warnings=warn,
        title="Synthetic difference-in-differences",
        extra={
            "time_weights": dict(
                zip(
                    design.periods[pre].tolist(), fit.time_weights.tolist(), strict=True
                )
            ),
            "zeta": float(fit.zeta),
            **beta,
        },
    )


def _sdid_staggered(
    design: Design,
    treated: list[Any],
    rows_t: np.ndarray,
    donor_rows: np.ndarray,
    t0s: dict[Any, Any],
    config: dict[str, Any],
) -> dict[str, Any]:
    """Staggered adoption: one SDID block per adoption cohort against the donors.

    Cohort effects are averaged with weights treated units x post-periods
    (Arkhangelsky et al. 2021, Section 8; Stata ``sdid``); the placebo standard error
    reassigns the adoption dates to random donors (Clarke et al. 2023).
    """
    from impact.synth.sdid import sdid_staggered, sdid_staggered_se

    rows = np.concatenate([donor_rows, rows_t])
    Y = design.Y[rows]
    columns = {t: k for k, t in enumerate(design.periods.tolist())}
    adoption = np.full(rows.size, np.inf)
    for k, u in enumerate(treated):
        adoption[donor_rows.size + k] = columns[_plain(t0s[u])]
    Y, beta = _sdid_covariates(design, rows, Y, adoption)
    fit = sdid_staggered(Y, adoption)
    alpha = config["alpha"]
    warn: list[str] = []
    se = float("nan")
    if config["inference"] in ("placebo", "conformal"):
        if config["inference"] == "conformal":
            warn.append(
                "inference='conformal' is not available with method='sdid'; "
                "using the SDID placebo standard error instead."
            )
        se = float(sdid_staggered_se(Y, adoption, seed=config["seed"]))
    else:
        warn.append("No inference requested (inference=None): no SE, CI or p-value.")
    fits = []
    for cohort, f in fit.fits.items():
        t0 = design.periods[cohort]
        pre = design.periods < t0
        fits.append(
            _sdid_unit_fit(f"cohort {_plain(t0)}", t0, design.units[donor_rows], f, pre)
        )
    cohorts = fit.cohorts.copy()
    cohorts["cohort"] = design.periods[cohorts["cohort"].to_numpy(int)]
    n_tr = len(treated)
    if donor_rows.size <= n_tr:
        warn.append(
            f"Only {donor_rows.size} donors for {n_tr} treated units: the placebo "
            "standard error needs more donors than treated units."
        )
    return dict(
        fits=fits,
        design=design,
        donors=donor_rows,
        method="sdid",
        config=config,
        estimator="synth (sdid, staggered)",
        estimate=float(fit.att),
        se=se,
        n_treated=n_tr,
        n_control=int(donor_rows.size),
        alpha=alpha,
        warnings=warn,
        title="Synthetic difference-in-differences (staggered adoption)",
        extra={"cohorts": cohorts, **beta},
    )


def _plain(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def _sdid_covariates(
    design: Design, rows: np.ndarray, Y: np.ndarray, adoption: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    """Project time-varying covariates (``predictors``) out of the outcome."""
    if not design.predictors:
        return Y, {}
    from impact.synth._prep import _label_periods, _py
    from impact.synth.sdid_covariates import project_covariates

    X = np.stack([design.columns[c][rows] for c in design.predictors], axis=2)
    bad = ~np.isfinite(X)
    if bad.any():
        i, t, k = (int(a[0]) for a in np.nonzero(bad))
        missing = [_py(p) for p in design.periods[bad[i, :, k]]]
        raise DataError(
            f"Covariate {design.predictors[k]!r} is missing for unit "
            f"{design.units[rows[i]]!r} in {_label_periods(missing)}; method='sdid' "
            "adjusts for covariates period by period and needs them complete: fill "
            "them, drop the unit (donors=) or drop the covariate."
        )
    cols = np.arange(Y.shape[1])[None, :]
    untreated = cols < adoption[:, None]
    Y_adj, beta = project_covariates(Y, X, untreated, list(design.predictors))
    return Y_adj, {
        "covariate_coefficients": dict(
            zip(design.predictors, beta.tolist(), strict=True)
        )
    }
