"""Propensity scores: unpenalised logit or probit (statsmodels), with separation checks.

The fit is the plain maximum-likelihood binomial GLM, as R's ``glm`` in MatchIt (no
penalty, unlike scikit-learn's default ``LogisticRegression``), so scores agree with
MatchIt's ``distance="glm"`` to the optimiser's tolerance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import special, stats

from impact.errors import EstimationError

__all__ = ["PropensityFit", "fit_propensity"]


@dataclass
class PropensityFit:
    """A fitted propensity model.

    Attributes
    ----------
    score : ndarray (n,)
        Fitted probabilities of treatment.
    linear : ndarray (n,)
        Linear predictor (logit or probit index).
    params : ndarray (p + 1,)
        Coefficients, intercept first.
    names : list of str
        Coefficient names.
    model : str
        ``"logit"`` or ``"probit"``.
    """

    score: np.ndarray
    linear: np.ndarray
    params: np.ndarray
    names: list[str]
    model: str


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = X.mean(axis=0)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    return (X - mu) / sd, mu, sd


def fit_propensity(
    X: np.ndarray,
    d: np.ndarray,
    names: list[str],
    model: str = "logit",
    *,
    caller: str = "match",
) -> PropensityFit:
    """Fit ``P(D = 1 | X)`` by unpenalised maximum likelihood.

    Parameters
    ----------
    X : ndarray (n, p)
        Covariates (no intercept column).
    d : ndarray (n,) of bool
        Treatment.
    names : list of str
        Column names of ``X`` (used in error messages).
    model : {"logit", "probit"}
        Link function.
    caller : str
        Public function name used in messages.

    Returns
    -------
    PropensityFit
        Scores, linear predictor and coefficients.
    """
    n, p = X.shape
    Z, mu, sd = _standardise(X)
    rank = np.linalg.matrix_rank(np.column_stack([np.ones(n), Z]))
    if rank < p + 1:
        raise EstimationError(
            f"{caller}: the propensity-model covariates {names} are collinear (rank "
            f"{rank} of {p + 1} with the intercept); drop a redundant column."
        )
    design = np.column_stack([np.ones(n), Z])
    y = d.astype(float)
    cls = sm.Logit if model == "logit" else sm.Probit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = cls(y, design).fit(method="newton", maxiter=100, tol=1e-12, disp=0)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
            raise EstimationError(
                f"{caller}: the {model} propensity model could not be fitted ({exc}); "
                f"check for perfect separation or collinear covariates among {names}."
            ) from exc
        except Exception as exc:  # statsmodels' PerfectSeparationError and kin
            raise EstimationError(
                f"{caller}: perfect separation in the {model} propensity model "
                f"({exc}); a covariate among {names} separates treated from "
                f"comparison units. Drop or coarsen it."
            ) from exc
    beta_z = np.asarray(res.params, dtype=float)
    lin = design @ beta_z
    if not np.all(np.isfinite(lin)):
        raise EstimationError(
            f"{caller}: the {model} propensity model diverged; a covariate among "
            f"{names} perfectly separates treated from comparison units."
        )
    score = special.expit(lin) if model == "logit" else stats.norm.cdf(lin)
    extreme = (score < 1e-10) | (score > 1 - 1e-10)
    huge = float(np.max(np.abs(beta_z[1:]))) > 10.0 if p else False
    if (extreme.any() and huge) or not bool(res.mle_retvals.get("converged", True)):
        culprit = _separating(X, d, names)
        raise EstimationError(
            f"{caller}: perfect (or quasi-complete) separation in the {model} "
            f"propensity model{culprit}: some covariate values occur only among "
            f"treated or only among comparison units, so scores of 0 or 1 result. "
            f"Drop or coarsen that covariate, or restrict the sample to common "
            f"support."
        )
    # back to the original scale: lin = b0 + sum b_j (x_j - mu_j) / sd_j
    beta = beta_z[1:] / sd
    b0 = beta_z[0] - float(np.sum(beta * mu))
    return PropensityFit(
        score=score,
        linear=lin,
        params=np.concatenate([[b0], beta]),
        names=["(Intercept)", *names],
        model=model,
    )


def _separating(X: np.ndarray, d: np.ndarray, names: list[str]) -> str:
    """Name a single covariate whose range separates the groups, if there is one."""
    for j, name in enumerate(names):
        x1, x0 = X[d, j], X[~d, j]
        if x1.min() > x0.max() or x1.max() < x0.min():
            return f" (covariate {name!r} separates the groups)"
        vals = np.unique(X[:, j])
        if len(vals) == 2:
            for v in vals:
                in_v = X[:, j] == v
                if d[in_v].all() or (~d[in_v]).all():
                    return f" (covariate {name!r} = {v:g} occurs in one group only)"
    return ""
